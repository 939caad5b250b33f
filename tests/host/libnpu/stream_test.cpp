#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"

namespace npu::testing {
namespace {

using StreamTest = FakeOsTest;
using std::chrono::seconds;

// Encoding and batching are checked with manual submission: the automatic
// policy (stream_mt_test.cpp) would submit an idle stream's first packet.
StreamOptions batching() {
    StreamOptions options;
    options.submit_policy = SubmitPolicy::manual;
    return options;
}

template <typename Packet>
Packet packet_at(const SubmitRecord& record, size_t offset) {
    Packet packet;
    EXPECT_LE(offset + sizeof(packet), record.commands.size());
    std::memcpy(&packet, record.commands.data() + offset, sizeof(packet));
    return packet;
}

TEST_F(StreamTest, FillThenCopyEncodesPacketsAndRuns) {
    Device device(0, os);
    Buffer src(device, 8192);
    Buffer dst(device, 8192);
    std::memset(dst.host_ptr(), 0xee, dst.size());
    Stream stream(device, batching());
    stream.fill(src, 0, 8192, 0xdeadbeef);
    stream.copy(src, 4096, dst, 4, 1000);
    EXPECT_TRUE(os->submits().empty()) << "enqueue must not submit";
    stream.synchronize(seconds(1));

    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u);
    const SubmitRecord& job = submits[0];
    ASSERT_EQ(job.commands.size(), sizeof(npu_pkt_fill) + sizeof(npu_pkt_copy));
    const auto fill = packet_at<npu_pkt_fill>(job, 0);
    EXPECT_EQ(fill.header, NPU_PKT_HEADER(NPU_OP_FILL, 6));
    EXPECT_EQ(fill.value, 0xdeadbeefu);
    EXPECT_EQ(fill.dst, src.device_addr());
    EXPECT_EQ(fill.size, 8192u);
    const auto copy = packet_at<npu_pkt_copy>(job, sizeof(npu_pkt_fill));
    EXPECT_EQ(copy.header, NPU_PKT_HEADER(NPU_OP_COPY, 8));
    EXPECT_EQ(copy.mbz, 0u);
    EXPECT_EQ(copy.src, src.device_addr() + 4096);
    EXPECT_EQ(copy.dst, dst.device_addr() + 4);
    EXPECT_EQ(copy.size, 1000u);
    // The command buffer first, then each referenced buffer once.
    ASSERT_EQ(job.bo_handles.size(), 3u);
    EXPECT_NE(job.bo_handles[0], src.handle());
    EXPECT_NE(job.bo_handles[0], dst.handle());
    EXPECT_EQ(job.bo_handles[1], src.handle());
    EXPECT_EQ(job.bo_handles[2], dst.handle());

    const auto bytes = dst.as_span<uint8_t>();
    EXPECT_EQ(bytes[3], 0xee);
    for (size_t i = 4; i < 1004; ++i)
        ASSERT_EQ(bytes[i], (i % 4 == 0   ? 0xef
                             : i % 4 == 1 ? 0xbe
                             : i % 4 == 2 ? 0xad
                                          : 0xde))
            << i;
    EXPECT_EQ(bytes[1004], 0xee);
}

TEST_F(StreamTest, FullCommandBufferSubmitsAndRecycles) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    StreamOptions options = batching();                         // jobs split only where full
    options.command_buffer_size = 2 * sizeof(npu_pkt_fill) + 4; // two fills per job
    options.max_jobs_in_flight = 2;
    Stream stream(device, options);
    const size_t bos_before = os->bos_created();
    for (uint32_t i = 0; i < 9; ++i)
        stream.fill(buffer, size_t{4} * i, 4, i + 1);
    stream.synchronize(seconds(1));
    EXPECT_EQ(os->submits().size(), 5u);
    for (const auto& job : os->submits())
        EXPECT_LE(job.commands.size(), 2 * sizeof(npu_pkt_fill));
    // Never more than max_jobs_in_flight command buffers plus the one being filled.
    EXPECT_LE(os->bos_created() - bos_before, 3u);
    for (uint32_t i = 0; i < 9; ++i)
        EXPECT_EQ(buffer.as_span<uint32_t>()[i], i + 1);
}

