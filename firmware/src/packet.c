// SPDX-License-Identifier: MIT
/*
 * Validation and execution of the command packets of uapi/drm/npu_packet.h.
 * Each packet is checked completely before it runs, so a malformed packet
 * has no effect; the ones before it have run. Data-movement packets run
 * here on the DMA engine; operations are checked and planned here and run
 * as tiles on the tensor engines (sched.c hands them out).
 */
#include <stddef.h>
#include <string.h>

#include "drm/npu_packet.h"
#include "dma.h"
#include "engine.h"
#include "fw.h"
#include "heartbeat.h"
#include "job.h"
#include "mmio.h"

#define VA_LIMIT	(1ull << NPU_VA_BITS)

/* Exact packet length in dwords per opcode; 0 for any (NOP padding). */
static const uint8_t packet_dwords[] = {
	[NPU_OP_NOP] = 0,
	[NPU_OP_FILL] = NPU_PKT_FILL_DWORDS,
	[NPU_OP_COPY] = NPU_PKT_COPY_DWORDS,
	[NPU_OP_TIMESTAMP] = NPU_PKT_TIMESTAMP_DWORDS,
	[NPU_OP_FENCE] = NPU_PKT_FENCE_DWORDS,
	[NPU_OP_WAIT_MEM] = NPU_PKT_WAIT_MEM_DWORDS,
	[NPU_OP_WRITE_MEM] = NPU_PKT_WRITE_MEM_DWORDS,
	[NPU_OP_CALL] = NPU_PKT_CALL_DWORDS,
};

/* State of the packet being executed, for error reporting. */
struct exec {
	struct job *job;
	uint32_t offset;
};

static enum job_result bad_packet(struct exec *ex, const char *why)
{
	job_fail(ex->job, JOB_STATUS_BAD_PACKET, ex->offset, 0, why);
	return JOB_DONE;
}

static enum job_result dma_failed(struct exec *ex, const struct dma_fault *f)
{
	if (f->status == NPU_DMA_ST_BAD_OP)
		return bad_packet(ex, "dma engine rejected the operation");
	job_fail(ex->job, JOB_STATUS_PAGE_FAULT, ex->offset, f->addr,
		 f->status == NPU_DMA_ST_FAULT_READ ? "read fault"
						     : "write fault");
	return JOB_DONE;
}

/*
 * Faults a range that leaves the device address space before the engine
 * sees it, so the addition below can never wrap.
 */
static bool range_in_va(struct exec *ex, uint64_t addr, uint64_t size)
{
	uint64_t fault_va;

	if (addr < VA_LIMIT && size <= VA_LIMIT - addr)
		return true;
	fault_va = addr < VA_LIMIT ? VA_LIMIT : addr;
	job_fail(ex->job, JOB_STATUS_PAGE_FAULT, ex->offset, fault_va,
		 "address beyond the device address space");
	return false;
}

static enum job_result run_fill(struct exec *ex, const struct npu_pkt_fill *p)
{
	struct dma_fault f;

	if (p->size % 4 || p->dst % 4)
		return bad_packet(ex, "fill not 4-byte aligned");
	if (!range_in_va(ex, p->dst, p->size))
		return JOB_DONE;
	if (dma_fill(NPU_DMA_SPACE_CTX, p->dst, p->value, p->size,
		     ex->job->desc.pt_root, &f))
		return dma_failed(ex, &f);
	return JOB_DONE;
}

static enum job_result run_copy(struct exec *ex, const struct npu_pkt_copy *p)
{
	struct dma_fault f;

	if (p->mbz)
		return bad_packet(ex, "non-zero mbz");
	if (!range_in_va(ex, p->src, p->size) ||
	    !range_in_va(ex, p->dst, p->size))
		return JOB_DONE;
	if (p->size && p->src < p->dst + p->size && p->dst < p->src + p->size)
		return bad_packet(ex, "copy ranges overlap");
	if (dma_copy(NPU_DMA_SPACE_CTX, p->src, NPU_DMA_SPACE_CTX, p->dst,
		     p->size, ex->job->desc.pt_root, &f))
		return dma_failed(ex, &f);
	return JOB_DONE;
}

/* Writes one local u64 to a context address. */
static enum job_result write_u64(struct exec *ex, uint64_t dst, uint64_t val)
{
	struct dma_fault f;

	if (!range_in_va(ex, dst, sizeof(val)))
		return JOB_DONE;
	if (dma_copy(NPU_DMA_SPACE_CORE, core_addr(&val), NPU_DMA_SPACE_CTX,
		     dst, sizeof(val), ex->job->desc.pt_root, &f))
		return dma_failed(ex, &f);
	return JOB_DONE;
}

