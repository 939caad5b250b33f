// Graphs (npu/graph.hpp) against the fake OS, which executes the packets:
// capture, the baked CALL, pointer updates and what capture refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/graph.hpp"
#include "npu/npu.h"
#include "npu/stream.hpp"

namespace npu::testing {
namespace {

using GraphTest = FakeOsTest;
using std::chrono::seconds;

// Which launches share a job is checked with manual submission: the
// automatic policy would submit an idle stream's first packet at once.
StreamOptions batching() {
    StreamOptions options;
    options.submit_policy = SubmitPolicy::manual;
    return options;
}

void* dev(const Buffer& buffer, size_t offset = 0) {
    return reinterpret_cast<void*>(buffer.device_addr() + offset);
}

uint32_t word(const Buffer& buffer, size_t index) {
    uint32_t value = 0;
    std::memcpy(&value, static_cast<const std::byte*>(buffer.host_ptr()) + 4 * index, 4);
    return value;
}

template <typename T>
void expect_errno(int errnum, T&& body) {
    try {
        body();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), errnum) << e.what();
    }
}

TEST_F(GraphTest, CaptureRunsNothingThenOneCallPerLaunch) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream stream(device, batching());
    Graph::begin_capture(stream);
    EXPECT_TRUE(Graph::capturing(stream));
    stream.fill(a, 0, 64, 0x11111111);
    stream.copy(a, 0, b, 64, 64);
    Graph graph = Graph::end_capture(stream);
    EXPECT_FALSE(Graph::capturing(stream));
    stream.synchronize(seconds(1));
    EXPECT_TRUE(os->submits().empty()) << "captured work ran";
    ASSERT_EQ(graph.node_count(), 2u);
    EXPECT_EQ(graph.node_kind(0), GraphNodeKind::fill);
    EXPECT_EQ(graph.node_kind(1), GraphNodeKind::copy);
    EXPECT_EQ(graph.pointer_count(0), 1u);
    ASSERT_EQ(graph.pointer_count(1), 2u);
    EXPECT_EQ(graph.pointer(1, 0), dev(a));
    EXPECT_EQ(graph.pointer(1, 1), dev(b, 64));

    GraphExec exec(graph);
    for (int i = 0; i < 3; i++)
        exec.launch(stream);
    stream.synchronize(seconds(1));
    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u) << "three launches batch into one job";
    ASSERT_EQ(submits[0].commands.size(), 3 * sizeof(npu_pkt_call));
    npu_pkt_call call;
    std::memcpy(&call, submits[0].commands.data(), sizeof(call));
    EXPECT_EQ(call.header, NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS));
    EXPECT_EQ(call.size, graph.command_bytes());
    EXPECT_EQ(word(b, 16), 0x11111111u);
    // The baked buffer and every buffer the graph uses are listed.
    const auto& handles = submits[0].bo_handles;
    EXPECT_NE(std::find(handles.begin(), handles.end(), a.handle()), handles.end());
    EXPECT_NE(std::find(handles.begin(), handles.end(), b.handle()), handles.end());
    EXPECT_EQ(handles.size(), 4u);
}

TEST_F(GraphTest, SetPointerAndRebindPatchTheNextLaunch) {
    Device device(0, os);
    Buffer src(device, 4096);
    Buffer dst1(device, 4096);
    Buffer dst2(device, 4096);
    Stream stream(device, batching());
    stream.fill(src, 0, 16, 0xabababab);
    stream.synchronize(seconds(1));
    Graph::begin_capture(stream);
    stream.copy(src, 0, dst1, 0, 16);
    stream.fill(dst1, 32, 16, 0x5);
    Graph graph = Graph::end_capture(stream);
    GraphExec exec(graph);
    exec.launch(stream);
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(dst1, 0), 0xababababu);

    exec.set_pointer(0, 1, dev(dst2, 8));
    EXPECT_EQ(exec.pointer(0, 1), dev(dst2, 8));
    EXPECT_EQ(graph.pointer(0, 1), dev(dst1)) << "the graph itself is unchanged";
    exec.launch(stream);
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(dst2, 2), 0xababababu);
    EXPECT_EQ(word(dst2, 8), 0u) << "the fill still goes to dst1";

    EXPECT_EQ(exec.rebind(dev(dst1), dst1.size(), dev(dst2)), 1u); // the fill
    exec.launch(stream);
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(dst2, 8), 5u);
}

