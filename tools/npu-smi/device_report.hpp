// What npu-smi knows about one device: the node from enumeration and, if
// the node could be opened, its properties; otherwise why not.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "npu/device.hpp"

namespace npu::smi {

struct DeviceReport {
    DeviceInfo info;
    std::optional<DeviceProperties> properties;
    int errnum = 0;    // why properties are missing
    std::string error; // human-readable, names the node
};

std::vector<DeviceReport> query_devices(const std::shared_ptr<OsInterface>& os);

} // namespace npu::smi
