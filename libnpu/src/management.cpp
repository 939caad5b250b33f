// npu::mgmt: device identity and telemetry from sysfs, hwmon and debugfs.
#include "npu/management.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <thread>

#include <npu_hw.h>

#include "management_files.hpp"
#include "npu/error.hpp"
#include "visible_devices.hpp"

namespace npu::mgmt {

using namespace detail;

namespace {

constexpr const char* kDriverName = "npu";

std::string lower(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

// The device node the driver created under the PCI function, if any.
std::string node_of(const std::string& pci_dir) {
    for (const auto& name : list_dir(pci_dir + "/accel"))
        if (name.starts_with("accel"))
            return "/dev/accel/" + name;
    for (const auto& name : list_dir(pci_dir + "/drm"))
        if (name.starts_with("renderD"))
            return "/dev/dri/" + name;
    return {};
}

// The hwmon directory the driver registered (name "npu").
std::optional<std::string> hwmon_dir(const std::string& pci_dir) {
    for (const auto& name : list_dir(pci_dir + "/hwmon")) {
        const std::string dir = pci_dir + "/hwmon/" + name;
        if (read_text(dir + "/name") == kDriverName)
            return dir;
    }
    return std::nullopt;
}

// Device memory: BAR2 from NPU_DEVMEM_OFFSET to its end (docs/hardware.md).
std::optional<uint64_t> devmem_size(const std::string& pci_dir) {
    const auto text = read_text(pci_dir + "/resource");
    if (!text)
        return std::nullopt;
    unsigned long long start = 0, end = 0, flags = 0;
    size_t line_start = 0;
    for (int bar = 0; bar <= 2; ++bar) {
        const size_t line_end = text->find('\n', line_start);
        if (bar == 2) {
            const std::string line = text->substr(line_start, line_end - line_start);
            if (std::sscanf(line.c_str(), "%llx %llx %llx", &start, &end, &flags) != 3 ||
                end <= start)
                return std::nullopt;
            const uint64_t size = end - start + 1;
            return size > NPU_DEVMEM_OFFSET ? std::optional(size - NPU_DEVMEM_OFFSET)
                                            : std::nullopt;
        }
        if (line_end == std::string::npos)
            return std::nullopt;
        line_start = line_end + 1;
    }
    return std::nullopt;
}

// The engineN/ directories the driver created: N = 0, 1, ... without gaps.
unsigned engine_dirs(const std::string& pci_dir) {
    unsigned count = 0;
    while (read_text(pci_dir + "/engine" + std::to_string(count) + "/state"))
        ++count;
    return count;
}

std::optional<double> busy_percent(uint64_t busy_delta, uint64_t wall_delta) {
    if (wall_delta == 0)
        return std::nullopt;
    return std::min(100.0,
                    100.0 * static_cast<double>(busy_delta) / static_cast<double>(wall_delta));
}

} // namespace

System::System(std::string root) : root_(std::move(root)), privileged_(::geteuid() == 0) {
    while (!root_.empty() && root_.back() == '/')
        root_.pop_back();
}

std::string System::path(std::string_view absolute) const {
    return root_ + std::string(absolute);
}

std::string System::pci_dir(const DeviceIdentity& device) const {
    return path("/sys/bus/pci/devices/") + device.pci_address;
}

std::vector<DeviceIdentity> System::devices() const {
    std::vector<DeviceIdentity> found;
    const std::string bus = path("/sys/bus/pci/devices");
    const auto driver_version = read_text(path("/sys/module/npu/version"));
    for (const auto& address : list_dir(bus)) {
        const std::string dir = bus + "/" + address;
        const auto driver_link = read_link(dir + "/driver");
        const std::string driver = driver_link ? basename_of(*driver_link) : "";
        const auto vendor = read_u64(dir + "/vendor", 0);
        const auto device = read_u64(dir + "/device", 0);
        const bool npu_id = vendor == NPU_PCI_VENDOR_ID && device == NPU_PCI_DEVICE_ID;
        // An unbound function with our ID is an NPU between unbind and bind.
        if (driver != kDriverName && !(driver.empty() && npu_id))
            continue;
        DeviceIdentity id;
        id.pci_address = address;
        id.name = kDriverName;
        id.driver = driver;
        if (!driver.empty()) {
            id.node = node_of(dir);
            id.serial = read_text(dir + "/serial");
            id.uuid = read_text(dir + "/uuid");
            id.firmware_version = read_text(dir + "/fw_version");
            id.driver_version = driver_version;
        }
        if (vendor)
            id.vendor_id = static_cast<uint32_t>(*vendor);
        if (device)
            id.device_id = static_cast<uint32_t>(*device);
        found.push_back(std::move(id));
    }
    // list_dir sorted them by address; NPU_VISIBLE_DEVICES restricts and
    // renumbers as it does for Device::enumerate().
    const auto visible = npu::detail::visible_devices(
        npu::detail::visible_devices_env(), found.size(), [&](size_t i) { return found[i].uuid; },
        [&](size_t i) { return found[i].pci_address; });
    std::vector<DeviceIdentity> chosen;
    for (const size_t position : visible)
        chosen.push_back(std::move(found[position]));
    for (unsigned i = 0; i < chosen.size(); ++i)
        chosen[i].index = i;
    return chosen;
}

DeviceIdentity System::find(std::string_view id) const {
    const auto all = devices();
    const std::string wanted = lower(id);
    const bool numeric =
        !wanted.empty() &&
        std::all_of(wanted.begin(), wanted.end(), [](unsigned char c) { return std::isdigit(c); });
    for (const auto& device : all) {
        if (numeric && wanted.size() < 6 && std::to_string(device.index) == wanted)
            return device;
        if (device.pci_address == wanted || device.pci_address == "0000:" + wanted ||
            device.node == id || (device.uuid && lower(*device.uuid) == wanted) ||
            (device.serial && lower(*device.serial) == wanted))
            return device;
    }
    throw Error(ENODEV, "no NPU device '" + std::string(id) + "' (" + std::to_string(all.size()) +
                            " found; use an index, PCI address, UUID or serial)");
}

Telemetry System::telemetry(const DeviceIdentity& device, std::chrono::milliseconds window) {
    const std::string dir = pci_dir(device);
    Telemetry t;
    if (device.driver.empty()) {
        t.state = "unbound";
        return t;
    }
    if (auto state = read_text(dir + "/state"))
        t.state = *state;
    else if (device.node.empty())
        t.state = "no_node";
    else if (!read_text(dir + "/fw_version"))
        t.state = "unavailable"; // attributes fail while the device goes away
    else
        t.state = "ready";
    t.runtime_pm = read_text(dir + "/power/runtime_status");

    if (auto hwmon = hwmon_dir(dir)) {
        if (auto mc = read_i64(*hwmon + "/temp1_input"))
            t.temperature_c = static_cast<double>(*mc) / 1000.0;
        if (auto uw = read_u64(*hwmon + "/power1_input"))
            t.power_w = static_cast<double>(*uw) / 1e6;
    }
    t.memory_used_bytes = read_u64(dir + "/mem_in_use");
    t.memory_total_bytes = devmem_size(dir);
    t.jobs_completed = read_u64(dir + "/jobs_completed");
    t.ops_completed = read_u64(dir + "/ops_completed");
    t.reset_count = read_u64(dir + "/reset_count");
    t.contexts = read_u64(dir + "/contexts");

    // A driver that counts operations also lists its engines (maybe none).
    const unsigned engines = engine_dirs(dir);
    if (t.ops_completed || engines)
        t.engine_count = engines;
    for (unsigned i = 0; i < engines; ++i) {
        const std::string engine = dir + "/engine" + std::to_string(i);
        EngineTelemetry e;
        e.index = i;
        e.state = read_text(engine + "/state");
        e.tasks_done = read_u64(engine + "/tasks_done");
        t.engines.push_back(std::move(e));
    }

    // Utilisation: busy-time delta over wall-time delta, for the device
    // and each engine, between the previous sample and this one.
    BusySample now = busy_sample(dir, engines);
    if (now.busy_us || engines) {
        const auto previous = last_busy_.find(device.pci_address);
        // The device's busy time restarts with the firmware: then, as
        // without a previous sample, measure over a window of our own.
        const bool usable =
            previous != last_busy_.end() && previous->second.engine_busy_ns.size() == engines &&
            !(previous->second.busy_us && now.busy_us && *previous->second.busy_us > *now.busy_us);
        std::optional<BusySample> before;
        if (usable) {
            before = previous->second;
        } else if (window.count() > 0) {
            before = now;
            std::this_thread::sleep_for(window);
            now = busy_sample(dir, engines);
        }
        if (before)
            apply_utilization(t, *before, now);
        last_busy_[device.pci_address] = now;
    }
    t.busy_time_us = now.busy_us;
    for (unsigned i = 0; i < engines; ++i)
        t.engines[i].busy_ns = now.engine_busy_ns[i];
    return t;
}

System::BusySample System::busy_sample(const std::string& pci_dir, unsigned engines) {
    BusySample sample;
    sample.busy_us = read_u64(pci_dir + "/busy_time_us");
    for (unsigned i = 0; i < engines; ++i)
        sample.engine_busy_ns.push_back(
            read_u64(pci_dir + "/engine" + std::to_string(i) + "/busy_ns"));
    sample.when = std::chrono::steady_clock::now();
    return sample;
}

void System::apply_utilization(Telemetry& t, const BusySample& before, const BusySample& now) {
    const auto wall_ns = static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(now.when - before.when).count()));
    if (before.busy_us && now.busy_us && *now.busy_us >= *before.busy_us)
        t.utilization_percent = busy_percent(*now.busy_us - *before.busy_us, wall_ns / 1000);
    double sum = 0;
    unsigned measured = 0;
    for (size_t i = 0; i < t.engines.size() && i < now.engine_busy_ns.size(); ++i) {
        const auto& was = before.engine_busy_ns[i];
        const auto& is = now.engine_busy_ns[i];
        if (!was || !is || *is < *was)
            continue; // a counter that went backwards: a device that lost power
        t.engines[i].utilization_percent = busy_percent(*is - *was, wall_ns);
        if (t.engines[i].utilization_percent) {
            sum += *t.engines[i].utilization_percent;
            ++measured;
        }
    }
    if (measured && measured == t.engines.size())
        t.engine_utilization_percent = sum / measured;
}

FirmwareInfo System::firmware(const DeviceIdentity& device, bool with_log) const {
    FirmwareInfo info;
    info.pci_address = device.pci_address;
    info.version = read_text(pci_dir(device) + "/fw_version");
    if (with_log)
        info.log = read_text(path("/sys/kernel/debug/npu/") + device.pci_address + "/fw_log");
    return info;
}

std::optional<Counters> System::counters(const DeviceIdentity& device) const {
    const auto text = read_text(path("/sys/kernel/debug/npu/") + device.pci_address + "/counters");
    if (!text)
        return std::nullopt;
    Counters counters;
    for (const auto& words : split_lines(*text)) {
        if (words.size() == 2 && all_digits(words[1]))
            counters[words[0]] = std::stoull(words[1]);
    }
    return counters;
}

} // namespace npu::mgmt
