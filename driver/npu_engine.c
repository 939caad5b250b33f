// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tensor engines as the host sees them: each engine's registers (struct
 * npu_engine_regs at BAR2 + NPU_ENGINE_OFFSET, counters since power-on,
 * kept across resets) and its utilisation, which the watchdog tick samples
 * into a busy share of the last full NPU_ENGINE_UTIL_WINDOW_MS window.
 * sysfs, debugfs and the devcoredump publish them.
 */
#include <linux/ktime.h>
#include <linux/math64.h>

#include "npu_drv.h"
#include "npu_telemetry.h"

/**
 * npu_engine_read() - read one engine's registers
 * @ndev: the device, its BAR2 mapped (inside drm_dev_enter() or before
 *	the device is released)
 * @engine: below ndev->engine_count
 * @snap: filled in; the engine writes concurrently, so fields may come
 *	from slightly different instants
 */
void npu_engine_read(struct npu_device *ndev, u32 engine,
		     struct npu_engine_snapshot *snap)
{
	snap->busy_ns = npu_rd64(ndev, NPU_EREG(engine, busy_ns));
	snap->tasks_done = npu_rd64(ndev, NPU_EREG(engine, tasks_done));
	snap->seqno = npu_rd64(ndev, NPU_EREG(engine, seqno));
	snap->state = npu_rd32(ndev, NPU_EREG(engine, state));
	snap->last_status = npu_rd32(ndev, NPU_EREG(engine, last_status));
	snap->op = npu_rd32(ndev, NPU_EREG(engine, op));
	snap->queue = npu_rd32(ndev, NPU_EREG(engine, queue));
}

/**
 * npu_engine_state_name() - text of an engine's state register
 * @state: NPU_ENGINE_*
 *
 * Return: "idle", "busy" or "unknown".
 */
const char *npu_engine_state_name(u32 state)
{
	switch (state) {
	case NPU_ENGINE_IDLE:
		return "idle";
	case NPU_ENGINE_BUSY:
		return "busy";
	default:
		return "unknown";
	}
}

/**
 * npu_engine_busy_percent() - an engine's busy share of the last full
 *	sampling window
 * @ndev: the device
 * @engine: below ndev->engine_count
 *
 * Return: 0 to 100; 0 until the first window has passed.
 */
u32 npu_engine_busy_percent(struct npu_device *ndev, u32 engine)
{
	return READ_ONCE(ndev->engine_util[engine].busy_percent);
}

/**
 * npu_engines_sample() - close each engine's utilisation window once it
 *	is NPU_ENGINE_UTIL_WINDOW_MS old
 * @ndev: the device, inside drm_dev_enter(); called by the watchdog tick
 *	only, so the windows need no lock
 *
 * The engines count busy time since power-on, across firmware boots and
 * resets, so a window may span a reset. A counter that went backwards (a
 * device that lost power) restarts the window.
 */
void npu_engines_sample(struct npu_device *ndev)
{
	u64 now = ktime_get_ns();
	u32 i;

	for (i = 0; i < ndev->engine_count; i++) {
		struct npu_engine_util *util = &ndev->engine_util[i];
		u64 busy, elapsed, percent;

		if (util->window_start_ns &&
		    now - util->window_start_ns <
		    NPU_ENGINE_UTIL_WINDOW_MS * NSEC_PER_MSEC)
			continue;
		busy = npu_rd64(ndev, NPU_EREG(i, busy_ns));
		if (util->window_start_ns &&
		    busy >= util->window_start_busy_ns) {
			elapsed = now - util->window_start_ns;
			percent = div64_u64((busy - util->window_start_busy_ns) *
					    100, elapsed);
			WRITE_ONCE(util->busy_percent, min_t(u64, percent, 100));
		}
		util->window_start_ns = now;
		util->window_start_busy_ns = busy;
	}
}
