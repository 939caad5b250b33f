// SPDX-License-Identifier: MIT
// Data movement: TENSOR_COPY (plain strided copy and padding), GATHER
// (take and elements) and CAST. Elements move raw (bit-exact) except in
// CAST, which converts with the rules of TensorRef::store().
#include <algorithm>
#include <bit>
#include <cstring>

#include "npu_engine_kernels.h"
#include "npu_engine_tile.h"

namespace npu::emu
{

namespace
{

static_assert(std::endian::native == std::endian::little,
	      "pad_value and raw elements are read as little-endian bytes");

// Raw element bytes for a chunk (the widest element is 8 bytes).
using RawChunk = std::uint8_t[kChunkElements * 8];

void copy_raw(TensorRef &x, TensorRef &y, const ElementTile &tile)
{
	RawChunk buffer;
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		x.read_raw(first, n, buffer);
		y.write_raw(first, n, buffer);
	});
}

// Where coordinate s (of y, shifted by pad_begin) reads along a dimension
// of extent extent; false: outside x and not mapped (constant padding).
bool source_coord(std::uint32_t mode, std::int64_t s, std::int64_t extent, std::int64_t &out)
{
	if (s >= 0 && s < extent) {
		out = s;
		return true;
	}
	switch (mode) {
	case NPU_COPY_PAD_EDGE:
		out = s < 0 ? 0 : extent - 1;
		return true;
	case NPU_COPY_PAD_REFLECT: {
		// Mirror without repeating the edge: period 2 * (extent - 1).
		const std::int64_t period = 2 * (extent - 1);
		std::int64_t m = s % period;
		if (m < 0)
			m += period;
		out = m < extent ? m : period - m;
		return true;
	}
	default:
		return false;
	}
}

void copy_padded(const npu_pkt_tensor_copy &p, TensorRef &x, TensorRef &y, const ElementTile &tile)
{
	const unsigned rank = y.rank();
	std::int64_t x_extent[NPU_MAX_RANK] = {}, shift[NPU_MAX_RANK] = {};
	for (unsigned d = 0; d < rank; d++) {
		x_extent[d] = x.dim(d);
		shift[d] = p.pad_begin[d];
		// Does y reach outside x along d? Then the mode must be able to
		// fill it from x: reflection needs two elements, the edge one.
		bool outside = shift[d] > 0 || shift[d] + x_extent[d] < std::int64_t(y.dim(d));
		if (outside && y.elements() &&
		    ((p.mode == NPU_COPY_PAD_REFLECT && x_extent[d] < 2) ||
		     (p.mode == NPU_COPY_PAD_EDGE && x_extent[d] < 1)))
			bad_task();
	}
	if (!tile.count)
		return;
	const std::size_t size = y.elem_size();
	std::uint8_t pad[8];
	std::memcpy(pad, &p.pad_value, sizeof(pad));

	// Each dimension's share of the source offset, and whether it is
	// inside x, recomputed only for the dimensions whose index changed.
	std::int64_t part_offset[NPU_MAX_RANK] = {};
	bool part_inside[NPU_MAX_RANK];
	IndexWalker index(y, tile.first);
	auto update = [&](unsigned from) {
		for (unsigned d = from; d < rank; d++) {
			std::int64_t s = static_cast<std::int64_t>(index[d]) - shift[d];
			std::int64_t src = 0;
			part_inside[d] = source_coord(p.mode, s, x_extent[d], src);
			part_offset[d] = src * x.stride(d);
		}
	};
	update(0);

	RawChunk buffer;
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		for (std::uint64_t k = 0; k < n; k++) {
			bool inside = true;
			std::int64_t offset = 0;
			for (unsigned d = 0; d < rank; d++) {
				inside = inside && part_inside[d];
				offset += part_offset[d];
			}
			if (inside)
				x.load_raw_at(x.address_at_offset(offset), buffer + k * size);
			else
				std::memcpy(buffer + k * size, pad, size);
			update(index.next());
		}
		y.write_raw(first, n, buffer);
	});
}

// An index into an extent, negative counting from the end; out of range
// is bad data in the task.
std::uint64_t normalize_index(std::int64_t index, std::uint64_t extent)
{
	const auto signed_extent = static_cast<std::int64_t>(extent); // extent < 2^32
	if (index < -signed_extent || index >= signed_extent)
		bad_task();
	return static_cast<std::uint64_t>(index < 0 ? index + signed_extent : index);
}

// Indices read a chunk at a time, for gathers that walk them in order.
class IndexReader
{
public:
	explicit IndexReader(TensorRef &indices) : indices_(indices) {}

	std::int64_t operator[](std::uint64_t flat)
	{
		if (flat < base_ || flat - base_ >= count_) {
			count_ = std::min(kChunkElements, indices_.elements() - flat);
			indices_.read_i64(flat, count_, values_);
			base_ = flat;
		}
		return values_[flat - base_];
	}

private:
	TensorRef &indices_;
	std::uint64_t base_ = 0, count_ = 0;
	std::int64_t values_[kChunkElements];
};

