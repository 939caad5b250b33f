// npu-smi reset -d ID [--force]: rebind the driver (root only; refused while
// processes hold the device unless --force).
#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include "command.hpp"
#include "npu/error.hpp"
#include "report.hpp"

namespace npu::smi {

int run_reset(Run& run) {
    if (run.options.devices.size() != 1) {
        run.context.err << "npu-smi: reset needs exactly one device: reset -d ID\n";
        return 2;
    }
    const auto device = run.system.find(run.options.devices.front());
    const auto started = std::chrono::steady_clock::now();
    try {
        run.system.reset(device, {.force = run.options.force});
    } catch (const Error& e) {
        if (e.errnum() == EPERM || e.errnum() == EACCES)
            run.context.err << "npu-smi: resetting " << device.pci_address
                            << " needs root (write access to /sys/bus/pci/drivers/npu)\n";
        else
            run.context.err << "npu-smi: " << e.what() << "\n";
        return 1;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    const auto after = run.system.find(device.pci_address);
    const auto state = run.system.telemetry(after, std::chrono::milliseconds(0)).state;
    if (run.options.format == Format::json) {
        auto doc = document("reset");
        doc["device"] = {{"index", after.index},
                         {"pci_address", after.pci_address},
                         {"state", state},
                         {"firmware_version", after.firmware_version
                                                  ? nlohmann::json(*after.firmware_version)
                                                  : nlohmann::json()},
                         {"duration_ms", ms}};
        run.out << doc.dump(2) << "\n";
    } else {
        run.out << fmt::format("NPU {} ({}) reset in {} ms: state {}, firmware {}\n", after.index,
                               after.pci_address, ms, state,
                               after.firmware_version.value_or("N/A"));
    }
    return 0;
}

} // namespace npu::smi
