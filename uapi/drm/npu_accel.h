/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * Userspace ABI of the npu accel driver.
 *
 * Rules every ioctl follows: pointers travel as __u64, every padding or
 * reserved field and every unknown flag bit must be zero (-EINVAL
 * otherwise), timeouts are absolute CLOCK_MONOTONIC nanoseconds, and a
 * failed ioctl leaves no object behind.
 */
#ifndef _UAPI_DRM_NPU_ACCEL_H_
#define _UAPI_DRM_NPU_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_NPU_GET_PARAM		0x00
#define DRM_NPU_BO_CREATE		0x01
#define DRM_NPU_BO_INFO			0x02
#define DRM_NPU_SUBMIT			0x03
#define DRM_NPU_WAIT			0x04
#define DRM_NPU_QUEUE_CREATE		0x05
#define DRM_NPU_QUEUE_DESTROY		0x06
#define DRM_NPU_VM_BIND			0x07
#define DRM_NPU_BO_SYNC			0x08
#define DRM_NPU_USERPTR			0x09
#define DRM_NPU_UQUEUE_CREATE		0x0a
#define DRM_NPU_UQUEUE_DESTROY		0x0b
#define DRM_NPU_UQUEUE_FENCE		0x0c
#define DRM_NPU_UQUEUE_QUERY		0x0d

#define DRM_IOCTL_NPU_GET_PARAM \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_GET_PARAM, struct drm_npu_get_param)
#define DRM_IOCTL_NPU_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_BO_CREATE, struct drm_npu_bo_create)
#define DRM_IOCTL_NPU_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_BO_INFO, struct drm_npu_bo_info)
#define DRM_IOCTL_NPU_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_SUBMIT, struct drm_npu_submit)
#define DRM_IOCTL_NPU_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_WAIT, struct drm_npu_wait)
#define DRM_IOCTL_NPU_QUEUE_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_QUEUE_CREATE, \
		 struct drm_npu_queue_create)
#define DRM_IOCTL_NPU_QUEUE_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_NPU_QUEUE_DESTROY, \
		struct drm_npu_queue_destroy)
#define DRM_IOCTL_NPU_VM_BIND \
	DRM_IOW(DRM_COMMAND_BASE + DRM_NPU_VM_BIND, struct drm_npu_vm_bind)
#define DRM_IOCTL_NPU_BO_SYNC \
	DRM_IOW(DRM_COMMAND_BASE + DRM_NPU_BO_SYNC, struct drm_npu_bo_sync)
#define DRM_IOCTL_NPU_USERPTR \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_USERPTR, struct drm_npu_userptr)
#define DRM_IOCTL_NPU_UQUEUE_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_UQUEUE_CREATE, \
		 struct drm_npu_uqueue_create)
#define DRM_IOCTL_NPU_UQUEUE_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_NPU_UQUEUE_DESTROY, \
		struct drm_npu_uqueue_destroy)
#define DRM_IOCTL_NPU_UQUEUE_FENCE \
	DRM_IOW(DRM_COMMAND_BASE + DRM_NPU_UQUEUE_FENCE, \
		struct drm_npu_uqueue_fence)
#define DRM_IOCTL_NPU_UQUEUE_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_UQUEUE_QUERY, \
		 struct drm_npu_uqueue_query)

/* Parameters for DRM_IOCTL_NPU_GET_PARAM */
#define DRM_NPU_PARAM_DEVICE_ID		0  /* PCI device id */
#define DRM_NPU_PARAM_REVISION		1  /* PCI revision */
#define DRM_NPU_PARAM_HW_VERSION	2  /* device hw_version register */
#define DRM_NPU_PARAM_FW_VERSION	3  /* major << 16 | minor << 8 | patch */
#define DRM_NPU_PARAM_FW_ABI		4  /* major << 16 | minor */
#define DRM_NPU_PARAM_DEVMEM_SIZE	5  /* bytes of device memory */
#define DRM_NPU_PARAM_ENGINE_COUNT	6  /* tensor engines */
#define DRM_NPU_PARAM_QUEUE_COUNT	7  /* queues per context, queue 0 incl. */
#define DRM_NPU_PARAM_VA_SIZE		8  /* bytes of device address space */
#define DRM_NPU_PARAM_SERIAL		9  /* unique 64-bit serial number */
#define DRM_NPU_PARAM_CONTEXT_ID	10 /* id of this file's context */
#define DRM_NPU_PARAM_MAX_CMD_SIZE	11 /* largest command buffer, bytes */
/* A context that faulted is marked: its page-fault count and last address */
#define DRM_NPU_PARAM_CONTEXT_FAULTS	12 /* jobs of this file that page-faulted */
#define DRM_NPU_PARAM_CONTEXT_LAST_FAULT 13 /* fault address of the latest one */
/* What the device computes (uapi/drm/npu_packet.h), so runtimes ask */
#define DRM_NPU_PARAM_OP_MASK		14 /* bit n: opcode n executes */
#define DRM_NPU_PARAM_DTYPE_MASK	15 /* bit n: NPU_DTYPE n supported */
#define DRM_NPU_PARAM_PACKET_VERSION	16 /* NPU_PACKET_VERSION spoken */
#define DRM_NPU_PARAM_ENGINE_MEM_SIZE	17 /* local memory per engine, bytes */
#define DRM_NPU_PARAM_OPS_DONE		18 /* operation packets completed since
					    * the firmware booted (0 after a
					    * reset) */
