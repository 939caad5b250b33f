// The operating-system boundary of libnpu. Every syscall libnpu makes goes
// through an OsInterface so tests can replace the kernel with a fake.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "npu/export.hpp"

namespace npu {

// A character device node a kernel driver created, with its PCI parent.
struct DeviceNode {
    std::string path;        // /dev/accel/accel0 or /dev/dri/renderD128
    std::string subsystem;   // "accel" or "drm"
    std::string pci_address; // "0000:00:03.0"; empty if the parent is not PCI
    std::string driver;      // driver bound to the PCI parent ("npu")
};

// Same contract as the syscalls: failures return -1 (MAP_FAILED for mmap)
// and set errno. Implementations must be thread-safe.
class NPU_API OsInterface {
public:
    OsInterface() = default;
    OsInterface(const OsInterface&) = delete;
    OsInterface& operator=(const OsInterface&) = delete;
    virtual ~OsInterface();

    virtual int open(const char* path, int flags) = 0;
    virtual int close(int fd) = 0;
    // Restarts on EINTR/EAGAIN, like drmIoctl().
    virtual int ioctl(int fd, unsigned long request, void* arg) = 0;
    virtual void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) = 0;
    virtual int munmap(void* addr, size_t length) = 0;
    // Every accel node and DRM render node, whatever its driver.
    virtual std::vector<DeviceNode> list_device_nodes() = 0;
};

// Real syscalls, libdrm and libudev.
NPU_API std::shared_ptr<OsInterface> system_os_interface();

// The interface used when none is passed explicitly (the C ABI always uses
// it). Defaults to system_os_interface(); tests install a fake; nullptr
// restores the system one.
NPU_API std::shared_ptr<OsInterface> default_os_interface();
NPU_API void set_default_os_interface(std::shared_ptr<OsInterface> os);

} // namespace npu
