#include "fake_os.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <ctime>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

namespace npu::testing {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kVaBase = 0x1'0000'0000;
} // namespace

// Backed by a memfd, so that mmap at a fixed address (shared virtual
// addressing) maps the same pages as `data`.
struct FakeOs::Memory {
    explicit Memory(size_t bytes) : size(bytes) {
        memfd = ::memfd_create("fake-npu-bo", MFD_CLOEXEC);
        if (memfd < 0 || ::ftruncate(memfd, static_cast<off_t>(bytes)) != 0)
            throw std::bad_alloc();
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (p == MAP_FAILED)
            throw std::bad_alloc();
        data = static_cast<std::byte*>(p);
    }
    // Process memory (USERPTR): not owned.
    Memory(std::byte* external, size_t bytes) : data(external), size(bytes) {}
    ~Memory() {
        if (memfd < 0)
            return;
        ::munmap(data, size);
        ::close(memfd);
    }
    Memory(const Memory&) = delete;
    Memory& operator=(const Memory&) = delete;
    std::byte* data = nullptr;
    size_t size;
    int memfd = -1;
};

struct FakeOs::Bo {
    uint32_t handle = 0;
    uint64_t size = 0;
    uint32_t flags = 0;
    uint64_t va = 0;
    uint64_t mmap_offset = 0;
    std::shared_ptr<Memory> memory;
    struct Bind {
        uint64_t addr = 0;
        uint64_t offset = 0; // into the BO
        uint64_t size = 0;
    };
    std::vector<Bind> binds; // VM_BIND mappings
    // The BO's bytes at [va, va + bytes) through its own or a bound address.
    std::byte* at(uint64_t addr, uint64_t bytes) const {
        if (addr >= va && addr - va < size && bytes <= size - (addr - va))
            return memory->data + (addr - va);
        for (const Bind& b : binds)
            if (addr >= b.addr && addr - b.addr < b.size && bytes <= b.size - (addr - b.addr))
                return memory->data + b.offset + (addr - b.addr);
        return nullptr;
    }
};

struct FakeOs::Fence {
    bool signalled = false;
    std::vector<std::shared_ptr<Fence>> all_of; // a timeline point: every link up to it
    [[nodiscard]] bool done() const {
        if (all_of.empty())
            return signalled;
        return std::all_of(all_of.begin(), all_of.end(), [](const auto& f) { return f->done(); });
    }
};

struct FakeOs::Syncobj {
    std::shared_ptr<Fence> fence;                      // binary
    std::map<uint64_t, std::shared_ptr<Fence>> points; // timeline
};

struct FakeOs::ExtraFd {
    std::shared_ptr<Syncobj> syncobj; // a syncobj fd
    std::shared_ptr<Fence> sync_file; // or a sync_file
    std::shared_ptr<Memory> dmabuf;   // or a dma-buf
    uint32_t dmabuf_flags = 0;
};

struct FakeOs::Job {
    uint32_t queue_id = 0;
    bool held = false;
    uint32_t resume = 0; // offset of the next packet (after a blocked WAIT_MEM)
    // CALLed buffers entered and not returned from: where each is and the
    // next packet in it (the job's own buffer continues at resume).
    struct Frame {
        uint64_t va = 0;
        uint32_t size = 0;
        uint32_t at = 0;
    };
    std::vector<Frame> calls;
    std::vector<std::shared_ptr<Fence>> wait_for;
    std::shared_ptr<Fence> out = std::make_shared<Fence>();
    uint64_t seqno = 0;
    uint64_t cmd_addr = 0;
    uint32_t cmd_size = 0;
    std::vector<std::shared_ptr<Bo>> bos; // held like the kernel's job references
    bool done = false;
    uint32_t status = DRM_NPU_JOB_STATUS_OK;
    uint32_t err_offset = 0;
    uint64_t fault_addr = 0;
};

// A user-mode queue: its mapping (control page, doorbell page, ring) and
// the job running from it (blocked in WAIT_MEM).
struct FakeOs::UQueue {
    std::shared_ptr<Memory> memory;
    uint32_t entries = 0;
    uint64_t mmap_offset = 0;
    uint32_t state = DRM_NPU_UQUEUE_ACTIVE;
    uint32_t error = DRM_NPU_UQUEUE_ERR_NONE;
    uint64_t head = 0;
    std::unique_ptr<Job> running;
    std::vector<std::pair<uint64_t, std::shared_ptr<Fence>>> fences; // by seqno
    static constexpr uint64_t kRingOffset = 2 * 4096;
    static constexpr uint64_t kDoorbellOffset = 4096;
    drm_npu_uqueue_control* control() const {
        return reinterpret_cast<drm_npu_uqueue_control*>(memory->data);
    }
    drm_npu_uqueue_job* slot(uint64_t index) const {
        return reinterpret_cast<drm_npu_uqueue_job*>(memory->data + kRingOffset) + index % entries;
    }
    void signal_fences() {
        std::erase_if(fences, [this](const auto& f) {
            if (f.first > head && state == DRM_NPU_UQUEUE_ACTIVE)
                return false;
            f.second->signalled = true;
            return true;
        });
    }
};

