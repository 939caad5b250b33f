// The system OsInterface: syscalls, drmIoctl() and libudev enumeration.
#include "npu/os_interface.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libudev.h>
#include <xf86drm.h>

#include <memory>
#include <mutex>
#include <string_view>

namespace npu {

OsInterface::~OsInterface() = default;

namespace {

struct UdevDeleter {
    void operator()(udev* u) const { udev_unref(u); }
    void operator()(udev_enumerate* e) const { udev_enumerate_unref(e); }
    void operator()(udev_device* d) const { udev_device_unref(d); }
};
template <typename T>
using UdevPtr = std::unique_ptr<T, UdevDeleter>;

std::string or_empty(const char* s) {
    return s ? std::string(s) : std::string();
}

class SystemOsInterface final : public OsInterface {
public:
    int open(const char* path, int flags) override { return ::open(path, flags); }
    int close(int fd) override { return ::close(fd); }
    int ioctl(int fd, unsigned long request, void* arg) override {
        return drmIoctl(fd, request, arg);
    }
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) override {
        return ::mmap(addr, length, prot, flags, fd, offset);
    }
    int munmap(void* addr, size_t length) override { return ::munmap(addr, length); }

    std::vector<DeviceNode> list_device_nodes() override {
        std::vector<DeviceNode> nodes;
        UdevPtr<udev> context(udev_new());
        if (!context)
            return nodes;
        for (const char* subsystem : {"accel", "drm"})
            add_nodes(context.get(), subsystem, nodes);
        return nodes;
    }

private:
    static void add_nodes(udev* context, const char* subsystem, std::vector<DeviceNode>& nodes) {
        UdevPtr<udev_enumerate> enumerate(udev_enumerate_new(context));
        if (!enumerate || udev_enumerate_add_match_subsystem(enumerate.get(), subsystem) < 0 ||
            udev_enumerate_scan_devices(enumerate.get()) < 0)
            return;
        udev_list_entry* entry = nullptr;
        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(enumerate.get())) {
            UdevPtr<udev_device> dev(
                udev_device_new_from_syspath(context, udev_list_entry_get_name(entry)));
            if (!dev)
                continue;
            const std::string sysname = or_empty(udev_device_get_sysname(dev.get()));
            const std::string_view kind(subsystem);
            if (kind == "drm" && !sysname.starts_with("renderD"))
                continue; // card and connector nodes are not for compute
            if (kind == "accel" && !sysname.starts_with("accel"))
                continue;
            DeviceNode node;
            node.subsystem = subsystem;
            node.path = or_empty(udev_device_get_devnode(dev.get()));
            if (node.path.empty()) // no DEVNAME (e.g. no devtmpfs info): use the usual place
                node.path = (kind == "accel" ? "/dev/accel/" : "/dev/dri/") + sysname;
            // The parent is owned by dev; no unref.
            udev_device* pci =
                udev_device_get_parent_with_subsystem_devtype(dev.get(), "pci", nullptr);
            if (pci) {
                node.pci_address = or_empty(udev_device_get_sysname(pci));
                node.driver = or_empty(udev_device_get_driver(pci));
            }
            nodes.push_back(std::move(node));
        }
    }
};

std::mutex default_mutex; // protects default_os
std::shared_ptr<OsInterface> default_os;

} // namespace

std::shared_ptr<OsInterface> system_os_interface() {
    static const auto system = std::make_shared<SystemOsInterface>();
    return system;
}

std::shared_ptr<OsInterface> default_os_interface() {
    std::lock_guard lock(default_mutex);
    return default_os ? default_os : system_os_interface();
}

void set_default_os_interface(std::shared_ptr<OsInterface> os) {
    std::lock_guard lock(default_mutex);
    default_os = std::move(os);
}

} // namespace npu
