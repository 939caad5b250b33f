// SPDX-License-Identifier: MIT
// run_engine_task(): task decoding and its refusals, and the GEMM kernel in
// every dtype combination against references written from
// uapi/drm/npu_packet.h (CONV, POOL and NORM: engine_conv_test.cpp,
// engine_pool_norm_test.cpp).
#include "engine_compute_fixture.h"

namespace npu::emu::test
{
namespace
{

npu_pkt_gemm gemm_packet(const Placed &a, const Placed &b, const Placed *c, const Placed &y,
			 float alpha = 1, float beta = 1, npu_act fused = {})
{
	npu_pkt_gemm p{};
	p.header = NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS);
	p.alpha = f32_bits(alpha);
	p.beta = f32_bits(beta);
	p.act = fused;
	p.a = a.desc;
	p.b = b.desc;
	if (c)
		p.c = c->desc;
	p.y = y.desc;
	return p;
}

// The product of a and b (with zero points) for y's element flat, exact in
// int64 for integers and in double for floats; terms gets sum |a||b|.
struct Product {
	double value = 0, terms = 0;
	std::int64_t exact = 0;
};

Product product(const Input &a, const Input &b, const npu_tensor &y, std::uint64_t flat,
		std::int64_t a_zero = 0, std::int64_t b_zero = 0)
{
	unsigned r = y.rank;
	std::uint64_t n = y.shape[r - 1], m = y.shape[r - 2], k_ext = a.desc.shape[r - 1];
	std::uint64_t col = flat % n, row = flat / n % m, batch = flat / n / m;
	Product p;
	for (std::uint64_t k = 0; k < k_ext; k++) {
		std::uint64_t ai = (batch * m + row) * k_ext + k,
			      bi = (batch * k_ext + k) * n + col;
		p.value += a.values[ai] * b.values[bi];
		p.terms += std::fabs(a.values[ai] * b.values[bi]);
		p.exact += (a.ints[ai] - a_zero) * (b.ints[bi] - b_zero);
	}
	return p;
}

// ---- task decoding ---------------------------------------------------------

class EngineTaskTest : public EngineComputeTest
{
public:
	Input a_ = input(NPU_DTYPE_F32, {3, 4});
	Input b_ = input(NPU_DTYPE_F32, {4, 5});
	Placed y_ = output(NPU_DTYPE_F32, {3, 5});
	npu_pkt_gemm p_ = gemm_packet(a_, b_, nullptr, y_);

	npu_engine_task task_of(const void *packet, std::size_t bytes)
	{
		npu_engine_task t{};
		t.pt_root = ctx_.pt_root;
		t.end[0] = 3;
		t.end[1] = 5;
		std::memcpy(t.packet, packet, bytes);
		return t;
	}
};

TEST_F(EngineTaskTest, ValidTaskRuns)
{
	npu_engine_task t = task_of(&p_, sizeof(p_));
	EXPECT_EQ(run_raw(t, scratch_), kOk);
}

TEST_F(EngineTaskTest, RefusesBadHeaders)
{
	auto with_header = [&](std::uint32_t header) {
		npu_pkt_gemm p = p_;
		p.header = header;
		return run_raw(task_of(&p, sizeof(p)), scratch_);
	};
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS - 2)), kBadTask);
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS + 2)), kBadTask);
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS) | 0x100), kBadTask);
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_GEMM, 0xfffe)), kBadTask); // past the task
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS)), kBadTask);
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_LAST + 1, NPU_PKT_GEMM_DWORDS)), kBadTask);
	EXPECT_EQ(with_header(NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_GEMM_DWORDS)), kBadTask);
	EXPECT_TRUE(untouched(y_, 0));
}

TEST_F(EngineTaskTest, RefusesTilesOutsideTheTileSpace)
{
	EXPECT_EQ(run_task(p_, 0, 0, 0, 5), kBadTask); // empty
	EXPECT_EQ(run_task(p_, 2, 1, 0, 5), kBadTask);
	EXPECT_EQ(run_task(p_, 0, 4, 0, 5), kBadTask); // 3 rows
	EXPECT_EQ(run_task(p_, 0, 3, 0, 6), kBadTask); // 5 columns
	EXPECT_EQ(run_task(p_, 0, 3, 5, 5), kBadTask);
	EXPECT_EQ(run_task(p_, ~0ull - 1, ~0ull, 0, 5), kBadTask);
	for (std::uint64_t i = 0; i < 15; i++)
		EXPECT_TRUE(untouched(y_, i));
}

