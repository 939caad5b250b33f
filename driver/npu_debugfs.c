// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs, /sys/kernel/debug/npu/<pci address>/ (docs/driver-sysfs.md):
 *   contexts  one line per open file: owner, BOs, job counters
 *   bos       the BOs of each context (no handles: they are per file)
 *   queues    queue registers, driver ring state, jobs in flight
 *   engines   each tensor engine's registers and utilisation
 *   fw_log    the firmware log ring, oldest line first
 *   counters  objects alive on the device, for leak checks in tests
 *   ping      raw doorbell -> firmware -> interrupt round trips (npu_ping.c)
 *   hops      the last jobs' round trips, hop by hop (npu_hops.c)
 * Plain debugfs rather than the DRM minor's directory: the same path on
 * accel and render-node kernels. Files are removed at unbind; debugfs
 * waits for readers in progress.
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include <drm/drm_drv.h>

#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_job.h"
#include "npu_mmu.h"
#include "npu_telemetry.h"

#define NPU_LOG_DATA_MAX	(NPU_LOG_SIZE - sizeof(struct npu_log_ring))

/* /sys/kernel/debug/npu, or an error pointer debugfs ignores */
static struct dentry *npu_debugfs_root;

/* What a listing needs of a context, copied under the xarray lock. */
struct npu_ctx_snapshot {
	u32 id;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	struct npu_vm *vm;	/* a reference, the context may close */
};

/*
 * Snapshots the context with the lowest id >= *index and moves *index past
 * it. postclose() erases a context before freeing it, so holding the
 * xarray lock keeps it alive. Returns false when there is none left.
 */
static bool npu_ctx_next(struct npu_device *ndev, unsigned long *index,
			 struct npu_ctx_snapshot *snap)
{
	struct npu_context *ctx;

	xa_lock(&ndev->contexts);
	ctx = xa_find(&ndev->contexts, index, ULONG_MAX, XA_PRESENT);
	if (ctx) {
		snap->id = ctx->id;
		snap->pid = ctx->pid;
		memcpy(snap->comm, ctx->comm, sizeof(snap->comm));
		snap->vm = npu_vm_get(ctx->vm);
	}
	xa_unlock(&ndev->contexts);
	(*index)++;
	return ctx;
}

/*
 * A context's BOs, counted from its BO list: the address space also holds
 * VM_BIND ranges, which are not BOs. A BO whose teardown has started still
 * counts until the reclaim worker frees its range.
 */
static void npu_vm_bo_totals(struct npu_vm *vm, u32 *count, u64 *bytes)
{
	struct npu_bo *bo;

	*count = 0;
	*bytes = 0;
	mutex_lock(&vm->lock);
	list_for_each_entry(bo, &vm->bos, vm_link) {
		if (!drm_mm_node_allocated(&bo->va))
			continue;
		(*count)++;
		*bytes += bo->base.base.size;
	}
	mutex_unlock(&vm->lock);
}

