/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reclaiming device memory safely: an address space tracks the jobs that
 * can reach it, and a BO's mapping and pages go only after the jobs
 * submitted before its last reference dropped have finished and the device
 * acknowledged a translation invalidate.
 */
#ifndef NPU_RECLAIM_H
#define NPU_RECLAIM_H

struct npu_bo;
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

void npu_bo_unmap_later(struct npu_bo *bo);

int npu_mmu_invalidate(struct npu_device *ndev);

#endif /* NPU_RECLAIM_H */
