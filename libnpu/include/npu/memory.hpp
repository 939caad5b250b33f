// The pointer memory model (docs/sdk.md, "Memory").
//
// Every allocation libnpu makes has one address, valid on the host and on
// the device alike (shared virtual addressing): its buffer object is mapped
// into the process at an address libnpu chooses and bound (VM_BIND) at that
// same address in the device's address space. A device pointer is therefore
// a plain `void*`; offsets into an allocation are plain pointer arithmetic;
// a framework stores it as it would any pointer. Addresses are unique in the
// process across all devices, so pointer_info() names the device an address
// belongs to.
//
// Allocations of one device are usable by another device's work too:
// libnpu exports the buffer object as a dma-buf, imports it into the other
// device's context and binds it there at the same address (once, cached
// until the allocation is freed).
//
// Freeing: free() and free_async() release the allocation; work already
// submitted to the kernel still reaches its memory (the driver unmaps it
// only once those jobs finished). Work enqueued but not yet submitted must
// be submitted (Stream::flush) before the memory is freed, or the memory
// be freed stream-ordered with free_async().
//
// Needs a driver with DRM_IOCTL_NPU_VM_BIND (DRM_NPU_PARAM_VA_START);
// older drivers fail every allocation with Error(ENOTSUP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/export.hpp"
#include "npu/pool.hpp"

namespace npu {

class Stream;

// What an address points to.
enum class MemoryKind : uint8_t {
    unknown = 0,     // not libnpu memory (pageable host memory, or nothing)
    device = 1,      // device working memory (malloc, pools, Buffer)
    host_pinned = 2, // host staging memory (malloc_host, BufferKind::host_pinned)
    registered = 3,  // host memory registered with host_register()
    imported = 4,    // a dma-buf imported with import_dmabuf()
};

struct PointerInfo {
    MemoryKind kind = MemoryKind::unknown;
    void* base = nullptr; // start of the buffer object holding the address
    size_t size = 0;      // bytes of that buffer object
    size_t offset = 0;    // of the address inside it
    unsigned device_index = 0;
    uint32_t handle = 0; // GEM handle of the buffer object in its device's file
    // The device (a handle sharing the allocation's open file); empty for unknown.
    std::optional<Device> device;
};

// Which device, buffer object, offset and kind an address belongs to. Any
// address inside an allocation works; MemoryKind::unknown for others.
[[nodiscard]] NPU_API PointerInfo pointer_info(const void* ptr);

// Device memory: a buffer object of its own, page-rounded. EINVAL for 0.
[[nodiscard]] NPU_API void* malloc(const Device& device, size_t bytes);
// Host pinned memory of device: the fast path of host <-> device copies
// (one device COPY, no staging).
[[nodiscard]] NPU_API void* malloc_host(const Device& device, size_t bytes);
// A block of pool (256-byte aligned), for stream's work (MemoryPool::allocate_async).
[[nodiscard]] NPU_API void* malloc_async(size_t bytes, MemoryPool& pool, Stream& stream);
// From the device's default pool.
[[nodiscard]] NPU_API void* malloc_async(size_t bytes, Stream& stream);
// Frees an allocation of malloc*, import_dmabuf() (the pointer they
// returned); nullptr is a no-op; EINVAL for any other address.
NPU_API void free(void* ptr);
// Frees a malloc_async() block once stream's work enqueued so far is done
// (MemoryPool::free_async); a non-pool allocation is freed after
// stream.synchronize().
NPU_API void free_async(void* ptr, Stream& stream);
// record-stream: the pool block holding ptr is not reused before the work
// enqueued on stream up to this call is done, even if it is freed on
// another stream. EINVAL if ptr is not a pool block.
NPU_API void record_stream(const void* ptr, Stream& stream);

// dma-buf export of the buffer object holding ptr; the caller closes the
// fd. *offset (if given) receives ptr's offset in the buffer object.
[[nodiscard]] NPU_API int export_dmabuf(const void* ptr, size_t* offset = nullptr);
// Imports a dma-buf (of this or any other device, this or another process)
// into device: the returned pointer maps the whole dma-buf on the host and
// on the device. The fd stays the caller's. Free with free().
[[nodiscard]] NPU_API void* import_dmabuf(const Device& device, int dmabuf_fd);

// Registers existing host memory with device: the pages of [ptr, ptr +
// bytes) (rounded out to whole pages) are pinned (DRM_IOCTL_NPU_USERPTR)
// and the device reaches them directly, so copies between them and device
// memory are one device COPY. Below 2^39 the range is bound at its own
// address (one pointer on host and device); elsewhere libnpu translates the
// host pointer wherever it is passed. read_only: the device may only read
// (a read-only mapping may be registered). Other devices cannot use the
// registration (no dma-buf export of process memory). EINVAL if the range
// overlaps libnpu memory or another registration; returns nothing: ptr
// itself is the pointer to use. Undo with host_unregister(ptr).
NPU_API void host_register(const Device& device, void* ptr, size_t bytes, bool read_only = false);
// Ends a registration (ptr as passed to host_register). Work already
// submitted keeps the pages pinned until it finished.
NPU_API void host_unregister(void* ptr);

struct MemoryInfo {
    size_t free = 0;               // bytes the system can still give buffer objects (available RAM)
    size_t total = 0;              // bytes of system memory (buffer objects are system memory)
    size_t used_by_process = 0;    // bytes of buffer objects this process holds on device
    size_t address_space_free = 0; // bytes of libnpu's address range still free
};
[[nodiscard]] NPU_API MemoryInfo memory_info(const Device& device);

} // namespace npu
