/* SPDX-License-Identifier: MIT */
#ifndef FW_JOB_H
#define FW_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "npu_hw.h"

/*
 * A job taken from a queue ring. It stays in its queue slot until done: a
 * job stalled on WAIT_MEM keeps its place (resume_offset) while the other
 * queues run, and its command buffer is read again when it resumes.
 */
struct job {
	struct npu_job_desc desc;	/* local copy, written back when done */
	uint64_t desc_addr;		/* host address of the ring slot */
	uint32_t queue;
	uint32_t resume_offset;		/* next packet to run */
	bool active;			/* taken from the ring, not done */
	bool waiting;			/* stalled on the WAIT_MEM at resume_offset */
	uint64_t wait_addr;
	uint64_t wait_value;
};

enum job_result {
	JOB_DONE,	/* desc.status, fault_va and err_offset are final */
	JOB_WAITING,	/* stalled on a WAIT_MEM; wait_addr/wait_value set */
};

/*
 * Runs the packets of a job's command buffer (cmd holds desc.cmd_size
 * bytes; only the part from resume_offset is looked at) until the end, a
 * failure, or a WAIT_MEM whose condition does not hold yet.
 */
enum job_result packets_run(struct job *job, const uint64_t *cmd);

/* Records a failure in the descriptor and logs it with the job's identity. */
void job_fail(struct job *job, uint32_t status, uint32_t offset,
	      uint64_t fault_va, const char *why);

#endif /* FW_JOB_H */
