// npu::mgmt: PCI placement of devices and how two devices are connected.
#include "management_files.hpp"
#include "npu/management.hpp"

namespace npu::mgmt {

using namespace detail;

Topology System::topology(const DeviceIdentity& device) const {
    Topology topo;
    topo.pci_address = device.pci_address;
    const std::string dir = pci_dir(device);
    // /sys/bus/pci/devices/X links to ../../../devices/pci0000:00/[bridges/]X
    if (const auto link = read_link(dir)) {
        bool under_root = false;
        size_t start = 0;
        while (start <= link->size()) {
            size_t end = link->find('/', start);
            if (end == std::string::npos)
                end = link->size();
            const std::string part = link->substr(start, end - start);
            under_root = under_root || part.starts_with("pci");
            if (under_root && !part.empty())
                topo.pci_path.push_back(part);
            start = end + 1;
        }
    }
    if (topo.pci_path.empty())
        topo.pci_path.push_back(device.pci_address);
    if (const auto numa = read_i64(dir + "/numa_node"); numa && *numa >= 0)
        topo.numa_node = static_cast<int>(*numa);
    topo.local_cpus = read_text(dir + "/local_cpulist");
    return topo;
}

std::string link_between(const Topology& a, const Topology& b) {
    if (a.pci_address == b.pci_address)
        return "SELF";
    if (!a.pci_path.empty() && !b.pci_path.empty() && a.pci_path[0] == b.pci_path[0]) {
        // Both paths end in the devices; a shared element in between is a bridge.
        size_t common = 0;
        while (common + 1 < a.pci_path.size() && common + 1 < b.pci_path.size() &&
               a.pci_path[common] == b.pci_path[common])
            ++common;
        return common > 1 ? "PIX" : "PHB";
    }
    return a.numa_node == b.numa_node ? "NODE" : "SYS";
}

} // namespace npu::mgmt
