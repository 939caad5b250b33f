// User-mode submission (docs/sdk.md, "How launches reach the device")
// against the fake OS: launches that make no system call, statuses from the
// ring's write-backs, the fallback to SUBMIT, fences attached on demand and
// in order, a queue that stops.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

#include "fake_os.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/graph.hpp"
#include "npu/stream.hpp"

namespace npu::testing {
namespace {

using std::chrono::seconds;

class UserQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        unsetenv("NPU_USER_QUEUES");
        os = std::make_shared<FakeOs>();
        FakeDeviceConfig config;
        config.params[DRM_NPU_PARAM_UQUEUE_COUNT] = 2;
        os->add_device(config);
        set_default_os_interface(os);
    }
    void TearDown() override {
        unsetenv("NPU_USER_QUEUES");
        set_default_os_interface(nullptr);
        EXPECT_EQ(os->open_fds(), 0u) << "leaked file descriptors";
        EXPECT_EQ(os->live_mappings(), 0u) << "leaked mappings";
        EXPECT_EQ(os->live_uqueues(), 0u) << "user-mode queues left";
    }
    std::shared_ptr<FakeOs> os;
};

StreamOptions manual() {
    StreamOptions options;
    options.submit_policy = SubmitPolicy::manual;
    return options;
}

StreamOptions eager() {
    StreamOptions options;
    options.max_batch_delay = std::chrono::nanoseconds(0); // every launch is a job
    return options;
}

uint32_t word(const Buffer& buffer, size_t index) {
    return buffer.as_span<uint32_t>()[index];
}

TEST_F(UserQueueTest, LaunchesMakeNoSystemCall) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream stream(device, eager());
    ASSERT_TRUE(stream.user_mode());
    stream.fill(a, 0, 4096, 1); // warm up: command buffers, staging
    stream.synchronize(seconds(1));

    Graph::begin_capture(stream);
    stream.fill(a, 0, 64, 0x77);
    stream.copy(a, 0, b, 64, 64);
    Graph graph = Graph::end_capture(stream);
    GraphExec exec(graph);

    auto round_of_launches = [&](uint32_t round) {
        // Fewer jobs than the ring and max_jobs_in_flight hold: no wait.
        stream.fill(a, 0, 4096, round);
        stream.copy(a, 0, b, 0, 64);
        exec.launch(stream);
        stream.fill(b, 128, 4, round + 100);
        os->run_user_queues();          // the device serves the rings
        stream.synchronize(seconds(1)); // done already: the control page tells
    };
    round_of_launches(0); // the stream makes its four command buffers
    const size_t before = os->ioctl_count();
    const size_t run_before = os->user_jobs_run();
    for (uint32_t round = 0; round < 10; ++round)
        round_of_launches(round);
    EXPECT_EQ(os->ioctl_count(), before) << "launches or synchronize entered the kernel";
    EXPECT_EQ(os->user_jobs_run() - run_before, 40u);
    EXPECT_TRUE(os->submits().empty()) << "work went through SUBMIT";
    EXPECT_EQ(word(b, 0), 9u);
    EXPECT_EQ(word(b, 16), 0x77u);
    EXPECT_EQ(word(b, 32), 109u);
}

TEST_F(UserQueueTest, SynchronizeSleepsUntilTheDeviceIsDone) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, manual());
    ASSERT_TRUE(stream.user_mode());
    for (int i = 0; i < 40; ++i) { // more jobs than the ring (16): waits for slots
        stream.fill(a, 4 * i, 4, i + 1);
        stream.flush();
    }
    stream.synchronize(seconds(5)); // UQUEUE_FENCE + a syncobj wait
    EXPECT_GE(os->ioctl_count(DRM_IOCTL_NPU_UQUEUE_FENCE), 1u);
    for (int i = 0; i < 40; ++i)
        EXPECT_EQ(word(a, i), static_cast<uint32_t>(i + 1));
    EXPECT_TRUE(os->submits().empty());
    EXPECT_EQ(stream.jobs_in_flight(), 0u);
}

