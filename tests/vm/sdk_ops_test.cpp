// The op API (npu/ops.hpp, npu/npu_ops.h) against the real driver,
// firmware and engines: plans launched with device pointers (offsets into
// allocations, strided, reversed and broadcast operands, ranks above the
// packet's six that a plan splits) and their results compared with the
// host references of op_reference.h.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "npu/npu.h"
#include "npu/npu.hpp"
#include "npu/ops.hpp"
#include "op_reference.h"

namespace
{

using namespace npu_test::ops;
using npu::ops::DType;
using npu::ops::OpDesc;
using npu::ops::Plan;
using npu::ops::TensorDesc;
using std::chrono::seconds;

// One tensor in device memory: its descriptor, pointer and host view.
struct Tensor {
	TensorDesc desc;
	void *ptr = nullptr;	 // device address of element [0, ...]
	uint8_t *host = nullptr; // the same element in the host mapping
};

std::vector<int64_t> I64(const Shape &s)
{
	return {s.begin(), s.end()};
}

// Byte offsets of every logical element (row-major) from element [0, ...].
std::vector<int64_t> Offsets(const TensorDesc &d)
{
	const size_t es = npu::ops::dtype_size(d.dtype);
	std::vector<int64_t> strides = d.strides;
	if (strides.empty()) {
		strides.assign(d.shape.size(), 1);
		for (size_t i = d.shape.size(); i-- > 1;)
			strides[i - 1] = strides[i] * d.shape[i];
	}
	std::vector<int64_t> out(d.elements());
	std::vector<int64_t> idx(d.shape.size(), 0);
	for (auto &o : out) {
		int64_t off = 0;
		for (size_t k = 0; k < idx.size(); k++)
			off += idx[k] * strides[k];
		o = off * int64_t(es);
		for (size_t k = idx.size(); k-- > 0;) {
			if (++idx[k] < d.shape[k])
				break;
			idx[k] = 0;
		}
	}
	return out;
}

void StoreElement(uint8_t *at, uint32_t dtype, const HostTensor &t, uint64_t i)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		float f = float(t.Real(i));
		std::memcpy(at, &f, 4);
		break;
	}
	case NPU_DTYPE_F16: {
		uint16_t h = EncodeF16(t.Real(i));
		std::memcpy(at, &h, 2);
		break;
	}
	case NPU_DTYPE_BF16: {
		uint16_t h = EncodeBF16(t.Real(i));
		std::memcpy(at, &h, 2);
		break;
	}
	case NPU_DTYPE_I8:
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		*at = uint8_t(t.Int(i));
		break;
	case NPU_DTYPE_I32: {
		int32_t v = int32_t(t.Int(i));
		std::memcpy(at, &v, 4);
		break;
	}
	case NPU_DTYPE_I64: {
		int64_t v = t.Int(i);
		std::memcpy(at, &v, 8);
		break;
	}
	}
}

void LoadElement(const uint8_t *at, uint32_t dtype, HostTensor &t, uint64_t i)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		float f;
		std::memcpy(&f, at, 4);
		t.SetReal(i, f);
		break;
	}
	case NPU_DTYPE_F16: {
		uint16_t h;
		std::memcpy(&h, at, 2);
		t.SetReal(i, DecodeF16(h));
		break;
	}
	case NPU_DTYPE_BF16: {
		uint16_t h;
		std::memcpy(&h, at, 2);
		t.SetReal(i, DecodeBF16(h));
		break;
	}
	case NPU_DTYPE_I8:
		t.SetInt(i, int8_t(*at));
		break;
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		t.SetInt(i, *at);
		break;
	case NPU_DTYPE_I32: {
		int32_t v;
		std::memcpy(&v, at, 4);
		t.SetInt(i, v);
		break;
	}
	case NPU_DTYPE_I64: {
		int64_t v;
		std::memcpy(&v, at, 8);
		t.SetInt(i, v);
		break;
	}
	}
}

