// SPDX-License-Identifier: MIT
/*
 * Validation of the operation packets of uapi/drm/npu_packet.h and the
 * choice of their tiles (docs/operations.md lists the rules). The core has
 * no FPU: sizes are 64-bit integers (saturating where a product may not
 * fit) and the f32 parameters are only looked at as bit patterns.
 */
#include "op_check.h"

#include <stdbool.h>
#include <stddef.h>

#include "drm/npu_packet.h"
#include "npu_hw.h"

#define VA_LIMIT	(1ull << NPU_VA_BITS)
#define F32_ONE		0x3f800000u

/* Above this much work an operation is spread over every engine. */
#define BIG_FLOPS	(2ull << 20)	/* GEMM and CONV multiply-adds * 2 */
#define BIG_ELEMENTS	(256ull << 10)	/* elements of the largest tensor */
/* the most work one tile may carry: about 10 ms on an engine */
#define MAX_TILE_WORK	(1ull << 20)

#define TOO_LARGE	"operation too large for an engine's local memory"

#define DT(t)		(1u << NPU_DTYPE_##t)
#define DT_FLOAT	(DT(F32) | DT(F16) | DT(BF16))
#define DT_8BIT		(DT(I8) | DT(U8))
#define DT_INT		(DT_8BIT | DT(I32) | DT(I64))
#define DT_ANY		(DT_FLOAT | DT_INT | DT(BOOL))

#define FN(f)		(1ull << NPU_FN_##f)
#define FN_ALL		((FN(LAST) << 1) - 1)
/* functions whose result keeps a float input's dtype */
#define FN_FLOAT	(FN_ALL & ~(FN(NOT) | FN(BITWISE_NOT) | FN(ISNAN) | FN(ISINF)))
/* exact on integers (FLOOR, CEIL, ROUND are the identity there) */
#define FN_INT		(FN(IDENTITY) | FN(RELU) | FN(NEG) | FN(ABS) | \
			 FN(SIGN) | FN(FLOOR) | FN(CEIL) | FN(ROUND) | \
			 FN(CLIP) | FN(BITWISE_NOT))
#define FN_BOOL		(FN(IDENTITY) | FN(NOT))
/* the fused activation of a result accumulated in integers */
#define FN_INT_ACT	(FN(IDENTITY) | FN(RELU))

#define TRY(expr)						\
	do {							\
		const char *why_ = (expr);			\
		if (why_)					\
			return why_;				\
	} while (0)

/* How an operation is tiled: staging need of an r x c tile and its size. */
struct tiling {
	/* bytes = fixed + r * per_row + c * per_col + r * c * per_cell */
	uint64_t fixed, per_row, per_col, per_cell;
	bool big;	/* worth spreading over the engines */
	uint64_t work;	/* rough engine time of the whole op (MAC/512 or
			 * elements touched) */
};

static const uint8_t dtype_bytes[NPU_DTYPE_LAST + 1] = {
	[NPU_DTYPE_F32] = 4, [NPU_DTYPE_F16] = 2, [NPU_DTYPE_BF16] = 2,
	[NPU_DTYPE_I8] = 1, [NPU_DTYPE_U8] = 1, [NPU_DTYPE_I32] = 4,
	[NPU_DTYPE_I64] = 8, [NPU_DTYPE_BOOL] = 1,
};

static bool dt_in(uint32_t dtype, uint32_t mask)
{
	return dtype <= NPU_DTYPE_LAST && (mask >> dtype & 1);
}

static bool fn_in(uint32_t fn, uint64_t mask)
{
	return fn <= NPU_FN_LAST && (mask >> fn & 1);
}

static bool f32_finite(uint32_t bits)
{
	return (bits & 0x7f800000u) != 0x7f800000u;
}

/* Saturating size arithmetic: UINT64_MAX stands for "more than fits". */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t div_ceil(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static char reason_buf[96];

/* "<op> <role>: <what>" for a fault of one tensor or parameter group. */
static const char *role_reason(const char *op, const char *role,
			       const char *what)
{
	const char *parts[] = { op, " ", role, ": ", what };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *s = parts[i];
		     *s && n + 1 < sizeof(reason_buf); s++)
			reason_buf[n++] = *s;
	reason_buf[n] = '\0';
	return reason_buf;
}

/*
 * The rules every descriptor follows on its own (struct npu_tensor);
 * *count gets its element count, 0 when absent or empty.
 */
