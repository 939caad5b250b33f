// BINARY through driver, firmware and engines: float arithmetic on F32,
// F16 and BF16; integer arithmetic, division and modulo by zero and by -1,
// powers, bit operations and shifts on I8/U8/I32/I64; comparisons on every
// dtype; logical functions and MAX/MIN on BOOL; SELECT; broadcasting by
// zero strides; and a million-element operation spread over the engines.
#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

class OpsBinary : public OpsTest
{
protected:
	uint32_t Add(Commands &cmds, uint32_t fn, const Operand &a, const Operand &b,
		     const DevTensor &y, Tolerance tol, const std::string &name,
		     const Operand *cond = nullptr)
	{
		npu_pkt_binary p = BinaryPacket(fn, a.dev, b.dev, y, cond ? &cond->dev : nullptr);
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefBinary(p, a.host, b.host, cond ? &cond->host : nullptr), tol,
			       "BINARY fn " + std::to_string(fn) + " " + name +
				       " (packet at byte " + std::to_string(offset) + ")");
		return offset;
	}

	// Values away from zero (divisors): magnitudes in [lo, hi], both signs.
	HostTensor AwayFromZero(uint32_t dtype, const Shape &shape, double lo, double hi)
	{
		HostTensor t = RandomTensor(dtype, shape, rng(), lo, hi);
		for (uint64_t i = 0; i < t.size(); i++)
			if (rng().Next() & 1)
				t.real[i] = -t.real[i];
		return t;
	}
};

TEST_F(OpsBinary, FloatArithmetic)
{
	const Shape shape{3, 5, 7};
	Commands cmds;
	for (uint32_t dtype : kFloatDtypes) {
		std::string dt = DtypeName(dtype);
		Operand a = Input(dtype, shape, -4, 4);
		Operand b = Input(dtype, shape, -4, 4);
		Operand divisor = InputFrom(AwayFromZero(dtype, shape, 0.5, 3));
		Operand base = Input(dtype, shape, 0.1, 3);
		Operand exponent = Input(dtype, shape, -2, 2);
		Operand slope = Input(dtype, shape, 0, 1);
		for (uint32_t fn :
		     {NPU_BIN_ADD, NPU_BIN_SUB, NPU_BIN_MUL, NPU_BIN_MAX, NPU_BIN_MIN})
			Add(cmds, fn, a, b, Output(dtype, shape), kEltwiseF32, dt);
		for (uint32_t fn : {NPU_BIN_DIV, NPU_BIN_MOD, NPU_BIN_FMOD})
			Add(cmds, fn, a, divisor, Output(dtype, shape), kEltwiseF32, dt);
		Add(cmds, NPU_BIN_POW, base, exponent, Output(dtype, shape), kEltwiseF32, dt);
		Add(cmds, NPU_BIN_PRELU, a, slope, Output(dtype, shape), kEltwiseF32, dt);
	}
	RunAndCheck(cmds);
}

// Wrap-around, truncated division, x / 0 = x % 0 = 0, the most negative
// value divided by -1, Python and C modulo signs, integer powers (negative
// exponents truncate), bit operations and shifts up to past the width.
TEST_F(OpsBinary, IntegerArithmetic)
{
	const Shape shape{6, 11};
	Commands cmds;
	for (uint32_t dtype : kIntDtypes) {
		std::string dt = DtypeName(dtype);
		const double lo = double(IntDtypeMin(dtype)), hi = double(IntDtypeMax(dtype));
		HostTensor full_a = RandomTensor(dtype, shape, rng(), lo, hi);
		full_a.ints[0] = IntDtypeMin(dtype);
		full_a.ints[1] = IntDtypeMax(dtype);
		Operand a = InputFrom(full_a);
		Operand b = Input(dtype, shape, lo, hi);
		HostTensor small =
			RandomTensor(dtype, shape, rng(), dtype == NPU_DTYPE_U8 ? 0 : -9, 9);
		small.ints[0] = dtype == NPU_DTYPE_U8 ? 0 : -1; // INT_MIN / -1 wraps
		small.ints[1] = 0;
		Operand divisor = InputFrom(small);
		Operand pow_base = Input(dtype, shape, dtype == NPU_DTYPE_U8 ? 0 : -4, 4);
		Operand pow_exp = Input(dtype, shape, dtype == NPU_DTYPE_U8 ? 0 : -2, 9);
		const int width = int(DtypeSize(dtype) * 8);
		Operand shift = Input(dtype, shape, 0, width + 2);
		for (uint32_t fn :
		     {NPU_BIN_ADD, NPU_BIN_SUB, NPU_BIN_MUL, NPU_BIN_MAX, NPU_BIN_MIN,
		      NPU_BIN_PRELU, NPU_BIN_BITWISE_AND, NPU_BIN_BITWISE_OR, NPU_BIN_BITWISE_XOR})
			Add(cmds, fn, a, b, Output(dtype, shape), kExact, dt);
		for (uint32_t fn : {NPU_BIN_DIV, NPU_BIN_MOD, NPU_BIN_FMOD})
			Add(cmds, fn, a, divisor, Output(dtype, shape), kExact, dt);
		Add(cmds, NPU_BIN_POW, pow_base, pow_exp, Output(dtype, shape), kExact, dt);
		for (uint32_t fn : {NPU_BIN_SHIFT_LEFT, NPU_BIN_SHIFT_RIGHT})
			Add(cmds, fn, a, shift, Output(dtype, shape), kExact, dt);
	}
	RunAndCheck(cmds);
}

