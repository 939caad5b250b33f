// REDUCE through driver, firmware and engines: every function over several
// (non-adjacent) axes on every float dtype, the integer and BOOL
// functions, ARGMAX/ARGMIN with ties (first and last), I32 and I64
// indices, reductions over nothing and over empty axes, strided input,
// and a reduction with enough outputs to be spread over the engines.
#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

Shape Reduced(Shape s, uint32_t axes)
{
	for (size_t d = 0; d < s.size(); d++)
		if (axes & (1u << d))
			s[d] = 1;
	return s;
}

class OpsReduce : public OpsTest
{
protected:
	void Add(Commands &cmds, uint32_t fn, uint32_t axes, const Operand &x, uint32_t y_dtype,
		 Tolerance tol, const std::string &name, uint32_t flags = 0,
		 const Layout &y_layout = {})
	{
		DevTensor y = Output(y_dtype, Reduced(x.host.shape, axes), y_layout);
		npu_pkt_reduce p = ReducePacket(fn, axes, x.dev, y);
		p.flags = flags;
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefReduce(p, x.host), tol,
			       "REDUCE fn " + std::to_string(fn) + " axes " + std::to_string(axes) +
				       " " + name + " (packet at byte " + std::to_string(offset) +
				       ")");
	}
};

TEST_F(OpsReduce, EveryFloatFunctionOverSeveralAxes)
{
	const Shape shape{3, 5, 7, 4};
	Commands cmds;
	for (uint32_t dtype : kFloatDtypes) {
		std::string dt = DtypeName(dtype);
		Operand x = Input(dtype, shape, -2, 2);
		Operand positive = Input(dtype, shape, 0.1, 2); // LOG_SUM's domain
		for (uint32_t axes : {0b1010u, 0b0001u, 0b1111u}) {
			for (uint32_t fn = NPU_RED_SUM; fn <= NPU_RED_LOG_SUM_EXP; fn++) {
				if (fn == NPU_RED_PROD && axes == 0b1111)
					continue; // 420 factors under/overflow f32
				Add(cmds, fn, axes, fn == NPU_RED_LOG_SUM ? positive : x, dtype,
				    kReduceF32, dt);
			}
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsReduce, IntegerAndBoolFunctions)
{
	const Shape shape{4, 6, 5};
	Commands cmds;
	for (uint32_t dtype : kIntDtypes) {
		// small values: sums, squares and products stay inside the dtype
		bool narrow = DtypeSize(dtype) == 1;
		Operand x = Input(dtype, shape, dtype == NPU_DTYPE_U8 ? 0 : -2, narrow ? 2 : 1000);
		Operand tiny = Input(dtype, shape, dtype == NPU_DTYPE_U8 ? 0 : -2, 2);
		for (uint32_t fn : {NPU_RED_SUM, NPU_RED_MEAN, NPU_RED_MAX, NPU_RED_MIN,
				    NPU_RED_SUM_SQUARE, NPU_RED_L1}) {
			Add(cmds, fn, 0b010, x, dtype, kExact, DtypeName(dtype));
			Add(cmds, fn, 0b101, x, dtype, kExact, DtypeName(dtype));
		}
		Add(cmds, NPU_RED_PROD, 0b100, tiny, dtype, kExact, DtypeName(dtype));
	}
	Operand b = Input(NPU_DTYPE_BOOL, shape, 0, 1);
	for (uint32_t fn : {NPU_RED_MAX, NPU_RED_MIN})
		Add(cmds, fn, 0b011, b, NPU_DTYPE_BOOL, kExact, "BOOL");
	Add(cmds, NPU_RED_ARGMAX, 0b100, b, NPU_DTYPE_I64, kExact, "BOOL");
	Add(cmds, NPU_RED_ARGMIN, 0b001, b, NPU_DTYPE_I32, kExact, "BOOL", NPU_RED_SELECT_LAST);
	RunAndCheck(cmds);
}

// Values from a small set: ties everywhere, so first and last differ.
TEST_F(OpsReduce, ArgMaxArgMinTiesFirstAndLast)
{
	const Shape shape{3, 8, 5};
	Commands cmds;
	for (uint32_t dtype : {NPU_DTYPE_F32, NPU_DTYPE_BF16, NPU_DTYPE_I8, NPU_DTYPE_I64}) {
		HostTensor values(dtype, shape);
		for (uint64_t i = 0; i < values.size(); i++)
			values.SetInt(i, rng().Int(0, 3));
		Operand x = InputFrom(values);
		for (uint32_t fn : {NPU_RED_ARGMAX, NPU_RED_ARGMIN}) {
			for (uint32_t axis : {0u, 1u, 2u}) {
				for (uint32_t flags : {0u, uint32_t(NPU_RED_SELECT_LAST)}) {
					uint32_t out = (axis & 1) ? NPU_DTYPE_I32 : NPU_DTYPE_I64;
					Add(cmds, fn, 1u << axis, x, out, kExact,
					    std::string(DtypeName(dtype)) +
						    (flags ? " select last" : " select first"),
					    flags);
				}
			}
		}
	}
	RunAndCheck(cmds);
}

// No axis: fn of each element alone. An empty reduced axis: SUM 0, PROD 1,
// MAX the lowest and MIN the highest value of the dtype.
TEST_F(OpsReduce, NoAxisAndEmptyAxis)
{
	Commands cmds;
	Operand x = Input(NPU_DTYPE_F32, {4, 3}, 0.5, 3);
	for (uint32_t fn : {NPU_RED_SUM, NPU_RED_MEAN, NPU_RED_PROD, NPU_RED_L2, NPU_RED_LOG_SUM,
			    NPU_RED_LOG_SUM_EXP, NPU_RED_SUM_SQUARE})
		Add(cmds, fn, 0, x, NPU_DTYPE_F32, kReduceF32, "no axis");
	for (uint32_t dtype : {NPU_DTYPE_F32, NPU_DTYPE_I32, NPU_DTYPE_I8, NPU_DTYPE_U8}) {
		Operand empty = Input(dtype, {3, 0, 2}, 0, 1);
		for (uint32_t fn :
		     {NPU_RED_SUM, NPU_RED_PROD, NPU_RED_MAX, NPU_RED_MIN, NPU_RED_L1})
			Add(cmds, fn, 0b010, empty, dtype, kExact,
			    std::string(DtypeName(dtype)) + " over an empty axis");
	}
	RunAndCheck(cmds);
}

TEST_F(OpsReduce, StridedInputAndOutput)
{
	Commands cmds;
	Layout x_layout = Transposed(3);
	x_layout.reversed = 0b001;
	x_layout.step = {1, 2, 1};
	Operand x = Input(NPU_DTYPE_F32, {6, 5, 9}, -3, 3, x_layout);
	Layout y_layout;
	y_layout.reversed = 0b100;
	y_layout.step = {3, 1, 1};
	Add(cmds, NPU_RED_SUM, 0b010, x, NPU_DTYPE_F32, kReduceF32, "transposed/reversed/stepped",
	    0, y_layout);
	Add(cmds, NPU_RED_ARGMAX, 0b100, x, NPU_DTYPE_I64, kExact, "transposed/reversed/stepped");
	Layout bcast;
	bcast.broadcast = 0b010;
	Operand xb = Input(NPU_DTYPE_I32, {4, 7, 3}, -100, 100, bcast);
	Add(cmds, NPU_RED_SUM, 0b010, xb, NPU_DTYPE_I32, kExact, "broadcast reduced axis");
	RunAndCheck(cmds);
}

// Enough outputs (256 Ki) to be cut into one tile per engine.
TEST_F(OpsReduce, SpreadOverEngines)
{
	Commands cmds;
	Operand x = Input(NPU_DTYPE_F32, {512, 3, 521}, -1, 1);
	Add(cmds, NPU_RED_MEAN, 0b010, x, NPU_DTYPE_F32, kReduceF32, "512 x 3 x 521 over axis 1");
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
