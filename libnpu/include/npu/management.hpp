// npu::mgmt: the management API under npu-smi (what NVML is to nvidia-smi).
//
// Reads what the driver publishes in sysfs (docs/driver-sysfs.md), hwmon,
// debugfs and /proc; it never opens a device node, so it works without
// access to the nodes and creates no device context. Every path is taken
// relative to a root directory ("/" normally) so tests can point it at a
// fake tree. A value the system does not provide (older driver, no debugfs,
// device going away) is std::nullopt, never an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "npu/export.hpp"

namespace npu::mgmt {

// Who a device is. Stable while the device stays bound.
struct DeviceIdentity {
    unsigned index = 0;      // position in PCI-address order among NPU functions
    std::string pci_address; // "0000:00:05.0" (the BDF)
    std::string name;        // "npu"
    std::string node;        // "/dev/accel/accel0" or "/dev/dri/renderD128"; empty if none
    std::string driver;      // driver bound to the PCI function; empty if unbound
    std::optional<std::string> serial;           // 16 hex digits
    std::optional<std::string> uuid;             // RFC 9562 text form
    std::optional<std::string> firmware_version; // "0.1.0"
    std::optional<std::string> driver_version;   // module version
    std::optional<uint32_t> vendor_id;
    std::optional<uint32_t> device_id;
};

// One tensor engine (the driver's engineN/ directory). The engine counts
// busy time and tasks from power-on, across firmware boots and resets.
struct EngineTelemetry {
    unsigned index = 0;
    std::optional<std::string> state;          // "idle", "busy"
    std::optional<double> utilization_percent; // busy time over the sample window
    std::optional<uint64_t> tasks_done;        // tiles of operations completed
    std::optional<uint64_t> busy_ns;           // time executing tasks
};

// What the device is doing now.
//   ready      bound, node present, firmware version known
//   no_node    bound but the device node is missing (probing or failing)
//   unbound    no driver bound (e.g. in the middle of a reset)
//   <other>    whatever the driver's `state` attribute says, if it has one
struct Telemetry {
    std::string state;
    std::optional<std::string> runtime_pm;      // "active", "suspended", ...
    std::optional<double> temperature_c;        // hwmon temp1_input
    std::optional<double> power_w;              // hwmon power1_input
    std::optional<double> utilization_percent;  // busy time over the sample window
    std::optional<uint64_t> memory_used_bytes;  // buffer objects alive (mem_in_use)
    std::optional<uint64_t> memory_total_bytes; // device memory (BAR2 past NPU_DEVMEM_OFFSET)
    std::optional<uint64_t> busy_time_us;       // since firmware boot
    std::optional<uint64_t> jobs_completed;     // since firmware boot
    std::optional<uint64_t> ops_completed;      // operation packets since firmware boot
    std::optional<uint64_t> reset_count;        // recoveries since probe
    std::optional<uint64_t> contexts;           // open files
    // Tensor engines, in order; engine_count is absent (and engines empty)
    // with a driver that does not publish them.
    std::optional<unsigned> engine_count;
    std::vector<EngineTelemetry> engines;
    std::optional<double> engine_utilization_percent; // mean over the engines
};

// One process holding a device node open.
struct Process {
    int pid = 0;
    std::string name; // /proc/PID/comm
    unsigned device_index = 0;
    std::string pci_address;
    unsigned fds = 0;                     // descriptors on the node
    std::optional<uint64_t> memory_bytes; // BO bytes of its contexts (fdinfo, else debugfs)
    std::optional<uint64_t> busy_ns;      // device time of its jobs (fdinfo drm-engine-*)
    std::optional<uint64_t> jobs_submitted;
    std::optional<uint64_t> jobs_completed;
    std::optional<uint64_t> jobs_failed;
    // The Slurm job the process runs in: from its cgroup (".../job_<id>/..."),
    // else from its environment (SLURM_JOB_ID, readable for one's own
    // processes and by root).
    std::optional<std::string> slurm_job_id;
};

struct Topology {
    std::string pci_address;
    std::vector<std::string> pci_path; // root port .. device, e.g. {"pci0000:00", "0000:00:05.0"}
    std::optional<int> numa_node;      // absent when the kernel says -1
    std::optional<std::string> local_cpus; // cpulist
};

// How two devices are connected, nvidia-smi style.
//   SELF  the same device
//   PIX   behind the same PCIe bridge
//   PHB   under the same PCI host bridge
//   NODE  different host bridges, same NUMA node
//   SYS   across NUMA nodes
NPU_API std::string link_between(const Topology& a, const Topology& b);

struct FirmwareInfo {
    std::string pci_address;
    std::optional<std::string> version;
    std::optional<std::string> log; // debugfs fw_log (root only)
};

struct ResetOptions {
    bool force = false;                                           // even if processes hold it
    std::chrono::milliseconds timeout = std::chrono::seconds(30); // for the rebind
};

// Counters debugfs keeps for leak checks ("contexts", "bos", ...).
using Counters = std::map<std::string, uint64_t>;

class NPU_API System {
public:
    // root: prefix for /sys, /proc and /dev ("" or "/" = the real system).
    explicit System(std::string root = "");

