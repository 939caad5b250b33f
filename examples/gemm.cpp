// npu-gemm: on each NPU, multiply two matrices with the op API on the
// tensor engines, once in f32 and once with bf16 inputs (f32 result), check
// every element against a host reference and print the largest error and
// the time the device took.
//
// The libnpu 1.0 way: device memory from npu::malloc (plain pointers),
// copies with Stream::memcpy, one npu::ops::Plan per descriptor set
// launched on the stream with those pointers, and two timing events around
// the launch for the device time.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "npu/npu.hpp"
#include "npu/ops.hpp"

namespace {

using npu::ops::DType;

struct Outcome {
    double max_error = 0;
    uint64_t mismatched = 0; // elements outside the rounding bound
    double device_ms = 0;
};

// Owns an npu::malloc allocation.
struct FreeDevice {
    void operator()(void* p) const { npu::free(p); }
};
using DevicePtr = std::unique_ptr<void, FreeDevice>;

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

// f32 -> bf16, round to nearest even (the values here are finite).
uint16_t bf16_from_f32(float value) {
    const auto bits = std::bit_cast<uint32_t>(value);
    return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float f32_from_bf16(uint16_t value) {
    return std::bit_cast<float>(static_cast<uint32_t>(value) << 16);
}

// Copies the matrix to device memory as `dtype` (F32 or BF16) in stream
// order and returns the values the device will actually see (rounded to
// bf16 for BF16). The host data may be reused once memcpy returns.
std::vector<float> upload(npu::Stream& stream, void* device_ptr, const std::vector<float>& values,
                          DType dtype) {
    std::vector<float> seen(values);
    if (dtype == DType::f32) {
        stream.memcpy(device_ptr, values.data(), values.size() * sizeof(float));
        return seen;
    }
    std::vector<uint16_t> halves(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        halves[i] = bf16_from_f32(values[i]);
        seen[i] = f32_from_bf16(halves[i]);
    }
    stream.memcpy(device_ptr, halves.data(), halves.size() * sizeof(uint16_t));
    return seen;
}

// y = a x b for n x n matrices, a and b in `dtype`, y in f32.
Outcome gemm_on_device(const npu::Device& device, npu::Stream& stream, uint32_t n, DType dtype) {
    const size_t count = size_t{n} * n;
    const int64_t side = n;
    const DevicePtr a(npu::malloc(device, count * npu::ops::dtype_size(dtype)));
    const DevicePtr b(npu::malloc(device, count * npu::ops::dtype_size(dtype)));
    const DevicePtr y(npu::malloc(device, count * sizeof(float)));
    const auto A =
        upload(stream, a.get(), random_matrix(count, 0x1234567 + uint32_t(dtype)), dtype);
    const auto B =
        upload(stream, b.get(), random_matrix(count, 0x7654321 + uint32_t(dtype)), dtype);
    stream.memset32(y.get(), std::bit_cast<uint32_t>(NAN), count); // unwritten fails

    // Planned once (validation, tiling, packets); launched with pointers.
    const npu::ops::Plan gemm(device, npu::ops::OpDesc::gemm(),
                              {npu::ops::TensorDesc::contiguous(dtype, {side, side}),
                               npu::ops::TensorDesc::contiguous(dtype, {side, side}),
                               {}, // no c
                               npu::ops::TensorDesc::contiguous(DType::f32, {side, side})});
    npu::Event start(device), end(device);
    stream.record(start);
    gemm.launch(stream, {a.get(), b.get(), nullptr, y.get()});
    stream.record(end);
    std::vector<float> Y(count);
    stream.memcpy(Y.data(), y.get(), count * sizeof(float));
    stream.synchronize();

    // Reference in double. The device sums n f32 products in some order: it
    // may differ by at most 2 * n * 2^-24 * sum |products| (bf16 inputs are
    // exact in f32, so the same bound holds for them).
    Outcome outcome;
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
    outcome.device_ms = static_cast<double>(npu::Event::elapsed(start, end).count()) / 1e6;
    return outcome;
}

bool run_device(const npu::DeviceInfo& info, uint32_t n) {
    const std::string name = fmt::format("npu{} ({})", info.index, info.pci_address);
    try {
        const npu::Device device = npu::Device::open(info);
        const unsigned engines = device.properties().engine_count;
        npu::Stream stream(device);
        bool ok = true;
        for (DType dtype : {DType::f32, DType::bf16}) {
            const Outcome o = gemm_on_device(device, stream, n, dtype);
            const double gflops = 2.0 * n * n * n / (o.device_ms * 1e6);
            fmt::print("{}: gemm {}x{}x{} {:<4} -> f32 on {} engines: max |error| {:.2g}, "
                       "device {:.2f} ms ({:.1f} GFLOP/s), {}\n",
                       name, n, n, n, npu::ops::dtype_name(dtype), engines, o.max_error,
                       o.device_ms, gflops,
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
    CLI::App app{"Multiply matrices with a GEMM operation on each NPU and verify the result on the "
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
