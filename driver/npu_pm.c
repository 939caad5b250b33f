// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runtime power management with autosuspend, and system sleep.
 *
 * Runtime PM: every job holds a runtime PM
 * reference of the PCI device from SUBMIT until the scheduler frees it, so
 * the device suspends autosuspend_ms after its queues drained.
 *
 * Suspend gates the engines (regs.power_state = NPU_POWER_ENGINES_OFF):
 * the firmware stays up, keeps its heartbeat and needs no reboot, so a
 * resume is one register write and the first job after idle pays no boot.
 * A device reset returns the engines to NPU_POWER_ON; a recovery of a
 * suspended device gates them again (npu_pm_after_reset()).
 *
 * System sleep (suspend to idle or RAM, hibernation): the device may lose
 * power, so suspend quiesces it and resume boots it again. By the time the
 * suspend callback runs, user space and the freezable reset workqueue are
 * frozen (no submission, recovery or watchdog tick can start) and the PCI
 * core has runtime-resumed the device. Suspend stops every scheduler from
 * handing more jobs to the device, waits for the jobs already on it to
 * complete (as the JOB interrupt reports them), then stops the firmware.
 * Jobs still queued in the schedulers stay there and run after resume,
 * which reboots the firmware, reprograms the empty rings and restarts the
 * schedulers and the watchdog. If no job completes for NPU_PM_DRAIN_MS
 * while some are still on the device (a WAIT_MEM for the host, a hang),
 * suspend fails with -EBUSY, with everything restarted as it was: system
 * sleep must not abort a job, and the job timeout (frozen meanwhile) deals
 * with a hang.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>

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

/* How long system suspend waits for the next job on the device to complete. */
#define NPU_PM_DRAIN_MS		1000

/*
 * Jobs still on the device, after completing those it finished (also if
 * their interrupt was lost: the watchdog is stopped).
 */
static u32 npu_pm_inflight(struct npu_device *ndev)
{
	struct npu_job *job;
	unsigned long flags;
	u32 i, count = 0;

	for (i = 0; i < ndev->queue_count; i++) {
		struct npu_queue *queue = &ndev->queues[i];

		npu_queue_handle_done(queue);
		spin_lock_irqsave(&queue->lock, flags);
		list_for_each_entry(job, &queue->inflight, inflight)
			count++;
		spin_unlock_irqrestore(&queue->lock, flags);
	}
	return count;
}

static void npu_pm_sched_start(struct npu_device *ndev)
{
	u32 i;

	for (i = 0; i < ndev->queue_count; i++)
		npu_sched_unpause(&ndev->queues[i].sched);
}

static int npu_pm_suspend(struct device *dev)
{
	struct npu_device *ndev = pci_get_drvdata(to_pci_dev(dev));
	unsigned long deadline;
	u32 i, left, last = U32_MAX;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return 0;
	npu_watchdog_stop(ndev);
	for (i = 0; i < ndev->queue_count; i++)
		npu_sched_pause(&ndev->queues[i].sched);

	deadline = jiffies + msecs_to_jiffies(NPU_PM_DRAIN_MS);
	while (!READ_ONCE(ndev->dead) && (left = npu_pm_inflight(ndev))) {
		if (left < last) {
			/* progress: give the next job the full time */
			last = left;
			deadline = jiffies + msecs_to_jiffies(NPU_PM_DRAIN_MS);
		} else if (time_after(jiffies, deadline)) {
			drm_warn(&ndev->drm, "jobs still running after %u ms, not suspending\n",
				 NPU_PM_DRAIN_MS);
			npu_pm_sched_start(ndev);
			npu_watchdog_start(ndev);
			drm_dev_exit(idx);
			return -EBUSY;
		}
		usleep_range(1000, 2000);
	}

	mutex_lock(&ndev->hw_lock);
	if (!ndev->dead) {
		for (i = 0; i < ndev->queue_count; i++)
			npu_queue_disable(&ndev->queues[i]);
		/* the device may lose power: nothing of the firmware survives */
		npu_fw_reset(ndev);
	}
	/* user-mode queues do not survive it either */
	npu_uqueue_lost(ndev);
	mutex_unlock(&ndev->hw_lock);
	drm_dev_exit(idx);
	return 0;
}

