// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts: MSI-X vector NPU_IRQ_CTRL reports regs.state changes,
 * NPU_IRQ_JOB completed jobs, NPU_IRQ_PING an answered round trip. The
 * handlers run in hard-irq context: they only read BAR2, complete, signal
 * fences and queue work. They stay
 * registered until the device's managed resources go, after remove() has
 * stopped the device, so they need no drm_dev_enter() guard: BAR2 is
 * mapped for as long as they are.
 */
#include <linux/interrupt.h>
#include <linux/timekeeping.h>

#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"

static irqreturn_t npu_irq_ctrl(int irq, void *data)
{
	struct npu_device *ndev = data;
	u32 state = npu_rd32(ndev, NPU_REG(state));

	complete(&ndev->state_changed);
	/* a crash of running firmware; boot and reset watch for themselves */
	if (state == NPU_STATE_HALTED && READ_ONCE(ndev->fw_ready))
		queue_work(ndev->reset_wq, &ndev->halt_work);
	return IRQ_HANDLED;
}

static irqreturn_t npu_irq_job(int irq, void *data)
{
	struct npu_device *ndev = data;
	u32 i;

	WRITE_ONCE(ndev->job_irq_ns, ktime_get_ns());
	/* one vector for all queues: look at each */
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_handle_done(&ndev->queues[i]);
	npu_uqueue_irq(ndev);
	return IRQ_HANDLED;
}

static irqreturn_t npu_irq_ping(int irq, void *data)
{
	struct npu_device *ndev = data;

	WRITE_ONCE(ndev->ping_irq_ns, ktime_get_ns());
	complete(&ndev->ping_done);
	return IRQ_HANDLED;
}

/**
 * npu_irq_init() - allocate the MSI-X vectors and request the interrupts
 * @ndev: the device
 *
 * Everything is device-managed: the vectors of a pcim-enabled device are
 * freed with it.
 *
 * Return: 0 or a negative errno.
 */
int npu_irq_init(struct npu_device *ndev)
{
	struct pci_dev *pdev = ndev->pdev;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, NPU_IVSHMEM_VECTORS,
				    NPU_IVSHMEM_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		drm_err(&ndev->drm, "cannot allocate %u MSI-X vectors: %d\n",
			NPU_IVSHMEM_VECTORS, ret);
		return ret;
	}

	ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, NPU_IRQ_CTRL),
			       npu_irq_ctrl, 0, "npu-ctrl", ndev);
	if (ret)
		return ret;
	ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, NPU_IRQ_JOB),
			       npu_irq_job, 0, "npu-job", ndev);
	if (ret)
		return ret;
	return devm_request_irq(&pdev->dev, pci_irq_vector(pdev, NPU_IRQ_PING),
				npu_irq_ping, 0, "npu-ping", ndev);
}
