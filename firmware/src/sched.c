// SPDX-License-Identifier: MIT
/*
 * Queue service: takes jobs from the host rings, runs them one at a time,
 * writes the results back and tells the host. See docs/hardware.md,
 * "Queues and jobs".
 */
#include "sched.h"

#include <stddef.h>

#include "dma.h"
#include "drm/npu_packet.h"
#include "fw.h"
#include "job.h"
#include "log.h"
#include "mmio.h"

static struct job jobs[NPU_MAX_QUEUES];
/* a queue whose ring cannot be read is skipped until the host disables it */
static bool stalled[NPU_MAX_QUEUES];
static uint32_t num_queues;
static uint32_t next_queue;

/* The command buffer of the job running now; 8-byte aligned for packets. */
static uint64_t cmd_buf[NPU_JOB_CMD_MAX_SIZE / sizeof(uint64_t)];

void sched_init(void)
{
	num_queues = REGS->num_queues;
	if (num_queues > NPU_MAX_QUEUES) {
		log_printf("regs.num_queues %u > %u, serving %u", num_queues,
			   NPU_MAX_QUEUES, NPU_MAX_QUEUES);
		num_queues = NPU_MAX_QUEUES;
	}
}

void job_fail(struct job *job, uint32_t status, uint32_t offset,
	      uint64_t fault_va, const char *why)
{
	job->desc.status = status;
	job->desc.err_offset = offset;
	job->desc.fault_va = fault_va;
	if (status == JOB_STATUS_PAGE_FAULT)
		log_printf("job %llu (queue %u ctx %u): page fault at va 0x%llx, packet at +%u: %s",
			   (unsigned long long)job->desc.seqno, job->queue,
			   job->desc.context_id, (unsigned long long)fault_va,
			   offset, why);
	else
		log_printf("job %llu (queue %u ctx %u): bad packet at +%u: %s",
			   (unsigned long long)job->desc.seqno, job->queue,
			   job->desc.context_id, offset, why);
}

/*
 * Publishes the job the core works on, so a host that finds the device
 * stuck blames that job and not one merely queued behind it.
 */
static void running_set(const struct job *job)
{
	REGS->running_queue = job->queue;
	mem_fence();
	REGS->running_seqno = job->desc.seqno;
}

static void running_clear(void)
{
	REGS->running_seqno = 0;
}

static void stall_queue(uint32_t q, const char *why, uint64_t addr)
{
	stalled[q] = true;
	log_printf("queue %u: %s (0x%llx); stalled until disabled", q, why,
		   (unsigned long long)addr);
}

static void job_complete(struct job *job)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(job->queue);
	struct dma_fault f;

	job->active = false;
	job->waiting = false;
	if (dma_copy(NPU_DMA_SPACE_CORE, core_addr(&job->desc),
		     NPU_DMA_SPACE_HOST, job->desc_addr, sizeof(job->desc), 0,
		     &f)) {
		stall_queue(job->queue, "descriptor write-back failed",
			    f.addr);
		return;
	}
	/* the descriptor is final before head and done_seqno say so */
	mem_fence();
	qr->head = qr->head + 1;
	qr->done_seqno = job->desc.seqno;
	REGS->jobs_done = REGS->jobs_done + 1;
	irq_raise(NPU_IRQ_JOB);
}

/* Runs packets from job->resume_offset, accounting the time as busy. */
static void job_execute(struct job *job)
{
	uint64_t start = time_ns();
	enum job_result res = packets_run(job, cmd_buf);

	REGS->busy_ns = REGS->busy_ns + (time_ns() - start);
	if (res == JOB_DONE)
		job_complete(job);
}

/* Reads the command buffer from resume_offset on into cmd_buf. */
static bool job_load_commands(struct job *job)
{
	uint32_t off = job->resume_offset;
	struct dma_fault f;

	if (!dma_copy(NPU_DMA_SPACE_CTX, job->desc.cmd_va + off,
		      NPU_DMA_SPACE_CORE, core_addr(cmd_buf) + off,
		      job->desc.cmd_size - off, job->desc.pt_root, &f))
		return true;
	job_fail(job, JOB_STATUS_PAGE_FAULT, off, f.addr,
		 "command buffer unreadable");
	return false;
}

