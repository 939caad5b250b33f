#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace npu::smi {

namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json opt_text(const std::string& value) {
    return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
}

nlohmann::json rounded(const std::optional<double>& value, int decimals) {
    if (!value)
        return nullptr;
    const double scale = std::pow(10.0, decimals);
    return std::round(*value * scale) / scale;
}

nlohmann::json engines_json(const DeviceSnapshot& d) {
    if (!d.telemetry.engine_count)
        return nullptr;
    nlohmann::json engines = nlohmann::json::array();
    for (const auto& e : d.telemetry.engines)
        engines.push_back(engine_json(e));
    return engines;
}

// csv/table: each engine's utilisation, in engine order, ';'-separated.
std::string engines_text(const nlohmann::json& engines) {
    if (!engines.is_array())
        return text_of(engines);
    if (engines.empty())
        return "none";
    std::string text;
    for (const auto& e : engines)
        text += (text.empty() ? "" : ";") + text_of(e.at("util_percent"));
    return text;
}

} // namespace

std::vector<DeviceSnapshot> snapshot(mgmt::System& system,
                                     const std::vector<mgmt::DeviceIdentity>& devices) {
    std::vector<DeviceSnapshot> result;
    const auto holders = system.processes(devices);
    // Utilisation compares two busy-time samples: take the first of every
    // device that has none yet, then wait one window for all of them.
    bool primed = false;
    for (const auto& identity : devices)
        if (!system.has_busy_sample(identity)) {
            (void)system.telemetry(identity, std::chrono::milliseconds(0));
            primed = true;
        }
    if (primed)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& identity : devices) {
        DeviceSnapshot snap{identity, system.telemetry(identity), {}};
        for (const auto& p : holders)
            if (p.pci_address == identity.pci_address)
                snap.processes.push_back(p);
        result.push_back(std::move(snap));
    }
    return result;
}

nlohmann::json document(const std::string& command) {
    return {{"schema_version", kSchemaVersion}, {"command", command}};
}

const std::vector<Field>& fields() {
    using J = nlohmann::json;
    using S = const DeviceSnapshot&;
    static const std::vector<Field> table = {
        {"index", "", "device index (PCI-address order)", [](S d) { return J(d.identity.index); }},
        {"pci_address", "", "PCI address (BDF)", [](S d) { return J(d.identity.pci_address); }},
        {"name", "", "device name", [](S d) { return J(d.identity.name); }},
        {"node", "", "device node", [](S d) { return opt_text(d.identity.node); }},
        {"driver", "", "driver bound to the PCI function",
         [](S d) { return opt_text(d.identity.driver); }},
        {"serial", "", "serial number (16 hex digits)", [](S d) { return opt(d.identity.serial); }},
        {"uuid", "", "UUID", [](S d) { return opt(d.identity.uuid); }},
        {"firmware_version", "", "running firmware version",
         [](S d) { return opt(d.identity.firmware_version); }},
        {"driver_version", "", "npu.ko version",
         [](S d) { return opt(d.identity.driver_version); }},
        {"state", "", "ready, unbound, no_node, unavailable or the driver's state",
         [](S d) { return J(d.telemetry.state); }},
        {"runtime_pm", "", "runtime power state", [](S d) { return opt(d.telemetry.runtime_pm); }},
        {"temperature_c", "C", "die temperature",
         [](S d) { return rounded(d.telemetry.temperature_c, 1); }},
        {"power_w", "W", "board power", [](S d) { return rounded(d.telemetry.power_w, 2); }},
        {"utilization_percent", "%", "busy time over the sample window",
         [](S d) { return rounded(d.telemetry.utilization_percent, 1); }},
        {"memory_used_bytes", "B", "buffer objects alive",
         [](S d) { return opt(d.telemetry.memory_used_bytes); }},
        {"memory_total_bytes", "B", "device memory",
         [](S d) { return opt(d.telemetry.memory_total_bytes); }},
        {"busy_time_us", "us", "time executing jobs since firmware boot",
         [](S d) { return opt(d.telemetry.busy_time_us); }},
        {"jobs_completed", "", "jobs completed since firmware boot",
         [](S d) { return opt(d.telemetry.jobs_completed); }},
        {"ops_done", "", "operation packets completed since firmware boot",
         [](S d) { return opt(d.telemetry.ops_completed); }},
        {"engine_count", "", "tensor engines", [](S d) { return opt(d.telemetry.engine_count); }},
        {"engine_utilization_percent", "%", "mean busy time of the engines over the sample window",
         [](S d) { return rounded(d.telemetry.engine_utilization_percent, 1); }},
        {"engines", "", "per engine: util_percent, tasks_done, busy_ns, state",
         [](S d) { return engines_json(d); }, engines_text},
        {"reset_count", "", "recoveries since probe",
         [](S d) { return opt(d.telemetry.reset_count); }},
        {"contexts", "", "open device files", [](S d) { return opt(d.telemetry.contexts); }},
        {"process_count", "", "processes holding the node (visible ones)",
         [](S d) { return J(d.processes.size()); }},
    };
    return table;
}

