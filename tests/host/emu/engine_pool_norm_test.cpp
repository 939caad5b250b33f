// SPDX-License-Identifier: MIT
// The POOL and NORM kernels through run_engine_task(), against references
// written from the packets' definitions (PyTorch/ONNX semantics for the
// pooling windows: padding, dilation, ceil mode).
#include <limits>
#include <map>

#include "engine_compute_fixture.h"

namespace npu::emu::test
{
namespace
{

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- POOL ------------------------------------------------------------------

struct PoolCase {
	std::uint32_t mode, p;
	unsigned spatial;
	std::uint32_t N, C;
	std::uint32_t in[3], out[3], k[3], stride[3], dil[3], pb[3], pe[3];
};

npu_pkt_pool pool_packet(const PoolCase &c, const Placed &x, const Placed &y,
			 const Placed *indices = nullptr)
{
	npu_pkt_pool p{};
	p.header = NPU_PKT_HEADER(NPU_OP_POOL, NPU_PKT_POOL_DWORDS);
	p.mode = c.mode;
	p.spatial = c.spatial;
	p.p = c.p;
	for (unsigned d = 0; d < c.spatial; d++) {
		p.kernel[d] = c.k[d];
		p.stride[d] = c.stride[d];
		p.dilation[d] = c.dil[d];
		p.pad_begin[d] = c.pb[d];
		p.pad_end[d] = c.pe[d];
	}
	p.x = x.desc;
	p.y = y.desc;
	if (indices)
		p.indices = indices->desc;
	return p;
}

struct PoolRef {
	std::vector<double> value;
	std::vector<std::int64_t> index;
};

PoolRef pool_reference(const PoolCase &c, const std::vector<double> &x)
{
	std::uint32_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
	std::int64_t s[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pb[3] = {}, pe[3] = {};
	for (unsigned d = 0; d < c.spatial; d++) {
		in[d] = c.in[d], out[d] = c.out[d], k[d] = c.k[d];
		s[d] = c.stride[d], dil[d] = c.dil[d], pb[d] = c.pb[d], pe[d] = c.pe[d];
	}
	std::uint64_t in_vol = std::uint64_t(in[0]) * in[1] * in[2];
	std::uint64_t out_vol = std::uint64_t(out[0]) * out[1] * out[2];
	PoolRef r;
	for (std::uint64_t plane = 0; plane < std::uint64_t(c.N) * c.C; plane++)
		for (std::uint64_t o = 0; o < out_vol; o++) {
			std::int64_t oi[3] = {std::int64_t(o / out[2] / out[1]),
					      std::int64_t(o / out[2] % out[1]),
					      std::int64_t(o % out[2])};
			double best = -kInf, sum = 0;
			std::int64_t best_at = -1;
			std::uint64_t valid = 0, padded = 1;
			for (unsigned d = 0; d < 3; d++) {
				std::uint64_t n = 0;
				for (std::int64_t j = 0; j < k[d]; j++)
					if (oi[d] * s[d] - pb[d] + j * dil[d] <
					    std::int64_t(in[d]) + pe[d])
						n++;
				padded *= n;
			}
			for (std::int64_t j0 = 0; j0 < k[0]; j0++)
				for (std::int64_t j1 = 0; j1 < k[1]; j1++)
					for (std::int64_t j2 = 0; j2 < k[2]; j2++) {
						std::int64_t i[3] = {
							oi[0] * s[0] - pb[0] + j0 * dil[0],
							oi[1] * s[1] - pb[1] + j1 * dil[1],
							oi[2] * s[2] - pb[2] + j2 * dil[2]};
						bool inside = true;
						for (unsigned d = 0; d < 3; d++)
							inside = inside && i[d] >= 0 &&
								 i[d] < std::int64_t(in[d]);
						if (!inside)
							continue;
						std::int64_t at =
							(i[0] * in[1] + i[1]) * in[2] + i[2];
						double v = x[plane * in_vol + at];
						valid++;
						if (best_at < 0 || v > best || std::isnan(v))
							best = v, best_at = at;
						sum += c.mode == NPU_POOL_LP
							       ? std::pow(std::fabs(v), c.p)
							       : v;
					}
			double v = c.mode == NPU_POOL_MAX	? best
				   : c.mode == NPU_POOL_AVG	? sum / valid
				   : c.mode == NPU_POOL_AVG_PAD ? sum / padded
								: std::pow(sum, 1.0 / c.p);
			r.value.push_back(v);
			r.index.push_back(best_at < 0 ? -1
						      : std::int64_t(plane * in_vol) + best_at);
		}
	return r;
}

class PoolTest : public EngineComputeTest
{
public:
	// Runs planes [p0, p1) of case c over x of dtype and checks them.
	void check(const PoolCase &c, std::uint32_t dtype, std::uint64_t p0, std::uint64_t p1,
		   bool with_indices, double tolerance,
		   std::vector<std::pair<std::uint64_t, double>> special = {})
	{
		std::vector<std::uint32_t> xs{c.N, c.C}, ys{c.N, c.C};
		for (unsigned d = 0; d < c.spatial; d++) {
			xs.push_back(c.in[d]);
			ys.push_back(c.out[d]);
		}
		Input x = input(dtype, xs, {}, -2, 2);
		for (auto [at, v] : special) {
			std::vector<std::uint8_t> e(x.elem);
			encode(dtype, v, e.data());
			host_.write_va(ctx_, x.address_of(at), e.data(), e.size());
		}
		refresh(x);
		Placed y = output(dtype, ys);
		Placed idx = output(NPU_DTYPE_I64, ys);
		npu_pkt_pool p = pool_packet(c, x, y, with_indices ? &idx : nullptr);
		ASSERT_EQ(run_task(p, p0, p1), kOk);
		PoolRef ref = pool_reference(c, x.values);
		std::vector<double> got = values(y);
		std::vector<std::int64_t> got_idx = ints(idx);
		std::uint64_t plane = got.size() / (std::uint64_t(c.N) * c.C);
		auto in_tile = [&](std::uint64_t i) { return i / plane >= p0 && i / plane < p1; };
		for (std::uint64_t i = 0; i < got.size(); i++) {
			if (!in_tile(i))
				continue;
			if (std::isnan(ref.value[i])) {
				EXPECT_TRUE(std::isnan(got[i])) << i;
			} else {
				EXPECT_NEAR(got[i], ref.value[i],
					    tolerance * std::fabs(ref.value[i]) + 1e-30)
					<< i;
			}
			if (with_indices) {
				EXPECT_EQ(got_idx[i], ref.index[i]) << i;
			}
		}
		expect_written_exactly(y, in_tile);
		if (with_indices)
			expect_written_exactly(idx, in_tile);
		else
			expect_written_exactly(idx, [](std::uint64_t) { return false; });
	}
};

// 2-D max with dilation, padding, ceil mode (a last window hanging over),
// a NaN and an -inf in x, and indices.
TEST_F(PoolTest, MaxWithIndicesDilationAndCeilMode)
{
	// d0: in 8, window 3, padded 10: floor 4, ceil 5 (starts at 7 < 9)
	// d1: in 6, window 3 (k 2, dil 2), padded 7: 3
	PoolCase c{NPU_POOL_MAX, 0,	 2,	 2,	 3,	 {8, 6},
		   {5, 3},	 {3, 2}, {2, 2}, {1, 2}, {1, 1}, {1, 0}};
	check(c, NPU_DTYPE_F32, 1, 5, true, 0, {{50, kNaN}, {100, -kInf}, {101, -kInf}});
}

TEST_F(PoolTest, AverageCountsPaddingButNotTheCeilOverhang)
{
	// in 11, k 4, s 3, pad 2/1: floor 4, ceil 5; the last window [10, 14)
	// holds x[10], one pad_end position and two overhang positions
	PoolCase avg{NPU_POOL_AVG, 0, 1, 1, 3, {11}, {5}, {4}, {3}, {1}, {2}, {1}};
	check(avg, NPU_DTYPE_F32, 0, 3, false, 1e-6);
	PoolCase avg_pad = avg;
	avg_pad.mode = NPU_POOL_AVG_PAD;
	check(avg_pad, NPU_DTYPE_F32, 0, 3, false, 1e-6);
}

TEST_F(PoolTest, ThreeDimensionalAverageInHalfPrecision)
{
	PoolCase c{NPU_POOL_AVG_PAD, 0,		3,	   1,	      2,	 {5, 4, 3},
		   {3, 2, 3},	     {3, 2, 2}, {2, 2, 1}, {1, 1, 2}, {1, 0, 1}, {1, 0, 1}};
	check(c, NPU_DTYPE_F16, 0, 2, false, 1e-3);
	check(c, NPU_DTYPE_BF16, 1, 2, false, 8e-3);
}

TEST_F(PoolTest, LpNorms)
{
	for (std::uint32_t p : {1u, 2u, 3u}) {
		PoolCase c{NPU_POOL_LP, p,	2,	2,	2,	{5, 5},
			   {2, 3},	{3, 2}, {2, 2}, {1, 1}, {0, 1}, {0, 0}};
		check(c, NPU_DTYPE_F32, 0, 4, false, 1e-6);
	}
}

// A plane too large to stage is read element by element, with the same
// results.
TEST_F(PoolTest, HugePlaneStreams)
{
	PoolCase c{NPU_POOL_MAX, 0, 1, 1, 1, {300001}, {150000}, {3}, {2}, {1}, {0}, {0}};
	check(c, NPU_DTYPE_F32, 0, 1, true, 0);
}

TEST_F(PoolTest, RefusesMalformedPools)
{
	PoolCase c{NPU_POOL_MAX, 0,	 2,	 1,	 2,	 {4, 4},
		   {2, 2},	 {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}};
	Input x = input(NPU_DTYPE_F32, {1, 2, 4, 4});
	Placed y = output(NPU_DTYPE_F32, {1, 2, 2, 2});
	Placed idx = output(NPU_DTYPE_I64, {1, 2, 2, 2});
	npu_pkt_pool good = pool_packet(c, x, y, &idx);
	auto refused = [&](auto change) {
		npu_pkt_pool p = good;
		change(p);
		return run_task(p, 0, 2) == kBadTask;
	};
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.mode = 4; }));
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.mode = NPU_POOL_AVG; })); // indices
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.p = 2; }));
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.stride[0] = 1; }));	   // out would be 3
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.pad_begin[1] = 2; })); // not below window
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.kernel[0] = 0; }));
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.indices.dtype = NPU_DTYPE_I32; }));
	EXPECT_TRUE(refused([](npu_pkt_pool &p) { p.x.dtype = NPU_DTYPE_I32; }));
	EXPECT_EQ(run_task(good, 0, 3), kBadTask);	 // 2 planes
	EXPECT_EQ(run_task(good, 0, 2, 0, 2), kBadTask); // axis 1 is [0, 1)
	EXPECT_TRUE(untouched(y, 0));
	EXPECT_EQ(run_task(good, 0, 2), kOk);
}

