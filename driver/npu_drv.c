// SPDX-License-Identifier: GPL-2.0-only
/*
 * npu: DRM accel driver for the virtual NPU (QEMU ivshmem-doorbell
 * 1af4:1110 served by npu-emu).
 *
 * Layout, one concern per file:
 *   (this file)  module, drm_driver, ioctl table, file open/close, GET_PARAM
 *   npu_pci.c    probe/remove, BARs
 *   npu_irq.c    MSI-X vectors and interrupt handlers
 *   npu_fw.c     firmware load/validate, boot and reset handshakes
 *   npu_reset.c  recovery after a job timeout or a firmware crash
 *   npu_mmu.c    per-context device page tables and VA allocation
 *   npu_gem.c    buffer objects (shmem, pinned, mapped at creation)
 *   npu_dma.c    DMA mask, BO syncs for the device and the CPU around jobs
 *   npu_job.c    submit, scheduler backend, hardware fences, WAIT
 *   npu_ctx_queue.c  context queues (QUEUE_CREATE/DESTROY), priorities
 *   npu_uqueue.c user-mode queues (UQUEUE_*); npu_uqueue_mmap.c the device
 *                file's mmap; npu_uqueue_fence.c their completion
 *   npu_engine.c tensor engine registers and utilisation sampling
 *   npu_sysfs.c, npu_hwmon.c, npu_debugfs.c  telemetry (npu_telemetry.h)
 *   npu_compat.h wrappers over kernel API differences, keyed on the
 *                compile probes of configure.sh (npu_config.h)
 *
 * Device nodes: /dev/accel/accelN where the kernel has DRM accel, else a
 * render node. Every open file is a context with its own address space and
 * queues (scheduler entities); jobs of all contexts share one hardware
 * queue per priority level.
 *
 * Lifetime: the PCI device may go (unbind, remove) while files stay open.
 * remove() unplugs the DRM device (ioctls then fail with -ENODEV, workers
 * stop touching hardware), a managed action resets the device and fails
 * in-flight jobs; the scheduler, the reset workqueue and the contexts live
 * on until the last file is closed. The fops owner keeps the module loaded
 * while files are open.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>

#include "npu_ctx_queue.h"
#include "npu_dma.h"
#include "npu_drv.h"
#include "npu_gem.h"
#include "npu_job.h"
#include "npu_mmu.h"
#include "npu_reclaim.h"
#include "npu_tenant.h"
#include "npu_uqueue.h"

unsigned int npu_heartbeat_ms = 100;
module_param_named(heartbeat_ms, npu_heartbeat_ms, uint, 0444);
MODULE_PARM_DESC(heartbeat_ms, "Firmware heartbeat period in ms (default 100)");

unsigned int npu_boot_timeout_ms = 5000;
module_param_named(boot_timeout_ms, npu_boot_timeout_ms, uint, 0644);
MODULE_PARM_DESC(boot_timeout_ms,
		 "Time allowed for firmware boot and device reset in ms (default 5000)");

unsigned int npu_job_timeout_ms = 2000;
module_param_named(job_timeout_ms, npu_job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms,
		 "Job timeout in ms before the device is reset, 0 = never (default 2000)");

static int npu_open(struct drm_device *drm, struct drm_file *file)
{
	struct npu_device *ndev = to_npu_device(drm);
	struct npu_context *ctx;
	int ret, idx;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx) {
		ret = -ENOMEM;
		goto out_exit;
	}
	ctx->ndev = ndev;
	ctx->client_id = npu_file_client_id(file);
	ctx->pid = task_tgid_nr(current);
	ctx->job_limit = max(READ_ONCE(npu_job_limit), 1U);
	get_task_comm(ctx->comm, current);

	ctx->vm = npu_vm_create(ndev);
	if (!ctx->vm) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = xa_alloc(&ndev->contexts, &ctx->id, ctx, xa_limit_32b,
		       GFP_KERNEL);
	if (ret)
		goto err_put_vm;
	ret = npu_ctx_queues_init(ctx);
	if (ret)
		goto err_erase;
	npu_uqueue_ctx_init(ctx);

	file->driver_priv = ctx;
	drm_dev_exit(idx);
	return 0;

err_erase:
	xa_erase(&ndev->contexts, ctx->id);
err_put_vm:
	npu_vm_put(ctx->vm);
err_free:
	kfree(ctx);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

/* Runs after the file's GEM handles are gone. */
static void npu_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct npu_context *ctx = file->driver_priv;

	/* the device is done with them before the address space can go */
	npu_uqueue_ctx_fini(ctx);
	/* waits for queued jobs to reach the device (or kills them) */
	npu_ctx_queues_fini(ctx);
	/* bound ranges go once those jobs are done, as for VM_BIND UNMAP */
	npu_vm_unbind_all(ctx->vm);
	xa_erase(&ctx->ndev->contexts, ctx->id);
	/* jobs still on the device keep the address space alive */
	npu_vm_put(ctx->vm);
	kfree(ctx);
}

int npu_ioctl_get_param(struct drm_device *drm, void *data,
			struct drm_file *file)
{
	struct npu_device *ndev = to_npu_device(drm);
	struct npu_context *ctx = file->driver_priv;
	struct drm_npu_get_param *args = data;
	int ret = 0, idx;

