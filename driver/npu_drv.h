/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Core structures of the npu driver: the device, its hardware queue and the
 * per-file context.
 */
#ifndef NPU_DRV_H
#define NPU_DRV_H

#include <linux/completion.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/gpu_scheduler.h>
#include <drm/npu_accel.h>

#include "npu_compat.h"
#include "npu_hops.h"
#include "npu_hw.h"
#include "npu_reset.h"
#include "npu_telemetry.h"
#include "npu_uqueue.h"

#define NPU_DRIVER_NAME		"npu"
#define NPU_FW_NAME		"npu/npu_fw.bin"

/*
 * Oldest firmware ABI minor of NPU_FW_ABI_MAJOR the driver runs: 1 added
 * the tensor engines and the registers describing them (op_mask, ...).
 */
#define NPU_FW_ABI_MINOR_MIN	1
/* ABI minor from which the firmware kills a job on request (kill_seqno). */
#define NPU_FW_ABI_MINOR_KILL	2
/* ABI minor from which the firmware answers NPU_DB_PING (regs.ping_req). */
#define NPU_FW_ABI_MINOR_PING	4

/* Descriptors in each hardware ring, a power of two. */
#define NPU_RING_ENTRIES	256

/* Priority levels (DRM_NPU_PRIORITY_*); hardware queues are spread over them. */
#define NPU_PRIO_COUNT		(DRM_NPU_PRIORITY_REALTIME + 1)

struct npu_job;
struct npu_vm;

/* module parameters, npu_drv.c */
extern unsigned int npu_heartbeat_ms;
extern unsigned int npu_boot_timeout_ms;
extern unsigned int npu_job_timeout_ms;

/**
 * struct npu_queue - one hardware queue and the scheduler feeding it
 * @ndev: owning device
 * @index: queue number in BAR2
 * @priority: level the queue serves, written to its priority register
 * @user: kept for user-mode queues (npu_uqueue.c): no scheduler feeds it
 * @users: context queues feeding this queue, to spread new ones
 * @name: scheduler name
 * @regs: the queue's struct npu_queue_regs in BAR2
 * @ring: NPU_RING_ENTRIES descriptors in coherent host memory
 * @ring_dma: bus address of @ring
 * @sched: scheduler; its credit limit keeps at most NPU_RING_ENTRIES jobs
 *	between run_job and completion, so a ring slot is never reused early
 * @fence_context: dma_fence context of the hardware fences
 * @lock: protects @tail, @hw_seqno, @inflight and the descriptors of
 *	in-flight jobs; it is also the lock of every hardware fence of the
 *	queue. Taken from the JOB interrupt.
 * @tail: producer index last written to the queue registers
 * @hw_seqno: device-wide sequence number of the last job written
 * @inflight: jobs handed to the device, oldest first (npu_job.inflight)
 */
struct npu_queue {
	struct npu_device *ndev;
	u32 index;
	u32 priority;
	bool user;
	atomic_t users;
	char name[24];
	void __iomem *regs;
	struct npu_job_desc *ring;
	dma_addr_t ring_dma;
	struct drm_gpu_scheduler sched;
	u64 fence_context;

	/* protects tail, hw_seqno, inflight; the hardware fences' lock */
	spinlock_t lock;
	u32 tail;
	u64 hw_seqno;
	struct list_head inflight;
};

