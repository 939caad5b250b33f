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
 * Completion: the JOB interrupt scans the active user queues (done_seqno,
 * error, failed), signals the syncobj fences UQUEUE_FENCE attached (kept
 * sorted, allocated at the ioctl), signals the eventfd, counts failed jobs
 * toward the context's ban, and stops a queue the firmware stalled. The
 * watchdog kills a job that holds its queue longer than job_timeout_ms
 * (kill_seqno, as for kernel jobs); a kill the firmware does not carry out
 * takes a device reset. A reset, suspend or unbind leaves every user
 * queue LOST: disabled until destroyed.
 */
#include <linux/capability.h>
#include <linux/dma-fence-chain.h>
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
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_vma_manager.h>

#include "npu_drv.h"
#include "npu_mmu.h"
#include "npu_tenant.h"
#include "npu_uqueue.h"

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

/* Time the firmware has to drop a disabled queue or carry out a kill. */
#define NPU_UQ_SETTLE_MS	1000

/* The mapping: control page, doorbell page, ring. */
#define NPU_UQ_RING_BYTES	(NPU_RING_ENTRIES * sizeof(struct npu_job_desc))
#define NPU_UQ_RING_PAGES	(NPU_UQ_RING_BYTES >> PAGE_SHIFT)
#define NPU_UQ_MAP_PAGES	(2 + NPU_UQ_RING_PAGES)

/* The process's view of the device's page and ring, field by field. */
#define NPU_UQ_OFF(a, fa, b, fb) \
	static_assert(offsetof(struct a, fa) == offsetof(struct b, fb))
#define NPU_UQ_END(a, fa, b, fb) \
	static_assert(offsetofend(struct a, fa) == offsetofend(struct b, fb))
static_assert(sizeof(struct drm_npu_uqueue_control) ==
	      sizeof(struct npu_user_doorbell));
NPU_UQ_OFF(drm_npu_uqueue_control, tail, npu_user_doorbell, tail);
NPU_UQ_END(drm_npu_uqueue_control, tail, npu_user_doorbell, tail);
NPU_UQ_OFF(drm_npu_uqueue_control, head, npu_user_doorbell, head);
NPU_UQ_END(drm_npu_uqueue_control, head, npu_user_doorbell, head);
NPU_UQ_OFF(drm_npu_uqueue_control, done_seqno, npu_user_doorbell, done_seqno);
NPU_UQ_END(drm_npu_uqueue_control, done_seqno, npu_user_doorbell, done_seqno);
NPU_UQ_OFF(drm_npu_uqueue_control, error, npu_user_doorbell, error);
NPU_UQ_END(drm_npu_uqueue_control, error, npu_user_doorbell, error);
static_assert(sizeof(struct drm_npu_uqueue_job) ==
	      sizeof(struct npu_job_desc));
NPU_UQ_OFF(drm_npu_uqueue_job, seqno, npu_job_desc, seqno);
NPU_UQ_END(drm_npu_uqueue_job, seqno, npu_job_desc, seqno);
NPU_UQ_OFF(drm_npu_uqueue_job, cmd_size, npu_job_desc, cmd_size);
NPU_UQ_END(drm_npu_uqueue_job, cmd_size, npu_job_desc, cmd_size);
NPU_UQ_OFF(drm_npu_uqueue_job, context_id, npu_job_desc, context_id);
NPU_UQ_END(drm_npu_uqueue_job, context_id, npu_job_desc, context_id);
NPU_UQ_OFF(drm_npu_uqueue_job, flags, npu_job_desc, flags);
NPU_UQ_END(drm_npu_uqueue_job, flags, npu_job_desc, flags);
NPU_UQ_OFF(drm_npu_uqueue_job, status, npu_job_desc, status);
NPU_UQ_END(drm_npu_uqueue_job, status, npu_job_desc, status);
NPU_UQ_OFF(drm_npu_uqueue_job, fault_addr, npu_job_desc, fault_va);
NPU_UQ_END(drm_npu_uqueue_job, fault_addr, npu_job_desc, fault_va);
NPU_UQ_OFF(drm_npu_uqueue_job, err_offset, npu_job_desc, err_offset);
NPU_UQ_END(drm_npu_uqueue_job, err_offset, npu_job_desc, err_offset);
NPU_UQ_OFF(drm_npu_uqueue_job, reserved, npu_job_desc, reserved);
NPU_UQ_END(drm_npu_uqueue_job, reserved, npu_job_desc, reserved);
NPU_UQ_OFF(drm_npu_uqueue_job, busy_ns, npu_job_desc, busy_ns);
NPU_UQ_END(drm_npu_uqueue_job, busy_ns, npu_job_desc, busy_ns);
NPU_UQ_OFF(drm_npu_uqueue_job, reserved0, npu_job_desc, pt_root);
NPU_UQ_END(drm_npu_uqueue_job, reserved0, npu_job_desc, pt_root);
NPU_UQ_OFF(drm_npu_uqueue_job, cmd_addr, npu_job_desc, cmd_va);
NPU_UQ_END(drm_npu_uqueue_job, cmd_addr, npu_job_desc, cmd_va);
static_assert(DRM_NPU_UQUEUE_ERR_READ == NPU_QUEUE_ERR_READ);
static_assert(DRM_NPU_UQUEUE_ERR_WRITE == NPU_QUEUE_ERR_WRITE);
static_assert(DRM_NPU_UQUEUE_ERR_TAIL == NPU_QUEUE_ERR_TAIL);
static_assert(NPU_UDB_STRIDE == PAGE_SIZE);
static_assert(NPU_UQ_RING_BYTES % PAGE_SIZE == 0);

