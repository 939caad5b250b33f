/* SPDX-License-Identifier: MIT */
/*
 * Access to the control core's two windows onto the outside world: the
 * BAR2 shared memory (registers, queues, log) and the peripheral block
 * (clock, wait-for-event, interrupts, DMA engine). Everything goes through
 * volatile pointers so the compiler neither caches nor merges accesses
 * that another agent observes.
 */
#ifndef FW_MMIO_H
#define FW_MMIO_H

#include <stdint.h>

#include "npu_hw.h"

#define BAR2_PTR(off)	((uintptr_t)NPU_CORE_BAR2_BASE + (off))

#define REGS		((volatile struct npu_regs *)BAR2_PTR(NPU_REGS_OFFSET))
#define BOOT_PARAMS	((volatile struct npu_boot_params *)BAR2_PTR(NPU_MBOX_OFFSET))
#define QUEUE_REGS(n)	((volatile struct npu_queue_regs *) \
			 BAR2_PTR(NPU_QUEUE_OFFSET + (n) * NPU_QUEUE_STRIDE))
#define USER_DOORBELL(n)	((volatile struct npu_user_doorbell *) \
			 BAR2_PTR(NPU_UDB_OFFSET + (n) * NPU_UDB_STRIDE))
#define LOG_RING	((volatile struct npu_log_ring *)BAR2_PTR(NPU_LOG_OFFSET))

static inline uint32_t periph_read32(uint32_t off)
{
	return *(volatile uint32_t *)((uintptr_t)NPU_CORE_PERIPH_BASE + off);
}

static inline uint64_t periph_read64(uint32_t off)
{
	return *(volatile uint64_t *)((uintptr_t)NPU_CORE_PERIPH_BASE + off);
}

static inline void periph_write32(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)((uintptr_t)NPU_CORE_PERIPH_BASE + off) = val;
}

static inline void periph_write64(uint32_t off, uint64_t val)
{
	*(volatile uint64_t *)((uintptr_t)NPU_CORE_PERIPH_BASE + off) = val;
}

/* Order every earlier memory access before every later one. */
static inline void mem_fence(void)
{
	__asm__ volatile("fence rw, rw" ::: "memory");
}

static inline uint64_t time_ns(void)
{
	return periph_read64(NPU_PERIPH_TIME_NS);
}

/* Blocks until a doorbell (NPU_WFE_* bits) or a heartbeat period (0). */
static inline uint32_t wait_for_event(void)
{
	return periph_read32(NPU_PERIPH_WFE);
}

static inline void irq_raise(uint32_t vector)
{
	/* the host must see every earlier write once the MSI-X arrives */
	mem_fence();
	periph_write32(NPU_PERIPH_IRQ_RAISE, vector);
}

#endif /* FW_MMIO_H */
