#include "npu/stream.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <npu/uapi/drm/npu_packet.h>

#include "event_state.hpp"
#include "graph_state.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "stream_impl.hpp"
#include "time.hpp"

namespace npu {

namespace detail {

namespace {

template <typename Packet>
void encode(std::byte* where, const Packet& packet) {
    static_assert(sizeof(Packet) % 8 == 0, "packets are multiples of 8 bytes");
    std::memcpy(where, &packet, sizeof(packet));
}

// The gate is a word only the CPU (the callback thread) writes: reading it
// needs no sync from the device. The job that WAIT_MEMs on it sees a write
// once it is synced to the device (publish_gate), which under bounce buffers
// is the only way a running job sees it.
uint64_t load_gate(const Buffer& gate) {
    return std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(gate.host_ptr()))
        .load(std::memory_order_acquire);
}

bool no_queue_support(int errnum) {
    // ENOTTY/EINVAL: a driver without DRM_IOCTL_NPU_QUEUE_CREATE.
    return errnum == ENOTTY || errnum == EINVAL;
}

constexpr size_t kMaxFailures = 64;
// In-fences a batch takes before further waits are folded into one.
constexpr size_t kMaxBatchWaits = 32;

// A queue for a stream of this priority: a new one while the context has
// queues left, else the least used one of the same priority (queue 0 for
// normal). {id, holds a created queue}.
std::pair<uint32_t, bool> acquire_queue(DeviceState& device, Priority priority) {
    const auto level = static_cast<uint32_t>(priority);
    std::lock_guard lock(device.queue_mutex);
    try {
        const uint32_t id = device.api.queue_create(level);
        device.queues.push_back({id, level, 1});
        return {id, true};
    } catch (const Error& e) {
        if (no_queue_support(e.errnum()))
            return {0, false};
        if (e.errnum() != ENOSPC)
            throw;
    }
    DeviceState::Queue* best = nullptr;
    for (auto& queue : device.queues)
        if (queue.priority == level && (!best || queue.users < best->users))
            best = &queue;
    if (best) {
        ++best->users;
        return {best->id, true};
    }
    if (priority == Priority::normal)
        return {0, false};
    throw Error(ENOSPC, "create stream: the context has no queue left and none of priority " +
                            std::to_string(level) + " to share");
}

// Drops a stream's use of a queue; true if it was the last user (the
// caller destroys it).
bool release_queue(DeviceState& device, uint32_t id) noexcept {
    std::lock_guard lock(device.queue_mutex);
    auto it = std::find_if(device.queues.begin(), device.queues.end(),
                           [id](const DeviceState::Queue& q) { return q.id == id; });
    if (it == device.queues.end())
        return false;
    if (--it->users)
        return false;
    device.queues.erase(it);
    return true;
}

} // namespace

void StreamTrack::add_job(uint64_t point, uint32_t queue_id, uint64_t seqno) {
    std::lock_guard lock(mutex_);
    jobs_.push_back({point, queue_id, seqno});
}

void StreamTrack::collect(uint64_t point) {
    // User-mode jobs: their statuses came from the ring's write-backs.
    const auto user = timeline->take_user_failures(point);
    std::lock_guard lock(mutex_);
    for (const UserFailure& f : user) {
        if (failures_.size() >= kMaxFailures)
            break;
        const auto at = std::find_if(failures_.begin(), failures_.end(),
                                     [&f](const Failure& held) { return held.point > f.point; });
        failures_.insert(at, {f.point, f.status, f.seqno, f.queue_id, f.err_offset, f.fault_addr});
    }
    while (!jobs_.empty() && jobs_.front().point <= point) {
        const Job job = jobs_.front();
        std::optional<drm_npu_wait> result;
        try {
            result = device->api.wait(job.queue_id, job.seqno, 0);
        } catch (const Error& e) {
            // ENOENT: the queue is gone with its stream (which read the
            // statuses it could); anything else: leave it for later.
            if (e.errnum() != ENOENT)
                throw;
        }
        jobs_.pop_front();
        // EXPIRED: done, status forgotten (far more jobs on the queue since).
        if (result && result->job_status != DRM_NPU_JOB_STATUS_OK &&
            result->job_status != DRM_NPU_JOB_STATUS_EXPIRED && failures_.size() < kMaxFailures)
            failures_.push_back({job.point, result->job_status, job.seqno, job.queue_id,
                                 result->err_offset, result->fault_addr});
    }
}

std::optional<bool> StreamTrack::wait_job(uint64_t point, int64_t deadline_ns) {
    Job job{};
    {
        std::lock_guard lock(mutex_);
        if (jobs_.empty() || jobs_.front().point != point)
            return std::nullopt;
        job = jobs_.front();
    }
    std::optional<drm_npu_wait> result;
    try {
        result = device->api.wait(job.queue_id, job.seqno, deadline_ns);
    } catch (const Error& e) {
        if (e.errnum() == ENOENT || e.errnum() == EINVAL)
            return std::nullopt;
        throw;
    }
    if (!result)
        return false;
    std::lock_guard lock(mutex_);
    if (!jobs_.empty() && jobs_.front().point == job.point && jobs_.front().seqno == job.seqno) {
        jobs_.pop_front();
        if (result->job_status != DRM_NPU_JOB_STATUS_OK &&
            result->job_status != DRM_NPU_JOB_STATUS_EXPIRED && failures_.size() < kMaxFailures)
            failures_.push_back({job.point, result->job_status, job.seqno, job.queue_id,
                                 result->err_offset, result->fault_addr});
    }
    return true;
}

std::optional<StreamTrack::Failure> StreamTrack::first_failure(uint64_t after, uint64_t up_to) {
    std::lock_guard lock(mutex_);
    for (const Failure& f : failures_)
        if (f.point > after && f.point <= up_to)
            return f;
    return std::nullopt;
}

void StreamTrack::ensure_submitted(uint64_t point) {
    if (timeline->submitted.load() >= point)
        return;
    std::lock_guard owner_lock(owner_mutex_);
    if (!owner_)
        return; // the stream is gone: it signalled what it promised
    std::lock_guard lock(owner_->mutex);
    if (timeline->submitted.load() < point)
        owner_->flush();
}

void StreamTrack::set_owner(StreamImpl* stream) {
    std::lock_guard lock(owner_mutex_);
    owner_ = stream;
}

StreamImpl& StreamImpl::of(const Stream& stream) {
    if (!stream.impl_)
        throw Error(EINVAL, "stream was moved from");
    return *stream.impl_;
}

StreamImpl::StreamImpl(std::shared_ptr<DeviceState> device_state,
                       const StreamOptions& stream_options)
    : device(std::move(device_state)), options(stream_options) {
    const uint64_t max_cmd = device->api.get_param(DRM_NPU_PARAM_MAX_CMD_SIZE);
    capacity = std::min<uint64_t>(options.command_buffer_size, max_cmd) & ~size_t{7};
    if (capacity < sizeof(npu_pkt_copy))
        throw Error(EINVAL, "create stream: command buffer of " + std::to_string(capacity) +
                                " bytes is too small");
    options.max_jobs_in_flight = std::max<size_t>(options.max_jobs_in_flight, 1);
    options.max_batch_delay = std::max(options.max_batch_delay, std::chrono::nanoseconds(0));
    if (options.priority > Priority::realtime)
        throw Error(EINVAL, "create stream: unknown priority");
    timeline = std::make_shared<Timeline>(device);
    track = std::make_shared<StreamTrack>(device, timeline);
    if (options.dedicated_queue) {
        std::tie(queue_id, dedicated) = acquire_queue(*device, options.priority);
        if (!dedicated && queue_id == 0)
            options.priority = Priority::normal;
    } else {
        options.priority = Priority::normal;
    }
    // User-mode submission where available (user_queue.hpp), for streams
    // that may have a queue of their own.
    if (options.dedicated_queue && user_queues_enabled()) {
        auto uq = UserQueue::create(device->api, static_cast<uint32_t>(options.priority));
        std::lock_guard lock(timeline->uq_mutex);
        timeline->uq = std::move(uq);
    }
    track->set_owner(this);
}

StreamImpl::~StreamImpl() {
    track->set_owner(nullptr); // events stop asking this stream to flush
    {
        std::lock_guard lock(mutex);
        flusher_stopping = true;
    }
    flusher_wake.notify_all();
    if (flusher_thread.joinable())
        flusher_thread.join();
    discard();
    {
        std::lock_guard lock(callback_mutex);
        stopping = true;
    }
    changed.notify_all();
    if (callback_thread.joinable())
        callback_thread.join();
    const DriverApi& api = device->api;
    try {
        // Pool blocks and events wait for `promised`; work that would have
        // reached it was discarded, so signal it from the host. Only once
        // the submitted work is done if some of it has no fence yet
        // (user-mode jobs): the host's point would cover them.
        auto signal_promised = [&] {
            std::lock_guard lock(timeline->uq_mutex);
            const uint64_t last = timeline->submitted.load();
            if (promised > last && promised > timeline->attached) {
                api.syncobj_signal({timeline->syncobj, promised});
                timeline->attached = promised;
            }
        };
        bool unattached = false;
        {
            std::lock_guard lock(timeline->uq_mutex);
            unattached = timeline->attached < timeline->submitted.load();
        }
        if (!unattached)
            signal_promised();
        if (dedicated || timeline->uq) {
            // QUEUE_DESTROY and UQUEUE_DESTROY cancel the queue's jobs
            // still on the device: let the work already submitted finish
            // first (a job that hangs ends at the driver's job timeout).
            const uint64_t last = timeline->submitted.load();
            while (last && !api.lost() &&
                   !timeline->wait(last, deadline_after(std::chrono::milliseconds(100)))) {
            }
            if (last)
                track->collect(last); // the statuses, before the queue goes
            {
                std::lock_guard lock(timeline->uq_mutex);
                timeline->uq.reset();
                // Events and pools may still wait on these points.
                if (last > timeline->attached) {
                    api.syncobj_signal({timeline->syncobj, last});
                    timeline->attached = last;
                }
            }
            if (dedicated && release_queue(*device, queue_id))
                api.queue_destroy(queue_id);
        }
        if (unattached)
            signal_promised();
    } catch (const Error&) { // device lost: nothing left to release
    }
    if (wait_syncobj)
        api.syncobj_destroy(wait_syncobj);
    if (import_syncobj)
        api.syncobj_destroy(import_syncobj);
}

void StreamImpl::check_alive(const char* what) const {
    if (device->api.lost())
        throw Error(ENODEV, std::string(what) + " (device lost)");
}

void StreamImpl::check_range(const Buffer& buffer, size_t offset, size_t size,
                             const char* what) const {
    if (!buffer.device_)
        throw Error(EINVAL, std::string(what) + ": buffer was moved from");
    if (buffer.device_ != device)
        throw Error(EINVAL, std::string(what) + ": buffer belongs to another device");
    if (offset > buffer.size() || size > buffer.size() - offset)
        throw Error(EINVAL, std::string(what) + ": range [" + std::to_string(offset) + ", +" +
                                std::to_string(size) + ") exceeds the buffer's " +
                                std::to_string(buffer.size()) + " bytes");
}

std::byte* StreamImpl::reserve(size_t bytes, std::initializer_list<const Buffer*> referenced) {
    std::array<const BoStorage*, 4> bos{};
    if (referenced.size() > bos.size())
        throw Error(EINVAL, "stream enqueue: too many buffers for one packet");
    size_t count = 0;
    for (const Buffer* buffer : referenced)
        bos[count++] = buffer->bo_.get();
    return reserve(bytes, std::span<const BoStorage* const>(bos.data(), count));
}

std::byte* StreamImpl::reserve(size_t bytes, std::span<const BoStorage* const> referenced) {
    check_alive("stream enqueue");
    if (capture)
        return capture_reserve(*capture, bytes, referenced);
    check_stopped();
    if (bytes > capacity)
        throw Error(EINVAL, "stream enqueue: " + std::to_string(bytes) +
                                " bytes of packets exceed the command buffer");
    // One slot of the BO list is the command buffer.
    constexpr size_t max_bos = DRM_NPU_MAX_SUBMIT_BOS - 1;
    if (current &&
        (current->used + bytes > capacity || current->bos.size() + referenced.size() > max_bos))
        flush();
    if (!current)
        current = std::make_unique<Batch>(take_free_batch());
    if (current->used == 0 && gate_issued > gate_covered) {
        // Work after a host callback: hold it on the device until the
        // callback thread writes the gate, unless that already happened.
        if (load_gate(*gate) != gate_issued) {
            npu_pkt_wait_mem packet{};
            packet.header = NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS);
            packet.addr = gate->device_addr();
            packet.value = gate_issued;
            encode(static_cast<std::byte*>(current->commands.host_ptr()), packet);
            current->used = sizeof(packet);
            current->bos.push_back(gate->bo_);
            current->started_ns = monotonic_now_ns();
        }
        gate_covered = gate_issued;
        if (current->used + bytes > capacity) // the gate goes in a job of its own
            flush();
        if (!current)
            current = std::make_unique<Batch>(take_free_batch());
    }
    Batch& batch = *current;
    for (const BoStorage* bo : referenced) {
        if (!bo)
            throw Error(EINVAL, "stream enqueue: buffer was moved from");
        if (std::none_of(batch.bos.begin(), batch.bos.end(),
                         [bo](const auto& held) { return held.get() == bo; }))
            batch.bos.push_back(bo->shared_from_this());
    }
    if (batch.used == 0)
        batch.started_ns = monotonic_now_ns();
    std::byte* where = static_cast<std::byte*>(batch.commands.host_ptr()) + batch.used;
    batch.used += bytes;
    return where;
}

