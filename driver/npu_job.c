// SPDX-License-Identifier: GPL-2.0-only
/*
 * Job submission and completion.
 *
 * A job's life: SUBMIT validates the arguments, references the BOs, turns
 * in-syncobjs (binary or timeline points, optionally waiting for the
 * point to be submitted) and the BOs' reservation fences into scheduler
 * dependencies, arms the job, publishes its finished fence in the BOs'
 * reservations and the out-syncobj (replaced, or a new timeline point),
 * and pushes it to the entity of the context queue it names. run_job writes a
 * descriptor into the queue ring, moves the tail and rings the doorbell,
 * returning a hardware fence. The JOB interrupt signals hardware fences up
 * to the queue's done_seqno with the status the firmware wrote back.
 * free_job drops the BOs; the context's WAIT history keeps the job (and
 * its status) until DRM_NPU_WAIT_HISTORY newer jobs replaced it.
 *
 * A job that overruns its time is killed alone by the firmware and
 * completes with TIMEOUT (npu_reset_kill_job()). A recovery (npu_reset.c)
 * fails the jobs on the hardware: the one the firmware was stuck in (or
 * else the timed-out one) with TIMEOUT, one the firmware failed with
 * ENGINE_ERROR with that status, the others with ABORTED. Jobs still
 * queued in the scheduler run after the restart.
 */
#include <linux/dma-fence-chain.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_utils.h>

#include "npu_ctx_queue.h"
#include "npu_dma.h"
#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_job.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"
#include "npu_reset.h"
#include "npu_tenant.h"

static struct npu_job *to_npu_job(struct drm_sched_job *sched_job)
{
	return container_of(sched_job, struct npu_job, base);
}

static const char *npu_fence_get_driver_name(struct dma_fence *fence)
{
	return NPU_DRIVER_NAME;
}

static const char *npu_fence_get_timeline_name(struct dma_fence *fence)
{
	return "npu-queue";
}

static const struct dma_fence_ops npu_fence_ops = {
	.get_driver_name = npu_fence_get_driver_name,
	.get_timeline_name = npu_fence_get_timeline_name,
};

static void npu_job_drop_bos(struct npu_job *job)
{
	u32 i;

	if (!job->bos)
		return;
	for (i = 0; i < job->bo_count; i++) {
		if (job->bos[i])
			drm_gem_object_put(job->bos[i]);
	}
	kvfree(job->bos);
	job->bos = NULL;
}

static void npu_job_release(struct kref *ref)
{
	struct npu_job *job = container_of(ref, struct npu_job, ref);

	npu_job_drop_bos(job);
	npu_pm_job_put(job);
	dma_fence_put(job->done_fence);
	dma_fence_put(job->hw_fence);
	kfree(job->fence_mem);
	atomic_dec(&job->vm->ndev->stats.jobs);
	npu_vm_untrack_job(job->vm, job);
	npu_vm_put(job->vm);
	kfree(job);
}

void npu_job_put(struct npu_job *job)
{
	if (job)
		kref_put(&job->ref, npu_job_release);
}

static int npu_status_to_errno(u32 status)
{
	switch (status) {
	case DRM_NPU_JOB_STATUS_OK:
		return 0;
	case DRM_NPU_JOB_STATUS_BAD_PACKET:
		return -EINVAL;
	case DRM_NPU_JOB_STATUS_PAGE_FAULT:
		return -EFAULT;
	case DRM_NPU_JOB_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	case DRM_NPU_JOB_STATUS_ABORTED:
		return -ECANCELED;
	case DRM_NPU_JOB_STATUS_ENGINE_ERROR:
		return -EIO;
	default:
		return -EIO;
	}
}

