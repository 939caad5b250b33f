// SPDX-License-Identifier: MIT
// What a tensor engine keeps between tasks (EngineScratch::State): its
// oneDNN engine and stream, the primitives it built (keyed by shapes and
// types), and the staging buffers that model its local memory, each tagged
// with what it holds so the next tile of the same operation can reuse it.
// Private to the engine kernels (npu_engine_*.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "npu_engine_ops.h"
#include "npu_tensor_access.h"

namespace npu::emu
{

// A staging buffer of the engine's local memory: grows on demand and keeps
// its host pages between tasks (a fresh allocation per tile would cost a
// page fault per 4 KiB). The tag says what it holds; an empty tag means
// nothing reusable.
class StagingBuffer
{
public:
	using Tag = std::array<std::uint64_t, 6>;

	template <typename T> T *get(std::uint64_t count)
	{
		reserve(count * sizeof(T));
		return reinterpret_cast<T *>(data_.get());
	}
	template <typename T> T *data() const { return reinterpret_cast<T *>(data_.get()); }

	bool holds(const Tag &tag) const { return tagged_ && tag_ == tag; }
	void set_tag(const Tag &tag)
	{
		tag_ = tag;
		tagged_ = true;
	}
	void forget() { tagged_ = false; }

private:
	struct Free {
		void operator()(std::byte *p) const { std::free(p); }
	};
	void reserve(std::uint64_t bytes)
	{
		if (bytes <= capacity_)
			return;
		forget();
		data_.reset();
		std::uint64_t rounded = (bytes + 4095) & ~std::uint64_t{4095};
		auto *p = static_cast<std::byte *>(std::aligned_alloc(4096, rounded));
		if (!p)
			throw std::bad_alloc();
		data_.reset(p);
		capacity_ = rounded;
	}

	std::unique_ptr<std::byte, Free> data_;
	std::uint64_t capacity_ = 0;
	Tag tag_{};
	bool tagged_ = false;
};

// Which staging buffer holds what; kernels of one family share the slots.
enum class Slot : unsigned {
	A,	// GEMM a, CONV x, POOL/NORM input
	B,	// GEMM b, CONV w (oneDNN's layout)
	C,	// GEMM c, CONV bias
	Acc,	// results before conversion
	Extra0, // kernel-specific (reorders, sums)
	Extra1,
	Extra2,
	Extra3,
	Count,
};

// A oneDNN primitive and the layouts of its source, weights and
// destination (format "any" lets it pick blocked ones).
struct CachedPrimitive {
	dnnl::primitive prim;
	dnnl::memory::desc src, weights, dst;
};

struct EngineScratch::State {
	State() : cpu(dnnl::engine::kind::cpu, 0), stream(cpu) {}

	// Called at the start of every task: a task of another operation (or
	// context, or packet content) makes every staged input stale, and so
	// does a translation invalidate since the last task (mmu_generation:
	// TranslationSync::generation()), so that a later tile reads its inputs
	// through the tables again instead of from what an earlier one staged.
	void begin_task(const npu_engine_task &task, std::uint64_t mmu_generation)
	{
		// Only the packet's own bytes count: the rest of the task's
		// packet area may hold anything.
		std::uint32_t header = static_cast<std::uint32_t>(task.packet[0]);
		std::size_t bytes =
			std::min<std::size_t>(NPU_PKT_DWORDS(header) * 4u, sizeof(task.packet));
		const auto *packet = reinterpret_cast<const std::uint8_t *>(task.packet);
		bool same = has_previous && task.op_id == previous_op_id &&
			    task.pt_root == previous_pt_root &&
			    mmu_generation == previous_mmu_generation && bytes == previous_bytes &&
			    std::equal(packet, packet + bytes, previous_packet.begin());
		if (!same) {
			for (auto &b : buffers)
				b.forget();
		}
		has_previous = true;
		previous_op_id = task.op_id;
		previous_pt_root = task.pt_root;
		previous_mmu_generation = mmu_generation;
		previous_bytes = bytes;
		std::copy(packet, packet + bytes, previous_packet.begin());
	}
	// A task that failed may have left half-staged buffers behind.
	void forget_staged()
	{
		for (auto &b : buffers)
			b.forget();
		has_previous = false;
	}

