// SPDX-License-Identifier: MIT
// Drives the element-wise family's kernels through run_engine_task() against
// a fake guest RAM with real device page tables (FakeHost builds them the driver's way):
// tensors placed at chosen context addresses, results read back through
// the same page tables.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include "fake_host.h"
#include "npu_dma.h"
#include "npu_engine_kernels.h"
#include "npu_engine_ops.h"
#include "npu_tensor_access.h"

namespace npu::emu::test
{

struct KernelOutcome {
	std::uint32_t status = NPU_ENG_ST_OK;
	std::uint64_t addr = 0;
};

inline bool operator==(const KernelOutcome &a, const KernelOutcome &b)
{
	return a.status == b.status && a.addr == b.addr;
}

inline std::ostream &operator<<(std::ostream &os, const KernelOutcome &o)
{
	return os << "{status " << o.status << ", addr 0x" << std::hex << o.addr << std::dec << "}";
}

inline const KernelOutcome kOk{};
inline const KernelOutcome kBadTask{NPU_ENG_ST_BAD_TASK, 0};

inline std::uint32_t f32_bits(float f)
{
	std::uint32_t b;
	std::memcpy(&b, &f, 4);
	return b;
}

// A row-major descriptor unless strides are given.
inline npu_tensor make_tensor(std::uint64_t addr, std::uint32_t dtype,
			      std::vector<std::uint32_t> shape,
			      std::vector<std::int64_t> stride = {})
{
	npu_tensor t{};
	t.addr = addr;
	t.dtype = dtype;
	t.rank = static_cast<std::uint32_t>(shape.size());
	std::uint64_t dense = 1; // wraps only for shapes given with strides
	for (unsigned d = t.rank; d-- > 0;) {
		t.shape[d] = shape[d];
		t.stride[d] = stride.empty() ? static_cast<std::int64_t>(dense) : stride[d];
		dense *= shape[d];
	}
	return t;
}

class EngineKernelTest : public ::testing::Test
{
public: // free helper templates in the tests use these too
	FakeHost host_;
	Context ctx_ = host_.new_context();
	DmaEngine dma_{host_.bar2(), host_.ram()};
	ContextMemory mem_{dma_, ctx_.pt_root};
	EngineScratch scratch_{4 << 20};
	std::uint64_t next_va_ = 0x1000'0000;

	// Maps a fresh region of at least bytes (whole pages) followed by an
	// unmapped guard page. scattered: its pages are physically in reverse
	// order with gaps, so only the page tables make them contiguous.
	std::uint64_t region(std::size_t bytes, bool writable = true, bool scattered = false)
	{
		std::uint64_t va = next_va_;
		std::size_t pages =
			std::max<std::size_t>(1, (bytes + NPU_PAGE_SIZE - 1) / NPU_PAGE_SIZE);
		if (scattered) {
			for (std::size_t i = pages; i-- > 0;) {
				host_.map(ctx_, va + i * NPU_PAGE_SIZE, NPU_PAGE_SIZE, writable);
				host_.alloc_page(); // a gap
			}
		} else {
			host_.map(ctx_, va, pages * NPU_PAGE_SIZE, writable);
		}
		next_va_ += (pages + 1) * NPU_PAGE_SIZE;
		return va;
	}

	// Places values at a fresh region (at offset bytes into it).
	template <typename T>
	std::uint64_t put(const std::vector<T> &values, bool writable = false,
			  bool scattered = false, std::size_t offset = 0)
	{
		std::uint64_t va = region(values.size() * sizeof(T) + offset, writable, scattered);
		host_.write_va(ctx_, va + offset, values.data(), values.size() * sizeof(T));
		return va + offset;
	}

	// A writable region of n elements filled with a sentinel pattern.
	template <typename T>
	std::uint64_t out(std::size_t n, bool scattered = false, std::size_t offset = 0)
	{
		std::vector<std::uint8_t> fill(n * sizeof(T), 0xa5);
		return put(fill, true, scattered, offset);
	}

	template <typename T> std::vector<T> get(std::uint64_t va, std::size_t n)
	{
		std::vector<T> v(n);
		host_.read_va(ctx_, va, v.data(), n * sizeof(T));
		return v;
	}

	static npu_engine_task task(std::uint64_t begin, std::uint64_t end)
	{
		npu_engine_task t{};
		t.begin[0] = begin;
		t.end[0] = end;
		t.end[1] = 1;
		return t;
	}

	// Runs one tile [begin, end) of a packet's y elements the way an
	// engine does: the packet copied into a task, run_engine_task().
	template <typename Packet>
	KernelOutcome run(const Packet &p, std::uint64_t begin, std::uint64_t end)
	{
		static_assert(sizeof(Packet) <= sizeof(npu_engine_task::packet));
		npu_engine_task t = task(begin, end);
		t.pt_root = ctx_.pt_root;
		std::memcpy(t.packet, &p, sizeof(p));
		EngineResult r = run_engine_task(dma_, t, scratch_);
		return {r.status, r.fault_addr};
	}

