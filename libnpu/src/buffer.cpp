#include "npu/buffer.hpp"

#include <cerrno>
#include <string>
#include <utility>

#include "address_map.hpp"
#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/error.hpp"
#include "pool_state.hpp"

namespace npu {

namespace detail {

namespace {

constexpr int kAddressAttempts = 64;
// Refusals by the host's mmap in a row after which the main window is taken
// to be unusable in this process (see VaAllocator).
constexpr int kHostRefusalsBeforeFallback = 8;

// A driver without VM_BIND does not know DRM_NPU_PARAM_VA_START.
void check_sva(DeviceState& device) {
    std::call_once(device.sva_checked, [&device] {
        try {
            (void)device.api.get_param(DRM_NPU_PARAM_VA_START);
        } catch (const Error& e) {
            if (e.errnum() != EINVAL)
                throw;
            throw Error(ENOTSUP, device.info.node +
                                     ": the npu driver lacks DRM_IOCTL_NPU_VM_BIND (shared "
                                     "virtual addressing); libnpu needs a newer npu.ko");
        }
    });
}

bool address_taken(int errnum) {
    // EEXIST: the host has something there; EBUSY: the device's address
    // space has (the driver still tearing down an old range, or a BO whose
    // address BO_CREATE chose).
    return errnum == EEXIST || errnum == EBUSY;
}

} // namespace

void BoStorage::publish(uint64_t host_addr) {
    device->addresses.insert(device_addr, size, this);
    process_addresses().insert(host_addr, size, this);
    published = true;
    device->bo_bytes += size;
}

void BoStorage::bind_at_new_address(uint64_t mmap_offset) {
    const DriverApi& api = device->api;
    const uint32_t bind_flags =
        (flags & DRM_NPU_BO_DEVICE_READ_ONLY) ? DRM_NPU_VM_BIND_READ_ONLY : 0;
    int host_refusals = 0; // in a row
    for (int attempt = 0; attempt < kAddressAttempts; ++attempt) {
        if (host_refusals == kHostRefusalsBeforeFallback && process_va().use_fallback_window())
            host_refusals = 0;
        const uint64_t addr = process_va().allocate(size);
        if (!addr)
            throw Error(ENOMEM, "no free address range of " + std::to_string(size) +
                                    " bytes left for shared virtual addressing");
        // NOLINTNEXTLINE(performance-no-int-to-ptr): the address is the pointer
        void* want = reinterpret_cast<void*>(static_cast<uintptr_t>(addr));
        if (mmap_offset != UINT64_MAX) {
            try {
                host = api.map_at(want, mmap_offset, size);
            } catch (const Error& e) {
                if (!address_taken(e.errnum())) {
                    process_va().free(addr, size);
                    throw;
                }
                ++host_refusals;
                continue; // leave the taken range allocated: never try it again
            }
            host_refusals = 0;
            mapped = true;
        }
        try {
            api.vm_bind(handle, 0, addr, size, bind_flags);
        } catch (const Error& e) {
            if (mapped) {
                api.unmap(host, size);
                mapped = false;
                host = nullptr;
            }
            if (!address_taken(e.errnum())) {
                process_va().free(addr, size);
                throw;
            }
            continue;
        }
        device_addr = addr;
        owns_va = true;
        bound = true;
        return;
    }
    throw Error(EBUSY, "no address range free on both the host and the device after " +
                           std::to_string(kAddressAttempts) + " attempts");
}

BoStorage::BoStorage(std::shared_ptr<DeviceState> device_state, size_t bytes, uint32_t bo_flags,
                     MemoryKind memory_kind)
    : device(std::move(device_state)), flags(bo_flags), kind(memory_kind) {
    check_sva(*device);
    const DriverApi& api = device->api;
    handle = api.bo_create(bytes, bo_flags).handle;
    try {
        const drm_npu_bo_info info = api.bo_info(handle);
        size = info.size;
        bind_at_new_address(info.mmap_offset);
        publish(device_addr);
    } catch (...) {
        release();
        throw;
    }
}

BoStorage::BoStorage(std::shared_ptr<DeviceState> device_state, int dmabuf_fd, Import)
    : device(std::move(device_state)), kind(MemoryKind::imported) {
    check_sva(*device);
    const DriverApi& api = device->api;
    handle = api.prime_import(dmabuf_fd);
    try {
        const drm_npu_bo_info info = api.bo_info(handle);
        size = info.size;
        flags = info.flags;
        bind_at_new_address(info.mmap_offset);
        publish(device_addr);
    } catch (...) {
        release();
        throw;
    }
}

BoStorage::BoStorage(std::shared_ptr<DeviceState> device_state, const BoStorage& source, Peer)
    : device(std::move(device_state)), host(source.host), size(source.size),
      device_addr(source.device_addr), flags(source.flags), kind(source.kind) {
    check_sva(*device);
    const DriverApi& api = device->api;
    const int fd = source.device->api.prime_export(source.handle);
    try {
        handle = api.prime_import(fd);
    } catch (...) {
        api.os().close(fd);
        throw;
    }
    api.os().close(fd);
    try {
        const uint32_t bind_flags =
            (flags & DRM_NPU_BO_DEVICE_READ_ONLY) ? DRM_NPU_VM_BIND_READ_ONLY : 0;
        api.vm_bind(handle, 0, device_addr, size, bind_flags);
        bound = true;
        device->addresses.insert(device_addr, size, this);
    } catch (...) {
        release();
        throw;
    }
}

BoStorage::BoStorage(std::shared_ptr<DeviceState> device_state, void* memory, size_t bytes,
                     bool read_only, Register)
    : device(std::move(device_state)), host(memory), size(bytes),
      flags(read_only ? DRM_NPU_BO_DEVICE_READ_ONLY : 0), kind(MemoryKind::registered) {
    check_sva(*device);
    const DriverApi& api = device->api;
    const uint64_t addr = reinterpret_cast<uintptr_t>(memory);
    const drm_npu_userptr created =
        api.userptr(addr, bytes, read_only ? DRM_NPU_USERPTR_DEVICE_READ_ONLY : 0);
    handle = created.handle;
    device_addr = created.device_addr;
    try {
        if (addr >= api.get_param(DRM_NPU_PARAM_VA_START) && addr + bytes <= VaAllocator::kVaHigh) {
            try { // one pointer for host and device where the address fits
                api.vm_bind(handle, 0, addr, bytes, read_only ? DRM_NPU_VM_BIND_READ_ONLY : 0);
                device_addr = addr;
                bound = true;
            } catch (const Error& e) {
                if (!address_taken(e.errnum()))
                    throw;
            }
        }
        publish(addr);
    } catch (...) {
        release();
        throw;
    }
}

std::shared_ptr<BoStorage> BoStorage::peer(const std::shared_ptr<DeviceState>& other) {
    if (other == device)
        return shared_from_this();
    const std::lock_guard lock(peers_mutex);
    for (const auto& p : peers)
        if (p->device == other)
            return p;
    peers.push_back(std::make_shared<BoStorage>(other, *this, Peer{}));
    return peers.back();
}

void BoStorage::release() noexcept {
    {
        const std::lock_guard lock(peers_mutex);
        peers.clear(); // unbinds this BO from the other devices
    }
    if (published && !bound) // registered memory at the address USERPTR chose
        device->addresses.erase(device_addr);
    if (bound) {
        device->addresses.erase(device_addr);
        // Jobs already submitted keep the pages: the driver tears the
        // mapping down once they finished.
        try {
            device->api.vm_unbind(device_addr, size);
        } catch (const Error&) { // device lost: the address space is gone
        }
    }
    if (published)
        process_addresses().erase(reinterpret_cast<uintptr_t>(host));
    if (mapped)
        device->api.unmap(host, size);
    if (handle) {
        try {
            device->api.gem_close(handle);
        } catch (const Error&) { // nothing sensible to do (device lost)
        }
    }
    if (published)
        device->bo_bytes -= size;
    if (owns_va)
        process_va().free(device_addr, size);
}

BoStorage::~BoStorage() {
    release();
}

} // namespace detail

Buffer::Buffer(const Device& device, size_t size, BufferFlags flags, BufferKind kind)
    : device_(device.state_), size_(size), flags_(flags), kind_(kind) {
    if (size == 0)
        throw Error(EINVAL, "create buffer of size 0");
    bo_ = std::make_shared<detail::BoStorage>(
        device_, size, static_cast<uint32_t>(flags),
        kind == BufferKind::host_pinned ? MemoryKind::host_pinned : MemoryKind::device);
    host_ = bo_->host;
    allocated_size_ = bo_->size;
    device_addr_ = bo_->device_addr;
    handle_ = bo_->handle;
}

Buffer::~Buffer() {
    release();
}

Buffer::Buffer(Buffer&& other) noexcept
    : device_(std::move(other.device_)), bo_(std::move(other.bo_)), pool_(std::move(other.pool_)),
      host_(std::exchange(other.host_, nullptr)), offset_(std::exchange(other.offset_, 0)),
      size_(std::exchange(other.size_, 0)),
      allocated_size_(std::exchange(other.allocated_size_, 0)),
      device_addr_(std::exchange(other.device_addr_, 0)), handle_(std::exchange(other.handle_, 0)),
      flags_(other.flags_), kind_(other.kind_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        release();
        device_ = std::move(other.device_);
        bo_ = std::move(other.bo_);
        pool_ = std::move(other.pool_);
        host_ = std::exchange(other.host_, nullptr);
        offset_ = std::exchange(other.offset_, 0);
        size_ = std::exchange(other.size_, 0);
        allocated_size_ = std::exchange(other.allocated_size_, 0);
        device_addr_ = std::exchange(other.device_addr_, 0);
        handle_ = std::exchange(other.handle_, 0);
        flags_ = other.flags_;
        kind_ = other.kind_;
    }
    return *this;
}

bool Buffer::belongs_to(const Device& device) const noexcept {
    return device_ && device_ == device.state_;
}

void Buffer::throw_bad_view(bool moved_from) {
    throw Error(EINVAL, moved_from ? "buffer view: buffer was moved from"
                                   : "buffer view: range exceeds the buffer");
}

void Buffer::release() noexcept {
    if (pool_)
        pool_->release_block(bo_.get(), offset_, allocated_size_, nullptr, 0);
    pool_.reset();
    bo_.reset();
    host_ = nullptr;
    handle_ = 0;
    device_.reset();
}

} // namespace npu
