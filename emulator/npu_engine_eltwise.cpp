// SPDX-License-Identifier: MIT
// UNARY and BINARY, and the element-wise functions GEMM and CONV fuse.
// Floats compute in double and round once on store (at least as exact as
// f32 arithmetic, which the packets promise); integers compute in int64
// with two's-complement wrap-around and wrap again on store.
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <numbers>

#include "npu_engine_kernels.h"
#include "npu_engine_tile.h"

namespace npu::emu
{

namespace
{

double param(std::uint32_t bits)
{
	return std::bit_cast<float>(bits);
}

double sigmoid(double x)
{
	// Stable for large |x|: exp of a non-positive argument only.
	if (x >= 0)
		return 1.0 / (1.0 + std::exp(-x));
	double e = std::exp(x);
	return e / (1.0 + e);
}

double softplus(double x)
{
	return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// Wrapping int64 arithmetic (the C++ operators would overflow: UB).
std::int64_t wrap_add(std::int64_t a, std::int64_t b)
{
	return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) +
					 static_cast<std::uint64_t>(b));
}

std::int64_t wrap_sub(std::int64_t a, std::int64_t b)
{
	return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) -
					 static_cast<std::uint64_t>(b));
}

std::int64_t wrap_mul(std::int64_t a, std::int64_t b)
{
	return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) *
					 static_cast<std::uint64_t>(b));
}

// Range of an integer dtype's values (BOOL: 0..1).
struct IntRange {
	std::int64_t lo, hi;
};

IntRange int_range(std::uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_I8:
		return {-128, 127};
	case NPU_DTYPE_U8:
		return {0, 255};
	case NPU_DTYPE_I32:
		return {std::numeric_limits<std::int32_t>::min(),
			std::numeric_limits<std::int32_t>::max()};
	case NPU_DTYPE_I64:
		return {std::numeric_limits<std::int64_t>::min(),
			std::numeric_limits<std::int64_t>::max()};
	default:
		return {0, 1};
	}
}

// Exact comparisons between an integer and a float parameter.
bool int_less(std::int64_t x, double f)
{
	if (std::isnan(f))
		return false;
	if (f >= 0x1p63)
		return true;
	if (f < -0x1p63)
		return false;
	return x < static_cast<std::int64_t>(std::ceil(f)); // x < f <=> x < ceil(f)
}

bool int_greater(std::int64_t x, double f)
{
	if (std::isnan(f))
		return false;
	if (f >= 0x1p63)
		return false;
	if (f < -0x1p63)
		return true;
	return x > static_cast<std::int64_t>(std::floor(f));
}

std::int64_t clamp_to(double v, const IntRange &r)
{
	if (std::isnan(v))
		return 0;
	if (v <= static_cast<double>(r.lo))
		return r.lo;
	if (v >= static_cast<double>(r.hi))
		return r.hi;
	return static_cast<std::int64_t>(v);
}

// ---- UNARY --------------------------------------------------------------

bool unary_allowed(std::uint32_t fn, std::uint32_t dtype)
{
	if (fn > NPU_FN_LAST)
		return false;
	if (dtype_is_float(dtype))
		return fn != NPU_FN_NOT && fn != NPU_FN_BITWISE_NOT;
	if (dtype == NPU_DTYPE_BOOL)
		return fn == NPU_FN_IDENTITY || fn == NPU_FN_NOT;
	// Integers: the functions that are exact on them.
	switch (fn) {
	case NPU_FN_IDENTITY:
	case NPU_FN_RELU:
	case NPU_FN_NEG:
	case NPU_FN_ABS:
	case NPU_FN_SIGN:
	case NPU_FN_FLOOR:
	case NPU_FN_CEIL:
	case NPU_FN_ROUND:
	case NPU_FN_CLIP:
	case NPU_FN_BITWISE_NOT:
		return true;
	default:
		return false;
	}
}

