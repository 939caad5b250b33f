// SPDX-License-Identifier: MIT
// The UNARY and BINARY kernels, and through them the layouts (strides,
// broadcast, reversal, scattered pages) and faults every kernel shares,
// each checked against a reference written from uapi/drm/npu_packet.h.
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

#include "engine_fixture.h"

namespace npu::emu::test
{
namespace
{

// ---- layouts and faults, through UNARY ------------------------------------------

using EngineLayoutTest = EngineKernelTest;

TEST_F(EngineLayoutTest, TransposedInputWritesTheTranspose)
{
	// x is a 37 x 53 row-major matrix read as its 53 x 37 transpose.
	const unsigned rows = 37, cols = 53;
	std::uint64_t xa = put(iota_f32(rows * cols), false, true);
	std::uint64_t ya = out<float>(rows * cols, true);
	auto p = unary_packet(NPU_FN_NEG, make_tensor(xa, NPU_DTYPE_F32, {cols, rows}, {1, cols}),
			      make_tensor(ya, NPU_DTYPE_F32, {cols, rows}));
	ASSERT_EQ(run(p), kOk);
	auto y = get<float>(ya, rows * cols);
	for (unsigned c = 0; c < cols; c++)
		for (unsigned r = 0; r < rows; r++)
			ASSERT_EQ(y[c * rows + r], -static_cast<float>(r * cols + c))
				<< r << "," << c;
}

TEST_F(EngineLayoutTest, NegativeStridesReverseAndStridedOutput)
{
	// x read backwards from its last element; y written to every third
	// float, the skipped ones untouched.
	const unsigned n = 3000;
	std::uint64_t xa = put(iota_f32(n), false, true);
	std::uint64_t ya = out<float>(3 * n);
	auto p = unary_packet(NPU_FN_ABS, make_tensor(xa + 4 * (n - 1), NPU_DTYPE_F32, {n}, {-1}),
			      make_tensor(ya, NPU_DTYPE_F32, {n}, {3}));
	ASSERT_EQ(run(p), kOk);
	auto y = get<std::uint32_t>(ya, 3 * n);
	for (unsigned i = 0; i < n; i++) {
		ASSERT_EQ(std::bit_cast<float>(y[3 * i]), static_cast<float>(n - 1 - i)) << i;
		ASSERT_EQ(y[3 * i + 1], 0xa5a5a5a5u) << i;
	}
}

TEST_F(EngineLayoutTest, RankSixPermutedAndScalar)
{
	// y[i0..i5] = x at a permutation of the dimensions (strides of a
	// row-major [2,3,1,4,5,2] shuffled), one element per tile step.
	const std::vector<std::uint32_t> xs = {2, 3, 1, 4, 5, 2};
	std::vector<std::int64_t> xstride(6);
	std::int64_t dense = 1;
	for (int d = 5; d >= 0; d--)
		xstride[d] = dense, dense *= xs[d];
	const int perm[6] = {4, 0, 5, 2, 1, 3};
	std::vector<std::uint32_t> ys(6);
	std::vector<std::int64_t> ystride(6);
	for (int d = 0; d < 6; d++)
		ys[d] = xs[perm[d]], ystride[d] = xstride[perm[d]];
	std::uint64_t xa = put(iota_f32(240), false, false, 40);
	std::uint64_t ya = out<float>(240);
	auto p = unary_packet(NPU_FN_IDENTITY, make_tensor(xa, NPU_DTYPE_F32, ys, ystride),
			      make_tensor(ya, NPU_DTYPE_F32, ys));
	// Three uneven tiles cover it.
	ASSERT_EQ(run(p, 0, 17), kOk);
	ASSERT_EQ(run(p, 17, 200), kOk);
	ASSERT_EQ(run(p, 200, 240), kOk);
	auto y = get<float>(ya, 240);
	std::uint64_t flat = 0;
	std::uint64_t i[6];
	for (i[0] = 0; i[0] < ys[0]; i[0]++)
		for (i[1] = 0; i[1] < ys[1]; i[1]++)
			for (i[2] = 0; i[2] < ys[2]; i[2]++)
				for (i[3] = 0; i[3] < ys[3]; i[3]++)
					for (i[4] = 0; i[4] < ys[4]; i[4]++)
						for (i[5] = 0; i[5] < ys[5]; i[5]++) {
							std::int64_t off = 0;
							for (int d = 0; d < 6; d++)
								off += i[d] * ystride[d];
							ASSERT_EQ(y[flat++],
								  static_cast<float>(off));
						}

	std::uint64_t sa = put(std::vector<float>{-2.5f});
	std::uint64_t sy = out<float>(1);
	ASSERT_EQ(run(unary_packet(NPU_FN_ABS, make_tensor(sa, NPU_DTYPE_F32, {}),
				   make_tensor(sy, NPU_DTYPE_F32, {}))),
		  kOk);
	EXPECT_EQ(get<float>(sy, 1)[0], 2.5f);
}

TEST_F(EngineLayoutTest, TilesWriteOnlyTheirElements)
{
	std::uint64_t xa = put(iota_f32(100));
	std::uint64_t ya = out<float>(100);
	auto p = unary_packet(NPU_FN_NEG, make_tensor(xa, NPU_DTYPE_F32, {10, 10}),
			      make_tensor(ya, NPU_DTYPE_F32, {10, 10}));
	ASSERT_EQ(run(p, 33, 47), kOk);
	auto y = get<std::uint32_t>(ya, 100);
	for (unsigned i = 0; i < 100; i++) {
		if (i >= 33 && i < 47)
			EXPECT_EQ(std::bit_cast<float>(y[i]), -static_cast<float>(i));
		else
			EXPECT_EQ(y[i], 0xa5a5a5a5u) << i;
	}
	EXPECT_EQ(run(p, 90, 101), kBadTask); // past y
	EXPECT_EQ(run(p, 50, 40), kBadTask);
	EXPECT_EQ(run(p, 100, 100), kBadTask); // an empty tile is malformed
}

TEST_F(EngineLayoutTest, FaultsReportTheFirstFailingAddress)
{
	// x runs from 8 bytes before its region's end into the unmapped guard
	// page: elements 0 and 1 read, element 2 faults.
	std::uint64_t xa = put(std::vector<float>{1, 2}, false, false, NPU_PAGE_SIZE - 8);
	std::uint64_t ya = out<float>(4);
	auto p = unary_packet(NPU_FN_NEG, make_tensor(xa, NPU_DTYPE_F32, {4}),
			      make_tensor(ya, NPU_DTYPE_F32, {4}));
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_READ, xa + 8}));

	// Backwards from the guard page into x: the first element faults.
	std::uint64_t xb = put(iota_f32(4));
	p.x = make_tensor(xb + NPU_PAGE_SIZE + 4, NPU_DTYPE_F32, {2},
			  {-static_cast<std::int64_t>(NPU_PAGE_SIZE / 4)});
	p.y = make_tensor(ya, NPU_DTYPE_F32, {2});
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_READ, xb + NPU_PAGE_SIZE + 4}));
	p.x.addr = xb + 4; // ... and forwards from x into the guard page
	p.x.stride[0] = NPU_PAGE_SIZE / 4;
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_READ, xb + NPU_PAGE_SIZE + 4}));
	EXPECT_EQ(get<std::uint32_t>(ya, 1)[0],
		  0xa5a5a5a5u); // a chunk is read before it is written

	// y read-only.
	std::uint64_t ro = put(std::vector<float>{0, 0, 0, 0}, false);
	p = unary_packet(NPU_FN_NEG, make_tensor(xb, NPU_DTYPE_F32, {4}),
			 make_tensor(ro, NPU_DTYPE_F32, {4}));
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, ro}));

	// y runs into the guard page: the elements before it are written.
	std::uint64_t yb = out<float>(2, false, NPU_PAGE_SIZE - 8);
	p.y = make_tensor(yb, NPU_DTYPE_F32, {4});
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, yb + 8}));
	EXPECT_EQ(get<float>(yb, 2), (std::vector<float>{-0.0f, -1.0f}));

	// Nothing mapped at all.
	p.x = make_tensor(0x7fff0000, NPU_DTYPE_F32, {4});
	EXPECT_EQ(run(p), (KernelOutcome{NPU_ENG_ST_FAULT_READ, 0x7fff0000}));
}

