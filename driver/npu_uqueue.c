// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-mode queues: a process fills a hardware queue's ring itself and
 * rings the doorbell itself, with no system call per job.
 *
 * The top user_queues hardware queues are kept for this (the kernel's
 * schedulers use the others, npu_ctx_queue.c). UQUEUE_CREATE gives one of
 * them to a context: the kernel programs it while it is disabled - ring,
 * mode NPU_QUEUE_USER, and the context's id and page-table root in the
 * queue's own registers, which only the kernel can write - and enables it.
 * The process maps three things with one mmap() of the device file: the
 * queue's user doorbell page in BAR2 (tail, and copies of head, done_seqno
 * and error), the BAR0 page holding the doorbell register, and the ring.
 *
 * Isolation: the firmware takes every job's context and page-table root
 * from the queue registers, never from the descriptor, and reads nothing
 * else the process controls but the tail (checked against the ring) and
 * the descriptors (checked like any). BAR0 holds only the ivshmem
 * registers of this device (checked at probe: page-aligned, no other
 * resource in its page); a doorbell the process rings on any vector is
 * harmless (the firmware looks, finds nothing, sleeps again). The kernel
 * never trusts the doorbell page: completion, errors and failures come
 * from the queue registers. Only the creating file may map the queue, and
 * destroying it revokes every mapping before the hardware queue can serve
 * anyone else.
 *
 * This file: availability, create, destroy, query, the queue's lifetime.
 * npu_uqueue_mmap.c: the mapping. npu_uqueue_fence.c: completion, fences,
 * the watchdog.
 */
#include <linux/capability.h>
#include <linux/dma-mapping.h>
#include <linux/eventfd.h>
#include <linux/iopoll.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pm_runtime.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/drm_vma_manager.h>

#include "npu_drv.h"
#include "npu_mmu.h"
#include "npu_tenant.h"
#include "npu_uqueue.h"
#include "npu_uqueue_internal.h"

int npu_user_queues = -1;
module_param_named(user_queues, npu_user_queues, int, 0444);
MODULE_PARM_DESC(user_queues,
		 "Hardware queues kept for user-mode queues, taken from the top; at most the queue count minus 4, 0 = none (default -1: half)");

unsigned int npu_user_queues_per_context = 2;
module_param_named(user_queues_per_context, npu_user_queues_per_context,
		   uint, 0444);
MODULE_PARM_DESC(user_queues_per_context,
		 "User-mode queues one file may have (DRM_NPU_PARAM_UQUEUE_COUNT; default 2)");

/* ABI minor from which the firmware serves user-mode queues. */
#define NPU_FW_ABI_MINOR_UQUEUE	4

/**
 * npu_uqueue_reserved() - hardware queues kept for user mode
 * @ndev: the device, its queue_count known
 *
 * Return: the user_queues parameter (half the queues if negative), capped
 * so that every priority level keeps a kernel queue.
 */
u32 npu_uqueue_reserved(struct npu_device *ndev)
{
	u32 max = ndev->queue_count > NPU_PRIO_COUNT ?
		  ndev->queue_count - NPU_PRIO_COUNT : 0;
	u32 want = npu_user_queues < 0 ? ndev->queue_count / 2 :
		   (u32)npu_user_queues;

	return min(want, max);
}

/*
 * Whether a device mapping needs neither bounce buffers nor syncs: the
 * kernel cannot sync what the process and the device exchange in the ring
 * and in its BOs.
 */
static bool npu_uqueue_dma_coherent(struct npu_device *ndev)
{
	struct device *dev = ndev->drm.dev;
	struct page *page;
	dma_addr_t addr;
	bool ok;

	if (is_swiotlb_force_bounce(dev))
		return false;
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return false;
	addr = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, addr)) {
		__free_page(page);
		return false;
	}
	ok = !dma_need_sync(dev, addr);
	dma_unmap_page(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL);
	__free_page(page);
	return ok;
}

/*
 * Whether the page holding BAR0 holds nothing else: mapping it then shows
 * a process this device's ivshmem registers and nothing of another device.
 */