/* Tenant limits */
#define DRM_NPU_PARAM_JOB_LIMIT		19 /* jobs this file may have not yet
					    * completed: SUBMIT fails with
					    * -EBUSY past it */
#define DRM_NPU_PARAM_CONTEXT_BANNED	20 /* 1 once this file's context is
					    * banned (SUBMIT: -ECANCELED) */
#define DRM_NPU_PARAM_VA_START		21 /* lowest device address; bindable
					    * addresses are in [VA_START,
					    * VA_SIZE) */

#define DRM_NPU_PARAM_UQUEUE_COUNT	22 /* user-mode queues a context may
					    * have; 0 where they are not
					    * available (drm_npu_uqueue_create) */
/**
 * struct drm_npu_get_param - read one device or context parameter
 * @param: DRM_NPU_PARAM_* (in)
 * @pad: MBZ
 * @value: the parameter (out)
 */
struct drm_npu_get_param {
	__u32 param;
	__u32 pad;
	__u64 value;
};

/* Flags for DRM_IOCTL_NPU_BO_CREATE */
#define DRM_NPU_BO_DEVICE_READ_ONLY	(1u << 0) /* device writes fault */
#define DRM_NPU_BO_FLAGS		DRM_NPU_BO_DEVICE_READ_ONLY

/**
 * struct drm_npu_bo_create - allocate a buffer object
 * @size: bytes, rounded up to the page size; not zero (in)
 * @flags: DRM_NPU_BO_* (in)
 * @handle: GEM handle of the new object (out)
 * @device_addr: address of the object in this file's device address
 *	space, valid in command packets until the handle is closed (out).
 *	The driver picks the lowest free range from DRM_NPU_PARAM_VA_START
 *	up, so its addresses stay clear of the high ranges userspace binds
 *	with DRM_IOCTL_NPU_VM_BIND
 *
 * The object is backed by system memory, host-mappable through the offset
 * DRM_IOCTL_NPU_BO_INFO returns, and mapped into the creating file's
 * device address space only.
 */
struct drm_npu_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 device_addr;
};

/**
 * struct drm_npu_bo_info - describe a buffer object
 * @handle: GEM handle (in)
 * @flags: MBZ (in); the object's creation flags (out)
 * @size: size in bytes (out)
 * @device_addr: device address in this file's address space (out)
 * @mmap_offset: offset to pass to mmap() on the device file (out)
 */
struct drm_npu_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u64 device_addr;
	__u64 mmap_offset;
};