TEST_F(StreamTest, CommandBufferIsClampedToDeviceMaximum) {
    FakeDeviceConfig small;
    small.node = "/dev/accel/accel3";
    small.pci_address = "0000:00:06.0";
    small.params[DRM_NPU_PARAM_MAX_CMD_SIZE] = 64;
    os->add_device(small);
    Device device = Device::open_pci("00:06.0", os);
    Buffer buffer(device, 4096);
    Stream stream(device, batching());
    for (int i = 0; i < 4; ++i)
        stream.fill(buffer, 0, 4096, 7);
    stream.synchronize(seconds(1));
    EXPECT_EQ(os->submits().size(), 2u);
}

TEST_F(StreamTest, PageFaultBecomesJobError) {
    Device device(0, os);
    Buffer read_only(device, 4096, BufferFlags::device_read_only);
    Buffer ok(device, 4096);
    Stream stream(device, batching());
    stream.fill(ok, 0, 4096, 1);
    stream.fill(read_only, 8, 16, 2);
    try {
        stream.synchronize(seconds(1));
        FAIL() << "a write to a read-only buffer succeeded";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
        EXPECT_EQ(e.fault_addr(), read_only.device_addr() + 8);
        EXPECT_EQ(e.err_offset(), sizeof(npu_pkt_fill));
        EXPECT_EQ(e.errnum(), EIO);
        char fault[32];
        const unsigned long long fault_addr = read_only.device_addr() + 8;
        std::snprintf(fault, sizeof(fault), "0x%llx", fault_addr);
        EXPECT_NE(std::string(e.what()).find("PAGE_FAULT"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(fault), std::string::npos) << e.what();
    }
    EXPECT_EQ(ok.as_span<uint32_t>()[0], 1u) << "packets before the fault ran";
    // The failure is reported once; the stream stays usable.
    stream.fill(ok, 0, 4, 3);
    EXPECT_NO_THROW(stream.synchronize(seconds(1)));
    EXPECT_EQ(ok.as_span<uint32_t>()[0], 3u);
}

TEST_F(StreamTest, TimeoutKeepsJobsTracked) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, batching());
    os->hold_jobs(true);
    stream.fill(buffer, 0, 4096, 9);
    try {
        stream.synchronize(std::chrono::milliseconds(1));
        FAIL() << "synchronize returned while the job was held";
    } catch (const JobError&) {
        FAIL() << "a timeout is not a job failure";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ETIME);
        EXPECT_NE(std::string(e.what()).find("synchronize"), std::string::npos);
    }
    EXPECT_EQ(stream.jobs_in_flight(), 1u);
    os->release_jobs();
    os->hold_jobs(false);
    stream.synchronize(seconds(1));
    EXPECT_EQ(stream.jobs_in_flight(), 0u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[1023], 9u);
}

TEST_F(StreamTest, BackpressureTimesOutWhenDeviceIsStuck) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    StreamOptions options;
    options.command_buffer_size = sizeof(npu_pkt_copy); // one fill per job
    options.max_jobs_in_flight = 1;
    options.backpressure_timeout = std::chrono::milliseconds(1);
    Stream stream(device, options);
    os->hold_jobs(true);
    stream.fill(buffer, 0, 4, 1);
    try {
        stream.fill(buffer, 4, 4, 2); // submits the first job, then needs a free command buffer
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ETIME);
    }
    EXPECT_EQ(stream.jobs_in_flight(), 1u);
    os->release_jobs();
    os->hold_jobs(false);
    stream.fill(buffer, 4, 4, 3);
    stream.synchronize(seconds(1));
    EXPECT_EQ(buffer.as_span<uint32_t>()[0], 1u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[1], 3u);
}

TEST_F(StreamTest, SubmitFailureKeepsTheBatch) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, batching());
    stream.fill(buffer, 0, 4096, 5);
    // Not EINVAL: that makes libnpu retry without DRM_NPU_SUBMIT_EXPLICIT_SYNC
    // (an older driver), see StreamCoreTest.DriverWithoutExplicitSyncFallsBackOnce.
    os->fail_next_ioctl(DRM_IOCTL_NPU_SUBMIT, ENOMEM);
    try {
        stream.synchronize(seconds(1));
        FAIL();
    } catch (const JobError&) {
        FAIL() << "a rejected submit is not a job failure";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOMEM);
        EXPECT_NE(std::string(e.what()).find("SUBMIT"), std::string::npos) << e.what();
    }
    EXPECT_EQ(stream.pending_bytes(), sizeof(npu_pkt_fill));
    stream.synchronize(seconds(1));
    EXPECT_EQ(buffer.as_span<uint32_t>()[0], 5u);
}