// ---- UNARY ------------------------------------------------------------------

// The functions of npu_packet.h, written from their definitions.
double reference_fn(std::uint32_t fn, double x, double a, double b)
{
	auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
	auto softplus = [](double v) { return std::log1p(std::exp(v)); };
	switch (fn) {
	case NPU_FN_IDENTITY:
		return x;
	case NPU_FN_RELU:
		return std::max(x, 0.0);
	case NPU_FN_LEAKY_RELU:
		return x < 0 ? a * x : x;
	case NPU_FN_ELU:
		return x < 0 ? a * (std::exp(x) - 1) : x;
	case NPU_FN_SELU:
		return b * (x < 0 ? a * (std::exp(x) - 1) : x);
	case NPU_FN_CELU:
		return std::max(0.0, x) + std::min(0.0, a * (std::exp(x / a) - 1));
	case NPU_FN_GELU:
		return x * (1 + std::erf(x / std::sqrt(2.0))) / 2;
	case NPU_FN_GELU_TANH:
		return x / 2 *
		       (1 + std::tanh(std::sqrt(2 / std::numbers::pi) *
				      (x + 0.044715 * std::pow(x, 3))));
	case NPU_FN_SIGMOID:
		return sig(x);
	case NPU_FN_HARD_SIGMOID:
		return std::max(0.0, std::min(1.0, a * x + b));
	case NPU_FN_HARD_SWISH:
		return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
	case NPU_FN_TANH:
		return std::tanh(x);
	case NPU_FN_SOFTPLUS:
		return softplus(x);
	case NPU_FN_SOFTSIGN:
		return x / (1 + std::fabs(x));
	case NPU_FN_SILU:
		return x * sig(x);
	case NPU_FN_MISH:
		return x * std::tanh(softplus(x));
	case NPU_FN_CLIP:
		return std::min(std::max(x, a), b);
	case NPU_FN_THRESHOLDED_RELU:
		return x > a ? x : 0;
	case NPU_FN_SHRINK:
		return x < -a ? x + b : (x > a ? x - b : 0);
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
	case NPU_FN_ROUND: {
		double r = std::round(x); // half away from zero, then fix ties to even
		if (std::fabs(x - std::trunc(x)) == 0.5 && std::fmod(r, 2) != 0)
			r -= std::copysign(1.0, x);
		return r;
	}
	case NPU_FN_SIGN:
		return x > 0 ? 1 : (x < 0 ? -1 : 0);
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
	default:
		return std::nan("");
	}
}

