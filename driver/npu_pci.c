// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI glue: probe and remove. ivshmem-doorbell functions are claimed only
 * if BAR2 carries the NPU register block; other ivshmem users keep theirs.
 */
#include <linux/module.h>
#include <linux/pci.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "npu_dma.h"
#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_job.h"

#define NPU_BAR_REGS	0
#define NPU_BAR_SHMEM	2

static int npu_map_bars(struct npu_device *ndev)
{
	struct pci_dev *pdev = ndev->pdev;
	void __iomem *const *table;
	int ret;

	if (pci_resource_len(pdev, NPU_BAR_SHMEM) < NPU_BAR2_MIN_SIZE)
		return -ENODEV;
	ret = pcim_iomap_regions(pdev, BIT(NPU_BAR_REGS) | BIT(NPU_BAR_SHMEM),
				 NPU_DRIVER_NAME);
	if (ret)
		return ret;
	table = pcim_iomap_table(pdev);
	ndev->bar0 = table[NPU_BAR_REGS];
	ndev->bar2 = table[NPU_BAR_SHMEM];
	if (npu_rd32(ndev, NPU_REG(id)) != NPU_ID_MAGIC)
		return -ENODEV;
	return 0;
}

static void npu_read_identity(struct npu_device *ndev)
{
	ndev->hw_version = npu_rd32(ndev, NPU_REG(hw_version));
	ndev->engine_count = npu_rd32(ndev, NPU_REG(engine_count));
	if (ndev->engine_count > NPU_MAX_ENGINES) {
		dev_warn(&ndev->pdev->dev, "device reports %u tensor engines, using the first %u\n",
			 ndev->engine_count, NPU_MAX_ENGINES);
		ndev->engine_count = NPU_MAX_ENGINES;
	}
	ndev->engine_mem_size = npu_rd64(ndev, NPU_REG(engine_mem_size));
	ndev->devmem_size = npu_rd64(ndev, NPU_REG(devmem_size));
	ndev->serial = npu_rd64(ndev, NPU_REG(serial));
	ndev->queue_count = min_t(u32, npu_rd32(ndev, NPU_REG(num_queues)),
				  NPU_MAX_QUEUES);
	/* invalidates count on from an earlier driver's (hardware.md §8) */
	if (ndev->hw_version >= NPU_HW_VERSION_MMU_INVAL)
		ndev->inval_seq = npu_rd64(ndev, NPU_REG(mmu_inval_req));
}

static void npu_destroy_reset_wq(struct drm_device *drm, void *data)
{
	destroy_workqueue(data);
}

/*
 * Managed action, runs before the interrupts are freed and BARs unmapped:
 * stops the device and fails what it had in flight, so no fence waits for
 * hardware that is gone.
 */
static void npu_hw_stop(void *data)
{
	struct npu_device *ndev = data;
	u32 i;

	/* no new halt work once fw_ready is off */
	WRITE_ONCE(ndev->fw_ready, false);
	cancel_work_sync(&ndev->halt_work);
	npu_watchdog_stop(ndev);
	mutex_lock(&ndev->hw_lock);
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_disable(&ndev->queues[i]);
	npu_fw_reset(ndev);
	/*
	 * Whether or not the reset took, the device must not reach memory
	 * once its jobs fail and their memory can be freed.
	 */
	pci_clear_master(ndev->pdev);
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_fail_all(&ndev->queues[i], NULL, -ENODEV);
	npu_uqueue_lost(ndev);
	ndev->stopped = true;
	mutex_unlock(&ndev->hw_lock);
	/* the BARs and rings go with the device: out of every process */
	npu_uqueue_revoke_all(ndev);
	/* the device no longer reads memory: open files' mappings can go */
	npu_gem_release_dma(ndev);
}

static int npu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct npu_device *ndev;
	int ret;
	u32 i;

	ndev = devm_drm_dev_alloc(dev, &npu_drm_driver, struct npu_device, drm);
	if (IS_ERR(ndev))
		return PTR_ERR(ndev);
	ndev->pdev = pdev;
	pci_set_drvdata(pdev, ndev);

	ret = drmm_mutex_init(&ndev->drm, &ndev->hw_lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&ndev->drm, &ndev->vms_lock);
	if (ret)
		return ret;
	init_completion(&ndev->state_changed);
	init_completion(&ndev->ping_done);
	xa_init_flags(&ndev->contexts, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&ndev->vms);
	ret = npu_reset_init(ndev);
	if (ret)
		return ret;
	ret = npu_hop_log_init(ndev);
	if (ret)
		return ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = npu_map_bars(ndev);
	if (ret) {
		if (ret == -ENODEV)
			dev_info(dev, "ivshmem device without NPU registers, not claimed\n");
		return ret;
	}
	ret = npu_dma_init(ndev);
	if (ret)
		return ret;
	/* MSI-X messages are bus-master writes */
	pci_set_master(pdev);
	npu_read_identity(ndev);
	if (!ndev->queue_count) {
		dev_err(dev, "device reports no hardware queue\n");
		return -ENODEV;
	}

	ret = npu_fw_load(ndev);
	if (ret)
		return ret;

	/* on the fence-signalling path; frozen during system sleep */
	ndev->reset_wq = alloc_ordered_workqueue("npu-reset",
						 WQ_MEM_RECLAIM | WQ_FREEZABLE);
	if (!ndev->reset_wq)
		return -ENOMEM;
	ret = drmm_add_action_or_reset(&ndev->drm, npu_destroy_reset_wq,
				       ndev->reset_wq);
	if (ret)
		return ret;

	/* the top queues may be kept for user mode */
	ret = npu_uqueue_dev_init(ndev);
	if (ret)
		return ret;
	for (i = 0; i < ndev->queue_count; i++) {
		ret = npu_queue_init(ndev, &ndev->queues[i], i);
		if (ret)
			return ret;
	}
	ret = npu_irq_init(ndev);
	if (ret)
		return ret;
	ret = devm_add_action_or_reset(dev, npu_hw_stop, ndev);
	if (ret)
		return ret;

	ret = npu_fw_boot(ndev);
	if (ret)
		return ret;
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_program(&ndev->queues[i]);

	/* before the node appears, so a failure needs no unregister */
	ret = npu_sysfs_init(ndev);
	if (ret)
		return ret;
	ret = npu_hwmon_init(ndev);
	if (ret)
		return ret;
	ret = npu_debugfs_init(ndev);
	if (ret)
		return ret;

	ret = drm_dev_register(&ndev->drm, 0);
	if (ret)
		return ret;
	npu_watchdog_start(ndev);
	npu_pm_init(ndev);
	return 0;
}

static void npu_remove(struct pci_dev *pdev)
{
	struct npu_device *ndev = pci_get_drvdata(pdev);

	/* waits for ioctls and workers inside drm_dev_enter() sections */
	drm_dev_unplug(&ndev->drm);
	npu_pm_fini(ndev);
	/* npu_hw_stop() and the other managed resources do the rest */
}

static const struct pci_device_id npu_pci_ids[] = {
	{ PCI_DEVICE(NPU_PCI_VENDOR_ID, NPU_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, npu_pci_ids);

struct pci_driver npu_pci_driver = {
	.name = NPU_DRIVER_NAME,
	.id_table = npu_pci_ids,
	.probe = npu_probe,
	.remove = npu_remove,
	.driver.pm = pm_ptr(&npu_pm_ops),
};
