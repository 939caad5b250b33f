// StreamTrack: what outlives a stream for the events recorded on it: its
// timeline, the jobs whose status was not read yet, the failures found, and
// a way to have the stream submit work an event waits for.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "device_state.hpp"
#include "pool_state.hpp"

namespace npu::detail {

struct StreamImpl;

struct StreamTrack {
    StreamTrack(std::shared_ptr<DeviceState> device, std::shared_ptr<Timeline> timeline)
        : device(std::move(device)), timeline(std::move(timeline)) {}

    struct Failure {
        uint64_t point = 0; // timeline point of the failed job
        uint32_t status = 0;
        uint64_t seqno = 0;
        uint32_t queue_id = 0;
        uint32_t err_offset = 0;
        uint64_t fault_addr = 0;
    };

    // A job submitted for timeline point `point`.
    void add_job(uint64_t point, uint32_t queue_id, uint64_t seqno);
    // Reads the status (DRM_IOCTL_NPU_WAIT, no waiting) of every job up to
    // point, which must be signalled, and keeps the failures.
    void collect(uint64_t point);
    // Waits until deadline_ns for point with DRM_IOCTL_NPU_WAIT on its job
    // and collects that job's status, when it is the only job up to point
    // whose status is not read yet: one ioctl, sleeping on the job's own
    // fence, instead of a timeline wait (a fence chain) and a WAIT for the
    // status. nullopt when it cannot (other jobs first, or the kernel does
    // not know the job): wait on the timeline. false: the deadline passed.
    [[nodiscard]] std::optional<bool> wait_job(uint64_t point, int64_t deadline_ns);
    // The first failure in (after, up_to], if any.
    [[nodiscard]] std::optional<Failure> first_failure(uint64_t after, uint64_t up_to);
    // Makes sure point is submitted (or will never be: the stream is gone
    // and signalled it): flushes the owning stream if needed. Must not be
    // called with any stream's mutex held.
    void ensure_submitted(uint64_t point);
    void set_owner(StreamImpl* stream);

    const std::shared_ptr<DeviceState> device;
    const std::shared_ptr<Timeline> timeline;

private:
    struct Job {
        uint64_t point;
        uint32_t queue_id;
        uint64_t seqno;
    };
    std::mutex mutex_;              // protects jobs_, failures_
    std::deque<Job> jobs_;          // status not read yet, by point
    std::vector<Failure> failures_; // by point; the first kMaxFailures
    std::mutex owner_mutex_;        // protects owner_; taken before the stream's mutex
    StreamImpl* owner_ = nullptr;
};

} // namespace npu::detail
