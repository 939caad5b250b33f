// Streams on queues, events, host callbacks, host copies, hot-unplug and
// device selection against FakeOs.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "fixture.hpp"
#include "npu/npu.hpp"

namespace npu::testing {
namespace {

using RuntimeTest = FakeOsTest;
using std::chrono::seconds;

TEST_F(RuntimeTest, StreamsGetQueuesWithPrioritiesThenShareOneOfTheirPriority) {
    Device device(0, os);
    StreamOptions high;
    high.priority = Priority::high;
    Stream a(device, high);
    Stream b(device);
    Stream c(device);
    Stream d(device, high); // the fake has 4 queues: 0 and three more
    EXPECT_TRUE(a.dedicated_queue());
    EXPECT_NE(a.queue_id(), 0u);
    EXPECT_EQ(os->queue_priority(device.driver().fd(), a.queue_id()), DRM_NPU_PRIORITY_HIGH);
    EXPECT_EQ(os->queue_priority(device.driver().fd(), b.queue_id()), DRM_NPU_PRIORITY_NORMAL);
    EXPECT_TRUE(c.dedicated_queue());
    // No queue left: d shares a's (high), never falls back to normal.
    EXPECT_TRUE(d.dedicated_queue());
    EXPECT_EQ(d.queue_id(), a.queue_id());
    EXPECT_EQ(d.priority(), Priority::high);
    EXPECT_EQ(os->live_queues(), 3u);
    StreamOptions shared;
    shared.dedicated_queue = false;
    Stream e(device, shared);
    EXPECT_EQ(e.queue_id(), 0u);
    EXPECT_EQ(e.priority(), Priority::normal);

    Buffer buffer(device, 4096);
    e.fill(buffer, 0, 4096, 7);
    e.synchronize(seconds(1));
    EXPECT_EQ(os->submits().back().queue_id, 0u);
    a.fill(buffer, 0, 4, 8);
    a.synchronize(seconds(1));
    EXPECT_EQ(os->submits().back().queue_id, a.queue_id());
}

TEST_F(RuntimeTest, DestroyingStreamsFreesQueuesAndSyncobjs) {
    Device device(0, os);
    const size_t syncobjs = os->live_syncobjs();
    {
        Stream stream(device);
        Event event(device);
        Buffer buffer(device, 4096);
        stream.fill(buffer, 0, 4096, 1);
        stream.record(event);
        stream.wait(event);
        stream.synchronize(seconds(1));
        EXPECT_EQ(os->live_queues(), 1u);
    }
    EXPECT_EQ(os->live_queues(), 0u);
    EXPECT_EQ(os->live_syncobjs(), syncobjs);
}

TEST_F(RuntimeTest, EventRecordsTimestampAndElapsedTime) {
    Device device(0, os);
    Stream stream(device);
    Buffer buffer(device, 1 << 20);
    Event start(device);
    Event end(device);
    EXPECT_FALSE(start.recorded());
    EXPECT_TRUE(start.query()) << "an unrecorded event is complete";
    EXPECT_THROW((void)Event::elapsed(start, end), Error);
    stream.record(start);
    stream.fill(buffer, 0, buffer.size(), 3);
    stream.record(end);
    end.synchronize(seconds(1));
    EXPECT_TRUE(start.query());
    EXPECT_TRUE(end.query());
    EXPECT_GE(Event::elapsed(start, end).count(), 0);
    EXPECT_GT(start.device_timestamp(), 0u);
    EXPECT_EQ(buffer.as_span<uint32_t>()[1000], 3u);
    // The last packet of the recording job is the TIMESTAMP.
    const auto job = os->submits().back();
    npu_pkt_timestamp ts;
    std::memcpy(&ts, job.commands.data() + job.commands.size() - sizeof(ts), sizeof(ts));
    EXPECT_EQ(NPU_PKT_OPCODE(ts.header), NPU_OP_TIMESTAMP);
}

TEST_F(RuntimeTest, EventPendingWhileJobHeldThenCompletes) {
    Device device(0, os);
    Stream stream(device);
    Buffer buffer(device, 4096);
    Event event(device);
    os->hold_jobs(true);
    stream.fill(buffer, 0, 4096, 1);
    stream.record(event);
    EXPECT_FALSE(event.query());
    try {
        event.synchronize(std::chrono::milliseconds(2));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ETIME);
    }
    EXPECT_FALSE(stream.query());
    os->release_jobs();
    os->hold_jobs(false);
    event.synchronize(seconds(1));
    EXPECT_TRUE(stream.query());
}

TEST_F(RuntimeTest, StreamWaitsForEventOfAnotherStream) {
    Device device(0, os);
    Stream producer(device);
    Stream consumer(device);
    Buffer a(device, 4096);
    Buffer b(device, 4096);
    Event ready(device);
    os->hold_jobs(true);
    producer.fill(a, 0, 4096, 0x1234);
    producer.record(ready);
    os->hold_jobs(false);
    consumer.wait(ready);
    consumer.copy(a, 0, b, 0, 4096);
    consumer.flush();
    // The consumer's job carries the producer's fence: it cannot have run.
    EXPECT_FALSE(consumer.query());
    EXPECT_EQ(b.as_span<uint32_t>()[0], 0u);
    os->release_jobs();
    consumer.synchronize(seconds(1));
    EXPECT_EQ(b.as_span<uint32_t>()[1023], 0x1234u);
    producer.synchronize(seconds(1));
}

TEST_F(RuntimeTest, StreamWaitsForEventOfAnotherDeviceThroughSyncFile) {
    Device first(0, os);
    Device second(1, os);
    Stream on_first(first);
    Stream on_second(second);
    Buffer a(first, 4096);
    Buffer b(second, 4096);
    Event done(first);
    os->hold_jobs(true);
    on_first.fill(a, 0, 4096, 5);
    on_first.record(done);
    os->hold_jobs(false);
    on_second.wait(done);
    on_second.fill(b, 0, 4096, 6);
    EXPECT_FALSE(on_second.query());
    os->release_jobs();
    on_second.synchronize(seconds(1));
    EXPECT_EQ(b.as_span<uint32_t>()[0], 6u);
    on_first.synchronize(seconds(1));
}

TEST_F(RuntimeTest, EventExportImport) {
    Device first(0, os);
    Device second(1, os);
    Stream stream(first);
    Event event(first);
    EXPECT_THROW((void)event.export_sync_file(), Error) << "nothing recorded";
    os->hold_jobs(true);
    Buffer buffer(first, 4096);
    stream.fill(buffer, 0, 4096, 1);
    stream.record(event);
    const int sync_file = event.export_sync_file();
    Event imported = Event::import_sync_file(second, sync_file);
    os->close(sync_file);
    const int syncobj_fd = event.export_syncobj();
    Event shared = Event::import_syncobj(first, syncobj_fd);
    os->close(syncobj_fd);
    EXPECT_FALSE(imported.query());
    EXPECT_FALSE(shared.query());
    EXPECT_THROW((void)imported.device_timestamp(), Error) << "imported events carry no time";
    os->release_jobs();
    os->hold_jobs(false);
    imported.synchronize(seconds(1));
    shared.synchronize(seconds(1));
    stream.synchronize(seconds(1));
}

TEST_F(RuntimeTest, HostCallbackRunsInOrderAndGatesLaterWork) {
    Device device(0, os);
    Stream stream(device);
    Buffer buffer(device, 4096);
    std::vector<int> order;
    std::atomic<uint32_t> seen{0};
    os->hold_jobs(true); // the callback cannot run before the copy is enqueued
    stream.fill(buffer, 0, 4096, 11);
    stream.launch_host_func([&] {
        seen = buffer.as_span<uint32_t>()[0]; // the fill is done
        order.push_back(1);
        buffer.as_span<uint32_t>()[1] = 99; // host writes; the copy below must see it
    });
    Buffer out(device, 4096);
    stream.copy(buffer, 4, out, 0, 4);
    stream.launch_host_func([&] { order.push_back(2); });
    os->hold_jobs(false);
    os->release_jobs();
    stream.synchronize(seconds(5));
    EXPECT_EQ(seen.load(), 11u);
    EXPECT_EQ(out.as_span<uint32_t>()[0], 99u);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    // The copy's job waited on the gate word.
    bool gated = false;
    for (const auto& job : os->submits()) {
        uint32_t header = 0;
        std::memcpy(&header, job.commands.data(), 4);
        gated = gated || NPU_PKT_OPCODE(header) == NPU_OP_WAIT_MEM;
    }
    EXPECT_TRUE(gated);
}

TEST_F(RuntimeTest, HostCallbackExceptionReportedBySynchronize) {
    Device device(0, os);
    Stream stream(device);
    stream.launch_host_func([] { throw Error(EDOM, "callback"); });
    try {
        stream.synchronize(seconds(5));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EDOM);
    }
    stream.synchronize(seconds(5)); // reported once
}