/* Records the outcome of an in-flight job and signals its hardware fence. */
static void npu_job_signal(struct npu_job *job, u32 status, u64 fault_va,
			   u32 err_offset, int error)
{
	lockdep_assert_held(&job->queue->lock);

	list_del_init(&job->inflight);
	job->status = status;
	job->fault_va = fault_va;
	job->err_offset = err_offset;
	npu_stats_job_done(&job->vm->job_stats, status, fault_va);
	/* the device is done with the job's BOs: its writes to the CPU */
	npu_job_dma_for_cpu(job);
	if (error) {
		dma_fence_set_error(job->hw_fence, error);
		/* not every scheduler copies the parent's error */
		dma_fence_set_error(&job->base.s_fence->finished, error);
	}
	dma_fence_signal_locked(job->hw_fence);
}

/*
 * Statuses the firmware writes back; the others are the driver's own,
 * except TIMEOUT for a job the driver asked the firmware to kill.
 */
static bool npu_status_from_device(struct npu_job *job, u32 status)
{
	return status <= DRM_NPU_JOB_STATUS_PAGE_FAULT ||
	       status == DRM_NPU_JOB_STATUS_ENGINE_ERROR ||
	       (status == DRM_NPU_JOB_STATUS_TIMEOUT && job->kill_requested);
}

/**
 * npu_queue_handle_done() - complete the jobs up to the queue's done_seqno
 * @queue: the queue
 *
 * Called from the JOB interrupt, by the watchdog (lost interrupts) and by
 * recovery. A completion the device cannot have made - done_seqno beyond
 * the last job written, a descriptor written back with another seqno or a
 * status the device does not report - signals nothing: the jobs stay in
 * flight and a recovery (NPU_FAULT_BAD_COMPLETION) fails them. A job the
 * firmware failed with ENGINE_ERROR is not signalled either: it is marked,
 * and the recovery it triggers (NPU_FAULT_ENGINE_ERROR) completes it with
 * that status once the device is reset, so that no later job is lost to a
 * reset its submitter could not see coming.
 */
void npu_queue_handle_done(struct npu_queue *queue)
{
	unsigned int fault = 0;
	struct npu_job *job, *tmp;
	unsigned long flags;
	bool fence_cookie;
	u64 done;

	/* a user-mode queue's completions are npu_uqueue_fence.c's */
	if (queue->user)
		return;
	fence_cookie = dma_fence_begin_signalling();
	spin_lock_irqsave(&queue->lock, flags);
	done = readq(queue->regs + NPU_QREG(done_seqno));
	/* the firmware wrote the descriptors before done_seqno */
	dma_rmb();
	if (unlikely(done > queue->hw_seqno)) {
		dev_err_ratelimited(queue->ndev->drm.dev,
				    "queue %u: done_seqno %llu beyond the last job %llu\n",
				    queue->index, done, queue->hw_seqno);
		fault = NPU_FAULT_BAD_COMPLETION;
		goto out_unlock;
	}
	list_for_each_entry_safe(job, tmp, &queue->inflight, inflight) {
		const struct npu_job_desc *desc = &queue->ring[job->ring_slot];
		u32 status;

		/* npu_reset_kill_job() signals it once it can */
		if (job->hw_seqno > done || job->killing)
			break;
		status = READ_ONCE(desc->status);
		if (unlikely(!npu_status_from_device(job, status) ||
			     READ_ONCE(desc->seqno) != job->hw_seqno)) {
			dev_err_ratelimited(queue->ndev->drm.dev,
					    "queue %u: job %llu written back with seqno %llu status 0x%x\n",
					    queue->index, job->hw_seqno,
					    READ_ONCE(desc->seqno), status);
			fault = NPU_FAULT_BAD_COMPLETION;
			break;
		}
		if (unlikely(status == DRM_NPU_JOB_STATUS_ENGINE_ERROR)) {
			if (!job->engine_error) {
				job->engine_error = true;
				job->err_offset = READ_ONCE(desc->err_offset);
				dev_err_ratelimited(queue->ndev->drm.dev,
						    "queue %u: job %llu (context %u seqno %llu) failed in a tensor engine at offset %u\n",
						    queue->index, job->hw_seqno,
						    job->context_id, job->seqno,
						    job->err_offset);
			}
			fault = NPU_FAULT_ENGINE_ERROR;
			break;
		}
		atomic64_add(READ_ONCE(desc->busy_ns),
			     &job->vm->job_stats.busy_ns);
		/* a kill that cancelled the job: nothing it did is to blame */
		if (status == DRM_NPU_JOB_STATUS_TIMEOUT && job->cancelled)
			status = DRM_NPU_JOB_STATUS_ABORTED;
		npu_hops_job_done(queue, job);
		npu_job_signal(job, status, READ_ONCE(desc->fault_va),
			       READ_ONCE(desc->err_offset),
			       npu_status_to_errno(status));
	}
out_unlock:
	spin_unlock_irqrestore(&queue->lock, flags);
	if (fault)
		npu_reset_report_fault(queue->ndev, fault);
	dma_fence_end_signalling(fence_cookie);
}