TEST_F(EngineTaskTest, RefusesMalformedGemms)
{
	auto refused = [&](auto change) {
		npu_pkt_gemm p = p_;
		change(p);
		return run_task(p, 0, 3, 0, 5) == kBadTask;
	};
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.b.shape[0] = 3; }));	  // K differs
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.a.dtype = NPU_DTYPE_I8; }));  // f32 x i8
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.y.dtype = NPU_DTYPE_I32; })); // float -> int
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.y.dtype = NPU_DTYPE_BOOL; }));
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.y.dtype = 99; }));
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.y.rank = 1; }));
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.a.stride[3] = 1; })); // MBZ beyond rank
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.a.addr += 2; }));	  // misaligned
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { p.y.addr = (1ull << NPU_VA_BITS) - 8; }));
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { // c of another shape
		p.c = p.y;
		p.c.shape[0] = 2;
	}));
	EXPECT_TRUE(refused([](npu_pkt_gemm &p) { // integer result with a float activation
		p.a.dtype = p.b.dtype = NPU_DTYPE_I32;
		p.y.dtype = NPU_DTYPE_I32;
		p.act.fn = NPU_FN_SIGMOID;
	}));
	EXPECT_TRUE(untouched(y_, 0));
}

// Whatever a packet holds, the engine answers with a status and stays up.
TEST_F(EngineTaskTest, SurvivesRandomPackets)
{
	std::uniform_int_distribution<unsigned> byte(0, 255), field(0, 7);
	Input x = input(NPU_DTYPE_F32, {2, 3, 4, 5});
	Placed out = output(NPU_DTYPE_F32, {2, 3, 4, 5});
	for (unsigned op = NPU_OP_GEMM; op <= NPU_OP_NORM; op++) {
		for (int round = 0; round < 150; round++) {
			npu_engine_task t{};
			t.pt_root = ctx_.pt_root;
			auto *words = reinterpret_cast<std::uint32_t *>(t.packet);
			// a packet of the right length made of plausible small fields
			// and descriptors pointing at real tensors
			std::uint32_t dwords = 0;
			switch (op) {
			case NPU_OP_GEMM:
				dwords = NPU_PKT_GEMM_DWORDS;
				break;
			case NPU_OP_CONV:
				dwords = NPU_PKT_CONV_DWORDS;
				break;
			case NPU_OP_POOL:
				dwords = NPU_PKT_POOL_DWORDS;
				break;
			default:
				dwords = NPU_PKT_NORM_DWORDS;
			}
			if (op == NPU_OP_UNARY || op == NPU_OP_BINARY || op == NPU_OP_REDUCE)
				continue;
			for (std::uint32_t w = 1; w < dwords; w++)
				words[w] = field(rng_) < 6 ? field(rng_)
							   : byte(rng_) << 24 | byte(rng_);
			words[0] = NPU_PKT_HEADER(op, dwords);
			// overwrite some descriptors with real ones, slightly bent
			auto *bytes = reinterpret_cast<std::uint8_t *>(t.packet);
			std::size_t first_tensor = op == NPU_OP_GEMM   ? offsetof(npu_pkt_gemm, a)
						   : op == NPU_OP_CONV ? offsetof(npu_pkt_conv, x)
						   : op == NPU_OP_POOL ? offsetof(npu_pkt_pool, x)
								       : offsetof(npu_pkt_norm, x);
			for (std::size_t at = first_tensor; at + sizeof(npu_tensor) <= dwords * 4;
			     at += sizeof(npu_tensor)) {
				npu_tensor d = (field(rng_) & 1) ? x.desc : out.desc;
				d.rank = field(rng_) < 5 ? d.rank : field(rng_);
				d.shape[field(rng_) % 4] = field(rng_);
				d.stride[field(rng_) % 4] = std::int64_t(field(rng_)) - 3;
				d.dtype = field(rng_) < 5 ? d.dtype : field(rng_);
				std::memcpy(bytes + at, &d, sizeof(d));
			}
			t.begin[0] = field(rng_);
			t.end[0] = t.begin[0] + 1 + field(rng_);
			t.begin[1] = field(rng_) < 6 ? 0 : field(rng_);
			t.end[1] = t.begin[1] + 1 + (field(rng_) < 4 ? 0 : field(rng_));
			t.op_id = round;
			EngineResult r = run_engine_task(dma_, t, scratch_);
			ASSERT_LE(r.status, NPU_ENG_ST_BAD_TASK);
			if (r.status == NPU_ENG_ST_OK || r.status == NPU_ENG_ST_BAD_TASK) {
				ASSERT_EQ(r.fault_addr, 0u);
			}
		}
	}
	// ... and still computes afterwards
	EXPECT_EQ(run_task(p_, 0, 3, 0, 5, 999), kOk);
}

