// SPDX-License-Identifier: MIT
// Runs GEMM, CONV, POOL and NORM tiles through run_engine_task() against a
// fake guest RAM (EngineKernelTest's page tables): operands are random
// values laid out with any strides on scattered pages; outputs start as a
// sentinel so a test can see what a tile wrote and what it left alone.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "engine_fixture.h"
#include "npu_engine_ops.h"

namespace npu::emu::test
{

// A tensor the test placed in context memory: its descriptor and its
// physical region (what the strides reach, from its lowest element).
struct Placed {
	npu_tensor desc{};
	std::uint64_t region_va = 0; // address of the lowest reachable element
	std::uint64_t region_elems = 0;
	std::size_t elem = 0;

	std::uint64_t elements() const
	{
		std::uint64_t n = 1;
		for (unsigned d = 0; d < desc.rank; d++)
			n *= desc.shape[d];
		return n;
	}
	// Element offset (in elements from desc.addr) of a row-major index.
	std::int64_t offset_of(std::uint64_t flat) const
	{
		std::int64_t off = 0;
		for (int d = static_cast<int>(desc.rank) - 1; d >= 0; d--) {
			off += static_cast<std::int64_t>(flat % desc.shape[d]) * desc.stride[d];
			flat /= desc.shape[d];
		}
		return off;
	}
	std::uint64_t address_of(std::uint64_t flat) const
	{
		return desc.addr + static_cast<std::uint64_t>(offset_of(flat) * std::int64_t(elem));
	}
};

// Values as the engine sees them (decoded), and as exact integers.
struct Input : Placed {
	std::vector<double> values;
	std::vector<std::int64_t> ints;
};

inline double decode(std::uint32_t dtype, const std::uint8_t *p)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		float f;
		std::memcpy(&f, p, 4);
		return f;
	}
	case NPU_DTYPE_F16:
	case NPU_DTYPE_BF16: {
		std::uint16_t h;
		std::memcpy(&h, p, 2);
		return dtype == NPU_DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
	}
	case NPU_DTYPE_I8:
		return static_cast<std::int8_t>(p[0]);
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		return p[0];
	case NPU_DTYPE_I32: {
		std::int32_t v;
		std::memcpy(&v, p, 4);
		return v;
	}
	default: {
		std::int64_t v;
		std::memcpy(&v, p, 8);
		return static_cast<double>(v);
	}
	}
}

inline std::int64_t decode_int(std::uint32_t dtype, const std::uint8_t *p)
{
	if (dtype == NPU_DTYPE_I64) {
		std::int64_t v;
		std::memcpy(&v, p, 8);
		return v;
	}
	return static_cast<std::int64_t>(decode(dtype, p));
}

inline void encode(std::uint32_t dtype, double v, std::uint8_t *p)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		auto f = static_cast<float>(v);
		std::memcpy(p, &f, 4);
		break;
	}
	case NPU_DTYPE_F16:
	case NPU_DTYPE_BF16: {
		auto f = static_cast<float>(v);
		std::uint16_t h = dtype == NPU_DTYPE_F16 ? f32_to_f16(f) : f32_to_bf16(f);
		std::memcpy(p, &h, 2);
		break;
	}
	case NPU_DTYPE_I8:
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL:
		p[0] = static_cast<std::uint8_t>(static_cast<std::int64_t>(v));
		break;
	case NPU_DTYPE_I32: {
		auto i = static_cast<std::int32_t>(static_cast<std::int64_t>(v));
		std::memcpy(p, &i, 4);
		break;
	}
	default: {
		auto i = static_cast<std::int64_t>(v);
		std::memcpy(p, &i, 8);
	}
	}
}

class EngineComputeTest : public EngineKernelTest
{
public:
	static constexpr std::uint64_t kLocalMem = 1 << 20;
	EngineScratch scratch_{kLocalMem};
	std::mt19937_64 rng_{12345};