/**
 * npu_queue_fail_all() - fail every job handed to the device
 * @queue: the queue, whose device no longer runs them (stopped or gone)
 * @guilty: job that timed out, failed with TIMEOUT; may be NULL
 * @error: fence error of the other jobs, which get status ABORTED, except
 *	those the firmware failed with ENGINE_ERROR: they keep that status
 */
void npu_queue_fail_all(struct npu_queue *queue, struct npu_job *guilty,
			int error)
{
	struct npu_job *job, *tmp;
	unsigned long flags;
	bool fence_cookie;

	fence_cookie = dma_fence_begin_signalling();
	spin_lock_irqsave(&queue->lock, flags);
	list_for_each_entry_safe(job, tmp, &queue->inflight, inflight) {
		if (job->engine_error)
			npu_job_signal(job, DRM_NPU_JOB_STATUS_ENGINE_ERROR, 0,
				       job->err_offset, -EIO);
		else if (job == guilty)
			npu_job_signal(job, DRM_NPU_JOB_STATUS_TIMEOUT, 0, 0,
				       -ETIMEDOUT);
		else
			npu_job_signal(job, DRM_NPU_JOB_STATUS_ABORTED, 0, 0,
				       error);
	}
	spin_unlock_irqrestore(&queue->lock, flags);
	dma_fence_end_signalling(fence_cookie);
}

static struct dma_fence *npu_job_run(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);
	struct npu_queue *queue = job->queue;
	struct npu_device *ndev = queue->ndev;
	struct npu_job_desc *desc;
	struct npu_fence *fence;
	unsigned long flags;
	bool fence_cookie;
	int idx;

	/* a dependency failed or the entity was killed */
	if (unlikely(sched_job->s_fence->finished.error))
		return NULL;
	if (!drm_dev_enter(&ndev->drm, &idx))
		return ERR_PTR(-ENODEV);
	if (unlikely(READ_ONCE(ndev->dead))) {
		drm_dev_exit(idx);
		return ERR_PTR(-EIO);
	}
	npu_hop_stamp(&job->hops, NPU_HOP_RUN);
	/* the job's fences signal only once this returned: no reclaim here */
	fence_cookie = dma_fence_begin_signalling();

	fence = job->fence_mem;
	job->fence_mem = NULL;
	/* the CPU's writes to the job's BOs to the device, before it runs */
	npu_job_dma_for_device(job);

	spin_lock_irqsave(&queue->lock, flags);
	job->hw_seqno = ++queue->hw_seqno;
	dma_fence_init(&fence->base, &npu_fence_ops, &queue->lock,
		       queue->fence_context, job->hw_seqno);
	job->hw_fence = dma_fence_get(&fence->base);
	job->ring_slot = queue->tail & (NPU_RING_ENTRIES - 1);

	desc = &queue->ring[job->ring_slot];
	memset(desc, 0, sizeof(*desc));
	desc->seqno = job->hw_seqno;
	desc->cmd_va = job->cmd_va;
	desc->cmd_size = job->cmd_size;
	desc->context_id = job->context_id;
	desc->pt_root = npu_vm_pt_root(job->vm);

	list_add_tail(&job->inflight, &queue->inflight);
	queue->tail++;
	/* writel orders the descriptor before the tail */
	writel(queue->tail, queue->regs + NPU_QREG(tail));
	spin_unlock_irqrestore(&queue->lock, flags);

	npu_hop_stamp(&job->hops, NPU_HOP_DOORBELL);
	npu_doorbell(ndev, NPU_DB_QUEUE);
	dma_fence_end_signalling(fence_cookie);
	drm_dev_exit(idx);
	return &fence->base;
}