/**
 * struct npu_device - one NPU
 * @drm: DRM device, first so devm_drm_dev_alloc can embed it
 * @pdev: the PCI function
 * @bar0: ivshmem registers (doorbell)
 * @bar2: shared memory: registers, mailbox, queues, firmware region
 * @fw_image: the validated npu_fw.bin, kept to reboot after a reset
 * @fw_size: bytes of @fw_image
 * @hw_lock: serializes boot, reset, recovery and translation invalidates,
 *	and protects @fw_ready writes, @dead and the values the firmware
 *	reports at boot
 *	(@fw_version to @packet_version)
 * @state_changed: completed by the CTRL interrupt (regs.state moved)
 * @fw_ready: firmware is up; read by the CTRL interrupt to decide whether
 *	a HALTED state is a crash to recover from
 * @dead: a recovery failed; jobs fail at once until a retry boots the
 *	device again (npu_reset.c)
 * @fw_logged: the firmware version was logged once already
 * @fw_version: version the running firmware reported
 * @fw_abi: ABI the running firmware reported
 * @op_mask: opcodes the running firmware executes (regs.op_mask)
 * @dtype_mask: NPU_DTYPE_* its operations take (regs.dtype_mask)
 * @packet_version: NPU_PACKET_VERSION it speaks (regs.packet_version)
 * @hw_version: regs.hw_version
 * @engine_count: regs.engine_count, at most NPU_MAX_ENGINES (the register
 *	layout has room for no more)
 * @engine_mem_size: regs.engine_mem_size, local memory of each engine
 * @devmem_size: regs.devmem_size
 * @serial: regs.serial
 * @contexts: context id -> struct npu_context; has its own lock
 * @vms_lock: protects @vms
 * @vms: every live address space (npu_vm.dev_link), so that unbind can
 *	release their DMA mappings while files keep them alive
 * @queues: the hardware queues, spread over the priority levels; the
 *	firmware serves higher levels first (see npu_ctx_queue.c)
 * @queue_count: hardware queues in use (regs.num_queues)
 * @reset_wq: ordered; runs the scheduler's timeout handler and @halt_work,
 *	so recoveries never overlap
 * @halt_work: recovery after the firmware reported NPU_STATE_HALTED
 * @reset_count: completed recoveries
 * @coredump: snapshots for devcoredumps (npu_coredump.c)
 * @report: uevents and devcoredumps of recoveries, sent after them
 * @watchdog: heartbeat and lost-interrupt checks, bad-completion and
 *	engine-error recovery
 * @stopped: npu_hw_stop() ran: the device no longer reads memory and its
 *	registers may be gone (under @hw_lock)
 * @inval_seq: number of the latest regs.mmu_inval_req (under @hw_lock)
 * @ping_seq: number of the latest regs.ping_req (under @hw_lock)
 * @ping_done: completed by the PING interrupt (regs.ping_ack moved)
 * @ping_irq_ns: CLOCK_MONOTONIC when the PING interrupt came, written by
 *	its handler before it completes @ping_done
 * @job_irq_ns: CLOCK_MONOTONIC when the JOB interrupt handler was last
 *	entered, for the hop times of the jobs it completes
 * @hop_log: the last jobs' hop times (npu_hops.c, debugfs "hops")
 * @stats: objects alive on the device (npu_telemetry.h)
 * @engine_util: utilisation of each engine, sampled by the watchdog
 * @uq: the hardware queues kept for user-mode queues (npu_uqueue.c)
 */
struct npu_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *bar0;
	void __iomem *bar2;

	const u8 *fw_image;
	size_t fw_size;

	/* serializes boot/reset/recovery; see the kernel-doc above */
	struct mutex hw_lock;
	struct completion state_changed;
	bool fw_ready;
	bool dead;
	bool fw_logged;
	u32 fw_version;
	u32 fw_abi;
	u64 op_mask;
	u32 dtype_mask;
	u32 packet_version;

	u32 hw_version;
	u32 engine_count;
	u64 engine_mem_size;
	u64 devmem_size;
	u64 serial;

	struct xarray contexts;
	/* protects vms */
	struct mutex vms_lock;
	struct list_head vms;
	struct npu_queue queues[NPU_MAX_QUEUES];
	u32 queue_count;

	struct workqueue_struct *reset_wq;
	struct work_struct halt_work;
	atomic_t reset_count;
	struct npu_coredump coredump;
	struct npu_reset_report report;
	struct npu_watchdog watchdog;
	bool stopped;
	u64 inval_seq;
	u64 ping_seq;
	struct completion ping_done;
	u64 ping_irq_ns;
	u64 job_irq_ns;
	struct npu_hop_log hop_log;
	struct npu_dev_stats stats;
	struct npu_engine_util engine_util[NPU_MAX_ENGINES];
	struct npu_uqueue_dev uq;
};

