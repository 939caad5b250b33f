// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hop-by-hop breakdown of a job's round trip (docs/performance.md).
 * Each job stamps its hops in place (struct npu_hops in struct npu_job);
 * when WAIT returns for it, the times go to a ring of the last
 * NPU_HOP_LOG_ENTRIES jobs, allocated at probe. debugfs "hops" relates the
 * device clock to the host's with a few raw round trips (npu_ping.c) and
 * prints the ring, every time on the host's CLOCK_MONOTONIC.
 */
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>

#include "npu_drv.h"
#include "npu_hops.h"
#include "npu_job.h"

/* Raw round trips that relate the clocks; the shortest one counts. */
#define NPU_HOP_CLOCK_ROUNDS	8

static const char * const npu_hop_names[NPU_HOP_COUNT] = {
	[NPU_HOP_IOCTL] = "ioctl",
	[NPU_HOP_PUSHED] = "pushed",
	[NPU_HOP_RUN] = "run_job",
	[NPU_HOP_DOORBELL] = "doorbell",
	[NPU_HOP_PICKUP] = "fw_pickup",
	[NPU_HOP_COMPLETE] = "fw_complete",
	[NPU_HOP_IRQ] = "irq",
	[NPU_HOP_SIGNAL] = "signal",
	[NPU_HOP_WAKE] = "wake",
};

/**
 * npu_hop_log_init() - allocate the ring of debugfs "hops"
 * @ndev: the device
 *
 * Return: 0 or -ENOMEM.
 */
int npu_hop_log_init(struct npu_device *ndev)
{
	struct npu_hop_log *log = &ndev->hop_log;

	spin_lock_init(&log->lock);
	log->entries = drmm_kcalloc(&ndev->drm, NPU_HOP_LOG_ENTRIES,
				    sizeof(*log->entries), GFP_KERNEL);
	return log->entries ? 0 : -ENOMEM;
}

/**
 * npu_hops_job_done() - stamp the hops of a job the device completed
 * @queue: its hardware queue, locked
 * @job: the job, about to be signalled
 *
 * The queue registers hold the times of the latest job the firmware took
 * and completed: they are this job's when it is the last one written to
 * the ring. Called on the signalling path: stamps only.
 */
void npu_hops_job_done(struct npu_queue *queue, struct npu_job *job)
{
	struct npu_hops *hops = &job->hops;

	lockdep_assert_held(&queue->lock);
	if (job->hw_seqno == queue->hw_seqno) {
		hops->ns[NPU_HOP_PICKUP] =
			readq(queue->regs + NPU_QREG(pickup_ns));
		hops->ns[NPU_HOP_COMPLETE] =
			readq(queue->regs + NPU_QREG(complete_ns));
	}
	hops->ns[NPU_HOP_IRQ] = READ_ONCE(queue->ndev->job_irq_ns);
	npu_hop_stamp(hops, NPU_HOP_SIGNAL);
}

/**
 * npu_hop_log_commit() - put a completed job's hop times in the ring
 * @ndev: the device
 * @job: the job, whose finished fence signalled; logged once
 * @queue_id: the context queue's id it was submitted to
 * @wake_ns: when the thread waiting for it woke
 *
 * Called by WAIT. The signalling path stamps its hops under the queue
 * lock, taken here too. A job not completed by the device (failed by a
 * recovery, cancelled) has no SIGNAL hop and is not logged.
 */
void npu_hop_log_commit(struct npu_device *ndev, struct npu_job *job,
			u32 queue_id, u64 wake_ns)
{
	struct npu_hop_log *log = &ndev->hop_log;
	struct npu_hop_entry *e;
	unsigned long flags;

	spin_lock_irqsave(&job->queue->lock, flags);
	spin_lock(&log->lock);
	if (!job->hops.logged && job->hops.ns[NPU_HOP_SIGNAL]) {
		job->hops.logged = true;
		job->hops.ns[NPU_HOP_WAKE] = wake_ns;
		e = &log->entries[log->next];
		e->context_id = job->context_id;
		e->queue_id = queue_id;
		e->seqno = job->seqno;
		memcpy(e->ns, job->hops.ns, sizeof(e->ns));
		log->next = (log->next + 1) % NPU_HOP_LOG_ENTRIES;
		if (log->count < NPU_HOP_LOG_ENTRIES)
			log->count++;
	}
	spin_unlock(&log->lock);
	spin_unlock_irqrestore(&job->queue->lock, flags);
}

/**
 * npu_hops_show() - debugfs "hops": the ring, oldest job first
 * @m: the debugfs file
 * @ndev: the device
 *
 * Prints "clock_offset_ns O window_ns W" (device clock minus host clock,
 * from the shortest of a few raw round trips, and that trip's length: the
 * offset is right within half of it), a header naming the hops, then one
 * line per job: context, queue, seqno and each hop's host time in ns, the
 * device-clock hops converted (0: not recorded).
 *
 * Return: 0 or a negative errno.
 */
int npu_hops_show(struct seq_file *m, struct npu_device *ndev)
{
	struct npu_hop_log *log = &ndev->hop_log;
	struct npu_hop_entry *snap;
	u64 window = 0;
	s64 offset = 0;
	u32 count, first, i, h;
	int ret, idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	ret = npu_ping_clock(ndev, NPU_HOP_CLOCK_ROUNDS, &offset, &window);
	if (ret)
		goto out_exit;
	snap = kvmalloc_array(NPU_HOP_LOG_ENTRIES, sizeof(*snap), GFP_KERNEL);
	if (!snap) {
		ret = -ENOMEM;
		goto out_exit;
	}
	spin_lock_irq(&log->lock);
	count = log->count;
	first = (log->next + NPU_HOP_LOG_ENTRIES - count) % NPU_HOP_LOG_ENTRIES;
	for (i = 0; i < count; i++)
		snap[i] = log->entries[(first + i) % NPU_HOP_LOG_ENTRIES];
	spin_unlock_irq(&log->lock);

	seq_printf(m, "clock_offset_ns %lld window_ns %llu\n", offset, window);
	seq_puts(m, "context queue seqno");
	for (h = 0; h < NPU_HOP_COUNT; h++)
		seq_printf(m, " %s", npu_hop_names[h]);
	seq_putc(m, '\n');
	for (i = 0; i < count; i++) {
		seq_printf(m, "%u %u %llu", snap[i].context_id,
			   snap[i].queue_id, snap[i].seqno);
		for (h = 0; h < NPU_HOP_COUNT; h++) {
			u64 ns = snap[i].ns[h];

			if (ns && (h == NPU_HOP_PICKUP || h == NPU_HOP_COMPLETE))
				ns -= offset;
			seq_printf(m, " %llu", ns);
		}
		seq_putc(m, '\n');
	}
	kvfree(snap);
out_exit:
	drm_dev_exit(idx);
	return ret;
}
