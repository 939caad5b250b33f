// Stream: an in-order queue of device work, on a hardware queue.
//
// Queues: a Stream creates a driver queue (DRM_IOCTL_NPU_QUEUE_CREATE) with
// its priority. When the context has no queue left (ENOSPC) it shares the
// least used queue of the same priority that another stream of the context
// holds (jobs of streams sharing a queue run one after the other), or, for
// priority normal, the context's default queue 0; if no queue of the
// priority exists the stream is refused with Error(ENOSPC): a stream never
// silently runs at another priority. dedicated_queue() tells whether the
// stream holds a created queue (possibly shared), priority() the priority
// its work runs at (normal on a driver without queues).
//
// Ordering: jobs of one stream run in order; streams are ordered only by
// events (record/wait). With explicit_sync (the default) the stream's jobs
// opt out of the kernel's implicit ordering of jobs that share a buffer
// object (DRM_NPU_SUBMIT_EXPLICIT_SYNC), as in CUDA: two streams that use
// one buffer must be ordered with an event.
//
// Batching and submission: fill(), copy(), record() etc. encode packets
// into the stream's current command buffer (a read-only BO). When an
// enqueue returns, the batch is submitted at once if the stream's earlier
// jobs are done (the device idles for this stream); while they run, packets
// keep batching and a per-stream flusher thread submits the batch when the
// previous job completes or max_batch_delay after its first packet,
// whichever comes first. A full command buffer, flush(), synchronize(),
// query() and launch_host_func() submit at once. record() and wait() never
// submit on their own: an event refers to a timeline point that is
// submitted by the policy above (or at once when someone waits for it).
// Every job signals the next point of the stream's timeline syncobj.
// Command buffers are recycled once their job is done; at most
// max_jobs_in_flight jobs are outstanding, beyond that an enqueue first
// waits for the oldest one.
//
// Host callbacks (launch_host_func, host -> host copies): a callback thread per
// stream waits for the stream's work enqueued before the callback, runs it,
// then releases later work: the first job enqueued after a callback starts
// with a WAIT_MEM packet on a stream-owned word the callback thread writes.
// A callback therefore must finish within the driver's job timeout
// (job_timeout_ms, 2 s by default) or that later job fails with TIMEOUT;
// callbacks must not call into this stream.
//
// Errors: a failed job is reported (JobError: status, packet offset, fault
// address) by the next synchronize() or query() of the stream and by
// synchronize()/query() of every event recorded after it. With
// stop_on_error the stream stops at the first failure it sees: every later
// enqueue throws that JobError. Waits have no timeout unless one is asked
// for.
//
// Lifetime: every buffer object a batch references is kept alive by the
// stream until the job is done, so a Buffer may be destroyed right after
// enqueueing work on it (the memory is reused only once the work finished).
// Destroying a Stream discards work not yet submitted, waits for pending
// host callbacks (they run), and waits for the device work already
// submitted to a queue it holds (destroying the queue would cancel it).
//
// Thread safety: every method may be called from several threads at once;
// each call is atomic (its packets are contiguous in the stream). A Stream
// may be destroyed from any thread, but not while another thread uses it.
// A moved-from Stream throws Error(EINVAL) from every method except the
// noexcept observers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

class Event;
class MemoryPool;
namespace ops {
class Plan;
}
namespace detail {
struct StreamImpl;
struct Timeline;
struct MemoryAccess;
} // namespace detail

// Scheduling priority of a stream's queue (DRM_NPU_PRIORITY_*): the device
// serves higher priorities first. high and realtime need CAP_SYS_NICE (EPERM).
enum class Priority : uint32_t { low = 0, normal = 1, high = 2, realtime = 3 };

enum class SubmitPolicy : uint8_t { automatic, manual };

struct StreamOptions {
    Priority priority = Priority::normal;
    // false: always use the context's default queue 0 (priority normal).
    bool dedicated_queue = true;
    size_t command_buffer_size = size_t{64} * 1024; // clamped to DRM_NPU_PARAM_MAX_CMD_SIZE
    size_t max_jobs_in_flight = 16;
    // Bound on waiting for an old job when the in-flight limit is reached
    // (max: none).
    std::chrono::nanoseconds backpressure_timeout = std::chrono::nanoseconds::max();
    // automatic: the policy above. manual: enqueues only batch; work is
    // submitted by flush(), synchronize(), query(), launch_host_func(), a
    // full command buffer, or a wait for one of its events.
    SubmitPolicy submit_policy = SubmitPolicy::automatic;
    // Longest time work waits in a batch while the stream's earlier jobs
    // run (0: submit every enqueue at once).
    std::chrono::nanoseconds max_batch_delay = std::chrono::milliseconds(1);
    // Stop at the first failed job: later enqueues throw its JobError.
    bool stop_on_error = false;
    // Order only by the stream and by events (DRM_NPU_SUBMIT_EXPLICIT_SYNC);
    // false: also by the kernel's implicit sync on shared buffer objects.
    bool explicit_sync = true;
};

