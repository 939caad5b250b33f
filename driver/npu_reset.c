// SPDX-License-Identifier: GPL-2.0-only
/*
 * Recovery: reset the device, reboot the firmware and restart the queues.
 *
 * Triggers: the scheduler's job timeout, the firmware reporting
 * NPU_STATE_HALTED, the heartbeat watchdog (regs.heartbeat frozen for
 * heartbeat_timeout_ms while the firmware should be running), a queue
 * reporting an impossible completion (done_seqno beyond the last job
 * submitted, a written-back descriptor with a foreign seqno or an unknown
 * status) and a job the firmware failed with ENGINE_ERROR (a tensor engine
 * misbehaved, so nothing the device holds is trusted). All run on the
 * ordered npu_device.reset_wq, so recoveries never overlap, and the
 * watchdog never runs during one.
 *
 * The watchdog also completes jobs whose interrupt was lost: every tick it
 * looks at each queue's done_seqno, as the interrupt handler would. It
 * samples the engines' utilisation too (npu_engine.c).
 *
 * Each reset writes a devcoredump (npu_coredump.c) taken before the device
 * is reset, counts in reset_count and sends a KOBJ_CHANGE uevent on the PCI
 * device with NPU_RESET=1, NPU_RESET_REASON=<reason>,
 * NPU_RESET_RESULT=recovered|failed and NPU_RESET_COUNT=<n>.
 *
 * A recovery fails the jobs on the hardware, so it is on the path to
 * dma_fence_signal: whatever it waits for must never wait for memory
 * reclaim, since reclaim may wait for those fences. So it runs inside
 * dma_fence_begin_signalling() (lockdep checks that), the workqueue it runs
 * on is WQ_MEM_RECLAIM, it allocates nothing but with GFP_NOWAIT, and it
 * only records its devcoredump and its uevent: the report work formats and
 * sends them afterwards, outside the signalling path. reset_wq is also
 * freezable: no recovery or watchdog tick runs while the system sleeps
 * (npu_pm.c).
 */
#include <linux/dma-fence.h>
#include <linux/iopoll.h>
#include <linux/jiffies.h>
#include <linux/kobject.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "npu_drv.h"
#include "npu_job.h"
#include "npu_reset.h"

unsigned int npu_heartbeat_timeout_ms = 3000;
module_param_named(heartbeat_timeout_ms, npu_heartbeat_timeout_ms, uint, 0644);
MODULE_PARM_DESC(heartbeat_timeout_ms,
		 "Reset the device when the firmware heartbeat stalls this long in ms, 0 = never (default 3000)");

/* Watchdog period: short, since it also catches lost job interrupts. */
#define NPU_WATCHDOG_MIN_MS	20

static unsigned int npu_dead_retry_ms = 1000;
module_param_named(dead_retry_ms, npu_dead_retry_ms, uint, 0644);
MODULE_PARM_DESC(dead_retry_ms,
		 "A device whose recovery failed is booted again after this many ms, then after twice as long each time (default 1000)");

/* The longest wait between two boot attempts of a dead device. */
#define NPU_RETRY_MAX_MS	60000

/* A heartbeat frozen this long at least means the core is stuck in a job. */
#define NPU_HEARTBEAT_STUCK_MIN_MS	500

/*
 * Time the firmware has to carry out a kill: to drop a WAIT_MEM at once, or
 * to let the job's running tiles finish. A kill not done by then (a hung
 * tensor engine, a core that stopped) takes a reset.
 */
#define NPU_KILL_TIMEOUT_MS		1000

static const char *const npu_reset_reason_names[] = {
	[NPU_RESET_JOB_TIMEOUT] = "job-timeout",
	[NPU_RESET_FW_HALTED] = "firmware-halted",
	[NPU_RESET_HEARTBEAT] = "heartbeat",
	[NPU_RESET_BAD_COMPLETION] = "bad-completion",
	[NPU_RESET_ENGINE_ERROR] = "engine-error",
	[NPU_RESET_RETRY] = "retry",
};

const char *npu_reset_reason_name(enum npu_reset_reason reason)
{
	if (reason >= ARRAY_SIZE(npu_reset_reason_names))
		return "unknown";
	return npu_reset_reason_names[reason];
}