static const char *tensor_why(const struct npu_tensor *t, bool optional,
			      uint64_t *count)
{
	static const char outside[] =
		"reaches outside the device address space";
	uint64_t n = 1, below = 0, above = 0, size;
	uint32_t d;

	*count = 0;
	if (t->dtype == NPU_DTYPE_NONE) {
		if (!optional)
			return "required but dtype NONE";
		if (t->addr || t->rank)
			return "absent (dtype NONE) but fields not zero";
		for (d = 0; d < NPU_MAX_RANK; d++)
			if (t->shape[d] || t->stride[d])
				return "absent (dtype NONE) but fields not zero";
		return NULL;
	}
	if (t->dtype > NPU_DTYPE_LAST)
		return "unknown dtype";
	if (t->rank > NPU_MAX_RANK)
		return "rank above 6";
	for (d = t->rank; d < NPU_MAX_RANK; d++)
		if (t->shape[d] || t->stride[d])
			return "shape or stride beyond the rank not zero";
	for (d = 0; d < t->rank; d++)
		if (!t->shape[d])
			n = 0;
	for (d = 0; n && d < t->rank; d++) {
		if (t->shape[d] > UINT64_MAX / n)
			return "element count overflows 64 bits";
		n *= t->shape[d];
	}
	size = dtype_bytes[t->dtype];
	if (t->addr % size)
		return "address not a multiple of the element size";
	*count = n;
	if (!n)
		return NULL;	/* reaches no element */
	if (t->addr >= VA_LIMIT)
		return outside;
	/* lowest and highest element offsets, each at most 6 * VA_LIMIT */
	for (d = 0; d < t->rank; d++) {
		uint64_t last = t->shape[d] - 1;
		int64_t s = t->stride[d];
		uint64_t mag = s < 0 ? 0 - (uint64_t)s : (uint64_t)s;

		if (last && mag > VA_LIMIT / last)
			return outside;
		if (s < 0)
			below += last * mag;
		else
			above += last * mag;
	}
	if (below * size > t->addr || (above + 1) * size > VA_LIMIT - t->addr)
		return outside;
	return NULL;
}

static const char *tensor(const char *op, const char *role,
			  const struct npu_tensor *t, bool optional,
			  uint64_t *count)
{
	const char *why = tensor_why(t, optional, count);

	return why ? role_reason(op, role, why) : NULL;
}

static bool present(const struct npu_tensor *t)
{
	return t->dtype != NPU_DTYPE_NONE;
}

static bool same_shape(const struct npu_tensor *a, const struct npu_tensor *b)
{
	if (a->rank != b->rank)
		return false;
	for (uint32_t d = 0; d < a->rank; d++)
		if (a->shape[d] != b->shape[d])
			return false;
	return true;
}

/* Product of t's extents at positions d with bit d of skip clear. */
static uint64_t extent_product(const struct npu_tensor *t, uint32_t skip)
{
	uint64_t n = 1;

	for (uint32_t d = 0; d < t->rank; d++)
		if (!(skip >> d & 1))
			n = sat_mul(n, t->shape[d]);
	return n;
}

/* Fields of struct npu_act that hold whatever the function. */
static const char *act_check(const char *op, const struct npu_act *act)
{
	if (act->fn > NPU_FN_LAST)
		return role_reason(op, "act", "unknown function");
	if (act->mbz)
		return role_reason(op, "act", "non-zero mbz");
	if (!f32_finite(act->alpha) || !f32_finite(act->beta))
		return role_reason(op, "act", "alpha or beta not finite");
	return NULL;
}

static bool zero_point_ok(int32_t zero, uint32_t dtype)
{
	if (dtype == NPU_DTYPE_I8)
		return zero >= -128 && zero <= 127;
	if (dtype == NPU_DTYPE_U8)
		return zero >= 0 && zero <= 255;
	return true;
}

/*
 * The dtype rules GEMM (a, b, c, y) and CONV (x, w, bias, y) share, with
 * what follows from them for the activation, the quantisation and GEMM's
 * scale = { alpha, beta } (NULL for CONV). *wide is set when values are 8
 * bytes.
 */
static const char *mm_types(const char *op, uint32_t in0, uint32_t in1,
			    const struct npu_tensor *add, uint32_t out,
			    const uint32_t *scale, const struct npu_act *act,
			    const struct npu_quant *q, bool *wide)
{
	uint32_t add_dt = add->dtype;
	bool float_y = true;

	*wide = false;
	if (dt_in(in0, DT_FLOAT) && in1 == in0) {
		if (!dt_in(out, DT_FLOAT))
			return role_reason(op, "y", "not a float type for float inputs");
		if (present(add) && !dt_in(add_dt, DT_FLOAT))
			return role_reason(op, scale ? "c" : "bias",
					   "not a float type for float inputs");
		if (q->a_zero || q->b_zero || q->y_scale || q->y_zero)
			return role_reason(op, "quant", "not zero for float inputs");
	} else if (dt_in(in0, DT_8BIT) && dt_in(in1, DT_8BIT)) {
		if (out != NPU_DTYPE_I32 && out != NPU_DTYPE_F32 &&
		    !dt_in(out, DT_8BIT))
			return role_reason(op, "y", "not I32, I8, U8 or F32 for 8-bit inputs");
		if (present(add) &&
		    add_dt != (out == NPU_DTYPE_F32 ? NPU_DTYPE_F32 : NPU_DTYPE_I32))
			return role_reason(op, scale ? "c" : "bias",
					   "not F32 for an F32 y, else not I32");
		if (!zero_point_ok(q->a_zero, in0) ||
		    !zero_point_ok(q->b_zero, in1) ||
		    !zero_point_ok(q->y_zero, out))
			return role_reason(op, "quant", "zero point outside its dtype's range");
		if (!f32_finite(q->y_scale))
			return role_reason(op, "quant", "y_scale not finite");
		float_y = out != NPU_DTYPE_I32;
		/* only an F32 y is scaled; the others take acc (+ c) as is */
		if (scale && out != NPU_DTYPE_F32 &&
		    (scale[0] != F32_ONE || scale[1] != F32_ONE))
			return role_reason(op, "alpha/beta", "not 1 for an integer y");
	} else if (scale && (in0 == NPU_DTYPE_I32 || in0 == NPU_DTYPE_I64) &&
		   in1 == in0) {
		if (out != in0 || (present(add) && add_dt != in0))
			return role_reason(op, "c/y", "not the integer dtype of a and b");
		if (q->a_zero || q->b_zero || q->y_scale || q->y_zero)
			return role_reason(op, "quant", "not zero for I32/I64 inputs");
		if (scale[0] != F32_ONE || scale[1] != F32_ONE)
			return role_reason(op, "alpha/beta", "not 1 for an integer y");
		float_y = false;
		*wide = in0 == NPU_DTYPE_I64;
	} else {
		return role_reason(op, "dtypes", scale ?
			"a and b neither one float type, nor 8-bit, nor both I32 or I64" :
			"x and w neither one float type nor both 8-bit");
	}
	if (scale && (!f32_finite(scale[0]) || !f32_finite(scale[1])))
		return role_reason(op, "alpha/beta", "not finite");
	if (!fn_in(act->fn, float_y ? FN_FLOAT : FN_INT_ACT))
		return role_reason(op, "act", float_y ?
			"function does not keep a float result's dtype" :
			"only IDENTITY or RELU for an integer result");
	return NULL;
}

