#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

#include <drm/npu_accel.h>

#include "fixture.hpp"
#include "npu/device.hpp"
#include "npu/npu.h"

namespace npu::testing {
namespace {

using CApiTest = FakeOsTest;

std::string last_error() {
    return npu_last_error_message();
}

TEST_F(CApiTest, FillCopySynchronize) {
    uint32_t count = 0;
    ASSERT_EQ(npu_device_count(&count), NPU_SUCCESS);
    EXPECT_EQ(count, 2u);
    npu_device_t device = nullptr;
    ASSERT_EQ(npu_device_open(1, &device), NPU_SUCCESS);
    npu_buffer_t src = nullptr;
    npu_buffer_t dst = nullptr;
    ASSERT_EQ(npu_buffer_create(device, 1 << 16, 0, &src), NPU_SUCCESS);
    ASSERT_EQ(npu_buffer_create(device, 1 << 16, 0, &dst), NPU_SUCCESS);
    size_t size = 0;
    ASSERT_EQ(npu_buffer_size(dst, &size), NPU_SUCCESS);
    EXPECT_EQ(size, 1u << 16);
    uint64_t addr = 0;
    ASSERT_EQ(npu_buffer_device_addr(dst, &addr), NPU_SUCCESS);
    EXPECT_NE(addr, 0u);
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_fill(stream, src, 0, 1 << 16, 0xa5a5a5a5), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_copy(stream, src, 0, dst, 0, 1 << 16), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_synchronize(stream, 1'000'000'000), NPU_SUCCESS);
    void* host = nullptr;
    ASSERT_EQ(npu_buffer_host_ptr(dst, &host), NPU_SUCCESS);
    const auto* bytes = static_cast<const unsigned char*>(host);
    for (size_t i = 0; i < size; ++i)
        ASSERT_EQ(bytes[i], 0xa5) << i;
    // Closing the device first is allowed: buffers and streams keep it open.
    EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_buffer_destroy(src), NPU_SUCCESS);
    EXPECT_EQ(npu_buffer_destroy(dst), NPU_SUCCESS);
}

TEST_F(CApiTest, StatusCodesAndMessages) {
    npu_device_t device = nullptr;
    EXPECT_EQ(npu_device_open(5, &device), NPU_ERROR_NO_DEVICE);
    EXPECT_EQ(device, nullptr);
    EXPECT_NE(last_error().find("open NPU device 5"), std::string::npos) << last_error();

    EXPECT_EQ(npu_device_count(nullptr), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("npu_device_count: count"), std::string::npos) << last_error();

    ASSERT_EQ(npu_device_open(0, &device), NPU_SUCCESS);
    npu_buffer_t buffer = nullptr;
    EXPECT_EQ(npu_buffer_create(device, 0, 0, &buffer), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(npu_buffer_create(device, 4096, 0x80, &buffer), NPU_ERROR_INVALID_ARGUMENT);
    os->fail_next_ioctl(DRM_IOCTL_NPU_BO_CREATE, ENOMEM);
    EXPECT_EQ(npu_buffer_create(device, 4096, 0, &buffer), NPU_ERROR_OUT_OF_MEMORY);
    EXPECT_NE(last_error().find("BO_CREATE"), std::string::npos) << last_error();

    npu_buffer_t read_only = nullptr;
    ASSERT_EQ(npu_buffer_create(device, 4096, NPU_BUFFER_DEVICE_READ_ONLY, &read_only),
              NPU_SUCCESS);
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create(device, &stream), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_fill(stream, read_only, 1, 4, 0), NPU_ERROR_INVALID_ARGUMENT);
    ASSERT_EQ(npu_stream_fill(stream, read_only, 0, 4, 0), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_synchronize(stream, 1'000'000'000), NPU_ERROR_JOB_FAILED);
    EXPECT_NE(last_error().find("PAGE_FAULT"), std::string::npos) << last_error();

    os->hold_jobs(true);
    ASSERT_EQ(npu_stream_copy(stream, read_only, 0, read_only, 2048, 16), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_synchronize(stream, 0), NPU_ERROR_TIMEOUT);
    os->release_jobs();
    os->hold_jobs(false);
    EXPECT_EQ(npu_stream_synchronize(stream, 1'000'000'000), NPU_ERROR_JOB_FAILED);

    EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_buffer_destroy(read_only), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(nullptr), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(npu_status_string(NPU_ERROR_TIMEOUT), "NPU_ERROR_TIMEOUT");
}

TEST_F(CApiTest, PermissionDenied) {
    FakeDeviceConfig locked;
    locked.node = "/dev/accel/accel0";
    locked.deny_open = true;
    auto denied = std::make_shared<FakeOs>();
    denied->add_device(locked);
    set_default_os_interface(denied);
    npu_device_t device = nullptr;
    EXPECT_EQ(npu_device_open(0, &device), NPU_ERROR_PERMISSION_DENIED);
    EXPECT_NE(last_error().find("/dev/accel/accel0"), std::string::npos) << last_error();
}

TEST_F(CApiTest, LastErrorIsPerThread) {
    EXPECT_EQ(npu_device_count(nullptr), NPU_ERROR_INVALID_ARGUMENT);
    std::string other_thread = "unset";
    std::thread([&] { other_thread = npu_last_error_message(); }).join();
    EXPECT_EQ(other_thread, "");
    EXPECT_NE(last_error(), "");
}

} // namespace
} // namespace npu::testing

namespace npu::testing {
namespace {

void count_call(void* data) {
    ++*static_cast<int*>(data);
}

TEST_F(CApiTest, StreamsEventsPoolsThroughTheCAbi) {
    npu_device_t device = nullptr;
    ASSERT_EQ(npu_device_open_by("00:05.0", &device), NPU_SUCCESS);
    npu_device_properties_t props{};
    props.size = sizeof(props);
    ASSERT_EQ(npu_device_get_properties(device, &props), NPU_SUCCESS);
    EXPECT_STREQ(props.pci_address, "0000:00:05.0");
    EXPECT_EQ(std::string(props.uuid), uuid_from_serial(props.serial));
    npu_device_t by_uuid = nullptr;
    ASSERT_EQ(npu_device_open_by(props.uuid, &by_uuid), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(by_uuid), NPU_SUCCESS);

    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create_with_priority(device, NPU_PRIORITY_HIGH, &stream), NPU_SUCCESS);
    npu_pool_t pool = nullptr;
    ASSERT_EQ(npu_device_default_pool(device, &pool), NPU_SUCCESS);
    npu_buffer_t block = nullptr;
    ASSERT_EQ(npu_pool_alloc_async(pool, 4096, stream, &block), NPU_SUCCESS);
    npu_event_t start = nullptr;
    npu_event_t end = nullptr;
    ASSERT_EQ(npu_event_create(device, &start), NPU_SUCCESS);
    ASSERT_EQ(npu_event_create(device, &end), NPU_SUCCESS);

    uint32_t input[1024];
    for (uint32_t i = 0; i < 1024; ++i)
        input[i] = i * 3;
    uint32_t output[1024] = {};
    int calls = 0;
    ASSERT_EQ(npu_stream_record_event(stream, start), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_copy_from_host(stream, block, 0, input, sizeof(input)), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_copy_to_host(stream, output, block, 0, sizeof(output)), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_launch_host_func(stream, count_call, &calls), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_record_event(stream, end), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_synchronize(stream, 5'000'000'000), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_query(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_event_query(end), NPU_SUCCESS);
    EXPECT_EQ(calls, 1);
    for (uint32_t i = 0; i < 1024; ++i)
        ASSERT_EQ(output[i], i * 3);
    int64_t elapsed = -1;
    EXPECT_EQ(npu_event_elapsed_ns(start, end, &elapsed), NPU_SUCCESS);
    EXPECT_GE(elapsed, 0);

    npu_pool_stats_t stats{};
    stats.size = sizeof(stats);
    ASSERT_EQ(npu_pool_get_stats(pool, &stats), NPU_SUCCESS);
    EXPECT_GE(stats.allocations, 1u);
    EXPECT_EQ(npu_pool_free_async(pool, block, stream), NPU_SUCCESS);
    EXPECT_EQ(npu_pool_free_async(pool, nullptr, stream), NPU_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(npu_event_elapsed_ns(start, nullptr, &elapsed), NPU_ERROR_INVALID_ARGUMENT);

    os->hold_jobs(true);
    npu_buffer_t buffer = nullptr;
    ASSERT_EQ(npu_buffer_create_kind(device, 4096, NPU_BUFFER_KIND_HOST_PINNED, &buffer),
              NPU_SUCCESS);
    ASSERT_EQ(npu_stream_fill(stream, buffer, 0, 4096, 1), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_query(stream), NPU_ERROR_NOT_READY);
    os->release_jobs();
    os->hold_jobs(false);
    EXPECT_EQ(npu_stream_synchronize(stream, 5'000'000'000), NPU_SUCCESS);

    EXPECT_EQ(npu_buffer_destroy(buffer), NPU_SUCCESS);
    EXPECT_EQ(npu_event_destroy(start), NPU_SUCCESS);
    EXPECT_EQ(npu_event_destroy(end), NPU_SUCCESS);
    EXPECT_EQ(npu_pool_destroy(pool), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(device), NPU_SUCCESS);
}

} // namespace
} // namespace npu::testing
