// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device page tables. Each table is one coherent page of 512 little-endian
 * PTEs; a CPU-side shadow array remembers the child tables so that walks
 * never translate bus addresses back. Tables are allocated lazily as
 * mappings need them and freed only with the address space.
 */
#include <linux/dma-mapping.h>
#include <linux/slab.h>

#include "npu_drv.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"

/* One VA page past every mapping stays unmapped to catch overruns. */
#define NPU_VA_GUARD		NPU_PAGE_SIZE

/**
 * struct npu_pt - one page table
 * @entries: NPU_PT_ENTRIES PTEs, read by the device
 * @dma: bus address of @entries
 * @children: next-level tables of a non-leaf table, NULL in a leaf table
 */
struct npu_pt {
	__le64 *entries;
	dma_addr_t dma;
	struct npu_pt **children;
};

static struct device *npu_vm_dev(struct npu_vm *vm)
{
	return &vm->ndev->pdev->dev;
}

static struct npu_pt *npu_pt_alloc(struct npu_vm *vm, bool leaf)
{
	struct npu_pt *pt;

	pt = kzalloc(sizeof(*pt), GFP_KERNEL_ACCOUNT);
	if (!pt)
		return NULL;
	if (!leaf) {
		pt->children = kcalloc(NPU_PT_ENTRIES, sizeof(*pt->children),
				       GFP_KERNEL);
		if (!pt->children)
			goto err_free_pt;
	}
	pt->entries = dma_alloc_coherent(npu_vm_dev(vm), NPU_PAGE_SIZE,
					 &pt->dma, GFP_KERNEL);
	if (!pt->entries)
		goto err_free_children;
	return pt;

err_free_children:
	kfree(pt->children);
err_free_pt:
	kfree(pt);
	return NULL;
}

static void npu_pt_free(struct npu_vm *vm, struct npu_pt *pt)
{
	unsigned int i;

	if (!pt)
		return;
	if (pt->children) {
		for (i = 0; i < NPU_PT_ENTRIES; i++)
			npu_pt_free(vm, pt->children[i]);
	}
	dma_free_coherent(npu_vm_dev(vm), NPU_PAGE_SIZE, pt->entries, pt->dma);
	kfree(pt->children);
	kfree(pt);
}

struct npu_vm *npu_vm_create(struct npu_device *ndev)
{
	struct npu_vm *vm;

	BUILD_BUG_ON(PAGE_SIZE != NPU_PAGE_SIZE);

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return NULL;
	kref_init(&vm->ref);
	vm->ndev = ndev;
	mutex_init(&vm->lock);
	INIT_LIST_HEAD(&vm->bos);
	xa_init(&vm->binds);
	npu_vm_reclaim_init(vm);
	vm->root = npu_pt_alloc(vm, false);
	if (!vm->root) {
		mutex_destroy(&vm->lock);
		kfree(vm);
		return NULL;
	}
	drm_mm_init(&vm->mm, NPU_VA_START, NPU_VA_END - NPU_VA_START);
	drm_dev_get(&ndev->drm);
	mutex_lock(&ndev->vms_lock);
	list_add(&vm->dev_link, &ndev->vms);
	mutex_unlock(&ndev->vms_lock);
	atomic_inc(&ndev->stats.vms);
	return vm;
}

/**
 * npu_vm_release_final() - free an address space nothing refers to
 * @vm: the address space; runs from npu_vm_release_later()'s work, never
 *	from a scheduler's work (the drm_device reference dropped here may be
 *	the last one, whose release tears the schedulers down)
 */
void npu_vm_release_final(struct npu_vm *vm)
{
	struct npu_device *ndev = vm->ndev;

	npu_vm_reclaim_fini(vm);
	mutex_lock(&ndev->vms_lock);
	list_del(&vm->dev_link);
	mutex_unlock(&ndev->vms_lock);
	/* every BO and bound range holds a reference: no mapping is left */
	WARN_ON(!xa_empty(&vm->binds));
	xa_destroy(&vm->binds);
	drm_mm_takedown(&vm->mm);
	npu_pt_free(vm, vm->root);
	mutex_destroy(&vm->lock);
	kfree(vm);
	atomic_dec(&ndev->stats.vms);
	drm_dev_put(&ndev->drm);
}