// y = x[:axis] + indices + x[axis+1:]: y's element j is (outer o, index
// position q, inner i) and copies x's (o, indices[q], i). Consecutive
// inner elements are consecutive in x's row-major order too.
void gather_take(const npu_pkt_gather &p, TensorRef &x, TensorRef &indices, TensorRef &y,
		 const ElementTile &tile)
{
	const unsigned axis = p.axis;
	const unsigned q_rank = indices.rank();
	if (y.rank() != x.rank() - 1 + q_rank)
		bad_task();
	std::uint64_t inner = 1;
	for (unsigned d = 0; d < x.rank(); d++) {
		if (d < axis && y.dim(d) != x.dim(d))
			bad_task();
		if (d > axis) {
			if (y.dim(d - 1 + q_rank) != x.dim(d))
				bad_task();
			inner *= x.dim(d);
		}
	}
	for (unsigned q = 0; q < q_rank; q++)
		if (y.dim(axis + q) != indices.dim(q))
			bad_task();
	if (!tile.count)
		return; // y is empty whenever inner or the index count is 0

	const std::uint64_t extent = x.dim(axis);
	const std::uint64_t positions = indices.elements();
	const std::size_t size = y.elem_size();
	IndexReader index(indices);
	RawChunk buffer;
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		for (std::uint64_t k = 0; k < n;) {
			const std::uint64_t j = first + k;
			const std::uint64_t segment = j / inner, i = j % inner;
			const std::uint64_t q = segment % positions, o = segment / positions;
			const std::uint64_t e = normalize_index(index[q], extent);
			const std::uint64_t run = std::min(inner - i, n - k);
			x.read_raw((o * extent + e) * inner + i, run, buffer + k * size);
			k += run;
		}
		y.write_raw(first, n, buffer);
	});
}

// y[i] = x[i with the axis coordinate replaced by indices[i]].
void gather_elements(const npu_pkt_gather &p, TensorRef &x, TensorRef &indices, TensorRef &y,
		     const ElementTile &tile)
{
	const unsigned axis = p.axis;
	if (indices.rank() != x.rank() || !same_shape(indices, y))
		bad_task();
	for (unsigned d = 0; d < x.rank(); d++)
		if (d != axis && y.dim(d) > x.dim(d))
			bad_task();
	const std::uint64_t extent = x.dim(axis);
	const std::size_t size = y.elem_size();
	IndexWalker at(y, tile.first);
	std::int64_t chosen[kChunkElements];
	RawChunk buffer;
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		indices.read_i64(first, n, chosen);
		for (std::uint64_t k = 0; k < n; k++, at.next()) {
			std::int64_t offset = 0;
			for (unsigned d = 0; d < x.rank(); d++) {
				std::uint64_t coord =
					d == axis ? normalize_index(chosen[k], extent) : at[d];
				offset += static_cast<std::int64_t>(coord) * x.stride(d);
			}
			x.load_raw_at(x.address_at_offset(offset), buffer + k * size);
		}
		y.write_raw(first, n, buffer);
	});
}

} // namespace

void run_tensor_copy(ContextMemory &mem, const npu_pkt_tensor_copy &p, const npu_engine_task &task)
{
	TensorRef x(mem, p.x), y(mem, p.y);
	if (p.mode > NPU_COPY_PAD_EDGE || x.dtype() != y.dtype() || x.rank() != y.rank())
		bad_task();
	const ElementTile tile = element_tile(task, y);
	if (p.mode == NPU_COPY_PLAIN) {
		if (!same_shape(x, y))
			bad_task();
		copy_raw(x, y, tile);
		return;
	}
	copy_padded(p, x, y, tile);
}

void run_gather(ContextMemory &mem, const npu_pkt_gather &p, const npu_engine_task &task)
{
	TensorRef x(mem, p.x), indices(mem, p.indices), y(mem, p.y);
	if (p.mode > NPU_GATHER_ELEMENTS || p.axis >= x.rank() || y.dtype() != x.dtype() ||
	    (indices.dtype() != NPU_DTYPE_I32 && indices.dtype() != NPU_DTYPE_I64))
		bad_task();
	const ElementTile tile = element_tile(task, y);
	if (p.mode == NPU_GATHER_TAKE)
		gather_take(p, x, indices, y, tile);
	else
		gather_elements(p, x, indices, y, tile);
}

void run_cast(ContextMemory &mem, const npu_pkt_cast &p, const npu_engine_task &task)
{
	TensorRef x(mem, p.x), y(mem, p.y);
	if (!same_shape(x, y))
		bad_task();
	const ElementTile tile = element_tile(task, y);
	if (x.dtype() == y.dtype()) {
		copy_raw(x, y, tile);
	} else if (dtype_is_float(x.dtype())) {
		double values[kChunkElements];
		for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
			x.read_f64(first, n, values);
			y.write_f64(first, n, values);
		});
	} else {
		std::int64_t values[kChunkElements];
		for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
			x.read_i64(first, n, values);
			y.write_i64(first, n, values);
		});
	}
}

} // namespace npu::emu
