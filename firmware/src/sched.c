// SPDX-License-Identifier: MIT
/*
 * Queue service: takes jobs from the host rings, runs their packets, hands
 * their operations' tiles to the tensor engines, writes the results back
 * and tells the host. Every queue can have a job in flight at once: while
 * engines compute one job's tiles, the core keeps serving the other
 * queues, so jobs of different queues (and contexts) run at the same time
 * on different engines. See docs/hardware.md, "Queues and jobs" and
 * "Tensor engines".
 */
#include "sched.h"

#include <stddef.h>

#include "dma.h"
#include "drm/npu_packet.h"
#include "engine.h"
#include "fw.h"
#include "job.h"
#include "log.h"
#include "mmio.h"

static struct job jobs[NPU_MAX_QUEUES];
/* a queue whose ring cannot be read is skipped until the host disables it */
static bool stalled[NPU_MAX_QUEUES];
static uint32_t num_queues;
/* round-robin position within each priority level, for starting packets */
static uint32_t next_queue[NPU_PRIO_REALTIME + 1];
/* ... and for handing out tiles */
static uint32_t next_dispatch[NPU_PRIO_REALTIME + 1];
/* when busy_ns was last brought up to date */
static uint64_t busy_mark;

void sched_init(void)
{
	num_queues = REGS->num_queues;
	if (num_queues > NPU_MAX_QUEUES) {
		log_printf("regs.num_queues %u > %u, serving %u", num_queues,
			   NPU_MAX_QUEUES, NPU_MAX_QUEUES);
		num_queues = NPU_MAX_QUEUES;
	}
	engines_init();
	REGS->ops_done = 0;
}

void job_fail(struct job *job, uint32_t status, uint32_t offset,
	      uint64_t fault_va, const char *why)
{
	job->desc.status = status;
	job->desc.err_offset = job->depth ? job->calls[0].offset : offset;
	job->desc.fault_va = fault_va;
	if (job->depth)
		log_printf("job %llu: in a call %u deep, at +%u of 0x%llx",
			   (unsigned long long)job->desc.seqno, job->depth,
			   offset, (unsigned long long)job->cmd_va);
	if (status == JOB_STATUS_PAGE_FAULT)
		log_printf("job %llu (queue %u ctx %u): page fault at va 0x%llx, packet at +%u: %s",
			   (unsigned long long)job->desc.seqno, job->queue,
			   job->desc.context_id, (unsigned long long)fault_va,
			   job->desc.err_offset, why);
	else
		log_printf("job %llu (queue %u ctx %u): %s at +%u: %s",
			   (unsigned long long)job->desc.seqno, job->queue,
			   job->desc.context_id,
			   status == JOB_STATUS_ENGINE_ERROR ? "engine error" :
			   status == JOB_STATUS_TIMEOUT ? "killed" :
							  "bad packet",
			   job->desc.err_offset, why);
}

/*
 * Publishes the job the core works on, so a host that finds the core stuck
 * blames that job and not one merely queued behind it.
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

static bool job_executing(const struct job *job)
{
	return job->state == JOB_RUNNABLE || job->state == JOB_OP ||
	       job->state == JOB_DRAINING;
}

/*
 * Accounts the time since the last call as busy if a job was executing:
 * running packets or waiting for its tiles, not parked on WAIT_MEM (which
 * waits for the host, not for the device). Called at least once per
 * scheduling pass, before the pass changes any job's state.
 */
static void busy_account(void)
{
	uint64_t now = time_ns();
	uint64_t share, rest;
	uint32_t busy = 0;

	for (uint32_t q = 0; q < num_queues; q++)
		busy += job_executing(&jobs[q]);
	if (busy) {
		REGS->busy_ns = REGS->busy_ns + (now - busy_mark);
		/* an even share to each job executing, the rest to the first */
		share = (now - busy_mark) / busy;
		rest = (now - busy_mark) - share * busy;
		for (uint32_t q = 0; q < num_queues; q++) {
			if (!job_executing(&jobs[q]))
				continue;
			jobs[q].busy_ns += share + rest;
			rest = 0;
		}
	}
	busy_mark = now;
}

/*
 * Stops serving queue q until the host disables it, and tells the host
 * why: for a user-mode queue this is how a bad tail or ring shows.
 */
