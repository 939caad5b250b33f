// libnpu's pointer memory model against npu.ko and the virtual NPU: shared
// virtual addressing (one pointer on host and device), memcpy/memset in
// every direction with odd sizes and offsets, 2-D copies, pinned memory,
// another device's memory, dma-buf sharing with a second process, and the
// pool's caching-allocator hooks.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "npu/npu.h"
#include "npu/npu.hpp"
#include "npu/ops.hpp"

namespace
{

using std::chrono::seconds;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed)
{
	std::vector<uint8_t> v(n);
	for (size_t i = 0; i < n; ++i)
		v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
	return v;
}

TEST(SdkMemory, OnePointerOnHostAndDevice)
{
	npu::Device device(0);
	npu::Buffer buffer(device, 3 * 4096);
	EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.host_ptr()), buffer.device_addr());
	auto *p = static_cast<uint32_t *>(npu::malloc(device, 8192));
	const npu::PointerInfo info = npu::pointer_info(p + 5);
	EXPECT_EQ(info.kind, npu::MemoryKind::device);
	EXPECT_EQ(info.base, p);
	EXPECT_EQ(info.offset, 20u);
	ASSERT_TRUE(info.device);
	EXPECT_TRUE(*info.device == device);
	for (uint32_t i = 0; i < 1024; ++i)
		p[i] = 0xa11ce000 + i;
	npu::Stream stream(device);
	stream.memcpy(p + 1024, p, 4096); // by the same pointers the host used
	stream.memset32(p + 2047, 0x5ca1ab1e, 1);
	stream.synchronize(seconds(10));
	for (uint32_t i = 0; i < 1023; ++i)
		ASSERT_EQ(p[1024 + i], 0xa11ce000 + i) << i;
	EXPECT_EQ(p[2047], 0x5ca1ab1eu);
	npu::free(p);
	EXPECT_EQ(npu::pointer_info(p).kind, npu::MemoryKind::unknown);
}

TEST(SdkMemory, MemcpyEveryDirectionOddSizesAndOffsets)
{
	npu::Device device(0);
	npu::Stream stream(device);
	constexpr size_t kBytes = 300000;
	auto *dev_a = static_cast<uint8_t *>(npu::malloc(device, kBytes));
	auto *dev_b = static_cast<uint8_t *>(npu::malloc(device, kBytes));
	auto *pinned = static_cast<uint8_t *>(npu::malloc_host(device, kBytes));
	EXPECT_EQ(npu::pointer_info(pinned).kind, npu::MemoryKind::host_pinned);
	for (size_t size : {1u, 3u, 4u, 7u, 4097u, 65537u, 262147u}) {
		for (size_t offset : {0u, 1u, 3u}) {
			const auto src = Pattern(size, static_cast<uint8_t>(size + offset));
			std::vector<uint8_t> back(size + 2, 0xee);
			std::vector<uint8_t> host_copy(size, 0);
			stream.memcpy(dev_a + offset, src.data(), size); // pageable -> device
			stream.memcpy(dev_b + 2, dev_a + offset, size);	 // device -> device
			stream.memcpy(pinned + offset, dev_b + 2, size); // device -> pinned
			stream.memcpy(dev_a + kBytes - size, pinned + offset,
				      size); // pinned -> device
			stream.memcpy(back.data() + 1, dev_a + kBytes - size,
				      size); // device -> pageable
			stream.memcpy(host_copy.data(), back.data() + 1, size); // host -> host
			stream.synchronize(seconds(30));
			ASSERT_EQ(0, std::memcmp(back.data() + 1, src.data(), size))
				<< size << " bytes at offset " << offset;
			EXPECT_EQ(back[0], 0xee);
			EXPECT_EQ(back[size + 1], 0xee);
			EXPECT_EQ(host_copy, src);
		}
	}
	npu::free(dev_a);
	npu::free(dev_b);
	npu::free(pinned);
}

TEST(SdkMemory, MemsetAnyAlignment)
{
	npu::Device device(0);
	npu::Stream stream(device);
	auto *p = static_cast<uint8_t *>(npu::malloc(device, 4096));
	for (size_t offset = 0; offset < 4; ++offset) {
		for (size_t size : {1u, 2u, 3u, 5u, 6u, 11u, 1001u}) {
			stream.memset(p, 0xaa, 2048);
			stream.memset(p + 16 + offset, 0x5c, size);
			stream.synchronize(seconds(10));
			for (size_t i = 0; i < 2048; ++i) {
				const bool inside = i >= 16 + offset && i < 16 + offset + size;
				ASSERT_EQ(p[i], inside ? 0x5c : 0xaa)
					<< "offset " << offset << " size " << size << " byte " << i;
			}
		}
	}
	npu::free(p);
}

