// SPDX-License-Identifier: GPL-2.0-only
/*
 * Context queues and their priorities.
 *
 * The hardware queues are spread over the priority levels (queue i serves
 * level i % 4), and the firmware serves a higher level before any lower
 * one, round-robin within a level. A context queue is a scheduler entity
 * on the least used hardware queue of its level: each hardware queue's
 * scheduler feeds its ring from the entities of all contexts in turn, so
 * a level is shared fairly while each context queue keeps its own order.
 * Context queues sharing a hardware queue also share its ring: a job
 * stalled on the device (WAIT_MEM) holds up the jobs behind it there.
 * With fewer than four hardware queues, the higher levels share the last
 * one.
 */
#include <linux/capability.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>

#include "npu_ctx_queue.h"
#include "npu_drv.h"
#include "npu_job.h"

static void npu_ctx_queue_release(struct kref *ref)
{
	struct npu_ctx_queue *cq = container_of(ref, struct npu_ctx_queue, ref);
	unsigned int i;

	/* waits for queued jobs to reach the device (or kills them) */
	drm_sched_entity_destroy(&cq->entity);
	/* they must not hold up the other contexts sharing the ring */
	npu_reset_cancel_jobs(cq->hwq->ndev, cq->hwq, cq);
	atomic_dec(&cq->hwq->users);
	for (i = 0; i < DRM_NPU_WAIT_HISTORY; i++)
		npu_job_put(cq->history[i]);
	mutex_destroy(&cq->lock);
	kfree(cq);
}

void npu_ctx_queue_put(struct npu_ctx_queue *cq)
{
	if (cq)
		kref_put(&cq->ref, npu_ctx_queue_release);
}

/**
 * npu_ctx_queue_get() - look up a queue of a context
 * @ctx: the context
 * @id: queue id
 *
 * Return: the queue with a reference (npu_ctx_queue_put()), or NULL.
 */
struct npu_ctx_queue *npu_ctx_queue_get(struct npu_context *ctx, u32 id)
{
	struct npu_ctx_queue *cq;

	xa_lock(&ctx->queues);
	cq = xa_load(&ctx->queues, id);
	if (cq)
		kref_get(&cq->ref);
	xa_unlock(&ctx->queues);
	return cq;
}

/* The least used hardware queue serving @priority (or the nearest below). */
static struct npu_queue *npu_pick_hw_queue(struct npu_device *ndev,
					   u32 priority)
{
	u32 level = min(priority, ndev->queue_count - 1);
	struct npu_queue *best = NULL;
	u32 i;

	for (i = 0; i < ndev->queue_count; i++) {
		struct npu_queue *q = &ndev->queues[i];

		if (q->priority != level || q->user)
			continue;
		if (!best || atomic_read(&q->users) < atomic_read(&best->users))
			best = q;
	}
	atomic_inc(&best->users);
	return best;
}

static struct npu_ctx_queue *npu_ctx_queue_alloc(struct npu_context *ctx,
						 u32 priority)
{
	struct npu_device *ndev = ctx->ndev;
	struct drm_gpu_scheduler *sched;
	struct npu_ctx_queue *cq;
	int ret;

	cq = kzalloc(sizeof(*cq), GFP_KERNEL_ACCOUNT);
	if (!cq)
		return ERR_PTR(-ENOMEM);
	kref_init(&cq->ref);
	mutex_init(&cq->lock);
	cq->priority = priority;
	cq->hwq = npu_pick_hw_queue(ndev, priority);
	sched = &cq->hwq->sched;
	ret = drm_sched_entity_init(&cq->entity, DRM_SCHED_PRIORITY_NORMAL,
				    &sched, 1, NULL);
	if (ret) {
		atomic_dec(&cq->hwq->users);
		mutex_destroy(&cq->lock);
		kfree(cq);
		return ERR_PTR(ret);
	}
	return cq;
}

/**
 * npu_ctx_queues_init() - give a new context its default queue 0
 * @ctx: the context
 *
 * Return: 0 or a negative errno.
 */
int npu_ctx_queues_init(struct npu_context *ctx)
{
	struct npu_ctx_queue *cq;
	int ret;

	xa_init_flags(&ctx->queues, XA_FLAGS_ALLOC);
	cq = npu_ctx_queue_alloc(ctx, DRM_NPU_PRIORITY_NORMAL);
	if (IS_ERR(cq))
		return PTR_ERR(cq);
	ret = xa_insert(&ctx->queues, 0, cq, GFP_KERNEL_ACCOUNT);
	if (ret)
		npu_ctx_queue_put(cq);
	return ret;
}

/**
 * npu_ctx_queues_fini() - drop every queue of a closing context
 * @ctx: the context
 */
void npu_ctx_queues_fini(struct npu_context *ctx)
{
	struct npu_ctx_queue *cq;
	unsigned long id;

	xa_for_each(&ctx->queues, id, cq) {
		xa_erase(&ctx->queues, id);
		npu_ctx_queue_put(cq);
	}
	xa_destroy(&ctx->queues);
}

int npu_ioctl_queue_create(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_queue_create *args = data;
	struct npu_ctx_queue *cq;
	int ret, idx;
	u32 id;

	if (args->flags || args->pad)
		return -EINVAL;
	if (args->priority > DRM_NPU_PRIORITY_REALTIME)
		return -EINVAL;
	/* above NORMAL a queue delays every other tenant's work (as panthor) */
	if (args->priority > DRM_NPU_PRIORITY_NORMAL && !capable(CAP_SYS_NICE))
		return -EPERM;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	cq = npu_ctx_queue_alloc(ctx, args->priority);
	if (IS_ERR(cq)) {
		ret = PTR_ERR(cq);
		goto out_exit;
	}
	ret = xa_alloc(&ctx->queues, &id, cq,
		       XA_LIMIT(1, NPU_CTX_MAX_QUEUES - 1), GFP_KERNEL_ACCOUNT);
	if (ret) {
		npu_ctx_queue_put(cq);
		/* xa_alloc's "no free id" */
		if (ret == -EBUSY)
			ret = -ENOSPC;
		goto out_exit;
	}
	args->queue_id = id;
out_exit:
	drm_dev_exit(idx);
	return ret;
}

int npu_ioctl_queue_destroy(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_queue_destroy *args = data;
	struct npu_ctx_queue *cq;

	if (args->pad || !args->queue_id)
		return -EINVAL;
	cq = xa_erase(&ctx->queues, args->queue_id);
	if (!cq)
		return -ENOENT;
	npu_ctx_queue_put(cq);
	return 0;
}
