// SPDX-License-Identifier: MIT
#include "engine.h"

#include <string.h>

#include "dma.h"
#include "fw.h"
#include "log.h"
#include "mmio.h"

static struct npu_engine_task tasks[NPU_MAX_ENGINES];
static struct job *owner[NPU_MAX_ENGINES];	/* job of each busy engine */
static uint32_t idle_mask;
static uint32_t count;
static uint64_t mem_size;

void engines_init(void)
{
	count = REGS->engine_count;
	if (count > NPU_MAX_ENGINES) {
		log_printf("regs.engine_count %u > %u, using %u", count,
			   NPU_MAX_ENGINES, NPU_MAX_ENGINES);
		count = NPU_MAX_ENGINES;
	}
	mem_size = REGS->engine_mem_size;
	idle_mask = count ? (uint32_t)((1ull << count) - 1) : 0;
	/* done bits of a previous boot's engines mean nothing to us */
	(void)periph_read32(NPU_PERIPH_ENG_DONE);
}

uint32_t engines_count(void)
{
	return count;
}

uint64_t engines_mem_size(void)
{
	return mem_size;
}

bool engines_any_idle(void)
{
	return idle_mask != 0;
}

/* Tile t of the job's operation, axis 1 varying fastest. */
static void tile_bounds(const struct job *job, uint64_t t,
			struct npu_engine_task *task)
{
	const struct op_plan *p = &job->plan;
	uint64_t per_row = op_plan_tiles_along(p, 1);
	uint64_t i0 = t / per_row, i1 = t % per_row;

	task->begin[0] = i0 * p->tile[0];
	task->end[0] = p->extent[0] - task->begin[0] > p->tile[0] ?
		       task->begin[0] + p->tile[0] : p->extent[0];
	task->begin[1] = i1 * p->tile[1];
	task->end[1] = p->extent[1] - task->begin[1] > p->tile[1] ?
		       task->begin[1] + p->tile[1] : p->extent[1];
}

bool engines_dispatch(struct job *job)
{
	const uint64_t *pkt;
	uint32_t n, bytes;
	struct npu_engine_task *task;

	if (!idle_mask)
		return false;
	n = (uint32_t)__builtin_ctz(idle_mask);
	task = &tasks[n];
	pkt = job->win + (job->offset - job->win_offset) / 8;
	bytes = NPU_PKT_DWORDS((uint32_t)pkt[0]) * 4;
	task->seqno = job->desc.seqno;
	task->pt_root = job->desc.pt_root;
	task->op_id = job->op_id;
	task->queue = job->queue;
	task->status = NPU_ENG_ST_OK;
	task->fault_addr = 0;
	tile_bounds(job, job->next_tile, task);
	memcpy(task->packet, pkt, bytes);
	job->next_tile++;
	job->tiles_running++;
	owner[n] = job;
	idle_mask &= ~(1u << n);
	/* the engine reads the task from our memory once kicked */
	mem_fence();
	periph_write32(NPU_PERIPH_ENG_KICK(n), (uint32_t)core_addr(task));
	return true;
}

/* Records a failed tile in its job; the first failure of an op wins. */
static void tile_failed(struct job *job, const struct npu_engine_task *task)
{
	uint32_t st = task->status;

	if (job->op_failed || job->state == JOB_DRAINING) {
		job->op_failed = true;
		return;
	}
	job->op_failed = true;
	if (st == NPU_ENG_ST_FAULT_READ || st == NPU_ENG_ST_FAULT_WRITE)
		job_fail(job, JOB_STATUS_PAGE_FAULT, job->offset,
			 task->fault_addr,
			 st == NPU_ENG_ST_FAULT_READ ? "engine read fault"
						     : "engine write fault");
	else if (st == NPU_ENG_ST_BAD_TASK)
		job_fail(job, JOB_STATUS_BAD_PACKET, job->offset, 0,
			 "engine rejected the operation (bad data, e.g. an index out of range)");
	else
		job_fail(job, JOB_STATUS_ENGINE_ERROR, job->offset, 0,
			 "engine completed with an unknown status");
}

bool engines_collect(void (*op_finished)(struct job *job))
{
	uint32_t done = periph_read32(NPU_PERIPH_ENG_DONE);
	bool any = false;

	/* the engines wrote the tasks before setting their done bits */
	mem_fence();
	while (done) {
		uint32_t n = (uint32_t)__builtin_ctz(done);
		struct job *job = owner[n];

		done &= done - 1;
		if (n >= count || !job)
			continue;	/* not ours: ignore */
		owner[n] = NULL;
		idle_mask |= 1u << n;
		any = true;
		job->tiles_running--;
		if (tasks[n].status != NPU_ENG_ST_OK) {
			if (tasks[n].status > NPU_ENG_ST_BAD_TASK)
				log_printf("engine %u: status 0x%x for job %llu",
					   n, tasks[n].status,
					   (unsigned long long)tasks[n].seqno);
			tile_failed(job, &tasks[n]);
		}
		if (!job->tiles_running &&
		    (job->op_failed || job->state == JOB_DRAINING ||
		     job->next_tile == job->tiles))
			op_finished(job);
	}
	return any;
}
