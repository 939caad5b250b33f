#include "fake_os.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

namespace npu::testing {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kVaBase = 0x1'0000'0000;
} // namespace

struct FakeOs::Memory {
    explicit Memory(size_t bytes)
        : data(static_cast<std::byte*>(std::aligned_alloc(kPage, bytes))), size(bytes) {
        if (!data)
            throw std::bad_alloc();
        std::memset(data, 0, size);
    }
    ~Memory() { std::free(data); }
    Memory(const Memory&) = delete;
    Memory& operator=(const Memory&) = delete;
    std::byte* data;
    size_t size;
};

struct FakeOs::Bo {
    uint32_t handle = 0;
    uint64_t size = 0;
    uint32_t flags = 0;
    uint64_t va = 0;
    uint64_t mmap_offset = 0;
    std::shared_ptr<Memory> memory;
};

struct FakeOs::Job {
    uint32_t queue_id = 0;
    uint64_t seqno = 0;
    uint64_t cmd_addr = 0;
    uint32_t cmd_size = 0;
    std::vector<std::shared_ptr<Bo>> bos; // held like the kernel's job references
    bool done = false;
    uint32_t status = DRM_NPU_JOB_STATUS_OK;
    uint32_t err_offset = 0;
    uint64_t fault_addr = 0;
};

struct FakeOs::File {
    size_t device = 0;
    std::map<uint32_t, std::shared_ptr<Bo>> bos;
    uint32_t next_handle = 1;
    uint64_t next_va = kVaBase;
    uint64_t next_mmap_offset = 0x10000000;
    std::map<uint32_t, uint64_t> last_seqno; // per queue
    std::map<std::pair<uint32_t, uint64_t>, Job> jobs;
};

std::map<uint32_t, uint64_t> FakeDeviceConfig::default_params() {
    return {
        {DRM_NPU_PARAM_DEVICE_ID, 0x1110},        {DRM_NPU_PARAM_REVISION, 1},
        {DRM_NPU_PARAM_HW_VERSION, 0x00010000},   {DRM_NPU_PARAM_FW_VERSION, 0x000100}, // 0.1.0
        {DRM_NPU_PARAM_FW_ABI, 0x00010000},                                             // 1.0
        {DRM_NPU_PARAM_DEVMEM_SIZE, 62ull << 20}, {DRM_NPU_PARAM_ENGINE_COUNT, 4},
        {DRM_NPU_PARAM_QUEUE_COUNT, 4},           {DRM_NPU_PARAM_VA_SIZE, 1ull << 39},
        {DRM_NPU_PARAM_SERIAL, 0x5eed0001},       {DRM_NPU_PARAM_CONTEXT_ID, 1},
        {DRM_NPU_PARAM_MAX_CMD_SIZE, 64 * 1024},
    };
}

FakeOs::FakeOs() = default;
FakeOs::~FakeOs() = default;

void FakeOs::add_device(FakeDeviceConfig config) {
    std::lock_guard lock(mutex_);
    devices_.push_back(std::move(config));
}

void FakeOs::fail_next_ioctl(unsigned long request, int errnum) {
    std::lock_guard lock(mutex_);
    ioctl_failures_[request] = errnum;
}

void FakeOs::fail_next_mmap(int errnum) {
    std::lock_guard lock(mutex_);
    mmap_failure_ = errnum;
}

void FakeOs::hold_jobs(bool hold) {
    std::lock_guard lock(mutex_);
    hold_jobs_ = hold;
}

void FakeOs::release_jobs() {
    std::lock_guard lock(mutex_);
    for (auto& [fd, file] : files_)
        for (auto& [key, job] : file->jobs)
            if (!job.done)
                execute(*file, job);
}

size_t FakeOs::open_fds() const {
    std::lock_guard lock(mutex_);
    return files_.size();
}

size_t FakeOs::live_handles() const {
    std::lock_guard lock(mutex_);
    size_t count = 0;
    for (const auto& [fd, file] : files_)
        count += file->bos.size();
    return count;
}

