// SPDX-License-Identifier: MIT
// The tensor engines' memory access: element formats, descriptor checks,
// the translation cache, bulk transfers over scattered pages, and the
// conversions of stores.
#include <bit>
#include <cmath>
#include <limits>

#include "engine_fixture.h"

namespace npu::emu::test
{
namespace
{

// ---- element formats --------------------------------------------------------

// binary16 decoded from its definition.
double f16_value(std::uint16_t h)
{
	int exp = (h >> 10) & 0x1f;
	int mant = h & 0x3ff;
	double sign = (h & 0x8000) ? -1 : 1;
	if (exp == 0x1f)
		return mant ? std::numeric_limits<double>::quiet_NaN() : sign * HUGE_VAL;
	if (exp == 0)
		return sign * std::ldexp(mant, -24);
	return sign * std::ldexp(1024 + mant, exp - 25);
}

TEST(EngineFormats, F16DecodesAndRoundTripsEveryValue)
{
	for (unsigned h = 0; h < 0x10000; h++) {
		float f = f16_to_f32(static_cast<std::uint16_t>(h));
		double want = f16_value(static_cast<std::uint16_t>(h));
		if (std::isnan(want)) {
			ASSERT_TRUE(std::isnan(f)) << h;
			std::uint16_t back = f32_to_f16(f);
			ASSERT_EQ(back & 0x7c00, 0x7c00) << h;
			ASSERT_NE(back & 0x3ff, 0) << h; // still a NaN
			continue;
		}
		ASSERT_EQ(static_cast<double>(f), want) << h;
		ASSERT_EQ(f32_to_f16(f), h) << h;
	}
}

TEST(EngineFormats, F16RoundsToNearestEven)
{
	for (std::uint16_t h = 0; h < 0x7bff; h++) {
		// The midpoint of neighbours needs 12 significant bits: exact in f32.
		float lo = f16_to_f32(h), hi = f16_to_f32(h + 1);
		float mid = (lo + hi) / 2;
		std::uint16_t even = (h & 1) ? h + 1 : h;
		ASSERT_EQ(f32_to_f16(mid), even) << h;
		ASSERT_EQ(f32_to_f16(std::nextafter(mid, kInf)), h + 1) << h;
		ASSERT_EQ(f32_to_f16(std::nextafter(mid, 0.0f)), h) << h;
		ASSERT_EQ(f32_to_f16(-mid), even | 0x8000) << h;
	}
	EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00); // halfway past the largest: infinity
	EXPECT_EQ(f32_to_f16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
	EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
	EXPECT_EQ(f32_to_f16(-kInf), 0xfc00);
	EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0); // half the smallest subnormal
	EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 1);
	EXPECT_EQ(f32_to_f16(-1e-30f), 0x8000);
}

TEST(EngineFormats, Bf16RoundsToNearestEven)
{
	for (std::uint16_t h = 0; h < 0x7f7f; h++) {
		float lo = bf16_to_f32(h), hi = bf16_to_f32(h + 1);
		ASSERT_EQ(f32_to_bf16(lo), h);
		float mid = lo + (hi - lo) / 2; // 9 significant bits: exact
		std::uint16_t even = (h & 1) ? h + 1 : h;
		ASSERT_EQ(f32_to_bf16(mid), even) << h;
		ASSERT_EQ(f32_to_bf16(std::nextafter(mid, kInf)), h + 1) << h;
		ASSERT_EQ(f32_to_bf16(std::nextafter(mid, 0.0f)), h) << h;
	}
	EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80); // rounds up to inf
	EXPECT_EQ(f32_to_bf16(-kInf), 0xff80);
	std::uint16_t nan = f32_to_bf16(std::bit_cast<float>(0x7f800001u)); // payload in low bits
	EXPECT_TRUE(std::isnan(bf16_to_f32(nan)));
}

using EngineAccessTest = EngineKernelTest;

