// npu-smi list: one row per device (table or JSON).
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "device_report.hpp"

namespace npu::smi {

namespace {

struct ListOptions {
    bool json = false;
};

std::string human_bytes(uint64_t bytes) {
    constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t unit = 0;
    auto value = static_cast<double>(bytes);
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    const bool whole = value == std::floor(value);
    return unit == 0 || value >= 100 || whole ? fmt::format("{:.0f} {}", value, units[unit])
                                              : fmt::format("{:.1f} {}", value, units[unit]);
}

nlohmann::json to_json(const DeviceReport& report) {
    nlohmann::json device = {
        {"index", report.info.index},
        {"node", report.info.node},
        {"pci_address", report.info.pci_address},
    };
    if (const auto& p = report.properties) {
        device["firmware_version"] = p->fw_version.str();
        device["firmware_abi"] = fmt::format("{}.{}", p->fw_abi.major, p->fw_abi.minor);
        device["memory_bytes"] = p->devmem_size;
        device["engines"] = p->engine_count;
        device["queues"] = p->queue_count;
        device["pci_device_id"] = fmt::format("0x{:04x}", p->pci_device_id);
        device["serial"] = fmt::format("0x{:016x}", p->serial);
    } else {
        device["error"] = report.error;
    }
    return device;
}

void print_table(const std::vector<DeviceReport>& reports, std::ostream& out) {
    constexpr const char* row = "{:<4} {:<22} {:<14} {:<10} {:>10} {:>8}\n";
    out << fmt::format(row, "IDX", "NODE", "PCI ADDRESS", "FIRMWARE", "MEMORY", "ENGINES");
    for (const auto& r : reports) {
        if (r.properties)
            out << fmt::format(row, r.info.index, r.info.node, r.info.pci_address,
                               r.properties->fw_version.str(),
                               human_bytes(r.properties->devmem_size), r.properties->engine_count);
        else
            out << fmt::format(row, r.info.index, r.info.node, r.info.pci_address, "-", "-", "-");
    }
}

int run_list(const ListOptions& options, Context& context) {
    const auto reports = query_devices(context.os);
    int status = 0;
    for (const auto& r : reports) {
        if (!r.properties) {
            context.err << "npu-smi: " << r.error << "\n";
            status = 1;
        }
    }
    if (options.json) {
        nlohmann::json devices = nlohmann::json::array();
        for (const auto& r : reports)
            devices.push_back(to_json(r));
        context.out << nlohmann::json{{"devices", devices}}.dump(2) << "\n";
    } else if (reports.empty()) {
        context.out << "No NPU devices found.\n";
    } else {
        print_table(reports, context.out);
    }
    return status;
}

} // namespace

Command add_list_command(CLI::App& app, Command& selected) {
    auto options = std::make_shared<ListOptions>();
    Command command = [options](Context& context) { return run_list(*options, context); };
    auto* list = app.add_subcommand("list", "List NPU devices (the default command)");
    list->add_flag("--json", options->json, "Print JSON instead of a table");
    // `npu-smi --json` means `npu-smi list --json`.
    app.add_flag("--json", options->json, "Print JSON (for the default list command)");
    list->callback([command, &selected] { selected = command; });
    return command;
}

} // namespace npu::smi