// A logical tensor repeated along broadcast dimensions (numpy rules).
HostTensor Expand(const HostTensor &t, const Shape &shape)
{
	HostTensor r(t.dtype, shape);
	const size_t lead = shape.size() - t.shape.size();
	std::vector<uint64_t> idx(shape.size(), 0);
	for (uint64_t i = 0; i < r.size(); i++) {
		uint64_t src = 0;
		for (size_t k = 0; k < t.shape.size(); k++)
			src = src * t.shape[k] + (t.shape[k] == 1 ? 0 : idx[lead + k]);
		if (t.is_float())
			r.SetReal(i, t.real[src]);
		else
			r.SetInt(i, t.ints[src]);
		for (size_t k = shape.size(); k-- > 0;) {
			if (++idx[k] < shape[k])
				break;
			idx[k] = 0;
		}
	}
	return r;
}

// A descriptor for the reference's packet: dtype and shape only.
npu_tensor RefDesc(uint32_t dtype, const Shape &shape)
{
	if (shape.size() > NPU_MAX_RANK)
		throw std::invalid_argument("RefDesc: rank above NPU_MAX_RANK");
	npu_tensor d{};
	d.dtype = dtype;
	d.rank = uint32_t(shape.size());
	for (size_t i = 0; i < shape.size(); i++)
		d.shape[i] = uint32_t(shape[i]);
	return d;
}

uint32_t Bits(float f)
{
	uint32_t b;
	std::memcpy(&b, &f, 4);
	return b;
}

class SdkOps : public ::testing::Test
{
protected:
	void SetUp() override
	{
		const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
		rng_ = Rng(std::hash<std::string>{}(info->name()));
		caps_ = npu::ops::DeviceOps::from_device(device_);
		if (caps_.packet_version < 2)
			GTEST_FAIL() << "the device does not run operations";
	}

	// Storage for a tensor of shape with the given strides (empty:
	// contiguous), placed after a gap so that pointers are offsets
	// into the allocation. Filled with 0xa5.
	Tensor Alloc(DType dtype, const Shape &shape, std::vector<int64_t> strides = {})
	{
		Tensor t;
		t.desc = TensorDesc::strided(dtype, I64(shape), std::move(strides));
		const auto offsets = Offsets(t.desc);
		int64_t lo = 0, hi = 0;
		for (int64_t o : offsets) {
			lo = std::min(lo, o);
			hi = std::max(hi, o);
		}
		const size_t es = npu::ops::dtype_size(dtype);
		used_ = (used_ + 64 + 63) & ~size_t{63}; // a gap, then 64-byte aligned
		const size_t base = used_ + size_t(-lo);
		used_ = base + size_t(hi) + es;
		if (used_ > arena_.size())
			throw std::runtime_error("test arena too small");
		std::memset(static_cast<uint8_t *>(arena_.host_ptr()) + base + lo, 0xa5,
			    size_t(hi - lo) + es);
		t.ptr = reinterpret_cast<void *>(arena_.device_addr() + base);
		t.host = static_cast<uint8_t *>(arena_.host_ptr()) + base;
		return t;
	}

	void Write(const Tensor &t, const HostTensor &v)
	{
		const auto offsets = Offsets(t.desc);
		for (uint64_t i = 0; i < offsets.size(); i++)
			StoreElement(t.host + offsets[i], uint32_t(t.desc.dtype), v, i);
	}

	HostTensor Read(const Tensor &t)
	{
		Shape shape(t.desc.shape.begin(), t.desc.shape.end());
		HostTensor v(uint32_t(t.desc.dtype), shape);
		const auto offsets = Offsets(t.desc);
		for (uint64_t i = 0; i < offsets.size(); i++)
			LoadElement(t.host + offsets[i], uint32_t(t.desc.dtype), v, i);
		return v;
	}

	// A random input with the given layout, written to the device.
	std::pair<Tensor, HostTensor> Input(DType dtype, const Shape &shape, double lo, double hi,
					    std::vector<int64_t> strides = {})
	{
		Tensor t = Alloc(dtype, shape, std::move(strides));
		HostTensor v = RandomTensor(uint32_t(dtype), shape, rng_, lo, hi);
		Write(t, v);
		return {t, v};
	}

	void Run(const Plan &plan, std::initializer_list<const void *> ptrs)
	{
		plan.launch(stream_, ptrs);
		stream_.synchronize(seconds(60));
	}

