// RawJob: a command list (op_packets.hpp) submitted as one job through
// libnpu's DriverApi (DRM_IOCTL_NPU_SUBMIT + WAIT), for packets the Stream
// API does not encode. The command buffer is made once; run() submits it
// again each time, so a benchmark times the job, not its setup.
#pragma once

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/driver_api.hpp"
#include "npu/error.hpp"
#include "op_packets.hpp"

namespace npu::ops {

class RawJob {
public:
    // buffers: every buffer the packets reach (the job's BO list). They
    // must outlive the RawJob.
    RawJob(const Device& device, const std::vector<const Buffer*>& buffers,
           const CommandList& commands)
        : device_(device), commands_(device, commands.size_bytes(), BufferFlags::device_read_only) {
        std::memcpy(commands_.host_ptr(), commands.data(), commands.size_bytes());
        handles_.push_back(commands_.handle());
        for (const Buffer* buffer : buffers) // pool blocks may share a handle
            if (std::find(handles_.begin(), handles_.end(), buffer->handle()) == handles_.end())
                handles_.push_back(buffer->handle());
        size_ = static_cast<uint32_t>(commands.size_bytes());
    }

    // Submits on the context's default queue and waits. Returns the wall
    // time from submit to completion; throws JobError if the job failed,
    // Error(ETIME) if it did not finish within timeout.
    std::chrono::nanoseconds run(std::chrono::seconds timeout = std::chrono::seconds(60)) const {
        const DriverApi& driver = device_.driver();
        const int64_t start = monotonic_ns();
        const uint64_t seqno = driver.submit(handles_, commands_.device_addr(), size_, 0);
        const auto done = driver.wait(0, seqno, start + timeout.count() * 1'000'000'000);
        const int64_t end = monotonic_ns();
        if (!done)
            throw Error(ETIME, "waiting for the job");
        if (done->job_status != DRM_NPU_JOB_STATUS_OK)
            throw JobError(done->job_status, seqno, done->err_offset, done->fault_addr);
        return std::chrono::nanoseconds(end - start);
    }

private:
    static int64_t monotonic_ns() {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
    }

    Device device_;
    Buffer commands_;
    std::vector<uint32_t> handles_;
    uint32_t size_ = 0;
};

} // namespace npu::ops
