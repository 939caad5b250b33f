// The op API against FakeOs: what a plan encodes (descriptors, coalesced
// and split dimensions, broadcasting), the addresses launch() patches in and
// the buffer objects it lists, and every reason a plan or a launch is
// refused. FakeOs does not execute operation packets; the VM suite
// (tests/vm/sdk_ops_test.cpp) checks results on the device.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "npu/npu.h"
#include "npu/ops.hpp"
#include "npu/stream.hpp"

// Counting allocations: operator new replaced for this binary (not under
// the sanitizers, which bring their own).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define NPU_OPS_TEST_COUNTS_ALLOCATIONS 1
namespace {
std::atomic<size_t> allocations{0};
}
void* operator new(std::size_t n) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
// GCC sees the malloc in operator new and free here as a mismatch once
// both are inlined into a caller; they are the matching pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop
#endif

namespace npu::testing {
namespace {

using namespace npu::ops;

// What a launch encodes is checked with manual submission: the automatic
// policy would submit an idle stream's first packets at once.
StreamOptions batching() {
    StreamOptions options;
    options.submit_policy = SubmitPolicy::manual;
    return options;
}

constexpr uint64_t all_ops = (uint64_t{1} << (NPU_OP_LAST + 1)) - 1;
constexpr uint64_t all_dtypes = ((uint64_t{1} << NPU_DTYPE_LAST) - 1) << 1;

DeviceOps full_caps() {
    return DeviceOps{2, all_ops, all_dtypes, 64ull << 20};
}

class OpsTest : public FakeOsTest {
protected:
    void SetUp() override {
        FakeOsTest::SetUp();
        FakeDeviceConfig npu;
        npu.node = "/dev/accel/accel7";
        npu.pci_address = "0000:00:07.0";
        npu.params[DRM_NPU_PARAM_PACKET_VERSION] = 2;
        npu.params[DRM_NPU_PARAM_OP_MASK] = all_ops;
        npu.params[DRM_NPU_PARAM_DTYPE_MASK] = all_dtypes;
        npu.params[DRM_NPU_PARAM_ENGINE_MEM_SIZE] = 64ull << 20;
        os->add_device(npu);
    }
    Device open() { return Device::open_pci("0000:00:07.0", os); }
};

TensorDesc f32(std::vector<int64_t> shape, std::vector<int64_t> strides = {}) {
    return TensorDesc::strided(DType::f32, std::move(shape), std::move(strides));
}

template <typename Packet>
Packet packet_at(const SubmitRecord& record, size_t offset) {
    Packet packet{};
    EXPECT_LE(offset + sizeof(packet), record.commands.size());
    if (offset + sizeof(packet) <= record.commands.size())
        std::memcpy(&packet, record.commands.data() + offset, sizeof(packet));
    return packet;
}

void* at(const Buffer& b, size_t offset = 0) {
    return reinterpret_cast<void*>(b.device_addr() + offset);
}

// The reason a plan is refused, with its errno.
std::pair<int, std::string> refusal(const OpDesc& op, std::vector<TensorDesc> ts,
                                    const DeviceOps& caps = full_caps()) {
    try {
        Plan plan(caps, op, ts);
    } catch (const Error& e) {
        EXPECT_EQ(Plan::check(caps, op, ts), e.what());
        return {e.errnum(), e.what()};
    }
    EXPECT_EQ(Plan::check(caps, op, ts), "");
    return {0, ""};
}

#define EXPECT_REFUSED(errnum, substring, ...)                                                     \
    do {                                                                                           \
        const auto r_ = refusal(__VA_ARGS__);                                                      \
        EXPECT_EQ(r_.first, errnum) << r_.second;                                                  \
        EXPECT_NE(r_.second.find(substring), std::string::npos) << r_.second;                      \
    } while (0)

TEST_F(OpsTest, GemmEncodesDescriptorsAndPatchesPointers) {
    Device device = open();
    Buffer a(device, 4096), b(device, 4096), y(device, 4096);
    Stream stream(device, batching());
    OpDesc op = OpDesc::gemm(2.0f, 1.0f, {NPU_FN_RELU, 0, 0});
    // b transposed ([K, N] stored as [N, K]); y at an offset.
    Plan plan(device, op, {f32({3, 5}), f32({5, 4}, {1, 5}), TensorDesc{}, f32({3, 4})});
    EXPECT_EQ(plan.packet_count(), 1u);
    EXPECT_EQ(plan.operand_count(), 4u);
    plan.launch(stream, {at(a), at(b, 64), nullptr, at(y, 128)});
    EXPECT_TRUE(os->submits().empty()) << "launch must not submit by itself";
    stream.flush();
    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u);
    const auto p = packet_at<npu_pkt_gemm>(submits[0], 0);
    EXPECT_EQ(p.header, NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS));
    float alpha;
    std::memcpy(&alpha, &p.alpha, 4);
    EXPECT_EQ(alpha, 2.0f);
    EXPECT_EQ(p.act.fn, uint32_t{NPU_FN_RELU});
    EXPECT_EQ(p.a.addr, a.device_addr());
    EXPECT_EQ(p.b.addr, b.device_addr() + 64);
    EXPECT_EQ(p.y.addr, y.device_addr() + 128);
    EXPECT_EQ(p.c.dtype, 0u);
    EXPECT_EQ(p.c.addr, 0u);
    EXPECT_EQ(p.a.rank, 2u);
    EXPECT_EQ(p.b.shape[0], 5u);
    EXPECT_EQ(p.b.shape[1], 4u);
    EXPECT_EQ(p.b.stride[0], 1);
    EXPECT_EQ(p.b.stride[1], 5);
    EXPECT_EQ(p.y.stride[0], 4);
    for (uint32_t h : {a.handle(), b.handle(), y.handle()})
        EXPECT_NE(std::find(submits[0].bo_handles.begin(), submits[0].bo_handles.end(), h),
                  submits[0].bo_handles.end());
}

