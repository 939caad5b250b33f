#include "op_reference.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace npu_test::ops
{

// ---- shapes ---------------------------------------------------------------

uint64_t ElementCount(const Shape &shape)
{
	uint64_t n = 1;
	for (uint64_t e : shape)
		n *= e;
	return n;
}

std::vector<uint64_t> RowMajorStrides(const Shape &shape)
{
	std::vector<uint64_t> strides(shape.size());
	uint64_t s = 1;
	for (size_t d = shape.size(); d-- > 0;) {
		strides[d] = s;
		s *= shape[d];
	}
	return strides;
}

std::string ShapeString(const Shape &shape)
{
	std::ostringstream out;
	out << "[";
	for (size_t d = 0; d < shape.size(); d++)
		out << (d ? "," : "") << shape[d];
	out << "]";
	return out.str();
}

Shape ShapeOf(const npu_tensor &t)
{
	return Shape(t.shape, t.shape + std::min<uint32_t>(t.rank, NPU_MAX_RANK));
}

namespace
{

// The multi-index of a row-major flat index.
void Unflatten(uint64_t flat, const Shape &shape, uint64_t *index)
{
	for (size_t d = shape.size(); d-- > 0;) {
		index[d] = shape[d] ? flat % shape[d] : 0;
		flat = shape[d] ? flat / shape[d] : 0;
	}
}

std::string IndexString(uint64_t flat, const Shape &shape)
{
	uint64_t index[NPU_MAX_RANK] = {};
	Unflatten(flat, shape, index);
	std::ostringstream out;
	out << "[";
	for (size_t d = 0; d < shape.size(); d++)
		out << (d ? "," : "") << index[d];
	out << "]";
	return out.str();
}

} // namespace

// ---- dtypes -------------------------------------------------------------

size_t DtypeSize(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_F32:
	case NPU_DTYPE_I32:
		return 4;
	case NPU_DTYPE_F16:
	case NPU_DTYPE_BF16:
		return 2;
	case NPU_DTYPE_I8:
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		return 1;
	case NPU_DTYPE_I64:
		return 8;
	default:
		return 0;
	}
}

bool IsFloatDtype(uint32_t dtype)
{
	return dtype == NPU_DTYPE_F32 || dtype == NPU_DTYPE_F16 || dtype == NPU_DTYPE_BF16;
}

bool IsIntDtype(uint32_t dtype)
{
	return dtype == NPU_DTYPE_I8 || dtype == NPU_DTYPE_U8 || dtype == NPU_DTYPE_I32 ||
	       dtype == NPU_DTYPE_I64;
}

const char *DtypeName(uint32_t dtype)
{
	static const char *const names[] = {"NONE", "F32", "F16", "BF16", "I8",
					    "U8",   "I32", "I64", "BOOL"};
	return dtype <= NPU_DTYPE_LAST ? names[dtype] : "dtype?";
}

int64_t IntDtypeMin(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_I8:
		return INT8_MIN;
	case NPU_DTYPE_I32:
		return INT32_MIN;
	case NPU_DTYPE_I64:
		return INT64_MIN;
	default:
		return 0; // U8, BOOL
	}
}

int64_t IntDtypeMax(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_I8:
		return INT8_MAX;
	case NPU_DTYPE_U8:
		return UINT8_MAX;
	case NPU_DTYPE_I32:
		return INT32_MAX;
	case NPU_DTYPE_I64:
		return INT64_MAX;
	default:
		return 1; // BOOL
	}
}

namespace
{

struct FloatFormat {
	int precision; // significand bits, the implicit one included
	int min_exp;   // exponent of the smallest normal number
	double max;
};

FloatFormat FormatOf(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_F16:
		return {11, -14, 65504.0};
	case NPU_DTYPE_BF16:
		return {8, -126, std::ldexp(255.0, 120)};
	case NPU_DTYPE_F32:
		return {24, -126, double(std::numeric_limits<float>::max())};
	default:
		throw std::invalid_argument("not a float dtype");
	}
}

} // namespace