TEST_F(GraphTest, BadUpdatesAreRejectedAndChangeNothing) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream stream(device, batching());
    Graph::begin_capture(stream);
    stream.copy(a, 0, b, 0, 256);
    stream.fill(b, 256, 64, 1);
    Graph graph = Graph::end_capture(stream);
    GraphExec exec(graph);
    const size_t page = a.size();
    expect_errno(EINVAL, [&] { exec.set_pointer(0, 1, dev(b, page - 128)); }); // runs past b
    expect_errno(EINVAL, [&] { exec.set_pointer(0, 1, dev(a, 128)); });        // overlaps src
    expect_errno(EINVAL, [&] { exec.set_pointer(1, 0, dev(b, 2)); });          // fill alignment
    expect_errno(EINVAL, [&] { exec.set_pointer(0, 0, reinterpret_cast<void*>(8)); });
    expect_errno(EINVAL, [&] { exec.set_pointer(0, 2, dev(a)); }); // no such pointer
    expect_errno(EINVAL, [&] { exec.set_pointer(2, 0, dev(a)); }); // no such node
    // rebind is all or nothing: the fill would leave b, the copy is fine
    expect_errno(EINVAL, [&] { (void)exec.rebind(dev(b), page, dev(a, page - 64)); });
    EXPECT_EQ(exec.pointer(0, 1), dev(b));
    EXPECT_EQ(exec.pointer(1, 0), dev(b, 256));
    EXPECT_EQ(exec.baked_buffers(), 1u);
}

// An update while a launch is still in flight bakes into another buffer:
// the running launch keeps its pointers.
TEST_F(GraphTest, UpdateDuringALaunchUsesAnotherBuffer) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream stream(device, batching());
    Graph::begin_capture(stream);
    stream.fill(a, 0, 4, 7);
    Graph graph = Graph::end_capture(stream);
    GraphExec exec(graph);
    os->hold_jobs(true);
    exec.launch(stream);
    stream.flush();
    exec.set_pointer(0, 0, dev(b));
    exec.launch(stream);
    EXPECT_EQ(exec.baked_buffers(), 2u);
    os->hold_jobs(false);
    os->release_jobs();
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(a, 0), 7u);
    EXPECT_EQ(word(b, 0), 7u);
    exec.set_pointer(0, 0, dev(a, 4));
    exec.launch(stream);
    stream.synchronize(seconds(1));
    EXPECT_EQ(exec.baked_buffers(), 2u) << "an idle buffer is reused";
    EXPECT_EQ(word(a, 1), 7u);
}

TEST_F(GraphTest, CrossStreamRecordAndWaitJoinTheCapture) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream origin(device, batching());
    Stream side(device, batching());
    Event forked(device);
    Event joined(device);
    Graph::begin_capture(origin);
    origin.fill(a, 0, 4, 1);
    origin.record(forked);
    side.wait(forked);
    EXPECT_TRUE(Graph::capturing(side)) << "waiting on a captured event joins the capture";
    side.copy(a, 0, a, 4, 4);
    side.record(joined);
    origin.wait(joined);
    origin.copy(a, 4, a, 8, 4);
    expect_errno(EINVAL, [&] { (void)Graph::end_capture(side); });
    Graph graph = Graph::end_capture(origin);
    EXPECT_FALSE(Graph::capturing(side));
    EXPECT_FALSE(forked.recorded()) << "a captured record is no record outside";
    ASSERT_EQ(graph.node_count(), 7u);
    EXPECT_EQ(graph.node_kind(1), GraphNodeKind::event_record);
    EXPECT_EQ(graph.node_kind(2), GraphNodeKind::event_wait);
    EXPECT_EQ(graph.pointer_count(1), 0u);
    GraphExec exec(graph);
    exec.launch(origin);
    exec.launch(origin);
    origin.synchronize(seconds(1));
    EXPECT_EQ(word(a, 2), 1u);
    EXPECT_TRUE(os->submits().size() == 1u);
}

TEST_F(GraphTest, CaptureRefusesHostWorkAndOutsideEvents) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, batching());
    Event outside(device);
    stream.record(outside);
    Graph::begin_capture(stream);
    expect_errno(EINVAL, [&] { stream.launch_host_func([] {}); });
    uint32_t host = 0;
    expect_errno(EINVAL, [&] { stream.copy_to_host(&host, a, 0, 4); });
    expect_errno(EINVAL, [&] { stream.copy_from_host(a, 0, &host, 4); });
    expect_errno(EINVAL, [&] { stream.wait(outside); });
    expect_errno(EINVAL, [&] { Graph::begin_capture(stream); });
    stream.fill(a, 0, 4, 3); // still capturing
    Graph graph = Graph::end_capture(stream);
    EXPECT_EQ(graph.node_count(), 1u);
    GraphExec exec(graph);
    Graph::begin_capture(stream);
    expect_errno(EINVAL, [&] { exec.launch(stream); });
    (void)Graph::end_capture(stream);
    expect_errno(EINVAL, [&] { (void)Graph::end_capture(stream); });
    expect_errno(EINVAL, [] { GraphExec empty{Graph()}; });
    stream.synchronize(seconds(1));
}

