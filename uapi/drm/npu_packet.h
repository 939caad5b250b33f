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
 * Within a job every packet sees the memory written by the packets before
 * it; an operation's work may be spread over several tensor engines, but
 * the next packet starts only when all of it is done.
 */
#ifndef _UAPI_DRM_NPU_PACKET_H_
#define _UAPI_DRM_NPU_PACKET_H_

#include <linux/types.h>

#define NPU_OP_NOP		0x00
#define NPU_OP_FILL		0x01
#define NPU_OP_COPY		0x02
#define NPU_OP_TIMESTAMP	0x03
#define NPU_OP_FENCE		0x04
#define NPU_OP_WAIT_MEM		0x05
#define NPU_OP_WRITE_MEM	0x06	/* packet version 3 */
#define NPU_OP_CALL		0x07	/* packet version 3 */
/* the last data-movement and control opcode */
#define NPU_OP_DATA_LAST	NPU_OP_CALL

#define NPU_PKT_HEADER(op, dwords)	((__u32)(op) | (__u32)(dwords) << 16)
#define NPU_PKT_OPCODE(h)		((h) & 0xff)
#define NPU_PKT_MBZ(h)			(((h) >> 8) & 0xff)
#define NPU_PKT_DWORDS(h)		((h) >> 16)

/** struct npu_pkt_nop - does nothing; any even length >= 2 (padding) */
struct npu_pkt_nop {
	__u32 header;
	__u32 mbz;
};

/**
 * struct npu_pkt_fill - write a 32-bit pattern over [dst, dst + size)
 * @size: bytes, a multiple of 4; dst 4-byte aligned
 */
struct npu_pkt_fill {
	__u32 header;
	__u32 value;
	__u64 dst;
	__u64 size;
};

/** struct npu_pkt_copy - copy size bytes from src to dst (no overlap) */
struct npu_pkt_copy {
	__u32 header;
	__u32 mbz;
	__u64 src;
	__u64 dst;
	__u64 size;
};

/** struct npu_pkt_timestamp - write the device clock (ns, u64) to dst */
struct npu_pkt_timestamp {
	__u32 header;
	__u32 mbz;
	__u64 dst;
};

/**
 * struct npu_pkt_fence - write a 64-bit value to dst once every earlier
 * packet is done, then interrupt the host
 */
struct npu_pkt_fence {
	__u32 header;
	__u32 mbz;
	__u64 dst;
	__u64 value;
};

/* Flags of struct npu_pkt_wait_mem (packet version 3; MBZ before) */
#define NPU_WAIT_MEM_GE		(1u << 0)	/* wait for *addr >= value */
#define NPU_WAIT_MEM_FLAGS	NPU_WAIT_MEM_GE

/**
 * struct npu_pkt_wait_mem - stall the queue until the 64-bit value at addr
 * (8-byte aligned) equals value, or with NPU_WAIT_MEM_GE until it is at
 * least value (unsigned); the device polls it, so the host (or another
 * job) releases the wait by writing memory. Bounded by the driver's job
 * timeout.
 * @header: NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS)
 * @flags: NPU_WAIT_MEM_*; other bits MBZ (BAD_PACKET)
 * @addr: device address of the 64-bit word, 8-byte aligned (BAD_PACKET)
 * @value: the value waited for
 */
struct npu_pkt_wait_mem {
	__u32 header;
	__u32 flags;
	__u64 addr;
	__u64 value;
};

/* Flags of struct npu_pkt_write_mem */
#define NPU_WRITE_MEM_32	(1u << 0)	/* write the low 32 bits only */
#define NPU_WRITE_MEM_FLAGS	NPU_WRITE_MEM_32

