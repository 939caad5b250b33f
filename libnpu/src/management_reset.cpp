// npu::mgmt: device reset by rebinding the driver. Unbinding tears the
// device down like a hot unplug (open files see ENODEV), binding probes it
// again: firmware reload, fresh queues. A PCI function reset is done in
// between when the function supports one.
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "management_files.hpp"
#include "npu/error.hpp"
#include "npu/management.hpp"

namespace npu::mgmt {

using namespace detail;

void System::reset(const DeviceIdentity& device, const ResetOptions& options) {
    const std::string what = "reset " + device.pci_address;
    if (!privileged_)
        throw Error(EPERM, what + " (needs root)");
    if (!options.force) {
        const auto holders = processes({device});
        if (!holders.empty()) {
            std::string list;
            for (const auto& p : holders)
                list += (list.empty() ? "" : ", ") + std::to_string(p.pid) + " (" + p.name + ")";
            throw Error(EBUSY, what + ": in use by " + list + "; stop them or use --force");
        }
    }
    const std::string driver_dir = path("/sys/bus/pci/drivers/npu");
    const std::string dir = pci_dir(device);
    if (device.driver == "npu")
        write_text(driver_dir + "/unbind", device.pci_address);
    else if (!device.driver.empty())
        throw Error(EBUSY, what + ": bound to driver '" + device.driver + "', not npu");
    if (::access((dir + "/reset").c_str(), F_OK) == 0) // no FLR on some functions
        write_text(dir + "/reset", "1");
    write_text(driver_dir + "/bind", device.pci_address);

    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    for (;;) {
        const auto link = read_link(dir + "/driver");
        const bool bound = link && basename_of(*link) == "npu";
        if (bound && (!list_dir(dir + "/accel").empty() || !list_dir(dir + "/drm").empty()) &&
            read_text(dir + "/fw_version"))
            return;
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(ETIMEDOUT, what + ": device did not come back after rebind");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

} // namespace npu::mgmt
