// Issue 13's stream core against FakeOs: primary contexts, the submission
// policy, explicit sync and keep-alive, queue sharing by priority, errors on
// every sync path, cheap events, and streams used from several threads
// (also run under TSan: the tsan preset).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/npu.h"
#include "npu/pool.hpp"
#include "npu/stream.hpp"

namespace npu::testing {
namespace {

using StreamCoreTest = FakeOsTest;
using std::chrono::hours;
using std::chrono::seconds;

// Polls pred (the flusher thread works in the background).
bool eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

StreamOptions manual() {
    StreamOptions options;
    options.submit_policy = SubmitPolicy::manual;
    return options;
}

TEST_F(StreamCoreTest, OpeningADeviceTwiceSharesThePrimaryContext) {
    Device a(0, os);
    Device b = Device::select("0000:00:03.0", os);
    EXPECT_TRUE(a == b);
    EXPECT_TRUE(a.primary_context());
    EXPECT_EQ(os->open_fds(), 1u);
    Device separate(0, os, Context::separate);
    EXPECT_FALSE(separate == a);
    EXPECT_FALSE(separate.primary_context());
    EXPECT_EQ(os->open_fds(), 2u);
    Device other(1, os);
    EXPECT_FALSE(other == a);
    // Work of one handle is visible to the other: one address space.
    Buffer buffer(a, 4096);
    Stream stream(b);
    stream.fill(buffer, 0, 4096, 0x11);
    stream.synchronize();
    EXPECT_EQ(buffer.as_span<uint32_t>()[1023], 0x11u);
}

TEST_F(StreamCoreTest, PrimaryContextIsReopenedOnceAllHandlesAreGone) {
    { Device a(0, os); }
    EXPECT_EQ(os->open_fds(), 0u);
    Device b(0, os);
    EXPECT_EQ(os->open_fds(), 1u);
}

TEST_F(StreamCoreTest, MovedFromStreamThrowsEinval) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    MemoryPool pool(device);
    Stream stream(device);
    Stream moved(std::move(stream));
    auto expect_einval = [](const auto& call) {
        try {
            call();
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.errnum(), EINVAL) << e.what();
        }
    };
    expect_einval([&] { stream.fill(buffer, 0, 4, 1); });
    expect_einval([&] { stream.synchronize(); });
    expect_einval([&] { (void)stream.error(); });
    expect_einval([&] { (void)pool.allocate_async(64, stream); });
    Buffer block = pool.allocate_async(64, moved);
    expect_einval([&] { pool.free_async(std::move(block), stream); });
    EXPECT_EQ(stream.pending_bytes(), 0u);
    EXPECT_EQ(stream.jobs_in_flight(), 0u);
    pool.free_async(std::move(block), moved);
}

TEST_F(StreamCoreTest, IdleStreamSubmitsAtOnce) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device);
    stream.fill(buffer, 0, 4096, 1);
    EXPECT_EQ(os->submits().size(), 1u) << "an idle stream batches nothing";
    stream.synchronize();
}

TEST_F(StreamCoreTest, BusyStreamBatchesUntilThePreviousJobCompletes) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    StreamOptions options;
    options.max_batch_delay = hours(1); // only a completion submits
    Stream stream(device, options);
    os->hold_jobs(true);
    stream.fill(buffer, 0, 16, 1);
    ASSERT_EQ(os->submits().size(), 1u);
    for (uint32_t i = 0; i < 3; ++i)
        stream.fill(buffer, 16 + 16 * i, 16, 2 + i);
    EXPECT_EQ(os->submits().size(), 1u) << "a busy stream submits a batch";
    EXPECT_EQ(stream.pending_bytes(), 3 * sizeof(npu_pkt_fill));
    os->hold_jobs(false);
    os->release_jobs();
    ASSERT_TRUE(eventually([&] { return os->submits().size() == 2; }))
        << "the batch was not submitted when the previous job completed";
    EXPECT_EQ(os->submits()[1].commands.size(), 3 * sizeof(npu_pkt_fill));
    stream.synchronize();
    EXPECT_EQ(buffer.as_span<uint32_t>()[12], 4u);
}

