// What every npu-smi subcommand gets: where devices come from (the libnpu OS
// interface for opening nodes, the management API's root for sysfs/proc),
// the parsed options and where to write.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "npu/management.hpp"
#include "npu/os_interface.hpp"

namespace npu::smi {

struct Context {
    std::shared_ptr<OsInterface> os;
    std::ostream& out;
    std::ostream& err;
    std::string root;                        // management API root ("" = the real system)
    std::optional<bool> privileged;          // override the euid check (tests)
    const std::atomic<bool>* stop = nullptr; // set by SIGINT/SIGTERM
};

enum class Format { table, csv, json };

struct Options {
    Format format = Format::table;
    bool header = true;                    // csv
    bool units = true;                     // csv
    std::string file;                      // --file: write output there
    std::vector<std::string> devices;      // -d: index, PCI address, UUID, serial
    double loop_seconds = 0;               // -l: repeat every N seconds
    unsigned count = 0;                    // -c: stop after N reports (0 = until stopped)
    std::string fields;                    // query --fields
    bool help_fields = false;              // query --help-fields
    std::string node_name;                 // gres --node
    std::string cdi_vendor = "opennpu";    // cdi generate --vendor
    std::string cdi_library;               // cdi generate --library (default: the loaded libnpu)
    std::string cdi_smi;                   // cdi generate --smi (default: this npu-smi)
    bool force = false;                    // reset --force
    bool firmware_log = false;             // firmware --log
    std::string listen = "127.0.0.1:9400"; // exporter
    unsigned max_requests = 0;             // exporter: 0 = until stopped
    size_t validate_bytes = size_t{4} << 20;
    unsigned validate_iterations = 200;
};

// Parses argv and runs the selected command (the device table when none
// is given). Returns the process exit status.
int run(int argc, const char* const* argv, Context& context);

// One function per subcommand; out is where the report goes (--file or
// context.out). Return the exit status.
struct Run {
    Context& context;
    const Options& options;
    std::ostream& out;
    mgmt::System& system;

    [[nodiscard]] std::vector<mgmt::DeviceIdentity> selected() const; // -d, or all
    [[nodiscard]] bool stopping() const { return context.stop && context.stop->load(); }
};

int run_overview(Run& run); // default view and `watch`
int run_list(Run& run);
int run_info(Run& run);
int run_query(Run& run);
int run_processes(Run& run);
int run_topo(Run& run);
int run_firmware(Run& run);
int run_reset(Run& run);
int run_validate(Run& run);
int run_exporter(Run& run);
int run_gres(Run& run);         // gres.conf lines for this node (Slurm)
int run_cdi_generate(Run& run); // Container Device Interface spec

} // namespace npu::smi