/**
 * struct drm_npu_submit - queue a command buffer for execution
 * @bo_handles: user pointer to __u32 GEM handles the job uses; the command
 *	buffer must lie inside one of them; a handle listed twice is
 *	rejected with -EINVAL (in)
 * @in_syncobjs: user pointer to __u32 syncobj handles to wait on before
 *	the job runs (in)
 * @cmd_addr: device address of the command buffer, 8-byte aligned, inside
 *	a listed BO: its own address (BO_CREATE's) or a range it is bound at
 *	with DRM_IOCTL_NPU_VM_BIND (in)
 * @cmd_size: bytes of commands, a non-zero multiple of 8, at most
 *	DRM_NPU_PARAM_MAX_CMD_SIZE (in)
 * @bo_count: entries in @bo_handles, 1 to DRM_NPU_MAX_SUBMIT_BOS (in)
 * @in_syncobj_count: entries in @in_syncobjs, at most
 *	DRM_NPU_MAX_IN_SYNCOBJS (in)
 * @out_syncobj: syncobj that receives the job's fence, 0 for none: the
 *	fence replaces the syncobj's, or becomes timeline point @out_point
 *	if that is not zero (in)
 * @queue_id: queue of this file's context: 0 is the default queue every
 *	context has, others come from DRM_IOCTL_NPU_QUEUE_CREATE; -ENOENT
 *	for an id that names no queue (in)
 * @flags: DRM_NPU_SUBMIT_* (in)
 * @pad: MBZ (in)
 * @pad2: MBZ (in)
 * @seqno: the job's sequence number on its queue, for DRM_IOCTL_NPU_WAIT
 *	(out)
 * @in_points: user pointer to @in_syncobj_count __u64 timeline points,
 *	one per entry of @in_syncobjs, or 0 if every in-syncobj is binary.
 *	Point 0 means the syncobj's current fence (binary syncobj); point N
 *	waits for timeline point N; must be 0 without in-syncobjs (in)
 * @out_point: timeline point the job's fence is added to in @out_syncobj
 *	(a dma_fence_chain link), 0 to replace the fence instead; must be
 *	zero without @out_syncobj (in)
 *
 * The job waits for every in-syncobj fence and, implicitly, for the jobs
 * that last used its BOs: writers of any listed BO for all jobs, and all
 * earlier users of a BO the job may write (BOs not created
 * DRM_NPU_BO_DEVICE_READ_ONLY), whatever queue or context they ran on.
 *
 * With DRM_NPU_SUBMIT_EXPLICIT_SYNC the job waits for its in-syncobjs only,
 * none of its BOs' earlier users: the caller orders its jobs itself. Its
 * BOs are still synced for the device (below), and its fence is added to
 * every listed BO's reservation as DMA_RESV_USAGE_BOOKKEEP, so implicit
 * sync users (jobs without the flag, dma-buf importers) do not wait for it
 * while memory-lifetime tracking (BO release, eviction, VM_BIND UNMAP) does.
 *
 * Memory the job sees: the listed BOs are handed to the device when the
 * job starts (what the CPU wrote to them before is what the device reads)
 * and, those the device may write, back to the CPU when it ends, before
 * any of its fences signals (what the device wrote is what the CPU reads
 * once WAIT, a syncobj or the BO's reservation says the job is done).
 * Between the two, where DMA is not coherent (bounce buffers, as in
 * confidential guests), a CPU write during the job, e.g. to release a
 * WAIT_MEM, reaches the device, and a device write the CPU, only through
 * DRM_IOCTL_NPU_BO_SYNC of the bytes exchanged; other CPU writes to the
 * listed BOs during the job may be lost. A BO the job reaches without
 * listing it gets none of this: list every BO the job's packets address.
 *
 * An in-syncobj without a fence (or a timeline point not yet added) is
 * refused with -EINVAL, unless DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT is set: the
 * ioctl then sleeps until the fence is added (wait-before-signal, as
 * DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT), interruptibly, failing with
 * -ETIME if that does not happen within DRM core's 5 s limit.
 *
 * A file has at most DRM_NPU_PARAM_JOB_LIMIT jobs not yet completed
 * (queued or running, whatever their queue): SUBMIT fails with -EBUSY
 * while it has that many, until one of them completes. The limit is the
 * npu module's job_limit parameter when the file was opened.
 *
 * A context whose jobs keep failing in ways that cost the other tenants
 * (TIMEOUT, PAGE_FAULT, ENGINE_ERROR; as many as the npu module's
 * ban_threshold parameter) is banned: SUBMIT fails with -ECANCELED from
 * then on and DRM_NPU_PARAM_CONTEXT_BANNED reads 1. Jobs submitted before
 * still run; other files, including new ones of the same process, are not
 * affected.
 *
 * @in_points and @out_point were appended to the original 64-byte struct;
 * DRM core zero-fills them for callers built against it.
 */
struct drm_npu_submit {
	__u64 bo_handles;
	__u64 in_syncobjs;
	__u64 cmd_addr;
	__u32 cmd_size;
	__u32 bo_count;
	__u32 in_syncobj_count;
	__u32 out_syncobj;
	__u32 queue_id;
	__u32 flags;
	__u32 pad;
	__u32 pad2;
	__u64 seqno;
	__u64 in_points;
	__u64 out_point;
};

