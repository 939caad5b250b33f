// The pointer API of memory.hpp: allocations by address, pointer queries,
// dma-buf sharing, memory info.
#include "npu/memory.hpp"

#include <sys/sysinfo.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "address_map.hpp"
#include "bo_storage.hpp"
#include "memory_access.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"
#include "stream_impl.hpp"

namespace npu {

namespace detail {

StreamImpl& MemoryAccess::impl(Stream& stream) {
    if (!stream.impl_)
        throw Error(EINVAL, "stream was moved from");
    return *stream.impl_;
}

namespace {

// What a pointer of malloc*/import_dmabuf owns.
struct Allocation {
    std::optional<Buffer> buffer;  // malloc, malloc_host, malloc_async
    std::shared_ptr<BoStorage> bo; // import_dmabuf
};

struct Allocations {
    std::mutex mutex; // protects by_ptr
    std::map<const void*, Allocation> by_ptr;
};

Allocations& allocations() {
    static auto* table = new Allocations; // never destroyed: frees may come late
    return *table;
}

void* remember(Allocation allocation, void* ptr) {
    Allocations& table = allocations();
    const std::lock_guard lock(table.mutex);
    table.by_ptr.emplace(ptr, std::move(allocation));
    return ptr;
}

std::string hex(const void* p) {
    char text[24];
    std::snprintf(text, sizeof(text), "%p", p);
    return text;
}

// Takes ptr's allocation out of the table; EINVAL if ptr is not one.
Allocation take(const void* ptr, const char* what) {
    Allocations& table = allocations();
    const std::lock_guard lock(table.mutex);
    auto it = table.by_ptr.find(ptr);
    if (it == table.by_ptr.end())
        throw Error(EINVAL, std::string(what) + ": " + hex(ptr) +
                                " is not an allocation of npu::malloc*/import_dmabuf");
    Allocation allocation = std::move(it->second);
    table.by_ptr.erase(it);
    return allocation;
}

// A pool block's Buffer (copy of the handle data is not possible: look up).
template <typename Fn>
auto with_allocation(const void* ptr, const char* what, Fn&& fn) {
    Allocations& table = allocations();
    const std::lock_guard lock(table.mutex);
    auto it = table.by_ptr.find(ptr);
    if (it == table.by_ptr.end())
        throw Error(EINVAL, std::string(what) + ": " + hex(ptr) +
                                " is not an allocation of npu::malloc*/import_dmabuf");
    return fn(it->second);
}

} // namespace

} // namespace detail

using detail::MemoryAccess;

PointerInfo pointer_info(const void* ptr) {
    PointerInfo info;
    const auto hit = detail::process_addresses().find(reinterpret_cast<uintptr_t>(ptr), 1);
    if (!hit.bo)
        return info;
    info.kind = hit.bo->kind;
    info.base = hit.bo->host;
    info.size = hit.bo->size;
    info.offset = hit.offset;
    info.handle = hit.bo->handle;
    info.device_index = hit.bo->device->info.index;
    info.device = MemoryAccess::device(hit.bo->device);
    return info;
}

void* malloc(const Device& device, size_t bytes) {
    Buffer buffer(device, bytes, BufferKind::device);
    void* ptr = buffer.host_ptr();
    return detail::remember({std::move(buffer), nullptr}, ptr);
}

void* malloc_host(const Device& device, size_t bytes) {
    Buffer buffer(device, bytes, BufferKind::host_pinned);
    void* ptr = buffer.host_ptr();
    return detail::remember({std::move(buffer), nullptr}, ptr);
}

void* malloc_async(size_t bytes, MemoryPool& pool, Stream& stream) {
    Buffer buffer = pool.allocate_async(bytes, stream);
    void* ptr = buffer.host_ptr();
    return detail::remember({std::move(buffer), nullptr}, ptr);
}

void* malloc_async(size_t bytes, Stream& stream) {
    // The stream keeps the device's default pool (and its warm chunks)
    // alive, also while no block of it is allocated.
    detail::StreamImpl& impl = MemoryAccess::impl(stream);
    if (!impl.staging)
        impl.staging = stream.device().default_pool();
    return malloc_async(bytes, *impl.staging, stream);
}

void free(void* ptr) {
    if (!ptr)
        return;
    detail::Allocation allocation = detail::take(ptr, "npu::free");
    if (allocation.bo && allocation.bo->kind == MemoryKind::registered) {
        detail::remember(std::move(allocation), ptr);
        throw Error(EINVAL, "npu::free: a registration; end it with npu::host_unregister");
    }
    // Destroying the Buffer / BoStorage frees (a pool block at once).
}

void free_async(void* ptr, Stream& stream) {
    if (!ptr)
        return;
    detail::Allocation allocation = detail::take(ptr, "npu::free_async");
    if (allocation.buffer && allocation.buffer->from_pool()) {
        MemoryPool pool = MemoryAccess::pool_handle(MemoryAccess::pool(*allocation.buffer));
        pool.free_async(std::move(*allocation.buffer), stream);
        return;
    }
    // Submitted jobs keep the memory (the driver unmaps it once they are
    // done): submitting is enough.
    stream.flush();
}

void record_stream(const void* ptr, Stream& stream) {
    detail::with_allocation(ptr, "npu::record_stream", [&](detail::Allocation& allocation) {
        if (!allocation.buffer || !allocation.buffer->from_pool())
            throw Error(EINVAL, "npu::record_stream: not a pool block");
        MemoryPool pool = MemoryAccess::pool_handle(MemoryAccess::pool(*allocation.buffer));
        pool.record_stream(*allocation.buffer, stream);
        return 0;
    });
}

int export_dmabuf(const void* ptr, size_t* offset) {
    const auto hit = detail::process_addresses().find(reinterpret_cast<uintptr_t>(ptr), 1);
    if (!hit.bo)
        throw Error(EINVAL, "export_dmabuf: " + detail::hex(ptr) + " is not libnpu memory");
    if (offset)
        *offset = hit.offset;
    return hit.bo->device->api.prime_export(hit.bo->handle);
}

void* import_dmabuf(const Device& device, int dmabuf_fd) {
    auto bo = std::make_shared<detail::BoStorage>(MemoryAccess::state(device), dmabuf_fd,
                                                  detail::BoStorage::Import{});
    void* ptr = bo->host;
    return detail::remember({std::nullopt, std::move(bo)}, ptr);
}

void host_register(const Device& device, void* ptr, size_t bytes, bool read_only) {
    if (!ptr || bytes == 0)
        throw Error(EINVAL, "host_register: null pointer or 0 bytes");
    constexpr uintptr_t kPage = 4096;
    const uintptr_t first = reinterpret_cast<uintptr_t>(ptr) & ~(kPage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(ptr) + bytes + kPage - 1) & ~(kPage - 1);
    if (detail::process_addresses().find(first, 1).bo ||
        detail::process_addresses().find(end - 1, 1).bo)
        throw Error(EINVAL, "host_register: " + detail::hex(ptr) + " overlaps libnpu memory");
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the page holding ptr
    void* base = reinterpret_cast<void*>(first);
    auto bo = std::make_shared<detail::BoStorage>(MemoryAccess::state(device), base, end - first,
                                                  read_only, detail::BoStorage::Register{});
    detail::Allocations& table = detail::allocations();
    const std::lock_guard lock(table.mutex);
    table.by_ptr.emplace(ptr, detail::Allocation{std::nullopt, std::move(bo)});
}

void host_unregister(void* ptr) {
    detail::Allocation allocation = detail::take(ptr, "npu::host_unregister");
    if (!allocation.bo || allocation.bo->kind != MemoryKind::registered) {
        detail::remember(std::move(allocation), ptr);
        throw Error(EINVAL, "npu::host_unregister: not a registration");
    }
}

MemoryInfo memory_info(const Device& device) {
    MemoryInfo info;
    struct sysinfo si {};
    if (::sysinfo(&si) != 0)
        throw Error(errno, "sysinfo");
    info.total = static_cast<size_t>(si.totalram) * si.mem_unit;
    info.free = static_cast<size_t>(si.freeram + si.bufferram) * si.mem_unit;
    info.used_by_process = MemoryAccess::state(device)->bo_bytes.load();
    info.address_space_free = detail::process_va().free_bytes();
    return info;
}

} // namespace npu
