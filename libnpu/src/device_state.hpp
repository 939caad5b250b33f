// The shared state behind Device handles: the open file and its DriverApi.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

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

    AddressMap addresses; // device address -> buffer object, for pointers

    // Shared virtual addressing (bo_storage.hpp): VM_BIND support checked
    // once; bytes of the buffer objects libnpu holds in this file.
    std::once_flag sva_checked;
    std::atomic<size_t> bo_bytes{0};

    std::mutex pool_mutex;                 // protects default_pool
    std::weak_ptr<PoolState> default_pool; // weak: the pool holds the device
};

} // namespace npu::detail
