/* SPDX-License-Identifier: MIT */
#ifndef FW_SCHED_H
#define FW_SCHED_H

#include <stdbool.h>

/* Number of queues served, from regs.num_queues (clamped, logged). */
void sched_init(void);

/*
 * Makes progress on one queue: starts the next job of a queue or resumes a
 * job whose WAIT_MEM condition now holds. Higher npu_queue_regs.priority
 * levels go first; queues of one level take turns. Returns false when
 * nothing could run; *waiting is then true if a job is stalled on memory
 * (which no doorbell announces, so the caller should poll again soon).
 */
bool sched_run_one(bool *waiting);

#endif /* FW_SCHED_H */
