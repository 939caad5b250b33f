// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaiming device memory. A job may address any mapping of its context,
 * not only the BOs it lists, so a mapping that ends (a BO's last reference
 * drops, VM_BIND UNMAP, file closed) is not torn down at once: its address
 * space records how many jobs had been pushed by then, and a worker waits
 * for those jobs, clears the PTEs, has the device drop cached translations
 * (docs/hardware.md §8) and only then frees the VA range and the pages (or
 * the BO reference a bound range holds). Jobs pushed later that still use
 * the range fault; none reaches freed pages.
 *
 * The last reference to an address space can drop inside a scheduler's
 * free_job work (a job outliving its file). Freeing the address space drops
 * a drm_device reference, possibly the last one, whose release tears down
 * the schedulers and so waits for that very work: the release runs from its
 * own work item instead.
 */
#include <linux/dma-fence.h>
#include <linux/iopoll.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"

/* How long the device may take to acknowledge an invalidate. */
#define NPU_INVAL_TIMEOUT_US	(1000 * USEC_PER_MSEC)

/*
 * Unbound and not ordered: a reclaim work waits for jobs, which must not
 * hold up the release of another address space. Module-wide, so that
 * module unload drains work that outlives its device.
 */
static struct workqueue_struct *npu_reclaim_wq;

int npu_reclaim_module_init(void)
{
	npu_reclaim_wq = alloc_workqueue("npu-reclaim", WQ_UNBOUND, 0);
	return npu_reclaim_wq ? 0 : -ENOMEM;
}

void npu_reclaim_module_exit(void)
{
	destroy_workqueue(npu_reclaim_wq);
}

/**
 * npu_mmu_invalidate() - make the device drop every cached translation
 * @ndev: the device
 *
 * Called after PTEs were cleared and before their pages are reused. A
 * device that unbind stopped, or that predates hw 1.2, caches nothing.
 * Waits for a reset in progress.
 *
 * Return: 0, or -ETIMEDOUT if the device did not acknowledge: the caller
 * must then not reuse the pages.
 */
int npu_mmu_invalidate(struct npu_device *ndev)
{
	void __iomem *done_reg = ndev->bar2 + NPU_REG(mmu_inval_done);
	u64 seq, done;
	int ret = 0;

	if (ndev->hw_version < NPU_HW_VERSION_MMU_INVAL)
		return 0;
	mutex_lock(&ndev->hw_lock);
	if (ndev->stopped)
		goto out_unlock;
	seq = ++ndev->inval_seq;
	npu_wr64(ndev, NPU_REG(mmu_inval_req), seq);
	npu_doorbell(ndev, NPU_DB_MMU);
	ret = readq_poll_timeout(done_reg, done, (s64)(done - seq) >= 0, 20,
				 NPU_INVAL_TIMEOUT_US);
	if (ret)
		drm_err(&ndev->drm, "translation invalidate %llu not acknowledged (done %llu)\n",
			seq, done);
	else
		atomic64_inc(&ndev->stats.invalidates);
out_unlock:
	mutex_unlock(&ndev->hw_lock);
	return ret;
}

/* An unfinished job pushed as number @last_seq or earlier, or NULL. */
static struct dma_fence *npu_vm_busy_job(struct npu_vm *vm, u64 last_seq)
{
	struct dma_fence *fence = NULL;
	struct npu_job *job;
	unsigned long flags;

	spin_lock_irqsave(&vm->reclaim_lock, flags);
	list_for_each_entry(job, &vm->jobs, vm_link) {
		if (job->vm_seq > last_seq)
			break;
		/* a flag test: signalling here would run callbacks */
		if (!test_bit(DMA_FENCE_FLAG_SIGNALED_BIT,
			      &job->done_fence->flags)) {
			fence = dma_fence_get(job->done_fence);
			break;
		}
	}
	spin_unlock_irqrestore(&vm->reclaim_lock, flags);
	return fence;
}

static void npu_vm_wait_jobs(struct npu_vm *vm, u64 last_seq)
{
	struct dma_fence *fence;

	while ((fence = npu_vm_busy_job(vm, last_seq))) {
		dma_fence_wait(fence, false);
		dma_fence_put(fence);
	}
}

