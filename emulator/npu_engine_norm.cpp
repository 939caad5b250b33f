// SPDX-License-Identifier: MIT
// NORM on a tensor engine: softmax, log-softmax and normalisation over a
// set of axes for the positions of one tile, and inference batch
// normalisation element by element. Statistics accumulate in double; values
// are read as f32.
//
// A group (the elements normalised together) is read in bounded segments:
// once when it fits one buffer, else again for every pass (the firmware
// plans no local memory for NORM, so nothing here grows with the tensor).
#include <algorithm>
#include <bit>
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

constexpr std::uint64_t kSegment = std::uint64_t{1} << 16; // elements per buffer

bool absent(const npu_tensor &t)
{
	return t.dtype == NPU_DTYPE_NONE;
}

bool same_shape(const npu_tensor &a, const npu_tensor &b)
{
	if (a.rank != b.rank)
		return false;
	for (unsigned d = 0; d < a.rank; d++)
		if (a.shape[d] != b.shape[d])
			return false;
	return true;
}

void check_operand(const npu_tensor &t, const npu_tensor &x, bool allowed, bool required)
{
	if (absent(t)) {
		require(!required);
		return;
	}
	require(allowed && dtype_is_float(t.dtype) && same_shape(t, x));
}

// How a position's group of elements lies in x's row-major order: the
// trailing normalised dimensions form runs of run_length consecutive
// elements; the other normalised dimensions step between runs.
struct GroupLayout {
	unsigned rank = 0;
	std::uint64_t extent[NPU_MAX_RANK] = {};
	std::uint64_t row_stride[NPU_MAX_RANK] = {}; // x's row-major strides
	std::uint32_t axes = 0;
	unsigned run_dims = 0; // trailing dimensions inside every run
	std::uint64_t run_length = 1, group = 1, positions = 1;

	// Flat index of the first element of position p's group.
	std::uint64_t base(std::uint64_t p) const
	{
		std::uint64_t flat = 0;
		for (int d = static_cast<int>(rank) - 1; d >= 0; d--) {
			if (axes >> d & 1)
				continue;
			flat += p % extent[d] * row_stride[d];
			p /= extent[d];
		}
		return flat;
	}
	// Offset of the run-th run of a group from its base.
	std::uint64_t run_offset(std::uint64_t run) const
	{
		std::uint64_t off = 0;
		for (int d = static_cast<int>(rank - run_dims) - 1; d >= 0; d--) {
			if (!(axes >> d & 1))
				continue;
			off += run % extent[d] * row_stride[d];
			run /= extent[d];
		}
		return off;
	}
};

GroupLayout group_layout(const npu_tensor &x, std::uint32_t axes)
{
	GroupLayout l;
	l.rank = x.rank;
	l.axes = axes;
	std::uint64_t stride = 1;
	for (int d = static_cast<int>(x.rank) - 1; d >= 0; d--) {
		l.extent[d] = x.shape[d];
		l.row_stride[d] = stride;
		stride *= x.shape[d]; // x's element count bounds the products
		if (axes >> d & 1)
			l.group *= x.shape[d];
		else
			l.positions *= x.shape[d];
	}
	while (l.run_dims < l.rank && (axes >> (l.rank - 1 - l.run_dims) & 1)) {
		l.run_length *= l.extent[l.rank - 1 - l.run_dims];
		l.run_dims++;
	}
	return l;
}

// Calls fn(flat, count, offset) for segments of at most kSegment elements
// covering position p's group in order (offset: index within the group).
template <typename Fn> void for_each_segment(const GroupLayout &l, std::uint64_t p, Fn &&fn)
{
	if (l.run_length == 0)
		return;
	std::uint64_t base = l.base(p), runs = l.group / l.run_length, offset = 0;
	for (std::uint64_t run = 0; run < runs; run++) {
		std::uint64_t start = base + l.run_offset(run);
		for (std::uint64_t done = 0; done < l.run_length; done += kSegment) {
			std::uint64_t count = std::min(kSegment, l.run_length - done);
			fn(start + done, count, offset);
			offset += count;
		}
	}
}

struct NormOperands {
	TensorRef x, y;
	std::optional<TensorRef> scale, bias;
};