TEST_F(StreamCoreTest, BusyStreamSubmitsWithinTheDelayBound) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    StreamOptions options;
    options.max_batch_delay = std::chrono::milliseconds(1);
    Stream stream(device, options);
    os->hold_jobs(true);
    stream.fill(buffer, 0, 16, 1);
    stream.fill(buffer, 16, 16, 2);
    // The first job never completes while jobs are held: only the delay
    // bound can submit the second batch.
    EXPECT_TRUE(eventually([&] { return os->submits().size() == 2; }));
    os->hold_jobs(false);
    os->release_jobs();
    stream.synchronize();
}

TEST_F(StreamCoreTest, RecordAndWaitDoNotSubmitOnTheirOwn) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream a(device, manual());
    Stream b(device, manual());
    Event event(device, EventFlags::disable_timing);
    a.fill(buffer, 0, 16, 1);
    a.record(event);
    b.fill(buffer, 64, 16, 2);
    EXPECT_TRUE(os->submits().empty()) << "record submitted";
    b.wait(event); // submits a's work (b needs its fence), not b's
    ASSERT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(os->submits()[0].queue_id, a.queue_id());
    b.fill(buffer, 128, 16, 3);
    b.flush();
    // b: the work before the wait, then the work after it with the fence.
    const auto submits = os->submits();
    ASSERT_EQ(submits.size(), 3u);
    EXPECT_EQ(submits[1].in_fences, 0u);
    EXPECT_EQ(submits[2].in_fences, 1u);
    EXPECT_EQ(submits[2].commands.size(), sizeof(npu_pkt_fill)) << "no job of its own";
    b.synchronize();
    EXPECT_TRUE(event.query());
}

TEST_F(StreamCoreTest, WaitingForAnUnsubmittedEventSubmitsIt) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, manual());
    Event event(device, EventFlags::disable_timing);
    stream.fill(buffer, 0, 16, 9);
    stream.record(event);
    EXPECT_TRUE(os->submits().empty());
    event.synchronize();
    EXPECT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[0], 9u);
}

TEST_F(StreamCoreTest, JobsUseExplicitSyncUnlessAsked) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream explicit_stream(device);
    explicit_stream.fill(buffer, 0, 16, 1);
    explicit_stream.synchronize();
    EXPECT_EQ(os->submits().back().flags, static_cast<uint32_t>(DRM_NPU_SUBMIT_EXPLICIT_SYNC));
    StreamOptions implicit;
    implicit.explicit_sync = false;
    Stream implicit_stream(device, implicit);
    implicit_stream.fill(buffer, 0, 16, 1);
    implicit_stream.synchronize();
    EXPECT_EQ(os->submits().back().flags, 0u);
}

TEST_F(StreamCoreTest, DriverWithoutExplicitSyncFallsBackOnce) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device);
    os->fail_next_ioctl(DRM_IOCTL_NPU_SUBMIT, EINVAL);
    stream.fill(buffer, 0, 16, 5);
    stream.synchronize();
    EXPECT_EQ(os->submits().back().flags, 0u);
    stream.fill(buffer, 0, 16, 6);
    stream.synchronize();
    EXPECT_EQ(os->submits().back().flags, 0u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[0], 6u);
}

TEST_F(StreamCoreTest, BufferDestroyedBeforeSubmitStaysAliveUntilTheJobIsDone) {
    Device device(0, os);
    Buffer keep(device, 4096);
    Stream stream(device, manual());
    stream.fill(keep, 0, 4, 0); // makes the command buffer
    stream.synchronize();
    const size_t handles = os->live_handles();
    {
        Buffer temp(device, 4096);
        stream.fill(temp, 0, 4096, 0x77);
        stream.copy(temp, 0, keep, 0, 64);
    }
    EXPECT_EQ(os->live_handles(), handles + 1) << "the stream let the buffer object go";
    os->hold_jobs(true);
    stream.flush();
    EXPECT_EQ(os->live_handles(), handles + 1) << "released while the job runs";
    os->hold_jobs(false);
    os->release_jobs();
    stream.synchronize();
    EXPECT_EQ(keep.as_span<uint32_t>()[15], 0x77u);
    stream.fill(keep, 0, 4, 1); // recycles the command buffer
    stream.synchronize();
    EXPECT_EQ(os->live_handles(), handles) << "kept after its job was done";
}

