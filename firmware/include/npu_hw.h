/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Hardware interface of the virtual NPU, shared verbatim by the kernel
 * driver, the firmware and the emulator. docs/hardware.md explains it.
 *
 * Every structure here lives in memory that two agents access (BAR2 shared
 * memory or host DMA memory); fields are naturally aligned little-endian
 * and each struct's size is pinned by a static assertion at the bottom.
 */
#ifndef NPU_HW_H
#define NPU_HW_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef u8 npu_u8;
typedef u16 npu_u16;
typedef u32 npu_u32;
typedef u64 npu_u64;
#else
#include <stdint.h>
typedef uint8_t npu_u8;
typedef uint16_t npu_u16;
typedef uint32_t npu_u32;
typedef uint64_t npu_u64;
#endif

/* ---- PCI identity (QEMU ivshmem-doorbell) ---------------------------- */
#define NPU_PCI_VENDOR_ID		0x1af4
#define NPU_PCI_DEVICE_ID		0x1110

/* BAR0: ivshmem registers; the doorbell is the only one the stack uses. */
#define NPU_BAR0_DOORBELL		0x0c
/* value written to the doorbell: peer 0 (the device) and a vector */
#define NPU_DOORBELL_VALUE(vec)		((0u << 16) | (vec))

/* Host -> device doorbell vectors (the device's eventfds). */
#define NPU_DB_CTRL			0	/* look at regs.ctrl */
#define NPU_DB_QUEUE			1	/* a queue tail moved */
#define NPU_DB_MMU			2	/* look at regs.mmu_inval_req */
/* answer regs.ping_req with NPU_IRQ_PING and nothing else (firmware ABI 1.4) */
#define NPU_DB_PING			3
#define NPU_DB_COUNT			4

/* Device -> host MSI-X vectors (the guest's eventfds). */
#define NPU_IRQ_CTRL			0	/* regs.state changed */
#define NPU_IRQ_JOB			1	/* a queue's done_seqno or error moved */
#define NPU_IRQ_PING			2	/* regs.ping_ack moved */
#define NPU_IRQ_COUNT			3

/* Both sides of the ivshmem link use this many vectors. */
#define NPU_IVSHMEM_VECTORS		4

/* ---- BAR2 layout ----------------------------------------------------- */
#define NPU_REGS_OFFSET			0x000000	/* struct npu_regs */
#define NPU_MBOX_OFFSET			0x001000	/* struct npu_boot_params */
#define NPU_QUEUE_OFFSET		0x002000	/* struct npu_queue_regs[] */
#define NPU_QUEUE_STRIDE		0x100
#define NPU_MAX_QUEUES			16
#define NPU_ENGINE_OFFSET		0x003000	/* struct npu_engine_regs[] */
#define NPU_ENGINE_STRIDE		0x40
#define NPU_MAX_ENGINES			16
#define NPU_LOG_OFFSET			0x008000	/* struct npu_log_ring */
#define NPU_LOG_SIZE			0x008000
#define NPU_UDB_OFFSET			0x010000	/* struct npu_user_doorbell[] */
#define NPU_UDB_STRIDE			0x1000		/* a page per queue */
#define NPU_FW_OFFSET			0x100000	/* firmware region */
#define NPU_FW_REGION_SIZE		0x100000
#define NPU_DEVMEM_OFFSET		0x200000	/* device memory to BAR end */
#define NPU_BAR2_MIN_SIZE		0x400000

#define NPU_ID_MAGIC			0x3055504e	/* "NPU0" */
#define NPU_HW_VERSION			0x00010002	/* 1.2: MMU invalidate */
#define NPU_HW_VERSION_ENGINES		0x00010001	/* 1.1: tensor engines */
#define NPU_HW_VERSION_MMU_INVAL	0x00010002

/* regs.ctrl, written by the host before ringing NPU_DB_CTRL */
#define NPU_CTRL_NONE			0
#define NPU_CTRL_BOOT			1	/* validate and start firmware */
#define NPU_CTRL_RESET			2	/* stop the core, back to ROM */

/* regs.state, written by the device (ROM or firmware) */
#define NPU_STATE_ROM			1	/* ready to take firmware */
#define NPU_STATE_BOOTING		2	/* image accepted, core started */
#define NPU_STATE_READY			3	/* firmware up, queues served */
#define NPU_STATE_BOOT_FAILED		4	/* see regs.boot_status */
#define NPU_STATE_HALTED		5	/* firmware crashed or stopped */