/**
 * struct npu_pkt_write_mem - write a value to memory once every earlier
 * packet is done, without interrupting the host (unlike FENCE): progress
 * marks and event records inside a command buffer, released waits of
 * other queues (WAIT_MEM)
 * @header: NPU_PKT_HEADER(NPU_OP_WRITE_MEM, NPU_PKT_WRITE_MEM_DWORDS)
 * @flags: NPU_WRITE_MEM_*; other bits MBZ (BAD_PACKET)
 * @addr: device address written; 8-byte aligned, or 4-byte aligned with
 *	NPU_WRITE_MEM_32 (BAD_PACKET)
 * @value: the 64-bit value; with NPU_WRITE_MEM_32 the upper 32 bits MBZ
 *	(BAD_PACKET)
 *
 * Packet version 3.
 */
struct npu_pkt_write_mem {
	__u32 header;
	__u32 flags;
	__u64 addr;
	__u64 value;
};

/* Limits of NPU_OP_CALL */
#define NPU_CALL_MAX_DEPTH	4		/* nested calls below the job's buffer */
#define NPU_CALL_MAX_SIZE	(16u << 20)	/* bytes of one called buffer */

/**
 * struct npu_pkt_call - run the packets of another command buffer, then
 * continue after this packet
 * @header: NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS)
 * @mbz: MBZ
 * @addr: device address of the called buffer, 8-byte aligned
 * @size: its size in bytes: a non-zero multiple of 8, at most
 *	NPU_CALL_MAX_SIZE
 *
 * A baked command buffer (a graph) is submitted once and called by a small
 * job as often as needed. The called buffer's packets run exactly as the
 * job's own would; it may CALL in turn, up to NPU_CALL_MAX_DEPTH levels
 * below the job's buffer (a deeper CALL, and so any recursion, fails
 * with BAD_PACKET). An unaligned @addr, or a @size that is 0, not a
 * multiple of 8 or too large, fails with BAD_PACKET; a range leaving the
 * device address space or an unmapped called buffer with PAGE_FAULT. A
 * failure inside a called buffer reports the job's outermost CALL: the
 * job's err_offset is that CALL's offset in the job's command buffer
 * (the fault address is the faulting address, as for any packet). Like
 * every buffer the device reads, the called buffer must be listed in the
 * submission's BOs.
 *
 * Packet version 3.
 */
struct npu_pkt_call {
	__u32 header;
	__u32 mbz;
	__u64 addr;
	__u64 size;
};

#define NPU_PKT_NOP_DWORDS	(sizeof(struct npu_pkt_nop) / 4)
#define NPU_PKT_FILL_DWORDS	(sizeof(struct npu_pkt_fill) / 4)
#define NPU_PKT_COPY_DWORDS	(sizeof(struct npu_pkt_copy) / 4)
#define NPU_PKT_TIMESTAMP_DWORDS (sizeof(struct npu_pkt_timestamp) / 4)
#define NPU_PKT_FENCE_DWORDS	(sizeof(struct npu_pkt_fence) / 4)
#define NPU_PKT_WAIT_MEM_DWORDS	(sizeof(struct npu_pkt_wait_mem) / 4)
#define NPU_PKT_WRITE_MEM_DWORDS (sizeof(struct npu_pkt_write_mem) / 4)
#define NPU_PKT_CALL_DWORDS	(sizeof(struct npu_pkt_call) / 4)

/* ---- Operations (packet version 2) ------------------------------------ */

/*
 * NPU_PACKET_VERSION counts compatible additions to this file: 1 was the
 * data-movement packets above, 2 adds the tensor operations below, 3 adds
 * WRITE_MEM, CALL and NPU_WAIT_MEM_GE (for graphs). The
 * device reports the version it speaks, the opcodes (bit n = opcode n) and
 * the dtypes (bit n = NPU_DTYPE n) it executes; the driver passes them on
 * as DRM_NPU_PARAM_PACKET_VERSION, _OP_MASK and _DTYPE_MASK.
 */
#define NPU_PACKET_VERSION	3

