/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DMA: what the device can address, and the CPU's and the device's view of
 * buffer objects made the same at job boundaries (docs/driver.md, "DMA").
 */
#ifndef NPU_DMA_H
#define NPU_DMA_H

struct drm_device;
struct drm_file;
struct npu_device;
struct npu_job;

/*
 * Bus address bits the device takes: a PTE holds bits 51-12 of a page's or
 * a table's address (NPU_PTE_ADDR_MASK); the 64-bit registers (ring_base,
 * pt_root) take any of those.
 */
#define NPU_DMA_BITS	52

int npu_dma_init(struct npu_device *ndev);
void npu_job_dma_for_device(struct npu_job *job);
void npu_job_dma_for_cpu(struct npu_job *job);
int npu_ioctl_bo_sync(struct drm_device *drm, void *data,
		      struct drm_file *file);

#endif /* NPU_DMA_H */