const std::vector<FieldAlias>& field_aliases() {
    using J = nlohmann::json;
    using S = const DeviceSnapshot&;
    // nvidia-smi reports memory in MiB: so do its spellings here.
    static const std::vector<FieldAlias> table = {
        {"pci.bus_id", "pci_address", nullptr, ""},
        {"gpu_bus_id", "pci_address", nullptr, ""},
        {"npu_bus_id", "pci_address", nullptr, ""},
        {"gpu_name", "name", nullptr, ""},
        {"npu_name", "name", nullptr, ""},
        {"gpu_uuid", "uuid", nullptr, ""},
        {"npu_uuid", "uuid", nullptr, ""},
        {"gpu_serial", "serial", nullptr, ""},
        {"vbios_version", "firmware_version", nullptr, ""},
        {"firmware.version", "firmware_version", nullptr, ""},
        {"temperature.gpu", "temperature_c", nullptr, ""},
        {"temperature.npu", "temperature_c", nullptr, ""},
        {"power.draw", "power_w", nullptr, ""},
        {"utilization.gpu", "utilization_percent", nullptr, ""},
        {"utilization.npu", "utilization_percent", nullptr, ""},
        {"pstate", "runtime_pm", nullptr, ""},
        {"memory.total", "memory_total_bytes",
         +[](S d) {
             return J(d.telemetry.memory_total_bytes ? J(*d.telemetry.memory_total_bytes >> 20)
                                                     : J(nullptr));
         },
         "MiB"},
        {"memory.used", "memory_used_bytes",
         +[](S d) {
             return J(d.telemetry.memory_used_bytes ? J(*d.telemetry.memory_used_bytes >> 20)
                                                    : J(nullptr));
         },
         "MiB"},
        {"memory.free", "memory_total_bytes",
         +[](S d) {
             const auto& t = d.telemetry;
             return t.memory_total_bytes && t.memory_used_bytes &&
                            *t.memory_total_bytes >= *t.memory_used_bytes
                        ? J((*t.memory_total_bytes - *t.memory_used_bytes) >> 20)
                        : J(nullptr);
         },
         "MiB", "memory_total_bytes - memory_used_bytes, in MiB"},
    };
    return table;
}

std::vector<Field> parse_fields(const std::string& list) {
    std::vector<Field> result;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos)
            end = list.size();
        std::string name = list.substr(start, end - start);
        name.erase(0, name.find_first_not_of(' '));
        name.erase(name.find_last_not_of(' ') + 1);
        start = end + 1;
        if (name.empty())
            continue;
        const auto& all = fields();
        auto by_name = [&](const std::string& wanted) {
            return std::find_if(all.begin(), all.end(),
                                [&](const Field& f) { return f.name == wanted; });
        };
        auto it = by_name(name);
        if (it != all.end()) {
            result.push_back(*it);
            continue;
        }
        // nvidia-smi's spellings (case-insensitive, as there).
        std::string lowered = name;
        std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const auto& aliases = field_aliases();
        const auto alias = std::find_if(aliases.begin(), aliases.end(),
                                        [&](const FieldAlias& a) { return a.name == lowered; });
        if (alias == aliases.end())
            throw std::invalid_argument("unknown field '" + name +
                                        "' (npu-smi query --help-fields lists them)");
        Field field = *by_name(alias->target);
        field.name = alias->name;
        if (alias->get) {
            field.get = alias->get;
            field.unit = alias->unit;
            field.text = nullptr;
        }
        result.push_back(field);
    }
    if (result.empty())
        throw std::invalid_argument("no fields given (--fields a,b,c)");
    return result;
}

void print_fields_help(std::ostream& out) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : fields())
        rows.push_back({f.name, f.unit.empty() ? "-" : f.unit, f.help});
    print_table(out, {"FIELD", "UNIT", "MEANING"}, rows);
    out << "\nnvidia-smi spellings accepted as well:\n";
    rows.clear();
    for (const auto& a : field_aliases())
        rows.push_back(
            {a.name, !a.meaning.empty() ? a.meaning : a.target + (a.get ? ", in " + a.unit : "")});
    print_table(out, {"ALIAS", "SAME AS"}, rows);
}

nlohmann::json device_json(const DeviceSnapshot& device) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& field : fields())
        object[field.name] = field.get(device);
    return object;
}

nlohmann::json process_json(const mgmt::Process& p) {
    return {{"pid", p.pid},
            {"name", p.name},
            {"device_index", p.device_index},
            {"pci_address", p.pci_address},
            {"fds", p.fds},
            {"memory_bytes", opt(p.memory_bytes)},
            {"busy_ns", opt(p.busy_ns)},
            {"jobs_submitted", opt(p.jobs_submitted)},
            {"jobs_completed", opt(p.jobs_completed)},
            {"jobs_failed", opt(p.jobs_failed)},
            {"slurm_job_id", opt(p.slurm_job_id)}};
}

nlohmann::json engine_json(const mgmt::EngineTelemetry& e) {
    return {{"index", e.index},
            {"state", opt(e.state)},
            {"util_percent", rounded(e.utilization_percent, 1)},
            {"tasks_done", opt(e.tasks_done)},
            {"busy_ns", opt(e.busy_ns)}};
}

nlohmann::json device_with_processes_json(const DeviceSnapshot& device) {
    nlohmann::json object = device_json(device);
    object["processes"] = nlohmann::json::array();
    for (const auto& p : device.processes)
        object["processes"].push_back(process_json(p));
    return object;
}

std::string text_of(const nlohmann::json& value) {
    if (value.is_null())
        return "N/A";
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_number_float())
        return fmt::format("{:.1f}", value.get<double>());
    return value.dump();
}

std::string field_text(const Field& field, const nlohmann::json& value, bool units) {
    const std::string text = field.text ? field.text(value) : text_of(value);
    return !units || value.is_null() || field.unit.empty() ? text : text + " " + field.unit;
}

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

std::string csv_cell(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"')
            quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width(header.size());
    for (size_t i = 0; i < header.size(); ++i)
        width[i] = header[i].size();
    for (const auto& row : rows)
        for (size_t i = 0; i < row.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
        std::string text;
        for (size_t i = 0; i < cells.size(); ++i)
            text += i + 1 == cells.size() ? cells[i] : fmt::format("{:<{}}  ", cells[i], width[i]);
        out << text << "\n";
    };
    line(header);
    for (const auto& row : rows)
        line(row);
}

} // namespace npu::smi
