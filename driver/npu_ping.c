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
	u64 seq, start;
	int ret = 0;

	mutex_lock(&ndev->hw_lock);
	if (ndev->stopped || !ndev->fw_ready) {
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
	start = ktime_get_ns();
	npu_doorbell(ndev, NPU_DB_PING);
	if (!wait_for_completion_timeout(&ndev->ping_done,
					 msecs_to_jiffies(NPU_PING_TIMEOUT_MS))) {
		ret = -ETIMEDOUT;
		goto out_unlock;
	}
	*ns = ktime_get_ns() - start;
	if (npu_rd64(ndev, NPU_REG(ping_ack)) != seq)
		ret = -EIO;
out_unlock:
	mutex_unlock(&ndev->hw_lock);
	return ret;
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
 * Prints "rounds N min_ns A median_ns B mean_ns C max_ns D".
 *
 * Return: 0 or the first round trip's error.
 */
int npu_ping_show(struct seq_file *m, struct npu_device *ndev)
{
	u64 *ns, sum = 0;
	int i, ret = 0, idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	ns = kmalloc_array(NPU_PING_ROUNDS, sizeof(*ns), GFP_KERNEL);
	if (!ns) {
		ret = -ENOMEM;
		goto out_exit;
	}
	for (i = 0; i < NPU_PING_ROUNDS; i++) {
		ret = npu_ping(ndev, &ns[i]);
		if (ret)
			goto out_free;
		sum += ns[i];
	}
	sort(ns, NPU_PING_ROUNDS, sizeof(*ns), npu_cmp_u64, NULL);
	seq_printf(m, "rounds %d min_ns %llu median_ns %llu mean_ns %llu max_ns %llu\n",
		   NPU_PING_ROUNDS, ns[0], ns[NPU_PING_ROUNDS / 2],
		   div_u64(sum, NPU_PING_ROUNDS), ns[NPU_PING_ROUNDS - 1]);
out_free:
	kfree(ns);
out_exit:
	drm_dev_exit(idx);
	return ret;
}