	npu::Device device_{0};
	npu::Stream stream_{device_};
	npu::Buffer arena_{device_, size_t{8} << 20};
	size_t used_ = 0;
	Rng rng_{0};
	npu::ops::DeviceOps caps_;
};

TEST_F(SdkOps, GemmTransposedOperandsBiasRowAndActivation)
{
	const uint64_t M = 7, K = 13, N = 5;
	auto [a, av] = Input(DType::f32, {M, K}, -1, 1);
	// b [K, N] stored transposed: strides {1, K}.
	auto [b, bv] = Input(DType::f32, {K, N}, -1, 1, {1, int64_t(K)});
	auto [c, cv] = Input(DType::f32, {N}, -1, 1);
	Tensor y = Alloc(DType::f32, {M, N});
	OpDesc op = OpDesc::gemm(0.5f, 2.0f, {NPU_FN_LEAKY_RELU, 0.1f, 0});
	Plan plan(device_, op, {a.desc, b.desc, c.desc, y.desc});
	Run(plan, {a.ptr, b.ptr, c.ptr, y.ptr});

	npu_pkt_gemm ref{};
	ref.alpha = Bits(0.5f);
	ref.beta = Bits(2.0f);
	ref.act = {NPU_FN_LEAKY_RELU, Bits(0.1f), 0, 0};
	ref.y = RefDesc(NPU_DTYPE_F32, {M, N});
	const HostTensor cfull = Expand(cv, {M, N});
	EXPECT_TRUE(MatchesReference(Read(y), RefGemm(ref, av, bv, &cfull), kGemmF32));
}

TEST_F(SdkOps, GemmBatchedBf16WithBroadcastA)
{
	// y [3, 2, 4, 6]: a [4, 8] shared by every batch, b batched.
	auto [a, av] = Input(DType::bf16, {4, 8}, -1, 1);
	auto [b, bv] = Input(DType::bf16, {3, 2, 8, 6}, -1, 1);
	Tensor y = Alloc(DType::f32, {3, 2, 4, 6});
	Plan plan(device_, OpDesc::gemm(), {a.desc, b.desc, TensorDesc{}, y.desc});
	Run(plan, {a.ptr, b.ptr, nullptr, y.ptr});
	npu_pkt_gemm ref{};
	ref.alpha = Bits(1.0f);
	ref.beta = Bits(1.0f);
	ref.y = RefDesc(NPU_DTYPE_F32, {3, 2, 4, 6});
	EXPECT_TRUE(MatchesReference(Read(y), RefGemm(ref, Expand(av, {3, 2, 4, 8}), bv, nullptr),
				     kGemmBF16));
}

TEST_F(SdkOps, GemmInt8Requantised)
{
	auto [a, av] = Input(DType::i8, {5, 9}, -20, 20);
	auto [b, bv] = Input(DType::u8, {9, 3}, 0, 40);
	Tensor y = Alloc(DType::i8, {5, 3});
	OpDesc op = OpDesc::gemm();
	op.quant = {2, 7, 0.01f, -3};
	Plan plan(device_, op, {a.desc, b.desc, TensorDesc{}, y.desc});
	Run(plan, {a.ptr, b.ptr, nullptr, y.ptr});
	npu_pkt_gemm ref{};
	ref.alpha = Bits(1.0f);
	ref.beta = Bits(1.0f);
	ref.quant = {2, 7, Bits(0.01f), -3};
	ref.y = RefDesc(NPU_DTYPE_I8, {5, 3});
	EXPECT_TRUE(MatchesReference(Read(y), RefGemm(ref, av, bv, nullptr), kExact));
}

