// The pointer memory model against the fake kernel: shared virtual
// addressing, pointer queries, stream-ordered memcpy/memset in every
// direction, dma-buf sharing between devices, the pool's caching-allocator
// hooks, and the C ABI of all of it.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/npu.h"
#include "npu/npu.hpp"

namespace npu::testing {
namespace {

using MemoryTest = FakeOsTest;
using std::chrono::seconds;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
    return v;
}

// Opcodes of the packets a stream submitted, in order.
std::vector<npu_pkt_copy> copies(const std::vector<SubmitRecord>& submits) {
    std::vector<npu_pkt_copy> out;
    for (const SubmitRecord& s : submits)
        for (size_t at = 0; at + 8 <= s.commands.size();) {
            uint32_t header = 0;
            std::memcpy(&header, s.commands.data() + at, 4);
            const size_t bytes = NPU_PKT_DWORDS(header) * 4;
            if (NPU_PKT_OPCODE(header) == NPU_OP_COPY) {
                npu_pkt_copy p;
                std::memcpy(&p, s.commands.data() + at, sizeof(p));
                out.push_back(p);
            }
            at += bytes ? bytes : 8;
        }
    return out;
}

TEST_F(MemoryTest, OneAddressOnHostAndDevice) {
    Device device(0, os);
    Buffer buffer(device, 10000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.host_ptr()), buffer.device_addr());
    // Below the device's 39-bit limit: in [2^38, 2^39), or in the low
    // fallback window where the host cannot map there (AddressSanitizer).
    EXPECT_LT(buffer.device_addr(), uint64_t{1} << 39);
    EXPECT_GE(buffer.device_addr(), uint64_t{1} << 30);
    void* p = npu::malloc(device, 4096);
    EXPECT_EQ(os->binds_made(), 2u);
    PointerInfo info = pointer_info(static_cast<char*>(p) + 100);
    EXPECT_EQ(info.kind, MemoryKind::device);
    EXPECT_EQ(info.base, p);
    EXPECT_EQ(info.offset, 100u);
    EXPECT_EQ(info.size, 4096u);
    ASSERT_TRUE(info.device);
    EXPECT_TRUE(*info.device == device);
    EXPECT_EQ(info.device_index, device.info().index);
    // The device writes what the host reads at the same address.
    Stream stream(device);
    stream.memset32(p, 0x12345678, 1024);
    stream.synchronize(seconds(1));
    EXPECT_EQ(static_cast<uint32_t*>(p)[1023], 0x12345678u);
    npu::free(p);
    EXPECT_EQ(pointer_info(p).kind, MemoryKind::unknown);
    int on_stack = 0;
    EXPECT_EQ(pointer_info(&on_stack).kind, MemoryKind::unknown);
    EXPECT_THROW(npu::free(&on_stack), Error);
}

TEST_F(MemoryTest, FreeUnbindsAndUnmaps) {
    Device device(0, os);
    const size_t mappings = os->live_mappings();
    void* p = npu::malloc_host(device, 3 * 4096 + 1);
    EXPECT_EQ(pointer_info(p).kind, MemoryKind::host_pinned);
    EXPECT_EQ(os->live_mappings(), mappings + 1);
    npu::free(p);
    EXPECT_EQ(os->live_mappings(), mappings);
    EXPECT_EQ(os->live_handles(), 0u);
}

TEST_F(MemoryTest, DriverWithoutVmBindFailsClearly) {
    auto old_os = std::make_shared<FakeOs>();
    FakeDeviceConfig config;
    config.params.erase(DRM_NPU_PARAM_VA_START);
    old_os->add_device(config);
    Device device(0, old_os);
    try {
        Buffer buffer(device, 4096);
        FAIL() << "allocated without VM_BIND";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOTSUP);
        EXPECT_NE(std::string(e.what()).find("VM_BIND"), std::string::npos) << e.what();
    }
}

