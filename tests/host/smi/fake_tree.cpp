#include "fake_tree.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace npu::testing {

FakeTree::FakeTree() {
    std::string pattern = (fs::temp_directory_path() / "npu-smi-tree.XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    write("sys/module/npu/version", "0.1.0\n");
    write("sys/bus/pci/drivers/npu/bind", "");
    write("sys/bus/pci/drivers/npu/unbind", "");
    fs::create_directories(root_ + "/proc");
}

FakeTree::~FakeTree() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
}

void FakeTree::write(const std::string& relative, const std::string& text) const {
    const fs::path path = fs::path(root_) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

std::string FakeTree::read(const std::string& relative) const {
    std::ifstream in(fs::path(root_) / relative);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void FakeTree::symlink(const std::string& target, const std::string& relative) const {
    const fs::path path = fs::path(root_) / relative;
    fs::create_directories(path.parent_path());
    fs::create_symlink(target, path);
}

void FakeTree::remove(const std::string& relative) const {
    fs::remove_all(fs::path(root_) / relative);
}

void FakeTree::add_two_npus() {
    FakeNpu second;
    second.pci_address = "0000:00:05.0";
    second.node = "accel1";
    second.serial = "00000000000000aa";
    second.uuid = "00000000-0000-8000-8a6e-70752d756964";
    add_npu(second);
    add_npu(FakeNpu{});
}

void FakeTree::add_npu(const FakeNpu& npu) {
    const std::string dev = "sys/devices/" + npu.parent + "/" + npu.pci_address;
    symlink("../../../devices/" + npu.parent + "/" + npu.pci_address,
            "sys/bus/pci/devices/" + npu.pci_address);
    write(dev + "/vendor", "0x1af4\n");
    write(dev + "/device", "0x1110\n");
    write(dev + "/numa_node", fmt::format("{}\n", npu.numa_node));
    write(dev + "/local_cpulist", "0-1\n");
    write(dev + "/resource",
          fmt::format("0x00000000fe000000 0x00000000fe0000ff 0x0000000000040200\n"
                      "0x00000000fe001000 0x00000000fe001fff 0x0000000000040200\n"
                      "0x0000000800000000 0x{:016x} 0x000000000014220c\n"
                      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
                      0x800000000ull + npu.bar2_size - 1));
    if (npu.driver.empty())
        return;
    // From sys/devices/<parent>/<bdf>/ up to sys/.
    std::string up = "../../../";
    for (char c : npu.parent)
        if (c == '/')
            up += "../";
    symlink(up + "bus/pci/drivers/" + npu.driver, dev + "/driver");
    if (npu.node.starts_with("accel"))
        write(dev + "/accel/" + npu.node + "/dev", "261:0\n");
    else if (!npu.node.empty())
        write(dev + "/drm/" + npu.node + "/dev", "226:128\n");
    write(dev + "/fw_version", npu.fw_version + "\n");
    write(dev + "/serial", npu.serial + "\n");
    write(dev + "/uuid", npu.uuid + "\n");
    write(dev + "/busy_time_us", fmt::format("{}\n", npu.busy_time_us));
    write(dev + "/jobs_completed", fmt::format("{}\n", npu.jobs_completed));
    if (npu.ops_completed != ~uint64_t{0}) {
        write(dev + "/ops_completed", fmt::format("{}\n", npu.ops_completed));
        for (unsigned i = 0; i < npu.engines; ++i) {
            const std::string engine = fmt::format("{}/engine{}", dev, i);
            write(engine + "/busy_ns", fmt::format("{}\n", npu.engine_busy_ns * (i + 1)));
            write(engine + "/tasks_done", fmt::format("{}\n", npu.engine_tasks_done + i));
            write(engine + "/state", i == 0 ? "busy\n" : "idle\n");
            write(engine + "/busy_percent", "0\n");
        }
    }
    write(dev + "/mem_in_use", fmt::format("{}\n", npu.mem_in_use));
    write(dev + "/reset_count", "1\n");
    write(dev + "/contexts", "2\n");
    write(dev + "/power/runtime_status", "active\n");
    write(dev + "/hwmon/hwmon0/name", "npu\n");
    write(dev + "/hwmon/hwmon0/temp1_input", fmt::format("{}\n", npu.temp_mc));
    write(dev + "/hwmon/hwmon0/power1_input", fmt::format("{}\n", npu.power_uw));
    const std::string debug = "sys/kernel/debug/npu/" + npu.pci_address;
    write(debug + "/contexts", "id pid comm bos bo_bytes submitted completed failed\n");
    write(debug + "/fw_log", "npu-fw 0.1.0 booted\nqueues ready\n");
    write(debug + "/counters", "contexts 2\nvms 2\nbos 3\nbo_bytes 2097152\njobs 0\n"
                               "jobs_in_flight 0\nresets 1\n");
}

void FakeTree::set_engine_busy_ns(const std::string& pci_address, unsigned engine, uint64_t ns) {
    // through the bus link, as the management API reads it
    write(fmt::format("sys/bus/pci/devices/{}/engine{}/busy_ns", pci_address, engine),
          fmt::format("{}\n", ns));
}

void FakeTree::add_other(const std::string& pci_address, const std::string& driver) {
    const std::string dev = "sys/devices/pci0000:00/" + pci_address;
    symlink("../../../devices/pci0000:00/" + pci_address, "sys/bus/pci/devices/" + pci_address);
    write(dev + "/vendor", "0x8086\n");
    write(dev + "/device", "0x1234\n");
    symlink("../../../bus/pci/drivers/" + driver, dev + "/driver");
}

void FakeTree::add_process(int pid, const std::string& comm, const std::string& node, int fds) {
    const std::string proc = fmt::format("proc/{}", pid);
    write(proc + "/comm", comm + "\n");
    const std::string dev = node.starts_with("accel") ? "/dev/accel/" : "/dev/dri/";
    for (int fd = 3; fd < 3 + fds; ++fd) {
        symlink(dev + node, fmt::format("{}/fd/{}", proc, fd));
        write(fmt::format("{}/fdinfo/{}", proc, fd), "pos:\t0\nflags:\t02\n");
    }
    symlink("/dev/null", proc + "/fd/0");
}

void FakeTree::set_contexts(const std::string& pci_address, const std::string& lines) {
    write("sys/kernel/debug/npu/" + pci_address + "/contexts",
          "id pid comm bos bo_bytes submitted completed failed\n" + lines);
}

} // namespace npu::testing
