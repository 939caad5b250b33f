// The state behind an Event (event.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "device_state.hpp"
#include "npu/buffer.hpp"

namespace npu::detail {

struct EventState {
    EventState(std::shared_ptr<DeviceState> device, uint32_t syncobj)
        : device(std::move(device)), syncobj(syncobj) {}
    ~EventState() { device->api.syncobj_destroy(syncobj); }
    EventState(const EventState&) = delete;
    EventState& operator=(const EventState&) = delete;

    std::shared_ptr<DeviceState> device;
    uint32_t syncobj;                // binary: the captured fence
    std::optional<Buffer> timestamp; // 8-byte device clock slot, made on first record
    std::atomic<bool> recorded{false};
    std::atomic<bool> has_timestamp{false};
};

} // namespace npu::detail