/**
 * struct npu_context - state of one open file
 * @ndev: the device
 * @id: context id (npu_device.contexts), shown in descriptors and logs
 * @vm: the context's device address space
 * @client_id: fdinfo's drm-client-id where drm_file has none
 * @pid: thread group of the opener, for debugfs
 * @comm: command name of the opener, for debugfs
 * @queues: queue id -> struct npu_ctx_queue (npu_ctx_queue.h), queue 0
 *	included; has its own lock
 * @job_limit: jobs the context may have not yet completed (npu_tenant.c)
 * @uqueues: uqueue id -> struct npu_uqueue; has its own lock
 * @uqueue_count: user-mode queues of the context (under npu_device.uq.lock)
 */
struct npu_context {
	struct npu_device *ndev;
	u32 id;
	struct npu_vm *vm;
	u64 client_id;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	struct xarray queues;
	u32 job_limit;
	struct xarray uqueues;
	u32 uqueue_count;
};

static inline struct npu_device *to_npu_device(struct drm_device *drm)
{
	return container_of(drm, struct npu_device, drm);
}

/* Register access to struct npu_regs fields in BAR2. */
#define NPU_REG(field)	(NPU_REGS_OFFSET + offsetof(struct npu_regs, field))
#define NPU_QREG(field)	offsetof(struct npu_queue_regs, field)
/* Register access to a field of engine n's struct npu_engine_regs. */
#define NPU_EREG(n, field) \
	(NPU_ENGINE_OFFSET + (n) * NPU_ENGINE_STRIDE + \
	 offsetof(struct npu_engine_regs, field))

static inline u32 npu_rd32(struct npu_device *ndev, u32 off)
{
	return readl(ndev->bar2 + off);
}

static inline u64 npu_rd64(struct npu_device *ndev, u32 off)
{
	return readq(ndev->bar2 + off);
}

static inline void npu_wr32(struct npu_device *ndev, u32 off, u32 val)
{
	writel(val, ndev->bar2 + off);
}

static inline void npu_wr64(struct npu_device *ndev, u32 off, u64 val)
{
	writeq(val, ndev->bar2 + off);
}

static inline void npu_doorbell(struct npu_device *ndev, u32 vector)
{
	writel(NPU_DOORBELL_VALUE(vector), ndev->bar0 + NPU_BAR0_DOORBELL);
}

/* npu_drv.c */
extern const struct drm_driver npu_drm_driver;

/* npu_pci.c */
extern struct pci_driver npu_pci_driver;

/* npu_fw.c */
int npu_fw_load(struct npu_device *ndev);
int npu_fw_boot(struct npu_device *ndev);
int npu_fw_reset(struct npu_device *ndev);

/* npu_irq.c */
int npu_irq_init(struct npu_device *ndev);

/* npu_reset.c */
int npu_reset_init(struct npu_device *ndev);
int npu_recover(struct npu_device *ndev, struct npu_job *guilty);
bool npu_reset_kill_job(struct npu_device *ndev, struct npu_job *job);
void npu_reset_cancel_jobs(struct npu_device *ndev, struct npu_queue *queue,
			   const void *owner);

/* npu_fdinfo.c */
struct drm_printer;
struct seq_file;

/* npu_ping.c */
int npu_ping(struct npu_device *ndev, u64 *ns);
int npu_ping_clock(struct npu_device *ndev, unsigned int rounds, s64 *offset,
		   u64 *window);
int npu_ping_show(struct seq_file *m, struct npu_device *ndev);

void npu_show_fdinfo(struct drm_printer *p, struct drm_file *file);
void npu_fdinfo_show_compat(struct seq_file *m, struct file *f);

/* npu_drv.c */
int npu_ioctl_get_param(struct drm_device *drm, void *data,
			struct drm_file *file);

#endif /* NPU_DRV_H */