static void stall_queue(uint32_t q, uint32_t error, const char *why,
			uint64_t addr)
{
	stalled[q] = true;
	log_printf("queue %u: %s (0x%llx); stalled until disabled", q, why,
		   (unsigned long long)addr);
	QUEUE_REGS(q)->error = error;
	USER_DOORBELL(q)->error = error;
	mem_fence();
	irq_raise(NPU_IRQ_JOB);
}

static bool queue_is_user(uint32_t q)
{
	return QUEUE_REGS(q)->mode == NPU_QUEUE_USER;
}

/*
 * The producer index of queue q: its own register, or for a user-mode
 * queue the tail the process wrote in its doorbell page. False (and the
 * queue stalled) if a user tail claims more than the ring holds.
 */
static bool queue_tail(uint32_t q, uint32_t *tail)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);

	if (!queue_is_user(q)) {
		*tail = qr->tail;
		return true;
	}
	*tail = USER_DOORBELL(q)->tail;
	if (*tail - qr->head > qr->ring_entries) {
		stall_queue(q, NPU_QUEUE_ERR_TAIL, "user tail beyond the ring",
			    *tail);
		return false;
	}
	return true;
}

static void job_forget(struct job *job)
{
	busy_account();
	job->state = JOB_IDLE;
}

static void job_complete(struct job *job)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(job->queue);
	struct dma_fault f;

	job_forget(job);
	job->desc.busy_ns = job->busy_ns;
	/* a process reads the write-back: no page-table address for it */
	if (queue_is_user(job->queue))
		job->desc.pt_root = 0;
	if (dma_copy(NPU_DMA_SPACE_CORE, core_addr(&job->desc),
		     NPU_DMA_SPACE_HOST, job->desc_addr, sizeof(job->desc), 0,
		     &f)) {
		stall_queue(job->queue, NPU_QUEUE_ERR_WRITE,
			    "descriptor write-back failed", f.addr);
		return;
	}
	qr->complete_ns = time_ns();
	/* the descriptor is final before head and done_seqno say so */
	mem_fence();
	if (job->desc.status != JOB_STATUS_OK)
		qr->failed = qr->failed + 1;
	qr->head = qr->head + 1;
	qr->done_seqno = job->desc.seqno;
	if (queue_is_user(job->queue)) {
		volatile struct npu_user_doorbell *udb =
			USER_DOORBELL(job->queue);

		udb->head = qr->head;
		udb->done_seqno = job->desc.seqno;
	}
	REGS->jobs_done = REGS->jobs_done + 1;
	irq_raise(NPU_IRQ_JOB);
}

/* Runs a runnable job's packets as far as they go. */
static void job_advance(struct job *job)
{
	enum job_result res;

	running_set(job);
	res = packets_run(job);
	running_clear();
	if (res == JOB_WAITING_MEM)
		job->state = JOB_WAITING;
	else if (res == JOB_ON_ENGINES)
		job->state = JOB_OP;
	else
		job_complete(job);
}

/* Engines finished (or gave up) the job's operation. */
static void op_finished(struct job *job)
{
	if (job->state == JOB_DRAINING) {
		job_forget(job);
		return;
	}
	if (job->op_failed) {
		job_complete(job);
		return;
	}
	REGS->ops_done = REGS->ops_done + 1;
	job->offset += op_packet_dwords(NPU_PKT_OPCODE((uint32_t)
		job->win[(job->offset - job->win_offset) / 8])) * 4;
	job->state = JOB_RUNNABLE;
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
	else if (d->reserved)
		why = "non-zero descriptor reserved field";
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
		stall_queue(q, NPU_QUEUE_ERR_RING,
			    "ring_entries not a power of two", entries);
		return;
	}
	/* the descriptor was written before the tail we read moved */
	mem_fence();
	job->queue = q;
	job->desc_addr = qr->ring_base +
			 (uint64_t)(qr->head & (entries - 1)) * sizeof(job->desc);
	if (dma_copy(NPU_DMA_SPACE_HOST, job->desc_addr, NPU_DMA_SPACE_CORE,
		     core_addr(&job->desc), sizeof(job->desc), 0, &f)) {
		stall_queue(q, NPU_QUEUE_ERR_READ, "descriptor unreadable",
			    f.addr);
		return;
	}
	qr->pickup_ns = time_ns();
	if (queue_is_user(q)) {
		/*
		 * The process wrote the descriptor: identity and address space
		 * come from the registers only the host kernel writes.
		 */
		job->desc.seqno = qr->done_seqno + 1;
		job->desc.context_id = qr->context_id;
		job->desc.pt_root = qr->pt_root;
	}
	busy_account();
	job->state = JOB_RUNNABLE;
	job->busy_ns = 0;
	job->offset = 0;
	job->cmd_va = job->desc.cmd_va;
	job->cmd_size = job->desc.cmd_size;
	job->depth = 0;
	job->win_offset = 0;
	job->win_len = 0;
	job->killed = false;
	job->desc.status = JOB_STATUS_OK;
	job->desc.fault_va = 0;
	job->desc.err_offset = 0;
	if (job->desc.seqno == qr->kill_seqno &&
	    qr->kill_seqno != qr->killed_seqno) {
		/* killed before it ran */
		job->killed = true;
		job_fail(job, JOB_STATUS_TIMEOUT, 0, 0, "killed by the host");
		job_complete(job);
		return;
	}
	if (!desc_valid(job)) {
		job_complete(job);
		return;
	}
	job_advance(job);
}

