// npu-smi validate: a self-test of each device through libnpu, like
// xrt-smi validate / DCGM diag. Every check reports pass/fail and a figure.
// The data checks have the device compute something the host computes
// independently: a DMA pattern (fills and permuted copies), a GEMM and a
// convolution on the tensor engines (operation packets through the raw
// driver API, checked against a double-precision reference here).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <span>

#include <drm/npu_packet.h>
#include <fmt/format.h>

#include "../common/op_packets.hpp"
#include "../common/raw_job.hpp"
#include "command.hpp"
#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"
#include "report.hpp"

namespace npu::smi {

namespace {

using Clock = std::chrono::steady_clock;

struct Check {
    std::string name;
    bool passed = false;
    nlohmann::json value; // the figure (null if the check could not run)
    std::string unit;
    std::string detail;
    bool skipped = false; // the device does not offer what it tests (passed stays true)
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t monotonic_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

uint32_t block_pattern(size_t block) {
    return static_cast<uint32_t>(0x9e3779b9u * (block + 1)) ^ 0xa5a5a5a5u;
}

Check bandwidth(const Device& device, size_t bytes) {
    Check check{"dma_bandwidth", false, nullptr, "MB/s", ""};
    Buffer src(device, bytes), dst(device, bytes);
    Stream stream(device);
    stream.fill(src, 0, bytes, 0x5a5a5a5a);
    stream.synchronize();
    constexpr int kCopies = 8;
    const auto start = Clock::now();
    for (int i = 0; i < kCopies; ++i) {
        stream.copy(src, 0, dst, 0, bytes);
        stream.flush(); // one job per copy: measure the device, not batching
    }
    stream.synchronize();
    const double elapsed = seconds_since(start);
    const auto words = dst.as_span<uint32_t>();
    const bool intact =
        std::all_of(words.begin(), words.end(), [](uint32_t w) { return w == 0x5a5a5a5a; });
    const double mbps = static_cast<double>(bytes) * kCopies / elapsed / 1e6;
    check.value = std::round(mbps * 10) / 10;
    check.passed = intact && mbps > 0;
    check.detail = fmt::format("{} copies of {} bytes in {:.3f} s{}", kCopies, bytes, elapsed,
                               intact ? "" : ", destination corrupted");
    return check;
}

// Device: fill block i of src with block_pattern(i), copy block i to slot
// (i * 7 + 3) % blocks of dst, copy a host-written random region through.
// Host: compute the same result independently and count mismatching words.
Check data_pattern(const Device& device, size_t bytes) {
    Check check{"dma_data_pattern", false, nullptr, "mismatched words",
                "fill/copy patterns vs host reference"};
    constexpr size_t kBlocks = 64; // coprime with the stride 7
    const size_t block = bytes / kBlocks / 4 * 4;
    Buffer src(device, block * kBlocks), dst(device, block * kBlocks), host(device, block);
    auto host_words = host.as_span<uint32_t>();
    uint32_t seed = 12345;
    for (auto& w : host_words) { // xorshift: data the device cannot have made up
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        w = seed;
    }
    Stream stream(device);
    for (size_t i = 0; i < kBlocks; ++i)
        stream.fill(src, i * block, block, block_pattern(i));
    stream.synchronize(); // copies below read what the fills wrote
    for (size_t i = 0; i < kBlocks; ++i)
        stream.copy(src, i * block, dst, (i * 7 + 3) % kBlocks * block, block);
    stream.synchronize();
    stream.copy(host, 0, dst, 0, block); // slot 0 gets the host data instead
    stream.synchronize();

    const size_t words_per_block = block / 4;
    const auto out = dst.as_span<uint32_t>();
    uint64_t bad = 0;
    for (size_t i = 0; i < kBlocks; ++i) {
        const size_t slot = (i * 7 + 3) % kBlocks;
        for (size_t w = 0; w < words_per_block; ++w) {
            const uint32_t want = slot == 0 ? host_words[w] : block_pattern(i);
            bad += out[slot * words_per_block + w] != want;
        }
    }
    check.value = bad;
    check.passed = bad == 0;
    return check;
}

Check fence_latency(const Device& device, unsigned iterations) {
    Check check{"fence_latency", false, nullptr, "us", ""};
    Buffer commands(device, 4096, BufferFlags::device_read_only);
    npu_pkt_nop nop{};
    nop.header = NPU_PKT_HEADER(NPU_OP_NOP, NPU_PKT_NOP_DWORDS);
    std::memcpy(commands.host_ptr(), &nop, sizeof(nop));
    const uint32_t handles[] = {commands.handle()};
    std::vector<double> micros;
    for (unsigned i = 0; i < iterations; ++i) {
        const auto start = Clock::now();
        const uint64_t seqno =
            device.driver().submit(handles, commands.device_addr(), sizeof(nop), 0);
        const auto done = device.driver().wait(0, seqno, monotonic_ns() + 5'000'000'000);
        if (!done)
            throw Error(ETIME, "NOP job did not finish within 5 s");
        if (done->job_status != DRM_NPU_JOB_STATUS_OK)
            throw Error(EIO, "NOP job failed: " + job_status_name(done->job_status));
        micros.push_back(seconds_since(start) * 1e6);
    }
    std::sort(micros.begin(), micros.end());
    const double median = micros[micros.size() / 2];
    const double p99 = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
    check.value = std::round(median * 10) / 10;
    check.passed = true;
    check.detail = fmt::format("median {:.1f} us, p99 {:.1f} us over {} NOP jobs (submit + wait)",
                               median, p99, iterations);
    return check;
}

// ---- Compute checks -------------------------------------------------------
//
// Tolerance: every output may differ from the double-precision reference by
// 2 * n * 2^-24 * (sum of |products| + |bias|), n the number of terms
// summed (products and bias): twice the worst-case rounding of an f32 sum
// of n terms in any order, so any summation order or blocking passes, and
// a wrong element, index or missing term (errors of the order of the
// values, ~1) fails.

constexpr double kF32Epsilon = 0x1p-24;

uint64_t param_or_zero(const Device& device, uint32_t param) {
    try {
        return device.param(param);
    } catch (const Error& e) {
        if (e.errnum() == EINVAL) // a driver from before packet version 2
            return 0;
        throw;
    }
}

// Why the device cannot run an F32 operation with this opcode, "" if it can.
std::string unsupported(const Device& device, uint32_t opcode, const char* op_name) {
    const uint64_t version = param_or_zero(device, DRM_NPU_PARAM_PACKET_VERSION);
    const uint64_t ops = param_or_zero(device, DRM_NPU_PARAM_OP_MASK);
    const uint64_t dtypes = param_or_zero(device, DRM_NPU_PARAM_DTYPE_MASK);
    if (version < 2 || !(ops >> opcode & 1) || !(dtypes >> NPU_DTYPE_F32 & 1))
        return fmt::format("skipped: the device does not execute {} in f32 (packet version {}, "
                           "op mask {:#x}, dtype mask {:#x})",
                           op_name, version, ops, dtypes);
    return "";
}

// Values in [-1, 1] with three decimals, a different sequence per seed.
void fill_values(std::span<float> values, uint32_t seed) {
    for (auto& v : values) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        v = static_cast<float>(static_cast<int>(seed % 2001) - 1000) / 1000.0f;
    }
}

// Counts the outputs outside the tolerance; returns the count and fills in
// the largest error relative to its element's tolerance.
struct Comparison {
    uint64_t mismatched = 0;
    double max_error = 0;          // absolute
    double worst_of_tolerance = 0; // largest |error| / tolerance
};

void compare(Comparison& result, double got, double reference, double magnitude, uint64_t terms) {
    const double tolerance = 2.0 * static_cast<double>(terms) * kF32Epsilon * magnitude;
    const double error = std::fabs(got - reference);
    if (!(error <= tolerance)) // NaN counts as a mismatch
        ++result.mismatched;
    result.max_error = std::max(result.max_error, std::isnan(error) ? INFINITY : error);
    if (tolerance > 0)
        result.worst_of_tolerance = std::max(result.worst_of_tolerance, error / tolerance);
}

Check compute_result(const std::string& name, const std::string& what, const Comparison& c) {
    return Check{name, c.mismatched == 0, c.mismatched, "mismatched elements",
                 fmt::format("{}: max |error| {:.2g} ({:.2g} of the tolerance)", what, c.max_error,
                             c.worst_of_tolerance)};
}

// y = relu(a x b + bias): a [96, 64], b [64, 80], bias [80] broadcast over
// rows (GEMM's c with a zero row stride), y [96, 80], all f32.
Check gemm_check(const Device& device) {
    constexpr uint32_t M = 96, N = 80, K = 64;
    const std::string what = fmt::format("{}x{}x{} f32 + bias, relu", M, N, K);
    if (auto why = unsupported(device, NPU_OP_GEMM, "GEMM"); !why.empty())
        return Check{"gemm", true, nullptr, "", why, true};
    Buffer a(device, M * K * 4), b(device, K * N * 4), bias(device, N * 4), y(device, M * N * 4);
    fill_values(a.as_span<float>(), 0x1234567);
    fill_values(b.as_span<float>(), 0x89abcde);
    fill_values(bias.as_span<float>(), 0x2468ace);
    std::memset(y.host_ptr(), 0xff, y.size()); // NaN: an unwritten element fails
    using namespace npu::ops;
    CommandList commands;
    commands.add(gemm_packet(dense_tensor(a.device_addr(), NPU_DTYPE_F32, {M, K}),
                             dense_tensor(b.device_addr(), NPU_DTYPE_F32, {K, N}),
                             row_broadcast(bias.device_addr(), NPU_DTYPE_F32, M, N),
                             dense_tensor(y.device_addr(), NPU_DTYPE_F32, {M, N}),
                             activation(NPU_FN_RELU)));
    RawJob(device, {&a, &b, &bias, &y}, commands).run(std::chrono::seconds(10));

    const auto A = a.as_span<const float>(), B = b.as_span<const float>();
    const auto C = bias.as_span<const float>(), Y = y.as_span<const float>();
    Comparison result;
    for (uint32_t i = 0; i < M; ++i)
        for (uint32_t j = 0; j < N; ++j) {
            double sum = C[j], magnitude = std::fabs(C[j]);
            for (uint32_t k = 0; k < K; ++k) {
                sum += double{A[i * K + k]} * B[k * N + j];
                magnitude += std::fabs(double{A[i * K + k]} * B[k * N + j]);
            }
            compare(result, Y[i * N + j], std::max(sum, 0.0), magnitude, K + 1);
        }
    return compute_result("gemm", what, result);
}

// y = conv(x, w) + bias: x [1, 8, 12, 12], 16 filters w [16, 8, 3, 3],
// stride 2, padding 1 on every side, y [1, 16, 6, 6], all f32.
Check conv_check(const Device& device) {
    constexpr uint32_t C = 8, H = 12, W = 12, OC = 16, KS = 3, stride = 2, pad = 1;
    const uint32_t OH = npu::ops::conv_output_extent(H, KS, stride, pad);
    const uint32_t OW = npu::ops::conv_output_extent(W, KS, stride, pad);
    const std::string what = fmt::format("1x{}x{}x{} f32, {} filters {}x{}, stride {}, pad {}", C,
                                         H, W, OC, KS, KS, stride, pad);
    if (auto why = unsupported(device, NPU_OP_CONV, "CONV"); !why.empty())
        return Check{"conv2d", true, nullptr, "", why, true};
    Buffer x(device, C * H * W * 4), w(device, OC * C * KS * KS * 4), bias(device, OC * 4),
        y(device, OC * OH * OW * 4);
    fill_values(x.as_span<float>(), 0x13579bd);
    fill_values(w.as_span<float>(), 0x2c4e6a8);
    fill_values(bias.as_span<float>(), 0x7f4a7c1);
    std::memset(y.host_ptr(), 0xff, y.size());
    using namespace npu::ops;
    CommandList commands;
    commands.add(conv2d_packet(dense_tensor(x.device_addr(), NPU_DTYPE_F32, {1, C, H, W}),
                               dense_tensor(w.device_addr(), NPU_DTYPE_F32, {OC, C, KS, KS}),
                               dense_tensor(bias.device_addr(), NPU_DTYPE_F32, {OC}),
                               dense_tensor(y.device_addr(), NPU_DTYPE_F32, {1, OC, OH, OW}),
                               stride, pad));
    RawJob(device, {&x, &w, &bias, &y}, commands).run(std::chrono::seconds(10));

    const auto X = x.as_span<const float>(), Wt = w.as_span<const float>();
    const auto Bias = bias.as_span<const float>(), Y = y.as_span<const float>();
    Comparison result;
    for (uint32_t oc = 0; oc < OC; ++oc)
        for (uint32_t oy = 0; oy < OH; ++oy)
            for (uint32_t ox = 0; ox < OW; ++ox) {
                double sum = Bias[oc], magnitude = std::fabs(Bias[oc]);
                uint64_t terms = 1;
                for (uint32_t c = 0; c < C; ++c)
                    for (uint32_t ky = 0; ky < KS; ++ky)
                        for (uint32_t kx = 0; kx < KS; ++kx) {
                            const int64_t iy = int64_t{oy} * stride + ky - pad;
                            const int64_t ix = int64_t{ox} * stride + kx - pad;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue; // zero padding
                            const double product = double{X[(c * H + iy) * W + ix]} *
                                                   Wt[((oc * C + c) * KS + ky) * KS + kx];
                            sum += product;
                            magnitude += std::fabs(product);
                            ++terms;
                        }
                compare(result, Y[(oc * OH + oy) * OW + ox], sum, magnitude, terms);
            }
    return compute_result("conv2d", what, result);
}

// Runs one check; an exception fails it with the message.
Check guarded(const std::string& name, const std::function<Check()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        return {name, false, nullptr, "", e.what()};
    }
}

} // namespace

int run_validate(Run& run) {
    const auto devices = run.selected();
    if (run.options.validate_bytes < 64 * 1024 || run.options.validate_iterations == 0)
        throw std::invalid_argument("--bytes must be at least 64 KiB and --iterations at least 1");
    nlohmann::json doc = document("validate");
    doc["devices"] = nlohmann::json::array();
    bool all_passed = true;
    for (const auto& identity : devices) {
        std::vector<Check> checks;
        std::optional<Device> device;
        checks.push_back(guarded("reachable", [&] {
            if (identity.node.empty())
                throw Error(ENODEV, "no device node");
            const auto start = Clock::now();
            device =
                Device::open({identity.index, identity.node, identity.pci_address}, run.context.os);
            const auto props = device->properties();
            return Check{"reachable", true, std::round(seconds_since(start) * 1e7) / 10, "us",
                         fmt::format("{} opened, {} engines, {} queues", identity.node,
                                     props.engine_count, props.queue_count)};
        }));
        const auto state = run.system.telemetry(identity, std::chrono::milliseconds(0)).state;
        checks.push_back(guarded("firmware", [&] {
            if (!device)
                throw Error(ENODEV, "device not reachable");
            const auto version = device->properties().fw_version.str();
            const bool booted = state == "ready" && version != "0.0.0";
            return Check{"firmware", booted, version, "",
                         "state " + state + (booted ? "" : " (firmware not running)")};
        }));
        const size_t bytes = run.options.validate_bytes / 4096 * 4096;
        for (auto [name, body] :
             {std::pair<const char*, std::function<Check()>>{
                  "dma_bandwidth", [&] { return bandwidth(*device, bytes); }},
              {"dma_data_pattern", [&] { return data_pattern(*device, bytes); }},
              {"fence_latency",
               [&] { return fence_latency(*device, run.options.validate_iterations); }},
              {"gemm", [&] { return gemm_check(*device); }},
              {"conv2d", [&] { return conv_check(*device); }}}) {
            checks.push_back(device ? guarded(name, body)
                                    : Check{name, false, nullptr, "", "device not reachable"});
        }

        nlohmann::json object{{"index", identity.index}, {"pci_address", identity.pci_address}};
        object["checks"] = nlohmann::json::array();
        bool passed = true;
        for (const auto& c : checks) {
            passed = passed && c.passed;
            object["checks"].push_back(
                {{"name", c.name},
                 {"passed", c.passed},
                 {"value", c.value},
                 {"unit", c.unit.empty() ? nlohmann::json() : nlohmann::json(c.unit)},
                 {"detail", c.detail},
                 {"skipped", c.skipped}});
        }
        object["passed"] = passed;
        all_passed = all_passed && passed;
        doc["devices"].push_back(object);
    }
    doc["passed"] = all_passed && !devices.empty();

    if (run.options.format == Format::json) {
        run.out << doc.dump(2) << "\n";
    } else if (devices.empty()) {
        run.out << "No NPU devices found.\n";
    } else {
        for (const auto& d : doc["devices"]) {
            run.out << fmt::format("NPU {} ({}): {}\n", d["index"].get<unsigned>(),
                                   d["pci_address"].get<std::string>(),
                                   d["passed"].get<bool>() ? "PASS" : "FAIL");
            for (const auto& c : d["checks"]) {
                const std::string figure =
                    c["value"].is_null()
                        ? "-"
                        : text_of(c["value"]) +
                              (c["unit"].is_null() ? "" : " " + c["unit"].get<std::string>());
                run.out << fmt::format("  {:<18} {:<4}  {:<24} {}\n", c["name"].get<std::string>(),
                                       c["skipped"].get<bool>()  ? "skip"
                                       : c["passed"].get<bool>() ? "pass"
                                                                 : "FAIL",
                                       figure, c["detail"].get<std::string>());
            }
        }
    }
    return doc["passed"].get<bool>() ? 0 : 1;
}

} // namespace npu::smi
