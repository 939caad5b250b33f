// SPDX-License-Identifier: MIT
// REDUCE: each element of y folds its slice of x. x is viewed with the
// kept dimensions first and the reduced ones last (same elements, permuted
// descriptor), so y's element j reduces the view's flat range [j * R,
// (j + 1) * R), R being the product of the reduced extents.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "npu_engine_kernels.h"
#include "npu_engine_tile.h"

namespace npu::emu
{

namespace
{

bool is_arg(std::uint32_t fn)
{
	return fn == NPU_RED_ARGMAX || fn == NPU_RED_ARGMIN;
}

bool reduce_allowed(std::uint32_t fn, std::uint32_t dtype)
{
	if (fn > NPU_RED_LAST)
		return false;
	if (dtype_is_float(dtype))
		return true;
	if (dtype == NPU_DTYPE_BOOL) // any / all, and the positions of a true or false
		return fn == NPU_RED_MAX || fn == NPU_RED_MIN || is_arg(fn);
	// Integers: the exact reductions (no logarithms, no square roots).
	return dtype_is_integer(dtype) && fn != NPU_RED_L2 && fn != NPU_RED_LOG_SUM &&
	       fn != NPU_RED_LOG_SUM_EXP;
}

// ARGMAX/ARGMIN bookkeeping shared by both number kinds. better(v, best) is
// strict; equal values move the index only with NPU_RED_SELECT_LAST.
template <typename T> struct ArgState {
	bool any = false;
	T best{};
	std::uint64_t index = 0;
};

// Floats: NaN counts as the extreme both ways (numpy's argmax/argmin pick
// the first NaN), and MAX/MIN propagate it.
struct FloatReducer {
	FloatReducer(std::uint32_t fn, bool select_last) : fn(fn), select_last(select_last) {}

	std::uint32_t fn;
	bool select_last;
	double sum = 0, prod = 1;
	double max = -std::numeric_limits<double>::infinity();
	double min = std::numeric_limits<double>::infinity();
	bool nan = false;
	// LOG_SUM_EXP: running max m and sum of exp(x - m) (finite x only).
	double lse_max = -std::numeric_limits<double>::infinity(), lse_sum = 0;
	bool pos_inf = false;
	ArgState<double> arg;
	std::uint64_t count = 0;

	void add(double x)
	{
		const std::uint64_t position = count++;
		if (std::isnan(x))
			nan = true;
		switch (fn) {
		case NPU_RED_SUM:
		case NPU_RED_MEAN:
		case NPU_RED_LOG_SUM:
			sum += x;
			break;
		case NPU_RED_SUM_SQUARE:
		case NPU_RED_L2:
			sum += x * x;
			break;
		case NPU_RED_L1:
			sum += std::fabs(x);
			break;
		case NPU_RED_PROD:
			prod *= x;
			break;
		case NPU_RED_MAX:
			max = std::max(max, x);
			break;
		case NPU_RED_MIN:
			min = std::min(min, x);
			break;
		case NPU_RED_LOG_SUM_EXP:
			add_lse(x);
			break;
		default:
			add_arg(x, position);
			break;
		}
	}

	void add_lse(double x)
	{
		if (std::isnan(x) || x == -std::numeric_limits<double>::infinity())
			return;
		if (x == std::numeric_limits<double>::infinity()) {
			pos_inf = true;
			return;
		}
		if (x > lse_max) {
			lse_sum = lse_sum * std::exp(lse_max - x) + 1;
			lse_max = x;
		} else {
			lse_sum += std::exp(x - lse_max);
		}
	}

	void add_arg(double x, std::uint64_t position)
	{
		bool take;
		if (!arg.any) {
			take = true;
		} else if (std::isnan(arg.best)) {
			take = select_last && std::isnan(x);
		} else if (std::isnan(x)) {
			take = true;
		} else {
			bool better = fn == NPU_RED_ARGMAX ? x > arg.best : x < arg.best;
			take = better || (select_last && x == arg.best);
		}
		if (take)
			arg = {true, x, position};
	}

