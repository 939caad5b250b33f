// libnpu runtime behaviours against npu.ko and the virtual NPU: the same
// properties tests/host/libnpu checks against its fake kernel.
#include <gtest/gtest.h>

#include <sys/ioctl.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "npu/npu.h"
#include "npu/npu.hpp"

namespace
{

using std::chrono::seconds;

// The system interface, counting ioctls (to prove warm pool allocations
// make none).
class CountingOs final : public npu::OsInterface
{
public:
	int open(const char *path, int flags) override { return sys_->open(path, flags); }
	int close(int fd) override { return sys_->close(fd); }
	int ioctl(int fd, unsigned long request, void *arg) override
	{
		++ioctls;
		return sys_->ioctl(fd, request, arg);
	}
	void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) override
	{
		++mmaps;
		return sys_->mmap(addr, length, prot, flags, fd, offset);
	}
	int munmap(void *addr, size_t length) override { return sys_->munmap(addr, length); }
	std::vector<npu::DeviceNode> list_device_nodes() override
	{
		return sys_->list_device_nodes();
	}
	std::atomic<size_t> ioctls{0};
	std::atomic<size_t> mmaps{0};

private:
	std::shared_ptr<npu::OsInterface> sys_ = npu::system_os_interface();
};

TEST(SdkDevice, UuidMatchesSysfsAndSelects)
{
	npu::Device device(0);
	const std::string uuid = device.uuid();
	std::string sysfs;
	std::ifstream("/sys/bus/pci/devices/" + device.info().pci_address + "/uuid") >> sysfs;
	if (!sysfs.empty()) {
		EXPECT_EQ(uuid, sysfs);
	}
	EXPECT_EQ(npu::Device::select(uuid).info().pci_address, device.info().pci_address);
	EXPECT_EQ(npu::Device::select(device.info().pci_address).uuid(), uuid);
	EXPECT_EQ(device.properties().uuid, uuid);
}

TEST(SdkStream, QueuesWithPriorities)
{
	npu::Device device(0);
	std::vector<npu::Stream> streams;
	for (auto p : {npu::Priority::low, npu::Priority::normal, npu::Priority::high})
		streams.emplace_back(device, npu::StreamOptions{p});
	EXPECT_TRUE(streams[0].dedicated_queue());
	EXPECT_NE(streams[0].queue_id(), streams[2].queue_id());
	npu::Buffer buffer(device, 1 << 20);
	for (size_t i = 0; i < streams.size(); ++i)
		streams[i].fill(buffer, i * 4096, 4096, static_cast<uint32_t>(i + 1));
	for (auto &s : streams)
		s.synchronize(seconds(10));
	for (size_t i = 0; i < streams.size(); ++i)
		EXPECT_EQ(buffer.as_span<uint32_t>()[i * 1024], i + 1);
}

TEST(SdkEvent, TimestampsAndCrossStreamWait)
{
	npu::Device device(0);
	npu::Stream producer(device), consumer(device);
	npu::Buffer a(device, 4 << 20), b(device, 4 << 20);
	npu::Event start(device), ready(device);
	producer.record(start);
	producer.fill(a, 0, a.size(), 0x5a5a5a5a);
	producer.record(ready);
	consumer.wait(ready);
	consumer.copy(a, 0, b, 0, a.size());
	consumer.synchronize(seconds(10));
	EXPECT_TRUE(ready.query());
	EXPECT_EQ(b.as_span<uint32_t>().back(), 0x5a5a5a5au);
	EXPECT_GT(npu::Event::elapsed(start, ready).count(), 0);
	const int fd = ready.export_sync_file();
	ASSERT_GE(fd, 0);
	npu::Event imported = npu::Event::import_sync_file(device, fd);
	close(fd);
	imported.synchronize(seconds(1));
}

TEST(SdkEvent, CrossDeviceWait)
{
	const auto infos = npu::Device::enumerate();
	if (infos.size() < 2)
		GTEST_SKIP() << "needs two devices (npu-vm --devices 2)";
	npu::Device first = npu::Device::open(infos[0]);
	npu::Device second = npu::Device::open(infos[1]);
	npu::Stream s1(first), s2(second);
	npu::Buffer a(first, 8 << 20), b(second, 4096);
	npu::Event done(first);
	s1.fill(a, 0, a.size(), 1);
	s1.record(done);
	s2.wait(done);
	s2.launch_host_func([&] { EXPECT_TRUE(done.query()); });
	s2.fill(b, 0, 4096, 2);
	s2.synchronize(seconds(10));
	EXPECT_EQ(b.as_span<uint32_t>()[0], 2u);
}

TEST(SdkStream, HostCallbacksAndHostCopies)
{
	npu::Device device(0);
	npu::Stream stream(device);
	npu::Buffer buffer(device, 256 * 1024), copy(device, 256 * 1024);
	std::vector<uint32_t> in(64 * 1024), out(64 * 1024);
	std::iota(in.begin(), in.end(), 7u);
	std::vector<int> order;
	stream.copy_from_host(buffer, 0, in.data(), in.size() * 4);
	stream.launch_host_func([&] {
		order.push_back(1);
		buffer.as_span<uint32_t>()[0] = 1234; // host edit before the device copy
	});
	stream.copy(buffer, 0, copy, 0, buffer.size());
	stream.copy_to_host(out.data(), copy, 0, out.size() * 4);
	stream.launch_host_func([&] { order.push_back(2); });
	stream.synchronize(seconds(10));
	EXPECT_EQ(order, (std::vector<int>{1, 2}));
	EXPECT_EQ(out[0], 1234u);
	for (size_t i = 1; i < out.size(); ++i)
		ASSERT_EQ(out[i], in[i]) << i;
}

