// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runtime power management with autosuspend. Every job holds a runtime PM
 * reference of the PCI device from SUBMIT until the scheduler frees it, so
 * the device suspends autosuspend_ms after its queues drained.
 *
 * Suspend gates the engines (regs.power_state = NPU_POWER_ENGINES_OFF):
 * the firmware stays up, keeps its heartbeat and needs no reboot, so a
 * resume is one register write and the first job after idle pays no boot.
 * A device reset returns the engines to NPU_POWER_ON; a recovery of a
 * suspended device gates them again (npu_pm_after_reset()).
 */
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_reset.h"

unsigned int npu_autosuspend_ms = 500;
module_param_named(autosuspend_ms, npu_autosuspend_ms, uint, 0444);
MODULE_PARM_DESC(autosuspend_ms,
		 "Idle time in ms before the device powers its engines down (default 500; power/autosuspend_delay_ms changes it per device)");

static void npu_pm_set_engines(struct npu_device *ndev, bool on)
{
	npu_wr32(ndev, NPU_REG(power_state),
		 on ? NPU_POWER_ON : NPU_POWER_ENGINES_OFF);
}

static int npu_runtime_suspend(struct device *dev)
{
	struct npu_device *ndev = pci_get_drvdata(to_pci_dev(dev));

	mutex_lock(&ndev->hw_lock);
	npu_pm_set_engines(ndev, false);
	mutex_unlock(&ndev->hw_lock);
	return 0;
}

static int npu_runtime_resume(struct device *dev)
{
	struct npu_device *ndev = pci_get_drvdata(to_pci_dev(dev));

	mutex_lock(&ndev->hw_lock);
	npu_pm_set_engines(ndev, true);
	mutex_unlock(&ndev->hw_lock);
	return 0;
}

const struct dev_pm_ops npu_pm_ops = {
	RUNTIME_PM_OPS(npu_runtime_suspend, npu_runtime_resume, NULL)
};

/**
 * npu_pm_init() - let the device runtime-suspend once idle
 * @ndev: the device, at the end of a successful probe
 *
 * Drops the reference the PCI core holds across probe; npu_pm_fini()
 * takes it back.
 */
void npu_pm_init(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;

	pm_runtime_set_autosuspend_delay(dev, npu_autosuspend_ms);
	pm_runtime_use_autosuspend(dev);
	pm_runtime_mark_last_busy(dev);
	pm_runtime_allow(dev);
	pm_runtime_put_autosuspend(dev);
}

/**
 * npu_pm_fini() - undo npu_pm_init()
 * @ndev: the device, in remove(): the PCI core resumed it before
 */
void npu_pm_fini(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;

	pm_runtime_get_noresume(dev);
	pm_runtime_forbid(dev);
	pm_runtime_dont_use_autosuspend(dev);
}

/**
 * npu_pm_after_reset() - gate the engines again if the device is suspended
 * @ndev: the device, with hw_lock held, after a successful reboot
 */
void npu_pm_after_reset(struct npu_device *ndev)
{
	lockdep_assert_held(&ndev->hw_lock);
	if (pm_runtime_suspended(&ndev->pdev->dev))
		npu_pm_set_engines(ndev, false);
}

/**
 * npu_pm_job_get() - keep the device powered for a job
 * @job: the job, at SUBMIT
 *
 * Return: 0 or a negative errno from resuming the device.
 */
int npu_pm_job_get(struct npu_job *job)
{
	struct device *dev = &job->queue->ndev->pdev->dev;
	int ret;

	ret = pm_runtime_resume_and_get(dev);
	if (!ret)
		job->pm_ref = true;
	return ret;
}

/**
 * npu_pm_job_put() - release a job's power reference, if it holds one
 * @job: the job, freed by the scheduler or released
 */
void npu_pm_job_put(struct npu_job *job)
{
	struct device *dev = &job->queue->ndev->pdev->dev;

	if (!job->pm_ref)
		return;
	job->pm_ref = false;
	pm_runtime_mark_last_busy(dev);
	pm_runtime_put_autosuspend(dev);
}
