/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reclaiming device memory safely: an address space tracks the jobs that
 * can reach it, and a mapping (a BO's own, or a VM_BIND range) goes only
 * after the jobs submitted before its end have finished and the device
 * acknowledged a translation invalidate.
 */
#ifndef NPU_RECLAIM_H
#define NPU_RECLAIM_H

#include <linux/list.h>
#include <linux/types.h>

struct drm_mm_node;
struct npu_device;
struct npu_job;
struct npu_vm;

int npu_reclaim_module_init(void);
void npu_reclaim_module_exit(void);

void npu_vm_reclaim_init(struct npu_vm *vm);
void npu_vm_reclaim_fini(struct npu_vm *vm);
void npu_vm_release_later(struct npu_vm *vm);

void npu_vm_track_job(struct npu_vm *vm, struct npu_job *job);
void npu_vm_untrack_job(struct npu_vm *vm, struct npu_job *job);

/**
 * struct npu_dead_map - a mapping waiting to be torn down
 * @link: entry in npu_vm.dead_maps (under its reclaim_lock)
 * @after: jobs pushed on the VM when the mapping died: those may use it
 * @node: the mapping's VA node, removed from the VM's allocator by the
 *	reclaim worker
 * @size: bytes of PTEs at @node->start
 * @free: called by the reclaim worker, without locks, once the PTEs are
 *	cleared, the device invalidated and the VA freed; the worker then
 *	drops one VM reference for the mapping
 */
struct npu_dead_map {
	struct list_head link;
	u64 after;
	struct drm_mm_node *node;
	u64 size;
	void (*free)(struct npu_dead_map *dm);
};

void npu_vm_unmap_later(struct npu_vm *vm, struct npu_dead_map *dm);

int npu_mmu_invalidate(struct npu_device *ndev);

#endif /* NPU_RECLAIM_H */
