// SPDX-License-Identifier: MIT
#include "heartbeat.h"

#include "fw.h"
#include "mmio.h"

static uint64_t period_ns;
static uint64_t last_beat_ns;

void heartbeat_init(uint32_t period_ms)
{
	if (!period_ms)
		period_ms = FW_DEFAULT_HEARTBEAT_MS;
	period_ns = (uint64_t)period_ms * 1000000u;
	last_beat_ns = time_ns();
}

static void beat(uint64_t now)
{
	REGS->heartbeat = REGS->heartbeat + 1;
	last_beat_ns = now;
}

void heartbeat_poll(void)
{
	uint64_t now = time_ns();

	if (now - last_beat_ns >= period_ns)
		beat(now);
}

uint32_t heartbeat_wait_event(void)
{
	uint32_t events = wait_for_event();
	uint64_t now = time_ns();

	/*
	 * A timed-out wait means a period passed by the device's own
	 * account; beat then too, so clock rounding never skips one.
	 */
	if (!events || now - last_beat_ns >= period_ns)
		beat(now);
	return events;
}
