// SPDX-License-Identifier: GPL-2.0-only
/*
 * devcoredump of a device about to be reset: why, the register block, each
 * tensor engine's registers, each queue's registers and driver state with
 * the jobs in flight, and the firmware log ring. Plain text, so a bug report
 * can carry it as is: /sys/class/devcoredump/devcdN/data (write anything to
 * it to free it).
 *
 * A recovery is on the path to dma_fence_signal (it fails the jobs on the
 * hardware), so it must not allocate memory that reclaim could wait for, nor
 * format text into a devcoredump (dev_coredumpv() allocates and registers a
 * device). npu_coredump_capture() therefore only copies raw values into a
 * snapshot preallocated at probe (or, while that one is still pending, one
 * allocated with GFP_NOWAIT), and npu_coredump_emit(), run later from the
 * reset report work (npu_reset.c), formats the snapshots into text and
 * hands them to devcoredump.
 */
#include <linux/devcoredump.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_reset.h"

/* Room for everything but the log; a full ring adds NPU_LOG_SIZE. */
#define NPU_DUMP_TEXT_SIZE	(64u << 10)
#define NPU_LOG_DATA_MAX	(NPU_LOG_SIZE - sizeof(struct npu_log_ring))
/* In-flight jobs recorded per queue; the dump says how many there were. */
#define NPU_DUMP_QUEUE_JOBS	64

struct npu_dump_job {
	u64 hw_seqno;
	u64 seqno;
	u64 cmd_va;
	u64 desc_seqno;
	u32 slot;
	u32 context_id;
	u32 cmd_size;
	u32 desc_status;
};

struct npu_dump_queue {
	u64 ring_base;
	u64 done_seqno;
	u64 hw_seqno;
	u32 index;
	u32 enable;
	u32 priority;
	u32 ring_entries;
	u32 tail;
	u32 head;
	u32 drv_tail;
	u32 job_count;
	u32 jobs_total;
	struct npu_dump_job jobs[NPU_DUMP_QUEUE_JOBS];
};

/**
 * struct npu_dump_snapshot - raw device state, formatted later
 * @node: link in npu_coredump.pending
 * @prealloc: the device's preallocated snapshot (released, not freed)
 * @reason: why the device is reset
 * @time_ns: ktime_get_ns() at capture
 * @reset_count: recoveries completed before this one
 * @has_guilty: a job was blamed; @guilty_* describe it
 * @guilty_queue: its hardware queue
 * @guilty_hw_seqno: its device-wide seqno
 * @guilty_context: its context
 * @guilty_seqno: its per-context queue seqno
 * @regs: registers (npu_dump_regs() lists them)
 * @engine_count: entries of @engines
 * @engines: each tensor engine's registers
 * @queue_count: entries of @queues
 * @queues: each hardware queue
 * @log_size: regs of the firmware log ring: its size
 * @log_pos: bytes the firmware ever wrote to it
 * @log_count: bytes of @log copied, oldest first
 * @log: the log text
 */
struct npu_dump_snapshot {
	struct llist_node node;
	bool prealloc;
	enum npu_reset_reason reason;
	u64 time_ns;
	int reset_count;
	bool has_guilty;
	u32 guilty_queue;
	u64 guilty_hw_seqno;
	u32 guilty_context;
	u64 guilty_seqno;
	struct {
		u32 id, hw_version, engine_count, num_queues;
		u32 ctrl, state, boot_status, fw_version, fw_abi;
		u32 heartbeat, temp_mc, power_mw, power_state;
		u32 running_queue, dtype_mask, packet_version;
		u64 running_seqno, jobs_done, busy_ns, ops_done, op_mask;
		u64 engine_mem_size;
	} regs;
	u32 engine_count;
	struct npu_engine_snapshot engines[NPU_MAX_ENGINES];
	u32 queue_count;
	struct npu_dump_queue queues[NPU_MAX_QUEUES];
	u32 log_size;
	u32 log_pos;
	u32 log_count;
	char log[NPU_LOG_DATA_MAX];
};

