// What every npu-smi subcommand gets: where devices come from and where to
// write. Subcommands register themselves on the CLI11 app and set the
// command to run.
#pragma once

#include <functional>
#include <memory>
#include <ostream>

#include <CLI/CLI.hpp>

#include "npu/os_interface.hpp"

namespace npu::smi {

struct Context {
    std::shared_ptr<OsInterface> os;
    std::ostream& out;
    std::ostream& err;
};

// Returns the process exit status.
using Command = std::function<int(Context&)>;

// Adds `list` to app. Also returned so main can make it the default.
Command add_list_command(CLI::App& app, Command& selected);

// Parses argv and runs the selected command (list when none is given).
int run(int argc, const char* const* argv, Context& context);

} // namespace npu::smi
