// SPDX-License-Identifier: GPL-2.0-only
/*
 * DMA: the device's addressing limit, and the syncs that make a buffer
 * object's pages and the device's view of them (a bounce buffer under
 * swiotlb, cache lines on a non-coherent bus) agree at job boundaries.
 *
 * A BO is mapped for the device once, at creation, DMA_BIDIRECTIONAL (the
 * shmem helper's mapping, drm_gem_shmem_get_pages_sgt()), and stays mapped
 * until it is freed or the device unbinds. Ownership moves at job
 * boundaries only, for the BOs a job lists in its submission:
 *
 * - to the device in run_job, before the descriptor reaches the ring:
 *   dma_sync_sgtable_for_device(DMA_TO_DEVICE) of every listed BO, so the
 *   device reads what the CPU wrote;
 * - back to the CPU when the job completes (done, faulted, aborted by a
 *   reset or an unbind), before its hardware fence signals:
 *   dma_sync_sgtable_for_cpu(DMA_FROM_DEVICE) of every listed BO the device
 *   may write, so a waiter on the job's fences reads what the device wrote.
 *
 * Jobs that run at the same time and list the same BO: implicit sync (the
 * BOs' reservation objects) runs a job that lists a device-writable BO
 * after every earlier job listing it has finished, except that the
 * scheduler pipelines jobs of one hardware queue (a dependency on a job of
 * the same scheduler only waits until that job is on the ring, and one of
 * the same entity not at all). Such a job must not copy the pages over the
 * bounce buffer the earlier one is still writing: npu_bo.dma_jobs counts the
 * jobs on the device listing a writable BO, and only the first one syncs it
 * for the device. Read-only BOs are synced for every job: the device never
 * writes them, so the copy puts the same bytes over what other running
 * jobs read.
 *
 * A BO a job reaches without listing it is not synced: where DMA is not
 * coherent, the device reads it as the last job that listed it left it,
 * and what the device writes there the CPU does not see.
 *
 * During a job, userspace moves single ranges with DRM_IOCTL_NPU_BO_SYNC
 * (npu_ioctl_bo_sync()): a gate the CPU wrote to the device, a stamp the
 * device wrote to the CPU. Only that range, never the whole BO: the rest
 * may hold newer data on the other side.
 */
#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/dma-mapping.h>
#include <linux/scatterlist.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>

#include "npu_dma.h"
#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_job.h"
#include "npu_mmu.h"

static_assert(NPU_PTE_ADDR_MASK ==
	      GENMASK_ULL(NPU_DMA_BITS - 1, NPU_PAGE_SHIFT));

/**
 * npu_dma_init() - tell the DMA layer what the device can address
 * @ndev: the device being probed
 *
 * Return: 0 or a negative errno.
 */
int npu_dma_init(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;
	int ret;

	/* BO pages, page tables and rings: all reached through 52 bits */
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(NPU_DMA_BITS));
	if (ret)
		return ret;
	/*
	 * The NPU MMU maps BOs page by page, so DMA segments of any length
	 * are fine; without this the DMA API caps them at 64 KiB.
	 */
	dma_set_max_seg_size(dev, UINT_MAX);
	return 0;
}

static bool npu_bo_device_writes(const struct npu_bo *bo)
{
	return !(bo->flags & DRM_NPU_BO_DEVICE_READ_ONLY);
}

/**
 * npu_job_dma_for_device() - hand the BOs a job lists to the device
 * @job: the job, in run_job before its descriptor is written
 *
 * Pairs with one npu_job_dma_for_cpu() when the job completes.
 */
void npu_job_dma_for_device(struct npu_job *job)
{
	struct device *dev = job->vm->ndev->drm.dev;
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		struct npu_bo *bo = to_npu_bo(job->bos[i]);
		struct sg_table *sgt = bo->base.sgt;

		/* unmapped at unbind, when no job can run any more */
		if (WARN_ON_ONCE(!sgt))
			continue;
		/*
		 * Fully ordered: a previous job's sync for the CPU, done
		 * before its decrement, is complete when this reads zero.
		 */
		if (npu_bo_device_writes(bo) &&
		    atomic_inc_return(&bo->dma_jobs) > 1)
			continue;
		dma_sync_sgtable_for_device(dev, sgt, DMA_TO_DEVICE);
	}
}