// ---- NORM ------------------------------------------------------------------

npu_pkt_norm norm_packet(std::uint32_t fn, std::uint32_t axes, const Placed &x, const Placed &y,
			 float epsilon = 0)
{
	npu_pkt_norm p{};
	p.header = NPU_PKT_HEADER(NPU_OP_NORM, NPU_PKT_NORM_DWORDS);
	p.fn = fn;
	p.axes = axes;
	p.epsilon = f32_bits(epsilon);
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

class NormTest : public EngineComputeTest
{
public:
	// Positions of x (outside axes, row-major) and the flat indices of
	// each position's group.
	static std::vector<std::vector<std::uint64_t>> groups(const npu_tensor &x,
							      std::uint32_t axes)
	{
		std::uint64_t n = 1;
		for (unsigned d = 0; d < x.rank; d++)
			n *= x.shape[d];
		std::map<std::vector<std::uint64_t>, std::vector<std::uint64_t>> by_outer;
		for (std::uint64_t i = 0; i < n; i++) {
			std::vector<std::uint64_t> idx = unflatten(i, x), outer;
			for (unsigned d = 0; d < x.rank; d++)
				if (!(axes >> d & 1))
					outer.push_back(idx[d]);
			by_outer[outer].push_back(i);
		}
		std::vector<std::vector<std::uint64_t>> out;
		for (auto &[outer, members] : by_outer)
			out.push_back(members);
		return out;
	}

	// Runs positions [p0, p1) and checks them against the definition.
	void check(std::uint32_t fn, std::uint32_t axes, const Input &x, const Placed &y,
		   const Input *scale, const Input *bias, std::uint64_t p0, std::uint64_t p1,
		   double tolerance, float epsilon = 1e-5f)
	{
		npu_pkt_norm p = norm_packet(fn, axes, x, y, epsilon);
		if (scale)
			p.scale = scale->desc;
		if (bias)
			p.bias = bias->desc;
		ASSERT_EQ(run_task(p, p0, p1), kOk);
		std::vector<double> got = values(y);
		std::vector<std::vector<std::uint64_t>> g = groups(x.desc, axes);
		std::vector<bool> mine(got.size(), false);
		for (std::uint64_t pos = p0; pos < p1; pos++) {
			const std::vector<std::uint64_t> &members = g[pos];
			double max = -kInf, sum = 0, sq = 0;
			for (std::uint64_t i : members) {
				max = std::max(max, x.values[i]);
				sum += x.values[i];
			}
			double mean = sum / members.size(), exp_sum = 0;
			for (std::uint64_t i : members) {
				exp_sum += std::exp(x.values[i] - max);
				sq += (x.values[i] - mean) * (x.values[i] - mean);
			}
			double inv_std = 1 / std::sqrt(sq / members.size() + double(epsilon));
			for (std::uint64_t i : members) {
				double want =
					fn == NPU_NORM_SOFTMAX
						? std::exp(x.values[i] - max) / exp_sum
					: fn == NPU_NORM_LOG_SOFTMAX
						? x.values[i] - max - std::log(exp_sum)
						: (x.values[i] - mean) * inv_std *
								  (scale ? scale->values[i] : 1) +
							  (bias ? bias->values[i] : 0);
				EXPECT_NEAR(got[i], want,
					    tolerance * std::max(1.0, std::fabs(want)))
					<< "position " << pos << " element " << i;
				mine[i] = true;
			}
		}
		expect_written_exactly(y, [&](std::uint64_t i) { return mine[i]; });
	}
};

TEST_F(NormTest, SoftmaxOverTheLastAxis)
{
	Input x = input(NPU_DTYPE_F32, {3, 4, 5}, {}, -10, 10);
	check(NPU_NORM_SOFTMAX, 1u << 2, x, output(NPU_DTYPE_F32, {3, 4, 5}), nullptr, nullptr, 2,
	      10, 1e-6);
}

TEST_F(NormTest, SoftmaxOverChannelsOfStridedX)
{
	// x [2, 5, 3, 2] stored channels-last; groups are 5 elements 2 apart
	Input x = input(NPU_DTYPE_F32, {2, 5, 3, 2}, {30, 1, 10, 5}, -4, 4);
	check(NPU_NORM_SOFTMAX, 1u << 1, x, output(NPU_DTYPE_F32, {2, 5, 3, 2}), nullptr, nullptr,
	      0, 12, 1e-6);
}

TEST_F(NormTest, LogSoftmaxOverSeparatedAxes)
{
	Input x = input(NPU_DTYPE_F32, {2, 5, 3, 2}, {}, -4, 4);
	check(NPU_NORM_LOG_SOFTMAX, 1u << 1 | 1u << 3, x, output(NPU_DTYPE_F32, {2, 5, 3, 2}),
	      nullptr, nullptr, 1, 5, 1e-6);
}

TEST_F(NormTest, LayerNormWithBroadcastScaleAndBias)
{
	Input x = input(NPU_DTYPE_F32, {2, 3, 4, 5}, {}, -3, 5);
	Input scale = input(NPU_DTYPE_F32, {2, 3, 4, 5}, {0, 0, 5, 1}, 0.5, 2);
	Input bias = input(NPU_DTYPE_F16, {2, 3, 4, 5}, {0, 0, 5, 1});
	check(NPU_NORM_NORMALIZE, 0b1100, x, output(NPU_DTYPE_F32, {2, 3, 4, 5}), &scale, &bias, 1,
	      6, 1e-5);
}

TEST_F(NormTest, InstanceNormWithPerChannelScaleInHalfPrecision)
{
	Input x = input(NPU_DTYPE_F16, {2, 3, 4, 5}, {}, -3, 5);
	Input scale = input(NPU_DTYPE_F32, {2, 3, 4, 5}, {0, 1, 0, 0}, 0.5, 2);
	check(NPU_NORM_NORMALIZE, 0b1100, x, output(NPU_DTYPE_BF16, {2, 3, 4, 5}), &scale, nullptr,
	      0, 6, 8e-3, 0.25f);
}

// Groups larger than one buffer are read again for every pass.
TEST_F(NormTest, GroupsLargerThanABuffer)
{
	Input x = input(NPU_DTYPE_F32, {2, 70001}, {}, -20, 20);
	check(NPU_NORM_SOFTMAX, 0b10, x, output(NPU_DTYPE_F32, {2, 70001}), nullptr, nullptr, 1, 2,
	      1e-6);
	check(NPU_NORM_NORMALIZE, 0b10, x, output(NPU_DTYPE_F32, {2, 70001}), nullptr, nullptr, 0,
	      1, 1e-5);
}

TEST_F(NormTest, BatchNormWithPerChannelStatistics)
{
	Input x = input(NPU_DTYPE_F32, {2, 3, 4}, {}, -3, 3);
	std::vector<std::int64_t> per_channel{0, 1, 0};
	Input mean = input(NPU_DTYPE_F32, {2, 3, 4}, per_channel, -1, 1);
	Input var = input(NPU_DTYPE_F32, {2, 3, 4}, per_channel, 0.1, 3);
	Input scale = input(NPU_DTYPE_BF16, {2, 3, 4}, per_channel, 0.5, 2);
	Input bias = input(NPU_DTYPE_F32, {2, 3, 4}, per_channel);
	Placed y = output(NPU_DTYPE_F16, {2, 3, 4});
	npu_pkt_norm p = norm_packet(NPU_NORM_BATCH, 0, x, y, 1e-3f);
	p.scale = scale.desc;
	p.bias = bias.desc;
	p.mean = mean.desc;
	p.var = var.desc;
	ASSERT_EQ(run_task(p, 5, 20), kOk);
	std::vector<double> got = values(y);
	for (std::uint64_t i = 5; i < 20; i++) {
		double want = (x.values[i] - mean.values[i]) /
				      std::sqrt(var.values[i] + double(1e-3f)) * scale.values[i] +
			      bias.values[i];
		EXPECT_NEAR(got[i], want, 1e-3 * std::max(1.0, std::fabs(want))) << i;
	}
	expect_written_exactly(y, [](std::uint64_t i) { return i >= 5 && i < 20; });
}

TEST_F(NormTest, RefusesMalformedNorms)
{
	Input x = input(NPU_DTYPE_F32, {2, 3});
	Input other = input(NPU_DTYPE_F32, {2, 3});
	Placed y = output(NPU_DTYPE_F32, {2, 3});
	auto outcome = [&](std::uint32_t fn, std::uint32_t axes, auto change,
			   std::uint64_t end = 2) {
		npu_pkt_norm p = norm_packet(fn, axes, x, y);
		change(p);
		return run_task(p, 0, end);
	};
	auto nothing = [](npu_pkt_norm &) {};
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0, nothing), kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0b100, nothing), kBadTask); // beyond rank
	EXPECT_EQ(outcome(4, 0b10, nothing), kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0b10, [&](npu_pkt_norm &p) { p.scale = other.desc; }),
		  kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_NORMALIZE, 0b10, [&](npu_pkt_norm &p) { p.mean = other.desc; }),
		  kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_BATCH, 0,
			  [&](npu_pkt_norm &p) { p.scale = p.bias = p.mean = other.desc; }),
		  kBadTask); // no var
	EXPECT_EQ(outcome(NPU_NORM_BATCH, 0b1,
			  [&](npu_pkt_norm &p) { p.scale = p.bias = p.mean = p.var = other.desc; }),
		  kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0b10, [](npu_pkt_norm &p) { p.y.shape[1] = 2; }),
		  kBadTask);
	EXPECT_EQ(
		outcome(NPU_NORM_SOFTMAX, 0b10, [](npu_pkt_norm &p) { p.x.dtype = NPU_DTYPE_I32; }),
		kBadTask);
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0b10, nothing, 3), kBadTask); // 2 positions
	EXPECT_TRUE(untouched(y, 0));
	EXPECT_EQ(outcome(NPU_NORM_SOFTMAX, 0b10, nothing), kOk);
}

} // namespace
} // namespace npu::emu::test