void StreamImpl::enqueued() noexcept {
    if (options.submit_policy == SubmitPolicy::manual || !has_work())
        return;
    try {
        recycle();
        const uint64_t last = timeline->submitted.load();
        if (options.max_batch_delay.count() == 0 || in_flight.empty() ||
            timeline->known_complete(last)) {
            flush();
            return;
        }
        start_flusher();
        flusher_wake.notify_all();
    } catch (...) {
        record_failure(std::current_exception());
    }
}

StreamImpl::Batch StreamImpl::take_free_batch() {
    recycle();
    if (free.empty() && in_flight.size() >= options.max_jobs_in_flight) {
        if (!reap(in_flight.front().point, deadline_after(options.backpressure_timeout)))
            throw Error(ETIME, "stream: waiting for a free command buffer");
    }
    if (!free.empty()) {
        Batch batch = std::move(free.back());
        free.pop_back();
        return batch;
    }
    Device handle = Device::open_state(device);
    return Batch{Buffer(handle, capacity, BufferFlags::device_read_only), 0, {}, {}, 0, 0, 0};
}

void StreamImpl::seal() {
    if (current && current->used) {
        sealed.push_back(std::move(*current));
        current.reset();
    }
}

void StreamImpl::submit(Batch& batch) {
    if (batch.used == 0) { // only in-fences: a NOP job carries them
        npu_pkt_nop packet{};
        packet.header = NPU_PKT_HEADER(NPU_OP_NOP, NPU_PKT_NOP_DWORDS);
        encode(static_cast<std::byte*>(batch.commands.host_ptr()), packet);
        batch.used = sizeof(packet);
    }
    const uint64_t point = timeline->submitted.load() + 1;
    // The timeline's lock orders SUBMIT's point after fences attached for
    // user-mode jobs (pool_state.hpp).
    std::unique_lock uq_lock(timeline->uq_mutex);
    if (batch.waits.empty() && timeline->user_mode_ready_locked()) {
        // User-mode submission: a descriptor, the tail, the doorbell. The
        // batch's buffer objects stay alive until the job is seen done
        // (recycle()): the kernel does not know them.
        UserQueue& uq = *timeline->uq;
        while (!uq.has_room()) { // the job that used the slot must be done
            timeline->poll_locked();
            if (uq.has_room() || timeline->user_jobs.empty())
                break;
            const uint64_t oldest = timeline->user_jobs.front().point;
            uq_lock.unlock();
            if (!timeline->wait(oldest, deadline_after(options.backpressure_timeout)))
                throw Error(ETIME, "stream: waiting for a free slot in the user-mode queue");
            uq_lock.lock();
        }
        if (!timeline->uq_stopped && uq.has_room()) {
            batch.seqno = uq.push(batch.commands.device_addr(), static_cast<uint32_t>(batch.used));
            batch.point = point;
            timeline->user_jobs.push_back({point, batch.seqno});
            timeline->last_user_point = point;
            timeline->last_user_seqno = batch.seqno;
            timeline->submitted.store(point);
            return;
        }
    }
    std::vector<uint32_t> handles;
    handles.reserve(batch.bos.size() + 1);
    handles.push_back(batch.commands.handle());
    for (const auto& bo : batch.bos)
        handles.push_back(bo->handle);
    // After this stream's user-mode jobs not known done.
    std::vector<DriverApi::SyncPoint> waits = batch.waits;
    if (const auto user = timeline->user_fence_locked(); user.syncobj)
        waits.push_back(user);
    DriverApi::Submit args;
    args.bo_handles = handles;
    args.cmd_addr = batch.commands.device_addr();
    args.cmd_size = static_cast<uint32_t>(batch.used);
    args.queue_id = queue_id;
    args.wait_for = waits;
    args.signal = {timeline->syncobj, point};
    const bool explicit_sync = options.explicit_sync && device->explicit_sync.load();
    if (explicit_sync)
        args.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
    try {
        batch.seqno = device->api.submit(args);
    } catch (const Error& e) {
        if (!explicit_sync || e.errnum() != EINVAL)
            throw;
        // A driver without the flag: implicit sync it is, from now on.
        args.flags = 0;
        batch.seqno = device->api.submit(args);
        device->explicit_sync.store(false);
    }
    batch.point = point;
    timeline->kernel_point = point;
    timeline->attached = point;
    timeline->submitted.store(point);
    track->add_job(point, queue_id, batch.seqno);
}