static const char *check_gemm(const struct npu_pkt_gemm *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "gemm";
	const uint32_t scale[2] = { p->alpha, p->beta };
	uint64_t na, nb, nc, ny, rows, k, flops, elem;
	uint32_t r, d;
	bool wide;

	if (p->mbz)
		return "gemm: non-zero mbz";
	TRY(act_check(op, &p->act));
	TRY(tensor(op, "a", &p->a, false, &na));
	TRY(tensor(op, "b", &p->b, false, &nb));
	TRY(tensor(op, "c", &p->c, true, &nc));
	TRY(tensor(op, "y", &p->y, false, &ny));
	r = p->y.rank;
	if (r < 2)
		return "gemm: y's rank below 2";
	if (p->a.rank != r || p->b.rank != r ||
	    (present(&p->c) && p->c.rank != r))
		return "gemm: a, b or c not of y's rank";
	for (d = 0; d + 2 < r; d++)
		if (p->a.shape[d] != p->y.shape[d] ||
		    p->b.shape[d] != p->y.shape[d])
			return "gemm: a's or b's batch extents differ from y's";
	if (p->a.shape[r - 2] != p->y.shape[r - 2])
		return "gemm: a's M differs from y's M";
	if (p->b.shape[r - 1] != p->y.shape[r - 1])
		return "gemm: b's N differs from y's N";
	if (p->a.shape[r - 1] != p->b.shape[r - 2])
		return "gemm: a's K differs from b's K";
	if (present(&p->c) && !same_shape(&p->c, &p->y))
		return "gemm: c's shape differs from y's";
	TRY(mm_types(op, p->a.dtype, p->b.dtype, &p->c, p->y.dtype, scale,
		     &p->act, &p->quant, &wide));

	k = p->a.shape[r - 1];
	rows = ny ? ny / p->y.shape[r - 1] : 0;
	plan->extent[0] = rows;
	plan->extent[1] = p->y.shape[r - 1];
	/* r*K of a, K*c of b, r*c of c and of y, staged 4 or 8 bytes wide */
	elem = wide ? 8 : 4;
	t->per_row = sat_mul(elem, k);
	t->per_col = sat_mul(elem, k);
	t->per_cell = 2 * elem;
	flops = sat_mul(sat_mul(2, ny), k);
	t->big = flops > BIG_FLOPS;
	t->work = flops / 512;
	return NULL;
}

/* Entries below spatial at least min, the others zero. */
static bool per_dim_ok(const uint32_t v[3], uint32_t spatial, uint32_t min)
{
	for (uint32_t d = 0; d < 3; d++)
		if (d < spatial ? v[d] < min : v[d] != 0)
			return false;
	return true;
}

/* One spatial dimension of a convolution: in (x), k (w), out (y). */
static const char *conv_dim(uint64_t in, uint64_t k, uint64_t out,
			    uint64_t stride, uint64_t dil, uint64_t pb,
			    uint64_t pe, bool transposed)
{
	uint64_t window, padded, full, need;

	if (!k)
		return "conv: w's kernel extent 0";
	window = dil * (k - 1) + 1;	/* < 2^64 for 32-bit dil and k */
	if (!transposed) {
		padded = in + pb + pe;
		if (padded < window)
			return "conv: dilated kernel larger than the padded input";
		if ((padded - window) / stride + 1 != out)
			return "conv: y's spatial extent differs from the output size";
		return NULL;
	}
	if (!in)
		return "conv: transposed with an empty spatial input extent";
	/* out = full - pb - pe + extra, 0 <= extra < max(stride, dilation) */
	full = sat_add(sat_mul(in - 1, stride), window);
	need = out + pb + pe;
	if (need < full || need - full >= (stride > dil ? stride : dil))
		return "conv: y's spatial extent differs from the transposed output size";
	return NULL;
}