static void npu_reset_uevent(struct npu_device *ndev,
			     const struct npu_reset_event *ev)
{
	char reset_env[] = "NPU_RESET=1";
	char reason_env[48], result_env[32], count_env[32];
	char *envp[5];

	snprintf(reason_env, sizeof(reason_env), "NPU_RESET_REASON=%s",
		 npu_reset_reason_name(ev->reason));
	snprintf(result_env, sizeof(result_env), "NPU_RESET_RESULT=%s",
		 ev->recovered ? "recovered" : "failed");
	snprintf(count_env, sizeof(count_env), "NPU_RESET_COUNT=%d",
		 ev->count);
	envp[0] = reset_env;
	envp[1] = reason_env;
	envp[2] = result_env;
	envp[3] = count_env;
	envp[4] = NULL;
	kobject_uevent_env(&ndev->pdev->dev.kobj, KOBJ_CHANGE, envp);
}

/*
 * Announces the recoveries: their devcoredumps first, so that a listener
 * woken by the uevent finds the dump.
 */
static void npu_reset_report_work(struct work_struct *work)
{
	struct npu_device *ndev = container_of(work, struct npu_device,
					       report.work);
	struct npu_reset_report *rep = &ndev->report;
	struct npu_reset_event ev;
	unsigned long flags;
	u32 dropped = 0;

	npu_coredump_emit(ndev);
	for (;;) {
		spin_lock_irqsave(&rep->lock, flags);
		dropped += rep->dropped;
		rep->dropped = 0;
		if (!rep->count) {
			spin_unlock_irqrestore(&rep->lock, flags);
			break;
		}
		ev = rep->events[rep->first];
		rep->first = (rep->first + 1) % NPU_RESET_EVENTS;
		rep->count--;
		spin_unlock_irqrestore(&rep->lock, flags);
		npu_reset_uevent(ndev, &ev);
	}
	if (dropped)
		drm_warn(&ndev->drm, "%u reset uevents dropped\n", dropped);
}

/* Queues the uevent of a recovery; allocates nothing, formats nothing. */
static void npu_reset_report(struct npu_device *ndev,
			     enum npu_reset_reason reason, bool recovered)
{
	struct npu_reset_report *rep = &ndev->report;
	unsigned long flags;

	spin_lock_irqsave(&rep->lock, flags);
	if (rep->count < NPU_RESET_EVENTS) {
		struct npu_reset_event *ev =
			&rep->events[(rep->first + rep->count) %
				     NPU_RESET_EVENTS];

		ev->reason = reason;
		ev->recovered = recovered;
		ev->count = atomic_read(&ndev->reset_count);
		rep->count++;
	} else {
		rep->dropped++;
	}
	spin_unlock_irqrestore(&rep->lock, flags);
	queue_work(system_unbound_wq, &rep->work);
}

static void npu_watchdog_rearm(struct npu_device *ndev)
{
	ndev->watchdog.hb_seen = npu_rd32(ndev, NPU_REG(heartbeat));
	ndev->watchdog.hb_moved = jiffies;
}

/*
 * Whether the core is stuck: regs.heartbeat, which the firmware bumps every
 * heartbeat_ms between jobs, has not moved for several periods. A core that
 * only polls a WAIT_MEM job or runs short jobs keeps it going, and whatever
 * regs.running_* names at that instant is no culprit.
 */
static bool npu_reset_core_stuck(struct npu_device *ndev)
{
	struct npu_watchdog *wd = &ndev->watchdog;
	unsigned int stuck_ms = max(3 * npu_heartbeat_ms,
				    NPU_HEARTBEAT_STUCK_MIN_MS);

	if (npu_rd32(ndev, NPU_REG(heartbeat)) != wd->hb_seen)
		return false;
	return time_after(jiffies, wd->hb_moved + msecs_to_jiffies(stuck_ms));
}

/*
 * The job the firmware is stuck executing (regs.running_*), if it is still
 * in flight. Every queue waits on the one core, so the job whose timer
 * expired first may be an innocent one queued on another queue; the
 * running one is the culprit. The schedulers are stopped, so the job stays
 * valid until they restart.
 */
