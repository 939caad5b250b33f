/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-hop timestamps of a job's round trip (docs/performance.md): each job
 * carries its hop times in place; WAIT copies them, once the job is done,
 * into a preallocated ring of the last NPU_HOP_LOG_ENTRIES jobs, which
 * debugfs "hops" prints. Nothing is allocated on the way to a fence signal.
 */
#ifndef NPU_HOPS_H
#define NPU_HOPS_H

#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/types.h>

struct npu_device;
struct npu_job;
struct npu_queue;
struct seq_file;

/* Jobs the ring of debugfs "hops" remembers. */
#define NPU_HOP_LOG_ENTRIES	256

/**
 * enum npu_hop - the hops of one job's round trip, in order
 * @NPU_HOP_IOCTL: SUBMIT entered the driver
 * @NPU_HOP_PUSHED: the job was pushed to its scheduler entity
 * @NPU_HOP_RUN: the scheduler called run_job
 * @NPU_HOP_DOORBELL: the descriptor is written, the doorbell rings next
 * @NPU_HOP_PICKUP: the firmware took the job from the ring
 *	(npu_queue_regs.pickup_ns, device clock)
 * @NPU_HOP_COMPLETE: the firmware is about to publish its completion
 *	(npu_queue_regs.complete_ns, device clock)
 * @NPU_HOP_IRQ: the JOB interrupt handler was entered
 * @NPU_HOP_SIGNAL: the hardware fence is about to be signalled (the
 *	scheduler's finished fence, which WAIT sleeps on, is signalled from
 *	its callback, and the waiter woken from that one's)
 * @NPU_HOP_WAKE: the thread waiting in WAIT runs again
 * @NPU_HOP_COUNT: number of hops
 *
 * The device-clock hops are only recorded for a job that was alone on its
 * queue (the queue registers hold the latest job's times); 0 otherwise.
 */
enum npu_hop {
	NPU_HOP_IOCTL,
	NPU_HOP_PUSHED,
	NPU_HOP_RUN,
	NPU_HOP_DOORBELL,
	NPU_HOP_PICKUP,
	NPU_HOP_COMPLETE,
	NPU_HOP_IRQ,
	NPU_HOP_SIGNAL,
	NPU_HOP_WAKE,
	NPU_HOP_COUNT
};

/**
 * struct npu_hops - the hop times of one job
 * @ns: CLOCK_MONOTONIC (ktime_get_ns()) of each hop, the device-clock
 *	ones as the device wrote them; 0: not recorded
 * @logged: copied to the ring already (under npu_hop_log.lock)
 */
struct npu_hops {
	u64 ns[NPU_HOP_COUNT];
	bool logged;
};

/**
 * struct npu_hop_entry - one job in the ring
 * @context_id: the submitting context
 * @queue_id: the context queue's id
 * @seqno: the job's seqno on that queue
 * @ns: its hop times
 */
struct npu_hop_entry {
	u32 context_id;
	u32 queue_id;
	u64 seqno;
	u64 ns[NPU_HOP_COUNT];
};

/**
 * struct npu_hop_log - the last jobs' hop times
 * @lock: protects @next, @count, @entries and npu_hops.logged
 * @next: the entry written next
 * @count: entries in use
 * @entries: NPU_HOP_LOG_ENTRIES entries, allocated at probe
 */
struct npu_hop_log {
	/* protects next, count, entries and npu_hops.logged */
	spinlock_t lock;
	u32 next;
	u32 count;
	struct npu_hop_entry *entries;
};

static inline void npu_hop_stamp(struct npu_hops *hops, enum npu_hop hop)
{
	hops->ns[hop] = ktime_get_ns();
}

int npu_hop_log_init(struct npu_device *ndev);
void npu_hops_job_done(struct npu_queue *queue, struct npu_job *job);
void npu_hop_log_commit(struct npu_device *ndev, struct npu_job *job,
			u32 queue_id, u64 wake_ns);
int npu_hops_show(struct seq_file *m, struct npu_device *ndev);

#endif /* NPU_HOPS_H */
