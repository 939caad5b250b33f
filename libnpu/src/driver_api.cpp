#include "npu/driver_api.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "npu/error.hpp"

namespace npu {

namespace {

std::string hex(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

std::string str(uint64_t value) {
    return std::to_string(value);
}

} // namespace

DriverApi::DriverApi(std::shared_ptr<OsInterface> os, int fd) : os_(std::move(os)), fd_(fd) {}

template <typename Describe>
void DriverApi::call(unsigned long request, void* arg, Describe&& describe) const {
    if (lost())
        throw Error(ENODEV, describe() + " (device lost)");
    if (os_->ioctl(fd_, request, arg) == 0)
        return;
    const int err = errno;
    if (err == ENODEV)
        lost_->store(true, std::memory_order_release);
    throw Error(err, describe());
}

std::string DriverApi::driver_name() const {
    char name[64] = {};
    drm_version version{};
    version.name = name;
    version.name_len = sizeof(name) - 1;
    call(DRM_IOCTL_VERSION, &version, [] { return std::string("DRM_IOCTL_VERSION"); });
    const size_t length = std::min<size_t>(version.name_len, sizeof(name) - 1);
    return {name, length};
}

uint64_t DriverApi::get_param(uint32_t param) const {
    drm_npu_get_param args{};
    args.param = param;
    call(DRM_IOCTL_NPU_GET_PARAM, &args,
         [&] { return "DRM_IOCTL_NPU_GET_PARAM(param=" + str(param) + ")"; });
    return args.value;
}

drm_npu_bo_create DriverApi::bo_create(uint64_t size, uint32_t flags) const {
    drm_npu_bo_create args{};
    args.size = size;
    args.flags = flags;
    call(DRM_IOCTL_NPU_BO_CREATE, &args, [&] {
        return "DRM_IOCTL_NPU_BO_CREATE(size=" + str(size) + ", flags=" + hex(flags) + ")";
    });
    return args;
}

drm_npu_bo_info DriverApi::bo_info(uint32_t handle) const {
    drm_npu_bo_info args{};
    args.handle = handle;
    call(DRM_IOCTL_NPU_BO_INFO, &args,
         [&] { return "DRM_IOCTL_NPU_BO_INFO(handle=" + str(handle) + ")"; });
    return args;
}

void DriverApi::bo_sync(uint32_t handle, uint32_t flags, uint64_t offset, uint64_t size) const {
    drm_npu_bo_sync args{};
    args.handle = handle;
    args.flags = flags;
    args.offset = offset;
    args.size = size;
    call(DRM_IOCTL_NPU_BO_SYNC, &args, [&] {
        return "DRM_IOCTL_NPU_BO_SYNC(handle=" + str(handle) + ", flags=" + str(flags) +
               ", offset=" + str(offset) + ", size=" + str(size) + ")";
    });
}

void DriverApi::gem_close(uint32_t handle) const {
    drm_gem_close args{};
    args.handle = handle;
    call(DRM_IOCTL_GEM_CLOSE, &args,
         [&] { return "DRM_IOCTL_GEM_CLOSE(handle=" + str(handle) + ")"; });
}

uint64_t DriverApi::submit(std::span<const uint32_t> bo_handles, uint64_t cmd_addr,
                           uint32_t cmd_size, uint32_t queue_id) const {
    Submit args;
    args.bo_handles = bo_handles;
    args.cmd_addr = cmd_addr;
    args.cmd_size = cmd_size;
    args.queue_id = queue_id;
    return submit(args);
}

uint64_t DriverApi::submit(const Submit& submit) const {
    if (submit.bo_handles.size() > std::numeric_limits<uint32_t>::max() ||
        submit.wait_for.size() > DRM_NPU_MAX_IN_SYNCOBJS)
        throw Error(EINVAL, "DRM_IOCTL_NPU_SUBMIT: too many buffers or in-fences");
    std::vector<uint32_t> in_syncobjs;
    std::vector<uint64_t> in_points;
    bool timeline = false;
    for (const SyncPoint& in : submit.wait_for) {
        in_syncobjs.push_back(in.syncobj);
        in_points.push_back(in.point);
        timeline = timeline || in.point != 0;
    }
    drm_npu_submit args{};
    args.bo_handles = reinterpret_cast<uintptr_t>(submit.bo_handles.data());
    args.bo_count = static_cast<uint32_t>(submit.bo_handles.size());
    args.cmd_addr = submit.cmd_addr;
    args.cmd_size = submit.cmd_size;
    args.queue_id = submit.queue_id;
    args.flags = submit.flags;
    args.in_syncobj_count = static_cast<uint32_t>(in_syncobjs.size());
    if (!in_syncobjs.empty())
        args.in_syncobjs = reinterpret_cast<uintptr_t>(in_syncobjs.data());
    if (timeline)
        args.in_points = reinterpret_cast<uintptr_t>(in_points.data());
    args.out_syncobj = submit.signal.syncobj;
    args.out_point = submit.signal.syncobj ? submit.signal.point : 0;
    call(DRM_IOCTL_NPU_SUBMIT, &args, [&] {
        return "DRM_IOCTL_NPU_SUBMIT(queue=" + str(submit.queue_id) +
               ", cmd=" + hex(submit.cmd_addr) + "+" + str(submit.cmd_size) +
               ", bos=" + str(submit.bo_handles.size()) + ", in-fences=" + str(in_syncobjs.size()) +
               ")";
    });
    return args.seqno;
}

uint32_t DriverApi::queue_create(uint32_t priority) const {
    drm_npu_queue_create args{};
    args.priority = priority;
    call(DRM_IOCTL_NPU_QUEUE_CREATE, &args,
         [&] { return "DRM_IOCTL_NPU_QUEUE_CREATE(priority=" + str(priority) + ")"; });
    return args.queue_id;
}

void DriverApi::queue_destroy(uint32_t queue_id) const {
    drm_npu_queue_destroy args{};
    args.queue_id = queue_id;
    call(DRM_IOCTL_NPU_QUEUE_DESTROY, &args,
         [&] { return "DRM_IOCTL_NPU_QUEUE_DESTROY(queue=" + str(queue_id) + ")"; });
}

void DriverApi::uqueue_create(drm_npu_uqueue_create& args) const {
    call(DRM_IOCTL_NPU_UQUEUE_CREATE, &args,
         [&] { return "DRM_IOCTL_NPU_UQUEUE_CREATE(priority=" + str(args.priority) + ")"; });
}

void DriverApi::uqueue_destroy(uint32_t uqueue_id) const {
    drm_npu_uqueue_destroy args{};
    args.uqueue_id = uqueue_id;
    call(DRM_IOCTL_NPU_UQUEUE_DESTROY, &args,
         [&] { return "DRM_IOCTL_NPU_UQUEUE_DESTROY(uqueue=" + str(uqueue_id) + ")"; });
}

void DriverApi::uqueue_fence(uint32_t uqueue_id, SyncPoint where, uint64_t seqno) const {
    drm_npu_uqueue_fence args{};
    args.uqueue_id = uqueue_id;
    args.syncobj = where.syncobj;
    args.point = where.point;
    args.seqno = seqno;
    call(DRM_IOCTL_NPU_UQUEUE_FENCE, &args, [&] {
        return "DRM_IOCTL_NPU_UQUEUE_FENCE(uqueue=" + str(uqueue_id) +
               ", syncobj=" + str(where.syncobj) + ", point=" + str(where.point) +
               ", seqno=" + str(seqno) + ")";
    });
}

drm_npu_uqueue_query DriverApi::uqueue_query(uint32_t uqueue_id) const {
    drm_npu_uqueue_query args{};
    args.uqueue_id = uqueue_id;
    call(DRM_IOCTL_NPU_UQUEUE_QUERY, &args,
         [&] { return "DRM_IOCTL_NPU_UQUEUE_QUERY(uqueue=" + str(uqueue_id) + ")"; });
    return args;
}

std::optional<drm_npu_wait> DriverApi::wait(uint32_t queue_id, uint64_t seqno,
                                            int64_t deadline_ns) const {
    drm_npu_wait args{};
    args.seqno = seqno;
    args.timeout_ns = deadline_ns;
    args.queue_id = queue_id;
    try {
        call(DRM_IOCTL_NPU_WAIT, &args, [&] {
            return "DRM_IOCTL_NPU_WAIT(queue=" + str(queue_id) + ", seqno=" + str(seqno) + ")";
        });
    } catch (const Error& e) {
        if (e.errnum() == ETIME)
            return std::nullopt;
        throw;
    }
    return args;
}

uint32_t DriverApi::syncobj_create(uint32_t flags) const {
    drm_syncobj_create args{};
    args.flags = flags;
    call(DRM_IOCTL_SYNCOBJ_CREATE, &args, [] { return std::string("DRM_IOCTL_SYNCOBJ_CREATE"); });
    return args.handle;
}

void DriverApi::syncobj_destroy(uint32_t syncobj) const noexcept {
    if (lost())
        return; // the file's syncobjs go with it
    drm_syncobj_destroy args{};
    args.handle = syncobj;
    os_->ioctl(fd_, DRM_IOCTL_SYNCOBJ_DESTROY, &args);
}

bool DriverApi::syncobj_wait(SyncPoint what, int64_t deadline_ns) const {
    drm_syncobj_timeline_wait args{};
    args.handles = reinterpret_cast<uintptr_t>(&what.syncobj);
    args.points = reinterpret_cast<uintptr_t>(&what.point);
    args.count_handles = 1;
    args.timeout_nsec = deadline_ns;
    args.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
    try {
        call(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &args, [&] {
            return "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT(syncobj=" + str(what.syncobj) +
                   ", point=" + str(what.point) + ")";
        });
    } catch (const Error& e) {
        if (e.errnum() == ETIME)
            return false;
        throw;
    }
    return true;
}

uint64_t DriverApi::syncobj_query(uint32_t syncobj) const {
    uint64_t point = 0;
    drm_syncobj_timeline_array args{};
    args.handles = reinterpret_cast<uintptr_t>(&syncobj);
    args.points = reinterpret_cast<uintptr_t>(&point);
    args.count_handles = 1;
    call(DRM_IOCTL_SYNCOBJ_QUERY, &args,
         [&] { return "DRM_IOCTL_SYNCOBJ_QUERY(syncobj=" + str(syncobj) + ")"; });
    return point;
}

void DriverApi::syncobj_transfer(SyncPoint src, SyncPoint dst) const {
    drm_syncobj_transfer args{};
    args.src_handle = src.syncobj;
    args.src_point = src.point;
    args.dst_handle = dst.syncobj;
    args.dst_point = dst.point;
    call(DRM_IOCTL_SYNCOBJ_TRANSFER, &args, [&] {
        return "DRM_IOCTL_SYNCOBJ_TRANSFER(" + str(src.syncobj) + ":" + str(src.point) + " -> " +
               str(dst.syncobj) + ":" + str(dst.point) + ")";
    });
}

void DriverApi::syncobj_signal(SyncPoint what) const {
    drm_syncobj_timeline_array args{};
    args.handles = reinterpret_cast<uintptr_t>(&what.syncobj);
    args.points = reinterpret_cast<uintptr_t>(&what.point);
    args.count_handles = 1;
    if (what.point != 0) {
        call(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &args, [&] {
            return "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL(syncobj=" + str(what.syncobj) +
                   ", point=" + str(what.point) + ")";
        });
        return;
    }
    drm_syncobj_array binary{};
    binary.handles = args.handles;
    binary.count_handles = 1;
    call(DRM_IOCTL_SYNCOBJ_SIGNAL, &binary,
         [&] { return "DRM_IOCTL_SYNCOBJ_SIGNAL(syncobj=" + str(what.syncobj) + ")"; });
}

int DriverApi::syncobj_export(uint32_t syncobj, bool sync_file) const {
    drm_syncobj_handle args{};
    args.handle = syncobj;
    args.flags = sync_file ? DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE : 0;
    args.fd = -1;
    call(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &args, [&] {
        return "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD(syncobj=" + str(syncobj) +
               (sync_file ? ", sync_file)" : ")");
    });
    return args.fd;
}

uint32_t DriverApi::syncobj_import(int syncobj_fd) const {
    drm_syncobj_handle args{};
    args.fd = syncobj_fd;
    call(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &args,
         [&] { return "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE(fd=" + str(syncobj_fd) + ")"; });
    return args.handle;
}

void DriverApi::syncobj_import_sync_file(uint32_t syncobj, int sync_file_fd) const {
    drm_syncobj_handle args{};
    args.handle = syncobj;
    args.fd = sync_file_fd;
    args.flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
    call(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &args, [&] {
        return "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE(syncobj=" + str(syncobj) +
               ", sync_file=" + str(sync_file_fd) + ")";
    });
}

void* DriverApi::map(uint64_t mmap_offset, size_t size) const {
    if (lost())
        throw Error(ENODEV, "mmap (device lost)");
    void* addr = os_->mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                           static_cast<off_t>(mmap_offset));
    if (addr == MAP_FAILED)
        throw Error(errno,
                    "mmap(offset=" + hex(mmap_offset) + ", size=" + std::to_string(size) + ")");
    return addr;
}

void* DriverApi::map_at(void* addr, uint64_t mmap_offset, size_t size) const {
    if (lost())
        throw Error(ENODEV, "mmap (device lost)");
    void* got = os_->mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd_,
                          static_cast<off_t>(mmap_offset));
    if (got == MAP_FAILED)
        throw Error(errno, "mmap(at=" + hex(reinterpret_cast<uintptr_t>(addr)) + ", offset=" +
                               hex(mmap_offset) + ", size=" + std::to_string(size) + ")");
    if (got != addr) { // a kernel before 4.17 took the address as a hint
        os_->munmap(got, size);
        throw Error(EEXIST, "mmap(at=" + hex(reinterpret_cast<uintptr_t>(addr)) +
                                "): MAP_FIXED_NOREPLACE not honoured");
    }
    return got;
}