std::int64_t unary_int(const npu_act &act, const IntRange &range, std::int64_t x)
{
	switch (act.fn) {
	case NPU_FN_RELU:
		return x < 0 ? 0 : x;
	case NPU_FN_NEG:
		return wrap_sub(0, x);
	case NPU_FN_ABS:
		return x < 0 ? wrap_sub(0, x) : x;
	case NPU_FN_SIGN:
		return (x > 0) - (x < 0);
	case NPU_FN_BITWISE_NOT:
		return ~x;
	case NPU_FN_NOT:
		return x == 0;
	case NPU_FN_CLIP: {
		// min(max(x, alpha), beta); a bound that wins is stored the way
		// a float is stored into the dtype (truncated, saturated).
		double lo = param(act.alpha), hi = param(act.beta);
		if (int_less(x, lo))
			return lo > hi ? clamp_to(hi, range) : clamp_to(lo, range);
		return int_greater(x, hi) ? clamp_to(hi, range) : x;
	}
	default: // IDENTITY, FLOOR, CEIL, ROUND
		return x;
	}
}

// ---- BINARY -------------------------------------------------------------

bool is_comparison(std::uint32_t fn)
{
	return fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL;
}

bool binary_allowed(std::uint32_t fn, std::uint32_t dtype)
{
	bool is_float = dtype_is_float(dtype);
	bool is_int = dtype_is_integer(dtype);
	bool is_bool = dtype == NPU_DTYPE_BOOL;
	switch (fn) {
	case NPU_BIN_ADD:
	case NPU_BIN_SUB:
	case NPU_BIN_MUL:
	case NPU_BIN_DIV:
	case NPU_BIN_POW:
	case NPU_BIN_PRELU:
	case NPU_BIN_MOD:
	case NPU_BIN_FMOD:
		return is_float || is_int;
	case NPU_BIN_MAX:
	case NPU_BIN_MIN:
	case NPU_BIN_EQUAL:
	case NPU_BIN_LESS:
	case NPU_BIN_LESS_EQUAL:
	case NPU_BIN_GREATER:
	case NPU_BIN_GREATER_EQUAL:
	case NPU_BIN_SELECT:
		return is_float || is_int || is_bool;
	case NPU_BIN_AND:
	case NPU_BIN_OR:
	case NPU_BIN_XOR:
		return is_bool;
	case NPU_BIN_BITWISE_AND:
	case NPU_BIN_BITWISE_OR:
	case NPU_BIN_BITWISE_XOR:
	case NPU_BIN_SHIFT_LEFT:
	case NPU_BIN_SHIFT_RIGHT:
		return is_int;
	default:
		return false;
	}
}

double binary_float(std::uint32_t fn, double a, double b)
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
		return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN()
						      : std::max(a, b);
	case NPU_BIN_MIN:
		return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN()
						      : std::min(a, b);
	case NPU_BIN_POW:
		return std::pow(a, b);
	case NPU_BIN_PRELU:
		return a < 0 ? a * b : a;
	case NPU_BIN_MOD: { // by 0: NaN like fmod (only integers give 0)
		double r = std::fmod(a, b);
		return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
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
	default:
		bad_task();
	}
}

std::int64_t int_pow(std::int64_t base, std::int64_t exponent)
{
	if (exponent < 0) // 1 / base^-e, truncated; 1 / 0 gives 0 like DIV
		return base == 1 ? 1 : base == -1 ? ((exponent & 1) ? -1 : 1) : 0;
	std::int64_t result = 1;
	for (; exponent; exponent >>= 1) {
		if (exponent & 1)
			result = wrap_mul(result, base);
		base = wrap_mul(base, base);
	}
	return result;
}

