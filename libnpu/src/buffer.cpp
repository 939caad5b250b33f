#include "npu/buffer.hpp"

#include <cerrno>
#include <utility>

#include "device_state.hpp"
#include "npu/error.hpp"

namespace npu {

Buffer::Buffer(const Device& device, size_t size, BufferFlags flags)
    : device_(device.state_), size_(size), flags_(flags) {
    if (size == 0)
        throw Error(EINVAL, "create buffer of size 0");
    const DriverApi& api = device_->api;
    const drm_npu_bo_create created = api.bo_create(size, static_cast<uint32_t>(flags));
    handle_ = created.handle;
    device_addr_ = created.device_addr;
    try {
        const drm_npu_bo_info info = api.bo_info(handle_);
        allocated_size_ = info.size;
        host_ = api.map(info.mmap_offset, allocated_size_);
    } catch (...) {
        release();
        throw;
    }
}

Buffer::~Buffer() {
    release();
}

Buffer::Buffer(Buffer&& other) noexcept
    : device_(std::move(other.device_)), host_(std::exchange(other.host_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      allocated_size_(std::exchange(other.allocated_size_, 0)),
      device_addr_(std::exchange(other.device_addr_, 0)), handle_(std::exchange(other.handle_, 0)),
      flags_(other.flags_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        release();
        device_ = std::move(other.device_);
        host_ = std::exchange(other.host_, nullptr);
        size_ = std::exchange(other.size_, 0);
        allocated_size_ = std::exchange(other.allocated_size_, 0);
        device_addr_ = std::exchange(other.device_addr_, 0);
        handle_ = std::exchange(other.handle_, 0);
        flags_ = other.flags_;
    }
    return *this;
}

bool Buffer::belongs_to(const Device& device) const noexcept {
    return device_ && device_ == device.state_;
}

void Buffer::release() noexcept {
    if (!device_)
        return;
    if (host_)
        device_->api.unmap(host_, allocated_size_);
    if (handle_) {
        try {
            device_->api.gem_close(handle_);
        } catch (const Error&) { // nothing sensible to do in a destructor
        }
    }
    host_ = nullptr;
    handle_ = 0;
    device_.reset();
}

} // namespace npu
