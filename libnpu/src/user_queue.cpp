// User-mode queues (user_queue.hpp) and the Timeline's bookkeeping of the
// points they carry (pool_state.hpp).
#include "user_queue.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "npu/error.hpp"
#include "pool_state.hpp"
#include "time.hpp"

namespace npu::detail {

namespace {

// How long a waiter polls a user-mode queue's control page before it
// sleeps in the kernel: about one small job's device round trip.
constexpr int64_t kSpinNs = 100'000;
// Failures kept per timeline (as StreamTrack keeps).
constexpr size_t kMaxUserFailures = 64;

template <typename T>
T load(const T& word) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_acquire);
}

} // namespace

bool user_queues_enabled() noexcept {
    const char* env = std::getenv("NPU_USER_QUEUES");
    return !env || std::strcmp(env, "0") != 0;
}

std::unique_ptr<UserQueue> UserQueue::create(const DriverApi& api, uint32_t priority) {
    try {
        if (api.get_param(DRM_NPU_PARAM_UQUEUE_COUNT) == 0)
            return nullptr;
    } catch (const Error& e) {
        if (e.errnum() == ENODEV)
            throw;
        return nullptr; // a driver without the parameter
    }
    drm_npu_uqueue_create args{};
    args.priority = priority;
    args.eventfd = -1;
    try {
        api.uqueue_create(args);
    } catch (const Error& e) {
        if (e.errnum() == ENODEV)
            throw;
        return nullptr; // EOPNOTSUPP, EBUSY, ENOSPC, ...: SUBMIT it is
    }
    const size_t page = 4096;
    const bool sane = args.ring_entries && !(args.ring_entries & (args.ring_entries - 1)) &&
                      args.mmap_size >= page && args.doorbell_offset % 4 == 0 &&
                      args.doorbell_offset + 4 <= args.mmap_size &&
                      args.ring_offset % alignof(drm_npu_uqueue_job) == 0 &&
                      args.ring_offset + uint64_t{args.ring_entries} * sizeof(drm_npu_uqueue_job) <=
                          args.mmap_size;
    void* mapping = nullptr;
    if (sane) {
        try {
            mapping = api.map(args.mmap_offset, args.mmap_size);
        } catch (const Error&) {
            mapping = nullptr;
        }
    }
    if (!mapping) {
        try {
            api.uqueue_destroy(args.uqueue_id);
        } catch (const Error&) {
        }
        return nullptr;
    }
    return std::unique_ptr<UserQueue>(new UserQueue(api, args, mapping));
}

UserQueue::UserQueue(const DriverApi& api, const drm_npu_uqueue_create& created, void* mapping)
    : api_(api), id_(created.uqueue_id), entries_(created.ring_entries),
      doorbell_value_(created.doorbell_value), mapping_(mapping), mapping_size_(created.mmap_size) {
    auto* base = static_cast<std::byte*>(mapping);
    control_ = reinterpret_cast<drm_npu_uqueue_control*>(base);
    ring_ = reinterpret_cast<drm_npu_uqueue_job*>(base + created.ring_offset);
    doorbell_ = reinterpret_cast<uint32_t*>(base + created.doorbell_offset);
    written_ = load(control_->tail);
}

UserQueue::~UserQueue() {
    try {
        api_.uqueue_destroy(id_);
    } catch (const Error&) { // device lost: the file's queues go with it
    }
    api_.unmap(mapping_, mapping_size_);
}

uint64_t UserQueue::done() const noexcept {
    return load(control_->done_seqno);
}

uint32_t UserQueue::error() const noexcept {
    return load(control_->error);
}