static const char *check_conv(const struct npu_pkt_conv *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "conv";
	uint64_t nx, nw, nb, ny, in_vol = 1, k_vol = 1, out_vol = 1;
	uint64_t cg, ocg, flops;
	uint32_t spatial = p->spatial, rank, c, oc, s;
	bool transposed = p->flags & NPU_CONV_TRANSPOSED, wide;

	if (p->flags & ~NPU_CONV_FLAGS)
		return "conv: unknown flags";
	if (!p->groups)
		return "conv: groups 0";
	if (spatial < 1 || spatial > 3)
		return "conv: spatial not 1 to 3";
	if (!per_dim_ok(p->stride, spatial, 1) ||
	    !per_dim_ok(p->dilation, spatial, 1))
		return "conv: stride or dilation 0, or set beyond spatial";
	if (!per_dim_ok(p->pad_begin, spatial, 0) ||
	    !per_dim_ok(p->pad_end, spatial, 0))
		return "conv: padding set beyond spatial";
	TRY(act_check(op, &p->act));
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "w", &p->w, false, &nw));
	TRY(tensor(op, "bias", &p->bias, true, &nb));
	TRY(tensor(op, "y", &p->y, false, &ny));
	rank = spatial + 2;
	if (p->x.rank != rank || p->w.rank != rank || p->y.rank != rank)
		return "conv: x, w or y not of rank spatial + 2";
	if (p->y.shape[0] != p->x.shape[0])
		return "conv: y's batch extent differs from x's";
	c = p->x.shape[1];
	oc = p->y.shape[1];
	if (c % p->groups)
		return "conv: groups does not divide x's channels";
	if (oc % p->groups)
		return "conv: groups does not divide y's channels";
	cg = c / p->groups;
	ocg = oc / p->groups;
	if (transposed ? p->w.shape[0] != c : p->w.shape[0] != oc)
		return transposed ? "conv: transposed w's extent 0 is not x's channels" :
				    "conv: w's extent 0 is not y's channels";
	if (transposed ? p->w.shape[1] != ocg : p->w.shape[1] != cg)
		return transposed ? "conv: transposed w's extent 1 is not y's channels / groups" :
				    "conv: w's extent 1 is not x's channels / groups";
	if (present(&p->bias) &&
	    (p->bias.rank != 1 || p->bias.shape[0] != oc))
		return "conv: bias not [OC]";
	for (s = 0; s < spatial; s++) {
		TRY(conv_dim(p->x.shape[2 + s], p->w.shape[2 + s],
			     p->y.shape[2 + s], p->stride[s], p->dilation[s],
			     p->pad_begin[s], p->pad_end[s], transposed));
		in_vol = sat_mul(in_vol, p->x.shape[2 + s]);
		k_vol = sat_mul(k_vol, p->w.shape[2 + s]);
		out_vol = sat_mul(out_vol, p->y.shape[2 + s]);
	}
	TRY(mm_types(op, p->x.dtype, p->w.dtype, &p->bias, p->y.dtype, NULL,
		     &p->act, &p->quant, &wide));

	plan->extent[0] = ny ? (uint64_t)p->x.shape[0] * p->groups : 0;
	plan->extent[1] = ocg;
	/*
	 * An engine takes the (n, group) pairs of its tile one at a time:
	 * the group's input slice, then per output channel its filter, its
	 * output plane and its bias, all at most 4 bytes wide.
	 */
	t->fixed = sat_mul(4, sat_mul(cg, in_vol));
	t->per_col = sat_mul(4, sat_add(sat_mul(cg, k_vol), sat_add(out_vol, 1)));
	flops = transposed ? sat_mul(nx, ocg) : sat_mul(ny, cg);
	flops = sat_mul(sat_mul(2, flops), k_vol);
	t->big = flops > BIG_FLOPS;
	t->work = flops / 512;
	return NULL;
}