static bool desc_valid(struct job *job)
{
	const struct npu_job_desc *d = &job->desc;
	const char *why = NULL;

	if (!d->cmd_size || d->cmd_size % 8)
		why = "command size not a non-zero multiple of 8";
	else if (d->cmd_size > NPU_JOB_CMD_MAX_SIZE)
		why = "command buffer too large";
	else if (d->flags)
		why = "non-zero descriptor flags";
	if (why)
		job_fail(job, JOB_STATUS_BAD_PACKET, 0, 0, why);
	return !why;
}

static void job_start(uint32_t q)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);
	uint32_t entries = qr->ring_entries;
	struct job *job = &jobs[q];
	struct dma_fault f;

	if (!entries || (entries & (entries - 1))) {
		stall_queue(q, "ring_entries not a power of two", entries);
		return;
	}
	/* the descriptor was written before the tail we read moved */
	mem_fence();
	job->queue = q;
	job->desc_addr = qr->ring_base +
			 (uint64_t)(qr->head & (entries - 1)) * sizeof(job->desc);
	if (dma_copy(NPU_DMA_SPACE_HOST, job->desc_addr, NPU_DMA_SPACE_CORE,
		     core_addr(&job->desc), sizeof(job->desc), 0, &f)) {
		stall_queue(q, "descriptor unreadable", f.addr);
		return;
	}
	job->active = true;
	job->waiting = false;
	job->resume_offset = 0;
	job->desc.status = JOB_STATUS_OK;
	job->desc.fault_va = 0;
	job->desc.err_offset = 0;
	running_set(job);
	if (!desc_valid(job) || !job_load_commands(job))
		job_complete(job);
	else
		job_execute(job);
	running_clear();
}

/*
 * Continues a job stalled on WAIT_MEM if its condition holds; returns false
 * if it still has to wait.
 */
static bool job_resume(struct job *job)
{
	struct dma_fault f;
	uint64_t val;

	if (dma_copy(NPU_DMA_SPACE_CTX, job->wait_addr, NPU_DMA_SPACE_CORE,
		     core_addr(&val), sizeof(val), job->desc.pt_root, &f)) {
		job_fail(job, JOB_STATUS_PAGE_FAULT, job->resume_offset,
			 f.addr, "wait_mem address unmapped");
		job_complete(job);
		return true;
	}
	if (val != job->wait_value)
		return false;
	job->waiting = false;
	job->resume_offset += NPU_PKT_WAIT_MEM_DWORDS * 4;
	if (!job_load_commands(job)) {
		job_complete(job);
		return true;
	}
	job_execute(job);
	return true;
}

/* job_resume() with the job published as running while it polls. */
static bool job_try_resume(struct job *job)
{
	bool progress;

	running_set(job);
	progress = job_resume(job);
	running_clear();
	return progress;
}

/* Forgets the state of a queue the host turned off. */
static void queue_disabled(uint32_t q)
{
	struct job *job = &jobs[q];

	if (job->active)
		log_printf("queue %u disabled with job %llu unfinished", q,
			   (unsigned long long)job->desc.seqno);
	job->active = false;
	job->waiting = false;
	stalled[q] = false;
}

/* The queue's priority level; values above REALTIME count as REALTIME. */
static uint32_t queue_priority(uint32_t q)
{
	uint32_t prio = QUEUE_REGS(q)->priority;

	return prio > NPU_PRIO_REALTIME ? NPU_PRIO_REALTIME : prio;
}

/* Starts or resumes a job of queue q; returns true if it made progress. */
static bool queue_run_one(uint32_t q, bool *waiting)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);
	struct job *job = &jobs[q];

	if (!qr->enable) {
		if (job->active || stalled[q])
			queue_disabled(q);
		return false;
	}
	if (stalled[q])
		return false;
	if (job->waiting) {
		if (job_try_resume(job))
			return true;
		*waiting = true;
		return false;
	}
	if (qr->head == qr->tail)
		return false;
	job_start(q);
	return true;
}

bool sched_run_one(bool *waiting)
{
	*waiting = false;
	/* strict priority between levels, round-robin within one */
	for (int32_t prio = NPU_PRIO_REALTIME; prio >= NPU_PRIO_LOW; prio--) {
		for (uint32_t i = 0; i < num_queues; i++) {
			uint32_t q = (next_queue + i) % num_queues;

			if (queue_priority(q) != (uint32_t)prio)
				continue;
			if (queue_run_one(q, waiting)) {
				next_queue = q + 1;
				return true;
			}
		}
	}
	return false;
}
