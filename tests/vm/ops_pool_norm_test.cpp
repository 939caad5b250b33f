// POOL and NORM through driver, firmware and engines. Pools: max with
// indices, average with and without the padding counted, Lp, ceil mode and
// its overhang, dilation, 1-D/2-D/3-D, global pools, channels-last
// operands, every float dtype. Norms: softmax and log-softmax over one or
// several axes, layer, instance and batch normalisation with broadcast
// parameters, mixed input and output dtypes.
#include <numeric>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

struct PoolCase {
	std::string name;
	uint32_t mode = NPU_POOL_MAX;
	uint32_t dtype = NPU_DTYPE_F32;
	Shape x;
	std::vector<uint32_t> kernel, stride, dilation, pad_begin, pad_end;
	bool ceil = false;
	bool indices = false;
	uint32_t p = 0;
	Layout x_layout, y_layout;
};

uint32_t At(const std::vector<uint32_t> &v, size_t d, uint32_t fallback)
{
	return d < v.size() ? v[d] : fallback;
}

class OpsPool : public OpsTest
{
protected:
	// Distinct values (no ties for MAX), exact in dtype, shuffled.
	HostTensor DistinctValues(uint32_t dtype, const Shape &shape)
	{
		HostTensor t(dtype, shape);
		std::vector<int64_t> v(t.size());
		std::iota(v.begin(), v.end(), -int64_t(v.size() / 2));
		for (size_t i = v.size(); i > 1; i--)
			std::swap(v[i - 1], v[size_t(rng().Int(0, int64_t(i - 1)))]);
		for (uint64_t i = 0; i < t.size(); i++)
			t.real[i] = double(v[i]) / 8;
		return t;
	}

	void Add(Commands &cmds, const PoolCase &c)
	{
		const size_t spatial = c.x.size() - 2;
		Shape y{c.x[0], c.x[1]};
		for (size_t d = 0; d < spatial; d++) {
			auto out = c.ceil ? WindowOutExtentCeil : WindowOutExtent;
			y.push_back(out(c.x[2 + d], c.kernel[d], At(c.stride, d, 1),
					At(c.dilation, d, 1), At(c.pad_begin, d, 0),
					At(c.pad_end, d, 0)));
		}
		Operand x = c.mode == NPU_POOL_MAX
				    ? InputFrom(DistinctValues(c.dtype, c.x), c.x_layout)
				    : Input(c.dtype, c.x, -2, 2, c.x_layout);
		DevTensor yt = Output(c.dtype, y, c.y_layout);
		DevTensor idx;
		if (c.indices)
			idx = Output(NPU_DTYPE_I64, y);
		npu_pkt_pool p = PoolPacket(c.mode, c.kernel, x.dev, yt);
		for (size_t d = 0; d < spatial; d++) {
			p.stride[d] = At(c.stride, d, 1);
			p.dilation[d] = At(c.dilation, d, 1);
			p.pad_begin[d] = At(c.pad_begin, d, 0);
			p.pad_end[d] = At(c.pad_end, d, 0);
		}
		if (c.p)
			p.p = c.p;
		if (c.indices)
			p.indices = idx.desc;
		uint32_t offset = Emit(cmds, p);
		HostTensor ref_idx;
		Expected want = RefPool(p, x.host, c.indices ? &ref_idx : nullptr);
		std::string what = "POOL " + c.name + " -> " + ShapeString(y) +
				   " (packet at byte " + std::to_string(offset) + ")";
		ExpectAfterRun(yt, want, c.mode == NPU_POOL_MAX ? kExact : kEltwiseF32, what);
		if (c.indices)
			ExpectAfterRun(idx, Expected{ref_idx, {}}, kExact, what + ", indices");
	}
};

TEST_F(OpsPool, MaxWithIndicesDilationFloorAndCeilMode)
{
	Commands cmds;
	PoolCase c;
	c.x = {2, 3, 11, 13};
	c.kernel = {3, 2};
	c.stride = {2, 3};
	c.dilation = {1, 2};
	c.pad_begin = {1, 1};
	c.pad_end = {1, 0};
	c.indices = true;
	c.name = "max 3x2, stride (2,3), dilation (1,2), floor";
	Add(cmds, c);
	c.ceil = true;
	c.name = "max 3x2, stride (2,3), dilation (1,2), ceil (one more column)";
	Add(cmds, c);
	RunAndCheck(cmds);
}