#define NPU_OP_GEMM		0x10
#define NPU_OP_CONV		0x11
#define NPU_OP_POOL		0x12
#define NPU_OP_UNARY		0x13
#define NPU_OP_BINARY		0x14
#define NPU_OP_REDUCE		0x15
#define NPU_OP_NORM		0x16
#define NPU_OP_TENSOR_COPY	0x17
#define NPU_OP_GATHER		0x18
#define NPU_OP_CAST		0x19
#define NPU_OP_LAST		NPU_OP_CAST

/* Element types. 0 marks an absent optional tensor. */
#define NPU_DTYPE_NONE		0
#define NPU_DTYPE_F32		1
#define NPU_DTYPE_F16		2	/* IEEE binary16 */
#define NPU_DTYPE_BF16		3	/* bfloat16 */
#define NPU_DTYPE_I8		4
#define NPU_DTYPE_U8		5
#define NPU_DTYPE_I32		6
#define NPU_DTYPE_I64		7
#define NPU_DTYPE_BOOL		8	/* one byte, 0 or 1 */
#define NPU_DTYPE_LAST		NPU_DTYPE_BOOL

#define NPU_MAX_RANK		6

/**
 * struct npu_tensor - where a tensor's elements live and how they are laid out
 * @addr: device address of element [0, ..., 0]; a multiple of the element
 *	size
 * @dtype: NPU_DTYPE_*; NPU_DTYPE_NONE (with every other field zero) marks
 *	an absent optional operand
 * @rank: number of dimensions, 0 (a scalar) to NPU_MAX_RANK
 * @shape: extent of each dimension; entries at and beyond @rank MBZ. An
 *	extent may be 0 (an empty tensor: the operation writes nothing)
 * @stride: distance in elements between neighbours along each dimension,
 *	signed; 0 repeats (broadcasts) the dimension. Entries at and beyond
 *	@rank MBZ. Element [i0, ..., in] is at @addr + size * sum(ik * stride_k)
 *
 * Every element the descriptor reaches must lie inside the device address
 * space, and the element count must not overflow 64 bits: both are checked
 * before the packet runs (BAD_PACKET). Pages are checked as they are
 * touched (PAGE_FAULT). An output must not overlap any input of the same
 * packet, and an output's strides must not make two elements share memory,
 * unless the operation says otherwise; such aliasing gives undefined values
 * (never a device failure).
 */
struct npu_tensor {
	__u64 addr;
	__u32 dtype;
	__u32 rank;
	__u32 shape[NPU_MAX_RANK];
	__s64 stride[NPU_MAX_RANK];
};

/*
 * Element-wise functions: the UNARY packet's @fn, and the fused activation
 * of GEMM and CONV (struct npu_act). alpha and beta are the parameters
 * named; the others ignore them (they must still be finite).
 */
