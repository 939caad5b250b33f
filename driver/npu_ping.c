// SPDX-License-Identifier: GPL-2.0-only
/*
 * The raw round trip: the host writes regs.ping_req and rings NPU_DB_PING;
 * the firmware copies it to regs.ping_ack and raises NPU_IRQ_PING, doing
 * nothing else. Timed from the doorbell write to the waiting thread's wake-up,
 * it is the floor under every job's round trip (docs/performance.md).
 * debugfs "ping" runs a batch of them and prints their statistics.
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include <drm/drm_drv.h>

#include "npu_drv.h"

/* Round trips per read of debugfs "ping". */
#define NPU_PING_ROUNDS		200
/* Longer than any answer of running firmware, even under TCG. */
#define NPU_PING_TIMEOUT_MS	2000

/*
 * One round trip: @send is taken just before the doorbell, @irq in the
 * interrupt handler, @woke once this thread runs again, @dev is the device
 * clock when the firmware answered.
 */
struct npu_ping_sample {
	u64 send;
	u64 irq;
	u64 woke;
	u64 dev;
};

static int npu_ping_one(struct npu_device *ndev, struct npu_ping_sample *s)
{
	int ret = 0;
	u64 seq;

	mutex_lock(&ndev->hw_lock);
	if (ndev->stopped || !ndev->fw_ready || READ_ONCE(ndev->dead)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if ((ndev->fw_abi & 0xffff) < NPU_FW_ABI_MINOR_PING) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	seq = ++ndev->ping_seq;
	reinit_completion(&ndev->ping_done);
	npu_wr64(ndev, NPU_REG(ping_req), seq);
	s->send = ktime_get_ns();
	npu_doorbell(ndev, NPU_DB_PING);
	if (!wait_for_completion_timeout(&ndev->ping_done,
					 msecs_to_jiffies(NPU_PING_TIMEOUT_MS))) {
		ret = -ETIMEDOUT;
		goto out_unlock;
	}
	s->woke = ktime_get_ns();
	/* written by the handler before it completed ping_done */
	s->irq = READ_ONCE(ndev->ping_irq_ns);
	if (npu_rd64(ndev, NPU_REG(ping_ack)) != seq) {
		ret = -EIO;
		goto out_unlock;
	}
	/* the firmware wrote ping_ns before ping_ack */
	s->dev = npu_rd64(ndev, NPU_REG(ping_ns));
out_unlock:
	mutex_unlock(&ndev->hw_lock);
	return ret;
}

/**
 * npu_ping() - one raw round trip through the firmware
 * @ndev: the device
 * @ns: set to the nanoseconds from the doorbell to this thread's wake-up
 *
 * Return: 0, -EOPNOTSUPP for firmware older than ABI 1.4, -ENODEV while
 * the firmware is not running, -ETIMEDOUT if no answer came, or -EIO if
 * the answer is not the request's.
 */
int npu_ping(struct npu_device *ndev, u64 *ns)
{
	struct npu_ping_sample s;
	int ret;

	ret = npu_ping_one(ndev, &s);
	if (!ret)
		*ns = s.woke - s.send;
	return ret;
}

/**
 * npu_ping_clock() - relate the device clock to CLOCK_MONOTONIC
 * @ndev: the device
 * @rounds: raw round trips to make
 * @offset: set to the device clock minus the host's, NTP-style: the
 *	firmware's answer time against the middle of the shortest trip from
 *	the doorbell to the interrupt handler
 * @window: set to that trip's length; @offset is right within half of it
 *
 * Return: 0 or the first round trip's error.
 */
int npu_ping_clock(struct npu_device *ndev, unsigned int rounds, s64 *offset,
		   u64 *window)
{
	struct npu_ping_sample s;
	u64 best = U64_MAX;
	unsigned int i;
	int ret;

	for (i = 0; i < rounds; i++) {
		ret = npu_ping_one(ndev, &s);
		if (ret)
			return ret;
		if (s.irq - s.send < best) {
			best = s.irq - s.send;
			*offset = (s64)(s.dev - (s.send + best / 2));
		}
	}
	*window = best;
	return 0;
}

static int npu_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/**
 * npu_ping_show() - debugfs "ping": run a batch of round trips
 * @m: the debugfs file
 * @ndev: the device
 *
 * Prints "rounds N min_ns A median_ns B mean_ns C max_ns D irq_median_ns E":
 * statistics of the time from the doorbell to the waiting thread's wake-up,
 * and the median time from the doorbell to the interrupt handler.
 *
 * Return: 0 or the first round trip's error.
 */
int npu_ping_show(struct seq_file *m, struct npu_device *ndev)
{
	struct npu_ping_sample s;
	u64 *ns, *irq, sum = 0;
	int i, ret = 0, idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	ns = kmalloc_array(2 * NPU_PING_ROUNDS, sizeof(*ns), GFP_KERNEL);
	if (!ns) {
		ret = -ENOMEM;
		goto out_exit;
	}
	irq = ns + NPU_PING_ROUNDS;
	for (i = 0; i < NPU_PING_ROUNDS; i++) {
		ret = npu_ping_one(ndev, &s);
		if (ret)
			goto out_free;
		ns[i] = s.woke - s.send;
		irq[i] = s.irq - s.send;
		sum += ns[i];
	}
	sort(ns, NPU_PING_ROUNDS, sizeof(*ns), npu_cmp_u64, NULL);
	sort(irq, NPU_PING_ROUNDS, sizeof(*irq), npu_cmp_u64, NULL);
	seq_printf(m, "rounds %d min_ns %llu median_ns %llu mean_ns %llu max_ns %llu irq_median_ns %llu\n",
		   NPU_PING_ROUNDS, ns[0], ns[NPU_PING_ROUNDS / 2],
		   div_u64(sum, NPU_PING_ROUNDS), ns[NPU_PING_ROUNDS - 1],
		   irq[NPU_PING_ROUNDS / 2]);
out_free:
	kfree(ns);
out_exit:
	drm_dev_exit(idx);
	return ret;
}
