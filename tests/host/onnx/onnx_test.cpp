// npu-onnx on the host: no device is opened (sessions are planned against
// given capabilities).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "arena.hpp"
#include "commands.hpp"
#include "model_builder.hpp"
#include "npu_onnx/compare.hpp"
#include "npu_onnx/runner.hpp"

namespace {

using namespace npu_onnx;
namespace fs = std::filesystem;
using npu_onnx_test::ModelBuilder;

npu::ops::DeviceOps full_caps() {
    constexpr uint64_t all_ops = (uint64_t{1} << (NPU_OP_LAST + 1)) - 1;
    constexpr uint64_t all_dtypes = ((uint64_t{1} << NPU_DTYPE_LAST) - 1) << 1;
    return npu::ops::DeviceOps{2, all_ops, all_dtypes, 64ull << 20};
}

HostTensor f32(std::vector<int64_t> shape, std::vector<double> v) {
    return HostTensor::from_double(DType::f32, std::move(shape), v);
}

TEST(OnnxLoader, RejectsWhatIsNoModel) {
    EXPECT_THROW((void)Model::from_bytes("not a protobuf \x01\x02", "junk"), ModelError);
    EXPECT_THROW((void)Model::load("/nonexistent/model.onnx"), ModelError);
}

TEST(OnnxLoader, CheckModelRejectsAnUndefinedInput) {
    ModelBuilder mb;
    mb.input("x", {2});
    mb.node("Relu", {"nowhere"}, {"y"});
    mb.output("y");
    try {
        (void)mb.build();
        FAIL() << "check_model accepted a node reading an undefined value";
    } catch (const ModelError& e) {
        EXPECT_NE(std::string(e.what()).find("check_model"), std::string::npos) << e.what();
    }
}

TEST(OnnxLoader, InputsExcludeInitializers) {
    ModelBuilder mb;
    mb.input("x", {2, 3}).input("shape", {2}, onnx::TensorProto_DataType_INT64);
    mb.int64_initializer("shape", {3, 2});
    mb.node("Reshape", {"x", "shape"}, {"y"});
    mb.output("y");
    Model m = mb.build();
    ASSERT_EQ(m.inputs().size(), 1u);
    EXPECT_EQ(m.inputs()[0].name, "x");
    EXPECT_EQ(m.opset(), 13);
}

TEST(OnnxShapes, PropagatesThroughMetadataNodesAndFoldsShapeArithmetic) {
    ModelBuilder mb;
    mb.input("x", {-1, 3, 4});
    mb.int64_initializer("zero", {0});
    mb.int64_initializer("minus1", {-1});
    mb.node("Shape", {"x"}, {"s"});
    mb.node("Gather", {"s", "zero"}, {"n"}); // [N], folded on the host
    mb.node("Concat", {"n", "minus1"}, {"target"})->add_attribute()->CopyFrom([] {
        onnx::AttributeProto a;
        a.set_name("axis");
        a.set_type(onnx::AttributeProto_AttributeType_INT);
        a.set_i(0);
        return a;
    }());
    mb.node("Reshape", {"x", "target"}, {"y"});
    mb.node("Unsqueeze", {"y", "zero"}, {"z"});
    mb.output("z").output("s", {}, onnx::TensorProto_DataType_INT64);
    Session s(full_caps(), mb.build(), {{"x", {5, 3, 4}}});
    ASSERT_EQ(s.outputs().size(), 2u);
    EXPECT_EQ(s.outputs()[0].shape, (std::vector<int64_t>{1, 5, 12}));
    EXPECT_FALSE(s.outputs()[0].constant); // an alias of x
    EXPECT_EQ(s.outputs()[1].shape, (std::vector<int64_t>{3}));
    EXPECT_TRUE(s.outputs()[1].constant);
    EXPECT_EQ(s.operation_count(), 0u);
    for (const auto& n : s.nodes())
        EXPECT_EQ(n.placement, Placement::host) << n.op_type;
}

TEST(OnnxShapes, SymbolicInputWithoutAShapeIsAnError) {
    ModelBuilder mb;
    mb.input("x", {-1, 3});
    mb.node("Identity", {"x"}, {"y"});
    mb.output("y");
    EXPECT_THROW(Session(full_caps(), mb.build(), {}), ModelError);
}

TEST(OnnxShapes, UnsupportedNodesAreReportedWithTheirReason) {
    ModelBuilder mb;
    mb.input("x", {2});
    mb.node("NoSuchOp", {"x"}, {"y"}, "mystery");
    mb.node("Identity", {"y"}, {"z"}, "after");
    mb.output("z");
    onnx::ModelProto proto = mb.m;
    // check_model rejects unknown ops of the default domain; use a custom one.
    proto.mutable_graph()->mutable_node(0)->set_domain("com.example");
    auto* op = proto.add_opset_import();
    op->set_domain("com.example");
    op->set_version(1);
    Model m = Model::from_bytes(proto.SerializeAsString(), "custom");
    try {
        Session s(full_caps(), m, {});
        FAIL() << "planned a node of an unknown domain";
    } catch (const UnsupportedError& e) {
        ASSERT_EQ(e.nodes.size(), 1u); // the node downstream is not reported again
        EXPECT_EQ(e.nodes[0].name, "mystery");
        EXPECT_EQ(e.nodes[0].op_type, "NoSuchOp");
        EXPECT_NE(e.nodes[0].reason.find("com.example"), std::string::npos) << e.nodes[0].reason;
    }
}

TEST(OnnxShapes, ShapeInputsAreSpecializedWhenNeeded) {
    ModelBuilder mb;
    mb.input("x", {2, 6}).input("shape", {2}, onnx::TensorProto_DataType_INT64);
    mb.node("Reshape", {"x", "shape"}, {"y"});
    mb.output("y");
    Model m = mb.build();
    std::map<std::string, HostTensor> in;
    in["x"] = f32({2, 6}, std::vector<double>(12, 1.0));
    std::vector<int64_t> target{3, -1};
    in["shape"] = HostTensor::from_int64(DType::i64, {2}, target);
    EXPECT_THROW(Session(full_caps(), m, {{"x", {2, 6}}, {"shape", {2}}}), UnsupportedError);
    Session s = make_session(full_caps(), m, in);
    EXPECT_EQ(s.constant_inputs(), std::vector<std::string>{"shape"});
    EXPECT_EQ(s.outputs()[0].shape, (std::vector<int64_t>{3, 4}));
    EXPECT_TRUE(session_fits(s, in));
    std::vector<int64_t> other{4, 3};
    in["shape"] = HostTensor::from_int64(DType::i64, {2}, other);
    EXPECT_FALSE(session_fits(s, in));
}

TEST(OnnxArena, DisjointLifetimesShareMemory) {
    // A chain: buffer i is written by op i and read by op i + 1.
    std::vector<LiveBuffer> chain;
    for (int i = 0; i < 8; i++)
        chain.push_back({i, i + 1, 1000});
    ArenaLayout l = plan_arena(chain);
    EXPECT_EQ(l.unshared, 8u * 1024);
    EXPECT_EQ(l.size, 2u * 1024); // two live at once, ping-pong
    for (size_t i = 0; i + 1 < chain.size(); i++)
        EXPECT_NE(l.offsets[i], l.offsets[i + 1]);
}

TEST(OnnxArena, OverlappingLifetimesNeverShareBytes) {
    std::vector<LiveBuffer> bufs = {{0, 5, 300}, {1, 2, 700}, {2, 3, 100},  {3, 9, 5000},
                                    {4, 4, 256}, {0, 9, 1},   {6, 8, 4000}, {2, 7, 2000}};
    ArenaLayout l = plan_arena(bufs, 256);
    for (size_t i = 0; i < bufs.size(); i++) {
        EXPECT_EQ(l.offsets[i] % 256, 0u);
        EXPECT_LE(l.offsets[i] + bufs[i].bytes, l.size);
        for (size_t j = i + 1; j < bufs.size(); j++) {
            bool live_together = bufs[i].first <= bufs[j].last && bufs[j].first <= bufs[i].last;
            bool bytes_overlap = l.offsets[i] < l.offsets[j] + bufs[j].bytes &&
                                 l.offsets[j] < l.offsets[i] + bufs[i].bytes;
            EXPECT_FALSE(live_together && bytes_overlap) << i << " and " << j;
        }
    }
    EXPECT_LT(l.size, l.unshared);
}

TEST(OnnxArena, ChainModelPeakIsBelowTheSumOfItsValues) {
    ModelBuilder mb;
    mb.input("x", {64, 64});
    std::string prev = "x";
    for (int i = 0; i < 6; i++) {
        std::string out = "r" + std::to_string(i);
        mb.node(i % 2 ? "Sigmoid" : "Relu", {prev}, {out});
        prev = out;
    }
    mb.output(prev);
    Session s(full_caps(), mb.build(), {});
    EXPECT_EQ(s.operation_count(), 6u);
    MemoryReport mem = s.memory();
    EXPECT_EQ(mem.buffers, 7u);
    EXPECT_EQ(mem.unshared_bytes, 7u * 64 * 64 * 4);
    EXPECT_LT(mem.arena_bytes, mem.unshared_bytes);
    EXPECT_EQ(mem.arena_bytes, 2u * 64 * 64 * 4);
}

TEST(OnnxCompare, UsesTheSuitesTolerances) {
    HostTensor e = f32({3}, {1.0, 1000.0, 0.0});
    EXPECT_TRUE(compare(f32({3}, {1.0005, 1000.9, 5e-8}), e).ok);
    Comparison c = compare(f32({3}, {1.0, 1001.2, 0.0}), e);
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.mismatches, 1u);
    EXPECT_NE(c.message.find("element 1"), std::string::npos) << c.message;
    EXPECT_FALSE(compare(f32({3}, {1.0, 1000.0, 2e-7}), e).ok); // atol 1e-7 at 0
    EXPECT_NEAR(compare(f32({3}, {1.0, 1000.5, 0.0}), e).max_abs_error, 0.5, 1e-3);
}

