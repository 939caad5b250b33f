/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * User-mode queues (npu_uqueue.c, npu_uqueue_mmap.c, npu_uqueue_fence.c):
 * hardware queues a process fills itself, through a ring and a doorbell
 * mapped into its address space.
 */
#ifndef NPU_UQUEUE_H
#define NPU_UQUEUE_H

#include <linux/dma-fence.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include <drm/drm_vma_manager.h>

#include "npu_hw.h"

struct drm_device;
struct drm_file;
struct eventfd_ctx;
struct file;
struct npu_context;
struct npu_device;
struct npu_queue;
struct npu_vm;
struct seq_file;
struct vm_area_struct;

/**
 * struct npu_uqueue - one user-mode queue
 * @ref: held by the context's table and by ioctls using the queue
 * @ndev: the device
 * @vm: address space of the creating context (a reference)
 * @hwq: the hardware queue it occupies, for its whole life
 * @id: DRM_NPU uqueue id within the context
 * @context_id: the creating context, written to the queue's context_id
 * @priority: DRM_NPU_PRIORITY_*, the queue's priority register
 * @file: the creating file, the only one allowed to map the queue
 * @eventfd: signalled when done_seqno moves or the queue stops, or NULL
 * @vma_node: mmap offset of the control page, doorbell page and ring
 * @fence_context: dma_fence context of the queue's fences
 * @pm_ref: the queue holds a runtime PM reference (engines stay powered)
 * @lock: protects @state, @destroyed, @error, @done, @failed_seen,
 *	@failed_unmatched, @timeouts and @fences. Taken from the JOB
 *	interrupt.
 * @state: DRM_NPU_UQUEUE_*; never ACTIVE again once it left ACTIVE
 * @destroyed: DESTROY or the file's close took the queue down
 * @error: DRM_NPU_UQUEUE_ERR_* once STOPPED
 * @done: the queue's done_seqno as last read from its register
 * @failed_seen: the queue's failed register as last read
 * @failed_unmatched: failures counted before done_seqno covered them
 * @timeouts: jobs the watchdog killed
 * @fences: pending struct npu_uqueue_fence, by increasing seqno
 * @wd_done: done_seqno at the watchdog's last look (under hw_lock)
 * @wd_moved: jiffies when @wd_done last moved or the queue went idle
 */
struct npu_uqueue {
	struct kref ref;
	struct npu_device *ndev;
	struct npu_vm *vm;
	struct npu_queue *hwq;
	u32 id;
	u32 context_id;
	u32 priority;
	struct drm_file *file;
	struct eventfd_ctx *eventfd;
	struct drm_vma_offset_node vma_node;
	u64 fence_context;
	bool pm_ref;

	/* protects state ... fences; taken in hard irq */
	spinlock_t lock;
	u32 state;
	bool destroyed;
	u32 error;
	u64 done;
	u32 failed_seen;
	u64 failed_unmatched;
	u64 timeouts;
	struct list_head fences;

	u64 wd_done;
	unsigned long wd_moved;
};

/**
 * struct npu_uqueue_dev - the device's hardware queues kept for user mode
 * @first: first of them (the top of the range: [first, queue_count))
 * @count: how many; 0 when user_queues is 0
 * @coherent: DMA needs no bounce buffers nor syncs (probed at probe)
 * @bar0_alone: BAR0 is page-aligned and no other resource shares its page
 * @lock: serializes creation and destruction (programming a hardware queue
 *	for user mode and giving it back) and mmap against revocation;
 *	protects @busy and each queue's mapping state
 * @busy: bit i set while hardware queue @first + i belongs to a user queue
 * @slots_lock: protects @slots; taken in hard irq
 * @slots: the user queue on each hardware queue, by hardware index
 */
struct npu_uqueue_dev {
	u32 first;
	u32 count;
	bool coherent;
	bool bar0_alone;
	/* serializes create/destroy and mmap; protects busy */
	struct mutex lock;
	unsigned long busy;
	/* protects slots; taken in hard irq */
	spinlock_t slots_lock;
	struct npu_uqueue *slots[NPU_MAX_QUEUES];
};

extern int npu_user_queues;
extern unsigned int npu_user_queues_per_context;

u32 npu_uqueue_reserved(struct npu_device *ndev);
int npu_uqueue_dev_init(struct npu_device *ndev);
bool npu_uqueue_available(struct npu_device *ndev);
u32 npu_uqueue_param_count(struct npu_device *ndev);

void npu_uqueue_ctx_init(struct npu_context *ctx);
void npu_uqueue_ctx_fini(struct npu_context *ctx);

void npu_uqueue_irq(struct npu_device *ndev);
bool npu_uqueue_watchdog(struct npu_device *ndev);
void npu_uqueue_lost(struct npu_device *ndev);
void npu_uqueue_revoke_all(struct npu_device *ndev);

int npu_mmap(struct file *filp, struct vm_area_struct *vma);

void npu_uqueue_debugfs_show(struct npu_device *ndev, struct seq_file *m);

int npu_ioctl_uqueue_create(struct drm_device *drm, void *data,
			    struct drm_file *file);
int npu_ioctl_uqueue_destroy(struct drm_device *drm, void *data,
			     struct drm_file *file);
int npu_ioctl_uqueue_fence(struct drm_device *drm, void *data,
			   struct drm_file *file);
int npu_ioctl_uqueue_query(struct drm_device *drm, void *data,
			   struct drm_file *file);

#endif /* NPU_UQUEUE_H */