double FloatDtypeMax(uint32_t dtype)
{
	return FormatOf(dtype).max;
}

double RoundToDtype(double v, uint32_t float_dtype)
{
	FloatFormat f = FormatOf(float_dtype);
	if (!std::isfinite(v) || v == 0)
		return v;
	int e = 0;
	std::frexp(v, &e); // |v| in [2^(e-1), 2^e)
	int ulp_exp = std::max(e - 1, f.min_exp) - (f.precision - 1);
	// Scaling by powers of two is exact; nearbyint rounds half to even.
	double out = std::ldexp(std::nearbyint(std::ldexp(v, -ulp_exp)), ulp_exp);
	return std::fabs(out) > f.max ? std::copysign(INFINITY, v) : out;
}

double RoundIntToDtype(int64_t v, uint32_t float_dtype)
{
	FloatFormat f = FormatOf(float_dtype);
	uint64_t mag = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
	int bits = 64 - std::countl_zero(mag);
	int shift = bits - f.precision;
	double out;
	if (shift <= 0) {
		out = double(mag);
	} else {
		uint64_t q = mag >> shift, rem = mag & ((uint64_t(1) << shift) - 1);
		uint64_t half = uint64_t(1) << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		out = std::ldexp(double(q), shift);
	}
	if (out > f.max)
		out = INFINITY;
	return v < 0 ? -out : out;
}

int64_t WrapToDtype(int64_t v, uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_I8:
		return static_cast<int8_t>(v);
	case NPU_DTYPE_U8:
		return static_cast<uint8_t>(v);
	case NPU_DTYPE_I32:
		return static_cast<int32_t>(v);
	case NPU_DTYPE_BOOL:
		return v != 0;
	default:
		return v;
	}
}

int64_t SaturateToDtype(int64_t v, uint32_t dtype)
{
	return std::clamp(v, IntDtypeMin(dtype), IntDtypeMax(dtype));
}

uint32_t F32Bits(float f)
{
	return std::bit_cast<uint32_t>(f);
}

float F32FromBits(uint32_t bits)
{
	return std::bit_cast<float>(bits);
}

uint16_t EncodeF16(double v)
{
	if (std::isnan(v))
		return 0x7e00;
	double r = RoundToDtype(v, NPU_DTYPE_F16);
	uint16_t sign = std::signbit(r) ? 0x8000 : 0;
	double a = std::fabs(r);
	if (std::isinf(a))
		return sign | 0x7c00;
	if (a < std::ldexp(1.0, -14)) // subnormal or zero: units of 2^-24
		return sign | uint16_t(std::ldexp(a, 24));
	int e = 0;
	std::frexp(a, &e);
	int lead = e - 1;
	auto mant = uint16_t(std::ldexp(a, -lead) * 1024.0 - 1024.0);
	return sign | uint16_t((lead + 15) << 10) | mant;
}

double DecodeF16(uint16_t h)
{
	int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	double sign = (h & 0x8000) ? -1.0 : 1.0;
	if (exp == 0x1f)
		return mant ? NAN : sign * INFINITY;
	if (exp == 0)
		return sign * std::ldexp(double(mant), -24);
	return sign * std::ldexp(double(mant + 1024), exp - 25);
}

uint16_t EncodeBF16(double v)
{
	if (std::isnan(v))
		return 0x7fc0;
	// A BF16 value is an F32 value with 16 zero low bits.
	auto f = static_cast<float>(RoundToDtype(v, NPU_DTYPE_BF16));
	return uint16_t(F32Bits(f) >> 16);
}

double DecodeBF16(uint16_t b)
{
	return F32FromBits(uint32_t(b) << 16);
}

// ---- host tensors ---------------------------------------------------------

HostTensor::HostTensor(uint32_t dtype_, Shape shape_) : dtype(dtype_), shape(std::move(shape_))
{
	if (is_float())
		real.assign(size(), 0.0);
	else
		ints.assign(size(), 0);
}

