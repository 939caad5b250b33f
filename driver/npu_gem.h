/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Buffer objects: shmem-backed GEM objects, pinned and mapped into the
 * address space of the context that created them.
 */
#ifndef NPU_GEM_H
#define NPU_GEM_H

#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_mm.h>

#include "npu_reclaim.h"

struct dma_buf;
struct drm_device;
struct drm_file;
struct npu_vm;

/* Largest BO_CREATE size. */
#define NPU_BO_MAX_SIZE		SZ_1G

/**
 * struct npu_bo - a buffer object
 * @base: shmem GEM object
 * @vm: address space the object is mapped in (a reference), NULL until
 *	mapped; set once at creation, so readable without locks
 * @vm_link: entry in @vm's BO list (under the VM's lock)
 * @va: the object's range in @vm (size plus a guard page)
 * @flags: DRM_NPU_BO_* given at creation
 * @dead: the mapping at @va waiting for teardown once the last reference
 *	dropped (npu_reclaim.c)
 * @dma_jobs: jobs on the device that list the object, if the device may
 *	write it: only the first syncs it for the device (npu_dma.c)
 * @user_pages: for a BO of process memory (DRM_IOCTL_NPU_USERPTR), its
 *	pinned pages, unpinned when the object is freed (npu_userptr.c);
 *	NULL otherwise. Set once at creation.
 * @user_npages: number of @user_pages
 */
struct npu_bo {
	struct drm_gem_shmem_object base;
	struct npu_vm *vm;
	struct list_head vm_link;
	struct drm_mm_node va;
	u32 flags;
	struct npu_dead_map dead;
	atomic_t dma_jobs;
	struct page **user_pages;
	unsigned long user_npages;
};

static inline struct npu_bo *to_npu_bo(struct drm_gem_object *obj)
{
	return container_of(to_drm_gem_shmem_obj(obj), struct npu_bo, base);
}

struct drm_gem_object *npu_gem_create_object(struct drm_device *drm,
					     size_t size);
struct dma_buf *npu_gem_prime_export(struct drm_gem_object *obj, int flags);
struct drm_gem_object *npu_gem_prime_import(struct drm_device *drm,
					    struct dma_buf *dma_buf);
void npu_gem_release_dma(struct npu_device *ndev);
void npu_gem_free(struct drm_gem_object *obj);
int npu_gem_open(struct drm_gem_object *obj, struct drm_file *file);
int npu_bo_map(struct npu_bo *bo, struct npu_vm *vm);
void npu_bo_release_dma(struct npu_bo *bo);
int npu_ioctl_bo_create(struct drm_device *drm, void *data,
			struct drm_file *file);
int npu_ioctl_bo_info(struct drm_device *drm, void *data,
		      struct drm_file *file);

/* npu_userptr.c */
int npu_ioctl_userptr(struct drm_device *drm, void *data,
		      struct drm_file *file);
void npu_userptr_release(struct npu_bo *bo);

/* npu_vm_bind.c */
int npu_ioctl_vm_bind(struct drm_device *drm, void *data,
		      struct drm_file *file);
void npu_vm_unbind_all(struct npu_vm *vm);
bool npu_vm_bind_holds(struct npu_vm *vm, u64 addr, u64 size,
		       struct drm_gem_object **bos, u32 count);
struct seq_file;
void npu_vm_bind_show_locked(struct seq_file *m, struct npu_vm *vm);

#endif /* NPU_GEM_H */
