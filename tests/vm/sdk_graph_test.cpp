// libnpu graphs (npu/graph.hpp) against npu.ko and the virtual NPU:
// capture, the baked command buffer run by CALL, launches with pointer
// updates in between, events across streams inside a capture, and a
// failing node.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "npu/npu.h"
#include "npu/npu.hpp"

namespace
{

using std::chrono::seconds;

void *Dev(const npu::Buffer &buffer, size_t offset = 0)
{
	return reinterpret_cast<void *>(buffer.device_addr() + offset);
}

uint32_t Word(const npu::Buffer &buffer, size_t index)
{
	uint32_t value = 0;
	std::memcpy(&value, static_cast<const std::byte *>(buffer.host_ptr()) + 4 * index, 4);
	return value;
}

// One graph launched many times, its copy destination moved between
// launches that are still in flight: every launch used its own pointer.
TEST(SdkGraph, LaunchManyTimesWithUpdatesInBetween)
{
	npu::Device device(0);
	npu::Buffer src(device, 4096);
	npu::Buffer dst(device, 4096);
	npu::Stream stream(device);
	npu::Graph::begin_capture(stream);
	stream.fill(src, 0, 64, 0x5eed0000);
	stream.fill(src, 64, 64, 0x5eed0001);
	stream.copy(src, 0, dst, 0, 128);
	npu::Graph graph = npu::Graph::end_capture(stream);
	ASSERT_EQ(graph.node_count(), 3u);
	npu::GraphExec exec(graph);
	constexpr int kLaunches = 12;
	for (int i = 0; i < kLaunches; i++) {
		exec.set_pointer(2, 1, Dev(dst, 256 * i));
		exec.launch(stream);
		if (i % 4 == 3)
			stream.flush(); // some launches run while later ones are patched
	}
	stream.synchronize(seconds(60));
	for (int i = 0; i < kLaunches; i++) {
		EXPECT_EQ(Word(dst, 64 * i), 0x5eed0000u) << "launch " << i;
		EXPECT_EQ(Word(dst, 64 * i + 16), 0x5eed0001u) << "launch " << i;
		EXPECT_EQ(Word(dst, 64 * i + 32), 0u) << "launch " << i << " wrote past its copy";
	}
	EXPECT_GE(exec.baked_buffers(), 1u);

	// The same graph launched again as captured, on another stream.
	npu::GraphExec fresh(graph);
	npu::Stream other(device);
	std::memset(dst.host_ptr(), 0, dst.size());
	fresh.launch(other);
	other.synchronize(seconds(60));
	EXPECT_EQ(Word(dst, 0), 0x5eed0000u);
	EXPECT_EQ(Word(dst, 64), 0u);
}

// Fork and join across streams inside a capture: the side stream joins by
// waiting on an event the origin recorded; its work is part of the graph,
// ordered by the device's WRITE_MEM / WAIT_MEM (>=) pairs.
TEST(SdkGraph, CrossStreamRecordAndWaitInsideACapture)
{
	npu::Device device(0);
	npu::Buffer a(device, 4096);
	npu::Buffer b(device, 4096);
	npu::Stream origin(device);
	npu::Stream side(device);
	npu::Event fork(device);
	npu::Event join(device);
	npu::Graph::begin_capture(origin);
	origin.fill(a, 0, 16, 0x1);
	origin.record(fork);
	side.wait(fork);
	ASSERT_TRUE(npu::Graph::capturing(side));
	side.copy(a, 0, b, 0, 16); // after the fork
	side.fill(a, 16, 16, 0x2);
	side.record(join);
	origin.wait(join);
	origin.copy(a, 16, b, 16, 16); // after the join
	npu::Graph graph = npu::Graph::end_capture(origin);
	EXPECT_FALSE(npu::Graph::capturing(side));
	npu::GraphExec exec(graph);
	for (int i = 0; i < 3; i++) {
		std::memset(b.host_ptr(), 0, 32);
		exec.launch(side); // any stream of the device launches it
		side.synchronize(seconds(60));
		EXPECT_EQ(Word(b, 0), 1u);
		EXPECT_EQ(Word(b, 4), 2u);
	}
	// the streams still work on their own
	origin.fill(a, 0, 4, 9);
	origin.synchronize(seconds(60));
	EXPECT_EQ(Word(a, 0), 9u);
}

// A node that faults fails the launch: synchronize() reports the job
// error at the CALL with the faulting address; nodes after it did not run,
// and the stream goes on.
TEST(SdkGraph, AFailingNodeReportsTheError)
{
	npu::Device device(0);
	npu::Buffer a(device, 4096);
	npu::Buffer ro(device, 4096, npu::BufferFlags::device_read_only);
	// The FILL before the launch shares its job (manual submission), so
	// the failure's offset is the CALL's inside that job.
	npu::StreamOptions batching;
	batching.submit_policy = npu::SubmitPolicy::manual;
	npu::Stream stream(device, batching);
	npu::Graph::begin_capture(stream);
	stream.fill(a, 0, 4, 1);
	stream.copy(a, 0, ro, 0, 64);
	stream.fill(a, 4, 4, 2);
	npu::Graph graph = npu::Graph::end_capture(stream);
	npu::GraphExec exec(graph);
	stream.fill(a, 64, 8, 3);
	exec.launch(stream);
	try {
		stream.synchronize(seconds(60));
		ADD_FAILURE() << "the failed launch was not reported";
	} catch (const npu::JobError &e) {
		EXPECT_EQ(npu::job_status_name(e.status()), "PAGE_FAULT");
		EXPECT_EQ(e.err_offset(), 24u) << "the CALL's offset, after the 24-byte FILL";
		EXPECT_EQ(e.fault_addr(), ro.device_addr());
	}
	EXPECT_EQ(Word(a, 0), 1u);
	EXPECT_EQ(Word(a, 1), 0u);
	EXPECT_EQ(Word(a, 16), 3u);

	// patched to a writable buffer, it runs
	npu::Buffer ok(device, 4096);
	exec.set_pointer(1, 1, Dev(ok));
	exec.launch(stream);
	stream.synchronize(seconds(60));
	EXPECT_EQ(Word(ok, 0), 1u);
	EXPECT_EQ(Word(a, 1), 2u);
}

TEST(SdkGraph, HostWorkCannotBeCaptured)
{
	npu::Device device(0);
	npu::Buffer a(device, 4096);
	npu::Stream stream(device);
	npu::Graph::begin_capture(stream);
	EXPECT_THROW(stream.launch_host_func([] {}), npu::Error);
	uint32_t host = 0;
	EXPECT_THROW(stream.copy_to_host(&host, a, 0, 4), npu::Error);
	stream.fill(a, 0, 4, 5);
	npu::Graph graph = npu::Graph::end_capture(stream);
	EXPECT_EQ(graph.node_count(), 1u);
	stream.synchronize(seconds(60));
	EXPECT_EQ(Word(a, 0), 0u) << "captured work ran at capture";
}

// The C ABI end to end: capture, instantiate, rebind, launch.
TEST(SdkGraph, CApi)
{
	npu_device_t device = nullptr;
	ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);
	npu_stream_t stream = nullptr;
	ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
	npu_buffer_t a = nullptr;
	npu_buffer_t b = nullptr;
	ASSERT_EQ(npu_buffer_create(device, 4096, 0, &a), NPU_SUCCESS);
	ASSERT_EQ(npu_buffer_create(device, 4096, 0, &b), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_begin_capture(stream), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_fill(stream, a, 0, 16, 0xc0de), NPU_SUCCESS);
	npu_graph_t graph = nullptr;
	ASSERT_EQ(npu_stream_end_capture(stream, &graph), NPU_SUCCESS);
	npu_graph_exec_t exec = nullptr;
	ASSERT_EQ(npu_graph_instantiate(graph, &exec), NPU_SUCCESS);
	void *from = nullptr;
	ASSERT_EQ(npu_graph_exec_pointer(exec, 0, 0, &from), NPU_SUCCESS);
	ASSERT_EQ(npu_graph_exec_launch(exec, stream), NPU_SUCCESS);
	uint64_t b_addr = 0;
	ASSERT_EQ(npu_buffer_device_addr(b, &b_addr), NPU_SUCCESS);
	size_t changed = 0;
	ASSERT_EQ(
		npu_graph_exec_rebind(exec, from, 4096, reinterpret_cast<void *>(b_addr), &changed),
		NPU_SUCCESS);
	EXPECT_EQ(changed, 1u);
	ASSERT_EQ(npu_graph_exec_launch(exec, stream), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_synchronize(stream, 60000000000ull), NPU_SUCCESS);
	void *host_a = nullptr;
	void *host_b = nullptr;
	ASSERT_EQ(npu_buffer_host_ptr(a, &host_a), NPU_SUCCESS);
	ASSERT_EQ(npu_buffer_host_ptr(b, &host_b), NPU_SUCCESS);
	EXPECT_EQ(static_cast<uint32_t *>(host_a)[3], 0xc0deu);
	EXPECT_EQ(static_cast<uint32_t *>(host_b)[3], 0xc0deu);
	EXPECT_EQ(npu_graph_exec_destroy(exec), NPU_SUCCESS);
	EXPECT_EQ(npu_graph_destroy(graph), NPU_SUCCESS);
	EXPECT_EQ(npu_buffer_destroy(a), NPU_SUCCESS);
	EXPECT_EQ(npu_buffer_destroy(b), NPU_SUCCESS);
	EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
	EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
}

} // namespace