void HostTensor::SetReal(uint64_t i, double v)
{
	if (is_float())
		real[i] = v;
	else
		ints[i] = int64_t(v);
}

void HostTensor::SetInt(uint64_t i, int64_t v)
{
	if (is_float())
		real[i] = double(v);
	else
		ints[i] = v;
}

uint64_t Rng::Next()
{
	uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double Rng::Uniform(double lo, double hi)
{
	return lo + (hi - lo) * (double(Next() >> 11) * 0x1.0p-53);
}

int64_t Rng::Int(int64_t lo, int64_t hi)
{
	uint64_t span = uint64_t(hi) - uint64_t(lo) + 1;
	return span == 0 ? int64_t(Next()) : int64_t(uint64_t(lo) + Next() % span);
}

HostTensor RandomTensor(uint32_t dtype, const Shape &shape, Rng &rng, double lo, double hi)
{
	HostTensor t(dtype, shape);
	uint64_t n = t.size();
	if (t.is_float()) {
		for (uint64_t i = 0; i < n; i++)
			t.real[i] = RoundToDtype(rng.Uniform(lo, hi), dtype);
	} else if (dtype == NPU_DTYPE_BOOL) {
		for (uint64_t i = 0; i < n; i++)
			t.ints[i] = int64_t(rng.Next() >> 63);
	} else {
		auto ilo = int64_t(std::ceil(lo)), ihi = int64_t(std::floor(hi));
		if (dtype == NPU_DTYPE_I64 && lo <= -9.2e18 && hi >= 9.2e18) {
			ilo = INT64_MIN;
			ihi = INT64_MAX;
		}
		for (uint64_t i = 0; i < n; i++)
			t.ints[i] = SaturateToDtype(rng.Int(ilo, ihi), dtype);
	}
	return t;
}

// ---- comparison -------------------------------------------------------------

namespace
{

// Relative rounding of a store to dtype, and the absolute one of its
// subnormal range.
double OutputRounding(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_F16:
		return 0x1.0p-11;
	case NPU_DTYPE_BF16:
		return 0x1.0p-8;
	default:
		return 0x1.0p-24;
	}
}

double SubnormalRounding(uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_F16:
		return 0x1.0p-25;
	case NPU_DTYPE_BF16:
		return 0x1.0p-134;
	default:
		return 0x1.0p-150;
	}
}

} // namespace

::testing::AssertionResult MatchesReference(const HostTensor &got, const Expected &want,
					    Tolerance tol)
{
	const HostTensor &ref = want.value;
	if (got.dtype != ref.dtype || got.shape != ref.shape)
		return ::testing::AssertionFailure()
		       << "result is " << DtypeName(got.dtype) << ShapeString(got.shape)
		       << ", expected " << DtypeName(ref.dtype) << ShapeString(ref.shape);
	uint64_t bad = 0, n = ref.size();
	std::ostringstream report;
	report.precision(9);
	for (uint64_t i = 0; i < n; i++) {
		bool ok;
		double bound = 0;
		if (!ref.is_float()) {
			ok = got.ints[i] == ref.ints[i];
		} else {
			double r = ref.real[i], g = got.real[i];
			double rounded = RoundToDtype(r, ref.dtype);
			if (std::isnan(r)) {
				ok = std::isnan(g);
			} else if (tol.rel == 0 && tol.abs == 0) {
				// exact operations store the correctly rounded value
				ok = g == rounded && std::signbit(g) == std::signbit(rounded);
			} else if (std::isinf(rounded)) {
				ok = g == rounded;
			} else {
				double scale = want.scale.empty() ? std::fabs(r) : want.scale[i];
				bound = tol.abs + tol.rel * scale +
					OutputRounding(ref.dtype) * 1.0001 * std::fabs(r) +
					SubnormalRounding(ref.dtype);
				ok = std::fabs(g - r) <= bound;
			}
		}
		if (ok)
			continue;
		if (bad++ < 8) {
			report << "\n  at " << IndexString(i, ref.shape) << ": got ";
			if (ref.is_float())
				report << got.real[i] << ", expected " << ref.real[i]
				       << " (allowed error " << bound << ")";
			else
				report << got.ints[i] << ", expected " << ref.ints[i];
		}
	}
	if (bad == 0)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << bad << " of " << n << " elements of " << DtypeName(ref.dtype)
	       << ShapeString(ref.shape) << " differ from the reference:" << report.str();
}