// ---- float GEMM ------------------------------------------------------------

struct FloatCase {
	std::uint32_t in, c, y;
	double tolerance; // relative to the sum of the terms' magnitudes
};

class GemmFloatTest : public EngineComputeTest, public ::testing::WithParamInterface<FloatCase>
{
};

// A batched GEMM with every layout feature at once: a transposed a, a b
// shared by the batch (zero stride), c a broadcast row, alpha, beta and a
// fused activation; a tile that starts and ends inside batch matrices.
TEST_P(GemmFloatTest, TransposedBroadcastTile)
{
	const FloatCase fc = GetParam();
	const std::uint32_t B = 3, M = 5, K = 7, N = 6;
	// a [B, M, K] stored as [B, K, M] (transposed), b [B, K, N] one matrix
	Input a = input(fc.in, {B, M, K}, {K * M, 1, M});
	Input b = input(fc.in, {B, K, N}, {0, N, 1});
	Input c = input(fc.c, {B, M, N}, {0, 0, 1});
	Placed y = output(fc.y, {B, M, N});
	npu_pkt_gemm p = gemm_packet(a, b, &c, y, 0.75f, -1.5f, act(NPU_FN_LEAKY_RELU, 0.125f));
	// rows 3..11 of the 15 (batch 0 row 3 to batch 2 row 0), columns 1..4
	ASSERT_EQ(run_task(p, 3, 11, 1, 5), kOk);
	std::vector<double> got = values(y);
	auto in_tile = [&](std::uint64_t i) {
		std::uint64_t row = i / N, col = i % N;
		return row >= 3 && row < 11 && col >= 1 && col < 5;
	};
	for (std::uint64_t i = 0; i < B * M * N; i++) {
		if (!in_tile(i))
			continue;
		Product pr = product(a, b, y.desc, i);
		double want =
			act_ref(NPU_FN_LEAKY_RELU, 0.125, 0.75 * pr.value - 1.5 * c.values[i]);
		double scale = 0.75 * pr.terms + 1.5 * std::fabs(c.values[i]);
		EXPECT_NEAR(got[i], want, fc.tolerance * scale + 1e-30) << "element " << i;
	}
	expect_written_exactly(y, in_tile);
}

INSTANTIATE_TEST_SUITE_P(
	Dtypes, GemmFloatTest,
	::testing::Values(FloatCase{NPU_DTYPE_F32, NPU_DTYPE_F32, NPU_DTYPE_F32, 1e-6},
			  FloatCase{NPU_DTYPE_BF16, NPU_DTYPE_F32, NPU_DTYPE_F32, 1e-6},
			  FloatCase{NPU_DTYPE_BF16, NPU_DTYPE_BF16, NPU_DTYPE_BF16, 8e-3},
			  FloatCase{NPU_DTYPE_F16, NPU_DTYPE_F16, NPU_DTYPE_F16, 1e-3},
			  FloatCase{NPU_DTYPE_F16, NPU_DTYPE_F32, NPU_DTYPE_F32, 1e-6},
			  FloatCase{NPU_DTYPE_F32, NPU_DTYPE_BF16, NPU_DTYPE_F16, 1e-3}));

