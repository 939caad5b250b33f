// UNARY through driver, firmware and engines: every float function on F32,
// F16 and BF16 over its domain, rounding functions on exact halves, ISNAN
// and ISINF on special values, the integer functions on I8/U8/I32/I64 with
// their extremes (NEG and ABS wrap, CLIP's bounds saturate), BOOL, and
// broadcast / reversed / strided operands.
#include <cmath>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

// The domain each float function is tested over, and its parameters.
struct FnDomain {
	uint32_t fn;
	double lo, hi;
	float alpha = 0, beta = 0;
};

const FnDomain kFloatFunctions[] = {
	{NPU_FN_IDENTITY, -4, 4},
	{NPU_FN_RELU, -4, 4},
	{NPU_FN_LEAKY_RELU, -4, 4, 0.1f},
	{NPU_FN_ELU, -4, 4, 1.3f},
	{NPU_FN_SELU, -4, 4, 1.6733f, 1.0507f},
	{NPU_FN_CELU, -4, 4, 0.8f},
	{NPU_FN_GELU, -4, 4},
	{NPU_FN_GELU_TANH, -4, 4},
	{NPU_FN_SIGMOID, -6, 6},
	{NPU_FN_HARD_SIGMOID, -4, 4, 0.2f, 0.5f},
	{NPU_FN_HARD_SWISH, -5, 5},
	{NPU_FN_TANH, -3, 3},
	{NPU_FN_SOFTPLUS, -6, 6},
	{NPU_FN_SOFTSIGN, -4, 4},
	{NPU_FN_SILU, -5, 5},
	{NPU_FN_MISH, -4, 4},
	{NPU_FN_CLIP, -4, 4, -0.7f, 1.1f},
	{NPU_FN_THRESHOLDED_RELU, -2, 2, 0.5f},
	{NPU_FN_SHRINK, -2, 2, 0.5f, 0.25f},
	{NPU_FN_EXP, -4, 4},
	{NPU_FN_LOG, 0.05, 8},
	{NPU_FN_SQRT, 0, 9},
	{NPU_FN_RSQRT, 0.1, 9},
	{NPU_FN_RECIPROCAL, 0.25, 4}, // and the negated range, see FloatInput
	{NPU_FN_NEG, -4, 4},
	{NPU_FN_ABS, -4, 4},
	{NPU_FN_FLOOR, -5, 5}, // quarters: exact halves included
	{NPU_FN_CEIL, -5, 5},
	{NPU_FN_ROUND, -5, 5},
	{NPU_FN_SIGN, -5, 5},
	{NPU_FN_ERF, -3, 3},
	{NPU_FN_SIN, -4, 4},
	{NPU_FN_COS, -4, 4},
	{NPU_FN_TAN, -1.3, 1.3},
	{NPU_FN_ASIN, -0.95, 0.95},
	{NPU_FN_ACOS, -0.95, 0.95},
	{NPU_FN_ATAN, -5, 5},
	{NPU_FN_SINH, -3, 3},
	{NPU_FN_COSH, -3, 3},
	{NPU_FN_ASINH, -5, 5},
	{NPU_FN_ACOSH, 1.05, 5},
	{NPU_FN_ATANH, -0.9, 0.9},
};

bool UsesQuarters(uint32_t fn)
{
	return fn == NPU_FN_FLOOR || fn == NPU_FN_CEIL || fn == NPU_FN_ROUND || fn == NPU_FN_SIGN;
}

class OpsUnary : public OpsTest
{
protected:
	// Inputs over the function's domain: quarters (k / 4, halves and
	// zero among them) for the rounding functions, both signs for
	// RECIPROCAL.
	HostTensor FloatInput(const FnDomain &f, uint32_t dtype, const Shape &shape)
	{
		HostTensor t = RandomTensor(dtype, shape, rng(), f.lo, f.hi);
		for (uint64_t i = 0; i < t.size(); i++) {
			if (UsesQuarters(f.fn))
				t.real[i] =
					double(rng().Int(int64_t(f.lo * 4), int64_t(f.hi * 4))) / 4;
			else if (f.fn == NPU_FN_RECIPROCAL && (rng().Next() & 1))
				t.real[i] = -t.real[i];
		}
		return t;
	}

	uint32_t Add(Commands &cmds, npu_act act, const Operand &x, const DevTensor &y,
		     Tolerance tol, const std::string &name)
	{
		npu_pkt_unary p = UnaryPacket(act, x.dev, y);
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefUnary(p, x.host), tol,
			       "UNARY fn " + std::to_string(act.fn) + " " + name +
				       " (packet at byte " + std::to_string(offset) + ")");
		return offset;
	}
};

class OpsUnaryFloat : public OpsUnary, public ::testing::WithParamInterface<uint32_t>
{
};

TEST_P(OpsUnaryFloat, EveryFunctionOverItsDomain)
{
	const uint32_t dtype = GetParam();
	const Shape shape{1, 7, 13};
	Commands cmds;
	for (const FnDomain &f : kFloatFunctions) {
		Operand x = InputFrom(FloatInput(f, dtype, shape));
		DevTensor y = Output(dtype, shape);
		Add(cmds, Act(f.fn, f.alpha, f.beta), x, y, kEltwiseF32, DtypeName(dtype));
	}
	RunAndCheck(cmds);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, OpsUnaryFloat,
			 ::testing::Values(NPU_DTYPE_F32, NPU_DTYPE_F16, NPU_DTYPE_BF16),
			 [](const ::testing::TestParamInfo<uint32_t> &info) {
				 return std::string(DtypeName(info.param));
			 });

