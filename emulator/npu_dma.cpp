// SPDX-License-Identifier: MIT
#include "npu_dma.h"

#include <algorithm>

#include "npu_hw.h"

namespace npu::emu
{

std::optional<std::uint64_t> DmaEngine::walk(std::uint64_t pt_root, std::uint64_t va,
					     bool write) const
{
	if (va >> NPU_VA_BITS)
		return std::nullopt;
	std::uint64_t table = pt_root & NPU_PTE_ADDR_MASK;
	std::uint64_t pte = 0;
	for (int level = 0; level < NPU_PT_LEVELS; level++) {
		std::uint64_t entry = table + NPU_PT_INDEX(va, level) * sizeof(pte);
		if (!ram_.contains(entry, sizeof(pte)))
			return std::nullopt;
		pte = shared_load<std::uint64_t>(ram_.base + entry);
		if (!(pte & NPU_PTE_VALID))
			return std::nullopt;
		table = pte & NPU_PTE_ADDR_MASK;
	}
	if (write && !(pte & NPU_PTE_WRITE))
		return std::nullopt;
	return table | (va & (NPU_PAGE_SIZE - 1));
}

std::optional<DmaWindow> DmaEngine::translate(unsigned space, std::uint64_t addr, bool write,
					      std::uint64_t pt_root) const
{
	switch (space) {
	case NPU_DMA_SPACE_CORE:
		if (addr < NPU_CORE_BAR2_BASE || addr - NPU_CORE_BAR2_BASE >= bar2_.size)
			return std::nullopt;
		addr -= NPU_CORE_BAR2_BASE;
		return DmaWindow{bar2_.base + addr, bar2_.size - addr};
	case NPU_DMA_SPACE_HOST:
		if (addr >= ram_.size)
			return std::nullopt;
		return DmaWindow{ram_.base + addr, ram_.size - addr};
	case NPU_DMA_SPACE_CTX: {
		auto phys = walk(pt_root, addr, write);
		if (!phys || *phys >= ram_.size)
			return std::nullopt;
		std::uint64_t to_page_end = NPU_PAGE_SIZE - (addr & (NPU_PAGE_SIZE - 1));
		return DmaWindow{ram_.base + *phys, std::min(to_page_end, ram_.size - *phys)};
	}
	default:
		return std::nullopt;
	}
}

DmaResult DmaEngine::run(const DmaRequest &req) const
{
	unsigned op = req.op & 0xf;
	unsigned src_space = (req.op >> 4) & 3;
	unsigned dst_space = (req.op >> 6) & 3;
	bool bad = (req.op >> 8) || (op != NPU_DMA_COPY && op != NPU_DMA_FILL) ||
		   dst_space > NPU_DMA_SPACE_CTX ||
		   (op == NPU_DMA_COPY && src_space > NPU_DMA_SPACE_CTX);
	if (bad)
		return {NPU_DMA_ST_BAD_OP, 0};

	// Translations of CTX addresses are made as a TranslationUser: the
	// previous chunk's pointers are dead once the next chunk translates.
	const bool ctx = (op == NPU_DMA_COPY && src_space == NPU_DMA_SPACE_CTX) ||
			 dst_space == NPU_DMA_SPACE_CTX;
	TranslationUser user(sync_);
	std::uint64_t done = 0;
	while (done < req.len) {
		std::uint64_t chunk = req.len - done;
		const std::uint8_t *from = nullptr;
		if (ctx)
			user.refresh();
		if (op == NPU_DMA_COPY) {
			auto s = translate(src_space, req.src + done, false, req.pt_root);
			if (!s)
				return {NPU_DMA_ST_FAULT_READ, req.src + done};
			chunk = std::min(chunk, s->length);
			from = s->ptr;
		}
		auto d = translate(dst_space, req.dst + done, true, req.pt_root);
		if (!d)
			return {NPU_DMA_ST_FAULT_WRITE, req.dst + done};
		chunk = std::min(chunk, d->length);
		if (chunk_hook_) [[unlikely]]
			chunk_hook_(done);
		if (op == NPU_DMA_COPY)
			shared_copy(d->ptr, from, chunk);
		else
			shared_fill(d->ptr, req.fill, done % 4, chunk);
		done += chunk;
	}
	return {NPU_DMA_ST_OK, 0};
}

} // namespace npu::emu
