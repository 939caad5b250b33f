// The per-opcode host references declared in op_reference.h: loops over
// logical row-major tensors in double (floats) and int64 (integers), with
// the semantics uapi/drm/npu_packet.h and docs/operations.md give.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "op_reference.h"

namespace npu_test::ops
{

namespace
{

double F32Param(uint32_t bits)
{
	return double(F32FromBits(bits));
}

bool IsEightBit(uint32_t dtype)
{
	return dtype == NPU_DTYPE_I8 || dtype == NPU_DTYPE_U8;
}

void Unflatten(uint64_t flat, const Shape &shape, uint64_t *index)
{
	for (size_t d = shape.size(); d-- > 0;) {
		index[d] = shape[d] ? flat % shape[d] : 0;
		flat = shape[d] ? flat / shape[d] : 0;
	}
}

uint64_t Flatten(const uint64_t *index, const Shape &shape)
{
	uint64_t flat = 0;
	for (size_t d = 0; d < shape.size(); d++)
		flat = flat * shape[d] + index[d];
	return flat;
}

Expected MakeExpected(uint32_t dtype, const Shape &shape)
{
	Expected e{HostTensor(dtype, shape), {}};
	e.scale.assign(e.value.size(), 0.0);
	return e;
}

// The end of GEMM and CONV for one element: acc is the exact sum of
// products (floats: with mag the sum of their magnitudes; 8-bit and
// integer: exact in int64), c the added operand (c or bias) or nullptr.
struct Epilogue {
	uint32_t op_dtype; // dtype of a / x
	uint32_t y_dtype;
	double alpha = 1, beta = 1;
	npu_act act{};
	npu_quant quant{};

	void StoreFloat(Expected &e, uint64_t i, double acc, double mag, const double *c) const
	{
		double v = alpha * acc + (c ? beta * *c : 0.0);
		double scale = std::fabs(alpha) * mag + (c ? std::fabs(beta * *c) : 0.0);
		v = ApplyFn(act.fn, F32Param(act.alpha), F32Param(act.beta), v);
		e.value.real[i] = v;
		// the fused activations tested have slopes of at most ~1.2
		e.scale[i] = std::max(1.25 * scale, std::fabs(v));
	}

	void StoreEightBit(Expected &e, uint64_t i, int64_t acc, const HostTensor *c,
			   uint64_t ci) const
	{
		if (y_dtype == NPU_DTYPE_F32) {
			double cv = c ? c->Real(ci) : 0.0;
			StoreFloat(e, i, double(acc), std::fabs(double(acc)), c ? &cv : nullptr);
			return;
		}
		int64_t sum = acc + (c ? c->Int(ci) : 0);
		if (y_dtype == NPU_DTYPE_I32) {
			sum = WrapToDtype(sum, NPU_DTYPE_I32);
			e.value.ints[i] = act.fn == NPU_FN_RELU ? std::max<int64_t>(sum, 0) : sum;
			return;
		}
		double v = ApplyFn(act.fn, F32Param(act.alpha), F32Param(act.beta), double(sum));
		e.value.ints[i] = Requantize(v, F32FromBits(quant.y_scale), quant.y_zero, y_dtype);
	}

