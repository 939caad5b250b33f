// Command-line parsing and dispatch. Global options (--format, -d, --file,
// -l, -c, ...) may also follow the subcommand (CLI11 fallthrough).
#include <exception>
#include <fstream>
#include <map>

#include <CLI/CLI.hpp>

#include "command.hpp"
#include "npu/error.hpp"

namespace npu::smi {

std::vector<mgmt::DeviceIdentity> Run::selected() const {
    if (options.devices.empty())
        return system.devices();
    std::vector<mgmt::DeviceIdentity> chosen;
    for (const auto& id : options.devices)
        chosen.push_back(system.find(id));
    return chosen;
}

int run(int argc, const char* const* argv, Context& context) {
    CLI::App app{"npu-smi: inspect, monitor and manage NPU devices", "npu-smi"};
    app.require_subcommand(0, 1);
    app.fallthrough();
    Options options;
    bool json = false;
    const std::map<std::string, Format> formats{
        {"table", Format::table}, {"csv", Format::csv}, {"json", Format::json}};
    app.add_option("--format", options.format, "Output format: table, csv or json")
        ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));
    app.add_flag("--json", json, "Same as --format json");
    app.add_flag("!--no-header", options.header, "csv: no header line");
    app.add_flag("!--no-units", options.units, "csv: no units in header and values");
    app.add_option("-d,-i,--device", options.devices,
                   "Device: index, PCI address, UUID or serial (repeatable)");
    // Operators type the device after the subcommand too (`info 0`).
    std::vector<std::string> positional_devices;
    auto add_device_selector = [&](CLI::App* sub) {
        sub->add_option("devices", positional_devices,
                        "Devices (as -d): index, PCI address, UUID or serial");
    };
    app.add_option("--file", options.file, "Write the output to this file");
    app.add_option("-l,--loop", options.loop_seconds,
                   "Repeat every SECONDS (list, query, processes)")
        ->check(CLI::PositiveNumber);
    app.add_option("-c,--count", options.count, "Stop after N reports (with -l or watch)");

    using Handler = int (*)(Run&);
    Handler handler = run_overview;
    auto add = [&](const char* name, const char* help, Handler h) {
        auto* sub = app.add_subcommand(name, help);
        sub->callback([&handler, h] { handler = h; });
        return sub;
    };
    add_device_selector(
        add("list", "List devices: index, PCI address, node, UUID, firmware", run_list));
    add_device_selector(add("info", "Everything about the selected devices (-d)", run_info));
    auto* query = add("query", "Selected fields per device (--fields a,b,c)", run_query);
    query->add_option("--fields", options.fields,
                      "Comma-separated field names (nvidia-smi's spellings too)");
    query->add_flag("--help-fields", options.help_fields, "List the fields and their aliases");
    add_device_selector(query);
    add_device_selector(add("processes", "Processes holding each device", run_processes));
    add_device_selector(add("topo", "PCI placement and device-to-device links", run_topo));
    auto* firmware = add("firmware", "Firmware version (and log with --log)", run_firmware);
    add_device_selector(firmware);
    firmware->add_flag("--log", options.firmware_log, "Include the firmware log (root, debugfs)");
    auto* reset = add("reset", "Reset a device by rebinding its driver (root)", run_reset);
    reset->add_flag("--force", options.force, "Reset even if processes hold the device");
    add_device_selector(reset);
    auto* watch = add("watch", "The device table every -l SECONDS (default 1)", run_overview);
    add_device_selector(watch);
    auto* validate = add("validate",
                         "Self-test: reachability, firmware, DMA bandwidth, "
                         "data patterns, fence latency",
                         run_validate);
    validate->add_option("--bytes", options.validate_bytes, "Buffer size for the DMA checks");
    validate->add_option("--iterations", options.validate_iterations,
                         "NOP jobs timed for the fence latency");
    add_device_selector(validate);
    auto* gres = add("gres", "gres.conf lines for this node's NPUs (Slurm)", run_gres);
    gres->add_option("--node", options.node_name, "Prefix each line with NodeName=NAME");
    auto* cdi = app.add_subcommand("cdi", "Container Device Interface (podman, CRI-O, ...)");
    cdi->require_subcommand(1);
    cdi->fallthrough();
    auto* cdi_generate = cdi->add_subcommand(
        "generate", "Write a CDI spec: one device per NPU (index and UUID) plus 'all'");
    cdi_generate->callback([&handler] { handler = run_cdi_generate; });
    cdi_generate->add_option("--vendor", options.cdi_vendor,
                             "Vendor of the device kind VENDOR/npu (default opennpu)");
    cdi_generate->add_option("--library", options.cdi_library,
                             "libnpu to mount into containers (default: the one npu-smi uses)");
    cdi_generate->add_option("--smi", options.cdi_smi,
                             "npu-smi to mount into containers (default: this one)");
    auto* exporter = add("exporter", "Serve Prometheus metrics over HTTP", run_exporter);
    exporter->add_option("--listen", options.listen, "ADDRESS:PORT (default 127.0.0.1:9400)");
    exporter->add_option("--max-requests", options.max_requests,
                         "Stop after serving N requests (0 = until SIGINT/SIGTERM)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e, context.out, context.err);
    }
    if (json)
        options.format = Format::json;
    options.devices.insert(options.devices.end(), positional_devices.begin(),
                           positional_devices.end());
    if (*watch && options.loop_seconds <= 0)
        options.loop_seconds = 1;

    try {
        mgmt::System system(context.root);
        if (context.privileged)
            system.set_privileged(*context.privileged);
        std::ofstream file;
        if (!options.file.empty()) {
            file.open(options.file, std::ios::out | std::ios::trunc);
            if (!file)
                throw Error(errno, "open " + options.file);
        }
        Run r{context, options, options.file.empty() ? context.out : file, system};
        const int status = handler(r);
        r.out.flush();
        if (!options.file.empty() && !file)
            throw Error(EIO, "write " + options.file);
        return status;
    } catch (const std::exception& e) {
        context.err << "npu-smi: " << e.what() << "\n";
        return 1;
    }
}

} // namespace npu::smi
