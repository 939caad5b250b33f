// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-mode queues, completion (npu_uqueue.c has the queues themselves).
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
#include <linux/dma-fence-chain.h>
#include <linux/eventfd.h>
#include <linux/iopoll.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>

#include "npu_drv.h"
#include "npu_mmu.h"
#include "npu_tenant.h"
#include "npu_uqueue.h"
#include "npu_uqueue_internal.h"

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

/**
 * npu_uqueue_end_locked() - end an active queue (a reason other than the
 *	device stopping it)
 * @uq: the queue, its lock held
 * @state: DRM_NPU_UQUEUE_* it takes if still active
 * @error: the error its pending fences fail with
 */
void npu_uqueue_end_locked(struct npu_uqueue *uq, u32 state, int error)
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

/**
 * npu_uqueue_scan_locked() - look at an active queue's registers:
 *	completions, failures, a stall, and the context's ban
 * @uq: the queue, its lock held, the device's BARs mapped
 */
void npu_uqueue_scan_locked(struct npu_uqueue *uq)
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
