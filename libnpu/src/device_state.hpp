// The shared state behind Device handles: the open file and its DriverApi.
#pragma once

#include <memory>

#include "npu/device.hpp"
#include "npu/driver_api.hpp"

namespace npu::detail {

struct DeviceState {
    DeviceState(std::shared_ptr<OsInterface> os, int fd, DeviceInfo info)
        : api(std::move(os), fd), info(std::move(info)) {}
    ~DeviceState() { api.os().close(api.fd()); }
    DeviceState(const DeviceState&) = delete;
    DeviceState& operator=(const DeviceState&) = delete;

    DriverApi api;
    DeviceInfo info;
};

} // namespace npu::detail
