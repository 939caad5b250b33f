// SPDX-License-Identifier: GPL-2.0-only
/*
 * Buffer objects. Pages come from shmem and stay pinned from creation to
 * destruction (drm_gem_shmem_get_pages_sgt() holds them), because the
 * device reaches them through the context's page table without faulting.
 * CPU mappings use the shmem helper's default: cached. The device's view
 * (a bounce buffer under swiotlb) is synced with the pages at the
 * boundaries of the jobs that list the object (npu_dma.c).
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"

/* The reclaim worker tore @bo's mapping down: free the pages. */
static void npu_bo_dead_free(struct npu_dead_map *dm)
{
	struct npu_bo *bo = container_of(dm, struct npu_bo, dead);
	struct npu_vm *vm = bo->vm;

	mutex_lock(&vm->lock);
	list_del(&bo->vm_link);
	mutex_unlock(&vm->lock);
	atomic_dec(&vm->ndev->stats.bos);
	atomic64_sub(bo->base.base.size, &vm->ndev->stats.bo_bytes);
	npu_userptr_release(bo);
	drm_gem_shmem_free(&bo->base);
}

void npu_gem_free(struct drm_gem_object *obj)
{
	struct npu_bo *bo = to_npu_bo(obj);

	/*
	 * Jobs may reach any BO of their context, listed or not: the mapping
	 * and the pages go once the jobs that could use them are done. The
	 * BO's VM reference goes with them.
	 */
	if (bo->vm) {
		bo->dead.node = &bo->va;
		bo->dead.size = obj->size;
		bo->dead.free = npu_bo_dead_free;
		npu_vm_unmap_later(bo->vm, &bo->dead);
	} else {
		npu_userptr_release(bo);
		drm_gem_shmem_free(&bo->base);
	}
}

/*
 * drm_gem_object_funcs.open: a handle is being created. An imported BO is
 * mapped into the address space of the file importing it (one per
 * import, npu_prime.c); BOs this driver created are mapped already.
 */
int npu_gem_open(struct drm_gem_object *obj, struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct npu_bo *bo = to_npu_bo(obj);

	if (!obj->import_attach || bo->vm)
		return 0;
	return npu_bo_map(bo, ctx->vm);
}

static const struct drm_gem_object_funcs npu_gem_funcs = {
	.free = npu_gem_free,
	.open = npu_gem_open,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.export = npu_gem_prime_export,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

/* drm_driver.gem_create_object: lets drm_gem_shmem_create() embed npu_bo */
struct drm_gem_object *npu_gem_create_object(struct drm_device *drm,
					     size_t size)
{
	struct npu_bo *bo;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return ERR_PTR(-ENOMEM);
	bo->base.base.funcs = &npu_gem_funcs;
	INIT_LIST_HEAD(&bo->vm_link);
	INIT_LIST_HEAD(&bo->dead.link);
	return &bo->base.base;
}

/* Unmaps @bo's pages from the device; they stay pinned until the free. */
void npu_bo_release_dma(struct npu_bo *bo)
{
	struct drm_gem_shmem_object *shmem = &bo->base;

	if (!shmem->sgt)
		return;
	if (shmem->base.import_attach) {
		/* the exporter's mapping for this device */
		dma_buf_unmap_attachment_unlocked(shmem->base.import_attach,
						  shmem->sgt, DMA_BIDIRECTIONAL);
		shmem->sgt = NULL;
		return;
	}
	/* every job's writes were synced for the CPU when it completed */
	dma_unmap_sgtable(shmem->base.dev->dev, shmem->sgt, DMA_BIDIRECTIONAL,
			  DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(shmem->sgt);
	kfree(shmem->sgt);
	shmem->sgt = NULL;
}

/**
 * npu_gem_release_dma() - give back every DMA mapping of a stopped device
 * @ndev: the device, unplugged and stopped (unbind)
 *
 * Open files keep contexts, VMs and BOs alive past unbind, but the DMA API
 * wants a driver's mappings gone when it lets the device go: unmap every
 * BO and free every page table now. The free paths then skip what is gone.
 */
void npu_gem_release_dma(struct npu_device *ndev)
{
	struct npu_vm *vm;
	struct npu_bo *bo;

	mutex_lock(&ndev->vms_lock);
	list_for_each_entry(vm, &ndev->vms, dev_link) {
		mutex_lock(&vm->lock);
		list_for_each_entry(bo, &vm->bos, vm_link)
			npu_bo_release_dma(bo);
		npu_vm_free_tables(vm);
		mutex_unlock(&vm->lock);
	}
	mutex_unlock(&ndev->vms_lock);
}

/* Pins the pages and maps them into @vm; on failure nothing is mapped. */
int npu_bo_map(struct npu_bo *bo, struct npu_vm *vm)
{
	struct sg_table *sgt;
	int ret;

	sgt = drm_gem_shmem_get_pages_sgt(&bo->base);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	ret = npu_vm_map(vm, &bo->va, sgt, bo->base.base.size,
			 !(bo->flags & DRM_NPU_BO_DEVICE_READ_ONLY));
	if (ret)
		return ret;
	mutex_lock(&vm->lock);
	list_add(&bo->vm_link, &vm->bos);
	mutex_unlock(&vm->lock);
	bo->vm = npu_vm_get(vm);
	atomic_inc(&vm->ndev->stats.bos);
	atomic64_add(bo->base.base.size, &vm->ndev->stats.bo_bytes);
	return 0;
}

int npu_ioctl_bo_create(struct drm_device *drm, void *data,
			struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_bo_create *args = data;
	struct drm_gem_shmem_object *shmem;
	struct npu_bo *bo;
	u32 handle;
	int ret, idx;

	if (!args->size || args->size > NPU_BO_MAX_SIZE)
		return -EINVAL;
	if (args->flags & ~DRM_NPU_BO_FLAGS)
		return -EINVAL;

	/* unbind waits for this section before it releases DMA mappings */
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	shmem = drm_gem_shmem_create(drm, PAGE_ALIGN(args->size));
	if (IS_ERR(shmem)) {
		ret = PTR_ERR(shmem);
		goto out_exit;
	}
	bo = container_of(shmem, struct npu_bo, base);
	bo->flags = args->flags;

	ret = npu_bo_map(bo, ctx->vm);
	if (ret)
		goto out_put;

	ret = drm_gem_handle_create(file, &shmem->base, &handle);
	if (ret)
		goto out_put;

	args->handle = handle;
	args->device_addr = bo->va.start;
out_put:
	/* the handle, if any, holds the object now */
	drm_gem_object_put(&shmem->base);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

int npu_ioctl_bo_info(struct drm_device *drm, void *data,
		      struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_bo_info *args = data;
	struct drm_gem_object *obj;
	struct npu_bo *bo;
	int ret;

	if (args->flags)
		return -EINVAL;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	bo = to_npu_bo(obj);

	/* an object opened from another context has no address here */
	if (bo->vm != ctx->vm) {
		ret = -EINVAL;
		goto out_put;
	}
	ret = drm_gem_create_mmap_offset(obj);
	if (ret)
		goto out_put;

	args->flags = bo->flags;
	args->size = obj->size;
	args->device_addr = bo->va.start;
	args->mmap_offset = drm_vma_node_offset_addr(&obj->vma_node);
out_put:
	drm_gem_object_put(obj);
	return ret;
}
