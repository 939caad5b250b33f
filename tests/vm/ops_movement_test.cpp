// TENSOR_COPY, GATHER and CAST through driver, firmware and engines:
// transposes, slices with negative steps, expand and tile by zero and
// repeating strides, every dtype copied bit for bit, constant / reflect /
// edge padding with crops and reflections wider than x; gathers (take and
// elements) with negative indices of both index dtypes, an index out of
// range failing at its packet; and every one of the 64 cast pairs over
// special values (rounding ties, saturation, NaN, infinities, wrap).
#include <cmath>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

class OpsMovement : public OpsTest
{
protected:
	// Every value of the dtype's range end to end, exact.
	Operand AnyValues(uint32_t dtype, const Shape &shape, const Layout &layout = {})
	{
		double lo = IsFloatDtype(dtype) ? -1000 : double(IntDtypeMin(dtype));
		double hi = IsFloatDtype(dtype) ? 1000 : double(IntDtypeMax(dtype));
		return Input(dtype, shape, lo, hi, layout);
	}

	uint32_t AddCopy(Commands &cmds, const npu_pkt_tensor_copy &p, const Operand &x,
			 const DevTensor &y, const std::string &name)
	{
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefTensorCopy(p, x.host), kExact,
			       "TENSOR_COPY mode " + std::to_string(p.mode) + " " + name +
				       " (packet at byte " + std::to_string(offset) + ")");
		return offset;
	}

	uint32_t AddGather(Commands &cmds, uint32_t mode, uint32_t axis, const Operand &x,
			   const Operand &indices, const Shape &y_shape, const std::string &name)
	{
		DevTensor y = Output(x.dev.dtype(), y_shape);
		npu_pkt_gather p = GatherPacket(mode, axis, x.dev, indices.dev, y);
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefGather(p, x.host, indices.host), kExact,
			       "GATHER mode " + std::to_string(mode) + " axis " +
				       std::to_string(axis) + " " + name + " (packet at byte " +
				       std::to_string(offset) + ")");
		return offset;
	}
};

TEST_F(OpsMovement, PlainCopiesTransposeSliceReverseExpandTile)
{
	Commands cmds;
	const Shape shape{4, 5, 6};
	Layout sliced;
	sliced.step = {2, 1, 3};
	sliced.reversed = 0b101;
	Layout permuted;
	permuted.order = {2, 0, 1};
	for (const auto &[name, layout] : {std::pair{"transposed", Transposed(3)},
					   {"sliced with negative steps", sliced},
					   {"permuted", permuted}}) {
		Operand x = AnyValues(NPU_DTYPE_F32, shape, layout);
		DevTensor y = Output(NPU_DTYPE_F32, shape);
		AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, x.dev, y), x, y, name);
	}
	// contiguous in, strided out
	Operand x = AnyValues(NPU_DTYPE_I32, shape);
	DevTensor y = Output(NPU_DTYPE_I32, shape, sliced);
	AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, x.dev, y), x, y, "into a strided y");
	// expand: a [6] row broadcast to [4, 5, 6]
	Layout expand;
	expand.broadcast = 0b011;
	Operand row = AnyValues(NPU_DTYPE_F16, shape, expand);
	DevTensor expanded = Output(NPU_DTYPE_F16, shape);
	AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, row.dev, expanded), row, expanded, "expand");
	// tile: y [3, 4, 5] from a [4, 5] block repeated along a zero-stride dim
	Layout tile;
	tile.broadcast = 0b001;
	Operand block = AnyValues(NPU_DTYPE_I64, {3, 4, 5}, tile);
	DevTensor tiled = Output(NPU_DTYPE_I64, {3, 4, 5});
	AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, block.dev, tiled), block, tiled, "tile");
	RunAndCheck(cmds);
}

TEST_F(OpsMovement, EveryDtypeCopiedBitForBit)
{
	Commands cmds;
	for (uint32_t dtype : kAllDtypes) {
		Operand x = AnyValues(dtype, {7, 13}, Transposed(2));
		DevTensor y = Output(dtype, {7, 13});
		AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, x.dev, y), x, y, DtypeName(dtype));
	}
	// NaN payloads and negative zero survive a copy
	HostTensor specials(NPU_DTYPE_F32, {4});
	specials.real = {-0.0, NAN, INFINITY, -INFINITY};
	Operand x = InputFrom(specials);
	DevTensor y = Output(NPU_DTYPE_F32, {4});
	AddCopy(cmds, TensorCopyPacket(NPU_COPY_PLAIN, x.dev, y), x, y, "specials");
	RunAndCheck(cmds);
}