static enum job_result run_wait_mem(struct exec *ex,
				    const struct npu_pkt_wait_mem *p)
{
	struct job *job = ex->job;
	struct dma_fault f;
	uint64_t val;

	if (p->flags & ~NPU_WAIT_MEM_FLAGS)
		return bad_packet(ex, "unknown wait_mem flags");
	if (p->addr % 8)
		return bad_packet(ex, "wait_mem address not 8-byte aligned");
	if (!range_in_va(ex, p->addr, sizeof(val)))
		return JOB_DONE;
	if (dma_copy(NPU_DMA_SPACE_CTX, p->addr, NPU_DMA_SPACE_CORE,
		     core_addr(&val), sizeof(val), job->desc.pt_root, &f))
		return dma_failed(ex, &f);
	job->wait_ge = p->flags & NPU_WAIT_MEM_GE;
	if (job->wait_ge ? val >= p->value : val == p->value)
		return JOB_DONE;
	job->wait_addr = p->addr;
	job->wait_value = p->value;
	return JOB_WAITING_MEM;
}

static enum job_result run_write_mem(struct exec *ex,
				     const struct npu_pkt_write_mem *p)
{
	struct dma_fault f;
	uint32_t val32 = (uint32_t)p->value;

	if (p->flags & ~NPU_WRITE_MEM_FLAGS)
		return bad_packet(ex, "unknown write_mem flags");
	if (!(p->flags & NPU_WRITE_MEM_32))
		return p->addr % 8 ?
		       bad_packet(ex, "write_mem address not 8-byte aligned") :
		       write_u64(ex, p->addr, p->value);
	if (p->addr % 4)
		return bad_packet(ex, "write_mem address not 4-byte aligned");
	if (p->value >> 32)
		return bad_packet(ex, "32-bit write_mem value above 32 bits");
	if (!range_in_va(ex, p->addr, sizeof(val32)))
		return JOB_DONE;
	if (dma_copy(NPU_DMA_SPACE_CORE, core_addr(&val32), NPU_DMA_SPACE_CTX,
		     p->addr, sizeof(val32), ex->job->desc.pt_root, &f))
		return dma_failed(ex, &f);
	return JOB_DONE;
}

/*
 * Enters a called buffer: packets_run() continues at its start and comes
 * back after the CALL at its end. Nothing is read here; the first fetch
 * of the called buffer faults if it is unmapped.
 */
static enum job_result run_call(struct exec *ex, const struct npu_pkt_call *p)
{
	struct job *job = ex->job;

	if (p->mbz)
		return bad_packet(ex, "non-zero mbz");
	if (p->addr % 8)
		return bad_packet(ex, "call address not 8-byte aligned");
	if (!p->size || p->size % 8)
		return bad_packet(ex, "call size not a non-zero multiple of 8");
	if (p->size > NPU_CALL_MAX_SIZE)
		return bad_packet(ex, "called buffer too large");
	if (job->depth >= NPU_CALL_MAX_DEPTH)
		return bad_packet(ex, "calls nested too deep");
	if (!range_in_va(ex, p->addr, p->size))
		return JOB_DONE;
	job->calls[job->depth].va = job->cmd_va;
	job->calls[job->depth].size = job->cmd_size;
	job->calls[job->depth].offset = job->offset;
	job->depth++;
	job->cmd_va = p->addr;
	job->cmd_size = (uint32_t)p->size;
	job->offset = 0;
	job->win_offset = 0;
	job->win_len = 0;
	return JOB_DONE;
}

/* Back from a called buffer to the packet after its CALL. */
static void call_return(struct job *job)
{
	job->depth--;
	job->cmd_va = job->calls[job->depth].va;
	job->cmd_size = job->calls[job->depth].size;
	job->offset = job->calls[job->depth].offset + NPU_PKT_CALL_DWORDS * 4;
	job->win_offset = 0;
	job->win_len = 0;
}

/* Runs one validated-length packet; JOB_DONE here means "go on" unless the
 * job's status was set.
 */
static enum job_result run_packet(struct exec *ex, const uint64_t *pkt,
				  uint32_t op)
{
	union {
		struct npu_pkt_nop nop;
		struct npu_pkt_fill fill;
		struct npu_pkt_copy copy;
		struct npu_pkt_timestamp ts;
		struct npu_pkt_fence fence;
		struct npu_pkt_wait_mem wait;
		struct npu_pkt_write_mem write;
		struct npu_pkt_call call;
	} p;
	size_t len = (size_t)packet_dwords[op] * 4;

	memcpy(&p, pkt, len ? len : sizeof(p.nop));
	switch (op) {
	case NPU_OP_NOP:
		return p.nop.mbz ? bad_packet(ex, "non-zero mbz") : JOB_DONE;
	case NPU_OP_FILL:
		return run_fill(ex, &p.fill);
	case NPU_OP_COPY:
		return run_copy(ex, &p.copy);
	case NPU_OP_TIMESTAMP:
		if (p.ts.mbz)
			return bad_packet(ex, "non-zero mbz");
		return write_u64(ex, p.ts.dst, time_ns());
	case NPU_OP_FENCE:
		if (p.fence.mbz)
			return bad_packet(ex, "non-zero mbz");
		if (write_u64(ex, p.fence.dst, p.fence.value) == JOB_DONE &&
		    ex->job->desc.status == JOB_STATUS_OK)
			irq_raise(NPU_IRQ_JOB);
		return JOB_DONE;
	case NPU_OP_WAIT_MEM:
		return run_wait_mem(ex, &p.wait);
	case NPU_OP_WRITE_MEM:
		return run_write_mem(ex, &p.write);
	case NPU_OP_CALL:
		return run_call(ex, &p.call);
	}
	return bad_packet(ex, "unknown opcode");
}

