// Internals shared by Stream, MemoryPool and Buffer: a stream's timeline
// syncobj and the pool's block bookkeeping.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/buffer.hpp"
#include "npu/pool.hpp"
#include "user_queue.hpp"

namespace npu::detail {

// The timeline syncobj a stream's jobs signal, point n = its n-th job.
// Outlives the stream while a pool block waits on it.
//
// User-mode submission (user_queue.cpp): a stream holding a user-mode
// queue writes most jobs into its ring, and those points get a fence on
// the syncobj only when something needs one (sync_point(): an event
// exported or waited for by another stream, a sleeping waiter), attached
// in increasing order; a later point's fence covers an earlier one. The
// points not known complete are always user-mode jobs first, then jobs
// submitted through SUBMIT: a batch with in-fences goes through SUBMIT
// (waiting for the user-mode jobs before it), and the stream returns to
// its user-mode queue only once such jobs are known complete.
struct UserFailure {
    uint64_t point = 0;
    uint64_t seqno = 0;
    uint32_t status = 0;
    uint32_t queue_id = 0; // the user-mode queue
    uint32_t err_offset = 0;
    uint64_t fault_addr = 0;
};

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
    // Reads the signalled point into the cache: from a user-mode queue's
    // control page (no system call), else the kernel's (one ioctl).
    void refresh();

    // User-mode queue bookkeeping; every one takes uq_mutex.
    // Reads the control page: what is done is marked complete, with the
    // statuses of its jobs read from the ring. No system call, unless the
    // queue stopped (then UQUEUE_QUERY, and its pending jobs fail).
    void poll();
    // Waits for a submitted point until deadline_ns (false on timeout):
    // polls a user-mode point for a short while, then sleeps in the kernel.
    bool wait(uint64_t point, int64_t deadline_ns);
    // A syncobj point that signals once point (submitted) is complete: for
    // user-mode work, attaches the queue's fence (UQUEUE_FENCE) on demand.
    DriverApi::SyncPoint sync_point(uint64_t point);
    // Failures of user-mode jobs up to point that poll() found.
    std::vector<UserFailure> take_user_failures(uint64_t up_to);
    // Whether the stream's next job may go to the user-mode queue (called
    // by the owning stream, with uq_mutex held).
    bool user_mode_ready_locked();
    // The in-fence a SUBMIT of this stream needs for earlier user-mode
    // jobs ({0, 0}: none); uq_mutex held.
    DriverApi::SyncPoint user_fence_locked();
    // Ends a user-mode queue that stopped: its pending jobs fail ABORTED
    // (and count as complete), the stream uses SUBMIT from now on.
    void fail_user_jobs_locked();
    void poll_locked();
    DriverApi::SyncPoint sync_point_locked(uint64_t point);

    std::shared_ptr<DeviceState> device;
    uint32_t syncobj = 0;
    std::atomic<uint64_t> submitted{0}; // last point given to a job
    std::atomic<uint64_t> completed{0}; // last point known signalled

    struct UserJob {
        uint64_t point = 0;
        uint64_t seqno = 0;
    };
    std::mutex uq_mutex;           // protects all below, and the SUBMITs of the stream
    std::unique_ptr<UserQueue> uq; // the stream's user-mode queue, if any
    bool uq_stopped = false;       // it stopped: SUBMIT only
    std::deque<UserJob> user_jobs; // written to the ring, not seen done
    uint64_t last_user_point = 0;
    uint64_t last_user_seqno = 0;
    uint64_t kernel_point = 0; // last point submitted with SUBMIT
    uint64_t attached = 0;     // last point with a fence on the syncobj
    std::vector<UserFailure> user_failures;
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