// y[i] = x[i - pad_begin]: a [3, 4] x placed at (2, 3) in a [7, 9] y, a
// crop (negative pad_begin), and padding wider than x (reflect goes back
// and forth).
TEST_F(OpsMovement, PaddingConstantReflectEdge)
{
	Commands cmds;
	struct Pad {
		const char *name;
		Shape x, y;
		std::vector<int32_t> begin;
	};
	const Pad pads[] = {
		{"around", {3, 4}, {7, 9}, {2, 3}},
		{"crop and pad", {5, 6}, {4, 9}, {-1, 2}},
		{"wider than x", {3, 2}, {13, 11}, {6, 5}},
		{"3-D, one side", {2, 3, 4}, {2, 6, 5}, {0, 0, 1}},
	};
	for (const Pad &pd : pads) {
		Operand x = AnyValues(NPU_DTYPE_F32, pd.x);
		for (uint32_t mode :
		     {NPU_COPY_PAD_CONSTANT, NPU_COPY_PAD_REFLECT, NPU_COPY_PAD_EDGE}) {
			DevTensor y = Output(NPU_DTYPE_F32, pd.y);
			npu_pkt_tensor_copy p = TensorCopyPacket(mode, x.dev, y);
			for (size_t d = 0; d < pd.begin.size(); d++)
				p.pad_begin[d] = pd.begin[d];
			if (mode == NPU_COPY_PAD_CONSTANT)
				p.pad_value = F32Bits(-7.25f);
			AddCopy(cmds, p, x, y, pd.name);
		}
	}
	RunAndCheck(cmds);
}

// pad_value is an element of y's dtype in the low bytes.
TEST_F(OpsMovement, PadValueOfEveryDtype)
{
	Commands cmds;
	for (uint32_t dtype : kAllDtypes) {
		uint64_t value = 0;
		switch (dtype) {
		case NPU_DTYPE_F32:
			value = F32Bits(3.5f);
			break;
		case NPU_DTYPE_F16:
			value = EncodeF16(-2.75);
			break;
		case NPU_DTYPE_BF16:
			value = EncodeBF16(1e20);
			break;
		case NPU_DTYPE_I8:
			value = uint8_t(-7);
			break;
		case NPU_DTYPE_U8:
			value = 200;
			break;
		case NPU_DTYPE_I32:
			value = uint32_t(-123456789);
			break;
		case NPU_DTYPE_I64:
			value = 0x8000000000000123ull;
			break;
		case NPU_DTYPE_BOOL:
			value = 1;
			break;
		}
		Operand x = AnyValues(dtype, {2, 3});
		DevTensor y = Output(dtype, {4, 4});
		npu_pkt_tensor_copy p = TensorCopyPacket(NPU_COPY_PAD_CONSTANT, x.dev, y);
		p.pad_begin[0] = 1;
		p.pad_begin[1] = -1;
		p.pad_value = value;
		AddCopy(cmds, p, x, y, DtypeName(dtype));
	}
	RunAndCheck(cmds);
}

TEST_F(OpsMovement, GatherTakeWithNegativeIndices)
{
	Commands cmds;
	const Shape xs{5, 7, 3};
	for (uint32_t dtype : kAllDtypes) {
		Operand x = AnyValues(dtype, xs);
		for (uint32_t axis = 0; axis < 3; axis++) {
			auto extent = int64_t(xs[axis]);
			uint32_t idx_dtype = axis == 1 ? NPU_DTYPE_I32 : NPU_DTYPE_I64;
			Operand idx = Input(idx_dtype, {2, 4}, double(-extent), double(extent - 1));
			Shape ys(xs.begin(), xs.begin() + axis);
			ys.insert(ys.end(), {2, 4});
			ys.insert(ys.end(), xs.begin() + axis + 1, xs.end());
			AddGather(cmds, NPU_GATHER_TAKE, axis, x, idx, ys, DtypeName(dtype));
		}
	}
	// a scalar index removes the axis; indices read through strides
	Operand x = AnyValues(NPU_DTYPE_F32, xs);
	Operand scalar = InputFrom([] {
		HostTensor t(NPU_DTYPE_I64, {});
		t.ints[0] = -2;
		return t;
	}());
	AddGather(cmds, NPU_GATHER_TAKE, 1, x, scalar, {5, 3}, "scalar index");
	Operand strided = Input(NPU_DTYPE_I32, {3, 2}, -5, 4, Transposed(2));
	AddGather(cmds, NPU_GATHER_TAKE, 0, x, strided, {3, 2, 7, 3}, "transposed indices");
	RunAndCheck(cmds);
}

TEST_F(OpsMovement, GatherElementsWithNegativeIndices)
{
	Commands cmds;
	for (uint32_t dtype : {NPU_DTYPE_F32, NPU_DTYPE_BF16, NPU_DTYPE_U8, NPU_DTYPE_I64}) {
		Operand x = AnyValues(dtype, {4, 6});
		Operand along1 = Input(NPU_DTYPE_I64, {4, 3}, -6, 5);
		AddGather(cmds, NPU_GATHER_ELEMENTS, 1, x, along1, {4, 3}, DtypeName(dtype));
		Operand along0 = Input(NPU_DTYPE_I32, {2, 6}, -4, 3);
		AddGather(cmds, NPU_GATHER_ELEMENTS, 0, x, along0, {2, 6}, DtypeName(dtype));
	}
	RunAndCheck(cmds);
}