	StagingBuffer &buffer(Slot s) { return buffers[static_cast<unsigned>(s)]; }

	// The layout of the GEMM weights packed in Slot::Extra1.
	dnnl::memory::desc packed_weights;

	// Primitives by key (shapes, types, attributes), with the memory
	// layouts they chose. Bounded: a stream of ever-new shapes must not grow
	// the engine without limit, so a lookup may clear the cache and the
	// reference lives only until the next one: copy the entry (its handles
	// are shared) to use it across another lookup, such as reorder().
	template <typename Make>
	CachedPrimitive &primitive(const std::vector<std::int64_t> &key, Make make)
	{
		auto it = primitives.find(key);
		if (it != primitives.end())
			return it->second;
		if (primitives.size() >= kMaxPrimitives)
			primitives.clear();
		return primitives.emplace(key, make()).first->second;
	}

	dnnl::engine cpu;
	dnnl::stream stream;

private:
	static constexpr std::size_t kMaxPrimitives = 64;
	std::map<std::vector<std::int64_t>, CachedPrimitive> primitives;
	StagingBuffer buffers[static_cast<unsigned>(Slot::Count)];
	bool has_previous = false;
	std::uint64_t previous_op_id = 0;
	std::uint64_t previous_pt_root = 0;
	std::uint64_t previous_mmu_generation = 0;
	std::size_t previous_bytes = 0;
	std::array<std::uint8_t, NPU_ENGINE_PACKET_MAX> previous_packet{};
};

// Bytes of local memory a tile stages, with overflow saturating to
// UINT64_MAX (which never fits).
class Footprint
{
public:
	// Adds count elements of elem_bytes each.
	void add(std::uint64_t count, std::uint64_t elem_bytes)
	{
		unsigned __int128 v = static_cast<unsigned __int128>(count) * elem_bytes + bytes_;
		bytes_ = v > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(v);
	}
	// Adds a * b elements.
	void add(std::uint64_t a, std::uint64_t b, std::uint64_t elem_bytes)
	{
		unsigned __int128 n = static_cast<unsigned __int128>(a) * b;
		add(n > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(n), elem_bytes);
	}
	std::uint64_t bytes() const { return bytes_; }
	bool fits(const EngineScratch &scratch) const
	{
		return bytes_ <= scratch.local_mem_bytes();
	}
	// Throws BAD_TASK unless the staged operands fit the engine's memory.
	void check(const EngineScratch &scratch) const
	{
		if (!fits(scratch))
			bad_task();
	}

private:
	std::uint64_t bytes_ = 0;
};

inline void require(bool ok)
{
	if (!ok)
		bad_task();
}

// a * b, or BAD_TASK when it overflows 64 bits.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b)
{
	std::uint64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		bad_task();
	return r;
}

// An 8-bit result: saturate(round_half_even(v * y_scale) + y_zero); NaN
// gives 0 (as CAST does).
inline std::uint8_t requantize(double v, double y_scale, std::int32_t y_zero, bool y_unsigned)
{
	double q = std::nearbyint(v * y_scale);
	if (std::isnan(q))
		return 0;
	double lo = y_unsigned ? 0 : -128, hi = y_unsigned ? 255 : 127;
	return static_cast<std::uint8_t>(static_cast<int>(std::clamp(q + y_zero, lo, hi)));
}

// oneDNN computes 8-bit products exactly (int32, no intermediate int16
// saturation) only with VNNI or AMX instructions.
bool onednn_int8_exact();
// Whether bf16 operands go to oneDNN as bf16; otherwise they are widened to
// f32 (exactly: the products and sums are the same f32 arithmetic).
bool onednn_bf16_native();

// Runs src -> dst through a reorder, cached with the primitives under the
// key of the primitive it serves plus role (which operand it converts).
inline void reorder(EngineScratch::State &st, std::vector<std::int64_t> key, std::int64_t role,
		    const dnnl::memory &src, const dnnl::memory &dst)
{
	key.push_back(role);
	CachedPrimitive &r = st.primitive(key, [&] {
		return CachedPrimitive{dnnl::reorder(src, dst), {}, {}, {}};
	});
	r.prim.execute(st.stream, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

} // namespace npu::emu
