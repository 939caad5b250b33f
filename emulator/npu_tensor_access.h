// SPDX-License-Identifier: MIT
// How a tensor engine reaches a tensor: context addresses translated by the
// device MMU page by page (with a small translation cache, so a large
// operand costs one walk per page, not per element), element types
// converted to and from the engine's compute types.
//
// Errors are thrown as EngineFault and turned into the task's status by
// run_engine_task(); nothing here touches memory outside the pages the
// context mapped.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "drm/npu_packet.h"
#include "npu_dma.h"
#include "npu_hw.h"

namespace npu::emu
{

struct EngineFault {
	std::uint32_t status; // NPU_ENG_ST_*
	std::uint64_t addr;   // faulting context address (faults only)
};

// Shorthand for the malformed-task fault.
[[noreturn]] void bad_task();

// Bytes of one element of dtype; 0 for NPU_DTYPE_NONE or unknown.
std::size_t dtype_size(std::uint32_t dtype);
bool dtype_is_float(std::uint32_t dtype);   // F32, F16, BF16
bool dtype_is_integer(std::uint32_t dtype); // I8, U8, I32, I64 (not BOOL)

// IEEE half and bfloat16 conversions, round to nearest even.
float f16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float f);
float bf16_to_f32(std::uint16_t b);
std::uint16_t f32_to_bf16(float f);

// A context's memory as the engine sees it. Caches recent translations;
// not thread-safe (one per task).
//
// Translation invalidate (npu_mmu_sync.h): the task is a TranslationUser of
// the device from its first page() call until release() or destruction.
// Callers must not use a pointer from page() once they called page()
// again (an invalidate completes as soon as every busy task did): keep at
// most the current page's pointer, and drop it when poll() says so.
class ContextMemory
{
public:
	// cancel (optional): set by a device reset; the task then stops at
	// its next page translation or every few thousand elements with
	// EngineFault{BAD_TASK}, so no task outlives a reset for long.
	ContextMemory(const DmaEngine &dma, std::uint64_t pt_root,
		      const std::atomic<bool> *cancel = nullptr);
	ContextMemory(const ContextMemory &) = delete;
	ContextMemory &operator=(const ContextMemory &) = delete;

	// Throws EngineFault{BAD_TASK} once the task was cancelled.
	void check_cancel() const
	{
		if (cancel_ && cancel_->load(std::memory_order_relaxed))
			throw EngineFault{NPU_ENG_ST_BAD_TASK, 0};
	}
	// check_cancel(), and true when an invalidate waits for this task: a
	// caller that keeps a page pointer between page() calls must get it
	// from page() again (which drops the cached translations).
	bool poll() const
	{
		check_cancel();
		return user_.stale();
	}

	// Host pointer to va, valid up to the end of its page and until the
	// next page() call. Throws EngineFault{FAULT_READ or FAULT_WRITE, va}
	// when unmapped (or, for write, read-only).
	std::uint8_t *page(std::uint64_t va, bool write);
	// The caller holds no pointer from page() until its next page() call
	// (say, before computing on staged operands for long): an invalidate
	// does not wait for this task meanwhile. The cached translations
	// survive unless an invalidate came in between.
	void release() { user_.leave(); }
	// Copies between context memory and a host buffer, page by page.
	void read(std::uint64_t va, void *dst, std::size_t len);
	void write(std::uint64_t va, const void *src, std::size_t len);

private:
	void drop_cache(std::uint64_t generation);

	const DmaEngine &dma_;
	std::uint64_t pt_root_;
	const std::atomic<bool> *cancel_;
	TranslationUser user_;
	// The invalidate generation the cached translations belong to.
	std::uint64_t cache_generation_;
	struct Entry {
		std::uint64_t page = ~0ull; // va >> NPU_PAGE_SHIFT
		std::uint8_t *host = nullptr;
		bool writable = false;
	};
	// Direct-mapped by page number: any run of up to kEntries consecutive
	// pages fits, and so does a column sweep of a matrix whose rows are a
	// page apart (a transposed operand) with up to kEntries rows.
	static constexpr unsigned kEntries = 2048;
	Entry cache_[kEntries];
};

