#include "device_report.hpp"

#include <cerrno>
#include <cstring>

#include "npu/error.hpp"

namespace npu::smi {

namespace {

std::string explain(const DeviceInfo& info, int errnum) {
    std::string message = "cannot open " + info.node + ": " + std::strerror(errnum);
    if (errnum == EACCES || errnum == EPERM)
        message += " (need read/write access to " + info.node +
                   ": run as root or join the group that owns it)";
    return message;
}

} // namespace

std::vector<DeviceReport> query_devices(const std::shared_ptr<OsInterface>& os) {
    std::vector<DeviceReport> reports;
    for (const auto& info : Device::enumerate(os)) {
        DeviceReport report{info, std::nullopt, 0, {}};
        try {
            report.properties = Device::open(info, os).properties();
        } catch (const Error& e) {
            report.errnum = e.errnum();
            // Opening is where permissions bite; name the node plainly then.
            const std::string what = e.what();
            report.error =
                what.starts_with("open ") ? explain(info, e.errnum()) : info.node + ": " + what;
        }
        reports.push_back(std::move(report));
    }
    return reports;
}

} // namespace npu::smi