static void npu_snap_regs(struct npu_dump_snapshot *s, struct npu_device *ndev)
{
	s->regs.id = npu_rd32(ndev, NPU_REG(id));
	s->regs.hw_version = npu_rd32(ndev, NPU_REG(hw_version));
	s->regs.engine_count = npu_rd32(ndev, NPU_REG(engine_count));
	s->regs.num_queues = npu_rd32(ndev, NPU_REG(num_queues));
	s->regs.ctrl = npu_rd32(ndev, NPU_REG(ctrl));
	s->regs.state = npu_rd32(ndev, NPU_REG(state));
	s->regs.boot_status = npu_rd32(ndev, NPU_REG(boot_status));
	s->regs.fw_version = npu_rd32(ndev, NPU_REG(fw_version));
	s->regs.fw_abi = npu_rd32(ndev, NPU_REG(fw_abi));
	s->regs.heartbeat = npu_rd32(ndev, NPU_REG(heartbeat));
	s->regs.temp_mc = npu_rd32(ndev, NPU_REG(temp_mc));
	s->regs.power_mw = npu_rd32(ndev, NPU_REG(power_mw));
	s->regs.power_state = npu_rd32(ndev, NPU_REG(power_state));
	s->regs.running_queue = npu_rd32(ndev, NPU_REG(running_queue));
	s->regs.running_seqno = npu_rd64(ndev, NPU_REG(running_seqno));
	s->regs.jobs_done = npu_rd64(ndev, NPU_REG(jobs_done));
	s->regs.busy_ns = npu_rd64(ndev, NPU_REG(busy_ns));
	s->regs.ops_done = npu_rd64(ndev, NPU_REG(ops_done));
	s->regs.op_mask = npu_rd64(ndev, NPU_REG(op_mask));
	s->regs.dtype_mask = npu_rd32(ndev, NPU_REG(dtype_mask));
	s->regs.packet_version = npu_rd32(ndev, NPU_REG(packet_version));
	s->regs.engine_mem_size = npu_rd64(ndev, NPU_REG(engine_mem_size));
}

static void npu_snap_queue(struct npu_dump_queue *q, struct npu_queue *queue)
{
	void __iomem *regs = queue->regs;
	struct npu_job *job;
	unsigned long flags;

	q->index = queue->index;
	q->enable = readl(regs + NPU_QREG(enable));
	q->priority = readl(regs + NPU_QREG(priority));
	q->ring_base = readq(regs + NPU_QREG(ring_base));
	q->ring_entries = readl(regs + NPU_QREG(ring_entries));
	q->tail = readl(regs + NPU_QREG(tail));
	q->head = readl(regs + NPU_QREG(head));
	q->done_seqno = readq(regs + NPU_QREG(done_seqno));
	q->job_count = 0;
	q->jobs_total = 0;
	spin_lock_irqsave(&queue->lock, flags);
	q->drv_tail = queue->tail;
	q->hw_seqno = queue->hw_seqno;
	list_for_each_entry(job, &queue->inflight, inflight) {
		const struct npu_job_desc *desc = &queue->ring[job->ring_slot];
		struct npu_dump_job *j;

		if (q->jobs_total++ >= NPU_DUMP_QUEUE_JOBS)
			continue;
		j = &q->jobs[q->job_count++];
		j->hw_seqno = job->hw_seqno;
		j->slot = job->ring_slot;
		j->context_id = job->context_id;
		j->seqno = job->seqno;
		j->cmd_va = job->cmd_va;
		j->cmd_size = job->cmd_size;
		j->desc_seqno = READ_ONCE(desc->seqno);
		j->desc_status = READ_ONCE(desc->status);
	}
	spin_unlock_irqrestore(&queue->lock, flags);
}

/* The firmware log ring, oldest byte first. */
static void npu_snap_fw_log(struct npu_dump_snapshot *s,
			    struct npu_device *ndev)
{
	void __iomem *ring = ndev->bar2 + NPU_LOG_OFFSET;
	void __iomem *data = ring + offsetof(struct npu_log_ring, data);
	u32 start, first;

	s->log_size = readl(ring + offsetof(struct npu_log_ring, size));
	s->log_pos = readl(ring + offsetof(struct npu_log_ring, write_pos));
	s->log_count = 0;
	if (!s->log_size || s->log_size > NPU_LOG_DATA_MAX)
		return;
	s->log_count = min(s->log_pos, s->log_size);
	start = (s->log_pos - s->log_count) % s->log_size;
	first = min(s->log_count, s->log_size - start);
	memcpy_fromio(s->log, data + start, first);
	memcpy_fromio(s->log + first, data, s->log_count - first);
}

static struct npu_dump_snapshot *npu_snap_get(struct npu_device *ndev)
{
	struct npu_coredump *cd = &ndev->coredump;
	struct npu_dump_snapshot *s;

	if (!test_and_set_bit(0, &cd->prealloc_busy))
		return cd->prealloc;
	/* the preallocated one waits to be formatted: no reclaim here */
	s = kmalloc(sizeof(*s), GFP_NOWAIT | __GFP_NOWARN);
	if (s)
		s->prealloc = false;
	return s;
}

