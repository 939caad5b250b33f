#include "launch_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

namespace npu::bench {
namespace {

// debugfs "ping" of the device: one batch of raw round trips; nullopt and
// why when it cannot be read (not root, no debugfs, older firmware).
std::optional<double> raw_round_trip_us(const Device& device, std::string* why) {
    const std::string path = "/sys/kernel/debug/npu/" + device.info().pci_address + "/ping";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::smatch m;
    const std::string line = text.str();
    if (!in || !std::regex_search(line, m, std::regex(R"(median_ns (\d+))"))) {
        *why = fmt::format("{} unreadable (needs root, debugfs and firmware ABI 1.4)", path);
        return std::nullopt;
    }
    return std::stod(m[1]) / 1e3;
}

} // namespace

Result launch_floor(const Device& device, Stream& stream, const Options& opt) {
    Event event(device);
    stream.synchronize();
    std::vector<double> us(opt.iterations);
    for (auto& sample : us) {
        const auto start = std::chrono::steady_clock::now();
        stream.record(event);
        event.synchronize();
        sample = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count();
    }
    std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
    Result result{.name = "launch_floor",
                  .unit = "us",
                  .measured = {"empty_launch", us[us.size() / 2]},
                  .baseline = std::nullopt,
                  .meaning = "an eager empty launch over the raw device round trip (goal <= 1.5)"};
    std::string why;
    if (auto raw = raw_round_trip_us(device, &why))
        result.baseline = Figure{"raw_round_trip", *raw};
    else
        result.baseline_missing = why;
    return result;
}

} // namespace npu::bench
