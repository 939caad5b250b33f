#include "npu/device.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include <npu/uapi/drm/npu_packet.h>

#include "device_state.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"
#include "time.hpp"
#include "visible_devices.hpp"

namespace npu {

namespace {

constexpr const char* kDriverName = "npu";

// "00:03.0" -> "0000:00:03.0"; full addresses unchanged; lower case.
std::string normalize_pci(std::string_view address) {
    std::string result(address);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::count(result.begin(), result.end(), ':') == 1)
        result.insert(0, "0000:");
    return result;
}

bool is_index(std::string_view text) {
    return !text.empty() && text.size() < 10 &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string lower(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

// The primary contexts of this process: one DeviceState per (OS interface,
// node), kept while any handle lives. The pid is part of the key: a forked
// child gets contexts of its own.
struct PrimaryKey {
    const OsInterface* os;
    pid_t pid;
    std::string node;
    bool operator<(const PrimaryKey& other) const {
        return std::tie(os, pid, node) < std::tie(other.os, other.pid, other.node);
    }
};
std::mutex primary_mutex; // protects primaries
std::map<PrimaryKey, std::weak_ptr<detail::DeviceState>> primaries;

} // namespace

std::string uuid_from_serial(uint64_t serial) {
    uint8_t b[16];
    for (int i = 0; i < 6; ++i)
        b[i] = static_cast<uint8_t>(serial >> (56 - 8 * i));
    b[6] = static_cast<uint8_t>(0x80 | ((serial >> 12) & 0x0f));
    b[7] = static_cast<uint8_t>(serial >> 4);
    b[8] = static_cast<uint8_t>(0x80 | (serial & 0x0f));
    std::memcpy(&b[9], "npu-uid", 7);
    char text[37];
    std::snprintf(text, sizeof(text),
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return text;
}

std::string Version::str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::vector<DeviceInfo> Device::enumerate(const std::shared_ptr<OsInterface>& os) {
    std::vector<DeviceInfo> devices;
    for (auto& node : os->list_device_nodes()) {
        if (node.driver != kDriverName)
            continue;
        devices.push_back({0, std::move(node.path), std::move(node.pci_address)});
    }
    std::sort(devices.begin(), devices.end(), [](const DeviceInfo& a, const DeviceInfo& b) {
        return a.pci_address != b.pci_address ? a.pci_address < b.pci_address : a.node < b.node;
    });
    // NPU_VISIBLE_DEVICES restricts and renumbers (docs/sdk.md).
    const auto visible = detail::visible_devices(
        detail::visible_devices_env(), devices.size(),
        [&](size_t i) { return detail::sysfs_uuid("", devices[i].pci_address); },
        [&](size_t i) { return devices[i].pci_address; });
    std::vector<DeviceInfo> chosen;
    for (const size_t position : visible)
        chosen.push_back(devices[position]);
    for (unsigned i = 0; i < chosen.size(); ++i)
        chosen[i].index = i;
    return chosen;
}

Device::Device(std::shared_ptr<detail::DeviceState> state) : state_(std::move(state)) {}

Device::Device(unsigned index, const std::shared_ptr<OsInterface>& os, Context context) {
    auto devices = enumerate(os);
    if (index >= devices.size())
        throw Error(ENODEV, "open NPU device " + std::to_string(index) + " (" +
                                std::to_string(devices.size()) + " found)");
    state_ = open(devices[index], os, context).state_;
}

Device Device::open_pci(std::string_view pci_address, const std::shared_ptr<OsInterface>& os,
                        Context context) {
    const std::string wanted = normalize_pci(pci_address);
    for (const auto& info : enumerate(os))
        if (info.pci_address == wanted)
            return open(info, os, context);
    throw Error(ENODEV, "open NPU device at PCI address " + wanted);
}

Device Device::open_uuid(std::string_view uuid, const std::shared_ptr<OsInterface>& os,
                         Context context) {
    const std::string wanted = lower(uuid);
    for (const auto& info : enumerate(os)) {
        try {
            Device device = open(info, os, context);
            if (device.uuid() == wanted)
                return device;
        } catch (const Error&) { // a device we may not open is not the one
        }
    }
    throw Error(ENODEV, "open NPU device with UUID " + wanted);
}

Device Device::select(std::string_view selector, const std::shared_ptr<OsInterface>& os,
                      Context context) {
    if (is_index(selector))
        return Device(static_cast<unsigned>(std::stoul(std::string(selector))), os, context);
    if (selector.size() == 36 && std::count(selector.begin(), selector.end(), '-') == 4)
        return open_uuid(selector, os, context);
    return open_pci(selector, os, context);
}

Device Device::open(const DeviceInfo& info, const std::shared_ptr<OsInterface>& os,
                    Context context) {
    if (!os)
        throw Error(EINVAL, "open " + info.node + ": no OS interface");
    std::unique_lock<std::mutex> primary_lock;
    PrimaryKey key{os.get(), getpid(), info.node};
    if (context == Context::primary) {
        // Held across the open, so two threads opening at once share one.
        primary_lock = std::unique_lock(primary_mutex);
        auto it = primaries.find(key);
        if (it != primaries.end()) {
            if (auto state = it->second.lock(); state && !state->api.lost())
                return Device(std::move(state));
            primaries.erase(it);
        }
    }
    const int fd = os->open(info.node.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        throw Error(errno, "open " + info.node);
    // From here the state owns fd and closes it on any failure.
    auto state = std::make_shared<detail::DeviceState>(os, fd, info);
    std::string driver;
    try {
        driver = state->api.driver_name();
    } catch (const Error& e) {
        throw Error(e.errnum(), info.node + ": DRM_IOCTL_VERSION");
    }
    if (driver != kDriverName)
        throw Error(ENODEV, info.node + " is driven by '" + driver + "', not 'npu'");
    if (context == Context::primary) {
        for (auto it = primaries.begin(); it != primaries.end();) // drop the dead
            it = it->second.expired() ? primaries.erase(it) : std::next(it);
        state->primary = true;
        primaries[key] = state;
    }
    return Device(std::move(state));
}

bool Device::primary_context() const noexcept {
    return state_->primary;
}

ClockPair Device::clock_pair() const {
    // One page: the TIMESTAMP packet at 0, the stamp at 2048.
    Buffer page(*this, 4096, BufferKind::host_visible);
    constexpr size_t kStamp = 2048;
    npu_pkt_timestamp packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS);
    packet.dst = page.device_addr() + kStamp;
    std::memcpy(page.host_ptr(), &packet, sizeof(packet));
    const DriverApi& api = state_->api;
    const uint32_t handle = page.handle();
    ClockPair best{};
    for (int attempt = 0; attempt < 3; ++attempt) {
        DriverApi::Submit submit;
        submit.bo_handles = {&handle, 1};
        submit.cmd_addr = page.device_addr();
        submit.cmd_size = sizeof(packet);
        const int64_t before = detail::monotonic_now_ns();
        const uint64_t seqno = api.submit(submit);
        const auto result = api.wait(0, seqno, std::numeric_limits<int64_t>::max());
        const int64_t after = detail::monotonic_now_ns();
        if (!result || result->job_status != DRM_NPU_JOB_STATUS_OK)
            throw JobError(result ? result->job_status : DRM_NPU_JOB_STATUS_ABORTED, seqno,
                           result ? result->err_offset : 0, result ? result->fault_addr : 0);
        uint64_t stamp = 0;
        std::memcpy(&stamp, static_cast<const std::byte*>(page.host_ptr()) + kStamp, sizeof(stamp));
        const auto half = static_cast<uint64_t>(after - before) / 2;
        if (attempt == 0 || half < best.uncertainty_ns)
            best = {stamp, static_cast<uint64_t>(before) + half, half};
    }
    return best;
}

const DeviceInfo& Device::info() const noexcept {
    return state_->info;
}

const DriverApi& Device::driver() const noexcept {
    return state_->api;
}

std::string Device::uuid() const {
    return uuid_from_serial(param(DRM_NPU_PARAM_SERIAL));
}

bool Device::lost() const noexcept {
    return state_->api.lost();
}

uint64_t Device::param(uint32_t param) const {
    return state_->api.get_param(param);
}

DeviceProperties Device::properties() const {
    auto u32 = [this](uint32_t p) { return static_cast<uint32_t>(param(p)); };
    DeviceProperties props;
    props.pci_device_id = u32(DRM_NPU_PARAM_DEVICE_ID);
    props.revision = u32(DRM_NPU_PARAM_REVISION);
    props.hw_version = u32(DRM_NPU_PARAM_HW_VERSION);
    const uint32_t fw = u32(DRM_NPU_PARAM_FW_VERSION);
    props.fw_version = {fw >> 16 & 0xffff, fw >> 8 & 0xff, fw & 0xff};
    const uint32_t abi = u32(DRM_NPU_PARAM_FW_ABI);
    props.fw_abi = {abi >> 16 & 0xffff, abi & 0xffff, 0};
    props.devmem_size = param(DRM_NPU_PARAM_DEVMEM_SIZE);
    props.engine_count = u32(DRM_NPU_PARAM_ENGINE_COUNT);
    props.queue_count = u32(DRM_NPU_PARAM_QUEUE_COUNT);
    props.va_size = param(DRM_NPU_PARAM_VA_SIZE);
    props.serial = param(DRM_NPU_PARAM_SERIAL);
    props.uuid = uuid_from_serial(props.serial);
    props.context_id = u32(DRM_NPU_PARAM_CONTEXT_ID);
    props.max_cmd_size = u32(DRM_NPU_PARAM_MAX_CMD_SIZE);
    return props;
}

} // namespace npu
