/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Context queues: what SUBMIT's queue_id names. Each is a scheduler entity
 * on the hardware queue of its priority, with its own seqno series and
 * WAIT history.
 */
#ifndef NPU_CTX_QUEUE_H
#define NPU_CTX_QUEUE_H

#include <linux/kref.h>
#include <linux/mutex.h>

#include <drm/gpu_scheduler.h>
#include <drm/npu_accel.h>

struct drm_device;
struct drm_file;
struct npu_context;
struct npu_job;
struct npu_queue;

/* Queues per context, queue 0 included (DRM_NPU_PARAM_QUEUE_COUNT). */
#define NPU_CTX_MAX_QUEUES	16

/**
 * struct npu_ctx_queue - one queue of a context
 * @ref: held by npu_context.queues and by ioctls using the queue
 * @hwq: hardware queue serving @priority
 * @priority: DRM_NPU_PRIORITY_*
 * @entity: scheduler entity on @hwq
 * @lock: orders job arming and pushing so seqnos follow push order;
 *	protects @last_seqno and @history
 * @last_seqno: seqno of the last job submitted (first is 1)
 * @history: the last DRM_NPU_WAIT_HISTORY jobs, indexed by seqno, each
 *	holding a job reference
 */
struct npu_ctx_queue {
	struct kref ref;
	struct npu_queue *hwq;
	u32 priority;
	struct drm_sched_entity entity;

	/* orders arm + push; protects last_seqno and history */
	struct mutex lock;
	u64 last_seqno;
	struct npu_job *history[DRM_NPU_WAIT_HISTORY];
};

struct npu_ctx_queue *npu_ctx_queue_get(struct npu_context *ctx, u32 id);
void npu_ctx_queue_put(struct npu_ctx_queue *cq);

int npu_ctx_queues_init(struct npu_context *ctx);
void npu_ctx_queues_fini(struct npu_context *ctx);

int npu_ioctl_queue_create(struct drm_device *drm, void *data,
			   struct drm_file *file);
int npu_ioctl_queue_destroy(struct drm_device *drm, void *data,
			    struct drm_file *file);

#endif /* NPU_CTX_QUEUE_H */