TEST_F(StreamTest, DiscardDropsUnsubmittedWork) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, batching());
    stream.fill(buffer, 0, 4096, 5);
    os->fail_next_ioctl(DRM_IOCTL_NPU_SUBMIT, ENOENT);
    EXPECT_THROW(stream.flush(), Error);
    stream.discard();
    EXPECT_EQ(stream.pending_bytes(), 0u);
    stream.fill(buffer, 0, 4, 6);
    stream.synchronize(seconds(1));
    ASSERT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(os->submits()[0].commands.size(), sizeof(npu_pkt_fill));
    EXPECT_EQ(buffer.as_span<uint32_t>()[0], 6u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[1], 0u);
}

TEST_F(StreamTest, WaitErrorIsReported) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, batching());
    stream.fill(buffer, 0, 4, 1);
    os->fail_next_ioctl(DRM_IOCTL_NPU_WAIT, EIO);
    try {
        stream.synchronize(seconds(1));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EIO);
        EXPECT_NE(std::string(e.what()).find("WAIT"), std::string::npos) << e.what();
    }
    stream.synchronize(seconds(1)); // the job is still tracked and completes
}

TEST_F(StreamTest, ArgumentsAreValidated) {
    Device device(0, os);
    Device other(1, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Buffer foreign(other, 4096);
    Stream stream(device, batching());
    auto expect_einval = [](auto&& call) {
        try {
            call();
            ADD_FAILURE() << "accepted invalid arguments";
        } catch (const Error& e) {
            EXPECT_EQ(e.errnum(), EINVAL) << e.what();
        }
    };
    expect_einval([&] { stream.fill(a, 2, 8, 0); });
    expect_einval([&] { stream.fill(a, 0, 6, 0); });
    expect_einval([&] { stream.fill(a, 4092, 8, 0); });
    expect_einval([&] { stream.fill(a, SIZE_MAX - 3, 8, 0); });
    expect_einval([&] { stream.copy(a, 0, b, 1, 4096); });
    expect_einval([&] { stream.copy(a, 0, a, 100, 200); });
    expect_einval([&] { stream.copy(a, 0, foreign, 0, 16); });
    expect_einval([&] { stream.fill(foreign, 0, 16, 0); });
    stream.copy(a, 0, a, 2048, 2048); // adjacent, no overlap
    stream.fill(a, 0, 0, 0);          // empty: nothing to do
    EXPECT_EQ(stream.pending_bytes(), sizeof(npu_pkt_copy));
    stream.synchronize(seconds(1));
}

TEST_F(StreamTest, DestroyingStreamDiscardsUnsubmittedWorkWithoutLeaks) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    {
        Stream stream(device, batching());
        stream.fill(buffer, 0, 4096, 1);
        stream.flush();
        stream.fill(buffer, 0, 4096, 2);
    }
    EXPECT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(os->live_handles(), 1u) << "command buffers released";
}

TEST_F(StreamTest, StreamsOnSeveralThreadsShareADevice) {
    Device device(0, os);
    constexpr int kThreads = 4;
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    std::vector<int> failures(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            Buffer src(device, size_t{64} * 1024);
            Buffer dst(device, size_t{64} * 1024);
            Stream stream(device, batching());
            for (uint32_t round = 0; round < 20; ++round) {
                const uint32_t pattern = 0x1000u * t + round;
                stream.fill(src, 0, src.size(), pattern);
                stream.copy(src, 0, dst, 0, src.size());
                stream.synchronize(seconds(5));
                const auto words = dst.as_span<uint32_t>();
                if (!std::all_of(words.begin(), words.end(),
                                 [&](uint32_t w) { return w == pattern; }))
                    ++failures[t];
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (int t = 0; t < kThreads; ++t)
        EXPECT_EQ(failures[t], 0) << "thread " << t;
}

} // namespace
} // namespace npu::testing