// width: the dtype's bits, for shifts.
std::int64_t binary_int(std::uint32_t fn, std::int64_t a, std::int64_t b, unsigned width)
{
	switch (fn) {
	case NPU_BIN_ADD:
		return wrap_add(a, b);
	case NPU_BIN_SUB:
		return wrap_sub(a, b);
	case NPU_BIN_MUL:
		return wrap_mul(a, b);
	case NPU_BIN_DIV: // INT64_MIN / -1 wraps instead of trapping
		return b == 0 ? 0 : b == -1 ? wrap_sub(0, a) : a / b;
	case NPU_BIN_MAX:
		return std::max(a, b);
	case NPU_BIN_MIN:
		return std::min(a, b);
	case NPU_BIN_POW:
		return int_pow(a, b);
	case NPU_BIN_PRELU:
		return a < 0 ? wrap_mul(a, b) : a;
	case NPU_BIN_MOD: {
		if (b == 0 || b == -1)
			return 0;
		std::int64_t r = a % b;
		return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
	}
	case NPU_BIN_FMOD:
		return b == 0 || b == -1 ? 0 : a % b;
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
		return a && b;
	case NPU_BIN_OR:
		return a || b;
	case NPU_BIN_XOR:
		return (a != 0) != (b != 0);
	case NPU_BIN_BITWISE_AND:
		return a & b;
	case NPU_BIN_BITWISE_OR:
		return a | b;
	case NPU_BIN_BITWISE_XOR:
		return a ^ b;
	case NPU_BIN_SHIFT_LEFT:
		if (b < 0 || b >= static_cast<std::int64_t>(width))
			return 0;
		return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) << b);
	case NPU_BIN_SHIFT_RIGHT:
		// Arithmetic for signed dtypes (a is sign-extended), logical for
		// U8 (zero-extended).
		if (b < 0 || b >= static_cast<std::int64_t>(width))
			return 0;
		return a >> b;
	default:
		bad_task();
	}
}

void run_select(ContextMemory &mem, const npu_pkt_binary &p, TensorRef &a, TensorRef &b,
		TensorRef &y, const ElementTile &tile)
{
	TensorRef cond(mem, p.cond);
	if (cond.dtype() != NPU_DTYPE_BOOL || !same_shape(cond, y))
		bad_task();
	const std::size_t size = y.elem_size();
	std::int64_t pick[kChunkElements];
	std::uint8_t from_a[kChunkElements * 8], from_b[kChunkElements * 8];
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		cond.read_i64(first, n, pick);
		a.read_raw(first, n, from_a);
		b.read_raw(first, n, from_b);
		for (std::uint64_t i = 0; i < n; i++)
			if (!pick[i])
				std::memcpy(from_a + i * size, from_b + i * size, size);
		y.write_raw(first, n, from_a);
	});
}

} // namespace

double apply_fn(const npu_act &act, double x)
{
	const double alpha = param(act.alpha), beta = param(act.beta);
	switch (act.fn) {
	case NPU_FN_IDENTITY:
		return x;
	case NPU_FN_RELU:
		return x < 0 ? 0 : x;
	case NPU_FN_LEAKY_RELU:
		return x < 0 ? alpha * x : x;
	case NPU_FN_ELU:
		return x < 0 ? alpha * std::expm1(x) : x;
	case NPU_FN_SELU:
		return beta * (x < 0 ? alpha * std::expm1(x) : x);
	case NPU_FN_CELU:
		return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha));
	case NPU_FN_GELU:
		return x * (1 + std::erf(x / std::numbers::sqrt2)) / 2;
	case NPU_FN_GELU_TANH: {
		const double k = std::sqrt(2 / std::numbers::pi);
		return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x)));
	}
	case NPU_FN_SIGMOID:
		return sigmoid(x);
	case NPU_FN_HARD_SIGMOID:
		return std::max(0.0, std::min(1.0, alpha * x + beta));
	case NPU_FN_HARD_SWISH:
		return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
	case NPU_FN_TANH:
		return std::tanh(x);
	case NPU_FN_SOFTPLUS:
		return softplus(x);
	case NPU_FN_SOFTSIGN:
		return x / (1 + std::fabs(x));
	case NPU_FN_SILU:
		return x * sigmoid(x);
	case NPU_FN_MISH:
		return x * std::tanh(softplus(x));
	case NPU_FN_CLIP:
		return std::min(std::max(x, alpha), beta);
	case NPU_FN_THRESHOLDED_RELU:
		return x > alpha ? x : 0;
	case NPU_FN_SHRINK:
		return x < -alpha ? x + beta : x > alpha ? x - beta : 0;
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
		return std::nearbyint(x); // the default rounding mode: half to even
	case NPU_FN_SIGN:
		return x > 0 ? 1 : x < 0 ? -1 : x; // keeps -0 and NaN
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
	case NPU_FN_NOT:
		return x == 0;
	case NPU_FN_ISNAN:
		return std::isnan(x);
	case NPU_FN_ISINF:
		return (alpha != 0 && x == std::numeric_limits<double>::infinity()) ||
		       (beta != 0 && x == -std::numeric_limits<double>::infinity());
	case NPU_FN_BITWISE_NOT: // on an integer value: ~x == -x - 1
		return -x - 1;
	default:
		bad_task();
	}
}