TEST_F(OpsUnary, IsNanAndIsInfOnSpecialValues)
{
	const double specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0, 1e-30, 65504};
	Commands cmds;
	for (uint32_t dtype : kFloatDtypes) {
		HostTensor values(dtype, {3, std::size(specials)});
		for (uint64_t i = 0; i < values.size(); i++)
			values.real[i] = RoundToDtype(specials[i % std::size(specials)], dtype);
		Operand x = InputFrom(values);
		Add(cmds, Act(NPU_FN_ISNAN), x, Output(NPU_DTYPE_BOOL, values.shape), kExact,
		    DtypeName(dtype));
		// ISINF: alpha counts +inf, beta counts -inf
		for (auto [a, b] :
		     {std::pair{1.0f, 1.0f}, {1.0f, 0.0f}, {0.0f, 2.0f}, {0.0f, 0.0f}})
			Add(cmds, Act(NPU_FN_ISINF, a, b), x, Output(NPU_DTYPE_BOOL, values.shape),
			    kExact,
			    std::string(DtypeName(dtype)) + " alpha " + std::to_string(a) +
				    " beta " + std::to_string(b));
		// The other functions pass NaN and the infinities through.
		Add(cmds, Act(NPU_FN_NEG), x, Output(dtype, values.shape), kExact,
		    std::string(DtypeName(dtype)) + " on specials");
		Add(cmds, Act(NPU_FN_ABS), x, Output(dtype, values.shape), kExact,
		    std::string(DtypeName(dtype)) + " on specials");
	}
	RunAndCheck(cmds);
}

// Integer functions are exact: NEG and ABS wrap (of the most negative
// value), FLOOR/CEIL/ROUND are the identity, CLIP's float bounds are
// stored into the dtype (truncated, saturated).
TEST_F(OpsUnary, IntegerFunctionsWithExtremes)
{
	struct IntFn {
		uint32_t fn;
		float alpha, beta;
	};
	const IntFn fns[] = {{NPU_FN_IDENTITY, 0, 0},
			     {NPU_FN_RELU, 0, 0},
			     {NPU_FN_NEG, 0, 0},
			     {NPU_FN_ABS, 0, 0},
			     {NPU_FN_SIGN, 0, 0},
			     {NPU_FN_FLOOR, 0, 0},
			     {NPU_FN_CEIL, 0, 0},
			     {NPU_FN_ROUND, 0, 0},
			     {NPU_FN_CLIP, -20.7f, 100.2f},
			     {NPU_FN_CLIP, -1e6f, 1e30f},
			     {NPU_FN_CLIP, 5.0f, -5.0f},
			     {NPU_FN_BITWISE_NOT, 0, 0}};
	Commands cmds;
	for (uint32_t dtype : kIntDtypes) {
		HostTensor values = RandomTensor(dtype, {4, 9}, rng(), double(IntDtypeMin(dtype)),
						 double(IntDtypeMax(dtype)));
		values.ints[0] = IntDtypeMin(dtype);
		values.ints[1] = IntDtypeMax(dtype);
		values.ints[2] = 0;
		values.ints[3] = dtype == NPU_DTYPE_U8 ? 1 : -1;
		for (uint64_t i = 4; i < 12; i++) // small values, where CLIP's bounds bite
			values.ints[i] = WrapToDtype(int64_t(i) * 7 - 40, dtype);
		Operand x = InputFrom(values);
		for (const IntFn &f : fns)
			Add(cmds, Act(f.fn, f.alpha, f.beta), x, Output(dtype, values.shape),
			    kExact, DtypeName(dtype));
	}
	HostTensor bools = RandomTensor(NPU_DTYPE_BOOL, {3, 5}, rng(), 0, 1);
	Operand b = InputFrom(bools);
	Add(cmds, Act(NPU_FN_NOT), b, Output(NPU_DTYPE_BOOL, bools.shape), kExact, "BOOL");
	Add(cmds, Act(NPU_FN_IDENTITY), b, Output(NPU_DTYPE_BOOL, bools.shape), kExact, "BOOL");
	RunAndCheck(cmds);
}

TEST_F(OpsUnary, BroadcastReversedAndStridedOperands)
{
	Commands cmds;
	Layout x_layout;
	x_layout.broadcast = 0b010; // every row of a plane is the same
	x_layout.reversed = 0b101;
	Operand x = Input(NPU_DTYPE_F32, {3, 5, 7}, -3, 3, x_layout);
	Layout y_layout = Transposed(3);
	y_layout.step = {2, 1, 3};
	y_layout.reversed = 0b010;
	Add(cmds, Act(NPU_FN_TANH), x, Output(NPU_DTYPE_F32, {3, 5, 7}, y_layout), kEltwiseF32,
	    "broadcast/reversed x, transposed/stepped/reversed y");
	Layout scalar_like;
	scalar_like.broadcast = 0b11; // one element read everywhere
	Operand one = Input(NPU_DTYPE_I32, {4, 6}, -100, 100, scalar_like);
	Add(cmds, Act(NPU_FN_NEG), one, Output(NPU_DTYPE_I32, {4, 6}), kExact, "all-zero strides");
	Operand scalar = Input(NPU_DTYPE_F16, {}, -2, 2);
	Add(cmds, Act(NPU_FN_EXP), scalar, Output(NPU_DTYPE_F16, {}), kEltwiseF32, "rank 0");
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