using EngineUnaryTest = EngineKernelTest;

TEST_F(EngineUnaryTest, EveryFloatFunctionOnF32)
{
	std::vector<float> xs = {-5.5f, -2.5f, -1.5f, -1, -0.75f, -0.5f, -0.1f, -0.0f, 0,  1e-3f,
				 0.25f, 0.5f,  0.99f, 1,  1.5f,	  2.5f,	 3,	7.25f, 20, -30};
	std::uint64_t xa = put(xs);
	std::uint64_t ya = out<float>(xs.size());
	const unsigned n = static_cast<unsigned>(xs.size());
	const float alpha = 1.5f, beta = 0.75f;
	for (std::uint32_t fn = NPU_FN_IDENTITY; fn <= NPU_FN_ATANH; fn++) {
		auto p = unary_packet(fn, make_tensor(xa, NPU_DTYPE_F32, {n}),
				      make_tensor(ya, NPU_DTYPE_F32, {n}), alpha, beta);
		ASSERT_EQ(run(p), kOk) << "fn " << fn;
		auto y = get<float>(ya, n);
		for (unsigned i = 0; i < n; i++)
			EXPECT_TRUE(close_f32(y[i], reference_fn(fn, xs[i], alpha, beta)))
				<< "fn " << fn << " x " << xs[i];
	}
	// A few exact properties the tolerance would hide.
	auto exact = [&](std::uint32_t fn, float x, float want) {
		std::uint64_t a = put(std::vector<float>{x});
		std::uint64_t y = out<float>(1);
		ASSERT_EQ(run(unary_packet(fn, make_tensor(a, NPU_DTYPE_F32, {1}),
					   make_tensor(y, NPU_DTYPE_F32, {1}))),
			  kOk);
		EXPECT_EQ(f32_bits(get<float>(y, 1)[0]), f32_bits(want)) << fn << " " << x;
	};
	exact(NPU_FN_ROUND, 2.5f, 2);
	exact(NPU_FN_ROUND, -3.5f, -4);
	exact(NPU_FN_ROUND, 0.5000001f, 1);
	exact(NPU_FN_SIGN, -0.0f, -0.0f);
	exact(NPU_FN_SIGMOID, -1000, 0);
	exact(NPU_FN_SOFTPLUS, 1000, 1000);
	exact(NPU_FN_EXP, 100, kInf);
	exact(NPU_FN_RSQRT, 0, kInf);
}

TEST_F(EngineUnaryTest, HalfFormatsComputeThroughF32)
{
	std::vector<std::uint16_t> h, b;
	for (float x : {-3.0f, -1.0f, -0.3f, 0.0f, 0.7f, 1.0f, 2.5f, 11.0f}) {
		h.push_back(f32_to_f16(x));
		b.push_back(f32_to_bf16(x));
	}
	const unsigned n = static_cast<unsigned>(h.size());
	for (std::uint32_t dtype : {NPU_DTYPE_F16, NPU_DTYPE_BF16}) {
		const auto &in = dtype == NPU_DTYPE_F16 ? h : b;
		auto decode = dtype == NPU_DTYPE_F16 ? f16_to_f32 : bf16_to_f32;
		auto encode = dtype == NPU_DTYPE_F16 ? f32_to_f16 : f32_to_bf16;
		std::uint64_t xa = put(in);
		std::uint64_t ya = out<std::uint16_t>(n);
		for (std::uint32_t fn : {NPU_FN_RELU, NPU_FN_EXP, NPU_FN_SIGMOID, NPU_FN_TANH,
					 NPU_FN_SQRT, NPU_FN_GELU, NPU_FN_ROUND, NPU_FN_NEG}) {
			auto p = unary_packet(fn, make_tensor(xa, dtype, {n}),
					      make_tensor(ya, dtype, {n}));
			ASSERT_EQ(run(p), kOk);
			auto y = get<std::uint16_t>(ya, n);
			for (unsigned i = 0; i < n; i++) {
				double want = reference_fn(fn, decode(in[i]), 0, 0);
				std::uint16_t w = encode(static_cast<float>(want));
				if (std::isnan(want))
					EXPECT_TRUE(std::isnan(decode(y[i])));
				else // one unit either way: f32 vs wider rounding
					EXPECT_LE(std::abs(int(y[i]) - int(w)), 1)
						<< dtype << " fn " << fn << " x " << decode(in[i]);
			}
		}
	}
}