TEST(OnnxCompare, NanInfIntegersShapesAndDtypes) {
    double nan = std::nan(""), inf = INFINITY;
    EXPECT_TRUE(compare(f32({2}, {nan, inf}), f32({2}, {nan, inf})).ok);
    EXPECT_FALSE(compare(f32({2}, {0.0, inf}), f32({2}, {nan, inf})).ok);
    EXPECT_FALSE(compare(f32({1}, {-inf}), f32({1}, {inf})).ok);
    std::vector<int64_t> a{1, 2, 3}, b{1, 2, 4};
    EXPECT_TRUE(compare(HostTensor::from_int64(DType::i64, {3}, a),
                        HostTensor::from_int64(DType::i64, {3}, a))
                    .ok);
    EXPECT_FALSE(compare(HostTensor::from_int64(DType::i64, {3}, a),
                         HostTensor::from_int64(DType::i64, {3}, b))
                     .ok);
    EXPECT_FALSE(compare(HostTensor::from_int64(DType::i32, {3}, a),
                         HostTensor::from_int64(DType::i64, {3}, a))
                     .ok);
    EXPECT_FALSE(compare(f32({1, 3}, {1, 2, 3}), f32({3}, {1, 2, 3})).ok);
    EXPECT_TRUE(compare(f32({0}, {}), f32({0}, {})).ok);
}