	double result() const
	{
		switch (fn) {
		case NPU_RED_SUM:
		case NPU_RED_SUM_SQUARE:
		case NPU_RED_L1:
			return sum;
		case NPU_RED_MEAN:
			return sum / static_cast<double>(count); // 0 / 0 = NaN when empty
		case NPU_RED_L2:
			return std::sqrt(sum);
		case NPU_RED_LOG_SUM:
			return std::log(sum);
		case NPU_RED_PROD:
			return prod;
		case NPU_RED_MAX:
			return nan ? std::numeric_limits<double>::quiet_NaN() : max;
		case NPU_RED_MIN:
			return nan ? std::numeric_limits<double>::quiet_NaN() : min;
		case NPU_RED_LOG_SUM_EXP:
			if (nan)
				return std::numeric_limits<double>::quiet_NaN();
			if (pos_inf)
				return std::numeric_limits<double>::infinity();
			return lse_sum == 0 ? -std::numeric_limits<double>::infinity()
					    : lse_max + std::log(lse_sum);
		default:
			return static_cast<double>(arg.index);
		}
	}
};

// Integers and BOOL, exact: sums in 128 bits (no overflow for any tensor
// that fits in memory), the rest wrapping like the dtype would.
struct IntReducer {
	// lowest, highest: the dtype's range (MAX and MIN of nothing)
	IntReducer(std::uint32_t fn, bool select_last, std::int64_t lowest, std::int64_t highest)
	    : fn(fn), select_last(select_last), max(lowest), min(highest)
	{
	}

	std::uint32_t fn;
	bool select_last;
	__int128 sum = 0;
	std::uint64_t wrapped = 0; // SUM_SQUARE, L1
	std::uint64_t prod = 1;
	std::int64_t max, min;
	ArgState<std::int64_t> arg;
	std::uint64_t count = 0;

	void add(std::int64_t x)
	{
		const std::uint64_t position = count++;
		const auto ux = static_cast<std::uint64_t>(x);
		switch (fn) {
		case NPU_RED_SUM:
		case NPU_RED_MEAN:
			sum += x;
			break;
		case NPU_RED_SUM_SQUARE:
			wrapped += ux * ux;
			break;
		case NPU_RED_L1:
			wrapped += x < 0 ? 0 - ux : ux;
			break;
		case NPU_RED_PROD:
			prod *= ux;
			break;
		case NPU_RED_MAX:
			max = std::max(max, x);
			break;
		case NPU_RED_MIN:
			min = std::min(min, x);
			break;
		default: {
			bool better = fn == NPU_RED_ARGMAX ? x > arg.best : x < arg.best;
			if (!arg.any || better || (select_last && x == arg.best))
				arg = {true, x, position};
			break;
		}
		}
	}