static int npu_pm_resume(struct device *dev)
{
	struct npu_device *ndev = pci_get_drvdata(to_pci_dev(dev));
	int ret = 0;
	u32 i;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return 0;
	mutex_lock(&ndev->hw_lock);
	if (!ndev->dead) {
		ret = npu_fw_boot(ndev);
		if (ret) {
			drm_err(&ndev->drm, "firmware boot after resume failed (%d), device is dead\n",
				ret);
			WRITE_ONCE(ndev->dead, true);
		} else {
			for (i = 0; i < ndev->queue_count; i++)
				npu_queue_program(&ndev->queues[i]);
			atomic_set(&ndev->watchdog.faults, 0);
		}
	}
	mutex_unlock(&ndev->hw_lock);
	/* queued jobs run now, or fail at once on a dead device */
	npu_pm_sched_start(ndev);
	npu_watchdog_start(ndev);
	drm_dev_exit(idx);
	/* a dead device is reported by its jobs, not by a failed resume */
	return 0;
}

/*
 * debugfs system_sleep: "echo 1 > system_sleep" runs the system-sleep
 * callbacks on this device, suspend then (if it succeeded) resume, as the
 * PM core would, with the device runtime-resumed. A test hook: a real
 * system sleep of the QEMU guests the tests run in resets their
 * virtio-9p root file system, which cannot be restored (QEMU 7.2 has no
 * No_Soft_Reset virtio PCI power management). Unlike the PM core it does
 * not freeze user space or the reset workqueue.
 */
static ssize_t npu_pm_sleep_write(struct file *file, const char __user *buf,
				  size_t len, loff_t *pos)
{
	struct npu_device *ndev = file_inode(file)->i_private;
	struct device *dev = &ndev->pdev->dev;
	bool go;
	int ret;

	ret = kstrtobool_from_user(buf, len, &go);
	if (ret)
		return ret;
	if (!go)
		return len;
	ret = pm_runtime_resume_and_get(dev);
	if (ret)
		return ret;
	ret = npu_pm_suspend(dev);
	if (!ret)
		npu_pm_resume(dev);
	pm_runtime_mark_last_busy(dev);
	pm_runtime_put_autosuspend(dev);
	return ret ? ret : len;
}

static const struct file_operations npu_pm_sleep_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = npu_pm_sleep_write,
	.llseek = noop_llseek,
};

/**
 * npu_pm_debugfs_init() - add the system_sleep test hook
 * @ndev: the device
 * @dir: its debugfs directory
 */
void npu_pm_debugfs_init(struct npu_device *ndev, struct dentry *dir)
{
	debugfs_create_file("system_sleep", 0200, dir, ndev,
			    &npu_pm_sleep_fops);
}

const struct dev_pm_ops npu_pm_ops = {
	SYSTEM_SLEEP_PM_OPS(npu_pm_suspend, npu_pm_resume)
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

	/*
	 * A runtime-suspended device still runs its firmware: system sleep
	 * must call our callbacks, not leave it as it is (direct_complete).
	 */
	dev_pm_set_driver_flags(dev, DPM_FLAG_NO_DIRECT_COMPLETE);
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
 * npu_pm_config_get() - keep the device runtime-active while its config
 *	space changes
 * @ndev: the device, hw_lock not held (the resume callback takes it)
 *
 * The PCI core saves the config space at runtime suspend and writes it
 * back at runtime resume. Bus mastering switched while the device is
 * suspended would be undone by the next resume: a dead device a retry
 * booted again would lose every MSI-X message (its jobs completed only by
 * the watchdog, debugfs ping timing out), a device a recovery left dead
 * would reach memory again. Called before a recovery or a retry, which may
 * switch it; npu_pm_config_put() ends it. A failed resume is not fatal:
 * the recovery goes on as it would have.
 */
void npu_pm_config_get(struct npu_device *ndev)
{
	/* takes the usage count even when the resume fails */
	pm_runtime_get_sync(&ndev->pdev->dev);
}

/**
 * npu_pm_config_put() - end npu_pm_config_get()
 * @ndev: the device, hw_lock not held
 */
void npu_pm_config_put(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;

	pm_runtime_mark_last_busy(dev);
	pm_runtime_put_autosuspend(dev);
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
