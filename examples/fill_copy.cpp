// npu-fill-copy: on each NPU, fill a buffer on the device, copy it to
// another on the device, and check every byte on the host.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "npu/npu.hpp"

namespace {

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * KiB;

std::string size_name(size_t bytes) {
    if (bytes >= MiB && bytes % MiB != 0)
        return fmt::format("{} MiB + {} KiB", bytes / MiB, (bytes % MiB) / KiB);
    return bytes >= MiB ? fmt::format("{} MiB", bytes / MiB) : fmt::format("{} KiB", bytes / KiB);
}

// Expected byte at offset i of a buffer filled with pattern from a 4-byte
// aligned start.
uint8_t pattern_byte(uint32_t pattern, size_t i) {
    return static_cast<uint8_t>(pattern >> (8 * (i % 4)));
}

// Fills src with `low` and its upper half with `high` on the device, copies
// src to dst, and checks dst on the host. Returns an error text or nothing.
std::optional<std::string> fill_copy_verify(const npu::Device& device, npu::Stream& stream,
                                            size_t size, uint32_t low, uint32_t high) {
    npu::Buffer src(device, size);
    npu::Buffer dst(device, size);
    // Start from host data that differs from both patterns everywhere.
    for (auto& word : src.as_span<uint32_t>())
        word = ~low;
    for (auto& word : dst.as_span<uint32_t>())
        word = ~high ^ ~low ^ 0x01010101u;
    const size_t half = size / 2;
    stream.fill(src, 0, size, low);
    stream.fill(src, half, size - half, high);
    stream.copy(src, 0, dst, 0, size);
    stream.synchronize();

    const auto bytes = dst.as_span<const uint8_t>();
    for (size_t i = 0; i < size; ++i) {
        const uint8_t expected = pattern_byte(i < half ? low : high, i);
        if (bytes[i] != expected)
            return fmt::format("{} buffer: byte {} is 0x{:02x}, expected 0x{:02x}", size_name(size),
                               i, bytes[i], expected);
    }
    return std::nullopt;
}

bool run_device(const npu::DeviceInfo& info, const std::vector<size_t>& sizes) {
    const std::string name = fmt::format("npu{} ({})", info.index, info.pci_address);
    try {
        const npu::Device device = npu::Device::open(info);
        const auto props = device.properties();
        npu::Stream stream(device);
        std::vector<std::string> done;
        for (size_t n = 0; n < sizes.size(); ++n) {
            // Patterns differ per device and size so stale data cannot pass.
            const uint32_t low = 0x9e3779b9u * (info.index + 1) ^ static_cast<uint32_t>(n << 24);
            const uint32_t high = low * 0x85ebca6bu + 0x1234567u;
            if (auto error = fill_copy_verify(device, stream, sizes[n], low, high)) {
                fmt::print(stderr, "{}: MISMATCH: {}\n", name, *error);
                return false;
            }
            done.push_back(size_name(sizes[n]));
        }
        fmt::print("{} fw {}: fill+copy {} verified\n", name, props.fw_version.str(),
                   fmt::join(done, ", "));
        return true;
    } catch (const std::exception& e) {
        fmt::print(stderr, "{}: error: {}\n", name, e.what());
        return false;
    }
}

int run(int argc, char** argv) {
    CLI::App app{"Fill and copy buffers on each NPU and verify the result on the host",
                 "npu-fill-copy"};
    std::optional<unsigned> device_index;
    app.add_option("-d,--device", device_index, "Only this device index");
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
    const std::vector<size_t> sizes = {4 * KiB, 1 * MiB + 4 * KiB, 16 * MiB};
    bool ok = true;
    for (const auto& info : devices)
        ok = run_device(info, sizes) && ok;
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "npu-fill-copy: %s\n", e.what());
        return 1;
    }
}
