#include "ops_bench.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "npu/ops.hpp"

namespace npu::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Median over opt.iterations batches of the ns per call of fn, batches of
// `batch` calls each followed (untimed) by a synchronize.
template <typename Fn>
double median_ns_per_call(npu::Stream& stream, unsigned samples, unsigned batch, Fn&& fn) {
    for (unsigned i = 0; i < batch; ++i) // warm-up: command buffers exist
        fn();
    stream.synchronize();
    std::vector<double> per_call(samples);
    for (auto& sample : per_call) {
        const auto start = Clock::now();
        for (unsigned i = 0; i < batch; ++i)
            fn();
        sample = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / batch;
        stream.synchronize();
    }
    std::nth_element(per_call.begin(), per_call.begin() + samples / 2, per_call.end());
    return per_call[samples / 2];
}

} // namespace

Result op_launch(const npu::Device& device, npu::Stream& stream, const Options& opt) {
    using namespace npu::ops;
    npu::Buffer buf(device, 4096);
    const auto base = buf.device_addr();
    const void* a = reinterpret_cast<const void*>(base);
    const void* b = reinterpret_cast<const void*>(base + 64);
    const void* y = reinterpret_cast<const void*>(base + 128);
    const TensorDesc t = TensorDesc::contiguous(DType::f32, {16});
    const Plan plan(device, OpDesc::binary(NPU_BIN_ADD), {t, t, TensorDesc{}, t});
    // Batches that fit one 64 KiB command buffer: launch() never submits.
    constexpr unsigned batch = 64;
    const unsigned samples = std::max(5u, opt.iterations / 10);
    const double launch = median_ns_per_call(stream, samples, batch, [&] {
        plan.launch(stream, {a, b, nullptr, y});
    });
    uint32_t value = 0;
    const double fill =
        median_ns_per_call(stream, samples, batch, [&] { stream.fill(buf, 256, 4, ++value); });
    Result r{.name = "op_launch",
             .unit = "ns",
             .measured = {"binary_add_16_launch", launch},
             .baseline = Figure{"fill_4_bytes_enqueue", fill},
             .meaning = "host cost of an op launch relative to the cheapest enqueue"};
    r.details = {{"packet_bytes", plan.command_bytes()}, {"batch", batch}};
    return r;
}

} // namespace npu::bench
