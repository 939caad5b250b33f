// libnpu's stream core against npu.ko and the virtual NPU (issue 13):
// primary contexts, explicit sync between streams, buffers destroyed before
// their work is submitted, batching while busy, queue sharing by priority,
// job errors on every sync path, cheap events, the clock pair, and one
// stream used from several threads. Ordering is proven with device-side
// gates (a host callback holds later work on WAIT_MEM) and device
// timestamps, never with sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "npu/npu.h"
#include "npu/npu.hpp"

namespace
{

using std::chrono::seconds;

// Counts SUBMIT ioctls and all ioctls.
class CountingOs final : public npu::OsInterface
{
public:
	int open(const char *path, int flags) override { return sys_->open(path, flags); }
	int close(int fd) override { return sys_->close(fd); }
	int ioctl(int fd, unsigned long request, void *arg) override
	{
		++ioctls;
		if (request == DRM_IOCTL_NPU_SUBMIT)
			++submits;
		return sys_->ioctl(fd, request, arg);
	}
	void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) override
	{
		return sys_->mmap(addr, length, prot, flags, fd, offset);
	}
	int munmap(void *addr, size_t length) override { return sys_->munmap(addr, length); }
	std::vector<npu::DeviceNode> list_device_nodes() override
	{
		return sys_->list_device_nodes();
	}
	std::atomic<size_t> ioctls{0};
	std::atomic<size_t> submits{0};

private:
	std::shared_ptr<npu::OsInterface> sys_ = npu::system_os_interface();
};

// A host callback that holds the stream's later work until open() (or a
// bound, so that a failing test ends instead of hanging: the job parked on
// the gate would time out at the driver's job timeout anyway).
class HostGate
{
public:
	void hold(npu::Stream &stream)
	{
		stream.launch_host_func([this] {
			const auto until =
				std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
			while (!open_.load() && std::chrono::steady_clock::now() < until)
				std::this_thread::sleep_for(std::chrono::milliseconds(1));
			timed_out_ = !open_.load();
		});
	}
	void open() { open_.store(true); }
	bool timed_out() const { return timed_out_.load(); }

private:
	std::atomic<bool> open_{false};
	std::atomic<bool> timed_out_{false};
};

TEST(SdkContext, OpeningTwiceSharesThePrimaryContext)
{
	npu::Device a(0);
	npu::Device b = npu::Device::open(npu::Device::enumerate()[0]);
	EXPECT_TRUE(a == b);
	EXPECT_EQ(a.driver().fd(), b.driver().fd());
	EXPECT_EQ(a.properties().context_id, b.properties().context_id);
	npu::Device separate(0, npu::default_os_interface(), npu::Context::separate);
	EXPECT_NE(separate.properties().context_id, a.properties().context_id);
	// One address space: a buffer of one handle works on a stream of the other.
	npu::Buffer buffer(a, 4096);
	npu::Stream stream(b);
	stream.fill(buffer, 0, 4096, 0x3c);
	stream.synchronize();
	EXPECT_EQ(buffer.as_span<uint32_t>()[1023], 0x3cu);
}

// B writes the buffer A also writes while A's job is parked on a gate: with
// explicit sync B does not wait for A (implicit sync would order B after A).
TEST(SdkStreamCore, ExplicitSyncStreamsDoNotWaitForEachOtherThroughABuffer)
{
	npu::Device device(0);
	npu::Stream a(device), b(device);
	npu::Buffer shared(device, 8192);
	npu::Event a_done(device), b_done(device);
	HostGate gate;
	gate.hold(a);
	a.fill(shared, 0, 4096, 1);
	a.record(a_done);
	a.flush();
	b.fill(shared, 4096, 4096, 2);
	b.record(b_done);
	b.synchronize();
	gate.open();
	a.synchronize();
	EXPECT_FALSE(gate.timed_out()) << "B waited for A's parked job";
	EXPECT_LT(b_done.device_timestamp(), a_done.device_timestamp());
	EXPECT_EQ(shared.as_span<uint32_t>()[0], 1u);
	EXPECT_EQ(shared.as_span<uint32_t>()[1024], 2u);
}

// Events still order explicit-sync streams.
TEST(SdkStreamCore, EventsOrderExplicitSyncStreams)
{
	npu::Device device(0);
	npu::Stream a(device), b(device);
	npu::Buffer src(device, 1 << 20), dst(device, 1 << 20);
	npu::Event ready(device, npu::EventFlags::disable_timing);
	HostGate gate;
	gate.hold(a);
	a.fill(src, 0, src.size(), 0x77);
	a.record(ready);
	b.wait(ready);
	b.copy(src, 0, dst, 0, src.size());
	b.flush();
	gate.open();
	b.synchronize();
	a.synchronize();
	EXPECT_EQ(dst.as_span<uint32_t>().back(), 0x77u);
}

