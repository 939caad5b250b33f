// SPDX-License-Identifier: MIT
// The control socket's "bench" command: times a GEMM or a 2-D convolution
// with oneDNN on the host CPU, on a given number of OpenMP threads. npu-bench
// runs in the guest, whose CPU QEMU emulates, so the native baseline it
// compares the device with has to be measured here, on the host.
//
//   bench gemm M N K DTYPE THREADS [RUNS]
//	y[M,N] = a[M,K] x b[K,N], all row-major. DTYPE f32 (all f32), bf16
//	(all bf16, f32 accumulation) or i8 (a u8, b s8, y s32).
//   bench conv N C OC H W KSIZE STRIDE PAD DTYPE THREADS [RUNS]
//	y[N,OC,OH,OW] = conv(x[N,C,H,W], w[OC,C,KSIZE,KSIZE]), plain NCHW
//	and OIHW memory as a packet's dense tensors; oneDNN computes in the
//	layouts it prefers and the timed run includes the reorders to and from
//	them. DTYPE f32 or bf16 (x, w and y alike).
//   bench torch MODEL THREADS [RUNS]
//	PyTorch inference on the CPU of torchvision's MODEL (resnet18 or
//	mobilenet_v2, random weights, batch 1, 3x224x224), THREADS intra-op
//	threads, by frameworks/models/torch_cpu_bench.py under /usr/bin/python3
//	(the reply has no flops; impl=pytorch-VERSION-cpu).
//
// Reply: one line "bench OP ... threads=T runs=R median_ns=A min_ns=B
// flops=F impl=NAME" and "ok", or "error REASON". RUNS (default 5, at most
// 100) timed runs follow one untimed warm-up. The command runs on the
// control thread: other control requests wait until it is done.
#pragma once

#include <string>
#include <vector>

namespace npu::emu
{

// words[0] == "bench"; returns the reply, lines ending '\n'.
std::string reference_bench_command(const std::vector<std::string> &words);

} // namespace npu::emu