/* regs.boot_status when NPU_STATE_BOOT_FAILED */
#define NPU_BOOT_OK			0
#define NPU_BOOT_BAD_MAGIC		1
#define NPU_BOOT_BAD_ABI		2
#define NPU_BOOT_BAD_SIZE		3
#define NPU_BOOT_BAD_CHECKSUM		4

/**
 * struct npu_regs - device register block at BAR2 + NPU_REGS_OFFSET
 * @id: NPU_ID_MAGIC (device)
 * @hw_version: NPU_HW_VERSION (device)
 * @engine_count: number of tensor engines (device)
 * @num_queues: number of hardware queues, at most NPU_MAX_QUEUES (device)
 * @devmem_size: bytes of device memory from NPU_DEVMEM_OFFSET (device)
 * @ctrl: NPU_CTRL_* request (host)
 * @state: NPU_STATE_* (device)
 * @boot_status: NPU_BOOT_* reason of a failed boot (device)
 * @fw_version: version the running firmware reports (firmware)
 * @fw_abi: ABI the running firmware speaks, major << 16 | minor (firmware)
 * @heartbeat: incremented by the firmware at least every heartbeat_ms
 * @serial: unique device serial number (device)
 * @temp_mc: die temperature in millidegrees Celsius (device)
 * @power_mw: board power in milliwatts (device)
 * @jobs_done: jobs completed since boot (firmware)
 * @busy_ns: time spent executing jobs since boot (firmware)
 * @power_state: NPU_POWER_* requested by the host; a reset returns it to
 *	NPU_POWER_ON (host; added in hw 1.0 compatibly, after @busy_ns)
 * @power_reserved: MBZ
 * @running_seqno: descriptor seqno of the job the firmware is executing
 *	now, 0 while it runs none (firmware; added in hw 1.0 compatibly,
 *	after @power_reserved)
 * @running_queue: queue of that job (firmware)
 * @running_reserved: MBZ
 * @op_mask: opcodes the firmware executes, bit n = opcode n (firmware;
 *	added in hw 1.1, after @running_reserved)
 * @dtype_mask: NPU_DTYPE_* the operations take, bit n = dtype n (firmware)
 * @packet_version: NPU_PACKET_VERSION the firmware speaks (firmware)
 * @engine_mem_size: bytes of local memory in each tensor engine (device)
 * @ops_done: operation packets (GEMM ... CAST) completed since boot
 *	(firmware)
 * @mmu_inval_req: sequence number of the latest translation invalidate
 *	the host requests (host; added in hw 1.2, after @ops_done): after
 *	clearing PTEs the host writes a number greater than every earlier
 *	one and rings NPU_DB_MMU
 * @mmu_inval_done: the latest request completed (device): every
 *	translation cached before the request is gone and no access that
 *	used one is still in progress in any engine or the DMA engine, so
 *	the pages the cleared PTEs named may be reused. Kept across resets.
 * @ping_req: number of the latest round trip the host asks for (host;
 *	added in firmware ABI 1.4, after @mmu_inval_done): written before
 *	ringing NPU_DB_PING
 * @ping_ack: the latest @ping_req the firmware answered (firmware): it
 *	writes @ping_ns, copies @ping_req here and raises NPU_IRQ_PING,
 *	doing nothing else, so the host can time the bare doorbell ->
 *	firmware -> MSI-X trip
 * @ping_ns: device clock (NPU_PERIPH_TIME_NS) when the firmware answered
 *	@ping_ack, so the host can relate device timestamps (such as
 *	npu_queue_regs.pickup_ns) to its own clock (firmware)
 */
struct npu_regs {
	npu_u32 id;
	npu_u32 hw_version;
	npu_u32 engine_count;
	npu_u32 num_queues;
	npu_u64 devmem_size;
	npu_u32 ctrl;
	npu_u32 state;
	npu_u32 boot_status;
	npu_u32 fw_version;
	npu_u32 fw_abi;
	npu_u32 heartbeat;
	npu_u64 serial;
	npu_u32 temp_mc;
	npu_u32 power_mw;
	npu_u64 jobs_done;
	npu_u64 busy_ns;
	npu_u32 power_state;
	npu_u32 power_reserved;
	npu_u64 running_seqno;
	npu_u32 running_queue;
	npu_u32 running_reserved;
	npu_u64 op_mask;
	npu_u32 dtype_mask;
	npu_u32 packet_version;
	npu_u64 engine_mem_size;
	npu_u64 ops_done;
	npu_u64 mmu_inval_req;
	npu_u64 mmu_inval_done;
	npu_u64 ping_req;
	npu_u64 ping_ack;
	npu_u64 ping_ns;
};