TEST_F(SdkOps, UnaryOnEightStridedDimensionsSplitsIntoPackets)
{
	// Rows padded in every dimension: nothing merges, so the plan runs
	// the two outermost dimensions as a loop of packets.
	const Shape shape = {2, 3, 2, 2, 3, 2, 2, 3};
	std::vector<int64_t> strides(shape.size());
	int64_t s = 1;
	for (size_t i = shape.size(); i-- > 0;) {
		strides[i] = s;
		s = s * int64_t(shape[i]) + 1;
	}
	auto [x, xv] = Input(DType::f32, shape, -3, 3, strides);
	Tensor y = Alloc(DType::f32, shape, strides);
	Plan plan(device_, OpDesc::unary(NPU_FN_TANH), {x.desc, y.desc});
	EXPECT_EQ(plan.packet_count(), 6u);
	Run(plan, {x.ptr, y.ptr});
	// RefUnary takes packet descriptors (six dimensions at most).
	Expected want{HostTensor(NPU_DTYPE_F32, shape), {}};
	for (uint64_t i = 0; i < xv.size(); i++)
		want.value.real[i] = ApplyFn(NPU_FN_TANH, 0, 0, xv.real[i]);
	EXPECT_TRUE(MatchesReference(Read(y), want, kEltwiseF32));
}

TEST_F(SdkOps, UnaryReversedAndSlicedInput)
{
	// x walks a row backwards (negative stride) and every other column.
	const Shape shape = {5, 6};
	auto [x, xv] = Input(DType::f16, shape, -4, 4, {-12, 2});
	Tensor y = Alloc(DType::f16, shape);
	Plan plan(device_, OpDesc::unary(NPU_FN_ABS), {x.desc, y.desc});
	Run(plan, {x.ptr, y.ptr});
	npu_pkt_unary ref{};
	ref.act = {NPU_FN_ABS, 0, 0, 0};
	ref.y = RefDesc(NPU_DTYPE_F16, shape);
	EXPECT_TRUE(MatchesReference(Read(y), RefUnary(ref, xv), kExact));
}

TEST_F(SdkOps, BinaryBroadcastsAndCompares)
{
	auto [a, av] = Input(DType::i32, {4, 1}, -50, 50);
	auto [b, bv] = Input(DType::i32, {5}, -50, 50);
	Tensor sum = Alloc(DType::i32, {4, 5});
	Tensor less = Alloc(DType::boolean, {4, 5});
	Plan add(device_, OpDesc::binary(NPU_BIN_ADD), {a.desc, b.desc, TensorDesc{}, sum.desc});
	Plan cmp(device_, OpDesc::binary(NPU_BIN_LESS), {a.desc, b.desc, TensorDesc{}, less.desc});
	add.launch(stream_, {a.ptr, b.ptr, nullptr, sum.ptr});
	cmp.launch(stream_, {a.ptr, b.ptr, nullptr, less.ptr});
	stream_.synchronize(seconds(60));
	const HostTensor ae = Expand(av, {4, 5}), be = Expand(bv, {4, 5});
	npu_pkt_binary ref{};
	ref.fn = NPU_BIN_ADD;
	ref.y = RefDesc(NPU_DTYPE_I32, {4, 5});
	EXPECT_TRUE(MatchesReference(Read(sum), RefBinary(ref, ae, be, nullptr), kExact));
	ref.fn = NPU_BIN_LESS;
	ref.y = RefDesc(NPU_DTYPE_BOOL, {4, 5});
	EXPECT_TRUE(MatchesReference(Read(less), RefBinary(ref, ae, be, nullptr), kExact));
}

TEST_F(SdkOps, BinaryBroadcastOverSevenDimensions)
{
	// Alternating broadcast patterns: no two neighbours merge, so the
	// plan splits the outermost dimension into two packets.
	const Shape ys = {2, 3, 2, 3, 2, 3, 2};
	auto [a, av] = Input(DType::f32, {2, 1, 2, 1, 2, 1, 2}, -1, 1);
	auto [b, bv] = Input(DType::f32, {3, 1, 3, 1, 3, 1}, -1, 1);
	Tensor y = Alloc(DType::f32, ys);
	Plan plan(device_, OpDesc::binary(NPU_BIN_SUB), {a.desc, b.desc, TensorDesc{}, y.desc});
	EXPECT_EQ(plan.packet_count(), 2u);
	Run(plan, {a.ptr, b.ptr, nullptr, y.ptr});
	const HostTensor ae = Expand(av, ys), be = Expand(bv, ys);
	Expected want{HostTensor(NPU_DTYPE_F32, ys), {}};
	for (uint64_t i = 0; i < want.value.size(); i++)
		want.value.real[i] = RoundToDtype(ae.real[i] - be.real[i], NPU_DTYPE_F32);
	EXPECT_TRUE(MatchesReference(Read(y), want, kExact));
}