TEST_F(OpsBinary, ComparisonsOnEveryDtype)
{
	const Shape shape{4, 13};
	Commands cmds;
	for (uint32_t dtype : kAllDtypes) {
		// few distinct values (floats: quarters), so equal pairs are common
		auto few = [&] {
			HostTensor t = RandomTensor(dtype, shape, rng(),
						    dtype == NPU_DTYPE_U8 ? 0 : -2, 2);
			if (t.is_float())
				for (uint64_t i = 0; i < t.size(); i++)
					t.real[i] = double(rng().Int(-6, 6)) / 4;
			return t;
		};
		Operand a = InputFrom(few());
		Operand b = InputFrom(few());
		for (uint32_t fn = NPU_BIN_EQUAL; fn <= NPU_BIN_GREATER_EQUAL; fn++)
			Add(cmds, fn, a, b, Output(NPU_DTYPE_BOOL, shape), kExact,
			    DtypeName(dtype));
	}
	RunAndCheck(cmds);
}

TEST_F(OpsBinary, LogicalAndBoolMaxMin)
{
	const Shape shape{5, 9};
	Commands cmds;
	Operand a = Input(NPU_DTYPE_BOOL, shape, 0, 1);
	Operand b = Input(NPU_DTYPE_BOOL, shape, 0, 1);
	for (uint32_t fn : {NPU_BIN_AND, NPU_BIN_OR, NPU_BIN_XOR, NPU_BIN_MAX, NPU_BIN_MIN})
		Add(cmds, fn, a, b, Output(NPU_DTYPE_BOOL, shape), kExact, "BOOL");
	RunAndCheck(cmds);
}

TEST_F(OpsBinary, SelectOnEveryDtype)
{
	const Shape shape{3, 17};
	Commands cmds;
	Operand cond = Input(NPU_DTYPE_BOOL, shape, 0, 1);
	for (uint32_t dtype : kAllDtypes) {
		double lo = IsFloatDtype(dtype) ? -100 : double(IntDtypeMin(dtype));
		double hi = IsFloatDtype(dtype) ? 100 : double(IntDtypeMax(dtype));
		Operand a = Input(dtype, shape, lo, hi);
		Operand b = Input(dtype, shape, lo, hi);
		Add(cmds, NPU_BIN_SELECT, a, b, Output(dtype, shape), kExact, DtypeName(dtype),
		    &cond);
	}
	RunAndCheck(cmds);
}

TEST_F(OpsBinary, BroadcastByZeroStrides)
{
	const Shape shape{5, 7};
	Commands cmds;
	Layout column, row;
	column.broadcast = 0b10; // a [5] vector along the columns
	row.broadcast = 0b01;	 // a [7] vector along the rows
	Operand a = Input(NPU_DTYPE_F32, shape, -2, 2, column);
	Operand b = Input(NPU_DTYPE_F32, shape, -2, 2, row);
	Add(cmds, NPU_BIN_ADD, a, b, Output(NPU_DTYPE_F32, shape), kEltwiseF32, "column + row");
	Add(cmds, NPU_BIN_MUL, b, a, Output(NPU_DTYPE_F32, shape, Transposed(2)), kEltwiseF32,
	    "row * column, y transposed");
	Layout everywhere;
	everywhere.broadcast = 0b11;
	Operand scalar = Input(NPU_DTYPE_I32, shape, -50, 50, everywhere);
	Operand full = Input(NPU_DTYPE_I32, shape, -50, 50);
	Add(cmds, NPU_BIN_SUB, full, scalar, Output(NPU_DTYPE_I32, shape), kExact,
	    "tensor - broadcast scalar");
	Operand cond = Input(NPU_DTYPE_BOOL, shape, 0, 1, row);
	Add(cmds, NPU_BIN_SELECT, full, scalar, Output(NPU_DTYPE_I32, shape), kExact,
	    "select with a row condition", &cond);
	Layout rank3;
	rank3.broadcast = 0b101;
	Operand mid = Input(NPU_DTYPE_F16, {2, 3, 4}, -1, 1, rank3);
	Operand full3 = Input(NPU_DTYPE_F16, {2, 3, 4}, -1, 1, Transposed(3));
	Add(cmds, NPU_BIN_LESS, mid, full3, Output(NPU_DTYPE_BOOL, {2, 3, 4}), kExact,
	    "broadcast middle dim < transposed");
	RunAndCheck(cmds);
}

// About a million elements: far above one tile, so the firmware spreads it
// over every engine.
TEST_F(OpsBinary, MillionElements)
{
	const Shape shape{1031, 1021};
	Commands cmds;
	Operand a = Input(NPU_DTYPE_F32, shape, -8, 8);
	Operand b = Input(NPU_DTYPE_F32, shape, -8, 8, Transposed(2));
	Add(cmds, NPU_BIN_ADD, a, b, Output(NPU_DTYPE_F32, shape), kEltwiseF32,
	    "1031 x 1021, b transposed");
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
