// SPDX-License-Identifier: GPL-2.0-only
/*
 * DRM_IOCTL_NPU_VM_BIND: userspace maps a BO range at a device address of
 * its choice, so that one address names one allocation everywhere, and so
 * that a host-mapped BO can sit at the same address on the host and on the
 * device (shared virtual addressing).
 *
 * A bound range is a struct npu_bind in its address space's @binds, with
 * a VA node reserved in the same allocator BO_CREATE uses, so the two never
 * overlap. It holds a reference on the BO and on the address space. UNMAP
 * (or closing the file) removes it from @binds at once and hands it to the
 * reclaim worker (npu_reclaim.c), which tears it down after the jobs pushed
 * before then, exactly as for a BO's own mapping.
 */
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>

#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"

/**
 * struct npu_bind - a range bound by DRM_IOCTL_NPU_VM_BIND
 * @va: the range in the address space (no guard page)
 * @bo: the BO whose pages are mapped (a reference)
 * @vm: the address space (a reference, dropped by the reclaim worker)
 * @dead: teardown record once unmapped
 */
struct npu_bind {
	struct drm_mm_node va;
	struct npu_bo *bo;
	struct npu_vm *vm;
	struct npu_dead_map dead;
};

static unsigned long npu_bind_index(u64 addr)
{
	return addr >> PAGE_SHIFT;
}

/* The reclaim worker tore the range down: release the BO. */
static void npu_bind_dead_free(struct npu_dead_map *dm)
{
	struct npu_bind *bind = container_of(dm, struct npu_bind, dead);

	/* may be the BO's last reference: it then queues its own teardown */
	drm_gem_object_put(&bind->bo->base.base);
	kfree(bind);
}

/* Hands an unmapped range, gone from @binds, to the reclaim worker. */
static void npu_bind_unmap_later(struct npu_bind *bind)
{
	bind->dead.node = &bind->va;
	bind->dead.size = bind->va.size;
	bind->dead.free = npu_bind_dead_free;
	npu_vm_unmap_later(bind->vm, &bind->dead);
}

/**
 * npu_vm_bind_holds() - whether a bound range of one of @bos holds a range
 * @vm: the address space
 * @addr: start of the range
 * @size: bytes of the range, not zero
 * @bos: objects to accept
 * @count: entries in @bos
 *
 * SUBMIT uses this to find a command buffer addressed through a VM_BIND
 * range of a listed BO.
 *
 * Return: true if [@addr, @addr + @size) lies inside one bound range
 * whose BO is among @bos.
 */
bool npu_vm_bind_holds(struct npu_vm *vm, u64 addr, u64 size,
		       struct drm_gem_object **bos, u32 count)
{
	struct drm_mm_node *node;
	bool found = false;
	u32 i;

	/* the walk below must stay inside the allocator's range */
	if (addr < NPU_VA_START || addr >= NPU_VA_END)
		return false;
	mutex_lock(&vm->lock);
	drm_mm_for_each_node_in_range(node, &vm->mm, addr, addr + 1) {
		struct npu_bind *bind;

		bind = xa_load(&vm->binds, npu_bind_index(node->start));
		if (!bind || &bind->va != node)
			continue; /* a BO's own range, or a dead bind */
		if (size > node->start + node->size - addr)
			break;
		for (i = 0; i < count; i++)
			if (bos[i] == &bind->bo->base.base)
				found = true;
		break;
	}
	mutex_unlock(&vm->lock);
	return found;
}

/**
 * npu_vm_bind_show_locked() - list @vm's bound ranges, for debugfs
 * @m: the debugfs file
 * @vm: the address space, with @vm->lock held
 */
void npu_vm_bind_show_locked(struct seq_file *m, struct npu_vm *vm)
{
	struct npu_bind *bind;
	unsigned long index;

	lockdep_assert_held(&vm->lock);
	xa_for_each(&vm->binds, index, bind)
		seq_printf(m, "  bind 0x%010llx size %llu bo 0x%010llx\n",
			   bind->va.start, bind->va.size, bind->bo->va.start);
}

static int npu_vm_bind_map(struct npu_context *ctx,
			   struct drm_npu_vm_bind *args, struct drm_file *file)
{
	struct npu_vm *vm = ctx->vm;
	struct drm_gem_object *obj;
	struct npu_bind *bind;
	struct npu_bo *bo;
	bool writable;
	int ret;

