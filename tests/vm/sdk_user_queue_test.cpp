// libnpu's user-mode submission against npu.ko (issue 15): a launch on a
// stream holding a user-mode queue is a descriptor and a doorbell write, no
// system call on the launching thread; job statuses come back from the
// ring's write-backs. With NPU_USER_QUEUES=0 (run-suite's second SDK run)
// the same tests check that every launch goes through SUBMIT instead.
// The device is held with a host callback's gate (WAIT_MEM), never with
// sleeps, so what the launching thread does is deterministic.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "npu/npu.hpp"

namespace
{

using std::chrono::seconds;

bool user_queues_disabled()
{
	const char *env = std::getenv("NPU_USER_QUEUES");
	return env && std::strcmp(env, "0") == 0;
}

// Whether libnpu's streams must use user-mode queues here: the driver has
// them (not under bounce buffers, for instance) and the environment does
// not turn them off.
bool expect_user_mode(const npu::Device &device)
{
	if (user_queues_disabled())
		return false;
	if (std::getenv("NPU_EXPECT_SWIOTLB")) {
		EXPECT_EQ(device.param(DRM_NPU_PARAM_UQUEUE_COUNT), 0u)
			<< "user-mode queues need coherent DMA";
		return false;
	}
	EXPECT_GT(device.param(DRM_NPU_PARAM_UQUEUE_COUNT), 0u)
		<< "the driver has no user-mode queues";
	return true;
}

// Counts the ioctls one thread makes (the launching one), and SUBMITs.
class ThreadCountingOs final : public npu::OsInterface
{
public:
	int open(const char *path, int flags) override { return sys_->open(path, flags); }
	int close(int fd) override { return sys_->close(fd); }
	int ioctl(int fd, unsigned long request, void *arg) override
	{
		if (std::this_thread::get_id() == counted_) {
			++ioctls;
			if (request == DRM_IOCTL_NPU_SUBMIT)
				++submits;
		}
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
	void count_this_thread()
	{
		ioctls = 0;
		submits = 0;
		counted_ = std::this_thread::get_id();
	}
	std::atomic<size_t> ioctls{0};
	std::atomic<size_t> submits{0};

private:
	std::shared_ptr<npu::OsInterface> sys_ = npu::system_os_interface();
	std::thread::id counted_;
};

// Holds the stream's later work on the device until open() (bounded, so a
// failing test ends: the gated job would hit the driver's job timeout).
class Gate
{
public:
	void hold(npu::Stream &stream)
	{
		open_ = false;
		stream.launch_host_func([this] {
			const auto until =
				std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
			while (!open_.load() && std::chrono::steady_clock::now() < until)
				std::this_thread::sleep_for(std::chrono::microseconds(200));
		});
	}
	void open() { open_ = true; }

private:
	std::atomic<bool> open_{false};
};

TEST(SdkUserQueue, LaunchesMakeNoSystemCall)
{
	auto os = std::make_shared<ThreadCountingOs>();
	npu::Device device(0, os);
	npu::Buffer a(device, 4096);
	npu::Buffer b(device, 4096);
	npu::StreamOptions options;
	options.max_batch_delay = std::chrono::nanoseconds(0); // every launch is a job
	npu::Stream stream(device, options);
	const bool user_mode = expect_user_mode(device);
	ASSERT_EQ(stream.user_mode(), user_mode);

	npu::Graph::begin_capture(stream);
	stream.fill(a, 0, 64, 0x77);
	stream.copy(a, 0, b, 64, 64);
	npu::Graph graph = npu::Graph::end_capture(stream);
	npu::GraphExec exec(graph);

	constexpr int kRounds = 3; // 4 jobs each: 12, below max_jobs_in_flight (16)
	auto launches = [&](uint32_t base) {
		for (int i = 0; i < kRounds; ++i) {
			stream.fill(a, 0, 4096, base + i);
			stream.copy(a, 0, b, 0, 64);
			exec.launch(stream);
			stream.fill(b, 128, 4, base + 100 + i);
		}
	};
	// Once with the device held: the stream makes its command buffers.
	Gate gate;
	gate.hold(stream);
	launches(0);
	gate.open();
	stream.synchronize(seconds(30));

	// Again, counting the launching thread's ioctls: the command buffers
	// are reused, the device is held, nothing waits.
	gate.hold(stream);
	os->count_this_thread();
	launches(10);
	const size_t ioctls = os->ioctls.load();
	const size_t submits = os->submits.load();
	gate.open();
	stream.synchronize(seconds(30));
	if (!user_mode) {
		EXPECT_GE(submits, size_t{4 * kRounds}) << "one SUBMIT per launch";
	} else {
		EXPECT_EQ(ioctls, 0u) << "launches entered the kernel";
		EXPECT_EQ(submits, 0u);
	}
	EXPECT_EQ(b.as_span<uint32_t>()[0], 12u);
	EXPECT_EQ(b.as_span<uint32_t>()[16], 0x77u);
	EXPECT_EQ(b.as_span<uint32_t>()[32], 112u);
}

TEST(SdkUserQueue, JobStatusesAndLaterWork)
{
	npu::Device device(0);
	npu::Buffer read_only(device, 4096, npu::BufferFlags::device_read_only);
	npu::Buffer ok(device, 4096);
	npu::StreamOptions options;
	options.submit_policy = npu::SubmitPolicy::manual;
	npu::Stream stream(device, options);
	const bool user_mode = expect_user_mode(device);
	EXPECT_EQ(stream.user_mode(), user_mode);
	stream.fill(ok, 0, 4096, 1);
	stream.fill(read_only, 8, 16, 2);
	try {
		stream.synchronize(seconds(30));
		FAIL() << "a write to a read-only buffer succeeded";
	} catch (const npu::JobError &e) {
		EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
		EXPECT_EQ(e.fault_addr(), read_only.device_addr() + 8);
		EXPECT_EQ(e.err_offset(), sizeof(npu_pkt_fill));
	}
	EXPECT_EQ(ok.as_span<uint32_t>()[0], 1u) << "the packet before the fault ran";
	// The queue goes on: a fault is the job's, not the queue's.
	stream.fill(ok, 0, 4, 3);
	EXPECT_NO_THROW(stream.synchronize(seconds(30)));
	EXPECT_EQ(ok.as_span<uint32_t>()[0], 3u);
	EXPECT_EQ(stream.user_mode(), user_mode);
}

TEST(SdkUserQueue, StreamsOrderEachOtherThroughAttachedFences)
{
	npu::Device device(0);
	npu::Buffer a(device, 1 << 20);
	npu::Buffer b(device, 1 << 20);
	npu::Stream producer(device);
	npu::Stream consumer(device);
	npu::Event done(device, npu::EventFlags::disable_timing);
	Gate gate;
	for (uint32_t round = 1; round <= 4; ++round) {
		gate.hold(producer); // the consumer must wait for the gated fill
		producer.fill(a, 0, a.size(), round);
		producer.record(done);
		consumer.wait(done);
		consumer.copy(a, 0, b, 0, b.size());
		gate.open();
		consumer.synchronize(seconds(30));
		EXPECT_EQ(b.as_span<uint32_t>()[b.size() / 4 - 1], round);
	}
	producer.synchronize(seconds(30));
}

unsigned job_timeout_ms()
{
	std::ifstream in("/sys/module/npu/parameters/job_timeout_ms");
	unsigned ms = 2000;
	in >> ms;
	return ms;
}

// A job held on the device past the driver's job timeout (a host callback
// that outlasts it, the job parked on its gate) is killed like a submitted
// one: TIMEOUT reaches synchronize() from the ring's write-back, and the
// stream's later work runs.
TEST(SdkUserQueue, HungJobTimesOutAndTheStreamGoesOn)
{
	npu::Device device(0);
	npu::Buffer ok(device, 4096);
	npu::StreamOptions options;
	options.max_batch_delay = std::chrono::nanoseconds(0);
	npu::Stream stream(device, options);
	const bool user_mode = expect_user_mode(device);
	EXPECT_EQ(stream.user_mode(), user_mode);
	stream.fill(ok, 0, 4, 1);
	stream.synchronize(seconds(30));
	const auto hold = std::chrono::milliseconds(job_timeout_ms() + 500);
	stream.launch_host_func([hold] { std::this_thread::sleep_for(hold); });
	stream.fill(ok, 0, 4, 2); // gated: WAIT_MEM until the callback is done
	try {
		stream.synchronize(seconds(60));
		FAIL() << "the job held past the job timeout completed";
	} catch (const npu::JobError &e) {
		EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_TIMEOUT))
			<< e.what();
	}
	EXPECT_EQ(ok.as_span<uint32_t>()[0], 1u) << "the killed job wrote";
	stream.fill(ok, 0, 4, 3);
	EXPECT_NO_THROW(stream.synchronize(seconds(30)));
	EXPECT_EQ(ok.as_span<uint32_t>()[0], 3u);
}

} // namespace