TEST_F(OpsTest, GemmSplitsKBeyondEngineMemory) {
    // 1024 bytes of engine memory: a 1 x 1 tile holds (2K + 2) * 4 bytes,
    // so K = 127 per packet; K = 300 takes three, accumulating into y.
    DeviceOps small = full_caps();
    small.engine_mem_size = 1024;
    const OpDesc op = OpDesc::gemm(2.0f, 0.5f, {NPU_FN_RELU, 0, 0});
    Plan plan(small, op, {f32({3, 300}), f32({300, 4}), f32({3, 4}), f32({3, 4})});
    ASSERT_EQ(plan.packet_count(), 3u);
    Device device = open();
    Buffer buf(device, 1 << 16);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 8192), at(buf, 16384), at(buf, 24576)});
    stream.flush();
    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u);
    const uint64_t a = buf.device_addr(), b = a + 8192, c = a + 16384, y = a + 24576;
    const uint32_t k[3] = {127, 127, 46};
    for (size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE(i);
        const auto p = packet_at<npu_pkt_gemm>(submits[0], i * sizeof(npu_pkt_gemm));
        EXPECT_EQ(p.a.addr, a + 127 * 4 * i);     // columns k0.. of a
        EXPECT_EQ(p.b.addr, b + 127 * 4 * 4 * i); // rows k0.. of b
        EXPECT_EQ(p.a.shape[1], k[i]);
        EXPECT_EQ(p.b.shape[0], k[i]);
        EXPECT_EQ(p.a.stride[0], 300);
        EXPECT_EQ(p.y.addr, y);
        EXPECT_EQ(p.alpha, std::bit_cast<uint32_t>(2.0f));
        // The first adds beta * c, the others y itself; RELU on the last.
        EXPECT_EQ(p.c.addr, i == 0 ? c : y);
        EXPECT_EQ(p.c.dtype, static_cast<uint32_t>(NPU_DTYPE_F32));
        EXPECT_EQ(p.beta, std::bit_cast<uint32_t>(i == 0 ? 0.5f : 1.0f));
        EXPECT_EQ(p.act.fn, i == 2 ? uint32_t{NPU_FN_RELU} : uint32_t{NPU_FN_IDENTITY});
    }
    // Without c, the first packet has none.
    Plan plain(small, OpDesc::gemm(), {f32({3, 300}), f32({300, 4}), {}, f32({3, 4})});
    ASSERT_EQ(plain.packet_count(), 3u);
    plain.launch(stream, {at(buf), at(buf, 8192), nullptr, at(buf, 24576)});
    stream.flush();
    const auto p0 = packet_at<npu_pkt_gemm>(os->submits().at(1), 0);
    const auto p1 = packet_at<npu_pkt_gemm>(os->submits().at(1), sizeof(npu_pkt_gemm));
    EXPECT_EQ(p0.c.dtype, 0u);
    EXPECT_EQ(p0.c.addr, 0u);
    EXPECT_EQ(p1.c.addr, y);
}

TEST_F(OpsTest, GemmBroadcastsBatchesAndCoalescesThem) {
    // y [2, 3, 4, 5]; a [4, 6] broadcast over both batch dimensions; b
    // [2, 3, 6, 5] contiguous: its batch dimensions merge into one.
    Plan plan(full_caps(), OpDesc::gemm(),
              {f32({4, 6}), f32({2, 3, 6, 5}), f32({5}), f32({2, 3, 4, 5})});
    EXPECT_EQ(plan.packet_count(), 1u);
    Device device = open();
    Buffer buf(device, 1 << 16);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 4096), at(buf, 8192), at(buf, 12288)});
    stream.flush();
    const auto p = packet_at<npu_pkt_gemm>(os->submits().at(0), 0);
    EXPECT_EQ(p.y.rank, 3u);
    EXPECT_EQ(p.y.shape[0], 6u);
    EXPECT_EQ(p.b.shape[0], 6u);
    EXPECT_EQ(p.b.stride[0], 30);
    EXPECT_EQ(p.a.shape[0], 6u);
    EXPECT_EQ(p.a.stride[0], 0) << "a broadcasts over the batch";
    EXPECT_EQ(p.c.rank, 3u);
    EXPECT_EQ(p.c.stride[1], 0) << "c is a bias row";
    EXPECT_EQ(p.c.stride[2], 1);
}

TEST_F(OpsTest, ContiguousDimensionsMergeIntoOne) {
    Plan plan(full_caps(), OpDesc::unary(NPU_FN_EXP), {f32({2, 3, 4, 5}), f32({2, 3, 4, 5})});
    ASSERT_EQ(plan.packet_count(), 1u);
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 1024)});
    stream.flush();
    const auto p = packet_at<npu_pkt_unary>(os->submits().at(0), 0);
    EXPECT_EQ(p.x.rank, 1u);
    EXPECT_EQ(p.x.shape[0], 120u);
    EXPECT_EQ(p.y.addr, buf.device_addr() + 1024);
}

TEST_F(OpsTest, RankAboveSixSplitsIntoPacketsWithOffsets) {
    // Eight dimensions of extent 2 whose rows are padded: nothing merges,
    // so the two outermost dimensions become 4 packets.
    std::vector<int64_t> shape(8, 2), strides(8);
    int64_t s = 1;
    for (size_t i = 8; i-- > 0;) {
        strides[i] = s;
        s = s * 2 + 1;
    }
    const int64_t x_span = s;
    const TensorDesc x = f32(shape, strides);
    Plan plan(full_caps(), OpDesc::cast(), {x, TensorDesc::contiguous(DType::f16, shape)});
    ASSERT_EQ(plan.packet_count(), 4u);
    Device device = open();
    Buffer bx(device, x_span * 4 + 64), by(device, 4096);
    Stream stream(device, batching());
    plan.launch(stream, {at(bx), at(by)});
    stream.flush();
    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u);
    const auto& rec = submits[0];
    for (int i = 0; i < 4; ++i) {
        const auto p = packet_at<npu_pkt_cast>(rec, i * sizeof(npu_pkt_cast));
        EXPECT_EQ(p.header, NPU_PKT_HEADER(NPU_OP_CAST, NPU_PKT_CAST_DWORDS));
        EXPECT_EQ(p.x.rank, 6u);
        EXPECT_EQ(p.y.rank, 6u) << "dimensions merge only where every operand's strides chain";
        const int i0 = i / 2, i1 = i % 2;
        EXPECT_EQ(p.x.addr, bx.device_addr() + 4 * (i0 * strides[0] + i1 * strides[1]));
        EXPECT_EQ(p.y.addr, by.device_addr() + 2 * (i0 * 128 + i1 * 64));
    }
}