// ---- element-wise functions -----------------------------------------------

namespace
{

double Sigmoid(double x)
{
	return 1.0 / (1.0 + std::exp(-x));
}

double Softplus(double x)
{
	return x > 30 ? x : std::log1p(std::exp(x));
}

int IntWidth(uint32_t dtype)
{
	return dtype == NPU_DTYPE_I64 ? 64 : dtype == NPU_DTYPE_I32 ? 32 : 8;
}

bool IsSigned(uint32_t dtype)
{
	return dtype == NPU_DTYPE_I8 || dtype == NPU_DTYPE_I32 || dtype == NPU_DTYPE_I64;
}

} // namespace

double ApplyFn(uint32_t fn, double a, double b, double x)
{
	switch (fn) {
	case NPU_FN_IDENTITY:
		return x;
	case NPU_FN_RELU:
		return x < 0 ? 0.0 : x;
	case NPU_FN_LEAKY_RELU:
		return x < 0 ? a * x : x;
	case NPU_FN_ELU:
		return x < 0 ? a * std::expm1(x) : x;
	case NPU_FN_SELU:
		return b * (x < 0 ? a * std::expm1(x) : x);
	case NPU_FN_CELU:
		return std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a));
	case NPU_FN_GELU:
		return x * (1 + std::erf(x / std::sqrt(2.0))) / 2;
	case NPU_FN_GELU_TANH:
		return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
	case NPU_FN_SIGMOID:
		return Sigmoid(x);
	case NPU_FN_HARD_SIGMOID:
		return std::max(0.0, std::min(1.0, a * x + b));
	case NPU_FN_HARD_SWISH:
		return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
	case NPU_FN_TANH:
		return std::tanh(x);
	case NPU_FN_SOFTPLUS:
		return Softplus(x);
	case NPU_FN_SOFTSIGN:
		return x / (1 + std::fabs(x));
	case NPU_FN_SILU:
		return x * Sigmoid(x);
	case NPU_FN_MISH:
		return x * std::tanh(Softplus(x));
	case NPU_FN_CLIP:
		return std::min(std::max(x, a), b);
	case NPU_FN_THRESHOLDED_RELU:
		return x > a ? x : 0.0;
	case NPU_FN_SHRINK:
		return x < -a ? x + b : x > a ? x - b : 0.0;
	case NPU_FN_EXP:
		return std::exp(x);
	case NPU_FN_LOG:
		return std::log(x);
	case NPU_FN_SQRT:
		return std::sqrt(x);
	case NPU_FN_RSQRT:
		return 1 / std::sqrt(x);
	case NPU_FN_RECIPROCAL:
		return 1 / x;
	case NPU_FN_NEG:
		return -x;
	case NPU_FN_ABS:
		return std::fabs(x);
	case NPU_FN_FLOOR:
		return std::floor(x);
	case NPU_FN_CEIL:
		return std::ceil(x);
	case NPU_FN_ROUND:
		return std::nearbyint(x);
	case NPU_FN_SIGN:
		return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
	case NPU_FN_ERF:
		return std::erf(x);
	case NPU_FN_SIN:
		return std::sin(x);
	case NPU_FN_COS:
		return std::cos(x);
	case NPU_FN_TAN:
		return std::tan(x);
	case NPU_FN_ASIN:
		return std::asin(x);
	case NPU_FN_ACOS:
		return std::acos(x);
	case NPU_FN_ATAN:
		return std::atan(x);
	case NPU_FN_SINH:
		return std::sinh(x);
	case NPU_FN_COSH:
		return std::cosh(x);
	case NPU_FN_ASINH:
		return std::asinh(x);
	case NPU_FN_ACOSH:
		return std::acosh(x);
	case NPU_FN_ATANH:
		return std::atanh(x);
	case NPU_FN_ISNAN:
		return std::isnan(x) ? 1.0 : 0.0;
	case NPU_FN_ISINF:
		return (std::isinf(x) && ((x > 0 && a != 0) || (x < 0 && b != 0))) ? 1.0 : 0.0;
	default:
		throw std::invalid_argument("ApplyFn: no float semantics for fn " +
					    std::to_string(fn));
	}
}