/**
 * struct npu_uqueue_fence - a fence UQUEUE_FENCE made for one job
 * @base: the fence; its seqno is the job's
 * @link: entry in npu_uqueue.fences while pending (it holds a reference)
 * @lock: the fence's own lock: the fence may outlive its queue. Taken
 *	inside npu_uqueue.lock when the fence is signalled.
 */
struct npu_uqueue_fence {
	struct dma_fence base;
	struct list_head link;
	/* the fence's lock */
	spinlock_t lock;
};

static const char *npu_uqueue_fence_driver_name(struct dma_fence *fence)
{
	return NPU_DRIVER_NAME;
}

static const char *npu_uqueue_fence_timeline_name(struct dma_fence *fence)
{
	return "npu-uqueue";
}

static const struct dma_fence_ops npu_uqueue_fence_ops = {
	.get_driver_name = npu_uqueue_fence_driver_name,
	.get_timeline_name = npu_uqueue_fence_timeline_name,
};

static void __iomem *npu_uqueue_udb(struct npu_uqueue *uq)
{
	return uq->ndev->bar2 + NPU_UDB_OFFSET +
	       uq->hwq->index * NPU_UDB_STRIDE;
}

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
 * Signals the pending fences the queue's completed jobs satisfy; with
 * @error, the others too, with that error. Under uq->lock.
 */
