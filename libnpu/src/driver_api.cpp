#include "npu/driver_api.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <string>

#include "npu/error.hpp"

namespace npu {

namespace {

std::string hex(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

} // namespace

DriverApi::DriverApi(std::shared_ptr<OsInterface> os, int fd) : os_(std::move(os)), fd_(fd) {}

std::string DriverApi::driver_name() const {
    char name[64] = {};
    drm_version version{};
    version.name = name;
    version.name_len = sizeof(name) - 1;
    if (os_->ioctl(fd_, DRM_IOCTL_VERSION, &version) != 0)
        throw Error(errno, "DRM_IOCTL_VERSION");
    const size_t length = std::min<size_t>(version.name_len, sizeof(name) - 1);
    return {name, length};
}

uint64_t DriverApi::get_param(uint32_t param) const {
    drm_npu_get_param args{};
    args.param = param;
    if (os_->ioctl(fd_, DRM_IOCTL_NPU_GET_PARAM, &args) != 0)
        throw Error(errno, "DRM_IOCTL_NPU_GET_PARAM(param=" + std::to_string(param) + ")");
    return args.value;
}

drm_npu_bo_create DriverApi::bo_create(uint64_t size, uint32_t flags) const {
    drm_npu_bo_create args{};
    args.size = size;
    args.flags = flags;
    if (os_->ioctl(fd_, DRM_IOCTL_NPU_BO_CREATE, &args) != 0)
        throw Error(errno, "DRM_IOCTL_NPU_BO_CREATE(size=" + std::to_string(size) +
                               ", flags=" + hex(flags) + ")");
    return args;
}

drm_npu_bo_info DriverApi::bo_info(uint32_t handle) const {
    drm_npu_bo_info args{};
    args.handle = handle;
    if (os_->ioctl(fd_, DRM_IOCTL_NPU_BO_INFO, &args) != 0)
        throw Error(errno, "DRM_IOCTL_NPU_BO_INFO(handle=" + std::to_string(handle) + ")");
    return args;
}

void DriverApi::gem_close(uint32_t handle) const {
    drm_gem_close args{};
    args.handle = handle;
    if (os_->ioctl(fd_, DRM_IOCTL_GEM_CLOSE, &args) != 0)
        throw Error(errno, "DRM_IOCTL_GEM_CLOSE(handle=" + std::to_string(handle) + ")");
}

uint64_t DriverApi::submit(std::span<const uint32_t> bo_handles, uint64_t cmd_addr,
                           uint32_t cmd_size, uint32_t queue_id) const {
    if (bo_handles.size() > std::numeric_limits<uint32_t>::max())
        throw Error(EINVAL, "DRM_IOCTL_NPU_SUBMIT: too many buffers");
    drm_npu_submit args{};
    args.bo_handles = reinterpret_cast<uintptr_t>(bo_handles.data());
    args.bo_count = static_cast<uint32_t>(bo_handles.size());
    args.cmd_addr = cmd_addr;
    args.cmd_size = cmd_size;
    args.queue_id = queue_id;
    if (os_->ioctl(fd_, DRM_IOCTL_NPU_SUBMIT, &args) != 0)
        throw Error(errno, "DRM_IOCTL_NPU_SUBMIT(queue=" + std::to_string(queue_id) +
                               ", cmd=" + hex(cmd_addr) + "+" + std::to_string(cmd_size) +
                               ", bos=" + std::to_string(bo_handles.size()) + ")");
    return args.seqno;
}

std::optional<drm_npu_wait> DriverApi::wait(uint32_t queue_id, uint64_t seqno,
                                            int64_t deadline_ns) const {
    drm_npu_wait args{};
    args.seqno = seqno;
    args.timeout_ns = deadline_ns;
    args.queue_id = queue_id;
    if (os_->ioctl(fd_, DRM_IOCTL_NPU_WAIT, &args) != 0) {
        if (errno == ETIME)
            return std::nullopt;
        throw Error(errno, "DRM_IOCTL_NPU_WAIT(queue=" + std::to_string(queue_id) +
                               ", seqno=" + std::to_string(seqno) + ")");
    }
    return args;
}

void* DriverApi::map(uint64_t mmap_offset, size_t size) const {
    void* addr = os_->mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                           static_cast<off_t>(mmap_offset));
    if (addr == MAP_FAILED)
        throw Error(errno,
                    "mmap(offset=" + hex(mmap_offset) + ", size=" + std::to_string(size) + ")");
    return addr;
}

void DriverApi::unmap(void* addr, size_t size) const noexcept {
    os_->munmap(addr, size);
}

} // namespace npu