static const char *check_pool(const struct npu_pkt_pool *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "pool";
	uint64_t nx, ny, ni;
	uint32_t spatial = p->spatial, s;

	if (p->mode > NPU_POOL_LP)
		return "pool: unknown mode";
	if (spatial < 1 || spatial > 3)
		return "pool: spatial not 1 to 3";
	if (p->mode == NPU_POOL_LP ? p->p < 1 : p->p != 0)
		return "pool: p below 1 for LP, or not zero for another mode";
	if (p->mbz)
		return "pool: non-zero mbz";
	if (!per_dim_ok(p->kernel, spatial, 1) ||
	    !per_dim_ok(p->stride, spatial, 1) ||
	    !per_dim_ok(p->dilation, spatial, 1))
		return "pool: kernel, stride or dilation 0, or set beyond spatial";
	if (!per_dim_ok(p->pad_begin, spatial, 0) ||
	    !per_dim_ok(p->pad_end, spatial, 0))
		return "pool: padding set beyond spatial";
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "y", &p->y, false, &ny));
	TRY(tensor(op, "indices", &p->indices, true, &ni));
	if (!dt_in(p->x.dtype, DT_FLOAT))
		return "pool: x not a float type";
	if (p->y.dtype != p->x.dtype)
		return "pool: y's dtype differs from x's";
	if (p->x.rank != spatial + 2 || p->y.rank != spatial + 2)
		return "pool: x or y not of rank spatial + 2";
	if (p->y.shape[0] != p->x.shape[0] || p->y.shape[1] != p->x.shape[1])
		return "pool: y's N or C differs from x's";
	if (present(&p->indices)) {
		if (p->mode != NPU_POOL_MAX)
			return "pool: indices given for a mode other than MAX";
		if (p->indices.dtype != NPU_DTYPE_I64)
			return "pool: indices not I64";
		if (!same_shape(&p->indices, &p->y))
			return "pool: indices' shape differs from y's";
	}
	for (s = 0; s < spatial; s++) {
		uint64_t in = p->x.shape[2 + s], out = p->y.shape[2 + s];
		uint64_t stride = p->stride[s], pb = p->pad_begin[s];
		uint64_t window = (uint64_t)p->dilation[s] * (p->kernel[s] - 1) + 1;
		uint64_t padded = in + pb + p->pad_end[s], floor_out;

		if (pb >= window || p->pad_end[s] >= window)
			return "pool: padding not smaller than the dilated window";
		if (padded < window)
			return "pool: dilated window larger than the padded input";
		floor_out = (padded - window) / stride + 1;
		/* ceil mode: one more window if it starts inside x or pad_begin */
		if (out != floor_out &&
		    !(out == floor_out + 1 && (padded - window) % stride &&
		      (out - 1) * stride < in + pb))
			return "pool: y's spatial extent is neither the floor nor the ceil output size";
	}
	plan->extent[0] = ny ? (uint64_t)p->x.shape[0] * p->x.shape[1] : 0;
	t->big = nx > BIG_ELEMENTS || ny > BIG_ELEMENTS;
	t->work = nx > ny ? nx : ny;
	return NULL;
}

static const char *check_unary(const struct npu_pkt_unary *p,
			       struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "unary";
	uint32_t fn = p->act.fn, x_dt = p->x.dtype;
	uint64_t nx, ny, allowed;

	if (p->mbz)
		return "unary: non-zero mbz";
	TRY(act_check(op, &p->act));
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (!same_shape(&p->x, &p->y))
		return "unary: y's shape differs from x's";
	if (dt_in(x_dt, DT_FLOAT))
		allowed = FN_ALL & ~(FN(NOT) | FN(BITWISE_NOT));
	else if (dt_in(x_dt, DT_INT))
		allowed = FN_INT;
	else
		allowed = FN_BOOL;
	if (!fn_in(fn, allowed))
		return "unary: function not defined for x's dtype";
	if ((fn == NPU_FN_ISNAN || fn == NPU_FN_ISINF) ?
	    p->y.dtype != NPU_DTYPE_BOOL : p->y.dtype != x_dt)
		return "unary: y's dtype not x's (BOOL for ISNAN and ISINF)";
	plan->extent[0] = ny;
	t->big = ny > BIG_ELEMENTS;
	t->work = ny;
	return NULL;
}

static const char *check_binary(const struct npu_pkt_binary *p,
				struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "binary";
	uint32_t fn = p->fn, dt = p->a.dtype, allowed, y_dt = dt;
	uint64_t na, nb, nc, ny;

	if (fn > NPU_BIN_LAST)
		return "binary: unknown function";
	if (p->mbz[0] || p->mbz[1])
		return "binary: non-zero mbz";
	TRY(tensor(op, "a", &p->a, false, &na));
	TRY(tensor(op, "b", &p->b, false, &nb));
	TRY(tensor(op, "cond", &p->cond, fn != NPU_BIN_SELECT, &nc));
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (!same_shape(&p->a, &p->y) || !same_shape(&p->b, &p->y))
		return "binary: a's or b's shape differs from y's";
	if (p->b.dtype != dt)
		return "binary: b's dtype differs from a's";
	if (fn == NPU_BIN_SELECT) {
		if (p->cond.dtype != NPU_DTYPE_BOOL)
			return "binary: cond not BOOL";
		if (!same_shape(&p->cond, &p->y))
			return "binary: cond's shape differs from y's";
	} else if (present(&p->cond)) {
		return "binary: cond given for a function other than SELECT";
	}
	if (fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL) {
		allowed = DT_ANY;
		y_dt = NPU_DTYPE_BOOL;
	} else if (fn >= NPU_BIN_AND && fn <= NPU_BIN_XOR) {
		allowed = DT(BOOL);
	} else if (fn >= NPU_BIN_BITWISE_AND && fn <= NPU_BIN_SHIFT_RIGHT) {
		allowed = DT_INT;
	} else if (fn == NPU_BIN_SELECT || fn == NPU_BIN_MAX ||
		   fn == NPU_BIN_MIN) {
		allowed = DT_ANY;	/* on BOOL, MAX is OR and MIN is AND */
	} else {
		allowed = DT_FLOAT | DT_INT;	/* arithmetic */
	}
	if (!dt_in(dt, allowed))
		return "binary: function not defined for a's dtype";
	if (p->y.dtype != y_dt)
		return "binary: y's dtype not a's (BOOL for comparisons)";
	plan->extent[0] = ny;
	t->big = ny > BIG_ELEMENTS;
	t->work = ny;
	return NULL;
}

