// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tenant limits: one file (context) must not be able to take a shared
 * device from the others.
 *
 * Job limit: a context has at most npu_context.job_limit jobs whose
 * finished fence has not signalled (queued in the scheduler or on the
 * device); SUBMIT fails with -EBUSY past it. The limit is the job_limit
 * module parameter at the time the file was opened
 * (DRM_NPU_PARAM_JOB_LIMIT).
 *
 * Ban: every job of the context that ends with TIMEOUT (it was blamed for
 * a hang), PAGE_FAULT or ENGINE_ERROR is a strike. At ban_threshold
 * strikes the context is banned: its later SUBMITs fail with -ECANCELED
 * (DRM_NPU_PARAM_CONTEXT_BANNED reads 1); jobs already submitted still
 * run. Other contexts are not affected; a new file starts clean.
 *
 * Both are counted from the job's finished fence callback, so they see
 * every way a job ends (completed, failed, aborted by a recovery,
 * cancelled in the scheduler). The callback runs in the fence-signalling
 * path: atomics only.
 */
#include <linux/moduleparam.h>

#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_mmu.h"
#include "npu_tenant.h"

unsigned int npu_job_limit = 1024;
module_param_named(job_limit, npu_job_limit, uint, 0644);
MODULE_PARM_DESC(job_limit,
		 "Jobs a file may have not yet completed; SUBMIT fails with EBUSY past it; read when a file is opened (default 1024, at least 1)");

unsigned int npu_ban_threshold = 16;
module_param_named(ban_threshold, npu_ban_threshold, uint, 0644);
MODULE_PARM_DESC(ban_threshold,
		 "Jobs of a context that may time out, page-fault or fail in an engine before its SUBMITs are refused with ECANCELED, 0 = never (default 16)");

static struct npu_tenant *npu_ctx_tenant(struct npu_context *ctx)
{
	return &ctx->vm->tenant;
}

/**
 * npu_tenant_banned() - whether the context's SUBMITs are refused
 * @ctx: the context
 *
 * Return: true once its jobs reached the ban threshold of strikes.
 */
bool npu_tenant_banned(struct npu_context *ctx)
{
	return READ_ONCE(npu_ctx_tenant(ctx)->banned);
}

/**
 * npu_tenant_job_reserve() - count a job SUBMIT is about to create
 * @ctx: the submitting context
 *
 * Undone by npu_tenant_job_unreserve() if the submission fails, else when
 * the job's finished fence signals (npu_tenant_job_pushed()).
 *
 * Return: 0, -ECANCELED if the context is banned, -EBUSY if it has
 * job_limit jobs not yet completed.
 */
int npu_tenant_job_reserve(struct npu_context *ctx)
{
	struct npu_tenant *t = npu_ctx_tenant(ctx);

	if (npu_tenant_banned(ctx))
		return -ECANCELED;
	if (atomic_inc_return(&t->active) > ctx->job_limit) {
		atomic_dec(&t->active);
		return -EBUSY;
	}
	return 0;
}

/**
 * npu_tenant_job_unreserve() - undo npu_tenant_job_reserve()
 * @ctx: the context whose submission failed
 */
void npu_tenant_job_unreserve(struct npu_context *ctx)
{
	atomic_dec(&npu_ctx_tenant(ctx)->active);
}

static bool npu_tenant_strike(u32 status)
{
	return status == DRM_NPU_JOB_STATUS_TIMEOUT ||
	       status == DRM_NPU_JOB_STATUS_PAGE_FAULT ||
	       status == DRM_NPU_JOB_STATUS_ENGINE_ERROR;
}

/* The job's finished fence signalled: it no longer counts as active. */
static void npu_tenant_job_done(struct dma_fence *fence,
				struct dma_fence_cb *cb)
{
	struct npu_job *job = container_of(cb, struct npu_job, tenant_cb);
	struct npu_tenant *t = &job->vm->tenant;
	unsigned int threshold = READ_ONCE(npu_ban_threshold);

	/* the status was written before the fences signalled */
	smp_rmb();
	if (npu_tenant_strike(job->status) &&
	    atomic_inc_return(&t->strikes) >= threshold && threshold &&
	    !READ_ONCE(t->banned)) {
		WRITE_ONCE(t->banned, true);
		dev_warn_ratelimited(job->vm->ndev->drm.dev,
				     "context %u banned: %u jobs timed out or faulted\n",
				     job->context_id, threshold);
	}
	atomic_dec(&t->active);
}

/**
 * npu_tenant_job_pushed() - hand the job's reservation to its fence
 * @job: the job just armed; its done_fence is set
 */
void npu_tenant_job_pushed(struct npu_job *job)
{
	if (dma_fence_add_callback(job->done_fence, &job->tenant_cb,
				   npu_tenant_job_done))
		npu_tenant_job_done(job->done_fence, &job->tenant_cb);
}

/**
 * npu_tenant_add_strikes() - count failed jobs of a user-mode queue
 * @vm: the address space of the queue's context
 * @context_id: the context, for the log
 * @count: jobs the firmware counted as failed since the last look
 *
 * The firmware's own count (npu_queue_regs.failed), not descriptors the
 * process can rewrite. Atomics only: called from the JOB interrupt.
 */
void npu_tenant_add_strikes(struct npu_vm *vm, u32 context_id, u32 count)
{
	struct npu_tenant *t = &vm->tenant;
	unsigned int threshold = READ_ONCE(npu_ban_threshold);

	if (atomic_add_return(count, &t->strikes) >= threshold && threshold &&
	    !READ_ONCE(t->banned)) {
		WRITE_ONCE(t->banned, true);
		dev_warn_ratelimited(vm->ndev->drm.dev,
				     "context %u banned: %u jobs timed out or faulted\n",
				     context_id, threshold);
	}
}