static uint64_t next_op_id;


/* Checks an operation and plans its tiles; the engines take it from here. */
static enum job_result start_op(struct exec *ex, const uint64_t *pkt,
				uint32_t op)
{
	struct job *job = ex->job;
	const char *why = op_check(op, pkt, engines_count(),
				   engines_mem_size(), &job->plan);

	if (why)
		return bad_packet(ex, why);
	if (!engines_count())
		return bad_packet(ex, "the device has no tensor engines");
	job->tiles = op_plan_tiles_along(&job->plan, 0) *
		     op_plan_tiles_along(&job->plan, 1);
	if (!job->tiles) {
		REGS->ops_done = REGS->ops_done + 1;
		return JOB_DONE;	/* an empty tensor: nothing to compute */
	}
	job->next_tile = 0;
	job->tiles_running = 0;
	job->op_failed = false;
	job->op_id = ++next_op_id;
	return JOB_ON_ENGINES;
}

/*
 * Makes the packet at job->offset (header and, except for NOP padding,
 * its whole length) present in the job's window; false with the job failed
 * if the command buffer cannot be read.
 */
static bool fetch(struct exec *ex, uint32_t need)
{
	struct job *job = ex->job;
	uint32_t size = job->cmd_size;
	uint32_t off = job->offset;
	struct dma_fault f;
	uint32_t len;

	if (off >= job->win_offset &&
	    off + need <= job->win_offset + job->win_len)
		return true;
	len = size - off < JOB_WINDOW_BYTES ? size - off : JOB_WINDOW_BYTES;
	job->win_offset = off;
	job->win_len = 0;
	if (dma_copy(NPU_DMA_SPACE_CTX, job->cmd_va + off,
		     NPU_DMA_SPACE_CORE, core_addr(job->win), len,
		     job->desc.pt_root, &f)) {
		job_fail(job, JOB_STATUS_PAGE_FAULT, off, f.addr,
			 "command buffer unreadable");
		return false;
	}
	job->win_len = len;
	return true;
}

enum job_result packets_run(struct job *job)
{
	struct exec ex = { .job = job };

	for (;;) {
		uint32_t size = job->cmd_size;
		const uint64_t *pkt;
		uint32_t header, op, dwords, need, op_dwords;
		enum job_result res;

		if (job->offset >= size) {
			if (!job->depth)
				break;
			call_return(job);
			continue;
		}
		ex.offset = job->offset;
		if (!fetch(&ex, 8))
			return JOB_DONE;
		pkt = job->win + (job->offset - job->win_offset) / 8;
		header = (uint32_t)*pkt;	/* little-endian */
		op = NPU_PKT_OPCODE(header);
		dwords = NPU_PKT_DWORDS(header);
		if (NPU_PKT_MBZ(header))
			return bad_packet(&ex, "non-zero header mbz");
		if (dwords < 2 || dwords % 2)
			return bad_packet(&ex, "bad packet length");
		if (dwords * 4 > size - job->offset)
			return bad_packet(&ex, "packet runs past the buffer");
		op_dwords = op_packet_dwords(op);
		if (op_dwords) {
			if (dwords != op_dwords)
				return bad_packet(&ex, "wrong length for opcode");
		} else if (op >= sizeof(packet_dwords) / sizeof(packet_dwords[0])) {
			return bad_packet(&ex, "unknown opcode");
		} else if (packet_dwords[op] && dwords != packet_dwords[op]) {
			return bad_packet(&ex, "wrong length for opcode");
		}
		/* NOP padding may be longer than the window: only its mbz counts */
		need = op == NPU_OP_NOP ? 8 : dwords * 4;
		if (!fetch(&ex, need))
			return JOB_DONE;
		pkt = job->win + (job->offset - job->win_offset) / 8;

		if (op_dwords)
			res = start_op(&ex, pkt, op);
		else
			res = run_packet(&ex, pkt, op);
		if (res != JOB_DONE || job->desc.status != JOB_STATUS_OK)
			return res;
		/* run_call() moved to the start of the called buffer */
		if (op != NPU_OP_CALL)
			job->offset += dwords * 4;
		heartbeat_poll();
	}
	return JOB_DONE;
}