TEST_F(EngineAccessTest, DescriptorChecks)
{
	auto check = [&](const npu_tensor &t) { return outcome_of([&] { TensorRef(mem_, t); }); };
	const std::uint64_t top = 1ull << NPU_VA_BITS;
	EXPECT_EQ(check(make_tensor(0x1000, NPU_DTYPE_F32, {4})), kOk);
	EXPECT_EQ(check(make_tensor(0x1000, NPU_DTYPE_NONE, {4})), kBadTask);
	EXPECT_EQ(check(make_tensor(0x1000, NPU_DTYPE_LAST + 1, {4})), kBadTask);
	EXPECT_EQ(check(make_tensor(0x1002, NPU_DTYPE_F32, {4})), kBadTask); // misaligned
	EXPECT_EQ(check(make_tensor(0x1002, NPU_DTYPE_F16, {4})), kOk);
	EXPECT_EQ(check(make_tensor(0x1001, NPU_DTYPE_U8, {4})), kOk);
	npu_tensor t = make_tensor(0x1000, NPU_DTYPE_F32, {2, 2});
	t.rank = NPU_MAX_RANK + 1;
	EXPECT_EQ(check(t), kBadTask);
	t = make_tensor(0x1000, NPU_DTYPE_F32, {2, 2});
	t.shape[3] = 1; // beyond the rank: MBZ
	EXPECT_EQ(check(t), kBadTask);
	t = make_tensor(0x1000, NPU_DTYPE_F32, {2, 2});
	t.stride[2] = 1;
	EXPECT_EQ(check(t), kBadTask);
	// Element count: overflowing 64 bits, unless another extent is 0.
	const std::uint32_t big = 0xffffffff;
	EXPECT_EQ(check(make_tensor(0, NPU_DTYPE_U8, {big, big, big}, {0, 0, 0})), kBadTask);
	EXPECT_EQ(check(make_tensor(0, NPU_DTYPE_U8, {big, big, big, 0}, {1, 1, 1, 1})), kOk);
	EXPECT_EQ(check(make_tensor(0, NPU_DTYPE_U8, {big, big}, {0, 0})), kOk); // broadcast
	// Reach: inside [0, 2^39) exactly.
	EXPECT_EQ(check(make_tensor(top - 4, NPU_DTYPE_F32, {1})), kOk);
	EXPECT_EQ(check(make_tensor(top - 4, NPU_DTYPE_F32, {2})), kBadTask);
	EXPECT_EQ(check(make_tensor(top, NPU_DTYPE_U8, {1})), kBadTask);
	EXPECT_EQ(check(make_tensor(8, NPU_DTYPE_F32, {3}, {-1})), kOk); // reaches 0
	EXPECT_EQ(check(make_tensor(8, NPU_DTYPE_F32, {3}, {-2})), kBadTask);
	EXPECT_EQ(check(make_tensor(0, NPU_DTYPE_F32, {2, 3},
				    {std::numeric_limits<std::int64_t>::max(), 1})),
		  kBadTask);
	EXPECT_EQ(check(make_tensor(0, NPU_DTYPE_I64, {big},
				    {std::numeric_limits<std::int64_t>::min()})),
		  kBadTask);
	EXPECT_EQ(check(make_tensor(top - 8, NPU_DTYPE_I64, {0}, {1ll << 60})), kOk); // empty
}

TEST_F(EngineAccessTest, TranslationCacheKeepsPagesApart)
{
	// Pages 64 apart share a cache slot; the values must never mix.
	std::uint64_t a = region(NPU_PAGE_SIZE);
	next_va_ = a + 64 * NPU_PAGE_SIZE;
	std::uint64_t b = region(NPU_PAGE_SIZE, false);
	std::uint32_t va = 0x11111111, vb = 0x22222222;
	host_.write_va(ctx_, a, &va, 4);
	host_.write_va(ctx_, b, &vb, 4);
	for (int i = 0; i < 3; i++) {
		std::uint32_t got;
		mem_.read(a, &got, 4);
		EXPECT_EQ(got, va);
		mem_.read(b, &got, 4);
		EXPECT_EQ(got, vb);
	}
	// b is read-only: a cached read translation does not let a write through.
	EXPECT_EQ(outcome_of([&] { mem_.write(b + 8, &va, 4); }),
		  (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, b + 8}));
	std::uint32_t fresh = 0x33333333;
	mem_.write(a + 4, &fresh, 4);
	EXPECT_EQ(get<std::uint32_t>(a + 4, 1)[0], fresh);
	EXPECT_EQ(outcome_of([&] { mem_.page(a + NPU_PAGE_SIZE + 12, false); }),
		  (KernelOutcome{NPU_ENG_ST_FAULT_READ, a + NPU_PAGE_SIZE + 12}));
}