void StreamImpl::flush() {
    // On failure the batch stays where it is: nothing of it was submitted.
    while (!sealed.empty()) {
        submit(sealed.front());
        in_flight.push_back(std::move(sealed.front()));
        sealed.pop_front();
    }
    if (current && (current->used || !current->waits.empty())) {
        submit(*current);
        in_flight.push_back(std::move(*current));
        current.reset();
    }
}

void StreamImpl::discard() noexcept {
    auto drop = [this](Batch& batch) {
        batch.used = 0;
        batch.bos.clear();
        batch.waits.clear();
        free.push_back(std::move(batch));
    };
    for (Batch& batch : sealed)
        drop(batch);
    sealed.clear();
    if (current)
        drop(*current);
    current.reset();
}

uint64_t StreamImpl::promise_point() {
    uint64_t point = timeline->submitted.load() + sealed.size();
    if (current && (current->used || !current->waits.empty()))
        ++point;
    promised = std::max(promised, point);
    return point;
}

void StreamImpl::recycle() noexcept {
    try {
        timeline->poll(); // user-mode jobs: the control page
    } catch (...) {       // the queue's state unreadable (device lost)
    }
    while (!in_flight.empty() && timeline->known_complete(in_flight.front().point)) {
        Batch done = std::move(in_flight.front());
        in_flight.pop_front();
        done.used = 0;
        done.bos.clear(); // the job is done: its buffer objects may go
        done.waits.clear();
        free.push_back(std::move(done));
    }
}