TEST(SdkPool, WarmAllocationMakesNoIoctl)
{
	auto os = std::make_shared<CountingOs>();
	npu::Device device(0, os);
	npu::Stream stream(device);
	npu::MemoryPool pool(device);
	npu::Buffer first = pool.allocate_async(64 * 1024, stream);
	stream.fill(first, 0, first.size(), 3);
	pool.free_async(std::move(first), stream);
	const size_t ioctls = os->ioctls, mmaps = os->mmaps;
	for (int i = 0; i < 50; ++i) {
		npu::Buffer block = pool.allocate_async(4096 * (1 + i % 8), stream);
		pool.free_async(std::move(block), stream);
	}
	EXPECT_EQ(os->ioctls.load(), ioctls);
	EXPECT_EQ(os->mmaps.load(), mmaps);
	stream.synchronize(seconds(10));
	npu::Buffer block = pool.allocate_async(4096, stream);
	stream.fill(block, 0, 4096, 9);
	stream.synchronize(seconds(10));
	EXPECT_EQ(block.as_span<uint32_t>()[1023], 9u);
}

TEST(SdkCAbi, StreamEventPool)
{
	npu_device_t device = nullptr;
	ASSERT_EQ(npu_device_open_by("0", &device), NPU_SUCCESS) << npu_last_error_message();
	npu_stream_t stream = nullptr;
	ASSERT_EQ(npu_stream_create_with_priority(device, NPU_PRIORITY_HIGH, &stream), NPU_SUCCESS);
	npu_pool_t pool = nullptr;
	ASSERT_EQ(npu_device_default_pool(device, &pool), NPU_SUCCESS);
	npu_buffer_t block = nullptr;
	ASSERT_EQ(npu_pool_alloc_async(pool, 8192, stream, &block), NPU_SUCCESS);
	npu_event_t event = nullptr;
	ASSERT_EQ(npu_event_create(device, &event), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_fill(stream, block, 0, 8192, 0x77), NPU_SUCCESS);
	uint32_t out[2048] = {};
	ASSERT_EQ(npu_stream_copy_to_host(stream, out, block, 0, sizeof(out)), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_record_event(stream, event), NPU_SUCCESS);
	ASSERT_EQ(npu_event_synchronize(event, 10'000'000'000), NPU_SUCCESS);
	ASSERT_EQ(npu_stream_synchronize(stream, 10'000'000'000), NPU_SUCCESS);
	EXPECT_EQ(out[2047], 0x77u);
	EXPECT_EQ(npu_pool_free_async(pool, block, stream), NPU_SUCCESS);
	EXPECT_EQ(npu_event_destroy(event), NPU_SUCCESS);
	EXPECT_EQ(npu_pool_destroy(pool), NPU_SUCCESS);
	EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
	EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
}

// Expects fn to throw npu::Error carrying ENODEV.
template <typename Fn> void ExpectDeviceGone(const char *what, Fn &&fn)
{
	try {
		fn();
		ADD_FAILURE() << what << ": no error after the device was unbound";
	} catch (const npu::Error &e) {
		EXPECT_EQ(e.errnum(), ENODEV) << what << ": " << e.what();
	}
}

void WriteDriverFile(const std::string &file, const std::string &bdf)
{
	std::ofstream out("/sys/bus/pci/drivers/npu/" + file);
	out << bdf;
	out.flush();
	ASSERT_TRUE(out.good()) << file << " " << bdf;
}

// Last in this binary: the device is unbound under live SDK objects, every
// later call reports ENODEV (no crash), and after a rebind it works again.
TEST(ZSdkHotUnplug, LaterCallsReportEnodevThenRebindWorks)
{
	std::string bdf;
	{
		npu::Device device(0);
		bdf = device.info().pci_address;
		npu::Stream stream(device);
		npu::Buffer buffer(device, 4096);
		stream.fill(buffer, 0, buffer.size(), 0x11111111u);
		stream.synchronize(seconds(10));

		WriteDriverFile("unbind", bdf);
		ExpectDeviceGone("fill + synchronize", [&] {
			stream.fill(buffer, 0, buffer.size(), 0x22222222u);
			stream.synchronize(seconds(10));
		});
		ExpectDeviceGone("properties", [&] { (void)device.properties(); });
		ExpectDeviceGone("new buffer", [&] { npu::Buffer more(device, 4096); });
		ExpectDeviceGone("synchronize again", [&] {
			stream.fill(buffer, 0, buffer.size(), 0x33333333u);
			stream.synchronize(seconds(10));
		});
	} // destructors on a gone device: quiet, no crash

	WriteDriverFile("bind", bdf);
	bool back = false;
	for (int i = 0; i < 100 && !back; ++i) {
		for (const auto &info : npu::Device::enumerate())
			back = back || info.pci_address == bdf;
		if (!back)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	ASSERT_TRUE(back) << bdf << " did not come back after bind";
	npu::Device device = npu::Device::select(bdf);
	npu::Stream stream(device);
	npu::Buffer buffer(device, 4096);
	stream.fill(buffer, 0, buffer.size(), 0x44444444u);
	stream.synchronize(seconds(10));
	EXPECT_EQ(buffer.as_span<uint32_t>()[0], 0x44444444u);
}

} // namespace