TEST_F(StreamCoreTest, StreamsBeyondTheQueuesShareAQueueOfTheirPriority) {
    Device device(0, os);
    StreamOptions low;
    low.priority = Priority::low;
    std::vector<Stream> streams;
    for (int i = 0; i < 5; ++i) // the fake has 3 queues besides queue 0
        streams.emplace_back(device, low);
    for (const Stream& s : streams) {
        EXPECT_NE(s.queue_id(), 0u);
        EXPECT_EQ(s.priority(), Priority::low);
        EXPECT_EQ(os->queue_priority(device.driver().fd(), s.queue_id()), DRM_NPU_PRIORITY_LOW);
    }
    EXPECT_EQ(os->live_queues(), 3u);
    Stream normal(device); // no normal queue: the default queue 0
    EXPECT_EQ(normal.queue_id(), 0u);
    EXPECT_EQ(normal.priority(), Priority::normal);
    StreamOptions high;
    high.priority = Priority::high;
    try {
        Stream refused(device, high);
        FAIL() << "a high-priority stream ran at another priority";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENOSPC);
    }
    Buffer buffer(device, 4096);
    for (Stream& s : streams)
        s.fill(buffer, 0, 4, 1);
    for (Stream& s : streams)
        s.synchronize();
    // A shared queue is destroyed with its last stream only.
    streams.erase(streams.begin() + 3, streams.end());
    EXPECT_EQ(os->live_queues(), 3u);
    streams.clear();
    EXPECT_EQ(os->live_queues(), 0u);
}

