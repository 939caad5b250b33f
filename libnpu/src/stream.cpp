#include "npu/stream.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <npu/uapi/drm/npu_packet.h>

#include "event_state.hpp"
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

bool falls_back_to_queue0(int errnum) {
    // ENOSPC: the context has no queue left; ENOTTY/EINVAL: a driver
    // without DRM_IOCTL_NPU_QUEUE_CREATE.
    return errnum == ENOSPC || errnum == ENOTTY || errnum == EINVAL;
}

} // namespace

StreamImpl::StreamImpl(std::shared_ptr<DeviceState> device_state,
                       const StreamOptions& stream_options)
    : device(std::move(device_state)), options(stream_options) {
    const uint64_t max_cmd = device->api.get_param(DRM_NPU_PARAM_MAX_CMD_SIZE);
    capacity = std::min<uint64_t>(options.command_buffer_size, max_cmd) & ~size_t{7};
    if (capacity < sizeof(npu_pkt_copy))
        throw Error(EINVAL, "create stream: command buffer of " + std::to_string(capacity) +
                                " bytes is too small");
    options.max_jobs_in_flight = std::max<size_t>(options.max_jobs_in_flight, 1);
    if (options.priority > Priority::realtime)
        throw Error(EINVAL, "create stream: unknown priority");
    timeline = std::make_shared<Timeline>(device);
    if (options.dedicated_queue) {
        try {
            queue_id = device->api.queue_create(static_cast<uint32_t>(options.priority));
            dedicated = true;
        } catch (const Error& e) {
            if (!falls_back_to_queue0(e.errnum()))
                throw;
        }
    }
    if (!dedicated)
        options.priority = Priority::normal;
}

StreamImpl::~StreamImpl() {
    discard();
    {
        std::lock_guard lock(mutex);
        stopping = true;
    }
    changed.notify_all();
    if (callback_thread.joinable())
        callback_thread.join();
    const DriverApi& api = device->api;
    try {
        // A pool block freed on this stream waits for `promised`; work that
        // would have reached it was discarded, so signal it from the host.
        if (promised > timeline->submitted.load())
            api.syncobj_signal({timeline->syncobj, promised});
        if (dedicated) {
            // QUEUE_DESTROY cancels the queue's jobs still on the device:
            // let the work already submitted finish first (a job that
            // hangs ends at the driver's job timeout).
            const uint64_t last = timeline->submitted.load();
            while (last && !api.lost() &&
                   !api.syncobj_wait({timeline->syncobj, last},
                                     deadline_after(std::chrono::milliseconds(100)))) {
            }
            api.queue_destroy(queue_id);
        }
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
    // One slot of the BO list is the command buffer, one the callback gate.
    constexpr size_t max_handles = DRM_NPU_MAX_SUBMIT_BOS - 2;
    if (current && (current->used + bytes > capacity ||
                    current->handles.size() + referenced.size() > max_handles))
        flush();
    if (!current) {
        current = std::make_unique<Batch>(take_free_batch());
        if (gate_issued > gate_covered) {
            // Work after a host callback: hold it on the device until the
            // callback thread writes the gate, unless that already happened.
            if (load_gate(*gate) != gate_issued) {
                npu_pkt_wait_mem packet{};
                packet.header = NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS);
                packet.addr = gate->device_addr();
                packet.value = gate_issued;
                encode(static_cast<std::byte*>(current->commands.host_ptr()), packet);
                current->used = sizeof(packet);
                current->handles.push_back(gate->handle());
            }
            gate_covered = gate_issued;
            if (current->used + bytes > capacity) { // the gate goes in a job of its own
                flush();
                current = std::make_unique<Batch>(take_free_batch());
            }
        }
    }
    Batch& batch = *current;
    for (const BoStorage* bo : referenced)
        if (std::find(batch.handles.begin(), batch.handles.end(), bo->handle) ==
            batch.handles.end())
            batch.handles.push_back(bo->handle);
    std::byte* where = static_cast<std::byte*>(batch.commands.host_ptr()) + batch.used;
    batch.used += bytes;
    return where;
}

StreamImpl::Batch StreamImpl::take_free_batch() {
    if (free.empty() && in_flight.size() >= options.max_jobs_in_flight) {
        if (!reap_oldest(deadline_after(options.backpressure_timeout)))
            throw Error(ETIME, "stream: waiting for a free command buffer");
    }
    if (!free.empty()) {
        Batch batch = std::move(free.back());
        free.pop_back();
        return batch;
    }
    Device handle = Device::open_state(device);
    return Batch{Buffer(handle, capacity, BufferFlags::device_read_only), 0, {}, 0, 0};
}