static bool npu_uqueue_bar0_alone(struct npu_device *ndev)
{
	struct pci_dev *pdev = ndev->pdev, *other = NULL;
	resource_size_t start = pci_resource_start(pdev, 0);
	resource_size_t end = start + PAGE_SIZE - 1;
	bool alone = true;
	int i;

	if (!start || !PAGE_ALIGNED(start) ||
	    !(pci_resource_flags(pdev, 0) & IORESOURCE_MEM))
		return false;
	for_each_pci_dev(other) {
		for (i = 0; i < PCI_NUM_RESOURCES; i++) {
			struct resource *r = &other->resource[i];

			if (other == pdev && i == 0)
				continue;
			if (!(r->flags & IORESOURCE_MEM) || !resource_size(r))
				continue;
			if (r->start <= end && r->end >= start)
				alone = false;
		}
	}
	return alone;
}

/**
 * npu_uqueue_dev_init() - decide which hardware queues user mode gets
 * @ndev: the device at probe, BARs mapped, DMA set up, queues not yet
 *	initialized
 *
 * Return: 0 or a negative errno.
 */
int npu_uqueue_dev_init(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;

	uqd->count = npu_uqueue_reserved(ndev);
	uqd->first = ndev->queue_count - uqd->count;
	uqd->coherent = npu_uqueue_dma_coherent(ndev);
	uqd->bar0_alone = npu_uqueue_bar0_alone(ndev);
	spin_lock_init(&uqd->slots_lock);
	if (uqd->count && (!uqd->coherent || !uqd->bar0_alone))
		drm_info(&ndev->drm, "user-mode queues unavailable: %s\n",
			 !uqd->coherent ? "DMA is not coherent (bounce buffers)" :
					  "BAR0 shares its page");
	return drmm_mutex_init(&ndev->drm, &uqd->lock);
}

/**
 * npu_uqueue_available() - whether UQUEUE_CREATE can work on the device
 * @ndev: the device
 *
 * Return: true with hardware queues kept for user mode, coherent DMA, a
 * BAR0 alone in its page and firmware of ABI 1.4 or later.
 */
bool npu_uqueue_available(struct npu_device *ndev)
{
	return ndev->uq.count && ndev->uq.coherent && ndev->uq.bar0_alone &&
	       (READ_ONCE(ndev->fw_abi) & 0xffff) >= NPU_FW_ABI_MINOR_UQUEUE;
}

/**
 * npu_uqueue_param_count() - DRM_NPU_PARAM_UQUEUE_COUNT
 * @ndev: the device
 *
 * Return: the user-mode queues a context may have, 0 where unavailable.
 */
u32 npu_uqueue_param_count(struct npu_device *ndev)
{
	return npu_uqueue_available(ndev) ? npu_user_queues_per_context : 0;
}

/*
 * Disables a hardware queue and waits until the firmware holds nothing of
 * it (served). Under hw_lock. True if the ring may be reused.
 */
static bool npu_uqueue_quiesce(struct npu_device *ndev, struct npu_queue *hwq)
{
	u32 served;

	lockdep_assert_held(&ndev->hw_lock);
	writel(0, hwq->regs + NPU_QREG(enable));
	/* no firmware, or no bus mastering: nothing reads the ring */
	if (!ndev->fw_ready || ndev->dead || ndev->stopped)
		return true;
	npu_doorbell(ndev, NPU_DB_QUEUE);
	return !readl_poll_timeout(hwq->regs + NPU_QREG(served), served,
				   !served, 1000,
				   NPU_UQ_SETTLE_MS * USEC_PER_MSEC);
}

/* Points a disabled hardware queue at an empty ring for @uq; enables it. */
static void npu_uqueue_program(struct npu_uqueue *uq)
{
	struct npu_queue *hwq = uq->hwq;
	void __iomem *regs = hwq->regs;

	writel(0, regs + NPU_QREG(enable));
	memset(hwq->ring, 0, NPU_UQ_RING_BYTES);
	memset_io(npu_uqueue_udb(uq), 0, NPU_UDB_STRIDE);
	writeq(hwq->ring_dma, regs + NPU_QREG(ring_base));
	writel(NPU_RING_ENTRIES, regs + NPU_QREG(ring_entries));
	writel(0, regs + NPU_QREG(tail));
	writel(0, regs + NPU_QREG(head));
	writeq(0, regs + NPU_QREG(done_seqno));
	writel(uq->priority, regs + NPU_QREG(priority));
	writel(0, regs + NPU_QREG(reserved));
	writeq(0, regs + NPU_QREG(kill_seqno));
	writeq(0, regs + NPU_QREG(killed_seqno));
	writel(NPU_QUEUE_USER, regs + NPU_QREG(mode));
	writel(uq->context_id, regs + NPU_QREG(context_id));
	writeq(npu_vm_pt_root(uq->vm), regs + NPU_QREG(pt_root));
	writel(0, regs + NPU_QREG(error));
	writel(0, regs + NPU_QREG(failed));
	/* writel orders everything above before the enable */
	writel(1, regs + NPU_QREG(enable));
}

