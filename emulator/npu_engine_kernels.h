// SPDX-License-Identifier: MIT
// The per-opcode kernels behind run_engine_task(), one file per family.
// Each computes the part of its packet that task.begin/end select (tile
// spaces: npu_engine_ops.h), reaching memory only through ContextMemory,
// and reports problems by throwing EngineFault.
#pragma once

#include "drm/npu_packet.h"
#include "npu_engine_ops.h"
#include "npu_tensor_access.h"

namespace npu::emu
{

// oneDNN-backed, npu_engine_gemm.cpp / npu_engine_conv.cpp
void run_gemm(ContextMemory &mem, const npu_pkt_gemm &p, const npu_engine_task &task,
	      EngineScratch &scratch);
void run_conv(ContextMemory &mem, const npu_pkt_conv &p, const npu_engine_task &task,
	      EngineScratch &scratch);
// npu_engine_pool.cpp, npu_engine_norm.cpp
void run_pool(ContextMemory &mem, const npu_pkt_pool &p, const npu_engine_task &task);
void run_norm(ContextMemory &mem, const npu_pkt_norm &p, const npu_engine_task &task);
// element-wise family: npu_engine_eltwise.cpp, npu_engine_reduce.cpp,
// npu_engine_movement.cpp (tensor copy, gather, cast)
void run_unary(ContextMemory &mem, const npu_pkt_unary &p, const npu_engine_task &task);
void run_binary(ContextMemory &mem, const npu_pkt_binary &p, const npu_engine_task &task);
void run_reduce(ContextMemory &mem, const npu_pkt_reduce &p, const npu_engine_task &task);
void run_tensor_copy(ContextMemory &mem, const npu_pkt_tensor_copy &p, const npu_engine_task &task);
void run_gather(ContextMemory &mem, const npu_pkt_gather &p, const npu_engine_task &task);
void run_cast(ContextMemory &mem, const npu_pkt_cast &p, const npu_engine_task &task);

// Applies an element-wise function (NPU_FN_*) with npu_act's parameters
// to one value; shared by UNARY and the fused activations.
double apply_fn(const npu_act &act, double x);

} // namespace npu::emu
