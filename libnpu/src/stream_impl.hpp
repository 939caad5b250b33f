// The state behind a Stream (stream.hpp explains the behaviour).
//
// Locking: `mutex` protects the submission state (batches, waits, gate
// counters, staging); every Stream method holds it for the whole call, so
// calls from several threads are atomic with respect to each other. Code
// that encodes packets (ops, graphs) takes it with lock() around reserve()
// and the writes into the returned memory, then calls enqueued() before
// unlocking (the Enqueue guard does both). `callback_mutex` protects the
// host-callback queue and the failures, and is never held while taking
// `mutex`. Lock order: StreamTrack::owner_mutex_, then mutex, then
// callback_mutex.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/buffer.hpp"
#include "npu/pool.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"
#include "stream_track.hpp"

namespace npu::detail {

struct GraphCapture;

struct StreamImpl {
    StreamImpl(std::shared_ptr<DeviceState> device, const StreamOptions& options);
    ~StreamImpl();

    // The impl of a stream; Error(EINVAL) for a moved-from one.
    static StreamImpl& of(const Stream& stream);

    struct Batch {
        Buffer commands;
        size_t used = 0;
        // Every buffer object the packets reach, kept alive until the job
        // is done (the command BO is `commands`).
        std::vector<std::shared_ptr<const BoStorage>> bos;
        std::vector<DriverApi::SyncPoint> waits; // in-fences (Stream::wait)
        int64_t started_ns = 0;                  // first packet, for the delay bound
        uint64_t seqno = 0;
        uint64_t point = 0;
    };
    struct Callback {
        uint64_t point = 0; // timeline point to wait for (0: none)
        uint64_t gate = 0;  // value to write to the gate word afterwards
        std::function<void()> fn;
    };

    [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex); }
    // Holds the stream's mutex for one enqueue and applies the submission
    // policy when done.
    class Enqueue {
    public:
        explicit Enqueue(StreamImpl& stream) : stream_(stream), lock_(stream.mutex) {}
        ~Enqueue() { stream_.enqueued(); }
        Enqueue(const Enqueue&) = delete;
        Enqueue& operator=(const Enqueue&) = delete;

    private:
        StreamImpl& stream_;
        std::unique_lock<std::mutex> lock_;
    };

    // All below: with `mutex` held.
    void check_alive(const char* what) const;
    void check_range(const Buffer& buffer, size_t offset, size_t size, const char* what) const;
    // Room for bytes of packets in the current batch, which references the
    // given buffers; starts a new batch (and its callback gate) as needed.
    std::byte* reserve(size_t bytes, std::initializer_list<const Buffer*> referenced);
    // The same for work addressed by pointers: the buffer objects holding
    // them (see AddressMap).
    std::byte* reserve(size_t bytes, std::span<const BoStorage* const> referenced);
    // The submission policy after an enqueue: submit at once if the
    // stream's earlier work is done, else leave it to the flusher thread
    // (submits when that work completes, or max_batch_delay after the
    // batch's first packet). Never throws: a failed submit is reported by
    // the next synchronize.
    void enqueued() noexcept;
    Batch take_free_batch();
    // Submits every sealed batch and the current one.
    void flush();
    void submit(Batch& batch);
    // Ends the current batch: later work goes to a new one.
    void seal();
    void discard() noexcept;
    // Waits for timeline point until deadline_ns, reads the statuses of
    // the jobs up to it and recycles their batches; false on timeout.
    bool reap(uint64_t point, int64_t deadline_ns);
    void recycle() noexcept;
    // The point that covers all work enqueued so far, submitted or not.
    uint64_t promise_point();
    [[nodiscard]] bool has_pending() const noexcept {
        return !sealed.empty() || (current && (current->used || !current->waits.empty()));
    }
    // Pending packets (waits alone wait for the next work or a flush).
    [[nodiscard]] bool has_work() const noexcept {
        return !sealed.empty() || (current && current->used);
    }
    void record_failure(std::exception_ptr failure);
    // Throws the first failure since the last call (job or callback).
    void rethrow_failure();
    // Throws the sticky failure of a stop_on_error stream.
    void check_stopped();
    std::exception_ptr job_failure(const StreamTrack::Failure& failure) const;

    void start_callbacks();
    void callback_loop();
    [[nodiscard]] bool callbacks_idle();
    void start_flusher();
    void flusher_loop();

    std::shared_ptr<DeviceState> device;
    StreamOptions options;
    size_t capacity = 0;
    uint32_t queue_id = 0;
    bool dedicated = false; // queue_id is a queue this stream holds (maybe shared)
    std::shared_ptr<Timeline> timeline;
    std::shared_ptr<StreamTrack> track;
    uint64_t promised = 0;
    uint64_t reported = 0; // job failures up to this point were reported

    uint32_t wait_syncobj = 0;   // timeline: fences folded in for Stream::wait
    uint32_t import_syncobj = 0; // binary, for sync_files of other devices
    uint64_t wait_points = 0;

    std::mutex mutex; // see above
    std::unique_ptr<Batch> current;
    std::deque<Batch> sealed; // complete, not yet submitted, in order
    std::deque<Batch> in_flight;
    std::vector<Batch> free;
    std::optional<MemoryPool> staging; // the device's default pool: device -> host staging
    std::shared_ptr<PoolState> upload; // upload_pool(): host -> device staging
    std::exception_ptr stopped;        // stop_on_error: the failure that stopped it

    // Host callbacks. gate: a word the device polls (WAIT_MEM) before work
    // enqueued after a callback; gate_issued: the last value a callback will
    // write; gate_covered: the last value a submitted batch waits for.
    std::optional<Buffer> gate;
    uint64_t gate_issued = 0;
    uint64_t gate_covered = 0;
    std::thread callback_thread;
    std::thread flusher_thread;
    std::condition_variable flusher_wake; // with mutex: pending work or stopping
    bool flusher_stopping = false;        // under mutex

    std::mutex callback_mutex;       // protects callbacks, stopping, failure
    std::condition_variable changed; // callbacks or stopping changed
    std::deque<Callback> callbacks;  // pending, front runs next
    bool stopping = false;
    std::exception_ptr failure; // first failure since the last synchronize

    // While capturing a graph (graph.hpp): where reserve() puts packets.
    std::shared_ptr<GraphCapture> capture;
};

// Queues fn as a host function after the stream's work so far (the
// stream's mutex held); launch_host_func() and the host-memory copies.
void launch_host_locked(StreamImpl& s, std::function<void()> fn);

} // namespace npu::detail