TEST_F(UserQueueTest, StatusesComeFromTheWriteBacks) {
    Device device(0, os);
    Buffer read_only(device, 4096, BufferFlags::device_read_only);
    Buffer ok(device, 4096);
    Stream stream(device, manual());
    ASSERT_TRUE(stream.user_mode());
    stream.fill(ok, 0, 4096, 1);
    stream.fill(read_only, 8, 16, 2);
    stream.flush();
    os->run_user_queues();
    try {
        stream.synchronize(seconds(1));
        FAIL() << "a write to a read-only buffer succeeded";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
        EXPECT_EQ(e.fault_addr(), read_only.device_addr() + 8);
        EXPECT_EQ(e.err_offset(), sizeof(npu_pkt_fill));
        EXPECT_EQ(e.seqno(), 1u);
    }
    EXPECT_TRUE(os->submits().empty());
    EXPECT_EQ(word(ok, 0), 1u) << "packets before the fault ran";
    stream.fill(ok, 0, 4, 3);
    EXPECT_NO_THROW(stream.synchronize(seconds(1)));
    EXPECT_EQ(word(ok, 0), 3u);
    // Many more jobs than ring slots, one failing late: its status was read
    // before its slot was reused.
    for (int i = 0; i < 20; ++i) {
        stream.fill(ok, 0, 4, i);
        stream.flush();
    }
    stream.fill(read_only, 0, 4, 1);
    stream.flush();
    for (int i = 0; i < 20; ++i) {
        stream.fill(ok, 0, 4, i);
        stream.flush();
    }
    try {
        stream.synchronize(seconds(5));
        FAIL() << "the failed job went unreported";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_PAGE_FAULT));
        EXPECT_EQ(e.seqno(), 23u);
    }
}

TEST_F(UserQueueTest, StopOnErrorStopsAtTheWriteBack) {
    Device device(0, os);
    Buffer read_only(device, 4096, BufferFlags::device_read_only);
    Buffer ok(device, 4096);
    StreamOptions options = manual();
    options.stop_on_error = true;
    Stream stream(device, options);
    ASSERT_TRUE(stream.user_mode());
    stream.fill(read_only, 0, 4, 2);
    EXPECT_THROW(stream.synchronize(seconds(1)), JobError);
    EXPECT_TRUE(stream.stopped());
    EXPECT_THROW(stream.fill(ok, 0, 4, 1), JobError);
}

TEST_F(UserQueueTest, FallsBackWhenCreateFails) {
    for (int errnum : {EOPNOTSUPP, EBUSY, ENOSPC, ENOTTY}) {
        Device device(0, os);
        Buffer a(device, 4096);
        os->fail_next_ioctl(DRM_IOCTL_NPU_UQUEUE_CREATE, errnum);
        Stream stream(device, manual());
        EXPECT_FALSE(stream.user_mode()) << errnum;
        const size_t submits = os->submits().size();
        stream.fill(a, 0, 4096, errnum);
        stream.synchronize(seconds(1));
        EXPECT_EQ(os->submits().size(), submits + 1) << errnum;
        EXPECT_EQ(word(a, 5), static_cast<uint32_t>(errnum));
    }
}

TEST_F(UserQueueTest, FallsBackWithoutTheParameterOrWhenDisabled) {
    {
        auto old = std::make_shared<FakeOs>();
        old->add_device(FakeDeviceConfig{}); // a driver before user-mode queues
        Device device(0, old);
        Stream stream(device, manual());
        EXPECT_FALSE(stream.user_mode());
        EXPECT_EQ(old->ioctl_count(DRM_IOCTL_NPU_UQUEUE_CREATE), 0u);
    }
    setenv("NPU_USER_QUEUES", "0", 1);
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, manual());
    EXPECT_FALSE(stream.user_mode());
    stream.fill(a, 0, 4096, 4);
    stream.synchronize(seconds(1));
    EXPECT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(os->ioctl_count(DRM_IOCTL_NPU_UQUEUE_CREATE), 0u);
    StreamOptions shared = manual();
    shared.dedicated_queue = false;
    unsetenv("NPU_USER_QUEUES");
    Stream on_queue0(device, shared);
    EXPECT_FALSE(on_queue0.user_mode()) << "queue 0 streams use SUBMIT";
}

TEST_F(UserQueueTest, ContextLimitLeavesLaterStreamsOnSubmit) {
    Device device(0, os);
    Stream s1(device, manual());
    Stream s2(device, manual());
    Stream s3(device, manual());
    EXPECT_TRUE(s1.user_mode());
    EXPECT_TRUE(s2.user_mode());
    EXPECT_FALSE(s3.user_mode()) << "DRM_NPU_PARAM_UQUEUE_COUNT is 2";
}