// The last window in width starts inside pad_end's column and overhangs
// past it: AVG divides by the elements inside x, AVG_PAD also counts the
// padding column but never the overhang.
TEST_F(OpsPool, AverageCountsPaddingButNotTheCeilOverhang)
{
	Commands cmds;
	for (uint32_t mode : {NPU_POOL_AVG, NPU_POOL_AVG_PAD}) {
		for (bool ceil : {false, true}) {
			PoolCase c;
			c.mode = mode;
			c.x = {1, 2, 7, 8};
			c.kernel = {3, 3};
			c.stride = {2, 2};
			c.pad_begin = {1, 1};
			c.pad_end = {1, 1};
			c.ceil = ceil;
			c.name = std::string(mode == NPU_POOL_AVG ? "avg" : "avg_pad") +
				 (ceil ? ", ceil" : ", floor");
			Add(cmds, c);
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsPool, LpNorms)
{
	Commands cmds;
	for (uint32_t p : {1u, 2u, 3u}) {
		PoolCase c;
		c.mode = NPU_POOL_LP;
		c.p = p;
		c.x = {1, 3, 6, 5};
		c.kernel = {2, 3};
		c.stride = {1, 2};
		c.pad_begin = {0, 1};
		c.pad_end = {1, 1};
		c.name = "lp p=" + std::to_string(p);
		Add(cmds, c);
	}
	RunAndCheck(cmds);
}

TEST_F(OpsPool, OneAndThreeDimensional)
{
	Commands cmds;
	PoolCase one;
	one.name = "1-D max, kernel 4, stride 3, pads (2,1), indices";
	one.x = {2, 4, 15};
	one.kernel = {4};
	one.stride = {3};
	one.pad_begin = {2};
	one.pad_end = {1};
	one.indices = true;
	Add(cmds, one);
	PoolCase three;
	three.name = "3-D avg_pad, kernel (2,2,3), stride (2,1,2), ceil";
	three.mode = NPU_POOL_AVG_PAD;
	three.x = {1, 2, 5, 5, 6};
	three.kernel = {2, 2, 3};
	three.stride = {2, 1, 2};
	three.pad_begin = {0, 1, 1};
	three.pad_end = {1, 0, 1};
	three.ceil = true;
	Add(cmds, three);
	PoolCase three_max = three;
	three_max.name = "3-D max, dilation (1,2,1), indices";
	three_max.mode = NPU_POOL_MAX;
	three_max.dilation = {1, 2, 1};
	three_max.ceil = false;
	three_max.indices = true;
	Add(cmds, three_max);
	RunAndCheck(cmds);
}

TEST_F(OpsPool, HalfPrecision)
{
	Commands cmds;
	for (uint32_t dtype : {NPU_DTYPE_F16, NPU_DTYPE_BF16}) {
		for (uint32_t mode : {NPU_POOL_MAX, NPU_POOL_AVG, NPU_POOL_LP}) {
			PoolCase c;
			c.dtype = dtype;
			c.mode = mode;
			c.x = {1, 2, 9, 10}; // few enough for distinct BF16 values
			c.kernel = {3, 3};
			c.stride = {2, 2};
			c.pad_begin = {1, 0};
			c.pad_end = {1, 1};
			c.ceil = true;
			c.indices = mode == NPU_POOL_MAX;
			c.name = std::string(DtypeName(dtype)) + " mode " + std::to_string(mode);
			Add(cmds, c);
		}
	}
	RunAndCheck(cmds);
}

TEST_F(OpsPool, GlobalPoolsAndChannelsLast)
{
	Commands cmds;
	for (uint32_t mode : {NPU_POOL_MAX, NPU_POOL_AVG, NPU_POOL_LP}) {
		PoolCase c;
		c.mode = mode;
		c.x = {2, 3, 5, 7};
		c.kernel = {5, 7};
		c.name = "global, mode " + std::to_string(mode);
		Add(cmds, c);
	}
	PoolCase nhwc;
	nhwc.name = "max 2x2 stride 2, x and y channels-last";
	nhwc.x = {2, 5, 6, 8};
	nhwc.kernel = {2, 2};
	nhwc.stride = {2, 2};
	nhwc.indices = true;
	nhwc.x_layout = ChannelsLast(4);
	nhwc.y_layout = ChannelsLast(4);
	Add(cmds, nhwc);
	RunAndCheck(cmds);
}

// ---- NORM ------------------------------------------------------------------------

class OpsNorm : public OpsTest
{
protected:
	struct Params {
		const Operand *scale = nullptr, *bias = nullptr, *mean = nullptr, *var = nullptr;
	};

	void Add(Commands &cmds, uint32_t fn, uint32_t axes, const Operand &x, const DevTensor &y,
		 Params params, const std::string &name, float epsilon = 1e-5f)
	{
		npu_pkt_norm p = NormPacket(fn, axes, x.dev, y);
		if (fn == NPU_NORM_NORMALIZE || fn == NPU_NORM_BATCH)
			p.epsilon = F32Bits(epsilon);
		if (params.scale)
			p.scale = params.scale->dev.desc;
		if (params.bias)
			p.bias = params.bias->dev.desc;
		if (params.mean)
			p.mean = params.mean->dev.desc;
		if (params.var)
			p.var = params.var->dev.desc;
		auto host = [](const Operand *o) { return o ? &o->host : nullptr; };
		uint32_t offset = Emit(cmds, p);
		ExpectAfterRun(y,
			       RefNorm(p, x.host, host(params.scale), host(params.bias),
				       host(params.mean), host(params.var)),
			       kNormF32,
			       "NORM " + name + " (packet at byte " + std::to_string(offset) + ")");
	}
};

TEST_F(OpsNorm, SoftmaxAndLogSoftmaxOverOneOrSeveralAxes)
{
	Commands cmds;
	for (uint32_t dtype : kFloatDtypes) {
		Operand x = Input(dtype, {3, 4, 17}, -4, 4);
		for (uint32_t fn : {NPU_NORM_SOFTMAX, NPU_NORM_LOG_SOFTMAX}) {
			for (uint32_t axes : {0b100u, 0b110u, 0b001u}) {
				DevTensor y = Output(dtype, {3, 4, 17});
				Add(cmds, fn, axes, x, y, {},
				    std::string(DtypeName(dtype)) + " fn " + std::to_string(fn) +
					    " axes " + std::to_string(axes));
			}
		}
	}
	// F16 in, F32 out; transposed input, reversed output
	Layout t = Transposed(3);
	Operand xt = Input(NPU_DTYPE_F16, {5, 6, 7}, -3, 3, t);
	Layout rev;
	rev.reversed = 0b101;
	DevTensor y32 = Output(NPU_DTYPE_F32, {5, 6, 7}, rev);
	Add(cmds, NPU_NORM_SOFTMAX, 0b100, xt, y32, {}, "F16 transposed -> F32 reversed");
	RunAndCheck(cmds);
}

TEST_F(OpsNorm, LayerNormalisation)
{
	Commands cmds;
	Layout over_rows;
	over_rows.broadcast = 0b001; // [6, 10] parameters for every leading index
	Operand x = Input(NPU_DTYPE_F32, {4, 6, 10}, -3, 5);
	Operand scale = Input(NPU_DTYPE_F32, {4, 6, 10}, 0.5, 1.5, over_rows);
	Operand bias = Input(NPU_DTYPE_F32, {4, 6, 10}, -1, 1, over_rows);
	DevTensor y = Output(NPU_DTYPE_F32, {4, 6, 10});
	Add(cmds, NPU_NORM_NORMALIZE, 0b110, x, y, {&scale, &bias}, "layer norm over [6, 10]");
	DevTensor plain = Output(NPU_DTYPE_F32, {4, 6, 10});
	Add(cmds, NPU_NORM_NORMALIZE, 0b100, x, plain, {}, "normalize last axis, no scale/bias",
	    1e-3f);
	DevTensor scaled = Output(NPU_DTYPE_BF16, {4, 6, 10});
	Add(cmds, NPU_NORM_NORMALIZE, 0b100, x, scaled, {&scale, nullptr},
	    "normalize last axis, scale only, BF16 out");
	Operand x16 = Input(NPU_DTYPE_F16, {4, 6, 10}, -2, 2);
	DevTensor y16 = Output(NPU_DTYPE_F16, {4, 6, 10});
	Add(cmds, NPU_NORM_NORMALIZE, 0b110, x16, y16, {&scale, &bias}, "F16 layer norm");
	RunAndCheck(cmds);
}

TEST_F(OpsNorm, InstanceAndBatchNormalisation)
{
	Commands cmds;
	const Shape shape{2, 3, 5, 7};
	Layout per_channel;
	per_channel.broadcast = 0b1101; // a [C] vector along every other dimension
	Operand x = Input(NPU_DTYPE_F32, shape, -2, 3);
	Operand scale = Input(NPU_DTYPE_F32, shape, 0.5, 2, per_channel);
	Operand bias = Input(NPU_DTYPE_F32, shape, -1, 1, per_channel);
	Operand mean = Input(NPU_DTYPE_F32, shape, -0.5, 0.5, per_channel);
	Operand var = Input(NPU_DTYPE_F32, shape, 0.5, 2, per_channel);
	DevTensor inst = Output(NPU_DTYPE_F32, shape);
	Add(cmds, NPU_NORM_NORMALIZE, 0b1100, x, inst, {&scale, &bias}, "instance norm");
	DevTensor batch = Output(NPU_DTYPE_F32, shape);
	Add(cmds, NPU_NORM_BATCH, 0, x, batch, {&scale, &bias, &mean, &var}, "batch norm", 1e-3f);
	Operand xh = Input(NPU_DTYPE_BF16, shape, -2, 3, ChannelsLast(4));
	DevTensor batch_h = Output(NPU_DTYPE_F16, shape, ChannelsLast(4));
	Add(cmds, NPU_NORM_BATCH, 0, xh, batch_h, {&scale, &bias, &mean, &var},
	    "batch norm BF16 channels-last -> F16");
	RunAndCheck(cmds);
}

} // namespace
} // namespace npu_test::ops