// A tensor's layout with extent-1 dimensions dropped and dimensions that
// are contiguous with their inner neighbour merged: the same elements in the
// same row-major order, in as few (and as long) runs as possible. Rank is
// at least 1 (a scalar is one element with stride 1).
struct RunLayout {
	unsigned rank = 1;
	std::uint64_t shape[NPU_MAX_RANK] = {1};
	std::int64_t stride[NPU_MAX_RANK] = {1};
};

// A tensor descriptor (struct npu_tensor) bound to context memory.
// Construction checks the descriptor's own consistency (dtype known, rank,
// MBZ fields, element count, every reachable element inside the address
// space, alignment) and throws EngineFault{BAD_TASK} otherwise.
class TensorRef
{
public:
	TensorRef(ContextMemory &mem, const npu_tensor &desc);

	std::uint32_t dtype() const { return desc_.dtype; }
	unsigned rank() const { return desc_.rank; }
	std::uint64_t dim(unsigned i) const { return desc_.shape[i]; }
	std::int64_t stride(unsigned i) const { return desc_.stride[i]; }
	std::uint64_t elements() const { return elements_; }
	std::size_t elem_size() const { return elem_size_; }
	const npu_tensor &desc() const { return desc_; }
	const RunLayout &layout() const { return layout_; }
	ContextMemory &memory() const { return mem_; }

	// Device address of the element at a row-major logical index.
	std::uint64_t address_of(std::uint64_t flat) const;
	// ... and of a multi-index (rank() entries).
	std::uint64_t address_at(const std::uint64_t *index) const;
	// ... and of an element offset (sum of index * stride).
	std::uint64_t address_at_offset(std::int64_t offset) const
	{
		return desc_.addr + static_cast<std::uint64_t>(offset) * elem_size_;
	}

	// One element, converted: floats to double exactly, integers and BOOL
	// to double (exact up to 2^53) or int64 (exact).
	double load(std::uint64_t flat);
	std::int64_t load_int(std::uint64_t flat);
	// Stores with the conversion rules of NPU_OP_CAST (float rounding to
	// nearest even, float to integer truncating and saturating, NaN to 0,
	// integers wrapping, BOOL = value != 0).
	void store(std::uint64_t flat, double v);
	void store_int(std::uint64_t flat, std::int64_t v);
	// Raw element (elem_size() bytes) at a device address of this tensor
	// (address_of() and friends).
	void load_raw_at(std::uint64_t addr, void *out);
	void store_raw_at(std::uint64_t addr, const void *in);

	// Dense transfers of count elements starting at row-major index
	// first: to/from f32 (any dtype converted), or raw in the tensor's own
	// dtype (elem_size() bytes each). Contiguous runs go page by page.
	// [first, first + count) must lie inside the tensor (else BAD_TASK).
	void read_f32(std::uint64_t first, std::uint64_t count, float *out);
	void write_f32(std::uint64_t first, std::uint64_t count, const float *in);
	void read_raw(std::uint64_t first, std::uint64_t count, void *out);
	void write_raw(std::uint64_t first, std::uint64_t count, const void *in);
	// ... and to/from the element-wise kernels' compute types, with the
	// conversions of load()/store() and load_int()/store_int().
	void read_f64(std::uint64_t first, std::uint64_t count, double *out);
	void write_f64(std::uint64_t first, std::uint64_t count, const double *in);
	void read_i64(std::uint64_t first, std::uint64_t count, std::int64_t *out);
	void write_i64(std::uint64_t first, std::uint64_t count, const std::int64_t *in);

private:
	template <typename Visit>
	void for_each_run(std::uint64_t first, std::uint64_t count, bool write, Visit &&visit);
	template <typename Out, typename Decode>
	void read_converted(std::uint64_t first, std::uint64_t count, Out *out, Decode decode);
	template <typename In, typename Encode>
	void write_converted(std::uint64_t first, std::uint64_t count, const In *in, Encode encode);

	ContextMemory &mem_;
	npu_tensor desc_;
	std::uint64_t elements_ = 0;
	std::size_t elem_size_ = 0;
	RunLayout layout_;
};

} // namespace npu::emu
