// SDK benchmarks: what a framework pays per allocation and per event.
#pragma once

#include <vector>

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

// pool_alloc: a warm pool block's allocate+free pair against a new Buffer,
// in time per pair, pairs per second on one core, and syscalls per pair.
std::vector<Result> pool_benchmarks(const Device& device, Stream& stream, const Options& opt);
// event_round_trip: record + synchronize of an event on an idle stream
// against one GET_PARAM ioctl.
std::vector<Result> event_benchmarks(const Device& device, Stream& stream, const Options& opt);

} // namespace npu::bench
