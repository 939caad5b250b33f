// The JSON objects of npu-smi's versioned schema (docs/npu-smi.md) and the
// field table behind `query`. Missing values are JSON null.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "npu/management.hpp"

namespace npu::smi {

// Bump on any incompatible change of a JSON document.
inline constexpr int kSchemaVersion = 1;

struct DeviceSnapshot {
    mgmt::DeviceIdentity identity;
    mgmt::Telemetry telemetry;
    std::vector<mgmt::Process> processes;
};

// Identity, telemetry and process count for every device of `devices`.
std::vector<DeviceSnapshot> snapshot(mgmt::System& system,
                                     const std::vector<mgmt::DeviceIdentity>& devices);

// {"schema_version": 1, "command": name} plus the rest.
nlohmann::json document(const std::string& command);
nlohmann::json device_json(const DeviceSnapshot& device);
nlohmann::json process_json(const mgmt::Process& process);
// One entry of a device's "engines" array.
nlohmann::json engine_json(const mgmt::EngineTelemetry& engine);
// device_json() plus the device's "processes" array.
nlohmann::json device_with_processes_json(const DeviceSnapshot& device);

// A queryable field: JSON value (null when missing), unit for csv/table.
struct Field {
    std::string name;
    std::string unit; // "" for none
    std::string help;
    nlohmann::json (*get)(const DeviceSnapshot&);
    // csv/table text of a value that is no scalar (nullptr: text_of)
    std::string (*text)(const nlohmann::json&) = nullptr;
};
const std::vector<Field>& fields();
// Another name of a field (nvidia-smi's, so that scripts port over): the
// same value, or with get set its own value and unit (memory in MiB).
struct FieldAlias {
    std::string name;
    std::string target; // a fields() name
    nlohmann::json (*get)(const DeviceSnapshot&);
    std::string unit;
    std::string meaning = {}; // --help-fields text, when not just the target's
};
const std::vector<FieldAlias>& field_aliases();
// Parses "a,b,c" (names of fields() or field_aliases(), each column
// named as asked); throws std::invalid_argument naming an unknown field.
std::vector<Field> parse_fields(const std::string& list);
// `query --help-fields`: every field, its unit and meaning, then the aliases.
void print_fields_help(std::ostream& out);

// Text of a JSON scalar for tables and csv: "N/A" for null, floats with
// one decimal.
std::string text_of(const nlohmann::json& value);
// A field's value as a csv or table cell, with its unit if units is set.
std::string field_text(const Field& field, const nlohmann::json& value, bool units);
std::string human_bytes(uint64_t bytes);

// The exporter's page: Prometheus text format, one sample per device and metric.
std::string prometheus_text(mgmt::System& system);

// csv quoting (RFC 4180) of one cell.
std::string csv_cell(const std::string& text);
// A fixed-width table: header row then rows, columns separated by two spaces.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

} // namespace npu::smi