#define NPU_FN_IDENTITY		0
#define NPU_FN_RELU		1
#define NPU_FN_LEAKY_RELU	2	/* x < 0 ? alpha * x : x */
#define NPU_FN_ELU		3	/* x < 0 ? alpha * (exp(x) - 1) : x */
#define NPU_FN_SELU		4	/* beta * (x < 0 ? alpha * (exp(x) - 1) : x) */
#define NPU_FN_CELU		5	/* max(0,x) + min(0, alpha * (exp(x/alpha) - 1)) */
#define NPU_FN_GELU		6	/* x * (1 + erf(x / sqrt 2)) / 2 */
#define NPU_FN_GELU_TANH	7	/* tanh approximation */
#define NPU_FN_SIGMOID		8
#define NPU_FN_HARD_SIGMOID	9	/* max(0, min(1, alpha * x + beta)) */
#define NPU_FN_HARD_SWISH	10	/* x * max(0, min(1, x / 6 + 1 / 2)) */
#define NPU_FN_TANH		11
#define NPU_FN_SOFTPLUS		12	/* log(1 + exp(x)) */
#define NPU_FN_SOFTSIGN		13	/* x / (1 + |x|) */
#define NPU_FN_SILU		14	/* x * sigmoid(x) */
#define NPU_FN_MISH		15	/* x * tanh(softplus(x)) */
#define NPU_FN_CLIP		16	/* min(max(x, alpha), beta) */
#define NPU_FN_THRESHOLDED_RELU	17	/* x > alpha ? x : 0 */
#define NPU_FN_SHRINK		18	/* x < -alpha ? x + beta : x > alpha ? x - beta : 0 */
#define NPU_FN_EXP		19
#define NPU_FN_LOG		20
#define NPU_FN_SQRT		21
#define NPU_FN_RSQRT		22
#define NPU_FN_RECIPROCAL	23
#define NPU_FN_NEG		24
#define NPU_FN_ABS		25
#define NPU_FN_FLOOR		26
#define NPU_FN_CEIL		27
#define NPU_FN_ROUND		28	/* half to even */
#define NPU_FN_SIGN		29
#define NPU_FN_ERF		30
#define NPU_FN_SIN		31
#define NPU_FN_COS		32
#define NPU_FN_TAN		33
#define NPU_FN_ASIN		34
#define NPU_FN_ACOS		35
#define NPU_FN_ATAN		36
#define NPU_FN_SINH		37
#define NPU_FN_COSH		38
#define NPU_FN_ASINH		39
#define NPU_FN_ACOSH		40
#define NPU_FN_ATANH		41
#define NPU_FN_NOT		42	/* logical not; bool only */
#define NPU_FN_ISNAN		43	/* float in, bool out */
#define NPU_FN_ISINF		44	/* float in, bool out; alpha != 0: +inf, beta != 0: -inf */
#define NPU_FN_BITWISE_NOT	45	/* integer types only */
#define NPU_FN_LAST		NPU_FN_BITWISE_NOT

/**
 * struct npu_act - an element-wise function applied to a result
 * @fn: NPU_FN_* (NPU_FN_IDENTITY: none)
 * @alpha: first parameter, IEEE binary32 bits
 * @beta: second parameter, IEEE binary32 bits
 * @mbz: MBZ
 */
struct npu_act {
	__u32 fn;
	__u32 alpha;
	__u32 beta;
	__u32 mbz;
};

/**
 * struct npu_quant - integer (8-bit) operands and requantised results
 * @a_zero: zero point subtracted from the first operand (a or x)
 * @b_zero: zero point subtracted from the second operand (b or w)
 * @y_scale: IEEE binary32 bits; an 8-bit result is
 *	saturate(round_half_even(acc * y_scale) + y_zero); not used (any
 *	finite value) for other results
 * @y_zero: zero point added to an 8-bit result
 *
 * Zero points must lie in the range of their operand's dtype. For float
 * operands the whole struct MBZ.
 */
struct npu_quant {
	__s32 a_zero;
	__s32 b_zero;
	__u32 y_scale;
	__s32 y_zero;
};

/**
 * struct npu_pkt_gemm - batched matrix product
 * @header: NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS)
 * @mbz: MBZ
 * @alpha: IEEE binary32 bits
 * @beta: IEEE binary32 bits
 * @act: fused activation, applied last (before requantisation)
 * @quant: 8-bit zero points and requantisation
 * @a: [batch..., M, K]
 * @b: [batch..., K, N]
 * @c: [batch..., M, N], optional (NPU_DTYPE_NONE)
 * @y: [batch..., M, N]
 *
 * y = act(alpha * (a x b) + beta * c). All four tensors have y's rank
 * (at least 2) and y's batch extents; broadcasting is a zero stride, and
 * a transpose is a pair of swapped strides. Type rules:
 *
 * - float: a and b both F32, F16 or BF16; c and y any float type. F32 is
 *   computed in f32, BF16 with f32 accumulation, F16 through f32.
 * - 8-bit: a and b each I8 or U8, acc = sum (a - a_zero) * (b - b_zero) in
 *   int32. y I32: y = acc + c (c I32), alpha = beta = 1, act NONE or RELU.
 *   y I8/U8: requantised from act(acc + c). y F32: alpha * acc + beta * c
 *   (c F32), then act.
 * - integer: a, b, c, y all I32 or all I64, exact with wrap-around; alpha
 *   = beta = 1, act NONE or RELU.
 */