bool StreamImpl::reap(uint64_t point, int64_t deadline_ns) {
    if (point && !timeline->wait(point, deadline_ns))
        return false;
    if (point)
        track->collect(point);
    if (options.stop_on_error && !stopped)
        if (auto f = track->first_failure(0, point))
            stopped = job_failure(*f);
    recycle();
    return true;
}

std::exception_ptr StreamImpl::job_failure(const StreamTrack::Failure& f) const {
    return std::make_exception_ptr(JobError(f.status, f.seqno, f.err_offset, f.fault_addr));
}

void StreamImpl::record_failure(std::exception_ptr error) {
    std::lock_guard lock(callback_mutex);
    if (!failure)
        failure = std::move(error);
}

void StreamImpl::rethrow_failure() {
    // Job failures first: they happened in stream order before anything a
    // later callback did.
    const uint64_t upto = timeline->submitted.load();
    const auto job = track->first_failure(reported, upto);
    reported = upto;
    std::exception_ptr error;
    {
        std::lock_guard lock(callback_mutex);
        error = std::exchange(failure, nullptr);
    }
    if (job)
        std::rethrow_exception(job_failure(*job));
    if (error)
        std::rethrow_exception(error);
}

void StreamImpl::check_stopped() {
    if (!options.stop_on_error)
        return;
    if (!stopped) {
        // Failures events or the flusher found since.
        recycle();
        if (auto f = track->first_failure(0, timeline->completed.load()))
            stopped = job_failure(*f);
    }
    if (stopped)
        std::rethrow_exception(stopped);
}

