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
 */
struct npu_dev_stats {
	atomic_t bos;
	atomic64_t bo_bytes;
	atomic_t vms;
	atomic_t jobs;
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
 */
struct npu_job_stats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t page_faults;
	atomic64_t last_fault_va;
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

/* npu_sysfs.c */
int npu_sysfs_init(struct npu_device *ndev);

/* npu_hwmon.c */
int npu_hwmon_init(struct npu_device *ndev);

/* npu_debugfs.c */
void npu_debugfs_module_init(void);
void npu_debugfs_module_exit(void);
int npu_debugfs_init(struct npu_device *ndev);

#endif /* NPU_TELEMETRY_H */
