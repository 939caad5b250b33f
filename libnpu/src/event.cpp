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

} // namespace

Event::Event(const Device& device)
    : state_(std::make_shared<detail::EventState>(device.state_,
                                                  device.state_->api.syncobj_create())) {}

Event::Event(std::shared_ptr<detail::EventState> state) : state_(std::move(state)) {}
Event::~Event() = default;
Event::Event(Event&&) noexcept = default;
Event& Event::operator=(Event&&) noexcept = default;

Device Event::device() const {
    return Device(checked(state_).device);
}

bool Event::recorded() const noexcept {
    return state_ && state_->recorded;
}

bool Event::query() const {
    const detail::EventState& e = checked(state_);
    if (!e.recorded)
        return true;
    return e.device->api.syncobj_wait({e.syncobj, 0}, 0);
}

void Event::synchronize(std::chrono::nanoseconds timeout) const {
    const detail::EventState& e = checked(state_);
    if (!e.recorded)
        return;
    if (!e.device->api.syncobj_wait({e.syncobj, 0}, detail::deadline_after(timeout)))
        throw Error(ETIME, "event synchronize: still pending at the deadline");
}

uint64_t Event::device_timestamp() const {
    const detail::EventState& e = checked(state_);
    if (!e.has_timestamp)
        throw Error(EINVAL, "event has no device timestamp (never recorded, or imported)");
    synchronize();
    if (e.device->api.lost())
        throw Error(ENODEV, "event timestamp (device lost)");
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
    const detail::EventState& e = checked(state_);
    if (!e.recorded)
        throw Error(EINVAL, "export_sync_file: event was never recorded");
    return e.device->api.syncobj_export(e.syncobj, true);
}

int Event::export_syncobj() const {
    const detail::EventState& e = checked(state_);
    return e.device->api.syncobj_export(e.syncobj, false);
}

Event Event::import_sync_file(const Device& device, int sync_file_fd) {
    Event event(device);
    device.state_->api.syncobj_import_sync_file(event.state_->syncobj, sync_file_fd);
    event.state_->recorded = true;
    return event;
}

Event Event::import_syncobj(const Device& device, int syncobj_fd) {
    const uint32_t handle = device.state_->api.syncobj_import(syncobj_fd);
    auto state = std::make_shared<detail::EventState>(device.state_, handle);
    state->recorded = true; // whatever the exporter recorded (or nothing: complete)
    return Event(std::move(state));
}

} // namespace npu