// The buffer is gone before its work is submitted: the stream keeps its
// buffer object (and so its handle and address) until the job is done.
TEST(SdkStreamCore, BufferDestroyedBeforeSubmitIsSafe)
{
	npu::Device device(0);
	npu::StreamOptions manual;
	manual.submit_policy = npu::SubmitPolicy::manual;
	npu::Stream stream(device, manual);
	npu::Buffer keep(device, 1 << 20);
	uint32_t gone_handle = 0;
	{
		npu::Buffer temp(device, 1 << 20);
		gone_handle = temp.handle();
		stream.fill(temp, 0, temp.size(), 0xabcd);
		stream.copy(temp, 0, keep, 0, temp.size());
	}
	// New objects must not get the old one's handle: it is still held.
	std::vector<npu::Buffer> fresh;
	for (int i = 0; i < 4; ++i) {
		fresh.emplace_back(device, 1 << 20);
		EXPECT_NE(fresh.back().handle(), gone_handle);
		stream.fill(fresh.back(), 0, fresh.back().size(), 0x1111);
	}
	stream.synchronize();
	EXPECT_EQ(keep.as_span<uint32_t>().back(), 0xabcdu);
	for (auto &buffer : fresh)
		EXPECT_EQ(buffer.as_span<uint32_t>().back(), 0x1111u);
}

// While the stream's job is parked, enqueues batch (no submission while the
// delay bound is far away); the batch goes when the job completes.
TEST(SdkStreamCore, BusyStreamBatchesIdleStreamSubmits)
{
	auto os = std::make_shared<CountingOs>();
	npu::Device device(0, os, npu::Context::separate);
	npu::StreamOptions options;
	options.max_batch_delay = std::chrono::hours(1);
	npu::Stream stream(device, options);
	npu::Buffer buffer(device, 64 * 1024);
	// On a user-mode queue (docs/sdk.md) jobs reach the device without
	// SUBMIT: the stream's pending bytes tell what was not submitted.
	const bool user_mode = stream.user_mode();
	stream.fill(buffer, 0, 4, 0); // idle: submitted at once
	EXPECT_EQ(stream.pending_bytes(), 0u);
	EXPECT_EQ(os->submits.load(), user_mode ? 0u : 1u);
	stream.synchronize();
	HostGate gate;
	gate.hold(stream);
	stream.fill(buffer, 0, 4, 1); // the gated job: submitted at once (idle)
	EXPECT_EQ(stream.pending_bytes(), 0u);
	const size_t before = os->submits.load();
	for (uint32_t i = 1; i < 100; ++i)
		stream.fill(buffer, i * 4, 4, i + 1);
	EXPECT_EQ(stream.pending_bytes(), 99 * sizeof(npu_pkt_fill))
		<< "a busy stream submitted every enqueue";
	EXPECT_EQ(os->submits.load(), before);
	gate.open();
	stream.synchronize();
	EXPECT_LE(os->submits.load(), user_mode ? before : before + 1);
	for (uint32_t i = 0; i < 100; ++i)
		ASSERT_EQ(buffer.as_span<uint32_t>()[i], i + 1) << i;
	EXPECT_FALSE(gate.timed_out());
}

TEST(SdkStreamCore, MoreStreamsThanQueuesKeepTheirPriority)
{
	npu::Device device(0, npu::default_os_interface(), npu::Context::separate);
	const uint64_t queues = device.param(DRM_NPU_PARAM_QUEUE_COUNT);
	npu::StreamOptions low;
	low.priority = npu::Priority::low;
	std::vector<npu::Stream> streams;
	for (uint64_t i = 0; i < queues + 4; ++i)
		streams.emplace_back(device, low);
	npu::Buffer buffer(device, 4096 * streams.size());
	for (size_t i = 0; i < streams.size(); ++i) {
		EXPECT_NE(streams[i].queue_id(), 0u) << i;
		EXPECT_EQ(streams[i].priority(), npu::Priority::low) << i;
		streams[i].fill(buffer, 4096 * i, 4096, static_cast<uint32_t>(i + 1));
	}
	for (auto &s : streams)
		s.synchronize();
	for (size_t i = 0; i < streams.size(); ++i)
		EXPECT_EQ(buffer.as_span<uint32_t>()[1024 * i], i + 1);
}