TEST_F(MemoryTest, MemcpyEveryDirectionOddSizesAndOffsets) {
    Device device(0, os);
    Stream stream(device);
    auto* dev_a = static_cast<uint8_t*>(npu::malloc(device, 70000));
    auto* dev_b = static_cast<uint8_t*>(npu::malloc(device, 70000));
    auto* pinned = static_cast<uint8_t*>(npu::malloc_host(device, 70000));
    for (size_t size : {1u, 3u, 4u, 5u, 4097u, 65537u}) {
        for (size_t offset : {0u, 1u, 3u}) {
            const auto src = pattern(size, static_cast<uint8_t>(size + offset));
            std::vector<uint8_t> back(size + 2, 0xee);
            std::vector<uint8_t> back_pinned(size, 0);
            stream.memcpy(dev_a + offset, src.data(), size);            // pageable -> device
            stream.memcpy(dev_b + 2, dev_a + offset, size);             // device -> device
            stream.memcpy(pinned + offset, dev_b + 2, size);            // device -> pinned
            stream.memcpy(dev_a + 67000 - size, pinned + offset, size); // pinned -> device
            stream.memcpy(back.data() + 1, dev_a + 67000 - size, size); // device -> pageable
            stream.memcpy(back_pinned.data(), back.data() + 1, size);   // host -> host
            stream.synchronize(seconds(5));
            EXPECT_EQ(0, std::memcmp(back.data() + 1, src.data(), size)) << size << "+" << offset;
            EXPECT_EQ(back[0], 0xee);
            EXPECT_EQ(back[size + 1], 0xee);
            EXPECT_EQ(back_pinned, src);
        }
    }
    npu::free(dev_a);
    npu::free(dev_b);
    npu::free(pinned);
}

TEST_F(MemoryTest, DeviceToPinnedIsOneDeviceCopy) {
    Device device(0, os);
    Stream stream(device);
    void* src = npu::malloc(device, 8192);
    void* dst = npu::malloc_host(device, 8192);
    const size_t before = os->submits().size();
    stream.memcpy(dst, static_cast<char*>(src) + 8, 1000);
    stream.synchronize(seconds(1));
    auto submitted = os->submits();
    submitted.erase(submitted.begin(), submitted.begin() + static_cast<long>(before));
    const auto packets = copies(submitted);
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].dst, reinterpret_cast<uintptr_t>(dst));
    EXPECT_EQ(packets[0].src, reinterpret_cast<uintptr_t>(src) + 8);
    EXPECT_EQ(packets[0].size, 1000u);
    npu::free(src);
    npu::free(dst);
}

TEST_F(MemoryTest, MemsetAnyAlignment) {
    Device device(0, os);
    Stream stream(device);
    auto* p = static_cast<uint8_t*>(npu::malloc(device, 256));
    for (size_t offset = 0; offset < 5; ++offset) {
        for (size_t size : {0u, 1u, 2u, 3u, 4u, 5u, 7u, 9u, 100u}) {
            stream.memset(p, 0xaa, 256);
            stream.memset(p + 8 + offset, 0x5c, size);
            stream.synchronize(seconds(1));
            for (size_t i = 0; i < 256; ++i) {
                const bool inside = i >= 8 + offset && i < 8 + offset + size;
                ASSERT_EQ(p[i], inside ? 0x5c : 0xaa)
                    << "offset " << offset << " size " << size << " byte " << i;
            }
        }
    }
    EXPECT_THROW(stream.memset32(p + 1, 1, 1), Error);
    std::vector<uint8_t> pageable(16);
    EXPECT_THROW(stream.memset(pageable.data(), 0, 16), Error);
    EXPECT_THROW(stream.memset(p + 4090, 0, 16), Error) << "crosses the buffer object's end";
    npu::free(p);
}

TEST_F(MemoryTest, Memcpy2dAllDirections) {
    Device device(0, os);
    Stream stream(device);
    constexpr size_t width = 13, height = 7, pitch = 32;
    const auto host = pattern(pitch * height, 3);
    auto* dev = static_cast<uint8_t*>(npu::malloc(device, 4096));
    auto* dev2 = static_cast<uint8_t*>(npu::malloc(device, 4096));
    stream.memset(dev, 0, 4096);
    stream.memcpy_2d(dev + 1, 20, host.data(), pitch, width, height); // host -> device
    stream.memcpy_2d(dev2, 17, dev + 1, 20, width, height);           // device -> device
    std::vector<uint8_t> out(64 * height, 0);
    stream.memcpy_2d(out.data(), 64, dev2, 17, width, height); // device -> host
    stream.synchronize(seconds(1));
    for (size_t r = 0; r < height; ++r) {
        EXPECT_EQ(0, std::memcmp(out.data() + r * 64, host.data() + r * pitch, width)) << r;
        EXPECT_EQ(out[r * 64 + width], 0) << r;
        EXPECT_EQ(dev[1 + r * 20 + width], 0) << r;
    }
    EXPECT_THROW(stream.memcpy_2d(dev, 4, dev2, 20, 5, 2), Error) << "pitch < width";
    npu::free(dev);
    npu::free(dev2);
}