TEST(SdkMemory, Memcpy2d)
{
	npu::Device device(0);
	npu::Stream stream(device);
	constexpr size_t kWidth = 29, kHeight = 9, kPitch = 64;
	const auto host = Pattern(kPitch * kHeight, 5);
	auto *dev = static_cast<uint8_t *>(npu::malloc(device, 4096));
	auto *dev2 = static_cast<uint8_t *>(npu::malloc(device, 4096));
	stream.memset(dev, 0, 4096);
	stream.memcpy_2d(dev + 3, 40, host.data(), kPitch, kWidth, kHeight); // host -> device
	stream.memcpy_2d(dev2 + 1, 33, dev + 3, 40, kWidth, kHeight);	     // device -> device
	std::vector<uint8_t> out(100 * kHeight, 0);
	stream.memcpy_2d(out.data(), 100, dev2 + 1, 33, kWidth, kHeight); // device -> host
	stream.synchronize(seconds(10));
	for (size_t r = 0; r < kHeight; ++r) {
		EXPECT_EQ(0, std::memcmp(out.data() + r * 100, host.data() + r * kPitch, kWidth))
			<< r;
		EXPECT_EQ(out[r * 100 + kWidth], 0) << r;
		EXPECT_EQ(dev[3 + r * 40 + kWidth], 0) << r;
	}
	npu::free(dev);
	npu::free(dev2);
}

TEST(SdkMemory, CopiesBetweenDevices)
{
	if (npu::Device::enumerate().size() < 2)
		GTEST_SKIP() << "needs two devices (npu-vm --devices 2)";
	npu::Device a(0);
	npu::Device b(1);
	auto *pa = static_cast<uint8_t *>(npu::malloc(a, 1 << 20));
	auto *pb = static_cast<uint8_t *>(npu::malloc(b, 1 << 20));
	EXPECT_EQ(npu::pointer_info(pb).device_index, 1u);
	const auto data = Pattern(100003, 11);
	std::memcpy(pa + 3, data.data(), data.size());
	{
		npu::Stream on_b(b);
		npu::Stream on_a(a);
		on_b.memcpy(pb + 1, pa + 3, data.size()); // a's memory, bound into b
		on_b.synchronize(seconds(30));
		EXPECT_EQ(0, std::memcmp(pb + 1, data.data(), data.size()));
		on_a.memcpy(pa + 500000, pb + 1, data.size()); // b's memory, bound into a
		on_a.memset(pb + 900001, 0x42, 7);	       // a fills b's memory
		on_a.synchronize(seconds(30));
		EXPECT_EQ(0, std::memcmp(pa + 500000, data.data(), data.size()));
		for (size_t i = 0; i < 7; ++i)
			EXPECT_EQ(pb[900001 + i], 0x42) << i;
	}
	npu::free(pa);
	npu::free(pb);
}

TEST(SdkMemory, RegisteredHostMemory)
{
	npu::Device device(0);
	npu::Stream stream(device);
	std::vector<uint8_t> storage(6 * 4096); // ordinary heap memory, far above 2^39
	uint8_t *host = storage.data() + 123;
	npu::host_register(device, host, 4 * 4096);
	EXPECT_EQ(npu::pointer_info(host).kind, npu::MemoryKind::registered);
	auto *dev = static_cast<uint8_t *>(npu::malloc(device, 3 * 4096));
	const auto data = Pattern(9001, 21);
	std::memcpy(host + 1, data.data(), data.size());
	stream.memcpy(dev + 3, host + 1, data.size()); // registered -> device: one COPY
	stream.memset(host + 10000, 0x7e, 3);	       // the device writes the process pages
	stream.memcpy(host + 12000, dev + 3, 100);     // device -> registered: one COPY
	stream.synchronize(seconds(10));
	EXPECT_EQ(0, std::memcmp(dev + 3, data.data(), data.size()));
	EXPECT_EQ(host[10000], 0x7e);
	EXPECT_EQ(host[10002], 0x7e);
	EXPECT_EQ(host[10003], 0);
	EXPECT_EQ(0, std::memcmp(host + 12000, data.data(), 100));
	npu::host_unregister(host);
	npu::free(dev);
}

