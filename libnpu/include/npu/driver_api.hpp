// DriverApi: one method per ioctl of uapi/drm/npu_accel.h (plus the generic
// DRM ones libnpu needs), all through an OsInterface. Methods throw
// npu::Error naming the ioctl; nothing above this layer calls ioctl().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <drm/npu_accel.h>

#include "npu/export.hpp"
#include "npu/os_interface.hpp"

namespace npu {

class NPU_API DriverApi {
public:
    // Does not own fd.
    DriverApi(std::shared_ptr<OsInterface> os, int fd);

    [[nodiscard]] OsInterface& os() const noexcept { return *os_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }

    // DRM_IOCTL_VERSION: the kernel driver's name.
    [[nodiscard]] std::string driver_name() const;
    // DRM_IOCTL_NPU_GET_PARAM
    [[nodiscard]] uint64_t get_param(uint32_t param) const;
    // DRM_IOCTL_NPU_BO_CREATE
    [[nodiscard]] drm_npu_bo_create bo_create(uint64_t size, uint32_t flags) const;
    // DRM_IOCTL_NPU_BO_INFO
    [[nodiscard]] drm_npu_bo_info bo_info(uint32_t handle) const;
    // DRM_IOCTL_GEM_CLOSE
    void gem_close(uint32_t handle) const;
    // DRM_IOCTL_NPU_SUBMIT: returns the job's seqno.
    [[nodiscard]] uint64_t submit(std::span<const uint32_t> bo_handles, uint64_t cmd_addr,
                                  uint32_t cmd_size, uint32_t queue_id) const;
    // DRM_IOCTL_NPU_WAIT with an absolute CLOCK_MONOTONIC deadline: the
    // result once the job is done, std::nullopt if the deadline passed.
    [[nodiscard]] std::optional<drm_npu_wait> wait(uint32_t queue_id, uint64_t seqno,
                                                   int64_t deadline_ns) const;

    // mmap/munmap of a BO through its BO_INFO offset.
    [[nodiscard]] void* map(uint64_t mmap_offset, size_t size) const;
    void unmap(void* addr, size_t size) const noexcept;

private:
    std::shared_ptr<OsInterface> os_;
    int fd_;
};

} // namespace npu