TEST_F(SdkOps, SelectWithBroadcastCondition)
{
	auto [a, av] = Input(DType::f32, {3, 4}, -1, 1);
	auto [b, bv] = Input(DType::f32, {3, 4}, -1, 1);
	auto [c, cv] = Input(DType::boolean, {4}, 0, 1);
	Tensor y = Alloc(DType::f32, {3, 4});
	Plan plan(device_, OpDesc::binary(NPU_BIN_SELECT), {a.desc, b.desc, c.desc, y.desc});
	Run(plan, {a.ptr, b.ptr, c.ptr, y.ptr});
	npu_pkt_binary ref{};
	ref.fn = NPU_BIN_SELECT;
	ref.y = RefDesc(NPU_DTYPE_F32, {3, 4});
	const HostTensor ce = Expand(cv, {3, 4});
	EXPECT_TRUE(MatchesReference(Read(y), RefBinary(ref, av, bv, &ce), kExact));
}

TEST_F(SdkOps, ReduceWithoutKeptDimensionsAndArgmax)
{
	const Shape xs = {3, 4, 5, 6};
	auto [x, xv] = Input(DType::f32, xs, -2, 2);
	Tensor y = Alloc(DType::f32, {3, 6}); // axes 1 and 2 dropped
	Plan sum(device_, OpDesc::reduce(NPU_RED_SUM, 0b0110), {x.desc, y.desc});
	Tensor arg = Alloc(DType::i64, {3, 4, 1, 6});
	Plan argmax(device_, OpDesc::reduce(NPU_RED_ARGMAX, 0b0100), {x.desc, arg.desc});
	sum.launch(stream_, {x.ptr, y.ptr});
	argmax.launch(stream_, {x.ptr, arg.ptr});
	stream_.synchronize(seconds(60));
	npu_pkt_reduce ref{};
	ref.fn = NPU_RED_SUM;
	ref.axes = 0b0110;
	ref.y = RefDesc(NPU_DTYPE_F32, {3, 1, 1, 6});
	Expected want = RefReduce(ref, xv);
	want.value.shape = {3, 6};
	EXPECT_TRUE(MatchesReference(Read(y), want, kReduceF32));
	ref.fn = NPU_RED_ARGMAX;
	ref.axes = 0b0100;
	ref.y = RefDesc(NPU_DTYPE_I64, {3, 4, 1, 6});
	EXPECT_TRUE(MatchesReference(Read(arg), RefReduce(ref, xv), kExact));
}

TEST_F(SdkOps, SoftmaxAndLayerNorm)
{
	const Shape xs = {4, 3, 10};
	auto [x, xv] = Input(DType::f32, xs, -3, 3);
	auto [g, gv] = Input(DType::f32, {10}, 0.5, 1.5);
	auto [bb, bv] = Input(DType::f32, {10}, -1, 1);
	Tensor sm = Alloc(DType::f32, xs), ln = Alloc(DType::f32, xs);
	const TensorDesc none;
	Plan softmax(device_, OpDesc::norm(NPU_NORM_SOFTMAX, 0b100),
		     {x.desc, none, none, none, none, sm.desc});
	Plan layer(device_, OpDesc::norm(NPU_NORM_NORMALIZE, 0b100, 1e-5f),
		   {x.desc, g.desc, bb.desc, none, none, ln.desc});
	softmax.launch(stream_, {x.ptr, nullptr, nullptr, nullptr, nullptr, sm.ptr});
	layer.launch(stream_, {x.ptr, g.ptr, bb.ptr, nullptr, nullptr, ln.ptr});
	stream_.synchronize(seconds(60));
	npu_pkt_norm ref{};
	ref.fn = NPU_NORM_SOFTMAX;
	ref.axes = 0b100;
	ref.y = RefDesc(NPU_DTYPE_F32, xs);
	EXPECT_TRUE(MatchesReference(Read(sm), RefNorm(ref, xv, nullptr, nullptr, nullptr, nullptr),
				     kNormF32));
	ref.fn = NPU_NORM_NORMALIZE;
	ref.epsilon = Bits(1e-5f);
	const HostTensor ge = Expand(gv, xs), be = Expand(bv, xs);
	EXPECT_TRUE(
		MatchesReference(Read(ln), RefNorm(ref, xv, &ge, &be, nullptr, nullptr), kNormF32));
}