static const char *check_reduce(const struct npu_pkt_reduce *p,
				struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "reduce";
	uint32_t fn = p->fn, axes = p->axes, dt = p->x.dtype, d;
	bool arg = fn == NPU_RED_ARGMAX || fn == NPU_RED_ARGMIN, dt_ok = true;
	uint64_t nx, ny;

	if (fn > NPU_RED_LAST)
		return "reduce: unknown function";
	if (p->flags & ~NPU_RED_FLAGS)
		return "reduce: unknown flags";
	if (p->flags && !arg)
		return "reduce: SELECT_LAST for a function other than ARGMAX/ARGMIN";
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (axes >> p->x.rank)
		return "reduce: axes bit at or above x's rank";
	if (arg && (!axes || (axes & (axes - 1))))
		return "reduce: ARGMAX/ARGMIN need exactly one axis";
	if (p->y.rank != p->x.rank)
		return "reduce: y's rank differs from x's";
	for (d = 0; d < p->x.rank; d++)
		if (p->y.shape[d] != (axes >> d & 1 ? 1 : p->x.shape[d]))
			return "reduce: y's extents not 1 in reduced axes and x's elsewhere";
	/* roots and logarithms need floats; BOOL has only any, all and arg */
	if (fn == NPU_RED_L2 || fn == NPU_RED_LOG_SUM ||
	    fn == NPU_RED_LOG_SUM_EXP)
		dt_ok = dt_in(dt, DT_FLOAT);
	else if (dt == NPU_DTYPE_BOOL)
		dt_ok = arg || fn == NPU_RED_MAX || fn == NPU_RED_MIN;
	if (!dt_ok)
		return "reduce: function not defined for x's dtype";
	if (arg ? p->y.dtype != NPU_DTYPE_I32 && p->y.dtype != NPU_DTYPE_I64 :
	    p->y.dtype != dt)
		return "reduce: y's dtype not x's (I32 or I64 for ARGMAX/ARGMIN)";
	if (arg && ny && !extent_product(&p->x, ~axes))
		return "reduce: ARGMAX/ARGMIN over an empty axis";
	plan->extent[0] = ny;
	t->big = nx > BIG_ELEMENTS || ny > BIG_ELEMENTS;
	t->work = nx > ny ? nx : ny;
	return NULL;
}

static const char *check_norm(const struct npu_pkt_norm *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "norm";
	static const char *const roles[] = { "scale", "bias", "mean", "var" };
	const struct npu_tensor *extra[] = { &p->scale, &p->bias, &p->mean, &p->var };
	uint32_t fn = p->fn, i;
	uint64_t nx, ny, n;
	/* per scale, bias, mean, var: 0 absent, 1 optional, 2 required */
	uint32_t want[4] = { 0, 0, 0, 0 };

	if (fn > NPU_NORM_LAST)
		return "norm: unknown function";
	TRY(tensor(op, "x", &p->x, false, &nx));
	if (p->axes >> p->x.rank)
		return "norm: axes bit at or above x's rank";
	if (fn == NPU_NORM_BATCH ? p->axes != 0 : p->axes == 0)
		return "norm: axes empty for a softmax or NORMALIZE, or set for BATCH";
	if (fn == NPU_NORM_NORMALIZE) {
		want[0] = want[1] = 1;
	} else if (fn == NPU_NORM_BATCH) {
		want[0] = want[1] = want[2] = want[3] = 2;
	}
	if ((fn == NPU_NORM_NORMALIZE || fn == NPU_NORM_BATCH) &&
	    !f32_finite(p->epsilon))
		return "norm: epsilon not finite";
	if (!dt_in(p->x.dtype, DT_FLOAT))
		return "norm: x not a float type";
	for (i = 0; i < 4; i++) {
		TRY(tensor(op, roles[i], extra[i], want[i] != 2, &n));
		if (!present(extra[i]))
			continue;
		if (!want[i])
			return role_reason(op, roles[i], "given for a function that takes none");
		if (!dt_in(extra[i]->dtype, DT_FLOAT))
			return role_reason(op, roles[i], "not a float type");
		if (!same_shape(extra[i], &p->x))
			return role_reason(op, roles[i], "shape differs from x's");
	}
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (!dt_in(p->y.dtype, DT_FLOAT))
		return "norm: y not a float type";
	if (!same_shape(&p->y, &p->x))
		return "norm: y's shape differs from x's";
	plan->extent[0] = !nx ? 0 : fn == NPU_NORM_BATCH ? nx :
			  extent_product(&p->x, p->axes);
	t->big = nx > BIG_ELEMENTS;
	t->work = nx;
	return NULL;
}