static enum drm_gpu_sched_stat npu_job_timedout(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);
	struct npu_queue *queue = job->queue;
	struct npu_device *ndev = queue->ndev;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx)) {
		/*
		 * Removal fails the in-flight jobs once the device is stopped
		 * (npu_hw_stop()); put the job back on the pending list.
		 */
		drm_sched_stop(&queue->sched, sched_job);
		npu_sched_start(&queue->sched);
		return DRM_GPU_SCHED_STAT_ENODEV;
	}
	/* the firmware aborts the job alone; other jobs run on */
	if (npu_reset_kill_job(ndev, job)) {
		drm_dev_exit(idx);
		return DRM_GPU_SCHED_STAT_NOMINAL;
	}
	npu_recover(ndev, job);
	drm_dev_exit(idx);
	return NPU_SCHED_STAT_RESET;
}

static void npu_job_free(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);

	drm_sched_job_cleanup(sched_job);
	npu_job_drop_bos(job);
	/* the queue may drain now: let the device autosuspend */
	npu_pm_job_put(job);
	npu_job_put(job);
}

static const struct drm_sched_backend_ops npu_sched_ops = {
	.run_job = npu_job_run,
	.timedout_job = npu_job_timedout,
	.free_job = npu_job_free,
};

/**
 * npu_queue_disable() - make the firmware stop serving the queue
 * @queue: the queue
 */
void npu_queue_disable(struct npu_queue *queue)
{
	writel(0, queue->regs + NPU_QREG(enable));
}

/**
 * npu_queue_program() - point the (disabled) queue at an empty ring and
 *	enable it
 * @queue: the queue, with no job in flight and its scheduler stopped or
 *	idle
 *
 * A queue kept for user mode stays disabled: npu_uqueue.c programs it for
 * the user queue it serves, which a reset ended.
 */
void npu_queue_program(struct npu_queue *queue)
{
	void __iomem *regs = queue->regs;
	unsigned long flags;

	npu_queue_disable(queue);
	if (queue->user)
		return;
	spin_lock_irqsave(&queue->lock, flags);
	WARN_ON(!list_empty(&queue->inflight));
	memset(queue->ring, 0, NPU_RING_ENTRIES * sizeof(*queue->ring));
	queue->tail = 0;
	writeq(queue->ring_dma, regs + NPU_QREG(ring_base));
	writel(NPU_RING_ENTRIES, regs + NPU_QREG(ring_entries));
	writel(0, regs + NPU_QREG(tail));
	writel(0, regs + NPU_QREG(head));
	writeq(queue->hw_seqno, regs + NPU_QREG(done_seqno));
	writel(queue->priority, regs + NPU_QREG(priority));
	writel(0, regs + NPU_QREG(reserved));
	writeq(0, regs + NPU_QREG(kill_seqno));
	writeq(0, regs + NPU_QREG(killed_seqno));
	writel(1, regs + NPU_QREG(enable));
	spin_unlock_irqrestore(&queue->lock, flags);
}

static void npu_queue_fini(struct drm_device *drm, void *data)
{
	struct npu_queue *queue = data;

	drm_sched_fini(&queue->sched);
}

/**
 * npu_queue_init() - set up a queue's ring and scheduler
 * @ndev: the device; ndev->reset_wq must exist
 * @queue: the queue to initialize
 * @index: queue number in BAR2
 *
 * The scheduler lives as long as the DRM device, since open files keep
 * entities on it after the PCI device is gone.
 *
 * Return: 0 or a negative errno.
 */
