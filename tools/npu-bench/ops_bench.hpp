// op_launch: the host cost of launching a planned operation (npu/ops.hpp).
#pragma once

#include "npu/npu.hpp"
#include "result.hpp"

namespace npu::bench {

// Median host ns per launch of a tiny op (a 16-element f32 ADD) against the
// cheapest enqueue libnpu has (a 4-byte fill); host time only, batches that
// fit the command buffer, submission and device time outside the timing.
Result op_launch(const npu::Device& device, npu::Stream& stream, const Options& opt);

} // namespace npu::bench