/* engine_regs.state */
#define NPU_ENGINE_IDLE			0
#define NPU_ENGINE_BUSY			1

/**
 * struct npu_engine_regs - one tensor engine's counters and state at
 * BAR2 + NPU_ENGINE_OFFSET + n * NPU_ENGINE_STRIDE, written by the engine
 * (device), read by anyone; valid from power-on, kept across boots and
 * resets (they count since power-on)
 * @busy_ns: nanoseconds spent executing tasks
 * @tasks_done: tasks (tiles of operations) completed
 * @state: NPU_ENGINE_*
 * @last_status: NPU_ENG_ST_* of the last task completed
 * @seqno: job seqno of the task running now (0 when idle)
 * @op: opcode of that task
 * @queue: queue of that task
 * @reserved: MBZ
 */
struct npu_engine_regs {
	npu_u64 busy_ns;
	npu_u64 tasks_done;
	npu_u32 state;
	npu_u32 last_status;
	npu_u64 seqno;
	npu_u32 op;
	npu_u32 queue;
	npu_u32 reserved[6];
};

/* npu_engine_task.status, written by the engine */
#define NPU_ENG_ST_OK			0
#define NPU_ENG_ST_FAULT_READ		1	/* unmapped source page */
#define NPU_ENG_ST_FAULT_WRITE		2	/* unmapped or read-only dest */
#define NPU_ENG_ST_BAD_TASK		3	/* malformed task, or bad data
						 * (an index out of range) */

/* Largest operation packet an engine task carries, in bytes. */
#define NPU_ENGINE_PACKET_MAX		1024

/**
 * struct npu_engine_task - one tile of an operation, handed to an engine
 * (in the control core's memory; the engine reads it when kicked and
 * writes @status and @fault_addr back before it reports done)
 * @seqno: job the tile belongs to (for the engine's registers)
 * @pt_root: bus address of the context's level-0 page table
 * @begin: first index of the tile in each of the op's two tile axes
 * @end: one past the last index in each axis
 * @op_id: identifies the operation instance: tiles with the same op_id
 *	and pt_root read the same inputs, so an engine may keep staged
 *	inputs between them
 * @queue: queue of the job
 * @status: NPU_ENG_ST_* (engine)
 * @fault_addr: faulting context address (engine)
 * @packet: the validated operation packet, header first
 */
struct npu_engine_task {
	npu_u64 seqno;
	npu_u64 pt_root;
	npu_u64 begin[2];
	npu_u64 end[2];
	npu_u64 op_id;
	npu_u32 queue;
	npu_u32 status;
	npu_u64 fault_addr;
	npu_u64 packet[NPU_ENGINE_PACKET_MAX / 8];
};

/* regs.power_state */
#define NPU_POWER_ON			0	/* engines powered (reset value) */
#define NPU_POWER_ENGINES_OFF		1	/* idle: engines gated, core up */

/**
 * struct npu_boot_params - mailbox at BAR2 + NPU_MBOX_OFFSET, host-written
 * before NPU_CTRL_BOOT
 * @heartbeat_ms: period of regs.heartbeat increments
 * @flags: MBZ
 * @host_time_ns: host CLOCK_MONOTONIC at boot, for log correlation
 */
struct npu_boot_params {
	npu_u32 heartbeat_ms;
	npu_u32 flags;
	npu_u64 host_time_ns;
};

