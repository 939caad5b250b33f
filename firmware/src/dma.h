/* SPDX-License-Identifier: MIT */
#ifndef FW_DMA_H
#define FW_DMA_H

#include <stdint.h>

/* Where a DMA transfer failed; valid when a dma_* call returns non-zero. */
struct dma_fault {
	uint32_t status;	/* NPU_DMA_ST_* */
	uint64_t addr;		/* faulting address in the failing space */
};

/*
 * Both calls run synchronously on the DMA engine; pt_root is the context
 * page table used for NPU_DMA_SPACE_CTX addresses. They return 0 or the
 * NPU_DMA_ST_* error, with the details in *fault. Long transfers are split
 * so the heartbeat keeps going.
 */
uint32_t dma_copy(uint32_t src_space, uint64_t src, uint32_t dst_space,
		  uint64_t dst, uint64_t len, uint64_t pt_root,
		  struct dma_fault *fault);
uint32_t dma_fill(uint32_t dst_space, uint64_t dst, uint32_t pattern,
		  uint64_t len, uint64_t pt_root, struct dma_fault *fault);

/* The core-space address of a local object, for dma_copy(). */
static inline uint64_t core_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

#endif /* FW_DMA_H */