static const char *check_copy(const struct npu_pkt_tensor_copy *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "tensor_copy";
	uint32_t mode = p->mode, rank = p->x.rank, d;
	uint64_t nx, ny, size;

	if (mode > NPU_COPY_PAD_EDGE)
		return "tensor_copy: unknown mode";
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (p->y.dtype != p->x.dtype)
		return "tensor_copy: y's dtype differs from x's";
	if (p->y.rank != rank)
		return "tensor_copy: y's rank differs from x's";
	for (d = 0; d < NPU_MAX_RANK; d++)
		if ((mode == NPU_COPY_PLAIN || d >= rank) && p->pad_begin[d])
			return "tensor_copy: pad_begin set for PLAIN or beyond the rank";
	size = dtype_bytes[p->y.dtype];
	if (mode == NPU_COPY_PAD_CONSTANT) {
		if (size < 8 && p->pad_value >> (8 * size))
			return "tensor_copy: pad_value wider than y's element";
		if (p->y.dtype == NPU_DTYPE_BOOL && p->pad_value > 1)
			return "tensor_copy: pad_value not 0 or 1 for BOOL";
	} else if (p->pad_value) {
		return "tensor_copy: pad_value set for a mode other than PAD_CONSTANT";
	}
	if (mode == NPU_COPY_PLAIN && !same_shape(&p->x, &p->y))
		return "tensor_copy: y's shape differs from x's for PLAIN";
	/* edge and reflection read x wherever y reaches past it */
	for (d = 0; ny && d < rank && mode >= NPU_COPY_PAD_REFLECT; d++) {
		int64_t begin = p->pad_begin[d];
		bool reflected = begin > 0 ||
				 begin + (int64_t)p->x.shape[d] < (int64_t)p->y.shape[d];

		if (!p->x.shape[d])
			return "tensor_copy: x empty where y is not, for REFLECT or EDGE";
		if (mode == NPU_COPY_PAD_REFLECT && reflected && p->x.shape[d] < 2)
			return "tensor_copy: reflected dimension of x shorter than 2";
	}
	plan->extent[0] = ny;
	t->big = ny > BIG_ELEMENTS;
	t->work = ny;
	return NULL;
}

static const char *check_gather(const struct npu_pkt_gather *p,
				struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "gather";
	const struct npu_tensor *x = &p->x, *ix = &p->indices, *y = &p->y;
	uint32_t axis = p->axis, d;
	uint64_t nx, ni, ny;

	if (p->mode > NPU_GATHER_ELEMENTS)
		return "gather: unknown mode";
	if (p->mbz)
		return "gather: non-zero mbz";
	TRY(tensor(op, "x", x, false, &nx));
	TRY(tensor(op, "indices", ix, false, &ni));
	TRY(tensor(op, "y", y, false, &ny));
	if (axis >= x->rank)
		return "gather: axis not below x's rank";
	if (ix->dtype != NPU_DTYPE_I32 && ix->dtype != NPU_DTYPE_I64)
		return "gather: indices not I32 or I64";
	if (y->dtype != x->dtype)
		return "gather: y's dtype differs from x's";
	if (p->mode == NPU_GATHER_TAKE) {
		if (y->rank != x->rank - 1 + ix->rank)
			return "gather: y's rank is not x's - 1 + indices'";
		for (d = 0; d < x->rank; d++) {
			if (d < axis && y->shape[d] != x->shape[d])
				return "gather: y's extents differ from x's before axis";
			if (d > axis && y->shape[d - 1 + ix->rank] != x->shape[d])
				return "gather: y's extents differ from x's after axis";
		}
		for (d = 0; d < ix->rank; d++)
			if (y->shape[axis + d] != ix->shape[d])
				return "gather: y's extents at axis differ from indices'";
	} else {
		if (ix->rank != x->rank)
			return "gather: indices' rank differs from x's";
		if (!same_shape(y, ix))
			return "gather: y's shape differs from indices'";
		for (d = 0; d < x->rank; d++)
			if (d != axis && ix->shape[d] > x->shape[d])
				return "gather: indices' extent larger than x's outside axis";
	}
	plan->extent[0] = ny;
	t->big = ny > BIG_ELEMENTS;
	t->work = ny;
	return NULL;
}

static const char *check_cast(const struct npu_pkt_cast *p,
			      struct op_plan *plan, struct tiling *t)
{
	static const char op[] = "cast";
	uint64_t nx, ny;

	if (p->mbz)
		return "cast: non-zero mbz";
	TRY(tensor(op, "x", &p->x, false, &nx));
	TRY(tensor(op, "y", &p->y, false, &ny));
	if (!same_shape(&p->x, &p->y))
		return "cast: y's shape differs from x's";
	plan->extent[0] = ny;
	t->big = ny > BIG_ELEMENTS;
	t->work = ny;
	return NULL;
}

static uint64_t staging(const struct tiling *t, uint64_t r, uint64_t c)
{
	return sat_add(sat_add(t->fixed, sat_mul(r, t->per_row)),
		       sat_add(sat_mul(c, t->per_col),
			       sat_mul(sat_mul(r, c), t->per_cell)));
}

/* The largest n <= limit with base + n * step <= mem. */
static uint64_t fit_count(uint64_t base, uint64_t step, uint64_t mem,
			  uint64_t limit)
{
	uint64_t n;

	if (!step)
		return limit;
	n = (mem - base) / step;
	return n < limit ? n : limit;
}

/*
 * Tiles of similar size: one for a small operation, about one per engine
 * for a big one (rows first; columns too when there are fewer rows than
 * engines), then as many more as the staging limit needs.
 */