// F16 goes through f32 and is rounded once at the end: the result is the
// f32 result rounded to nearest even, bit for bit.
TEST_F(EngineComputeTest, GemmF16RoundsTheF32ResultOnce)
{
	Input a = input(NPU_DTYPE_F16, {4, 9}, {}, -4, 4);
	Input b = input(NPU_DTYPE_F16, {9, 3}, {}, -4, 4);
	Placed y = output(NPU_DTYPE_F16, {4, 3});
	Placed y32 = output(NPU_DTYPE_F32, {4, 3});
	ASSERT_EQ(run_task(gemm_packet(a, b, nullptr, y), 0, 4, 0, 3), kOk);
	ASSERT_EQ(run_task(gemm_packet(a, b, nullptr, y32), 0, 4, 0, 3, 2), kOk);
	std::vector<double> got = values(y), wide = values(y32);
	for (std::size_t i = 0; i < got.size(); i++)
		EXPECT_EQ(got[i], f16_to_f32(f32_to_f16(static_cast<float>(wide[i])))) << i;
}

TEST_F(EngineComputeTest, GemmOfOnesAndPrimesWithoutC)
{
	for (auto [M, K, N] : {std::array<std::uint32_t, 3>{1, 1, 1},
			       {1, 17, 1},
			       {13, 1, 11},
			       {2, 31, 1},
			       {1, 5, 37}}) {
		Input a = input(NPU_DTYPE_F32, {M, K});
		Input b = input(NPU_DTYPE_F32, {K, N});
		Placed y = output(NPU_DTYPE_F32, {M, N});
		ASSERT_EQ(run_task(gemm_packet(a, b, nullptr, y, 2.0f), 0, M, 0, N, M * 1000 + N),
			  kOk);
		std::vector<double> got = values(y);
		for (std::uint64_t i = 0; i < got.size(); i++) {
			Product pr = product(a, b, y.desc, i);
			EXPECT_NEAR(got[i], 2 * pr.value, 1e-6 * pr.terms)
				<< M << "x" << K << "x" << N;
		}
	}
}

// Negative strides walk backwards; a batch of b per batch of y (no sharing)
// with a tile crossing two batch boundaries.
TEST_F(EngineComputeTest, GemmPerBatchOperandsAndNegativeStrides)
{
	const std::uint32_t B = 4, M = 3, K = 5, N = 4;
	Input a = input(NPU_DTYPE_F32, {B, M, K}, {-std::int64_t(M * K), K, -1});
	Input b = input(NPU_DTYPE_F32, {B, K, N}, {K * N, 1, K}); // each b transposed
	Placed y = output(NPU_DTYPE_F32, {B, M, N}, {M * N, -std::int64_t(N), 1});
	ASSERT_EQ(run_task(gemm_packet(a, b, nullptr, y), 2, 10, 0, N), kOk);
	std::vector<double> got = values(y);
	auto in_tile = [&](std::uint64_t i) { return i / N >= 2 && i / N < 10; };
	for (std::uint64_t i = 0; i < got.size(); i++)
		if (in_tile(i)) {
			Product pr = product(a, b, y.desc, i);
			EXPECT_NEAR(got[i], pr.value, 1e-6 * pr.terms) << i;
		}
	expect_written_exactly(y, in_tile);
}

TEST_F(EngineComputeTest, GemmWithZeroKIsBetaTimesC)
{
	Input a = input(NPU_DTYPE_F32, {2, 0});
	Input b = input(NPU_DTYPE_F32, {0, 3});
	Input c = input(NPU_DTYPE_F32, {2, 3});
	Placed y = output(NPU_DTYPE_F32, {2, 3});
	ASSERT_EQ(run_task(gemm_packet(a, b, &c, y, 1.0f, 3.0f), 0, 2, 0, 3), kOk);
	std::vector<double> got = values(y);
	for (std::size_t i = 0; i < got.size(); i++)
		EXPECT_FLOAT_EQ(got[i], 3 * c.values[i]);
}

// ---- 8-bit GEMM ------------------------------------------------------------

struct Int8Case {
	std::uint32_t a, b, y;
	std::int32_t a_zero, b_zero, y_zero;
	std::uint32_t fn;
};

class GemmInt8Test : public EngineComputeTest, public ::testing::WithParamInterface<Int8Case>
{
};