void StreamImpl::start_flusher() {
    if (!flusher_thread.joinable())
        flusher_thread = std::thread([this] { flusher_loop(); });
}

void StreamImpl::flusher_loop() {
    std::unique_lock lock(mutex);
    for (;;) {
        flusher_wake.wait(lock, [this] { return flusher_stopping || has_work(); });
        if (flusher_stopping)
            return;
        const uint64_t last = timeline->submitted.load();
        int64_t deadline = std::numeric_limits<int64_t>::max();
        const Batch* first = !sealed.empty() ? &sealed.front() : current.get();
        if (first && first->used)
            deadline = first->started_ns +
                       std::min<int64_t>(options.max_batch_delay.count(),
                                         std::numeric_limits<int64_t>::max() - first->started_ns);
        bool done = last == 0 || timeline->known_complete(last);
        if (!done) {
            lock.unlock();
            try {
                // Short slices: stays responsive to the stream going away.
                const int64_t slice =
                    std::min(deadline, deadline_after(std::chrono::milliseconds(50)));
                done = timeline->wait(last, slice);
            } catch (...) {
                record_failure(std::current_exception());
                lock.lock();
                flusher_wake.wait(lock); // until the next enqueue or the end
                continue;
            }
            lock.lock();
            if (flusher_stopping)
                return;
        }
        if (!done && monotonic_now_ns() < deadline)
            continue;
        try {
            recycle();
            flush();
        } catch (...) {
            record_failure(std::current_exception());
            flusher_wake.wait(lock); // a failed submit: retried by the next enqueue
        }
    }
}

void StreamImpl::start_callbacks() {
    if (!gate) {
        // Device-read-only: the driver never syncs it back from the device
        // (docs/driver.md, "DMA"), which could put an older value over one
        // the callback thread just stored and not yet synced to the device.
        gate.emplace(Device::open_state(device), sizeof(uint64_t), BufferFlags::device_read_only,
                     BufferKind::host_visible);
        std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(gate->host_ptr()))
            .store(0, std::memory_order_release);
    }
    if (!callback_thread.joinable())
        callback_thread = std::thread([this] { callback_loop(); });
}

void StreamImpl::callback_loop() {
    for (;;) {
        Callback next;
        {
            std::unique_lock lock(callback_mutex);
            changed.wait(lock, [this] { return !callbacks.empty() || stopping; });
            if (callbacks.empty())
                return;
            next = callbacks.front();
        }
        bool run = true;
        try {
            if (next.point) {
                while (
                    !timeline->wait(next.point, deadline_after(std::chrono::milliseconds(100)))) {
                }
            }
        } catch (...) { // device lost: report, and touch no mapping
            record_failure(std::current_exception());
            run = false;
        }
        if (run) {
            try {
                next.fn();
            } catch (...) {
                record_failure(std::current_exception());
            }
            std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(gate->host_ptr()))
                .store(next.gate, std::memory_order_release);
            try { // a job may already WAIT_MEM on the gate
                device->api.bo_sync(gate->handle(), DRM_NPU_BO_SYNC_TO_DEVICE, 0, sizeof(uint64_t));
            } catch (...) {
                record_failure(std::current_exception());
            }
        }
        {
            std::lock_guard lock(callback_mutex);
            callbacks.pop_front();
        }
        changed.notify_all();
    }
}

