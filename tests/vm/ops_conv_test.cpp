// CONV through driver, firmware and engines: 1-D, 2-D and 3-D, stride,
// asymmetric padding, dilation, groups (and depthwise), bias, fused
// activations, channels-last operands, transposed convolution with output
// padding, every float dtype, 8-bit with zero points and requantisation,
// and a convolution spread over several engines.
#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

struct ConvCase {
	std::string name;
	uint32_t x_dtype = NPU_DTYPE_F32;
	uint32_t w_dtype = NPU_DTYPE_NONE;    // NONE: x's
	uint32_t bias_dtype = NPU_DTYPE_NONE; // NONE: no bias
	uint32_t y_dtype = NPU_DTYPE_F32;
	Shape x; // [N, C, in...]
	uint64_t oc = 1;
	Shape kernel;
	uint32_t groups = 1;
	std::vector<uint32_t> stride, dilation, pad_begin, pad_end, extra; // per spatial dim
	bool transposed = false;
	npu_act act{};
	npu_quant quant{};
	Layout x_layout, w_layout, y_layout;
	double lo = -1, hi = 1, w_lo = 0, w_hi = 0;
	Tolerance tol = kGemmF32;
};

uint32_t At(const std::vector<uint32_t> &v, size_t d, uint32_t fallback)
{
	return d < v.size() ? v[d] : fallback;
}

class OpsConv : public OpsTest
{
protected:
	void Add(Commands &cmds, const ConvCase &c)
	{
		const size_t spatial = c.x.size() - 2;
		const uint64_t C = c.x[1];
		Shape w = c.transposed ? Shape{C, c.oc / c.groups} : Shape{c.oc, C / c.groups};
		for (uint64_t k : c.kernel)
			w.push_back(k);
		Shape y{c.x[0], c.oc};
		for (size_t d = 0; d < spatial; d++) {
			uint32_t s = At(c.stride, d, 1), dl = At(c.dilation, d, 1);
			uint32_t pb = At(c.pad_begin, d, 0), pe = At(c.pad_end, d, 0);
			y.push_back(c.transposed
					    ? TransposedOutExtent(c.x[2 + d], uint32_t(c.kernel[d]),
								  s, dl, pb, pe) +
						      At(c.extra, d, 0)
					    : WindowOutExtent(c.x[2 + d], uint32_t(c.kernel[d]), s,
							      dl, pb, pe));
		}
		uint32_t w_dtype = c.w_dtype ? c.w_dtype : c.x_dtype;
		bool w_range = c.w_lo < c.w_hi;
		Operand x = Input(c.x_dtype, c.x, c.lo, c.hi, c.x_layout);
		Operand wt = Input(w_dtype, w, w_range ? c.w_lo : c.lo, w_range ? c.w_hi : c.hi,
				   c.w_layout);
		Operand bias;
		if (c.bias_dtype)
			bias = Input(c.bias_dtype, {c.oc}, IsFloatDtype(c.bias_dtype) ? -1 : -3000,
				     IsFloatDtype(c.bias_dtype) ? 1 : 3000);
		DevTensor yt = Output(c.y_dtype, y, c.y_layout);
		npu_pkt_conv p = ConvPacket(x.dev, wt.dev, c.bias_dtype ? &bias.dev : nullptr, yt);
		p.flags = c.transposed ? NPU_CONV_TRANSPOSED : 0;
		p.groups = c.groups;
		for (size_t d = 0; d < spatial; d++) {
			p.stride[d] = At(c.stride, d, 1);
			p.dilation[d] = At(c.dilation, d, 1);
			p.pad_begin[d] = At(c.pad_begin, d, 0);
			p.pad_end[d] = At(c.pad_end, d, 0);
		}
		p.act = c.act;
		p.quant = c.quant;
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(yt, RefConv(p, x.host, wt.host, c.bias_dtype ? &bias.host : nullptr),
			       c.tol,
			       "CONV " + c.name + " -> y " + ShapeString(y) + " (packet at byte " +
				       std::to_string(offset) + ")");
	}
};