static struct npu_job *npu_reset_find_running(struct npu_device *ndev)
{
	u64 seqno = npu_rd64(ndev, NPU_REG(running_seqno));
	u32 index = npu_rd32(ndev, NPU_REG(running_queue));
	struct npu_job *job, *found = NULL;
	struct npu_queue *queue;
	unsigned long flags;

	if (!seqno || index >= ndev->queue_count ||
	    !npu_reset_core_stuck(ndev))
		return NULL;
	queue = &ndev->queues[index];
	spin_lock_irqsave(&queue->lock, flags);
	list_for_each_entry(job, &queue->inflight, inflight) {
		if (job->hw_seqno == seqno) {
			found = job;
			break;
		}
	}
	spin_unlock_irqrestore(&queue->lock, flags);
	return found;
}

/*
 * The first in-flight job the firmware failed with ENGINE_ERROR
 * (npu_job.engine_error), the one an engine-error recovery names. The
 * schedulers are stopped, so the job stays valid until they restart.
 */
static struct npu_job *npu_reset_find_engine_error(struct npu_device *ndev)
{
	struct npu_job *job, *found = NULL;
	unsigned long flags;
	u32 i;

	for (i = 0; i < ndev->queue_count && !found; i++) {
		struct npu_queue *queue = &ndev->queues[i];

		spin_lock_irqsave(&queue->lock, flags);
		list_for_each_entry(job, &queue->inflight, inflight) {
			if (job->engine_error) {
				found = job;
				break;
			}
		}
		spin_unlock_irqrestore(&queue->lock, flags);
	}
	return found;
}

/*
 * After a successful boot (hw_lock held): empty rings, power state, a
 * fresh heartbeat baseline, and one more completed reset.
 */
static void npu_reset_restart(struct npu_device *ndev)
{
	u32 i;

	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_program(&ndev->queues[i]);
	npu_pm_after_reset(ndev);
	npu_watchdog_rearm(ndev);
	atomic_inc(&ndev->reset_count);
}

/*
 * The jobs on the hardware are failed, not resubmitted: the blamed one
 * with TIMEOUT, a job the firmware failed with ENGINE_ERROR with that
 * status, the others with ABORTED, since any of them may depend on state
 * the reset destroyed. After a job timeout or a frozen heartbeat the
 * blamed job is the one the firmware was executing, else the timed-out
 * @timed_out; an engine error names the job that hit it; a firmware crash
 * or a bad completion blames none. Jobs the device completed before the
 * reset keep their results. Jobs not yet handed to the device run after
 * the restart. A spurious timeout (the job finished meanwhile) resets
 * nothing.
 */
static int npu_reset_device(struct npu_device *ndev, struct npu_job *timed_out,
			    enum npu_reset_reason reason)
{
	struct npu_job *guilty = NULL;
	bool fence_cookie;
	int ret = 0;
	u32 i;

	/* a failed reset turns bus mastering off: not to be undone by a resume */
	npu_pm_config_get(ndev);
	mutex_lock(&ndev->hw_lock);
	/* a reset hits every queue: stop all their schedulers */
	for (i = 0; i < ndev->queue_count; i++) {
		struct npu_queue *queue = &ndev->queues[i];
		bool mine = timed_out && timed_out->queue == queue;

		drm_sched_stop(&queue->sched, mine ? &timed_out->base : NULL);
		/* also finds completions whose interrupt was lost */
		npu_queue_handle_done(queue);
	}
	npu_uqueue_irq(ndev);
	/*
	 * From here to the restart the jobs' fences wait for us: nothing may
	 * wait for reclaim. (Stopping the schedulers waits for their run_job
	 * work, itself a signalling section: it stays outside, or lockdep
	 * would see a cycle through hw_lock that cannot deadlock.)
	 */
	fence_cookie = dma_fence_begin_signalling();
	if (timed_out && timed_out->hw_fence &&
	    dma_fence_is_signaled(timed_out->hw_fence))
		goto out_start;

	if (reason == NPU_RESET_JOB_TIMEOUT || reason == NPU_RESET_HEARTBEAT)
		guilty = npu_reset_find_running(ndev);
	else if (reason == NPU_RESET_ENGINE_ERROR)
		guilty = npu_reset_find_engine_error(ndev);
	if (!guilty)
		guilty = timed_out;