static const char *plan_tiles(struct op_plan *plan, const struct tiling *t,
			      uint32_t engines, uint64_t mem)
{
	uint64_t e0 = plan->extent[0], e1 = plan->extent[1];
	uint64_t want, r, c, r_max, c_max, cell;

	plan->tile[0] = plan->tile[1] = 1;
	if (!e0 || !e1)
		return NULL;	/* writes nothing */
	if (staging(t, 1, 1) > mem)
		return TOO_LARGE;
	want = t->big && engines > 1 ? engines : 1;
	if (e0 >= want) {
		r = div_ceil(e0, want);
		c = e1;
	} else {
		r = 1;
		c = div_ceil(e1, div_ceil(want, e0));
	}
	r_max = r;
	c_max = c;
	/* halve the side whose halving frees more, rows on a tie */
	while (staging(t, r, c) > mem) {
		uint64_t free_r = sat_mul(r / 2, sat_add(t->per_row,
							 sat_mul(c, t->per_cell)));
		uint64_t free_c = sat_mul(c / 2, sat_add(t->per_col,
							 sat_mul(r, t->per_cell)));

		if (r > 1 && free_r >= free_c)
			r = div_ceil(r, 2);
		else
			c = div_ceil(c, 2);
	}
	/* then grow back what the halving gave away */
	r = fit_count(staging(t, 0, c), sat_add(t->per_row, sat_mul(c, t->per_cell)),
		      mem, r_max);
	c = fit_count(staging(t, r, 0), sat_add(t->per_col, sat_mul(r, t->per_cell)),
		      mem, c_max);
	/*
	 * Bound each tile's time too: engines cannot be preempted, so short
	 * tiles let a higher-priority job (or another queue) take engines
	 * soon, and a reset never waits long for a running tile.
	 */
	cell = div_ceil(t->work, sat_mul(e0, e1));
	while (sat_mul(sat_mul(r, c), cell) > MAX_TILE_WORK && (r > 1 || c > 1)) {
		if (r > 1)
			r = div_ceil(r, 2);
		else
			c = div_ceil(c, 2);
	}
	/* the same number of tiles, as even as they go */
	plan->tile[0] = div_ceil(e0, div_ceil(e0, r));
	plan->tile[1] = div_ceil(e1, div_ceil(e1, c));
	return NULL;
}

static const uint8_t op_dwords[] = {
	[NPU_OP_GEMM - NPU_OP_GEMM] = NPU_PKT_GEMM_DWORDS,
	[NPU_OP_CONV - NPU_OP_GEMM] = NPU_PKT_CONV_DWORDS,
	[NPU_OP_POOL - NPU_OP_GEMM] = NPU_PKT_POOL_DWORDS,
	[NPU_OP_UNARY - NPU_OP_GEMM] = NPU_PKT_UNARY_DWORDS,
	[NPU_OP_BINARY - NPU_OP_GEMM] = NPU_PKT_BINARY_DWORDS,
	[NPU_OP_REDUCE - NPU_OP_GEMM] = NPU_PKT_REDUCE_DWORDS,
	[NPU_OP_NORM - NPU_OP_GEMM] = NPU_PKT_NORM_DWORDS,
	[NPU_OP_TENSOR_COPY - NPU_OP_GEMM] = NPU_PKT_TENSOR_COPY_DWORDS,
	[NPU_OP_GATHER - NPU_OP_GEMM] = NPU_PKT_GATHER_DWORDS,
	[NPU_OP_CAST - NPU_OP_GEMM] = NPU_PKT_CAST_DWORDS,
};

_Static_assert(NPU_PKT_MAX_BYTES / 4 <= UINT8_MAX, "op_dwords entries");

uint32_t op_packet_dwords(uint32_t op)
{
	if (op < NPU_OP_GEMM || op > NPU_OP_LAST)
		return 0;
	return op_dwords[op - NPU_OP_GEMM];
}

const char *op_check(uint32_t op, const void *pkt, uint32_t engines,
		     uint64_t engine_mem, struct op_plan *plan)
{
	struct tiling t = { 0 };
	const char *why;

	plan->extent[0] = 0;
	plan->extent[1] = 1;
	plan->tile[0] = plan->tile[1] = 1;
	switch (op) {
	case NPU_OP_GEMM:
		why = check_gemm(pkt, plan, &t);
		break;
	case NPU_OP_CONV:
		why = check_conv(pkt, plan, &t);
		break;
	case NPU_OP_POOL:
		why = check_pool(pkt, plan, &t);
		break;
	case NPU_OP_UNARY:
		why = check_unary(pkt, plan, &t);
		break;
	case NPU_OP_BINARY:
		why = check_binary(pkt, plan, &t);
		break;
	case NPU_OP_REDUCE:
		why = check_reduce(pkt, plan, &t);
		break;
	case NPU_OP_NORM:
		why = check_norm(pkt, plan, &t);
		break;
	case NPU_OP_TENSOR_COPY:
		why = check_copy(pkt, plan, &t);
		break;
	case NPU_OP_GATHER:
		why = check_gather(pkt, plan, &t);
		break;
	case NPU_OP_CAST:
		why = check_cast(pkt, plan, &t);
		break;
	default:
		return "not an operation";
	}
	if (why)
		return why;
	return plan_tiles(plan, &t, engines, engine_mem);
}
