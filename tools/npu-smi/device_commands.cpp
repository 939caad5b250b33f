// The read-only views: overview (default, watch), list, info, query,
// processes, topo, firmware.
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "report.hpp"

namespace npu::smi {

namespace {

using nlohmann::json;

// Runs report once, or every -l seconds until -c reports or a stop signal.
int repeat(Run& run, const std::function<int()>& report) {
    int status = 0;
    for (unsigned n = 1;; ++n) {
        status = report();
        run.out.flush();
        if (run.options.loop_seconds <= 0 || (run.options.count && n >= run.options.count))
            return status;
        const auto until = std::chrono::steady_clock::now() +
                           std::chrono::duration<double>(run.options.loop_seconds);
        while (std::chrono::steady_clock::now() < until) {
            if (run.stopping())
                return status;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (run.options.format == Format::table)
            run.out << "\n";
    }
}

// One JSON document: indented once, one per line when repeating.
void emit(Run& run, const json& doc) {
    run.out << (run.options.loop_seconds > 0 ? doc.dump() : doc.dump(2)) << "\n";
}

void emit_rows(Run& run, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
    if (run.options.format == Format::csv) {
        auto line = [&](const std::vector<std::string>& cells) {
            for (size_t i = 0; i < cells.size(); ++i)
                run.out << (i ? "," : "") << csv_cell(cells[i]);
            run.out << "\n";
        };
        if (run.options.header)
            line(header);
        for (const auto& row : rows)
            line(row);
    } else {
        print_table(run.out, header, rows);
    }
}

std::string or_na(const std::optional<std::string>& text) {
    return text ? *text : "N/A";
}

std::string memory_text(const mgmt::Telemetry& t) {
    return fmt::format("{} / {}", t.memory_used_bytes ? human_bytes(*t.memory_used_bytes) : "N/A",
                       t.memory_total_bytes ? human_bytes(*t.memory_total_bytes) : "N/A");
}

// The ENGINES cell: how many, at what mean utilisation ("4 @ 37 %").
std::string engines_cell(const mgmt::Telemetry& t) {
    if (!t.engine_count)
        return "N/A";
    if (!*t.engine_count)
        return "none";
    return fmt::format("{} @ {}", *t.engine_count,
                       t.engine_utilization_percent
                           ? fmt::format("{:.0f} %", *t.engine_utilization_percent)
                           : "N/A");
}

std::string percent_cell(const std::optional<double>& value) {
    return value ? fmt::format("{:.0f} %", *value) : "N/A";
}

std::string explain_open_error(const std::string& node, const Error& e) {
    std::string message = "cannot open " + node + ": " + std::strerror(e.errnum());
    if (e.errnum() == EACCES || e.errnum() == EPERM)
        message +=
            " (need read/write access to " + node + ": run as root or join the group that owns it)";
    return message;
}

} // namespace

int run_overview(Run& run) {
    return repeat(run, [&] {
        const auto devices = snapshot(run.system, run.selected());
        if (run.options.format == Format::json) {
            json doc = document("overview");
            doc["devices"] = json::array();
            for (const auto& d : devices)
                doc["devices"].push_back(device_with_processes_json(d));
            emit(run, doc);
            return 0;
        }
        if (run.options.format == Format::csv) {
            std::vector<std::string> header;
            for (const auto& f : fields())
                header.push_back(
                    f.unit.empty() || !run.options.units ? f.name : f.name + " [" + f.unit + "]");
            std::vector<std::vector<std::string>> rows;
            for (const auto& d : devices) {
                rows.emplace_back();
                for (const auto& f : fields())
                    rows.back().push_back(field_text(f, f.get(d), run.options.units));
            }
            emit_rows(run, header, rows);
            return 0;
        }
        const auto ids = run.system.devices();
        const std::string driver = ids.empty() ? "N/A" : or_na(ids.front().driver_version);
        run.out << fmt::format("npu-smi  driver {}  devices {}\n", driver, devices.size());
        if (devices.empty()) {
            run.out << "No NPU devices found.\n";
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        std::vector<std::vector<std::string>> engines;
        std::vector<std::vector<std::string>> procs;
        for (const auto& d : devices) {
            const auto& t = d.telemetry;
            rows.push_back({std::to_string(d.identity.index), d.identity.pci_address,
                            d.identity.name, t.state, or_na(d.identity.firmware_version),
                            t.temperature_c ? fmt::format("{:.1f} C", *t.temperature_c) : "N/A",
                            t.power_w ? fmt::format("{:.2f} W", *t.power_w) : "N/A",
                            percent_cell(t.utilization_percent), engines_cell(t), memory_text(t),
                            std::to_string(d.processes.size())});
            for (const auto& e : t.engines)
                engines.push_back({std::to_string(d.identity.index), std::to_string(e.index),
                                   or_na(e.state), percent_cell(e.utilization_percent),
                                   e.tasks_done ? std::to_string(*e.tasks_done) : "N/A"});
            for (const auto& p : d.processes)
                procs.push_back({std::to_string(p.device_index), std::to_string(p.pid), p.name,
                                 p.memory_bytes ? human_bytes(*p.memory_bytes) : "N/A"});
        }
        print_table(run.out,
                    {"IDX", "PCI ADDRESS", "NAME", "STATE", "FIRMWARE", "TEMP", "POWER", "UTIL",
                     "ENGINES", "MEMORY USED / TOTAL", "PROCS"},
                    rows);
        run.out << "\n";
        if (!engines.empty()) {
            print_table(run.out, {"IDX", "ENGINE", "STATE", "UTIL", "TASKS"}, engines);
            run.out << "\n";
        }
        if (procs.empty())
            run.out << "No processes are using NPU devices.\n";
        else
            print_table(run.out, {"IDX", "PID", "NAME", "MEMORY"}, procs);
        return 0;
    });
}

int run_list(Run& run) {
    return repeat(run, [&] {
        const auto devices = run.selected();
        if (run.options.format == Format::json) {
            json doc = document("list");
            doc["devices"] = json::array();
            for (const auto& d : devices)
                doc["devices"].push_back(
                    {{"index", d.index},
                     {"pci_address", d.pci_address},
                     {"name", d.name},
                     {"node", d.node.empty() ? json() : json(d.node)},
                     {"uuid", d.uuid ? json(*d.uuid) : json()},
                     {"serial", d.serial ? json(*d.serial) : json()},
                     {"firmware_version",
                      d.firmware_version ? json(*d.firmware_version) : json()}});
            emit(run, doc);
            return 0;
        }
        if (devices.empty() && run.options.format == Format::table) {
            run.out << "No NPU devices found.\n";
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& d : devices)
            rows.push_back({std::to_string(d.index), d.pci_address, d.node.empty() ? "N/A" : d.node,
                            or_na(d.uuid), or_na(d.firmware_version)});
        emit_rows(run, {"index", "pci_address", "node", "uuid", "firmware_version"}, rows);
        return 0;
    });
}

int run_query(Run& run) {
    if (run.options.help_fields) {
        print_fields_help(run.out);
        return 0;
    }
    if (run.options.fields.empty())
        throw std::invalid_argument(
            "query needs --fields a,b,c (npu-smi query --help-fields lists them)");
    const auto parsed = parse_fields(run.options.fields);
    std::vector<const Field*> wanted;
    for (const auto& f : parsed)
        wanted.push_back(&f);
    return repeat(run, [&] {
        const auto devices = snapshot(run.system, run.selected());
        if (run.options.format == Format::json) {
            json doc = document("query");
            doc["devices"] = json::array();
            for (const auto& d : devices) {
                json object = json::object();
                for (const auto* f : wanted)
                    object[f->name] = f->get(d);
                doc["devices"].push_back(object);
            }
            emit(run, doc);
            return 0;
        }
        const bool units = run.options.units;
        std::vector<std::string> header;
        for (const auto* f : wanted)
            header.push_back(units && !f->unit.empty() ? f->name + " [" + f->unit + "]" : f->name);
        std::vector<std::vector<std::string>> rows;
        for (const auto& d : devices) {
            rows.emplace_back();
            for (const auto* f : wanted)
                rows.back().push_back(field_text(*f, f->get(d), units));
        }
        emit_rows(run, header, rows);
        return 0;
    });
}

int run_processes(Run& run) {
    return repeat(run, [&] {
        const auto processes = run.system.processes(run.selected());
        if (run.options.format == Format::json) {
            json doc = document("processes");
            doc["processes"] = json::array();
            for (const auto& p : processes)
                doc["processes"].push_back(process_json(p));
            emit(run, doc);
            return 0;
        }
        if (processes.empty() && run.options.format == Format::table) {
            run.out << "No processes are using NPU devices.\n";
            return 0;
        }
        auto num = [](const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "N/A"; };
        std::vector<std::vector<std::string>> rows;
        for (const auto& p : processes)
            rows.push_back({std::to_string(p.device_index), p.pci_address, std::to_string(p.pid),
                            p.name, std::to_string(p.fds), num(p.memory_bytes), num(p.busy_ns),
                            num(p.jobs_submitted), num(p.jobs_completed), num(p.jobs_failed),
                            p.slurm_job_id.value_or("N/A")});
        emit_rows(run,
                  {"device_index", "pci_address", "pid", "name", "fds", "memory_bytes", "busy_ns",
                   "jobs_submitted", "jobs_completed", "jobs_failed", "slurm_job_id"},
                  rows);
        return 0;
    });
}

int run_topo(Run& run) {
    const auto devices = run.selected();
    std::vector<mgmt::Topology> topo;
    for (const auto& d : devices)
        topo.push_back(run.system.topology(d));
    if (run.options.format == Format::json) {
        json doc = document("topo");
        doc["devices"] = json::array();
        doc["links"] = json::array();
        for (size_t i = 0; i < devices.size(); ++i) {
            doc["devices"].push_back(
                {{"index", devices[i].index},
                 {"pci_address", topo[i].pci_address},
                 {"pci_path", topo[i].pci_path},
                 {"numa_node", topo[i].numa_node ? json(*topo[i].numa_node) : json()},
                 {"local_cpus", topo[i].local_cpus ? json(*topo[i].local_cpus) : json()}});
            json row = json::array();
            for (size_t j = 0; j < devices.size(); ++j)
                row.push_back(mgmt::link_between(topo[i], topo[j]));
            doc["links"].push_back(row);
        }
        emit(run, doc);
        return 0;
    }
    std::vector<std::string> header{"device"};
    for (const auto& d : devices)
        header.push_back("NPU" + std::to_string(d.index));
    header.insert(header.end(), {"numa_node", "local_cpus", "pci_path"});
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < devices.size(); ++i) {
        rows.push_back({"NPU" + std::to_string(devices[i].index)});
        for (size_t j = 0; j < devices.size(); ++j)
            rows.back().push_back(mgmt::link_between(topo[i], topo[j]));
        std::string path;
        for (const auto& part : topo[i].pci_path)
            path += (path.empty() ? "" : "/") + part;
        rows.back().insert(rows.back().end(),
                           {topo[i].numa_node ? std::to_string(*topo[i].numa_node) : "N/A",
                            or_na(topo[i].local_cpus), path});
    }
    emit_rows(run, header, rows);
    if (run.options.format == Format::table)
        run.out << "\nSELF = same device, PIX = same PCIe bridge, PHB = same host bridge,\n"
                   "NODE = same NUMA node, SYS = across NUMA nodes\n";
    return 0;
}

int run_firmware(Run& run) {
    const auto devices = run.selected();
    json doc = document("firmware");
    doc["devices"] = json::array();
    std::vector<std::vector<std::string>> rows;
    std::string logs;
    for (const auto& d : devices) {
        const auto fw = run.system.firmware(d, run.options.firmware_log);
        const auto state = run.system.telemetry(d, std::chrono::milliseconds(0)).state;
        doc["devices"].push_back({{"index", d.index},
                                  {"pci_address", d.pci_address},
                                  {"firmware_version", fw.version ? json(*fw.version) : json()},
                                  {"state", state},
                                  {"log", fw.log ? json(*fw.log) : json()}});
        rows.push_back({std::to_string(d.index), d.pci_address, or_na(fw.version), state});
        if (run.options.firmware_log)
            logs += fmt::format("--- NPU{} {} firmware log ---\n{}\n", d.index, d.pci_address,
                                fw.log ? *fw.log : "N/A (needs root and debugfs)");
    }
    if (run.options.format == Format::json) {
        emit(run, doc);
        return 0;
    }
    emit_rows(run, {"index", "pci_address", "firmware_version", "state"}, rows);
    if (run.options.format == Format::table)
        run.out << logs;
    return 0;
}

int run_info(Run& run) {
    const auto devices = snapshot(run.system, run.selected());
    int status = 0;
    json doc = document("info");
    doc["devices"] = json::array();
    for (const auto& d : devices) {
        json object = device_with_processes_json(d);
        const auto topo = run.system.topology(d.identity);
        object["numa_node"] = topo.numa_node ? json(*topo.numa_node) : json();
        object["pci_path"] = topo.pci_path;
        object["properties"] = nullptr;
        object["properties_error"] = nullptr;
        if (d.identity.node.empty()) {
            object["properties_error"] = "no device node (state " + d.telemetry.state + ")";
        } else {
            try {
                const DeviceInfo info{d.identity.index, d.identity.node, d.identity.pci_address};
                const auto p = Device::open(info, run.context.os).properties();
                object["properties"] = {
                    {"pci_device_id", p.pci_device_id},
                    {"revision", p.revision},
                    {"hw_version", p.hw_version},
                    {"firmware_abi", fmt::format("{}.{}", p.fw_abi.major, p.fw_abi.minor)},
                    {"devmem_size", p.devmem_size},
                    {"engines", p.engine_count},
                    {"queues", p.queue_count},
                    {"va_size", p.va_size},
                    {"max_cmd_size", p.max_cmd_size}};
            } catch (const Error& e) {
                const std::string what = e.what();
                const std::string message = what.starts_with("open ")
                                                ? explain_open_error(d.identity.node, e)
                                                : d.identity.node + ": " + what;
                object["properties_error"] = message;
                run.context.err << "npu-smi: " << message << "\n";
                status = 1;
            }
        }
        doc["devices"].push_back(object);
    }
    if (run.options.format == Format::json) {
        emit(run, doc);
        return status;
    }
    if (run.options.format == Format::csv)
        throw std::invalid_argument("info has no csv form; use query --format csv");
    if (devices.empty())
        run.out << "No NPU devices found.\n";
    for (const auto& object : doc["devices"]) {
        run.out << fmt::format("NPU {} ({})\n", object["index"].get<unsigned>(),
                               object["pci_address"].get<std::string>());
        for (const auto& f : fields())
            run.out << fmt::format("  {:<22} {}\n", f.name, field_text(f, object[f.name], true));
        std::string path;
        for (const auto& part : object["pci_path"])
            path += (path.empty() ? "" : "/") + part.get<std::string>();
        run.out << fmt::format("  {:<22} {}\n", "numa_node", text_of(object["numa_node"]));
        run.out << fmt::format("  {:<22} {}\n", "pci_path", path);
        if (object["properties"].is_object())
            for (const auto& [key, value] : object["properties"].items())
                run.out << fmt::format("  {:<22} {}\n", key, text_of(value));
        else
            run.out << fmt::format("  {:<22} {}\n", "properties",
                                   text_of(object["properties_error"]));
        run.out << fmt::format("  {:<22} {}\n", "processes", object["processes"].size());
        for (const auto& p : object["processes"])
            run.out << fmt::format("    pid {} {} memory {}\n", p["pid"].get<int>(),
                                   p["name"].get<std::string>(), text_of(p["memory_bytes"]));
    }
    return status;
}

} // namespace npu::smi