int64_t ApplyFnInt(uint32_t fn, double alpha, double beta, int64_t x, uint32_t dtype)
{
	// a float bound stored into the dtype: truncated and saturated
	auto bound = [&](double v) {
		double t = std::trunc(v);
		if (t <= double(IntDtypeMin(dtype)))
			return IntDtypeMin(dtype);
		if (t >= double(IntDtypeMax(dtype)))
			return IntDtypeMax(dtype);
		return int64_t(t);
	};
	switch (fn) {
	case NPU_FN_IDENTITY:
	case NPU_FN_FLOOR:
	case NPU_FN_CEIL:
	case NPU_FN_ROUND:
		return x;
	case NPU_FN_CLIP: {
		double v = std::min(std::max(double(x), alpha), beta);
		return v == double(x) ? x : bound(v);
	}
	case NPU_FN_RELU:
		return std::max<int64_t>(x, 0);
	case NPU_FN_NEG:
		return WrapToDtype(int64_t(0 - uint64_t(x)), dtype);
	case NPU_FN_ABS:
		return WrapToDtype(x < 0 ? int64_t(0 - uint64_t(x)) : x, dtype);
	case NPU_FN_SIGN:
		return x > 0 ? 1 : x < 0 ? -1 : 0;
	case NPU_FN_NOT:
		return x == 0;
	case NPU_FN_BITWISE_NOT:
		return WrapToDtype(~x, dtype);
	default:
		throw std::invalid_argument("ApplyFnInt: no integer semantics for fn " +
					    std::to_string(fn));
	}
}

bool IsComparison(uint32_t fn)
{
	return fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL;
}

double ApplyBinary(uint32_t fn, double a, double b)
{
	switch (fn) {
	case NPU_BIN_ADD:
		return a + b;
	case NPU_BIN_SUB:
		return a - b;
	case NPU_BIN_MUL:
		return a * b;
	case NPU_BIN_DIV:
		return a / b;
	case NPU_BIN_MAX:
		return std::max(a, b);
	case NPU_BIN_MIN:
		return std::min(a, b);
	case NPU_BIN_POW:
		return std::pow(a, b);
	case NPU_BIN_PRELU:
		return a < 0 ? a * b : a;
	case NPU_BIN_MOD: {
		double r = std::fmod(a, b);
		return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
	}
	case NPU_BIN_FMOD:
		return std::fmod(a, b);
	case NPU_BIN_EQUAL:
		return a == b;
	case NPU_BIN_LESS:
		return a < b;
	case NPU_BIN_LESS_EQUAL:
		return a <= b;
	case NPU_BIN_GREATER:
		return a > b;
	case NPU_BIN_GREATER_EQUAL:
		return a >= b;
	case NPU_BIN_AND:
		return (a != 0) && (b != 0);
	case NPU_BIN_OR:
		return (a != 0) || (b != 0);
	case NPU_BIN_XOR:
		return (a != 0) != (b != 0);
	default:
		throw std::invalid_argument("ApplyBinary: no float semantics for fn " +
					    std::to_string(fn));
	}
}

