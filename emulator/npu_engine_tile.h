// SPDX-License-Identifier: MIT
// Helpers shared by the element-wise family's kernels (unary, binary,
// reduce, tensor copy, gather, cast): their tile is a range of y's
// elements in row-major order, which they walk in chunks.
#pragma once

#include <cstdint>

#include "npu_tensor_access.h"

namespace npu::emu
{

// Elements a kernel converts at a time: large enough to amortise a run's
// setup, small enough to stay in L1/L2.
inline constexpr std::uint64_t kChunkElements = 1024;

struct ElementTile {
	std::uint64_t first = 0;
	std::uint64_t count = 0;
};

// Axis 0 of the task as a range of y's elements (axis 1 is not used by
// these opcodes); a range outside y is a bad task.
inline ElementTile element_tile(const npu_engine_task &task, const TensorRef &y)
{
	if (task.begin[0] > task.end[0] || task.end[0] > y.elements())
		bad_task();
	return {task.begin[0], task.end[0] - task.begin[0]};
}

inline bool is_absent(const npu_tensor &t)
{
	return t.dtype == NPU_DTYPE_NONE;
}

inline bool same_shape(const TensorRef &a, const TensorRef &b)
{
	if (a.rank() != b.rank())
		return false;
	for (unsigned d = 0; d < a.rank(); d++)
		if (a.dim(d) != b.dim(d))
			return false;
	return true;
}

// Calls fn(first, count) for consecutive chunks of the tile.
template <typename Fn> void for_each_chunk(const ElementTile &tile, Fn &&fn)
{
	for (std::uint64_t done = 0; done < tile.count; done += kChunkElements)
		fn(tile.first + done, std::min(kChunkElements, tile.count - done));
}

// A row-major multi-index over a shape, stepped one element at a time
// (divisions only when it starts).
class IndexWalker
{
public:
	IndexWalker(const TensorRef &t, std::uint64_t flat) : rank_(t.rank())
	{
		for (unsigned d = rank_; d-- > 0;) {
			shape_[d] = t.dim(d);
			index_[d] = shape_[d] ? flat % shape_[d] : 0;
			flat = shape_[d] ? flat / shape_[d] : 0;
		}
	}

	std::uint64_t operator[](unsigned d) const { return index_[d]; }

	// Steps to the next element; returns the outermost dimension whose
	// index changed (rank() when the walk wrapped around completely).
	unsigned next()
	{
		for (unsigned d = rank_; d-- > 0;) {
			if (++index_[d] < shape_[d])
				return d;
			index_[d] = 0;
		}
		return rank_;
	}

private:
	unsigned rank_;
	std::uint64_t shape_[NPU_MAX_RANK] = {};
	std::uint64_t index_[NPU_MAX_RANK] = {};
};

} // namespace npu::emu
