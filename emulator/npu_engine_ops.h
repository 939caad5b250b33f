// SPDX-License-Identifier: MIT
// What a tensor engine computes: one tile (npu_engine_task) of one
// operation packet (uapi/drm/npu_packet.h), reading and writing context
// memory only through the device MMU. The firmware has validated the packet
// and chosen the tile; the engine still checks what it relies on, so a bad
// task reports NPU_ENG_ST_BAD_TASK instead of touching memory it should not.
//
// Tile spaces (docs/hardware.md, "Tensor engines"): begin/end index two
// axes whose meaning depends on the opcode:
//   GEMM            axis 0: rows of y flattened over batch and M; axis 1: N
//   CONV            axis 0: N x groups (n * groups + g); axis 1: output
//                   channels within the group
//   POOL            axis 0: N x C; axis 1: [0, 1)
//   NORM            axis 0: positions outside the normalised axes, row-major
//                   over x's remaining dimensions (BATCH: every element);
//                   axis 1: [0, 1)
//   all others      axis 0: elements of y, row-major; axis 1: [0, 1)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "npu_dma.h"
#include "npu_hw.h"

namespace npu::emu
{

struct EngineResult {
	std::uint32_t status = NPU_ENG_ST_OK; // NPU_ENG_ST_*
	std::uint64_t fault_addr = 0;	      // for FAULT_READ / FAULT_WRITE
};

// Per-engine state kept between tasks: the engine's local memory (staging
// buffers, at most local_mem_bytes) and whatever may be reused between
// tiles of the same op_id. One per engine; used by one thread at a time.
// A GEMM or CONV tile that does not fit local memory by the firmware's own
// count (docs/operations.md, "Tiles") is a bad task; POOL and NORM stage
// only bounded pieces. State: npu_engine_state.h.
class EngineScratch
{
public:
	explicit EngineScratch(std::uint64_t local_mem_bytes);
	~EngineScratch();
	EngineScratch(const EngineScratch &) = delete;
	EngineScratch &operator=(const EngineScratch &) = delete;

	std::uint64_t local_mem_bytes() const { return local_mem_bytes_; }
	// Set to stop the running task early (a device reset); the engine
	// clears it before it starts the next one.
	std::atomic<bool> &cancel() { return cancel_; }
	struct State;
	State &state() { return *state_; }

private:
	std::uint64_t local_mem_bytes_;
	std::atomic<bool> cancel_{false};
	std::unique_ptr<State> state_;
};

// Runs one task synchronously on the calling thread (the engine's own; any
// oneDNN work runs on that thread alone). Never throws; a fault stops the
// tile at the first failing page (earlier writes of the tile may have
// happened).
EngineResult run_engine_task(const DmaEngine &dma, const npu_engine_task &task,
			     EngineScratch &scratch);

} // namespace npu::emu