/**
 * npu_job_dma_for_cpu() - give the BOs a job may have written to the CPU
 * @job: the job, completed or stopped on the device, before its hardware
 *	fence signals; under npu_queue.lock, from the JOB interrupt, the
 *	watchdog, a recovery or the unbind
 *
 * Copies and cache maintenance only: nothing allocates or sleeps on this
 * path to dma_fence_signal().
 */
void npu_job_dma_for_cpu(struct npu_job *job)
{
	struct device *dev = job->vm->ndev->drm.dev;
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		struct npu_bo *bo = to_npu_bo(job->bos[i]);
		struct sg_table *sgt = bo->base.sgt;

		if (!npu_bo_device_writes(bo))
			continue;
		if (sgt)
			dma_sync_sgtable_for_cpu(dev, sgt, DMA_FROM_DEVICE);
		/* the copy is complete before a next job can read zero */
		smp_mb__before_atomic();
		atomic_dec(&bo->dma_jobs);
	}
}

/*
 * Syncs [@offset, @offset + @size) of the DMA segments of @sgt, which map
 * the BO's bytes in order, for the device (@to_device) or the CPU.
 */
static void npu_dma_sync_range(struct device *dev, struct sg_table *sgt,
			       u64 offset, u64 size, bool to_device)
{
	struct scatterlist *sg;
	u64 start = 0, end = offset + size;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 len = sg_dma_len(sg);
		u64 from, to;

		if (start >= end)
			break;
		from = max(offset, start);
		to = min(end, start + len);
		if (from < to) {
			if (to_device)
				dma_sync_single_range_for_device(dev,
								 sg_dma_address(sg),
								 from - start,
								 to - from,
								 DMA_TO_DEVICE);
			else
				dma_sync_single_range_for_cpu(dev,
							      sg_dma_address(sg),
							      from - start,
							      to - from,
							      DMA_FROM_DEVICE);
		}
		start += len;
	}
}

/**
 * npu_ioctl_bo_sync() - DRM_IOCTL_NPU_BO_SYNC: sync one range of a BO
 * @drm: the device
 * @data: struct drm_npu_bo_sync
 * @file: the caller's file
 *
 * Inside drm_dev_enter() the BO's sg table stays: npu_gem_release_dma()
 * frees it only after drm_dev_unplug() waited for this section. After an
 * unbind the mapping is gone and the call is -ENODEV.
 *
 * Return: 0, -EINVAL (flags, range), -ENOENT (handle) or -ENODEV (unbound).
 */
int npu_ioctl_bo_sync(struct drm_device *drm, void *data,
		      struct drm_file *file)
{
	struct drm_npu_bo_sync *args = data;
	struct drm_gem_object *obj;
	struct sg_table *sgt;
	int ret = 0, idx;

	if (args->flags != DRM_NPU_BO_SYNC_TO_DEVICE &&
	    args->flags != DRM_NPU_BO_SYNC_FROM_DEVICE)
		return -EINVAL;
	if (!args->size)
		return -EINVAL;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	if (args->offset > obj->size || args->size > obj->size - args->offset) {
		ret = -EINVAL;
		goto out_put;
	}
	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_put;
	}
	/* imported BOs: the attachment's table for this device */
	sgt = to_npu_bo(obj)->base.sgt;
	if (sgt)
		npu_dma_sync_range(drm->dev, sgt, args->offset, args->size,
				   args->flags == DRM_NPU_BO_SYNC_TO_DEVICE);
	else
		ret = -ENODEV;
	drm_dev_exit(idx);
out_put:
	drm_gem_object_put(obj);
	return ret;
}