TEST_F(MemoryTest, CopyBetweenDevicesBindsThePeerOnce) {
    Device a(0, os);
    Device b(1, os);
    ASSERT_FALSE(a == b);
    auto* pa = static_cast<uint8_t*>(npu::malloc(a, 8192));
    auto* pb = static_cast<uint8_t*>(npu::malloc(b, 8192));
    const auto data = pattern(5000, 9);
    std::memcpy(pa + 1, data.data(), data.size());
    {
        // Manual submission: no job in flight makes a stream take a second
        // command buffer (whose bind would count).
        StreamOptions manual;
        manual.submit_policy = SubmitPolicy::manual;
        Stream on_a(a, manual);
        Stream on_b(b, manual);
        on_a.memset(pa + 8000, 0, 8);             // the streams' command buffers exist from here
        on_b.memcpy(pb + 3, pa + 1, data.size()); // a's memory bound into b
        on_b.synchronize(seconds(1));
        EXPECT_EQ(0, std::memcmp(pb + 3, data.data(), data.size()));
        const size_t binds = os->binds_made();
        on_a.memcpy(pa + 4096, pb + 3, 100); // b's memory bound into a
        on_b.memcpy(pb + 6000, pa + 1, 100); // cached: no new bind on b
        on_a.synchronize(seconds(1));
        on_b.synchronize(seconds(1));
        EXPECT_EQ(os->binds_made(), binds + 1);
        EXPECT_EQ(0, std::memcmp(pa + 4096, data.data(), 100));
        EXPECT_EQ(0, std::memcmp(pb + 6000, data.data(), 100));
        EXPECT_EQ(pointer_info(pb + 3).device_index, b.info().index);
    }
    npu::free(pa);
    npu::free(pb);
    EXPECT_EQ(os->live_handles(), 0u) << "peer imports released with their source";
}

TEST_F(MemoryTest, DmabufExportImport) {
    Device a(0, os);
    Device b(1, os);
    auto* p = static_cast<uint32_t*>(npu::malloc(a, 3 * 4096));
    p[1025] = 0xfeedf00d;
    size_t offset = 0;
    const int fd = export_dmabuf(p + 1024, &offset);
    EXPECT_EQ(offset, 4096u);
    auto* q = static_cast<uint32_t*>(import_dmabuf(b, fd));
    os->close(fd);
    EXPECT_NE(static_cast<void*>(q), static_cast<void*>(p));
    EXPECT_EQ(pointer_info(q).kind, MemoryKind::imported);
    EXPECT_EQ(q[1025], 0xfeedf00du);
    Stream on_b(b);
    on_b.memset32(q + 2048, 0xabcdef01, 4);
    on_b.synchronize(seconds(1));
    EXPECT_EQ(p[2051], 0xabcdef01u);
    npu::free(q);
    npu::free(p);
}

TEST_F(MemoryTest, StreamOrderedPointerAllocations) {
    Device device(0, os);
    Stream stream(device);
    void* p = npu::malloc_async(1000, stream);
    EXPECT_EQ(pointer_info(p).kind, MemoryKind::device);
    stream.memset(p, 7, 1000);
    npu::free_async(p, stream);
    void* q = npu::malloc_async(1000, stream); // same stream: reused at once
    EXPECT_EQ(p, q);
    npu::free_async(q, stream);
    stream.synchronize(seconds(1));
    void* plain = npu::malloc(device, 100);
    npu::free_async(plain, stream);
    EXPECT_THROW(npu::free_async(plain, stream), Error) << "double free";
}

TEST_F(MemoryTest, RecordStreamDelaysReuse) {
    Device device(0, os);
    Stream producer(device);
    Stream consumer(device);
    MemoryPool pool(device);
    void* block = npu::malloc_async(4096, pool, producer);
    producer.synchronize(seconds(1));
    os->hold_jobs(true);
    consumer.memset(block, 1, 4096); // the consumer's job stays pending
    consumer.flush();
    npu::record_stream(block, consumer);
    npu::free_async(block, producer);
    producer.synchronize(seconds(1));
    void* other = npu::malloc_async(4096, pool, producer);
    EXPECT_NE(other, block) << "reused while the consumer still uses it";
    os->hold_jobs(false);
    os->release_jobs();
    consumer.synchronize(seconds(1));
    void* again = npu::malloc_async(4096, pool, producer);
    EXPECT_EQ(again, block) << "reusable once the consumer finished";
    npu::free(other);
    npu::free(again);
    void* plain = npu::malloc(device, 10);
    EXPECT_THROW(npu::record_stream(plain, consumer), Error) << "not a pool block";
    npu::free(plain);
}

