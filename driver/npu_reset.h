/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Recovery (npu_reset.c), its devcoredump (npu_coredump.c) and runtime
 * power management (npu_pm.c).
 */
#ifndef NPU_RESET_H
#define NPU_RESET_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/llist.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct npu_device;
struct npu_job;

/* Why the device was reset; npu_reset_reason_name() gives the uevent text. */
enum npu_reset_reason {
	NPU_RESET_JOB_TIMEOUT,
	NPU_RESET_FW_HALTED,
	NPU_RESET_HEARTBEAT,
	NPU_RESET_BAD_COMPLETION,
	NPU_RESET_ENGINE_ERROR,
	NPU_RESET_RETRY,	/* another boot of a device a recovery left dead */
};

/* Faults a completion reports for a recovery to handle (npu_watchdog.faults) */
#define NPU_FAULT_BAD_COMPLETION	BIT(0)	/* impossible completion */
#define NPU_FAULT_ENGINE_ERROR		BIT(1)	/* a job failed in an engine */
/* a disabled user-mode queue stays served (npu_uqueue.c) */
#define NPU_FAULT_UQUEUE_HANG		BIT(2)

/**
 * struct npu_watchdog - device health checks between interrupts
 * @work: periodic check on npu_device.reset_wq while the firmware runs,
 *	so it never overlaps a recovery
 * @hb_seen: regs.heartbeat at the last check
 * @hb_moved: jiffies when @hb_seen last changed (or the firmware booted)
 * @faults: NPU_FAULT_* bits set (from the JOB interrupt) when a queue
 *	reported an impossible completion or a job that failed in a tensor
 *	engine; cleared by the next recovery
 * @fault_work: recovery after such a fault
 * @retry_at: jiffies of the next boot attempt of a dead device
 * @retry_ms: wait before the attempt after that (doubles, capped)
 */
struct npu_watchdog {
	struct delayed_work work;
	u32 hb_seen;
	unsigned long hb_moved;
	atomic_t faults;
	struct work_struct fault_work;
	unsigned long retry_at;
	unsigned int retry_ms;
};

struct npu_dump_snapshot;

/**
 * struct npu_coredump - devcoredump snapshots (npu_coredump.c)
 * @prealloc: snapshot allocated at probe, the one a recovery fills unless
 *	it still waits to be formatted
 * @prealloc_busy: bit 0 set while @prealloc is in use
 * @pending: captured snapshots waiting for npu_coredump_emit()
 */
struct npu_coredump {
	struct npu_dump_snapshot *prealloc;
	unsigned long prealloc_busy;
	struct llist_head pending;
};

/* Recoveries whose uevent waits to be sent; more in a burst are dropped. */
#define NPU_RESET_EVENTS	8

/**
 * struct npu_reset_event - one recovery to announce
 * @reason: why the device was reset
 * @recovered: the firmware came back
 * @count: npu_device.reset_count after the recovery
 */
struct npu_reset_event {
	enum npu_reset_reason reason;
	bool recovered;
	int count;
};

/**
 * struct npu_reset_report - what a recovery reports once it is over
 * @work: formats the devcoredumps, then sends the uevents, on
 *	system_unbound_wq: a recovery is on the fence-signalling path, where
 *	neither may happen
 * @lock: protects @events, @first, @count and @dropped; taken from any
 *	context
 * @events: ring of recoveries not yet announced
 * @first: oldest entry of @events
 * @count: entries used in @events
 * @dropped: events lost to a full ring, logged by @work
 */
struct npu_reset_report {
	struct work_struct work;
	/* protects events, first, count, dropped */
	spinlock_t lock;
	struct npu_reset_event events[NPU_RESET_EVENTS];
	u32 first;
	u32 count;
	u32 dropped;
};

extern unsigned int npu_heartbeat_timeout_ms;
extern unsigned int npu_autosuspend_ms;

const char *npu_reset_reason_name(enum npu_reset_reason reason);
void npu_watchdog_start(struct npu_device *ndev);
void npu_watchdog_stop(struct npu_device *ndev);
void npu_reset_report_fault(struct npu_device *ndev, unsigned int fault);

int npu_coredump_init(struct npu_device *ndev);
void npu_coredump_capture(struct npu_device *ndev, struct npu_job *guilty,
			  enum npu_reset_reason reason);
void npu_coredump_emit(struct npu_device *ndev);

extern const struct dev_pm_ops npu_pm_ops;
void npu_pm_init(struct npu_device *ndev);
void npu_pm_fini(struct npu_device *ndev);
void npu_pm_after_reset(struct npu_device *ndev);
void npu_pm_config_get(struct npu_device *ndev);
void npu_pm_config_put(struct npu_device *ndev);
struct dentry;
void npu_pm_debugfs_init(struct npu_device *ndev, struct dentry *dir);
int npu_pm_job_get(struct npu_job *job);
void npu_pm_job_put(struct npu_job *job);

#endif /* NPU_RESET_H */
