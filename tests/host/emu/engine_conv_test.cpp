// SPDX-License-Identifier: MIT
// The CONV kernel through run_engine_task(): direct and transposed, 1-D to
// 3-D, groups, dilation, asymmetric padding and output padding, float and
// 8-bit dtypes, against a reference convolution written from the packet's
// definition.
#include "engine_compute_fixture.h"

namespace npu::emu::test
{
namespace
{

struct ConvShape {
	const char *name;
	unsigned spatial;
	bool transposed;
	std::uint32_t N, C, OC, G;
	std::uint32_t in[3], k[3], stride[3], dil[3], pb[3], pe[3];
	std::uint32_t extra[3]; // transposed: output padding
	bool channels_last;	// x laid out [N, in..., C] through its strides
	std::uint32_t out(unsigned d) const
	{
		std::uint32_t window = dil[d] * (k[d] - 1) + 1;
		if (!transposed)
			return (in[d] + pb[d] + pe[d] - window) / stride[d] + 1;
		return (in[d] - 1) * stride[d] - pb[d] - pe[d] + window + extra[d];
	}
};

struct ConvTypes {
	const char *name;
	std::uint32_t x, w, y, bias;
	std::int32_t x_zero, w_zero, y_zero;
	double tolerance; // floats: relative to the sum of the terms' magnitudes
};

struct ConvOperands {
	Input x, w, bias;
	Placed y;
	npu_pkt_conv p{};
	std::vector<std::uint32_t> y_shape;
};

// sum over the taps feeding y element flat, as double and exact int64 with
// zero points; terms gets sum |x w|.
struct ConvSum {
	double value = 0, terms = 0;
	std::int64_t exact = 0;
};

std::vector<ConvSum> conv_reference(const ConvShape &s, const ConvOperands &o, std::int64_t x_zero,
				    std::int64_t w_zero)
{
	const npu_tensor &y = o.p.y;
	std::uint64_t y_elems = 1;
	for (unsigned d = 0; d < y.rank; d++)
		y_elems *= y.shape[d];
	std::vector<ConvSum> out(y_elems);
	std::uint32_t cg = s.C / s.G, ocg = s.OC / s.G;
	std::uint32_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, ou[3] = {1, 1, 1};
	for (unsigned d = 0; d < s.spatial; d++) {
		in[d] = s.in[d];
		k[d] = s.k[d];
		ou[d] = s.out(d);
	}
	// direct: the input position of output o; transposed: the output
	// position of input i (the same formula)
	auto tap = [&](unsigned d, std::int64_t o_or_i, std::int64_t kk) -> std::int64_t {
		if (d >= s.spatial)
			return o_or_i;
		return o_or_i * s.stride[d] - s.pb[d] + kk * s.dil[d];
	};
	for (std::uint32_t n = 0; n < s.N; n++)
		for (std::uint32_t oc = 0; oc < s.OC; oc++) {
			std::uint32_t g = oc / ocg, o_in_g = oc % ocg;
			for (std::uint32_t ic = 0; ic < cg; ic++)
				for (std::uint32_t k0 = 0; k0 < k[0]; k0++)
					for (std::uint32_t k1 = 0; k1 < k[1]; k1++)
						for (std::uint32_t k2 = 0; k2 < k[2]; k2++) {
							std::uint64_t kf =
								(k0 * k[1] + k1) * k[2] + k2;
							std::uint64_t wi =
								s.transposed
									? ((std::uint64_t(g) * cg +
									    ic) * ocg +
									   o_in_g) * k[0] *
											  k[1] *
											  k[2] +
										  kf
									: (std::uint64_t(oc) * cg +
									   ic) * k[0] * k[1] *
											  k[2] +
										  kf;
							// walk the side that is enumerated (outputs
							// for direct, inputs for transposed)
							std::uint32_t e[3] = {
								s.transposed ? in[0] : ou[0],
								s.transposed ? in[1] : ou[1],
								s.transposed ? in[2] : ou[2]};
							for (std::uint32_t a0 = 0; a0 < e[0]; a0++)
								for (std::uint32_t a1 = 0;
								     a1 < e[1]; a1++)
									for (std::uint32_t a2 = 0;
									     a2 < e[2]; a2++) {
										std::int64_t b0 =
											tap(0, a0,
											    k0);
										std::int64_t b1 =
											tap(1, a1,
											    k1);
										std::int64_t b2 =
											tap(2, a2,
											    k2);
										std::uint32_t lim[3] = {
											s.transposed
												? ou[0]
												: in[0],
											s.transposed
												? ou[1]
												: in[1],
											s.transposed
												? ou[2]
												: in[2]};
										if (b0 < 0 ||
										    b1 < 0 ||
										    b2 < 0 ||
										    b0 >= lim[0] ||
										    b1 >= lim[1] ||
										    b2 >= lim[2])
											continue;
										std::uint64_t ipos,
											opos;
										if (s.transposed) {
											ipos = (std::uint64_t(
													a0) *
													in[1] +
												a1) * in[2] +
											       a2;
											opos = (std::uint64_t(
													b0) *
													ou[1] +
												b1) * ou[2] +
											       b2;
										} else {
											opos = (std::uint64_t(
													a0) *
													ou[1] +
												a1) * ou[2] +
											       a2;
											ipos = (std::uint64_t(
													b0) *
													in[1] +
												b1) * in[2] +
											       b2;
										}
										std::uint64_t xi =
											(std::uint64_t(
												 n) *
												 s.C +
											 g * cg +
											 ic) * in[0] *
												in[1] *
												in[2] +
											ipos;
										std::uint64_t yi =
											(std::uint64_t(
												 n) *
												 s.OC +
											 oc) * ou[0] *
												ou[1] *
												ou[2] +
											opos;
										double prod =
											o.x.values
												[xi] *
											o.w.values
												[wi];
										out[yi].value +=
											prod;
										out[yi].terms += std::
											fabs(prod);
										out[yi].exact +=
											(o.x.ints[xi] -
											 x_zero) *
											(o.w.ints[wi] -
											 w_zero);
									}
						}
		}
	return out;
}

class ConvTest : public EngineComputeTest
{
public:
	ConvOperands operands(const ConvShape &s, const ConvTypes &t, npu_act fused = {})
	{
		ConvOperands o;
		bool is8 = !dtype_is_float(t.x);
		auto lo = [](std::uint32_t d) { return d == NPU_DTYPE_U8 ? 0.0 : -128.0; };
		double xlo = is8 ? lo(t.x) : -1, xhi = is8 ? lo(t.x) + 255 : 1;
		std::vector<std::uint32_t> x_shape{s.N, s.C}, w_shape, y_shape{s.N, s.OC};
		w_shape = s.transposed ? std::vector<std::uint32_t>{s.C, s.OC / s.G}
				       : std::vector<std::uint32_t>{s.OC, s.C / s.G};
		for (unsigned d = 0; d < s.spatial; d++) {
			x_shape.push_back(s.in[d]);
			w_shape.push_back(s.k[d]);
			y_shape.push_back(s.out(d));
		}
		std::vector<std::int64_t> x_stride;
		if (s.channels_last) {
			// [N, in..., C] in memory
			std::int64_t inner = s.C;
			x_stride.assign(s.spatial + 2, 0);
			x_stride[1] = 1;
			for (int d = static_cast<int>(s.spatial) - 1; d >= 0; d--) {
				x_stride[2 + d] = inner;
				inner *= s.in[d];
			}
			x_stride[0] = inner;
		}
		o.x = input(t.x, x_shape, x_stride, xlo, xhi);
		std::uint32_t w_type = t.w;
		o.w = input(w_type, w_shape, {}, is8 ? lo(w_type) : -1, is8 ? lo(w_type) + 255 : 1);
		if (t.bias != NPU_DTYPE_NONE)
			o.bias = input(t.bias, {s.OC}, {},
				       is8 && t.bias == NPU_DTYPE_I32 ? -5000 : -1,
				       is8 && t.bias == NPU_DTYPE_I32 ? 5000 : 1);
		o.y = output(t.y, y_shape);
		o.y_shape = y_shape;
		npu_pkt_conv &p = o.p;
		p.header = NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_CONV_DWORDS);
		p.flags = s.transposed ? NPU_CONV_TRANSPOSED : 0;
		p.groups = s.G;
		p.spatial = s.spatial;
		for (unsigned d = 0; d < s.spatial; d++) {
			p.stride[d] = s.stride[d];
			p.dilation[d] = s.dil[d];
			p.pad_begin[d] = s.pb[d];
			p.pad_end[d] = s.pe[d];
		}
		p.act = fused;
		if (is8)
			p.quant = {t.x_zero, t.w_zero, 0, t.y_zero};
		p.x = o.x.desc;
		p.w = o.w.desc;
		if (t.bias != NPU_DTYPE_NONE)
			p.bias = o.bias.desc;
		p.y = o.y.desc;
		return o;
	}
};

// What y element flat must hold, or nothing if the tile does not cover it.
void check_conv(ConvTest &t, const ConvShape &s, const ConvTypes &ty, const ConvOperands &o,
		std::uint64_t pair0, std::uint64_t pair1, std::uint64_t oc0, std::uint64_t oc1,
		float y_scale, npu_act fused)
{
	std::vector<ConvSum> ref = conv_reference(s, o, ty.x_zero, ty.w_zero);
	std::uint64_t plane = 1;
	for (unsigned d = 0; d < s.spatial; d++)
		plane *= s.out(d);
	std::uint32_t ocg = s.OC / s.G;
	auto in_tile = [&](std::uint64_t i) {
		std::uint64_t oc = i / plane % s.OC, n = i / plane / s.OC;
		std::uint64_t pair = n * s.G + oc / ocg;
		return pair >= pair0 && pair < pair1 && oc % ocg >= oc0 && oc % ocg < oc1;
	};
	std::vector<double> got = t.values(o.y);
	std::vector<std::int64_t> got_int = t.ints(o.y);
	double alpha = std::bit_cast<float>(fused.alpha);
	bool has_bias = ty.bias != NPU_DTYPE_NONE;
	for (std::uint64_t i = 0; i < got.size(); i++) {
		if (!in_tile(i))
			continue;
		std::uint64_t oc = i / plane % s.OC;
		if (dtype_is_float(ty.x)) {
			double b = has_bias ? o.bias.values[oc] : 0;
			double want = act_ref(fused.fn, alpha, ref[i].value + b);
			EXPECT_NEAR(got[i], want,
				    ty.tolerance * (ref[i].terms + std::fabs(b)) + 1e-30)
				<< s.name << " " << ty.name << " element " << i;
		} else if (ty.y == NPU_DTYPE_I32) {
			std::int64_t v = ref[i].exact + (has_bias ? o.bias.ints[oc] : 0);
			EXPECT_EQ(got_int[i],
				  fused.fn == NPU_FN_RELU ? std::max<std::int64_t>(v, 0) : v)
				<< s.name << " " << ty.name << " element " << i;
		} else if (ty.y == NPU_DTYPE_F32) {
			double want =
				act_ref(fused.fn, alpha,
					double(ref[i].exact) + (has_bias ? o.bias.values[oc] : 0));
			EXPECT_NEAR(got[i], want, 1e-6 * std::fabs(want) + 1e-6)
				<< s.name << " " << ty.name << " element " << i;
		} else {
			double v = act_ref(fused.fn, alpha,
					   double(ref[i].exact + (has_bias ? o.bias.ints[oc] : 0)));
			double lo = ty.y == NPU_DTYPE_U8 ? 0 : -128;
			double q = std::clamp(std::nearbyint(v * double(y_scale)) + ty.y_zero, lo,
					      lo + 255);
			EXPECT_EQ(got_int[i], std::int64_t(q))
				<< s.name << " " << ty.name << " element " << i;
		}
	}
	t.expect_written_exactly(o.y, in_tile);
}

// clang-format off
const ConvShape kShapes[] = {
	// name                    sp  transp  N  C  OC  G  in         k          stride     dil        pad_begin  pad_end    extra      NHWC
	{"direct2d_groups",        2, false,   2, 6, 4,  2, {7, 5},    {3, 2},    {2, 1},    {1, 2},    {1, 0},    {2, 1},    {},        false},
	{"direct2d_nhwc",          2, false,   2, 3, 5,  1, {6, 4},    {3, 3},    {1, 2},    {1, 1},    {1, 1},    {1, 0},    {},        true},
	{"pointwise2d",            2, false,   2, 8, 16, 1, {3, 3},    {1, 1},    {1, 1},    {1, 1},    {0, 0},    {0, 0},    {},        false},
	{"depthwise1d_dilated",    1, false,   2, 5, 5,  5, {11},      {3},       {1},       {3},       {3},       {2},       {},        false},
	{"direct1d_wide_padding",  1, false,   2, 2, 3,  1, {3},       {2},       {1},       {1},       {4},       {5},       {},        false},
	{"direct3d",               3, false,   1, 2, 3,  1, {4, 5, 3}, {2, 3, 1}, {1, 2, 1}, {1, 1, 1}, {0, 1, 0}, {1, 1, 0}, {},        false},
	{"direct1d_primes",        1, false,   3, 1, 7,  1, {13},      {5},       {3},       {1},       {4},       {0},       {},        false},
	{"transposed2d_outpad",    2, true,    2, 4, 6,  2, {3, 4},    {3, 2},    {2, 3},    {1, 1},    {1, 0},    {0, 1},    {1, 2},    false},
	{"transposed1d_dilated",   1, true,    1, 3, 2,  1, {5},       {3},       {1},       {2},       {0},       {2},       {1},       false},
	{"transposed1d_cropped",   1, true,    2, 2, 4,  2, {4},       {3},       {2},       {1},       {3},       {2},       {1},       false},
	{"transposed3d",           3, true,    1, 2, 2,  2, {2, 3, 2}, {2, 2, 3}, {2, 1, 2}, {1, 2, 1}, {1, 0, 2}, {0, 1, 0}, {0, 1, 1}, true},
};
// clang-format on

const ConvTypes kTypes[] = {
	{"f32", NPU_DTYPE_F32, NPU_DTYPE_F32, NPU_DTYPE_F32, NPU_DTYPE_F32, 0, 0, 0, 1e-6},
	{"bf16_to_f32", NPU_DTYPE_BF16, NPU_DTYPE_BF16, NPU_DTYPE_F32, NPU_DTYPE_BF16, 0, 0, 0,
	 1e-6},
	{"f16", NPU_DTYPE_F16, NPU_DTYPE_F16, NPU_DTYPE_F16, NPU_DTYPE_F16, 0, 0, 0, 1e-3},
	{"bf16", NPU_DTYPE_BF16, NPU_DTYPE_BF16, NPU_DTYPE_BF16, NPU_DTYPE_NONE, 0, 0, 0, 8e-3},
	{"u8_i8_to_i32", NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, NPU_DTYPE_I32, 131, -7, 0, 0},
	{"i8_u8_to_u8", NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_I32, -20, 200, 90, 0},
	{"u8_u8_to_f32", NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_F32, NPU_DTYPE_F32, 255, 0, 0, 0},
	{"i8_i8_to_i8", NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_NONE, 0, 0, -3, 0},
};

class ConvCaseTest : public ConvTest,
		     public ::testing::WithParamInterface<std::tuple<ConvShape, ConvTypes>>
{
};

TEST_P(ConvCaseTest, PartialTileMatchesReference)
{
	auto [s, ty] = GetParam();
	bool is8 = !dtype_is_float(ty.x);
	npu_act fused = ty.y == NPU_DTYPE_I32 ? act(NPU_FN_RELU) : act(NPU_FN_LEAKY_RELU, 0.25f);
	ConvOperands o = operands(s, ty, fused);
	float y_scale = 0;
	if (is8 && ty.y != NPU_DTYPE_I32 && ty.y != NPU_DTYPE_F32) {
		// spread the requantised values over the 8-bit range
		std::int64_t largest = 1;
		for (const ConvSum &c : conv_reference(s, o, ty.x_zero, ty.w_zero))
			largest = std::max(largest, std::abs(c.exact));
		y_scale = 100.0f / static_cast<float>(largest);
		o.p.quant.y_scale = f32_bits(y_scale);
	}
	std::uint32_t pairs = s.N * s.G, ocg = s.OC / s.G;
	std::uint64_t pair0 = pairs > 1 ? 1 : 0, oc0 = ocg > 1 ? 1 : 0;
	ASSERT_EQ(run_task(o.p, pair0, pairs, oc0, ocg), kOk);
	check_conv(*this, s, ty, o, pair0, pairs, oc0, ocg, y_scale, fused);
}

INSTANTIATE_TEST_SUITE_P(All, ConvCaseTest,
			 ::testing::Combine(::testing::ValuesIn(kShapes),
					    ::testing::ValuesIn(kTypes)),
			 [](const auto &info) {
				 return std::string(std::get<0>(info.param).name) + "_" +
					std::get<1>(info.param).name;
			 });

// Local memory holds one (n, group) pair with the tile's output channels
// (4 bytes each: the group's input slice, and per channel its filter, its
// output plane and its bias); smaller memories refuse the tile, larger
// ones compute several pairs at a time, with the same results.
TEST_F(ConvTest, ChunksFollowLocalMemory)
{
	const ConvShape s{"chunks", 2,	    false,  3,	    6,	    9,	3,    {5, 4},
			  {2, 3},   {1, 1}, {1, 1}, {1, 1}, {0, 1}, {}, false};
	const ConvTypes ty = kTypes[0];
	ConvOperands o = operands(s, ty);
	const std::uint64_t cg = 2, ocs = 2, in_vol = 20, k_vol = 6, out_vol = 5 * 4;
	const std::uint64_t one_pair = 4 * (cg * in_vol + ocs * (cg * k_vol + out_vol + 1));
	auto run_with = [&](std::uint64_t mem, std::uint64_t op_id) {
		EngineScratch scratch(mem);
		npu_engine_task t{};
		t.pt_root = ctx_.pt_root;
		t.begin[0] = 1;
		t.end[0] = 9; // every pair but the first
		t.begin[1] = 1;
		t.end[1] = 3;
		t.op_id = op_id;
		std::memcpy(t.packet, &o.p, sizeof(o.p));
		return run_raw(t, scratch);
	};
	EXPECT_EQ(run_with(one_pair - 1, 1), kBadTask);
	EXPECT_TRUE(untouched(o.y, 0));
	for (std::uint64_t mem :
	     {one_pair, 2 * one_pair, 3 * one_pair + 50, 7 * one_pair, kLocalMem}) {
		ASSERT_EQ(run_with(mem, mem), kOk) << mem;
		check_conv(*this, s, ty, o, 1, 9, 1, 3, 0, {});
	}
}

// Consecutive tiles of one operation keep the staged filters; the results
// are those of one big tile.
TEST_F(ConvTest, TilesOfOneOperationAddUp)
{
	const ConvShape s = kShapes[0];
	const ConvTypes ty = kTypes[4]; // 8-bit with zero points
	ConvOperands o = operands(s, ty, act(NPU_FN_RELU));
	std::uint32_t pairs = s.N * s.G, ocg = s.OC / s.G;
	for (std::uint32_t pair = 0; pair < pairs; pair++)
		for (std::uint32_t oc = 0; oc < ocg; oc++)
			ASSERT_EQ(run_task(o.p, pair, pair + 1, oc, oc + 1, 77), kOk);
	check_conv(*this, s, ty, o, 0, pairs, 0, ocg, 0, act(NPU_FN_RELU));
}

// One engine runs convolutions of ever-new shapes: its primitive cache
// fills up and is cleared, sometimes by the lookup of a reorder in the
// middle of a tile, after the convolution itself was looked up. The tile
// must still run that convolution (it once ran a freed one: a crash or
// BAD_TASK, and an ASan use-after-free).
TEST_F(ConvTest, PrimitiveCacheClearedMidTile)
{
	const ConvTypes ty = kTypes[0];
	// Shapes that need different numbers of reorders, so the clear does
	// not always fall on a convolution's own lookup.
	for (std::uint32_t i = 0; i < 120; i++) {
		ConvShape s = kShapes[i % std::size(kShapes)];
		s.in[0] += i;
		ConvOperands o = operands(s, ty);
		std::uint32_t pairs = s.N * s.G, ocg = s.OC / s.G;
		ASSERT_EQ(run_task(o.p, 0, pairs, 0, ocg, 1000 + i), kOk) << s.name << " " << i;
		check_conv(*this, s, ty, o, 0, pairs, 0, ocg, 0, {});
		if (HasFailure())
			FAIL() << s.name << " " << i;
	}
}

TEST_F(ConvTest, RefusesMalformedConvolutions)
{
	ConvOperands o = operands(kShapes[0], kTypes[0]);
	auto refused = [&](auto change) {
		npu_pkt_conv p = o.p;
		change(p);
		return run_task(p, 0, 4, 0, 2) == kBadTask;
	};
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.groups = 0; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.groups = 4; })); // does not divide C
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.spatial = 3; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.stride[1] = 0; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.dilation[0] = 0; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.pad_end[0] = 0; })); // output size differs
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.flags = 2; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.flags = NPU_CONV_TRANSPOSED; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.w.dtype = NPU_DTYPE_F16; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.y.dtype = NPU_DTYPE_I32; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.bias.shape[0] = 3; }));
	EXPECT_TRUE(refused([](npu_pkt_conv &p) { p.quant.a_zero = 1; })); // floats: MBZ
	EXPECT_EQ(run_task(o.p, 0, 5, 0, 2), kBadTask);			   // 4 pairs
	EXPECT_EQ(run_task(o.p, 0, 4, 0, 3), kBadTask);			   // 2 channels per group
	EXPECT_TRUE(untouched(o.y, 0));
	EXPECT_EQ(run_task(o.p, 0, 4, 0, 2), kOk);
}

TEST_F(ConvTest, FaultsReportTheFirstUnmappedAddress)
{
	ConvShape s{"fault", 1, false, 1, 1, 1, 1, {1500}, {1}, {1}, {1}, {0}, {0}, {}, false};
	ConvOperands o = operands(s, kTypes[0]); // x: 6000 bytes on two pages
	npu_pkt_conv p = o.p;
	p.x.addr += 1000 * 4; // from 4000 bytes in: runs into the guard page
	std::uint64_t guard = o.x.region_va + 2 * NPU_PAGE_SIZE;
	EXPECT_EQ(run_task(p, 0, 1, 0, 1), (KernelOutcome{NPU_ENG_ST_FAULT_READ, guard}));
	p = o.p;
	p.y.addr = o.w.desc.addr; // read-only
	EXPECT_EQ(run_task(p, 0, 1, 0, 1, 2),
		  (KernelOutcome{NPU_ENG_ST_FAULT_WRITE, o.w.desc.addr}));
}

} // namespace
} // namespace npu::emu::test
