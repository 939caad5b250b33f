// The state behind an Event (event.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "device_state.hpp"
#include "npu/buffer.hpp"
#include "stream_track.hpp"

namespace npu::detail {

struct EventState {
    EventState(std::shared_ptr<DeviceState> device, bool timing)
        : device(std::move(device)), timing(timing) {}
    ~EventState() {
        if (syncobj)
            device->api.syncobj_destroy(syncobj);
    }
    EventState(const EventState&) = delete;
    EventState& operator=(const EventState&) = delete;

    // What the event captured, copied out under the mutex.
    struct Capture {
        std::shared_ptr<StreamTrack> track; // recorded on a stream: its timeline point
        uint64_t point = 0;
        uint64_t since = 0;   // failures up to here were reported before the record
        uint32_t syncobj = 0; // else imported: this binary syncobj's fence (0: none)
        bool recorded = false;
    };
    [[nodiscard]] Capture capture() const {
        std::lock_guard lock(mutex);
        return {track, point, since, track ? 0 : syncobj, recorded};
    }

    const std::shared_ptr<DeviceState> device;
    const bool timing;

    mutable std::mutex mutex; // protects everything below
    std::shared_ptr<StreamTrack> track;
    uint64_t point = 0;
    uint64_t since = 0;
    // Binary syncobj: the imported fence, or made for exports; created
    // on first need.
    uint32_t syncobj = 0;
    bool recorded = false;
    bool exported = false;           // export_syncobj(): records also update syncobj
    std::optional<Buffer> timestamp; // 8-byte device clock slot (timing events)
    bool has_timestamp = false;
};

} // namespace npu::detail