void StreamImpl::flush() {
    if (!current || current->used == 0)
        return;
    Batch& batch = *current;
    std::vector<uint32_t> handles;
    handles.reserve(batch.handles.size() + 1);
    handles.push_back(batch.commands.handle());
    handles.insert(handles.end(), batch.handles.begin(), batch.handles.end());
    const uint64_t point = timeline->submitted.load() + 1;
    DriverApi::Submit submit;
    submit.bo_handles = handles;
    submit.cmd_addr = batch.commands.device_addr();
    submit.cmd_size = static_cast<uint32_t>(batch.used);
    submit.queue_id = queue_id;
    const DriverApi::SyncPoint wait_for{wait_syncobj, pending_wait};
    if (pending_wait)
        submit.wait_for = {&wait_for, 1};
    submit.signal = {timeline->syncobj, point};
    // On failure the batch stays current: nothing was submitted.
    batch.seqno = device->api.submit(submit);
    batch.point = point;
    timeline->submitted.store(point);
    pending_wait = 0;
    in_flight.push_back(std::move(batch));
    current.reset();
}

void StreamImpl::discard() noexcept {
    if (!current)
        return;
    current->used = 0;
    current->handles.clear();
    free.push_back(std::move(*current));
    current.reset();
}

uint64_t StreamImpl::promise_point() {
    const uint64_t submitted = timeline->submitted.load();
    const uint64_t point = current && current->used ? submitted + 1 : submitted;
    promised = std::max(promised, point);
    return point;
}

void StreamImpl::record_failure(std::exception_ptr error) {
    std::lock_guard lock(mutex);
    if (!failure)
        failure = std::move(error);
}

void StreamImpl::rethrow_failure() {
    std::exception_ptr error;
    {
        std::lock_guard lock(mutex);
        error = std::exchange(failure, nullptr);
    }
    if (error)
        std::rethrow_exception(error);
}

bool StreamImpl::reap_oldest(int64_t deadline_ns) {
    Batch& oldest = in_flight.front();
    const auto result = device->api.wait(queue_id, oldest.seqno, deadline_ns);
    if (!result)
        return false;
    // EXPIRED means done but too old for the kernel to remember the status;
    // with max_jobs_in_flight far below DRM_NPU_WAIT_HISTORY that only
    // happens when other streams flood the same queue, so it is not a failure.
    const uint32_t status = result->job_status;
    if (status != DRM_NPU_JOB_STATUS_OK && status != DRM_NPU_JOB_STATUS_EXPIRED)
        record_failure(std::make_exception_ptr(
            JobError(status, oldest.seqno, result->err_offset, result->fault_addr)));
    timeline->mark_complete(oldest.point);
    Batch done = std::move(oldest);
    in_flight.pop_front();
    done.used = 0;
    done.handles.clear();
    free.push_back(std::move(done));
    return true;
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
            std::unique_lock lock(mutex);
            changed.wait(lock, [this] { return !callbacks.empty() || stopping; });
            if (callbacks.empty())
                return;
            next = callbacks.front();
        }
        bool run = true;
        try {
            if (next.point) {
                while (!device->api.syncobj_wait({timeline->syncobj, next.point},
                                                 deadline_after(std::chrono::milliseconds(100)))) {
                }
                timeline->mark_complete(next.point);
            }
            if (next.awaited) {
                while (!device->api.syncobj_wait({wait_syncobj, next.awaited},
                                                 deadline_after(std::chrono::milliseconds(100)))) {
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
            std::lock_guard lock(mutex);
            callbacks.pop_front();
        }
        changed.notify_all();
    }
}

bool StreamImpl::callbacks_idle() {
    std::lock_guard lock(mutex);
    return callbacks.empty();
}

} // namespace detail

namespace {

detail::StreamImpl& checked(const std::unique_ptr<detail::StreamImpl>& impl) {
    if (!impl)
        throw Error(EINVAL, "stream was moved from");
    return *impl;
}

} // namespace

Stream::Stream(const Device& device, const StreamOptions& options)
    : impl_(std::make_unique<detail::StreamImpl>(device.state_, options)) {}

Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

Device Stream::device() const {
    return Device::open_state(checked(impl_).device);
}

uint32_t Stream::queue_id() const noexcept {
    return impl_ ? impl_->queue_id : 0;
}

bool Stream::dedicated_queue() const noexcept {
    return impl_ && impl_->dedicated;
}

Priority Stream::priority() const noexcept {
    return impl_ ? impl_->options.priority : Priority::normal;
}

size_t Stream::pending_bytes() const noexcept {
    return impl_ && impl_->current ? impl_->current->used : 0;
}

size_t Stream::jobs_in_flight() const noexcept {
    return impl_ ? impl_->in_flight.size() : 0;
}

