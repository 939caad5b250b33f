/*
 * libnpu C ABI: the op API (npu/ops.hpp in C++). Included by npu/npu.h.
 *
 * An operation is planned once from an npu_op_desc_t and one
 * npu_tensor_desc_t per operand (dtype, shape, strides in elements; no
 * address), then launched any number of times on streams with device
 * pointers. Codes (NPU_DTYPE_*, NPU_FN_*, NPU_BIN_*, NPU_RED_*,
 * NPU_NORM_*, NPU_POOL_*, NPU_COPY_*, NPU_GATHER_*, NPU_CONV_TRANSPOSED,
 * NPU_RED_SELECT_LAST) are those of npu/uapi/drm/npu_packet.h; operand
 * order per kind and every rule are in npu/ops.hpp and docs/sdk.md.
 *
 * npu_op_plan_create fails with NPU_ERROR_INVALID_ARGUMENT for a malformed
 * description and NPU_ERROR_NOT_SUPPORTED for one the device cannot run;
 * npu_last_error_message() says why. A plan may be launched from several
 * threads at once (each on its own stream).
 */
#ifndef NPU_NPU_OPS_H
#define NPU_NPU_OPS_H

/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

#include "npu/npu.h"
#include <npu/uapi/drm/npu_packet.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npu_op_kind {
    NPU_OP_KIND_GEMM = 0,        /* a, b, [c], y */
    NPU_OP_KIND_CONV = 1,        /* x, w, [bias], y */
    NPU_OP_KIND_POOL = 2,        /* x, y, [indices] */
    NPU_OP_KIND_UNARY = 3,       /* x, y */
    NPU_OP_KIND_BINARY = 4,      /* a, b, [cond], y */
    NPU_OP_KIND_REDUCE = 5,      /* x, y */
    NPU_OP_KIND_NORM = 6,        /* x, [scale], [bias], [mean], [var], y */
    NPU_OP_KIND_TENSOR_COPY = 7, /* x, y */
    NPU_OP_KIND_GATHER = 8,      /* x, indices, y */
    NPU_OP_KIND_CAST = 9,        /* x, y */
} npu_op_kind_t;

#define NPU_OP_MAX_RANK 16

/* A tensor's layout. dtype NPU_DTYPE_NONE (0) marks an absent optional
 * operand. shape has rank entries; strides (elements, signed, 0
 * broadcasts) has rank entries or is NULL for row-major contiguous. */
typedef struct npu_tensor_desc {
    uint32_t dtype;
    uint32_t rank;
    const int64_t* shape;
    const int64_t* strides;
} npu_tensor_desc_t;

/* What to compute; fill with npu_op_desc_init, then set what the kind
 * uses. */
typedef struct npu_op_desc {
    size_t size; /* sizeof(npu_op_desc_t) */
    uint32_t kind;  /* npu_op_kind_t */
    uint32_t fn;    /* pool mode, NPU_BIN_*, NPU_RED_*, NPU_NORM_*, NPU_COPY_*, NPU_GATHER_* */
    uint32_t flags; /* NPU_CONV_TRANSPOSED, NPU_RED_SELECT_LAST */
    float alpha;    /* gemm: y = act(alpha * a x b + beta * c); default 1 */
    float beta;     /* default 1 */
    uint32_t act_fn; /* gemm, conv: fused activation; unary: the function */
    float act_alpha;
    float act_beta;
    int32_t a_zero; /* gemm, conv: 8-bit quantisation */
    int32_t b_zero;
    float y_scale;
    int32_t y_zero;
    uint32_t axis;  /* gather */
    uint64_t axes;  /* reduce, norm: bit n = dimension n */
    float epsilon;  /* norm; default 1e-5 */
    uint32_t groups; /* conv; default 1 */
    uint32_t kernel[3]; /* pool */
    uint32_t stride[3]; /* conv, pool; default 1 */
    uint32_t dilation[3]; /* default 1 */
    uint32_t pad_begin[3];
    uint32_t pad_end[3];
    uint32_t p; /* pool NPU_POOL_LP */
    uint32_t copy_rank; /* tensor_copy: entries of copy_offset (0: none) */
    const int64_t* copy_offset; /* where x starts inside y, per dimension */
    uint64_t pad_value; /* NPU_COPY_PAD_CONSTANT */
} npu_op_desc_t;

typedef struct npu_op_plan* npu_op_plan_t;

/* Sets size, kind and every default (alpha = beta = 1, groups, stride and
 * dilation 1, epsilon 1e-5, the rest 0). */
NPU_C_API npu_status_t npu_op_desc_init(npu_op_desc_t* op, npu_op_kind_t kind);
/* Validates and encodes; count must be the kind's operand count. */
NPU_C_API npu_status_t npu_op_plan_create(npu_device_t device, const npu_op_desc_t* op,
                                          const npu_tensor_desc_t* tensors, size_t count,
                                          npu_op_plan_t* plan);
NPU_C_API npu_status_t npu_op_plan_destroy(npu_op_plan_t plan);
/* Enqueues the operation: operands[i] is the device address of element
 * [0, ...] of tensor i (NULL for absent operands). */
NPU_C_API npu_status_t npu_op_plan_launch(npu_op_plan_t plan, npu_stream_t stream,
                                          const void* const* operands, size_t count);
/* Operand slots, and packets one launch encodes. */
NPU_C_API npu_status_t npu_op_plan_info(npu_op_plan_t plan, size_t* operand_count,
                                        size_t* packet_count);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-*) */

#endif /* NPU_NPU_OPS_H */