TEST_P(GemmInt8Test, ZeroPointsAndResultTypes)
{
	const Int8Case ic = GetParam();
	auto lo = [](std::uint32_t t) { return t == NPU_DTYPE_U8 ? 0.0 : -128.0; };
	const std::uint32_t B = 2, M = 5, K = 67, N = 7;
	Input a = input(ic.a, {B, M, K}, {}, lo(ic.a), lo(ic.a) + 255);
	Input b = input(ic.b, {B, K, N}, {K * N, 1, K}, lo(ic.b), lo(ic.b) + 255);
	bool f32 = ic.y == NPU_DTYPE_F32;
	Input c = f32 ? input(NPU_DTYPE_F32, {B, M, N}, {0, 0, 1}, -100, 100)
		      : input(NPU_DTYPE_I32, {B, M, N}, {0, 0, 1}, -1000000, 1000000);
	Placed y = output(ic.y, {B, M, N});
	float alpha = f32 ? 0.5f : 1.0f, beta = f32 ? -2.0f : 1.0f;
	const float y_scale = 1.0f / 20000;
	npu_pkt_gemm p = gemm_packet(a, b, &c, y, alpha, beta, act(ic.fn, 0.25f));
	p.quant = {ic.a_zero, ic.b_zero, ic.y == NPU_DTYPE_I32 || f32 ? 0 : f32_bits(y_scale),
		   ic.y_zero};
	ASSERT_EQ(run_task(p, 1, 9, 2, 7), kOk);
	std::vector<std::int64_t> got = ints(y);
	std::vector<double> got_f = values(y);
	auto in_tile = [&](std::uint64_t i) { return i / N >= 1 && i / N < 9 && i % N >= 2; };
	for (std::uint64_t i = 0; i < B * M * N; i++) {
		if (!in_tile(i))
			continue;
		std::int64_t acc = product(a, b, y.desc, i, ic.a_zero, ic.b_zero).exact;
		if (ic.y == NPU_DTYPE_I32) {
			std::int64_t v = acc + c.ints[i];
			EXPECT_EQ(got[i], ic.fn == NPU_FN_RELU ? std::max<std::int64_t>(v, 0) : v)
				<< i;
		} else if (f32) {
			double want = act_ref(ic.fn, 0.25, 0.5 * double(acc) - 2.0 * c.values[i]);
			EXPECT_NEAR(got_f[i], want, 1e-6 * std::fabs(want) + 1e-6) << i;
		} else {
			double v = act_ref(ic.fn, 0.25, double(acc + c.ints[i]));
			double q = std::nearbyint(v * double(y_scale)) + ic.y_zero;
			double lo_y = lo(ic.y), hi_y = lo_y + 255;
			EXPECT_EQ(got[i], std::int64_t(std::clamp(q, lo_y, hi_y))) << i;
		}
	}
	expect_written_exactly(y, in_tile);
}

INSTANTIATE_TEST_SUITE_P(
	Dtypes, GemmInt8Test,
	::testing::Values(
		Int8Case{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, 0, 0, 0, NPU_FN_IDENTITY},
		Int8Case{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, 128, -3, 0, NPU_FN_RELU},
		Int8Case{NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_I32, -128, 127, 0, NPU_FN_IDENTITY},
		Int8Case{NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_I32, 5, 255, 0, NPU_FN_RELU},
		Int8Case{NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_U8, 200, 17, 100, NPU_FN_IDENTITY},
		Int8Case{NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_I8, 0, 128, -5, NPU_FN_LEAKY_RELU},
		Int8Case{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_F32, 7, -9, 0, NPU_FN_SIGMOID},
		Int8Case{NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_F32, 0, 0, 0, NPU_FN_IDENTITY}));

// Requantisation rounds half to even, after the zero point saturates.
TEST_F(EngineComputeTest, GemmRequantisationRoundsHalfToEvenAndSaturates)
{
	// a [1, 1] x b [1, 4]: acc = a * b exactly
	std::vector<std::int8_t> a_val{1}, b_val{5, 7, 127, -128};
	Input a = input(NPU_DTYPE_I8, {1, 1});
	host_.write_va(ctx_, a.desc.addr, a_val.data(), 1);
	Input b = input(NPU_DTYPE_I8, {1, 4});
	host_.write_va(ctx_, b.desc.addr, b_val.data(), 4);
	Placed y = output(NPU_DTYPE_I8, {1, 4});
	npu_pkt_gemm p = gemm_packet(a, b, nullptr, y);
	p.quant.y_scale = f32_bits(0.5f); // 2.5 -> 2, 3.5 -> 4, 63.5 -> 64, -64
	p.quant.y_zero = 70;
	ASSERT_EQ(run_task(p, 0, 1, 0, 4), kOk);
	EXPECT_EQ(ints(y), (std::vector<std::int64_t>{72, 74, 127, 6}));
}