void normalize_groups(const npu_pkt_norm &p, NormOperands &t, const npu_engine_task &task)
{
	GroupLayout l = group_layout(p.x, p.axes);
	require(task.end[0] <= l.positions);
	bool whole = l.group <= kSegment; // one read serves every pass
	std::vector<float> values(std::min(l.group, kSegment)), out(values.size());
	std::vector<float> scale(t.scale ? values.size() : 0), bias(t.bias ? values.size() : 0);
	double epsilon = std::bit_cast<float>(p.epsilon);

	for (std::uint64_t pos = task.begin[0]; pos < task.end[0]; pos++) {
		// Visits the group's values segment by segment.
		auto visit = [&](auto &&fn) {
			for_each_segment(
				l, pos,
				[&](std::uint64_t flat, std::uint64_t n, std::uint64_t offset) {
					float *v = values.data() + (whole ? offset : 0);
					if (!whole)
						t.x.read_f32(flat, n, v);
					fn(flat, n, v);
				});
		};
		if (whole)
			for_each_segment(
				l, pos,
				[&](std::uint64_t flat, std::uint64_t n, std::uint64_t offset) {
					t.x.read_f32(flat, n, values.data() + offset);
				});

		// first pass: max (softmaxes) or mean
		double first =
			p.fn == NPU_NORM_NORMALIZE ? 0 : -std::numeric_limits<double>::infinity();
		visit([&](std::uint64_t, std::uint64_t n, const float *v) {
			for (std::uint64_t i = 0; i < n; i++) {
				if (p.fn == NPU_NORM_NORMALIZE)
					first += v[i];
				else if (v[i] > first || std::isnan(v[i]))
					first = std::isnan(first) ? first : v[i];
			}
		});
		double mean_or_max = p.fn == NPU_NORM_NORMALIZE ? first / l.group : first;
		// second pass: sum of exp(x - max), or of squared deviations
		double second = 0;
		visit([&](std::uint64_t, std::uint64_t n, const float *v) {
			for (std::uint64_t i = 0; i < n; i++) {
				double d = v[i] - mean_or_max;
				second += p.fn == NPU_NORM_NORMALIZE ? d * d : std::exp(d);
			}
		});
		double log_sum = std::log(second);
		double inv_std = 1.0 / std::sqrt(second / l.group + epsilon);
		// last pass: the results
		visit([&](std::uint64_t flat, std::uint64_t n, const float *v) {
			if (t.scale)
				t.scale->read_f32(flat, n, scale.data());
			if (t.bias)
				t.bias->read_f32(flat, n, bias.data());
			for (std::uint64_t i = 0; i < n; i++) {
				double d = v[i] - mean_or_max, r;
				switch (p.fn) {
				case NPU_NORM_SOFTMAX:
					r = std::exp(d) / second;
					break;
				case NPU_NORM_LOG_SOFTMAX:
					r = d - log_sum;
					break;
				default:
					r = d * inv_std;
					if (t.scale)
						r *= scale[i];
					if (t.bias)
						r += bias[i];
				}
				out[i] = static_cast<float>(r);
			}
			t.y.write_f32(flat, n, out.data());
		});
	}
}

void batch_norm(const npu_pkt_norm &p, NormOperands &t, TensorRef &mean, TensorRef &var,
		const npu_engine_task &task)
{
	require(task.end[0] <= t.x.elements());
	constexpr std::uint64_t kChunk = 4096;
	std::vector<float> x(kChunk), m(kChunk), v(kChunk), s(kChunk), b(kChunk), y(kChunk);
	double epsilon = std::bit_cast<float>(p.epsilon);
	for (std::uint64_t first = task.begin[0]; first < task.end[0]; first += kChunk) {
		std::uint64_t n = std::min(kChunk, task.end[0] - first);
		t.x.read_f32(first, n, x.data());
		mean.read_f32(first, n, m.data());
		var.read_f32(first, n, v.data());
		t.scale->read_f32(first, n, s.data());
		t.bias->read_f32(first, n, b.data());
		for (std::uint64_t i = 0; i < n; i++)
			y[i] = static_cast<float>(
				(x[i] - double(m[i])) / std::sqrt(v[i] + epsilon) * s[i] + b[i]);
		t.y.write_f32(first, n, y.data());
	}
}

} // namespace

void run_norm(ContextMemory &mem, const npu_pkt_norm &p, const npu_engine_task &task)
{
	require(p.fn <= NPU_NORM_LAST && p.x.rank <= NPU_MAX_RANK && (p.axes >> p.x.rank) == 0);
	bool batch = p.fn == NPU_NORM_BATCH, normalize = p.fn == NPU_NORM_NORMALIZE;
	require(batch ? p.axes == 0 : p.axes != 0);
	require(dtype_is_float(p.x.dtype) && dtype_is_float(p.y.dtype) && same_shape(p.x, p.y));
	check_operand(p.scale, p.x, batch || normalize, batch);
	check_operand(p.bias, p.x, batch || normalize, batch);
	check_operand(p.mean, p.x, batch, batch);
	check_operand(p.var, p.x, batch, batch);

	NormOperands t{TensorRef(mem, p.x), TensorRef(mem, p.y), {}, {}};
	if (!absent(p.scale))
		t.scale.emplace(mem, p.scale);
	if (!absent(p.bias))
		t.bias.emplace(mem, p.bias);
	if (batch) {
		TensorRef mean(mem, p.mean), var(mem, p.var);
		batch_norm(p, t, mean, var, task);
	} else {
		normalize_groups(p, t, task);
	}
}

} // namespace npu::emu
