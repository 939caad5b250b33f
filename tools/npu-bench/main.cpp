// npu-bench: what the stack costs, as ratios against a baseline measured in
// the same run on the same machine, so figures from different hosts (or
// from TCG and real silicon) compare. Each benchmark has a baseline:
//
//   job_round_trip  one tiny job, submit to completion   / one GET_PARAM ioctl
//   copy_bandwidth  a device COPY of --copy-mib MiB       / host memcpy of it
//   pipelined_jobs  jobs/s with --depth jobs in flight    / jobs/s one at a time
//   pool_alloc      a warm stream-ordered pool block      / a new Buffer
//                   (time, pairs/s on one core, syscalls per pair)
//   event_round_trip  event record + synchronize          / one GET_PARAM ioctl
//   launch_floor    an empty launch's round trip           / the raw doorbell round trip
//                   (launch_bench.hpp; the baseline needs root and debugfs)
//   launch_breakdown  an empty job's SUBMIT + WAIT, hop by hop / the raw round trip
//                   (launch_bench.hpp; root and debugfs)
//   async_launch    small launches/s through a stream      / the firmware's rate
//   launch_scaling  launches/s, 1-8 processes x 1-64 streams / 1 process, 1 stream
//   kernel_memory   kernel bytes per context and per BO (MemFree deltas)
//                   (throughput_bench.hpp; the last two only when named)
//   graph_launch    host us per op of a graph launch       / of one submission per op
//                   (graph_bench.hpp)
//   op_launch       host ns per launch of a tiny op plan  / a 4-byte fill enqueue
//                   (ops_bench.hpp)
//   gemm, conv      operation packets on the device       / oneDNN on the host
//                   (compute_bench.hpp)
//   onnx, torch     resnet18, mobilenet_v2 images/s through npu-onnx and the
//                   PyTorch device / PyTorch on the host CPU (framework_bench.hpp;
//                   only when named)
//
// Timings are benchmarks, not tests: tests/vm only checks that the report is
// complete and consistent.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <drm/npu_accel.h>

#include "compute_bench.hpp"
#include "framework_bench.hpp"
#include "graph_bench.hpp"
#include "host_baseline.hpp"
#include "launch_bench.hpp"
#include "npu/npu.hpp"
#include "ops_bench.hpp"
#include "result.hpp"
#include "sdk_bench.hpp"
#include "throughput_bench.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using npu::bench::Figure;
using npu::bench::HostBaseline;
using npu::bench::Options;
using npu::bench::Result;

// Median wall time of fn in microseconds over n runs (after one warm-up).
double median_us(unsigned n, const std::function<void()>& fn) {
    fn();
    std::vector<double> samples(n);
    for (auto& sample : samples) {
        const auto start = Clock::now();
        fn();
        sample = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    }
    std::nth_element(samples.begin(), samples.begin() + n / 2, samples.end());
    return samples[n / 2];
}