int npu_queue_init(struct npu_device *ndev, struct npu_queue *queue,
		   u32 index)
{
	struct drm_sched_init_args args = {
		.ops = &npu_sched_ops,
		.timeout_wq = ndev->reset_wq,
		.credit_limit = NPU_RING_ENTRIES,
		.timeout = npu_job_timeout_ms ?
			   msecs_to_jiffies(npu_job_timeout_ms) :
			   MAX_SCHEDULE_TIMEOUT,
		.name = queue->name,
		.dev = ndev->drm.dev,
	};
	int ret;

	queue->ndev = ndev;
	queue->index = index;
	/* level i % 4 with all four levels present, else queue i serves level i */
	queue->priority = ndev->queue_count >= NPU_PRIO_COUNT ?
			  index % NPU_PRIO_COUNT : index;
	snprintf(queue->name, sizeof(queue->name), "npu-q%u-prio%u", index,
		 queue->priority);
	queue->regs = ndev->bar2 + NPU_QUEUE_OFFSET + index * NPU_QUEUE_STRIDE;
	queue->user = index >= ndev->uq.first;
	spin_lock_init(&queue->lock);
	INIT_LIST_HEAD(&queue->inflight);
	queue->fence_context = dma_fence_context_alloc(1);

	queue->ring = dmam_alloc_coherent(ndev->drm.dev,
					  NPU_RING_ENTRIES * sizeof(*queue->ring),
					  &queue->ring_dma, GFP_KERNEL);
	if (!queue->ring)
		return -ENOMEM;

	npu_sched_init_args_set_rqs(&args);
	ret = drm_sched_init(&queue->sched, &args);
	if (ret)
		return ret;
	return drmm_add_action_or_reset(&ndev->drm, npu_queue_fini, queue);
}

static int npu_submit_check_args(const struct drm_npu_submit *args)
{
	if (args->flags & ~DRM_NPU_SUBMIT_FLAGS || args->pad || args->pad2)
		return -EINVAL;
	if (args->out_point && !args->out_syncobj)
		return -EINVAL;
	if (!args->bo_count || args->bo_count > DRM_NPU_MAX_SUBMIT_BOS)
		return -EINVAL;
	if (args->in_syncobj_count > DRM_NPU_MAX_IN_SYNCOBJS)
		return -EINVAL;
	/* points for no in-syncobj: a caller bug, not something to ignore */
	if (args->in_points && !args->in_syncobj_count)
		return -EINVAL;
	if (!args->cmd_size || args->cmd_size % 8 ||
	    args->cmd_size > NPU_JOB_CMD_MAX_SIZE)
		return -EINVAL;
	if (args->cmd_addr % 8)
		return -EINVAL;
	return 0;
}

/*
 * Checks that every BO belongs to @vm and one of them holds the commands,
 * at its own address or at a range bound with VM_BIND.
 */
static int npu_submit_check_bos(struct npu_job *job, struct npu_vm *vm)
{
	bool cmd_found = false;
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		struct npu_bo *bo = to_npu_bo(job->bos[i]);
		u64 start = bo->va.start;
		u64 end = start + bo->base.base.size;

		if (bo->vm != vm)
			return -EINVAL;
		if (job->cmd_va >= start && job->cmd_va < end &&
		    job->cmd_size <= end - job->cmd_va)
			cmd_found = true;
	}
	if (!cmd_found)
		cmd_found = npu_vm_bind_holds(vm, job->cmd_va, job->cmd_size,
					      job->bos, job->bo_count);
	return cmd_found ? 0 : -EINVAL;
}

/**
 * struct npu_in_fences - the in-syncobj fences of a submission
 * @count: entries in each array
 * @fence: the fences; an entry is NULL once handed to the job
 * @point: timeline point of each syncobj, 0 for its current fence
 * @handle: syncobj handles
 */