/*
 * Continues a job stalled on WAIT_MEM if its condition holds; returns false
 * if it still has to wait.
 */
static bool job_try_resume(struct job *job)
{
	struct dma_fault f;
	uint64_t val;

	if (dma_copy(NPU_DMA_SPACE_CTX, job->wait_addr, NPU_DMA_SPACE_CORE,
		     core_addr(&val), sizeof(val), job->desc.pt_root, &f)) {
		job_fail(job, JOB_STATUS_PAGE_FAULT, job->offset, f.addr,
			 "wait_mem address unmapped");
		job_complete(job);
		return true;
	}
	if (job->wait_ge ? val < job->wait_value : val != job->wait_value)
		return false;
	job->offset += NPU_PKT_WAIT_MEM_DWORDS * 4;
	/* memory the wait was for may hold the next commands: read again */
	job->win_len = 0;
	job->state = JOB_RUNNABLE;
	job_advance(job);
	return true;
}

/* Forgets the state of a queue the host turned off. */
static void queue_disabled(uint32_t q)
{
	struct job *job = &jobs[q];

	if (job->state != JOB_IDLE && job->state != JOB_DRAINING)
		log_printf("queue %u disabled with job %llu unfinished", q,
			   (unsigned long long)job->desc.seqno);
	if (job->state == JOB_OP && job->tiles_running)
		job->state = JOB_DRAINING;	/* engines still use it */
	else if (job->state != JOB_IDLE && job->state != JOB_DRAINING)
		job_forget(job);
	stalled[q] = false;
}

/*
 * Follows the host's enable bit for queue q, whatever its priority: drops
 * the state of a queue turned off, and reports in @served when nothing of
 * it is left, so the host knows when it may reuse the ring.
 */
static void served_update(uint32_t q)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);
	struct job *job = &jobs[q];

	if (qr->enable) {
		if (!qr->served)
			qr->served = 1;
		return;
	}
	if ((job->state != JOB_IDLE && job->state != JOB_DRAINING) ||
	    stalled[q])
		queue_disabled(q);
	if (job->state == JOB_IDLE && qr->served) {
		/* everything above is done before the host sees it */
		mem_fence();
		qr->served = 0;
	}
}

/* The queue's priority level; values above REALTIME count as REALTIME. */
static uint32_t queue_priority(uint32_t q)
{
	uint32_t prio = QUEUE_REGS(q)->priority;

	return prio > NPU_PRIO_REALTIME ? NPU_PRIO_REALTIME : prio;
}

/* Starts, continues or resumes the job of queue q; true on progress. */
static bool queue_serve(uint32_t q, bool *waiting)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);
	struct job *job = &jobs[q];
	uint32_t tail;

	if (!qr->enable)
		return false;	/* served_update() drops it */
	if (stalled[q])
		return false;
	switch (job->state) {
	case JOB_RUNNABLE:
		job_advance(job);
		return true;
	case JOB_WAITING:
		running_set(job);
		if (job_try_resume(job)) {
			running_clear();
			return true;
		}
		running_clear();
		*waiting = true;
		return false;
	case JOB_OP:
	case JOB_DRAINING:
		return false;
	case JOB_IDLE:
		break;
	}
	if (!queue_tail(q, &tail))
		return false;
	if (qr->head == tail)
		return false;
	job_start(q);
	return true;
}