static void npu_vm_release(struct kref *ref)
{
	npu_vm_release_later(container_of(ref, struct npu_vm, ref));
}

void npu_vm_put(struct npu_vm *vm)
{
	if (vm)
		kref_put(&vm->ref, npu_vm_release);
}

/**
 * npu_vm_free_tables() - free the page tables of a VM that outlives its device
 * @vm: address space, with @vm->lock held
 *
 * At unbind, once the device is stopped: the tables are DMA memory of a
 * device the driver is letting go of. Later maps fail with -ENODEV, unmaps
 * only release VA.
 */
void npu_vm_free_tables(struct npu_vm *vm)
{
	lockdep_assert_held(&vm->lock);
	npu_pt_free(vm, vm->root);
	vm->root = NULL;
}

dma_addr_t npu_vm_pt_root(struct npu_vm *vm)
{
	return vm->root ? vm->root->dma : 0;
}

/*
 * Returns the leaf PTE of @va, allocating the tables on the way if @alloc;
 * NULL if a table is missing (and !@alloc) or cannot be allocated.
 */
static __le64 *npu_vm_leaf_pte(struct npu_vm *vm, u64 va, bool alloc)
{
	struct npu_pt *pt = vm->root;
	int level;

	lockdep_assert_held(&vm->lock);

	for (level = 0; level < NPU_PT_LEVELS - 1; level++) {
		unsigned int idx = NPU_PT_INDEX(va, level);
		struct npu_pt *next = pt->children[idx];

		if (!next) {
			if (!alloc)
				return NULL;
			next = npu_pt_alloc(vm, level + 1 == NPU_PT_LEVELS - 1);
			if (!next)
				return NULL;
			pt->children[idx] = next;
			WRITE_ONCE(pt->entries[idx],
				   cpu_to_le64((next->dma & NPU_PTE_ADDR_MASK) |
					       NPU_PTE_VALID));
		}
		pt = next;
	}
	return &pt->entries[NPU_PT_INDEX(va, NPU_PT_LEVELS - 1)];
}

static void npu_vm_clear_range(struct npu_vm *vm, u64 va, u64 size)
{
	u64 end = va + size;
	__le64 *pte;

	if (!vm->root)
		return;
	for (; va < end; va += NPU_PAGE_SIZE) {
		pte = npu_vm_leaf_pte(vm, va, false);
		if (pte)
			WRITE_ONCE(*pte, 0);
	}
}

/*
 * Maps @size bytes of @sgt, from byte @offset on (page-aligned), at @va;
 * on failure clears what it mapped. The VA is the caller's.
 */
static int npu_vm_fill_locked(struct npu_vm *vm, u64 va, struct sg_table *sgt,
			      u64 offset, u64 size, bool writable)
{
	u64 flags = NPU_PTE_VALID | (writable ? NPU_PTE_WRITE : 0);
	struct sg_dma_page_iter iter;
	u64 mapped = 0;
	__le64 *pte;

	lockdep_assert_held(&vm->lock);
	for_each_sgtable_dma_page(sgt, &iter, offset >> PAGE_SHIFT) {
		dma_addr_t addr = sg_page_iter_dma_address(&iter);

		if (mapped >= size)
			break;
		pte = npu_vm_leaf_pte(vm, va + mapped, true);
		if (!pte) {
			npu_vm_clear_range(vm, va, mapped);
			return -ENOMEM;
		}
		WRITE_ONCE(*pte, cpu_to_le64((addr & NPU_PTE_ADDR_MASK) | flags));
		mapped += NPU_PAGE_SIZE;
	}
	if (mapped < size) {
		npu_vm_clear_range(vm, va, mapped);
		return -EINVAL;
	}
	return 0;
}