struct npu_in_fences {
	u32 count;
	struct dma_fence *fence[DRM_NPU_MAX_IN_SYNCOBJS];
	u64 point[DRM_NPU_MAX_IN_SYNCOBJS];
	u32 handle[DRM_NPU_MAX_IN_SYNCOBJS];
};

static void npu_in_fences_free(struct npu_in_fences *in)
{
	u32 i;

	if (!in)
		return;
	for (i = 0; i < in->count; i++)
		dma_fence_put(in->fence[i]);
	kfree(in);
}

/*
 * Looks the in-fences up before the device is entered or anything locked:
 * with DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT this sleeps until each point has
 * been submitted. Returns NULL without in-syncobjs.
 */
static struct npu_in_fences *
npu_in_fences_find(struct drm_file *file, const struct drm_npu_submit *args)
{
	u32 count = args->in_syncobj_count;
	struct npu_in_fences *in;
	u64 flags = 0;
	u32 i;
	int ret;

	if (!count)
		return NULL;
	in = kzalloc(sizeof(*in), GFP_KERNEL_ACCOUNT);
	if (!in)
		return ERR_PTR(-ENOMEM);
	in->count = count;
	if (copy_from_user(in->handle, u64_to_user_ptr(args->in_syncobjs),
			   count * sizeof(in->handle[0])) ||
	    (args->in_points &&
	     copy_from_user(in->point, u64_to_user_ptr(args->in_points),
			    count * sizeof(in->point[0])))) {
		ret = -EFAULT;
		goto err_free;
	}
	if (args->flags & DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT)
		flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
	for (i = 0; i < count; i++) {
		ret = drm_syncobj_find_fence(file, in->handle[i], in->point[i],
					     flags, &in->fence[i]);
		if (ret) {
			in->fence[i] = NULL;
			goto err_free;
		}
	}
	return in;

err_free:
	npu_in_fences_free(in);
	return ERR_PTR(ret);
}

static int npu_submit_add_in_fences(struct npu_job *job,
				    struct npu_in_fences *in)
{
	u32 i;
	int ret;

