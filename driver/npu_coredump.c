// SPDX-License-Identifier: GPL-2.0-only
/*
 * devcoredump of a device about to be reset: why, the register block, each
 * tensor engine's registers, each queue's registers and driver state with
 * the jobs in flight, and the firmware log ring. Plain text, so a bug report can carry it as is:
 * /sys/class/devcoredump/devcdN/data (write anything to it to free it).
 */
#include <linux/devcoredump.h>
#include <linux/ktime.h>
#include <linux/vmalloc.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_reset.h"

/* Room for everything but the log; a full ring adds NPU_LOG_SIZE. */
#define NPU_DUMP_TEXT_SIZE	(64u << 10)
#define NPU_LOG_DATA_MAX	(NPU_LOG_SIZE - sizeof(struct npu_log_ring))

struct npu_dump {
	char *buf;
	size_t size;
	size_t len;
};

static __printf(2, 3) void npu_dump_printf(struct npu_dump *d,
					   const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	d->len += vscnprintf(d->buf + d->len, d->size - d->len, fmt, args);
	va_end(args);
}

static void npu_dump_regs(struct npu_dump *d, struct npu_device *ndev)
{
	npu_dump_printf(d, "registers:\n");
	npu_dump_printf(d, "  id 0x%08x hw_version 0x%08x engine_count %u num_queues %u\n",
			npu_rd32(ndev, NPU_REG(id)),
			npu_rd32(ndev, NPU_REG(hw_version)),
			npu_rd32(ndev, NPU_REG(engine_count)),
			npu_rd32(ndev, NPU_REG(num_queues)));
	npu_dump_printf(d, "  ctrl %u state %u boot_status %u fw_version 0x%06x fw_abi 0x%08x\n",
			npu_rd32(ndev, NPU_REG(ctrl)),
			npu_rd32(ndev, NPU_REG(state)),
			npu_rd32(ndev, NPU_REG(boot_status)),
			npu_rd32(ndev, NPU_REG(fw_version)),
			npu_rd32(ndev, NPU_REG(fw_abi)));
	npu_dump_printf(d, "  heartbeat %u temp_mc %u power_mw %u power_state %u\n",
			npu_rd32(ndev, NPU_REG(heartbeat)),
			npu_rd32(ndev, NPU_REG(temp_mc)),
			npu_rd32(ndev, NPU_REG(power_mw)),
			npu_rd32(ndev, NPU_REG(power_state)));
	npu_dump_printf(d, "  running: queue %u seqno %llu\n",
			npu_rd32(ndev, NPU_REG(running_queue)),
			npu_rd64(ndev, NPU_REG(running_seqno)));
	npu_dump_printf(d, "  jobs_done %llu busy_ns %llu ops_done %llu\n",
			npu_rd64(ndev, NPU_REG(jobs_done)),
			npu_rd64(ndev, NPU_REG(busy_ns)),
			npu_rd64(ndev, NPU_REG(ops_done)));
	npu_dump_printf(d, "  op_mask 0x%llx dtype_mask 0x%x packet_version %u\n",
			npu_rd64(ndev, NPU_REG(op_mask)),
			npu_rd32(ndev, NPU_REG(dtype_mask)),
			npu_rd32(ndev, NPU_REG(packet_version)));
	npu_dump_printf(d, "  engine_mem_size %llu\n",
			npu_rd64(ndev, NPU_REG(engine_mem_size)));
}

/* What each engine was doing: a hung one shows the task it is stuck in. */
static void npu_dump_engines(struct npu_dump *d, struct npu_device *ndev)
{
	struct npu_engine_snapshot e;
	u32 i;

	npu_dump_printf(d, "engines: %u\n", ndev->engine_count);
	for (i = 0; i < ndev->engine_count; i++) {
		npu_engine_read(ndev, i, &e);
		npu_dump_printf(d, "engine %u: state %s seqno %llu op 0x%02x queue %u\n",
				i, npu_engine_state_name(e.state), e.seqno,
				e.op, e.queue);
		npu_dump_printf(d, "  last_status %u busy_ns %llu tasks_done %llu\n",
				e.last_status, e.busy_ns, e.tasks_done);
	}
}