// A failing node fails the launch: synchronize() reports the job error at
// the CALL, with the fault address; the graph keeps its buffers alive.
TEST_F(GraphTest, AFailingNodeFailsTheLaunch) {
    Device device(0, os);
    Buffer a(device, 4096);
    std::optional<Buffer> ro;
    ro.emplace(device, 4096, BufferFlags::device_read_only);
    const uint64_t ro_addr = ro->device_addr();
    Stream stream(device, batching());
    Graph::begin_capture(stream);
    stream.fill(a, 0, 4, 1);
    stream.copy(a, 0, *ro, 0, 64);
    stream.fill(a, 4, 4, 2);
    Graph graph = Graph::end_capture(stream);
    GraphExec exec(graph);
    stream.fill(a, 64, 4, 3); // before the CALL in the same job
    exec.launch(stream);
    ro.reset(); // the graph keeps the buffer object alive
    try {
        stream.synchronize(seconds(1));
        ADD_FAILURE() << "the failed launch was not reported";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
        EXPECT_EQ(e.err_offset(), sizeof(npu_pkt_fill)) << "the CALL's offset";
        EXPECT_EQ(e.fault_addr(), ro_addr);
    }
    EXPECT_EQ(word(a, 16), 3u);
    EXPECT_EQ(word(a, 0), 1u) << "the node before the failing one ran";
    EXPECT_EQ(word(a, 1), 0u) << "the node after the failing one ran";
}

TEST_F(GraphTest, DeviceWithoutCallIsRefused) {
    FakeDeviceConfig old;
    old.node = "/dev/accel/accel2";
    old.pci_address = "0000:00:06.0";
    old.params = FakeDeviceConfig::default_params();
    old.params[DRM_NPU_PARAM_OP_MASK] = (1ull << (NPU_OP_WAIT_MEM + 1)) - 1;
    os->add_device(old);
    Device device = Device::open_pci("0000:00:06.0", os);
    Buffer a(device, 4096);
    Stream stream(device, batching());
    Graph::begin_capture(stream);
    stream.fill(a, 0, 4, 1);
    Graph graph = Graph::end_capture(stream);
    expect_errno(ENOTSUP, [&] { GraphExec exec(graph); });
}

TEST_F(GraphTest, CApi) {
    npu_device_t device = nullptr;
    ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
    npu_buffer_t buffer = nullptr;
    ASSERT_EQ(npu_buffer_create(device, 4096, 0, &buffer), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_begin_capture(stream), NPU_SUCCESS);
    int capturing = 0;
    ASSERT_EQ(npu_stream_is_capturing(stream, &capturing), NPU_SUCCESS);
    EXPECT_EQ(capturing, 1);
    ASSERT_EQ(npu_stream_fill(stream, buffer, 0, 8, 0x77), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_launch_host_func(
                  stream, [](void*) {}, nullptr),
              NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(npu_last_error_message(), "cannot be captured"), nullptr)
        << npu_last_error_message();
    npu_graph_t graph = nullptr;
    ASSERT_EQ(npu_stream_end_capture(stream, &graph), NPU_SUCCESS);
    size_t count = 0;
    ASSERT_EQ(npu_graph_node_count(graph, &count), NPU_SUCCESS);
    EXPECT_EQ(count, 1u);
    npu_graph_node_kind_t kind = NPU_GRAPH_NODE_OTHER;
    ASSERT_EQ(npu_graph_node_kind(graph, 0, &kind), NPU_SUCCESS);
    EXPECT_EQ(kind, NPU_GRAPH_NODE_FILL);
    void* pointer = nullptr;
    ASSERT_EQ(npu_graph_pointer(graph, 0, 0, &pointer), NPU_SUCCESS);
    npu_graph_exec_t exec = nullptr;
    ASSERT_EQ(npu_graph_instantiate(graph, &exec), NPU_SUCCESS);
    EXPECT_EQ(npu_graph_exec_set_pointer(exec, 0, 0, static_cast<char*>(pointer) + 2),
              NPU_ERROR_INVALID_ARGUMENT);
    ASSERT_EQ(npu_graph_exec_set_pointer(exec, 0, 0, static_cast<char*>(pointer) + 8), NPU_SUCCESS);
    size_t changed = 0;
    ASSERT_EQ(npu_graph_exec_rebind(exec, pointer, 4096, pointer, &changed), NPU_SUCCESS);
    EXPECT_EQ(changed, 1u);
    ASSERT_EQ(npu_graph_exec_launch(exec, stream), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_synchronize(stream, 1000000000), NPU_SUCCESS);
    void* host = nullptr;
    ASSERT_EQ(npu_buffer_host_ptr(buffer, &host), NPU_SUCCESS);
    EXPECT_EQ(static_cast<uint32_t*>(host)[2], 0x77u);
    EXPECT_EQ(static_cast<uint32_t*>(host)[0], 0u);
    EXPECT_EQ(npu_graph_exec_destroy(exec), NPU_SUCCESS);
    EXPECT_EQ(npu_graph_destroy(graph), NPU_SUCCESS);
    EXPECT_EQ(npu_buffer_destroy(buffer), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
}

} // namespace
} // namespace npu::testing