// Found while the packet runs: BAD_PACKET at the gather, the packet
// before it has run, the one after has not.
TEST_F(OpsMovement, GatherIndexOutOfRangeFailsAtItsPacket)
{
	for (int64_t bad : {int64_t(7), int64_t(-8), INT64_MAX}) {
		SCOPED_TRACE("index " + std::to_string(bad));
		Operand x = AnyValues(NPU_DTYPE_F32, {3, 7});
		HostTensor idx_values(NPU_DTYPE_I64, {5});
		idx_values.ints = {0, -7, 6, bad, 1};
		Operand idx = InputFrom(idx_values);
		DevTensor y = Output(NPU_DTYPE_F32, {3, 5});
		Operand before_x = AnyValues(NPU_DTYPE_I32, {8});
		DevTensor before_y = Output(NPU_DTYPE_I32, {8});
		DevTensor after_y = Output(NPU_DTYPE_I32, {8});
		Commands cmds;
		Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, before_x.dev, before_y));
		uint32_t gather = Emit(cmds, GatherPacket(NPU_GATHER_TAKE, 1, x.dev, idx.dev, y));
		Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, before_x.dev, after_y));
		WaitResult r = Run(cmds);
		ASSERT_EQ(r.err, 0);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
		EXPECT_EQ(r.args.err_offset, gather);
		EXPECT_TRUE(MatchesReference(before_y.Read(), Expected{before_x.host, {}}, kExact))
			<< "the packet before the failing gather did not run";
		EXPECT_TRUE(after_y.RegionUnwritten()) << "a packet after the failing gather ran";
	}
	s->ExpectWorks();
}

// Every (x, y) dtype pair over values that probe the rules: rounding to
// nearest even, float-to-integer truncation and saturation, NaN to 0,
// integer wrap-around, anything to BOOL as x != 0.
TEST_F(OpsMovement, CastEveryPair)
{
	const double float_values[] = {
		0.0,	      -0.0,	 1.5,	  -1.5,	    2.5,   -2.5, 0.4999,  127.9,
		128.5,	      -128.7,	 255.5,	  256.2,    -1e10, 1e10, 3e38,	  -3e38,
		INFINITY,     -INFINITY, NAN,	  65504,    65520, 1e-8, 1.0 / 3, 2147483647.0,
		4294967296.5, 9.3e18,	 -9.3e18, 16777217, 0.1};
	const int64_t int_values[] = {0,	  1,	     -1,	   127,
				      128,	  -128,	     -129,	   255,
				      256,	  65504,     65520,	   16777217,
				      2147483647, INT32_MIN, 2147483648ll, (1ll << 53) + 1,
				      INT64_MAX,  INT64_MIN, -3,	   (1ll << 62) + 12345};
	Commands cmds;
	for (uint32_t from : kAllDtypes) {
		HostTensor values;
		if (IsFloatDtype(from)) {
			values = HostTensor(from, {std::size(float_values)});
			for (uint64_t i = 0; i < values.size(); i++)
				values.real[i] = RoundToDtype(float_values[i], from);
		} else {
			values = HostTensor(from, {std::size(int_values)});
			for (uint64_t i = 0; i < values.size(); i++)
				values.ints[i] = WrapToDtype(int_values[i], from);
		}
		Operand x = InputFrom(values);
		for (uint32_t to : kAllDtypes) {
			DevTensor y = Output(to, values.shape);
			npu_pkt_cast p = CastPacket(x.dev, y);
			uint32_t offset = Emit(cmds, p);
			ExpectAfterRun(y, RefCast(p, x.host), kExact,
				       std::string("CAST ") + DtypeName(from) + " -> " +
					       DtypeName(to) + " (packet at byte " +
					       std::to_string(offset) + ")");
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsMovement, CastStridedAndLarge)
{
	Commands cmds;
	Layout x_layout = Transposed(2);
	x_layout.reversed = 0b01;
	Operand x = Input(NPU_DTYPE_F32, {33, 47}, -300, 300, x_layout);
	Layout y_layout;
	y_layout.step = {1, 2};
	for (uint32_t to : {NPU_DTYPE_I8, NPU_DTYPE_BF16, NPU_DTYPE_U8}) {
		DevTensor y = Output(to, {33, 47}, y_layout);
		npu_pkt_cast p = CastPacket(x.dev, y);
		Emit(cmds, p);
		ExpectAfterRun(y, RefCast(p, x.host), kExact,
			       std::string("CAST strided F32 -> ") + DtypeName(to));
	}
	// 300 Ki elements: over the parallel threshold
	Operand big = Input(NPU_DTYPE_I32, {640, 480}, -100000, 100000);
	DevTensor big_y = Output(NPU_DTYPE_F16, {640, 480});
	npu_pkt_cast p = CastPacket(big.dev, big_y);
	Emit(cmds, p);
	ExpectAfterRun(big_y, RefCast(p, big.host), kExact, "CAST 640 x 480 I32 -> F16");
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
