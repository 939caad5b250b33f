// The state behind a Stream (stream.hpp explains the behaviour).
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

namespace npu::detail {

struct GraphCapture;

struct StreamImpl {
    StreamImpl(std::shared_ptr<DeviceState> device, const StreamOptions& options);
    ~StreamImpl();

    struct Batch {
        Buffer commands;
        size_t used = 0;
        std::vector<uint32_t> handles; // referenced buffers, without the command BO
        uint64_t seqno = 0;
        uint64_t point = 0;
    };
    struct Callback {
        uint64_t point = 0;   // timeline point to wait for (0: none)
        uint64_t awaited = 0; // and this point of wait_syncobj (Stream::wait), 0: none
        uint64_t gate = 0;    // value to write to the gate word afterwards
        std::function<void()> fn;
    };

    void check_alive(const char* what) const;
    void check_range(const Buffer& buffer, size_t offset, size_t size, const char* what) const;
    // Room for bytes of packets in the current batch, which references the
    // given buffers; starts a new batch (and its callback gate) as needed.
    std::byte* reserve(size_t bytes, std::initializer_list<const Buffer*> referenced);
    // The same for work addressed by pointers: the buffer objects holding
    // them (see AddressMap).
    std::byte* reserve(size_t bytes, std::span<const BoStorage* const> referenced);
    Batch take_free_batch();
    void flush();
    void discard() noexcept;
    // Waits for the oldest job in flight until deadline_ns; false on timeout.
    bool reap_oldest(int64_t deadline_ns);
    // The point that covers all work enqueued so far, submitted or not.
    uint64_t promise_point();
    void record_failure(std::exception_ptr failure);
    void rethrow_failure();

    void start_callbacks();
    void callback_loop();
    [[nodiscard]] bool callbacks_idle();

    std::shared_ptr<DeviceState> device;
    StreamOptions options;
    size_t capacity = 0;
    uint32_t queue_id = 0;
    bool dedicated = false;
    std::shared_ptr<Timeline> timeline;
    uint64_t promised = 0;

    // Stream::wait(): fences collected on a second timeline; the next job
    // waits for its latest point.
    uint32_t wait_syncobj = 0;
    uint32_t import_syncobj = 0; // binary, for sync_files of other devices
    uint64_t wait_points = 0;
    uint64_t pending_wait = 0;

    std::unique_ptr<Batch> current;
    std::deque<Batch> in_flight;
    std::vector<Batch> free;
    std::optional<MemoryPool> staging; // the device's default pool, for copy_from_host

    // Host callbacks. gate: a word the device polls (WAIT_MEM) before work
    // enqueued after a callback; gate_issued: the last value a callback will
    // write; gate_covered: the last value a submitted batch waits for.
    std::optional<Buffer> gate;
    uint64_t gate_issued = 0;
    uint64_t gate_covered = 0;
    std::thread callback_thread;

    std::mutex mutex;                // protects callbacks, stopping, failure
    std::condition_variable changed; // callbacks or stopping changed
    std::deque<Callback> callbacks;  // pending, front runs next
    bool stopping = false;
    std::exception_ptr failure; // first failure since the last synchronize

    // While capturing a graph (graph.hpp): where reserve() puts packets.
    std::shared_ptr<GraphCapture> capture;
};

} // namespace npu::detail
