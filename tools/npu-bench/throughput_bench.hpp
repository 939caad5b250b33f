// Launch throughput and memory benchmarks of issue 15 (docs/performance.md):
//   async_launch   small operations launched back to back through a stream,
//                  per second / the firmware's own rate for the same packets
//                  in one job (its pickup -> completion, debugfs hops)
//   launch_scaling launches per second with 1, 2, 4, 8 processes and 1, 8,
//                  64 streams each (a table; baseline: 1 process, 1 stream)
//   kernel_memory  kernel memory per context and per buffer object (MemFree
//                  deltas of /proc/meminfo, payload excluded)
#pragma once

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

Result async_launch(const Device& device, Stream& stream, const Options& opt);
Result launch_scaling(const Device& device, Stream& stream, const Options& opt);
Result kernel_memory(const Device& device, Stream& stream, const Options& opt);

// A launch_scaling worker process (npu-bench runs itself with
// NPU_BENCH_SCALING_CHILD="device-index streams launches"): opens the
// device, makes its streams, says "ready", waits for "go" on stdin, runs
// its launches and prints "start_ns end_ns". Returns the exit status.
int scaling_child(const char* spec);

} // namespace npu::bench
