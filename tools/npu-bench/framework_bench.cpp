// Framework benchmarks (framework_bench.hpp).
#include "framework_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#ifdef NPU_BENCH_ONNX
#include <npu_onnx/runner.hpp>
#endif

namespace npu::bench {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

const char* const kModels[] = {"resnet18", "mobilenet_v2"};

// Tolerance of a network's output against PyTorch's CPU output: the
// largest difference over the largest reference magnitude. f32 arithmetic
// in another order stays orders of magnitude below it; a wrong kernel does not.
constexpr double kMaxRelativeError = 1e-3;

std::string model_file(const Options& opt, const std::string& model, const std::string& rel) {
    const auto path = std::filesystem::path(opt.models_dir) / model / rel;
    if (!std::filesystem::exists(path))
        throw std::runtime_error(
            fmt::format("{} not found: run `make models` (or pass --models-dir)", path.string()));
    return path.string();
}

// The baseline result shared by both integrations.
void add_baseline(Result& r, const std::string& model, unsigned threads, const Options& opt,
                  HostBaseline& host) {
    const std::string command = fmt::format("bench torch {} {} {}", model, threads, opt.model_runs);
    r.details["host_command"] = command;
    if (const auto timing = host.measure(command, &r.baseline_missing)) {
        r.baseline = Figure{"pytorch_cpu", 1e9 / timing->median_ns};
        r.details["host_ms"] = timing->median_ns / 1e6;
        r.details["host_threads"] = timing->threads;
        r.details["host_impl"] = timing->impl;
    }
}

#ifdef NPU_BENCH_ONNX

// Nodes that only describe shapes and views: the runner keeps them on the host.
const std::set<std::string> kMetadataOps = {"Constant", "Shape",           "Size",      "Reshape",
                                            "Flatten",  "Squeeze",         "Unsqueeze", "Identity",
                                            "Dropout",  "ConstantOfShape", "Range"};

double max_relative_error(const npu_onnx::HostTensor& got, const npu_onnx::HostTensor& want) {
    if (got.shape != want.shape)
        throw std::runtime_error("output shape differs from PyTorch's");
    const auto g = got.to_double(), w = want.to_double();
    double diff = 0, scale = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        if (!std::isfinite(g[i]))
            return INFINITY;
        diff = std::max(diff, std::abs(g[i] - w[i]));
        scale = std::max(scale, std::abs(w[i]));
    }
    return diff / std::max(scale, 1e-30);
}

Result onnx_model(const Device& device, const Options& opt, HostBaseline& host,
                  const std::string& name) {
    const std::string path = (std::filesystem::path(opt.models_dir) / (name + ".onnx")).string();
    std::string input_name;
    const auto input = npu_onnx::read_tensor_file(
        model_file(opt, name, "test_data_set_0/input_0.pb"), &input_name);
    const auto expected =
        npu_onnx::read_tensor_file(model_file(opt, name, "test_data_set_0/output_0.pb"));
    const auto model = npu_onnx::Model::load(path);
    if (model.inputs().size() != 1)
        throw std::runtime_error(name + ": expected one graph input");
    const std::string in = model.inputs()[0].name;
    const auto plan_start = Clock::now();
    std::optional<npu_onnx::Session> session;
    try {
        session.emplace(device, model,
                        std::map<std::string, std::vector<int64_t>>{{in, input.shape}});
    } catch (const npu_onnx::UnsupportedError& e) {
        std::string what;
        for (const auto& n : e.nodes)
            what += fmt::format("; {} ({}): {}", n.name, n.op_type, n.reason);
        throw std::runtime_error(
            fmt::format("{}: {} nodes the NPU cannot run{}", name, e.nodes.size(), what));
    }
    const double plan_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - plan_start).count();
    const std::map<std::string, npu_onnx::HostTensor> inputs{{in, input}};

    auto outputs = session->run(inputs); // warm-up: pages in, first graph launch
    const double error = max_relative_error(outputs.at(0), expected);
    if (!(error <= kMaxRelativeError))
        throw std::runtime_error(fmt::format(
            "{}: output differs from PyTorch's CPU output (relative error {:.3g} > {:g})", name,
            error, kMaxRelativeError));
    std::vector<double> ms(opt.model_runs);
    for (auto& sample : ms) {
        const auto start = Clock::now();
        outputs = session->run(inputs);
        sample = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    const double median_ms = ms[ms.size() / 2];

    size_t compute = 0, on_npu = 0;
    for (const auto& node : session->nodes()) {
        if (node.placement == npu_onnx::Placement::device) {
            ++compute;
            ++on_npu;
        } else if (!kMetadataOps.contains(node.op_type)) {
            ++compute;
        }
    }
    Result r;
    r.name = "onnx_" + name;
    r.unit = "images/s";
    r.measured = {"npu_onnx", 1e3 / median_ms};
    r.meaning = "NPU through npu-onnx relative to PyTorch on the host CPU";
    r.details = {{"model", name},
                 {"input_shape", input.shape},
                 {"device_ms", median_ms},
                 {"plan_ms", plan_ms},
                 {"runs", opt.model_runs},
                 {"nodes", session->nodes().size()},
                 {"compute_nodes", compute},
                 {"compute_nodes_on_npu", on_npu},
                 {"fallback_free_share", compute ? double(on_npu) / double(compute) : 1.0},
                 {"device_operations", session->operation_count()},
                 {"arena_bytes", session->memory().arena_bytes},
                 {"max_relative_error", error}};
    add_baseline(r, name, device.properties().engine_count, opt, host);
    return r;
}

