// Buffer: a device buffer object, mapped into the host and into the device
// address space of the Device that created it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

enum class BufferFlags : uint32_t {
    none = 0,
    device_read_only = DRM_NPU_BO_DEVICE_READ_ONLY, // device writes fault
};

// Owns a GEM handle and its host mapping; move-only. The handle is closed
// and the mapping removed on destruction. The kernel keeps the memory alive
// for jobs already submitted, but a Buffer must outlive any work enqueued on
// a Stream that has not been submitted yet (see stream.hpp).
class NPU_API Buffer {
public:
    Buffer(const Device& device, size_t size, BufferFlags flags = BufferFlags::none);
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    // The size asked for; the object itself is rounded up to pages.
    [[nodiscard]] size_t size() const noexcept { return size_; }
    [[nodiscard]] size_t allocated_size() const noexcept { return allocated_size_; }
    [[nodiscard]] uint64_t device_addr() const noexcept { return device_addr_; }
    [[nodiscard]] uint32_t handle() const noexcept { return handle_; }
    [[nodiscard]] BufferFlags flags() const noexcept { return flags_; }
    [[nodiscard]] void* host_ptr() const noexcept { return host_; }

    [[nodiscard]] std::span<std::byte> bytes() const noexcept {
        return {static_cast<std::byte*>(host_), size_};
    }
    // The first size() / sizeof(T) elements as T.
    template <typename T>
    [[nodiscard]] std::span<T> as_span() const noexcept {
        static_assert(std::is_trivially_copyable_v<T>, "device memory holds plain data");
        return {static_cast<T*>(host_), size_ / sizeof(T)};
    }

    // Whether this buffer belongs to device (the same open file).
    [[nodiscard]] bool belongs_to(const Device& device) const noexcept;

private:
    friend class Stream;
    void release() noexcept;

    std::shared_ptr<detail::DeviceState> device_;
    void* host_ = nullptr;
    size_t size_ = 0;
    size_t allocated_size_ = 0;
    uint64_t device_addr_ = 0;
    uint32_t handle_ = 0;
    BufferFlags flags_ = BufferFlags::none;
};

} // namespace npu