/**
 * struct npu_queue_regs - one hardware queue at
 * BAR2 + NPU_QUEUE_OFFSET + n * NPU_QUEUE_STRIDE
 * @ring_base: host DMA (bus) address of the ring of struct npu_job_desc
 * @ring_entries: ring size in descriptors, a power of two
 * @enable: 1 while the host wants the queue served
 * @tail: producer index (host), free running
 * @head: consumer index (firmware), free running
 * @done_seqno: seqno of the last job completed (firmware)
 * @priority: NPU_PRIO_* (host)
 * @reserved: MBZ
 * @kill_seqno: descriptor seqno of a job of this queue the host wants
 *	killed (it overran its time), 0 for none; written before ringing
 *	NPU_DB_QUEUE (host; added in firmware ABI 1.2, after @reserved)
 * @killed_seqno: the last @kill_seqno the firmware carried out: the job is
 *	written back (with status TIMEOUT, 3, unless it had completed
 *	already) and done_seqno covers it (firmware; ABI 1.2)
 * @mode: NPU_QUEUE_KERNEL or NPU_QUEUE_USER, set while the queue is
 *	disabled (host; fields from here on added in firmware ABI 1.4)
 * @context_id: NPU_QUEUE_USER: the context every job of the queue runs as,
 *	whatever its descriptor says (host)
 * @pt_root: NPU_QUEUE_USER: the level-0 page table every job of the queue
 *	uses, whatever its descriptor says (host)
 * @error: NPU_QUEUE_ERR_*: why the firmware stopped serving the queue,
 *	0 while it serves it (firmware; raised with NPU_IRQ_JOB). The host
 *	clears it, with head, done_seqno and the user doorbell page, before
 *	it enables the queue again.
 * @failed: jobs of the queue that completed with a status other than OK
 *	since the host enabled it (firmware): for a user-mode queue the
 *	host counts faults from here, not from descriptors the process can
 *	rewrite
 * @served: 1 while the firmware serves the queue; 0 once, after the host
 *	cleared @enable, it holds nothing of the queue any more (no job, no
 *	tile on an engine, no descriptor being read or written), so the host
 *	may reuse or free the ring and reprogram the queue (firmware)
 * @reserved3: MBZ
 * @pickup_ns: device clock when the firmware took the queue's latest job
 *	from the ring (firmware)
 * @complete_ns: device clock just before it published that job's
 *	completion (firmware)
 */
struct npu_queue_regs {
	npu_u64 ring_base;
	npu_u32 ring_entries;
	npu_u32 enable;
	npu_u32 tail;
	npu_u32 head;
	npu_u64 done_seqno;
	npu_u32 priority;
	npu_u32 reserved;
	npu_u64 kill_seqno;
	npu_u64 killed_seqno;
	npu_u32 mode;
	npu_u32 context_id;
	npu_u64 pt_root;
	npu_u32 error;
	npu_u32 failed;
	npu_u32 served;
	npu_u32 reserved3;
	npu_u64 pickup_ns;
	npu_u64 complete_ns;
};

/* npu_queue_regs.mode */
#define NPU_QUEUE_KERNEL		0	/* the host kernel fills the ring */
#define NPU_QUEUE_USER			1	/* a process does; see below */

/* npu_queue_regs.error */
#define NPU_QUEUE_ERR_NONE		0
#define NPU_QUEUE_ERR_RING		1	/* ring_entries not a power of 2 */
#define NPU_QUEUE_ERR_READ		2	/* descriptor unreadable */
#define NPU_QUEUE_ERR_WRITE		3	/* descriptor write-back failed */
#define NPU_QUEUE_ERR_TAIL		4	/* user tail beyond the ring */

/**
 * struct npu_user_doorbell - the page of a user-mode queue that its
 * process maps, at BAR2 + NPU_UDB_OFFSET + n * NPU_UDB_STRIDE for
 * hardware queue n (firmware ABI 1.4)
 * @tail: producer index, free running (the process); the firmware reads
 *	it instead of npu_queue_regs.tail for an NPU_QUEUE_USER queue. More
 *	than ring_entries ahead of head stops the queue (NPU_QUEUE_ERR_TAIL).
 * @head: consumer index, free running (firmware, a copy of the queue's)
 * @done_seqno: jobs of the queue completed since the host enabled it
 *	(firmware, a copy of the queue's). The job taken at ring index i
 *	(counting from enable) has seqno i + 1.
 * @error: copy of npu_queue_regs.error (firmware)
 * @reserved: MBZ
 *
 * The process writes descriptors into the ring (host memory the kernel
 * mapped for it), then @tail, then rings NPU_DB_QUEUE. The firmware never
 * trusts this page beyond @tail: the copies exist so the process can poll
 * completion without a system call; the host kernel uses the queue's own
 * registers. For a user-mode queue the firmware overwrites each
 * descriptor's @seqno, @context_id and @pt_root with the queue's before it
 * runs the job and writes them back that way.
 */
struct npu_user_doorbell {
	npu_u32 tail;
	npu_u32 head;
	npu_u64 done_seqno;
	npu_u32 error;
	npu_u32 reserved;
};

/* npu_queue_regs.priority */
#define NPU_PRIO_LOW			0
#define NPU_PRIO_NORMAL			1
#define NPU_PRIO_HIGH			2
#define NPU_PRIO_REALTIME		3