TEST_F(SdkOps, ConvWithBiasAndMaxPoolWithIndices)
{
	auto [x, xv] = Input(DType::f32, {2, 4, 9, 8}, -1, 1);
	auto [w, wv] = Input(DType::f32, {6, 2, 3, 3}, -1, 1);
	auto [bias, biasv] = Input(DType::f32, {6}, -1, 1);
	OpDesc conv = OpDesc::conv(2, {NPU_FN_RELU, 0, 0});
	conv.stride = {2, 1, 1};
	conv.pad_begin = {1, 1, 0};
	conv.pad_end = {1, 1, 0};
	Tensor y = Alloc(DType::f32, {2, 6, 5, 8});
	Plan cp(device_, conv, {x.desc, w.desc, bias.desc, y.desc});
	OpDesc pool = OpDesc::pool(NPU_POOL_MAX, {3, 2, 0});
	pool.stride = {2, 2, 1};
	Tensor py = Alloc(DType::f32, {2, 4, 4, 4}), pi = Alloc(DType::i64, {2, 4, 4, 4});
	Plan pp(device_, pool, {x.desc, py.desc, pi.desc});
	cp.launch(stream_, {x.ptr, w.ptr, bias.ptr, y.ptr});
	pp.launch(stream_, {x.ptr, py.ptr, pi.ptr});
	stream_.synchronize(seconds(60));

	npu_pkt_conv cref{};
	cref.groups = 2;
	cref.spatial = 2;
	cref.stride[0] = 2;
	cref.stride[1] = 1;
	cref.dilation[0] = cref.dilation[1] = 1;
	cref.pad_begin[0] = cref.pad_begin[1] = 1;
	cref.pad_end[0] = cref.pad_end[1] = 1;
	cref.act = {NPU_FN_RELU, 0, 0, 0};
	cref.y = RefDesc(NPU_DTYPE_F32, {2, 6, 5, 8});
	EXPECT_TRUE(MatchesReference(Read(y), RefConv(cref, xv, wv, &biasv), kGemmF32));

	npu_pkt_pool pref{};
	pref.mode = NPU_POOL_MAX;
	pref.spatial = 2;
	pref.kernel[0] = 3;
	pref.kernel[1] = 2;
	pref.stride[0] = pref.stride[1] = 2;
	pref.dilation[0] = pref.dilation[1] = 1;
	pref.y = RefDesc(NPU_DTYPE_F32, {2, 4, 4, 4});
	HostTensor want_idx;
	EXPECT_TRUE(MatchesReference(Read(py), RefPool(pref, xv, &want_idx), kExact));
	EXPECT_TRUE(MatchesReference(Read(pi), Expected{want_idx, {}}, kExact));
}

