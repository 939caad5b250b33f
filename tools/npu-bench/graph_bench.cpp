// graph_launch (graph_bench.hpp): per-operation host overhead. The same
// graph_ops small fills are enqueued either as a captured graph, launched
// with one CALL and one submission, or one submission each (fill + flush);
// only the host's time to hand the work over is timed, the device's run is
// waited for outside the timed part. The ratio is the graph's cost per
// operation over the per-submission one (lower is better; issue 13's goal
// is at most 0.2).
#include "graph_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace npu::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned graph_ops = 32;

// Median over samples of the host time (us) of enqueue, each followed by
// an untimed synchronize.
double median_enqueue_us(unsigned samples, npu::Stream& stream, const std::function<void()>& fn) {
    fn();
    stream.synchronize();
    std::vector<double> times(samples);
    for (auto& time : times) {
        const auto start = Clock::now();
        fn();
        time = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
        stream.synchronize();
    }
    std::nth_element(times.begin(), times.begin() + samples / 2, times.end());
    return times[samples / 2];
}

} // namespace

Result graph_launch(const npu::Device& device, npu::Stream&, const Options& opt) {
    npu::Buffer words(device, 4096);
    // room for one job per operation without waiting for the device
    npu::StreamOptions options;
    options.max_jobs_in_flight = graph_ops + 1;
    npu::Stream stream(device, options);
    npu::Graph::begin_capture(stream);
    for (unsigned i = 0; i < graph_ops; ++i)
        stream.fill(words, 4 * i, 4, i);
    npu::GraphExec exec(npu::Graph::end_capture(stream));
    const unsigned samples = std::max(5u, opt.iterations / 4);
    const double graph_us = median_enqueue_us(samples, stream, [&] {
        exec.launch(stream);
        stream.flush();
    });
    const double each_us = median_enqueue_us(samples, stream, [&] {
        for (unsigned i = 0; i < graph_ops; ++i) {
            stream.fill(words, 4 * i, 4, i);
            stream.flush();
        }
    });
    return {.name = "graph_launch",
            .unit = "us/op",
            .measured = {fmt::format("graph_of_{}", graph_ops), graph_us / graph_ops},
            .baseline = Figure{"submit_per_op", each_us / graph_ops},
            .meaning = "host cost per operation of a graph launch relative to one submission "
                       "per operation (lower is better)",
            .details = {{"ops", graph_ops}}};
}

} // namespace npu::bench