	// Runs the whole of y (element count of p.y).
	template <typename Packet> KernelOutcome run(const Packet &p)
	{
		std::uint64_t n = 1;
		for (unsigned d = 0; d < p.y.rank; d++)
			n *= p.y.shape[d];
		return run(p, 0, n);
	}
};

inline npu_pkt_unary unary_packet(std::uint32_t fn, const npu_tensor &x, const npu_tensor &y,
				  float alpha = 0, float beta = 0)
{
	npu_pkt_unary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS);
	p.act = {fn, f32_bits(alpha), f32_bits(beta), 0};
	p.x = x;
	p.y = y;
	return p;
}

inline npu_pkt_binary binary_packet(std::uint32_t fn, const npu_tensor &a, const npu_tensor &b,
				    const npu_tensor &y, const npu_tensor &cond = {})
{
	npu_pkt_binary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_BINARY, NPU_PKT_BINARY_DWORDS);
	p.fn = fn;
	p.a = a;
	p.b = b;
	p.cond = cond;
	p.y = y;
	return p;
}

inline npu_pkt_reduce reduce_packet(std::uint32_t fn, std::uint32_t axes, const npu_tensor &x,
				    const npu_tensor &y, std::uint32_t flags = 0)
{
	npu_pkt_reduce p{};
	p.header = NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS);
	p.fn = fn;
	p.axes = axes;
	p.flags = flags;
	p.x = x;
	p.y = y;
	return p;
}

inline npu_pkt_tensor_copy copy_packet(std::uint32_t mode, const npu_tensor &x, const npu_tensor &y,
				       std::vector<std::int32_t> pad_begin = {},
				       std::uint64_t pad_value = 0)
{
	npu_pkt_tensor_copy p{};
	p.header = NPU_PKT_HEADER(NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS);
	p.mode = mode;
	p.pad_value = pad_value;
	for (std::size_t d = 0; d < pad_begin.size(); d++)
		p.pad_begin[d] = pad_begin[d];
	p.x = x;
	p.y = y;
	return p;
}

inline npu_pkt_gather gather_packet(std::uint32_t mode, std::uint32_t axis, const npu_tensor &x,
				    const npu_tensor &indices, const npu_tensor &y)
{
	npu_pkt_gather p{};
	p.header = NPU_PKT_HEADER(NPU_OP_GATHER, NPU_PKT_GATHER_DWORDS);
	p.mode = mode;
	p.axis = axis;
	p.x = x;
	p.indices = indices;
	p.y = y;
	return p;
}

inline npu_pkt_cast cast_packet(const npu_tensor &x, const npu_tensor &y)
{
	npu_pkt_cast p{};
	p.header = NPU_PKT_HEADER(NPU_OP_CAST, NPU_PKT_CAST_DWORDS);
	p.x = x;
	p.y = y;
	return p;
}

inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline KernelOutcome outcome_of(const std::function<void()> &fn)
{
	try {
		fn();
	} catch (const EngineFault &f) {
		return {f.status, f.addr};
	}
	return kOk;
}

inline std::vector<float> iota_f32(std::size_t n, float scale = 1, float shift = 0)
{
	std::vector<float> v(n);
	for (std::size_t i = 0; i < n; i++)
		v[i] = static_cast<float>(i) * scale + shift;
	return v;
}

// Equal within a few units in the last place of f32 (or both NaN).
inline ::testing::AssertionResult close_f32(float got, double want, int ulps = 4)
{
	if (std::isnan(want) && std::isnan(got))
		return ::testing::AssertionSuccess();
	float w = static_cast<float>(want);
	if (got == w)
		return ::testing::AssertionSuccess();
	if (std::isfinite(got) && std::isfinite(w)) {
		float tolerance =
			ulps * std::max(std::fabs(w) * std::numeric_limits<float>::epsilon(),
					std::numeric_limits<float>::denorm_min());
		if (std::fabs(got - w) <= tolerance)
			return ::testing::AssertionSuccess();
	}
	return ::testing::AssertionFailure() << got << " != " << want;
}

template <typename T> std::vector<T> int_samples()
{
	using L = std::numeric_limits<T>;
	std::vector<T> v = {L::min(), static_cast<T>(L::min() + 1), 0,	     1, 2, 7,
			    100,      static_cast<T>(L::max() - 1), L::max()};
	if constexpr (std::is_signed_v<T>)
		for (T x : {-1, -2, -7, -100})
			v.push_back(x);
	return v;
}

} // namespace npu::emu::test