TEST(SdkStreamCore, FailedJobReachesEventsAndStopsTheStream)
{
	npu::Device device(0, npu::default_os_interface(), npu::Context::separate);
	npu::Buffer read_only(device, 4096, npu::BufferFlags::device_read_only);
	npu::Buffer ok(device, 4096);
	npu::StreamOptions options;
	options.stop_on_error = true;
	npu::Stream stream(device, options);
	npu::Event before(device, npu::EventFlags::disable_timing);
	npu::Event after(device, npu::EventFlags::disable_timing);
	stream.fill(ok, 0, 16, 1);
	stream.record(before);
	stream.fill(ok, 0, 16, 2);
	stream.fill(read_only, 64, 16, 3);
	stream.record(after);
	try {
		after.synchronize();
		FAIL() << "the event hid the failed job";
	} catch (const npu::JobError &e) {
		EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
		EXPECT_EQ(e.fault_addr(), read_only.device_addr() + 64);
	}
	EXPECT_NO_THROW(before.synchronize());
	ASSERT_TRUE(stream.error());
	EXPECT_EQ(stream.error()->status, static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
	EXPECT_THROW(stream.fill(ok, 0, 4, 4), npu::JobError);
	EXPECT_TRUE(stream.stopped());
	EXPECT_THROW(stream.synchronize(), npu::JobError);
}

TEST(SdkEventCore, NoTimingEventsMakeNoSystemCall)
{
	auto os = std::make_shared<CountingOs>();
	npu::Device device(0, os, npu::Context::separate);
	npu::StreamOptions manual;
	manual.submit_policy = npu::SubmitPolicy::manual;
	npu::Stream stream(device, manual);
	npu::Buffer buffer(device, 4096);
	stream.fill(buffer, 0, 4, 1);
	const size_t ioctls = os->ioctls.load();
	std::vector<npu::Event> events;
	for (int i = 0; i < 64; ++i) {
		events.emplace_back(device, npu::EventFlags::disable_timing);
		stream.record(events.back());
	}
	EXPECT_EQ(os->ioctls.load(), ioctls);
	stream.synchronize();
	for (auto &e : events)
		EXPECT_TRUE(e.query());
}

TEST(SdkEventCore, ClockPairMatchesEventTimestamps)
{
	npu::Device device(0);
	const npu::ClockPair pair = device.clock_pair();
	EXPECT_GT(pair.device_ns, 0u);
	EXPECT_GT(pair.host_ns, 0u);
	npu::Stream stream(device);
	npu::Event event(device);
	stream.record(event);
	stream.synchronize();
	EXPECT_GE(event.device_timestamp(), pair.device_ns);
	npu_device_t c_device = nullptr;
	ASSERT_EQ(npu_device_open(0, &c_device), NPU_SUCCESS);
	npu_clock_pair_t c_pair{};
	c_pair.size = sizeof(c_pair);
	ASSERT_EQ(npu_device_clock_pair(c_device, &c_pair), NPU_SUCCESS)
		<< npu_last_error_message();
	EXPECT_GE(c_pair.device_ns, pair.device_ns);
	npu_device_close(c_device);
}

// Threads share one stream (and free pool blocks on it); every call is
// atomic, so every thread's results land.
TEST(SdkStreamCore, OneStreamFromSeveralThreads)
{
	npu::Device device(0);
	npu::Stream stream(device);
	npu::MemoryPool pool = device.default_pool();
	constexpr int kThreads = 4;
	constexpr int kRounds = 40;
	std::vector<npu::Buffer> results;
	for (int t = 0; t < kThreads; ++t)
		results.emplace_back(device, 4096);
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; ++t) {
		threads.emplace_back([&, t] {
			for (int r = 0; r < kRounds; ++r) {
				npu::Buffer block = pool.allocate_async(256, stream);
				stream.fill(block, 0, 256, static_cast<uint32_t>(t * 1000 + r));
				stream.copy(block, 0, results[t], 4 * static_cast<size_t>(r), 4);
				pool.free_async(std::move(block), stream);
				if (r % 8 == 0)
					stream.synchronize();
			}
		});
	}
	for (auto &thread : threads)
		thread.join();
	stream.synchronize();
	for (int t = 0; t < kThreads; ++t)
		for (int r = 0; r < kRounds; ++r)
			ASSERT_EQ(results[t].as_span<uint32_t>()[r],
				  static_cast<uint32_t>(t * 1000 + r));
}

} // namespace
