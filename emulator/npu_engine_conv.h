// SPDX-License-Identifier: MIT
// What the CONV kernel's files (npu_engine_conv.cpp: shapes, float, oneDNN;
// npu_engine_conv_int8.cpp: 8-bit) share. Private to the engine kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "npu_engine_state.h"

namespace npu::emu
{

inline constexpr unsigned kConvMaxSpatial = 3;

// A validated convolution and its tile. Spatial entries at and beyond
// spatial are 1 (extents, strides, dilations) or 0 (padding), so loops may
// always run over three dimensions.
struct ConvGeometry {
	unsigned spatial = 1;
	bool transposed = false;
	std::uint64_t N = 0, C = 0, OC = 0, G = 1, Cg = 0, OCg = 0;
	std::uint64_t in[kConvMaxSpatial] = {1, 1, 1};
	std::uint64_t k[kConvMaxSpatial] = {1, 1, 1};
	std::uint64_t out[kConvMaxSpatial] = {1, 1, 1};
	std::uint64_t stride[kConvMaxSpatial] = {1, 1, 1};
	std::uint64_t dil[kConvMaxSpatial] = {1, 1, 1};
	std::uint64_t pb[kConvMaxSpatial] = {0, 0, 0};
	// oneDNN's padding after: pad_end, less the output padding when
	// transposed (so possibly negative)
	std::int64_t pad_r[kConvMaxSpatial] = {0, 0, 0};
	std::uint64_t in_vol = 1, k_vol = 1, out_vol = 1;
	// the tile: (n * groups + g) pairs and output channels within a group
	std::uint64_t pair0 = 0, pair1 = 0, oc0 = 0, oc1 = 0;
	std::uint64_t ocs() const { return oc1 - oc0; }
};

// nn images from n0 and gn groups from g0, computed together.
struct ConvChunk {
	std::uint64_t n0, nn, g0, gn;
};

std::uint64_t chunk_bytes(const ConvGeometry &g, std::uint64_t nn, std::uint64_t gn);
// The tile's pairs as chunks that fit mem bytes (BAD_TASK if one pair does
// not).
std::vector<ConvChunk> chunks(const ConvGeometry &g, std::uint64_t mem);

// dst = conv(src, wei) for one chunk through oneDNN. src: [nn][gn * Cg][in]
// dense; wei: stage_w's order; dst: [nn][gn * ocs][out] dense.
void conv_onednn(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch,
		 dnnl::memory::data_type src_type, const void *src,
		 dnnl::memory::data_type wei_type, const void *wei,
		 dnnl::memory::data_type dst_type, void *dst);

void conv_int8(ContextMemory &mem, const npu_pkt_conv &p, const ConvGeometry &g,
	       EngineScratch &scratch);

// Stages x's channels of the chunk: [nn][gn * Cg][in], elem-byte entries.
template <typename Read>
std::byte *stage_x(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch,
		   std::size_t elem, Read read)
{
	std::uint64_t per_image = ch.gn * g.Cg * g.in_vol;
	StagingBuffer &buf = st.buffer(Slot::A);
	auto *x = buf.get<std::byte>(ch.nn * per_image * elem);
	StagingBuffer::Tag tag{ch.n0, ch.nn, ch.g0, ch.gn, elem};
	if (buf.holds(tag))
		return x;
	for (std::uint64_t i = 0; i < ch.nn; i++)
		read(((ch.n0 + i) * g.C + ch.g0 * g.Cg) * g.in_vol, per_image,
		     x + i * per_image * elem);
	buf.set_tag(tag);
	return x;
}

// Stages the filters of the chunk's groups and the tile's output channels:
// direct [gn][ocs][Cg][k], transposed [gn][Cg][ocs][k] (w's own order).
template <typename Read, typename Prepare>
std::byte *stage_w(EngineScratch::State &st, const ConvGeometry &g, const ConvChunk &ch,
		   std::size_t elem, Read read, Prepare prepare)
{
	std::uint64_t ocs = g.ocs(), kv = g.k_vol;
	StagingBuffer &buf = st.buffer(Slot::B);
	auto *w = buf.get<std::byte>(ch.gn * ocs * g.Cg * kv * elem);
	StagingBuffer::Tag tag{ch.g0, ch.gn, g.oc0, g.oc1, elem};
	if (buf.holds(tag))
		return w;
	for (std::uint64_t gi = 0; gi < ch.gn; gi++) {
		std::uint64_t group = ch.g0 + gi;
		std::byte *dst = w + gi * ocs * g.Cg * kv * elem;
		if (!g.transposed) {
			// rows oc of [OC][Cg * k]: contiguous for the tile's channels
			read((group * g.OCg + g.oc0) * g.Cg * kv, ocs * g.Cg * kv, dst);
		} else {
			for (std::uint64_t ic = 0; ic < g.Cg; ic++)
				read(((group * g.Cg + ic) * g.OCg + g.oc0) * kv, ocs * kv,
				     dst + ic * ocs * kv * elem);
		}
	}
	prepare(w, ch.gn * ocs * g.Cg * kv);
	buf.set_tag(tag);
	return w;
}

} // namespace npu::emu
