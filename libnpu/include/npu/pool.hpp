// MemoryPool: stream-ordered allocation (cudaMallocAsync-style).
//
// A pool cuts blocks out of large buffer objects ("chunks") it keeps
// mapped, so an allocation that fits in memory the pool already holds makes
// no system call. allocate_async(size, stream) returns a Buffer usable by
// work enqueued on stream after the call; free_async(buffer, stream) returns
// the block once the work enqueued on stream so far is done:
//  - the same stream may reuse a freed block at once (its later work is
//    ordered after the free);
//  - another stream (or allocate() without a stream) reuses it only once the
//    freeing stream's work up to the free is known complete. The pool reads
//    cached completion first and asks the kernel (one syncobj query per
//    stream) only when no block is otherwise available, before growing.
// Destroying a pool Buffer without free_async frees its block at once, like
// free(): the caller guarantees no pending work still uses it.
//
// record_stream(buffer, stream): a block used on another stream than the
// one it is freed on is reused only once that stream's work enqueued up to
// the record_stream() call is done (as well as the freeing stream's).
//
// Chunks are released (unmapped, closed) when the pool holds more than
// release_threshold bytes and a chunk is wholly free and idle, on trim(),
// and when the pool goes. A pool never reserves more than max_bytes: an
// allocation that would grow it past that first refreshes the completion
// of pending frees and releases idle chunks, then fails with ENOMEM. When
// the kernel cannot create a chunk (ENOMEM/ENOSPC), the pool does the same
// (trim and retry once) before reporting ENOMEM.
//
// Blocks of one chunk share a buffer object. Reuse is ordered by the
// streams' timelines only (never by the kernel's implicit sync on shared
// BOs), so streams that opt out of implicit sync do not serialise through
// neighbouring blocks.
//
// Thread-safe: any number of threads may allocate and free concurrently.
// Handles are shared: copies refer to one pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

class Stream;
namespace detail {
struct PoolState;
struct StreamImpl;
struct MemoryAccess;
} // namespace detail

struct PoolOptions {
    size_t chunk_size = size_t{2} << 20;  // bytes per chunk (larger requests get their own)
    size_t release_threshold = SIZE_MAX;  // idle bytes kept; SIZE_MAX = keep all
    BufferKind kind = BufferKind::device; // kind of the buffers handed out
    size_t max_bytes = SIZE_MAX;          // cap on reserved bytes; SIZE_MAX = none
};

struct PoolStats {
    size_t reserved_bytes = 0;      // chunk bytes held
    size_t used_bytes = 0;          // bytes of blocks handed out (256-byte rounded)
    size_t reserved_high_water = 0; // highest reserved_bytes since reset
    size_t used_high_water = 0;
    size_t chunks = 0;
    size_t allocations = 0;       // blocks handed out now
    size_t total_allocations = 0; // blocks handed out since the pool was made
    size_t total_frees = 0;
    size_t chunk_creations = 0; // buffer objects created (the syscall path)
    size_t oom_retries = 0;     // trims after a failed or capped growth
    size_t failed_allocations = 0;
};

// One chunk of a pool and its blocks, for snapshot().
struct PoolBlockInfo {
    size_t offset = 0; // in the chunk
    size_t size = 0;
    bool allocated = false;
    // Free, but not reusable by every stream yet (a stream-ordered free or
    // a recorded stream whose work is not known complete).
    bool pending = false;
};
struct PoolSegment {
    void* address = nullptr; // the chunk's pointer (host == device)
    size_t size = 0;
    std::vector<PoolBlockInfo> blocks; // by offset, covering the chunk
};

class NPU_API MemoryPool {
public:
    explicit MemoryPool(const Device& device, const PoolOptions& options = {});
    ~MemoryPool();
    MemoryPool(const MemoryPool&);
    MemoryPool& operator=(const MemoryPool&);
    MemoryPool(MemoryPool&&) noexcept;
    MemoryPool& operator=(MemoryPool&&) noexcept;

    [[nodiscard]] Device device() const;

    // A block of at least size bytes (256-byte aligned) for stream's work.
    [[nodiscard]] Buffer allocate_async(size_t size, Stream& stream);
    // A block free of any pending work, for use by any stream or the host.
    [[nodiscard]] Buffer allocate(size_t size);
    // Returns buffer's block once stream's work enqueued so far is done;
    // buffer becomes empty. EINVAL if buffer is not from this pool.
    void free_async(Buffer&& buffer, Stream& stream);
    // record-stream (see above). EINVAL if buffer is not from this pool.
    void record_stream(const Buffer& buffer, Stream& stream);

    // Releases idle chunks until at most min_bytes_to_keep are reserved.
    void trim(size_t min_bytes_to_keep = 0);
    void set_release_threshold(size_t bytes);
    [[nodiscard]] size_t release_threshold() const;
    [[nodiscard]] PoolStats stats() const;
    // Every chunk and its blocks, now.
    [[nodiscard]] std::vector<PoolSegment> snapshot() const;
    void set_max_bytes(size_t bytes);
    [[nodiscard]] size_t max_bytes() const;
    // Sets the high-water marks to the current values.
    void reset_high_water();

private:
    friend class Device;
    friend class Stream;
    friend struct detail::StreamImpl;
    friend struct detail::MemoryAccess;
    explicit MemoryPool(std::shared_ptr<detail::PoolState> state);
    std::shared_ptr<detail::PoolState> state_;
};

} // namespace npu