template <typename T> void check_integer_unary(EngineUnaryTest &t, std::uint32_t dtype)
{
	std::vector<T> xs = int_samples<T>();
	const unsigned n = static_cast<unsigned>(xs.size());
	std::uint64_t xa = t.put(xs);
	std::uint64_t ya = t.out<T>(n);
	const float lo = -3.5f, hi = 99.9f;
	for (std::uint32_t fn :
	     {NPU_FN_IDENTITY, NPU_FN_RELU, NPU_FN_NEG, NPU_FN_ABS, NPU_FN_SIGN, NPU_FN_FLOOR,
	      NPU_FN_CEIL, NPU_FN_ROUND, NPU_FN_CLIP, NPU_FN_BITWISE_NOT}) {
		auto p = unary_packet(fn, make_tensor(xa, dtype, {n}), make_tensor(ya, dtype, {n}),
				      lo, hi);
		ASSERT_EQ(t.run(p), kOk);
		auto y = t.template get<T>(ya, n);
		for (unsigned i = 0; i < n; i++) {
			// Computed wide (two's complement wrap on the way back).
			__int128 x = xs[i], want = x;
			switch (fn) {
			case NPU_FN_RELU:
				want = x < 0 ? 0 : x;
				break;
			case NPU_FN_NEG:
				want = -x;
				break;
			case NPU_FN_ABS:
				want = x < 0 ? -x : x;
				break;
			case NPU_FN_SIGN:
				want = (x > 0) - (x < 0);
				break;
			case NPU_FN_CLIP:
				want = x < -3.5 ? -3 : (x > 99.9 ? 99 : x);
				break;
			case NPU_FN_BITWISE_NOT:
				want = ~x;
				break;
			}
			EXPECT_EQ(y[i], static_cast<T>(static_cast<std::uint64_t>(want)))
				<< "dtype " << dtype << " fn " << fn << " x "
				<< std::int64_t(xs[i]);
		}
	}
	// Functions that make no sense on integers.
	for (std::uint32_t fn :
	     {NPU_FN_EXP, NPU_FN_SIGMOID, NPU_FN_ISNAN, NPU_FN_NOT, NPU_FN_LEAKY_RELU, NPU_FN_SQRT})
		EXPECT_EQ(t.run(unary_packet(fn, make_tensor(xa, dtype, {n}),
					     make_tensor(ya, dtype, {n}))),
			  kBadTask)
			<< fn;
}

TEST_F(EngineUnaryTest, IntegerFunctionsAreExact)
{
	check_integer_unary<std::int8_t>(*this, NPU_DTYPE_I8);
	check_integer_unary<std::uint8_t>(*this, NPU_DTYPE_U8);
	check_integer_unary<std::int32_t>(*this, NPU_DTYPE_I32);
	check_integer_unary<std::int64_t>(*this, NPU_DTYPE_I64);
}

TEST_F(EngineUnaryTest, ClipBoundsSaturateIntoTheDtype)
{
	std::uint64_t xa = put(std::vector<std::uint8_t>{0, 7, 200, 255});
	std::uint64_t ya = out<std::uint8_t>(4);
	auto p = unary_packet(NPU_FN_CLIP, make_tensor(xa, NPU_DTYPE_U8, {4}),
			      make_tensor(ya, NPU_DTYPE_U8, {4}), 300, 400);
	ASSERT_EQ(run(p), kOk);
	EXPECT_EQ(get<std::uint8_t>(ya, 4), (std::vector<std::uint8_t>{255, 255, 255, 255}));
	p.act.alpha = f32_bits(-50), p.act.beta = f32_bits(7.9f);
	ASSERT_EQ(run(p), kOk);
	EXPECT_EQ(get<std::uint8_t>(ya, 4), (std::vector<std::uint8_t>{0, 7, 7, 7}));
}