bool StreamImpl::callbacks_idle() {
    std::lock_guard lock(callback_mutex);
    return callbacks.empty();
}

void launch_host_locked(StreamImpl& s, std::function<void()> fn) {
    s.check_alive("launch_host_func");
    s.check_stopped();
    s.flush();
    s.start_callbacks();
    {
        std::lock_guard lock(s.callback_mutex);
        s.callbacks.push_back({s.timeline->submitted.load(), ++s.gate_issued, std::move(fn)});
    }
    s.changed.notify_all();
}

} // namespace detail

using detail::StreamImpl;

Stream::Stream(const Device& device, const StreamOptions& options)
    : impl_(std::make_unique<detail::StreamImpl>(device.state_, options)) {}

Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

Device Stream::device() const {
    return Device::open_state(StreamImpl::of(*this).device);
}

uint32_t Stream::queue_id() const noexcept {
    return impl_ ? impl_->queue_id : 0;
}

bool Stream::dedicated_queue() const noexcept {
    return impl_ && impl_->dedicated;
}

bool Stream::user_mode() const noexcept {
    if (!impl_)
        return false;
    std::lock_guard lock(impl_->timeline->uq_mutex);
    return impl_->timeline->uq && !impl_->timeline->uq_stopped;
}

Priority Stream::priority() const noexcept {
    return impl_ ? impl_->options.priority : Priority::normal;
}

size_t Stream::pending_bytes() const noexcept {
    if (!impl_)
        return 0;
    std::lock_guard lock(impl_->mutex);
    size_t bytes = impl_->current ? impl_->current->used : 0;
    for (const auto& batch : impl_->sealed)
        bytes += batch.used;
    return bytes;
}

size_t Stream::jobs_in_flight() const noexcept {
    if (!impl_)
        return 0;
    std::lock_guard lock(impl_->mutex);
    impl_->recycle();
    return impl_->in_flight.size();
}

namespace {

void fill_locked(StreamImpl& s, Buffer& dst, size_t offset, size_t size, uint32_t pattern) {
    s.check_range(dst, offset, size, "fill");
    if (offset % 4 != 0 || size % 4 != 0 || dst.device_addr() % 4 != 0)
        throw Error(EINVAL, "fill: offset and size must be multiples of 4");
    if (size == 0)
        return;
    npu_pkt_fill packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS);
    packet.value = pattern;
    packet.dst = dst.device_addr() + offset;
    packet.size = size;
    detail::encode(s.reserve(sizeof(packet), {&dst}), packet);
}

void copy_locked(StreamImpl& s, const Buffer& src, size_t src_offset, Buffer& dst,
                 size_t dst_offset, size_t size) {
    s.check_range(src, src_offset, size, "copy source");
    s.check_range(dst, dst_offset, size, "copy destination");
    const uint64_t src_addr = src.device_addr() + src_offset;
    const uint64_t dst_addr = dst.device_addr() + dst_offset;
    if (src.handle() == dst.handle() && size != 0 && src_addr < dst_addr + size &&
        dst_addr < src_addr + size)
        throw Error(EINVAL, "copy: source and destination overlap");
    if (size == 0)
        return;
    npu_pkt_copy packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS);
    packet.src = src_addr;
    packet.dst = dst_addr;
    packet.size = size;
    detail::encode(s.reserve(sizeof(packet), {&src, &dst}), packet);
}

} // namespace

void Stream::fill(Buffer& dst, size_t offset, size_t size, uint32_t pattern) {
    StreamImpl& s = StreamImpl::of(*this);
    StreamImpl::Enqueue guard(s);
    fill_locked(s, dst, offset, size, pattern);
}

void Stream::copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset,
                  size_t size) {
    StreamImpl& s = StreamImpl::of(*this);
    StreamImpl::Enqueue guard(s);
    copy_locked(s, src, src_offset, dst, dst_offset, size);
}