	if (args->pad)
		return -EINVAL;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	switch (args->param) {
	case DRM_NPU_PARAM_DEVICE_ID:
		args->value = ndev->pdev->device;
		break;
	case DRM_NPU_PARAM_REVISION:
		args->value = ndev->pdev->revision;
		break;
	case DRM_NPU_PARAM_HW_VERSION:
		args->value = ndev->hw_version;
		break;
	case DRM_NPU_PARAM_FW_VERSION:
		args->value = READ_ONCE(ndev->fw_version);
		break;
	case DRM_NPU_PARAM_FW_ABI:
		args->value = READ_ONCE(ndev->fw_abi);
		break;
	case DRM_NPU_PARAM_DEVMEM_SIZE:
		args->value = ndev->devmem_size;
		break;
	case DRM_NPU_PARAM_ENGINE_COUNT:
		args->value = ndev->engine_count;
		break;
	case DRM_NPU_PARAM_QUEUE_COUNT:
		/* queues a context can have; valid queue_ids are below it */
		args->value = NPU_CTX_MAX_QUEUES;
		break;
	case DRM_NPU_PARAM_VA_SIZE:
		args->value = NPU_VA_END;
		break;
	case DRM_NPU_PARAM_VA_START:
		args->value = NPU_VA_START;
		break;
	case DRM_NPU_PARAM_SERIAL:
		args->value = ndev->serial;
		break;
	case DRM_NPU_PARAM_CONTEXT_ID:
		args->value = ctx->id;
		break;
	case DRM_NPU_PARAM_MAX_CMD_SIZE:
		args->value = NPU_JOB_CMD_MAX_SIZE;
		break;
	case DRM_NPU_PARAM_CONTEXT_FAULTS:
		args->value = atomic64_read(&ctx->vm->job_stats.page_faults);
		break;
	case DRM_NPU_PARAM_CONTEXT_LAST_FAULT:
		args->value = atomic64_read(&ctx->vm->job_stats.last_fault_va);
		break;
	case DRM_NPU_PARAM_OP_MASK:
		args->value = READ_ONCE(ndev->op_mask);
		break;
	case DRM_NPU_PARAM_DTYPE_MASK:
		args->value = READ_ONCE(ndev->dtype_mask);
		break;
	case DRM_NPU_PARAM_PACKET_VERSION:
		args->value = READ_ONCE(ndev->packet_version);
		break;
	case DRM_NPU_PARAM_ENGINE_MEM_SIZE:
		args->value = ndev->engine_mem_size;
		break;
	case DRM_NPU_PARAM_OPS_DONE:
		/* the firmware counts since it booted */
		args->value = npu_rd64(ndev, NPU_REG(ops_done));
		break;
	case DRM_NPU_PARAM_JOB_LIMIT:
		args->value = ctx->job_limit;
		break;
	case DRM_NPU_PARAM_CONTEXT_BANNED:
		args->value = npu_tenant_banned(ctx);
		break;
	case DRM_NPU_PARAM_UQUEUE_COUNT:
		args->value = npu_uqueue_param_count(ndev);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	drm_dev_exit(idx);
	return ret;
}

static const struct drm_ioctl_desc npu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(NPU_GET_PARAM, npu_ioctl_get_param, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_BO_CREATE, npu_ioctl_bo_create, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_BO_INFO, npu_ioctl_bo_info, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_SUBMIT, npu_ioctl_submit, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_WAIT, npu_ioctl_wait, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_QUEUE_CREATE, npu_ioctl_queue_create,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_QUEUE_DESTROY, npu_ioctl_queue_destroy,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_VM_BIND, npu_ioctl_vm_bind, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_BO_SYNC, npu_ioctl_bo_sync, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_USERPTR, npu_ioctl_userptr, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_UQUEUE_CREATE, npu_ioctl_uqueue_create,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_UQUEUE_DESTROY, npu_ioctl_uqueue_destroy,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_UQUEUE_FENCE, npu_ioctl_uqueue_fence,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_UQUEUE_QUERY, npu_ioctl_uqueue_query,
			  DRM_RENDER_ALLOW),
};

NPU_DEFINE_FOPS(npu_fops);

const struct drm_driver npu_drm_driver = {
	.driver_features = NPU_DRIVER_NODE_FEATURE | DRIVER_GEM |
			   DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
	.open = npu_open,
	.postclose = npu_postclose,
	NPU_DRM_DRIVER_SHOW_FDINFO_INIT
	.gem_create_object = npu_gem_create_object,
	.gem_prime_import = npu_gem_prime_import,
	NPU_DRM_DRIVER_PRIME_FD_INIT
	NPU_DRM_DRIVER_PRIME_MMAP_INIT
	.ioctls = npu_ioctls,
	.num_ioctls = ARRAY_SIZE(npu_ioctls),
	.fops = &npu_fops,
	.name = NPU_DRIVER_NAME,
	.desc = "Virtual NPU",
	NPU_DRM_DRIVER_DATE_INIT
	.major = 1,
	.minor = 0,
};

static int __init npu_init(void)
{
	int ret;

	ret = npu_reclaim_module_init();
	if (ret)
		return ret;
	npu_debugfs_module_init();
	ret = pci_register_driver(&npu_pci_driver);
	if (ret) {
		npu_debugfs_module_exit();
		npu_reclaim_module_exit();
	}
	return ret;
}
module_init(npu_init);

static void __exit npu_exit(void)
{
	pci_unregister_driver(&npu_pci_driver);
	npu_debugfs_module_exit();
	/* releases of address spaces that outlived their device */
	npu_reclaim_module_exit();
}
module_exit(npu_exit);

MODULE_DESCRIPTION("Virtual NPU accelerator driver");
MODULE_LICENSE("GPL");
MODULE_VERSION(NPU_VERSION);
MODULE_FIRMWARE(NPU_FW_NAME);