/**
 * npu_vm_map() - allocate VA for @size bytes and map @sgt there
 * @vm: address space
 * @node: VA node to fill in, owned by the caller's object
 * @sgt: DMA-mapped pages, at least @size bytes
 * @size: bytes to map, a multiple of the page size
 * @writable: whether the device may write the pages
 *
 * Return: 0 or a negative errno; on failure nothing stays allocated.
 */
int npu_vm_map(struct npu_vm *vm, struct drm_mm_node *node,
	       struct sg_table *sgt, u64 size, bool writable)
{
	int ret;

	mutex_lock(&vm->lock);
	if (!vm->root) {
		ret = -ENODEV;
		goto out_unlock;
	}
	/*
	 * Lowest fit: the addresses the driver chooses stay packed at the
	 * bottom, leaving the high range to userspace's VM_BIND (best fit
	 * would start placing BOs right after a bound range, in the middle
	 * of what a shared-virtual-addressing runtime uses).
	 */
	ret = drm_mm_insert_node_in_range(&vm->mm, node, size + NPU_VA_GUARD,
					  NPU_PAGE_SIZE, 0, NPU_VA_START,
					  NPU_VA_END, DRM_MM_INSERT_LOW);
	if (ret)
		goto out_unlock;
	ret = npu_vm_fill_locked(vm, node->start, sgt, 0, size, writable);
	if (ret)
		drm_mm_remove_node(node);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

/**
 * npu_vm_map_fixed_locked() - map part of @sgt at a given address
 * @vm: address space, with @vm->lock held
 * @node: VA node to fill in, zeroed, owned by the caller's object
 * @sgt: DMA-mapped pages
 * @offset: byte offset into @sgt of the first mapped byte, page-aligned
 * @addr: device address, page-aligned, the range inside
 *	[NPU_VA_START, NPU_VA_END)
 * @size: bytes to map, a non-zero multiple of the page size
 * @writable: whether the device may write the pages
 *
 * No guard page follows the range.
 *
 * Return: 0, -EBUSY if the range overlaps a mapping, -ENODEV once the
 * tables are gone (unbind), or another negative errno; on failure nothing
 * stays allocated.
 */
int npu_vm_map_fixed_locked(struct npu_vm *vm, struct drm_mm_node *node,
			    struct sg_table *sgt, u64 offset, u64 addr,
			    u64 size, bool writable)
{
	int ret;

	lockdep_assert_held(&vm->lock);
	if (!vm->root)
		return -ENODEV;
	node->start = addr;
	node->size = size;
	ret = drm_mm_reserve_node(&vm->mm, node);
	if (ret)
		return ret == -ENOSPC ? -EBUSY : ret;
	ret = npu_vm_fill_locked(vm, addr, sgt, offset, size, writable);
	if (ret)
		drm_mm_remove_node(node);
	return ret;
}

/**
 * npu_vm_clear_locked() - clear the PTEs of a npu_vm_map(), keeping its VA
 * @vm: address space, with @vm->lock held
 * @node: VA node filled by npu_vm_map()
 * @size: bytes that were mapped
 *
 * The device may still hold translations until npu_mmu_invalidate().
 */
void npu_vm_clear_locked(struct npu_vm *vm, struct drm_mm_node *node,
			 u64 size)
{
	lockdep_assert_held(&vm->lock);
	npu_vm_clear_range(vm, node->start, size);
}

/**
 * npu_vm_unmap() - clear the PTEs of a npu_vm_map() and free its VA
 * @vm: address space
 * @node: VA node filled by npu_vm_map()
 * @size: bytes that were mapped
 *
 * The caller guarantees no job uses the range any more.
 */
void npu_vm_unmap(struct npu_vm *vm, struct drm_mm_node *node, u64 size)
{
	mutex_lock(&vm->lock);
	npu_vm_clear_range(vm, node->start, size);
	drm_mm_remove_node(node);
	mutex_unlock(&vm->lock);
}
