// GEMM through driver, firmware and engines: every operand dtype
// combination, shapes with ones and primes, a product larger than one
// engine tile, transposed / sliced / reversed / broadcast operands, batches
// with broadcast batch dimensions, fused activations, 8-bit with zero
// points and requantisation, exact integer products, empty extents.
#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

struct GemmCase {
	std::string name;
	uint32_t ab_dtype = NPU_DTYPE_F32;
	uint32_t b_dtype = NPU_DTYPE_NONE; // NONE: ab_dtype
	uint32_t c_dtype = NPU_DTYPE_NONE; // NONE: no c
	uint32_t y_dtype = NPU_DTYPE_F32;
	Shape batch;
	uint64_t M = 1, K = 1, N = 1;
	Layout a_layout, b_layout, c_layout, y_layout;
	float alpha = 1, beta = 1;
	npu_act act{};
	npu_quant quant{};
	double lo = -1, hi = 1;	   // a and b values
	double b_lo = 0, b_hi = 0; // b's, if different (b_lo < b_hi)
	Tolerance tol = kGemmF32;
};

Shape Concat(const Shape &batch, std::initializer_list<uint64_t> tail)
{
	Shape s = batch;
	s.insert(s.end(), tail);
	return s;
}

class OpsGemm : public OpsTest
{
protected:
	// Adds the case's packet to cmds and its check to the next RunAndCheck.
	void Add(Commands &cmds, const GemmCase &g)
	{
		uint32_t b_dtype = g.b_dtype ? g.b_dtype : g.ab_dtype;
		bool b_range = g.b_lo < g.b_hi;
		Operand a = Input(g.ab_dtype, Concat(g.batch, {g.M, g.K}), g.lo, g.hi, g.a_layout);
		Operand b = Input(b_dtype, Concat(g.batch, {g.K, g.N}), b_range ? g.b_lo : g.lo,
				  b_range ? g.b_hi : g.hi, g.b_layout);
		Operand c;
		if (g.c_dtype)
			c = Input(g.c_dtype, Concat(g.batch, {g.M, g.N}), -2, 2, g.c_layout);
		DevTensor y = Output(g.y_dtype, Concat(g.batch, {g.M, g.N}), g.y_layout);
		npu_pkt_gemm p = GemmPacket(a.dev, b.dev, g.c_dtype ? &c.dev : nullptr, y);
		p.alpha = F32Bits(g.alpha);
		p.beta = F32Bits(g.beta);
		p.act = g.act;
		p.quant = g.quant;
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y, RefGemm(p, a.host, b.host, g.c_dtype ? &c.host : nullptr), g.tol,
			       "GEMM " + g.name + " (packet at byte " + std::to_string(offset) +
				       ")");
	}
};