/* Flags for DRM_IOCTL_NPU_SUBMIT */
#define DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT	(1u << 0) /* see drm_npu_submit */
#define DRM_NPU_SUBMIT_EXPLICIT_SYNC	(1u << 1) /* no implicit BO waits */
#define DRM_NPU_SUBMIT_FLAGS		(DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT | \
					 DRM_NPU_SUBMIT_EXPLICIT_SYNC)

/*
 * A submit locks every listed BO's reservation under one ww_acquire_ctx;
 * lockdep tracks at most 4095 nested acquisitions of one lock class, so the
 * limit stays well below that.
 */
#define DRM_NPU_MAX_SUBMIT_BOS		1024
#define DRM_NPU_MAX_IN_SYNCOBJS		64
/* WAIT reports the status of this many most recent jobs per queue */
#define DRM_NPU_WAIT_HISTORY		256

/* Job status, as written by the firmware and returned by WAIT */
#define DRM_NPU_JOB_STATUS_OK		0
#define DRM_NPU_JOB_STATUS_BAD_PACKET	1 /* malformed or unknown packet */
#define DRM_NPU_JOB_STATUS_PAGE_FAULT	2 /* see fault_addr */
#define DRM_NPU_JOB_STATUS_TIMEOUT	3 /* killed by the job timeout */
#define DRM_NPU_JOB_STATUS_ABORTED	4 /* lost in a device reset, or
					   * cancelled: its queue or file
					   * went away */
#define DRM_NPU_JOB_STATUS_EXPIRED	5 /* done; older than WAIT_HISTORY */
#define DRM_NPU_JOB_STATUS_ENGINE_ERROR	6 /* a tensor engine failed; the
					   * device was reset */

/**
 * struct drm_npu_wait - wait for a submitted job
 * @seqno: value DRM_IOCTL_NPU_SUBMIT returned (in)
 * @timeout_ns: absolute CLOCK_MONOTONIC deadline; a past deadline polls
 *	(in)
 * @queue_id: queue the job was submitted to; -ENOENT if the context has
 *	no such queue (any more) (in)
 * @flags: MBZ (in)
 * @job_status: DRM_NPU_JOB_STATUS_* (out)
 * @err_offset: byte offset of the failing packet in the command buffer
 *	(out)
 * @fault_addr: faulting device address for PAGE_FAULT (out)
 *
 * Returns 0 once the job is done, -ETIME if the deadline passed first,
 * -EINVAL for a seqno never returned by SUBMIT on that queue.
 */
struct drm_npu_wait {
	__u64 seqno;
	__s64 timeout_ns;
	__u32 queue_id;
	__u32 flags;
	__u32 job_status;
	__u32 err_offset;
	__u64 fault_addr;
};

/* Queue priorities; those above DRM_NPU_PRIORITY_NORMAL need CAP_SYS_NICE */
#define DRM_NPU_PRIORITY_LOW		0
#define DRM_NPU_PRIORITY_NORMAL		1
#define DRM_NPU_PRIORITY_HIGH		2
#define DRM_NPU_PRIORITY_REALTIME	3

/**
 * struct drm_npu_queue_create - create a queue in this file's context
 * @priority: DRM_NPU_PRIORITY_*; -EINVAL above REALTIME, -EPERM for
 *	HIGH and REALTIME without CAP_SYS_NICE: a queue above NORMAL is
 *	served before every NORMAL and LOW queue of all contexts (in)
 * @flags: MBZ (in)
 * @queue_id: id for SUBMIT and WAIT, never 0 and below
 *	DRM_NPU_PARAM_QUEUE_COUNT (out)
 * @pad: MBZ (in)
 *
 * Jobs of one queue run in submission order (each has its own seqno
 * series and WAIT history); jobs of different queues run concurrently,
 * ordered only by syncobjs and shared BOs (as far as the device has
 * hardware queues: queues sharing one also share its FIFO ring, so a job
 * stalled on the device holds up the jobs behind it). The device serves a
 * higher priority before any lower one and shares a priority level fairly
 * between the queues of all contexts. Queue 0, created with every
 * context, has NORMAL priority. -ENOSPC when the context has
 * DRM_NPU_PARAM_QUEUE_COUNT queues already.
 */
struct drm_npu_queue_create {
	__u32 priority;
	__u32 flags;
	__u32 queue_id;
	__u32 pad;
};