void Stream::copy_from_host(Buffer& dst, size_t dst_offset, const void* src, size_t size) {
    StreamImpl& s = StreamImpl::of(*this);
    StreamImpl::Enqueue guard(s);
    detail::capture_reject(s, "copy_from_host");
    s.check_range(dst, dst_offset, size, "copy_from_host");
    if (size == 0)
        return;
    if (!src)
        throw Error(EINVAL, "copy_from_host: null source");
    s.check_alive("copy_from_host");
    s.check_stopped();
    if (!s.upload)
        s.upload = detail::upload_pool(s.device);
    const auto& pool = s.upload;
    // An idle block: the host writes it now, not in stream order.
    Buffer stage = pool->allocate(size, nullptr, pool);
    std::memcpy(stage.host_ptr(), src, size);
    // Jobs of other streams may be running on the block's chunk (explicit
    // sync does not wait for them), so the job that copies it will not
    // sync the chunk for the device: hand the block over now (only a
    // bounce buffer copy; on coherent DMA just the ioctl).
    s.device->api.bo_sync(stage.handle(), DRM_NPU_BO_SYNC_TO_DEVICE, stage.offset_, size);
    copy_locked(s, stage, 0, dst, dst_offset, size);
    pool->release_block(stage.bo_.get(), stage.offset_, stage.allocated_size_, s.timeline,
                        s.promise_point());
    stage.pool_.reset();
}

void Stream::copy_to_host(void* dst, const Buffer& src, size_t src_offset, size_t size) {
    StreamImpl& s = StreamImpl::of(*this);
    {
        std::lock_guard lock(s.mutex);
        detail::capture_reject(s, "copy_to_host");
        s.check_range(src, src_offset, size, "copy_to_host");
        if (size == 0)
            return;
        if (!dst)
            throw Error(EINVAL, "copy_to_host: null destination");
    }
    // A device -> pageable host memcpy (stream_memory.cpp): a COPY into
    // staging, and this thread copies out once the stream reached it.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): src's address (shared virtual addressing)
    memcpy(dst, reinterpret_cast<const void*>(src.device_addr() + src_offset), size);
}

void Stream::launch_host_func(std::function<void()> fn) {
    StreamImpl& s = StreamImpl::of(*this);
    if (!fn)
        throw Error(EINVAL, "launch_host_func: empty function");
    std::lock_guard lock(s.mutex);
    detail::capture_reject(s, "launch_host_func");
    detail::launch_host_locked(s, std::move(fn));
}

void Stream::record(Event& event) {
    StreamImpl& s = StreamImpl::of(*this);
    if (!event.state_)
        throw Error(EINVAL, "record: event was moved from");
    detail::EventState& e = *event.state_;
    if (e.device != s.device)
        throw Error(EINVAL, "record: event belongs to another device");
    StreamImpl::Enqueue guard(s);
    s.check_alive("record");
    if (detail::capture_record(s, e))
        return;
    std::lock_guard event_lock(e.mutex);
    if (e.timing) {
        if (!e.timestamp)
            e.timestamp.emplace(Device::open_state(s.device), sizeof(uint64_t),
                                BufferKind::host_visible);
        npu_pkt_timestamp packet{};
        packet.header = NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS);
        packet.dst = e.timestamp->device_addr();
        detail::encode(s.reserve(sizeof(packet), {&*e.timestamp}), packet);
        e.has_timestamp = true;
    }
    e.track = s.track;
    e.point = s.promise_point();
    e.since = s.reported;
    e.recorded = true;
    if (e.exported && e.syncobj) {
        // Someone holds the syncobj: it must carry the new fence now.
        s.flush();
        if (e.point == 0)
            s.device->api.syncobj_signal({e.syncobj, 0});
        else
            s.device->api.syncobj_transfer(s.timeline->sync_point(e.point), {e.syncobj, 0});
    }
}