uint64_t UserQueue::push(uint64_t cmd_addr, uint32_t cmd_size) noexcept {
    drm_npu_uqueue_job& slot = ring_[written_ % entries_];
    drm_npu_uqueue_job job{};
    job.cmd_addr = cmd_addr;
    job.cmd_size = cmd_size;
    std::memcpy(&slot, &job, sizeof(job));
    ++written_;
    // The descriptor before the tail, the tail before the doorbell.
    std::atomic_ref<uint32_t>(control_->tail)
        .store(static_cast<uint32_t>(written_), std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    *static_cast<volatile uint32_t*>(doorbell_) = doorbell_value_;
    return written_;
}

drm_npu_uqueue_job UserQueue::result(uint64_t seqno) const noexcept {
    std::atomic_thread_fence(std::memory_order_acquire);
    drm_npu_uqueue_job job{};
    std::memcpy(&job, &ring_[(seqno - 1) % entries_], sizeof(job));
    return job;
}

void UserQueue::fence(DriverApi::SyncPoint where, uint64_t seqno) const {
    api_.uqueue_fence(id_, where, seqno);
}

drm_npu_uqueue_query UserQueue::query() const {
    return api_.uqueue_query(id_);
}

// ---- Timeline ----

void Timeline::refresh() {
    {
        std::lock_guard lock(uq_mutex);
        poll_locked();
        // No fence beyond what is known complete: the syncobj cannot tell
        // more (user-mode work pending: the control page said it all).
        if (attached <= completed.load())
            return;
    }
    mark_complete(device->api.syncobj_query(syncobj));
}

void Timeline::poll() {
    std::lock_guard lock(uq_mutex);
    poll_locked();
}

void Timeline::poll_locked() {
    if (!uq || user_jobs.empty())
        return;
    const uint64_t done = uq->done();
    if (done > uq->written()) {
        // Impossible from a working device (a queue revoked under a
        // hot-unplug reads so): ask the kernel (throws ENODEV if the
        // device is gone), then stop using the queue whatever it says.
        (void)uq->query();
        fail_user_jobs_locked();
        return;
    }
    while (!user_jobs.empty() && user_jobs.front().seqno <= done) {
        const UserJob job = user_jobs.front();
        user_jobs.pop_front();
        const drm_npu_uqueue_job back = uq->result(job.seqno);
        if (back.status != DRM_NPU_JOB_STATUS_OK && user_failures.size() < kMaxUserFailures)
            user_failures.push_back(
                {job.point, job.seqno, back.status, uq->id(), back.err_offset, back.fault_addr});
    }
    // Points below the first pending user-mode job are complete: user-mode
    // jobs done, or SUBMITs known complete before later user-mode jobs.
    mark_complete(user_jobs.empty() ? last_user_point : user_jobs.front().point - 1);
    if (!user_jobs.empty() && uq->error() != DRM_NPU_UQUEUE_ERR_NONE)
        fail_user_jobs_locked();
}

void Timeline::fail_user_jobs_locked() {
    uq_stopped = true;
    for (const UserJob& job : user_jobs)
        if (user_failures.size() < kMaxUserFailures)
            user_failures.push_back(
                {job.point, job.seqno, DRM_NPU_JOB_STATUS_ABORTED, uq ? uq->id() : 0, 0, 0});
    user_jobs.clear();
    mark_complete(last_user_point);
}

std::vector<UserFailure> Timeline::take_user_failures(uint64_t up_to) {
    std::lock_guard lock(uq_mutex);
    poll_locked();
    std::vector<UserFailure> out;
    std::erase_if(user_failures, [&](const UserFailure& f) {
        if (f.point > up_to)
            return false;
        out.push_back(f);
        return true;
    });
    return out;
}

bool Timeline::user_mode_ready_locked() {
    if (!uq || uq_stopped)
        return false;
    poll_locked();
    if (uq_stopped)
        return false;
    if (kernel_point > completed.load()) // back to the ring once SUBMITs are done
        mark_complete(device->api.syncobj_query(syncobj));
    return kernel_point <= completed.load();
}

DriverApi::SyncPoint Timeline::user_fence_locked() {
    if (!uq)
        return {};
    poll_locked();
    if (user_jobs.empty())
        return {};
    return sync_point_locked(last_user_point);
}

DriverApi::SyncPoint Timeline::sync_point(uint64_t point) {
    std::lock_guard lock(uq_mutex);
    return sync_point_locked(point);
}

DriverApi::SyncPoint Timeline::sync_point_locked(uint64_t point) {
    if (point <= attached || point > last_user_point)
        return {syncobj, point}; // has a fence, or will get SUBMIT's
    // A user-mode point without a fence: attach one for the last user-mode
    // job (> attached, so points stay in order), which covers this one.
    poll_locked();
    const uint64_t at = last_user_point;
    bool host = user_jobs.empty(); // all done: signal it from here
    if (!host) {
        try {
            uq->fence({syncobj, at}, last_user_seqno);
        } catch (const Error& e) {
            if (e.errnum() == ENODEV)
                throw;
            // The queue is gone for the kernel: so is its pending work
            // (QUERY throws ENODEV if the device is).
            (void)uq->query();
            fail_user_jobs_locked();
            host = true;
        }
    }
    if (host)
        device->api.syncobj_signal({syncobj, at});
    attached = at;
    return {syncobj, point};
}

bool Timeline::wait(uint64_t point, int64_t deadline_ns) {
    if (known_complete(point))
        return true;
    bool user = false;
    {
        std::lock_guard lock(uq_mutex);
        poll_locked();
        user = point <= last_user_point;
    }
    if (known_complete(point))
        return true;
    if (user) {
        if (monotonic_now_ns() >= deadline_ns)
            return false; // a query: no system call
        const int64_t spin_until = std::min(deadline_ns, monotonic_now_ns() + kSpinNs);
        while (monotonic_now_ns() < spin_until) {
            std::this_thread::yield();
            poll();
            if (known_complete(point))
                return true;
        }
    }
    for (;;) {
        const DriverApi::SyncPoint at =
            user ? sync_point(point) : DriverApi::SyncPoint{syncobj, point};
        if (!device->api.syncobj_wait(at, deadline_ns)) {
            poll();
            return known_complete(point);
        }
        if (!user) {
            mark_complete(point);
            return true;
        }
        std::lock_guard lock(uq_mutex);
        poll_locked();
        if (known_complete(point))
            return true;
        // The fence signalled, the job is not done: the queue stopped.
        const auto q = uq ? uq->query() : drm_npu_uqueue_query{0, DRM_NPU_UQUEUE_LOST, 0, 0, 0, 0};
        if (q.state != DRM_NPU_UQUEUE_ACTIVE) {
            fail_user_jobs_locked();
            return true;
        }
        if (monotonic_now_ns() >= deadline_ns)
            return false;
    }
}

} // namespace npu::detail
