/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the user-mode queue files share (npu_uqueue.c: create, destroy,
 * query, lifetime; npu_uqueue_mmap.c: the mapping; npu_uqueue_fence.c:
 * completion, fences, watchdog). Not for the rest of the driver, which
 * uses npu_uqueue.h.
 */
#ifndef NPU_UQUEUE_INTERNAL_H
#define NPU_UQUEUE_INTERNAL_H

#include <linux/types.h>

#include "npu_drv.h"
#include "npu_uqueue.h"

/* Time the firmware has to drop a disabled queue or carry out a kill. */
#define NPU_UQ_SETTLE_MS	1000

/* The mapping: control page, doorbell page, ring. */
#define NPU_UQ_RING_BYTES	(NPU_RING_ENTRIES * sizeof(struct npu_job_desc))
#define NPU_UQ_RING_PAGES	(NPU_UQ_RING_BYTES >> PAGE_SHIFT)
#define NPU_UQ_MAP_PAGES	(2 + NPU_UQ_RING_PAGES)

static inline void __iomem *npu_uqueue_udb(struct npu_uqueue *uq)
{
	return uq->ndev->bar2 + NPU_UDB_OFFSET +
	       uq->hwq->index * NPU_UDB_STRIDE;
}

/* npu_uqueue.c */
struct npu_uqueue *npu_uqueue_get(struct npu_context *ctx, u32 id);
void npu_uqueue_put(struct npu_uqueue *uq);

/* npu_uqueue_fence.c */
void npu_uqueue_end_locked(struct npu_uqueue *uq, u32 state, int error);
void npu_uqueue_scan_locked(struct npu_uqueue *uq);

#endif /* NPU_UQUEUE_INTERNAL_H */
