// SPDX-License-Identifier: MIT
// The device DMA engine: COPY and FILL between the control core's address
// map (CORE: the BAR2 window), host bus addresses (HOST: guest RAM) and a
// context's virtual addresses (CTX: walked through the device MMU).
// Stateless apart from the two memory regions and the MMU's translation
// invalidate state (npu_mmu_sync.h), which every user of translate() on CTX
// addresses shares; safe to call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "npu_mmu_sync.h"
#include "npu_shared_mem.h"

namespace npu::emu
{

struct DmaRequest {
	std::uint32_t op = 0; // NPU_DMA_OP(op, src space, dst space)
	std::uint64_t src = 0;
	std::uint64_t dst = 0;
	std::uint64_t len = 0;
	std::uint32_t fill = 0;
	std::uint64_t pt_root = 0;
};

struct DmaResult {
	std::uint32_t status = 0; // NPU_DMA_ST_*
	std::uint64_t fault = 0;  // address (in its space) that faulted
};

// A contiguous host pointer for [addr, addr + length) of some space.
struct DmaWindow {
	std::uint8_t *ptr;
	std::uint64_t length; // >= 1, up to the end of the page or region
};

class DmaEngine
{
public:
	DmaEngine(MemRegion bar2, MemRegion guest_ram) : bar2_(bar2), ram_(guest_ram) {}

	// Runs the whole transfer synchronously. Bytes before a fault are
	// transferred, nothing at or after it. A transfer that touches CTX
	// addresses is a TranslationUser: an invalidate waits for the chunk
	// (at most a page) in progress, and the next chunk walks again.
	DmaResult run(const DmaRequest &req) const;

	// Resolves addr in space; nullopt if unmapped, out of range or (for
	// writes) read-only.
	std::optional<DmaWindow> translate(unsigned space, std::uint64_t addr, bool write,
					   std::uint64_t pt_root) const;

	// Walks the context page table; returns the guest-physical address.
	std::optional<std::uint64_t> walk(std::uint64_t pt_root, std::uint64_t va,
					  bool write) const;

	// The device's translation invalidate state: tensor engines and
	// transfers use it, NPU_DB_MMU invalidates through it.
	TranslationSync &translation_sync() const { return sync_; }

	// Test hook: called by run() between translating a chunk and copying
	// it, with the bytes done so far. Set it only while no transfer runs.
	void set_chunk_hook(std::function<void(std::uint64_t done)> hook)
	{
		chunk_hook_ = std::move(hook);
	}

private:
	MemRegion bar2_;
	MemRegion ram_;
	mutable TranslationSync sync_;
	std::function<void(std::uint64_t)> chunk_hook_;
};

} // namespace npu::emu
