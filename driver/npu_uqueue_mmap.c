// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-mode queues, the mapping: one mmap() of the device file at the
 * queue's offset gives the creating file the queue's user doorbell page in
 * BAR2, the BAR0 page holding the doorbell register and the ring
 * (npu_uqueue.c has the rest, and why this is safe). Destroying the queue
 * or unplugging the device revokes the mapping; a revoked mapping faults
 * with SIGBUS.
 */
#include <linux/mm.h>
#include <linux/pci.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_vma_manager.h>

#include "npu_drv.h"
#include "npu_uqueue.h"
#include "npu_uqueue_internal.h"

/* The process's view of the device's page and ring, field by field. */
#define NPU_UQ_OFF(a, fa, b, fb) \
	static_assert(offsetof(struct a, fa) == offsetof(struct b, fb))
#define NPU_UQ_END(a, fa, b, fb) \
	static_assert(offsetofend(struct a, fa) == offsetofend(struct b, fb))
static_assert(sizeof(struct drm_npu_uqueue_control) ==
	      sizeof(struct npu_user_doorbell));
NPU_UQ_OFF(drm_npu_uqueue_control, tail, npu_user_doorbell, tail);
NPU_UQ_END(drm_npu_uqueue_control, tail, npu_user_doorbell, tail);
NPU_UQ_OFF(drm_npu_uqueue_control, head, npu_user_doorbell, head);
NPU_UQ_END(drm_npu_uqueue_control, head, npu_user_doorbell, head);
NPU_UQ_OFF(drm_npu_uqueue_control, done_seqno, npu_user_doorbell, done_seqno);
NPU_UQ_END(drm_npu_uqueue_control, done_seqno, npu_user_doorbell, done_seqno);
NPU_UQ_OFF(drm_npu_uqueue_control, error, npu_user_doorbell, error);
NPU_UQ_END(drm_npu_uqueue_control, error, npu_user_doorbell, error);
static_assert(sizeof(struct drm_npu_uqueue_job) ==
	      sizeof(struct npu_job_desc));
NPU_UQ_OFF(drm_npu_uqueue_job, seqno, npu_job_desc, seqno);
NPU_UQ_END(drm_npu_uqueue_job, seqno, npu_job_desc, seqno);
NPU_UQ_OFF(drm_npu_uqueue_job, cmd_size, npu_job_desc, cmd_size);
NPU_UQ_END(drm_npu_uqueue_job, cmd_size, npu_job_desc, cmd_size);
NPU_UQ_OFF(drm_npu_uqueue_job, context_id, npu_job_desc, context_id);
NPU_UQ_END(drm_npu_uqueue_job, context_id, npu_job_desc, context_id);
NPU_UQ_OFF(drm_npu_uqueue_job, flags, npu_job_desc, flags);
NPU_UQ_END(drm_npu_uqueue_job, flags, npu_job_desc, flags);
NPU_UQ_OFF(drm_npu_uqueue_job, status, npu_job_desc, status);
NPU_UQ_END(drm_npu_uqueue_job, status, npu_job_desc, status);
NPU_UQ_OFF(drm_npu_uqueue_job, fault_addr, npu_job_desc, fault_va);
NPU_UQ_END(drm_npu_uqueue_job, fault_addr, npu_job_desc, fault_va);
NPU_UQ_OFF(drm_npu_uqueue_job, err_offset, npu_job_desc, err_offset);
NPU_UQ_END(drm_npu_uqueue_job, err_offset, npu_job_desc, err_offset);
NPU_UQ_OFF(drm_npu_uqueue_job, reserved, npu_job_desc, reserved);
NPU_UQ_END(drm_npu_uqueue_job, reserved, npu_job_desc, reserved);
NPU_UQ_OFF(drm_npu_uqueue_job, busy_ns, npu_job_desc, busy_ns);
NPU_UQ_END(drm_npu_uqueue_job, busy_ns, npu_job_desc, busy_ns);
NPU_UQ_OFF(drm_npu_uqueue_job, reserved0, npu_job_desc, pt_root);
NPU_UQ_END(drm_npu_uqueue_job, reserved0, npu_job_desc, pt_root);
NPU_UQ_OFF(drm_npu_uqueue_job, cmd_addr, npu_job_desc, cmd_va);
NPU_UQ_END(drm_npu_uqueue_job, cmd_addr, npu_job_desc, cmd_va);
static_assert(DRM_NPU_UQUEUE_ERR_READ == NPU_QUEUE_ERR_READ);
static_assert(DRM_NPU_UQUEUE_ERR_WRITE == NPU_QUEUE_ERR_WRITE);
static_assert(DRM_NPU_UQUEUE_ERR_TAIL == NPU_QUEUE_ERR_TAIL);
static_assert(NPU_UDB_STRIDE == PAGE_SIZE);
static_assert(NPU_UQ_RING_BYTES % PAGE_SIZE == 0);

/**
 * npu_uqueue_revoke_all() - take every user queue's mapping away
 * @ndev: the device, unplugged and stopped: its BARs and rings are about
 *	to go while files may stay open
 */