// ---- I32 / I64 GEMM --------------------------------------------------------

template <typename T> void integer_gemm_wraps(EngineComputeTest &t, std::uint32_t dtype)
{
	const std::uint32_t B = 2, M = 3, K = 6, N = 5;
	double big = static_cast<double>(std::numeric_limits<T>::max() / 4);
	Input a = t.input(dtype, {B, M, K}, {}, -big, big);
	Input b = t.input(dtype, {B, K, N}, {}, -big, big);
	Input c = t.input(dtype, {B, M, N}, {}, -big, big);
	Placed y = t.output(dtype, {B, M, N});
	npu_pkt_gemm p = gemm_packet(a, b, &c, y, 1, 1, act(NPU_FN_RELU));
	ASSERT_EQ(t.run_task(p, 1, 6, 1, 4), kOk);
	std::vector<std::int64_t> got = t.ints(y);
	auto in_tile = [&](std::uint64_t i) {
		return i / N >= 1 && i / N < 6 && i % N >= 1 && i % N < 4;
	};
	using U = std::make_unsigned_t<T>;
	for (std::uint64_t i = 0; i < B * M * N; i++) {
		if (!in_tile(i))
			continue;
		std::uint64_t col = i % N, row = i / N % M, batch = i / N / M;
		U acc = static_cast<U>(c.ints[i]);
		for (std::uint64_t k = 0; k < K; k++)
			acc += static_cast<U>(a.ints[(batch * M + row) * K + k]) *
			       static_cast<U>(b.ints[(batch * K + k) * N + col]);
		T want = std::max<T>(static_cast<T>(acc), 0);
		EXPECT_EQ(got[i], want) << i;
	}
	t.expect_written_exactly(y, in_tile);
}

TEST_F(EngineComputeTest, GemmI32IsExactWithWrapAround)
{
	integer_gemm_wraps<std::int32_t>(*this, NPU_DTYPE_I32);
}

TEST_F(EngineComputeTest, GemmI64IsExactWithWrapAround)
{
	integer_gemm_wraps<std::int64_t>(*this, NPU_DTYPE_I64);
}

// ---- local memory, reuse, faults --------------------------------------------

// The tile plan's formula: 4 * (r*K + K*c + 2*r*c) bytes must fit.
TEST_F(EngineComputeTest, GemmTileMustFitLocalMemory)
{
	const std::uint32_t M = 8, K = 16, N = 8;
	Input a = input(NPU_DTYPE_F32, {M, K});
	Input b = input(NPU_DTYPE_F32, {K, N});
	Placed y = output(NPU_DTYPE_F32, {M, N});
	npu_pkt_gemm p = gemm_packet(a, b, nullptr, y);
	const std::uint64_t r = 4, c = 3, need = 4 * (r * K + K * c + 2 * r * c);
	EngineScratch exact(need), short_by_one(need - 1);
	npu_engine_task t{};
	t.pt_root = ctx_.pt_root;
	t.begin[0] = 2;
	t.end[0] = 2 + r;
	t.begin[1] = 5;
	t.end[1] = 5 + c;
	std::memcpy(t.packet, &p, sizeof(p));
	EXPECT_EQ(run_raw(t, short_by_one), kBadTask);
	EXPECT_TRUE(untouched(y, 2 * N + 5));
	EXPECT_EQ(run_raw(t, exact), kOk);
	std::vector<double> got = values(y);
	for (std::uint64_t i = 0; i < M * N; i++) {
		bool mine = i / N >= 2 && i / N < 2 + r && i % N >= 5;
		if (mine) {
			EXPECT_NEAR(got[i], product(a, b, y.desc, i).value, 1e-5) << i;
		}
	}
	expect_written_exactly(
		y, [&](std::uint64_t i) { return i / N >= 2 && i / N < 2 + r && i % N >= 5; });
}

