/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every kernel-API difference the driver spans lives here, keyed on the
 * NPU_HAVE_* results of the compile probes in configure.sh (npu_config.h),
 * never on version numbers: distributions backport.
 */
#ifndef NPU_COMPAT_H
#define NPU_COMPAT_H

#include "npu_config.h"

#include <linux/eventfd.h>
#include <linux/kthread.h>
#include <linux/mm.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/gpu_scheduler.h>

#ifndef NPU_HAVE_SCHED_INIT_ARGS
#error "npu needs drm_sched_init() taking struct drm_sched_init_args"
#endif

/*
 * Accel kernels expose the device as /dev/accel/accelN; older ones as a
 * render node. The two features are mutually exclusive.
 */
#ifdef NPU_HAVE_DRM_ACCEL
#include <drm/drm_accel.h>
#define NPU_DRIVER_NODE_FEATURE		DRIVER_COMPUTE_ACCEL
#define NPU_FOPS_OPEN			accel_open
#else
#define NPU_DRIVER_NODE_FEATURE		DRIVER_RENDER
#define NPU_FOPS_OPEN			drm_open
#endif

/* DRM_ACCEL_FOPS / DRM_GEM_FOPS, whose fop_flags came with 6.12 */
#ifdef FOP_UNSIGNED_OFFSET
#define NPU_FOPS_FLAGS_INIT		.fop_flags = FOP_UNSIGNED_OFFSET,
#else
#define NPU_FOPS_FLAGS_INIT
#endif

/*
 * The PRIME ioctls need these hooks where drm_driver still has them (DRM
 * core defaults to the same functions since they went away).
 */
#ifdef NPU_HAVE_DRIVER_PRIME_FD_HOOKS
#include <drm/drm_prime.h>
#define NPU_DRM_DRIVER_PRIME_FD_INIT \
	.prime_handle_to_fd = drm_gem_prime_handle_to_fd, \
	.prime_fd_to_handle = drm_gem_prime_fd_to_handle,
#else
#define NPU_DRM_DRIVER_PRIME_FD_INIT
#endif

/*
 * mmap of an exported dma-buf (and so of a BO imported from one) goes
 * through this hook where drm_driver still has it; without it the kernel
 * answers -ENOSYS. Later kernels call the object's mmap directly.
 */
#ifdef NPU_HAVE_DRIVER_GEM_PRIME_MMAP
#include <drm/drm_prime.h>
#define NPU_DRM_DRIVER_PRIME_MMAP_INIT	.gem_prime_mmap = drm_gem_prime_mmap,
#else
#define NPU_DRM_DRIVER_PRIME_MMAP_INIT
#endif

/*
 * fdinfo (npu_fdinfo.c): the DRM core prints the common keys and calls
 * drm_driver.show_fdinfo where it has drm_show_fdinfo(); elsewhere the
 * driver prints them all, with a client id of its own.
 */
#ifdef NPU_HAVE_DRM_SHOW_FDINFO
#define NPU_FOPS_SHOW_FDINFO		drm_show_fdinfo
#define NPU_DRM_DRIVER_SHOW_FDINFO_INIT	.show_fdinfo = npu_show_fdinfo,
static inline u64 npu_file_client_id(struct drm_file *file)
{
	return file->client_id;
}
#else
#define NPU_FOPS_SHOW_FDINFO		npu_fdinfo_show_compat
#define NPU_DRM_DRIVER_SHOW_FDINFO_INIT
u64 npu_fdinfo_client_id(void);
static inline u64 npu_file_client_id(struct drm_file *file)
{
	return npu_fdinfo_client_id();
}
#endif

/*
 * The fields of DRM_ACCEL_FOPS / DRM_GEM_FOPS, but mmap: npu_mmap() maps
 * user-mode queues and hands everything else to drm_gem_mmap().
 */
#define NPU_DEFINE_FOPS(name) \
	static const struct file_operations name = { \
		.owner = THIS_MODULE, \
		.open = NPU_FOPS_OPEN, \
		.release = drm_release, \
		.unlocked_ioctl = drm_ioctl, \
		.compat_ioctl = drm_compat_ioctl, \
		.poll = drm_poll, \
		.read = drm_read, \
		.llseek = noop_llseek, \
		.mmap = npu_mmap, \
		NPU_FOPS_FLAGS_INIT \
		.show_fdinfo = NPU_FOPS_SHOW_FDINFO, \
	}

/* Initializer of drm_driver.date where the field still exists. */
#ifdef NPU_HAVE_DRM_DRIVER_DATE
#define NPU_DRM_DRIVER_DATE_INIT	.date = "20250101",
#else
#define NPU_DRM_DRIVER_DATE_INIT
#endif

#ifdef NPU_HAVE_SCHED_STAT_RESET
#define NPU_SCHED_STAT_RESET		DRM_GPU_SCHED_STAT_RESET
#else
#define NPU_SCHED_STAT_RESET		DRM_GPU_SCHED_STAT_NOMINAL
#endif

static inline void npu_sched_init_args_set_rqs(struct drm_sched_init_args *args)
{
#ifdef NPU_HAVE_SCHED_INIT_ARGS_NUM_RQS
	args->num_rqs = DRM_SCHED_PRIORITY_COUNT;
#endif
}

/* Every npu job costs one credit: one ring descriptor. */
static inline int npu_sched_job_init(struct drm_sched_job *job,
				     struct drm_sched_entity *entity,
				     void *owner, struct drm_file *file)
{
#if defined(NPU_HAVE_SCHED_JOB_INIT_CLIENT_ID)
	return drm_sched_job_init(job, entity, 1, owner, file->client_id);
#elif defined(NPU_HAVE_SCHED_JOB_INIT_CREDITS)
	return drm_sched_job_init(job, entity, 1, owner);
#else
	return drm_sched_job_init(job, entity, owner);
#endif
}

/* Restarts a scheduler stopped by drm_sched_stop() after a reset. */
static inline void npu_sched_start(struct drm_gpu_scheduler *sched)
{
#if defined(NPU_HAVE_SCHED_START_NOARG)
	drm_sched_start(sched);
#elif defined(NPU_HAVE_SCHED_START_ERRNO)
	drm_sched_start(sched, 0);
#elif defined(NPU_HAVE_SCHED_START_RECOVERY)
	drm_sched_start(sched, true);
#else
#error "unknown drm_sched_start() signature"
#endif
}

/*
 * Stops and restarts a scheduler handing jobs to the device (system
 * sleep), leaving its jobs where they are: a work queue since 6.8, a
 * kthread to park before.
 */
static inline void npu_sched_pause(struct drm_gpu_scheduler *sched)
{
#ifdef NPU_HAVE_SCHED_WQUEUE
	drm_sched_wqueue_stop(sched);
#else
	kthread_park(sched->thread);
#endif
}

static inline void npu_sched_unpause(struct drm_gpu_scheduler *sched)
{
#ifdef NPU_HAVE_SCHED_WQUEUE
	drm_sched_wqueue_start(sched);
#else
	kthread_unpark(sched->thread);
#endif
}

/* eventfd_signal() lost its count argument in 6.8 */
static inline void npu_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef NPU_HAVE_EVENTFD_SIGNAL_NOARG
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* vma->vm_flags became read-only behind vm_flags_mod() in 6.3 */
static inline void npu_vm_flags_mod(struct vm_area_struct *vma,
				    vm_flags_t set, vm_flags_t clear)
{
#ifdef NPU_HAVE_VM_FLAGS_MOD
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

#endif /* NPU_COMPAT_H */
