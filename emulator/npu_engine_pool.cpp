// SPDX-License-Identifier: MIT
// POOL on a tensor engine: max (with optional I64 indices), average with or
// without the padding, and Lp pooling over 1 to 3 spatial dimensions, for
// the (n, c) planes of one tile. Plain loops in double.
//
// A plane of x is staged when it is small (the firmware plans no local
// memory for pooling), otherwise read element by element; results go out in
// bounded chunks. Windows are clipped to x before they are walked, so the
// work is bounded by the taps that exist, whatever the kernel extent.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "npu_engine_kernels.h"
#include "npu_engine_state.h"

namespace npu::emu
{

namespace
{

constexpr unsigned kDims = 3;
// Planes up to this many elements are staged (1 MiB as f32).
constexpr std::uint64_t kStagedPlane = std::uint64_t{1} << 18;
constexpr std::uint64_t kOutChunk = 4096;

struct PoolGeometry {
	std::uint64_t planes = 0; // N * C
	std::uint64_t in[kDims] = {1, 1, 1}, out[kDims] = {1, 1, 1};
	std::int64_t k[kDims] = {1, 1, 1}, stride[kDims] = {1, 1, 1}, dil[kDims] = {1, 1, 1};
	std::int64_t pb[kDims] = {0, 0, 0}, pe[kDims] = {0, 0, 0};
	std::uint64_t in_vol = 1, out_vol = 1;
};

PoolGeometry geometry(const npu_pkt_pool &p)
{
	require(p.mode <= NPU_POOL_LP && p.spatial >= 1 && p.spatial <= kDims);
	require(p.mode == NPU_POOL_LP ? p.p >= 1 : p.p == 0);
	unsigned rank = p.spatial + 2;
	require(p.x.rank == rank && p.y.rank == rank && p.y.shape[0] == p.x.shape[0] &&
		p.y.shape[1] == p.x.shape[1]);
	require(dtype_is_float(p.x.dtype) && dtype_is_float(p.y.dtype));
	if (p.indices.dtype != NPU_DTYPE_NONE) {
		require(p.mode == NPU_POOL_MAX && p.indices.dtype == NPU_DTYPE_I64 &&
			p.indices.rank == rank);
		for (unsigned d = 0; d < rank; d++)
			require(p.indices.shape[d] == p.y.shape[d]);
	}
	PoolGeometry g;
	g.planes = checked_mul(p.x.shape[0], p.x.shape[1]);
	for (unsigned d = 0; d < p.spatial; d++) {
		std::uint64_t in = p.x.shape[2 + d], out = p.y.shape[2 + d];
		std::uint64_t k = p.kernel[d], s = p.stride[d], dil = p.dilation[d];
		std::uint64_t pb = p.pad_begin[d], pe = p.pad_end[d];
		require(k >= 1 && s >= 1 && dil >= 1);
		std::uint64_t window = dil * (k - 1) + 1;
		std::uint64_t padded = in + pb + pe;
		require(pb < window && pe < window && padded >= window);
		std::uint64_t floor_out = (padded - window) / s + 1;
		// ceil mode adds a window only if it starts inside x or pad_begin
		bool ceil_out = out == floor_out + 1 && (padded - window) % s != 0 &&
				(out - 1) * s < in + pb;
		require(out == floor_out || ceil_out);
		g.in[d] = in;
		g.out[d] = out;
		g.k[d] = static_cast<std::int64_t>(k);
		g.stride[d] = static_cast<std::int64_t>(s);
		g.dil[d] = static_cast<std::int64_t>(dil);
		g.pb[d] = static_cast<std::int64_t>(pb);
		g.pe[d] = static_cast<std::int64_t>(pe);
		g.in_vol *= in; // bounded by x's element count
		g.out_vol *= out;
	}
	return g;
}

// The taps of one window along one dimension: positions start + j * dil
// for j in [first, last] lie inside x; padded counts those inside the
// padded extent (AVG_PAD's divisor).
struct WindowDim {
	std::int64_t start, first, last;
	std::uint64_t padded;
};

WindowDim window_dim(const PoolGeometry &g, unsigned d, std::uint64_t o)
{
	std::int64_t dil = g.dil[d], in = static_cast<std::int64_t>(g.in[d]);
	WindowDim w;
	w.start = static_cast<std::int64_t>(o) * g.stride[d] - g.pb[d];
	w.first = w.start >= 0 ? 0 : (-w.start + dil - 1) / dil;
	w.last = in - 1 - w.start < 0 ? -1 : std::min(g.k[d] - 1, (in - 1 - w.start) / dil);
	// taps before in + pe (the ceil overhang beyond it is never counted)
	std::int64_t room = in + g.pe[d] - w.start;
	w.padded = room <= 0 ? 0
			     : static_cast<std::uint64_t>(std::min(g.k[d], (room + dil - 1) / dil));
	return w;
}

struct PoolResult {
	double value;
	std::int64_t index; // MAX: flat index within the plane, -1 if none
};

template <typename Get>
PoolResult pool_window(const npu_pkt_pool &p, const PoolGeometry &g, const std::uint64_t *o,
		       Get get)
{
	WindowDim w[kDims];
	for (unsigned d = 0; d < kDims; d++)
		w[d] = window_dim(g, d, o[d]);
	double best = -std::numeric_limits<double>::infinity(), sum = 0;
	std::int64_t best_at = -1;
	std::uint64_t count = 0;
	for (std::int64_t j0 = w[0].first; j0 <= w[0].last; j0++) {
		std::uint64_t i0 = static_cast<std::uint64_t>(w[0].start + j0 * g.dil[0]);
		for (std::int64_t j1 = w[1].first; j1 <= w[1].last; j1++) {
			std::uint64_t i1 = static_cast<std::uint64_t>(w[1].start + j1 * g.dil[1]);
			for (std::int64_t j2 = w[2].first; j2 <= w[2].last; j2++) {
				std::uint64_t i2 =
					static_cast<std::uint64_t>(w[2].start + j2 * g.dil[2]);
				std::uint64_t at = (i0 * g.in[1] + i1) * g.in[2] + i2;
				double v = get(at);
				count++;
				switch (p.mode) {
				case NPU_POOL_MAX:
					// NaN wins (and the last NaN gives the index)
					if (v > best || std::isnan(v) || best_at < 0) {
						best = v;
						best_at = static_cast<std::int64_t>(at);
					}
					break;
				case NPU_POOL_LP:
					sum += p.p == 1	  ? std::fabs(v)
					       : p.p == 2 ? v * v
							  : std::pow(std::fabs(v), p.p);
					break;
				default:
					sum += v;
				}
			}
		}
	}
	switch (p.mode) {
	case NPU_POOL_MAX:
		return {best, best_at};
	case NPU_POOL_AVG:
		return {sum / static_cast<double>(count), -1};
	case NPU_POOL_AVG_PAD:
		return {sum / static_cast<double>(w[0].padded * w[1].padded * w[2].padded), -1};
	default:
		return {p.p == 1 ? sum : p.p == 2 ? std::sqrt(sum) : std::pow(sum, 1.0 / p.p), -1};
	}
}

template <typename Get>
void pool_plane(const npu_pkt_pool &p, const PoolGeometry &g, std::uint64_t plane, TensorRef &y,
		std::optional<TensorRef> &indices, Get get)
{
	float values[kOutChunk];
	std::int64_t index[kOutChunk];
	std::uint64_t o[kDims];
	for (std::uint64_t first = 0; first < g.out_vol; first += kOutChunk) {
		std::uint64_t count = std::min(kOutChunk, g.out_vol - first);
		for (std::uint64_t j = 0; j < count; j++) {
			std::uint64_t flat = first + j;
			o[2] = flat % g.out[2];
			o[1] = flat / g.out[2] % g.out[1];
			o[0] = flat / g.out[2] / g.out[1];
			PoolResult r = pool_window(p, g, o, get);
			values[j] = static_cast<float>(r.value);
			index[j] = r.index < 0
					   ? -1
					   : static_cast<std::int64_t>(plane * g.in_vol) + r.index;
		}
		y.write_f32(plane * g.out_vol + first, count, values);
		if (indices)
			indices->write_raw(plane * g.out_vol + first, count, index);
	}
}

} // namespace

void run_pool(ContextMemory &mem, const npu_pkt_pool &p, const npu_engine_task &task)
{
	PoolGeometry g = geometry(p);
	require(task.end[0] <= g.planes);
	TensorRef x(mem, p.x), y(mem, p.y);
	std::optional<TensorRef> indices;
	if (p.indices.dtype != NPU_DTYPE_NONE)
		indices.emplace(mem, p.indices);
	std::vector<float> staged;
	if (g.in_vol <= kStagedPlane)
		staged.resize(g.in_vol);
	for (std::uint64_t plane = task.begin[0]; plane < task.end[0]; plane++) {
		if (!staged.empty() || g.in_vol == 0) {
			x.read_f32(plane * g.in_vol, g.in_vol, staged.data());
			pool_plane(p, g, plane, y, indices, [&](std::uint64_t at) {
				return static_cast<double>(staged[at]);
			});
		} else {
			std::uint64_t base = plane * g.in_vol;
			pool_plane(p, g, plane, y, indices,
				   [&](std::uint64_t at) { return x.load(base + at); });
		}
	}
}

} // namespace npu::emu
