// SPDX-License-Identifier: GPL-2.0-only
/*
 * PRIME import. A BO is mapped into one address space, its creator's, so an
 * imported dma-buf always becomes a new BO of the importing file, even when
 * another context of this very device exported it: the new object attaches
 * to the dma-buf (which keeps the exporter's pages alive), shares its
 * reservation object (implicit sync spans the exporter's jobs) and is
 * mapped into the importer's address space when the importer's handle is
 * created (npu_gem.c). Export is DRM core's default.
 */
#include <linux/dma-buf.h>
#include <linux/module.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_prime.h>

#include "npu_compat.h"
#include "npu_drv.h"
#include "npu_gem.h"

MODULE_IMPORT_NS(DMA_BUF);

/*
 * Creation flags of the BO behind a dma-buf this module exported (DRM
 * core's export: the owner is the driver's module, priv the object), else 0.
 */
static u32 npu_prime_exporter_flags(struct dma_buf *dma_buf)
{
	if (dma_buf->owner != THIS_MODULE)
		return 0;
	return to_npu_bo(dma_buf->priv)->flags;
}

/**
 * npu_gem_prime_import() - drm_driver.gem_prime_import
 * @drm: the importing device
 * @dma_buf: the buffer, from any exporter
 *
 * Return: a new, not yet mapped BO (npu_gem_open() maps it), or an
 * ERR_PTR.
 */
struct drm_gem_object *npu_gem_prime_import(struct drm_device *drm,
					    struct dma_buf *dma_buf)
{
	struct dma_buf_attachment *attach;
	struct drm_gem_object *obj;
	struct sg_table *sgt;
	int ret;

	if (!dma_buf->size || dma_buf->size > NPU_BO_MAX_SIZE ||
	    !PAGE_ALIGNED(dma_buf->size))
		return ERR_PTR(-EINVAL);
	attach = dma_buf_attach(dma_buf, drm->dev);
	if (IS_ERR(attach))
		return ERR_CAST(attach);
	get_dma_buf(dma_buf);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_detach;
	}
	obj = drm_gem_shmem_prime_import_sg_table(drm, attach, sgt);
	if (IS_ERR(obj)) {
		ret = PTR_ERR(obj);
		goto err_unmap;
	}
	obj->import_attach = attach;
	obj->resv = dma_buf->resv;
	/* a read-only BO of this driver stays read-only for the importer */
	to_npu_bo(obj)->flags = npu_prime_exporter_flags(dma_buf) &
				DRM_NPU_BO_DEVICE_READ_ONLY;
	return obj;

err_unmap:
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
err_detach:
	dma_buf_detach(dma_buf, attach);
	dma_buf_put(dma_buf);
	return ERR_PTR(ret);
}