static void npu_uqueue_release(struct kref *ref)
{
	struct npu_uqueue *uq = container_of(ref, struct npu_uqueue, ref);

	if (uq->eventfd)
		eventfd_ctx_put(uq->eventfd);
	npu_vm_put(uq->vm);
	kfree(uq);
}

/**
 * npu_uqueue_put() - drop a reference to a user-mode queue
 * @uq: the queue; freed with the last reference
 */
void npu_uqueue_put(struct npu_uqueue *uq)
{
	kref_put(&uq->ref, npu_uqueue_release);
}

/**
 * npu_uqueue_get() - look a user-mode queue up in its context's table
 * @ctx: the context
 * @id: the queue's id (DRM_NPU uqueue id)
 *
 * Return: the queue with a reference the caller drops with
 * npu_uqueue_put(), or NULL.
 */
struct npu_uqueue *npu_uqueue_get(struct npu_context *ctx, u32 id)
{
	struct npu_uqueue *uq;

	xa_lock(&ctx->uqueues);
	uq = xa_load(&ctx->uqueues, id);
	if (uq)
		kref_get(&uq->ref);
	xa_unlock(&ctx->uqueues);
	return uq;
}

/*
 * Takes the queue from the process and the hardware queue from the queue:
 * every mapping revoked, the firmware done with it, the pending fences
 * failed with -ECANCELED, the hardware queue free for another. The caller
 * removed it from its context's table and holds its reference.
 */
static void npu_uqueue_teardown(struct npu_context *ctx,
				struct npu_uqueue *uq)
{
	struct npu_device *ndev = uq->ndev;
	struct npu_uqueue_dev *uqd = &ndev->uq;
	u32 index = uq->hwq->index;
	unsigned long flags;
	bool quiet = true;
	int idx;

	/* no new mapping (npu_mmap() checks under the lock), then none left */
	mutex_lock(&uqd->lock);
	drm_vma_node_revoke(&uq->vma_node, uq->file);
	mutex_unlock(&uqd->lock);
	drm_vma_node_unmap(&uq->vma_node, ndev->drm.anon_inode->i_mapping);

	if (drm_dev_enter(&ndev->drm, &idx)) {
		mutex_lock(&ndev->hw_lock);
		quiet = npu_uqueue_quiesce(ndev, uq->hwq);
		mutex_unlock(&ndev->hw_lock);
		if (!quiet) {
			drm_err(&ndev->drm, "queue %u: the firmware did not let go of user queue %u within %u ms\n",
				index, uq->id, NPU_UQ_SETTLE_MS);
			npu_reset_report_fault(ndev, NPU_FAULT_UQUEUE_HANG);
			flush_work(&ndev->watchdog.fault_work);
		}
		drm_dev_exit(idx);
	}

	mutex_lock(&ndev->hw_lock);
	spin_lock_irqsave(&uqd->slots_lock, flags);
	uqd->slots[index] = NULL;
	spin_unlock_irqrestore(&uqd->slots_lock, flags);
	mutex_unlock(&ndev->hw_lock);

	spin_lock_irqsave(&uq->lock, flags);
	uq->destroyed = true;
	npu_uqueue_end_locked(uq, DRM_NPU_UQUEUE_LOST, -ECANCELED);
	spin_unlock_irqrestore(&uq->lock, flags);

	mutex_lock(&uqd->lock);
	drm_vma_offset_remove(ndev->drm.vma_offset_manager, &uq->vma_node);
	clear_bit(index - uqd->first, &uqd->busy);
	ctx->uqueue_count--;
	mutex_unlock(&uqd->lock);

	if (uq->pm_ref) {
		pm_runtime_mark_last_busy(&ndev->pdev->dev);
		pm_runtime_put_autosuspend(&ndev->pdev->dev);
		uq->pm_ref = false;
	}
}

/**
 * npu_uqueue_ctx_init() - a new context has no user-mode queue
 * @ctx: the context
 */
