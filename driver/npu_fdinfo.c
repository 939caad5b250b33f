// SPDX-License-Identifier: GPL-2.0-only
/*
 * Client usage statistics in /proc/<pid>/fdinfo/<fd>, in the format of
 * Documentation/gpu/drm-usage-stats.rst: the file's buffer objects
 * (drm-total-system, drm-shared-system, drm-resident-system,
 * drm-active-system and the older drm-memory-system, all in bytes) and the
 * time its jobs kept the device busy (drm-engine-npu, in ns).
 *
 * The NPU's one control core executes the jobs of every queue, each with
 * the tensor engines' help; the firmware splits each stretch of busy time
 * (regs.busy_ns) evenly between the jobs executing then and writes each
 * job's share back in its descriptor (npu_job_desc.busy_ns), which the
 * completion handler adds to the context. So the shares of all clients add
 * up to the device's busy time and one "npu" engine (capacity 1) describes
 * it. Jobs failed by a recovery count nothing: the device never wrote them
 * back.
 *
 * Kernels with drm_show_fdinfo() print the common keys (drm-driver,
 * drm-client-id, drm-pdev) and call npu_show_fdinfo(); older ones use
 * npu_fdinfo_show_compat(), which prints them itself.
 */
#include <linux/dma-resv.h>
#include <linux/idr.h>
#include <linux/pci.h>
#include <linux/seq_file.h>

#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_mmu.h"

struct npu_fdinfo_mem {
	u64 total;
	u64 shared;
	u64 resident;
	u64 active;
};

static void npu_fdinfo_mem(struct drm_file *file, struct npu_fdinfo_mem *mem)
{
	struct drm_gem_object *obj;
	int id;

	spin_lock(&file->table_lock);
	idr_for_each_entry(&file->object_idr, obj, id) {
		struct drm_gem_shmem_object *shmem = to_drm_gem_shmem_obj(obj);

		mem->total += obj->size;
		if (obj->handle_count > 1 || obj->dma_buf ||
		    obj->import_attach)
			mem->shared += obj->size;
		/* npu BOs are pinned from creation to release */
		if (obj->import_attach || READ_ONCE(shmem->pages))
			mem->resident += obj->size;
		if (!dma_resv_test_signaled(obj->resv, DMA_RESV_USAGE_BOOKKEEP))
			mem->active += obj->size;
	}
	spin_unlock(&file->table_lock);
}

/**
 * npu_show_fdinfo() - print the npu keys of a file's usage statistics
 * @p: where to print
 * @file: the DRM file
 */
void npu_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;
	struct npu_fdinfo_mem mem = {};

	npu_fdinfo_mem(file, &mem);
	drm_printf(p, "drm-total-system:\t%llu\n", mem.total);
	drm_printf(p, "drm-shared-system:\t%llu\n", mem.shared);
	drm_printf(p, "drm-resident-system:\t%llu\n", mem.resident);
	drm_printf(p, "drm-active-system:\t%llu\n", mem.active);
	/* the key tools older than drm-total-* read */
	drm_printf(p, "drm-memory-system:\t%llu\n", mem.resident);
	drm_printf(p, "drm-engine-npu:\t%llu ns\n",
		   (u64)atomic64_read(&ctx->vm->job_stats.busy_ns));
}

#ifndef NPU_HAVE_DRM_SHOW_FDINFO
static atomic64_t npu_next_client_id = ATOMIC64_INIT(0);

/**
 * npu_fdinfo_client_id() - a system-wide unique id for a new file
 *
 * Return: the id, for kernels whose drm_file has no client_id.
 */
u64 npu_fdinfo_client_id(void)
{
	return atomic64_inc_return(&npu_next_client_id);
}

/**
 * npu_fdinfo_show_compat() - fops.show_fdinfo where the DRM core has none
 * @m: the fdinfo file
 * @f: the npu file
 */
void npu_fdinfo_show_compat(struct seq_file *m, struct file *f)
{
	struct drm_file *file = f->private_data;
	struct npu_context *ctx = file->driver_priv;
	struct drm_printer p = drm_seq_file_printer(m);
	struct npu_device *ndev = ctx->ndev;

	drm_printf(&p, "drm-driver:\t%s\n", NPU_DRIVER_NAME);
	drm_printf(&p, "drm-client-id:\t%llu\n", ctx->client_id);
	drm_printf(&p, "drm-pdev:\t%04x:%02x:%02x.%d\n",
		   pci_domain_nr(ndev->pdev->bus), ndev->pdev->bus->number,
		   PCI_SLOT(ndev->pdev->devfn), PCI_FUNC(ndev->pdev->devfn));
	npu_show_fdinfo(&p, file);
}
#endif