	if (guilty)
		drm_err(&ndev->drm, "job %llu of context %u (queue %u) %s, resetting the device: %s\n",
			guilty->seqno, guilty->context_id,
			guilty->queue->index,
			guilty->engine_error ? "failed in a tensor engine" :
					       "hung",
			npu_reset_reason_name(reason));
	else
		drm_err(&ndev->drm, "resetting the device: %s\n",
			npu_reset_reason_name(reason));

	/* the state that explains the failure, before the reset clears it */
	npu_coredump_capture(ndev, guilty, reason);

	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_disable(&ndev->queues[i]);
	ret = npu_fw_boot(ndev);
	/*
	 * A device that did not come back may still be running: cut its
	 * memory access before the jobs' memory can be freed.
	 */
	if (ret)
		pci_clear_master(ndev->pdev);
	/* the core is stopped (or rebooted): nothing touches the jobs now */
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_fail_all(&ndev->queues[i], guilty, -ECANCELED);
	/* user-mode queues stay disabled until their processes destroy them */
	npu_uqueue_lost(ndev);
	atomic_set(&ndev->watchdog.faults, 0);
	if (ret) {
		ndev->watchdog.retry_ms = clamp(READ_ONCE(npu_dead_retry_ms),
						NPU_WATCHDOG_MIN_MS,
						NPU_RETRY_MAX_MS);
		ndev->watchdog.retry_at = jiffies +
			msecs_to_jiffies(ndev->watchdog.retry_ms);
		drm_err(&ndev->drm, "recovery failed (%d), device is dead; retrying in %u ms\n",
			ret, ndev->watchdog.retry_ms);
		WRITE_ONCE(ndev->dead, true);
	} else {
		npu_reset_restart(ndev);
		drm_info(&ndev->drm, "device recovered (reset %d)\n",
			 atomic_read(&ndev->reset_count));
	}
	npu_reset_report(ndev, reason, !ret);

out_start:
	for (i = 0; i < ndev->queue_count; i++)
		npu_sched_start(&ndev->queues[i].sched);
	dma_fence_end_signalling(fence_cookie);
	mutex_unlock(&ndev->hw_lock);
	npu_pm_config_put(ndev);
	return ret;
}

/*
 * Puts a job the scheduler's timeout handler took off its pending list back
 * at its head (it is the oldest job), so that free_job runs for it once
 * its fence signals - as xe does, and DRM_GPU_SCHED_STAT_NO_HANG in later
 * kernels. drm_sched_stop()/drm_sched_start() would cancel every other job
 * in flight on the ring, which the kill leaves running.
 */
static void npu_sched_job_reinsert(struct drm_sched_job *sched_job)
{
	struct drm_gpu_scheduler *sched = sched_job->sched;

	spin_lock(&sched->job_list_lock);
	list_add(&sched_job->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);
}

/* Whether the firmware can be asked to kill a job now; under hw_lock. */
static bool npu_reset_can_kill(struct npu_device *ndev)
{
	lockdep_assert_held(&ndev->hw_lock);
	return (ndev->fw_abi & 0xffff) >= NPU_FW_ABI_MINOR_KILL &&
	       ndev->fw_ready && !ndev->dead && !npu_reset_core_stuck(ndev);
}

/*
 * Asks the firmware to kill @job (kill_seqno, docs/hardware.md "Killing a
 * job") and waits up to NPU_KILL_TIMEOUT_MS for its answer. The caller
 * holds hw_lock, which keeps kills of one queue (one register) apart, and
 * has marked the job kill_requested. Returns whether the job is written
 * back.
 */
static bool npu_reset_kill_wait(struct npu_device *ndev, struct npu_job *job)
{
	struct npu_queue *queue = job->queue;
	u64 seen;

	lockdep_assert_held(&ndev->hw_lock);
	writeq(job->hw_seqno, queue->regs + NPU_QREG(kill_seqno));
	npu_doorbell(ndev, NPU_DB_QUEUE);
	return !readq_poll_timeout(queue->regs + NPU_QREG(killed_seqno), seen,
				   seen == job->hw_seqno, 1000,
				   NPU_KILL_TIMEOUT_MS * USEC_PER_MSEC);
}

