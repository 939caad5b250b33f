#include <exception>

#include "command.hpp"
#include "npu/error.hpp"

namespace npu::smi {

int run(int argc, const char* const* argv, Context& context) {
    CLI::App app{"npu-smi: inspect and manage NPU devices", "npu-smi"};
    app.require_subcommand(0, 1);
    Command selected;
    const Command list = add_list_command(app, selected);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e, context.out, context.err);
    }
    try {
        return (selected ? selected : list)(context);
    } catch (const std::exception& e) {
        context.err << "npu-smi: " << e.what() << "\n";
        return 1;
    }
}

} // namespace npu::smi