struct npu_pkt_gemm {
	__u32 header;
	__u32 mbz;
	__u32 alpha;
	__u32 beta;
	struct npu_act act;
	struct npu_quant quant;
	struct npu_tensor a;
	struct npu_tensor b;
	struct npu_tensor c;
	struct npu_tensor y;
};

#define NPU_CONV_TRANSPOSED	(1u << 0)
#define NPU_CONV_FLAGS		NPU_CONV_TRANSPOSED

/**
 * struct npu_pkt_conv - 1-D, 2-D or 3-D convolution, direct or transposed
 * @header: NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_CONV_DWORDS)
 * @flags: NPU_CONV_*
 * @groups: at least 1; divides input and output channels
 * @spatial: spatial dimensions, 1 to 3; x, w and y have rank spatial + 2
 * @stride: per spatial dimension, at least 1; unused entries MBZ
 * @dilation: per spatial dimension, at least 1; unused entries MBZ
 * @pad_begin: zero padding before each spatial dimension
 * @pad_end: zero padding after each spatial dimension
 * @act: fused activation
 * @quant: 8-bit zero points (x: a_zero, w: b_zero) and requantisation
 * @x: [N, C, in...]
 * @w: [OC, C / groups, k...]; transposed: [C, OC / groups, k...]
 * @bias: [OC], optional
 * @y: [N, OC, out...]
 *
 * Direct: out = (in + pad_begin + pad_end - dilation * (k - 1) - 1) /
 * stride + 1 (rounded down), exactly. Transposed: out = (in - 1) * stride
 * - pad_begin - pad_end + dilation * (k - 1) + 1 + extra, where the output
 * padding extra (0 <= extra < max(stride, dilation)) is read off y's shape.
 * Types as GEMM: x and w float (same dtype) with float y and bias, or
 * 8-bit x and w with I32 (bias I32), I8/U8 (requantised) or F32 y.
 */
struct npu_pkt_conv {
	__u32 header;
	__u32 flags;
	__u32 groups;
	__u32 spatial;
	__u32 stride[3];
	__u32 dilation[3];
	__u32 pad_begin[3];
	__u32 pad_end[3];
	struct npu_act act;
	struct npu_quant quant;
	struct npu_tensor x;
	struct npu_tensor w;
	struct npu_tensor bias;
	struct npu_tensor y;
};

#define NPU_POOL_MAX		0
#define NPU_POOL_AVG		1	/* padding not counted */
#define NPU_POOL_AVG_PAD	2	/* padding (not the ceil overhang) counted */
#define NPU_POOL_LP		3	/* (sum |x|^p)^(1/p), p = @p */

/**
 * struct npu_pkt_pool - pooling over 1 to 3 spatial dimensions
 * @header: NPU_PKT_HEADER(NPU_OP_POOL, NPU_PKT_POOL_DWORDS)
 * @mode: NPU_POOL_*
 * @spatial: spatial dimensions, 1 to 3; x and y have rank spatial + 2
 * @p: the norm's order for NPU_POOL_LP (at least 1), else MBZ
 * @mbz: MBZ
 * @kernel: window extent per spatial dimension, at least 1
 * @stride: at least 1
 * @dilation: at least 1
 * @pad_begin: padding before, less than the dilated window
 * @pad_end: padding after, less than the dilated window
 * @x: [N, C, in...], a float type
 * @y: [N, C, out...], x's dtype
 * @indices: optional, I64 with y's shape: for NPU_POOL_MAX the flat index
 *	(row-major within x's [N, C, in...] extents) of each maximum
 *
 * out is (in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride + 1
 * rounded down, or rounded up (ceil mode) as long as the last window
 * starts inside x or pad_begin. Windows are clipped to x; a global pool is
 * a kernel as large as x.
 */