void npu_uqueue_revoke_all(struct npu_device *ndev)
{
	struct npu_uqueue_dev *uqd = &ndev->uq;
	u32 i;

	if (!uqd->count)
		return;
	mutex_lock(&uqd->lock);
	for (i = uqd->first; i < ndev->queue_count; i++) {
		struct npu_uqueue *uq = uqd->slots[i];

		if (uq)
			drm_vma_node_unmap(&uq->vma_node,
					   ndev->drm.anon_inode->i_mapping);
	}
	mutex_unlock(&uqd->lock);
}

static void npu_uqueue_free_page(struct drm_device *drm, void *page)
{
	__free_page(page);
}

static vm_fault_t npu_uqueue_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct drm_file *priv = vma->vm_file->private_data;
	struct drm_device *drm = priv->minor->dev;
	struct page *page;

	/* revoked by UQUEUE_DESTROY or the file's close: the queue is gone */
	if (!drm_dev_is_unplugged(drm))
		return VM_FAULT_SIGBUS;
	/*
	 * Revoked by a hot-unplug: the process may poll its control page
	 * before any ioctl told it the device is gone. A zeroed page (as TTM
	 * gives unplugged BOs) shows no progress instead of killing it; its
	 * next ioctl fails with ENODEV. One page per faulting page (no
	 * aliasing of the ring and the control page), freed with the DRM
	 * device.
	 */
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return VM_FAULT_OOM;
	if (drmm_add_action_or_reset(drm, npu_uqueue_free_page, page))
		return VM_FAULT_OOM;
	return vmf_insert_pfn(vma, vmf->address & PAGE_MASK, page_to_pfn(page));
}

static const struct vm_operations_struct npu_uqueue_vm_ops = {
	.fault = npu_uqueue_vm_fault,
};

static unsigned long npu_uqueue_ring_pfn(struct npu_queue *hwq, u32 page)
{
	void *va = (u8 *)hwq->ring + (size_t)page * PAGE_SIZE;

	return is_vmalloc_addr(va) ? vmalloc_to_pfn(va) :
				     PHYS_PFN(virt_to_phys(va));
}

static int npu_uqueue_mmap(struct npu_device *ndev, struct npu_uqueue *uq,
			   struct vm_area_struct *vma)
{
	struct pci_dev *pdev = ndev->pdev;
	pgprot_t io_prot = pgprot_noncached(vma->vm_page_prot);
	unsigned long addr = vma->vm_start;
	phys_addr_t udb;
	int ret;
	u32 i;

	if (vma_pages(vma) != NPU_UQ_MAP_PAGES)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	npu_vm_flags_mod(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
			 VM_MAYEXEC);
	vma->vm_ops = &npu_uqueue_vm_ops;

	/* the queue's user doorbell page, uncached like the kernel's BAR2 */
	udb = pci_resource_start(pdev, 2) + NPU_UDB_OFFSET +
	      uq->hwq->index * NPU_UDB_STRIDE;
	ret = io_remap_pfn_range(vma, addr, PHYS_PFN(udb), PAGE_SIZE, io_prot);
	if (ret)
		return ret;
	addr += PAGE_SIZE;
	/* the BAR0 page, alone in its page (npu_uqueue_bar0_alone()) */
	ret = io_remap_pfn_range(vma, addr,
				 PHYS_PFN(pci_resource_start(pdev, 0)),
				 PAGE_SIZE, io_prot);
	if (ret)
		return ret;
	addr += PAGE_SIZE;
	/* the ring, coherent host memory */
	for (i = 0; i < NPU_UQ_RING_PAGES; i++, addr += PAGE_SIZE) {
		ret = remap_pfn_range(vma, addr,
				      npu_uqueue_ring_pfn(uq->hwq, i),
				      PAGE_SIZE, vma->vm_page_prot);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * npu_mmap() - mmap of the device file
 * @filp: the file
 * @vma: the new mapping
 *
 * A user-mode queue's offset maps the queue (for the file that created it
 * only); anything else is a GEM object's.
 *
 * Return: 0 or a negative errno.
 */
int npu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct drm_file *priv = filp->private_data;
	struct drm_device *drm = priv->minor->dev;
	struct npu_device *ndev = to_npu_device(drm);
	struct npu_uqueue_dev *uqd = &ndev->uq;
	struct drm_vma_offset_manager *mgr = drm->vma_offset_manager;
	struct drm_vma_offset_node *node;
	struct npu_uqueue *uq = NULL;
	int ret, idx;
	u32 i;

	if (!uqd->count)
		return drm_gem_mmap(filp, vma);
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	mutex_lock(&uqd->lock);
	drm_vma_offset_lock_lookup(mgr);
	node = drm_vma_offset_exact_lookup_locked(mgr, vma->vm_pgoff, 1);
	drm_vma_offset_unlock_lookup(mgr);
	for (i = uqd->first; node && i < ndev->queue_count; i++) {
		if (uqd->slots[i] && &uqd->slots[i]->vma_node == node)
			uq = uqd->slots[i];
	}
	if (!uq) {
		mutex_unlock(&uqd->lock);
		drm_dev_exit(idx);
		return drm_gem_mmap(filp, vma);
	}
	if (uq->file != priv || !drm_vma_node_is_allowed(node, priv))
		ret = -EACCES;
	else
		ret = npu_uqueue_mmap(ndev, uq, vma);
	mutex_unlock(&uqd->lock);
	drm_dev_exit(idx);
	return ret;
}