size_t FakeOs::live_mappings() const {
    std::lock_guard lock(mutex_);
    return mappings_.size();
}

size_t FakeOs::bos_created() const {
    std::lock_guard lock(mutex_);
    return bos_created_;
}

size_t FakeOs::handles_dropped_by_close() const {
    std::lock_guard lock(mutex_);
    return handles_dropped_by_close_;
}

std::vector<SubmitRecord> FakeOs::submits() const {
    std::lock_guard lock(mutex_);
    return submits_;
}

std::byte* FakeOs::device_memory(int fd, uint64_t va, size_t size) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(fd);
    if (it == files_.end())
        return nullptr;
    for (auto& [handle, bo] : it->second->bos)
        if (va >= bo->va && va - bo->va <= bo->size && size <= bo->size - (va - bo->va))
            return bo->memory->data + (va - bo->va);
    return nullptr;
}

int FakeOs::open(const char* path, int /*flags*/) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < devices_.size(); ++i) {
        if (devices_[i].node != path)
            continue;
        if (devices_[i].deny_open) {
            errno = EACCES;
            return -1;
        }
        auto file = std::make_unique<File>();
        file->device = i;
        const int fd = next_fd_++;
        files_[fd] = std::move(file);
        return fd;
    }
    errno = ENOENT;
    return -1;
}

int FakeOs::close(int fd) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(fd);
    if (it == files_.end()) {
        errno = EBADF;
        return -1;
    }
    handles_dropped_by_close_ += it->second->bos.size();
    files_.erase(it);
    return 0;
}

int FakeOs::ioctl(int fd, unsigned long request, void* arg) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(fd);
    if (it == files_.end()) {
        errno = EBADF;
        return -1;
    }
    if (auto failure = ioctl_failures_.find(request); failure != ioctl_failures_.end()) {
        errno = failure->second;
        ioctl_failures_.erase(failure);
        return -1;
    }
    const int err = do_ioctl(*it->second, request, arg);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int FakeOs::do_ioctl(File& file, unsigned long request, void* arg) {
    switch (request) {
    case DRM_IOCTL_VERSION:
        return version(file, arg);
    case DRM_IOCTL_GEM_CLOSE:
        return gem_close(file, arg);
    case DRM_IOCTL_NPU_GET_PARAM:
        return get_param(file, arg);
    case DRM_IOCTL_NPU_BO_CREATE:
        return bo_create(file, arg);
    case DRM_IOCTL_NPU_BO_INFO:
        return bo_info(file, arg);
    case DRM_IOCTL_NPU_SUBMIT:
        return submit(file, arg);
    case DRM_IOCTL_NPU_WAIT:
        return wait(file, arg);
    default:
        return ENOTTY;
    }
}

int FakeOs::version(File& file, void* arg) {
    auto* v = static_cast<drm_version*>(arg);
    const std::string& name = devices_[file.device].drm_name;
    if (v->name && v->name_len)
        std::memcpy(v->name, name.data(), std::min(v->name_len, name.size()));
    v->name_len = name.size();
    v->date_len = 0;
    v->desc_len = 0;
    return 0;
}

int FakeOs::get_param(File& file, void* arg) {
    auto* p = static_cast<drm_npu_get_param*>(arg);
    if (p->pad)
        return EINVAL;
    const auto& params = devices_[file.device].params;
    auto it = params.find(p->param);
    if (it == params.end())
        return EINVAL;
    p->value = it->second;
    return 0;
}

int FakeOs::bo_create(File& file, void* arg) {
    auto* c = static_cast<drm_npu_bo_create*>(arg);
    if (c->size == 0 || (c->flags & ~DRM_NPU_BO_FLAGS) || c->handle || c->device_addr)
        return EINVAL;
    auto bo = std::make_shared<Bo>();
    bo->size = (c->size + kPage - 1) & ~(kPage - 1);
    bo->flags = c->flags;
    bo->handle = file.next_handle++;
    bo->va = file.next_va;
    file.next_va += bo->size + kPage; // an unmapped guard page between BOs
    bo->mmap_offset = file.next_mmap_offset;
    file.next_mmap_offset += bo->size;
    bo->memory = std::make_shared<Memory>(bo->size);
    c->handle = bo->handle;
    c->device_addr = bo->va;
    file.bos[bo->handle] = std::move(bo);
    ++bos_created_;
    return 0;
}