	std::int64_t result() const
	{
		switch (fn) {
		case NPU_RED_SUM:
			return static_cast<std::int64_t>(static_cast<std::uint64_t>(sum));
		case NPU_RED_MEAN: // truncated; nothing to average gives 0
			return count ? static_cast<std::int64_t>(static_cast<std::uint64_t>(
					       sum / static_cast<__int128>(count)))
				     : 0;
		case NPU_RED_SUM_SQUARE:
		case NPU_RED_L1:
			return static_cast<std::int64_t>(wrapped);
		case NPU_RED_PROD:
			return static_cast<std::int64_t>(prod);
		case NPU_RED_MAX:
			return max;
		case NPU_RED_MIN:
			return min;
		default:
			return static_cast<std::int64_t>(arg.index);
		}
	}
};

std::pair<std::int64_t, std::int64_t> int_limits(std::uint32_t dtype)
{
	switch (dtype) {
	case NPU_DTYPE_I8:
		return {-128, 127};
	case NPU_DTYPE_U8:
		return {0, 255};
	case NPU_DTYPE_I32:
		return {std::numeric_limits<std::int32_t>::min(),
			std::numeric_limits<std::int32_t>::max()};
	case NPU_DTYPE_I64:
		return {std::numeric_limits<std::int64_t>::min(),
			std::numeric_limits<std::int64_t>::max()};
	default: // BOOL
		return {0, 1};
	}
}

// Folds the view's slices for y elements [first, first + count) into
// out[], reading whole slices together when they are short.
template <typename Value, typename Reducer, typename Out>
void reduce_slices(TensorRef &view, std::uint64_t slice, std::uint64_t first, std::uint64_t count,
		   const Reducer &initial, Out *out)
{
	Value values[kChunkElements];
	auto read = [&](std::uint64_t at, std::uint64_t n) {
		if constexpr (std::is_same_v<Value, double>)
			view.read_f64(at, n, values);
		else
			view.read_i64(at, n, values);
	};
	if (slice == 0) {
		for (std::uint64_t j = 0; j < count; j++)
			out[j] = initial.result();
		return;
	}
	if (slice <= kChunkElements) {
		const std::uint64_t per_read = kChunkElements / slice;
		for (std::uint64_t j = 0; j < count; j += per_read) {
			std::uint64_t slices = std::min(per_read, count - j);
			read((first + j) * slice, slices * slice);
			for (std::uint64_t s = 0; s < slices; s++) {
				Reducer r = initial;
				for (std::uint64_t k = 0; k < slice; k++)
					r.add(values[s * slice + k]);
				out[j + s] = r.result();
			}
		}
		return;
	}
	for (std::uint64_t j = 0; j < count; j++) {
		Reducer r = initial;
		for (std::uint64_t done = 0; done < slice; done += kChunkElements) {
			std::uint64_t n = std::min(kChunkElements, slice - done);
			read((first + j) * slice + done, n);
			for (std::uint64_t k = 0; k < n; k++)
				r.add(values[k]);
		}
		out[j] = r.result();
	}
}

} // namespace

void run_reduce(ContextMemory &mem, const npu_pkt_reduce &p, const npu_engine_task &task)
{
	TensorRef x(mem, p.x), y(mem, p.y);
	const std::uint32_t fn = p.fn;
	const unsigned rank = x.rank();
	if (!reduce_allowed(fn, x.dtype()) || (p.axes >> rank) || y.rank() != rank)
		bad_task();
	if (is_arg(fn)) {
		if (std::popcount(p.axes) != 1 ||
		    (y.dtype() != NPU_DTYPE_I64 && y.dtype() != NPU_DTYPE_I32))
			bad_task();
	} else if (y.dtype() != x.dtype()) {
		bad_task();
	}

	// The permuted view and the slice length.
	npu_tensor view_desc{};
	view_desc.addr = x.desc().addr;
	view_desc.dtype = x.dtype();
	view_desc.rank = rank;
	std::uint64_t slice = 1;
	unsigned at = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned d = 0; d < rank; d++) {
			bool reduced = (p.axes >> d) & 1;
			if (reduced != (pass == 1))
				continue;
			if (y.dim(d) != (reduced ? 1 : x.dim(d)))
				bad_task();
			if (reduced)
				slice *= x.dim(d); // <= x's element count or 0: no overflow
			view_desc.shape[at] = x.desc().shape[d];
			view_desc.stride[at] = x.desc().stride[d];
			at++;
		}
	}
	// A reduced extent of 0 empties x while y keeps its elements.
	TensorRef view(mem, view_desc);
	// An index of nothing does not exist.
	if (is_arg(fn) && slice == 0 && y.elements())
		bad_task();
	const ElementTile tile = element_tile(task, y);
	const bool select_last = p.flags & NPU_RED_SELECT_LAST;

	if (dtype_is_float(x.dtype())) {
		const FloatReducer initial{fn, select_last};
		double out[kChunkElements];
		for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
			reduce_slices<double>(view, slice, first, n, initial, out);
			y.write_f64(first, n, out);
		});
		return;
	}
	auto [lowest, highest] = int_limits(x.dtype());
	const IntReducer initial{fn, select_last, lowest, highest};
	std::int64_t out[kChunkElements];
	for_each_chunk(tile, [&](std::uint64_t first, std::uint64_t n) {
		reduce_slices<std::int64_t>(view, slice, first, n, initial, out);
		y.write_i64(first, n, out);
	});
}

} // namespace npu::emu
