#include "npu/device.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "device_state.hpp"
#include "npu/error.hpp"
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

Device::Device(unsigned index, const std::shared_ptr<OsInterface>& os) {
    auto devices = enumerate(os);
    if (index >= devices.size())
        throw Error(ENODEV, "open NPU device " + std::to_string(index) + " (" +
                                std::to_string(devices.size()) + " found)");
    state_ = open(devices[index], os).state_;
}

Device Device::open_pci(std::string_view pci_address, const std::shared_ptr<OsInterface>& os) {
    const std::string wanted = normalize_pci(pci_address);
    for (const auto& info : enumerate(os))
        if (info.pci_address == wanted)
            return open(info, os);
    throw Error(ENODEV, "open NPU device at PCI address " + wanted);
}

Device Device::open_uuid(std::string_view uuid, const std::shared_ptr<OsInterface>& os) {
    const std::string wanted = lower(uuid);
    for (const auto& info : enumerate(os)) {
        try {
            Device device = open(info, os);
            if (device.uuid() == wanted)
                return device;
        } catch (const Error&) { // a device we may not open is not the one
        }
    }
    throw Error(ENODEV, "open NPU device with UUID " + wanted);
}

Device Device::select(std::string_view selector, const std::shared_ptr<OsInterface>& os) {
    if (is_index(selector))
        return Device(static_cast<unsigned>(std::stoul(std::string(selector))), os);
    if (selector.size() == 36 && std::count(selector.begin(), selector.end(), '-') == 4)
        return open_uuid(selector, os);
    return open_pci(selector, os);
}

Device Device::open(const DeviceInfo& info, const std::shared_ptr<OsInterface>& os) {
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
    return Device(std::move(state));
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
