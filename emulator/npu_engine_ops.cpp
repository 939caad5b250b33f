// SPDX-License-Identifier: MIT
// run_engine_task(): decodes the task's packet, checks what the kernels rely
// on (opcode, exact length, tile bounds) and dispatches; every failure,
// whatever its source, becomes the task's status.
#include "npu_engine_ops.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include <omp.h>

#include "npu_engine_kernels.h"
#include "npu_engine_state.h"

namespace npu::emu
{

EngineScratch::EngineScratch(std::uint64_t local_mem_bytes)
    : local_mem_bytes_(local_mem_bytes), state_(std::make_unique<State>())
{
}

EngineScratch::~EngineScratch() = default;

bool onednn_int8_exact()
{
	static const bool exact = [] {
		// the VNNI bit of each ISA level (avx512_core_vnni and up, or
		// avx2_vnni), not the levels below it
		auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
		auto bit = [](dnnl::cpu_isa with, dnnl::cpu_isa without) {
			return static_cast<unsigned>(with) & ~static_cast<unsigned>(without);
		};
		return (isa & (bit(dnnl::cpu_isa::avx512_core_vnni, dnnl::cpu_isa::avx512_core) |
			       bit(dnnl::cpu_isa::avx2_vnni, dnnl::cpu_isa::avx2))) != 0;
	}();
	return exact;
}

bool onednn_bf16_native()
{
	// oneDNN runs bf16 from AVX-512 core up (converting where the CPU
	// lacks bf16 instructions); below that its bf16 support is partial.
	static const bool native = (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) &
				    static_cast<unsigned>(dnnl::cpu_isa::avx512_core) &
				    ~static_cast<unsigned>(dnnl::cpu_isa::avx2)) != 0;
	return native;
}

namespace
{

// The packet as its struct, after checking opcode and exact length.
template <typename Packet> Packet decode(const npu_engine_task &task, std::uint32_t dwords)
{
	static_assert(sizeof(Packet) <= sizeof(task.packet));
	require(dwords * 4 == sizeof(Packet));
	Packet p;
	std::memcpy(&p, task.packet, sizeof(Packet));
	return p;
}

// Tiles of every opcode but GEMM and CONV use axis 1 as [0, 1).
void require_single_column(const npu_engine_task &task)
{
	require(task.begin[1] == 0 && task.end[1] == 1);
}

void dispatch(ContextMemory &mem, const npu_engine_task &task, EngineScratch &scratch)
{
	std::uint32_t header;
	std::memcpy(&header, task.packet, sizeof(header));
	std::uint32_t dwords = NPU_PKT_DWORDS(header);
	require(NPU_PKT_MBZ(header) == 0 && dwords * 4 <= NPU_ENGINE_PACKET_MAX);
	// Axis bounds against the op's extents are the kernels' to check; an
	// empty tile is a malformed task for every opcode.
	require(task.begin[0] < task.end[0] && task.begin[1] < task.end[1]);

	switch (NPU_PKT_OPCODE(header)) {
	case NPU_OP_GEMM:
		run_gemm(mem, decode<npu_pkt_gemm>(task, dwords), task, scratch);
		break;
	case NPU_OP_CONV:
		run_conv(mem, decode<npu_pkt_conv>(task, dwords), task, scratch);
		break;
	case NPU_OP_POOL:
		require_single_column(task);
		run_pool(mem, decode<npu_pkt_pool>(task, dwords), task);
		break;
	case NPU_OP_NORM:
		require_single_column(task);
		run_norm(mem, decode<npu_pkt_norm>(task, dwords), task);
		break;
	case NPU_OP_UNARY:
		require_single_column(task);
		run_unary(mem, decode<npu_pkt_unary>(task, dwords), task);
		break;
	case NPU_OP_BINARY:
		require_single_column(task);
		run_binary(mem, decode<npu_pkt_binary>(task, dwords), task);
		break;
	case NPU_OP_REDUCE:
		require_single_column(task);
		run_reduce(mem, decode<npu_pkt_reduce>(task, dwords), task);
		break;
	case NPU_OP_TENSOR_COPY:
		require_single_column(task);
		run_tensor_copy(mem, decode<npu_pkt_tensor_copy>(task, dwords), task);
		break;
	case NPU_OP_GATHER:
		require_single_column(task);
		run_gather(mem, decode<npu_pkt_gather>(task, dwords), task);
		break;
	case NPU_OP_CAST:
		require_single_column(task);
		run_cast(mem, decode<npu_pkt_cast>(task, dwords), task);
		break;
	default:
		bad_task();
	}
}

} // namespace

EngineResult run_engine_task(const DmaEngine &dma, const npu_engine_task &task,
			     EngineScratch &scratch)
{
	EngineScratch::State &state = scratch.state();
	try {
		// The engine is one thread: oneDNN must not fan out (the caller
		// sets this too; it is per thread and cheap to repeat).
		omp_set_num_threads(1);
		// the generation before the first translation: a staged input
		// kept from before an invalidate is never used after it
		state.begin_task(task, dma.translation_sync().generation());
		ContextMemory mem(dma, task.pt_root, &scratch.cancel());
		dispatch(mem, task, scratch);
		return {};
	} catch (const EngineFault &fault) {
		state.forget_staged();
		EngineResult r;
		r.status = fault.status;
		if (fault.status == NPU_ENG_ST_FAULT_READ || fault.status == NPU_ENG_ST_FAULT_WRITE)
			r.fault_addr = fault.addr;
		else
			r.status = NPU_ENG_ST_BAD_TASK;
		return r;
	} catch (...) {
		// dnnl::error, std::bad_alloc, anything else: the task was not
		// something this engine can run.
		state.forget_staged();
		return {NPU_ENG_ST_BAD_TASK, 0};
	}
}

} // namespace npu::emu
