/* SPDX-License-Identifier: MIT */
#ifndef FW_JOB_H
#define FW_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "drm/npu_packet.h"
#include "npu_hw.h"
#include "op_check.h"

/*
 * Bytes of the command buffer a job keeps in core memory at a time: at
 * least the largest packet, small enough that every queue can have a job
 * in flight at once.
 */
#define JOB_WINDOW_BYTES	1024

enum job_state {
	JOB_IDLE,	/* no job taken from the ring */
	JOB_RUNNABLE,	/* the packet at offset runs next */
	JOB_WAITING,	/* stalled on the WAIT_MEM at offset */
	JOB_OP,		/* the operation at offset is on the engines */
	JOB_DRAINING,	/* queue disabled: forgotten once its tiles end */
};

/*
 * A job taken from a queue ring. It stays in its queue slot until done: a
 * job stalled on WAIT_MEM, or waiting for its operation's tiles, keeps its
 * place while the other queues run.
 */
struct job {
	struct npu_job_desc desc;	/* local copy, written back when done */
	uint64_t desc_addr;		/* host address of the ring slot */
	uint32_t queue;
	enum job_state state;
	uint32_t offset;		/* the packet being executed */
	/* the buffer offset is in: the job's own, or a CALLed one */
	uint64_t cmd_va;
	uint32_t cmd_size;
	uint32_t depth;			/* CALLs entered and not returned */
	struct {
		uint64_t va;		/* the caller's buffer */
		uint32_t size;
		uint32_t offset;	/* of the CALL packet in it */
	} calls[NPU_CALL_MAX_DEPTH];
	uint64_t busy_ns;		/* share of regs.busy_ns so far */

	/* command bytes [win_offset, win_offset + win_len) */
	uint32_t win_offset;
	uint32_t win_len;
	uint64_t win[JOB_WINDOW_BYTES / 8];

	uint64_t wait_addr;		/* JOB_WAITING */
	uint64_t wait_value;
	bool wait_ge;			/* NPU_WAIT_MEM_GE: >=, not == */

	/* JOB_OP: the tiles of the operation at offset */
	struct op_plan plan;
	uint64_t op_id;
	uint64_t tiles;			/* in all */
	uint64_t next_tile;		/* next to hand out */
	uint32_t tiles_running;		/* on engines now */
	bool op_failed;			/* a tile failed: hand out no more */
	bool killed;			/* the host killed it: TIMEOUT */
};

/* What running a job's packets led to. */
enum job_result {
	JOB_DONE,	/* desc.status, fault_va and err_offset are final */
	JOB_WAITING_MEM, /* stalled on a WAIT_MEM; wait_addr/wait_value set */
	JOB_ON_ENGINES,	/* an operation's tiles wait for engines */
};

/*
 * Runs the packets of a JOB_RUNNABLE job from job->offset (fetching the
 * command buffer window by window) until the end, a failure, a WAIT_MEM
 * whose condition does not hold yet, or an operation (planned into tiles
 * for the engines).
 */
enum job_result packets_run(struct job *job);

/*
 * Records a failure in the descriptor and logs it with the job's identity.
 * offset is in the buffer the job executes; inside a CALLed buffer the
 * descriptor reports the job's outermost CALL instead (npu_pkt_call).
 */
void job_fail(struct job *job, uint32_t status, uint32_t offset,
	      uint64_t fault_va, const char *why);

#endif /* FW_JOB_H */