TEST_F(EngineAccessTest, BulkTransfersCrossScatteredPages)
{
	// 3000 floats from 12 bytes before a page end, over scattered pages.
	std::vector<float> values(3000);
	for (std::size_t i = 0; i < values.size(); i++)
		values[i] = static_cast<float>(i) * 0.5f - 7;
	std::uint64_t va = put(values, true, true, NPU_PAGE_SIZE - 12);
	TensorRef t(mem_, make_tensor(va, NPU_DTYPE_F32, {3, 1000}));
	std::vector<float> got(3000);
	t.read_f32(0, 3000, got.data());
	EXPECT_EQ(got, values);
	t.read_f32(1234, 1000, got.data());
	EXPECT_TRUE(std::equal(got.begin(), got.begin() + 1000, values.begin() + 1234));

	std::vector<double> twice(3000);
	for (std::size_t i = 0; i < 3000; i++)
		twice[i] = values[i] * 2;
	t.write_f64(0, 3000, twice.data());
	std::vector<float> back = get<float>(va, 3000);
	for (std::size_t i = 0; i < 3000; i++)
		ASSERT_EQ(back[i], values[i] * 2) << i;
	// Out of the tensor: a bad task, not a stray access.
	EXPECT_EQ(outcome_of([&] { t.read_f32(2999, 2, got.data()); }), kBadTask);

	// The same bytes as bf16 pairs (raw) and through conversion.
	TensorRef h(mem_, make_tensor(va, NPU_DTYPE_BF16, {6000}));
	std::vector<std::uint16_t> raw(6000);
	h.read_raw(0, 6000, raw.data());
	for (std::size_t i = 0; i < 3000; i++)
		ASSERT_EQ(raw[2 * i + 1], f32_bits(back[i]) >> 16) << i;
	std::vector<float> wide(6000);
	h.read_f32(0, 6000, wide.data());
	for (std::size_t i = 0; i < 6000; i++)
		ASSERT_EQ(f32_bits(wide[i]), std::uint32_t(raw[i]) << 16) << i;
}

TEST_F(EngineAccessTest, StoresRoundOnceAndConvertLikeCast)
{
	std::uint64_t va = out<std::uint64_t>(8);
	TensorRef bf(mem_, make_tensor(va, NPU_DTYPE_BF16, {4}));
	// 1 + 2^-8 + 2^-30 lies just above a bf16 midpoint; rounding through
	// f32 first would land on the midpoint and round down to even.
	bf.store(0, 1 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30));
	bf.store_int(1, (1 << 24) + (1 << 16) + 1);
	auto got = get<std::uint16_t>(va, 2);
	EXPECT_EQ(got[0], 0x3f81);
	EXPECT_EQ(got[1], 0x4b81);
	TensorRef f16(mem_, make_tensor(va, NPU_DTYPE_F16, {4}));
	f16.store(0, 1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40));
	EXPECT_EQ(get<std::uint16_t>(va, 1)[0], 0x3c01);
	TensorRef f32(mem_, make_tensor(va, NPU_DTYPE_F32, {4}));
	f32.store_int(0, (1ll << 53) + 1 + (1ll << 60)); // int64 -> f32 directly
	EXPECT_EQ(get<float>(va, 1)[0], static_cast<float>((1ll << 53) + 1 + (1ll << 60)));

	TensorRef i8(mem_, make_tensor(va, NPU_DTYPE_I8, {8}));
	const double in[8] = {-129.7, 127.9, -3.9, kNaN, kInf, 3.99, -0.5, 1e300};
	i8.write_f64(0, 8, in);
	EXPECT_EQ(get<std::int8_t>(va, 8),
		  (std::vector<std::int8_t>{-128, 127, -3, 0, 127, 3, 0, 127}));
	const std::int64_t wraps[8] = {128, -129, 255, 256, 1000, -1, 0, 1ll << 40};
	i8.write_i64(0, 8, wraps);
	EXPECT_EQ(get<std::int8_t>(va, 8),
		  (std::vector<std::int8_t>{-128, 127, -1, 0, -24, -1, 0, 0}));
	TensorRef b(mem_, make_tensor(va, NPU_DTYPE_BOOL, {8}));
	const double truth[8] = {0, -0.0, 0.1, kNaN, -kInf, 2, -1e-45, 1};
	b.write_f64(0, 8, truth);
	EXPECT_EQ(get<std::uint8_t>(va, 8), (std::vector<std::uint8_t>{0, 0, 1, 1, 1, 1, 1, 1}));
	TensorRef i64(mem_, make_tensor(va, NPU_DTYPE_I64, {2}));
	const double huge[2] = {1e19, -1e19};
	i64.write_f64(0, 2, huge);
	EXPECT_EQ(get<std::int64_t>(va, 2),
		  (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(),
					     std::numeric_limits<std::int64_t>::min()}));
}

} // namespace
} // namespace npu::emu::test