TEST_F(SdkOps, CopyPadGatherAndCast)
{
	// Transpose by a plain copy of a strided view.
	auto [x, xv] = Input(DType::i32, {3, 5}, -100, 100);
	TensorDesc xt = TensorDesc::strided(DType::i32, {5, 3}, {1, 5});
	Tensor t = Alloc(DType::i32, {5, 3});
	Plan transpose(device_, OpDesc::tensor_copy(), {xt, t.desc});
	// Constant padding: y [5, 7] with x at (1, 2), value 7.
	OpDesc pad = OpDesc::tensor_copy(NPU_COPY_PAD_CONSTANT);
	pad.copy_offset = {1, 2};
	pad.pad_value = 7;
	Tensor p = Alloc(DType::i32, {5, 7});
	Plan padp(device_, pad, {x.desc, p.desc});
	// Gather rows of x.
	HostTensor iv(NPU_DTYPE_I64, {4});
	iv.ints = {2, 0, -1, 1};
	Tensor idx = Alloc(DType::i64, {4});
	Write(idx, iv);
	Tensor g = Alloc(DType::i32, {4, 5});
	Plan gather(device_, OpDesc::gather(NPU_GATHER_TAKE, 0), {x.desc, idx.desc, g.desc});
	// Cast to f16 into every other element of a wider buffer.
	Tensor c = Alloc(DType::f16, {3, 5}, {10, 2});
	Plan cast(device_, OpDesc::cast(), {x.desc, c.desc});
	transpose.launch(stream_, {x.ptr, t.ptr});
	padp.launch(stream_, {x.ptr, p.ptr});
	gather.launch(stream_, {x.ptr, idx.ptr, g.ptr});
	cast.launch(stream_, {x.ptr, c.ptr});
	stream_.synchronize(seconds(60));

	HostTensor tv(NPU_DTYPE_I32, {5, 3});
	for (uint64_t i = 0; i < 5; i++)
		for (uint64_t j = 0; j < 3; j++)
			tv.ints[i * 3 + j] = xv.ints[j * 5 + i];
	EXPECT_TRUE(MatchesReference(Read(t), Expected{tv, {}}, kExact));
	npu_pkt_tensor_copy cref{};
	cref.mode = NPU_COPY_PAD_CONSTANT;
	cref.pad_value = 7;
	cref.pad_begin[0] = 1;
	cref.pad_begin[1] = 2;
	cref.y = RefDesc(NPU_DTYPE_I32, {5, 7});
	EXPECT_TRUE(MatchesReference(Read(p), RefTensorCopy(cref, xv), kExact));
	npu_pkt_gather gref{};
	gref.mode = NPU_GATHER_TAKE;
	gref.y = RefDesc(NPU_DTYPE_I32, {4, 5});
	EXPECT_TRUE(MatchesReference(Read(g), RefGather(gref, xv, iv), kExact));
	npu_pkt_cast kref{};
	kref.y = RefDesc(NPU_DTYPE_F16, {3, 5});
	EXPECT_TRUE(MatchesReference(Read(c), RefCast(kref, xv), kExact));
	// The gaps between c's elements are untouched.
	for (int gap = 1; gap < 28; gap += 2)
		for (int b = 0; b < 2; b++)
			EXPECT_EQ(c.host[gap * 2 + b], 0xa5) << "element gap " << gap;
}

TEST_F(SdkOps, PointerOutsideAnyAllocationIsRefused)
{
	auto [x, xv] = Input(DType::f32, {16}, -1, 1);
	Tensor y = Alloc(DType::f32, {16});
	Plan plan(device_, OpDesc::unary(NPU_FN_NEG), {x.desc, y.desc});
	const auto end = reinterpret_cast<void *>(arena_.device_addr() + arena_.size() - 32);
	EXPECT_THROW(plan.launch(stream_, {x.ptr, end}), npu::Error);
	// A failed job reports through synchronize: a gather index out of range.
	HostTensor iv(NPU_DTYPE_I32, {1});
	iv.ints = {99};
	Tensor idx = Alloc(DType::i32, {1});
	Write(idx, iv);
	Tensor g = Alloc(DType::f32, {1});
	Plan gather(device_, OpDesc::gather(NPU_GATHER_TAKE, 0), {x.desc, idx.desc, g.desc});
	gather.launch(stream_, {x.ptr, idx.ptr, g.ptr});
	try {
		stream_.synchronize(seconds(60));
		ADD_FAILURE() << "an index out of range must fail the job";
	} catch (const npu::JobError &e) {
		EXPECT_EQ(e.status(), uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET});
	}
}

