// npu-onnx sessions on a real device: the captured graph replayed with new
// inputs, the arena's reuse, every kind of output, zero-sized and rank-0
// values, fixed inputs and the profile. The conformance suite itself runs
// in the same lane (tests/run-all, vm-onnx).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <npu/device.hpp>

#include "model_builder.hpp"
#include "npu_onnx/compare.hpp"
#include "npu_onnx/runner.hpp"

namespace
{

using namespace npu_onnx;
using npu_onnx_test::ModelBuilder;

HostTensor random_f32(std::vector<int64_t> shape, uint32_t seed)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<double> d(-4, 4);
	int64_t n = 1;
	for (int64_t e : shape)
		n *= e;
	std::vector<double> v(static_cast<size_t>(n));
	for (auto &x : v)
		x = d(rng);
	return HostTensor::from_double(DType::f32, std::move(shape), v);
}

class OnnxSession : public ::testing::Test
{
protected:
	npu::Device device{0};
};

// x -> Relu -> Neg -> Relu -> Neg -> ... (8 nodes): the arena holds two
// buffers plus the input and output, and every replay sees its own input.
TEST_F(OnnxSession, ReplaysTheGraphWithNewInputs)
{
	ModelBuilder mb;
	mb.input("x", {33, 17});
	std::string prev = "x";
	for (int i = 0; i < 8; i++) {
		std::string out = "v" + std::to_string(i);
		mb.node(i % 2 ? "Neg" : "Relu", {prev}, {out});
		prev = out;
	}
	mb.output(prev);
	Model model = mb.build();
	std::map<std::string, HostTensor> in{{"x", random_f32({33, 17}, 1)}};
	Session s = make_session(device, model, in);
	EXPECT_EQ(s.operation_count(), 8u);
	EXPECT_LT(s.memory().arena_bytes, s.memory().unshared_bytes);
	for (uint32_t seed = 1; seed <= 3; seed++) {
		in["x"] = random_f32({33, 17}, seed);
		auto x = in["x"].to_double();
		std::vector<double> expect = x;
		for (int i = 0; i < 8; i++)
			for (double &e : expect)
				e = i % 2 ? -e : std::max(e, 0.0);
		std::vector<HostTensor> out = s.run(in);
		ASSERT_EQ(out.size(), 1u);
		Comparison c =
			compare(out[0], HostTensor::from_double(DType::f32, {33, 17}, expect));
		EXPECT_TRUE(c.ok) << "seed " << seed << ": " << c.message;
	}
}

// Outputs of every kind at once: computed, an alias of the input, the
// input itself, a constant, a scalar.
TEST_F(OnnxSession, EveryKindOfOutput)
{
	ModelBuilder mb;
	mb.input("x", {2, 3}).input("s", {});
	mb.int64_initializer("shape", {3, 2});
	mb.node("Add", {"x", "x"}, {"twice"});
	mb.node("Reshape", {"x", "shape"}, {"reshaped"});
	mb.node("Shape", {"x"}, {"shape_of_x"});
	mb.node("Mul", {"s", "s"}, {"square"});
	mb.output("twice")
		.output("reshaped")
		.output("x")
		.output("shape_of_x", {}, onnx::TensorProto_DataType_INT64)
		.output("square");
	Model model = mb.build();
	std::map<std::string, HostTensor> in{
		{"x", random_f32({2, 3}, 7)},
		{"s", HostTensor::from_double(DType::f32, {}, std::vector<double>{3})}};
	Session s = make_session(device, model, in);
	auto out = s.run(in);
	ASSERT_EQ(out.size(), 5u);
	auto x = in["x"].to_double();
	std::vector<double> twice(x.size());
	for (size_t i = 0; i < x.size(); i++)
		twice[i] = 2 * x[i];
	EXPECT_TRUE(compare(out[0], HostTensor::from_double(DType::f32, {2, 3}, twice)).ok);
	HostTensor reshaped = in["x"];
	reshaped.shape = {3, 2};
	EXPECT_TRUE(compare(out[1], reshaped).ok);
	EXPECT_TRUE(compare(out[2], in["x"]).ok);
	std::vector<int64_t> dims{2, 3};
	EXPECT_TRUE(compare(out[3], HostTensor::from_int64(DType::i64, {2}, dims)).ok);
	EXPECT_TRUE(s.outputs()[3].constant);
	EXPECT_TRUE(out[4].shape.empty());
	EXPECT_EQ(out[4].to_double().at(0), 9.0);
}

TEST_F(OnnxSession, ZeroSizedValues)
{
	ModelBuilder mb;
	mb.input("x", {0, 3});
	mb.node("Relu", {"x"}, {"y"});
	mb.output("y");
	Model model = mb.build();
	std::map<std::string, HostTensor> in{{"x", HostTensor{DType::f32, {0, 3}, {}}}};
	Session s = make_session(device, model, in);
	auto out = s.run(in);
	ASSERT_EQ(out.size(), 1u);
	EXPECT_EQ(out[0].shape, (std::vector<int64_t>{0, 3}));
	EXPECT_TRUE(out[0].bytes.empty());
}

TEST_F(OnnxSession, FixedInputsMustKeepTheirValues)
{
	ModelBuilder mb;
	mb.input("x", {4, 6}).input("shape", {2}, onnx::TensorProto_DataType_INT64);
	mb.node("Reshape", {"x", "shape"}, {"y"});
	mb.node("Relu", {"y"}, {"z"});
	mb.output("z");
	Model model = mb.build();
	std::vector<int64_t> target{8, 3};
	std::map<std::string, HostTensor> in{
		{"x", random_f32({4, 6}, 3)},
		{"shape", HostTensor::from_int64(DType::i64, {2}, target)}};
	Session s = make_session(device, model, in);
	EXPECT_EQ(s.constant_inputs(), std::vector<std::string>{"shape"});
	auto out = s.run(in);
	EXPECT_EQ(out.at(0).shape, (std::vector<int64_t>{8, 3}));
	std::vector<int64_t> other{3, 8};
	in["shape"] = HostTensor::from_int64(DType::i64, {2}, other);
	EXPECT_FALSE(session_fits(s, in));
	EXPECT_THROW((void)s.run(in), ModelError);
}

TEST_F(OnnxSession, ProfileTimesEveryDeviceNode)
{
	ModelBuilder mb;
	mb.input("x", {64, 64});
	mb.node("Relu", {"x"}, {"a"}, "first");
	mb.node("Shape", {"a"}, {"s"}, "metadata");
	mb.node("Sigmoid", {"a"}, {"b"}, "second");
	mb.output("b");
	Model model = mb.build();
	std::map<std::string, HostTensor> in{{"x", random_f32({64, 64}, 5)}};
	Session s = make_session(device, model, in);
	auto times = s.profile(in);
	ASSERT_EQ(times.size(), 2u);
	EXPECT_EQ(times[0].name, "first");
	EXPECT_EQ(times[1].name, "second");
	EXPECT_GT(times[0].device_time.count(), 0);
	size_t on_device = 0;
	for (const auto &n : s.nodes())
		on_device += n.placement == Placement::device;
	EXPECT_EQ(on_device, 2u);
}

} // namespace
