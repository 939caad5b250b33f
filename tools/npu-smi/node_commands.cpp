// What a node's schedulers and container runtimes are told about its NPUs:
// `gres` (Slurm's gres.conf lines) and `cdi generate` (a Container Device
// Interface spec). docs/slurm.md and docs/containers.md use them.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "npu/npu.h"
#include "npu/version.h"
#include "report.hpp"

namespace npu::smi {

namespace {

using nlohmann::json;

// The model name Slurm's Type= carries, from the PCI IDs.
std::string model_of(const mgmt::DeviceIdentity& d) {
    if (d.vendor_id == 0x1af4u && d.device_id == 0x1110u)
        return "vnpu"; // the virtual NPU (emulator/)
    if (d.vendor_id && d.device_id)
        return fmt::format("npu-{:04x}-{:04x}", *d.vendor_id, *d.device_id);
    return "npu";
}

// The devices that have a node: only those can be handed to jobs.
std::vector<mgmt::DeviceIdentity> with_nodes(Run& run) {
    std::vector<mgmt::DeviceIdentity> result;
    for (auto& d : run.selected())
        if (!d.node.empty())
            result.push_back(std::move(d));
        else
            run.context.err << fmt::format(
                "npu-smi: NPU {} ({}) has no device node (driver {}); left out\n", d.index,
                d.pci_address, d.driver.empty() ? "unbound" : d.driver);
    return result;
}

std::string real_path(const std::string& path) {
    char resolved[PATH_MAX];
    return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

// The libnpu this process loaded.
std::string loaded_libnpu() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&npu_device_count), &info) && info.dli_fname)
        return real_path(info.dli_fname);
    return {};
}

#if defined(__x86_64__)
constexpr const char* kMultiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
constexpr const char* kMultiarch = "aarch64-linux-gnu";
#elif defined(__riscv) && __riscv_xlen == 64
constexpr const char* kMultiarch = "riscv64-linux-gnu";
#else
constexpr const char* kMultiarch = "";
#endif

json bind_mount(const std::string& host, const std::string& container) {
    return {{"hostPath", host},
            {"containerPath", container},
            {"options", json::array({"ro", "nosuid", "nodev", "bind"})}};
}

} // namespace

int run_gres(Run& run) {
    const auto devices = with_nodes(run);
    std::string counts;
    std::map<std::string, unsigned> per_model;
    for (const auto& d : devices)
        ++per_model[model_of(d)];
    for (const auto& [model, n] : per_model)
        counts += fmt::format("{}npu:{}:{}", counts.empty() ? "" : ",", model, n);
    if (run.options.format == Format::json) {
        json doc = document("gres");
        doc["gres"] = json::array();
        for (const auto& d : devices)
            doc["gres"].push_back({{"name", "npu"},
                                   {"type", model_of(d)},
                                   {"file", d.node},
                                   {"index", d.index},
                                   {"pci_address", d.pci_address},
                                   {"uuid", d.uuid ? json(*d.uuid) : json()}});
        doc["slurm_conf_gres"] = counts;
        run.out << doc.dump(2) << "\n";
        return 0;
    }
    char host[HOST_NAME_MAX + 1] = {};
    ::gethostname(host, sizeof(host) - 1);
    const std::string node = run.options.node_name;
    run.out << fmt::format("# gres.conf for {}: {} NPU(s), from npu-smi gres\n",
                           node.empty() ? host : node, devices.size());
    run.out << fmt::format("# slurm.conf: GresTypes=npu, and on this node's line Gres={}\n",
                           counts.empty() ? "(none)" : counts);
    for (const auto& d : devices)
        run.out << fmt::format("{}Name=npu Type={} File={}\n",
                               node.empty() ? "" : "NodeName=" + node + " ", model_of(d), d.node);
    return 0;
}

int run_cdi_generate(Run& run) {
    const auto devices = with_nodes(run);
    const std::string kind = run.options.cdi_vendor + "/npu";
    // Every container that gets an NPU also gets libnpu and npu-smi, at the
    // places a Debian-based image looks for them.
    json common_mounts = json::array();
    const std::string library =
        run.options.cdi_library.empty() ? loaded_libnpu() : real_path(run.options.cdi_library);
    if (!library.empty())
        common_mounts.push_back(bind_mount(library, std::string("/usr/lib/") + kMultiarch +
                                                        (*kMultiarch ? "/" : "") + "libnpu.so." +
                                                        std::to_string(NPU_VERSION_MAJOR)));
    const std::string smi =
        run.options.cdi_smi.empty() ? real_path("/proc/self/exe") : real_path(run.options.cdi_smi);
    common_mounts.push_back(bind_mount(smi, "/usr/bin/npu-smi"));

    json spec = {{"cdiVersion", "0.5.0"}, {"kind", kind}};
    spec["containerEdits"] = {{"mounts", common_mounts}};
    spec["devices"] = json::array();
    json all_nodes = json::array();
    for (const auto& d : devices) {
        const json node = {{"path", d.node}};
        all_nodes.push_back(node);
        // libnpu and npu-smi in the container enumerate through sysfs,
        // which shows every NPU of the host: NPU_VISIBLE_DEVICES keeps
        // them to this one, numbered 0 there.
        json edits = {{"deviceNodes", json::array({node})}};
        if (d.uuid)
            edits["env"] = json::array({"NPU_VISIBLE_DEVICES=" + *d.uuid});
        spec["devices"].push_back({{"name", std::to_string(d.index)}, {"containerEdits", edits}});
        if (d.uuid)
            spec["devices"].push_back({{"name", *d.uuid}, {"containerEdits", edits}});
    }
    if (!all_nodes.empty())
        spec["devices"].push_back(
            {{"name", "all"}, {"containerEdits", {{"deviceNodes", all_nodes}}}});
    run.out << spec.dump(2) << "\n";
    return 0;
}

} // namespace npu::smi