/*
 * Carries out the host's request to kill a job of queue q
 * (kill_seqno, docs/hardware.md "Killing a job"): the job is written back
 * with TIMEOUT once none of its tiles runs any more, then killed_seqno
 * acknowledges the request. Served whatever the queue's priority, since
 * a starved queue's job may be the one killed. Returns true on progress.
 */
static bool kill_serve(uint32_t q)
{
	volatile struct npu_queue_regs *qr = QUEUE_REGS(q);
	struct job *job = &jobs[q];
	uint64_t kill = qr->kill_seqno;
	uint32_t tail;

	if (!qr->enable || stalled[q] || !kill || kill == qr->killed_seqno)
		return false;
	if (job->state == JOB_IDLE && kill > qr->done_seqno &&
	    queue_tail(q, &tail) && qr->head != tail) {
		/* the next job may be the one: it completes at once if so */
		job_start(q);
		return true;
	}
	if (job->state != JOB_IDLE && job->state != JOB_DRAINING &&
	    job->desc.seqno == kill) {
		if (!job->killed) {
			job->killed = true;
			/* a tile that failed already keeps its status */
			if (job->desc.status == JOB_STATUS_OK)
				job_fail(job, JOB_STATUS_TIMEOUT, job->offset,
					 0, "killed by the host");
			/* no more tiles; a tile failing now changes nothing */
			job->op_failed = true;
		}
		if (job->state == JOB_OP && job->tiles_running)
			return false;	/* op_finished() completes it */
		job_complete(job);
	}
	if (kill > qr->done_seqno)
		return false;	/* an earlier job is still in flight */
	/* the write-back and done_seqno are visible first */
	mem_fence();
	qr->killed_seqno = kill;
	return true;
}

/* A job of queue q with tiles to hand out. */
static bool has_tiles(uint32_t q)
{
	const struct job *job = &jobs[q];

	return job->state == JOB_OP && !job->op_failed &&
	       job->next_tile < job->tiles && QUEUE_REGS(q)->enable;
}

/*
 * Hands tiles to idle engines: strictly by priority level, taking turns
 * between the jobs of one level tile by tile.
 */
static bool dispatch(void)
{
	bool any = false;

	for (int32_t prio = NPU_PRIO_REALTIME; prio >= NPU_PRIO_LOW; prio--) {
		bool found = true;

		while (found && engines_any_idle()) {
			found = false;
			for (uint32_t i = 0; i < num_queues; i++) {
				uint32_t q = (next_dispatch[prio] + i) % num_queues;

				if (queue_priority(q) != (uint32_t)prio ||
				    !has_tiles(q))
					continue;
				engines_dispatch(&jobs[q]);
				next_dispatch[prio] = q + 1;
				found = any = true;
				break;
			}
		}
		if (!engines_any_idle())
			break;
	}
	return any;
}

bool sched_run_one(bool *waiting)
{
	/*
	 * Jobs whose operations just finished move on to their next packets
	 * before freed engines are handed out, or a high-priority job between
	 * two operations would lose its engines to queued low-priority tiles.
	 */
	bool progress;

	busy_account();
	progress = engines_collect(op_finished);
	*waiting = false;
	for (uint32_t q = 0; q < num_queues; q++) {
		served_update(q);
		progress |= kill_serve(q);
	}
	/*
	 * Strict priority between levels, round-robin within one: a level
	 * that made progress ends the pass, so the core comes back to the
	 * higher levels before it serves a lower one. A level whose jobs all
	 * wait (for engines or memory) lets the lower levels run meanwhile.
	 */
	for (int32_t prio = NPU_PRIO_REALTIME; prio >= NPU_PRIO_LOW; prio--) {
		bool level_progress = false;

		for (uint32_t i = 0; i < num_queues; i++) {
			uint32_t q = (next_queue[prio] + i) % num_queues;

			if (queue_priority(q) != (uint32_t)prio)
				continue;
			if (queue_serve(q, waiting)) {
				next_queue[prio] = q + 1;
				level_progress = true;
			}
		}
		if (level_progress) {
			progress = true;
			break;
		}
	}
	progress |= dispatch();
	busy_account();
	return progress;
}
