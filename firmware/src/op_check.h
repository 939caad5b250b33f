/* SPDX-License-Identifier: MIT */
/*
 * Validation of operation packets (uapi/drm/npu_packet.h, NPU_OP_GEMM ..
 * NPU_OP_CAST) and the tile plan that spreads one over the tensor engines.
 * Plain C11 with integer arithmetic only, so the host tests build it too.
 */
#ifndef FW_OP_CHECK_H
#define FW_OP_CHECK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Tile plan of a validated operation: its tile space (see the comment at
 * the top of emulator/npu_engine_ops.h: GEMM axis 0 = rows over batch * M,
 * axis 1 = N; CONV axis 0 = N * groups, axis 1 = OC per group; POOL axis 0
 * = N * C; NORM axis 0 = positions outside the normalised axes (BATCH:
 * elements); others axis 0 = y elements) and the tile extents. The tiles
 * are [i * tile, min((i + 1) * tile, extent)) along each axis.
 */
struct op_plan {
	uint64_t extent[2];	/* size of each tile axis (axis1 is 1 where unused); may be 0: nothing to do */
	uint64_t tile[2];	/* tile size per axis, >= 1 */
};

/* Tiles along one axis of a plan: ceil(extent / tile), without overflow. */
static inline uint64_t op_plan_tiles_along(const struct op_plan *plan, unsigned axis)
{
	return plan->extent[axis] / plan->tile[axis] +
	       (plan->extent[axis] % plan->tile[axis] != 0);
}

/*
 * Validates a complete operation packet (opcode NPU_OP_GEMM..NPU_OP_CAST,
 * length already checked to be exactly NPU_PKT_*_DWORDS by the caller; pkt
 * 8-byte aligned). Returns NULL and fills plan, or returns a short reason
 * for BAD_PACKET. engines = engine count, engine_mem = bytes of local
 * memory per engine.
 *
 * A reason naming one tensor ("gemm a: ...") is composed in a static
 * buffer that the next call overwrites: log or copy it before calling
 * again. The others are string literals.
 */
const char *op_check(uint32_t op, const void *pkt, uint32_t engines,
		     uint64_t engine_mem, struct op_plan *plan);

/* The fixed packet length in dwords of opcode op, or 0 if op is not an operation. */
uint32_t op_packet_dwords(uint32_t op);

#ifdef __cplusplus
}
#endif

#endif /* FW_OP_CHECK_H */
