/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Device address spaces: one per context, a 3-level page table the device
 * walks (format in npu_hw.h) and a VA allocator.
 */
#ifndef NPU_MMU_H
#define NPU_MMU_H

#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_mm.h>

#include "npu_telemetry.h"
#include "npu_tenant.h"

struct npu_device;
struct npu_pt;

/* Low addresses stay unmapped so that NULL-ish device pointers fault. */
#define NPU_VA_START		SZ_16M
#define NPU_VA_END		BIT_ULL(NPU_VA_BITS)

/**
 * struct npu_vm - a device address space
 * @ref: held by the context, each mapped BO and each job, since the device
 *	may still walk the tables after the file is closed
 * @ndev: the device; a drm_device reference is held
 * @dev_link: entry in npu_device.vms
 * @lock: protects @mm, the page tables, @bos and @binds
 * @mm: VA allocator over [NPU_VA_START, NPU_VA_END)
 * @root: level-0 table; its bus address is the jobs' pt_root; NULL once
 *	npu_vm_free_tables() ran at unbind
 * @bos: BOs mapped here (npu_bo.vm_link), unmapped or not yet
 * @binds: live VM_BIND ranges (struct npu_bind), indexed by start address
 *	>> PAGE_SHIFT; an UNMAPped range leaves at once (npu_vm_bind.c)
 * @job_stats: jobs of the owning context; here because jobs outlive files
 * @reclaim_lock: protects @jobs, @jobs_pushed and @dead_maps
 * @jobs: jobs pushed to the scheduler and not yet released, in push order
 *	(npu_job.vm_link): what may still reach this address space
 * @jobs_pushed: jobs pushed so far; a job's npu_job.vm_seq
 * @dead_maps: mappings that ended (a BO's last reference dropped, a bound
 *	range was unmapped), waiting for the jobs pushed before that and for
 *	a device invalidate (struct npu_dead_map)
 * @reclaim_work: tears @dead_maps down (npu_reclaim.c)
 * @release_work: frees the address space once the last reference dropped,
 *	outside the scheduler work that may drop it (npu_reclaim.c)
 * @tenant: the owning context's job count and ban state (npu_tenant.c),
 *	for the same reason
 */
struct npu_vm {
	struct kref ref;
	struct npu_device *ndev;
	struct list_head dev_link;
	/* protects mm, the page tables, bos and binds */
	struct mutex lock;
	struct drm_mm mm;
	struct npu_pt *root;
	struct list_head bos;
	struct xarray binds;
	struct npu_job_stats job_stats;

	/* protects jobs, jobs_pushed and dead_maps */
	spinlock_t reclaim_lock;
	struct list_head jobs;
	u64 jobs_pushed;
	struct list_head dead_maps;
	struct work_struct reclaim_work;
	struct work_struct release_work;
	struct npu_tenant tenant;
};

struct npu_vm *npu_vm_create(struct npu_device *ndev);
void npu_vm_put(struct npu_vm *vm);
void npu_vm_free_tables(struct npu_vm *vm);

static inline struct npu_vm *npu_vm_get(struct npu_vm *vm)
{
	kref_get(&vm->ref);
	return vm;
}

dma_addr_t npu_vm_pt_root(struct npu_vm *vm);
int npu_vm_map(struct npu_vm *vm, struct drm_mm_node *node,
	       struct sg_table *sgt, u64 size, bool writable);
int npu_vm_map_fixed_locked(struct npu_vm *vm, struct drm_mm_node *node,
			    struct sg_table *sgt, u64 offset, u64 addr,
			    u64 size, bool writable);
void npu_vm_unmap(struct npu_vm *vm, struct drm_mm_node *node, u64 size);
void npu_vm_clear_locked(struct npu_vm *vm, struct drm_mm_node *node,
			 u64 size);
void npu_vm_release_final(struct npu_vm *vm);

#endif /* NPU_MMU_H */