TEST_F(EngineUnaryTest, BoolAndClassificationFunctions)
{
	std::uint64_t ba = put(std::vector<std::uint8_t>{0, 1, 1, 0, 2});
	std::uint64_t by = out<std::uint8_t>(5);
	ASSERT_EQ(run(unary_packet(NPU_FN_NOT, make_tensor(ba, NPU_DTYPE_BOOL, {5}),
				   make_tensor(by, NPU_DTYPE_BOOL, {5}))),
		  kOk);
	EXPECT_EQ(get<std::uint8_t>(by, 5), (std::vector<std::uint8_t>{1, 0, 0, 1, 0}));
	ASSERT_EQ(run(unary_packet(NPU_FN_IDENTITY, make_tensor(ba, NPU_DTYPE_BOOL, {5}),
				   make_tensor(by, NPU_DTYPE_BOOL, {5}))),
		  kOk);
	EXPECT_EQ(get<std::uint8_t>(by, 5), (std::vector<std::uint8_t>{0, 1, 1, 0, 1}));
	EXPECT_EQ(run(unary_packet(NPU_FN_RELU, make_tensor(ba, NPU_DTYPE_BOOL, {5}),
				   make_tensor(by, NPU_DTYPE_BOOL, {5}))),
		  kBadTask);

	std::vector<float> xs = {0, kNaN, kInf, -kInf, -1, std::numeric_limits<float>::max()};
	std::uint64_t xa = put(xs);
	auto classify = [&](std::uint32_t fn, float alpha, float beta) {
		EXPECT_EQ(run(unary_packet(fn, make_tensor(xa, NPU_DTYPE_F32, {6}),
					   make_tensor(by, NPU_DTYPE_BOOL, {6}), alpha, beta)),
			  kOk);
		return get<std::uint8_t>(by, 6);
	};
	EXPECT_EQ(classify(NPU_FN_ISNAN, 0, 0), (std::vector<std::uint8_t>{0, 1, 0, 0, 0, 0}));
	EXPECT_EQ(classify(NPU_FN_ISINF, 1, 1), (std::vector<std::uint8_t>{0, 0, 1, 1, 0, 0}));
	EXPECT_EQ(classify(NPU_FN_ISINF, 1, 0), (std::vector<std::uint8_t>{0, 0, 1, 0, 0, 0}));
	EXPECT_EQ(classify(NPU_FN_ISINF, 0, 1), (std::vector<std::uint8_t>{0, 0, 0, 1, 0, 0}));
	// ISNAN writes BOOL only; other functions keep x's dtype.
	std::uint64_t fy = out<float>(6);
	EXPECT_EQ(run(unary_packet(NPU_FN_ISNAN, make_tensor(xa, NPU_DTYPE_F32, {6}),
				   make_tensor(fy, NPU_DTYPE_F32, {6}))),
		  kBadTask);
	EXPECT_EQ(run(unary_packet(NPU_FN_ABS, make_tensor(xa, NPU_DTYPE_F32, {6}),
				   make_tensor(fy, NPU_DTYPE_F16, {6}))),
		  kBadTask);
	EXPECT_EQ(run(unary_packet(NPU_FN_ABS, make_tensor(xa, NPU_DTYPE_F32, {6}),
				   make_tensor(fy, NPU_DTYPE_F32, {2, 3}))),
		  kBadTask);
	for (std::uint32_t fn : {NPU_FN_NOT, NPU_FN_BITWISE_NOT, NPU_FN_LAST + 1, -1})
		EXPECT_EQ(run(unary_packet(fn, make_tensor(xa, NPU_DTYPE_F32, {6}),
					   make_tensor(fy, NPU_DTYPE_F32, {6}))),
			  kBadTask)
			<< fn;
}

TEST(EngineApplyFn, FusedActivationsAndUnknownFunction)
{
	npu_act act{NPU_FN_LEAKY_RELU, f32_bits(0.1f), 0, 0};
	EXPECT_EQ(apply_fn(act, -2), -2 * double(0.1f));
	EXPECT_EQ(apply_fn(act, 3), 3);
	act = {NPU_FN_CLIP, f32_bits(0), f32_bits(6), 0};
	EXPECT_EQ(apply_fn(act, 7.5), 6);
	EXPECT_EQ(apply_fn(act, -1), 0);
	act.fn = NPU_FN_LAST + 1;
	EXPECT_EQ(outcome_of([&] { apply_fn(act, 1); }), kBadTask);
}

// ---- BINARY -----------------------------------------------------------------

using EngineBinaryTest = EngineKernelTest;

double reference_binary_float(std::uint32_t fn, double a, double b)
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
		return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
	case NPU_BIN_MIN:
		return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
	case NPU_BIN_POW:
		return std::pow(a, b);
	case NPU_BIN_PRELU:
		return a < 0 ? a * b : a;
	case NPU_BIN_MOD: { // Python: sign of b; by 0 NaN (IEEE), like FMOD
		double r = std::fmod(a, b);
		if (r != 0 && (r < 0) != (b < 0))
			r += b;
		return r;
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
		return NAN;
	}
}

bool is_comparison(std::uint32_t fn)
{
	return fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL;
}