TEST_F(StreamCoreTest, FailedJobReachesEventsStreamAndStopOnError) {
    Device device(0, os);
    Buffer read_only(device, 4096, BufferFlags::device_read_only);
    Buffer ok(device, 4096);
    StreamOptions options = manual();
    options.stop_on_error = true;
    Stream stream(device, options);
    Event before(device, EventFlags::disable_timing);
    Event after(device);
    stream.fill(ok, 0, 16, 1);
    stream.record(before);
    stream.flush();
    stream.fill(ok, 0, 16, 2);
    stream.fill(read_only, 8, 16, 2);
    stream.record(after);
    try {
        after.synchronize();
        FAIL() << "the event hid the failed job";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
        EXPECT_EQ(e.fault_addr(), read_only.device_addr() + 8);
        EXPECT_EQ(e.err_offset(), sizeof(npu_pkt_fill));
    }
    EXPECT_THROW((void)after.query(), JobError);
    ASSERT_TRUE(after.error());
    EXPECT_EQ(after.error()->status, static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
    EXPECT_NO_THROW(before.synchronize()) << "an event before the failure reported it";
    EXPECT_FALSE(before.error());
    ASSERT_TRUE(stream.error());
    EXPECT_EQ(stream.error()->fault_addr, read_only.device_addr() + 8);
    EXPECT_TRUE(stream.stopped());
    EXPECT_THROW(stream.fill(ok, 0, 4, 3), JobError) << "a stopped stream took work";
    EXPECT_THROW(stream.synchronize(), JobError);
    EXPECT_NO_THROW(stream.synchronize()) << "reported once";
}

TEST_F(StreamCoreTest, StreamWithoutStopOnErrorKeepsWorking) {
    Device device(0, os);
    Buffer read_only(device, 4096, BufferFlags::device_read_only);
    Buffer ok(device, 4096);
    Stream stream(device);
    stream.fill(read_only, 0, 16, 2);
    EXPECT_THROW(stream.synchronize(), JobError);
    EXPECT_FALSE(stream.stopped());
    stream.fill(ok, 0, 4, 3);
    EXPECT_NO_THROW(stream.synchronize());
    Event event(device);
    stream.record(event);
    EXPECT_NO_THROW(event.synchronize()) << "an event after the report";
}

TEST_F(StreamCoreTest, NoTimingEventsCostNoSystemCall) {
    Device device(0, os);
    Buffer buffer(device, 4096);
    Stream stream(device, manual());
    stream.fill(buffer, 0, 4, 1);
    const size_t ioctls = os->ioctl_count();
    const size_t bos = os->bos_created();
    {
        std::vector<Event> events;
        for (int i = 0; i < 100; ++i) {
            events.emplace_back(device, EventFlags::disable_timing);
            stream.record(events.back());
        }
        EXPECT_FALSE(events.back().timing());
    }
    EXPECT_EQ(os->ioctl_count(), ioctls);
    EXPECT_EQ(os->bos_created(), bos);
    Event timed(device, EventFlags::disable_timing);
    stream.record(timed);
    EXPECT_THROW((void)timed.device_timestamp(), Error);
    stream.synchronize();
}

TEST_F(StreamCoreTest, ClockPairReadsTheDeviceClock) {
    Device device(0, os);
    const ClockPair pair = device.clock_pair();
    EXPECT_NE(pair.device_ns, 0u);
    EXPECT_NE(pair.host_ns, 0u);
    Stream stream(device);
    Event event(device);
    stream.record(event);
    EXPECT_GE(event.device_timestamp(), pair.device_ns) << "not the clock events use";
}

// Several threads enqueue on one stream, record and wait on events, free
// pool blocks on it and destroy objects, all at once.
TEST_F(StreamCoreTest, OneStreamFromSeveralThreads) {
    Device device(0, os);
    MemoryPool pool(device);
    Stream stream(device);
    Stream other(device);
    constexpr int kThreads = 4;
    constexpr int kRounds = 50;
    std::vector<Buffer> buffers;
    for (int t = 0; t < kThreads; ++t)
        buffers.emplace_back(device, 4096);
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                for (int r = 0; r < kRounds; ++r) {
                    Buffer block = pool.allocate_async(256, stream);
                    stream.fill(block, 0, 256, static_cast<uint32_t>(r));
                    stream.copy(block, 0, buffers[t], 4 * static_cast<size_t>(r), 4);
                    Event event(device, EventFlags::disable_timing);
                    stream.record(event);
                    other.wait(event);
                    pool.free_async(std::move(block), stream);
                    if (r % 10 == 0)
                        stream.synchronize();
                    if (r % 7 == 0)
                        (void)event.query();
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                ++errors;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    stream.synchronize();
    other.synchronize();
    ASSERT_EQ(errors.load(), 0);
    for (int t = 0; t < kThreads; ++t)
        for (int r = 0; r < kRounds; ++r)
            ASSERT_EQ(buffers[t].as_span<uint32_t>()[r], static_cast<uint32_t>(r)) << t << " " << r;
}

TEST_F(StreamCoreTest, ObjectsDestroyedOnAnotherThread) {
    Device device(0, os);
    auto stream = std::make_unique<Stream>(device);
    auto buffer = std::make_unique<Buffer>(device, 4096);
    auto event = std::make_unique<Event>(device);
    stream->fill(*buffer, 0, 4096, 3);
    stream->record(*event);
    std::thread([&] {
        buffer.reset();
        event.reset();
        stream->synchronize();
        stream.reset();
    }).join();
    EXPECT_FALSE(stream);
}

TEST_F(StreamCoreTest, CApi) {
    npu_device_t primary = nullptr;
    npu_device_t again = nullptr;
    npu_device_t separate = nullptr;
    ASSERT_EQ(npu_device_open(0, &primary), NPU_SUCCESS) << npu_last_error_message();
    ASSERT_EQ(npu_device_open_flags(0, 0, &again), NPU_SUCCESS);
    ASSERT_EQ(npu_device_open_flags(0, NPU_DEVICE_SEPARATE_CONTEXT, &separate), NPU_SUCCESS);
    EXPECT_EQ(npu_device_open_flags(0, 1u << 7, &separate), NPU_ERROR_INVALID_ARGUMENT);
    int same = -1;
    ASSERT_EQ(npu_device_same_context(primary, again, &same), NPU_SUCCESS);
    EXPECT_EQ(same, 1);
    ASSERT_EQ(npu_device_same_context(primary, separate, &same), NPU_SUCCESS);
    EXPECT_EQ(same, 0);
    int is_primary = -1;
    ASSERT_EQ(npu_device_is_primary(separate, &is_primary), NPU_SUCCESS);
    EXPECT_EQ(is_primary, 0);

    npu_clock_pair_t pair{};
    EXPECT_EQ(npu_device_clock_pair(primary, &pair), NPU_ERROR_INVALID_ARGUMENT) << "size 0";
    pair.size = sizeof(pair);
    ASSERT_EQ(npu_device_clock_pair(primary, &pair), NPU_SUCCESS) << npu_last_error_message();
    EXPECT_NE(pair.device_ns, 0u);

    npu_stream_options_t options{};
    ASSERT_EQ(npu_stream_options_init(&options), NPU_SUCCESS);
    EXPECT_EQ(options.size, sizeof(options));
    options.flags = NPU_STREAM_STOP_ON_ERROR | NPU_STREAM_MANUAL_SUBMIT;
    options.priority = NPU_PRIORITY_LOW;
    npu_stream_t stream = nullptr;
    ASSERT_EQ(npu_stream_create_with_options(primary, &options, &stream), NPU_SUCCESS)
        << npu_last_error_message();
    uint32_t queue = 0;
    npu_priority_t priority = NPU_PRIORITY_NORMAL;
    ASSERT_EQ(npu_stream_get_queue(stream, &queue, &priority), NPU_SUCCESS);
    EXPECT_NE(queue, 0u);
    EXPECT_EQ(priority, NPU_PRIORITY_LOW);

    npu_buffer_t read_only = nullptr;
    ASSERT_EQ(npu_buffer_create(again, 4096, NPU_BUFFER_DEVICE_READ_ONLY, &read_only), NPU_SUCCESS);
    npu_event_t event = nullptr;
    ASSERT_EQ(npu_event_create_flags(primary, NPU_EVENT_DISABLE_TIMING, &event), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_fill(stream, read_only, 0, 16, 1), NPU_SUCCESS);
    ASSERT_EQ(npu_stream_record_event(stream, event), NPU_SUCCESS);
    EXPECT_EQ(npu_event_synchronize(event, NPU_TIMEOUT_INFINITE), NPU_ERROR_JOB_FAILED);
    npu_job_error_t error{};
    error.size = sizeof(error);
    ASSERT_EQ(npu_event_get_error(event, &error), NPU_SUCCESS);
    EXPECT_EQ(error.status, static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
    int stopped = 0;
    error = {};
    error.size = sizeof(error);
    ASSERT_EQ(npu_stream_get_error(stream, &error, &stopped), NPU_SUCCESS);
    EXPECT_EQ(stopped, 1);
    EXPECT_EQ(error.status, static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
    EXPECT_EQ(npu_stream_fill(stream, read_only, 0, 16, 1), NPU_ERROR_JOB_FAILED);

    EXPECT_EQ(npu_event_destroy(event), NPU_SUCCESS);
    EXPECT_EQ(npu_buffer_destroy(read_only), NPU_SUCCESS);
    EXPECT_EQ(npu_stream_destroy(stream), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(separate), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(again), NPU_SUCCESS);
    EXPECT_EQ(npu_device_close(primary), NPU_SUCCESS);
}

} // namespace
} // namespace npu::testing