struct FakeOs::File {
    size_t device = 0;
    std::map<uint32_t, std::shared_ptr<Bo>> bos;
    uint32_t next_handle = 1;
    uint64_t next_va = kVaBase;
    uint64_t next_mmap_offset = 0x10000000;
    std::map<uint32_t, uint64_t> last_seqno; // per queue
    std::map<std::pair<uint32_t, uint64_t>, Job> jobs;
    std::map<uint32_t, uint32_t> queues; // created queue id -> priority
    std::map<uint32_t, UQueue> uqueues;  // user-mode queues by id
    uint32_t next_uqueue = 1;
    std::map<uint32_t, std::shared_ptr<Syncobj>> syncobjs;
    uint32_t next_syncobj = 1;
    std::map<uint64_t, std::pair<uint64_t, std::weak_ptr<Bo>>> binds; // addr -> size, BO
    bool unplugged = false;
};

namespace {

int64_t now_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

template <typename T>
T* user_ptr(uint64_t address) {
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the uapi carries pointers as u64
    return reinterpret_cast<T*>(static_cast<uintptr_t>(address));
}

} // namespace

std::map<uint32_t, uint64_t> FakeDeviceConfig::default_params() {
    return {
        {DRM_NPU_PARAM_DEVICE_ID, 0x1110},
        {DRM_NPU_PARAM_REVISION, 1},
        {DRM_NPU_PARAM_HW_VERSION, 0x00010000},
        {DRM_NPU_PARAM_FW_VERSION, 0x000100}, // 0.1.0
        {DRM_NPU_PARAM_FW_ABI, 0x00010000},   // 1.0
        {DRM_NPU_PARAM_DEVMEM_SIZE, 62ull << 20},
        {DRM_NPU_PARAM_ENGINE_COUNT, 4},
        {DRM_NPU_PARAM_QUEUE_COUNT, 4},
        {DRM_NPU_PARAM_VA_SIZE, 1ull << 39},
        {DRM_NPU_PARAM_SERIAL, 0x5eed0001},
        {DRM_NPU_PARAM_CONTEXT_ID, 1},
        {DRM_NPU_PARAM_MAX_CMD_SIZE, 64 * 1024},
        {DRM_NPU_PARAM_VA_START, 16ull << 20},
        {DRM_NPU_PARAM_OP_MASK, (1ull << (NPU_OP_DATA_LAST + 1)) - 1}, // data movement, CALL
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
            job.held = false;
    pump();
}

void FakeOs::set_uqueue_entries(uint32_t entries) {
    std::lock_guard lock(mutex_);
    uqueue_entries_ = entries;
}

void FakeOs::run_user_queues() {
    std::lock_guard lock(mutex_);
    pump();
}

void FakeOs::stop_user_queues(uint32_t state, uint32_t error) {
    std::lock_guard lock(mutex_);
    for (auto& [fd, file] : files_) {
        for (auto& [id, q] : file->uqueues) {
            q.state = state;
            q.error = error;
            if (state == DRM_NPU_UQUEUE_STOPPED)
                std::atomic_ref<uint32_t>(q.control()->error)
                    .store(error, std::memory_order_release);
            q.signal_fences();
        }
    }
}

size_t FakeOs::live_uqueues() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [fd, file] : files_)
        n += file->uqueues.size();
    return n;
}

size_t FakeOs::user_jobs_run() const {
    std::lock_guard lock(mutex_);
    return user_jobs_run_;
}

void FakeOs::unplug(const std::string& node) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < devices_.size(); ++i) {
        if (devices_[i].node != node)
            continue;
        devices_[i].deny_open = true;
        devices_[i].pci_driver.clear(); // no longer listed as an npu
        for (auto& [fd, file] : files_) {
            if (file->device != i)
                continue;
            file->unplugged = true;
            for (auto& [key, job] : file->jobs) {
                if (job.done)
                    continue;
                job.done = true;
                job.status = DRM_NPU_JOB_STATUS_ABORTED;
                job.out->signalled = true;
            }
        }
    }
    pump();
}

size_t FakeOs::ioctl_count() const {
    std::lock_guard lock(mutex_);
    return ioctl_total_;
}

size_t FakeOs::ioctl_count(unsigned long request) const {
    std::lock_guard lock(mutex_);
    auto it = ioctl_counts_.find(request);
    return it == ioctl_counts_.end() ? 0 : it->second;
}

size_t FakeOs::live_queues() const {
    std::lock_guard lock(mutex_);
    size_t count = 0;
    for (const auto& [fd, file] : files_)
        count += file->queues.size();
    return count;
}

size_t FakeOs::live_syncobjs() const {
    std::lock_guard lock(mutex_);
    size_t count = 0;
    for (const auto& [fd, file] : files_)
        count += file->syncobjs.size();
    return count;
}

uint32_t FakeOs::queue_priority(int fd, uint32_t queue_id) const {
    std::lock_guard lock(mutex_);
    auto it = files_.find(fd);
    if (it == files_.end())
        return UINT32_MAX;
    if (queue_id == 0)
        return DRM_NPU_PRIORITY_NORMAL;
    auto queue = it->second->queues.find(queue_id);
    return queue == it->second->queues.end() ? UINT32_MAX : queue->second;
}