TEST_F(UserQueueTest, FencesAreAttachedOnDemandInOrder) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream producer(device, manual());
    Stream consumer(device, manual());
    ASSERT_TRUE(producer.user_mode());
    ASSERT_TRUE(consumer.user_mode());
    Event first(device);
    Event second(device);

    producer.fill(a, 0, 4096, 5);
    producer.record(first);
    producer.flush();
    EXPECT_EQ(os->ioctl_count(DRM_IOCTL_NPU_UQUEUE_FENCE), 0u) << "a record needs no fence";

    // The consumer waits: the producer's point gets a fence (one ioctl),
    // the consumer's job goes through SUBMIT with it as an in-fence.
    consumer.wait(first);
    consumer.copy(a, 0, b, 0, 4096);
    consumer.flush();
    EXPECT_EQ(os->ioctl_count(DRM_IOCTL_NPU_UQUEUE_FENCE), 1u);
    auto submits = os->submits();
    ASSERT_EQ(submits.size(), 1u);
    EXPECT_GE(submits[0].in_fences, 1u);

    // Later producer work: a later point, attached after the first.
    producer.fill(a, 0, 4096, 6);
    producer.record(second);
    producer.flush();
    const int sync_file = second.export_sync_file(); // attaches (in order, or the fake refuses)
    EXPECT_EQ(os->ioctl_count(DRM_IOCTL_NPU_UQUEUE_FENCE), 2u);
    os->close(sync_file);

    consumer.synchronize(seconds(1));
    producer.synchronize(seconds(1));
    EXPECT_EQ(word(b, 0), 5u) << "the copy ran after the producer's first fill only";
    EXPECT_TRUE(first.query());
    EXPECT_TRUE(second.query());

    // The consumer goes back to its ring once its SUBMIT is done.
    const size_t before = os->submits().size();
    consumer.fill(b, 0, 4, 9);
    consumer.synchronize(seconds(1));
    EXPECT_EQ(os->submits().size(), before) << "still on SUBMIT after its job completed";
    EXPECT_EQ(word(b, 0), 9u);
}

TEST_F(UserQueueTest, SubmitAfterUserModeWorkWaitsForIt) {
    Device device(0, os);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Stream stream(device, manual());
    Stream other(device, manual());
    ASSERT_TRUE(stream.user_mode());
    Event ready(device);
    other.fill(b, 0, 4, 1);
    other.record(ready);
    other.flush();
    stream.fill(a, 0, 4096, 7); // on the ring, not run yet
    stream.flush();
    stream.wait(ready); // the next job has an in-fence: SUBMIT
    stream.copy(a, 0, b, 0, 4096);
    stream.flush();
    ASSERT_EQ(os->submits().size(), 1u);
    EXPECT_EQ(os->submits()[0].in_fences, 2u) << "the event and the stream's own ring";
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(b, 1), 7u) << "the SUBMIT ran before the ring's fill";
}

TEST_F(UserQueueTest, HostCallbacksAndEventsWork) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, eager());
    ASSERT_TRUE(stream.user_mode());
    Event start(device);
    Event end(device);
    std::atomic<int> seen{-1};
    stream.record(start);
    stream.fill(a, 0, 4, 1);
    stream.launch_host_func([&] { seen = static_cast<int>(word(a, 0)); });
    stream.fill(a, 0, 4, 2); // after the callback (gate word + WAIT_MEM)
    stream.record(end);
    end.synchronize(seconds(5));
    stream.synchronize(seconds(5));
    EXPECT_EQ(seen.load(), 1);
    EXPECT_EQ(word(a, 0), 2u);
    EXPECT_GE(Event::elapsed(start, end).count(), 0);
    EXPECT_TRUE(os->submits().empty());
}

TEST_F(UserQueueTest, StoppedQueueFailsItsWorkAndFallsBack) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, manual());
    ASSERT_TRUE(stream.user_mode());
    stream.fill(a, 0, 4, 1);
    stream.synchronize(seconds(1));
    os->hold_jobs(true); // nothing runs: the queue is lost with the job on it
    stream.fill(a, 0, 4, 2);
    stream.flush();
    os->stop_user_queues(DRM_NPU_UQUEUE_LOST, 0);
    os->hold_jobs(false);
    try {
        stream.synchronize(seconds(1));
        FAIL() << "the lost job went unreported";
    } catch (const JobError& e) {
        EXPECT_EQ(e.status(), static_cast<uint32_t>(DRM_NPU_JOB_STATUS_ABORTED));
    }
    EXPECT_FALSE(stream.user_mode());
    EXPECT_EQ(word(a, 0), 1u);
    stream.fill(a, 0, 4, 3);
    stream.synchronize(seconds(1));
    EXPECT_EQ(word(a, 0), 3u);
    EXPECT_EQ(os->submits().size(), 1u) << "after the queue stopped, SUBMIT";
}

TEST_F(UserQueueTest, ControlPageErrorStopsTheQueue) {
    Device device(0, os);
    Buffer a(device, 4096);
    Stream stream(device, manual());
    ASSERT_TRUE(stream.user_mode());
    os->hold_jobs(true);
    stream.fill(a, 0, 4, 2);
    stream.flush();
    os->stop_user_queues(DRM_NPU_UQUEUE_STOPPED, DRM_NPU_UQUEUE_ERR_READ);
    os->hold_jobs(false);
    EXPECT_THROW(stream.synchronize(seconds(1)), JobError);
    EXPECT_FALSE(stream.user_mode());
}

} // namespace
} // namespace npu::testing
