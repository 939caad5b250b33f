// SPDX-License-Identifier: GPL-2.0-only
/*
 * Buffer objects of existing process memory (DRM_IOCTL_NPU_USERPTR). The
 * pages are pinned long-term, collected in an sg_table, DMA-mapped for the
 * device and handed to a shmem GEM object as its sg_table, so that
 * everything else (mapping into the context's address space, SUBMIT's BO
 * list and DMA sync, VM_BIND, deferred reclaim) treats the object like a
 * created one. The object's own shmem pages are never allocated: mmap,
 * vmap and PRIME export, which would use them, are refused. The pages are
 * unmapped and unpinned when the object is freed (after its mapping was
 * torn down, npu_gem.c).
 */
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>

#include "npu_drv.h"
#include "npu_gem.h"

/* The process maps the pages already; the device file does not. */
static int npu_userptr_mmap(struct drm_gem_object *obj,
			    struct vm_area_struct *vma)
{
	return -EINVAL;
}

static struct dma_buf *npu_userptr_export(struct drm_gem_object *obj,
					  int flags)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static struct sg_table *npu_userptr_get_sg_table(struct drm_gem_object *obj)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static int npu_userptr_vmap(struct drm_gem_object *obj, struct iosys_map *map)
{
	return -EOPNOTSUPP;
}

static const struct drm_gem_object_funcs npu_userptr_funcs = {
	.free = npu_gem_free,
	.open = npu_gem_open,
	.print_info = drm_gem_shmem_object_print_info,
	.export = npu_userptr_export,
	.get_sg_table = npu_userptr_get_sg_table,
	.vmap = npu_userptr_vmap,
	.mmap = npu_userptr_mmap,
};

/**
 * npu_userptr_release() - unmap and unpin a userptr BO's pages
 * @bo: any BO, about to be freed; nothing happens unless it is a userptr BO
 *
 * Called once the device can no longer reach the pages (the BO's mapping
 * was torn down, or it never was mapped).
 */
void npu_userptr_release(struct npu_bo *bo)
{
	if (!bo->user_pages)
		return;
	/* gone already if the device was unbound (npu_gem_release_dma()) */
	npu_bo_release_dma(bo);
	unpin_user_pages_dirty_lock(bo->user_pages, bo->user_npages,
				    !(bo->flags & DRM_NPU_BO_DEVICE_READ_ONLY));
	kvfree(bo->user_pages);
	bo->user_pages = NULL;
}

static int npu_userptr_check(const struct drm_npu_userptr *args)
{
	if (args->flags & ~DRM_NPU_USERPTR_FLAGS)
		return -EINVAL;
	if (args->handle || args->device_addr)
		return -EINVAL;
	if (!args->addr || !args->size || args->size > NPU_BO_MAX_SIZE)
		return -EINVAL;
	if (!PAGE_ALIGNED(args->addr) || !PAGE_ALIGNED(args->size))
		return -EINVAL;
	if (args->addr + args->size < args->addr)
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(args->addr), args->size))
		return -EFAULT;
	return 0;
}

/* Pins @npages pages at @addr into @pages: 0 or a negative errno. */
static int npu_userptr_pin(u64 addr, unsigned long npages, bool writable,
			   struct page **pages)
{
	unsigned int gup = FOLL_LONGTERM | (writable ? FOLL_WRITE : 0);
	unsigned long done = 0;
	int ret;

	while (done < npages) {
		ret = pin_user_pages_fast(addr + (done << PAGE_SHIFT),
					  npages - done, gup, pages + done);
		if (ret <= 0) {
			unpin_user_pages(pages, done);
			return ret ? ret : -EFAULT;
		}
		done += ret;
	}
	return 0;
}

/* An sg_table of the pinned pages, DMA-mapped for @dev. */
static struct sg_table *npu_userptr_sgt(struct device *dev,
					struct page **pages,
					unsigned long npages)
{
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, pages, npages, 0,
					npages << PAGE_SHIFT, GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

/**
 * npu_ioctl_userptr() - DRM_IOCTL_NPU_USERPTR
 * @drm: the device
 * @data: struct drm_npu_userptr
 * @file: the caller's file
 *
 * Return: 0 or a negative errno (see the uapi kernel-doc).
 */
int npu_ioctl_userptr(struct drm_device *drm, void *data,
		      struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_userptr *args = data;
	bool writable = !(args->flags & DRM_NPU_USERPTR_DEVICE_READ_ONLY);
	struct drm_gem_shmem_object *shmem;
	unsigned long npages;
	struct sg_table *sgt;
	struct page **pages;
	struct npu_bo *bo;
	u32 handle;
	int ret, idx;

	ret = npu_userptr_check(args);
	if (ret)
		return ret;
	npages = args->size >> PAGE_SHIFT;

	/* unbind waits for this section before it releases DMA mappings */
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages) {
		ret = -ENOMEM;
		goto out_exit;
	}
	ret = npu_userptr_pin(args->addr, npages, writable, pages);
	if (ret)
		goto err_pages;
	sgt = npu_userptr_sgt(drm->dev, pages, npages);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_unpin;
	}
	shmem = drm_gem_shmem_create(drm, args->size);
	if (IS_ERR(shmem)) {
		ret = PTR_ERR(shmem);
		goto err_sgt;
	}
	/* from here the object owns the pages: its free releases them */
	shmem->base.funcs = &npu_userptr_funcs;
	shmem->sgt = sgt;
	bo = container_of(shmem, struct npu_bo, base);
	bo->flags = writable ? 0 : DRM_NPU_BO_DEVICE_READ_ONLY;
	bo->user_pages = pages;
	bo->user_npages = npages;

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
	goto out_exit;

err_sgt:
	dma_unmap_sgtable(drm->dev, sgt, DMA_BIDIRECTIONAL, 0);
	sg_free_table(sgt);
	kfree(sgt);
err_unpin:
	unpin_user_pages(pages, npages);
err_pages:
	kvfree(pages);
out_exit:
	drm_dev_exit(idx);
	return ret;
}