#define NPU_JOB_CMD_MAX_SIZE		(64u << 10)

/**
 * struct npu_job_desc - one job in a queue ring (host memory)
 * @seqno: device-wide increasing job number (host)
 * @cmd_va: command buffer address in the context's address space (host)
 * @cmd_size: command buffer size in bytes, multiple of 8 (host)
 * @context_id: context the job belongs to, for logs (host)
 * @pt_root: DMA address of the context's level-0 page table (host)
 * @flags: MBZ (host)
 * @status: DRM_NPU_JOB_STATUS_* written back before done_seqno: OK,
 *	BAD_PACKET, PAGE_FAULT, ENGINE_ERROR, or TIMEOUT for a job the host
 *	killed (npu_queue_regs.kill_seqno) (firmware)
 * @fault_va: faulting address for NPU_JOB_STATUS_PAGE_FAULT (firmware)
 * @err_offset: byte offset in the command buffer of the failing packet
 * @reserved: MBZ
 * @busy_ns: the job's share of the time the core was busy executing jobs
 *	(regs.busy_ns), written back with @status (firmware; 0 from firmware
 *	before ABI 1.2)
 */
struct npu_job_desc {
	npu_u64 seqno;
	npu_u64 cmd_va;
	npu_u32 cmd_size;
	npu_u32 context_id;
	npu_u64 pt_root;
	npu_u32 flags;
	npu_u32 status;
	npu_u64 fault_va;
	npu_u32 err_offset;
	npu_u32 reserved;
	npu_u64 busy_ns;
};

/**
 * struct npu_log_ring - firmware log at BAR2 + NPU_LOG_OFFSET
 * @write_pos: bytes ever written (firmware); data[write_pos % size]
 * @size: bytes of @data (firmware)
 * @data: text, lines ending in '\n'
 */
struct npu_log_ring {
	npu_u32 write_pos;
	npu_u32 size;
	char data[];
};

/* ---- Device MMU: 3 levels of 512 x 64-bit entries, 4 KiB pages ------- */
#define NPU_PAGE_SHIFT			12
#define NPU_PAGE_SIZE			(1ull << NPU_PAGE_SHIFT)
#define NPU_PT_LEVELS			3
#define NPU_PT_ENTRIES			512
#define NPU_VA_BITS			39
#define NPU_PT_INDEX(va, level) \
	(((va) >> (NPU_PAGE_SHIFT + 9 * (NPU_PT_LEVELS - 1 - (level)))) & 511)
#define NPU_PTE_VALID			(1ull << 0)
#define NPU_PTE_WRITE			(1ull << 1)	/* leaf only */
#define NPU_PTE_ADDR_MASK		0x000ffffffffff000ull

/* ---- Firmware image (npu_fw.bin) -------------------------------------- */
#define NPU_FW_MAGIC			0x5746504e	/* "NPFW" */
#define NPU_FW_ABI_MAJOR		1
/*
 * 1: tensor engines, operations; 2: job busy_ns, per-queue job kill;
 * 3: WRITE_MEM, CALL and WAIT_MEM >= (packet version 3); 4: NPU_DB_PING,
 * user-mode queues, queue errors and timestamps
 */
#define NPU_FW_ABI_MINOR		4
#define NPU_FW_HEADER_SIZE		256

/**
 * struct npu_fw_header - first NPU_FW_HEADER_SIZE bytes of npu_fw.bin
 * @magic: NPU_FW_MAGIC
 * @abi_major: must equal NPU_FW_ABI_MAJOR
 * @abi_minor: features added compatibly
 * @header_size: NPU_FW_HEADER_SIZE
 * @image_size: payload bytes following the header
 * @mem_size: bytes the payload needs in the firmware region (code, data,
 *	bss, stack), counted from the payload start
 * @entry_offset: entry point, offset from the payload start
 * @checksum: CRC-32 (IEEE 802.3, as zlib) of the payload
 * @fw_version: major << 16 | minor << 8 | patch
 * @build_id: NUL-terminated build description
 * @reserved: MBZ
 */
struct npu_fw_header {
	npu_u32 magic;
	npu_u16 abi_major;
	npu_u16 abi_minor;
	npu_u32 header_size;
	npu_u32 image_size;
	npu_u32 mem_size;
	npu_u32 entry_offset;
	npu_u32 checksum;
	npu_u32 fw_version;
	char build_id[64];
	npu_u32 reserved[40];
};