TEST(OnnxTensor, FilesRoundTrip) {
    fs::path dir = fs::temp_directory_path() / ("npu_onnx_test_" + std::to_string(getpid()));
    fs::create_directories(dir);
    HostTensor t = f32({2, 2}, {1.5, -2, 3, 0});
    for (const char* ext : {".pb", ".npy"}) {
        std::string p = (dir / (std::string("t") + ext)).string();
        write_tensor_file(p, t, "name");
        std::string name;
        HostTensor r = read_tensor_file(p, &name);
        EXPECT_EQ(r.dtype, t.dtype) << ext;
        EXPECT_EQ(r.shape, t.shape) << ext;
        EXPECT_EQ(r.bytes, t.bytes) << ext;
    }
    std::vector<int64_t> scalar{7};
    write_tensor_file((dir / "s.pb").string(), HostTensor::from_int64(DType::i64, {}, scalar), "s");
    HostTensor s = read_tensor_file((dir / "s.pb").string());
    EXPECT_TRUE(s.shape.empty());
    EXPECT_EQ(s.to_int64(), scalar);
    fs::remove_all(dir);
}

TEST(OnnxTensor, HalfConversionsRound) {
    EXPECT_EQ(float_to_half(1.0f), 0x3c00);
    EXPECT_EQ(half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
    EXPECT_EQ(float_to_half(1e6f), 0x7c00);
    EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
}

int cli(std::vector<std::string> args, std::string* out_text = nullptr,
        std::string* err_text = nullptr) {
    args.insert(args.begin(), "npu-onnx");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    std::ostringstream out, err;
    int rc = cli::main(static_cast<int>(argv.size()), argv.data(), out, err);
    if (out_text)
        *out_text = out.str();
    if (err_text)
        *err_text = err.str();
    return rc;
}

TEST(OnnxCli, ArgumentErrors) {
    std::string out, err;
    EXPECT_EQ(cli({}, &out, &err), 2);
    EXPECT_EQ(cli({"bogus"}, &out, &err), 2);
    EXPECT_EQ(cli({"run"}, &out, &err), 2);
    EXPECT_NE(err.find("model"), std::string::npos) << err;
    EXPECT_EQ(cli({"run", "/nonexistent/model.onnx"}, &out, &err), 2);
    EXPECT_EQ(cli({"run", "--device"}, &out, &err), 2);
    EXPECT_EQ(cli({"test"}, &out, &err), 2);
    EXPECT_EQ(cli({"test", "/nonexistent/dir", "--expected", "/nonexistent/list"}, &out, &err), 2);
    EXPECT_EQ(cli({"--help"}, &out, &err), 0);
    EXPECT_NE(out.find("run"), std::string::npos);
}

} // namespace