int FakeOs::bo_info(File& file, void* arg) {
    auto* info = static_cast<drm_npu_bo_info*>(arg);
    if (info->flags)
        return EINVAL;
    auto it = file.bos.find(info->handle);
    if (it == file.bos.end())
        return ENOENT;
    info->flags = it->second->flags;
    info->size = it->second->size;
    info->device_addr = it->second->va;
    info->mmap_offset = it->second->mmap_offset;
    return 0;
}

int FakeOs::gem_close(File& file, void* arg) {
    auto* close_args = static_cast<drm_gem_close*>(arg);
    if (close_args->pad)
        return EINVAL;
    return file.bos.erase(close_args->handle) ? 0 : EINVAL;
}

int FakeOs::submit(File& file, void* arg) {
    auto* s = static_cast<drm_npu_submit*>(arg);
    const auto& params = devices_[file.device].params;
    if (s->flags || s->pad || s->pad2 || s->in_syncobj_count || s->out_syncobj || s->seqno)
        return EINVAL;
    if (s->bo_count == 0 || s->bo_count > DRM_NPU_MAX_SUBMIT_BOS)
        return EINVAL;
    if (s->cmd_size == 0 || s->cmd_size % 8 || s->cmd_addr % 8 ||
        s->cmd_size > params.at(DRM_NPU_PARAM_MAX_CMD_SIZE))
        return EINVAL;
    if (s->queue_id >= params.at(DRM_NPU_PARAM_QUEUE_COUNT))
        return EINVAL;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the uapi carries pointers as u64
    const auto* handles = reinterpret_cast<const uint32_t*>(static_cast<uintptr_t>(s->bo_handles));
    Job job;
    job.queue_id = s->queue_id;
    job.cmd_addr = s->cmd_addr;
    job.cmd_size = s->cmd_size;
    for (uint32_t i = 0; i < s->bo_count; ++i) {
        auto it = file.bos.find(handles[i]);
        if (it == file.bos.end())
            return ENOENT;
        job.bos.push_back(it->second);
    }
    Bo* cmd = find_bo(job, s->cmd_addr, s->cmd_size);
    if (!cmd)
        return EINVAL;
    job.seqno = ++file.last_seqno[s->queue_id];
    s->seqno = job.seqno;

    SubmitRecord record;
    record.fd = -1;
    for (const auto& [fd, f] : files_)
        if (f.get() == &file)
            record.fd = fd;
    record.bo_handles.assign(handles, handles + s->bo_count);
    const std::byte* commands = cmd->memory->data + (s->cmd_addr - cmd->va);
    record.commands.assign(commands, commands + s->cmd_size);
    record.queue_id = s->queue_id;
    record.seqno = job.seqno;
    submits_.push_back(std::move(record));

    Job& stored = file.jobs[{job.queue_id, job.seqno}] = std::move(job);
    if (!hold_jobs_)
        execute(file, stored);
    return 0;
}

int FakeOs::wait(File& file, void* arg) {
    auto* w = static_cast<drm_npu_wait*>(arg);
    if (w->flags || w->job_status || w->err_offset || w->fault_addr)
        return EINVAL;
    auto it = file.jobs.find({w->queue_id, w->seqno});
    if (it == file.jobs.end())
        return EINVAL;
    if (!it->second.done)
        return ETIME; // the fake never blocks: every deadline has passed
    w->job_status = it->second.status;
    w->err_offset = it->second.err_offset;
    w->fault_addr = it->second.fault_addr;
    return 0;
}

