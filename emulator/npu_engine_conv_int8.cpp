// SPDX-License-Identifier: MIT
// 8-bit CONV: acc = sum (x - x_zero) * (w - w_zero) in int32 over the taps
// that fall inside x (padding contributes nothing), then bias, activation
// and an I32, requantised I8/U8 or F32 result.
//
// oneDNN multiplies the raw 8-bit values exactly (with VNNI); the zero
// points are applied here by expanding the product:
//   sum (x - zx)(w - zw) = sum x w - zw sum x - zx sum w + zx zw count
// where the sums run over the taps inside x, which differ near the edges.
// U8 filters become I8 ones by w - 128 (and zw - 128), as oneDNN wants.
#include <algorithm>
#include <optional>

#include "npu_engine_conv.h"
#include "npu_engine_kernels.h"

namespace npu::emu
{

namespace
{

using dt = dnnl::memory::data_type;

// Calls fn(k, i) for every filter tap k and input index i feeding output
// index o along spatial dimension d.
template <typename Fn>
void for_each_tap(const ConvGeometry &g, unsigned d, std::uint64_t o, Fn &&fn)
{
	// Output and input extents, strides and pads are below 2^34 here, so
	// the arithmetic stays far inside int64.
	auto s = static_cast<std::int64_t>(g.stride[d]), dil = static_cast<std::int64_t>(g.dil[d]);
	auto in = static_cast<std::int64_t>(g.in[d]), k = static_cast<std::int64_t>(g.k[d]);
	auto pb = static_cast<std::int64_t>(g.pb[d]), oo = static_cast<std::int64_t>(o);
	if (!g.transposed) {
		// i = o * s - pb + k * dil, inside [0, in)
		std::int64_t base = oo * s - pb;
		std::int64_t first = base >= 0 ? 0 : (-base + dil - 1) / dil;
		if (in - 1 - base < 0)
			return;
		std::int64_t last = std::min(k - 1, (in - 1 - base) / dil);
		for (std::int64_t kk = first; kk <= last; kk++)
			fn(static_cast<std::uint64_t>(kk),
			   static_cast<std::uint64_t>(base + kk * dil));
		return;
	}
	// o = i * s - pb + k * dil: i * s = o + pb - k * dil, inside [0, (in-1) s]
	std::int64_t top = oo + pb, last_t = (in - 1) * s;
	std::int64_t first = top <= last_t ? 0 : (top - last_t + dil - 1) / dil;
	for (std::int64_t kk = first; kk < k; kk++) {
		std::int64_t t = top - kk * dil;
		if (t < 0)
			break;
		if (t % s == 0)
			fn(static_cast<std::uint64_t>(kk), static_cast<std::uint64_t>(t / s));
	}
}

struct Tap {
	std::uint64_t k, i; // flat filter tap, flat input position
};

// The taps (over every spatial dimension) feeding output position out_flat.
void window_taps(const ConvGeometry &g, std::uint64_t out_flat, std::vector<Tap> &taps)
{
	taps.clear();
	std::uint64_t o2 = out_flat % g.out[2], rest = out_flat / g.out[2];
	std::uint64_t o1 = rest % g.out[1], o0 = rest / g.out[1];
	for_each_tap(g, 0, o0, [&](std::uint64_t k0, std::uint64_t i0) {
		for_each_tap(g, 1, o1, [&](std::uint64_t k1, std::uint64_t i1) {
			for_each_tap(g, 2, o2, [&](std::uint64_t k2, std::uint64_t i2) {
				taps.push_back({(k0 * g.k[1] + k1) * g.k[2] + k2,
						(i0 * g.in[1] + i1) * g.in[2] + i2});
			});
		});
	});
}

// The staged chunk: x as raw 8-bit values, w as I8 (already shifted).
struct Int8Chunk {
	const std::uint8_t *x;
	bool x_unsigned;
	const std::int8_t *w;
	std::uint32_t x_zero, w_zero; // two's complement, for wrap-around math
};

std::uint32_t x_value(const Int8Chunk &c, std::uint64_t i)
{
	return c.x_unsigned ? c.x[i] : static_cast<std::uint32_t>(static_cast<std::int8_t>(c.x[i]));
}

// Filter element (o, ic, k) of chunk group gi in stage_w's order.
std::uint64_t w_index(const ConvGeometry &g, std::uint64_t gi, std::uint64_t o, std::uint64_t ic,
		      std::uint64_t k)
{
	std::uint64_t ocs = g.ocs(), base = gi * ocs * g.Cg * g.k_vol;
	return g.transposed ? base + (ic * ocs + o) * g.k_vol + k
			    : base + (o * g.Cg + ic) * g.k_vol + k;
}

// Without exact oneDNN int8: the whole sum, tap by tap.
void direct_product(const ConvGeometry &g, const ConvChunk &ch, const Int8Chunk &c,
		    std::uint32_t *acc)
{
	std::vector<Tap> taps;
	std::uint64_t ocs = g.ocs();
	for (std::uint64_t pos = 0; pos < g.out_vol; pos++) {
		window_taps(g, pos, taps);
		for (std::uint64_t n = 0; n < ch.nn; n++)
			for (std::uint64_t gi = 0; gi < ch.gn; gi++) {
				const std::uint64_t x_base = (n * ch.gn + gi) * g.Cg * g.in_vol;
				for (std::uint64_t o = 0; o < ocs; o++) {
					std::uint32_t sum = 0;
					for (std::uint64_t ic = 0; ic < g.Cg; ic++)
						for (const Tap &t : taps) {
							std::uint32_t xv = x_value(
								c, x_base + ic * g.in_vol + t.i);
							auto wv = static_cast<std::uint32_t>(
								c.w[w_index(g, gi, o, ic, t.k)]);
							sum += (xv - c.x_zero) * (wv - c.w_zero);
						}
					acc[((n * ch.gn + gi) * ocs + o) * g.out_vol + pos] = sum;
				}
			}
	}
}

// acc holds sum x w (zero padding); subtracts the zero-point terms.
void apply_zero_points(const ConvGeometry &g, const ConvChunk &ch, const Int8Chunk &c,
		       std::uint32_t *acc)
{
	std::uint64_t ocs = g.ocs();
	// per group: sum over input channels of each filter tap
	std::vector<std::uint32_t> w_taps;
	if (c.x_zero) {
		w_taps.assign(ch.gn * ocs * g.k_vol, 0);
		for (std::uint64_t gi = 0; gi < ch.gn; gi++)
			for (std::uint64_t o = 0; o < ocs; o++)
				for (std::uint64_t ic = 0; ic < g.Cg; ic++)
					for (std::uint64_t k = 0; k < g.k_vol; k++)
						w_taps[(gi * ocs + o) * g.k_vol + k] +=
							static_cast<std::uint32_t>(
								c.w[w_index(g, gi, o, ic, k)]);
	}
	// per (image, group): sum over input channels at each input position
	std::vector<std::uint32_t> x_sums;
	if (c.w_zero) {
		x_sums.assign(ch.nn * ch.gn * g.in_vol, 0);
		for (std::uint64_t ng = 0; ng < ch.nn * ch.gn; ng++)
			for (std::uint64_t ic = 0; ic < g.Cg; ic++)
				for (std::uint64_t i = 0; i < g.in_vol; i++)
					x_sums[ng * g.in_vol + i] +=
						x_value(c, (ng * g.Cg + ic) * g.in_vol + i);
	}
	std::vector<Tap> taps;
	for (std::uint64_t pos = 0; pos < g.out_vol; pos++) {
		window_taps(g, pos, taps);
		auto count = static_cast<std::uint32_t>(taps.size() * g.Cg);
		std::uint32_t constant = c.x_zero * c.w_zero * count;
		for (std::uint64_t n = 0; n < ch.nn; n++)
			for (std::uint64_t gi = 0; gi < ch.gn; gi++) {
				std::uint32_t x_term = 0;
				if (c.w_zero) {
					std::uint32_t sx = 0;
					const std::uint32_t *xs =
						&x_sums[(n * ch.gn + gi) * g.in_vol];
					for (const Tap &t : taps)
						sx += xs[t.i];
					x_term = c.w_zero * sx;
				}
				for (std::uint64_t o = 0; o < ocs; o++) {
					std::uint32_t w_term = 0;
					if (c.x_zero) {
						std::uint32_t sw = 0;
						const std::uint32_t *ws =
							&w_taps[(gi * ocs + o) * g.k_vol];
						for (const Tap &t : taps)
							sw += ws[t.k];
						w_term = c.x_zero * sw;
					}
					acc[((n * ch.gn + gi) * ocs + o) * g.out_vol + pos] +=
						constant - x_term - w_term;
				}
			}
	}
}

} // namespace

void conv_int8(ContextMemory &mem, const npu_pkt_conv &p, const ConvGeometry &g,
	       EngineScratch &scratch)
{
	EngineScratch::State &st = scratch.state();
	TensorRef x(mem, p.x), w(mem, p.w), y(mem, p.y);
	std::optional<TensorRef> bias;
	if (p.bias.dtype != NPU_DTYPE_NONE)
		bias.emplace(mem, p.bias);
	auto is_8bit = [](std::uint32_t t) { return t == NPU_DTYPE_I8 || t == NPU_DTYPE_U8; };
	std::uint32_t y_type = y.dtype();
	require(is_8bit(x.dtype()) && is_8bit(w.dtype()));
	require(y_type == NPU_DTYPE_I32 || y_type == NPU_DTYPE_F32 || is_8bit(y_type));
	require(!bias ||
		bias->dtype() == (y_type == NPU_DTYPE_F32 ? NPU_DTYPE_F32 : NPU_DTYPE_I32));
	require(y_type != NPU_DTYPE_I32 || p.act.fn == NPU_FN_IDENTITY || p.act.fn == NPU_FN_RELU);

	bool w_unsigned = w.dtype() == NPU_DTYPE_U8;
	Int8Chunk c{};
	c.x_unsigned = x.dtype() == NPU_DTYPE_U8;
	c.x_zero = static_cast<std::uint32_t>(p.quant.a_zero);
	c.w_zero = static_cast<std::uint32_t>(p.quant.b_zero - (w_unsigned ? 128 : 0));
	auto raw = [](TensorRef &t) {
		return [&t](std::uint64_t first, std::uint64_t count, std::byte *out) {
			t.read_raw(first, count, out);
		};
	};
	auto to_signed = [w_unsigned](std::byte *block, std::uint64_t count) {
		if (w_unsigned)
			for (std::uint64_t i = 0; i < count; i++)
				block[i] ^= std::byte{0x80};
	};
	double y_scale = std::bit_cast<float>(p.quant.y_scale);
	std::uint64_t ocs = g.ocs(), plane = ocs * g.out_vol;

	for (const ConvChunk &ch : chunks(g, scratch.local_mem_bytes())) {
		c.x = reinterpret_cast<const std::uint8_t *>(stage_x(st, g, ch, 1, raw(x)));
		c.w = reinterpret_cast<const std::int8_t *>(
			stage_w(st, g, ch, 1, raw(w), to_signed));
		auto *acc = st.buffer(Slot::Acc).get<std::uint32_t>(ch.nn * ch.gn * plane);
		mem.release(); // staged operands only: no invalidate waits for the product
		if (onednn_int8_exact()) {
			conv_onednn(st, g, ch, c.x_unsigned ? dt::u8 : dt::s8, c.x, dt::s8, c.w,
				    dt::s32, acc);
			if (c.x_zero || c.w_zero)
				apply_zero_points(g, ch, c, acc);
		} else {
			direct_product(g, ch, c, acc);
		}
		// bias: I32 (wrapping) or, for an F32 y, F32
		std::uint32_t *bias_i = nullptr;
		float *bias_f = nullptr;
		if (bias && y_type == NPU_DTYPE_F32)
			bias_f = st.buffer(Slot::C).get<float>(ch.gn * ocs);
		else if (bias)
			bias_i = st.buffer(Slot::C).get<std::uint32_t>(ch.gn * ocs);
		for (std::uint64_t gi = 0; bias && gi < ch.gn; gi++) {
			std::uint64_t first = (ch.g0 + gi) * g.OCg + g.oc0;
			if (bias_f)
				bias->read_f32(first, ocs, bias_f + gi * ocs);
			else
				bias->read_raw(first, ocs, bias_i + gi * ocs);
		}
		for (std::uint64_t n = 0; n < ch.nn; n++)
			for (std::uint64_t gi = 0; gi < ch.gn; gi++) {
				std::uint32_t *a = acc + (n * ch.gn + gi) * plane;
				std::uint64_t first =
					((ch.n0 + n) * g.OC + (ch.g0 + gi) * g.OCg + g.oc0) *
					g.out_vol;
				auto value = [&](std::uint64_t j) {
					std::uint32_t v = a[j];
					if (bias_i)
						v += bias_i[gi * ocs + j / g.out_vol];
					return static_cast<std::int32_t>(v);
				};
				if (y_type == NPU_DTYPE_F32) {
					float *out = st.buffer(Slot::Extra0).get<float>(plane);
					for (std::uint64_t j = 0; j < plane; j++) {
						double v = value(j);
						if (bias_f)
							v += bias_f[gi * ocs + j / g.out_vol];
						out[j] = static_cast<float>(apply_fn(p.act, v));
					}
					y.write_f32(first, plane, out);
				} else if (y_type == NPU_DTYPE_I32) {
					auto *out = reinterpret_cast<std::int32_t *>(a); // in place
					bool relu = p.act.fn == NPU_FN_RELU;
					for (std::uint64_t j = 0; j < plane; j++) {
						std::int32_t v = value(j);
						out[j] = relu ? std::max(v, 0) : v;
					}
					y.write_raw(first, plane, out);
				} else {
					auto *out =
						st.buffer(Slot::Extra0).get<std::uint8_t>(plane);
					bool y_unsigned = y_type == NPU_DTYPE_U8;
					for (std::uint64_t j = 0; j < plane; j++)
						out[j] = requantize(apply_fn(p.act, value(j)),
								    y_scale, p.quant.y_zero,
								    y_unsigned);
					y.write_raw(first, plane, out);
				}
			}
	}
}

} // namespace npu::emu