static void npu_vm_reclaim_work(struct work_struct *work)
{
	struct npu_vm *vm = container_of(work, struct npu_vm, reclaim_work);
	struct npu_device *ndev = vm->ndev;
	struct npu_dead_map *dm, *next;
	unsigned long flags;
	LIST_HEAD(batch);
	u64 last_seq = 0;
	u32 count = 0;

	spin_lock_irqsave(&vm->reclaim_lock, flags);
	list_splice_init(&vm->dead_maps, &batch);
	spin_unlock_irqrestore(&vm->reclaim_lock, flags);
	if (list_empty(&batch))
		return;
	list_for_each_entry(dm, &batch, link)
		last_seq = max(last_seq, dm->after);
	/* every job is bounded by the job timeout, or by a reset */
	npu_vm_wait_jobs(vm, last_seq);

	mutex_lock(&vm->lock);
	list_for_each_entry(dm, &batch, link)
		npu_vm_clear_locked(vm, dm->node, dm->size);
	mutex_unlock(&vm->lock);

	if (npu_mmu_invalidate(ndev)) {
		/*
		 * The device may still write these pages: keep them (and
		 * their VA) rather than hand them to someone else. Recovery
		 * will reset the device; the memory is lost until unload.
		 */
		drm_err(&ndev->drm, "leaking unmapped memory the device may still reach\n");
		list_for_each_entry_safe(dm, next, &batch, link)
			list_del_init(&dm->link);
		return;
	}

	mutex_lock(&vm->lock);
	list_for_each_entry(dm, &batch, link) {
		if (drm_mm_node_allocated(dm->node))
			drm_mm_remove_node(dm->node);
	}
	mutex_unlock(&vm->lock);

	list_for_each_entry_safe(dm, next, &batch, link) {
		list_del_init(&dm->link);
		/* may queue this work again (a bound BO's last reference) */
		dm->free(dm);
		count++;
	}
	/* may free @vm: nothing touches it after */
	while (count--)
		npu_vm_put(vm);
}

/**
 * npu_vm_unmap_later() - tear a mapping down once no job can reach it
 * @vm: the address space; the mapping holds a reference, which the reclaim
 *	worker drops after @dm->free
 * @dm: the mapping, filled in but for @dm->after; gone from every lookup
 *
 * No allocation, no sleep: callable from a GEM free callback.
 */
void npu_vm_unmap_later(struct npu_vm *vm, struct npu_dead_map *dm)
{
	unsigned long flags;

	spin_lock_irqsave(&vm->reclaim_lock, flags);
	dm->after = vm->jobs_pushed;
	list_add_tail(&dm->link, &vm->dead_maps);
	spin_unlock_irqrestore(&vm->reclaim_lock, flags);
	queue_work(npu_reclaim_wq, &vm->reclaim_work);
}

/**
 * npu_vm_track_job() - record a job that can reach @vm
 * @vm: the job's address space
 * @job: armed (its done_fence is set) and about to be pushed
 *
 * Jobs are recorded in push order; no allocation.
 */
void npu_vm_track_job(struct npu_vm *vm, struct npu_job *job)
{
	unsigned long flags;

	spin_lock_irqsave(&vm->reclaim_lock, flags);
	job->vm_seq = ++vm->jobs_pushed;
	list_add_tail(&job->vm_link, &vm->jobs);
	spin_unlock_irqrestore(&vm->reclaim_lock, flags);
}

/**
 * npu_vm_untrack_job() - forget a job being released
 * @vm: the job's address space
 * @job: the job; never tracked is fine
 */
void npu_vm_untrack_job(struct npu_vm *vm, struct npu_job *job)
{
	unsigned long flags;

	spin_lock_irqsave(&vm->reclaim_lock, flags);
	list_del_init(&job->vm_link);
	spin_unlock_irqrestore(&vm->reclaim_lock, flags);
}

static void npu_vm_release_work(struct work_struct *work)
{
	npu_vm_release_final(container_of(work, struct npu_vm, release_work));
}

/**
 * npu_vm_release_later() - free @vm from a work item of its own
 * @vm: address space whose last reference dropped
 */
void npu_vm_release_later(struct npu_vm *vm)
{
	queue_work(npu_reclaim_wq, &vm->release_work);
}

void npu_vm_reclaim_init(struct npu_vm *vm)
{
	spin_lock_init(&vm->reclaim_lock);
	INIT_LIST_HEAD(&vm->jobs);
	INIT_LIST_HEAD(&vm->dead_maps);
	INIT_WORK(&vm->reclaim_work, npu_vm_reclaim_work);
	INIT_WORK(&vm->release_work, npu_vm_release_work);
}

/**
 * npu_vm_reclaim_fini() - before freeing @vm
 * @vm: address space without references
 *
 * A reclaim work queued again after it took the last BO may still be
 * pending or running (it then finds nothing to do).
 */
void npu_vm_reclaim_fini(struct npu_vm *vm)
{
	cancel_work_sync(&vm->reclaim_work);
	WARN_ON(!list_empty(&vm->jobs));
	WARN_ON(!list_empty(&vm->dead_maps));
}