static void npu_uqueue_signal_fences(struct npu_uqueue *uq, int error)
{
	struct npu_uqueue_fence *f, *tmp;

	lockdep_assert_held(&uq->lock);
	list_for_each_entry_safe(f, tmp, &uq->fences, link) {
		if (f->base.seqno > uq->done) {
			if (!error)
				break;
			dma_fence_set_error(&f->base, error);
		}
		list_del_init(&f->link);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
}

/* Ends an active queue (a reason other than the device stopping it). */
static void npu_uqueue_end_locked(struct npu_uqueue *uq, u32 state,
				  int error)
{
	lockdep_assert_held(&uq->lock);
	if (uq->state == DRM_NPU_UQUEUE_ACTIVE)
		uq->state = state;
	npu_uqueue_signal_fences(uq, error);
	if (uq->eventfd)
		npu_eventfd_signal(uq->eventfd);
}

/*
 * Counts a user queue's jobs (@old, @done] in its context's job stats
 * (fdinfo, npu-smi, Slurm accounting) as SUBMIT's jobs are: how many from
 * the kernel-owned done_seqno, how many failed from the firmware's failed
 * counter (@fresh new failures), each job's busy time from its write-back
 * in the ring. The process could overwrite a write-back before this reads
 * it: that misstates its own busy time only. Under uq->lock.
 */
static void npu_uqueue_account(struct npu_uqueue *uq, u64 old, u64 done,
			       u32 fresh)
{
	struct npu_job_stats *stats = &uq->vm->job_stats;
	const struct npu_job_desc *ring = uq->hwq->ring;
	u64 jobs = done - old, failed, seq;

	lockdep_assert_held(&uq->lock);
	uq->failed_unmatched += fresh;
	failed = min(jobs, uq->failed_unmatched);
	uq->failed_unmatched -= failed;
	atomic64_add(jobs, &stats->submitted);
	atomic64_add(failed, &stats->failed);
	atomic64_add(jobs - failed, &stats->completed);
	if (jobs > NPU_RING_ENTRIES)
		old = done - NPU_RING_ENTRIES;
	for (seq = old + 1; seq <= done; seq++)
		atomic64_add(READ_ONCE(ring[(seq - 1) % NPU_RING_ENTRIES].busy_ns),
			     &stats->busy_ns);
}

/*
 * Looks at an active queue's registers: completions, failures, a stall,
 * and the context's ban. Under uq->lock, the device's BARs mapped.
 */
static void npu_uqueue_scan_locked(struct npu_uqueue *uq)
{
	void __iomem *regs = uq->hwq->regs;
	u32 failed, fresh, error;
	bool moved = false;
	u64 done;

	lockdep_assert_held(&uq->lock);
	if (uq->state != DRM_NPU_UQUEUE_ACTIVE)
		return;
	done = readq(regs + NPU_QREG(done_seqno));
	error = readl(regs + NPU_QREG(error));
	failed = readl(regs + NPU_QREG(failed));
	fresh = failed - uq->failed_seen;
	uq->failed_seen = failed;
	if (done > uq->done) {
		npu_uqueue_account(uq, uq->done, done, fresh);
		uq->done = done;
		moved = true;
	} else {
		uq->failed_unmatched += fresh;
	}
	if (fresh)
		npu_tenant_add_strikes(uq->vm, uq->context_id, fresh);

	if (error) {
		uq->error = error;
		dev_warn_ratelimited(uq->ndev->drm.dev,
				     "user queue %u of context %u (queue %u) stopped: error %u\n",
				     uq->id, uq->context_id, uq->hwq->index,
				     error);
		npu_uqueue_end_locked(uq, DRM_NPU_UQUEUE_STOPPED, -EIO);
		return;
	}
	if (READ_ONCE(uq->vm->tenant.banned)) {
		/* the firmware drops it; destroy waits for that */
		writel(0, regs + NPU_QREG(enable));
		npu_uqueue_end_locked(uq, DRM_NPU_UQUEUE_BANNED, -EIO);
		return;
	}
	npu_uqueue_signal_fences(uq, 0);
	if (moved && uq->eventfd)
		npu_eventfd_signal(uq->eventfd);
}

/**
 * npu_uqueue_irq() - scan the user-mode queues for completions
 * @ndev: the device
 *
 * From the JOB interrupt and the watchdog (lost interrupts). Allocates
 * nothing: it signals fences.
 */
void npu_uqueue_irq(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	unsigned long flags;
	bool fence_cookie;
	u32 i;

	if (!uqd->count)
		return;
	fence_cookie = dma_fence_begin_signalling();
	spin_lock_irqsave(&uqd->slots_lock, flags);
	for (i = uqd->first; i < ndev->queue_count; i++) {
		struct npu_uqueue *uq = uqd->slots[i];

		if (!uq)
			continue;
		spin_lock(&uq->lock);
		npu_uqueue_scan_locked(uq);
		spin_unlock(&uq->lock);
	}
	spin_unlock_irqrestore(&uqd->slots_lock, flags);
	dma_fence_end_signalling(fence_cookie);
}

/**
 * npu_uqueue_lost() - a reset, suspend or unbind ended every user queue
 * @ndev: the device, its queues disabled and its firmware gone
 *
 * The queues stay disabled until destroyed (npu_queue_program() leaves
 * them alone); their pending fences fail with -EIO.
 */
void npu_uqueue_lost(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	unsigned long flags;
	bool fence_cookie;
	u32 i;

	if (!uqd->count)
		return;
	fence_cookie = dma_fence_begin_signalling();
	spin_lock_irqsave(&uqd->slots_lock, flags);
	for (i = uqd->first; i < ndev->queue_count; i++) {
		struct npu_uqueue *uq = uqd->slots[i];

		if (!uq)
			continue;
		spin_lock(&uq->lock);
		npu_uqueue_end_locked(uq, DRM_NPU_UQUEUE_LOST, -EIO);
		spin_unlock(&uq->lock);
	}
	spin_unlock_irqrestore(&uqd->slots_lock, flags);
	dma_fence_end_signalling(fence_cookie);
}

/**
 * npu_uqueue_revoke_all() - take every user queue's mapping away
 * @ndev: the device, unplugged and stopped: its BARs and rings are about
 *	to go while files may stay open
 */
void npu_uqueue_revoke_all(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	u32 i;

	if (!uqd->count)
		return;
	mutex_lock(&uqd->lock);
	for (i = uqd->first; i < ndev->queue_count; i++) {
		struct npu_uqueue *uq = uqd->slots[i];

		if (uq)
			drm_vma_node_unmap(&uq->vma_node,
					   ndev->drm.anon_inode->i_mapping);
	}
	mutex_unlock(&uqd->lock);
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

/*
 * Asks the firmware to kill job @seqno of the queue and waits for it; under
 * hw_lock. True once the job is written back (with TIMEOUT).
 */
static bool npu_uqueue_kill(struct npu_device *ndev, struct npu_uqueue *uq,
			    u64 seqno)
{
	void __iomem *regs = uq->hwq->regs;
	u64 seen;

	lockdep_assert_held(&ndev->hw_lock);
	writeq(seqno, regs + NPU_QREG(kill_seqno));
	npu_doorbell(ndev, NPU_DB_QUEUE);
	return !readq_poll_timeout(regs + NPU_QREG(killed_seqno), seen,
				   seen == seqno, 1000,
				   NPU_UQ_SETTLE_MS * USEC_PER_MSEC);
}

/**
 * npu_uqueue_watchdog() - kill user-mode jobs that overran job_timeout_ms
 * @ndev: the device, its firmware running; from the watchdog
 *
 * A queue with work (its head short of the tail the process wrote, a
 * number the kernel only compares) whose done_seqno stood still for
 * job_timeout_ms has its current job killed; it completes with TIMEOUT
 * (a failure the interrupt counts toward the ban) and the queue goes on.
 *
 * Return: true if a kill was not carried out: the caller resets the device.
 */
bool npu_uqueue_watchdog(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	unsigned int timeout_ms = READ_ONCE(npu_job_timeout_ms);
	unsigned long flags;
	bool reset = false;
	u32 i;

	/* no user queue: nothing to look at (a racing CREATE waits a tick) */
	if (!uqd->count || !READ_ONCE(uqd->busy))
		return false;
	npu_uqueue_irq(ndev);
	if (!timeout_ms)
		return false;
	/* hw_lock keeps the queues in their slots (destroy takes it) */
	mutex_lock(&ndev->hw_lock);
	for (i = uqd->first; i < ndev->queue_count && !reset; i++) {
		struct npu_uqueue *uq = uqd->slots[i];
		void __iomem *regs;
		u32 head, tail;
		u64 done;

		if (!uq || READ_ONCE(uq->state) != DRM_NPU_UQUEUE_ACTIVE)
			continue;
		regs = uq->hwq->regs;
		done = readq(regs + NPU_QREG(done_seqno));
		head = readl(regs + NPU_QREG(head));
		tail = readl(npu_uqueue_udb(uq) +
			     offsetof(struct npu_user_doorbell, tail));
		if (head == tail || done != uq->wd_done) {
			uq->wd_done = done;
			uq->wd_moved = jiffies;
			continue;
		}
		if (time_before(jiffies, uq->wd_moved +
				msecs_to_jiffies(timeout_ms)))
			continue;
		uq->wd_moved = jiffies;
		/* counted before the process can see the kill done */
		spin_lock_irqsave(&uq->lock, flags);
		uq->timeouts++;
		spin_unlock_irqrestore(&uq->lock, flags);
		if (!npu_uqueue_kill(ndev, uq, done + 1)) {
			drm_err(&ndev->drm, "queue %u: the firmware did not kill user job %llu within %u ms\n",
				uq->hwq->index, done + 1, NPU_UQ_SETTLE_MS);
			reset = true;
			break;
		}
		dev_warn_ratelimited(ndev->drm.dev,
				     "user job %llu of context %u (queue %u) overran its time: killed\n",
				     done + 1, uq->context_id, uq->hwq->index);
	}
	mutex_unlock(&ndev->hw_lock);
	/* the kill's completion, if its interrupt is not there yet */
	npu_uqueue_irq(ndev);
	return reset;
}

static void npu_uqueue_release(struct kref *ref)
{
	struct npu_uqueue *uq = container_of(ref, struct npu_uqueue, ref);

	if (uq->eventfd)
		eventfd_ctx_put(uq->eventfd);
	npu_vm_put(uq->vm);
	kfree(uq);
}

static void npu_uqueue_put(struct npu_uqueue *uq)
{
	kref_put(&uq->ref, npu_uqueue_release);
}

static struct npu_uqueue *npu_uqueue_get(struct npu_context *ctx, u32 id)
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

static void npu_uqueue_free_page(struct drm_device *drm, void *page)
{
	__free_page(page);
}

static vm_fault_t npu_uqueue_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct drm_file *priv = vma->vm_file->private_data;
	struct drm_device *drm = priv->minor->dev;
	struct page *page;

	/* revoked by UQUEUE_DESTROY or the file's close: the queue is gone */
	if (!drm_dev_is_unplugged(drm))
		return VM_FAULT_SIGBUS;
	/*
	 * Revoked by a hot-unplug: the process may poll its control page
	 * before any ioctl told it the device is gone. A zeroed page (as TTM
	 * gives unplugged BOs) shows no progress instead of killing it; its
	 * next ioctl fails with ENODEV. One page per faulting page (no
	 * aliasing of the ring and the control page), freed with the DRM
	 * device.
	 */
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return VM_FAULT_OOM;
	if (drmm_add_action_or_reset(drm, npu_uqueue_free_page, page))
		return VM_FAULT_OOM;
	return vmf_insert_pfn(vma, vmf->address & PAGE_MASK, page_to_pfn(page));
}

static const struct vm_operations_struct npu_uqueue_vm_ops = {
	.fault = npu_uqueue_vm_fault,
};

static unsigned long npu_uqueue_ring_pfn(struct npu_queue *hwq, u32 page)
{
	void *va = (u8 *)hwq->ring + (size_t)page * PAGE_SIZE;

	return is_vmalloc_addr(va) ? vmalloc_to_pfn(va) :
				     PHYS_PFN(virt_to_phys(va));
}

static int npu_uqueue_mmap(struct npu_device *ndev, struct npu_uqueue *uq,
			   struct vm_area_struct *vma)
{
	struct pci_dev *pdev = ndev->pdev;
	pgprot_t io_prot = pgprot_noncached(vma->vm_page_prot);
	unsigned long addr = vma->vm_start;
	phys_addr_t udb;
	int ret;
	u32 i;

	if (vma_pages(vma) != NPU_UQ_MAP_PAGES)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	npu_vm_flags_mod(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
			 VM_MAYEXEC);
	vma->vm_ops = &npu_uqueue_vm_ops;

	/* the queue's user doorbell page, uncached like the kernel's BAR2 */
	udb = pci_resource_start(pdev, 2) + NPU_UDB_OFFSET +
	      uq->hwq->index * NPU_UDB_STRIDE;
	ret = io_remap_pfn_range(vma, addr, PHYS_PFN(udb), PAGE_SIZE, io_prot);
	if (ret)
		return ret;
	addr += PAGE_SIZE;
	/* the BAR0 page, alone in its page (npu_uqueue_bar0_alone()) */
	ret = io_remap_pfn_range(vma, addr,
				 PHYS_PFN(pci_resource_start(pdev, 0)),
				 PAGE_SIZE, io_prot);
	if (ret)
		return ret;
	addr += PAGE_SIZE;
	/* the ring, coherent host memory */
	for (i = 0; i < NPU_UQ_RING_PAGES; i++, addr += PAGE_SIZE) {
		ret = remap_pfn_range(vma, addr,
				      npu_uqueue_ring_pfn(uq->hwq, i),
				      PAGE_SIZE, vma->vm_page_prot);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * npu_mmap() - mmap of the device file
 * @filp: the file
 * @vma: the new mapping
 *
 * A user-mode queue's offset maps the queue (for the file that created it
 * only); anything else is a GEM object's.
 *
 * Return: 0 or a negative errno.
 */
int npu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct drm_file *priv = filp->private_data;
	struct drm_device *drm = priv->minor->dev;
	struct npu_device *ndev = to_npu_device(drm);
	struct npu_uqueue_dev *uqd = &ndev->uq;
	struct drm_vma_offset_manager *mgr = drm->vma_offset_manager;
	struct drm_vma_offset_node *node;
	struct npu_uqueue *uq = NULL;
	int ret, idx;
	u32 i;

	if (!uqd->count)
		return drm_gem_mmap(filp, vma);
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	mutex_lock(&uqd->lock);
	drm_vma_offset_lock_lookup(mgr);
	node = drm_vma_offset_exact_lookup_locked(mgr, vma->vm_pgoff, 1);
	drm_vma_offset_unlock_lookup(mgr);
	for (i = uqd->first; node && i < ndev->queue_count; i++) {
		if (uqd->slots[i] && &uqd->slots[i]->vma_node == node)
			uq = uqd->slots[i];
	}
	if (!uq) {
		mutex_unlock(&uqd->lock);
		drm_dev_exit(idx);
		return drm_gem_mmap(filp, vma);
	}
	if (uq->file != priv || !drm_vma_node_is_allowed(node, priv))
		ret = -EACCES;
	else
		ret = npu_uqueue_mmap(ndev, uq, vma);
	mutex_unlock(&uqd->lock);
	drm_dev_exit(idx);
	return ret;
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

/* Adds a fence to the sorted pending list; it holds a reference. */
static void npu_uqueue_fence_insert(struct npu_uqueue *uq,
				    struct npu_uqueue_fence *f)
{
	struct npu_uqueue_fence *pos;

	lockdep_assert_held(&uq->lock);
	dma_fence_get(&f->base);
	list_for_each_entry_reverse(pos, &uq->fences, link) {
		if (pos->base.seqno <= f->base.seqno) {
			list_add(&f->link, &pos->link);
			return;
		}
	}
	list_add(&f->link, &uq->fences);
}

int npu_ioctl_uqueue_fence(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_uqueue_fence *args = data;
	struct dma_fence_chain *chain = NULL;
	struct drm_syncobj *syncobj;
	struct npu_uqueue_fence *f;
	struct npu_uqueue *uq;
	unsigned long flags;
	u32 tail, ahead;
	u64 written;
	int ret = 0, idx;

	if (args->flags || args->pad || !args->seqno)
		return -EINVAL;
	uq = npu_uqueue_get(ctx, args->uqueue_id);
	if (!uq)
		return -ENOENT;
	syncobj = drm_syncobj_find(file, args->syncobj);
	if (!syncobj) {
		ret = -ENOENT;
		goto out_put;
	}
	if (args->point) {
		chain = dma_fence_chain_alloc();
		if (!chain) {
			ret = -ENOMEM;
			goto out_syncobj;
		}
	}
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f) {
		ret = -ENOMEM;
		goto out_chain;
	}
	INIT_LIST_HEAD(&f->link);
	spin_lock_init(&f->lock);
	if (!drm_dev_enter(drm, &idx)) {
		kfree(f);
		ret = -ENODEV;
		goto out_chain;
	}

	spin_lock_irqsave(&uq->lock, flags);
	npu_uqueue_scan_locked(uq);
	/* jobs written: those done, and the tail's lead if the ring holds it */
	written = uq->done;
	if (uq->state == DRM_NPU_UQUEUE_ACTIVE) {
		tail = readl(npu_uqueue_udb(uq) +
			     offsetof(struct npu_user_doorbell, tail));
		ahead = tail - (u32)uq->done;
		if (ahead <= NPU_RING_ENTRIES)
			written += ahead;
	}
	if (args->seqno > written && uq->state == DRM_NPU_UQUEUE_ACTIVE) {
		spin_unlock_irqrestore(&uq->lock, flags);
		drm_dev_exit(idx);
		kfree(f);
		ret = -EINVAL;
		goto out_chain;
	}
	dma_fence_init(&f->base, &npu_uqueue_fence_ops, &f->lock,
		       uq->fence_context, args->seqno);
	if (args->seqno <= uq->done) {
		dma_fence_signal(&f->base);
	} else if (uq->state != DRM_NPU_UQUEUE_ACTIVE) {
		dma_fence_set_error(&f->base,
				    uq->destroyed ? -ECANCELED : -EIO);
		dma_fence_signal(&f->base);
	} else {
		npu_uqueue_fence_insert(uq, f);
	}
	spin_unlock_irqrestore(&uq->lock, flags);
	drm_dev_exit(idx);

	if (chain) {
		drm_syncobj_add_point(syncobj, chain, &f->base, args->point);
		chain = NULL;
	} else {
		drm_syncobj_replace_fence(syncobj, &f->base);
	}
	dma_fence_put(&f->base);
out_chain:
	dma_fence_chain_free(chain);
out_syncobj:
	drm_syncobj_put(syncobj);
out_put:
	npu_uqueue_put(uq);
	return ret;
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
