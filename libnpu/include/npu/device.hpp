// Device discovery and the open device handle.
//
// NPU devices are accel nodes (/dev/accel/accelN, kernel 6.12) or DRM
// render nodes (/dev/dri/renderD*, kernel 6.1) whose PCI parent is bound to
// the "npu" driver. Indices count those nodes in PCI-address order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "npu/driver_api.hpp"
#include "npu/export.hpp"
#include "npu/os_interface.hpp"

namespace npu {

namespace detail {
struct DeviceState;
}

struct DeviceInfo {
    unsigned index = 0;
    std::string node;        // device node path
    std::string pci_address; // "0000:00:03.0"
};

struct Version {
    unsigned major = 0;
    unsigned minor = 0;
    unsigned patch = 0;
    [[nodiscard]] NPU_API std::string str() const; // "1.2.3", patch omitted for ABI versions
};

// Everything GET_PARAM reports about the device and this file's context.
struct DeviceProperties {
    uint32_t pci_device_id = 0;
    uint32_t revision = 0;
    uint32_t hw_version = 0;
    Version fw_version;
    Version fw_abi; // major.minor
    uint64_t devmem_size = 0;
    uint32_t engine_count = 0;
    uint32_t queue_count = 0;
    uint64_t va_size = 0;
    uint64_t serial = 0;
    uint32_t context_id = 0;
    uint32_t max_cmd_size = 0;
};

// A handle to an open device. Copies share one open file (one device
// context); Buffers and Streams keep it open while they live. Thread-safe.
class NPU_API Device {
public:
    [[nodiscard]] static std::vector<DeviceInfo>
    enumerate(const std::shared_ptr<OsInterface>& os = default_os_interface());

    // Opens device number `index` of enumerate(); ENODEV if there is none.
    explicit Device(unsigned index,
                    const std::shared_ptr<OsInterface>& os = default_os_interface());
    // Opens the device at a PCI address ("0000:00:03.0" or "00:03.0").
    [[nodiscard]] static Device
    open_pci(std::string_view pci_address,
             const std::shared_ptr<OsInterface>& os = default_os_interface());
    // Opens a node from enumerate().
    [[nodiscard]] static Device
    open(const DeviceInfo& info, const std::shared_ptr<OsInterface>& os = default_os_interface());

    [[nodiscard]] const DeviceInfo& info() const noexcept;
    [[nodiscard]] uint64_t param(uint32_t param) const;
    [[nodiscard]] DeviceProperties properties() const;
    [[nodiscard]] const DriverApi& driver() const noexcept;

private:
    explicit Device(std::shared_ptr<detail::DeviceState> state);
    friend class Buffer;
    friend class Stream;

    std::shared_ptr<detail::DeviceState> state_;
};

} // namespace npu