/**
 * struct drm_npu_queue_destroy - destroy a queue created by QUEUE_CREATE
 * @queue_id: the queue; -EINVAL for 0, -ENOENT if no such queue (in)
 * @pad: MBZ (in)
 *
 * The ioctl sleeps (killably) until the queue's jobs whose dependencies
 * are still pending have been handed to the device, then cancels the
 * queue's jobs still on the device (hardware rings are shared with other
 * contexts, which they would hold up): they complete with status ABORTED,
 * fence error -ECANCELED, unless they completed first. Wait for the jobs
 * you need before destroying their queue. Closing the file does the same
 * for every queue of the context. SUBMIT and WAIT on the id fail with
 * -ENOENT from then on, until QUEUE_CREATE hands the id out again.
 */
struct drm_npu_queue_destroy {
	__u32 queue_id;
	__u32 pad;
};

/* Operations of DRM_IOCTL_NPU_VM_BIND */
#define DRM_NPU_VM_BIND_OP_MAP		0
#define DRM_NPU_VM_BIND_OP_UNMAP	1

/* Flags for DRM_IOCTL_NPU_VM_BIND */
#define DRM_NPU_VM_BIND_READ_ONLY	(1u << 0) /* device writes fault */
#define DRM_NPU_VM_BIND_FLAGS		DRM_NPU_VM_BIND_READ_ONLY

/**
 * struct drm_npu_vm_bind - map a BO range at a device address of the
 *	caller's choice, or remove such a mapping
 * @op: DRM_NPU_VM_BIND_OP_MAP or DRM_NPU_VM_BIND_OP_UNMAP; anything else
 *	is -EINVAL (in)
 * @flags: DRM_NPU_VM_BIND_* for MAP, MBZ for UNMAP (in).
 *	DRM_NPU_VM_BIND_READ_ONLY maps the range read-only for the device;
 *	a BO created with DRM_NPU_BO_DEVICE_READ_ONLY (or imported from
 *	one) is always bound read-only
 * @handle: MAP: GEM handle of a BO of this file, created here or imported
 *	into this file through PRIME; a handle of another context's BO is
 *	-EINVAL, an unknown handle -ENOENT. UNMAP: MBZ (in)
 * @pad: MBZ (in)
 * @bo_offset: MAP: byte offset into the BO of the first mapped byte,
 *	page-aligned. UNMAP: MBZ (in)
 * @addr: device address of the range, page-aligned (in)
 * @size: bytes, page-aligned, not zero (in)
 *
 * MAP maps [@bo_offset, @bo_offset + @size) of the BO at [@addr, @addr +
 * @size), which must lie inside the BO and inside [DRM_NPU_PARAM_VA_START,
 * DRM_NPU_PARAM_VA_SIZE) (-EINVAL otherwise). A range overlapping any
 * mapping of the address space, whether bound or the address
 * DRM_IOCTL_NPU_BO_CREATE chose (guard page included), is -EBUSY. No guard
 * page follows a bound range. Jobs may use the range at once, without
 * listing the BO (listing it still gives implicit synchronisation). The
 * mapping keeps the BO alive after its handle is closed; a BO may be bound
 * at several addresses, which then alias the same pages.
 *
 * UNMAP takes the @addr and @size of an earlier MAP exactly (-ENOENT
 * otherwise), and removes the mapping from lookup at once (a second UNMAP
 * is -ENOENT). Jobs submitted before the UNMAP still reach the pages. The
 * driver tears the mapping down asynchronously, once those jobs finished:
 * it clears the PTEs, has the device drop cached translations, frees the
 * address range and releases the BO. Jobs submitted after the UNMAP fault
 * there once that happened; until then a MAP overlapping the range still
 * fails with -EBUSY. Closing the file unmaps every bound range the same
 * way.
 *
 * A page is 4096 bytes. A failed call changes nothing.
 */
struct drm_npu_vm_bind {
	__u32 op;
	__u32 flags;
	__u32 handle;
	__u32 pad;
	__u64 bo_offset;
	__u64 addr;
	__u64 size;
};

/* Flags for DRM_IOCTL_NPU_USERPTR */
#define DRM_NPU_USERPTR_DEVICE_READ_ONLY (1u << 0) /* device writes fault */
#define DRM_NPU_USERPTR_FLAGS		DRM_NPU_USERPTR_DEVICE_READ_ONLY

