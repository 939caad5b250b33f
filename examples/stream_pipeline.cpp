// npu-stream-pipeline: a multi-stream pipeline on every NPU (no compute
// engine exists yet, so the "work" is device fills and copies):
//   upload stream:   host data -> device (copy_from_host), record `uploaded`
//   process stream:  waits for `uploaded`, copies into a pool block, fills a
//                    tail, records `processed`
//   download stream: waits for `processed`, copies back to the host
// with pool allocations (stream-ordered alloc/free), event timing, and a
// cross-device hand-off when two devices are present. Verifies every word.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "npu/npu.hpp"

namespace {

bool run_pipeline(const npu::Device& device, size_t words, unsigned rounds) {
    npu::StreamOptions high;
    high.priority = npu::Priority::high;
    npu::Stream upload(device);
    npu::Stream process(device, high);
    npu::Stream download(device);
    npu::MemoryPool pool = device.default_pool();
    npu::Buffer input(device, words * 4);
    npu::Event uploaded(device), processed(device), start(device), end(device);
    std::vector<uint32_t> host_in(words), host_out(words);
    const size_t tail = words / 4;

    upload.record(start);
    for (unsigned round = 0; round < rounds; ++round) {
        std::iota(host_in.begin(), host_in.end(), round * 1'000'000u);
        upload.copy_from_host(input, 0, host_in.data(), words * 4);
        upload.record(uploaded);

        process.wait(uploaded);
        npu::Buffer block = pool.allocate_async(words * 4, process);
        process.copy(input, 0, block, 0, words * 4);
        process.fill(block, (words - tail) * 4, tail * 4, 0xfeed0000u + round);
        process.record(processed);

        download.wait(processed);
        download.copy_to_host(host_out.data(), block, 0, words * 4);
        download.synchronize();
        pool.free_async(std::move(block), process);

        for (size_t i = 0; i < words; ++i) {
            const uint32_t want = i < words - tail ? host_in[i] : 0xfeed0000u + round;
            if (host_out[i] != want) {
                fmt::print(stderr, "{}: round {} word {}: {:#x}, want {:#x}\n", device.info().node,
                           round, i, host_out[i], want);
                return false;
            }
        }
        upload.synchronize(); // input is rewritten next round
    }
    process.record(end);
    process.synchronize();
    const npu::PoolStats stats = pool.stats();
    fmt::print("{} ({}): {} rounds of {} KiB through 3 streams in {} us device time; pool "
               "reserved {} KiB, high water {} KiB used\n",
               device.info().node, device.uuid(), rounds, words * 4 / 1024,
               npu::Event::elapsed(start, end).count() / 1000, stats.reserved_bytes / 1024,
               stats.used_high_water / 1024);
    return true;
}

// Device a fills, device b waits for a's event (a sync_file between the
// two devices), then fills its own buffer.
bool cross_device(const npu::Device& a, const npu::Device& b) {
    npu::Stream on_a(a), on_b(b);
    npu::Buffer first(a, 1 << 20), second(b, 1 << 20);
    npu::Event done(a);
    on_a.fill(first, 0, first.size(), 0xa);
    on_a.record(done);
    on_b.wait(done);
    on_b.fill(second, 0, second.size(), 0xb);
    on_b.synchronize();
    if (!done.query() || first.as_span<uint32_t>().back() != 0xa ||
        second.as_span<uint32_t>().back() != 0xb) {
        fmt::print(stderr, "cross-device wait: wrong order or data\n");
        return false;
    }
    fmt::print("cross-device: {} waited for {} through a sync_file\n", b.info().node,
               a.info().node);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Multi-stream copy/fill pipeline with events and a memory pool on every NPU"};
    size_t kib = 256;
    unsigned rounds = 4;
    app.add_option("--kib", kib, "buffer size in KiB")->check(CLI::Range(4, 1 << 16));
    app.add_option("--rounds", rounds, "pipeline rounds")->check(CLI::Range(1, 1000));
    CLI11_PARSE(app, argc, argv);
    try {
        const auto infos = npu::Device::enumerate();
        if (infos.empty()) {
            fmt::print(stderr, "no npu device found\n");
            return 1;
        }
        std::vector<npu::Device> devices;
        for (const auto& info : infos)
            devices.push_back(npu::Device::open(info));
        bool ok = true;
        for (const auto& device : devices)
            ok = run_pipeline(device, kib * 256, rounds) && ok;
        if (devices.size() > 1)
            ok = cross_device(devices[0], devices[1]) && ok;
        return ok ? 0 : 1;
    } catch (const npu::Error& e) {
        fmt::print(stderr, "npu-stream-pipeline: {}\n", e.what());
        return 1;
    }
}