TEST_F(OpsTest, ManyPacketsSpreadOverCommandBuffers) {
    // Nine dimensions whose rows are padded (nothing merges): the three
    // outermost (8 x 2 x 8) become 128 packets of 136 bytes, more than one
    // 4 KiB command buffer holds.
    const std::vector<int64_t> shape = {8, 2, 8, 2, 2, 2, 2, 2, 2};
    std::vector<int64_t> strides(9);
    int64_t s = 1;
    for (size_t i = 9; i-- > 0;) {
        strides[i] = s;
        s = s * shape[i] + 1;
    }
    Plan plan(full_caps(), OpDesc::unary(NPU_FN_NEG), {f32(shape, strides), f32(shape, strides)});
    EXPECT_EQ(plan.packet_count(), 8u * 2 * 8);
    Device device = open();
    Buffer bx(device, s * 4 + 64), by(device, s * 4 + 64);
    StreamOptions small = batching();
    small.command_buffer_size = 4096;
    Stream stream(device, small);
    plan.launch(stream, {at(bx), at(by)});
    stream.flush();
    const auto submits = os->submits();
    ASSERT_GT(submits.size(), 1u);
    size_t bytes = 0;
    for (const auto& rec : submits) {
        EXPECT_LE(rec.commands.size(), 4096u);
        EXPECT_EQ(rec.commands.size() % sizeof(npu_pkt_unary), 0u);
        bytes += rec.commands.size();
    }
    EXPECT_EQ(bytes, plan.command_bytes());
}

TEST_F(OpsTest, BinaryBroadcastsWithZeroStrides) {
    Plan plan(full_caps(), OpDesc::binary(NPU_BIN_ADD), {f32({4, 1}), f32({5}), {}, f32({4, 5})});
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 256), nullptr, at(buf, 512)});
    stream.flush();
    const auto p = packet_at<npu_pkt_binary>(os->submits().at(0), 0);
    EXPECT_EQ(p.a.rank, 2u);
    EXPECT_EQ(p.a.stride[0], 1);
    EXPECT_EQ(p.a.stride[1], 0);
    EXPECT_EQ(p.b.stride[0], 0);
    EXPECT_EQ(p.b.stride[1], 1);
    EXPECT_EQ(p.cond.dtype, 0u);
}

TEST_F(OpsTest, ReduceWithoutKeptDimensionsMapsAxes) {
    // x [2, 3, 4, 5] reduced over 1 and 2 (they merge into one of 12),
    // y [2, 5] without the reduced dimensions.
    Plan plan(full_caps(), OpDesc::reduce(NPU_RED_SUM, 0b0110), {f32({2, 3, 4, 5}), f32({2, 5})});
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 2048)});
    stream.flush();
    const auto p = packet_at<npu_pkt_reduce>(os->submits().at(0), 0);
    EXPECT_EQ(p.x.rank, 3u);
    EXPECT_EQ(p.axes, 0b010u);
    EXPECT_EQ(p.x.shape[1], 12u);
    EXPECT_EQ(p.y.shape[0], 2u);
    EXPECT_EQ(p.y.shape[1], 1u);
    EXPECT_EQ(p.y.shape[2], 5u);
    EXPECT_EQ(p.y.stride[0], 5);
    EXPECT_EQ(p.y.stride[2], 1);
}

TEST_F(OpsTest, ArgmaxKeepsItsAxisOfExtentOne) {
    Plan plan(full_caps(), OpDesc::reduce(NPU_RED_ARGMAX, 0b10),
              {f32({4, 1}), TensorDesc::contiguous(DType::i64, {4, 1})});
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
    plan.launch(stream, {at(buf), at(buf, 64)});
    stream.flush();
    const auto p = packet_at<npu_pkt_reduce>(os->submits().at(0), 0);
    EXPECT_EQ(p.axes, 0b10u);
    EXPECT_EQ(p.x.rank, 2u);
}

TEST_F(OpsTest, EmptyOutputEncodesNothing) {
    Plan plan(full_caps(), OpDesc::unary(NPU_FN_RELU), {f32({0, 7}), f32({0, 7})});
    EXPECT_EQ(plan.packet_count(), 0u);
    Device device = open();
    Stream stream(device, batching());
    plan.launch(stream, {nullptr, nullptr});
    stream.flush();
    EXPECT_TRUE(os->submits().empty());
}

TEST_F(OpsTest, LaunchMakesNoSystemCallNorAllocation) {
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
#ifdef NPU_OPS_TEST_COUNTS_ALLOCATIONS
    const size_t before_plan = allocations.load();
#endif
    Plan plan(device, OpDesc::binary(NPU_BIN_MUL), {f32({16}), f32({16}), {}, f32({16})});
#ifdef NPU_OPS_TEST_COUNTS_ALLOCATIONS
    EXPECT_GT(allocations.load(), before_plan) << "the counter sees libnpu's allocations";
#endif
    plan.launch(stream, {at(buf), at(buf, 64), nullptr, at(buf, 128)}); // warms the stream
    const size_t before = os->ioctl_count();
#ifdef NPU_OPS_TEST_COUNTS_ALLOCATIONS
    const size_t allocated = allocations.load();
#endif
    for (int i = 0; i < 50; ++i)
        plan.launch(stream, {at(buf), at(buf, 64), nullptr, at(buf, 128)});
#ifdef NPU_OPS_TEST_COUNTS_ALLOCATIONS
    EXPECT_EQ(allocations.load(), allocated) << "launch() allocated";
#endif
    EXPECT_EQ(os->ioctl_count(), before);
    stream.discard();
}

TEST_F(OpsTest, OnePlanLaunchedFromSeveralThreads) {
    Device device = open();
    Buffer buf(device, 1 << 16);
    const Plan plan(device, OpDesc::unary(NPU_FN_NEG), {f32({64}), f32({64})});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            Stream stream(device, batching());
            for (int i = 0; i < 100; ++i)
                plan.launch(stream, {at(buf, 1024 * t), at(buf, 1024 * t + 512)});
            stream.flush();
        });
    for (auto& thread : threads)
        thread.join();
    size_t packets = 0;
    for (const auto& rec : os->submits())
        packets += rec.commands.size() / sizeof(npu_pkt_unary);
    EXPECT_EQ(packets, 400u);
}