static void npu_snap_put(struct npu_device *ndev, struct npu_dump_snapshot *s)
{
	if (s->prealloc)
		clear_bit_unlock(0, &ndev->coredump.prealloc_busy);
	else
		kfree(s);
}

/**
 * npu_coredump_capture() - record the device state for a devcoredump
 * @ndev: the device, with hw_lock held, before it is reset
 * @guilty: the job blamed for the reset, or NULL
 * @reason: why the device is reset
 *
 * Allocates nothing that can wait for reclaim and formats nothing: the
 * snapshot is queued for npu_coredump_emit(). Without a free snapshot the
 * dump is dropped (logged).
 */
void npu_coredump_capture(struct npu_device *ndev, struct npu_job *guilty,
			  enum npu_reset_reason reason)
{
	struct npu_dump_snapshot *s = npu_snap_get(ndev);
	u32 i;

	if (!s) {
		drm_warn_once(&ndev->drm, "no memory for a devcoredump, dropped\n");
		return;
	}
	s->reason = reason;
	s->time_ns = ktime_get_ns();
	s->reset_count = atomic_read(&ndev->reset_count);
	s->has_guilty = guilty;
	if (guilty) {
		s->guilty_queue = guilty->queue->index;
		s->guilty_hw_seqno = guilty->hw_seqno;
		s->guilty_context = guilty->context_id;
		s->guilty_seqno = guilty->seqno;
	}
	npu_snap_regs(s, ndev);
	s->engine_count = ndev->engine_count;
	for (i = 0; i < s->engine_count; i++)
		npu_engine_read(ndev, i, &s->engines[i]);
	s->queue_count = ndev->queue_count;
	for (i = 0; i < s->queue_count; i++)
		npu_snap_queue(&s->queues[i], &ndev->queues[i]);
	npu_snap_fw_log(s, ndev);
	llist_add(&s->node, &ndev->coredump.pending);
}

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

static void npu_dump_regs(struct npu_dump *d, const struct npu_dump_snapshot *s)
{
	npu_dump_printf(d, "registers:\n");
	npu_dump_printf(d, "  id 0x%08x hw_version 0x%08x engine_count %u num_queues %u\n",
			s->regs.id, s->regs.hw_version, s->regs.engine_count,
			s->regs.num_queues);
	npu_dump_printf(d, "  ctrl %u state %u boot_status %u fw_version 0x%06x fw_abi 0x%08x\n",
			s->regs.ctrl, s->regs.state, s->regs.boot_status,
			s->regs.fw_version, s->regs.fw_abi);
	npu_dump_printf(d, "  heartbeat %u temp_mc %u power_mw %u power_state %u\n",
			s->regs.heartbeat, s->regs.temp_mc, s->regs.power_mw,
			s->regs.power_state);
	npu_dump_printf(d, "  running: queue %u seqno %llu\n",
			s->regs.running_queue, s->regs.running_seqno);
	npu_dump_printf(d, "  jobs_done %llu busy_ns %llu ops_done %llu\n",
			s->regs.jobs_done, s->regs.busy_ns, s->regs.ops_done);
	npu_dump_printf(d, "  op_mask 0x%llx dtype_mask 0x%x packet_version %u\n",
			s->regs.op_mask, s->regs.dtype_mask,
			s->regs.packet_version);
	npu_dump_printf(d, "  engine_mem_size %llu\n", s->regs.engine_mem_size);
}

/* What each engine was doing: a hung one shows the task it is stuck in. */
static void npu_dump_engines(struct npu_dump *d,
			     const struct npu_dump_snapshot *s)
{
	u32 i;

	npu_dump_printf(d, "engines: %u\n", s->engine_count);
	for (i = 0; i < s->engine_count; i++) {
		const struct npu_engine_snapshot *e = &s->engines[i];

		npu_dump_printf(d, "engine %u: state %s seqno %llu op 0x%02x queue %u\n",
				i, npu_engine_state_name(e->state), e->seqno,
				e->op, e->queue);
		npu_dump_printf(d, "  last_status %u busy_ns %llu tasks_done %llu\n",
				e->last_status, e->busy_ns, e->tasks_done);
	}
}