void Stream::wait(const Event& event) {
    StreamImpl& s = StreamImpl::of(*this);
    if (!event.state_)
        throw Error(EINVAL, "wait: event was moved from");
    const detail::EventState& e = *event.state_;
    if (detail::capture_wait(s, e))
        return;
    const auto c = e.capture();
    if (!c.recorded)
        return;
    if (c.track == s.track)
        return; // this stream's own earlier work: already in order
    if (c.track) {
        c.track->timeline->poll(); // user-mode work: maybe done already
        if (c.point == 0 || c.track->timeline->known_complete(c.point))
            return;
        c.track->ensure_submitted(c.point); // before taking our lock: see StreamTrack
    }
    StreamImpl::Enqueue guard(s);
    s.check_alive("wait");
    s.check_stopped();
    const DriverApi& api = s.device->api;
    s.seal(); // work enqueued before the wait need not wait
    if (!s.current)
        s.current = std::make_unique<StreamImpl::Batch>(s.take_free_batch());
    auto& waits = s.current->waits;
    DriverApi::SyncPoint in{};
    if (c.track && e.device == s.device) {
        // A timeline point: no system call, unless user-mode work needs
        // its fence attached.
        in = c.track->timeline->sync_point(c.point);
    } else {
        // A binary syncobj (imported event) may be replaced later, and
        // another device's fence has to travel as a sync_file: take the
        // fence now, into a point of wait_syncobj.
        if (!s.wait_syncobj)
            s.wait_syncobj = api.syncobj_create();
        uint32_t source = c.syncobj;
        uint64_t source_point = 0;
        if (c.track) {
            source = c.track->timeline->syncobj;
            source_point = c.track->timeline->sync_point(c.point).point;
        }
        if (e.device != s.device) {
            uint32_t binary = source;
            uint32_t temp = 0;
            if (source_point) { // a point of the other device's timeline
                temp = e.device->api.syncobj_create();
                binary = temp;
            }
            int sync_file = -1;
            try {
                if (temp)
                    e.device->api.syncobj_transfer({source, source_point}, {temp, 0});
                sync_file = e.device->api.syncobj_export(binary, true);
            } catch (...) {
                if (temp)
                    e.device->api.syncobj_destroy(temp);
                throw;
            }
            if (temp)
                e.device->api.syncobj_destroy(temp);
            try {
                if (!s.import_syncobj)
                    s.import_syncobj = api.syncobj_create();
                api.syncobj_import_sync_file(s.import_syncobj, sync_file);
            } catch (...) {
                api.os().close(sync_file);
                throw;
            }
            api.os().close(sync_file);
            source = s.import_syncobj;
            source_point = 0;
        } else if (!source) {
            return; // an event without a fence: complete
        }
        api.syncobj_transfer({source, source_point}, {s.wait_syncobj, s.wait_points + 1});
        in = {s.wait_syncobj, ++s.wait_points};
    }
    auto same = std::find_if(waits.begin(), waits.end(),
                             [&in](const auto& w) { return w.syncobj == in.syncobj; });
    if (same != waits.end()) {
        same->point = std::max(same->point, in.point);
    } else if (waits.size() < detail::kMaxBatchWaits) {
        waits.push_back(in);
    } else {
        // Fold into wait_syncobj: one more in-fence stays enough.
        if (!s.wait_syncobj)
            s.wait_syncobj = api.syncobj_create();
        api.syncobj_transfer(in, {s.wait_syncobj, s.wait_points + 1});
        ++s.wait_points;
        auto folded = std::find_if(waits.begin(), waits.end(),
                                   [&s](const auto& w) { return w.syncobj == s.wait_syncobj; });
        if (folded == waits.end())
            waits.push_back({s.wait_syncobj, s.wait_points});
        else
            folded->point = s.wait_points;
    }
}

void Stream::flush() {
    StreamImpl& s = StreamImpl::of(*this);
    std::lock_guard lock(s.mutex);
    s.flush();
}

void Stream::discard() noexcept {
    if (!impl_)
        return;
    std::lock_guard lock(impl_->mutex);
    impl_->discard();
}

bool Stream::query() {
    StreamImpl& s = StreamImpl::of(*this);
    std::lock_guard lock(s.mutex);
    s.flush();
    const uint64_t last = s.timeline->submitted.load();
    if (!s.reap(last, 0))
        return false;
    if (!s.callbacks_idle())
        return false;
    s.rethrow_failure();
    return true;
}

void Stream::synchronize(std::chrono::nanoseconds timeout) {
    StreamImpl& s = StreamImpl::of(*this);
    const int64_t deadline = detail::deadline_after(timeout);
    uint64_t last = 0;
    {
        std::lock_guard lock(s.mutex);
        s.flush();
        last = s.timeline->submitted.load();
    }
    // Waits without the lock: other threads may enqueue meanwhile (their
    // work is not waited for).
    if (last && !s.timeline->known_complete(last)) {
        // A job submitted with SUBMIT: one WAIT on it; user-mode work (or
        // several jobs): the timeline (user_queue.cpp).
        const auto waited = s.track->wait_job(last, deadline);
        if (!(waited ? *waited : s.timeline->wait(last, deadline)))
            throw Error(ETIME, "synchronize: jobs still running at the deadline");
        s.timeline->mark_complete(last);
    }
    {
        std::unique_lock lock(s.callback_mutex);
        const auto until =
            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline));
        if (!s.changed.wait_until(lock, until, [&s, last] {
                return s.callbacks.empty() || s.callbacks.front().point > last;
            }))
            throw Error(ETIME, "synchronize: host callbacks still pending at the deadline");
    }
    std::lock_guard lock(s.mutex);
    s.reap(last, deadline);
    s.rethrow_failure();
}

std::optional<JobFailure> Stream::error() const {
    StreamImpl& s = StreamImpl::of(*this);
    std::lock_guard lock(s.mutex);
    s.recycle();
    const uint64_t done = s.timeline->completed.load();
    if (done)
        s.track->collect(done);
    const auto f = s.track->first_failure(0, done);
    if (!f)
        return std::nullopt;
    return JobFailure{f->status, f->seqno, f->queue_id, f->err_offset, f->fault_addr};
}

bool Stream::stopped() const {
    StreamImpl& s = StreamImpl::of(*this);
    std::lock_guard lock(s.mutex);
    try {
        s.check_stopped();
    } catch (...) {
        return true;
    }
    return false;
}

} // namespace npu
