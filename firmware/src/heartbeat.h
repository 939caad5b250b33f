/* SPDX-License-Identifier: MIT */
#ifndef FW_HEARTBEAT_H
#define FW_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

/* Starts the heartbeat with a period of period_ms (0 selects the default). */
void heartbeat_init(uint32_t period_ms);

/* Increments regs.heartbeat if a period has passed since the last beat. */
void heartbeat_poll(void);

/*
 * Waits for a doorbell or one heartbeat period (the WFE peripheral),
 * keeping the heartbeat going; returns the NPU_WFE_* bits.
 */
uint32_t heartbeat_wait_event(void);

#endif /* FW_HEARTBEAT_H */