	void StoreInteger(Expected &e, uint64_t i, uint64_t acc, const HostTensor *c,
			  uint64_t ci) const
	{
		uint64_t sum = acc + (c ? uint64_t(c->Int(ci)) : 0);
		int64_t v = WrapToDtype(int64_t(sum), y_dtype);
		e.value.ints[i] = act.fn == NPU_FN_RELU ? std::max<int64_t>(v, 0) : v;
	}
};

} // namespace

int64_t Requantize(double v, float y_scale, int32_t y_zero, uint32_t dtype)
{
	double q = std::nearbyint(v * double(y_scale)) + y_zero;
	q = std::clamp(q, double(IntDtypeMin(dtype)), double(IntDtypeMax(dtype)));
	return int64_t(q);
}

// ---- GEMM ---------------------------------------------------------------------

Expected RefGemm(const npu_pkt_gemm &p, const HostTensor &a, const HostTensor &b,
		 const HostTensor *c)
{
	Shape ys = ShapeOf(p.y);
	size_t r = ys.size();
	uint64_t M = ys[r - 2], N = ys[r - 1], K = a.shape[r - 1];
	uint64_t batches = ElementCount(Shape(ys.begin(), ys.end() - 2));
	Expected e = MakeExpected(p.y.dtype, ys);
	Epilogue ep{a.dtype, p.y.dtype, F32Param(p.alpha), F32Param(p.beta), p.act, p.quant};
	bool eight_bit = IsEightBit(a.dtype), integer = IsIntDtype(a.dtype) && !eight_bit;
	for (uint64_t bt = 0; bt < batches; bt++) {
		uint64_t a0 = bt * M * K, b0 = bt * K * N, y0 = bt * M * N;
		for (uint64_t m = 0; m < M; m++) {
			for (uint64_t n = 0; n < N; n++) {
				uint64_t yi = y0 + m * N + n;
				if (eight_bit) {
					int64_t acc = 0;
					for (uint64_t k = 0; k < K; k++)
						acc += (a.ints[a0 + m * K + k] - p.quant.a_zero) *
						       (b.ints[b0 + k * N + n] - p.quant.b_zero);
					ep.StoreEightBit(e, yi, acc, c, yi);
				} else if (integer) {
					uint64_t acc = 0;
					for (uint64_t k = 0; k < K; k++)
						acc += uint64_t(a.ints[a0 + m * K + k]) *
						       uint64_t(b.ints[b0 + k * N + n]);
					ep.StoreInteger(e, yi, acc, c, yi);
				} else {
					double acc = 0, mag = 0;
					for (uint64_t k = 0; k < K; k++) {
						double t = a.real[a0 + m * K + k] *
							   b.real[b0 + k * N + n];
						acc += t;
						mag += std::fabs(t);
					}
					double cv = c ? c->Real(yi) : 0.0;
					ep.StoreFloat(e, yi, acc, mag, c ? &cv : nullptr);
				}
			}
		}
	}
	return e;
}

// ---- CONV ---------------------------------------------------------------------

namespace
{

// Up to three spatial dimensions, missing ones of extent 1.
struct Spatial3 {
	uint64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
	int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
};

template <typename Pkt>
Spatial3 SpatialOf(const Pkt &p, const Shape &x, const Shape &y, const Shape *w)
{
	Spatial3 s;
	for (uint32_t d = 0; d < p.spatial; d++) {
		unsigned at = 3 - p.spatial + d;
		s.in[at] = x[2 + d];
		s.out[at] = y[2 + d];
		s.stride[at] = p.stride[d];
		s.dil[at] = p.dilation[d];
		s.pb[at] = p.pad_begin[d];
		s.pe[at] = p.pad_end[d];
		if (w)
			s.k[at] = (*w)[2 + d];
	}
	return s;
}

} // namespace

Expected RefConv(const npu_pkt_conv &p, const HostTensor &x, const HostTensor &w,
		 const HostTensor *bias)
{
	Shape ys = ShapeOf(p.y);
	Expected e = MakeExpected(p.y.dtype, ys);
	Spatial3 s = SpatialOf(p, x.shape, ys, &w.shape);
	const uint64_t N = x.shape[0], C = x.shape[1], OC = ys[1], G = p.groups;
	const uint64_t Cg = C / G, OCg = OC / G;
	const uint64_t in_sp = s.in[0] * s.in[1] * s.in[2], out_sp = s.out[0] * s.out[1] * s.out[2];
	const uint64_t k_sp = s.k[0] * s.k[1] * s.k[2];
	const bool eight_bit = IsEightBit(x.dtype);
	const bool transposed = p.flags & NPU_CONV_TRANSPOSED;
	Epilogue ep{x.dtype, p.y.dtype, 1.0, 1.0, p.act, p.quant};

	// Sums per output element: exact integer, or value and magnitude.
	std::vector<int64_t> iacc(eight_bit ? e.value.size() : 0);
	std::vector<double> acc(eight_bit ? 0 : e.value.size()), mag(acc.size());
	auto xval = [&](uint64_t i) {
		return eight_bit ? double(x.ints[i] - p.quant.a_zero) : x.real[i];
	};
	auto wval = [&](uint64_t i) {
		return eight_bit ? double(w.ints[i] - p.quant.b_zero) : w.real[i];
	};
	auto add = [&](uint64_t yi, uint64_t xi, uint64_t wi) {
		if (eight_bit) {
			iacc[yi] += (x.ints[xi] - p.quant.a_zero) * (w.ints[wi] - p.quant.b_zero);
		} else {
			double t = xval(xi) * wval(wi);
			acc[yi] += t;
			mag[yi] += std::fabs(t);
		}
	};

	for (uint64_t n = 0; n < N; n++) {
		for (uint64_t c = 0; c < C; c++) {
			uint64_t g = c / Cg, ci = c % Cg;
			for (uint64_t j = 0; j < OCg; j++) {
				uint64_t oc = g * OCg + j;
				// Direct: y[o] += x[o * stride - pad + k * dil] * w[oc, ci, k].
				// Transposed: y[i * stride - pad + k * dil] += x[i] * w[c, j, k].
				uint64_t wbase =
					transposed ? (c * OCg + j) * k_sp : (oc * Cg + ci) * k_sp;
				uint64_t xbase = (n * C + c) * in_sp,
					 ybase = (n * OC + oc) * out_sp;
				uint64_t outer = transposed ? in_sp : out_sp;
				for (uint64_t pos = 0; pos < outer; pos++) {
					int64_t p0 =
						int64_t(pos / (transposed ? s.in[1] * s.in[2]
									  : s.out[1] * s.out[2]));
					int64_t p1 =
						int64_t(pos / (transposed ? s.in[2] : s.out[2]) %
							(transposed ? s.in[1] : s.out[1]));
					int64_t p2 =
						int64_t(pos % (transposed ? s.in[2] : s.out[2]));
					for (uint64_t k0 = 0; k0 < s.k[0]; k0++)
						for (uint64_t k1 = 0; k1 < s.k[1]; k1++)
							for (uint64_t k2 = 0; k2 < s.k[2]; k2++) {
								int64_t q0 = p0 * s.stride[0] -
									     s.pb[0] +
									     int64_t(k0) * s.dil[0];
								int64_t q1 = p1 * s.stride[1] -
									     s.pb[1] +
									     int64_t(k1) * s.dil[1];
								int64_t q2 = p2 * s.stride[2] -
									     s.pb[2] +
									     int64_t(k2) * s.dil[2];
								const uint64_t *lim =
									transposed ? s.out : s.in;
								if (q0 < 0 || q1 < 0 || q2 < 0 ||
								    q0 >= int64_t(lim[0]) ||
								    q1 >= int64_t(lim[1]) ||
								    q2 >= int64_t(lim[2]))
									continue;
								uint64_t q =
									(uint64_t(q0) * lim[1] +
									 uint64_t(q1)) *
										lim[2] +
									uint64_t(q2);
								uint64_t wi = wbase +
									      (k0 * s.k[1] + k1) *
										      s.k[2] +
									      k2;
								if (transposed)
									add(ybase + q, xbase + pos,
									    wi);
								else
									add(ybase + pos, xbase + q,
									    wi);
							}
				}
			}
		}
	}
	for (uint64_t yi = 0; yi < e.value.size(); yi++) {
		uint64_t oc = yi / out_sp % OC;
		if (eight_bit) {
			ep.StoreEightBit(e, yi, iacc[yi], bias, oc);
		} else {
			double b = bias ? bias->Real(oc) : 0.0;
			ep.StoreFloat(e, yi, acc[yi], mag[yi], bias ? &b : nullptr);
		}
	}
	return e;
}

// ---- POOL ---------------------------------------------------------------------

Expected RefPool(const npu_pkt_pool &p, const HostTensor &x, HostTensor *indices)
{
	Shape ys = ShapeOf(p.y);
	Expected e = MakeExpected(p.y.dtype, ys);
	Spatial3 s = SpatialOf(p, x.shape, ys, nullptr);
	for (uint32_t d = 0; d < p.spatial; d++)
		s.k[3 - p.spatial + d] = p.kernel[d];
	if (indices)
		*indices = HostTensor(NPU_DTYPE_I64, ys);
	const uint64_t planes = x.shape[0] * x.shape[1];
	const uint64_t in_sp = s.in[0] * s.in[1] * s.in[2], out_sp = s.out[0] * s.out[1] * s.out[2];
	for (uint64_t plane = 0; plane < planes; plane++) {
		for (uint64_t o = 0; o < out_sp; o++) {
			int64_t o3[3] = {int64_t(o / (s.out[1] * s.out[2])),
					 int64_t(o / s.out[2] % s.out[1]), int64_t(o % s.out[2])};
			double best = -INFINITY, sum = 0, sum_abs = 0;
			uint64_t best_at = 0, inside = 0, padded = 0;
			for (uint64_t k0 = 0; k0 < s.k[0]; k0++)
				for (uint64_t k1 = 0; k1 < s.k[1]; k1++)
					for (uint64_t k2 = 0; k2 < s.k[2]; k2++) {
						uint64_t kk[3] = {k0, k1, k2};
						bool in_x = true, in_pad = true;
						uint64_t flat = 0;
						for (int d = 0; d < 3; d++) {
							int64_t q = o3[d] * s.stride[d] - s.pb[d] +
								    int64_t(kk[d]) * s.dil[d];
							in_x = in_x && q >= 0 &&
							       q < int64_t(s.in[d]);
							in_pad = in_pad && q >= -s.pb[d] &&
								 q < int64_t(s.in[d]) + s.pe[d];
							flat = flat * s.in[d] +
							       uint64_t(std::max<int64_t>(q, 0));
						}
						padded += in_pad;
						if (!in_x)
							continue;
						inside++;
						uint64_t xi = plane * in_sp + flat;
						double v = x.real[xi];
						if (v > best) {
							best = v;
							best_at = xi;
						}
						if (p.mode == NPU_POOL_LP) {
							double t =
								std::pow(std::fabs(v), double(p.p));
							sum += t;
							sum_abs += t;
						} else {
							sum += v;
							sum_abs += std::fabs(v);
						}
					}
			uint64_t yi = plane * out_sp + o;
			double v = 0, scale = 0;
			switch (p.mode) {
			case NPU_POOL_MAX:
				v = best;
				scale = std::fabs(v);
				if (indices)
					indices->ints[yi] = int64_t(best_at);
				break;
			case NPU_POOL_AVG:
				v = sum / double(inside);
				scale = sum_abs / double(inside);
				break;
			case NPU_POOL_AVG_PAD:
				v = sum / double(padded);
				scale = sum_abs / double(padded);
				break;
			case NPU_POOL_LP:
				v = std::pow(sum, 1.0 / p.p);
				scale = std::fabs(v);
				break;
			}
			e.value.real[yi] = v;
			e.scale[yi] = std::max(scale, std::fabs(v));
		}
	}
	return e;
}

// ---- UNARY, BINARY ----------------------------------------------------------

Expected RefUnary(const npu_pkt_unary &p, const HostTensor &x)
{
	Expected e = MakeExpected(p.y.dtype, ShapeOf(p.y));
	double alpha = F32Param(p.act.alpha), beta = F32Param(p.act.beta);
	for (uint64_t i = 0; i < e.value.size(); i++) {
		if (x.is_float()) {
			double v = ApplyFn(p.act.fn, alpha, beta, x.real[i]);
			e.value.SetReal(i, v);
			e.scale[i] = std::fabs(v);
		} else {
			e.value.SetInt(i, ApplyFnInt(p.act.fn, alpha, beta, x.ints[i], x.dtype));
		}
	}
	return e;
}

Expected RefBinary(const npu_pkt_binary &p, const HostTensor &a, const HostTensor &b,
		   const HostTensor *cond)
{
	Expected e = MakeExpected(p.y.dtype, ShapeOf(p.y));
	for (uint64_t i = 0; i < e.value.size(); i++) {
		if (p.fn == NPU_BIN_SELECT) {
			const HostTensor &pick = cond->ints[i] ? a : b;
			if (pick.is_float())
				e.value.real[i] = pick.real[i];
			else
				e.value.ints[i] = pick.ints[i];
			continue;
		}
		if (!a.is_float()) {
			e.value.ints[i] = ApplyBinaryInt(p.fn, a.ints[i], b.ints[i], a.dtype);
			continue;
		}
		double v = ApplyBinary(p.fn, a.real[i], b.real[i]);
		e.value.SetReal(i, v);
		switch (p.fn) {
		case NPU_BIN_ADD:
		case NPU_BIN_SUB:
			e.scale[i] = std::fabs(a.real[i]) + std::fabs(b.real[i]);
			break;
		case NPU_BIN_MOD:
			e.scale[i] = std::fabs(v) + std::fabs(b.real[i]);
			break;
		default:
			e.scale[i] = std::fabs(v);
		}
	}
	return e;
}

// ---- REDUCE -------------------------------------------------------------------

namespace
{

// For each output position of a reduction over axes (bit d = dimension d),
// the flat indices of x that fold into it, in row-major order.
std::vector<std::vector<uint64_t>> ReductionGroups(const Shape &xs, uint32_t axes)
{
	Shape os = xs;
	for (size_t d = 0; d < xs.size(); d++)
		if (axes & (1u << d))
			os[d] = 1;
	std::vector<std::vector<uint64_t>> groups(ElementCount(os));
	uint64_t index[NPU_MAX_RANK] = {};
	for (uint64_t i = 0; i < ElementCount(xs); i++) {
		Unflatten(i, xs, index);
		for (size_t d = 0; d < xs.size(); d++)
			if (axes & (1u << d))
				index[d] = 0;
		groups[Flatten(index, os)].push_back(i);
	}
	return groups;
}

} // namespace

Expected RefReduce(const npu_pkt_reduce &p, const HostTensor &x)
{
	Expected e = MakeExpected(p.y.dtype, ShapeOf(p.y));
	auto groups = ReductionGroups(x.shape, p.axes);
	unsigned axis = 0;
	while (axis < x.shape.size() && !(p.axes & (1u << axis)))
		axis++;
	uint64_t axis_stride = axis < x.shape.size() ? RowMajorStrides(x.shape)[axis] : 1;
	uint64_t axis_extent = axis < x.shape.size() ? x.shape[axis] : 1;
	bool last = p.flags & NPU_RED_SELECT_LAST;
	for (uint64_t o = 0; o < groups.size(); o++) {
		const auto &g = groups[o];
		auto n = double(g.size());
		if (p.fn == NPU_RED_ARGMAX || p.fn == NPU_RED_ARGMIN) {
			bool maxi = p.fn == NPU_RED_ARGMAX;
			uint64_t best = 0;
			for (uint64_t j = 1; j < g.size(); j++) {
				double v = x.Real(g[j]), bv = x.Real(g[best]);
				bool better = maxi ? (v > bv || (last && v == bv))
						   : (v < bv || (last && v == bv));
				if (better)
					best = j;
			}
			e.value.SetInt(o, int64_t(g[best] / axis_stride % axis_extent));
			continue;
		}
		if (!x.is_float()) {
			int64_t acc = 0;
			switch (p.fn) {
			case NPU_RED_SUM:
			case NPU_RED_MEAN:
				for (uint64_t i : g)
					acc += x.ints[i];
				if (p.fn == NPU_RED_MEAN && !g.empty())
					acc /= int64_t(g.size());
				break;
			case NPU_RED_MAX:
				acc = IntDtypeMin(x.dtype);
				for (uint64_t i : g)
					acc = std::max(acc, x.ints[i]);
				break;
			case NPU_RED_MIN:
				acc = IntDtypeMax(x.dtype);
				for (uint64_t i : g)
					acc = std::min(acc, x.ints[i]);
				break;
			case NPU_RED_PROD:
				acc = 1;
				for (uint64_t i : g)
					acc = int64_t(uint64_t(acc) * uint64_t(x.ints[i]));
				break;
			case NPU_RED_SUM_SQUARE:
				for (uint64_t i : g)
					acc += x.ints[i] * x.ints[i];
				break;
			case NPU_RED_L1:
				for (uint64_t i : g)
					acc += std::abs(x.ints[i]);
				break;
			default:
				throw std::invalid_argument("RefReduce: no integer semantics");
			}
			e.value.ints[o] = WrapToDtype(acc, p.y.dtype);
			continue;
		}
		double sum = 0, abs_sum = 0, sq = 0, prod = 1, mx = -INFINITY, mn = INFINITY;
		for (uint64_t i : g) {
			double v = x.real[i];
			sum += v;
			abs_sum += std::fabs(v);
			sq += v * v;
			prod *= v;
			mx = std::max(mx, v);
			mn = std::min(mn, v);
		}
		double v = 0, scale = 0;
		switch (p.fn) {
		case NPU_RED_SUM:
			v = sum;
			scale = abs_sum;
			break;
		case NPU_RED_MEAN:
			v = sum / n;
			scale = abs_sum / n;
			break;
		case NPU_RED_MAX: // of nothing: the lowest float value, -inf
			v = mx;
			break;
		case NPU_RED_MIN:
			v = mn;
			break;
		case NPU_RED_PROD:
			v = prod;
			scale = std::fabs(prod) * std::max(1.0, n / 4);
			break;
		case NPU_RED_SUM_SQUARE:
			v = sq;
			break;
		case NPU_RED_L1:
			v = abs_sum;
			break;
		case NPU_RED_L2:
			v = std::sqrt(sq);
			break;
		case NPU_RED_LOG_SUM:
			v = std::log(sum);
			scale = 1 + std::fabs(v);
			break;
		case NPU_RED_LOG_SUM_EXP: {
			double s = 0;
			for (uint64_t i : g)
				s += std::exp(x.real[i] - mx);
			v = g.empty() ? -INFINITY : mx + std::log(s);
			scale = 1 + std::fabs(v) + std::fabs(mx);
			break;
		}
		default:
			throw std::invalid_argument("RefReduce: unknown fn");
		}
		e.value.SetReal(o, v);
		e.scale[o] = std::max(scale, std::fabs(v));
	}
	return e;
}

// ---- NORM ---------------------------------------------------------------------

Expected RefNorm(const npu_pkt_norm &p, const HostTensor &x, const HostTensor *scale,
		 const HostTensor *bias, const HostTensor *mean, const HostTensor *var)
{
	Expected e = MakeExpected(p.y.dtype, ShapeOf(p.y));
	double eps = F32Param(p.epsilon);
	if (p.fn == NPU_NORM_BATCH) {
		for (uint64_t i = 0; i < x.size(); i++) {
			double rstd = 1 / std::sqrt(var->real[i] + eps);
			double v =
				(x.real[i] - mean->real[i]) * rstd * scale->real[i] + bias->real[i];
			e.value.real[i] = v;
			e.scale[i] = (std::fabs(x.real[i]) + std::fabs(mean->real[i])) * rstd *
					     std::fabs(scale->real[i]) +
				     std::fabs(bias->real[i]);
		}
		return e;
	}
	for (const auto &g : ReductionGroups(x.shape, p.axes)) {
		auto n = double(g.size());
		double mx = -INFINITY, sum = 0;
		for (uint64_t i : g) {
			mx = std::max(mx, x.real[i]);
			sum += x.real[i];
		}
		if (p.fn == NPU_NORM_SOFTMAX || p.fn == NPU_NORM_LOG_SOFTMAX) {
			double s = 0;
			for (uint64_t i : g)
				s += std::exp(x.real[i] - mx);
			for (uint64_t i : g) {
				double d = x.real[i] - mx;
				double v = p.fn == NPU_NORM_SOFTMAX ? std::exp(d) / s
								    : d - std::log(s);
				e.value.real[i] = v;
				e.scale[i] = p.fn == NPU_NORM_SOFTMAX
						     ? std::fabs(v)
						     : 1 + std::fabs(d) + std::log(s);
			}
			continue;
		}
		double mu = sum / n, sq = 0;
		for (uint64_t i : g)
			sq += (x.real[i] - mu) * (x.real[i] - mu);
		double rstd = 1 / std::sqrt(sq / n + eps);
		for (uint64_t i : g) {
			double sc = scale ? scale->real[i] : 1.0, b = bias ? bias->real[i] : 0.0;
			double z = (x.real[i] - mu) * rstd;
			e.value.real[i] = z * sc + b;
			// the mean's own rounding, relative to the spread, is the
			// dominant f32 error: scale it with |x| / sigma
			e.scale[i] = (std::fabs(z) + 1 + std::fabs(mu) * rstd) * std::fabs(sc) +
				     std::fabs(b);
		}
	}
	return e;
}

// ---- TENSOR_COPY, GATHER, CAST ----------------------------------------------

namespace
{

// NPU_COPY_PAD_CONSTANT's value: an element of dtype in the low bytes.
void PadValue(uint64_t bits, uint32_t dtype, double &real, int64_t &integer)
{
	switch (dtype) {
	case NPU_DTYPE_F32:
		real = F32FromBits(uint32_t(bits));
		return;
	case NPU_DTYPE_F16:
		real = DecodeF16(uint16_t(bits));
		return;
	case NPU_DTYPE_BF16:
		real = DecodeBF16(uint16_t(bits));
		return;
	case NPU_DTYPE_I8:
		integer = int8_t(bits);
		return;
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		integer = uint8_t(bits);
		return;
	case NPU_DTYPE_I32:
		integer = int32_t(bits);
		return;
	default:
		integer = int64_t(bits);
	}
}

} // namespace

Expected RefTensorCopy(const npu_pkt_tensor_copy &p, const HostTensor &x)
{
	Shape ys = ShapeOf(p.y);
	Expected e = MakeExpected(p.y.dtype, ys);
	double pad_real = 0;
	int64_t pad_int = 0;
	PadValue(p.pad_value, p.y.dtype, pad_real, pad_int);
	uint64_t index[NPU_MAX_RANK] = {};
	for (uint64_t i = 0; i < e.value.size(); i++) {
		Unflatten(i, ys, index);
		bool outside = false;
		for (size_t d = 0; d < ys.size(); d++) {
			auto n = int64_t(x.shape[d]);
			int64_t j = int64_t(index[d]) - p.pad_begin[d];
			if (j >= 0 && j < n) {
				index[d] = uint64_t(j);
				continue;
			}
			switch (p.mode) {
			case NPU_COPY_PAD_REFLECT: {
				int64_t period = 2 * (n - 1);
				int64_t m = ((j % period) + period) % period;
				index[d] = uint64_t(m >= n ? period - m : m);
				break;
			}
			case NPU_COPY_PAD_EDGE:
				index[d] = uint64_t(std::clamp<int64_t>(j, 0, n - 1));
				break;
			default:
				outside = true;
			}
		}
		if (outside) {
			if (e.value.is_float())
				e.value.real[i] = pad_real;
			else
				e.value.ints[i] = pad_int;
			continue;
		}
		uint64_t xi = Flatten(index, x.shape);
		if (e.value.is_float())
			e.value.real[i] = x.real[xi];
		else
			e.value.ints[i] = x.ints[xi];
	}
	return e;
}

Expected RefGather(const npu_pkt_gather &p, const HostTensor &x, const HostTensor &indices)
{
	Shape ys = ShapeOf(p.y);
	Expected e = MakeExpected(p.y.dtype, ys);
	const size_t ir = indices.shape.size();
	const auto extent = int64_t(x.shape[p.axis]);
	uint64_t yi_index[NPU_MAX_RANK] = {}, xi_index[NPU_MAX_RANK] = {},
		 ii_index[NPU_MAX_RANK] = {};
	for (uint64_t i = 0; i < e.value.size(); i++) {
		Unflatten(i, ys, yi_index);
		int64_t at;
		if (p.mode == NPU_GATHER_TAKE) {
			for (size_t d = 0; d < ir; d++)
				ii_index[d] = yi_index[p.axis + d];
			at = indices.ints[Flatten(ii_index, indices.shape)];
			for (size_t d = 0; d < x.shape.size(); d++)
				xi_index[d] = d < p.axis ? yi_index[d] : yi_index[d + ir - 1];
		} else {
			at = indices.ints[i];
			std::copy(yi_index, yi_index + NPU_MAX_RANK, xi_index);
		}
		if (at < 0)
			at += extent;
		xi_index[p.axis] = uint64_t(std::clamp<int64_t>(at, 0, extent - 1));
		uint64_t xi = Flatten(xi_index, x.shape);
		if (e.value.is_float())
			e.value.real[i] = x.real[xi];
		else
			e.value.ints[i] = x.ints[xi];
	}
	return e;
}

Expected RefCast(const npu_pkt_cast &p, const HostTensor &x)
{
	Expected e = MakeExpected(p.y.dtype, ShapeOf(p.y));
	const uint32_t to = p.y.dtype;
	for (uint64_t i = 0; i < e.value.size(); i++) {
		if (x.is_float()) {
			double v = x.real[i];
			if (IsFloatDtype(to)) {
				e.value.real[i] = std::isnan(v) ? v : RoundToDtype(v, to);
			} else if (to == NPU_DTYPE_BOOL) {
				e.value.ints[i] = v != 0;
			} else if (std::isnan(v)) {
				e.value.ints[i] = 0;
			} else {
				double t = std::trunc(v);
				if (t <= double(IntDtypeMin(to)))
					e.value.ints[i] = IntDtypeMin(to);
				else if (t >= std::ldexp(1.0, 63) || t >= double(IntDtypeMax(to)))
					e.value.ints[i] = IntDtypeMax(to);
				else
					e.value.ints[i] = int64_t(t);
			}
		} else {
			int64_t v = x.ints[i];
			if (IsFloatDtype(to))
				e.value.real[i] = RoundIntToDtype(v, to);
			else
				e.value.ints[i] = WrapToDtype(v, to);
		}
	}
	return e;
}

} // namespace npu_test::ops
