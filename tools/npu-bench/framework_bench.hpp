// Framework benchmarks: real networks (torchvision's resnet18 and
// mobilenet_v2, random weights, batch 1, 3x224x224, as `make models`
// exports them to build/models) through the NPU's two framework
// integrations, each against PyTorch on the host CPU with as many threads
// as the device has tensor engines, measured in the same run.
//
//   onnx   images/s through libnpu-onnx (Model::load, a Session planned
//          once, Session::run per image; frameworks/onnx) -> onnx_<model>
//   torch  images/s through the PyTorch device (npu_torch, "privateuseone"),
//          measured by torch_device_bench.py in a /usr/bin/python3 child of
//          npu-bench (one process for both models: importing torch takes
//          half a minute under TCG)                     -> torch_<model>
//
// The baseline is "bench torch MODEL THREADS RUNS" on the emulator's control
// channel (host_baseline.hpp): the guest's CPU is emulated, so PyTorch's CPU
// figure is measured on the host. Each result also carries the
// fallback-free share of the ops in details: ONNX, compute nodes placed on
// the NPU over all compute nodes (metadata nodes such as Reshape and
// Flatten run on the host by design and are not counted); torch, aten ops
// that did not fall back to the CPU over all aten ops dispatched in one
// forward. Every output is compared with PyTorch's CPU output for the same
// input (build/models/MODEL/test_data_set_0): a wrong answer fails the
// benchmark instead of producing a figure.
//
// Neither runs unless named (`npu-bench onnx torch`): they take minutes
// under TCG.
#pragma once

#include <vector>

#include "host_baseline.hpp"
#include "npu/device.hpp"
#include "result.hpp"

namespace npu::bench {

// Whether this npu-bench was built with libnpu-onnx.
bool onnx_available();
std::vector<Result> onnx_benchmarks(const Device& device, const Options& opt, HostBaseline& host);
std::vector<Result> torch_benchmarks(const Device& device, const Options& opt, HostBaseline& host);

} // namespace npu::bench