/**
 * struct drm_npu_userptr - make a buffer object of existing process memory
 * @addr: start of the range in the caller's address space, page-aligned,
 *	not 0 (in)
 * @size: bytes, page-aligned, not zero, at most 1 GiB; @addr + @size must
 *	not wrap (in)
 * @flags: DRM_NPU_USERPTR_* (in). DRM_NPU_USERPTR_DEVICE_READ_ONLY pins
 *	the pages for reading only (a read-only mapping may then be
 *	registered) and makes the BO read-only for the device
 * @handle: GEM handle of the new object (out); MBZ on input
 * @device_addr: address of the object in this file's device address space,
 *	chosen like DRM_IOCTL_NPU_BO_CREATE's (out); MBZ on input
 *
 * Pins the pages of [@addr, @addr + @size) (long-term, writable unless
 * DRM_NPU_USERPTR_DEVICE_READ_ONLY) and makes a BO of them: the device and
 * the process then share those very pages. Every page must be mapped,
 * anonymous or file memory that allows long-term pinning (not a DAX or
 * device mapping), and writable unless read-only was asked: -EFAULT
 * otherwise. Anything else invalid is -EINVAL.
 *
 * The BO behaves like a created one (SUBMIT lists it, DRM_IOCTL_NPU_VM_BIND
 * binds it, e.g. at @addr when that lies in [DRM_NPU_PARAM_VA_START,
 * DRM_NPU_PARAM_VA_SIZE), for one pointer on both sides; BO_SYNC syncs it),
 * except that the process already maps it: mmap through the device file is
 * -EINVAL, and it cannot be exported through PRIME (-EOPNOTSUPP). The pages
 * stay pinned while the handle or a binding lives and until the jobs that
 * could use them finished (like any BO's, deferred reclaim); unmapping
 * @addr in the process meanwhile does not free them.
 */
struct drm_npu_userptr {
	__u64 addr;
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 device_addr;
};

/* Flags for DRM_IOCTL_NPU_BO_SYNC: exactly one */
#define DRM_NPU_BO_SYNC_TO_DEVICE	(1u << 0)
#define DRM_NPU_BO_SYNC_FROM_DEVICE	(1u << 1)

/**
 * struct drm_npu_bo_sync - make the CPU's and the device's view of a BO
 *	range agree while a job uses it
 * @handle: GEM handle of a BO of this file, created here or imported into
 *	this file through PRIME; unknown is -ENOENT (in)
 * @flags: exactly one of DRM_NPU_BO_SYNC_TO_DEVICE (the CPU wrote the
 *	range: make the device see it) and DRM_NPU_BO_SYNC_FROM_DEVICE (make
 *	the CPU see what the device wrote there); none, both or an unknown
 *	bit is -EINVAL (in)
 * @offset: byte offset of the range in the BO, any alignment (in)
 * @size: bytes, not zero; a range that does not lie inside the BO is
 *	-EINVAL (in)
 *
 * BOs a job lists in DRM_IOCTL_NPU_SUBMIT are synced for the device when
 * the job starts and for the CPU when it completes. In between, where DMA
 * is not coherent (bounce buffers, such as swiotlb=force, or a bus that
 * does not snoop CPU caches), the device and the CPU do not see each
 * other's writes. This call is what makes data exchange during a running
 * job work there: the CPU writes a word the job polls (a WAIT_MEM gate)
 * and then syncs it TO_DEVICE; the CPU syncs a word the job wrote (a
 * TIMESTAMP, a FENCE) FROM_DEVICE before it reads it. Only the range is
 * synced: keep it to the bytes exchanged, since syncing more would copy
 * stale data over the other side's writes (TO_DEVICE over what the device
 * wrote, FROM_DEVICE over what the CPU wrote).
 *
 * On coherent DMA (x86 without bounce buffers, the default) the call does
 * no copy or cache maintenance: it costs only the ioctl, and programs may
 * issue it unconditionally.
 *
 * After the device was unbound the BO's DMA mapping is gone and the call
 * fails with -ENODEV (the device no longer reads or writes the BO, so
 * nothing is left to sync). The call never waits for jobs.
 */
struct drm_npu_bo_sync {
	__u32 handle;
	__u32 flags;
	__u64 offset;
	__u64 size;
};