TEST_F(RuntimeTest, HostToDeviceAndBack) {
    Device device(0, os);
    Stream stream(device);
    Buffer buffer(device, 64 * 1024);
    std::vector<uint32_t> input(16 * 1024);
    std::iota(input.begin(), input.end(), 1u);
    stream.copy_from_host(buffer, 0, input.data(), input.size() * 4);
    std::fill(input.begin(), input.end(), 0); // staged at once: reusable
    Buffer doubled(device, 64 * 1024);
    stream.copy(buffer, 0, doubled, 0, buffer.size());
    std::vector<uint32_t> output(16 * 1024);
    stream.copy_to_host(output.data(), doubled, 0, output.size() * 4);
    stream.synchronize(seconds(5));
    for (uint32_t i = 0; i < output.size(); ++i)
        ASSERT_EQ(output[i], i + 1) << i;
}

TEST_F(RuntimeTest, TypedViews) {
    Device device(0, os);
    Stream stream(device);
    Buffer a(device, 1024);
    Buffer b(device, 1024);
    auto first_half = a.view<uint32_t>(0, 128);
    stream.fill(first_half, 0xabcd);
    stream.copy(a.view<uint32_t>(64, 64), b.view<uint32_t>(0, 64));
    stream.synchronize(seconds(1));
    EXPECT_EQ(b.view<uint32_t>().host()[63], 0xabcdu);
    EXPECT_EQ(b.view<uint32_t>().host()[64], 0u);
    EXPECT_EQ(a.view<uint32_t>(10, 2).device_addr(), a.device_addr() + 40);
    EXPECT_THROW((void)a.view<uint32_t>(200, 100), Error);
}

