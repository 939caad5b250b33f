/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Telemetry: object and job counters, and the interfaces that publish them
 * with the device's registers (sysfs, hwmon, debugfs).
 */
#ifndef NPU_TELEMETRY_H
#define NPU_TELEMETRY_H

#include <linux/atomic.h>
#include <linux/types.h>

#include <drm/npu_accel.h>

struct dentry;
struct npu_device;

/**
 * struct npu_dev_stats - objects alive on a device, for leak detection
 * @bos: buffer objects mapped in some context
 * @bo_bytes: bytes of @bos (sysfs mem_in_use)
 * @vms: context address spaces, including those outliving their file
 * @jobs: submitted jobs not yet released
 * @invalidates: translation invalidates the device acknowledged
 */
struct npu_dev_stats {
	atomic_t bos;
	atomic64_t bo_bytes;
	atomic_t vms;
	atomic_t jobs;
	atomic64_t invalidates;
};

/**
 * struct npu_job_stats - jobs of one context, kept in its address space,
 *	which lives as long as any of its jobs
 * @submitted: jobs accepted by SUBMIT
 * @completed: jobs the device finished with status OK
 * @failed: jobs that finished with any other status
 * @page_faults: failed jobs whose status was PAGE_FAULT (the context is
 *	marked as faulted while this is non-zero)
 * @last_fault_va: fault address of the latest of those
 * @busy_ns: the jobs' shares of the device's busy time, as the firmware
 *	wrote them back (npu_job_desc.busy_ns), for fdinfo's drm-engine-npu
 */
struct npu_job_stats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t page_faults;
	atomic64_t last_fault_va;
	atomic64_t busy_ns;
};

/**
 * struct npu_engine_util - busy share of one tensor engine over the last
 *	full sampling window (NPU_ENGINE_UTIL_WINDOW_MS), written by the
 *	watchdog tick only
 * @window_start_ns: CLOCK_MONOTONIC start of the window being measured, 0
 *	before the first sample
 * @window_start_busy_ns: the engine's busy_ns register at that time
 * @busy_percent: busy share of the last full window, 0 to 100 (read
 *	locklessly by sysfs and debugfs)
 */
struct npu_engine_util {
	u64 window_start_ns;
	u64 window_start_busy_ns;
	u32 busy_percent;
};

/* Length of the window each engine's busy_percent covers. */
#define NPU_ENGINE_UTIL_WINDOW_MS	1000

/**
 * struct npu_engine_snapshot - one tensor engine's registers
 *	(struct npu_engine_regs), read field by field
 * @busy_ns: time spent executing tasks since power-on
 * @tasks_done: tasks completed since power-on
 * @seqno: job seqno of the task running now, 0 when idle
 * @state: NPU_ENGINE_*
 * @last_status: NPU_ENG_ST_* of the last task completed
 * @op: opcode of the running task
 * @queue: hardware queue of the running task
 */
struct npu_engine_snapshot {
	u64 busy_ns;
	u64 tasks_done;
	u64 seqno;
	u32 state;
	u32 last_status;
	u32 op;
	u32 queue;
};

static inline void npu_stats_job_submitted(struct npu_job_stats *stats)
{
	atomic64_inc(&stats->submitted);
}

static inline void npu_stats_job_done(struct npu_job_stats *stats, u32 status,
				      u64 fault_va)
{
	if (status == DRM_NPU_JOB_STATUS_OK) {
		atomic64_inc(&stats->completed);
		return;
	}
	atomic64_inc(&stats->failed);
	if (status == DRM_NPU_JOB_STATUS_PAGE_FAULT) {
		atomic64_set(&stats->last_fault_va, fault_va);
		atomic64_inc(&stats->page_faults);
	}
}

/* npu_engine.c */
void npu_engine_read(struct npu_device *ndev, u32 engine,
		     struct npu_engine_snapshot *snap);
const char *npu_engine_state_name(u32 state);
u32 npu_engine_busy_percent(struct npu_device *ndev, u32 engine);
void npu_engines_sample(struct npu_device *ndev);

/* npu_sysfs.c */
int npu_sysfs_init(struct npu_device *ndev);

/* npu_hwmon.c */
int npu_hwmon_init(struct npu_device *ndev);

/* npu_debugfs.c */
void npu_debugfs_module_init(void);
void npu_debugfs_module_exit(void);
int npu_debugfs_init(struct npu_device *ndev);

#endif /* NPU_TELEMETRY_H */