void DriverApi::vm_bind(uint32_t handle, uint64_t bo_offset, uint64_t addr, uint64_t size,
                        uint32_t flags) const {
    drm_npu_vm_bind args{};
    args.op = DRM_NPU_VM_BIND_OP_MAP;
    args.flags = flags;
    args.handle = handle;
    args.bo_offset = bo_offset;
    args.addr = addr;
    args.size = size;
    call(DRM_IOCTL_NPU_VM_BIND, &args, [&] {
        return "DRM_IOCTL_NPU_VM_BIND(MAP, handle=" + str(handle) + ", addr=" + hex(addr) +
               ", size=" + str(size) + ")";
    });
}

void DriverApi::vm_unbind(uint64_t addr, uint64_t size) const {
    drm_npu_vm_bind args{};
    args.op = DRM_NPU_VM_BIND_OP_UNMAP;
    args.addr = addr;
    args.size = size;
    call(DRM_IOCTL_NPU_VM_BIND, &args, [&] {
        return "DRM_IOCTL_NPU_VM_BIND(UNMAP, addr=" + hex(addr) + ", size=" + str(size) + ")";
    });
}

int DriverApi::prime_export(uint32_t handle) const {
    drm_prime_handle args{};
    args.handle = handle;
    args.flags = DRM_CLOEXEC | DRM_RDWR;
    args.fd = -1;
    call(DRM_IOCTL_PRIME_HANDLE_TO_FD, &args,
         [&] { return "DRM_IOCTL_PRIME_HANDLE_TO_FD(handle=" + str(handle) + ")"; });
    return args.fd;
}

drm_npu_userptr DriverApi::userptr(uint64_t addr, uint64_t size, uint32_t flags) const {
    drm_npu_userptr args{};
    args.addr = addr;
    args.size = size;
    args.flags = flags;
    call(DRM_IOCTL_NPU_USERPTR, &args, [&] {
        return "DRM_IOCTL_NPU_USERPTR(addr=" + hex(addr) + ", size=" + str(size) +
               ", flags=" + hex(flags) + ")";
    });
    return args;
}

uint32_t DriverApi::prime_import(int dmabuf_fd) const {
    drm_prime_handle args{};
    args.fd = dmabuf_fd;
    call(DRM_IOCTL_PRIME_FD_TO_HANDLE, &args,
         [&] { return "DRM_IOCTL_PRIME_FD_TO_HANDLE(fd=" + str(dmabuf_fd) + ")"; });
    return args.handle;
}

void DriverApi::unmap(void* addr, size_t size) const noexcept {
    os_->munmap(addr, size);
}

} // namespace npu
