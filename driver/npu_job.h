/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jobs: submission, the scheduler backend, hardware fences, completion and
 * waiting.
 */
#ifndef NPU_JOB_H
#define NPU_JOB_H

#include <linux/dma-fence.h>
#include <linux/kref.h>
#include <linux/list.h>

#include <drm/gpu_scheduler.h>

#include "npu_hops.h"

struct drm_device;
struct drm_file;
struct drm_gem_object;
struct npu_context;
struct npu_device;
struct npu_queue;
struct npu_vm;

/**
 * struct npu_fence - hardware fence of a job, signalled from the JOB
 *	interrupt; seqno is the device-wide hardware seqno
 * @base: the fence; its lock is npu_queue.lock
 */
struct npu_fence {
	struct dma_fence base;
};

/**
 * struct npu_job - one submitted command buffer
 * @base: scheduler job
 * @ref: held by the scheduler (until free_job) and by the context's WAIT
 *	history
 * @queue: hardware queue the job runs on
 * @vm: address space of the submitting context (a reference)
 * @context_id: submitting context, for descriptors and logs
 * @bos: referenced objects, released at free_job
 * @bo_count: entries in @bos
 * @cmd_va: command buffer device address
 * @cmd_size: command buffer bytes
 * @explicit_sync: submitted with DRM_NPU_SUBMIT_EXPLICIT_SYNC: no implicit
 *	dependencies, its fence is a BOOKKEEP fence of its BOs
 * @seqno: per-context queue seqno returned by SUBMIT
 * @fence_mem: hardware fence preallocated at submit, consumed by run_job
 * @hw_fence: hardware fence once the job ran (a reference)
 * @done_fence: scheduler's finished fence (a reference), what WAIT waits
 *	for
 * @inflight: link in npu_queue.inflight, under npu_queue.lock
 * @hw_seqno: device-wide seqno in the descriptor
 * @ring_slot: descriptor index in the ring
 * @status: DRM_NPU_JOB_STATUS_*; ABORTED until the device or a recovery
 *	settles it. @status, @fault_va and @err_offset are written before
 *	@hw_fence signals and read only after @done_fence signalled.
 * @fault_va: faulting address of a PAGE_FAULT
 * @err_offset: command buffer offset of the failing packet
 * @engine_error: the firmware failed the job with ENGINE_ERROR; it stays in
 *	flight until the recovery this triggers completes it with that
 *	status (under npu_queue.lock)
 * @owner: the context queue (npu_ctx_queue) that submitted the job, only
 *	compared, never dereferenced: the job may outlive it
 * @killing: the timeout handler is killing the job (npu_reset.c) and
 *	signals it itself once the firmware confirmed (under npu_queue.lock)
 * @kill_requested: the driver asked the firmware to kill the job, so a
 *	TIMEOUT written back is expected (under npu_queue.lock)
 * @cancelled: its context queue went away; a kill it gets then is reported
 *	as ABORTED (under npu_queue.lock)
 * @pm_ref: the job holds a runtime PM reference (npu_pm.c)
 * @vm_link: entry in @vm's jobs from push to release (npu_reclaim.c)
 * @vm_seq: push number of the job on @vm
 * @tenant_cb: on @done_fence, ends the job's count against its context's
 *	limits (npu_tenant.c)
 * @hops: its round trip's hop times (npu_hops.c); the signalling hops are
 *	written under npu_queue.lock
 */
struct npu_job {
	struct drm_sched_job base;
	struct kref ref;
	struct npu_queue *queue;
	const void *owner;
	struct npu_vm *vm;
	u32 context_id;
	struct drm_gem_object **bos;
	u32 bo_count;
	u64 cmd_va;
	u32 cmd_size;
	bool explicit_sync;
	u64 seqno;

	struct npu_fence *fence_mem;
	struct dma_fence *hw_fence;
	struct dma_fence *done_fence;

	struct list_head inflight;
	u64 hw_seqno;
	u32 ring_slot;

	u32 status;
	u64 fault_va;
	u32 err_offset;
	bool engine_error;
	bool killing;
	bool kill_requested;
	bool cancelled;
	bool pm_ref;
	struct list_head vm_link;
	u64 vm_seq;
	struct dma_fence_cb tenant_cb;
	struct npu_hops hops;
};

void npu_job_put(struct npu_job *job);

int npu_queue_init(struct npu_device *ndev, struct npu_queue *queue,
		   u32 index);
void npu_queue_program(struct npu_queue *queue);
void npu_queue_disable(struct npu_queue *queue);
void npu_queue_handle_done(struct npu_queue *queue);
void npu_queue_fail_all(struct npu_queue *queue, struct npu_job *guilty,
			int error);

int npu_ioctl_submit(struct drm_device *drm, void *data,
		     struct drm_file *file);
int npu_ioctl_wait(struct drm_device *drm, void *data,
		   struct drm_file *file);

#endif /* NPU_JOB_H */
