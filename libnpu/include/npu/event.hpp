// Event: a point in a stream's work (CUDA/HIP events). Stream::record()
// captures the stream's work so far in the event's syncobj (a binary DRM
// syncobj on the recording device) and has the device write its clock into
// the event's timestamp slot when that work is done.
//
// An event can be waited on by streams of any device (Stream::wait), by the
// host (query/synchronize), and exported as a sync_file or syncobj fd for
// other processes, APIs or devices; an imported event carries a fence but
// no timestamp. Re-recording replaces the captured work.
//
// Thread safety: query(), synchronize() and the exports may run
// concurrently with each other; record() and Stream::wait() on the same
// event must not race with each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

namespace detail {
struct EventState;
}

class NPU_API Event {
public:
    explicit Event(const Device& device);
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
    // Waits for the captured work; Error(ETIME) when the timeout passes.
    void synchronize(std::chrono::nanoseconds timeout = std::chrono::seconds(60)) const;

    // Device time between two recorded events of one device, once both are
    // done (waits for them). Error(EINVAL) for events without a timestamp
    // (never recorded, or imported) or of different devices.
    [[nodiscard]] static std::chrono::nanoseconds elapsed(const Event& start, const Event& end);
    // The device clock value (ns) written when the captured work was done.
    [[nodiscard]] uint64_t device_timestamp() const;

    // The captured fence as a new sync_file fd (caller closes it); EINVAL
    // if the event was never recorded.
    [[nodiscard]] int export_sync_file() const;
    // The event's syncobj as a new fd (DRM syncobj fd; caller closes it).
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