/*
 * User-mode submission. A process creates a user-mode queue, maps its
 * control page, doorbell and ring (one mmap), and then launches a job with
 * no system call: it writes a struct drm_npu_uqueue_job into the ring slot
 * tail % ring_entries, increments tail in the control page and writes
 * doorbell_value to the doorbell register. Completion shows in the control
 * page (done_seqno), which the process may poll; to sleep, it waits on the
 * eventfd given at creation or on a syncobj (DRM_IOCTL_NPU_UQUEUE_FENCE).
 *
 * Isolation is the kernel's: every job of the queue runs in the context of
 * the file that created it, with its address space, whatever the process
 * writes into the ring or the control page. The device reads nothing else
 * the process controls but command buffers in that address space. The
 * queue's jobs follow the same rules as submitted ones (packets validated,
 * job_timeout, faults counted toward the ban), except that the kernel does
 * not know which BOs they use: no implicit synchronization, no BO syncing
 * for the device or CPU (which is why user-mode queues exist only where DMA
 * is coherent), and memory freed while a job still uses it is unmapped
 * under that job (it faults; it never reaches freed pages).
 */

/**
 * struct drm_npu_uqueue_control - the first page of a user-mode queue's
 * mapping
 * @tail: producer index, free running (process). At most ring_entries
 *	ahead of @head: more stops the queue (DRM_NPU_UQUEUE_ERR_TAIL).
 * @head: consumer index, free running (device)
 * @done_seqno: jobs of the queue completed (device); the job written at
 *	ring index i (counting from 0 at creation) has seqno i + 1, and its
 *	write-back in the ring is final once @done_seqno >= i + 1
 * @error: DRM_NPU_UQUEUE_ERR_* once the device stopped serving the queue
 *	(device); DRM_IOCTL_NPU_UQUEUE_QUERY tells the kernel's view
 * @pad: MBZ
 *
 * The device never trusts this page beyond @tail; the kernel never trusts
 * it at all.
 */
struct drm_npu_uqueue_control {
	__u32 tail;
	__u32 head;
	__u64 done_seqno;
	__u32 error;
	__u32 pad;
};

/**
 * struct drm_npu_uqueue_job - one descriptor in a user-mode queue's ring
 * @seqno: written back by the device (the job's seqno); ignored on input
 * @cmd_addr: command buffer in the context's address space (process)
 * @cmd_size: bytes, a non-zero multiple of 8, at most
 *	DRM_NPU_PARAM_MAX_CMD_SIZE (process)
 * @context_id: written back by the device (the queue's context); ignored
 * @reserved0: ignored on input, written back as 0
 * @flags: MBZ (process)
 * @status: DRM_NPU_JOB_STATUS_*, written back (device)
 * @err_offset: byte offset of the failing packet, written back (device)
 * @fault_addr: faulting address for PAGE_FAULT, written back (device)
 * @reserved: MBZ (process)
 * @busy_ns: the job's share of device busy time, written back (device)
 *
 * A descriptor with a bad @cmd_size, @flags or @reserved completes with
 * status BAD_PACKET; the queue goes on.
 */
struct drm_npu_uqueue_job {
	__u64 seqno;
	__u64 cmd_addr;
	__u32 cmd_size;
	__u32 context_id;
	__u64 reserved0;
	__u32 flags;
	__u32 status;
	__u64 fault_addr;
	__u32 err_offset;
	__u32 reserved;
	__u64 busy_ns;
};

/**
 * struct drm_npu_uqueue_create - create a user-mode queue in this file's
 *	context
 * @priority: DRM_NPU_PRIORITY_*, with QUEUE_CREATE's rules (in)
 * @flags: MBZ (in)
 * @eventfd: an eventfd the kernel signals whenever the queue's done_seqno
 *	moves or the queue stops, or -1 for none (in)
 * @uqueue_id: id of the new queue, never 0 (out)
 * @ring_entries: descriptors in the ring, a power of two (out)
 * @ring_offset: byte offset of the ring in the mapping (out)
 * @doorbell_offset: byte offset in the mapping of the 32-bit doorbell
 *	register (out)
 * @doorbell_value: the value to write there after moving tail (out)
 * @mmap_offset: offset to pass to mmap() of the device file, with
 *	PROT_READ | PROT_WRITE and MAP_SHARED (out)
 * @mmap_size: bytes to map: the control page (struct
 *	drm_npu_uqueue_control) at 0, the doorbell page, the ring (out)
 *
 * Takes one of the device's hardware queues for the process alone. Fails
 * with -EOPNOTSUPP where user-mode queues are not available
 * (DRM_NPU_PARAM_UQUEUE_COUNT is 0: firmware older than ABI 1.4, DMA that
 * is not coherent, a doorbell that shares its page with other registers,
 * or the npu module's user_queues parameter 0), -EBUSY when every hardware
 * queue kept for user mode is taken, -ENOSPC when the context has
 * DRM_NPU_PARAM_UQUEUE_COUNT of them already, -EPERM/-EINVAL for the
 * priority as QUEUE_CREATE, -EBADF for a bad @eventfd, -ECANCELED for a
 * banned context. Closing the file destroys its user-mode queues.
 */