static int contexts_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	struct npu_ctx_snapshot snap;
	unsigned long index = 0;

	seq_puts(m, "id pid comm bos bo_bytes submitted completed failed\n");
	while (npu_ctx_next(ndev, &index, &snap)) {
		struct npu_job_stats *jobs = &snap.vm->job_stats;
		u32 bos;
		u64 bytes;

		npu_vm_bo_totals(snap.vm, &bos, &bytes);
		seq_printf(m, "%u %d %s %u %llu %lld %lld %lld\n", snap.id,
			   snap.pid, snap.comm, bos, bytes,
			   (long long)atomic64_read(&jobs->submitted),
			   (long long)atomic64_read(&jobs->completed),
			   (long long)atomic64_read(&jobs->failed));
		npu_vm_put(snap.vm);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(contexts);

static int ping_show(struct seq_file *m, void *unused)
{
	return npu_ping_show(m, m->private);
}
DEFINE_SHOW_ATTRIBUTE(ping);

static int hops_show(struct seq_file *m, void *unused)
{
	return npu_hops_show(m, m->private);
}
DEFINE_SHOW_ATTRIBUTE(hops);

static int bos_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	struct npu_ctx_snapshot snap;
	unsigned long index = 0;
	struct npu_bo *bo;

	while (npu_ctx_next(ndev, &index, &snap)) {
		seq_printf(m, "context %u pid %d %s\n", snap.id, snap.pid,
			   snap.comm);
		mutex_lock(&snap.vm->lock);
		list_for_each_entry(bo, &snap.vm->bos, vm_link) {
			if (!drm_mm_node_allocated(&bo->va))
				continue;
			seq_printf(m, "  addr 0x%010llx size %zu flags 0x%x\n",
				   bo->va.start, bo->base.base.size, bo->flags);
		}
		npu_vm_bind_show_locked(m, snap.vm);
		mutex_unlock(&snap.vm->lock);
		npu_vm_put(snap.vm);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bos);

static unsigned int npu_queue_inflight_count(struct npu_queue *queue)
{
	struct npu_job *job;
	unsigned long flags;
	unsigned int count = 0;

	spin_lock_irqsave(&queue->lock, flags);
	list_for_each_entry(job, &queue->inflight, inflight)
		count++;
	spin_unlock_irqrestore(&queue->lock, flags);
	return count;
}

/* In-flight jobs queues_show() lists; seq_file output cannot be under a spinlock. */
#define NPU_DEBUGFS_JOBS_MAX	16

struct npu_job_snapshot {
	u64 hw_seqno;
	u64 seqno;
	u32 context_id;
	u32 ring_slot;
};

static void npu_queue_show(struct seq_file *m, struct npu_queue *queue)
{
	struct npu_job_snapshot jobs[NPU_DEBUGFS_JOBS_MAX];
	struct npu_device *ndev = queue->ndev;
	void __iomem *regs = queue->regs;
	unsigned int i, count = 0, shown;
	unsigned long flags;
	struct npu_job *job;
	u64 hw_seqno;
	u32 tail;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return;
	seq_printf(m, "queue %u\n", queue->index);
	seq_printf(m, "  enable %u ring_entries %u priority %u\n",
		   readl(regs + NPU_QREG(enable)),
		   readl(regs + NPU_QREG(ring_entries)),
		   readl(regs + NPU_QREG(priority)));
	seq_printf(m, "  head %u tail %u done_seqno %llu\n",
		   readl(regs + NPU_QREG(head)), readl(regs + NPU_QREG(tail)),
		   readq(regs + NPU_QREG(done_seqno)));
	drm_dev_exit(idx);

	spin_lock_irqsave(&queue->lock, flags);
	tail = queue->tail;
	hw_seqno = queue->hw_seqno;
	list_for_each_entry(job, &queue->inflight, inflight) {
		if (count < NPU_DEBUGFS_JOBS_MAX) {
			jobs[count].hw_seqno = job->hw_seqno;
			jobs[count].seqno = job->seqno;
			jobs[count].context_id = job->context_id;
			jobs[count].ring_slot = job->ring_slot;
		}
		count++;
	}
	spin_unlock_irqrestore(&queue->lock, flags);

	seq_printf(m, "  driver tail %u hw_seqno %llu in_flight %u\n", tail,
		   hw_seqno, count);
	shown = min_t(unsigned int, count, NPU_DEBUGFS_JOBS_MAX);
	for (i = 0; i < shown; i++)
		seq_printf(m, "  job hw_seqno %llu context %u seqno %llu slot %u\n",
			   jobs[i].hw_seqno, jobs[i].context_id, jobs[i].seqno,
			   jobs[i].ring_slot);
	if (count > shown)
		seq_printf(m, "  ... %u more\n", count - shown);
}

static int queues_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	u32 i;

	/* the queues kept for user mode are in uqueues */
	for (i = 0; i < ndev->queue_count; i++)
		if (!ndev->queues[i].user)
			npu_queue_show(m, &ndev->queues[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queues);

static int uqueues_show(struct seq_file *m, void *unused)
{
	npu_uqueue_debugfs_show(m->private, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(uqueues);

static int engines_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	struct npu_engine_snapshot e;
	u32 i;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	seq_puts(m, "engine state busy_percent busy_ns tasks_done last_status seqno op queue\n");
	for (i = 0; i < ndev->engine_count; i++) {
		npu_engine_read(ndev, i, &e);
		seq_printf(m, "%u %s %u %llu %llu %u %llu 0x%02x %u\n", i,
			   npu_engine_state_name(e.state),
			   npu_engine_busy_percent(ndev, i), e.busy_ns,
			   e.tasks_done, e.last_status, e.seqno, e.op,
			   e.queue);
	}
	drm_dev_exit(idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(engines);

/*
 * Copies the log ring oldest byte first. Once the ring has wrapped, its
 * oldest line is partial: it is dropped, and so is text the firmware
 * overwrote during the copy.
 */
static int fw_log_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	void __iomem *ring = ndev->bar2 + NPU_LOG_OFFSET;
	void __iomem *data = ring + offsetof(struct npu_log_ring, data);
	u32 pos, end, size, len, oldest, first, skip = 0;
	char *buf, *nl;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	size = readl(ring + offsetof(struct npu_log_ring, size));
	pos = readl(ring + offsetof(struct npu_log_ring, write_pos));
	if (!size || size > NPU_LOG_DATA_MAX) {
		drm_dev_exit(idx);
		return 0;	/* no firmware has initialized the ring */
	}
	len = min(pos, size);
	oldest = pos - len;
	buf = kvmalloc(len + 1, GFP_KERNEL);
	if (!buf) {
		drm_dev_exit(idx);
		return -ENOMEM;
	}
	/* the firmware writes the text before it moves write_pos */
	rmb();
	first = min(len, size - oldest % size);
	memcpy_fromio(buf, data + oldest % size, first);
	memcpy_fromio(buf + first, data, len - first);
	/* read write_pos again only after the copy: what moved overwrote */
	rmb();
	end = readl(ring + offsetof(struct npu_log_ring, write_pos));
	drm_dev_exit(idx);

	/* writing position p overwrote the byte of position p - size */
	if (end - oldest > size)
		skip = min(end - oldest - size, len);
	if (oldest || skip) {
		buf[len] = '\0';
		nl = strchr(buf + skip, '\n');
		skip = nl ? nl - buf + 1 : len;
	}
	seq_write(m, buf + skip, len - skip);
	kvfree(buf);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(fw_log);

static int counters_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	struct npu_context *ctx;
	unsigned long id;
	unsigned int contexts = 0, in_flight = 0;
	u32 i;

	xa_lock(&ndev->contexts);
	xa_for_each(&ndev->contexts, id, ctx)
		contexts++;
	xa_unlock(&ndev->contexts);

	for (i = 0; i < ndev->queue_count; i++)
		in_flight += npu_queue_inflight_count(&ndev->queues[i]);

	seq_printf(m, "contexts %u\n", contexts);
	seq_printf(m, "vms %d\n", atomic_read(&ndev->stats.vms));
	seq_printf(m, "bos %d\n", atomic_read(&ndev->stats.bos));
	seq_printf(m, "bo_bytes %lld\n",
		   (long long)atomic64_read(&ndev->stats.bo_bytes));
	seq_printf(m, "jobs %d\n", atomic_read(&ndev->stats.jobs));
	seq_printf(m, "jobs_in_flight %u\n", in_flight);
	seq_printf(m, "invalidates %lld\n",
		   (long long)atomic64_read(&ndev->stats.invalidates));
	seq_printf(m, "resets %d\n", atomic_read(&ndev->reset_count));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(counters);

void npu_debugfs_module_init(void)
{
	npu_debugfs_root = debugfs_create_dir(NPU_DRIVER_NAME, NULL);
}

void npu_debugfs_module_exit(void)
{
	debugfs_remove_recursive(npu_debugfs_root);
}

static void npu_debugfs_remove(void *dir)
{
	debugfs_remove_recursive(dir);
}

/* Removed at unbind, before the managed hardware teardown. */
int npu_debugfs_init(struct npu_device *ndev)
{
	struct dentry *dir;

	dir = debugfs_create_dir(pci_name(ndev->pdev), npu_debugfs_root);
	debugfs_create_file("contexts", 0444, dir, ndev, &contexts_fops);
	debugfs_create_file("bos", 0444, dir, ndev, &bos_fops);
	debugfs_create_file("queues", 0444, dir, ndev, &queues_fops);
	debugfs_create_file("uqueues", 0444, dir, ndev, &uqueues_fops);
	debugfs_create_file("engines", 0444, dir, ndev, &engines_fops);
	debugfs_create_file("fw_log", 0444, dir, ndev, &fw_log_fops);
	debugfs_create_file("counters", 0444, dir, ndev, &counters_fops);
	debugfs_create_file("ping", 0400, dir, ndev, &ping_fops);
	debugfs_create_file("hops", 0400, dir, ndev, &hops_fops);
	npu_pm_debugfs_init(ndev, dir);
	return devm_add_action_or_reset(&ndev->pdev->dev, npu_debugfs_remove,
					dir);
}