	if (args->flags & ~DRM_NPU_VM_BIND_FLAGS)
		return -EINVAL;
	if (args->addr < NPU_VA_START || args->addr >= NPU_VA_END ||
	    args->size > NPU_VA_END - args->addr)
		return -EINVAL;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	bo = to_npu_bo(obj);
	/* a BO of another context (an import is a BO of this one) */
	if (bo->vm != vm) {
		ret = -EINVAL;
		goto err_put;
	}
	if (args->bo_offset >= obj->size ||
	    args->size > obj->size - args->bo_offset) {
		ret = -EINVAL;
		goto err_put;
	}
	writable = !(bo->flags & DRM_NPU_BO_DEVICE_READ_ONLY) &&
		   !(args->flags & DRM_NPU_VM_BIND_READ_ONLY);

	bind = kzalloc(sizeof(*bind), GFP_KERNEL_ACCOUNT);
	if (!bind) {
		ret = -ENOMEM;
		goto err_put;
	}
	INIT_LIST_HEAD(&bind->dead.link);
	bind->bo = bo;

	mutex_lock(&vm->lock);
	/* unbind releases the pages' DMA mapping and the tables together */
	if (!bo->base.sgt) {
		ret = -ENODEV;
		goto err_unlock;
	}
	ret = npu_vm_map_fixed_locked(vm, &bind->va, bo->base.sgt,
				      args->bo_offset, args->addr, args->size,
				      writable);
	if (ret)
		goto err_unlock;
	/* no overlap in the allocator: the index is free */
	ret = xa_insert(&vm->binds, npu_bind_index(args->addr), bind,
			GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_unmap;
	bind->vm = npu_vm_get(vm);
	mutex_unlock(&vm->lock);
	/* the lookup's BO reference is the bind's now */
	return 0;

err_unmap:
	/* no job saw the range: nothing to wait for */
	npu_vm_clear_locked(vm, &bind->va, args->size);
	drm_mm_remove_node(&bind->va);
err_unlock:
	mutex_unlock(&vm->lock);
	kfree(bind);
err_put:
	drm_gem_object_put(obj);
	return ret;
}

static int npu_vm_bind_unmap(struct npu_context *ctx,
			     struct drm_npu_vm_bind *args)
{
	struct npu_vm *vm = ctx->vm;
	struct npu_bind *bind;

	if (args->flags || args->handle || args->bo_offset)
		return -EINVAL;
	if (!args->addr || !args->size)
		return -EINVAL;

	mutex_lock(&vm->lock);
	bind = xa_load(&vm->binds, npu_bind_index(args->addr));
	if (!bind || bind->va.start != args->addr ||
	    bind->va.size != args->size) {
		mutex_unlock(&vm->lock);
		return -ENOENT;
	}
	xa_erase(&vm->binds, npu_bind_index(args->addr));
	mutex_unlock(&vm->lock);
	npu_bind_unmap_later(bind);
	return 0;
}

int npu_ioctl_vm_bind(struct drm_device *drm, void *data,
		      struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_vm_bind *args = data;
	int ret, idx;

	if (args->pad)
		return -EINVAL;
	if (!PAGE_ALIGNED(args->addr) || !PAGE_ALIGNED(args->size) ||
	    !PAGE_ALIGNED(args->bo_offset))
		return -EINVAL;
	if (args->op == DRM_NPU_VM_BIND_OP_MAP && !args->size)
		return -EINVAL;

	/* unbind waits for this section before it releases DMA mappings */
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	switch (args->op) {
	case DRM_NPU_VM_BIND_OP_MAP:
		ret = npu_vm_bind_map(ctx, args, file);
		break;
	case DRM_NPU_VM_BIND_OP_UNMAP:
		ret = npu_vm_bind_unmap(ctx, args);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	drm_dev_exit(idx);
	return ret;
}

/**
 * npu_vm_unbind_all() - UNMAP every bound range of a closing file
 * @vm: the file's address space
 *
 * Each range goes once the jobs pushed before now finished, as for UNMAP.
 */
void npu_vm_unbind_all(struct npu_vm *vm)
{
	struct npu_bind *bind;
	unsigned long index;

	mutex_lock(&vm->lock);
	xa_for_each(&vm->binds, index, bind) {
		xa_erase(&vm->binds, index);
		npu_bind_unmap_later(bind);
	}
	mutex_unlock(&vm->lock);
}
