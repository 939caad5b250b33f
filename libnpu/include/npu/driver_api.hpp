// DriverApi: one method per ioctl of uapi/drm/npu_accel.h (plus the generic
// DRM ones libnpu needs: VERSION, GEM_CLOSE, SYNCOBJ_*), all through an
// OsInterface. Methods throw npu::Error naming the ioctl; nothing above this
// layer calls ioctl().
//
// Hot-unplug: once any ioctl fails with ENODEV the device is marked lost and
// every later method (on this object and its copies) throws Error(ENODEV)
// without entering the kernel. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <npu/uapi/drm/npu_accel.h>

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
    // DRM_IOCTL_NPU_BO_SYNC of [offset, offset + size): flags
    // DRM_NPU_BO_SYNC_TO_DEVICE after the CPU wrote words a running job
    // reads, DRM_NPU_BO_SYNC_FROM_DEVICE before it reads words a running job
    // wrote. Needed under bounce buffers; costs only the ioctl elsewhere.
    void bo_sync(uint32_t handle, uint32_t flags, uint64_t offset, uint64_t size) const;
    // DRM_IOCTL_GEM_CLOSE
    void gem_close(uint32_t handle) const;
    // DRM_IOCTL_NPU_SUBMIT: returns the job's seqno.
    [[nodiscard]] uint64_t submit(std::span<const uint32_t> bo_handles, uint64_t cmd_addr,
                                  uint32_t cmd_size, uint32_t queue_id) const;
    // A syncobj and timeline point (0 = binary syncobj / its current fence).
    struct SyncPoint {
        uint32_t syncobj = 0;
        uint64_t point = 0;
    };
    struct Submit {
        std::span<const uint32_t> bo_handles; // the command BO among them
        uint64_t cmd_addr = 0;
        uint32_t cmd_size = 0;
        uint32_t queue_id = 0;
        std::span<const SyncPoint> wait_for; // in-fences
        SyncPoint signal;                    // out-fence; syncobj 0 = none
        uint32_t flags = 0;                  // DRM_NPU_SUBMIT_*
    };
    // DRM_IOCTL_NPU_SUBMIT with in- and out-syncobjs: returns the seqno.
    [[nodiscard]] uint64_t submit(const Submit& submit) const;
    // DRM_IOCTL_NPU_QUEUE_CREATE: the new queue's id.
    [[nodiscard]] uint32_t queue_create(uint32_t priority) const;
    // DRM_IOCTL_NPU_QUEUE_DESTROY
    void queue_destroy(uint32_t queue_id) const;
    // DRM_IOCTL_NPU_UQUEUE_CREATE (args in/out), _DESTROY, _FENCE, _QUERY.
    void uqueue_create(drm_npu_uqueue_create& args) const;
    void uqueue_destroy(uint32_t uqueue_id) const;
    void uqueue_fence(uint32_t uqueue_id, SyncPoint where, uint64_t seqno) const;
    [[nodiscard]] drm_npu_uqueue_query uqueue_query(uint32_t uqueue_id) const;

    // DRM_IOCTL_SYNCOBJ_CREATE (flags DRM_SYNCOBJ_CREATE_*) / _DESTROY
    [[nodiscard]] uint32_t syncobj_create(uint32_t flags = 0) const;
    void syncobj_destroy(uint32_t syncobj) const noexcept;
    // DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT for one point (0 on a binary syncobj)
    // until an absolute CLOCK_MONOTONIC deadline: false if it passed first.
    [[nodiscard]] bool syncobj_wait(SyncPoint what, int64_t deadline_ns) const;
    // DRM_IOCTL_SYNCOBJ_QUERY: the last signalled point of a timeline.
    [[nodiscard]] uint64_t syncobj_query(uint32_t syncobj) const;
    // DRM_IOCTL_SYNCOBJ_TRANSFER: makes dst's fence (point) src's fence (point).
    void syncobj_transfer(SyncPoint src, SyncPoint dst) const;
    // DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL (point 0: DRM_IOCTL_SYNCOBJ_SIGNAL)
    void syncobj_signal(SyncPoint what) const;
    // DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: the syncobj itself, or with
    // sync_file = true its current fence as a sync_file. Caller closes the fd.
    [[nodiscard]] int syncobj_export(uint32_t syncobj, bool sync_file) const;
    // DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: imports a syncobj fd (new handle).
    [[nodiscard]] uint32_t syncobj_import(int syncobj_fd) const;
    // DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE with IMPORT_SYNC_FILE: the sync_file's
    // fence replaces syncobj's fence.
    void syncobj_import_sync_file(uint32_t syncobj, int sync_file_fd) const;

    // Whether an ioctl reported the device gone (ENODEV).
    [[nodiscard]] bool lost() const noexcept { return lost_->load(std::memory_order_acquire); }
    // DRM_IOCTL_NPU_WAIT with an absolute CLOCK_MONOTONIC deadline: the
    // result once the job is done, std::nullopt if the deadline passed.
    [[nodiscard]] std::optional<drm_npu_wait> wait(uint32_t queue_id, uint64_t seqno,
                                                   int64_t deadline_ns) const;

    // mmap/munmap of a BO through its BO_INFO offset.
    [[nodiscard]] void* map(uint64_t mmap_offset, size_t size) const;
    // mmap of a BO exactly at addr (MAP_FIXED_NOREPLACE): EEXIST if the
    // range is taken; on kernels that take the flag as a hint, a mapping
    // elsewhere is undone and reported as EEXIST too.
    [[nodiscard]] void* map_at(void* addr, uint64_t mmap_offset, size_t size) const;
    // DRM_IOCTL_NPU_VM_BIND: maps [bo_offset, +size) of handle at addr /
    // removes the mapping at [addr, +size).
    void vm_bind(uint32_t handle, uint64_t bo_offset, uint64_t addr, uint64_t size,
                 uint32_t flags) const;
    void vm_unbind(uint64_t addr, uint64_t size) const;
    // DRM_IOCTL_PRIME_HANDLE_TO_FD (DRM_CLOEXEC | DRM_RDWR): a dma-buf fd of
    // the BO; the caller closes it.
    [[nodiscard]] int prime_export(uint32_t handle) const;
    // DRM_IOCTL_NPU_USERPTR: a BO of the process pages [addr, addr + size).
    [[nodiscard]] drm_npu_userptr userptr(uint64_t addr, uint64_t size, uint32_t flags) const;
    // DRM_IOCTL_PRIME_FD_TO_HANDLE: the BO of a dma-buf in this file.
    [[nodiscard]] uint32_t prime_import(int dmabuf_fd) const;
    void unmap(void* addr, size_t size) const noexcept;

private:
    // Runs the ioctl; on failure throws Error(errno, describe()), marking the
    // device lost on ENODEV. Throws ENODEV at once on a lost device.
    template <typename Describe>
    void call(unsigned long request, void* arg, Describe&& describe) const;

    std::shared_ptr<OsInterface> os_;
    int fd_;
    std::shared_ptr<std::atomic<bool>> lost_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace npu