// Tiles of one operation (same op_id, context and packet) reuse the staged
// b; any difference restages it.
TEST_F(EngineComputeTest, GemmReusesStagedInputsOnlyWithinOneOperation)
{
	const std::uint32_t M = 4, K = 3, N = 2;
	Input a = input(NPU_DTYPE_F32, {M, K});
	Input b = input(NPU_DTYPE_F32, {K, N});
	Placed y = output(NPU_DTYPE_F32, {M, N});
	npu_pkt_gemm p = gemm_packet(a, b, nullptr, y);
	auto check_rows = [&](std::uint64_t r0, std::uint64_t r1, const Input &with_b) {
		std::vector<double> got = values(y);
		for (std::uint64_t i = r0 * N; i < r1 * N; i++)
			EXPECT_NEAR(got[i], product(a, with_b, y.desc, i).value, 1e-5) << i;
	};
	ASSERT_EQ(run_task(p, 0, 2, 0, N, 42), kOk);
	Input old_b = b;
	std::vector<float> twos(K * N, 2.0f);
	host_.write_va(ctx_, b.desc.addr, twos.data(), twos.size() * 4);
	refresh(b);
	// the same operation: the engine still holds b (the packet promised
	// its inputs do not change while it runs), whatever follows the packet
	// in the task
	npu_engine_task t{};
	t.pt_root = ctx_.pt_root;
	t.begin[0] = 2;
	t.end[0] = 4;
	t.end[1] = N;
	t.op_id = 42;
	std::memset(t.packet, 0xee, sizeof(t.packet));
	std::memcpy(t.packet, &p, sizeof(p));
	ASSERT_EQ(run_raw(t, scratch_), kOk);
	check_rows(2, 4, old_b);
	// another op_id: b is read again
	ASSERT_EQ(run_task(p, 2, 4, 0, N, 43), kOk);
	check_rows(2, 4, b);
	// the same op_id with another packet (beta differs, c is absent): read
	// again too
	std::vector<float> old_values(old_b.values.begin(), old_b.values.end());
	host_.write_va(ctx_, b.desc.addr, old_values.data(), old_values.size() * 4);
	refresh(b);
	npu_pkt_gemm p2 = p;
	p2.beta = f32_bits(5.0f);
	ASSERT_EQ(run_task(p2, 0, 2, 0, N, 43), kOk);
	check_rows(0, 2, b);
}

TEST_F(EngineComputeTest, GemmFaultsReportTheFirstUnmappedAddress)
{
	const std::uint32_t M = 4, K = 512, N = 3; // a is 8 KiB: two pages
	Input a = input(NPU_DTYPE_F32, {M, K});
	Input b = input(NPU_DTYPE_F32, {K, N});
	Placed y = output(NPU_DTYPE_F32, {M, N});
	npu_pkt_gemm p = gemm_packet(a, b, nullptr, y);
	// a moved up by one row: its last row lies in the unmapped guard page
	npu_pkt_gemm shifted = p;
	shifted.a.addr += K * 4;
	std::uint64_t guard = a.region_va + 2 * NPU_PAGE_SIZE;
	EXPECT_EQ(run_task(shifted, 0, 4, 0, N), (KernelOutcome{NPU_ENG_ST_FAULT_READ, guard}));
	// rows 0..3 of the shifted a stay inside: no fault
	EXPECT_EQ(run_task(shifted, 0, 1, 0, N, 2), kOk);
	// a read-only y
	npu_pkt_gemm read_only = p;
	read_only.y.addr = b.desc.addr;
	EXPECT_EQ(run_task(read_only, 1, 3, 0, N, 3),
		  (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, b.desc.addr + 1 * N * 4}));
	// a y running into its guard page: the fault names the first byte there
	npu_pkt_gemm tail = p;
	std::uint64_t y_guard =
		(y.region_va + M * N * 4 + NPU_PAGE_SIZE - 1) & ~(NPU_PAGE_SIZE - 1);
	tail.y.addr = y_guard - 2 * 4; // two elements before the guard
	EXPECT_EQ(run_task(tail, 0, 1, 0, N, 4), (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, y_guard}));
}

} // namespace
} // namespace npu::emu::test
