// UserQueue: a user-mode queue (uapi/drm/npu_accel.h, "User-mode
// submission"): the mapped control page, doorbell and ring of one hardware
// queue this process holds alone. A launch is push(): a descriptor write,
// the tail, the doorbell; no system call. Not thread-safe: its Timeline's
// uq_mutex serializes every use (pool_state.hpp).
#pragma once

#include <cstdint>
#include <memory>

#include <npu/uapi/drm/npu_accel.h>

#include "npu/driver_api.hpp"

namespace npu::detail {

// Whether streams try user-mode queues: false when the environment sets
// NPU_USER_QUEUES=0 (every launch then goes through DRM_IOCTL_NPU_SUBMIT).
bool user_queues_enabled() noexcept;

class UserQueue {
public:
    // A new queue of the priority (DRM_NPU_PRIORITY_*), or nullptr where
    // user-mode queues are not available: DRM_NPU_PARAM_UQUEUE_COUNT 0 or
    // unknown (an older driver), UQUEUE_CREATE refused (EOPNOTSUPP, EBUSY,
    // ENOSPC, ...) or the mapping failed. Throws only Error(ENODEV).
    static std::unique_ptr<UserQueue> create(const DriverApi& api, uint32_t priority);
    ~UserQueue(); // UQUEUE_DESTROY and munmap
    UserQueue(const UserQueue&) = delete;
    UserQueue& operator=(const UserQueue&) = delete;

    [[nodiscard]] uint32_t id() const noexcept { return id_; }
    [[nodiscard]] uint32_t entries() const noexcept { return entries_; }
    // Jobs written so far (the last seqno given).
    [[nodiscard]] uint64_t written() const noexcept { return written_; }
    // From the control page (no system call).
    [[nodiscard]] uint64_t done() const noexcept;
    [[nodiscard]] uint32_t error() const noexcept;
    // Whether the next push() has a free slot: the job that used it last is
    // done (and its write-back read by the caller).
    [[nodiscard]] bool has_room() const noexcept { return written_ < done() + entries_; }
    // Writes a descriptor into the next slot and rings the doorbell: the
    // job's seqno. Requires has_room().
    uint64_t push(uint64_t cmd_addr, uint32_t cmd_size) noexcept;
    // The write-back of a done job whose slot was not reused yet.
    [[nodiscard]] drm_npu_uqueue_job result(uint64_t seqno) const noexcept;
    // DRM_IOCTL_NPU_UQUEUE_FENCE: where signals once job seqno is done.
    void fence(DriverApi::SyncPoint where, uint64_t seqno) const;
    // DRM_IOCTL_NPU_UQUEUE_QUERY
    [[nodiscard]] drm_npu_uqueue_query query() const;

private:
    UserQueue(const DriverApi& api, const drm_npu_uqueue_create& created, void* mapping);

    DriverApi api_;
    uint32_t id_ = 0;
    uint32_t entries_ = 0;
    uint32_t doorbell_value_ = 0;
    void* mapping_ = nullptr;
    size_t mapping_size_ = 0;
    drm_npu_uqueue_control* control_ = nullptr;
    drm_npu_uqueue_job* ring_ = nullptr;
    uint32_t* doorbell_ = nullptr;
    uint64_t written_ = 0;
};

} // namespace npu::detail
