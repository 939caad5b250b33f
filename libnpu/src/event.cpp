#include "npu/event.hpp"

#include <cerrno>

#include "event_state.hpp"
#include "npu/error.hpp"
#include "time.hpp"

namespace npu {

namespace {

detail::EventState& checked(const std::shared_ptr<detail::EventState>& state) {
    if (!state)
        throw Error(EINVAL, "event was moved from");
    return *state;
}

// Waits for the captured work until deadline_ns; false on timeout.
bool wait_capture(const detail::EventState& e, const detail::EventState::Capture& c,
                  int64_t deadline_ns) {
    if (e.device->api.lost())
        throw Error(ENODEV, "event wait (device lost)");
    if (!c.recorded)
        return true;
    if (c.track) {
        if (c.point == 0 || c.track->timeline->known_complete(c.point))
            return true;
        c.track->ensure_submitted(c.point);
        const auto waited = c.track->wait_job(c.point, deadline_ns);
        if (!(waited ? *waited : c.track->timeline->wait(c.point, deadline_ns)))
            return false;
        c.track->timeline->mark_complete(c.point);
        return true;
    }
    if (!c.syncobj)
        return true;
    return e.device->api.syncobj_wait({c.syncobj, 0}, deadline_ns);
}

// The failure a completed capture reports.
std::optional<JobFailure> failure_of(const detail::EventState::Capture& c) {
    if (!c.recorded || !c.track || c.point == 0)
        return std::nullopt;
    c.track->collect(c.point);
    const auto f = c.track->first_failure(c.since, c.point);
    if (!f)
        return std::nullopt;
    return JobFailure{f->status, f->seqno, f->queue_id, f->err_offset, f->fault_addr};
}

void throw_failure(const std::optional<JobFailure>& f) {
    if (f)
        throw JobError(f->status, f->seqno, f->err_offset, f->fault_addr);
}

// The event's binary syncobj, created on first need (under e.mutex).
uint32_t binary_syncobj(detail::EventState& e) {
    if (!e.syncobj)
        e.syncobj = e.device->api.syncobj_create();
    return e.syncobj;
}

} // namespace

Event::Event(const Device& device, EventFlags flags)
    : state_(std::make_shared<detail::EventState>(
          device.state_, (static_cast<uint32_t>(flags) &
                          static_cast<uint32_t>(EventFlags::disable_timing)) == 0)) {
    if (static_cast<uint32_t>(flags) & ~static_cast<uint32_t>(EventFlags::disable_timing))
        throw Error(EINVAL, "create event: unknown flags");
}

Event::Event(std::shared_ptr<detail::EventState> state) : state_(std::move(state)) {}
Event::~Event() = default;
Event::Event(Event&&) noexcept = default;
Event& Event::operator=(Event&&) noexcept = default;

Device Event::device() const {
    return Device(checked(state_).device);
}

bool Event::recorded() const noexcept {
    if (!state_)
        return false;
    std::lock_guard lock(state_->mutex);
    return state_->recorded;
}

bool Event::timing() const noexcept {
    return state_ && state_->timing;
}

bool Event::query() const {
    const detail::EventState& e = checked(state_);
    const auto c = e.capture();
    if (!wait_capture(e, c, 0))
        return false;
    throw_failure(failure_of(c));
    return true;
}

void Event::synchronize(std::chrono::nanoseconds timeout) const {
    const detail::EventState& e = checked(state_);
    const auto c = e.capture();
    if (!wait_capture(e, c, detail::deadline_after(timeout)))
        throw Error(ETIME, "event synchronize: still pending at the deadline");
    throw_failure(failure_of(c));
}

std::optional<JobFailure> Event::error() const {
    const detail::EventState& e = checked(state_);
    const auto c = e.capture();
    if (!wait_capture(e, c, 0))
        return std::nullopt;
    return failure_of(c);
}

uint64_t Event::device_timestamp() const {
    const detail::EventState& e = checked(state_);
    {
        std::lock_guard lock(e.mutex);
        if (!e.has_timestamp)
            throw Error(EINVAL, "event has no device timestamp (never recorded, imported, or "
                                "created with disable_timing)");
    }
    synchronize();
    if (e.device->api.lost())
        throw Error(ENODEV, "event timestamp (device lost)");
    std::lock_guard lock(e.mutex);
    return *static_cast<const uint64_t*>(e.timestamp->host_ptr());
}

std::chrono::nanoseconds Event::elapsed(const Event& start, const Event& end) {
    if (checked(start.state_).device != checked(end.state_).device)
        throw Error(EINVAL, "elapsed: events of different devices");
    const uint64_t from = start.device_timestamp();
    const uint64_t to = end.device_timestamp();
    return std::chrono::nanoseconds(static_cast<int64_t>(to - from));
}

int Event::export_sync_file() const {
    detail::EventState& e = checked(state_);
    const auto c = e.capture();
    if (!c.recorded)
        throw Error(EINVAL, "export_sync_file: event was never recorded");
    const DriverApi& api = e.device->api;
    if (!c.track)
        return api.syncobj_export(c.syncobj, true);
    // The point's fence, through a binary syncobj.
    c.track->ensure_submitted(c.point);
    std::lock_guard lock(e.mutex);
    const uint32_t syncobj = binary_syncobj(e);
    if (c.point == 0)
        api.syncobj_signal({syncobj, 0});
    else
        api.syncobj_transfer(c.track->timeline->sync_point(c.point), {syncobj, 0});
    return api.syncobj_export(syncobj, true);
}

int Event::export_syncobj() const {
    detail::EventState& e = checked(state_);
    const auto c = e.capture();
    const DriverApi& api = e.device->api;
    if (c.track)
        c.track->ensure_submitted(c.point);
    std::lock_guard lock(e.mutex);
    const bool fresh = e.syncobj == 0;
    const uint32_t syncobj = binary_syncobj(e);
    if (c.track) {
        if (c.point == 0)
            api.syncobj_signal({syncobj, 0});
        else
            api.syncobj_transfer(c.track->timeline->sync_point(c.point), {syncobj, 0});
    } else if (fresh) {
        api.syncobj_signal({syncobj, 0}); // never recorded: complete
    }
    e.exported = true;
    return api.syncobj_export(syncobj, false);
}

Event Event::import_sync_file(const Device& device, int sync_file_fd) {
    Event event(device, EventFlags::disable_timing);
    detail::EventState& e = *event.state_;
    std::lock_guard lock(e.mutex);
    device.state_->api.syncobj_import_sync_file(binary_syncobj(e), sync_file_fd);
    e.recorded = true;
    return event;
}

Event Event::import_syncobj(const Device& device, int syncobj_fd) {
    const uint32_t handle = device.state_->api.syncobj_import(syncobj_fd);
    auto state = std::make_shared<detail::EventState>(device.state_, false);
    state->syncobj = handle;
    state->recorded = true; // whatever the exporter recorded (or nothing: complete)
    state->exported = true; // shared with the exporter: records update it
    return Event(std::move(state));
}

} // namespace npu
