// SPDX-License-Identifier: MIT
#include "dma.h"

#include "heartbeat.h"
#include "mmio.h"

/* Largest piece handed to the engine at once, so heartbeats stay on time. */
#define DMA_CHUNK	(4ull << 20)

static uint32_t dma_run(uint32_t op, uint64_t src, uint64_t dst, uint64_t len,
			uint64_t pt_root, uint32_t pattern,
			struct dma_fault *fault)
{
	uint32_t status;

	periph_write64(NPU_PERIPH_DMA_SRC, src);
	periph_write64(NPU_PERIPH_DMA_DST, dst);
	periph_write64(NPU_PERIPH_DMA_LEN, len);
	periph_write64(NPU_PERIPH_DMA_PT_ROOT, pt_root);
	periph_write32(NPU_PERIPH_DMA_FILL, pattern);
	/* the engine reads core memory we may just have written */
	mem_fence();
	periph_write32(NPU_PERIPH_DMA_OP, op);
	status = periph_read32(NPU_PERIPH_DMA_STATUS);
	mem_fence();
	if (status != NPU_DMA_ST_OK) {
		fault->status = status;
		fault->addr = periph_read64(NPU_PERIPH_DMA_FAULT);
	}
	return status;
}

uint32_t dma_copy(uint32_t src_space, uint64_t src, uint32_t dst_space,
		  uint64_t dst, uint64_t len, uint64_t pt_root,
		  struct dma_fault *fault)
{
	uint32_t op = NPU_DMA_OP(NPU_DMA_COPY, src_space, dst_space);

	while (len) {
		uint64_t n = len < DMA_CHUNK ? len : DMA_CHUNK;
		uint32_t status = dma_run(op, src, dst, n, pt_root, 0, fault);

		if (status)
			return status;
		src += n;
		dst += n;
		len -= n;
		heartbeat_poll();
	}
	return NPU_DMA_ST_OK;
}

uint32_t dma_fill(uint32_t dst_space, uint64_t dst, uint32_t pattern,
		  uint64_t len, uint64_t pt_root, struct dma_fault *fault)
{
	uint32_t op = NPU_DMA_OP(NPU_DMA_FILL, NPU_DMA_SPACE_CORE, dst_space);

	/* DMA_CHUNK is a multiple of 4, so the pattern stays in phase */
	while (len) {
		uint64_t n = len < DMA_CHUNK ? len : DMA_CHUNK;
		uint32_t status = dma_run(op, 0, dst, n, pt_root, pattern,
					  fault);

		if (status)
			return status;
		dst += n;
		len -= n;
		heartbeat_poll();
	}
	return NPU_DMA_ST_OK;
}