// A device -> pageable host copy is synchronous (no host callback): when
// memcpy returns, the bytes are there, without a synchronize, also after
// work still running on the stream and under bounce buffers.
TEST(SdkMemory, DeviceToPageableHostCopyIsSynchronous)
{
	npu::Device device(0);
	npu::Stream stream(device);
	constexpr size_t n = 3 << 20; // 12 MiB: several staging pieces
	auto *dev = static_cast<uint32_t *>(npu::malloc(device, n * 4));
	std::vector<uint32_t> out(n, 0);
	for (uint32_t round = 1; round <= 3; round++) {
		stream.memset32(dev, 0x5a5a0000 + round, n);
		stream.memcpy(out.data(), dev, n * 4);
		for (size_t i = 0; i < n; i += 4093)
			ASSERT_EQ(out[i], 0x5a5a0000 + round) << i;
		ASSERT_EQ(out[n - 1], 0x5a5a0000 + round);
		// The same through the Buffer API and the 2-D copy.
		stream.memset32(dev, 0x77000000 + round, 4096);
		stream.memcpy_2d(out.data(), 8, dev, 16, 4, 1024); // every 4th word
		for (size_t r = 0; r < 1024; r++)
			ASSERT_EQ(out[2 * r], 0x77000000 + round) << r;
	}
	npu::free(dev);
}

// The pointer host_register hands back (ordinary heap memory, above 2^39,
// which the device reaches at another address) works in ops and graphs:
// libnpu puts the device alias into the packets.
TEST(SdkMemory, RegisteredHostMemoryInOpsAndGraphs)
{
	npu::Device device(0);
	npu::Stream stream(device);
	constexpr size_t n = 1024;
	std::vector<float> storage(4 * n);
	float *x = storage.data() + 3, *x2 = x + n, *out = x + 2 * n;
	npu::host_register(device, x, 3 * n * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		x[i] = float(i);
		x2[i] = -float(i) - 0.5f;
	}
	auto *dev = static_cast<float *>(npu::malloc(device, n * sizeof(float)));
	// registered -> op -> registered
	const auto desc = npu::ops::TensorDesc::contiguous(npu::ops::DType::f32, {int64_t(n)});
	npu::ops::Plan neg(device, npu::ops::OpDesc::unary(NPU_FN_NEG), {desc, desc});
	neg.launch(stream, {x, out});
	stream.synchronize(seconds(10));
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(out[i], -float(i)) << i;
	// A graph copying from registered memory, then rebound to another
	// registered range.
	npu::Graph::begin_capture(stream);
	stream.memcpy(dev, x, n * sizeof(float));
	npu::Graph graph = npu::Graph::end_capture(stream);
	npu::GraphExec exec(graph);
	exec.launch(stream);
	stream.synchronize(seconds(10));
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(dev[i], float(i)) << i;
	EXPECT_EQ(exec.rebind(x, n * sizeof(float), x2), 1u);
	exec.launch(stream);
	stream.synchronize(seconds(10));
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(dev[i], -float(i) - 0.5f) << i;
	exec.set_pointer(0, 0, x); // the copy's source (1 is its destination)
	neg.launch(stream, {x2, out});
	exec.launch(stream);
	stream.synchronize(seconds(10));
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(dev[i], float(i)) << i;
		ASSERT_EQ(out[i], float(i) + 0.5f) << i;
	}
	npu::host_unregister(x);
	npu::free(dev);
}

TEST(SdkMemory, DmabufSharedWithAnotherProcess)
{
	npu::Device device(0);
	auto *p = static_cast<uint32_t *>(npu::malloc(device, 2 * 4096));
	{
		npu::Stream stream(device);
		stream.memset32(p, 0x600dcafe, 2048);
		stream.synchronize(seconds(10));
	}
	size_t offset = 1;
	const int fd = npu::export_dmabuf(p + 1024, &offset);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(offset, 4096u);
	const pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		// Another process: its own file (context), the dma-buf imported.
		int status = 1;
		try {
			npu::Device mine(0);
			auto *q = static_cast<uint32_t *>(npu::import_dmabuf(mine, fd));
			npu::Stream stream(mine);
			if (q[2047] == 0x600dcafe) {
				stream.memset32(q + 1, 0x0dd0beef, 1);
				stream.synchronize(seconds(10));
				status = 0;
			}
			npu::free(q);
		} catch (const std::exception &e) {
			std::fprintf(stderr, "child: %s\n", e.what());
			status = 2;
		}
		_exit(status);
	}
	int status = 0;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	close(fd);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the child read other data, 2: it failed";
	EXPECT_EQ(p[1], 0x0dd0beefu) << "the other process's device write";
	npu::free(p);
}

