// Internals shared by Stream, MemoryPool and Buffer: a stream's timeline
// syncobj and the pool's block bookkeeping.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/buffer.hpp"
#include "npu/pool.hpp"

namespace npu::detail {

// The timeline syncobj a stream's jobs signal, point n = its n-th job.
// Outlives the stream while a pool block waits on it.
struct Timeline {
    explicit Timeline(std::shared_ptr<DeviceState> device);
    ~Timeline();
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    // Whether point is known signalled, from the cache only.
    [[nodiscard]] bool known_complete(uint64_t point) const noexcept {
        return completed.load(std::memory_order_acquire) >= point;
    }
    void mark_complete(uint64_t point) noexcept;
    // Reads the signalled point from the kernel (one ioctl) into the cache.
    void refresh();

    std::shared_ptr<DeviceState> device;
    uint32_t syncobj = 0;
    std::atomic<uint64_t> submitted{0}; // last point given to a job
    std::atomic<uint64_t> completed{0}; // last point known signalled
};

struct PoolState {
    PoolState(std::shared_ptr<DeviceState> device, const PoolOptions& options);
    ~PoolState();

    // stream: the allocating stream's timeline (nullptr: only idle blocks).
    Buffer allocate(size_t size, const Timeline* stream, const std::shared_ptr<PoolState>& self);
    // Returns a block; it is reusable by `after`'s stream at once and by
    // others once after->known_complete(point) (after == nullptr: at once).
    void release_block(const BoStorage* bo, size_t offset, size_t size,
                       std::shared_ptr<Timeline> after, uint64_t point) noexcept;
    void trim(size_t keep);

    using Wait = std::pair<std::shared_ptr<Timeline>, uint64_t>;
    struct FreeBlock {
        size_t offset = 0;
        size_t size = 0;
        std::shared_ptr<Timeline> after;
        uint64_t point = 0;
        std::vector<Wait> also; // recorded streams (record_stream)
        // Drops conditions known met; true if none is left.
        bool settle() noexcept;
    };
    struct Chunk {
        std::shared_ptr<BoStorage> bo;
        std::vector<FreeBlock> free; // sorted by offset, adjacent ones merged
        size_t used = 0;
    };

    std::shared_ptr<DeviceState> device;
    const PoolOptions options;
    // BO_CREATE flags of its chunks: DRM_NPU_BO_DEVICE_READ_ONLY for the
    // upload pool (upload_pool()); set before the first allocation.
    uint32_t bo_flags = 0;

    mutable std::mutex mutex; // protects everything below
    std::vector<Chunk> chunks;
    size_t release_threshold;
    size_t max_bytes;
    PoolStats stats;
    // record_stream of blocks handed out: (chunk BO, offset) -> waits.
    std::map<std::pair<const BoStorage*, size_t>, std::vector<Wait>> recorded;

    void record(const BoStorage* bo, size_t offset, std::shared_ptr<Timeline> timeline,
                uint64_t point);
    [[nodiscard]] std::vector<PoolSegment> snapshot() const;

private:
    bool usable(const FreeBlock& block, const Timeline* stream) const noexcept;
    bool take(size_t size, const Timeline* stream, Buffer& out,
              const std::shared_ptr<PoolState>& self);
    void release_idle_chunks(size_t keep) noexcept;
    // Asks the kernel about every timeline a free block waits for.
    bool refresh_pending();
    void add_chunk(size_t bytes);
};

// The device's pool of staging blocks for host -> device copies: chunks
// the device only reads (DRM_NPU_BO_DEVICE_READ_ONLY). The driver never
// syncs such a BO back for the CPU, so a job that lists a chunk and
// completes while the CPU fills another block of it cannot copy the
// bounce buffer's old bytes over the block (docs/driver.md, "DMA"): the
// block reaches the device with the BO_SYNC after its memcpy.
std::shared_ptr<PoolState> upload_pool(const std::shared_ptr<DeviceState>& device);

} // namespace npu::detail
