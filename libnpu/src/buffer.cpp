#include "npu/buffer.hpp"

#include <cerrno>
#include <utility>

#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/error.hpp"
#include "pool_state.hpp"

namespace npu {

namespace detail {

BoStorage::BoStorage(std::shared_ptr<DeviceState> device_state, size_t bytes, uint32_t bo_flags)
    : device(std::move(device_state)), flags(bo_flags) {
    const DriverApi& api = device->api;
    const drm_npu_bo_create created = api.bo_create(bytes, bo_flags);
    handle = created.handle;
    device_addr = created.device_addr;
    try {
        const drm_npu_bo_info info = api.bo_info(handle);
        size = info.size;
        host = api.map(info.mmap_offset, size);
        device->addresses.insert(device_addr, size, this);
    } catch (...) {
        if (host)
            api.unmap(host, size);
        try {
            api.gem_close(handle);
        } catch (const Error&) { // already failing
        }
        throw;
    }
}

BoStorage::~BoStorage() {
    device->addresses.erase(device_addr);
    if (host)
        device->api.unmap(host, size);
    try {
        device->api.gem_close(handle);
    } catch (const Error&) { // nothing sensible to do in a destructor (device lost)
    }
}

} // namespace detail

Buffer::Buffer(const Device& device, size_t size, BufferFlags flags, BufferKind kind)
    : device_(device.state_), size_(size), flags_(flags), kind_(kind) {
    if (size == 0)
        throw Error(EINVAL, "create buffer of size 0");
    bo_ = std::make_shared<detail::BoStorage>(device_, size, static_cast<uint32_t>(flags));
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
