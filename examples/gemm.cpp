// npu-gemm: on each NPU, multiply two matrices with one GEMM packet on the
// tensor engines, once in f32 and once with bf16 inputs (f32 result), check
// every element against a host reference and print the largest error and
// the time the device took.
//
// The Stream API encodes data movement only; the operation packet is built
// with tools/common/op_packets.hpp and submitted as a job of its own
// through libnpu's DriverApi (tools/common/raw_job.hpp). Two TIMESTAMP
// packets around the GEMM give the device time.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "../tools/common/op_packets.hpp"
#include "../tools/common/raw_job.hpp"
#include "npu/npu.hpp"

namespace {

using namespace npu::ops;

struct Outcome {
    double max_error = 0;
    uint64_t mismatched = 0; // elements outside the rounding bound
    double device_ms = 0;
};

// Values in [-1, 1] with three decimals; a different sequence per seed.
std::vector<float> random_matrix(size_t count, uint32_t seed) {
    std::vector<float> values(count);
    for (auto& v : values) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        v = static_cast<float>(static_cast<int>(seed % 2001) - 1000) / 1000.0f;
    }
    return values;
}

// Writes the matrix into the buffer as `dtype` (F32 or BF16) and returns the
// values the device will actually see (rounded to bf16 for BF16).
std::vector<float> upload(const npu::Buffer& buffer, const std::vector<float>& values,
                          uint32_t dtype) {
    std::vector<float> seen(values);
    if (dtype == NPU_DTYPE_F32) {
        std::copy(values.begin(), values.end(), buffer.as_span<float>().begin());
        return seen;
    }
    auto halves = buffer.as_span<uint16_t>();
    for (size_t i = 0; i < values.size(); ++i) {
        halves[i] = bf16_from_f32(values[i]);
        seen[i] = f32_from_bf16(halves[i]);
    }
    return seen;
}

// y = a x b for n x n matrices, a and b in `dtype`, y in f32.
Outcome gemm_on_device(const npu::Device& device, uint32_t n, uint32_t dtype) {
    const size_t count = size_t{n} * n;
    const npu::Buffer a(device, count * dtype_size(dtype)), b(device, count * dtype_size(dtype));
    const npu::Buffer y(device, count * sizeof(float)), stamps(device, 2 * sizeof(uint64_t));
    const auto A = upload(a, random_matrix(count, 0x1234567 + dtype), dtype);
    const auto B = upload(b, random_matrix(count, 0x7654321 + dtype), dtype);
    std::fill(y.as_span<float>().begin(), y.as_span<float>().end(), NAN); // unwritten fails

    CommandList commands;
    commands.add(timestamp_packet(stamps.device_addr()))
        .add(gemm_packet(dense_tensor(a.device_addr(), dtype, {n, n}),
                         dense_tensor(b.device_addr(), dtype, {n, n}), npu_tensor{},
                         dense_tensor(y.device_addr(), NPU_DTYPE_F32, {n, n})))
        .add(timestamp_packet(stamps.device_addr() + 8));
    RawJob(device, {&a, &b, &y, &stamps}, commands).run();

    // Reference in double. The device sums n f32 products in some order: it
    // may differ by at most 2 * n * 2^-24 * sum |products| (bf16 inputs are
    // exact in f32, so the same bound holds for them).
    Outcome outcome;
    const auto Y = y.as_span<const float>();
    std::vector<double> sum(n), magnitude(n);
    for (uint32_t i = 0; i < n; ++i) {
        std::fill(sum.begin(), sum.end(), 0.0);
        std::fill(magnitude.begin(), magnitude.end(), 0.0);
        for (uint32_t k = 0; k < n; ++k) {
            const double aik = A[size_t{i} * n + k];
            for (uint32_t j = 0; j < n; ++j) {
                const double product = aik * B[size_t{k} * n + j];
                sum[j] += product;
                magnitude[j] += std::fabs(product);
            }
        }
        for (uint32_t j = 0; j < n; ++j) {
            const double error = std::fabs(Y[size_t{i} * n + j] - sum[j]);
            if (!(error <= 2.0 * n * 0x1p-24 * magnitude[j]))
                ++outcome.mismatched;
            outcome.max_error = std::max(outcome.max_error, std::isnan(error) ? INFINITY : error);
        }
    }
    const auto t = stamps.as_span<const uint64_t>();
    outcome.device_ms = static_cast<double>(t[1] - t[0]) / 1e6;
    return outcome;
}

bool run_device(const npu::DeviceInfo& info, uint32_t n) {
    const std::string name = fmt::format("npu{} ({})", info.index, info.pci_address);
    try {
        const npu::Device device = npu::Device::open(info);
        const unsigned engines = device.properties().engine_count;
        bool ok = true;
        for (uint32_t dtype : {NPU_DTYPE_F32, NPU_DTYPE_BF16}) {
            const Outcome o = gemm_on_device(device, n, dtype);
            const double gflops = 2.0 * n * n * n / (o.device_ms * 1e6);
            fmt::print("{}: gemm {}x{}x{} {:<4} -> f32 on {} engines: max |error| {:.2g}, "
                       "device {:.2f} ms ({:.1f} GFLOP/s), {}\n",
                       name, n, n, n, dtype_name(dtype), engines, o.max_error, o.device_ms, gflops,
                       o.mismatched ? fmt::format("MISMATCH in {} elements", o.mismatched)
                                    : std::string("verified"));
            ok = ok && o.mismatched == 0;
        }
        return ok;
    } catch (const std::exception& e) {
        fmt::print(stderr, "{}: error: {}\n", name, e.what());
        return false;
    }
}

int run(int argc, char** argv) {
    CLI::App app{"Multiply matrices with a GEMM packet on each NPU and verify the result on the "
                 "host",
                 "npu-gemm"};
    std::optional<unsigned> device_index;
    uint32_t n = 256;
    app.add_option("-d,--device", device_index, "Only this device index");
    app.add_option("-n,--size", n, "Matrix size (n x n)")->check(CLI::Range(1u, 2048u));
    CLI11_PARSE(app, argc, argv);

    auto devices = npu::Device::enumerate();
    if (devices.empty()) {
        fmt::print(stderr, "No NPU devices found.\n");
        return 1;
    }
    if (device_index) {
        if (*device_index >= devices.size()) {
            fmt::print(stderr, "npu{}: no such device ({} found)\n", *device_index, devices.size());
            return 1;
        }
        devices = {devices[*device_index]};
    }
    bool ok = true;
    for (const auto& info : devices)
        ok = run_device(info, n) && ok;
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "npu-gemm: %s\n", e.what());
        return 1;
    }
}
