// The shared state behind Device handles: the open file and its DriverApi,
// the context's queues shared between streams.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "npu/device.hpp"
#include "npu/driver_api.hpp"

#include "address_map.hpp"

namespace npu::detail {

struct PoolState;

struct DeviceState {
    DeviceState(std::shared_ptr<OsInterface> os, int fd, DeviceInfo info)
        : api(std::move(os), fd), info(std::move(info)) {}
    ~DeviceState() { api.os().close(api.fd()); }
    DeviceState(const DeviceState&) = delete;
    DeviceState& operator=(const DeviceState&) = delete;

    DriverApi api;
    DeviceInfo info;
    bool primary = false; // the process's primary context for this node

    AddressMap addresses; // device address -> buffer object, for pointers

    // Shared virtual addressing (bo_storage.hpp): VM_BIND support checked
    // once; bytes of the buffer objects libnpu holds in this file.
    std::once_flag sva_checked;
    std::atomic<size_t> bo_bytes{0};

    std::mutex pool_mutex;                 // protects default_pool, upload_pool
    std::weak_ptr<PoolState> default_pool; // weak: the pool holds the device
    std::weak_ptr<PoolState> upload_pool;  // host -> device staging (pool_state.hpp)

    // Whether SUBMIT takes DRM_NPU_SUBMIT_EXPLICIT_SYNC; cleared the first
    // time a driver without it refuses the flag (EINVAL).
    std::atomic<bool> explicit_sync{true};

    // Driver queues (QUEUE_CREATE) in use by this context's streams. A
    // stream gets a queue of its own while the context has queues left,
    // then shares the least used queue of its priority.
    struct Queue {
        uint32_t id = 0;
        uint32_t priority = 0;
        size_t users = 0;
    };
    std::mutex queue_mutex;    // protects queues
    std::vector<Queue> queues; // every queue with users > 0
};

} // namespace npu::detail