/**
 * npu_reset_kill_job() - have the firmware abort a job that overran its time
 * @ndev: the device, inside a drm_dev_enter() section
 * @job: the timed-out job, which the scheduler took off its pending list
 *
 * Asks the firmware to write the job back with TIMEOUT and waits for it.
 * The other jobs - behind it on its ring, on other rings - go on
 * untouched, and nothing is reset. Not tried when the firmware cannot kill
 * (ABI minor below NPU_FW_ABI_MINOR_KILL), is down, or the core is stuck
 * (its heartbeat froze: it answers nothing, and the job it is stuck in, not
 * this one, is to blame).
 *
 * Return: true if the job was killed and is back on the scheduler's pending
 * list, with its fence signalled, or had completed already (the scheduler
 * then frees it, free_guilty); false if the caller must recover the device
 * (the job is then still off the list).
 */
bool npu_reset_kill_job(struct npu_device *ndev, struct npu_job *job)
{
	struct npu_queue *queue = job->queue;
	unsigned long flags;
	bool killed = false;

	mutex_lock(&ndev->hw_lock);
	if (!npu_reset_can_kill(ndev))
		goto out_unlock;

	spin_lock_irqsave(&queue->lock, flags);
	if (!job->hw_fence || dma_fence_is_signaled_locked(job->hw_fence)) {
		spin_unlock_irqrestore(&queue->lock, flags);
		/*
		 * Done meanwhile (or never ran): have the timeout handler free
		 * it, as drm_sched_stop() would, but leave the other jobs of
		 * the ring alone (drm_sched_start() would cancel them).
		 */
		dma_fence_wait(&job->base.s_fence->finished, false);
		job->base.sched->free_guilty = true;
		killed = true;
		goto out_unlock;
	}
	/* from here on, the completion handler leaves the job to us */
	job->killing = true;
	job->kill_requested = true;
	spin_unlock_irqrestore(&queue->lock, flags);

	killed = npu_reset_kill_wait(ndev, job);
	if (killed)
		npu_sched_job_reinsert(&job->base);

	spin_lock_irqsave(&queue->lock, flags);
	job->killing = false;
	spin_unlock_irqrestore(&queue->lock, flags);
	if (killed) {
		/* signals the job with the status written back (TIMEOUT) */
		npu_queue_handle_done(queue);
		dev_warn_ratelimited(ndev->drm.dev,
				     "job %llu of context %u (queue %u) overran its time: killed, nothing reset\n",
				     job->seqno, job->context_id, queue->index);
	} else {
		drm_err(&ndev->drm, "queue %u: the firmware did not kill job %llu within %u ms\n",
			queue->index, job->hw_seqno, NPU_KILL_TIMEOUT_MS);
	}
out_unlock:
	mutex_unlock(&ndev->hw_lock);
	return killed;
}

/* The oldest job of @owner on the device not yet cancelled, referenced. */
static struct npu_job *npu_reset_next_to_cancel(struct npu_queue *queue,
						const void *owner)
{
	struct npu_job *job, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&queue->lock, flags);
	list_for_each_entry(job, &queue->inflight, inflight) {
		if (job->owner == owner && !job->cancelled) {
			job->cancelled = true;
			job->kill_requested = true;
			kref_get(&job->ref);
			found = job;
			break;
		}
	}
	spin_unlock_irqrestore(&queue->lock, flags);
	return found;
}

/**
 * npu_reset_cancel_jobs() - kill the jobs a closed context queue left on
 *	the device
 * @ndev: the device
 * @queue: the hardware queue the context queue fed
 * @owner: the context queue (npu_job.owner), its entity already destroyed
 *
 * Hardware rings are shared between contexts: a job of a closed file
 * parked on WAIT_MEM would hold up every job behind it. Each job of @owner
 * on the device is killed in ring order and completes as ABORTED (a
 * cancelled job is no strike for its context). A kill that is not done in
 * time (an earlier job of another context is stuck in front of it) ends
 * the attempt: that request stays armed in the firmware, and the rest run
 * or time out as usual. Nothing happens when the firmware cannot kill.
 */
