// Compute benchmarks: operation packets on the device against oneDNN on the
// host CPU with as many threads as the device has tensor engines.
//
//   gemm  --gemm-size^3 GEMM in f32, bf16 (f32 accumulation, bf16 result)
//         and i8 (u8 x s8 -> s32)
//   conv  ResNet-style 3x3 convolution, stride 1, pad 1, N = 1,
//         --conv-channels in and out, --conv-hw square input, f32 and bf16
//
// The device figure comes from TIMESTAMP packets written right before and
// after the operation within one job (the wall time from submit to
// completion is reported alongside); every timed result is spot-checked
// against a host reference, so a wrong answer fails the benchmark instead
// of producing a figure. The baseline is measured by the emulator on the
// host (host_baseline.hpp); without it the result says why and has no
// ratio.
#pragma once

#include <vector>

#include "host_baseline.hpp"
#include "npu/device.hpp"
#include "result.hpp"

namespace npu::bench {

std::vector<Result> gemm_benchmarks(const Device& device, const Options& opt, HostBaseline& host);
std::vector<Result> conv_benchmarks(const Device& device, const Options& opt, HostBaseline& host);

} // namespace npu::bench
