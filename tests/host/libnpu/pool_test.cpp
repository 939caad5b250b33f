// MemoryPool: sub-allocation, stream-ordered reuse, thresholds, statistics,
// zero system calls on warm allocations, thread safety.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fixture.hpp"
#include "npu/npu.hpp"

namespace npu::testing {
namespace {

using PoolTest = FakeOsTest;
using std::chrono::seconds;

TEST_F(PoolTest, WarmAllocationMakesNoSystemCall) {
    Device device(0, os);
    Stream stream(device);
    MemoryPool pool(device);
    Buffer first = pool.allocate_async(1000, stream); // cold: creates a chunk
    pool.free_async(std::move(first), stream);
    EXPECT_FALSE(first.valid());
    const size_t ioctls = os->ioctl_count();
    for (int i = 0; i < 100; ++i) {
        Buffer block = pool.allocate_async(1000 + i * 10, stream);
        Buffer other = pool.allocate_async(64, stream);
        pool.free_async(std::move(block), stream);
        pool.free_async(std::move(other), stream);
    }
    EXPECT_EQ(os->ioctl_count(), ioctls) << "warm allocations made system calls";
    EXPECT_EQ(pool.stats().chunks, 1u);
}

TEST_F(PoolTest, BlocksAreSubAllocatedAndUsableOnTheDevice) {
    Device device(0, os);
    Stream stream(device);
    MemoryPool pool(device);
    Buffer a = pool.allocate_async(4096, stream);
    Buffer b = pool.allocate_async(4096, stream);
    EXPECT_TRUE(a.from_pool());
    EXPECT_EQ(a.handle(), b.handle()) << "one chunk";
    EXPECT_NE(a.device_addr(), b.device_addr());
    EXPECT_EQ(a.device_addr() % 256, 0u);
    stream.fill(a, 0, 4096, 0x77);
    stream.copy(a, 0, b, 0, 4096);
    stream.synchronize(seconds(1));
    EXPECT_EQ(b.as_span<uint32_t>()[1023], 0x77u);
    const PoolStats stats = pool.stats();
    EXPECT_EQ(stats.used_bytes, 8192u);
    EXPECT_EQ(stats.reserved_bytes, size_t{2} << 20);
    EXPECT_EQ(stats.allocations, 2u);
}

TEST_F(PoolTest, OtherStreamReusesOnlyAfterTheFreeIsComplete) {
    Device device(0, os);
    Stream freeing(device);
    Stream other(device);
    PoolOptions options;
    options.chunk_size = 4096;
    MemoryPool pool(device, options);
    Buffer block = pool.allocate_async(4096, freeing);
    const uint64_t addr = block.device_addr();
    os->hold_jobs(true);
    freeing.fill(block, 0, 4096, 1);
    pool.free_async(std::move(block), freeing);
    freeing.flush();
    // Same stream: reusable at once.
    Buffer again = pool.allocate_async(4096, freeing);
    EXPECT_EQ(again.device_addr(), addr);
    pool.free_async(std::move(again), freeing);
    // Another stream: the fill still runs, so it gets a new chunk.
    Buffer elsewhere = pool.allocate_async(4096, other);
    EXPECT_NE(elsewhere.device_addr(), addr);
    EXPECT_EQ(pool.stats().chunks, 2u);
    os->release_jobs();
    os->hold_jobs(false);
    freeing.synchronize(seconds(1));
    // Now known complete: reused without a new chunk.
    Buffer reused = pool.allocate_async(4096, other);
    EXPECT_EQ(reused.device_addr(), addr);
    EXPECT_EQ(pool.stats().chunks, 2u);
}

TEST_F(PoolTest, AskingTheKernelBeforeGrowing) {
    Device device(0, os);
    Stream freeing(device);
    PoolOptions options;
    options.chunk_size = 4096;
    MemoryPool pool(device, options);
    Buffer block = pool.allocate_async(4096, freeing);
    freeing.fill(block, 0, 4096, 1);
    pool.free_async(std::move(block), freeing);
    freeing.flush();                   // the fake runs it at once; the stream has not looked
    Buffer host = pool.allocate(4096); // queries the timeline, reuses
    EXPECT_EQ(pool.stats().chunks, 1u);
}

TEST_F(PoolTest, ReleaseThresholdAndTrim) {
    Device device(0, os);
    Stream stream(device);
    PoolOptions options;
    options.chunk_size = 64 * 1024;
    MemoryPool pool(device, options);
    std::vector<Buffer> blocks;
    for (int i = 0; i < 4; ++i)
        blocks.push_back(pool.allocate_async(64 * 1024, stream));
    EXPECT_EQ(pool.stats().reserved_bytes, 256u * 1024);
    stream.synchronize(seconds(1));
    for (auto& b : blocks)
        pool.free_async(std::move(b), stream);
    EXPECT_EQ(pool.stats().reserved_bytes, 256u * 1024) << "default threshold keeps all";
    EXPECT_EQ(pool.stats().used_high_water, 256u * 1024);
    pool.trim(128 * 1024);
    EXPECT_EQ(pool.stats().reserved_bytes, 128u * 1024);
    pool.set_release_threshold(0);
    Buffer b = pool.allocate(100);
    EXPECT_EQ(pool.stats().reserved_bytes, 128u * 1024);
    b = Buffer(device, 4096); // frees the pool block at once: threshold 0 releases idle chunks
    EXPECT_EQ(pool.stats().reserved_bytes, 0u);
    pool.reset_high_water();
    EXPECT_EQ(pool.stats().used_high_water, 0u);
}

TEST_F(PoolTest, DefaultPoolIsSharedPerDevice) {
    Device device(0, os);
    MemoryPool a = device.default_pool();
    MemoryPool b = device.default_pool();
    Buffer block = a.allocate(128);
    EXPECT_EQ(b.stats().allocations, 1u);
    Stream stream(device);
    EXPECT_THROW(MemoryPool(device).free_async(std::move(block), stream), Error);
}

TEST_F(PoolTest, ConcurrentStreamsAndThreads) {
    Device device(0, os);
    MemoryPool pool(device);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&pool, &device, t] {
            Stream stream(device);
            for (int i = 0; i < 50; ++i) {
                Buffer block = pool.allocate_async(512 * (1 + (i + t) % 7), stream);
                stream.fill(block, 0, 512, static_cast<uint32_t>(t * 1000 + i));
                Buffer copy = pool.allocate_async(512, stream);
                stream.copy(block, 0, copy, 0, 512);
                stream.launch_host_func([] {});
                pool.free_async(std::move(block), stream);
                pool.free_async(std::move(copy), stream);
                if (i % 10 == 0)
                    stream.synchronize(seconds(5));
            }
            stream.synchronize(seconds(5));
        });
    }
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(pool.stats().used_bytes, 0u);
    EXPECT_EQ(pool.stats().allocations, 0u);
}

} // namespace
} // namespace npu::testing