static void npu_dump_queue(struct npu_dump *d, struct npu_queue *queue)
{
	void __iomem *regs = queue->regs;
	struct npu_job *job;
	unsigned long flags;

	npu_dump_printf(d, "queue %u: enable %u priority %u ring_base 0x%llx entries %u\n",
			queue->index, readl(regs + NPU_QREG(enable)),
			readl(regs + NPU_QREG(priority)),
			readq(regs + NPU_QREG(ring_base)),
			readl(regs + NPU_QREG(ring_entries)));
	npu_dump_printf(d, "  device: tail %u head %u done_seqno %llu\n",
			readl(regs + NPU_QREG(tail)),
			readl(regs + NPU_QREG(head)),
			readq(regs + NPU_QREG(done_seqno)));
	spin_lock_irqsave(&queue->lock, flags);
	npu_dump_printf(d, "  driver: tail %u hw_seqno %llu\n", queue->tail,
			queue->hw_seqno);
	list_for_each_entry(job, &queue->inflight, inflight) {
		const struct npu_job_desc *desc = &queue->ring[job->ring_slot];

		npu_dump_printf(d, "  inflight: hw_seqno %llu slot %u context %u seqno %llu\n",
				job->hw_seqno, job->ring_slot, job->context_id,
				job->seqno);
		npu_dump_printf(d, "    cmd_va 0x%llx cmd_size %u desc seqno %llu status 0x%x\n",
				job->cmd_va, job->cmd_size,
				READ_ONCE(desc->seqno), READ_ONCE(desc->status));
	}
	spin_unlock_irqrestore(&queue->lock, flags);
}

/* The firmware log ring, oldest byte first. */
static void npu_dump_fw_log(struct npu_dump *d, struct npu_device *ndev)
{
	void __iomem *ring = ndev->bar2 + NPU_LOG_OFFSET;
	void __iomem *data = ring + offsetof(struct npu_log_ring, data);
	u32 size = readl(ring + offsetof(struct npu_log_ring, size));
	u32 pos = readl(ring + offsetof(struct npu_log_ring, write_pos));
	u32 start, count, first;

	if (!size || size > NPU_LOG_DATA_MAX) {
		npu_dump_printf(d, "firmware log: ring size %u invalid\n", size);
		return;
	}
	count = min(pos, size);
	count = min_t(size_t, count, d->size - d->len - 1);
	start = (pos - count) % size;
	npu_dump_printf(d, "firmware log (%u of %u bytes written):\n", count,
			pos);
	first = min(count, size - start);
	memcpy_fromio(d->buf + d->len, data + start, first);
	memcpy_fromio(d->buf + d->len + first, data, count - first);
	d->len += count;
	d->buf[d->len] = '\0';
}

/**
 * npu_coredump() - capture the device state for a devcoredump
 * @ndev: the device, with hw_lock held, before it is reset
 * @guilty: the job blamed for the reset, or NULL
 * @reason: why the device is reset
 *
 * The dump is dropped (by devcoredump) while an earlier one of the device
 * is still unread.
 */
void npu_coredump(struct npu_device *ndev, struct npu_job *guilty,
		  enum npu_reset_reason reason)
{
	struct npu_dump d = { .size = NPU_DUMP_TEXT_SIZE + NPU_LOG_SIZE };
	u32 i;

	d.buf = vmalloc(d.size);
	if (!d.buf)
		return;
	npu_dump_printf(&d, "npu devcoredump\nreason: %s\ndevice: %s serial 0x%016llx\n",
			npu_reset_reason_name(reason), pci_name(ndev->pdev),
			ndev->serial);
	npu_dump_printf(&d, "time_ns: %llu\nreset_count: %d\n", ktime_get_ns(),
			atomic_read(&ndev->reset_count));
	if (guilty)
		npu_dump_printf(&d, "guilty: queue %u hw_seqno %llu context %u seqno %llu\n",
				guilty->queue->index, guilty->hw_seqno,
				guilty->context_id, guilty->seqno);
	else
		npu_dump_printf(&d, "guilty: none\n");
	npu_dump_regs(&d, ndev);
	npu_dump_engines(&d, ndev);
	for (i = 0; i < ndev->queue_count; i++)
		npu_dump_queue(&d, &ndev->queues[i]);
	npu_dump_fw_log(&d, ndev);
	/* devcoredump owns and vfree()s the buffer */
	dev_coredumpv(&ndev->pdev->dev, d.buf, d.len, GFP_KERNEL);
}
