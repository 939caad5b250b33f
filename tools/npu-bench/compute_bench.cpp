#include "compute_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "../common/op_packets.hpp"
#include "../common/raw_job.hpp"
#include "npu/buffer.hpp"
#include "npu/error.hpp"

namespace npu::bench {

namespace {

using namespace npu::ops;

// Output elements compared with the host reference after timing.
constexpr uint64_t kSpotChecks = 64;
constexpr double kF32Epsilon = 0x1p-24; // unit roundoff of f32
constexpr double kBf16Epsilon = 0x1p-8; // of bf16 (8 significant bits)

double median(std::vector<double> samples) {
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    return samples[samples.size() / 2];
}

uint64_t param_or_zero(const Device& device, uint32_t param) {
    try {
        return device.param(param);
    } catch (const Error& e) {
        if (e.errnum() == EINVAL) // a driver from before compute: no such parameter
            return 0;
        throw;
    }
}

// Refuses up front, with a clear message, what the device says it cannot run.
void require_support(const Device& device, uint32_t opcode,
                     std::initializer_list<uint32_t> dtypes) {
    const uint64_t ops = param_or_zero(device, DRM_NPU_PARAM_OP_MASK);
    const uint64_t types = param_or_zero(device, DRM_NPU_PARAM_DTYPE_MASK);
    if (!(ops >> opcode & 1))
        throw std::runtime_error(
            fmt::format("the device does not execute opcode {:#x} (op mask {:#x})", opcode, ops));
    for (uint32_t dtype : dtypes)
        if (!(types >> dtype & 1))
            throw std::runtime_error(fmt::format("the device does not take {} (dtype mask {:#x})",
                                                 dtype_name(dtype), types));
}

// Deterministic inputs: small values (no overflow, no denormals) that
// differ element to element, so a misplaced index shows.
void fill_random(const Buffer& buffer, uint32_t dtype, uint64_t count, uint32_t seed) {
    uint32_t state = seed | 1;
    auto next = [&state] { // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    auto* bytes = static_cast<uint8_t*>(buffer.host_ptr());
    for (uint64_t i = 0; i < count; ++i) {
        const uint32_t r = next();
        const float value = static_cast<float>(static_cast<int>(r % 2001) - 1000) / 1000.0f;
        switch (dtype) {
        case NPU_DTYPE_F32:
            std::memcpy(bytes + 4 * i, &value, 4);
            break;
        case NPU_DTYPE_BF16: {
            const uint16_t half = bf16_from_f32(value);
            std::memcpy(bytes + 2 * i, &half, 2);
            break;
        }
        default: // I8 and U8: any bit pattern is a value
            bytes[i] = static_cast<uint8_t>(r >> 24);
        }
    }
}

double load(const Buffer& buffer, uint32_t dtype, uint64_t index) {
    const auto* bytes = static_cast<const uint8_t*>(buffer.host_ptr());
    switch (dtype) {
    case NPU_DTYPE_F32: {
        float v;
        std::memcpy(&v, bytes + 4 * index, 4);
        return v;
    }
    case NPU_DTYPE_BF16: {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * index, 2);
        return f32_from_bf16(v);
    }
    case NPU_DTYPE_I32: {
        int32_t v;
        std::memcpy(&v, bytes + 4 * index, 4);
        return v;
    }
    case NPU_DTYPE_I8:
        return static_cast<int8_t>(bytes[index]);
    case NPU_DTYPE_U8:
        return bytes[index];
    default:
        throw std::logic_error("load: unexpected dtype");
    }
}

// A reference output: the exact sum of products, the sum of their
// magnitudes and how many there were (for the rounding bound).
struct Reference {
    double value = 0;
    double magnitude = 0;
    uint64_t terms = 0;
};

// Compares spread-out outputs with the reference. A float result may differ
// by the worst-case rounding of an f32 sum of `terms` products in any order
// (2 * terms * u * sum|products|), plus the rounding of a bf16 result;
// integer results must be exact.
void spot_check(const std::string& what, const Buffer& y, uint32_t y_dtype, uint64_t outputs,
                const std::function<Reference(uint64_t)>& reference) {
    for (uint64_t s = 0; s < kSpotChecks; ++s) {
        const uint64_t index = (s * 0x9e3779b97f4a7c15ull + s) % outputs;
        const Reference ref = reference(index);
        const double got = load(y, y_dtype, index);
        double tolerance = 0;
        if (y_dtype != NPU_DTYPE_I32)
            tolerance = 2.0 * static_cast<double>(ref.terms) * kF32Epsilon * ref.magnitude +
                        (y_dtype == NPU_DTYPE_BF16 ? kBf16Epsilon * std::fabs(ref.value) : 0);
        if (!(std::fabs(got - ref.value) <= tolerance))
            throw std::runtime_error(
                fmt::format("{}: wrong result at element {}: {} instead of {} (tolerance {:.3g})",
                            what, index, got, ref.value, tolerance));
    }
}

struct DeviceTiming {
    double device_ns = 0; // between the TIMESTAMPs around the operation
    double wall_ns = 0;   // submit to completion, seen by this process
};

// Runs [TIMESTAMP, op, TIMESTAMP] as one job: once to warm up (pages
// mapped, engines' first use), then `runs` timed times; medians.
template <typename Packet>
DeviceTiming time_on_device(const Device& device, std::vector<const Buffer*> operands,
                            const Packet& op, unsigned runs) {
    const Buffer stamps(device, 2 * sizeof(uint64_t));
    CommandList commands;
    commands.add(timestamp_packet(stamps.device_addr()))
        .add(op)
        .add(timestamp_packet(stamps.device_addr() + 8));
    operands.push_back(&stamps);
    const RawJob job(device, operands, commands);
    (void)job.run();
    std::vector<double> device_ns, wall_ns;
    for (unsigned i = 0; i < runs; ++i) {
        wall_ns.push_back(static_cast<double>(job.run().count()));
        const auto t = stamps.as_span<const uint64_t>();
        if (t[1] <= t[0])
            throw std::runtime_error("the device clock did not advance across the operation");
        device_ns.push_back(static_cast<double>(t[1] - t[0]));
    }
    return {median(device_ns), median(wall_ns)};
}

// The figures of one operation as a Result: rates in units per second.
Result make_result(const std::string& name, const std::string& unit, double flops,
                   const DeviceTiming& device, const std::string& host_command, HostBaseline& host,
                   nlohmann::json details) {
    Result r;
    r.name = name;
    r.unit = unit;
    r.measured = {"device", flops / device.device_ns}; // G per second = per nanosecond
    r.meaning = "device speed relative to oneDNN on the host with one thread per engine";
    details["flops"] = flops;
    details["device_ms"] = device.device_ns / 1e6;
    details["wall_ms"] = device.wall_ns / 1e6;
    details["wall_rate"] = flops / device.wall_ns;
    details["host_command"] = host_command;
    if (const auto timing = host.measure(host_command, &r.baseline_missing)) {
        r.baseline = Figure{"onednn_host", flops / timing->median_ns};
        details["host_ms"] = timing->median_ns / 1e6;
        details["host_threads"] = timing->threads;
        details["host_impl"] = timing->impl;
    }
    r.details = std::move(details);
    return r;
}

struct GemmTypes {
    uint32_t a, b, y;
    const char* name; // also the emulator's DTYPE word
    const char* unit;
};

Result gemm_benchmark(const Device& device, const Options& opt, HostBaseline& host,
                      const GemmTypes& types) {
    require_support(device, NPU_OP_GEMM, {types.a, types.b, types.y});
    const uint32_t size = opt.gemm_size;
    const uint32_t m = size, n = size, k = size;
    const Buffer a(device, uint64_t{m} * k * dtype_size(types.a));
    const Buffer b(device, uint64_t{k} * n * dtype_size(types.b));
    const Buffer y(device, uint64_t{m} * n * dtype_size(types.y));
    fill_random(a, types.a, uint64_t{m} * k, 0x1234);
    fill_random(b, types.b, uint64_t{k} * n, 0x5678);
    std::memset(y.host_ptr(), 0xff, y.size()); // NaN / -1: never a right answer
    const npu_pkt_gemm op =
        gemm_packet(dense_tensor(a.device_addr(), types.a, {m, k}),
                    dense_tensor(b.device_addr(), types.b, {k, n}), npu_tensor{},
                    dense_tensor(y.device_addr(), types.y, {m, n}));
    const DeviceTiming timing = time_on_device(device, {&a, &b, &y}, op, opt.op_runs);
    const std::string name = std::string("gemm_") + types.name;
    spot_check(name, y, types.y, uint64_t{m} * n, [&](uint64_t index) {
        const uint64_t row = index / n, col = index % n;
        Reference ref{0, 0, k};
        for (uint64_t i = 0; i < k; ++i) {
            const double product = load(a, types.a, row * k + i) * load(b, types.b, i * n + col);
            ref.value += product;
            ref.magnitude += std::fabs(product);
        }
        return ref;
    });
    const unsigned threads = device.properties().engine_count;
    return make_result(
        name, types.unit, 2.0 * m * n * k, timing,
        fmt::format("bench gemm {} {} {} {} {} {}", m, n, k, types.name, threads, opt.op_runs),
        host, {{"shape", fmt::format("{}x{}x{}", m, n, k)}});
}

Result conv_benchmark(const Device& device, const Options& opt, HostBaseline& host,
                      uint32_t dtype) {
    require_support(device, NPU_OP_CONV, {dtype});
    const uint32_t channels = opt.conv_channels, hw = opt.conv_hw;
    constexpr uint32_t kernel = 3, stride = 1, pad = 1;
    const uint32_t out_hw = conv_output_extent(hw, kernel, stride, pad);
    const npu_tensor x_shape = dense_tensor(0, dtype, {1, channels, hw, hw});
    const npu_tensor w_shape = dense_tensor(0, dtype, {channels, channels, kernel, kernel});
    const npu_tensor y_shape = dense_tensor(0, dtype, {1, channels, out_hw, out_hw});
    const Buffer x(device, dense_bytes(x_shape)), w(device, dense_bytes(w_shape)),
        y(device, dense_bytes(y_shape));
    fill_random(x, dtype, element_count(x_shape), 0x9abc);
    fill_random(w, dtype, element_count(w_shape), 0xdef0);
    std::memset(y.host_ptr(), 0xff, y.size());
    auto at = [](npu_tensor t, const Buffer& buffer) {
        t.addr = buffer.device_addr();
        return t;
    };
    const npu_pkt_conv op =
        conv2d_packet(at(x_shape, x), at(w_shape, w), npu_tensor{}, at(y_shape, y), stride, pad);
    const DeviceTiming timing = time_on_device(device, {&x, &w, &y}, op, opt.op_runs);
    const std::string name = std::string("conv_") + dtype_name(dtype);
    spot_check(name, y, dtype, element_count(y_shape), [&](uint64_t index) {
        const int64_t oc = index / (uint64_t{out_hw} * out_hw);
        const int64_t oy = index / out_hw % out_hw, ox = index % out_hw;
        Reference ref{0, 0, uint64_t{channels} * kernel * kernel};
        for (int64_t c = 0; c < channels; ++c)
            for (int64_t ky = 0; ky < kernel; ++ky)
                for (int64_t kx = 0; kx < kernel; ++kx) {
                    const int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                    if (iy < 0 || iy >= hw || ix < 0 || ix >= hw)
                        continue;
                    const double product =
                        load(x, dtype, (c * hw + iy) * hw + ix) *
                        load(w, dtype, ((oc * channels + c) * kernel + ky) * kernel + kx);
                    ref.value += product;
                    ref.magnitude += std::fabs(product);
                }
        return ref;
    });
    const double flops = 2.0 * channels * out_hw * out_hw * channels * kernel * kernel;
    const unsigned threads = device.properties().engine_count;
    return make_result(
        name, "GFLOP/s", flops, timing,
        fmt::format("bench conv 1 {} {} {} {} {} {} {} {} {} {}", channels, channels, hw, hw,
                    kernel, stride, pad, dtype_name(dtype), threads, opt.op_runs),
        host,
        {{"shape", fmt::format("1x{}x{}x{}, {} filters {}x{}, stride {}, pad {}", channels, hw, hw,
                               channels, kernel, kernel, stride, pad)}});
}

} // namespace

std::vector<Result> gemm_benchmarks(const Device& device, const Options& opt, HostBaseline& host) {
    std::vector<Result> results;
    for (const GemmTypes& types :
         {GemmTypes{NPU_DTYPE_F32, NPU_DTYPE_F32, NPU_DTYPE_F32, "f32", "GFLOP/s"},
          GemmTypes{NPU_DTYPE_BF16, NPU_DTYPE_BF16, NPU_DTYPE_BF16, "bf16", "GFLOP/s"},
          GemmTypes{NPU_DTYPE_U8, NPU_DTYPE_I8, NPU_DTYPE_I32, "i8", "GOP/s"}})
        results.push_back(gemm_benchmark(device, opt, host, types));
    return results;
}

std::vector<Result> conv_benchmarks(const Device& device, const Options& opt, HostBaseline& host) {
    std::vector<Result> results;
    for (uint32_t dtype : {NPU_DTYPE_F32, NPU_DTYPE_BF16})
        results.push_back(conv_benchmark(device, opt, host, dtype));
    return results;
}

} // namespace npu::bench