TEST_F(EngineBinaryTest, FloatFunctionsWithBroadcast)
{
	// a: [6, 7] row-major; b: a row [7] broadcast down (stride 0) and
	// y written transposed ([7, 6] memory read as [6, 7]).
	const std::vector<float> col = {-3.5f, -1, -0.0f, 0.5f, 2, kNaN};
	const std::vector<float> row = {-2, -0.5f, 0, 0.75f, 3, kInf, 1.5f};
	std::vector<float> av;
	for (float c : col)
		for (unsigned j = 0; j < 7; j++)
			av.push_back(c + static_cast<float>(j) * 0.25f * (c < 0 ? -1 : 1));
	std::uint64_t aa = put(av, false, true);
	std::uint64_t ba = put(row);
	std::uint64_t ya = out<float>(42);
	auto a = make_tensor(aa, NPU_DTYPE_F32, {6, 7});
	auto b = make_tensor(ba, NPU_DTYPE_F32, {6, 7}, {0, 1});
	for (std::uint32_t fn = NPU_BIN_ADD; fn <= NPU_BIN_GREATER_EQUAL; fn++) {
		bool cmp = is_comparison(fn);
		auto y = make_tensor(ya, cmp ? NPU_DTYPE_BOOL : NPU_DTYPE_F32, {6, 7}, {1, 6});
		ASSERT_EQ(run(binary_packet(fn, a, b, y)), kOk) << fn;
		for (unsigned i = 0; i < 6; i++) {
			for (unsigned j = 0; j < 7; j++) {
				double want = reference_binary_float(fn, av[i * 7 + j], row[j]);
				std::uint64_t at = ya + (j * 6 + i) * (cmp ? 1 : 4);
				if (cmp)
					EXPECT_EQ(get<std::uint8_t>(at, 1)[0], want)
						<< fn << " " << av[i * 7 + j] << " " << row[j];
				else
					EXPECT_TRUE(close_f32(get<float>(at, 1)[0], want, 1))
						<< fn << " " << av[i * 7 + j] << " " << row[j];
			}
		}
	}
	// Floats have no logical, bitwise or shift functions.
	auto y = make_tensor(ya, NPU_DTYPE_F32, {6, 7});
	for (std::uint32_t fn :
	     {NPU_BIN_AND, NPU_BIN_XOR, NPU_BIN_BITWISE_OR, NPU_BIN_SHIFT_LEFT, NPU_BIN_LAST + 1})
		EXPECT_EQ(run(binary_packet(fn, a, b, y)), kBadTask) << fn;
}

TEST_F(EngineBinaryTest, HalfFormatsRoundOnStore)
{
	// 1 + 2^-10 (f16) times 1 + 2^-10 = 1 + 2^-9 + 2^-20: rounds up in
	// f16 only if the product is not first rounded to the midpoint.
	std::uint16_t one_ulp = f32_to_f16(1 + std::ldexp(1.0f, -10));
	std::uint64_t aa = put(std::vector<std::uint16_t>{one_ulp, f32_to_f16(65504), 0x3c00});
	std::uint64_t ya = out<std::uint16_t>(3);
	auto t = [&](std::uint64_t at) { return make_tensor(at, NPU_DTYPE_F16, {3}); };
	ASSERT_EQ(run(binary_packet(NPU_BIN_MUL, t(aa), t(aa), t(ya))), kOk);
	auto y = get<std::uint16_t>(ya, 3);
	EXPECT_EQ(y[0], f32_to_f16(1 + std::ldexp(1.0f, -9)));
	EXPECT_EQ(y[1], 0x7c00); // overflow to infinity
	EXPECT_EQ(y[2], 0x3c00);
	std::uint64_t ba = put(std::vector<std::uint16_t>{f32_to_bf16(1.5f), f32_to_bf16(-2), 0});
	ASSERT_EQ(run(binary_packet(NPU_BIN_ADD, make_tensor(ba, NPU_DTYPE_BF16, {3}),
				    make_tensor(ba, NPU_DTYPE_BF16, {3}),
				    make_tensor(ya, NPU_DTYPE_BF16, {3}))),
		  kOk);
	EXPECT_EQ(get<std::uint16_t>(ya, 3),
		  (std::vector<std::uint16_t>{f32_to_bf16(3), f32_to_bf16(-4), 0}));
	// Mixed dtypes are refused.
	EXPECT_EQ(run(binary_packet(NPU_BIN_ADD, make_tensor(ba, NPU_DTYPE_BF16, {3}), t(aa),
				    make_tensor(ya, NPU_DTYPE_BF16, {3}))),
		  kBadTask);
}