TEST_F(SdkOps, CApiPlanLaunch)
{
	npu_device_t dev = nullptr;
	ASSERT_EQ(npu_device_open(0, &dev), NPU_SUCCESS);
	npu_stream_t stream = nullptr;
	ASSERT_EQ(npu_stream_create(dev, &stream), NPU_SUCCESS);
	npu_buffer_t buf = nullptr;
	ASSERT_EQ(npu_buffer_create(dev, 1 << 16, 0, &buf), NPU_SUCCESS);
	uint64_t addr = 0;
	void *host = nullptr;
	ASSERT_EQ(npu_buffer_device_addr(buf, &addr), NPU_SUCCESS);
	ASSERT_EQ(npu_buffer_host_ptr(buf, &host), NPU_SUCCESS);
	auto *h = static_cast<float *>(host);
	for (int i = 0; i < 64; i++)
		h[i] = float(i - 32);
	npu_op_desc_t op;
	ASSERT_EQ(npu_op_desc_init(&op, NPU_OP_KIND_REDUCE), NPU_SUCCESS);
	op.fn = NPU_RED_MAX;
	op.axes = 0b10; // dimension 1
	const int64_t xs[2] = {8, 8}, ys[1] = {8}, xstr[2] = {1, 8};
	const npu_tensor_desc_t ts[2] = {{NPU_DTYPE_F32, 2, xs, xstr},
					 {NPU_DTYPE_F32, 1, ys, nullptr}};
	npu_op_plan_t plan = nullptr;
	ASSERT_EQ(npu_op_plan_create(dev, &op, ts, 2, &plan), NPU_SUCCESS)
		<< npu_last_error_message();
	const void *ptrs[2] = {reinterpret_cast<void *>(addr),
			       reinterpret_cast<void *>(addr + 1024)};
	ASSERT_EQ(npu_op_plan_launch(plan, stream, ptrs, 2), NPU_SUCCESS)
		<< npu_last_error_message();
	ASSERT_EQ(npu_stream_synchronize(stream, 60000000000ull), NPU_SUCCESS)
		<< npu_last_error_message();
	// x is the transpose of the 8x8 row-major block: max over its
	// columns of row i is h[56 + i].
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(h[256 + i], float(56 + i - 32)) << i;
	npu_op_plan_destroy(plan);
	npu_buffer_destroy(buf);
	npu_stream_destroy(stream);
	npu_device_close(dev);
}

} // namespace

namespace
{

// A GEMM whose K does not fit an engine's local memory: the plan splits K
// into packets accumulating into y, the activation on the last one only.
// Integer-valued floats keep every sum exact: the first slice sums to
// -(K - extra), which a RELU there would turn into 0; the whole product is
// positive. The plan is made for 1 MiB of engine memory (K = 131071 per
// packet): with the emulator's 64 MiB a K beyond it takes each engine
// longer than the driver's job timeout to stage; the device runs the
// packets all the same.
TEST(SdkOpsSplit, GemmSplitsKBeyondEngineMemory)
{
	npu::Device device(0);
	npu::Stream stream(device);
	npu::ops::DeviceOps caps = npu::ops::DeviceOps::from_device(device);
	caps.engine_mem_size = 1 << 20;
	const uint64_t step = caps.engine_mem_size / 4 / 2 - 1; // K per packet, F32
	const uint64_t extra = 1000, K = step + extra;
	Plan plan(caps, OpDesc::gemm(1.0f, 0.0f, {NPU_FN_RELU, 0, 0}),
		  {TensorDesc::contiguous(DType::f32, {1, int64_t(K)}),
		   TensorDesc::contiguous(DType::f32, {int64_t(K), 1}), TensorDesc{},
		   TensorDesc::contiguous(DType::f32, {1, 1})});
	EXPECT_EQ(plan.packet_count(), 2u);
	auto *a = static_cast<float *>(npu::malloc(device, K * 4));
	auto *b = static_cast<float *>(npu::malloc(device, K * 4));
	auto *y = static_cast<float *>(npu::malloc(device, 4));
	double want = 0;
	for (uint64_t k = 0; k < K; k++) {
		a[k] = k < step ? float(int(k % 3) - 1) : 1.0f;
		b[k] = k < step ? (a[k] == 0 ? 1.0f : -a[k]) : 9000.0f;
		want += double(a[k]) * double(b[k]);
	}
	y[0] = 12345.0f;
	ASSERT_GT(want, 0.0);
	plan.launch(stream, {a, b, nullptr, y});
	stream.synchronize(seconds(120));
	EXPECT_EQ(y[0], float(want));
	npu::free(y);
	npu::free(b);
	npu::free(a);
}

} // namespace