TEST_F(OpsGemm, EveryFloatDtypeCombination)
{
	Commands cmds;
	int n = 0;
	for (uint32_t ab : kFloatDtypes) {
		for (uint32_t y : kFloatDtypes) {
			GemmCase g;
			g.ab_dtype = ab;
			g.y_dtype = y;
			g.c_dtype = kFloatDtypes[n++ % 3];
			g.M = 7;
			g.K = 13;
			g.N = 5;
			g.alpha = 0.75f;
			g.beta = -1.5f;
			g.tol = ab == NPU_DTYPE_BF16 ? kGemmBF16 : kGemmF32;
			g.name = std::string(DtypeName(ab)) + " x " + DtypeName(ab) + " + " +
				 DtypeName(g.c_dtype) + " -> " + DtypeName(y);
			Add(cmds, g);
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsGemm, ShapesWithOnesAndPrimes)
{
	const uint64_t shapes[][3] = {{1, 7, 13}, {13, 1, 7},  {7, 13, 1}, {1, 1, 1},
				      {3, 11, 2}, {17, 3, 19}, {2, 31, 1}};
	Commands cmds;
	bool with_c = false;
	for (const auto &mkn : shapes) {
		GemmCase g;
		g.M = mkn[0];
		g.K = mkn[1];
		g.N = mkn[2];
		g.c_dtype = with_c ? NPU_DTYPE_F32 : NPU_DTYPE_NONE;
		g.beta = 0.5f;
		with_c = !with_c;
		g.name =
			std::to_string(g.M) + "x" + std::to_string(g.K) + "x" + std::to_string(g.N);
		Add(cmds, g);
	}
	RunAndCheck(cmds);
}

// Larger than one engine's tile, so the firmware spreads it over engines.
TEST_F(OpsGemm, LargerThanOneTile)
{
	Commands cmds;
	GemmCase g;
	g.name = "257x300x129 + c, GELU";
	g.M = 257;
	g.K = 300;
	g.N = 129;
	g.c_dtype = NPU_DTYPE_F32;
	g.alpha = 0.5f;
	g.act = Act(NPU_FN_GELU);
	Add(cmds, g);
	RunAndCheck(cmds);
}

TEST_F(OpsGemm, TransposedSlicedReversedAndBroadcastOperands)
{
	Commands cmds;
	GemmCase g;
	g.M = 9;
	g.K = 14;
	g.N = 11;
	g.c_dtype = NPU_DTYPE_F32;
	g.beta = 2;
	g.name = "a transposed, b reversed with steps, c a broadcast row, y transposed";
	g.a_layout = Transposed(2);
	g.b_layout.step = {2, 3};
	g.b_layout.reversed = 0b11;
	g.c_layout.broadcast = 0b01; // the same row for every m: a bias vector
	g.y_layout = Transposed(2);
	g.y_layout.step = {1, 2}; // gaps between y's columns must stay untouched
	Add(cmds, g);

	GemmCase h = g;
	h.name = "a reversed rows, b transposed, c broadcast column, y with steps";
	h.a_layout = {};
	h.a_layout.reversed = 0b01;
	h.a_layout.step = {3, 1};
	h.b_layout = Transposed(2);
	h.c_layout = {};
	h.c_layout.broadcast = 0b10;
	h.y_layout = {};
	h.y_layout.step = {2, 1};
	h.y_layout.reversed = 0b10;
	Add(cmds, h);
	RunAndCheck(cmds);
}

TEST_F(OpsGemm, BatchedWithBroadcastBatchDims)
{
	Commands cmds;
	GemmCase g;
	g.name = "[2,3] batches, a broadcast over batch dim 1, b over dim 0";
	g.batch = {2, 3};
	g.M = 5;
	g.K = 7;
	g.N = 4;
	g.c_dtype = NPU_DTYPE_F32;
	g.a_layout.broadcast = 0b0010;
	g.b_layout.broadcast = 0b0001;
	g.c_layout.broadcast = 0b0111; // one row for all batches and rows
	Add(cmds, g);

	GemmCase h;
	h.name = "rank 6: [2,1,3,2] batches, b shared by all, y batch-reversed";
	h.batch = {2, 1, 3, 2};
	h.M = 3;
	h.K = 5;
	h.N = 2;
	h.b_layout.broadcast = 0b1111;
	h.a_layout = Transposed(6);
	h.y_layout.reversed = 0b0101;
	Add(cmds, h);
	RunAndCheck(cmds);
}

TEST_F(OpsGemm, FusedActivations)
{
	const npu_act acts[] = {Act(NPU_FN_RELU),
				Act(NPU_FN_LEAKY_RELU, 0.1f),
				Act(NPU_FN_ELU, 1.0f),
				Act(NPU_FN_GELU),
				Act(NPU_FN_GELU_TANH),
				Act(NPU_FN_SIGMOID),
				Act(NPU_FN_HARD_SWISH),
				Act(NPU_FN_CLIP, -0.5f, 0.75f),
				Act(NPU_FN_TANH),
				Act(NPU_FN_SILU),
				Act(NPU_FN_HARD_SIGMOID, 0.2f, 0.5f)};
	Commands cmds;
	for (const npu_act &act : acts) {
		GemmCase g;
		g.M = 5;
		g.K = 9;
		g.N = 6;
		g.c_dtype = NPU_DTYPE_F32;
		g.act = act;
		g.name = "act fn " + std::to_string(act.fn);
		Add(cmds, g);
	}
	RunAndCheck(cmds);
}

// acc = sum (a - a_zero)(b - b_zero) in int32; I8/U8 results requantised
// with a power-of-two scale (exact in f32, so rounding ties are exercised
// without depending on how the product is formed) and saturated.
TEST_F(OpsGemm, EightBitWithZeroPointsAndRequantisation)
{
	struct EightBit {
		uint32_t a, b, c, y;
		int32_t a_zero, b_zero, y_zero;
		float y_scale, alpha, beta;
		uint32_t act;
	};
	const EightBit cases[] = {
		{NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_I32, NPU_DTYPE_I8, -3, 5, 7, 1.0f / 512, 1,
		 1, NPU_FN_IDENTITY},
		{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, NPU_DTYPE_U8, 128, -2, 100, 1.0f / 256,
		 1, 1, NPU_FN_RELU},
		{NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_NONE, NPU_DTYPE_I8, 0, 100, -20, 1.0f / 64,
		 1, 1, NPU_FN_IDENTITY},
		{NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_I32, NPU_DTYPE_I32, 4, 130, 0, 0, 1, 1,
		 NPU_FN_IDENTITY},
		{NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_I32, NPU_DTYPE_I32, 7, 9, 0, 0, 1, 1,
		 NPU_FN_RELU},
		{NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_F32, NPU_DTYPE_F32, 128, 128, 0, 0, 0.5f, 2,
		 NPU_FN_IDENTITY},
		{NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_NONE, NPU_DTYPE_F32, -1, 1, 0, 0, 0.25f, 0,
		 NPU_FN_TANH},
	};
	Commands cmds;
	for (const EightBit &e : cases) {
		GemmCase g;
		g.ab_dtype = e.a;
		g.b_dtype = e.b;
		g.c_dtype = e.c;
		g.y_dtype = e.y;
		g.M = 9;
		g.K = 37;
		g.N = 11;
		g.lo = IntDtypeMin(e.a);
		g.hi = IntDtypeMax(e.a);
		g.b_lo = IntDtypeMin(e.b);
		g.b_hi = IntDtypeMax(e.b);
		g.alpha = e.alpha;
		g.beta = e.beta;
		g.act = Act(e.act);
		g.quant = {e.a_zero, e.b_zero, e.y_scale ? F32Bits(e.y_scale) : 0, e.y_zero};
		g.tol = e.y == NPU_DTYPE_F32 ? kEltwiseF32 : kExact;
		g.name = std::string(DtypeName(e.a)) + " x " + DtypeName(e.b) + " + " +
			 DtypeName(e.c) + " -> " + DtypeName(e.y);
		if (e.c == NPU_DTYPE_I32) // c's values: a bias of a few thousand
			g.name += " (c in [-2, 2])";
		Add(cmds, g);
	}
	RunAndCheck(cmds);
}

// Integer GEMM is exact with wrap-around (products and sums beyond 32 or
// 64 bits wrap), RELU after the wrap.
TEST_F(OpsGemm, IntegerProductsWrap)
{
	Commands cmds;
	for (uint32_t dtype : {NPU_DTYPE_I32, NPU_DTYPE_I64}) {
		for (uint32_t act : {NPU_FN_IDENTITY, NPU_FN_RELU}) {
			GemmCase g;
			g.ab_dtype = g.c_dtype = g.y_dtype = dtype;
			g.M = 6;
			g.K = 5;
			g.N = 7;
			g.lo = dtype == NPU_DTYPE_I32 ? -3e6 : -4e18;
			g.hi = -g.lo;
			g.act = Act(act);
			g.tol = kExact;
			g.name = std::string(DtypeName(dtype)) + " act " + std::to_string(act);
			Add(cmds, g);
		}
	}
	RunAndCheck(cmds);
}

// K = 0 leaves act(beta * c); M = 0 or N = 0 writes nothing.
TEST_F(OpsGemm, EmptyExtents)
{
	Commands cmds;
	GemmCase k0;
	k0.name = "K = 0";
	k0.M = 4;
	k0.K = 0;
	k0.N = 3;
	k0.c_dtype = NPU_DTYPE_F32;
	k0.beta = -2;
	k0.act = Act(NPU_FN_RELU);
	Add(cmds, k0);
	GemmCase m0 = k0;
	m0.name = "M = 0";
	m0.M = 0;
	m0.K = 5;
	Add(cmds, m0);
	GemmCase n0 = k0;
	n0.name = "batch of 0";
	n0.batch = {0};
	n0.K = 2;
	Add(cmds, n0);
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
