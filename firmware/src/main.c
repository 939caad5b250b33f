// SPDX-License-Identifier: MIT
/* Boot handshake and the idle loop of the NPU control-core firmware. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drm/npu_packet.h"
#include "fw.h"
#include "heartbeat.h"
#include "log.h"
#include "mmio.h"
#include "sched.h"

/*
 * After the last progress, keep polling stalled WAIT_MEM jobs this long
 * before sleeping in WFE: memory writes that release them ring no doorbell.
 */
#define WAIT_SPIN_NS	1000000u

/*
 * The build id lives in the image header the host loaded in front of us,
 * so it always names the image actually running.
 */
static void copy_build_id(char *buf, size_t size)
{
	const volatile struct npu_fw_header *hdr =
		(const volatile struct npu_fw_header *)(uintptr_t)NPU_CORE_FW_BASE;
	size_t i;

	for (i = 0; i + 1 < size && i < sizeof(hdr->build_id) && hdr->build_id[i];
	     i++)
		buf[i] = hdr->build_id[i];
	buf[i] = '\0';
}

static void boot(void)
{
	char build_id[sizeof(((struct npu_fw_header *)0)->build_id)];
	volatile struct npu_boot_params *bp = BOOT_PARAMS;
	uint32_t heartbeat_ms = bp->heartbeat_ms;
	uint32_t flags = bp->flags;
	uint64_t host_time_ns = bp->host_time_ns;

	copy_build_id(build_id, sizeof(build_id));
	log_init();
	heartbeat_init(heartbeat_ms);
	REGS->fw_version = FW_VERSION;
	REGS->fw_abi = FW_ABI;
	REGS->jobs_done = 0;
	REGS->busy_ns = 0;
	REGS->op_mask = FW_OP_MASK;
	REGS->dtype_mask = FW_DTYPE_MASK;
	REGS->packet_version = NPU_PACKET_VERSION;
	log_printf("npu-fw %u.%u.%u (%s) abi %u.%u: %u queues, %u engines, heartbeat %u ms, host time %llu ns",
		   FW_VERSION_MAJOR, FW_VERSION_MINOR, FW_VERSION_PATCH,
		   build_id, NPU_FW_ABI_MAJOR, NPU_FW_ABI_MINOR,
		   REGS->num_queues, REGS->engine_count,
		   heartbeat_ms ? heartbeat_ms : FW_DEFAULT_HEARTBEAT_MS,
		   (unsigned long long)host_time_ns);
	if (flags)
		log_printf("boot flags 0x%x ignored (must be zero)", flags);
	sched_init();
	/* everything above is visible before the host sees READY */
	mem_fence();
	REGS->state = NPU_STATE_READY;
	irq_raise(NPU_IRQ_CTRL);
}

/*
 * NPU_DB_PING: answer the latest request with an interrupt and nothing
 * else, so the host can time the bare round trip (docs/performance.md).
 */
static void ping_serve(void)
{
	uint64_t req = REGS->ping_req;

	if (req == REGS->ping_ack)
		return;
	REGS->ping_ns = time_ns();
	/* the host reads ping_ns once it sees the answer */
	mem_fence();
	REGS->ping_ack = req;
	irq_raise(NPU_IRQ_PING);
}

int main(void)
{
	uint64_t last_progress = 0;

	boot();
	for (;;) {
		bool waiting;

		ping_serve();
		heartbeat_poll();
		if (sched_run_one(&waiting)) {
			last_progress = time_ns();
			continue;
		}
		if (waiting && time_ns() - last_progress < WAIT_SPIN_NS)
			continue;
		heartbeat_wait_event();
	}
}