// Integer semantics written out in 128 bits, then wrapped to the dtype.
template <typename T> __int128 reference_binary_int(std::uint32_t fn, __int128 a, __int128 b)
{
	const int width = sizeof(T) * 8;
	auto python_mod = [](__int128 x, __int128 y) {
		__int128 r = x % y;
		return r != 0 && (r < 0) != (y < 0) ? r + y : r;
	};
	switch (fn) {
	case NPU_BIN_ADD:
		return a + b;
	case NPU_BIN_SUB:
		return a - b;
	case NPU_BIN_MUL:
		return a * b;
	case NPU_BIN_DIV:
		return b == 0 ? 0 : a / b;
	case NPU_BIN_MAX:
		return a > b ? a : b;
	case NPU_BIN_MIN:
		return a < b ? a : b;
	case NPU_BIN_POW: {
		if (b < 0)
			return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
		// a^b modulo 2^64 (all the dtype keeps): a^(2k) = (a^2)^k.
		std::uint64_t r = 1, base = static_cast<std::uint64_t>(a);
		for (auto e = static_cast<std::uint64_t>(b); e; e /= 2) {
			if (e % 2)
				r *= base;
			base *= base;
		}
		return static_cast<std::int64_t>(r);
	}
	case NPU_BIN_PRELU:
		return a < 0 ? a * b : a;
	case NPU_BIN_MOD:
		return b == 0 ? 0 : python_mod(a, b);
	case NPU_BIN_FMOD:
		return b == 0 ? 0 : a % b;
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
	case NPU_BIN_BITWISE_AND:
		return a & b;
	case NPU_BIN_BITWISE_OR:
		return a | b;
	case NPU_BIN_BITWISE_XOR:
		return a ^ b;
	case NPU_BIN_SHIFT_LEFT:
		return b < 0 || b >= width ? 0 : a << static_cast<int>(b);
	case NPU_BIN_SHIFT_RIGHT:
		return b < 0 || b >= width ? 0 : a >> static_cast<int>(b);
	default:
		return -12345;
	}
}

template <typename T> void check_integer_binary(EngineBinaryTest &t, std::uint32_t dtype)
{
	std::vector<T> samples = int_samples<T>();
	samples.push_back(3);
	samples.push_back(static_cast<T>(sizeof(T) * 8)); // a shift of the full width
	const unsigned n = static_cast<unsigned>(samples.size());
	// Every pair: a broadcast along dimension 1, b along dimension 0.
	std::uint64_t sa = t.put(samples);
	auto a = make_tensor(sa, dtype, {n, n}, {1, 0});
	auto b = make_tensor(sa, dtype, {n, n}, {0, 1});
	std::uint64_t ya = t.template out<T>(n * n);
	std::uint32_t fns[] = {NPU_BIN_ADD,	    NPU_BIN_SUB,	NPU_BIN_MUL,
			       NPU_BIN_DIV,	    NPU_BIN_MAX,	NPU_BIN_MIN,
			       NPU_BIN_POW,	    NPU_BIN_PRELU,	NPU_BIN_MOD,
			       NPU_BIN_FMOD,	    NPU_BIN_EQUAL,	NPU_BIN_LESS,
			       NPU_BIN_LESS_EQUAL,  NPU_BIN_GREATER,	NPU_BIN_GREATER_EQUAL,
			       NPU_BIN_BITWISE_AND, NPU_BIN_BITWISE_OR, NPU_BIN_BITWISE_XOR,
			       NPU_BIN_SHIFT_LEFT,  NPU_BIN_SHIFT_RIGHT};
	for (std::uint32_t fn : fns) {
		bool cmp = is_comparison(fn);
		auto y = make_tensor(ya, cmp ? NPU_DTYPE_BOOL : dtype, {n, n});
		ASSERT_EQ(t.run(binary_packet(fn, a, b, y)), kOk) << fn;
		for (unsigned i = 0; i < n; i++) {
			for (unsigned j = 0; j < n; j++) {
				__int128 want = reference_binary_int<T>(fn, samples[i], samples[j]);
				if (cmp) {
					ASSERT_EQ(
						t.template get<std::uint8_t>(ya + i * n + j, 1)[0],
						want);
					continue;
				}
				T got = t.template get<T>(ya + (i * n + j) * sizeof(T), 1)[0];
				ASSERT_EQ(got, static_cast<T>(static_cast<std::uint64_t>(want)))
					<< "dtype " << dtype << " fn " << fn << ": "
					<< std::int64_t(samples[i]) << ", "
					<< std::int64_t(samples[j]);
			}
		}
	}
	auto y = make_tensor(ya, dtype, {n, n});
	EXPECT_EQ(t.run(binary_packet(NPU_BIN_AND, a, b, y)), kBadTask);
	EXPECT_EQ(t.run(binary_packet(NPU_BIN_ADD, a, b, make_tensor(ya, NPU_DTYPE_BOOL, {n, n}))),
		  kBadTask);
	EXPECT_EQ(t.run(binary_packet(NPU_BIN_LESS, a, b, y)), kBadTask); // y must be BOOL
}

TEST_F(EngineBinaryTest, IntegerFunctionsAreExactAndNeverTrap)
{
	check_integer_binary<std::int8_t>(*this, NPU_DTYPE_I8);
	check_integer_binary<std::uint8_t>(*this, NPU_DTYPE_U8);
	check_integer_binary<std::int32_t>(*this, NPU_DTYPE_I32);
	check_integer_binary<std::int64_t>(*this, NPU_DTYPE_I64);
}