void npu_reset_cancel_jobs(struct npu_device *ndev, struct npu_queue *queue,
			   const void *owner)
{
	struct npu_job *job;
	bool killed = true;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return;
	while (killed && (job = npu_reset_next_to_cancel(queue, owner))) {
		mutex_lock(&ndev->hw_lock);
		killed = npu_reset_can_kill(ndev) &&
			 npu_reset_kill_wait(ndev, job);
		mutex_unlock(&ndev->hw_lock);
		/* signals it (ABORTED), and what completed before it */
		npu_queue_handle_done(queue);
		npu_job_put(job);
	}
	drm_dev_exit(idx);
}

/**
 * npu_recover() - reset the device after a job timeout
 * @ndev: the device, inside a drm_dev_enter() section
 * @guilty: the job whose timer expired, or NULL (blame: npu_reset_device())
 *
 * Return: 0, or a negative errno if the device could not be rebooted; it
 * is then marked dead and fails every further job.
 */
int npu_recover(struct npu_device *ndev, struct npu_job *guilty)
{
	return npu_reset_device(ndev, guilty, guilty ? NPU_RESET_JOB_TIMEOUT :
					      NPU_RESET_FW_HALTED);
}

/*
 * Boots a device a recovery left dead again, bus mastering back on; on
 * failure it stays dead (and off the bus) and the next attempt waits twice
 * as long. Nothing is in flight: jobs fail at run_job while dead.
 */
static void npu_retry_dead(struct npu_device *ndev)
{
	struct npu_watchdog *wd = &ndev->watchdog;
	int ret;

	/* bus mastering back on: not to be undone by a resume */
	npu_pm_config_get(ndev);
	mutex_lock(&ndev->hw_lock);
	pci_set_master(ndev->pdev);
	ret = npu_fw_boot(ndev);
	if (ret) {
		pci_clear_master(ndev->pdev);
		wd->retry_ms = min(wd->retry_ms * 2, NPU_RETRY_MAX_MS);
		wd->retry_at = jiffies + msecs_to_jiffies(wd->retry_ms);
		drm_err(&ndev->drm, "device still dead (%d); retrying in %u ms\n",
			ret, wd->retry_ms);
	} else {
		npu_reset_restart(ndev);
		WRITE_ONCE(ndev->dead, false);
		drm_info(&ndev->drm, "dead device recovered (reset %d)\n",
			 atomic_read(&ndev->reset_count));
	}
	mutex_unlock(&ndev->hw_lock);
	npu_pm_config_put(ndev);
	npu_reset_report(ndev, NPU_RESET_RETRY, !ret);
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
		npu_reset_device(ndev, NULL, NPU_RESET_FW_HALTED);
	drm_dev_exit(idx);
}

/**
 * npu_reset_report_fault() - a queue reported a completion to recover from
 * @ndev: the device
 * @fault: NPU_FAULT_BAD_COMPLETION (impossible) or NPU_FAULT_ENGINE_ERROR
 *	(a job the firmware failed in a tensor engine)
 *
 * Called from the JOB interrupt, which then signals nothing more for that
 * queue: the jobs stay in flight until the recovery queued here fails them.
 */
void npu_reset_report_fault(struct npu_device *ndev, unsigned int fault)
{
	atomic_or(fault, &ndev->watchdog.faults);
	queue_work(ndev->reset_wq, &ndev->watchdog.fault_work);
}

static void npu_fault_work(struct work_struct *work)
{
	struct npu_device *ndev = container_of(work, struct npu_device,
					       watchdog.fault_work);
	unsigned int faults;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return;
	/* zero if a recovery since the report has dealt with it */
	faults = atomic_read(&ndev->watchdog.faults);
	if (faults && READ_ONCE(ndev->fw_ready))
		npu_reset_device(ndev, NULL,
				 faults & NPU_FAULT_ENGINE_ERROR ?
				 NPU_RESET_ENGINE_ERROR :
				 faults & NPU_FAULT_UQUEUE_HANG ?
				 NPU_RESET_JOB_TIMEOUT :
				 NPU_RESET_BAD_COMPLETION);
	drm_dev_exit(idx);
}

static unsigned long npu_watchdog_period(void)
{
	return msecs_to_jiffies(max(npu_heartbeat_ms, NPU_WATCHDOG_MIN_MS));
}

