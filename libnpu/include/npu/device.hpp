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
struct StreamImpl;
struct MemoryAccess;
} // namespace detail
class MemoryPool;

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
    std::string uuid; // uuid_from_serial(serial), as the driver's sysfs "uuid"
    uint32_t context_id = 0;
    uint32_t max_cmd_size = 0;
};

// The device UUID derived from its serial exactly as the driver's sysfs
// attribute "uuid" does (driver/npu_sysfs.c): an RFC 9562 version 8 UUID
// whose bytes 0-5 are serial bits 63-16, byte 6 = 0x80 | bits 15-12, byte 7
// bits 11-4, byte 8 = 0x80 | bits 3-0, bytes 9-15 "npu-uid". Lower-case
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
NPU_API std::string uuid_from_serial(uint64_t serial);

// What a failed job reported (DRM_IOCTL_NPU_WAIT), as JobError carries it.
struct JobFailure {
    uint32_t status = 0; // DRM_NPU_JOB_STATUS_*
    uint64_t seqno = 0;
    uint32_t queue_id = 0;
    uint32_t err_offset = 0; // command buffer offset of the failing packet
    uint64_t fault_addr = 0; // PAGE_FAULT: the faulting device address
};

// A device clock reading paired with the host's CLOCK_MONOTONIC, for
// profilers that put device timestamps (Event::device_timestamp()) on the
// host timeline: host_ns - device_ns is the offset between the clocks, known
// to +/- uncertainty_ns.
struct ClockPair {
    uint64_t device_ns = 0;
    uint64_t host_ns = 0;
    uint64_t uncertainty_ns = 0;
};

// Which device context (open file) a Device handle gets.
//  - primary:  the process's one context for that device node, shared by
//              every primary open of it (CUDA's primary context): buffers,
//              streams and events of all of them work together.
//  - separate: a new context of its own (own address space, queues, job
//              accounting).
enum class Context : uint8_t { primary, separate };

// A handle to an open device. Copies share one open file (one device
// context); Buffers, Streams, Events and pools keep it open while they live.
// Opening a device (any of the ways below) returns the process's primary
// context for it unless Context::separate is asked for. Thread-safe.
//
// Hot-unplug: when the device goes away (its PCI device is unbound), every
// later call that needs the kernel throws Error(ENODEV); lost() turns true.
class NPU_API Device {
public:
    [[nodiscard]] static std::vector<DeviceInfo>
    enumerate(const std::shared_ptr<OsInterface>& os = default_os_interface());

    // Opens device number `index` of enumerate(); ENODEV if there is none.
    explicit Device(unsigned index, const std::shared_ptr<OsInterface>& os = default_os_interface(),
                    Context context = Context::primary);
    // Opens the device at a PCI address ("0000:00:03.0" or "00:03.0").
    [[nodiscard]] static Device
    open_pci(std::string_view pci_address,
             const std::shared_ptr<OsInterface>& os = default_os_interface(),
             Context context = Context::primary);
    // Opens the device whose uuid_from_serial() is uuid (case-insensitive).
    [[nodiscard]] static Device
    open_uuid(std::string_view uuid,
              const std::shared_ptr<OsInterface>& os = default_os_interface(),
              Context context = Context::primary);
    // Opens by selector: an index ("1"), a PCI address ("0000:00:05.0" or
    // "00:05.0") or a UUID; ENODEV if nothing matches.
    [[nodiscard]] static Device
    select(std::string_view selector,
           const std::shared_ptr<OsInterface>& os = default_os_interface(),
           Context context = Context::primary);
    // Opens a node from enumerate().
    [[nodiscard]] static Device
    open(const DeviceInfo& info, const std::shared_ptr<OsInterface>& os = default_os_interface(),
         Context context = Context::primary);

    [[nodiscard]] const DeviceInfo& info() const noexcept;
    [[nodiscard]] uint64_t param(uint32_t param) const;
    [[nodiscard]] DeviceProperties properties() const;
    [[nodiscard]] const DriverApi& driver() const noexcept;
    // uuid_from_serial(DRM_NPU_PARAM_SERIAL)
    [[nodiscard]] std::string uuid() const;
    // Whether the device was found gone (an ioctl returned ENODEV).
    [[nodiscard]] bool lost() const noexcept;
    // The device's default memory pool (pool.hpp), created on first use and
    // kept while any handle to it (or an allocation from it) lives.
    [[nodiscard]] MemoryPool default_pool() const;
    // Whether this is the process's primary context for the device.
    [[nodiscard]] bool primary_context() const noexcept;
    // Reads the device clock with a one-packet job (TIMESTAMP) on queue 0,
    // bracketed by host clock reads; the tightest of a few tries.
    [[nodiscard]] ClockPair clock_pair() const;

    // Whether two handles share one open file.
    friend bool operator==(const Device& a, const Device& b) noexcept {
        return a.state_ == b.state_;
    }

private:
    explicit Device(std::shared_ptr<detail::DeviceState> state);
    static Device open_state(std::shared_ptr<detail::DeviceState> state) {
        return Device(std::move(state));
    }
    friend struct detail::StreamImpl;
    friend class Buffer;
    friend class Stream;
    friend class Event;
    friend class MemoryPool;
    friend struct detail::MemoryAccess; // memory.hpp

    std::shared_ptr<detail::DeviceState> state_;
};

} // namespace npu