struct npu_pkt_pool {
	__u32 header;
	__u32 mode;
	__u32 spatial;
	__u32 p;
	__u32 kernel[3];
	__u32 stride[3];
	__u32 dilation[3];
	__u32 pad_begin[3];
	__u32 pad_end[3];
	__u32 mbz;
	struct npu_tensor x;
	struct npu_tensor y;
	struct npu_tensor indices;
};

/**
 * struct npu_pkt_unary - y = fn(x), element by element
 * @header: NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS)
 * @act: the function and its parameters
 * @x: input
 * @y: output, x's shape
 *
 * Floats compute in f32 (F16 and BF16 through f32); integers exactly. y
 * has x's dtype, except NPU_FN_ISNAN and NPU_FN_ISINF (BOOL). Functions
 * that make no sense for a dtype (NOT outside BOOL, BITWISE_NOT outside
 * integers, ISNAN on integers, transcendental functions on integers and
 * BOOL) are rejected.
 */
struct npu_pkt_unary {
	__u32 header;
	__u32 mbz;
	struct npu_act act;
	struct npu_tensor x;
	struct npu_tensor y;
};

#define NPU_BIN_ADD		0
#define NPU_BIN_SUB		1
#define NPU_BIN_MUL		2
#define NPU_BIN_DIV		3	/* integers: truncated; x / 0 = 0 */
#define NPU_BIN_MAX		4
#define NPU_BIN_MIN		5
#define NPU_BIN_POW		6
#define NPU_BIN_PRELU		7	/* a < 0 ? a * b : a */
#define NPU_BIN_MOD		8	/* sign of b (Python); integers: x % 0 = 0, floats: NaN */
#define NPU_BIN_FMOD		9	/* sign of a (C fmod); x % 0 = 0 for integers */
#define NPU_BIN_EQUAL		10	/* comparisons: y BOOL */
#define NPU_BIN_LESS		11
#define NPU_BIN_LESS_EQUAL	12
#define NPU_BIN_GREATER		13
#define NPU_BIN_GREATER_EQUAL	14
#define NPU_BIN_AND		15	/* logical: BOOL in and out */
#define NPU_BIN_OR		16
#define NPU_BIN_XOR		17
#define NPU_BIN_BITWISE_AND	18	/* integers */
#define NPU_BIN_BITWISE_OR	19
#define NPU_BIN_BITWISE_XOR	20
#define NPU_BIN_SHIFT_LEFT	21	/* integers; a shift < 0 or >= width gives 0 */
#define NPU_BIN_SHIFT_RIGHT	22	/* arithmetic for signed types */
#define NPU_BIN_SELECT		23	/* y = cond ? a : b */
#define NPU_BIN_LAST		NPU_BIN_SELECT

/**
 * struct npu_pkt_binary - y = fn(a, b) element by element, with broadcasting
 * @header: NPU_PKT_HEADER(NPU_OP_BINARY, NPU_PKT_BINARY_DWORDS)
 * @fn: NPU_BIN_*
 * @mbz: MBZ
 * @a: first operand, y's shape (zero strides broadcast)
 * @b: second operand, y's shape, a's dtype
 * @cond: NPU_BIN_SELECT's BOOL condition, y's shape; otherwise absent
 * @y: result; a's dtype, BOOL for comparisons
 */
struct npu_pkt_binary {
	__u32 header;
	__u32 fn;
	__u32 mbz[2];
	struct npu_tensor a;
	struct npu_tensor b;
	struct npu_tensor cond;
	struct npu_tensor y;
};

#define NPU_RED_SUM		0
#define NPU_RED_MEAN		1
#define NPU_RED_MAX		2
#define NPU_RED_MIN		3
#define NPU_RED_PROD		4
#define NPU_RED_SUM_SQUARE	5
#define NPU_RED_L1		6
#define NPU_RED_L2		7
#define NPU_RED_LOG_SUM		8
#define NPU_RED_LOG_SUM_EXP	9
#define NPU_RED_ARGMAX		10	/* y I64 or I32: index along the one axis */
#define NPU_RED_ARGMIN		11
#define NPU_RED_LAST		NPU_RED_ARGMIN

