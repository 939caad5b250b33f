// FakeTree: a temporary directory shaped like /sys, /proc and debugfs of a
// machine with NPUs, for the management API and npu-smi. Removed on
// destruction.
#pragma once

#include <string>

namespace npu::testing {

struct FakeNpu {
    std::string pci_address = "0000:00:03.0";
    std::string parent = "pci0000:00"; // path from the host bridge, '/'-separated
    std::string node = "accel0";       // accelN or renderDN; "" = no node
    std::string driver = "npu";        // "" = unbound
    std::string serial = "9430a88e132f087d";
    std::string uuid = "9430a88e-132f-8087-8d6e-70752d756964";
    std::string fw_version = "0.1.0";
    uint64_t busy_time_us = 1000;
    uint64_t jobs_completed = 42;
    uint64_t ops_completed = 17;       // -1: a driver without engines (no engineN/ either)
    unsigned engines = 4;              // engineN/: engine 0 busy, the others idle
    uint64_t engine_busy_ns = 5000000; // engine i: (i + 1) times this
    uint64_t engine_tasks_done = 100;  // engine i: this + i
    uint64_t mem_in_use = 2 << 20;
    uint64_t bar2_size = 64 << 20;
    int temp_mc = 38500;
    uint64_t power_uw = 15000000;
    int numa_node = -1;
};

class FakeTree {
public:
    FakeTree();
    ~FakeTree();
    FakeTree(const FakeTree&) = delete;
    FakeTree& operator=(const FakeTree&) = delete;

    [[nodiscard]] const std::string& root() const { return root_; }

    void add_npu(const FakeNpu& npu);
    // Two NPUs: 0000:00:03.0 (accel0, the FakeNpu defaults) and
    // 0000:00:05.0 (accel1), added in reverse PCI order.
    void add_two_npus();
    // A PCI function of another driver (must not be listed).
    void add_other(const std::string& pci_address, const std::string& driver);
    // A process with fd 3 (and more) open on /dev/<node>.
    void add_process(int pid, const std::string& comm, const std::string& node, int fds = 1);
    // debugfs contexts file for a device: lines after the header.
    void set_contexts(const std::string& pci_address, const std::string& lines);
    // Engine n's busy_ns of the device at pci_address.
    void set_engine_busy_ns(const std::string& pci_address, unsigned engine, uint64_t ns);

    void write(const std::string& relative, const std::string& text) const;
    [[nodiscard]] std::string read(const std::string& relative) const;
    void symlink(const std::string& target, const std::string& relative) const;
    void remove(const std::string& relative) const;

private:
    std::string root_;
};

} // namespace npu::testing