TEST_F(RuntimeTest, HotUnplugBecomesErrorsNotCrashes) {
    Device device(0, os);
    Stream stream(device);
    Buffer buffer(device, 4096);
    Event event(device);
    MemoryPool pool(device);
    Buffer block = pool.allocate_async(1000, stream);
    stream.fill(buffer, 0, 4096, 1);
    stream.record(event);
    stream.synchronize(seconds(1));
    os->hold_jobs(true);
    stream.fill(buffer, 0, 4096, 2);
    stream.launch_host_func([] {});
    os->unplug("/dev/accel/accel0");
    int line = 0;
    auto expect_enodev = [&line](auto&& call) {
        ++line;
        SCOPED_TRACE(line);
        try {
            call();
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.errnum(), ENODEV) << e.what();
        }
    };
    expect_enodev([&] { stream.synchronize(seconds(1)); });
    EXPECT_TRUE(device.lost());
    expect_enodev([&] { stream.fill(buffer, 0, 4, 3); });
    expect_enodev([&] { stream.synchronize(seconds(1)); });
    expect_enodev([&] { stream.record(event); });
    expect_enodev([&] { (void)event.query(); });
    expect_enodev([&] { Buffer more(device, 4096); });
    expect_enodev([&] { (void)pool.allocate_async(1 << 24, stream); });
    expect_enodev([&] { (void)device.properties(); });
    expect_enodev([&] { Stream another(device); });
    EXPECT_THROW(Device(1, os), Error) << "accel0 left the list: only one npu remains";
    os->hold_jobs(false);
}

TEST_F(RuntimeTest, SelectByIndexPciAndUuid) {
    const std::string uuid = Device(0, os).uuid();
    EXPECT_EQ(uuid, uuid_from_serial(0x5eed0001));
    EXPECT_EQ(Device::select("0", os).info().pci_address, "0000:00:03.0");
    EXPECT_EQ(Device::select("00:05.0", os).info().pci_address, "0000:00:05.0");
    EXPECT_EQ(Device::select(uuid, os).uuid(), uuid);
    EXPECT_THROW((void)Device::select("00000000-0000-8000-8000-6e70752d756964", os), Error);
    EXPECT_THROW((void)Device::select("7", os), Error);
}

TEST(UuidTest, MatchesTheDriverLayout) {
    // Bytes 0-5: serial bits 63-16; 6: 0x80 | bits 15-12; 7: bits 11-4;
    // 8: 0x80 | bits 3-0; 9-15: "npu-uid".
    EXPECT_EQ(uuid_from_serial(0x0123456789abcdefull), "01234567-89ab-8cde-8f6e-70752d756964");
    EXPECT_EQ(uuid_from_serial(0), "00000000-0000-8000-806e-70752d756964");
}

} // namespace
} // namespace npu::testing

namespace npu::testing {
namespace {

TEST_F(RuntimeTest, HostCallbackAfterWaitWaitsForTheEvent) {
    Device device(0, os);
    Stream producer(device);
    Stream consumer(device);
    Buffer buffer(device, 4096);
    Event ready(device);
    os->hold_jobs(true);
    producer.fill(buffer, 0, 4096, 42);
    producer.record(ready);
    os->hold_jobs(false);
    consumer.wait(ready); // no job on the consumer after this
    uint32_t seen = 0;
    // (copy_to_host would wait here: a device -> host copy is synchronous)
    consumer.launch_host_func([&] { std::memcpy(&seen, buffer.host_ptr(), 4); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(consumer.query()) << "the callback ran before the awaited event";
    os->release_jobs();
    consumer.synchronize(seconds(5));
    EXPECT_EQ(seen, 42u);
    producer.synchronize(seconds(5));
}

} // namespace
} // namespace npu::testing