void run_unary(ContextMemory &mem, const npu_pkt_unary &p, const npu_engine_task &task)
{
	TensorRef x(mem, p.x), y(mem, p.y);
	const std::uint32_t fn = p.act.fn;
	const bool to_bool = fn == NPU_FN_ISNAN || fn == NPU_FN_ISINF;
	if (!unary_allowed(fn, x.dtype()) || !same_shape(x, y) ||
	    y.dtype() != (to_bool ? std::uint32_t(NPU_DTYPE_BOOL) : x.dtype()))
		bad_task();
	const ElementTile tile = element_tile(task, y);

	if (dtype_is_float(x.dtype())) {
		double v[kChunkElements];
		for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
			x.read_f64(first, n, v);
			for (std::uint64_t i = 0; i < n; i++)
				v[i] = apply_fn(p.act, v[i]);
			y.write_f64(first, n, v);
		});
		return;
	}
	const IntRange range = int_range(x.dtype());
	std::int64_t v[kChunkElements];
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		x.read_i64(first, n, v);
		for (std::uint64_t i = 0; i < n; i++)
			v[i] = unary_int(p.act, range, v[i]);
		y.write_i64(first, n, v);
	});
}

void run_binary(ContextMemory &mem, const npu_pkt_binary &p, const npu_engine_task &task)
{
	TensorRef a(mem, p.a), b(mem, p.b), y(mem, p.y);
	const std::uint32_t fn = p.fn;
	const std::uint32_t y_dtype = is_comparison(fn) ? std::uint32_t(NPU_DTYPE_BOOL) : a.dtype();
	if (!binary_allowed(fn, a.dtype()) || b.dtype() != a.dtype() || y.dtype() != y_dtype ||
	    !same_shape(a, y) || !same_shape(b, y))
		bad_task();
	const ElementTile tile = element_tile(task, y);

	if (fn == NPU_BIN_SELECT) {
		run_select(mem, p, a, b, y, tile);
		return;
	}
	if (dtype_is_float(a.dtype())) {
		double va[kChunkElements], vb[kChunkElements];
		for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
			a.read_f64(first, n, va);
			b.read_f64(first, n, vb);
			for (std::uint64_t i = 0; i < n; i++)
				va[i] = binary_float(fn, va[i], vb[i]);
			y.write_f64(first, n, va);
		});
		return;
	}
	const unsigned width = static_cast<unsigned>(a.elem_size() * 8);
	std::int64_t va[kChunkElements], vb[kChunkElements];
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		a.read_i64(first, n, va);
		b.read_i64(first, n, vb);
		for (std::uint64_t i = 0; i < n; i++)
			va[i] = binary_int(fn, va[i], vb[i], width);
		y.write_i64(first, n, va);
	});
}

} // namespace npu::emu
