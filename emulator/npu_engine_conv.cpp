// SPDX-License-Identifier: MIT
// CONV on a tensor engine: direct and transposed convolution over 1 to 3
// spatial dimensions with groups, dilation, asymmetric padding and output
// padding, for the (n, group) pairs and output channels of one tile.
//
// Local memory (the firmware's tile plan assumes the same): the engine
// works through the tile's (n, group) pairs; one pair stages its group's
// input slice (C/groups x in) and, per output channel of the tile, the
// filter (C/groups x k), the output plane and the bias, all at most 4 bytes
// wide. When more pairs fit at once (whole images, or runs of groups) they
// go to oneDNN together; a tile whose single pair does not fit is refused.
#include <algorithm>
#include <optional>

#include "npu_engine_conv.h"
#include "npu_engine_kernels.h"
#include "npu_engine_state.h"

namespace npu::emu
{

namespace
{

using dt = dnnl::memory::data_type;
using fmt = dnnl::memory::format_tag;

ConvGeometry geometry(const npu_pkt_conv &p, const npu_engine_task &task)
{
	ConvGeometry g;
	require((p.flags & ~NPU_CONV_FLAGS) == 0 && p.groups >= 1 && p.spatial >= 1 &&
		p.spatial <= kConvMaxSpatial);
	g.spatial = p.spatial;
	g.transposed = p.flags & NPU_CONV_TRANSPOSED;
	unsigned rank = g.spatial + 2;
	require(p.x.rank == rank && p.w.rank == rank && p.y.rank == rank);
	g.N = p.x.shape[0];
	g.C = p.x.shape[1];
	g.OC = p.y.shape[1];
	g.G = p.groups;
	require(p.y.shape[0] == g.N && g.C % g.G == 0 && g.OC % g.G == 0);
	g.Cg = g.C / g.G;
	g.OCg = g.OC / g.G;
	if (g.transposed)
		require(p.w.shape[0] == g.C && p.w.shape[1] == g.OCg);
	else
		require(p.w.shape[0] == g.OC && p.w.shape[1] == g.Cg);
	if (p.bias.dtype != NPU_DTYPE_NONE)
		require(p.bias.rank == 1 && p.bias.shape[0] == g.OC);
	for (unsigned d = 0; d < g.spatial; d++) {
		std::uint64_t in = p.x.shape[2 + d], k = p.w.shape[2 + d], out = p.y.shape[2 + d];
		std::uint64_t s = p.stride[d], dil = p.dilation[d];
		std::uint64_t pb = p.pad_begin[d], pe = p.pad_end[d];
		require(k >= 1 && s >= 1 && dil >= 1);
		std::uint64_t window = dil * (k - 1) + 1; // < 2^64 for 32-bit dil and k
		if (!g.transposed) {
			std::uint64_t padded = in + pb + pe;
			require(padded >= window && (padded - window) / s + 1 == out);
			g.pad_r[d] = static_cast<std::int64_t>(pe);
		} else {
			// out = (in - 1) * s + window - pb - pe + extra
			require(in >= 1);
			unsigned __int128 full =
				static_cast<unsigned __int128>(in - 1) * s + window;
			unsigned __int128 need = static_cast<unsigned __int128>(out) + pb + pe;
			require(need >= full && need - full < std::max(s, dil));
			auto extra = static_cast<std::int64_t>(need - full);
			g.pad_r[d] = static_cast<std::int64_t>(pe) - extra;
		}
		g.in[d] = in;
		g.k[d] = k;
		g.out[d] = out;
		g.stride[d] = s;
		g.dil[d] = dil;
		g.pb[d] = pb;
		g.in_vol *= in; // the descriptors' element counts bound these
		g.k_vol *= k;
		g.out_vol *= out;
	}
	require(task.end[0] <= checked_mul(g.N, g.G) && task.end[1] <= g.OCg);
	g.pair0 = task.begin[0];
	g.pair1 = task.end[0];
	g.oc0 = task.begin[1];
	g.oc1 = task.end[1];
	return g;
}

} // namespace

// Local memory of a chunk of nn images x gn groups of the tile.
std::uint64_t chunk_bytes(const ConvGeometry &g, std::uint64_t nn, std::uint64_t gn)
{
	Footprint fp;
	fp.add(checked_mul(nn, gn), checked_mul(g.Cg, g.in_vol), 4);
	fp.add(gn, checked_mul(g.ocs(), g.Cg * g.k_vol + 1), 4);
	fp.add(checked_mul(nn, gn), checked_mul(g.ocs(), g.out_vol), 4);
	return fp.bytes();
}

// The tile's pairs in chunks that fit local memory: whole images (every
// group) together where the tile covers them, else runs of groups of one
// image.
std::vector<ConvChunk> chunks(const ConvGeometry &g, std::uint64_t mem)
{
	require(chunk_bytes(g, 1, 1) <= mem);
	std::vector<ConvChunk> out;
	for (std::uint64_t pair = g.pair0; pair < g.pair1;) {
		std::uint64_t n = pair / g.G, group = pair % g.G;
		if (group == 0 && g.pair1 - pair >= g.G) {
			std::uint64_t images = (g.pair1 - pair) / g.G, nn = 0;
			for (std::uint64_t step = std::uint64_t{1} << 62; step; step >>= 1)
				if (nn + step <= images && chunk_bytes(g, nn + step, g.G) <= mem)
					nn += step;
			if (nn) {
				out.push_back({n, nn, 0, g.G});
				pair += nn * g.G;
				continue;
			}
		}
		std::uint64_t limit = std::min(g.G - group, g.pair1 - pair), gn = 1;
		for (std::uint64_t step = std::uint64_t{1} << 62; step; step >>= 1)
			if (gn + step <= limit && chunk_bytes(g, 1, gn + step) <= mem)
				gn += step;
		out.push_back({n, 1, group, gn});
		pair += gn;
	}
	return out;
}

namespace
{

dnnl::memory::dims spatial_dims(const ConvGeometry &g, const std::uint64_t *v)
{
	dnnl::memory::dims out;
	for (unsigned d = 0; d < g.spatial; d++)
		out.push_back(static_cast<dnnl::memory::dim>(v[d]));
	return out;
}

dnnl::memory::dims concat(dnnl::memory::dims a, const dnnl::memory::dims &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

fmt plain_activation_tag(unsigned spatial)
{
	return spatial == 1 ? fmt::ncw : spatial == 2 ? fmt::nchw : fmt::ncdhw;
}

// The staged filters as oneDNN sees them: dims [gn][ocs][Cg][k...] (no
// group dimension for a single group), strides of the staging order.
dnnl::memory::desc user_weights_md(const ConvGeometry &g, const ConvChunk &ch, dt type)
{
	auto k = spatial_dims(g, g.k);
	auto kv = static_cast<dnnl::memory::dim>(g.k_vol);
	auto ocs = static_cast<dnnl::memory::dim>(g.ocs());
	auto cg = static_cast<dnnl::memory::dim>(g.Cg);
	dnnl::memory::dims k_strides(g.spatial);
	dnnl::memory::dim s = 1;
	for (int d = static_cast<int>(g.spatial) - 1; d >= 0; d--) {
		k_strides[d] = s;
		s *= k[d];
	}
	dnnl::memory::dims dims{ocs, cg}, strides;
	if (!g.transposed)
		strides = {cg * kv, kv};
	else
		strides = {kv, ocs * kv};
	if (ch.gn > 1) {
		dims.insert(dims.begin(), static_cast<dnnl::memory::dim>(ch.gn));
		strides.insert(strides.begin(), ocs * cg * kv);
	}
	return dnnl::memory::desc(concat(dims, k), type, concat(strides, k_strides));
}

} // namespace

namespace
{

void conv_onednn_direct(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch,
			dt src_type, const void *src, dt wei_type, const void *wei, dt dst_type,
			void *dst);

} // namespace

// oneDNN refuses a dilated deconvolution with negative right padding (the
// output padding reaching past pad_end), so the transposed case computes
// the part of the output the filters reach and zeroes the rest: an output
// position at or past (in - 1) * stride + window - pad_begin receives no
// contribution (the caller adds bias and activation everywhere).
void conv_onednn(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch, dt src_type,
		 const void *src, dt wei_type, const void *wei, dt dst_type, void *dst)
{
	ConvGeometry core = g;
	bool cropped = false, empty = false;
	for (unsigned d = 0; d < g.spatial; d++) {
		if (g.pad_r[d] >= 0)
			continue;
		std::int64_t reach = static_cast<std::int64_t>(g.out[d]) + g.pad_r[d];
		cropped = true;
		empty |= reach <= 0;
		core.out[d] = reach > 0 ? static_cast<std::uint64_t>(reach) : 0;
		core.pad_r[d] = 0;
	}
	if (!cropped) {
		conv_onednn_direct(st, g, ch, src_type, src, wei_type, wei, dst_type, dst);
		return;
	}
	const std::size_t elem = dnnl::memory::data_type_size(dst_type);
	const std::uint64_t planes = ch.nn * ch.gn * g.ocs();
	auto *full = static_cast<std::byte *>(dst);
	std::fill(full, full + planes * g.out_vol * elem, std::byte{0});
	if (empty)
		return;
	core.out_vol = 1;
	for (unsigned d = 0; d < g.spatial; d++)
		core.out_vol *= core.out[d];
	auto *part = st.buffer(Slot::Extra3).get<std::byte>(planes * core.out_vol * elem);
	conv_onednn_direct(st, core, ch, src_type, src, wei_type, wei, dst_type, part);
	// copy rows of the innermost dimension into the full planes
	const std::uint64_t d1 = g.spatial >= 3 ? g.out[g.spatial - 3] : 1;
	const std::uint64_t c1 = g.spatial >= 3 ? core.out[g.spatial - 3] : 1;
	const std::uint64_t d2 = g.spatial >= 2 ? g.out[g.spatial - 2] : 1;
	const std::uint64_t c2 = g.spatial >= 2 ? core.out[g.spatial - 2] : 1;
	const std::uint64_t d3 = g.out[g.spatial - 1], c3 = core.out[g.spatial - 1];
	for (std::uint64_t pl = 0; pl < planes; pl++)
		for (std::uint64_t i = 0; i < c1; i++)
			for (std::uint64_t j = 0; j < c2; j++)
				std::copy_n(part + ((pl * c1 + i) * c2 + j) * c3 * elem, c3 * elem,
					    full + ((pl * d1 + i) * d2 + j) * d3 * elem);
}

namespace
{

void conv_onednn_direct(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch,
			dt src_type, const void *src, dt wei_type, const void *wei, dt dst_type,
			void *dst)
{
	using dim = dnnl::memory::dim;
	auto ocs = static_cast<dim>(g.ocs());
	dnnl::memory::dims src_dims = concat(
		{static_cast<dim>(ch.nn), static_cast<dim>(ch.gn * g.Cg)}, spatial_dims(g, g.in));
	dnnl::memory::dims dst_dims = concat(
		{static_cast<dim>(ch.nn), static_cast<dim>(ch.gn) * ocs}, spatial_dims(g, g.out));
	dnnl::memory::desc user_src(src_dims, src_type, plain_activation_tag(g.spatial));
	dnnl::memory::desc user_dst(dst_dims, dst_type, plain_activation_tag(g.spatial));
	dnnl::memory::desc user_wei = user_weights_md(g, ch, wei_type);

	std::vector<std::int64_t> key{2,
				      g.transposed,
				      g.spatial,
				      static_cast<std::int64_t>(ch.nn),
				      static_cast<std::int64_t>(ch.gn),
				      static_cast<std::int64_t>(g.Cg),
				      ocs,
				      static_cast<std::int64_t>(src_type),
				      static_cast<std::int64_t>(wei_type),
				      static_cast<std::int64_t>(dst_type)};
	for (unsigned d = 0; d < g.spatial; d++)
		key.insert(key.end(),
			   {static_cast<std::int64_t>(g.in[d]), static_cast<std::int64_t>(g.k[d]),
			    static_cast<std::int64_t>(g.out[d]),
			    static_cast<std::int64_t>(g.stride[d]),
			    static_cast<std::int64_t>(g.dil[d]), static_cast<std::int64_t>(g.pb[d]),
			    g.pad_r[d]});

	// A copy (shared handles): the reorders below may clear the cache.
	const CachedPrimitive conv = st.primitive(key, [&] {
		dnnl::memory::desc any_src(src_dims, src_type, fmt::any);
		dnnl::memory::desc any_dst(dst_dims, dst_type, fmt::any);
		dnnl::memory::desc any_wei(user_wei.dims(), wei_type, fmt::any);
		auto strides = spatial_dims(g, g.stride);
		dnnl::memory::dims dilates, pad_l, pad_r;
		for (unsigned d = 0; d < g.spatial; d++) {
			dilates.push_back(static_cast<dim>(g.dil[d]) - 1); // oneDNN: 0 = dense
			pad_l.push_back(static_cast<dim>(g.pb[d]));
			pad_r.push_back(g.pad_r[d]);
		}
		auto kind = dnnl::prop_kind::forward_inference;
		if (!g.transposed) {
			dnnl::convolution_forward::desc desc(
				kind, dnnl::algorithm::convolution_direct, any_src, any_wei,
				any_dst, strides, dilates, pad_l, pad_r);
			dnnl::convolution_forward::primitive_desc pd(desc, st.cpu);
			return CachedPrimitive{dnnl::convolution_forward(pd), pd.src_desc(),
					       pd.weights_desc(), pd.dst_desc()};
		}
		dnnl::deconvolution_forward::desc desc(kind, dnnl::algorithm::deconvolution_direct,
						       any_src, any_wei, any_dst, strides, dilates,
						       pad_l, pad_r);
		dnnl::deconvolution_forward::primitive_desc pd(desc, st.cpu);
		return CachedPrimitive{dnnl::deconvolution_forward(pd), pd.src_desc(),
				       pd.weights_desc(), pd.dst_desc()};
	});

	// Blocked layouts are oneDNN's fast path; reorders convert the staged
	// plain buffers (the weights once per chunk shape, reused by later tiles).
	dnnl::memory src_mem(user_src, st.cpu, const_cast<void *>(src));
	if (conv.src != user_src) {
		dnnl::memory blocked(conv.src, st.cpu,
				     st.buffer(Slot::Extra0).get<std::byte>(conv.src.get_size()));
		reorder(st, key, 1, src_mem, blocked);
		src_mem = blocked;
	}
	dnnl::memory wei_mem(user_wei, st.cpu, const_cast<void *>(wei));
	if (conv.weights != user_wei) {
		StagingBuffer &buf = st.buffer(Slot::Extra1);
		auto *blocked_ptr = buf.get<std::byte>(conv.weights.get_size());
		dnnl::memory blocked(conv.weights, st.cpu, blocked_ptr);
		StagingBuffer::Tag tag{ch.g0, ch.gn, g.oc0,
				       g.oc1, ch.nn, static_cast<std::uint64_t>(wei_type)};
		if (!buf.holds(tag)) {
			reorder(st, key, 2, wei_mem, blocked);
			buf.set_tag(tag);
		}
		wei_mem = blocked;
	}
	dnnl::memory user_dst_mem(user_dst, st.cpu, dst);
	dnnl::memory dst_mem = user_dst_mem;
	if (conv.dst != user_dst)
		dst_mem = dnnl::memory(conv.dst, st.cpu,
				       st.buffer(Slot::Extra2).get<std::byte>(conv.dst.get_size()));
	conv.prim.execute(
		st.stream,
		{{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}});
	if (conv.dst != user_dst)
		reorder(st, key, 3, dst_mem, user_dst_mem);
	st.stream.wait();
}

// ---- float -----------------------------------------------------------------

void conv_float(ContextMemory &mem, const npu_pkt_conv &p, const ConvGeometry &g,
		EngineScratch &scratch)
{
	EngineScratch::State &st = scratch.state();
	TensorRef x(mem, p.x), w(mem, p.w), y(mem, p.y);
	std::optional<TensorRef> bias;
	if (p.bias.dtype != NPU_DTYPE_NONE)
		bias.emplace(mem, p.bias);
	require(dtype_is_float(y.dtype()) && (!bias || dtype_is_float(bias->dtype())));
	require(x.dtype() == w.dtype() && p.quant.a_zero == 0 && p.quant.b_zero == 0 &&
		p.quant.y_scale == 0 && p.quant.y_zero == 0);

	// BF16 multiplies in bf16 with f32 accumulation, F16 through f32.
	bool bf16 = x.dtype() == NPU_DTYPE_BF16 && onednn_bf16_native();
	std::size_t elem = bf16 ? 2 : 4;
	dt in_type = bf16 ? dt::bf16 : dt::f32;
	auto reader = [bf16](TensorRef &t) {
		return [&t, bf16](std::uint64_t first, std::uint64_t count, std::byte *out) {
			if (bf16)
				t.read_raw(first, count, out);
			else
				t.read_f32(first, count, reinterpret_cast<float *>(out));
		};
	};
	std::uint64_t ocs = g.ocs();
	bool has_act = p.act.fn != NPU_FN_IDENTITY;
	for (const ConvChunk &ch : chunks(g, scratch.local_mem_bytes())) {
		std::byte *xs = stage_x(st, g, ch, elem, reader(x));
		std::byte *ws =
			stage_w(st, g, ch, elem, reader(w), [](std::byte *, std::uint64_t) {});
		float *bias_s = nullptr;
		if (bias) {
			bias_s = st.buffer(Slot::C).get<float>(ch.gn * ocs);
			for (std::uint64_t gi = 0; gi < ch.gn; gi++)
				bias->read_f32((ch.g0 + gi) * g.OCg + g.oc0, ocs,
					       bias_s + gi * ocs);
		}
		std::uint64_t plane = ocs * g.out_vol; // one (n, group) of the result
		float *acc = st.buffer(Slot::Acc).get<float>(ch.nn * ch.gn * plane);
		mem.release(); // staged operands only: no invalidate waits for the product
		conv_onednn(st, g, ch, in_type, xs, in_type, ws, dt::f32, acc);
		for (std::uint64_t i = 0; i < ch.nn; i++)
			for (std::uint64_t gi = 0; gi < ch.gn; gi++) {
				float *out = acc + (i * ch.gn + gi) * plane;
				if (bias_s || has_act)
					for (std::uint64_t o = 0; o < ocs; o++) {
						float b = bias_s ? bias_s[gi * ocs + o] : 0.0f;
						float *row = out + o * g.out_vol;
						for (std::uint64_t j = 0; j < g.out_vol; j++) {
							float v = row[j] + b;
							row[j] = has_act ? static_cast<float>(
										   apply_fn(p.act,
											    v))
									 : v;
						}
					}
				std::uint64_t first =
					((ch.n0 + i) * g.OC + (ch.g0 + gi) * g.OCg + g.oc0) *
					g.out_vol;
				y.write_f32(first, plane, out);
			}
	}
}

} // namespace

void run_conv(ContextMemory &mem, const npu_pkt_conv &p, const npu_engine_task &task,
	      EngineScratch &scratch)
{
	ConvGeometry g = geometry(p, task);
	if (dtype_is_float(p.x.dtype))
		conv_float(mem, p, g, scratch);
	else
		conv_int8(mem, p, g, scratch);
}

} // namespace npu::emu