#endif

// Runs the torch script and returns its JSON report.
json run_torch_script(const Device& device, const Options& opt) {
    std::string models;
    for (const char* m : kModels) {
        (void)model_file(opt, m, "test_data_set_0/output_0.pb");
        models += fmt::format(" {}", m);
    }
    const std::string command = fmt::format(
        "/usr/bin/python3 '{}' --torch-path '{}' --models-dir '{}' --device {} --runs {}{} 2>&1",
        NPU_BENCH_TORCH_SCRIPT, opt.torch_path, opt.models_dir, device.info().index, opt.model_runs,
        models);
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe)
        throw std::runtime_error(fmt::format("popen: {}", std::strerror(errno)));
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0)
        out.append(buf, n);
    const int status = pclose(pipe);
    const auto line = out.rfind("{\"torch_device_bench\"");
    if (status != 0 || line == std::string::npos)
        throw std::runtime_error(
            fmt::format("torch_device_bench.py failed (status {}): {}", status,
                        out.substr(out.size() > 2000 ? out.size() - 2000 : 0)));
    return json::parse(out.substr(line, out.find('\n', line) - line));
}

} // namespace

bool onnx_available() {
#ifdef NPU_BENCH_ONNX
    return true;
#else
    return false;
#endif
}

std::vector<Result> onnx_benchmarks(const Device& device, const Options& opt, HostBaseline& host) {
#ifdef NPU_BENCH_ONNX
    std::vector<Result> results;
    for (const char* m : kModels)
        results.push_back(onnx_model(device, opt, host, m));
    return results;
#else
    (void)device, (void)opt, (void)host;
    throw std::runtime_error("this npu-bench was built without libnpu-onnx");
#endif
}

std::vector<Result> torch_benchmarks(const Device& device, const Options& opt, HostBaseline& host) {
    const json report = run_torch_script(device, opt);
    const unsigned threads = device.properties().engine_count;
    std::vector<Result> results;
    for (const char* m : kModels) {
        const json& model = report.at("models").at(m);
        const double error = model.at("max_relative_error");
        if (!(error <= kMaxRelativeError))
            throw std::runtime_error(
                fmt::format("{}: output on the PyTorch device differs from PyTorch's CPU output "
                            "(relative error {:.3g} > {:g})",
                            m, error, kMaxRelativeError));
        const double median_ms = model.at("median_ms");
        const double ops = model.at("ops");
        const double fell_back = model.at("fallback_ops");
        Result r;
        r.name = fmt::format("torch_{}", m);
        r.unit = "images/s";
        r.measured = {"npu_torch", 1e3 / median_ms};
        r.meaning = "NPU through the PyTorch device relative to PyTorch on the host CPU";
        r.details = {{"model", m},
                     {"device_ms", median_ms},
                     {"runs", opt.model_runs},
                     {"ops", ops},
                     {"fallback_ops", fell_back},
                     {"fallback_free_share", ops > 0 ? (ops - fell_back) / ops : 1.0},
                     {"fallback_counts", model.at("fallback_counts")},
                     {"max_relative_error", error}};
        add_baseline(r, m, threads, opt, host);
        results.push_back(std::move(r));
    }
    return results;
}

} // namespace npu::bench
