/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * Command packets: what userspace writes into a command buffer and the
 * firmware executes. A command buffer is a sequence of packets, each a
 * multiple of 8 bytes, starting with a 32-bit header. All addresses are
 * device addresses in the submitting context's address space.
 *
 * Header: bits 0-7 opcode, bits 8-15 MBZ, bits 16-31 packet length in
 * 32-bit words including the header (even, at least 2).
 *
 * A packet with an unknown opcode, a wrong length for its opcode, a
 * non-zero MBZ field, or a length running past the end of the buffer
 * fails the job with DRM_NPU_JOB_STATUS_BAD_PACKET; an access to an
 * unmapped address (or a write to a read-only one) fails it with
 * DRM_NPU_JOB_STATUS_PAGE_FAULT. Packets before the failing one have run.
 */
#ifndef _UAPI_DRM_NPU_PACKET_H_
#define _UAPI_DRM_NPU_PACKET_H_

#if defined(__KERNEL__)
#include <linux/types.h>
typedef __u32 npu_pkt_u32;
typedef __u64 npu_pkt_u64;
#else
#include <stdint.h>
typedef uint32_t npu_pkt_u32;
typedef uint64_t npu_pkt_u64;
#endif

#define NPU_OP_NOP		0x00
#define NPU_OP_FILL		0x01
#define NPU_OP_COPY		0x02
#define NPU_OP_TIMESTAMP	0x03
#define NPU_OP_FENCE		0x04
#define NPU_OP_WAIT_MEM		0x05

#define NPU_PKT_HEADER(op, dwords)	((npu_pkt_u32)(op) | (npu_pkt_u32)(dwords) << 16)
#define NPU_PKT_OPCODE(h)		((h) & 0xff)
#define NPU_PKT_MBZ(h)			(((h) >> 8) & 0xff)
#define NPU_PKT_DWORDS(h)		((h) >> 16)

/** struct npu_pkt_nop - does nothing; any even length >= 2 (padding) */
struct npu_pkt_nop {
	npu_pkt_u32 header;
	npu_pkt_u32 mbz;
};

/**
 * struct npu_pkt_fill - write a 32-bit pattern over [dst, dst + size)
 * @size: bytes, a multiple of 4; dst 4-byte aligned
 */
struct npu_pkt_fill {
	npu_pkt_u32 header;
	npu_pkt_u32 value;
	npu_pkt_u64 dst;
	npu_pkt_u64 size;
};

/** struct npu_pkt_copy - copy size bytes from src to dst (no overlap) */
struct npu_pkt_copy {
	npu_pkt_u32 header;
	npu_pkt_u32 mbz;
	npu_pkt_u64 src;
	npu_pkt_u64 dst;
	npu_pkt_u64 size;
};

/** struct npu_pkt_timestamp - write the device clock (ns, u64) to dst */
struct npu_pkt_timestamp {
	npu_pkt_u32 header;
	npu_pkt_u32 mbz;
	npu_pkt_u64 dst;
};

/**
 * struct npu_pkt_fence - write a 64-bit value to dst once every earlier
 * packet is done, then interrupt the host
 */
struct npu_pkt_fence {
	npu_pkt_u32 header;
	npu_pkt_u32 mbz;
	npu_pkt_u64 dst;
	npu_pkt_u64 value;
};

/**
 * struct npu_pkt_wait_mem - stall the queue until the 64-bit value at addr
 * (8-byte aligned) equals value; the device polls it, so the host (or
 * another job) releases the wait by writing memory. Bounded by the
 * driver's job timeout.
 */
struct npu_pkt_wait_mem {
	npu_pkt_u32 header;
	npu_pkt_u32 mbz;
	npu_pkt_u64 addr;
	npu_pkt_u64 value;
};

#define NPU_PKT_NOP_DWORDS	(sizeof(struct npu_pkt_nop) / 4)
#define NPU_PKT_FILL_DWORDS	(sizeof(struct npu_pkt_fill) / 4)
#define NPU_PKT_COPY_DWORDS	(sizeof(struct npu_pkt_copy) / 4)
#define NPU_PKT_TIMESTAMP_DWORDS (sizeof(struct npu_pkt_timestamp) / 4)
#define NPU_PKT_FENCE_DWORDS	(sizeof(struct npu_pkt_fence) / 4)
#define NPU_PKT_WAIT_MEM_DWORDS	(sizeof(struct npu_pkt_wait_mem) / 4)

#endif /* _UAPI_DRM_NPU_PACKET_H_ */