int64_t ApplyBinaryInt(uint32_t fn, int64_t a, int64_t b, uint32_t dtype)
{
	auto ua = uint64_t(a), ub = uint64_t(b);
	int width = IntWidth(dtype);
	switch (fn) {
	case NPU_BIN_ADD:
		return WrapToDtype(int64_t(ua + ub), dtype);
	case NPU_BIN_SUB:
		return WrapToDtype(int64_t(ua - ub), dtype);
	case NPU_BIN_MUL:
		return WrapToDtype(int64_t(ua * ub), dtype);
	case NPU_BIN_DIV:
		if (b == 0)
			return 0;
		if (b == -1) // no overflow trap on the most negative value
			return WrapToDtype(int64_t(0 - ua), dtype);
		return WrapToDtype(a / b, dtype);
	case NPU_BIN_MAX:
		return std::max(a, b);
	case NPU_BIN_MIN:
		return std::min(a, b);
	case NPU_BIN_PRELU:
		return a < 0 ? WrapToDtype(int64_t(ua * ub), dtype) : a;
	case NPU_BIN_POW: {
		if (b < 0) // 1 / a^-b, truncated
			return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
		uint64_t r = 1, base = ua; // square and multiply, wrapping
		for (auto e = uint64_t(b); e; e >>= 1) {
			if (e & 1)
				r *= base;
			base *= base;
		}
		return WrapToDtype(int64_t(r), dtype);
	}
	case NPU_BIN_MOD: {
		if (b == 0 || b == -1)
			return 0;
		int64_t r = a % b;
		return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
	}
	case NPU_BIN_FMOD:
		return (b == 0 || b == -1) ? 0 : a % b;
	case NPU_BIN_EQUAL:
		return a == b;
	case NPU_BIN_LESS:
		return a < b;
	case NPU_BIN_LESS_EQUAL:
		return a <= b;
	case NPU_BIN_GREATER:
		return a > b;
	case NPU_BIN_GREATER_EQUAL:
		return a >= b;
	case NPU_BIN_AND:
		return (a != 0) && (b != 0);
	case NPU_BIN_OR:
		return (a != 0) || (b != 0);
	case NPU_BIN_XOR:
		return (a != 0) != (b != 0);
	case NPU_BIN_BITWISE_AND:
		return WrapToDtype(a & b, dtype);
	case NPU_BIN_BITWISE_OR:
		return WrapToDtype(a | b, dtype);
	case NPU_BIN_BITWISE_XOR:
		return WrapToDtype(a ^ b, dtype);
	case NPU_BIN_SHIFT_LEFT:
		if (b < 0 || b >= width)
			return 0;
		return WrapToDtype(int64_t(ua << b), dtype);
	case NPU_BIN_SHIFT_RIGHT: {
		if (b < 0 || b >= width)
			return 0;
		if (IsSigned(dtype))
			return a >> b; // arithmetic
		return int64_t(ua >> b);
	}
	default:
		throw std::invalid_argument("ApplyBinaryInt: no integer semantics for fn " +
					    std::to_string(fn));
	}
}

// ---- shape arithmetic -------------------------------------------------------

uint64_t WindowOutExtent(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			 uint32_t pad_begin, uint32_t pad_end)
{
	int64_t span = int64_t(in) + pad_begin + pad_end - int64_t(dilation) * (kernel - 1) - 1;
	return span < 0 ? 0 : uint64_t(span) / stride + 1;
}

uint64_t WindowOutExtentCeil(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			     uint32_t pad_begin, uint32_t pad_end)
{
	int64_t span = int64_t(in) + pad_begin + pad_end - int64_t(dilation) * (kernel - 1) - 1;
	if (span < 0)
		return 0;
	uint64_t out = (uint64_t(span) + stride - 1) / stride + 1;
	if ((out - 1) * stride >= in + pad_begin)
		out--;
	return out;
}

uint64_t TransposedOutExtent(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			     uint32_t pad_begin, uint32_t pad_end)
{
	return (in - 1) * stride - pad_begin - pad_end + uint64_t(dilation) * (kernel - 1) + 1;
}

} // namespace npu_test::ops
