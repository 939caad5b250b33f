// npu-smi validate: a self-test of each device through libnpu, like
// xrt-smi validate / DCGM diag. Every check reports pass/fail and a figure.
// The device has no compute engine, so the data check is a DMA pattern
// test: the device fills and permutes blocks, the host computes what the
// result must be and compares.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

#include <drm/npu_packet.h>
#include <fmt/format.h>

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
                "fill/copy patterns vs host reference (no compute engine)"};
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
               [&] { return fence_latency(*device, run.options.validate_iterations); }}}) {
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
                 {"detail", c.detail}});
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
                                       c["passed"].get<bool>() ? "pass" : "FAIL", figure,
                                       c["detail"].get<std::string>());
            }
        }
    }
    return doc["passed"].get<bool>() ? 0 : 1;
}

} // namespace npu::smi