#define NPU_RED_SELECT_LAST	(1u << 0)	/* ARGMAX/ARGMIN: last of equal values */
#define NPU_RED_FLAGS		NPU_RED_SELECT_LAST

/**
 * struct npu_pkt_reduce - reduce over a set of axes
 * @header: NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS)
 * @fn: NPU_RED_*
 * @axes: bit n set reduces dimension n (bits below x's rank only); ARGMAX
 *	and ARGMIN take exactly one. No bit: y = fn over one element.
 * @flags: NPU_RED_*
 * @x: input
 * @y: x's rank, extent 1 in the reduced dimensions and x's elsewhere; x's
 *	dtype (I64 or I32 for ARGMAX/ARGMIN)
 *
 * Floats accumulate in f32 or wider; integers exactly (MEAN truncates). A
 * reduction over zero elements gives SUM 0, PROD 1, MAX the lowest and MIN
 * the highest value of the dtype.
 */
struct npu_pkt_reduce {
	__u32 header;
	__u32 fn;
	__u32 axes;
	__u32 flags;
	struct npu_tensor x;
	struct npu_tensor y;
};

#define NPU_NORM_SOFTMAX	0	/* exp(x - max) / sum over axes */
#define NPU_NORM_LOG_SOFTMAX	1
#define NPU_NORM_NORMALIZE	2	/* (x - mean) / sqrt(var + eps) over axes, * scale + bias */
#define NPU_NORM_BATCH		3	/* (x - mean) / sqrt(var + eps) * scale + bias, given mean/var */
#define NPU_NORM_LAST		NPU_NORM_BATCH

/**
 * struct npu_pkt_norm - softmax and normalisations
 * @header: NPU_PKT_HEADER(NPU_OP_NORM, NPU_PKT_NORM_DWORDS)
 * @fn: NPU_NORM_*
 * @axes: dimensions normalised together (bit n = dimension n), at least
 *	one for SOFTMAX, LOG_SOFTMAX and NORMALIZE; 0 for BATCH
 * @epsilon: IEEE binary32 bits, for NORMALIZE and BATCH
 * @x: input, a float type
 * @scale: x's shape (zero strides broadcast), optional for NORMALIZE,
 *	required for BATCH, absent for the softmaxes
 * @bias: like scale
 * @mean: BATCH only: x's shape (zero strides broadcast)
 * @var: BATCH only: like mean
 * @y: x's shape, a float type
 *
 * Layer normalisation is NORMALIZE over the trailing axes, instance
 * normalisation NORMALIZE over the spatial axes with scale and bias
 * broadcast along all but the channel dimension, batch normalisation
 * (inference) BATCH. Computed in f32; variance is the biased one.
 */
struct npu_pkt_norm {
	__u32 header;
	__u32 fn;
	__u32 axes;
	__u32 epsilon;
	struct npu_tensor x;
	struct npu_tensor scale;
	struct npu_tensor bias;
	struct npu_tensor mean;
	struct npu_tensor var;
	struct npu_tensor y;
};

#define NPU_COPY_PLAIN		0	/* y = x (same shape) */
#define NPU_COPY_PAD_CONSTANT	1	/* outside x: pad_value */
#define NPU_COPY_PAD_REFLECT	2	/* outside x: mirrored, edge not repeated */
#define NPU_COPY_PAD_EDGE	3	/* outside x: nearest edge element */

