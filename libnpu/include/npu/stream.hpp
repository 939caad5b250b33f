// Stream: an in-order queue of device work.
//
// Batching: fill() and copy() only encode a packet into the stream's current
// command buffer (a read-only BO) and remember the buffers it references.
// The batch is submitted as one job (SUBMIT with the command BO plus every
// referenced buffer) when flush() or synchronize() is called, or when the
// next packet does not fit. Jobs of one stream run in submission order.
// Command buffers are recycled once their job is done; at most
// StreamOptions::max_jobs_in_flight jobs are outstanding, beyond that an
// enqueue first waits for the oldest one (its failure, if any, is reported
// by the next synchronize()).
//
// Lifetime: a Buffer must stay alive until the work referencing it has been
// submitted (flush()/synchronize()); after that the kernel holds it.
// Destroying a Stream discards work not yet submitted and does not wait.
//
// A Stream is not thread-safe; use one per thread (they may share a Device).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <initializer_list>
#include <memory>
#include <vector>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

struct StreamOptions {
    uint32_t queue_id = 0;                          // hardware queue; 0 = default
    size_t command_buffer_size = size_t{64} * 1024; // clamped to DRM_NPU_PARAM_MAX_CMD_SIZE
    size_t max_jobs_in_flight = 16;
    // Bound on waiting for an old job when the in-flight limit is reached.
    std::chrono::nanoseconds backpressure_timeout = std::chrono::seconds(60);
};

class NPU_API Stream {
public:
    explicit Stream(const Device& device, const StreamOptions& options = {});
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Writes the 32-bit pattern over [offset, offset + size) of dst; offset
    // and size must be multiples of 4.
    void fill(Buffer& dst, size_t offset, size_t size, uint32_t pattern);
    // Copies size bytes; ranges must lie inside the buffers and not overlap.
    void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t size);

    // Submits the current batch, if any. If SUBMIT fails the batch stays
    // pending (retry with flush(), or drop it with discard()).
    void flush();
    // Drops work enqueued but not yet submitted.
    void discard() noexcept;
    // Submits, then waits until every job of this stream is done. Throws
    // Error(ETIME) if the timeout passes first (the jobs stay tracked, so
    // synchronize() may be called again), else JobError for the first job
    // that failed since the last synchronize().
    void synchronize(std::chrono::nanoseconds timeout = std::chrono::seconds(60));

    // Packets encoded but not yet submitted / jobs submitted but not reaped.
    [[nodiscard]] size_t pending_bytes() const noexcept;
    [[nodiscard]] size_t jobs_in_flight() const noexcept { return in_flight_.size(); }

private:
    struct Batch {
        Buffer commands;
        size_t used = 0;
        std::vector<uint32_t> handles; // referenced buffers, without the command BO
        uint64_t seqno = 0;
    };

    void check_range(const Buffer& buffer, size_t offset, size_t size, const char* what) const;
    std::byte* reserve(size_t bytes, std::initializer_list<const Buffer*> referenced);
    Batch take_free_batch();
    // Waits for the oldest job in flight until deadline_ns; false on timeout.
    bool reap_oldest(int64_t deadline_ns);

    std::shared_ptr<detail::DeviceState> device_;
    StreamOptions options_;
    size_t capacity_ = 0;
    std::unique_ptr<Batch> current_;
    std::deque<Batch> in_flight_;
    std::vector<Batch> free_;
    std::exception_ptr first_failure_;
};

} // namespace npu