/* ---- The control core's address map (RISC-V RV64) --------------------- */
#define NPU_CORE_BAR2_BASE		0x40000000ull	/* BAR2 window */
#define NPU_CORE_FW_BASE		(NPU_CORE_BAR2_BASE + NPU_FW_OFFSET)
#define NPU_CORE_FW_ENTRY_BASE		(NPU_CORE_FW_BASE + NPU_FW_HEADER_SIZE)
#define NPU_CORE_PERIPH_BASE		0x10000000ull	/* struct npu_periph */
#define NPU_CORE_PERIPH_SIZE		0x1000

/* Peripheral register offsets (from NPU_CORE_PERIPH_BASE) */
#define NPU_PERIPH_WFE			0x000	/* R32: wait for event */
#define NPU_PERIPH_TIME_NS		0x008	/* R64: device clock, ns */
#define NPU_PERIPH_IRQ_RAISE		0x010	/* W32: MSI-X vector to raise */
#define NPU_PERIPH_CONSOLE		0x018	/* W32: one byte of log text */
#define NPU_PERIPH_DMA_SRC		0x100	/* RW64 */
#define NPU_PERIPH_DMA_DST		0x108	/* RW64 */
#define NPU_PERIPH_DMA_LEN		0x110	/* RW64 */
#define NPU_PERIPH_DMA_PT_ROOT		0x118	/* RW64: context page table */
#define NPU_PERIPH_DMA_FILL		0x120	/* RW32: fill pattern */
#define NPU_PERIPH_DMA_OP		0x124	/* W32: start, see NPU_DMA_* */
#define NPU_PERIPH_DMA_STATUS		0x128	/* R32: NPU_DMA_ST_* */
#define NPU_PERIPH_DMA_FAULT		0x130	/* R64: faulting address */
#define NPU_PERIPH_ENG_DONE		0x040	/* R32: engines done, read clears */
#define NPU_PERIPH_ENG_BUSY		0x048	/* R32: engines running a task */
#define NPU_PERIPH_ENG_KICK(n)		(0x200 + (n) * 8) /* W32: task address */

/* WFE result bits; 0 means the wait timed out (heartbeat tick) */
#define NPU_WFE_CTRL			(1u << 0)
#define NPU_WFE_QUEUE			(1u << 1)
#define NPU_WFE_ENGINE			(1u << 2)	/* an engine finished */
#define NPU_WFE_PING			(1u << 3)	/* NPU_DB_PING rang */

/* DMA_OP: operation | source space << 4 | destination space << 6 */
#define NPU_DMA_COPY			1
#define NPU_DMA_FILL			2
#define NPU_DMA_SPACE_CORE		0	/* the core's own address map */
#define NPU_DMA_SPACE_HOST		1	/* host bus address */
#define NPU_DMA_SPACE_CTX		2	/* context VA through DMA_PT_ROOT */
#define NPU_DMA_OP(op, src, dst)	((op) | (src) << 4 | (dst) << 6)

/* DMA_STATUS */
#define NPU_DMA_ST_OK			0
#define NPU_DMA_ST_FAULT_READ		1	/* unmapped source page */
#define NPU_DMA_ST_FAULT_WRITE		2	/* unmapped or read-only dest */
#define NPU_DMA_ST_BAD_OP		3

#if defined(__cplusplus)
#define NPU_STATIC_ASSERT static_assert
#elif defined(__KERNEL__)
#define NPU_STATIC_ASSERT(c, m) _Static_assert(c, m)
#else
#define NPU_STATIC_ASSERT _Static_assert
#endif
NPU_STATIC_ASSERT(sizeof(struct npu_regs) == 176, "npu_regs layout");
NPU_STATIC_ASSERT(sizeof(struct npu_engine_regs) == NPU_ENGINE_STRIDE,
		  "engine regs");
NPU_STATIC_ASSERT(sizeof(struct npu_engine_task) ==
		  72 + NPU_ENGINE_PACKET_MAX, "engine task");
NPU_STATIC_ASSERT(sizeof(struct npu_boot_params) == 16, "boot params");
NPU_STATIC_ASSERT(sizeof(struct npu_queue_regs) == 104, "queue regs");
NPU_STATIC_ASSERT(sizeof(struct npu_user_doorbell) == 24, "user doorbell");
NPU_STATIC_ASSERT(sizeof(struct npu_job_desc) == 64, "job desc");
NPU_STATIC_ASSERT(sizeof(struct npu_fw_header) == NPU_FW_HEADER_SIZE,
		  "fw header");

#endif /* NPU_HW_H */