    // Every PCI function bound to the npu driver or matching its ID, in PCI order.
    [[nodiscard]] std::vector<DeviceIdentity> devices() const;
    // A device by index, PCI address (full or "00:05.0"), UUID, serial or
    // node path. Throws npu::Error(ENODEV) naming what was asked for.
    [[nodiscard]] DeviceIdentity find(std::string_view id) const;

    // Reads the sensors and counters. Utilisation (device and engines)
    // needs two busy-time samples: the previous one taken for this device
    // by this System (watch mode) if there is one, else two samples
    // `window` apart.
    [[nodiscard]] Telemetry
    telemetry(const DeviceIdentity& device,
              std::chrono::milliseconds window = std::chrono::milliseconds(100));
    // Whether telemetry() has a busy-time sample of this device to compare with.
    [[nodiscard]] bool has_busy_sample(const DeviceIdentity& device) const {
        return last_busy_.contains(device.pci_address);
    }
    [[nodiscard]] std::vector<Process> processes(const std::vector<DeviceIdentity>& devices) const;
    [[nodiscard]] Topology topology(const DeviceIdentity& device) const;
    [[nodiscard]] FirmwareInfo firmware(const DeviceIdentity& device, bool with_log) const;
    [[nodiscard]] std::optional<Counters> counters(const DeviceIdentity& device) const;

    // Resets the device by unbinding and rebinding its driver (through the
    // PCI function reset when the function has one). Needs root (EPERM);
    // EBUSY while processes hold it unless options.force. Returns once the
    // device is bound again with its node present; ETIMEDOUT otherwise.
    void reset(const DeviceIdentity& device, const ResetOptions& options = {});

    // Whether this process may reset devices (effective uid 0); tests override.
    void set_privileged(bool privileged) { privileged_ = privileged; }
    [[nodiscard]] const std::string& root() const noexcept { return root_; }

private:
    struct BusySample {
        std::optional<uint64_t> busy_us;                     // device, busy_time_us
        std::vector<std::optional<uint64_t>> engine_busy_ns; // per engine
        std::chrono::steady_clock::time_point when;
    };
    [[nodiscard]] static BusySample busy_sample(const std::string& pci_dir, unsigned engines);
    static void apply_utilization(Telemetry& t, const BusySample& before, const BusySample& now);

    [[nodiscard]] std::string path(std::string_view absolute) const;
    [[nodiscard]] std::string pci_dir(const DeviceIdentity& device) const;

    std::string root_;
    bool privileged_;
    std::map<std::string, BusySample> last_busy_; // by PCI address
};

} // namespace npu::mgmt