void npu_uqueue_ctx_init(struct npu_context *ctx)
{
	xa_init_flags(&ctx->uqueues, XA_FLAGS_ALLOC1);
}

/**
 * npu_uqueue_ctx_fini() - destroy the user-mode queues of a closing file
 * @ctx: the context, before its address space goes
 */
void npu_uqueue_ctx_fini(struct npu_context *ctx)
{
	struct npu_uqueue *uq;
	unsigned long id;

	xa_for_each(&ctx->uqueues, id, uq) {
		xa_erase(&ctx->uqueues, id);
		npu_uqueue_teardown(ctx, uq);
		npu_uqueue_put(uq);
	}
	xa_destroy(&ctx->uqueues);
}

int npu_ioctl_uqueue_create(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct npu_device *ndev = to_npu_device(drm);
	struct npu_uqueue_dev *uqd = &ndev->uq;
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_uqueue_create *args = data;
	struct eventfd_ctx *eventfd = NULL;
	struct npu_uqueue *uq;
	unsigned long flags;
	u32 id, slot;
	int ret, idx;

	if (args->flags)
		return -EINVAL;
	if (args->priority > DRM_NPU_PRIORITY_REALTIME)
		return -EINVAL;
	/* above NORMAL a queue delays every other tenant's work */
	if (args->priority > DRM_NPU_PRIORITY_NORMAL && !capable(CAP_SYS_NICE))
		return -EPERM;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	if (!npu_uqueue_available(ndev)) {
		ret = -EOPNOTSUPP;
		goto out_exit;
	}
	if (npu_tenant_banned(ctx)) {
		ret = -ECANCELED;
		goto out_exit;
	}
	if (args->eventfd != -1) {
		eventfd = args->eventfd < 0 ? ERR_PTR(-EBADF) :
			  eventfd_ctx_fdget(args->eventfd);
		if (IS_ERR(eventfd)) {
			ret = -EBADF;
			goto out_exit;
		}
	}

	uq = kzalloc(sizeof(*uq), GFP_KERNEL_ACCOUNT);
	if (!uq) {
		ret = -ENOMEM;
		goto err_eventfd;
	}
	kref_init(&uq->ref);
	spin_lock_init(&uq->lock);
	INIT_LIST_HEAD(&uq->fences);
	uq->ndev = ndev;
	uq->eventfd = eventfd;
	eventfd = NULL;
	uq->vm = npu_vm_get(ctx->vm);
	uq->context_id = ctx->id;
	uq->priority = args->priority;
	uq->file = file;
	uq->fence_context = dma_fence_context_alloc(1);
	uq->state = DRM_NPU_UQUEUE_ACTIVE;
	drm_vma_node_reset(&uq->vma_node);

	/* its jobs run with the engines powered */
	ret = pm_runtime_resume_and_get(&ndev->pdev->dev);
	if (ret)
		goto err_put;
	uq->pm_ref = true;

	/* an id, not yet visible to lookups */
	ret = xa_alloc(&ctx->uqueues, &id, NULL, xa_limit_32b,
		       GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_pm;
	uq->id = id;

	mutex_lock(&uqd->lock);
	if (ctx->uqueue_count >= npu_user_queues_per_context) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	slot = find_first_zero_bit(&uqd->busy, uqd->count);
	if (slot >= uqd->count) {
		ret = -EBUSY;
		goto err_unlock;
	}
	ret = drm_vma_offset_add(drm->vma_offset_manager, &uq->vma_node,
				 NPU_UQ_MAP_PAGES);
	if (ret)
		goto err_unlock;
	ret = drm_vma_node_allow(&uq->vma_node, file);
	if (ret)
		goto err_remove;
	uq->hwq = &ndev->queues[uqd->first + slot];

	mutex_lock(&ndev->hw_lock);
	/* a queue freed while its firmware was gone */
	if (!npu_uqueue_quiesce(ndev, uq->hwq)) {
		mutex_unlock(&ndev->hw_lock);
		/* a hang: the recovery frees the queue for the next CREATE */
		npu_reset_report_fault(ndev, NPU_FAULT_UQUEUE_HANG);
		ret = -EIO;
		goto err_revoke;
	}
	if (ndev->fw_ready && !ndev->dead)
		npu_uqueue_program(uq);
	else
		uq->state = DRM_NPU_UQUEUE_LOST;
	spin_lock_irqsave(&uqd->slots_lock, flags);
	uqd->slots[uq->hwq->index] = uq;
	spin_unlock_irqrestore(&uqd->slots_lock, flags);
	uq->wd_moved = jiffies;
	mutex_unlock(&ndev->hw_lock);
	set_bit(slot, &uqd->busy);
	ctx->uqueue_count++;
	mutex_unlock(&uqd->lock);

	/* a reserved entry: no allocation */
	xa_store(&ctx->uqueues, id, uq, GFP_KERNEL_ACCOUNT);

	args->uqueue_id = id;
	args->ring_entries = NPU_RING_ENTRIES;
	args->ring_offset = 2 * PAGE_SIZE;
	args->doorbell_offset = PAGE_SIZE + NPU_BAR0_DOORBELL;
	args->doorbell_value = NPU_DOORBELL_VALUE(NPU_DB_QUEUE);
	args->mmap_offset = drm_vma_node_offset_addr(&uq->vma_node);
	args->mmap_size = NPU_UQ_MAP_PAGES * PAGE_SIZE;
	drm_dev_exit(idx);
	return 0;

err_revoke:
	drm_vma_node_revoke(&uq->vma_node, file);
err_remove:
	drm_vma_offset_remove(drm->vma_offset_manager, &uq->vma_node);
err_unlock:
	mutex_unlock(&uqd->lock);
	xa_erase(&ctx->uqueues, id);
err_pm:
	pm_runtime_put_autosuspend(&ndev->pdev->dev);
err_put:
	npu_uqueue_put(uq);
err_eventfd:
	if (eventfd)
		eventfd_ctx_put(eventfd);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

int npu_ioctl_uqueue_destroy(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_uqueue_destroy *args = data;
	struct npu_uqueue *uq;

	if (args->pad)
		return -EINVAL;
	if (!args->uqueue_id)
		return -ENOENT;
	uq = xa_erase(&ctx->uqueues, args->uqueue_id);
	if (!uq)
		return -ENOENT;
	npu_uqueue_teardown(ctx, uq);
	npu_uqueue_put(uq);
	return 0;
}

int npu_ioctl_uqueue_query(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_uqueue_query *args = data;
	struct npu_uqueue *uq;
	unsigned long flags;
	int idx;

	uq = npu_uqueue_get(ctx, args->uqueue_id);
	if (!uq)
		return -ENOENT;
	spin_lock_irqsave(&uq->lock, flags);
	if (drm_dev_enter(drm, &idx)) {
		npu_uqueue_scan_locked(uq);
		drm_dev_exit(idx);
	}
	args->state = uq->state;
	args->error = uq->state == DRM_NPU_UQUEUE_STOPPED ? uq->error : 0;
	args->hw_queue = uq->hwq->index;
	args->done_seqno = uq->done;
	args->timeouts = uq->timeouts;
	spin_unlock_irqrestore(&uq->lock, flags);
	npu_uqueue_put(uq);
	return 0;
}

static const char *const npu_uqueue_state_names[] = {
	[DRM_NPU_UQUEUE_ACTIVE] = "active",
	[DRM_NPU_UQUEUE_STOPPED] = "stopped",
	[DRM_NPU_UQUEUE_LOST] = "lost",
	[DRM_NPU_UQUEUE_BANNED] = "banned",
};

/**
 * npu_uqueue_debugfs_show() - one line per user-mode queue
 * @ndev: the device
 * @m: the debugfs file
 */
void npu_uqueue_debugfs_show(struct npu_device *ndev, struct seq_file *m)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	u32 i;

	seq_printf(m, "hw_queues %u-%u available %d\n", uqd->first,
		   ndev->queue_count - 1, npu_uqueue_available(ndev));
	/* hw_lock keeps the queues in their slots */
	mutex_lock(&ndev->hw_lock);
	for (i = uqd->first; i < ndev->queue_count; i++) {
		struct npu_uqueue *uq = uqd->slots[i];
		unsigned long flags;

		if (!uq)
			continue;
		spin_lock_irqsave(&uq->lock, flags);
		seq_printf(m, "hw_queue %u context %u uqueue %u priority %u done %llu state %s error %u timeouts %llu\n",
			   i, uq->context_id, uq->id, uq->priority, uq->done,
			   npu_uqueue_state_names[uq->state], uq->error,
			   uq->timeouts);
		spin_unlock_irqrestore(&uq->lock, flags);
	}
	mutex_unlock(&ndev->hw_lock);
}