TEST_F(OpsConv, OneDimensionalStridePadDilation)
{
	Commands cmds;
	ConvCase c;
	c.name = "1-D, stride 2, dilation 2, pads 1 and 2, bias";
	c.x = {2, 3, 17};
	c.oc = 4;
	c.kernel = {3};
	c.stride = {2};
	c.dilation = {2};
	c.pad_begin = {1};
	c.pad_end = {2};
	c.bias_dtype = NPU_DTYPE_F32;
	Add(cmds, c);
	ConvCase k1 = c;
	k1.name = "1-D, kernel 1 (a per-position channel mix), 1 batch, prime length";
	k1.x = {1, 5, 13};
	k1.oc = 7;
	k1.kernel = {1};
	k1.stride = {};
	k1.dilation = {};
	k1.pad_begin = k1.pad_end = {};
	Add(cmds, k1);
	RunAndCheck(cmds);
}

TEST_F(OpsConv, TwoDimensionalGroupsBiasActivationEveryFloatDtype)
{
	Commands cmds;
	for (uint32_t dtype : kFloatDtypes) {
		for (uint32_t y_dtype : {dtype, uint32_t(NPU_DTYPE_F32)}) {
			ConvCase c;
			c.name = std::string("2-D groups 2, ") + DtypeName(dtype) + " -> " +
				 DtypeName(y_dtype) + ", asymmetric pads, RELU";
			c.x_dtype = dtype;
			c.y_dtype = y_dtype;
			c.bias_dtype = y_dtype == NPU_DTYPE_F32 ? NPU_DTYPE_F16 : dtype;
			c.x = {1, 6, 9, 11};
			c.oc = 4;
			c.kernel = {3, 2};
			c.groups = 2;
			c.stride = {2, 1};
			c.dilation = {1, 2};
			c.pad_begin = {1, 0};
			c.pad_end = {0, 1};
			c.act = Act(NPU_FN_RELU);
			c.tol = dtype == NPU_DTYPE_BF16 ? kGemmBF16 : kGemmF32;
			Add(cmds, c);
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsConv, ChannelsLastOperands)
{
	Commands cmds;
	ConvCase c;
	c.name = "x and y stored NHWC, w stored [k..., C, OC]";
	c.x = {2, 5, 7, 6};
	c.oc = 3;
	c.kernel = {3, 3};
	c.pad_begin = {1, 1};
	c.pad_end = {1, 1};
	c.bias_dtype = NPU_DTYPE_F32;
	c.act = Act(NPU_FN_LEAKY_RELU, 0.125f);
	c.x_layout = ChannelsLast(4);
	c.y_layout = ChannelsLast(4);
	c.w_layout.order = {2, 3, 1, 0};
	Add(cmds, c);
	RunAndCheck(cmds);
}

TEST_F(OpsConv, ThreeDimensional)
{
	Commands cmds;
	ConvCase c;
	c.name = "3-D, strides (1,2,1), pads, dilation (2,1,1)";
	c.x = {1, 2, 5, 6, 7};
	c.oc = 3;
	c.kernel = {2, 3, 2};
	c.stride = {1, 2, 1};
	c.dilation = {2, 1, 1};
	c.pad_begin = {1, 0, 1};
	c.pad_end = {0, 1, 1};
	c.bias_dtype = NPU_DTYPE_F32;
	c.act = Act(NPU_FN_SIGMOID);
	Add(cmds, c);
	RunAndCheck(cmds);
}

TEST_F(OpsConv, Depthwise)
{
	Commands cmds;
	ConvCase c;
	c.name = "depthwise 3x3, groups = C = 8, stride 2";
	c.x = {2, 8, 10, 9};
	c.oc = 8;
	c.groups = 8;
	c.kernel = {3, 3};
	c.stride = {2, 2};
	c.pad_begin = {1, 1};
	c.pad_end = {1, 1};
	c.bias_dtype = NPU_DTYPE_F32;
	c.act = Act(NPU_FN_CLIP, 0.0f, 6.0f);
	Add(cmds, c);
	ConvCase m = c;
	m.name = "channel multiplier 2: groups 4, C 4, OC 8";
	m.x = {1, 4, 6, 7};
	m.groups = 4;
	m.stride = {1, 1};
	Add(cmds, m);
	RunAndCheck(cmds);
}

TEST_F(OpsConv, Transposed)
{
	Commands cmds;
	ConvCase c;
	c.name = "transposed 1-D, stride 3, pad (1,2), output padding 2";
	c.transposed = true;
	c.x = {2, 3, 7};
	c.oc = 4;
	c.kernel = {4};
	c.stride = {3};
	c.pad_begin = {1};
	c.pad_end = {2};
	c.extra = {2};
	c.bias_dtype = NPU_DTYPE_F32;
	Add(cmds, c);

	ConvCase g;
	g.name = "transposed 2-D, groups 2, stride (2,1), dilation (1,2), output padding (1,0)";
	g.transposed = true;
	g.x = {1, 4, 5, 6};
	g.oc = 6;
	g.groups = 2;
	g.kernel = {3, 2};
	g.stride = {2, 1};
	g.dilation = {1, 2};
	g.pad_begin = {1, 0};
	g.pad_end = {0, 1};
	g.extra = {1, 0};
	g.bias_dtype = NPU_DTYPE_F32;
	g.act = Act(NPU_FN_TANH);
	Add(cmds, g);

	ConvCase d = g;
	d.name = "transposed 2-D, dilation 3 > stride 2: output padding 2 allowed, F16";
	d.x_dtype = NPU_DTYPE_F16;
	d.y_dtype = NPU_DTYPE_F16;
	d.bias_dtype = NPU_DTYPE_F16;
	d.groups = 1;
	d.stride = {2, 2};
	d.dilation = {3, 1};
	d.extra = {2, 1};
	d.act = {};
	Add(cmds, d);
	RunAndCheck(cmds);
}

TEST_F(OpsConv, EightBitWithZeroPointsAndRequantisation)
{
	struct EightBit {
		uint32_t x, w, bias, y;
		int32_t x_zero, w_zero, y_zero;
		float y_scale;
		uint32_t act;
		bool transposed;
	};
	const EightBit cases[] = {
		{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, NPU_DTYPE_I8, 128, 0, -5, 1.0f / 256,
		 NPU_FN_IDENTITY, false},
		{NPU_DTYPE_I8, NPU_DTYPE_I8, NPU_DTYPE_I32, NPU_DTYPE_U8, -7, 3, 20, 1.0f / 128,
		 NPU_FN_RELU, false},
		{NPU_DTYPE_U8, NPU_DTYPE_U8, NPU_DTYPE_I32, NPU_DTYPE_I32, 100, 120, 0, 0,
		 NPU_FN_IDENTITY, false},
		{NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_F32, NPU_DTYPE_F32, 0, 128, 0, 0,
		 NPU_FN_RELU, false},
		{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_NONE, NPU_DTYPE_I32, 10, -1, 0, 0,
		 NPU_FN_RELU, true},
	};
	Commands cmds;
	for (const EightBit &e : cases) {
		ConvCase c;
		c.name = std::string(DtypeName(e.x)) + " * " + DtypeName(e.w) + " + " +
			 DtypeName(e.bias) + " -> " + DtypeName(e.y) +
			 (e.transposed ? ", transposed" : "");
		c.x_dtype = e.x;
		c.w_dtype = e.w;
		c.bias_dtype = e.bias;
		c.y_dtype = e.y;
		c.x = {2, 4, 6, 7};
		c.oc = 6;
		c.groups = 2;
		c.kernel = {3, 2};
		c.stride = {1, 2};
		c.pad_begin = {1, 1};
		c.pad_end = {1, 0};
		c.transposed = e.transposed;
		c.lo = IntDtypeMin(e.x);
		c.hi = IntDtypeMax(e.x);
		c.w_lo = IntDtypeMin(e.w);
		c.w_hi = IntDtypeMax(e.w);
		c.act = Act(e.act);
		c.quant = {e.x_zero, e.w_zero, e.y_scale ? F32Bits(e.y_scale) : 0, e.y_zero};
		c.tol = e.y == NPU_DTYPE_F32 ? kEltwiseF32 : kExact;
		Add(cmds, c);
	}
	RunAndCheck(cmds);
}

// Above the firmware's parallel threshold: the (n, group) x output-channel
// space is spread over the engines.
TEST_F(OpsConv, SpreadOverEngines)
{
	Commands cmds;
	ConvCase c;
	c.name = "4 x 16 x 20 x 20 * 16 x 8 x 3 x 3 (3.7 MFLOP), groups 2, bias, SILU";
	c.x = {4, 16, 20, 20};
	c.oc = 16;
	c.groups = 2;
	c.kernel = {3, 3};
	c.pad_begin = {1, 1};
	c.pad_end = {1, 1};
	c.bias_dtype = NPU_DTYPE_F32;
	c.act = Act(NPU_FN_SILU);
	Add(cmds, c);
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