double seconds_of(const std::function<void()>& fn) {
    const auto start = Clock::now();
    fn();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

Result job_round_trip(const npu::Device& device, npu::Stream& stream, const Options& opt) {
    npu::Buffer word(device, 4096);
    uint32_t value = 0;
    const double job = median_us(opt.iterations, [&] {
        stream.fill(word, 0, 4, ++value);
        stream.synchronize();
    });
    const double ioctl =
        median_us(opt.iterations, [&] { (void)device.param(DRM_NPU_PARAM_FW_VERSION); });
    return {.name = "job_round_trip",
            .unit = "us",
            .measured = {"tiny_job", job},
            .baseline = Figure{"get_param_ioctl", ioctl},
            .meaning = "ioctl round trips one job costs"};
}

Result copy_bandwidth(const npu::Device& device, npu::Stream& stream, const Options& opt) {
    const size_t bytes = size_t{opt.copy_mib} << 20;
    npu::Buffer src(device, bytes);
    npu::Buffer dst(device, bytes);
    std::memset(src.host_ptr(), 0x5a, bytes);
    const unsigned reps = std::max(1u, opt.iterations / 50);
    stream.copy(src, 0, dst, 0, bytes); // warm-up: pages in, mappings made
    stream.synchronize();
    const double device_s = seconds_of([&] {
        for (unsigned i = 0; i < reps; ++i)
            stream.copy(src, 0, dst, 0, bytes);
        stream.synchronize();
    });
    std::vector<std::byte> host_src(bytes, std::byte{0x5a});
    std::vector<std::byte> host_dst(bytes);
    std::memcpy(host_dst.data(), host_src.data(), bytes);
    const double host_s = seconds_of([&] {
        for (unsigned i = 0; i < reps; ++i) {
            std::memcpy(host_dst.data(), host_src.data(), bytes);
            // keep the copy observable so it is not elided
            asm volatile("" : : "r"(host_dst.data()) : "memory");
        }
    });
    const double mb = static_cast<double>(bytes) * reps / 1e6;
    return {.name = "copy_bandwidth",
            .unit = "MB/s",
            .measured = {"device_copy", mb / device_s},
            .baseline = Figure{"host_memcpy", mb / host_s},
            .meaning = "device copy speed relative to a CPU memcpy"};
}

Result pipelined_jobs(const npu::Device& device, npu::Stream& stream, const Options& opt) {
    npu::Buffer word(device, 4096);
    const unsigned jobs = std::max(opt.depth, opt.iterations);
    const double serial_s = seconds_of([&] {
        for (unsigned i = 0; i < jobs; ++i) {
            stream.fill(word, 0, 4, i);
            stream.synchronize();
        }
    });
    // A stream of its own whose in-flight limit is the depth: each flush
    // past it waits for the oldest job, a sliding window of depth jobs.
    npu::StreamOptions window;
    window.max_jobs_in_flight = opt.depth;
    npu::Stream pipelined(device, window);
    pipelined.fill(word, 0, 4, 0); // warm-up: the stream's first job
    pipelined.synchronize();
    const double pipelined_s = seconds_of([&] {
        for (unsigned i = 0; i < jobs; ++i) {
            pipelined.fill(word, 0, 4, i);
            pipelined.flush(); // one job each
        }
        pipelined.synchronize();
    });
    return {.name = "pipelined_jobs",
            .unit = "jobs/s",
            .measured = {fmt::format("depth_{}", opt.depth), jobs / pipelined_s},
            .baseline = Figure{"depth_1", jobs / serial_s},
            .meaning = "speed-up from keeping jobs in flight"};
}

json to_json(const Result& r) {
    json entry = {{"name", r.name},
                  {"unit", r.unit},
                  {"measured", {{"name", r.measured.name}, {"value", r.measured.value}}},
                  {"baseline", nullptr},
                  {"ratio", nullptr},
                  {"meaning", r.meaning},
                  {"details", r.details}};
    if (r.baseline) {
        entry["baseline"] = {{"name", r.baseline->name}, {"value", r.baseline->value}};
        entry["ratio"] = *r.ratio();
    } else {
        entry["baseline_unavailable"] = r.baseline_missing;
    }
    return entry;
}

// The benchmarks in the order they run; each yields one or more results.
using Benchmark = std::function<std::vector<Result>(const npu::Device&, npu::Stream&,
                                                    const Options&, HostBaseline&)>;

std::vector<std::pair<std::string, Benchmark>> all_benchmarks() {
    auto single = [](Result (*bench)(const npu::Device&, npu::Stream&, const Options&)) {
        return [bench](const npu::Device& device, npu::Stream& stream, const Options& opt,
                       HostBaseline&) { return std::vector<Result>{bench(device, stream, opt)}; };
    };
    auto sdk = [](auto bench) {
        return [bench](const npu::Device& device, npu::Stream& stream, const Options& opt,
                       HostBaseline&) { return bench(device, stream, opt); };
    };
    auto compute = [](auto bench) {
        return [bench](const npu::Device& device, npu::Stream&, const Options& opt,
                       HostBaseline& host) { return bench(device, opt, host); };
    };
    std::vector<std::pair<std::string, Benchmark>> list = {
        {"job_round_trip", single(job_round_trip)},
        {"copy_bandwidth", single(copy_bandwidth)},
        {"pipelined_jobs", single(pipelined_jobs)},
        {"pool_alloc", sdk(npu::bench::pool_benchmarks)},
        {"event_round_trip", sdk(npu::bench::event_benchmarks)},
        {"launch_floor", single(npu::bench::launch_floor)},
        {"launch_breakdown", single(npu::bench::launch_breakdown)},
        {"async_launch", single(npu::bench::async_launch)},
        {"launch_scaling", single(npu::bench::launch_scaling)},
        {"kernel_memory", single(npu::bench::kernel_memory)},
        {"graph_launch", single(npu::bench::graph_launch)},
        {"op_launch", single(npu::bench::op_launch)},
        {"gemm", compute(npu::bench::gemm_benchmarks)},
        {"conv", compute(npu::bench::conv_benchmarks)}};
    if (npu::bench::onnx_available())
        list.emplace_back("onnx", compute(npu::bench::onnx_benchmarks));
    list.emplace_back("torch", compute(npu::bench::torch_benchmarks));
    return list;
}

// Run only when named: minutes under TCG, and they need `make models`.
bool named_only(const std::string& name) {
    return name == "onnx" || name == "torch" || name == "launch_scaling" || name == "kernel_memory";
}

void print_table(const npu::DeviceInfo& info, const std::string& uuid, const Options& opt,
                 const std::vector<Result>& results) {
    fmt::print("npu{} ({}, {}): {} iterations, {} runs per operation\n", info.index,
               info.pci_address, uuid, opt.iterations, opt.op_runs);
    fmt::print("  {:<16} {:>12} {:>12} {:>8}  {}\n", "benchmark", "measured", "baseline", "ratio",
               "meaning");
    for (const auto& r : results) {
        if (r.baseline)
            fmt::print("  {:<16} {:>12.1f} {:>12.1f} {:>8.3f}  {} ({} vs {}, {})\n", r.name,
                       r.measured.value, r.baseline->value, *r.ratio(), r.meaning, r.measured.name,
                       r.baseline->name, r.unit);
        else
            fmt::print("  {:<16} {:>12.1f} {:>12} {:>8}  no baseline: {} ({}, {})\n", r.name,
                       r.measured.value, "-", "-", r.baseline_missing, r.measured.name, r.unit);
        if (r.details.contains("shape")) // an operation: what ran and how long each side took
            fmt::print("  {:<16} {}: device {:.2f} ms (wall {:.2f} ms){}\n", "",
                       r.details["shape"].get<std::string>(), r.details["device_ms"].get<double>(),
                       r.details["wall_ms"].get<double>(),
                       r.details.contains("host_ms")
                           ? fmt::format(", host {:.2f} ms on {} threads ({})",
                                         r.details["host_ms"].get<double>(),
                                         r.details["host_threads"].get<unsigned>(),
                                         r.details["host_impl"].get<std::string>())
                           : std::string());
        if (r.details.contains("hops")) { // launch_breakdown: one line per hop
            for (const auto& hop : r.details["hops"])
                fmt::print("  {:<16} {:>12.1f}  {}\n", "", hop["median_us"].get<double>(),
                           hop["hop"].get<std::string>());
            fmt::print("  {:<16} device-clock hops within +-{:.1f} us (half the clock-sync "
                       "round trip); their sum is exact\n",
                       "", r.details["clock_window_us"].get<double>() / 2);
        }
        if (r.details.contains("rows")) // a table: one line per row
            for (const auto& row : r.details["rows"])
                fmt::print("  {:<16} {}\n", "", row.get<std::string>());
        if (r.details.contains("fallback_free_share")) // a network (framework_bench.hpp)
            fmt::print("  {:<16} {}: NPU {:.1f} ms per image{}; fallback-free share of the ops "
                       "{:.1f} %\n",
                       "", r.details["model"].get<std::string>(),
                       r.details["device_ms"].get<double>(),
                       r.details.contains("host_ms")
                           ? fmt::format(", CPU {:.1f} ms on {} threads ({})",
                                         r.details["host_ms"].get<double>(),
                                         r.details["host_threads"].get<unsigned>(),
                                         r.details["host_impl"].get<std::string>())
                           : std::string(),
                       100 * r.details["fallback_free_share"].get<double>());
    }
}

int run(int argc, char** argv) {
    CLI::App app{"Benchmarks of the NPU stack, each as a ratio to a baseline measured in the "
                 "same run",
                 "npu-bench"};
    Options opt;
    std::optional<std::string> selector;
    std::vector<std::string> chosen;
    bool as_json = false;
    const auto benchmarks = all_benchmarks();
    std::vector<std::string> names;
    for (const auto& [name, bench] : benchmarks)
        names.push_back(name);
    app.add_option("benchmarks", chosen,
                   fmt::format("Benchmarks to run (default: all but onnx and torch): {}",
                               fmt::join(names, ", ")))
        ->check(CLI::IsMember(names));
    app.add_option("-d,--device", selector, "Device: index, PCI address or UUID (default: all)");
    app.add_option("-n,--iterations", opt.iterations, "Samples per measurement")
        ->check(CLI::Range(5u, 100000u));
    app.add_option("--depth", opt.depth, "Jobs in flight for pipelined_jobs")
        ->check(CLI::Range(2u, 64u));
    app.add_option("--copy-mib", opt.copy_mib, "MiB per copy for copy_bandwidth")
        ->check(CLI::Range(1u, 64u));
    app.add_option("--gemm-size", opt.gemm_size, "M = N = K of the gemm benchmarks")
        ->check(CLI::Range(8u, 8192u));
    app.add_option("--conv-hw", opt.conv_hw, "Input height and width of the conv benchmarks")
        ->check(CLI::Range(3u, 224u));
    app.add_option("--conv-channels", opt.conv_channels,
                   "Input and output channels of the conv benchmarks")
        ->check(CLI::Range(1u, 2048u));
    app.add_option("--op-runs", opt.op_runs,
                   "Timed runs of each gemm and conv, on the device and the host alike")
        ->check(CLI::Range(1u, 100u));
    opt.models_dir = NPU_BENCH_MODELS_DIR;
    opt.torch_path = NPU_BENCH_TORCH_PATH;
    app.add_option("--models-dir", opt.models_dir,
                   "Networks of the onnx and torch benchmarks (make models)")
        ->capture_default_str();
    app.add_option("--torch-path", opt.torch_path,
                   "Directory holding the npu_torch package (torch benchmarks)")
        ->capture_default_str();
    app.add_option("--model-runs", opt.model_runs,
                   "Timed inferences of each network, on the NPU and the CPU alike")
        ->check(CLI::Range(1u, 100u));
    app.add_flag("--json", as_json, "JSON output (schema_version 2)");
    CLI11_PARSE(app, argc, argv);

    // Every device, or the selected one; named by PCI address and UUID.
    std::optional<std::string> wanted_uuid;
    if (selector)
        wanted_uuid = npu::Device::select(*selector).uuid();
    std::vector<std::pair<npu::DeviceInfo, npu::Device>> devices;
    for (const auto& info : npu::Device::enumerate()) {
        npu::Device device = npu::Device::open(info);
        if (!wanted_uuid || device.uuid() == *wanted_uuid)
            devices.emplace_back(info, std::move(device));
    }
    if (devices.empty()) {
        fmt::print(stderr, "No NPU devices found.\n");
        return 1;
    }
    HostBaseline host; // one per run: each host measurement serves every device
    json report = {{"schema_version", 2}, {"devices", json::array()}};
    for (const auto& [info, device] : devices) {
        const std::string uuid = device.uuid();
        npu::Stream stream(device);
        std::vector<Result> results;
        for (const auto& [name, bench] : benchmarks) {
            if (chosen.empty() ? named_only(name)
                               : std::find(chosen.begin(), chosen.end(), name) == chosen.end())
                continue;
            try {
                for (auto& r : bench(device, stream, opt, host))
                    results.push_back(std::move(r));
            } catch (const std::exception& e) {
                throw std::runtime_error(fmt::format("npu{}: {}: {}", info.index, name, e.what()));
            }
        }
        json entry = {{"index", info.index},
                      {"pci_address", info.pci_address},
                      {"uuid", uuid},
                      {"benchmarks", json::array()}};
        for (const auto& r : results)
            entry["benchmarks"].push_back(to_json(r));
        report["devices"].push_back(entry);
        if (!as_json)
            print_table(info, uuid, opt, results);
    }
    if (as_json)
        fmt::print("{}\n", report.dump(2));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (const char* spec = std::getenv("NPU_BENCH_SCALING_CHILD"))
        return npu::bench::scaling_child(spec);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "npu-bench: %s\n", e.what());
        return 1;
    }
}
