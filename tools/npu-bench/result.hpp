// One benchmark's figures: what was measured, the baseline of the same run
// it is compared with, and their ratio. Shared by the benchmark files.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace npu::bench {

struct Figure {
    std::string name;
    double value = 0;
};

struct Options {
    unsigned iterations = 200;
    unsigned depth = 16;
    unsigned copy_mib = 16;
    unsigned gemm_size = 2048;    // M = N = K
    unsigned conv_hw = 28;        // input height = width
    unsigned conv_channels = 256; // input = output channels
    unsigned op_runs = 5;         // timed runs of each operation, device and host alike
    // Framework benchmarks (framework_bench.hpp)
    std::string models_dir;  // `make models` output: build/models
    std::string torch_path;  // the directory holding the npu_torch package
    unsigned model_runs = 5; // timed inferences per network, NPU and CPU alike
};

struct Result {
    std::string name;
    std::string unit; // of measured and baseline alike
    Figure measured;
    std::optional<Figure> baseline;                    // nullopt: it could not be measured
    std::string meaning;                               // how to read the ratio
    std::string baseline_missing{};                    // why, when baseline is nullopt
    nlohmann::json details = nlohmann::json::object(); // benchmark-specific facts

    [[nodiscard]] std::optional<double> ratio() const {
        if (!baseline)
            return std::nullopt;
        return measured.value / baseline->value;
    }
};

} // namespace npu::bench