class NPU_API Stream {
public:
    explicit Stream(const Device& device, const StreamOptions& options = {});
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    [[nodiscard]] Device device() const;
    // Driver queue id (0 when sharing the default queue) and its priority.
    [[nodiscard]] uint32_t queue_id() const noexcept;
    [[nodiscard]] bool dedicated_queue() const noexcept;
    // Whether launches go to a user-mode queue of the stream's own
    // (docs/sdk.md, "How launches reach the device"): no system call per
    // launch. False on drivers without them, with NPU_USER_QUEUES=0, for
    // streams without dedicated_queue, and once the queue stopped.
    [[nodiscard]] bool user_mode() const noexcept;
    [[nodiscard]] Priority priority() const noexcept;

    // Writes the 32-bit pattern over [offset, offset + size) of dst; offset
    // and size must be multiples of 4.
    void fill(Buffer& dst, size_t offset, size_t size, uint32_t pattern);
    // Copies size bytes device to device; ranges must lie inside the
    // buffers and not overlap.
    void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t size);
    // Typed forms: fill every 4-byte word of dst / copy src to dst, which
    // must have as many elements (else Error(EINVAL)). Each view must lie
    // in a live buffer of this stream's device (else Error(EINVAL)).
    template <typename T>
    void fill(View<T> dst, uint32_t pattern) {
        fill_view(dst.device_addr(), dst.size_bytes(), pattern);
    }
    template <typename T>
    void copy(View<T> src, View<T> dst) {
        copy_view(src.device_addr(), src.size_bytes(), dst.device_addr(), dst.size_bytes());
    }

    // Host -> device, ordered with the stream. The host data is staged at
    // once into a block of the device's default pool (so src may be reused
    // when this returns) and copied by the device in stream order.
    void copy_from_host(Buffer& dst, size_t dst_offset, const void* src, size_t size);
    // Device -> host, ordered with the stream and synchronous for the
    // caller: the device COPYs src into a staging block, this call waits
    // until the stream reached it and copies out (as memcpy() to pageable
    // memory). Throws a JobError of the stream's work up to it.
    void copy_to_host(void* dst, const Buffer& src, size_t src_offset, size_t size);

    // Runs fn on the stream's callback thread after all work enqueued
    // before it; work enqueued after it waits for it (see above). An
    // exception thrown by fn is reported by the next synchronize().
    void launch_host_func(std::function<void()> fn);

    // Captures the work enqueued so far in event (see event.hpp), with a
    // device timestamp taken when that work is done.
    void record(Event& event);
    // Work enqueued after this call starts only after event's captured work
    // is done; event may belong to another device (its fence travels as a
    // sync_file). A never-recorded event is already complete.
    void wait(const Event& event);

    // Submits the current batch, if any. If SUBMIT fails the batch stays
    // pending (retry with flush(), or drop it with discard()).
    void flush();
    // Drops work enqueued but not yet submitted.
    void discard() noexcept;
    // Submits, then reports without blocking whether all work (and host
    // callbacks) of the stream are done. Reports failures like synchronize().
    [[nodiscard]] bool query();
    // Submits, then waits until every job and host callback of this stream
    // is done. Throws Error(ETIME) if the timeout passes first (the work
    // stays tracked, so synchronize() may be called again), else JobError
    // for the first job that failed since the last synchronize(), or the
    // first exception a host callback threw. No timeout by default.
    void synchronize(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());

    // The first failed job this stream has seen (reaped or reported to an
    // event), if any; kept after synchronize() reported it.
    [[nodiscard]] std::optional<JobFailure> error() const;
    // Whether a stop_on_error stream stopped.
    [[nodiscard]] bool stopped() const;

    // Packets encoded but not yet submitted / jobs submitted but not reaped.
    [[nodiscard]] size_t pending_bytes() const noexcept;
    [[nodiscard]] size_t jobs_in_flight() const noexcept;

    // Pointer memory operations (memory.hpp), in stream order. Any
    // address works: device memory of this or another device (bound into
    // this device's address space on first use), host pinned or registered
    // memory (one device COPY), or pageable host memory (staged through
    // pinned memory: src is read at once for pageable host -> device; a
    // device -> pageable host copy is synchronous: the device COPYs into a
    // staging block, the call waits until the stream reached it, copies
    // out on the calling thread and throws a JobError of the stream's work
    // up to it; no host callback). Ranges must not overlap; EINVAL for ranges
    // crossing the end of an allocation. Implemented in stream_memory.cpp.
    void memcpy(void* dst, const void* src, size_t bytes);
    // Sets bytes bytes at dst to (unsigned char)value; any alignment.
    void memset(void* dst, int value, size_t bytes);
    // Sets count 32-bit words at dst (4-byte aligned) to value.
    void memset32(void* dst, uint32_t value, size_t count);
    // height rows of width bytes, rows dst_pitch / src_pitch bytes apart.
    void memcpy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                   size_t height);

private:
    friend class MemoryPool;
    friend struct detail::StreamImpl;
    friend class ops::Plan;
    friend struct detail::MemoryAccess;
    // The View forms (view.cpp): device address ranges resolved to buffers.
    void fill_view(uint64_t dst, size_t bytes, uint32_t pattern);
    void copy_view(uint64_t src, size_t src_bytes, uint64_t dst, size_t dst_bytes);
    friend class Graph;
    friend class GraphExec;
    std::unique_ptr<detail::StreamImpl> impl_;
};

} // namespace npu
