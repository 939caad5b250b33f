#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "fixture.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"

namespace npu::testing {
namespace {

using BufferTest = FakeOsTest;

TEST_F(BufferTest, CreateMapsAndDestroyReleases) {
    Device device(0, os);
    {
        Buffer buffer(device, 5000);
        EXPECT_EQ(buffer.size(), 5000u);
        EXPECT_EQ(buffer.allocated_size(), 8192u);
        EXPECT_NE(buffer.host_ptr(), nullptr);
        EXPECT_NE(buffer.device_addr(), 0u);
        EXPECT_EQ(os->live_handles(), 1u);
        EXPECT_EQ(os->live_mappings(), 1u);
        // The host mapping is the device's view of the same memory.
        std::memset(buffer.host_ptr(), 0x5a, buffer.size());
        std::byte* device_view =
            os->device_memory(device.driver().fd(), buffer.device_addr(), buffer.size());
        ASSERT_NE(device_view, nullptr);
        EXPECT_EQ(device_view[4999], std::byte{0x5a});
    }
    EXPECT_EQ(os->live_handles(), 0u);
    EXPECT_EQ(os->live_mappings(), 0u);
}

TEST_F(BufferTest, TypedSpans) {
    Device device(0, os);
    Buffer buffer(device, 4096 + 6);
    EXPECT_EQ(buffer.as_span<uint32_t>().size(), 1025u);
    EXPECT_EQ(buffer.bytes().size(), 4102u);
    buffer.as_span<uint32_t>()[1] = 0x01020304;
    EXPECT_EQ(buffer.bytes()[4], std::byte{0x04});
}

TEST_F(BufferTest, MoveTransfersOwnership) {
    Device device(0, os);
    Buffer a(device, 4096);
    const uint32_t handle = a.handle();
    Buffer b(std::move(a));
    EXPECT_EQ(b.handle(), handle);
    // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is defined
    EXPECT_EQ(a.host_ptr(), nullptr);
    EXPECT_EQ(os->live_handles(), 1u);
    Buffer c(device, 4096);
    c = std::move(b); // releases c's own object
    EXPECT_EQ(c.handle(), handle);
    EXPECT_EQ(os->live_handles(), 1u);
    EXPECT_EQ(os->live_mappings(), 1u);
}

TEST_F(BufferTest, BufferKeepsDeviceOpen) {
    std::unique_ptr<Buffer> buffer;
    {
        Device device(0, os);
        buffer = std::make_unique<Buffer>(device, 4096);
    }
    EXPECT_EQ(os->open_fds(), 1u);
    buffer.reset();
    EXPECT_EQ(os->open_fds(), 0u);
}

TEST_F(BufferTest, ZeroSizeIsInvalid) {
    Device device(0, os);
    try {
        Buffer buffer(device, 0);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EINVAL);
    }
}

TEST_F(BufferTest, CreateFailureCarriesErrnoAndIoctlName) {
    Device device(0, os);
    os->fail_next_ioctl(DRM_IOCTL_NPU_BO_CREATE, ENOMEM);
    try {
        Buffer buffer(device, 1 << 20);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOMEM);
        EXPECT_NE(std::string(e.what()).find("BO_CREATE(size=1048576"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(os->live_handles(), 0u);
}

TEST_F(BufferTest, FailuresAfterCreateCloseTheHandle) {
    Device device(0, os);
    os->fail_next_ioctl(DRM_IOCTL_NPU_BO_INFO, EFAULT);
    EXPECT_THROW(Buffer(device, 4096), Error);
    EXPECT_EQ(os->live_handles(), 0u);
    os->fail_next_mmap(ENOMEM);
    try {
        Buffer buffer(device, 4096);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOMEM);
        EXPECT_NE(std::string(e.what()).find("mmap"), std::string::npos) << e.what();
    }
    EXPECT_EQ(os->live_handles(), 0u);
    EXPECT_EQ(os->live_mappings(), 0u);
}

} // namespace
} // namespace npu::testing