static void npu_watchdog_work(struct work_struct *work)
{
	struct npu_device *ndev = container_of(to_delayed_work(work),
					       struct npu_device,
					       watchdog.work);
	struct npu_watchdog *wd = &ndev->watchdog;
	unsigned int timeout_ms = READ_ONCE(npu_heartbeat_timeout_ms);
	u32 hb, i;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return;
	/* the engines count from power-on, whatever the firmware does */
	npu_engines_sample(ndev);
	if (READ_ONCE(ndev->dead) && time_after_eq(jiffies, wd->retry_at))
		npu_retry_dead(ndev);
	if (!READ_ONCE(ndev->fw_ready) || READ_ONCE(ndev->dead)) {
		wd->hb_moved = jiffies;
		goto out_requeue;
	}
	for (i = 0; i < ndev->queue_count; i++)
		npu_queue_handle_done(&ndev->queues[i]);
	/* user-mode jobs that overran their time; a kill not done: reset */
	if (npu_uqueue_watchdog(ndev)) {
		npu_reset_device(ndev, NULL, NPU_RESET_JOB_TIMEOUT);
		npu_watchdog_rearm(ndev);
		goto out_requeue;
	}

	hb = npu_rd32(ndev, NPU_REG(heartbeat));
	if (hb != wd->hb_seen) {
		wd->hb_seen = hb;
		wd->hb_moved = jiffies;
	} else if (timeout_ms &&
		   time_after(jiffies, wd->hb_moved +
			      msecs_to_jiffies(timeout_ms))) {
		drm_err(&ndev->drm, "firmware heartbeat stuck at %u for %u ms\n",
			hb, jiffies_to_msecs(jiffies - wd->hb_moved));
		npu_reset_device(ndev, NULL, NPU_RESET_HEARTBEAT);
		npu_watchdog_rearm(ndev);
	}
out_requeue:
	queue_delayed_work(ndev->reset_wq, &wd->work, npu_watchdog_period());
	drm_dev_exit(idx);
}

/**
 * npu_watchdog_start() - start the periodic health check
 * @ndev: the device, its firmware just booted
 */
void npu_watchdog_start(struct npu_device *ndev)
{
	npu_watchdog_rearm(ndev);
	queue_delayed_work(ndev->reset_wq, &ndev->watchdog.work,
			   npu_watchdog_period());
}

/**
 * npu_watchdog_stop() - stop the health check and pending recoveries
 * @ndev: the device, unplugged: the works no longer requeue
 */
void npu_watchdog_stop(struct npu_device *ndev)
{
	cancel_delayed_work_sync(&ndev->watchdog.work);
	cancel_work_sync(&ndev->watchdog.fault_work);
	/* announce the last recoveries while the PCI device is there */
	flush_work(&ndev->report.work);
}

static void npu_reset_report_fini(struct drm_device *drm, void *data)
{
	struct npu_device *ndev = to_npu_device(drm);

	cancel_work_sync(&ndev->report.work);
}

/**
 * npu_reset_init() - set up the recovery works and the devcoredump snapshot
 * @ndev: the device, at probe
 *
 * Return: 0 or a negative errno.
 */
int npu_reset_init(struct npu_device *ndev)
{
	int ret;

	INIT_WORK(&ndev->halt_work, npu_halt_work);
	INIT_DELAYED_WORK(&ndev->watchdog.work, npu_watchdog_work);
	INIT_WORK(&ndev->watchdog.fault_work, npu_fault_work);
	atomic_set(&ndev->watchdog.faults, 0);
	INIT_WORK(&ndev->report.work, npu_reset_report_work);
	spin_lock_init(&ndev->report.lock);

	/*
	 * Reclaim may wait for job fences, which may wait for a recovery,
	 * which takes hw_lock: teach lockdep, so that it reports any
	 * allocation that may reclaim under hw_lock.
	 */
	if (IS_ENABLED(CONFIG_LOCKDEP)) {
		fs_reclaim_acquire(GFP_KERNEL);
		might_lock(&ndev->hw_lock);
		fs_reclaim_release(GFP_KERNEL);
	}

	ret = npu_coredump_init(ndev);
	if (ret)
		return ret;
	/* runs before the snapshots are freed */
	return drmm_add_action_or_reset(&ndev->drm, npu_reset_report_fini,
					NULL);
}
