// Buffer: memory the device can access, mapped into the host and into the
// device address space of the Device that created it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include "npu/device.hpp"
#include "npu/export.hpp"

namespace npu {

namespace detail {
struct BoStorage;
struct PoolState;
struct StreamImpl;
struct MemoryAccess;
} // namespace detail

enum class BufferFlags : uint32_t {
    none = 0,
    device_read_only = DRM_NPU_BO_DEVICE_READ_ONLY, // device writes fault
};

// What a buffer is for. On this device every buffer object is host system
// memory that the device reaches by DMA through its MMU, and every buffer is
// mapped into the host (host_ptr() is always valid), so the kinds differ in
// intent, not in placement; a discrete card with its own memory would place
// `device` buffers there and not map them.
//  - device:       working memory for device work (the default).
//  - host_visible: memory the host reads and writes directly while the
//                  device also uses it (results, small parameters).
//  - host_pinned:  host staging memory: a stream copies between it and device
//                  buffers with one device COPY, no extra staging or host
//                  callback (the fast path for host <-> device transfers).
enum class BufferKind : uint8_t { device, host_visible, host_pinned };

class Buffer;

// A typed window of a Buffer: elements [first, first + count) as T; cheap to
// copy. A View holds the addresses of its elements, not the Buffer object:
// it stays valid when the Buffer is moved (the memory moves with it) and
// until that memory is freed. Streams resolve a View's device address to
// its buffer object when work is enqueued, and reject (Error(EINVAL)) one
// whose memory is gone.
template <typename T>
class View {
    static_assert(std::is_trivially_copyable_v<T>, "device memory holds plain data");

public:
    View() = default;
    // Offset of the first element inside the buffer it was taken from.
    [[nodiscard]] size_t byte_offset() const noexcept { return first_ * sizeof(T); }
    [[nodiscard]] size_t size() const noexcept { return count_; }
    [[nodiscard]] size_t size_bytes() const noexcept { return count_ * sizeof(T); }
    [[nodiscard]] uint64_t device_addr() const noexcept { return device_addr_; }
    [[nodiscard]] T* data() const noexcept { return host_; }
    [[nodiscard]] std::span<T> host() const noexcept { return {host_, count_}; }

private:
    friend class Buffer;
    View(T* host, uint64_t device_addr, size_t first, size_t count)
        : host_(host), device_addr_(device_addr), first_(first), count_(count) {}

    T* host_ = nullptr;
    uint64_t device_addr_ = 0;
    size_t first_ = 0;
    size_t count_ = 0;
};

// Owns a buffer object (or, for pool allocations, a block of one) and its
// host mapping; move-only. A plain Buffer's handle is closed and its mapping
// removed on destruction; a pool allocation returns its block to the pool
// (see pool.hpp). The kernel keeps the memory alive for jobs already
// submitted, but a Buffer must outlive any work enqueued on a Stream that
// has not been submitted yet (see stream.hpp).
//
// Thread safety: const methods may be called concurrently; the host memory
// itself is the caller's to synchronize with device work (Stream/Event).
class NPU_API Buffer {
public:
    Buffer(const Device& device, size_t size, BufferFlags flags = BufferFlags::none,
           BufferKind kind = BufferKind::device);
    Buffer(const Device& device, size_t size, BufferKind kind)
        : Buffer(device, size, BufferFlags::none, kind) {}
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    // The size asked for; a plain buffer object is rounded up to pages.
    [[nodiscard]] size_t size() const noexcept { return size_; }
    [[nodiscard]] size_t allocated_size() const noexcept { return allocated_size_; }
    [[nodiscard]] uint64_t device_addr() const noexcept { return device_addr_; }
    // GEM handle of the buffer object holding this buffer (shared by the
    // blocks of one pool chunk).
    [[nodiscard]] uint32_t handle() const noexcept { return handle_; }
    [[nodiscard]] BufferFlags flags() const noexcept { return flags_; }
    [[nodiscard]] BufferKind kind() const noexcept { return kind_; }
    [[nodiscard]] void* host_ptr() const noexcept { return host_; }
    // Whether this buffer is a block of a MemoryPool.
    [[nodiscard]] bool from_pool() const noexcept { return pool_ != nullptr; }
    // False for a moved-from buffer.
    [[nodiscard]] bool valid() const noexcept { return device_ != nullptr; }

    [[nodiscard]] std::span<std::byte> bytes() const noexcept {
        return {static_cast<std::byte*>(host_), size_};
    }
    // The first size() / sizeof(T) elements as T.
    template <typename T>
    [[nodiscard]] std::span<T> as_span() const noexcept {
        static_assert(std::is_trivially_copyable_v<T>, "device memory holds plain data");
        return {static_cast<T*>(host_), size_ / sizeof(T)};
    }
    // Elements [first, first + count) as T; count defaults to the rest.
    // Throws Error(EINVAL) if the range does not fit or the buffer was
    // moved from.
    template <typename T>
    [[nodiscard]] View<T> view(size_t first = 0, size_t count = SIZE_MAX) const {
        if (!valid())
            throw_bad_view(true);
        const size_t total = size_ / sizeof(T);
        if (first > total)
            throw_bad_view(false);
        if (count == SIZE_MAX)
            count = total - first;
        if (count > total - first)
            throw_bad_view(false);
        return View<T>(static_cast<T*>(host_) + first, device_addr_ + first * sizeof(T), first,
                       count);
    }

    // Whether this buffer belongs to device (the same open file).
    [[nodiscard]] bool belongs_to(const Device& device) const noexcept;

private:
    friend class Stream;
    friend class MemoryPool;
    friend struct detail::PoolState;
    friend struct detail::StreamImpl;
    friend struct detail::MemoryAccess;
    Buffer() = default;
    void release() noexcept;
    [[noreturn]] static void throw_bad_view(bool moved_from);

    std::shared_ptr<detail::DeviceState> device_;
    std::shared_ptr<detail::BoStorage> bo_;
    std::shared_ptr<detail::PoolState> pool_; // set for pool allocations
    void* host_ = nullptr;
    size_t offset_ = 0; // inside bo_
    size_t size_ = 0;
    size_t allocated_size_ = 0;
    uint64_t device_addr_ = 0;
    uint32_t handle_ = 0;
    BufferFlags flags_ = BufferFlags::none;
    BufferKind kind_ = BufferKind::device;
};

} // namespace npu