size_t FakeOs::open_fds() const {
    std::lock_guard lock(mutex_);
    return files_.size() + extra_fds_.size();
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

size_t FakeOs::binds_made() const {
    std::lock_guard lock(mutex_);
    return binds_made_;
}

size_t FakeOs::live_binds(int fd) const {
    std::lock_guard lock(mutex_);
    auto it = files_.find(fd);
    return it == files_.end() ? 0 : it->second->binds.size();
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
        if (std::byte* data = bo->at(va, size))
            return data;
    return nullptr;
}

int FakeOs::open(const char* path, int /*flags*/) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < devices_.size(); ++i) {
        if (devices_[i].node != path)
            continue;
        if (devices_[i].deny_open) {
            errno = devices_[i].pci_driver.empty() ? ENODEV : EACCES;
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
    if (extra_fds_.erase(fd))
        return 0;
    auto it = files_.find(fd);
    if (it == files_.end()) {
        errno = EBADF;
        return -1;
    }
    if (!it->second->unplugged) // after an unplug nothing can be closed
        handles_dropped_by_close_ += it->second->bos.size();
    files_.erase(it);
    return 0;
}

int FakeOs::ioctl(int fd, unsigned long request, void* arg) {
    Lock lock(mutex_);
    ++ioctl_total_;
    ++ioctl_counts_[request];
    auto it = files_.find(fd);
    if (it == files_.end()) {
        errno = EBADF;
        return -1;
    }
    if (it->second->unplugged) {
        errno = ENODEV;
        return -1;
    }
    if (auto failure = ioctl_failures_.find(request); failure != ioctl_failures_.end()) {
        errno = failure->second;
        ioctl_failures_.erase(failure);
        return -1;
    }
    const int err = do_ioctl(*it->second, request, arg, lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int FakeOs::do_ioctl(File& file, unsigned long request, void* arg, Lock& lock) {
    switch (request) {
    case DRM_IOCTL_NPU_QUEUE_CREATE:
        return queue_create(file, arg);
    case DRM_IOCTL_NPU_QUEUE_DESTROY:
        return queue_destroy(file, arg);
    case DRM_IOCTL_NPU_UQUEUE_CREATE:
    case DRM_IOCTL_NPU_UQUEUE_DESTROY:
    case DRM_IOCTL_NPU_UQUEUE_FENCE:
    case DRM_IOCTL_NPU_UQUEUE_QUERY:
        return uqueue_ioctl(file, request, arg);
    case DRM_IOCTL_SYNCOBJ_CREATE:
    case DRM_IOCTL_SYNCOBJ_DESTROY:
    case DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT:
    case DRM_IOCTL_SYNCOBJ_QUERY:
    case DRM_IOCTL_SYNCOBJ_TRANSFER:
    case DRM_IOCTL_SYNCOBJ_SIGNAL:
    case DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL:
    case DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD:
    case DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE:
        return syncobj_ioctl(file, request, arg, lock);
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
    case DRM_IOCTL_NPU_BO_SYNC:
        return bo_sync(file, arg);
    case DRM_IOCTL_NPU_SUBMIT:
        return submit(file, arg);
    case DRM_IOCTL_NPU_WAIT:
        return wait(file, arg, lock);
    case DRM_IOCTL_NPU_VM_BIND:
        return vm_bind(file, arg);
    case DRM_IOCTL_NPU_USERPTR:
        return userptr(file, arg);
    case DRM_IOCTL_PRIME_HANDLE_TO_FD:
    case DRM_IOCTL_PRIME_FD_TO_HANDLE:
        return prime(file, request, arg);
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

// The fake's memory is coherent: the kernel's checks, then nothing to do.
int FakeOs::bo_sync(File& file, void* arg) {
    auto* sync = static_cast<drm_npu_bo_sync*>(arg);
    if (sync->flags != DRM_NPU_BO_SYNC_TO_DEVICE && sync->flags != DRM_NPU_BO_SYNC_FROM_DEVICE)
        return EINVAL;
    if (!sync->size)
        return EINVAL;
    auto it = file.bos.find(sync->handle);
    if (it == file.bos.end())
        return ENOENT;
    const uint64_t size = it->second->size;
    if (sync->offset > size || sync->size > size - sync->offset)
        return EINVAL;
    return 0;
}

int FakeOs::vm_bind(File& file, void* arg) {
    auto* b = static_cast<drm_npu_vm_bind*>(arg);
    const auto& params = devices_[file.device].params;
    if (b->pad || b->addr % kPage || b->size % kPage || !b->size)
        return EINVAL;
    if (b->op == DRM_NPU_VM_BIND_OP_UNMAP) {
        if (b->flags || b->handle || b->bo_offset)
            return EINVAL;
        auto it = file.binds.find(b->addr);
        if (it == file.binds.end() || it->second.first != b->size)
            return ENOENT;
        if (auto bo = it->second.second.lock())
            std::erase_if(bo->binds, [b](const Bo::Bind& x) { return x.addr == b->addr; });
        file.binds.erase(it);
        return 0;
    }
    if (b->op != DRM_NPU_VM_BIND_OP_MAP || (b->flags & ~DRM_NPU_VM_BIND_FLAGS) ||
        b->bo_offset % kPage)
        return EINVAL;
    const uint64_t start = params.at(DRM_NPU_PARAM_VA_START);
    const uint64_t end = params.at(DRM_NPU_PARAM_VA_SIZE);
    if (b->addr < start || b->addr >= end || b->size > end - b->addr)
        return EINVAL;
    auto it = file.bos.find(b->handle);
    if (it == file.bos.end())
        return ENOENT;
    const auto& bo = it->second;
    if (b->bo_offset > bo->size || b->size > bo->size - b->bo_offset)
        return EINVAL;
    auto overlaps = [b](uint64_t a, uint64_t size) {
        return a < b->addr + b->size && b->addr < a + size;
    };
    for (const auto& [a, bound] : file.binds)
        if (overlaps(a, bound.first))
            return EBUSY;
    for (const auto& [h, other] : file.bos)
        if (overlaps(other->va, other->size + kPage))
            return EBUSY;
    bo->binds.push_back({b->addr, b->bo_offset, b->size});
    file.binds[b->addr] = {b->size, bo};
    ++binds_made_;
    return 0;
}

int FakeOs::userptr(File& file, void* arg) {
    auto* u = static_cast<drm_npu_userptr*>(arg);
    if ((u->flags & ~DRM_NPU_USERPTR_FLAGS) || u->handle || u->device_addr || !u->addr ||
        !u->size || u->addr % kPage || u->size % kPage || u->addr + u->size < u->addr)
        return EINVAL;
    auto bo = std::make_shared<Bo>();
    bo->memory = std::make_shared<Memory>(user_ptr<std::byte>(u->addr), u->size);
    bo->size = u->size;
    bo->flags = (u->flags & DRM_NPU_USERPTR_DEVICE_READ_ONLY) ? DRM_NPU_BO_DEVICE_READ_ONLY : 0;
    bo->handle = file.next_handle++;
    bo->va = file.next_va;
    file.next_va += bo->size + kPage;
    bo->mmap_offset = ~0ull; // not mappable through the file
    u->handle = bo->handle;
    u->device_addr = bo->va;
    file.bos[bo->handle] = std::move(bo);
    return 0;
}

int FakeOs::prime(File& file, unsigned long request, void* arg) {
    auto* h = static_cast<drm_prime_handle*>(arg);
    if (request == DRM_IOCTL_PRIME_HANDLE_TO_FD) {
        auto it = file.bos.find(h->handle);
        if (it == file.bos.end())
            return ENOENT;
        auto extra = std::make_unique<ExtraFd>();
        extra->dmabuf = it->second->memory;
        extra->dmabuf_flags = it->second->flags;
        h->fd = next_fd_++;
        extra_fds_[h->fd] = std::move(extra);
        return 0;
    }
    auto it = extra_fds_.find(h->fd);
    if (it == extra_fds_.end() || !it->second->dmabuf)
        return EBADF;
    // A new BO of this file on the same pages, as npu_prime.c does.
    auto bo = std::make_shared<Bo>();
    bo->memory = it->second->dmabuf;
    bo->size = bo->memory->size;
    bo->flags = it->second->dmabuf_flags;
    bo->handle = file.next_handle++;
    bo->va = file.next_va;
    file.next_va += bo->size + kPage;
    bo->mmap_offset = file.next_mmap_offset;
    file.next_mmap_offset += bo->size;
    h->handle = bo->handle;
    file.bos[bo->handle] = std::move(bo);
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
    // EXPLICIT_SYNC changes nothing here: jobs never wait for BOs.
    if (s->flags & ~DRM_NPU_SUBMIT_EXPLICIT_SYNC || s->pad || s->pad2 || s->seqno)
        return EINVAL;
    if (s->bo_count == 0 || s->bo_count > DRM_NPU_MAX_SUBMIT_BOS ||
        s->in_syncobj_count > DRM_NPU_MAX_IN_SYNCOBJS)
        return EINVAL;
    if (s->cmd_size == 0 || s->cmd_size % 8 || s->cmd_addr % 8 ||
        s->cmd_size > params.at(DRM_NPU_PARAM_MAX_CMD_SIZE))
        return EINVAL;
    if (s->queue_id != 0 && !file.queues.count(s->queue_id))
        return ENOENT;
    if (s->out_point && !s->out_syncobj)
        return EINVAL;
    const auto* handles = user_ptr<const uint32_t>(s->bo_handles);
    Job job;
    job.queue_id = s->queue_id;
    job.cmd_addr = s->cmd_addr;
    job.cmd_size = s->cmd_size;
    job.held = hold_jobs_;
    for (uint32_t i = 0; i < s->bo_count; ++i) {
        auto it = file.bos.find(handles[i]);
        if (it == file.bos.end())
            return ENOENT;
        if (std::find(job.bos.begin(), job.bos.end(), it->second) != job.bos.end())
            return EINVAL; // listed twice
        job.bos.push_back(it->second);
    }
    for (uint32_t i = 0; i < s->in_syncobj_count; ++i) {
        auto it = file.syncobjs.find(user_ptr<const uint32_t>(s->in_syncobjs)[i]);
        if (it == file.syncobjs.end())
            return ENOENT;
        const uint64_t point = s->in_points ? user_ptr<const uint64_t>(s->in_points)[i] : 0;
        auto fence = fence_for(*it->second, point);
        if (!fence)
            return EINVAL; // no WAIT_FOR_SUBMIT support: the fence must exist
        job.wait_for.push_back(std::move(fence));
    }
    std::shared_ptr<Syncobj> out;
    if (s->out_syncobj) {
        auto it = file.syncobjs.find(s->out_syncobj);
        if (it == file.syncobjs.end())
            return ENOENT;
        out = it->second;
    }
    // Like npu_job.c: the commands lie in a listed BO, at its own address
    // or a bound one.
    Bo* cmd = find_bo(job, s->cmd_addr, s->cmd_size);
    if (!cmd)
        return EINVAL;
    job.seqno = ++file.last_seqno[s->queue_id];
    s->seqno = job.seqno;
    if (out) {
        if (s->out_point)
            out->points[s->out_point] = job.out;
        else
            out->fence = job.out;
    }

    SubmitRecord record;
    record.fd = -1;
    for (const auto& [fd, f] : files_)
        if (f.get() == &file)
            record.fd = fd;
    record.bo_handles.assign(handles, handles + s->bo_count);
    const std::byte* commands = cmd->at(s->cmd_addr, s->cmd_size);
    record.commands.assign(commands, commands + s->cmd_size);
    record.queue_id = s->queue_id;
    record.seqno = job.seqno;
    record.flags = s->flags;
    record.in_fences = s->in_syncobj_count;
    submits_.push_back(std::move(record));

    file.jobs[{job.queue_id, job.seqno}] = std::move(job);
    pump();
    return 0;
}

bool FakeOs::poll_until(Lock& lock, int64_t deadline_ns) {
    if (now_ns() >= deadline_ns)
        return false;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    lock.lock();
    pump();
    return true;
}

int FakeOs::wait(File& file, void* arg, Lock& lock) {
    auto* w = static_cast<drm_npu_wait*>(arg);
    if (w->flags || w->job_status || w->err_offset || w->fault_addr)
        return EINVAL;
    const auto key = std::make_pair(w->queue_id, w->seqno);
    if (!file.jobs.count(key))
        return EINVAL;
    File* current = &file;
    const uint64_t file_id = reinterpret_cast<uintptr_t>(&file);
    for (;;) {
        const Job& job = current->jobs.at(key);
        if (job.done) {
            w->job_status = job.status;
            w->err_offset = job.err_offset;
            w->fault_addr = job.fault_addr;
            return 0;
        }
        if (job.held || !poll_until(lock, w->timeout_ns))
            return ETIME; // held jobs never finish by themselves: do not sleep
        current = nullptr;
        for (auto& [fd, f] : files_)
            if (reinterpret_cast<uintptr_t>(f.get()) == file_id)
                current = f.get();
        if (!current)
            return EBADF;
    }
}

int FakeOs::queue_create(File& file, void* arg) {
    auto* q = static_cast<drm_npu_queue_create*>(arg);
    if (q->flags || q->pad || q->queue_id || q->priority > DRM_NPU_PRIORITY_REALTIME)
        return EINVAL;
    const uint64_t count = devices_[file.device].params.at(DRM_NPU_PARAM_QUEUE_COUNT);
    for (uint32_t id = 1; id < count; ++id) {
        if (file.queues.count(id))
            continue;
        file.queues[id] = q->priority;
        q->queue_id = id;
        return 0;
    }
    return ENOSPC;
}

int FakeOs::queue_destroy(File& file, void* arg) {
    auto* q = static_cast<drm_npu_queue_destroy*>(arg);
    if (q->pad || q->queue_id == 0)
        return EINVAL;
    return file.queues.erase(q->queue_id) ? 0 : ENOENT;
}

int FakeOs::uqueue_ioctl(File& file, unsigned long request, void* arg) {
    auto find = [&file](uint32_t id) -> UQueue* {
        auto it = file.uqueues.find(id);
        return it == file.uqueues.end() ? nullptr : &it->second;
    };
    switch (request) {
    case DRM_IOCTL_NPU_UQUEUE_CREATE: {
        auto* c = static_cast<drm_npu_uqueue_create*>(arg);
        const auto& params = devices_[file.device].params;
        const auto count = params.find(DRM_NPU_PARAM_UQUEUE_COUNT);
        if (count == params.end() || count->second == 0)
            return EOPNOTSUPP;
        if (c->flags || c->priority > DRM_NPU_PRIORITY_REALTIME || c->uqueue_id)
            return EINVAL;
        if (c->eventfd != -1)
            return EBADF; // the fake has no eventfds
        if (file.uqueues.size() >= count->second)
            return ENOSPC;
        UQueue q;
        q.entries = uqueue_entries_;
        const size_t bytes = UQueue::kRingOffset + size_t{q.entries} * sizeof(drm_npu_uqueue_job);
        q.memory = std::make_shared<Memory>((bytes + kPage - 1) / kPage * kPage);
        q.mmap_offset = file.next_mmap_offset;
        file.next_mmap_offset += q.memory->size;
        c->uqueue_id = file.next_uqueue++;
        c->ring_entries = q.entries;
        c->ring_offset = UQueue::kRingOffset;
        c->doorbell_offset = UQueue::kDoorbellOffset;
        c->doorbell_value = c->uqueue_id;
        c->mmap_offset = q.mmap_offset;
        c->mmap_size = q.memory->size;
        file.uqueues.emplace(c->uqueue_id, std::move(q));
        return 0;
    }
    case DRM_IOCTL_NPU_UQUEUE_DESTROY: {
        auto* d = static_cast<drm_npu_uqueue_destroy*>(arg);
        if (d->pad)
            return EINVAL;
        UQueue* q = find(d->uqueue_id);
        if (!q)
            return ENOENT;
        q->state = DRM_NPU_UQUEUE_LOST;
        q->signal_fences();
        file.uqueues.erase(d->uqueue_id);
        return 0;
    }
    case DRM_IOCTL_NPU_UQUEUE_FENCE: {
        auto* f = static_cast<drm_npu_uqueue_fence*>(arg);
        if (f->flags || f->pad)
            return EINVAL;
        UQueue* q = find(f->uqueue_id);
        if (!q)
            return ENOENT;
        auto so = file.syncobjs.find(f->syncobj);
        if (so == file.syncobjs.end())
            return ENOENT;
        const uint32_t tail = std::atomic_ref<uint32_t>(q->control()->tail).load();
        if (f->seqno == 0 || f->seqno > tail)
            return EINVAL;
        // Like drm_syncobj_add_point: a timeline takes points in order.
        if (f->point && !so->second->points.empty() &&
            so->second->points.rbegin()->first >= f->point)
            return EINVAL;
        auto fence = std::make_shared<Fence>();
        q->fences.emplace_back(f->seqno, fence);
        q->signal_fences();
        if (f->point)
            so->second->points[f->point] = fence;
        else
            so->second->fence = fence;
        return 0;
    }
    case DRM_IOCTL_NPU_UQUEUE_QUERY: {
        auto* r = static_cast<drm_npu_uqueue_query*>(arg);
        UQueue* q = find(r->uqueue_id);
        if (!q)
            return ENOENT;
        r->state = q->state;
        r->error = q->error;
        r->hw_queue = 8 + r->uqueue_id;
        r->done_seqno = q->head;
        r->timeouts = 0;
        return 0;
    }
    default:
        return ENOTTY;
    }
}

bool FakeOs::pump_user_queues(File& file) {
    bool progress = false;
    const uint64_t max_cmd = devices_[file.device].params.at(DRM_NPU_PARAM_MAX_CMD_SIZE);
    for (auto& [id, q] : file.uqueues) {
        drm_npu_uqueue_control* control = q.control();
        while (q.state == DRM_NPU_UQUEUE_ACTIVE) {
            const uint32_t tail = std::atomic_ref<uint32_t>(control->tail).load();
            if (tail - static_cast<uint32_t>(q.head) > q.entries) {
                q.state = DRM_NPU_UQUEUE_STOPPED;
                q.error = DRM_NPU_UQUEUE_ERR_TAIL;
                std::atomic_ref<uint32_t>(control->error).store(q.error);
                q.signal_fences();
                break;
            }
            if (static_cast<uint32_t>(q.head) == tail)
                break;
            drm_npu_uqueue_job* slot = q.slot(q.head);
            if (!q.running) {
                q.running = std::make_unique<Job>();
                Job& job = *q.running;
                job.cmd_addr = slot->cmd_addr;
                job.cmd_size = slot->cmd_size;
                job.seqno = q.head + 1;
                for (const auto& [handle, bo] : file.bos) // the context's address space
                    job.bos.push_back(bo);
                if (!slot->cmd_size || slot->cmd_size % 8 || slot->cmd_size > max_cmd ||
                    slot->flags || slot->reserved) {
                    job.status = DRM_NPU_JOB_STATUS_BAD_PACKET;
                    job.done = true;
                } else if (!find_bo(job, job.cmd_addr, job.cmd_size)) {
                    job.status = DRM_NPU_JOB_STATUS_PAGE_FAULT;
                    job.fault_addr = job.cmd_addr;
                    job.done = true;
                }
            }
            Job& job = *q.running;
            if (!job.done && !run_job(job))
                break; // blocked in WAIT_MEM
            slot->seqno = job.seqno;
            slot->context_id =
                static_cast<uint32_t>(devices_[file.device].params.at(DRM_NPU_PARAM_CONTEXT_ID));
            slot->reserved0 = 0;
            slot->status = job.status;
            slot->err_offset = job.err_offset;
            slot->fault_addr = job.fault_addr;
            slot->busy_ns = 1000;
            q.running.reset();
            ++q.head;
            ++user_jobs_run_;
            std::atomic_ref<uint32_t>(control->head).store(static_cast<uint32_t>(q.head));
            std::atomic_ref<__u64>(control->done_seqno).store(q.head, std::memory_order_release);
            q.signal_fences();
            progress = true;
        }
    }
    return progress;
}

std::shared_ptr<FakeOs::Fence> FakeOs::fence_for(const Syncobj& syncobj, uint64_t point) {
    if (point == 0) {
        if (syncobj.fence)
            return syncobj.fence;
        if (syncobj.points.empty())
            return nullptr;
        point = syncobj.points.rbegin()->first; // a timeline's latest point
    }
    auto it = syncobj.points.lower_bound(point);
    if (it == syncobj.points.end())
        return nullptr;
    auto chain = std::make_shared<Fence>();
    for (auto link = syncobj.points.begin(); link != std::next(it); ++link)
        chain->all_of.push_back(link->second);
    return chain;
}

int FakeOs::syncobj_ioctl(File& file, unsigned long request, void* arg, Lock& lock) {
    auto find = [&file](uint32_t handle) -> std::shared_ptr<Syncobj> {
        auto it = file.syncobjs.find(handle);
        return it == file.syncobjs.end() ? nullptr : it->second;
    };
    auto new_fd = [this](std::unique_ptr<ExtraFd> extra) {
        const int fd = next_fd_++;
        extra_fds_[fd] = std::move(extra);
        return fd;
    };
    switch (request) {
    case DRM_IOCTL_SYNCOBJ_CREATE: {
        auto* c = static_cast<drm_syncobj_create*>(arg);
        if (c->flags & ~DRM_SYNCOBJ_CREATE_SIGNALED)
            return EINVAL;
        auto syncobj = std::make_shared<Syncobj>();
        if (c->flags & DRM_SYNCOBJ_CREATE_SIGNALED) {
            syncobj->fence = std::make_shared<Fence>();
            syncobj->fence->signalled = true;
        }
        c->handle = file.next_syncobj++;
        file.syncobjs[c->handle] = std::move(syncobj);
        return 0;
    }
    case DRM_IOCTL_SYNCOBJ_DESTROY: {
        auto* d = static_cast<drm_syncobj_destroy*>(arg);
        return d->pad || !file.syncobjs.erase(d->handle) ? EINVAL : 0;
    }
    case DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT: {
        auto* w = static_cast<drm_syncobj_timeline_wait*>(arg);
        if (w->flags & ~(DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) || w->count_handles == 0)
            return EINVAL;
        std::vector<std::shared_ptr<Fence>> fences;
        for (uint32_t i = 0; i < w->count_handles; ++i) {
            auto syncobj = find(user_ptr<const uint32_t>(w->handles)[i]);
            if (!syncobj)
                return ENOENT;
            auto fence = fence_for(*syncobj, user_ptr<const uint64_t>(w->points)[i]);
            if (!fence)
                return EINVAL;
            fences.push_back(std::move(fence));
        }
        for (;;) {
            if (std::all_of(fences.begin(), fences.end(), [](const auto& f) { return f->done(); }))
                return 0;
            if (!poll_until(lock, w->timeout_nsec))
                return ETIME;
        }
    }
    case DRM_IOCTL_SYNCOBJ_QUERY: {
        auto* q = static_cast<drm_syncobj_timeline_array*>(arg);
        if (q->flags)
            return EINVAL;
        for (uint32_t i = 0; i < q->count_handles; ++i) {
            auto syncobj = find(user_ptr<const uint32_t>(q->handles)[i]);
            if (!syncobj)
                return ENOENT;
            uint64_t signalled = 0;
            for (const auto& [point, fence] : syncobj->points) {
                if (!fence->done())
                    break;
                signalled = point;
            }
            user_ptr<uint64_t>(q->points)[i] = signalled;
        }
        return 0;
    }
    case DRM_IOCTL_SYNCOBJ_TRANSFER: {
        auto* t = static_cast<drm_syncobj_transfer*>(arg);
        auto src = find(t->src_handle);
        auto dst = find(t->dst_handle);
        if (!src || !dst)
            return ENOENT;
        if (t->flags || t->pad)
            return EINVAL;
        auto fence = fence_for(*src, t->src_point);
        if (!fence)
            return EINVAL;
        if (t->dst_point)
            dst->points[t->dst_point] = std::move(fence);
        else
            dst->fence = std::move(fence);
        return 0;
    }
    case DRM_IOCTL_SYNCOBJ_SIGNAL:
    case DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: {
        const bool timeline = request == DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL;
        auto* a = static_cast<drm_syncobj_timeline_array*>(arg); // drm_syncobj_array prefix
        const uint32_t count =
            timeline ? a->count_handles : static_cast<drm_syncobj_array*>(arg)->count_handles;
        const uint64_t handles =
            timeline ? a->handles : static_cast<drm_syncobj_array*>(arg)->handles;
        for (uint32_t i = 0; i < count; ++i) {
            auto syncobj = find(user_ptr<const uint32_t>(handles)[i]);
            if (!syncobj)
                return ENOENT;
            auto fence = std::make_shared<Fence>();
            fence->signalled = true;
            const uint64_t point = timeline ? user_ptr<const uint64_t>(a->points)[i] : 0;
            if (point)
                syncobj->points[point] = fence;
            else
                syncobj->fence = fence;
        }
        pump();
        return 0;
    }
    case DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: {
        auto* h = static_cast<drm_syncobj_handle*>(arg);
        auto syncobj = find(h->handle);
        if (!syncobj)
            return ENOENT;
        auto extra = std::make_unique<ExtraFd>();
        if (h->flags == DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE) {
            extra->sync_file = fence_for(*syncobj, 0);
            if (!extra->sync_file)
                return EINVAL;
        } else if (h->flags == 0) {
            extra->syncobj = syncobj;
        } else {
            return EINVAL;
        }
        h->fd = new_fd(std::move(extra));
        return 0;
    }
    case DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: {
        auto* h = static_cast<drm_syncobj_handle*>(arg);
        auto it = extra_fds_.find(h->fd);
        if (it == extra_fds_.end())
            return EINVAL;
        if (h->flags == DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE) {
            auto syncobj = find(h->handle);
            if (!syncobj)
                return ENOENT;
            if (!it->second->sync_file)
                return EINVAL;
            syncobj->fence = it->second->sync_file;
            return 0;
        }
        if (h->flags || h->handle || !it->second->syncobj)
            return EINVAL;
        h->handle = file.next_syncobj++;
        file.syncobjs[h->handle] = it->second->syncobj;
        return 0;
    }
    default:
        return ENOTTY;
    }
}

FakeOs::Bo* FakeOs::find_bo(const Job& job, uint64_t va, uint64_t size) {
    for (const auto& bo : job.bos)
        if (bo->at(va, size))
            return bo.get();
    return nullptr;
}

void FakeOs::pump() {
    for (bool progress = true; progress;) {
        progress = false;
        for (auto& [fd, file] : files_) {
            if (!hold_jobs_ && !file->unplugged && pump_user_queues(*file))
                progress = true;
            std::map<uint32_t, bool> queue_blocked;
            for (auto& [key, job] : file->jobs) {
                if (job.done || queue_blocked[key.first])
                    continue;
                queue_blocked[key.first] = true; // later jobs of the queue wait for this one
                if (job.held || !std::all_of(job.wait_for.begin(), job.wait_for.end(),
                                             [](const auto& f) { return f->done(); }))
                    continue;
                if (run_job(job)) {
                    job.done = true;
                    job.out->signalled = true;
                    queue_blocked[key.first] = false;
                    progress = true;
                }
            }
        }
    }
}

bool FakeOs::run_job(Job& job) {
    const Bo* cmd_bo = find_bo(job, job.cmd_addr, job.cmd_size);
    const std::byte* commands = cmd_bo->at(job.cmd_addr, job.cmd_size);
    // Inside a CALL, failures report the outermost CALL (npu_pkt_call).
    auto fail = [&job](uint32_t status, uint32_t offset, uint64_t fault = 0) {
        job.status = status;
        job.err_offset = job.calls.empty() ? offset : job.resume;
        job.fault_addr = fault;
        return true;
    };
    auto writable = [&job](uint64_t va, uint64_t size) -> std::byte* {
        Bo* bo = find_bo(job, va, size);
        if (!bo || (bo->flags & DRM_NPU_BO_DEVICE_READ_ONLY))
            return nullptr;
        return bo->at(va, size);
    };
    for (;;) {
        // offset: of the packet in the buffer being run (commands, size)
        uint32_t size = job.cmd_size;
        uint32_t& offset = job.calls.empty() ? job.resume : job.calls.back().at;
        if (!job.calls.empty()) {
            const Job::Frame& frame = job.calls.back();
            const Bo* bo = find_bo(job, frame.va, frame.size);
            if (!bo)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, 0, frame.va);
            commands = bo->at(frame.va, frame.size);
            size = frame.size;
        } else {
            commands = cmd_bo->at(job.cmd_addr, job.cmd_size);
        }
        if (offset >= size) {
            if (job.calls.empty())
                break;
            job.calls.pop_back(); // back after the CALL
            (job.calls.empty() ? job.resume : job.calls.back().at) += sizeof(npu_pkt_call);
            continue;
        }
        uint32_t header = 0;
        std::memcpy(&header, commands + offset, sizeof(header));
        const uint32_t bytes = NPU_PKT_DWORDS(header) * 4;
        if (NPU_PKT_MBZ(header) || bytes < 8 || bytes % 8 || bytes > size - offset)
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
            std::byte* out = writable(p.dst, p.size);
            if (!out)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
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
            std::byte* out = writable(p.dst, p.size);
            if (!out)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
            std::memmove(out, src->at(p.src, p.size), p.size);
            break;
        }
        case NPU_OP_TIMESTAMP: {
            npu_pkt_timestamp p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            std::byte* out = writable(p.dst, 8);
            if (p.mbz || p.dst % 8)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            if (!out)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
            const uint64_t now = static_cast<uint64_t>(now_ns());
            std::memcpy(out, &now, sizeof(now));
            break;
        }
        case NPU_OP_FENCE: {
            npu_pkt_fence p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            std::byte* out = writable(p.dst, 8);
            if (p.mbz || p.dst % 8)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            if (!out)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.dst);
            std::memcpy(out, &p.value, sizeof(p.value));
            break;
        }
        case NPU_OP_WAIT_MEM: {
            npu_pkt_wait_mem p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            if ((p.flags & ~NPU_WAIT_MEM_FLAGS) || p.addr % 8)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            Bo* bo = find_bo(job, p.addr, 8);
            if (!bo)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.addr);
            // The host writes this word concurrently (atomically).
            auto* word = reinterpret_cast<uint64_t*>(bo->at(p.addr, 8));
            const uint64_t value = std::atomic_ref<uint64_t>(*word).load(std::memory_order_acquire);
            if ((p.flags & NPU_WAIT_MEM_GE) ? value < p.value : value != p.value)
                return false; // offset stays at this packet
            break;
        }
        case NPU_OP_WRITE_MEM: {
            npu_pkt_write_mem p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            const bool narrow = p.flags & NPU_WRITE_MEM_32;
            if ((p.flags & ~NPU_WRITE_MEM_FLAGS) || p.addr % (narrow ? 4 : 8) ||
                (narrow && p.value >> 32))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::byte* out = writable(p.addr, narrow ? 4 : 8);
            if (!out)
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.addr);
            if (narrow)
                std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(out))
                    .store(static_cast<uint32_t>(p.value), std::memory_order_release);
            else
                std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(out))
                    .store(p.value, std::memory_order_release);
            break;
        }
        case NPU_OP_CALL: {
            npu_pkt_call p;
            if (bytes != sizeof(p))
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            std::memcpy(&p, commands + offset, sizeof(p));
            if (p.mbz || p.addr % 8 || !p.size || p.size % 8 || p.size > NPU_CALL_MAX_SIZE ||
                job.calls.size() >= NPU_CALL_MAX_DEPTH)
                return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
            if (!find_bo(job, p.addr, p.size))
                return fail(DRM_NPU_JOB_STATUS_PAGE_FAULT, offset, p.addr);
            job.calls.push_back({p.addr, static_cast<uint32_t>(p.size), 0});
            continue; // offset moves on when the call returns
        }
        default:
            return fail(DRM_NPU_JOB_STATUS_BAD_PACKET, offset);
        }
        offset += bytes;
    }
    return true;
}

void* FakeOs::mmap(void* at, size_t length, int prot, int flags, int fd, off_t offset) {
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
    if (it->second->unplugged) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    if (!(flags & MAP_SHARED)) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    for (auto& [id, q] : it->second->uqueues) {
        if (q.mmap_offset != static_cast<uint64_t>(offset))
            continue;
        if (length != q.memory->size || mappings_.count(q.memory->data)) {
            errno = EINVAL;
            return MAP_FAILED;
        }
        mappings_[q.memory->data] = {length, q.memory};
        return q.memory->data;
    }
    for (auto& [handle, bo] : it->second->bos) {
        if (bo->mmap_offset != static_cast<uint64_t>(offset))
            continue;
        if (length == 0 || length > bo->size) {
            errno = EINVAL;
            return MAP_FAILED;
        }
        if (flags & MAP_FIXED_NOREPLACE) { // a real mapping of the BO's pages at `at`
            void* addr =
                ::mmap(at, length, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, bo->memory->memfd, 0);
            if (addr == MAP_FAILED)
                return MAP_FAILED;
            mappings_[addr] = {length, bo->memory};
            return addr;
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
    if (addr != it->second.second->data)
        ::munmap(addr, length); // a fixed-address mapping
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