TEST_F(OpsTest, LaunchRefusals) {
    Device device = open();
    Buffer buf(device, 4096);
    Stream stream(device, batching());
    Plan plan(device, OpDesc::unary(NPU_FN_ABS), {f32({16}), f32({16})});
    auto errno_of = [&](std::initializer_list<const void*> ptrs) {
        try {
            plan.launch(stream, ptrs);
        } catch (const Error& e) {
            return e.errnum();
        }
        return 0;
    };
    EXPECT_EQ(errno_of({at(buf)}), EINVAL) << "operand count";
    EXPECT_EQ(errno_of({at(buf), at(buf, 2)}), EINVAL) << "misaligned";
    EXPECT_EQ(errno_of({at(buf), at(buf, 4096 - 60)}), EINVAL) << "crosses the buffer's end";
    EXPECT_EQ(errno_of({at(buf), reinterpret_cast<void*>(0x1000)}), EINVAL) << "not allocated";
    EXPECT_EQ(errno_of({at(buf), at(buf, 4096 - 64)}), 0) << "the last 64 bytes fit";
    Plan with_c(device, OpDesc::binary(NPU_BIN_ADD), {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_THROW(with_c.launch(stream, {at(buf), at(buf), at(buf), at(buf, 64)}), Error)
        << "a pointer for an absent operand";
    // Negative strides: the range reaches below the pointer.
    Plan reversed(device, OpDesc::unary(NPU_FN_ABS), {f32({16}, {-1}), f32({16})});
    EXPECT_THROW(reversed.launch(stream, {at(buf), at(buf, 64)}), Error);
    EXPECT_NO_THROW(reversed.launch(stream, {at(buf, 60), at(buf, 64)}));
    Plan moved = std::move(plan);
    EXPECT_THROW(plan.launch(stream, {at(buf), at(buf, 64)}),
                 Error); // NOLINT(bugprone-use-after-move)
    stream.discard();
}

TEST_F(OpsTest, DeviceCapabilitiesAreChecked) {
    Device device = open();
    const DeviceOps caps = DeviceOps::from_device(device);
    EXPECT_EQ(caps.packet_version, 2u);
    EXPECT_EQ(caps.op_mask, all_ops);
    const OpDesc neg = OpDesc::unary(NPU_FN_NEG);
    const std::vector<TensorDesc> ts = {f32({4}), f32({4})};
    DeviceOps old = caps;
    old.packet_version = 1;
    EXPECT_REFUSED(ENOTSUP, "packet version 1", neg, ts, old);
    DeviceOps no_unary = caps;
    no_unary.op_mask &= ~(uint64_t{1} << NPU_OP_UNARY);
    EXPECT_REFUSED(ENOTSUP, "does not execute this opcode", neg, ts, no_unary);
    DeviceOps no_f32 = caps;
    no_f32.dtype_mask &= ~(uint64_t{1} << NPU_DTYPE_F32);
    EXPECT_REFUSED(ENOTSUP, "does not support dtype f32", neg, ts, no_f32);
    // The default fake device predates operations: every plan is refused.
    Device plain(0, os);
    EXPECT_EQ(DeviceOps::from_device(plain).packet_version, 0u);
    EXPECT_THROW(Plan(plain, neg, ts), Error);
}

TEST_F(OpsTest, DescriptorRefusals) {
    const OpDesc neg = OpDesc::unary(NPU_FN_NEG);
    EXPECT_REFUSED(EINVAL, "2 tensor descriptors expected, 3 given", neg,
                   {f32({4}), f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "x is required", neg, {TensorDesc{}, f32({4})});
    EXPECT_REFUSED(EINVAL, "absent (dtype none) but has a shape", OpDesc::binary(NPU_BIN_ADD),
                   {f32({4}), f32({4}), TensorDesc{DType::none, {4}, {}}, f32({4})});
    EXPECT_REFUSED(EINVAL, "unknown dtype 9", neg,
                   {TensorDesc{static_cast<DType>(9), {4}, {}}, f32({4})});
    EXPECT_REFUSED(EINVAL, "rank 17 above 16", neg,
                   {f32(std::vector<int64_t>(17, 1)), f32(std::vector<int64_t>(17, 1))});
    EXPECT_REFUSED(EINVAL, "1 strides for rank 2", neg, {f32({2, 2}, {1}), f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "negative extent", neg, {f32({-1}), f32({4})});
    EXPECT_REFUSED(EINVAL, "element count overflows", neg,
                   {f32({1ll << 40, 1ll << 40}), f32({1ll << 40, 1ll << 40})});
    EXPECT_REFUSED(EINVAL, "reaches beyond any address space", neg,
                   {f32({4}, {int64_t{1} << 61}), f32({4})});
    EXPECT_REFUSED(EINVAL, "does not broadcast", neg, {f32({3}), f32({4})});
    EXPECT_REFUSED(EINVAL, "more dimensions than", neg, {f32({1, 4}), f32({4})});
    OpDesc bad_kind;
    bad_kind.kind = static_cast<OpKind>(10);
    EXPECT_REFUSED(EINVAL, "unknown operation kind", bad_kind, {f32({4}), f32({4})});
    OpDesc stray = OpDesc::cast();
    stray.axes = 1;
    EXPECT_REFUSED(EINVAL, "axes/axis must be 0", stray, {f32({4}), f32({4})});
    stray = OpDesc::cast();
    stray.groups = 2;
    EXPECT_REFUSED(EINVAL, "window parameters", stray, {f32({4}), f32({4})});
    stray = OpDesc::binary(NPU_BIN_ADD);
    stray.act.fn = NPU_FN_RELU;
    EXPECT_REFUSED(EINVAL, "act must be left unset", stray, {f32({4}), f32({4}), {}, f32({4})});
    stray = OpDesc::unary(NPU_FN_NEG);
    stray.pad_value = 1;
    EXPECT_REFUSED(EINVAL, "copy_offset and pad_value", stray, {f32({4}), f32({4})});
}

TEST_F(OpsTest, SplittingLimits) {
    // An extent above 2^32 - 1 in element-wise work becomes chunks (x
    // broadcasts one element, so the descriptor itself is cheap).
    const int64_t big = (int64_t{1} << 33) + 5;
    Plan chunks(full_caps(), OpDesc::unary(NPU_FN_NEG), {f32({big}, {0}), f32({big}, {0})});
    EXPECT_EQ(chunks.packet_count(), 5u);
    // Not in a reduced dimension, nor in a convolution.
    EXPECT_REFUSED(ENOTSUP, "reduced or normalised extent", OpDesc::reduce(NPU_RED_SUM, 1),
                   {f32({big}, {0}), f32({1})});
    EXPECT_REFUSED(ENOTSUP, "above 2^32 - 1 for this operation", OpDesc::conv(),
                   {f32({1, 1, big}, {0, 0, 0}), f32({1, 1, 1}), {}, f32({1, 1, big}, {0, 0, 0})});
    EXPECT_REFUSED(ENOTSUP, "M, N or K above 2^32 - 1", OpDesc::gemm(),
                   {f32({1, big}, {0, 0}), f32({big, 1}, {0, 0}), {}, f32({1, 1})});
    // Too many packets.
    std::vector<int64_t> shape = {100, 100, 2, 2, 2, 2, 2, 2}, strides(8);
    int64_t s = 1;
    for (size_t i = 8; i-- > 0;) {
        strides[i] = s;
        s = s * shape[i] + 1;
    }
    EXPECT_REFUSED(ENOTSUP, "more than 4096 packets", OpDesc::unary(NPU_FN_NEG),
                   {f32(shape, strides), f32(shape, strides)});
    // More than six reduced dimensions that do not merge.
    shape = {2, 2, 2, 2, 2, 2, 2};
    strides.assign(7, 0);
    s = 1;
    for (size_t i = 7; i-- > 0;) {
        strides[i] = s;
        s = s * 2 + 1;
    }
    EXPECT_REFUSED(ENOTSUP, "neither merge nor split", OpDesc::reduce(NPU_RED_SUM, 0x7f),
                   {f32(shape, strides), f32(std::vector<int64_t>(7, 1))});
    // Engine memory.
    DeviceOps small = full_caps();
    small.engine_mem_size = 1024;
    // A GEMM beyond it is split along K (GemmSplitsKBeyondEngineMemory),
    // unless y cannot carry the partial sums or not even K = 1 fits.
    EXPECT_REFUSED(ENOTSUP, "cannot carry the partial sums", OpDesc::gemm(),
                   {f32({2, 200}), f32({200, 2}), {}, TensorDesc::contiguous(DType::f16, {2, 2})},
                   small);
    DeviceOps tiny = full_caps();
    tiny.engine_mem_size = 8;
    EXPECT_REFUSED(ENOTSUP, "does not fit an engine's local memory", OpDesc::gemm(),
                   {f32({2, 2}), f32({2, 2}), {}, f32({2, 2})}, tiny);
    EXPECT_REFUSED(ENOTSUP, "split it spatially", OpDesc::conv(),
                   {f32({1, 1, 300}), f32({1, 1, 3}), {}, f32({1, 1, 298})}, small);
}

TEST_F(OpsTest, GemmRefusals) {
    const OpDesc g = OpDesc::gemm();
    EXPECT_REFUSED(EINVAL, "y's rank 1 below 2", g, {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_REFUSED(EINVAL, "a and b need rank 2", g, {f32({4}), f32({4, 2}), {}, f32({1, 2})});
    EXPECT_REFUSED(EINVAL, "a's M (3) differs", g, {f32({3, 4}), f32({4, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "b's N (3) differs", g, {f32({2, 4}), f32({4, 3}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "a's K (4) differs from b's K (5)", g,
                   {f32({2, 4}), f32({5, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "does not broadcast", g,
                   {f32({3, 2, 4}), f32({4, 2}), {}, f32({2, 2, 2})});
    const auto i8 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i8, s); };
    const auto i32 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i32, s); };
    const auto bf = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::bf16, s); };
    EXPECT_REFUSED(EINVAL, "neither one float type", g, {f32({2, 2}), bf({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "y not a float type", g, {f32({2, 2}), f32({2, 2}), {}, i32({2, 2})});
    EXPECT_REFUSED(EINVAL, "c not a float type", g,
                   {f32({2, 2}), f32({2, 2}), i32({2, 2}), f32({2, 2})});
    OpDesc q = g;
    q.quant.a_zero = 1;
    EXPECT_REFUSED(EINVAL, "quant not zero for float inputs", q,
                   {f32({2, 2}), f32({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "not I32, I8, U8 or F32", g, {i8({2, 2}), i8({2, 2}), {}, bf({2, 2})});
    EXPECT_REFUSED(EINVAL, "not F32 for an F32 y", g,
                   {i8({2, 2}), i8({2, 2}), i32({2}), f32({2, 2})});
    q = g;
    q.quant.a_zero = 200;
    EXPECT_REFUSED(EINVAL, "zero point outside", q, {i8({2, 2}), i8({2, 2}), {}, i32({2, 2})});
    q = g;
    q.quant.y_scale = INFINITY;
    EXPECT_REFUSED(EINVAL, "y_scale not finite", q, {i8({2, 2}), i8({2, 2}), {}, i8({2, 2})});
    EXPECT_REFUSED(EINVAL, "alpha/beta not 1 for an integer y", OpDesc::gemm(2.0f),
                   {i8({2, 2}), i8({2, 2}), {}, i32({2, 2})});
    EXPECT_REFUSED(EINVAL, "c/y not the integer dtype", g,
                   {i32({2, 2}), i32({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "alpha/beta not finite", OpDesc::gemm(NAN),
                   {f32({2, 2}), f32({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "only IDENTITY or RELU", OpDesc::gemm(1, 1, {NPU_FN_TANH, 0, 0}),
                   {i8({2, 2}), i8({2, 2}), {}, i32({2, 2})});
    EXPECT_REFUSED(EINVAL, "does not keep a float result", OpDesc::gemm(1, 1, {NPU_FN_ISNAN, 0, 0}),
                   {f32({2, 2}), f32({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(EINVAL, "unknown activation", OpDesc::gemm(1, 1, {99, 0, 0}),
                   {f32({2, 2}), f32({2, 2}), {}, f32({2, 2})});
    EXPECT_REFUSED(0, "", g, {i8({2, 3}), i8({3, 2}), i32({2}), i8({2, 2})});
}

TEST_F(OpsTest, ConvAndPoolRefusals) {
    const OpDesc c = OpDesc::conv();
    EXPECT_REFUSED(0, "", c, {f32({1, 2, 8, 8}), f32({4, 2, 3, 3}), f32({4}), f32({1, 4, 6, 6})});
    EXPECT_REFUSED(EINVAL, "is not 3 to 5", c, {f32({2, 8}), f32({4, 2}), {}, f32({2, 4})});
    EXPECT_REFUSED(EINVAL, "same rank", c, {f32({1, 2, 8}), f32({4, 2, 3, 3}), {}, f32({1, 4, 6})});
    OpDesc g0 = c;
    g0.groups = 0;
    EXPECT_REFUSED(EINVAL, "groups is 0", g0, {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});
    OpDesc g3 = c;
    g3.groups = 3;
    EXPECT_REFUSED(EINVAL, "groups does not divide", g3,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});
    EXPECT_REFUSED(EINVAL, "y's N differs", c,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({2, 4, 6})});
    EXPECT_REFUSED(EINVAL, "w is not [OC, C / groups", c,
                   {f32({1, 2, 8}), f32({4, 1, 3}), {}, f32({1, 4, 6})});
    OpDesc t = c;
    t.flags = NPU_CONV_TRANSPOSED;
    EXPECT_REFUSED(EINVAL, "w is not [C, OC / groups", t,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 10})});
    EXPECT_REFUSED(0, "", t, {f32({1, 2, 8}), f32({2, 4, 3}), {}, f32({1, 4, 10})});
    EXPECT_REFUSED(EINVAL, "does not follow the transposed formula", t,
                   {f32({1, 2, 8}), f32({2, 4, 3}), {}, f32({1, 4, 12})});
    OpDesc bad_flags = c;
    bad_flags.flags = 2;
    EXPECT_REFUSED(EINVAL, "unknown flags", bad_flags,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});
    EXPECT_REFUSED(EINVAL, "bias is not [OC]", c,
                   {f32({1, 2, 8}), f32({4, 2, 3}), f32({2}), f32({1, 4, 6})});
    EXPECT_REFUSED(EINVAL, "y's spatial extent 5", c,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 5})});
    EXPECT_REFUSED(EINVAL, "dilated kernel is larger", c,
                   {f32({1, 2, 2}), f32({4, 2, 3}), {}, f32({1, 4, 1})});
    OpDesc st = c;
    st.stride[0] = 0;
    EXPECT_REFUSED(EINVAL, "at least 1", st, {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});
    OpDesc beyond = c;
    beyond.pad_begin[2] = 1;
    EXPECT_REFUSED(EINVAL, "beyond the 1 spatial", beyond,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});
    OpDesc kernel = c;
    kernel.kernel[0] = 3;
    EXPECT_REFUSED(EINVAL, "w gives the kernel", kernel,
                   {f32({1, 2, 8}), f32({4, 2, 3}), {}, f32({1, 4, 6})});

    const OpDesc mp = OpDesc::pool(NPU_POOL_MAX, {2, 2, 0});
    const auto i64 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i64, s); };
    EXPECT_REFUSED(0, "", mp, {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), i64({1, 3, 7, 7})});
    OpDesc ceil = mp;
    ceil.stride = {2, 2, 1};
    EXPECT_REFUSED(0, "", ceil, {f32({1, 3, 7, 7}), f32({1, 3, 4, 4}), {}});
    EXPECT_REFUSED(EINVAL, "neither the floor (3)", ceil,
                   {f32({1, 3, 7, 7}), f32({1, 3, 5, 5}), {}});
    EXPECT_REFUSED(EINVAL, "unknown pool mode", OpDesc::pool(7, {2, 2, 0}),
                   {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), {}});
    EXPECT_REFUSED(EINVAL, "p must be at least 1", OpDesc::pool(NPU_POOL_LP, {2, 2, 0}),
                   {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), {}});
    EXPECT_REFUSED(EINVAL, "x is not a float type", mp, {i64({1, 3, 8, 8}), i64({1, 3, 7, 7}), {}});
    EXPECT_REFUSED(EINVAL, "y's dtype is not x's", mp,
                   {f32({1, 3, 8, 8}), TensorDesc::contiguous(DType::f16, {1, 3, 7, 7}), {}});
    EXPECT_REFUSED(EINVAL, "with x's N and C", mp, {f32({1, 3, 8, 8}), f32({1, 2, 7, 7}), {}});
    EXPECT_REFUSED(EINVAL, "indices only for MAX", OpDesc::pool(NPU_POOL_AVG, {2, 2, 0}),
                   {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), i64({1, 3, 7, 7})});
    EXPECT_REFUSED(EINVAL, "indices not I64", mp,
                   {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), f32({1, 3, 7, 7})});
    OpDesc pad = mp;
    pad.pad_begin = {2, 0, 0};
    EXPECT_REFUSED(EINVAL, "padding not below", pad, {f32({1, 3, 8, 8}), f32({1, 3, 9, 7}), {}});
    EXPECT_REFUSED(EINVAL, "at least 1", OpDesc::pool(NPU_POOL_MAX, {0, 2, 0}),
                   {f32({1, 3, 8, 8}), f32({1, 3, 7, 7}), {}});
}

TEST_F(OpsTest, ElementwiseRefusals) {
    const auto b8 = [](std::vector<int64_t> s) {
        return TensorDesc::contiguous(DType::boolean, s);
    };
    const auto i32 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i32, s); };
    EXPECT_REFUSED(EINVAL, "unknown function 46", OpDesc::unary(46), {f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "alpha/beta not finite", OpDesc::unary(NPU_FN_ELU, NAN),
                   {f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "not defined on i32", OpDesc::unary(NPU_FN_EXP), {i32({4}), i32({4})});
    EXPECT_REFUSED(EINVAL, "not defined on f32", OpDesc::unary(NPU_FN_NOT), {f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "y's dtype must be bool", OpDesc::unary(NPU_FN_ISNAN),
                   {f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "y's dtype must be x's", OpDesc::unary(NPU_FN_RELU),
                   {f32({4}), i32({4})});
    EXPECT_REFUSED(0, "", OpDesc::unary(NPU_FN_ISINF, 1, 0), {f32({4}), b8({4})});

    const auto bin = [](uint32_t fn) { return OpDesc::binary(fn); };
    EXPECT_REFUSED(EINVAL, "unknown function 24", bin(24), {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_REFUSED(EINVAL, "b's dtype is not a's", bin(NPU_BIN_ADD),
                   {f32({4}), i32({4}), {}, f32({4})});
    EXPECT_REFUSED(EINVAL, "select needs cond", bin(NPU_BIN_SELECT),
                   {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_REFUSED(EINVAL, "cond only for select", bin(NPU_BIN_ADD),
                   {f32({4}), f32({4}), b8({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "cond is not bool", bin(NPU_BIN_SELECT),
                   {f32({4}), f32({4}), f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "not defined on f32", bin(NPU_BIN_AND),
                   {f32({4}), f32({4}), {}, b8({4})});
    EXPECT_REFUSED(EINVAL, "not defined on f32", bin(NPU_BIN_SHIFT_LEFT),
                   {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_REFUSED(EINVAL, "not defined on bool", bin(NPU_BIN_ADD),
                   {b8({4}), b8({4}), {}, b8({4})});
    EXPECT_REFUSED(EINVAL, "y's dtype must be bool", bin(NPU_BIN_LESS),
                   {f32({4}), f32({4}), {}, f32({4})});
    EXPECT_REFUSED(0, "", bin(NPU_BIN_SELECT), {f32({4}), f32({1}), b8({4}), f32({4})});

    EXPECT_REFUSED(EINVAL, "y's dtype is not x's", OpDesc::tensor_copy(), {f32({4}), i32({4})});
    EXPECT_REFUSED(0, "", OpDesc::cast(), {f32({4}), b8({4})});
}

TEST_F(OpsTest, ReduceNormCopyGatherRefusals) {
    const auto i32 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i32, s); };
    const auto i64 = [](std::vector<int64_t> s) { return TensorDesc::contiguous(DType::i64, s); };
    const auto b8 = [](std::vector<int64_t> s) {
        return TensorDesc::contiguous(DType::boolean, s);
    };
    const auto red = [](uint32_t fn, uint64_t axes) { return OpDesc::reduce(fn, axes); };
    EXPECT_REFUSED(EINVAL, "unknown function 12", red(12, 1), {f32({4}), f32({1})});
    OpDesc flags = red(NPU_RED_SUM, 1);
    flags.flags = NPU_RED_SELECT_LAST;
    EXPECT_REFUSED(EINVAL, "flags only SELECT_LAST", flags, {f32({4}), f32({1})});
    EXPECT_REFUSED(EINVAL, "axes bit at or above", red(NPU_RED_SUM, 2), {f32({4}), f32({1})});
    EXPECT_REFUSED(EINVAL, "exactly one axis", red(NPU_RED_ARGMAX, 3), {f32({4, 4}), i64({1, 1})});
    EXPECT_REFUSED(EINVAL, "is not [1, 4]", red(NPU_RED_SUM, 1), {f32({4, 4}), f32({4, 4})});
    EXPECT_REFUSED(EINVAL, "rank is neither", red(NPU_RED_SUM, 1), {f32({4, 4}), f32({1, 1, 4})});
    EXPECT_REFUSED(EINVAL, "not defined on i32", red(NPU_RED_L2, 1), {i32({4}), i32({1})});
    EXPECT_REFUSED(EINVAL, "not defined on bool", red(NPU_RED_SUM, 1), {b8({4}), b8({1})});
    EXPECT_REFUSED(EINVAL, "y must be I32 or I64", red(NPU_RED_ARGMIN, 1), {f32({4}), f32({1})});
    EXPECT_REFUSED(EINVAL, "y's dtype is not x's", red(NPU_RED_MAX, 1), {f32({4}), i32({1})});
    EXPECT_REFUSED(EINVAL, "over an empty axis", red(NPU_RED_ARGMAX, 1), {f32({0}), i32({1})});
    EXPECT_REFUSED(0, "", red(NPU_RED_SUM, 1), {f32({0}), f32({1})});

    const TensorDesc none;
    const auto norm = [](uint32_t fn, uint64_t axes) { return OpDesc::norm(fn, axes); };
    EXPECT_REFUSED(EINVAL, "unknown function 4", norm(4, 1),
                   {f32({4}), none, none, none, none, f32({4})});
    EXPECT_REFUSED(EINVAL, "must be float types", norm(NPU_NORM_SOFTMAX, 1),
                   {i32({4}), none, none, none, none, i32({4})});
    EXPECT_REFUSED(EINVAL, "y's shape is not x's", norm(NPU_NORM_SOFTMAX, 1),
                   {f32({4}), none, none, none, none, f32({5})});
    EXPECT_REFUSED(EINVAL, "at least one axis", norm(NPU_NORM_SOFTMAX, 0),
                   {f32({4}), none, none, none, none, f32({4})});
    EXPECT_REFUSED(EINVAL, "BATCH takes no axes", norm(NPU_NORM_BATCH, 1),
                   {f32({4}), f32({4}), f32({4}), f32({4}), f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "epsilon not finite", OpDesc::norm(NPU_NORM_NORMALIZE, 1, INFINITY),
                   {f32({4}), none, none, none, none, f32({4})});
    EXPECT_REFUSED(EINVAL, "scale and bias only for", norm(NPU_NORM_SOFTMAX, 1),
                   {f32({4}), f32({4}), none, none, none, f32({4})});
    EXPECT_REFUSED(EINVAL, "BATCH needs scale and bias", norm(NPU_NORM_BATCH, 0),
                   {f32({4}), none, none, f32({4}), f32({4}), f32({4})});
    EXPECT_REFUSED(EINVAL, "mean and var go with BATCH", norm(NPU_NORM_NORMALIZE, 1),
                   {f32({4}), none, none, f32({4}), none, f32({4})});
    EXPECT_REFUSED(EINVAL, "scale is not a float type", norm(NPU_NORM_NORMALIZE, 1),
                   {f32({4}), i32({4}), none, none, none, f32({4})});
    EXPECT_REFUSED(
        0, "", norm(NPU_NORM_BATCH, 0),
        {f32({2, 3, 4}), f32({3, 1}), f32({3, 1}), f32({3, 1}), f32({3, 1}), f32({2, 3, 4})});

    OpDesc pad = OpDesc::tensor_copy(NPU_COPY_PAD_CONSTANT);
    pad.copy_offset = {1, -1};
    pad.pad_value = 0x3f800000;
    EXPECT_REFUSED(0, "", pad, {f32({3, 4}), f32({5, 2})});
    EXPECT_REFUSED(EINVAL, "same dtype and rank", pad, {f32({3, 4}), f32({5})});
    OpDesc wrong = pad;
    wrong.copy_offset = {1};
    EXPECT_REFUSED(EINVAL, "one entry per dimension", wrong, {f32({3, 4}), f32({5, 2})});
    OpDesc plain = OpDesc::tensor_copy();
    plain.copy_offset = {0, 1};
    EXPECT_REFUSED(EINVAL, "PLAIN copies take no copy_offset", plain, {f32({3, 4}), f32({3, 4})});
    plain.copy_offset = {0, 0};
    EXPECT_REFUSED(0, "", plain, {f32({3, 4}), f32({3, 4})});
    EXPECT_REFUSED(EINVAL, "unknown copy mode 4", OpDesc::tensor_copy(4), {f32({3}), f32({3})});
    wrong = OpDesc::tensor_copy(NPU_COPY_PAD_CONSTANT);
    wrong.pad_value = 1ull << 40;
    EXPECT_REFUSED(EINVAL, "bits above y's element size", wrong, {f32({3}), f32({5})});
    wrong.pad_value = 2;
    EXPECT_REFUSED(EINVAL, "0 or 1", wrong, {b8({3}), b8({5})});
    wrong = OpDesc::tensor_copy(NPU_COPY_PAD_EDGE);
    wrong.pad_value = 1;
    EXPECT_REFUSED(EINVAL, "pad_value only for PAD_CONSTANT", wrong, {f32({3}), f32({5})});
    wrong = OpDesc::tensor_copy(NPU_COPY_PAD_REFLECT);
    wrong.copy_offset = {1};
    EXPECT_REFUSED(EINVAL, "reflection needs", wrong, {f32({1}), f32({3})});
    wrong = OpDesc::tensor_copy(NPU_COPY_PAD_EDGE);
    EXPECT_REFUSED(EINVAL, "at least 1 for edge", wrong, {f32({0}), f32({3})});
    wrong.copy_offset = {int64_t{1} << 40};
    EXPECT_REFUSED(EINVAL, "outside 32 bits", wrong, {f32({1}), f32({3})});
    EXPECT_REFUSED(ENOTSUP, "above the packet's 6", OpDesc::tensor_copy(NPU_COPY_PAD_EDGE),
                   {f32(std::vector<int64_t>(7, 1)), f32(std::vector<int64_t>(7, 1))});

    const auto take = OpDesc::gather(NPU_GATHER_TAKE, 1);
    EXPECT_REFUSED(0, "", take, {f32({3, 4, 5}), i32({2, 2}), f32({3, 2, 2, 5})});
    EXPECT_REFUSED(EINVAL, "unknown gather mode", OpDesc::gather(2, 0),
                   {f32({3}), i32({2}), f32({2})});
    EXPECT_REFUSED(EINVAL, "axis 3 not below", OpDesc::gather(NPU_GATHER_TAKE, 3),
                   {f32({3}), i32({2}), f32({2})});
    EXPECT_REFUSED(EINVAL, "indices must be I32 or I64", take,
                   {f32({3, 4}), f32({2}), f32({3, 2})});
    EXPECT_REFUSED(EINVAL, "y's dtype is not x's", take, {f32({3, 4}), i32({2}), i32({3, 2})});
    EXPECT_REFUSED(EINVAL, "is not [3, 2]", take, {f32({3, 4}), i32({2}), f32({3, 3})});
    const auto elements = OpDesc::gather(NPU_GATHER_ELEMENTS, 0);
    EXPECT_REFUSED(EINVAL, "indices need x's rank", elements, {f32({3, 4}), i32({2}), f32({2})});
    EXPECT_REFUSED(EINVAL, "indices' extent above x's", elements,
                   {f32({3, 4}), i32({2, 5}), f32({2, 5})});
    EXPECT_REFUSED(0, "", elements, {f32({3, 4}), i64({5, 2}), f32({5, 2})});
}

TEST_F(OpsTest, CApi) {
    npu_device_t dev = nullptr;
    ASSERT_EQ(npu_device_open_by("0000:00:07.0", &dev), NPU_SUCCESS) << npu_last_error_message();
    npu_buffer_t buf = nullptr;
    ASSERT_EQ(npu_buffer_create(dev, 4096, 0, &buf), NPU_SUCCESS);
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create(dev, &stream), NPU_SUCCESS);
    uint64_t addr = 0;
    ASSERT_EQ(npu_buffer_device_addr(buf, &addr), NPU_SUCCESS);

    npu_op_desc_t op;
    ASSERT_EQ(npu_op_desc_init(&op, NPU_OP_KIND_BINARY), NPU_SUCCESS);
    EXPECT_EQ(op.size, sizeof(op));
    EXPECT_EQ(op.stride[2], 1u);
    op.fn = NPU_BIN_ADD;
    const int64_t shape[2] = {4, 8};
    const int64_t row[1] = {8};
    const npu_tensor_desc_t ts[4] = {
        {NPU_DTYPE_F32, 2, shape, nullptr},
        {NPU_DTYPE_F32, 1, row, nullptr},
        {NPU_DTYPE_NONE, 0, nullptr, nullptr},
        {NPU_DTYPE_F32, 2, shape, nullptr},
    };
    npu_op_plan_t plan = nullptr;
    ASSERT_EQ(npu_op_plan_create(dev, &op, ts, 4, &plan), NPU_SUCCESS) << npu_last_error_message();
    size_t operands = 0, packets = 0;
    ASSERT_EQ(npu_op_plan_info(plan, &operands, &packets), NPU_SUCCESS);
    EXPECT_EQ(operands, 4u);
    EXPECT_EQ(packets, 1u);
    const void* ptrs[4] = {reinterpret_cast<void*>(addr), reinterpret_cast<void*>(addr + 256),
                           nullptr, reinterpret_cast<void*>(addr + 512)};
    ASSERT_EQ(npu_op_plan_launch(plan, stream, ptrs, 4), NPU_SUCCESS) << npu_last_error_message();
    ASSERT_EQ(npu_stream_flush(stream), NPU_SUCCESS);
    const auto p = packet_at<npu_pkt_binary>(os->submits().at(0), 0);
    EXPECT_EQ(p.b.addr, addr + 256);
    EXPECT_EQ(p.b.stride[0], 0);

    // Refusals: a launch outside any allocation, an unsupported dtype, a
    // malformed description, a stale struct size.
    const void* bad[4] = {reinterpret_cast<void*>(0x10), ptrs[1], nullptr, ptrs[3]};
    EXPECT_EQ(npu_op_plan_launch(plan, stream, bad, 4), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(npu_last_error_message()).find("not inside one allocation"),
              std::string::npos);
    EXPECT_EQ(npu_op_plan_launch(plan, stream, ptrs, 3), NPU_ERROR_INVALID_ARGUMENT);
    npu_op_plan_t other = nullptr;
    EXPECT_EQ(npu_op_plan_create(dev, &op, ts, 3, &other), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(npu_last_error_message()).find("4 tensor descriptors expected"),
              std::string::npos);
    op.size = 8;
    EXPECT_EQ(npu_op_plan_create(dev, &op, ts, 4, &other), NPU_ERROR_INVALID_ARGUMENT);
    npu_device_t old = nullptr;
    ASSERT_EQ(npu_device_open(0, &old), NPU_SUCCESS);
    npu_op_desc_init(&op, NPU_OP_KIND_BINARY);
    EXPECT_EQ(npu_op_plan_create(old, &op, ts, 4, &other), NPU_ERROR_NOT_SUPPORTED);
    EXPECT_STREQ(npu_status_string(NPU_ERROR_NOT_SUPPORTED), "NPU_ERROR_NOT_SUPPORTED");
    EXPECT_NE(std::string(npu_last_error_message()).find("packet version 0"), std::string::npos);
    EXPECT_EQ(npu_op_plan_create(dev, nullptr, ts, 4, &other), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(other, nullptr);

    EXPECT_EQ(npu_op_plan_destroy(plan), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_synchronize(stream, 1000000000), NPU_ERROR_JOB_FAILED)
        << "FakeOs does not run operation packets";
    npu_stream_destroy(stream);
    npu_buffer_destroy(buf);
    npu_device_close(old);
    npu_device_close(dev);
}

} // namespace
} // namespace npu::testing
