// ABI and versioning (issue 13): the version calls, C structs that carry
// their own size, Views that survive their Buffer's move, copies of views
// of different sizes, and moved-from objects reported as Error(EINVAL).
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/npu.h"
#include "npu/npu.hpp"

namespace npu::testing {
namespace {

using namespace std::chrono_literals;
using AbiTest = FakeOsTest;

// Runs fn and expects an npu::Error with errno EINVAL whose message
// contains what.
void ExpectEinval(const std::function<void()>& fn, const std::string& what) {
    try {
        fn();
        ADD_FAILURE() << "no error; expected EINVAL mentioning '" << what << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EINVAL) << e.what();
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
}

TEST_F(AbiTest, VersionCallsMatchTheHeader) {
    EXPECT_EQ(NPU_API_VERSION, NPU_MAKE_API_VERSION(1, 0, 0));
    EXPECT_EQ(npu_api_version(), static_cast<uint32_t>(NPU_API_VERSION));
    EXPECT_EQ(api_version(), static_cast<unsigned>(NPU_API_VERSION));
    const Version v = library_version();
    EXPECT_EQ(v.major, unsigned{NPU_VERSION_MAJOR});
    EXPECT_EQ(v.minor, unsigned{NPU_VERSION_MINOR});
    EXPECT_EQ(v.patch, unsigned{NPU_VERSION_PATCH});
    EXPECT_EQ(std::string(npu_version_string()), v.str());
}

TEST_F(AbiTest, StructsCarryTheirSize) {
    npu_device_t device = nullptr;
    ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);

    npu_device_properties_t props{};
    props.size = sizeof(props);
    ASSERT_EQ(npu_device_get_properties(device, &props), NPU_SUCCESS);
    EXPECT_EQ(props.size, sizeof(props));
    EXPECT_STREQ(props.pci_address, "0000:00:03.0");

