// SPDX-License-Identifier: GPL-2.0-only
/*
 * PRIME import. A BO is mapped into one address space, its creator's, so an
 * imported dma-buf always becomes a new BO of the importing file, even when
 * another context of this very device exported it: the new object attaches
 * to the dma-buf (which keeps the exporter's pages alive), shares its
 * reservation object (implicit sync spans the exporter's jobs) and is
 * mapped into the importer's address space when the importer's handle is
 * created (npu_gem.c).
 *
 * Export is DRM core's, except for an attachment of this very device: it
 * gets a copy of the exporter's sg table, which shares the exporter's DMA
 * mapping instead of making a second one. Two mappings of the same pages
 * for one device would be two bounce buffers under swiotlb, and a sync of
 * one would not carry what the device wrote through the other.
 */
#include <linux/dma-buf.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_prime.h>

#include "npu_compat.h"
#include "npu_drv.h"
#include "npu_gem.h"

MODULE_IMPORT_NS(DMA_BUF);

/* attach->priv of an attachment that shares the exporter's mapping */
#define NPU_PRIME_SHARED_MAPPING ((void *)1)

/*
 * A table with @src's pages and DMA addresses, for an attachment of the
 * device that mapped @src: no new mapping, the exporter's stays.
 */
static struct sg_table *npu_prime_copy_table(struct sg_table *src)
{
	struct scatterlist *s, *d;
	struct sg_table *copy;
	unsigned int i;

	copy = kzalloc(sizeof(*copy), GFP_KERNEL);
	if (!copy)
		return ERR_PTR(-ENOMEM);
	if (sg_alloc_table(copy, src->orig_nents, GFP_KERNEL)) {
		kfree(copy);
		return ERR_PTR(-ENOMEM);
	}
	d = copy->sgl;
	for_each_sgtable_sg(src, s, i) {
		sg_set_page(d, sg_page(s), s->length, s->offset);
		d = sg_next(d);
	}
	copy->nents = src->nents;
	d = copy->sgl;
	for_each_sgtable_dma_sg(src, s, i) {
		sg_dma_address(d) = sg_dma_address(s);
		sg_dma_len(d) = sg_dma_len(s);
#ifdef CONFIG_NEED_SG_DMA_FLAGS
		d->dma_flags = s->dma_flags;
#endif
		d = sg_next(d);
	}
	return copy;
}

static struct sg_table *npu_prime_map_dma_buf(struct dma_buf_attachment *attach,
					      enum dma_data_direction dir)
{
	struct drm_gem_object *obj = attach->dmabuf->priv;
	struct npu_bo *bo = to_npu_bo(obj);
	struct sg_table *copy;

	/* the exporter's pages stay mapped while the dma-buf holds obj */
	if (attach->dev != obj->dev->dev || !bo->base.sgt)
		return drm_gem_map_dma_buf(attach, dir);
	copy = npu_prime_copy_table(bo->base.sgt);
	if (!IS_ERR(copy))
		attach->priv = NPU_PRIME_SHARED_MAPPING;
	return copy;
}

static void npu_prime_unmap_dma_buf(struct dma_buf_attachment *attach,
				    struct sg_table *sgt,
				    enum dma_data_direction dir)
{
	if (attach->priv != NPU_PRIME_SHARED_MAPPING) {
		drm_gem_unmap_dma_buf(attach, sgt, dir);
		return;
	}
	attach->priv = NULL;
	sg_free_table(sgt);
	kfree(sgt);
}

static const struct dma_buf_ops npu_prime_dmabuf_ops = {
	.attach = drm_gem_map_attach,
	.detach = drm_gem_map_detach,
	.map_dma_buf = npu_prime_map_dma_buf,
	.unmap_dma_buf = npu_prime_unmap_dma_buf,
	.release = drm_gem_dmabuf_release,
	.mmap = drm_gem_dmabuf_mmap,
	.vmap = drm_gem_dmabuf_vmap,
	.vunmap = drm_gem_dmabuf_vunmap,
};

/**
 * npu_gem_prime_export() - drm_gem_object_funcs.export
 * @obj: a BO of this driver
 * @flags: the dma-buf's file flags
 *
 * Return: the new dma-buf or an ERR_PTR.
 */
struct dma_buf *npu_gem_prime_export(struct drm_gem_object *obj, int flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);

	exp_info.ops = &npu_prime_dmabuf_ops;
	exp_info.size = obj->size;
	exp_info.flags = flags;
	exp_info.priv = obj;
	exp_info.resv = obj->resv;
	return drm_gem_dmabuf_export(obj->dev, &exp_info);
}

/* Creation flags of the BO behind a dma-buf this module exported, else 0. */
static u32 npu_prime_exporter_flags(struct dma_buf *dma_buf)
{
	if (dma_buf->ops != &npu_prime_dmabuf_ops)
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
