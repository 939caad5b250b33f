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
 * @lock: protects @mm, the page tables and @bos
 * @mm: VA allocator over [NPU_VA_START, NPU_VA_END)
 * @root: level-0 table; its bus address is the jobs' pt_root; NULL once
 *	npu_vm_free_tables() ran at unbind
 * @bos: BOs mapped here (npu_bo.vm_link)
 * @job_stats: jobs of the owning context; here because jobs outlive files
 * @tenant: the owning context's job count and ban state (npu_tenant.c),
 *	for the same reason
 */
struct npu_vm {
	struct kref ref;
	struct npu_device *ndev;
	struct list_head dev_link;
	/* protects mm, the page tables and bos */
	struct mutex lock;
	struct drm_mm mm;
	struct npu_pt *root;
	struct list_head bos;
	struct npu_job_stats job_stats;
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
void npu_vm_unmap(struct npu_vm *vm, struct drm_mm_node *node, u64 size);

#endif /* NPU_MMU_H */