	// Runs one task of packet p on the engine (tile axes [b0, e0) x [b1, e1)).
	template <typename Packet>
	KernelOutcome run_task(const Packet &p, std::uint64_t b0, std::uint64_t e0,
			       std::uint64_t b1 = 0, std::uint64_t e1 = 1, std::uint64_t op_id = 1)
	{
		static_assert(sizeof(Packet) <= NPU_ENGINE_PACKET_MAX);
		npu_engine_task t{};
		t.seqno = 7;
		t.pt_root = ctx_.pt_root;
		t.begin[0] = b0;
		t.end[0] = e0;
		t.begin[1] = b1;
		t.end[1] = e1;
		t.op_id = op_id;
		std::memcpy(t.packet, &p, sizeof(p));
		return run_raw(t, scratch_);
	}
	KernelOutcome run_raw(const npu_engine_task &t, EngineScratch &scratch)
	{
		EngineResult r = run_engine_task(dma_, t, scratch);
		return {r.status, r.fault_addr};
	}

	// Lays out a tensor of shape with the given strides (row-major if
	// empty) on scattered pages and fills what it reaches with fill(i) for
	// its i-th physical element.
	template <typename Fill>
	Placed place(std::uint32_t dtype, std::vector<std::uint32_t> shape,
		     std::vector<std::int64_t> stride, bool writable, Fill fill)
	{
		npu_tensor d = make_tensor(0, dtype, shape, stride);
		std::int64_t lo = 0, hi = 0;
		bool empty = false;
		for (unsigned i = 0; i < d.rank; i++) {
			if (d.shape[i] == 0)
				empty = true;
			std::int64_t span = (std::int64_t(d.shape[i]) - 1) * d.stride[i];
			(span < 0 ? lo : hi) += span;
		}
		if (empty)
			lo = hi = 0;
		Placed t;
		t.elem = dtype_size(dtype);
		t.region_elems = static_cast<std::uint64_t>(hi - lo + 1);
		std::vector<std::uint8_t> bytes(t.region_elems * t.elem);
		for (std::uint64_t i = 0; i < t.region_elems; i++)
			fill(i, bytes.data() + i * t.elem);
		t.region_va = put(bytes, writable, true);
		d.addr = t.region_va + static_cast<std::uint64_t>(-lo) * t.elem;
		t.desc = d;
		return t;
	}

	// Random input: floats uniform in [lo, hi] (rounded to the dtype),
	// integers uniform in [lo, hi].
	Input input(std::uint32_t dtype, std::vector<std::uint32_t> shape,
		    std::vector<std::int64_t> stride = {}, double lo = -1, double hi = 1)
	{
		bool is_float = dtype_is_float(dtype);
		Input in;
		static_cast<Placed &>(in) =
			place(dtype, shape, stride, false, [&](std::uint64_t, std::uint8_t *p) {
				if (is_float) {
					encode(dtype,
					       std::uniform_real_distribution<double>(lo, hi)(rng_),
					       p);
				} else if (dtype == NPU_DTYPE_I64) {
					std::int64_t v =
						std::uniform_int_distribution<std::int64_t>(
							std::int64_t(lo), std::int64_t(hi))(rng_);
					std::memcpy(p, &v, 8);
				} else {
					encode(dtype,
					       double(std::uniform_int_distribution<std::int64_t>(
						       std::int64_t(lo), std::int64_t(hi))(rng_)),
					       p);
				}
			});
		refresh(in);
		return in;
	}
	// Re-reads an input's values (after the test changed its memory).
	void refresh(Input &in)
	{
		std::uint64_t n = in.elements();
		in.values.resize(n);
		in.ints.resize(n);
		std::vector<std::uint8_t> e(in.elem);
		for (std::uint64_t i = 0; i < n; i++) {
			host_.read_va(ctx_, in.address_of(i), e.data(), in.elem);
			in.values[i] = decode(in.desc.dtype, e.data());
			in.ints[i] = decode_int(in.desc.dtype, e.data());
		}
	}