void Stream::fill(Buffer& dst, size_t offset, size_t size, uint32_t pattern) {
    detail::StreamImpl& s = checked(impl_);
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

void Stream::copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset,
                  size_t size) {
    detail::StreamImpl& s = checked(impl_);
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

void Stream::copy_from_host(Buffer& dst, size_t dst_offset, const void* src, size_t size) {
    detail::StreamImpl& s = checked(impl_);
    s.check_range(dst, dst_offset, size, "copy_from_host");
    if (size == 0)
        return;
    if (!src)
        throw Error(EINVAL, "copy_from_host: null source");
    s.check_alive("copy_from_host");
    if (!s.staging)
        s.staging = device().default_pool();
    const auto& pool = s.staging->state_;
    // An idle block: the host writes it now, not in stream order.
    Buffer stage = pool->allocate(size, nullptr, pool);
    std::memcpy(stage.host_ptr(), src, size);
    copy(stage, 0, dst, dst_offset, size);
    pool->release_block(stage.bo_.get(), stage.offset_, stage.allocated_size_, s.timeline,
                        s.promise_point());
    stage.pool_.reset();
}

void Stream::copy_to_host(void* dst, const Buffer& src, size_t src_offset, size_t size) {
    detail::StreamImpl& s = checked(impl_);
    s.check_range(src, src_offset, size, "copy_to_host");
    if (size == 0)
        return;
    if (!dst)
        throw Error(EINVAL, "copy_to_host: null destination");
    const void* from = static_cast<const std::byte*>(src.host_ptr()) + src_offset;
    launch_host_func([dst, from, size] { std::memcpy(dst, from, size); });
}

void Stream::launch_host_func(std::function<void()> fn) {
    detail::StreamImpl& s = checked(impl_);
    if (!fn)
        throw Error(EINVAL, "launch_host_func: empty function");
    s.check_alive("launch_host_func");
    s.flush();
    s.start_callbacks();
    {
        std::lock_guard lock(s.mutex);
        // Also after events waited for since the last job (Stream::wait).
        s.callbacks.push_back(
            {s.timeline->submitted.load(), s.pending_wait, ++s.gate_issued, std::move(fn)});
    }
    s.changed.notify_all();
}

void Stream::record(Event& event) {
    detail::StreamImpl& s = checked(impl_);
    if (!event.state_)
        throw Error(EINVAL, "record: event was moved from");
    detail::EventState& e = *event.state_;
    if (e.device != s.device)
        throw Error(EINVAL, "record: event belongs to another device");
    if (!e.timestamp)
        e.timestamp.emplace(Device::open_state(s.device), sizeof(uint64_t),
                            BufferKind::host_visible);
    npu_pkt_timestamp packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS);
    packet.dst = e.timestamp->device_addr();
    detail::encode(s.reserve(sizeof(packet), {&*e.timestamp}), packet);
    s.flush();
    s.device->api.syncobj_transfer({s.timeline->syncobj, s.timeline->submitted.load()},
                                   {e.syncobj, 0});
    e.has_timestamp = true;
    e.recorded = true;
}

void Stream::wait(const Event& event) {
    detail::StreamImpl& s = checked(impl_);
    if (!event.state_)
        throw Error(EINVAL, "wait: event was moved from");
    const detail::EventState& e = *event.state_;
    if (!e.recorded)
        return;
    s.flush(); // work enqueued before the wait need not wait
    const DriverApi& api = s.device->api;
    if (!s.wait_syncobj)
        s.wait_syncobj = api.syncobj_create();
    uint32_t source = e.syncobj;
    if (e.device != s.device) {
        // Another device's fence: move it here as a sync_file.
        const int sync_file = e.device->api.syncobj_export(e.syncobj, true);
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
    }
    api.syncobj_transfer({source, 0}, {s.wait_syncobj, s.wait_points + 1});
    s.pending_wait = ++s.wait_points;
}

void Stream::flush() {
    checked(impl_).flush();
}

void Stream::discard() noexcept {
    if (impl_)
        impl_->discard();
}

bool Stream::query() {
    detail::StreamImpl& s = checked(impl_);
    s.flush();
    while (!s.in_flight.empty())
        if (!s.reap_oldest(0))
            return false;
    if (s.pending_wait && !s.device->api.syncobj_wait({s.wait_syncobj, s.pending_wait}, 0))
        return false;
    if (!s.callbacks_idle())
        return false;
    s.rethrow_failure();
    return true;
}

void Stream::synchronize(std::chrono::nanoseconds timeout) {
    detail::StreamImpl& s = checked(impl_);
    s.flush();
    const int64_t deadline = detail::deadline_after(timeout);
    while (!s.in_flight.empty())
        if (!s.reap_oldest(deadline))
            throw Error(ETIME, "synchronize: " + std::to_string(s.in_flight.size()) +
                                   " job(s) still running at the deadline");
    if (s.pending_wait) {
        if (!s.device->api.syncobj_wait({s.wait_syncobj, s.pending_wait}, deadline))
            throw Error(ETIME, "synchronize: an awaited event is still pending at the deadline");
    }
    {
        std::unique_lock lock(s.mutex);
        const auto until =
            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline));
        if (!s.changed.wait_until(lock, until, [&s] { return s.callbacks.empty(); }))
            throw Error(ETIME, "synchronize: host callbacks still pending at the deadline");
    }
    s.rethrow_failure();
}

} // namespace npu