static void npu_dump_queue(struct npu_dump *d, const struct npu_dump_queue *q)
{
	u32 i;

	npu_dump_printf(d, "queue %u: enable %u priority %u ring_base 0x%llx entries %u\n",
			q->index, q->enable, q->priority, q->ring_base,
			q->ring_entries);
	npu_dump_printf(d, "  device: tail %u head %u done_seqno %llu\n",
			q->tail, q->head, q->done_seqno);
	npu_dump_printf(d, "  driver: tail %u hw_seqno %llu\n", q->drv_tail,
			q->hw_seqno);
	for (i = 0; i < q->job_count; i++) {
		const struct npu_dump_job *j = &q->jobs[i];

		npu_dump_printf(d, "  inflight: hw_seqno %llu slot %u context %u seqno %llu\n",
				j->hw_seqno, j->slot, j->context_id, j->seqno);
		npu_dump_printf(d, "    cmd_va 0x%llx cmd_size %u desc seqno %llu status 0x%x\n",
				j->cmd_va, j->cmd_size, j->desc_seqno,
				j->desc_status);
	}
	if (q->jobs_total > q->job_count)
		npu_dump_printf(d, "  inflight: %u more not recorded\n",
				q->jobs_total - q->job_count);
}

static void npu_dump_fw_log(struct npu_dump *d,
			    const struct npu_dump_snapshot *s)
{
	u32 count;

	if (!s->log_size || s->log_size > NPU_LOG_DATA_MAX) {
		npu_dump_printf(d, "firmware log: ring size %u invalid\n",
				s->log_size);
		return;
	}
	npu_dump_printf(d, "firmware log (%u of %u bytes written):\n",
			s->log_count, s->log_pos);
	count = min_t(size_t, s->log_count, d->size - d->len - 1);
	memcpy(d->buf + d->len, s->log, count);
	d->len += count;
	d->buf[d->len] = '\0';
}

static void npu_dump_format(struct npu_device *ndev,
			    const struct npu_dump_snapshot *s)
{
	struct npu_dump d = { .size = NPU_DUMP_TEXT_SIZE + NPU_LOG_SIZE };
	u32 i;

	d.buf = vmalloc(d.size);
	if (!d.buf)
		return;
	npu_dump_printf(&d, "npu devcoredump\nreason: %s\ndevice: %s serial 0x%016llx\n",
			npu_reset_reason_name(s->reason), pci_name(ndev->pdev),
			ndev->serial);
	npu_dump_printf(&d, "time_ns: %llu\nreset_count: %d\n", s->time_ns,
			s->reset_count);
	if (s->has_guilty)
		npu_dump_printf(&d, "guilty: queue %u hw_seqno %llu context %u seqno %llu\n",
				s->guilty_queue, s->guilty_hw_seqno,
				s->guilty_context, s->guilty_seqno);
	else
		npu_dump_printf(&d, "guilty: none\n");
	npu_dump_regs(&d, s);
	npu_dump_engines(&d, s);
	for (i = 0; i < s->queue_count; i++)
		npu_dump_queue(&d, &s->queues[i]);
	npu_dump_fw_log(&d, s);
	/* devcoredump owns and vfree()s the buffer */
	dev_coredumpv(&ndev->pdev->dev, d.buf, d.len, GFP_KERNEL);
}

/**
 * npu_coredump_emit() - turn the captured snapshots into devcoredumps
 * @ndev: the device; called from the reset report work, outside any
 *	fence-signalling section, so it may allocate and sleep
 *
 * A dump is dropped (by devcoredump) while an earlier one of the device is
 * still unread.
 */
void npu_coredump_emit(struct npu_device *ndev)
{
	struct llist_node *list = llist_del_all(&ndev->coredump.pending);
	struct npu_dump_snapshot *s, *tmp;

	/* llist_add() pushes at the head: oldest first */
	list = llist_reverse_order(list);
	llist_for_each_entry_safe(s, tmp, list, node) {
		npu_dump_format(ndev, s);
		npu_snap_put(ndev, s);
	}
}

static void npu_coredump_fini(struct drm_device *drm, void *data)
{
	struct npu_device *ndev = to_npu_device(drm);
	struct llist_node *list = llist_del_all(&ndev->coredump.pending);
	struct npu_dump_snapshot *s, *tmp;

	/* the report work is flushed: what it left is never formatted */
	llist_for_each_entry_safe(s, tmp, list, node)
		npu_snap_put(ndev, s);
	kvfree(ndev->coredump.prealloc);
}

/**
 * npu_coredump_init() - preallocate the snapshot a recovery fills
 * @ndev: the device, at probe
 *
 * Return: 0 or -ENOMEM.
 */
int npu_coredump_init(struct npu_device *ndev)
{
	struct npu_coredump *cd = &ndev->coredump;

	init_llist_head(&cd->pending);
	cd->prealloc_busy = 0;
	cd->prealloc = kvzalloc(sizeof(*cd->prealloc), GFP_KERNEL);
	if (!cd->prealloc)
		return -ENOMEM;
	cd->prealloc->prealloc = true;
	return drmm_add_action_or_reset(&ndev->drm, npu_coredump_fini, NULL);
}