FakeOs::Bo* FakeOs::find_bo(const Job& job, uint64_t va, uint64_t size) {
    for (const auto& bo : job.bos)
        if (va >= bo->va && va - bo->va < bo->size && size <= bo->size - (va - bo->va))
            return bo.get();
    return nullptr;
}

void FakeOs::execute(File& /*file*/, Job& job) {
    job.done = true;
    const Bo* cmd_bo = find_bo(job, job.cmd_addr, job.cmd_size);
    const std::byte* commands = cmd_bo->memory->data + (job.cmd_addr - cmd_bo->va);
    auto fail = [&job](uint32_t status, uint32_t offset, uint64_t fault = 0) {
        job.status = status;
        job.err_offset = offset;
        job.fault_addr = fault;
    };
    for (uint32_t offset = 0; offset < job.cmd_size;) {
        uint32_t header = 0;
        std::memcpy(&header, commands + offset, sizeof(header));
        const uint32_t bytes = NPU_PKT_DWORDS(header) * 4;
        if (NPU_PKT_MBZ(header) || bytes < 8 || bytes % 8 || bytes > job.cmd_size - offset)
            return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
        switch (NPU_PKT_OPCODE(header)) {
        case NPU_OP_NOP:
            break;
        case NPU_OP_FILL: {
            npu_pkt_fill p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            if (p.dst % 4 || p.size % 4)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            Bo* dst = find_bo(job, p.dst, p.size);
            if (!dst || (dst->flags & DRM_NPU_BO_DEVICE_READ_ONLY))
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
            std::byte* out = dst->memory->data + (p.dst - dst->va);
            for (uint64_t i = 0; i < p.size; i += 4)
                std::memcpy(out + i, &p.value, 4);
            break;
        }
        case NPU_OP_COPY: {
            npu_pkt_copy p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            if (p.mbz)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            const Bo* src = find_bo(job, p.src, p.size);
            if (!src)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.src);
            Bo* dst = find_bo(job, p.dst, p.size);
            if (!dst || (dst->flags & DRM_NPU_BO_DEVICE_READ_ONLY))
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
            std::memmove(dst->memory->data + (p.dst - dst->va),
                         src->memory->data + (p.src - src->va), p.size);
            break;
        }
        default: // TIMESTAMP, FENCE, WAIT_MEM: libnpu does not emit them yet
            return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
        }
        offset += bytes;
    }
}

void* FakeOs::mmap(void* /*addr*/, size_t length, int /*prot*/, int flags, int fd, off_t offset) {
    std::lock_guard lock(mutex_);
    if (mmap_failure_) {
        errno = std::exchange(mmap_failure_, 0);
        return MAP_FAILED;
    }
    auto it = files_.find(fd);
    if (it == files_.end()) {
        errno = EBADF;
        return MAP_FAILED;
    }
    if (!(flags & MAP_SHARED)) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    for (auto& [handle, bo] : it->second->bos) {
        if (bo->mmap_offset != static_cast<uint64_t>(offset))
            continue;
        if (length == 0 || length > bo->size) {
            errno = EINVAL;
            return MAP_FAILED;
        }
        void* addr = bo->memory->data;
        if (mappings_.count(addr)) { // the fake hands out one mapping per BO
            errno = EBUSY;
            return MAP_FAILED;
        }
        mappings_[addr] = {length, bo->memory};
        return addr;
    }
    errno = EINVAL;
    return MAP_FAILED;
}

int FakeOs::munmap(void* addr, size_t length) {
    std::lock_guard lock(mutex_);
    auto it = mappings_.find(addr);
    if (it == mappings_.end() || it->second.first != length) {
        errno = EINVAL; // stricter than Linux: catches unmapping the wrong range
        return -1;
    }
    mappings_.erase(it);
    return 0;
}

std::vector<DeviceNode> FakeOs::list_device_nodes() {
    std::lock_guard lock(mutex_);
    std::vector<DeviceNode> nodes;
    for (const auto& d : devices_)
        nodes.push_back({d.node, d.subsystem, d.pci_address, d.pci_driver});
    return nodes;
}

} // namespace npu::testing