	// An output filled with the 0xa5 sentinel.
	Placed output(std::uint32_t dtype, std::vector<std::uint32_t> shape,
		      std::vector<std::int64_t> stride = {})
	{
		return place(dtype, shape, stride, true, [&](std::uint64_t, std::uint8_t *p) {
			std::memset(p, 0xa5, dtype_size(dtype));
		});
	}

	std::vector<double> values(const Placed &t)
	{
		std::vector<double> v(t.elements());
		std::vector<std::uint8_t> e(t.elem);
		for (std::uint64_t i = 0; i < v.size(); i++) {
			host_.read_va(ctx_, t.address_of(i), e.data(), t.elem);
			v[i] = decode(t.desc.dtype, e.data());
		}
		return v;
	}
	std::vector<std::int64_t> ints(const Placed &t)
	{
		std::vector<std::int64_t> v(t.elements());
		std::vector<std::uint8_t> e(t.elem);
		for (std::uint64_t i = 0; i < v.size(); i++) {
			host_.read_va(ctx_, t.address_of(i), e.data(), t.elem);
			v[i] = decode_int(t.desc.dtype, e.data());
		}
		return v;
	}

	// Whether element flat of an output still holds the sentinel.
	bool untouched(const Placed &t, std::uint64_t flat)
	{
		std::vector<std::uint8_t> e(t.elem);
		host_.read_va(ctx_, t.address_of(flat), e.data(), t.elem);
		return std::all_of(e.begin(), e.end(), [](std::uint8_t b) { return b == 0xa5; });
	}
	// Every element in_tile(flat) selects was written (wider than a byte),
	// and every byte of the output's region outside those elements still
	// holds the sentinel.
	template <typename InTile> void expect_written_exactly(const Placed &t, InTile in_tile)
	{
		std::vector<std::uint8_t> region(t.region_elems * t.elem);
		host_.read_va(ctx_, t.region_va, region.data(), region.size());
		std::vector<bool> mine(t.region_elems, false);
		for (std::uint64_t i = 0; i < t.elements(); i++) {
			std::uint64_t at = (t.address_of(i) - t.region_va) / t.elem;
			if (in_tile(i)) {
				mine[at] = true;
				// (a 1-byte result may legitimately equal the sentinel;
				// the tests compare every value anyway)
				if (t.elem > 1) {
					EXPECT_FALSE(untouched(t, i))
						<< "element " << i << " not written";
				}
			}
		}
		for (std::uint64_t at = 0; at < t.region_elems; at++) {
			if (mine[at])
				continue;
			for (std::size_t b = 0; b < t.elem; b++) {
				ASSERT_EQ(region[at * t.elem + b], 0xa5)
					<< "element slot " << at << " outside the tile written";
			}
		}
	}
};

// Row-major multi-index of flat in shape.
inline std::vector<std::uint64_t> unflatten(std::uint64_t flat, const npu_tensor &t)
{
	std::vector<std::uint64_t> idx(t.rank);
	for (int d = static_cast<int>(t.rank) - 1; d >= 0; d--) {
		idx[d] = flat % t.shape[d];
		flat /= t.shape[d];
	}
	return idx;
}

inline std::uint64_t flatten(const std::vector<std::uint64_t> &idx, const npu_tensor &t)
{
	std::uint64_t flat = 0;
	for (unsigned d = 0; d < t.rank; d++)
		flat = flat * t.shape[d] + idx[d];
	return flat;
}

// The activations the tests fuse, from their definitions.
inline double act_ref(std::uint32_t fn, double alpha, double x)
{
	switch (fn) {
	case NPU_FN_RELU:
		return x > 0 ? x : 0;
	case NPU_FN_LEAKY_RELU:
		return x < 0 ? alpha * x : x;
	case NPU_FN_SIGMOID:
		return 1 / (1 + std::exp(-x));
	default:
		return x;
	}
}

inline npu_act act(std::uint32_t fn, float alpha = 0, float beta = 0)
{
	return {fn, f32_bits(alpha), f32_bits(beta), 0};
}

} // namespace npu::emu::test