TEST_F(EngineBinaryTest, LogicalFunctionsOnBool)
{
	std::uint64_t aa = put(std::vector<std::uint8_t>{0, 0, 1, 1});
	std::uint64_t ba = put(std::vector<std::uint8_t>{0, 1, 0, 1});
	std::uint64_t ya = out<std::uint8_t>(4);
	auto t = [](std::uint64_t at) { return make_tensor(at, NPU_DTYPE_BOOL, {4}); };
	auto result = [&](std::uint32_t fn) {
		EXPECT_EQ(run(binary_packet(fn, t(aa), t(ba), t(ya))), kOk) << fn;
		return get<std::uint8_t>(ya, 4);
	};
	using V = std::vector<std::uint8_t>;
	EXPECT_EQ(result(NPU_BIN_AND), (V{0, 0, 0, 1}));
	EXPECT_EQ(result(NPU_BIN_OR), (V{0, 1, 1, 1}));
	EXPECT_EQ(result(NPU_BIN_XOR), (V{0, 1, 1, 0}));
	EXPECT_EQ(result(NPU_BIN_MAX), (V{0, 1, 1, 1}));
	EXPECT_EQ(result(NPU_BIN_MIN), (V{0, 0, 0, 1}));
	EXPECT_EQ(result(NPU_BIN_EQUAL), (V{1, 0, 0, 1}));
	EXPECT_EQ(result(NPU_BIN_LESS), (V{0, 1, 0, 0}));
	for (std::uint32_t fn : {NPU_BIN_ADD, NPU_BIN_DIV, NPU_BIN_BITWISE_AND, NPU_BIN_SHIFT_LEFT})
		EXPECT_EQ(run(binary_packet(fn, t(aa), t(ba), t(ya))), kBadTask) << fn;
}

TEST_F(EngineBinaryTest, SelectEveryDtype)
{
	const std::vector<std::uint8_t> cond = {1, 0, 0, 1, 1, 0};
	std::uint64_t ca = put(cond);
	for (std::uint32_t dtype = NPU_DTYPE_F32; dtype <= NPU_DTYPE_LAST; dtype++) {
		const std::size_t size = dtype_size(dtype);
		std::vector<std::uint8_t> a(6 * size), b(6 * size);
		for (std::size_t i = 0; i < a.size(); i++)
			a[i] = static_cast<std::uint8_t>(i + 1),
			b[i] = static_cast<std::uint8_t>(200 - i);
		if (dtype == NPU_DTYPE_BOOL)
			a.assign(6, 1), b.assign(6, 0);
		std::uint64_t aa = put(a), ba = put(b);
		std::uint64_t ya = out<std::uint64_t>(6);
		// b is one element broadcast; cond a [2, 3] matrix.
		auto p = binary_packet(NPU_BIN_SELECT, make_tensor(aa, dtype, {2, 3}),
				       make_tensor(ba + 2 * size, dtype, {2, 3}, {0, 0}),
				       make_tensor(ya, dtype, {2, 3}),
				       make_tensor(ca, NPU_DTYPE_BOOL, {2, 3}));
		ASSERT_EQ(run(p), kOk) << dtype;
		auto y = get<std::uint8_t>(ya, 6 * size);
		for (std::size_t i = 0; i < 6; i++)
			for (std::size_t k = 0; k < size; k++)
				EXPECT_EQ(y[i * size + k],
					  cond[i] ? a[i * size + k] : b[2 * size + k])
					<< dtype << " element " << i;
		p.cond.dtype = NPU_DTYPE_U8;
		EXPECT_EQ(run(p), kBadTask);
		p.cond.dtype = NPU_DTYPE_BOOL;
		p.cond.shape[1] = 2;
		EXPECT_EQ(run(p), kBadTask);
	}
}

TEST_F(EngineBinaryTest, ShapesMustMatchY)
{
	std::uint64_t aa = put(iota_f32(12));
	std::uint64_t ya = out<float>(12);
	auto a = make_tensor(aa, NPU_DTYPE_F32, {3, 4});
	EXPECT_EQ(run(binary_packet(NPU_BIN_ADD, a, make_tensor(aa, NPU_DTYPE_F32, {4, 3}),
				    make_tensor(ya, NPU_DTYPE_F32, {3, 4}))),
		  kBadTask);
	EXPECT_EQ(run(binary_packet(NPU_BIN_ADD, a, make_tensor(aa, NPU_DTYPE_F32, {1, 4}),
				    make_tensor(ya, NPU_DTYPE_F32, {3, 4}))),
		  kBadTask); // broadcasting is a zero stride, not an extent of 1
	EXPECT_EQ(run(binary_packet(NPU_BIN_ADD, a, a, make_tensor(ya, NPU_DTYPE_F32, {12}))),
		  kBadTask);
	EXPECT_EQ(run(binary_packet(NPU_BIN_ADD, a, make_tensor(0, NPU_DTYPE_NONE, {}),
				    make_tensor(ya, NPU_DTYPE_F32, {3, 4}))),
		  kBadTask);
}

} // namespace
} // namespace npu::emu::test