    // No size (a caller that forgot it) or one below the 1.0 struct.
    npu_device_properties_t unset{};
    EXPECT_EQ(npu_device_get_properties(device, &unset), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(npu_last_error_message()).find("size 0"), std::string::npos)
        << npu_last_error_message();
    EXPECT_EQ(unset.pci_address[0], '\0');                       // nothing written
    unset.size = offsetof(npu_device_properties_t, pci_address); // without the last member
    EXPECT_EQ(npu_device_get_properties(device, &unset), NPU_ERROR_INVALID_ARGUMENT);
    unset.size = 0x7ffd5a3c10e0; // garbage: never written through
    EXPECT_EQ(npu_device_get_properties(device, &unset), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(unset.pci_address[0], '\0');

    // A newer caller's larger struct: members this library does not know
    // are zeroed, nothing past size is touched.
    struct Newer {
        npu_device_properties_t known;
        uint64_t added_later;
        uint64_t beyond;
    } newer;
    std::memset(&newer, 0xff, sizeof(newer));
    newer.known.size = offsetof(Newer, beyond);
    ASSERT_EQ(npu_device_get_properties(device, &newer.known), NPU_SUCCESS);
    EXPECT_EQ(newer.known.size, offsetof(Newer, beyond));
    EXPECT_STREQ(newer.known.pci_address, "0000:00:03.0");
    EXPECT_EQ(newer.known.serial, props.serial);
    EXPECT_EQ(newer.added_later, 0u);
    EXPECT_EQ(newer.beyond, ~uint64_t{0});

    npu_pool_t pool = nullptr;
    ASSERT_EQ(npu_device_default_pool(device, &pool), NPU_SUCCESS);
    npu_pool_stats_t stats{};
    EXPECT_EQ(npu_pool_get_stats(pool, &stats), NPU_ERROR_INVALID_ARGUMENT);
    stats.size = sizeof(stats);
    EXPECT_EQ(npu_pool_get_stats(pool, &stats), NPU_SUCCESS);
    EXPECT_EQ(stats.size, sizeof(stats));
    EXPECT_EQ(npu_pool_destroy(pool), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
}

TEST_F(AbiTest, AViewOutlivesItsBuffersMove) {
    Device device(0, os);
    Stream stream(device);
    std::vector<Buffer> buffers;
    buffers.emplace_back(device, 4096);
    const View<uint32_t> view = buffers[0].view<uint32_t>(16, 32);
    const uint64_t addr = buffers[0].device_addr();
    // Growing the vector moves the Buffer objects.
    for (int i = 0; i < 8; ++i)
        buffers.emplace_back(device, 4096);
    Buffer moved = std::move(buffers[0]);
    EXPECT_EQ(view.device_addr(), addr + 64);
    EXPECT_EQ(view.data(), moved.as_span<uint32_t>().data() + 16);
    stream.fill(view, 0x5a5a5a5a);
    stream.copy(view, buffers[1].view<uint32_t>(0, 32));
    stream.synchronize(1s);
    const auto words = moved.as_span<uint32_t>();
    EXPECT_EQ(words[15], 0u);
    EXPECT_EQ(words[16], 0x5a5a5a5au);
    EXPECT_EQ(words[47], 0x5a5a5a5au);
    EXPECT_EQ(words[48], 0u);
    EXPECT_EQ(buffers[1].as_span<uint32_t>()[31], 0x5a5a5a5au);
    EXPECT_EQ(view.host()[0], 0x5a5a5a5au);
}

TEST_F(AbiTest, AViewOfFreedMemoryIsRejected) {
    Device device(0, os);
    Stream stream(device);
    View<uint32_t> view;
    {
        Buffer gone(device, 4096);
        view = gone.view<uint32_t>();
    }
    ExpectEinval([&] { stream.fill(view, 1); }, "not inside a live buffer");
    Buffer other(device, 4096);
    ExpectEinval([&] { stream.copy(other.view<uint32_t>(), view); }, "not inside a live buffer");
    // A view of another device's buffer is not this stream's memory.
    Device second(1, os);
    Buffer elsewhere(second, 4096);
    ExpectEinval([&] { stream.fill(elsewhere.view<uint32_t>(), 1); }, "not inside a live buffer");
    EXPECT_EQ(stream.pending_bytes(), 0u);
}

TEST_F(AbiTest, CopyOfViewsOfDifferentSizesIsRejected) {
    Device device(0, os);
    Stream stream(device);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    ExpectEinval([&] { stream.copy(a.view<uint32_t>(0, 64), b.view<uint32_t>(0, 32)); },
                 "source view has 256 bytes, destination view 128");
    ExpectEinval([&] { stream.copy(a.view<uint32_t>(0, 16), b.view<uint32_t>(0, 64)); },
                 "source view has 64 bytes, destination view 256");
    ExpectEinval([&] { stream.copy(a.view<uint32_t>(0, 64), a.view<uint32_t>(32, 64)); },
                 "overlap");
    EXPECT_EQ(stream.pending_bytes(), 0u); // nothing was enqueued
    stream.copy(a.view<uint32_t>(0, 64), b.view<uint32_t>(64, 64));
    EXPECT_EQ(stream.pending_bytes(), sizeof(npu_pkt_copy));
    stream.synchronize(1s);
}

TEST_F(AbiTest, MovedFromObjectsAreReportedNotDereferenced) {
    Device device(0, os);
    Stream stream(device);
    Stream moved_stream = std::move(stream);
    Buffer buffer(device, 4096);
    MemoryPool pool(device);
    ExpectEinval([&] { stream.fill(buffer, 0, 64, 1); }, "moved from");
    ExpectEinval([&] { stream.fill(buffer.view<uint32_t>(), 1); }, "moved from");
    ExpectEinval([&] { stream.copy(buffer.view<uint32_t>(0, 4), buffer.view<uint32_t>(4, 4)); },
                 "moved from");
    ExpectEinval([&] { stream.synchronize(1s); }, "moved from");
    ExpectEinval([&] { (void)pool.allocate_async(256, stream); }, "stream was moved from");
    Buffer block = pool.allocate_async(256, moved_stream);
    ExpectEinval([&] { pool.free_async(std::move(block), stream); }, "stream was moved from");
    EXPECT_TRUE(block.valid()); // not consumed by the failed call

    Buffer moved_buffer = std::move(buffer);
    ExpectEinval([&] { (void)buffer.view<uint32_t>(); }, "moved from");
    ExpectEinval([&] { moved_stream.fill(buffer, 0, 0, 1); }, "moved from");
    Buffer moved_block = std::move(block);
    ExpectEinval([&] { pool.free_async(std::move(block), moved_stream); }, "moved from");
    pool.free_async(std::move(moved_block), moved_stream);

    MemoryPool moved_pool = std::move(pool);
    ExpectEinval([&] { (void)pool.allocate(256); }, "pool was moved from");
    ExpectEinval([&] { (void)pool.allocate_async(256, moved_stream); }, "pool was moved from");
    ExpectEinval([&] { (void)pool.stats(); }, "pool was moved from");
    ExpectEinval([&] { pool.trim(); }, "pool was moved from");
    ExpectEinval([&] { pool.set_release_threshold(0); }, "pool was moved from");
    ExpectEinval([&] { (void)pool.device(); }, "pool was moved from");
    EXPECT_EQ(moved_pool.stats().allocations, 0u);

    Event event(device);
    Event moved_event = std::move(event);
    ExpectEinval([&] { (void)event.query(); }, "moved from");
    ExpectEinval([&] { event.synchronize(1s); }, "moved from");
    ExpectEinval([&] { moved_stream.record(event); }, "moved from");
    ExpectEinval([&] { moved_stream.wait(event); }, "moved from");
    moved_stream.record(moved_event);
    moved_stream.synchronize(1s);
    EXPECT_TRUE(moved_event.query());
}

} // namespace
} // namespace npu::testing
