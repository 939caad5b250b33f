// SPDX-License-Identifier: GPL-2.0-only
/*
 * Recovery: reset the device, reboot the firmware and restart the queues.
 * Triggered by the scheduler's job timeout and by the firmware reporting
 * NPU_STATE_HALTED. Both run on the ordered npu_device.reset_wq, so
 * recoveries never overlap.
 */
#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"

/**
 * npu_recover() - reset the device and restart its queues
 * @ndev: the device, inside a drm_dev_enter() section
 * @guilty: the job that timed out, or NULL
 *
 * The jobs on the hardware are failed, not resubmitted: @guilty with
 * TIMEOUT, the others with ABORTED, since any of them may depend on state
 * the reset destroyed. Jobs the device completed before the reset keep
 * their results. Jobs not yet handed to the device run after the restart.
 * A spurious timeout (the job finished meanwhile) resets nothing.
 *
 * Return: 0, or a negative errno if the device could not be rebooted; it
 * is then marked dead and fails every further job.
 */
int npu_recover(struct npu_device *ndev, struct npu_job *guilty)
{
	int ret = 0;
	u32 i;

	mutex_lock(&ndev->hw_lock);
	/* a reset hits every queue: stop all their schedulers */
	for (i = 0; i < ndev->queue_count; i++) {
		struct npu_queue *queue = &ndev->queues[i];
		bool mine = guilty && guilty->queue == queue;

		drm_sched_stop(&queue->sched, mine ? &guilty->base : NULL);
		npu_queue_handle_done(queue);
	}
	if (guilty && guilty->hw_fence &&
	    dma_fence_is_signaled(guilty->hw_fence))
		goto out_start;

	if (guilty)
		drm_err(&ndev->drm, "job %llu of context %u timed out, resetting the device\n",
			guilty->seqno, guilty->context_id);
	else
		drm_err(&ndev->drm, "firmware halted, resetting the device\n");

	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_disable(&ndev->queues[i]);
	ret = npu_fw_boot(ndev);
	/* the core is stopped (or rebooted): nothing touches the jobs now */
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_fail_all(&ndev->queues[i], guilty, -ECANCELED);
	if (ret) {
		drm_err(&ndev->drm, "recovery failed (%d), device is dead\n",
			ret);
		WRITE_ONCE(ndev->dead, true);
	} else {
		for (i = 0; i < ndev->queue_count; i++)
			npu_queue_program(&ndev->queues[i]);
		atomic_inc(&ndev->reset_count);
		drm_info(&ndev->drm, "device recovered\n");
	}

out_start:
	for (i = 0; i < ndev->queue_count; i++)
		npu_sched_start(&ndev->queues[i].sched);
	mutex_unlock(&ndev->hw_lock);
	return ret;
}

static void npu_halt_work(struct work_struct *work)
{
	struct npu_device *ndev = container_of(work, struct npu_device,
					       halt_work);
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return;
	if (npu_rd32(ndev, NPU_REG(state)) == NPU_STATE_HALTED &&
	    READ_ONCE(ndev->fw_ready))
		npu_recover(ndev, NULL);
	drm_dev_exit(idx);
}

void npu_reset_init(struct npu_device *ndev)
{
	INIT_WORK(&ndev->halt_work, npu_halt_work);
}
