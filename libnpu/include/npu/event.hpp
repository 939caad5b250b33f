// Event: a point in a stream's work (CUDA/HIP events). Stream::record()
// captures the stream's work enqueued so far as a point of the stream's
// timeline syncobj (no system call, no submission); a timing event also has
// the device write its clock into the event's timestamp slot when that work
// is done (one buffer object per timing event, made on its first record).
// Events created with EventFlags::disable_timing have no slot: creating
// and recording them costs no system call.
//
// An event can be waited on by streams of any device (Stream::wait), by the
// host (query/synchronize), and exported as a sync_file or syncobj fd for
// other processes, APIs or devices; an imported event carries a fence but
// no timestamp. Re-recording replaces the captured work. Waiting for an
// event whose work is not submitted yet submits it.
//
// Errors: synchronize() and query() report (JobError) a job of the
// recording stream that failed at or before the captured point and after
// the last Stream::synchronize() before the record; error() tells without
// throwing. Waits have no timeout unless one is asked for.
//
// Thread safety: every method may be called concurrently, also with
// Stream::record() and Stream::wait() of the same event.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

namespace detail {
struct EventState;
}

enum class EventFlags : uint32_t {
    none = 0,
    disable_timing = 1u << 0, // no device timestamp: cheap to create and record
};

class NPU_API Event {
public:
    explicit Event(const Device& device, EventFlags flags = EventFlags::none);
    ~Event();
    Event(Event&&) noexcept;
    Event& operator=(Event&&) noexcept;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    [[nodiscard]] Device device() const;
    // Whether record() (or an import) gave the event work to track.
    [[nodiscard]] bool recorded() const noexcept;
    // Non-blocking: whether the captured work is done (true if none).
    [[nodiscard]] bool query() const;
    // Waits for the captured work; Error(ETIME) when the timeout passes,
    // JobError when a job it covers failed (see above).
    void synchronize(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) const;
    // Whether the event takes a device timestamp.
    [[nodiscard]] bool timing() const noexcept;
    // Once the captured work is done: the failure synchronize() reports.
    [[nodiscard]] std::optional<JobFailure> error() const;

    // Device time between two recorded events of one device, once both are
    // done (waits for them). Error(EINVAL) for events without a timestamp
    // (never recorded, or imported) or of different devices.
    [[nodiscard]] static std::chrono::nanoseconds elapsed(const Event& start, const Event& end);
    // The device clock value (ns) written when the captured work was done.
    [[nodiscard]] uint64_t device_timestamp() const;

    // The captured fence as a new sync_file fd (caller closes it); EINVAL
    // if the event was never recorded.
    [[nodiscard]] int export_sync_file() const;
    // The event's binary syncobj as a new fd (DRM syncobj fd; caller closes
    // it). It holds the fence captured so far; once exported, every later
    // record() also replaces the syncobj's fence (and submits the work).
    [[nodiscard]] int export_syncobj() const;
    // An event on device whose captured work is the sync_file's fence.
    [[nodiscard]] static Event import_sync_file(const Device& device, int sync_file_fd);
    // An event sharing an exported syncobj (export_syncobj() of any process).
    [[nodiscard]] static Event import_syncobj(const Device& device, int syncobj_fd);

private:
    explicit Event(std::shared_ptr<detail::EventState> state);
    friend class Stream;
    std::shared_ptr<detail::EventState> state_;
};

} // namespace npu