struct drm_npu_uqueue_create {
	__u32 priority;
	__u32 flags;
	__s32 eventfd;
	__u32 uqueue_id;
	__u32 ring_entries;
	__u32 ring_offset;
	__u32 doorbell_offset;
	__u32 doorbell_value;
	__u64 mmap_offset;
	__u64 mmap_size;
};

/**
 * struct drm_npu_uqueue_destroy - destroy a user-mode queue
 * @uqueue_id: the queue; -ENOENT if this file has no such queue (in)
 * @pad: MBZ
 *
 * Revokes the process's mapping (accesses after this fault with SIGBUS),
 * stops the device serving the queue (a job running is dropped: with the
 * mapping gone nobody could read its write-back), signals the queue's
 * pending fences with -ECANCELED and frees the hardware queue.
 */
struct drm_npu_uqueue_destroy {
	__u32 uqueue_id;
	__u32 pad;
};

/**
 * struct drm_npu_uqueue_fence - a syncobj fence for a user-mode queue's job
 * @uqueue_id: the queue; -ENOENT if this file has no such queue (in)
 * @syncobj: syncobj handle of this file (in)
 * @point: timeline point to add, or 0 to replace the fence of a binary
 *	syncobj (in)
 * @seqno: the job, from 1 up to the jobs written so far (the control
 *	page's tail counts them); -EINVAL beyond (in)
 * @flags: MBZ (in)
 * @pad: MBZ
 *
 * The fence signals once the queue's done_seqno reaches @seqno, with error
 * -EIO if the queue stopped before (a device error or reset, a ban) and
 * -ECANCELED if it was destroyed. It orders submitted jobs (SUBMIT's
 * in-syncobjs) and other devices after user-mode work, and lets the
 * process sleep in DRM_IOCTL_SYNCOBJ_WAIT.
 */
struct drm_npu_uqueue_fence {
	__u32 uqueue_id;
	__u32 syncobj;
	__u64 point;
	__u64 seqno;
	__u32 flags;
	__u32 pad;
};

/* struct drm_npu_uqueue_query.state */
#define DRM_NPU_UQUEUE_ACTIVE		0 /* served */
#define DRM_NPU_UQUEUE_STOPPED		1 /* the device stopped it: see error */
#define DRM_NPU_UQUEUE_LOST		2 /* a device reset ended it */
#define DRM_NPU_UQUEUE_BANNED		3 /* the context was banned */

/* struct drm_npu_uqueue_query.error, drm_npu_uqueue_control.error */
#define DRM_NPU_UQUEUE_ERR_NONE		0
#define DRM_NPU_UQUEUE_ERR_READ		2 /* a descriptor was unreadable */
#define DRM_NPU_UQUEUE_ERR_WRITE	3 /* a write-back failed */
#define DRM_NPU_UQUEUE_ERR_TAIL		4 /* tail beyond the ring */

/**
 * struct drm_npu_uqueue_query - the kernel's view of a user-mode queue
 * @uqueue_id: the queue; -ENOENT if this file has no such queue (in)
 * @state: DRM_NPU_UQUEUE_* (out)
 * @error: DRM_NPU_UQUEUE_ERR_* for STOPPED (out)
 * @hw_queue: hardware queue it occupies, as npu-smi and logs name it (out)
 * @done_seqno: jobs completed (out)
 * @timeouts: jobs the kernel killed for running longer than job_timeout
 *	(out)
 *
 * A queue that is not ACTIVE stays so: destroy it and create another.
 */
struct drm_npu_uqueue_query {
	__u32 uqueue_id;
	__u32 state;
	__u32 error;
	__u32 hw_queue;
	__u64 done_seqno;
	__u64 timeouts;
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_DRM_NPU_ACCEL_H_ */