TEST_F(MemoryTest, PoolCapStatsSnapshotAndTrimOnOom) {
    Device device(0, os);
    PoolOptions options;
    options.chunk_size = 1 << 20;
    options.max_bytes = 5 << 19; // 2.5 MiB
    MemoryPool pool(device, options);
    Buffer a = pool.allocate(900 << 10);
    Buffer b = pool.allocate(900 << 10);
    try {
        Buffer c = pool.allocate(900 << 10);
        FAIL() << "passed the cap";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOMEM);
    }
    PoolStats stats = pool.stats();
    EXPECT_EQ(stats.failed_allocations, 1u);
    EXPECT_EQ(stats.chunk_creations, 2u);
    EXPECT_EQ(stats.total_allocations, 2u);
    auto segments = pool.snapshot();
    ASSERT_EQ(segments.size(), 2u);
    ASSERT_EQ(segments[0].blocks.size(), 2u);
    EXPECT_TRUE(segments[0].blocks[0].allocated);
    EXPECT_EQ(segments[0].blocks[0].size, size_t{900} << 10);
    EXPECT_FALSE(segments[0].blocks[1].allocated);
    EXPECT_EQ(segments[0].address, a.host_ptr());
    b = Buffer(device, 1); // frees b's block: its chunk is idle
    EXPECT_EQ(pool.stats().total_frees, 1u);
    // The cap is met by trimming the idle chunk first.
    Buffer c = pool.allocate(1500 << 10);
    EXPECT_EQ(pool.stats().chunks, 2u);
    EXPECT_GE(pool.stats().oom_retries, 1u);
    // Out of memory in the kernel: trim idle chunks and retry once.
    pool.set_max_bytes(SIZE_MAX);
    c = Buffer(device, 1);
    os->fail_next_ioctl(DRM_IOCTL_NPU_BO_CREATE, ENOMEM);
    const size_t retries = pool.stats().oom_retries;
    Buffer d = pool.allocate(1600 << 10); // more than the idle chunk holds
    EXPECT_EQ(pool.stats().oom_retries, retries + 1);
}

TEST_F(MemoryTest, MemoryInfo) {
    Device device(0, os);
    const MemoryInfo before = memory_info(device);
    EXPECT_GT(before.total, 0u);
    EXPECT_LE(before.free, before.total);
    void* p = npu::malloc(device, 1 << 20);
    EXPECT_EQ(memory_info(device).used_by_process, before.used_by_process + (1 << 20));
    EXPECT_LT(memory_info(device).address_space_free, before.address_space_free);
    npu::free(p);
    EXPECT_EQ(memory_info(device).used_by_process, before.used_by_process);
}