// A host callback holds a stream until the test lets it go.
struct Gate {
	std::atomic<bool> open{false};
	void Hold(npu::Stream &stream)
	{
		stream.launch_host_func([this] {
			while (!open.load())
				std::this_thread::sleep_for(std::chrono::milliseconds(1));
		});
	}
};

TEST(SdkMemory, PoolRecordStream)
{
	npu::Device device(0);
	npu::Stream producer(device);
	npu::Stream consumer(device);
	npu::MemoryPool pool(device);
	void *block = npu::malloc_async(4096, pool, producer);
	producer.synchronize(seconds(10));
	Gate gate;
	gate.Hold(consumer);
	consumer.memset(block, 1, 4096); // waits behind the gate
	consumer.flush();
	npu::record_stream(block, consumer);
	npu::free_async(block, producer);
	producer.synchronize(seconds(10));
	void *other = npu::malloc_async(4096, pool, producer);
	EXPECT_NE(other, block) << "reused while another stream still uses it";
	gate.open = true;
	consumer.synchronize(seconds(10));
	void *again = npu::malloc_async(4096, pool, producer);
	EXPECT_EQ(again, block) << "reusable once the recorded stream finished";
	npu::free(other);
	npu::free(again);
}

TEST(SdkMemory, PoolCapStatsSnapshot)
{
	npu::Device device(0);
	npu::PoolOptions options;
	options.chunk_size = 1 << 20;
	options.max_bytes = 5 << 19;
	npu::MemoryPool pool(device, options);
	npu::Stream stream(device);
	void *a = npu::malloc_async(900 << 10, pool, stream);
	void *b = npu::malloc_async(900 << 10, pool, stream);
	try {
		void *c = npu::malloc_async(900 << 10, pool, stream);
		npu::free(c);
		FAIL() << "allocated past the cap";
	} catch (const npu::Error &e) {
		EXPECT_EQ(e.errnum(), ENOMEM);
	}
	const npu::PoolStats stats = pool.stats();
	EXPECT_EQ(stats.failed_allocations, 1u);
	EXPECT_EQ(stats.chunks, 2u);
	const auto segments = pool.snapshot();
	ASSERT_EQ(segments.size(), 2u);
	EXPECT_EQ(segments[0].address, a);
	ASSERT_FALSE(segments[0].blocks.empty());
	EXPECT_TRUE(segments[0].blocks[0].allocated);
	npu::free_async(b, stream);
	stream.synchronize(seconds(10));
	void *c = npu::malloc_async(1500 << 10, pool, stream); // trims b's idle chunk first
	EXPECT_EQ(pool.stats().chunks, 2u);
	npu::free(a);
	npu::free(c);
	const npu::MemoryInfo info = npu::memory_info(device);
	EXPECT_GT(info.total, 0u);
	EXPECT_LE(info.free, info.total);
}

TEST(SdkMemory, CApiCopies)
{
	npu_device_t device = nullptr;
	ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);
	npu_stream_t stream = nullptr;
	ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
	void *p = nullptr;
	ASSERT_EQ(npu_malloc(device, 100, &p), NPU_SUCCESS);
	char text[] = "pointer";
	char back[sizeof(text)] = {};
	ASSERT_EQ(npu_memset_async(p, 0, 100, stream), NPU_SUCCESS);
	ASSERT_EQ(npu_memcpy_async(static_cast<char *>(p) + 3, text, sizeof(text), stream),
		  NPU_SUCCESS);
	ASSERT_EQ(npu_memcpy_async(back, static_cast<char *>(p) + 3, sizeof(text), stream),
		  NPU_SUCCESS);
	ASSERT_EQ(npu_stream_synchronize(stream, 10'000'000'000), NPU_SUCCESS);
	EXPECT_STREQ(back, "pointer");
	npu_pointer_info_t info{};
	info.size = sizeof(info);
	ASSERT_EQ(npu_pointer_get_info(static_cast<char *>(p) + 3, &info), NPU_SUCCESS);
	EXPECT_EQ(info.kind, NPU_MEMORY_DEVICE);
	EXPECT_EQ(info.offset, 3u);
	EXPECT_EQ(npu_free(p), NPU_SUCCESS);
	npu_stream_destroy(stream);
	npu_device_close(device);
}

} // namespace