/**
 * struct npu_pkt_tensor_copy - strided copy: transpose, slice, concat and
 * split (one packet per part), expand and tile (zero or repeated strides),
 * and padding
 * @header: NPU_PKT_HEADER(NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS)
 * @mode: NPU_COPY_*
 * @pad_value: NPU_COPY_PAD_CONSTANT's value as an element of y's dtype,
 *	little-endian in the low bytes; MBZ otherwise
 * @pad_begin: where x starts inside y per dimension, y[i] = x[i -
 *	pad_begin]; negative values crop. MBZ for NPU_COPY_PLAIN and at and
 *	beyond the rank
 * @x: source, y's dtype and rank; y's shape for NPU_COPY_PLAIN
 * @y: destination
 *
 * Reflection needs x's extent to be at least 2 in a reflected dimension
 * (and 1 for the others); padding wider than x reflects back and forth.
 */
struct npu_pkt_tensor_copy {
	__u32 header;
	__u32 mode;
	__u64 pad_value;
	__s32 pad_begin[NPU_MAX_RANK];
	struct npu_tensor x;
	struct npu_tensor y;
};

#define NPU_GATHER_TAKE		0	/* numpy take / ONNX Gather */
#define NPU_GATHER_ELEMENTS	1	/* ONNX GatherElements */

/**
 * struct npu_pkt_gather - gather along an axis
 * @header: NPU_PKT_HEADER(NPU_OP_GATHER, NPU_PKT_GATHER_DWORDS)
 * @mode: NPU_GATHER_*
 * @axis: dimension of x indexed, below x's rank
 * @mbz: MBZ
 * @x: source
 * @indices: I32 or I64; negative values count from the end
 * @y: x's dtype. TAKE: shape x[:axis] + indices + x[axis+1:] (rank at
 *	most NPU_MAX_RANK). ELEMENTS: indices' shape, x's rank, extents no
 *	larger than x's outside axis
 *
 * An index outside [-extent, extent) is found while the packet runs: the
 * job fails with BAD_PACKET at this packet, and part of y may be written.
 */
struct npu_pkt_gather {
	__u32 header;
	__u32 mode;
	__u32 axis;
	__u32 mbz;
	struct npu_tensor x;
	struct npu_tensor indices;
	struct npu_tensor y;
};

/**
 * struct npu_pkt_cast - convert every element to another dtype
 * @header: NPU_PKT_HEADER(NPU_OP_CAST, NPU_PKT_CAST_DWORDS)
 * @mbz: MBZ
 * @x: source, any dtype
 * @y: destination, x's shape, any dtype
 *
 * Float to float rounds to nearest even; float to integer truncates
 * toward zero and saturates (NaN gives 0); integer to integer wraps
 * (two's complement); anything to BOOL is x != 0; BOOL is 0 or 1.
 */
struct npu_pkt_cast {
	__u32 header;
	__u32 mbz;
	struct npu_tensor x;
	struct npu_tensor y;
};

#define NPU_PKT_GEMM_DWORDS	(sizeof(struct npu_pkt_gemm) / 4)
#define NPU_PKT_CONV_DWORDS	(sizeof(struct npu_pkt_conv) / 4)
#define NPU_PKT_POOL_DWORDS	(sizeof(struct npu_pkt_pool) / 4)
#define NPU_PKT_UNARY_DWORDS	(sizeof(struct npu_pkt_unary) / 4)
#define NPU_PKT_BINARY_DWORDS	(sizeof(struct npu_pkt_binary) / 4)
#define NPU_PKT_REDUCE_DWORDS	(sizeof(struct npu_pkt_reduce) / 4)
#define NPU_PKT_NORM_DWORDS	(sizeof(struct npu_pkt_norm) / 4)
#define NPU_PKT_TENSOR_COPY_DWORDS (sizeof(struct npu_pkt_tensor_copy) / 4)
#define NPU_PKT_GATHER_DWORDS	(sizeof(struct npu_pkt_gather) / 4)
#define NPU_PKT_CAST_DWORDS	(sizeof(struct npu_pkt_cast) / 4)

/* The largest packet of any opcode, in bytes. */
#define NPU_PKT_MAX_BYTES	sizeof(struct npu_pkt_norm)

#endif /* _UAPI_DRM_NPU_PACKET_H_ */