	for (i = 0; in && i < in->count; i++) {
		struct dma_fence *fence = in->fence[i];

		in->fence[i] = NULL;
		/* consumes the fence reference, also on failure */
		ret = drm_sched_job_add_dependency(&job->base, fence);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Adds the BOs' reservation fences as dependencies and reserves a slot for
 * the job's fence. Read-only BOs are only read by the device, so they wait
 * for writers only and publish a read fence. An explicit-sync job waits for
 * its in-syncobjs only.
 */
static int npu_submit_implicit_deps(struct npu_job *job)
{
	u32 i;
	int ret;

	for (i = 0; i < job->bo_count; i++) {
		struct drm_gem_object *obj = job->bos[i];
		bool write = !(to_npu_bo(obj)->flags &
			       DRM_NPU_BO_DEVICE_READ_ONLY);

		ret = dma_resv_reserve_fences(obj->resv, 1);
		if (ret)
			return ret;
		if (job->explicit_sync)
			continue;
		ret = drm_sched_job_add_implicit_dependencies(&job->base, obj,
							      write);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * An explicit-sync job's fence is BOOKKEEP: implicit-sync users (other jobs,
 * dma-buf importers) do not wait for it, but everything that tracks the
 * BO's memory lifetime does.
 */
static void npu_submit_publish(struct npu_job *job)
{
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		struct drm_gem_object *obj = job->bos[i];
		bool write = !(to_npu_bo(obj)->flags &
			       DRM_NPU_BO_DEVICE_READ_ONLY);
		enum dma_resv_usage usage;

		if (job->explicit_sync)
			usage = DMA_RESV_USAGE_BOOKKEEP;
		else
			usage = write ? DMA_RESV_USAGE_WRITE :
					DMA_RESV_USAGE_READ;
		dma_resv_add_fence(obj->resv, job->done_fence, usage);
	}
}

static struct npu_job *npu_job_alloc(struct npu_context *ctx,
				     struct npu_ctx_queue *cq,
				     const struct drm_npu_submit *args)
{
	struct npu_job *job;

	job = kzalloc(sizeof(*job), GFP_KERNEL_ACCOUNT);
	if (!job)
		return NULL;
	job->fence_mem = kzalloc(sizeof(*job->fence_mem), GFP_KERNEL_ACCOUNT);
	if (!job->fence_mem) {
		kfree(job);
		return NULL;
	}
	kref_init(&job->ref);
	INIT_LIST_HEAD(&job->inflight);
	INIT_LIST_HEAD(&job->vm_link);
	job->queue = cq->hwq;
	job->owner = cq;
	job->vm = npu_vm_get(ctx->vm);
	atomic_inc(&ctx->ndev->stats.jobs);
	job->context_id = ctx->id;
	job->cmd_va = args->cmd_addr;
	job->cmd_size = args->cmd_size;
	job->explicit_sync = args->flags & DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	job->status = DRM_NPU_JOB_STATUS_ABORTED;
	return job;
}

/* Arms and pushes the job; nothing can fail from here on. */
static void npu_submit_push(struct npu_ctx_queue *cq, struct npu_job *job,
			    struct ww_acquire_ctx *ticket)
{
	struct npu_job **slot;

	mutex_lock(&cq->lock);
	drm_sched_job_arm(&job->base);
	job->done_fence = dma_fence_get(&job->base.s_fence->finished);
	npu_submit_publish(job);
	/* after the push the job may complete and drop its BOs any time */
	drm_gem_unlock_reservations(job->bos, job->bo_count, ticket);

	job->seqno = ++cq->last_seqno;
	slot = &cq->history[job->seqno % DRM_NPU_WAIT_HISTORY];
	npu_job_put(*slot);
	kref_get(&job->ref);
	*slot = job;

	npu_stats_job_submitted(&job->vm->job_stats);
	/* BOs that die from now on wait for this job */
	npu_vm_track_job(job->vm, job);
	npu_tenant_job_pushed(job);
	npu_hop_stamp(&job->hops, NPU_HOP_PUSHED);
	drm_sched_entity_push_job(&job->base);
	mutex_unlock(&cq->lock);
}

int npu_ioctl_submit(struct drm_device *drm, void *data,
		     struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_submit *args = data;
	struct drm_syncobj *out_syncobj = NULL;
	struct dma_fence_chain *out_chain = NULL;
	struct npu_in_fences *in_fences;
	struct ww_acquire_ctx ticket;
	u64 ioctl_ns = ktime_get_ns();
	struct npu_ctx_queue *cq;
	struct npu_job *job;
	int ret, idx;

	ret = npu_submit_check_args(args);
	if (ret)
		return ret;
	cq = npu_ctx_queue_get(ctx, args->queue_id);
	if (!cq)
		return -ENOENT;
	ret = npu_tenant_job_reserve(ctx);
	if (ret) {
		npu_ctx_queue_put(cq);
		return ret;
	}
	in_fences = npu_in_fences_find(file, args);
	if (IS_ERR(in_fences)) {
		ret = PTR_ERR(in_fences);
		in_fences = NULL;
		goto out_put_queue;
	}
	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_put_queue;
	}

	job = npu_job_alloc(ctx, cq, args);
	if (!job) {
		ret = -ENOMEM;
		goto out_exit;
	}
	job->hops.ns[NPU_HOP_IOCTL] = ioctl_ns;
	/* the device stays powered until the job is freed */
	ret = npu_pm_job_get(job);
	if (ret)
		goto err_put_job;

	job->bo_count = args->bo_count;
	ret = drm_gem_objects_lookup(file, u64_to_user_ptr(args->bo_handles),
				     args->bo_count, &job->bos);
	if (ret)
		goto err_put_job;
	ret = npu_submit_check_bos(job, ctx->vm);
	if (ret)
		goto err_put_job;

	if (args->out_syncobj) {
		out_syncobj = drm_syncobj_find(file, args->out_syncobj);
		if (!out_syncobj) {
			ret = -ENOENT;
			goto err_put_job;
		}
	}
	if (args->out_point) {
		out_chain = dma_fence_chain_alloc();
		if (!out_chain) {
			ret = -ENOMEM;
			goto err_put_syncobj;
		}
	}

	ret = npu_sched_job_init(&job->base, &cq->entity, ctx, file);
	if (ret)
		goto err_put_syncobj;

	ret = npu_submit_add_in_fences(job, in_fences);
	if (ret)
		goto err_cleanup_job;

	ret = drm_gem_lock_reservations(job->bos, job->bo_count, &ticket);
	if (ret) {
		/* a handle listed twice */
		if (ret == -EALREADY)
			ret = -EINVAL;
		goto err_cleanup_job;
	}
	ret = npu_submit_implicit_deps(job);
	if (ret)
		goto err_unlock;

	npu_submit_push(cq, job, &ticket);

	if (out_chain)
		drm_syncobj_add_point(out_syncobj, out_chain,
				      job->done_fence, args->out_point);
	else if (out_syncobj)
		drm_syncobj_replace_fence(out_syncobj, job->done_fence);
	if (out_syncobj)
		drm_syncobj_put(out_syncobj);
	args->seqno = job->seqno;
	drm_dev_exit(idx);
	npu_in_fences_free(in_fences);
	npu_ctx_queue_put(cq);
	return 0;

err_unlock:
	drm_gem_unlock_reservations(job->bos, job->bo_count, &ticket);
err_cleanup_job:
	drm_sched_job_cleanup(&job->base);
err_put_syncobj:
	dma_fence_chain_free(out_chain);
	if (out_syncobj)
		drm_syncobj_put(out_syncobj);
err_put_job:
	npu_job_put(job);
out_exit:
	drm_dev_exit(idx);
out_put_queue:
	npu_in_fences_free(in_fences);
	npu_ctx_queue_put(cq);
	npu_tenant_job_unreserve(ctx);
	return ret;
}

int npu_ioctl_wait(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_wait *args = data;
	struct npu_ctx_queue *cq;
	struct npu_job *job;
	long timeout;
	int ret = 0;

	if (args->flags)
		return -EINVAL;
	cq = npu_ctx_queue_get(ctx, args->queue_id);
	if (!cq)
		return -ENOENT;

	mutex_lock(&cq->lock);
	if (!args->seqno || args->seqno > cq->last_seqno) {
		mutex_unlock(&cq->lock);
		npu_ctx_queue_put(cq);
		return -EINVAL;
	}
	job = cq->history[args->seqno % DRM_NPU_WAIT_HISTORY];
	if (!job || job->seqno != args->seqno) {
		mutex_unlock(&cq->lock);
		npu_ctx_queue_put(cq);
		args->job_status = DRM_NPU_JOB_STATUS_EXPIRED;
		args->err_offset = 0;
		args->fault_addr = 0;
		return 0;
	}
	kref_get(&job->ref);
	mutex_unlock(&cq->lock);
	/* the job reference is enough from here on */
	npu_ctx_queue_put(cq);

	timeout = drm_timeout_abs_to_jiffies(args->timeout_ns);
	if (!dma_fence_is_signaled(job->done_fence)) {
		timeout = dma_fence_wait_timeout(job->done_fence, true,
						 timeout);
		if (timeout < 0)
			ret = timeout;
		else if (!timeout)
			ret = -ETIME;
	}
	if (!ret) {
		npu_hop_log_commit(ctx->ndev, job, args->queue_id,
				   ktime_get_ns());
		/* the status was written before the fences signalled */
		smp_rmb();
		args->job_status = job->status;
		args->err_offset = job->err_offset;
		args->fault_addr = job->fault_va;
	}
	npu_job_put(job);
	return ret;
}