TEST_F(MemoryTest, CApi) {
    npu_device_t device = nullptr;
    ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
    void* p = nullptr;
    ASSERT_EQ(npu_malloc(device, 1000, &p), NPU_SUCCESS);
    npu_pointer_info_t info{};
    info.size = sizeof(info);
    ASSERT_EQ(npu_pointer_get_info(static_cast<char*>(p) + 10, &info), NPU_SUCCESS);
    EXPECT_EQ(info.kind, NPU_MEMORY_DEVICE);
    EXPECT_EQ(info.offset, 10u);
    EXPECT_EQ(info.base, p);
    info.size = 0;
    EXPECT_EQ(npu_pointer_get_info(p, &info), NPU_ERROR_INVALID_ARGUMENT);
    char text[11] = "0123456789";
    char back[11] = {};
    ASSERT_EQ(npu_memset_async(p, 'x', 1000, stream), NPU_SUCCESS);
    ASSERT_EQ(npu_memcpy_async(static_cast<char*>(p) + 1, text, 10, stream), NPU_SUCCESS);
    ASSERT_EQ(npu_memcpy_async(back, p, 10, stream), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_synchronize(stream, 1'000'000'000), NPU_SUCCESS);
    EXPECT_STREQ(back, "x012345678");
    void* block = nullptr;
    ASSERT_EQ(npu_malloc_async(100, nullptr, stream, &block), NPU_SUCCESS);
    ASSERT_EQ(npu_record_stream(block, stream), NPU_SUCCESS);
    ASSERT_EQ(npu_free_async(block, stream), NPU_SUCCESS);
    npu_pool_t pool = nullptr;
    ASSERT_EQ(npu_pool_create_ex(device, 1 << 20, 1 << 20, &pool), NPU_SUCCESS);
    void* big = nullptr;
    ASSERT_EQ(npu_malloc_async(2 << 20, pool, stream, &big), NPU_ERROR_OUT_OF_MEMORY);
    ASSERT_EQ(npu_malloc_async(100, pool, stream, &big), NPU_SUCCESS);
    npu_pool_stats_ex_t stats{};
    stats.size = sizeof(stats);
    ASSERT_EQ(npu_pool_get_stats_ex(pool, &stats), NPU_SUCCESS);
    EXPECT_EQ(stats.failed_allocations, 1u);
    EXPECT_EQ(stats.allocations, 1u);
    size_t segments = 0, blocks = 0;
    ASSERT_EQ(npu_pool_snapshot(pool, nullptr, 0, &segments, nullptr, 0, &blocks), NPU_SUCCESS);
    EXPECT_EQ(segments, 1u);
    std::vector<npu_pool_segment_t> segs(segments);
    std::vector<npu_pool_block_t> blks(blocks);
    ASSERT_EQ(npu_pool_snapshot(pool, segs.data(), segs.size(), &segments, blks.data(), blks.size(),
                                &blocks),
              NPU_SUCCESS);
    EXPECT_EQ(segs[0].block_count, blocks);
    EXPECT_TRUE(blks[0].allocated);
    int fd = -1;
    ASSERT_EQ(npu_export_dmabuf(big, &fd, nullptr), NPU_SUCCESS);
    void* imported = nullptr;
    ASSERT_EQ(npu_import_dmabuf(device, fd, &imported), NPU_SUCCESS);
    os->close(fd);
    npu_memory_info_t mem{};
    mem.size = sizeof(mem);
    ASSERT_EQ(npu_memory_get_info(device, &mem), NPU_SUCCESS);
    EXPECT_GT(mem.total, 0u);
    EXPECT_EQ(npu_free(imported), NPU_SUCCESS);
    EXPECT_EQ(npu_free_async(big, stream), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_synchronize(stream, 1'000'000'000), NPU_SUCCESS);
    EXPECT_EQ(npu_free(p), NPU_SUCCESS);
    EXPECT_EQ(npu_free(p), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(npu_free(nullptr), NPU_SUCCESS);
    npu_pool_destroy(pool);
    npu_stream_destroy(stream);
    npu_device_close(device);
}

} // namespace
} // namespace npu::testing

namespace npu::testing {
namespace {

TEST_F(MemoryTest, RegisteredHostMemory) {
    Device device(0, os);
    Stream stream(device);
    // High (ordinary heap) memory: the device reaches it at another address.
    std::vector<uint8_t> storage(5 * 4096);
    uint8_t* host = storage.data() + 100;
    host_register(device, host, 3 * 4096);
    PointerInfo info = pointer_info(host + 10);
    EXPECT_EQ(info.kind, MemoryKind::registered);
    EXPECT_EQ(info.offset, (reinterpret_cast<uintptr_t>(host) & 4095) + 10);
    void* dev = npu::malloc(device, 8192);
    const auto data = pattern(3000, 4);
    std::memcpy(host + 1, data.data(), data.size());
    const size_t before = os->submits().size();
    stream.memcpy(dev, host + 1, data.size()); // one device COPY, no staging
    stream.memset(host + 5000, 0x33, 5);
    stream.memcpy(host + 6000, dev, 10);
    stream.synchronize(seconds(1));
    auto submitted = os->submits();
    submitted.erase(submitted.begin(), submitted.begin() + static_cast<long>(before));
    for (const npu_pkt_copy& p : copies(submitted))
        EXPECT_NE(p.src, reinterpret_cast<uintptr_t>(host + 1)) << "host address in a packet";
    EXPECT_EQ(0, std::memcmp(dev, data.data(), data.size()));
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(host[5000 + i], 0x33);
    EXPECT_EQ(host[5005], 0);
    EXPECT_EQ(0, std::memcmp(host + 6000, data.data(), 10));
    EXPECT_THROW(npu::free(host), Error) << "registrations end with host_unregister";
    EXPECT_THROW(host_register(device, host + 8, 10), Error) << "overlaps";
    host_unregister(host);
    EXPECT_EQ(pointer_info(host).kind, MemoryKind::unknown);
    EXPECT_THROW(host_unregister(host), Error);
    npu::free(dev);
    npu_device_t c_device = nullptr;
    ASSERT_EQ(npu_device_open(0, &c_device), NPU_SUCCESS);
    ASSERT_EQ(npu_host_register(c_device, host, 100, 1), NPU_SUCCESS);
    EXPECT_EQ(pointer_info(host).kind, MemoryKind::registered);
    EXPECT_EQ(npu_host_unregister(host), NPU_SUCCESS);
    EXPECT_EQ(npu_host_unregister(host), NPU_ERROR_INVALID_ARGUMENT);
    npu_device_close(c_device);
}

} // namespace
} // namespace npu::testing
