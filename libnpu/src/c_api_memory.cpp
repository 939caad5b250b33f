// The C ABI of the pointer memory model (npu/npu_memory.h).
#include "npu/npu.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "c_api_internal.hpp"
#include "npu/memory.hpp"

using npu::capi::fail;
using npu::capi::guarded;
using npu::capi::null_argument;

namespace {

// A struct the caller sized: at least the first size_t.
template <typename T>
bool sized(const T* p) {
    return p && p->size >= sizeof(size_t);
}

// Copies a struct out up to the size the caller declared.
template <typename T>
void copy_out(T* dst, T value) {
    const size_t bytes = std::min(dst->size, sizeof(T));
    value.size = dst->size;
    std::memcpy(dst, &value, bytes);
}

} // namespace

extern "C" {

npu_status_t npu_malloc(npu_device_t device, size_t bytes, void** ptr) {
    if (!device)
        return null_argument("npu_malloc", "device");
    if (!ptr)
        return null_argument("npu_malloc", "ptr");
    return guarded([&] { *ptr = npu::malloc(device->device, bytes); });
}

npu_status_t npu_malloc_host(npu_device_t device, size_t bytes, void** ptr) {
    if (!device)
        return null_argument("npu_malloc_host", "device");
    if (!ptr)
        return null_argument("npu_malloc_host", "ptr");
    return guarded([&] { *ptr = npu::malloc_host(device->device, bytes); });
}

npu_status_t npu_malloc_async(size_t bytes, npu_pool_t pool, npu_stream_t stream, void** ptr) {
    if (!stream)
        return null_argument("npu_malloc_async", "stream");
    if (!ptr)
        return null_argument("npu_malloc_async", "ptr");
    return guarded([&] {
        *ptr = pool ? npu::malloc_async(bytes, pool->pool, stream->stream)
                    : npu::malloc_async(bytes, stream->stream);
    });
}

npu_status_t npu_free(void* ptr) {
    return guarded([&] { npu::free(ptr); });
}

npu_status_t npu_free_async(void* ptr, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_free_async", "stream");
    return guarded([&] { npu::free_async(ptr, stream->stream); });
}

npu_status_t npu_record_stream(const void* ptr, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_record_stream", "stream");
    return guarded([&] { npu::record_stream(ptr, stream->stream); });
}

npu_status_t npu_host_register(npu_device_t device, void* ptr, size_t bytes, int read_only) {
    if (!device)
        return null_argument("npu_host_register", "device");
    return guarded([&] { npu::host_register(device->device, ptr, bytes, read_only != 0); });
}

npu_status_t npu_host_unregister(void* ptr) {
    return guarded([&] { npu::host_unregister(ptr); });
}

npu_status_t npu_pointer_get_info(const void* ptr, npu_pointer_info_t* info) {
    if (!sized(info))
        return null_argument("npu_pointer_get_info", "info (with its size set)");
    return guarded([&] {
        const npu::PointerInfo p = npu::pointer_info(ptr);
        npu_pointer_info_t out{};
        out.kind = static_cast<npu_memory_kind_t>(p.kind);
        out.device_index = p.device_index;
        out.handle = p.handle;
        out.base = p.base;
        out.bo_size = p.size;
        out.offset = p.offset;
        copy_out(info, out);
    });
}

npu_status_t npu_memory_get_info(npu_device_t device, npu_memory_info_t* info) {
    if (!device)
        return null_argument("npu_memory_get_info", "device");
    if (!sized(info))
        return null_argument("npu_memory_get_info", "info (with its size set)");
    return guarded([&] {
        const npu::MemoryInfo m = npu::memory_info(device->device);
        npu_memory_info_t out{};
        out.free = m.free;
        out.total = m.total;
        out.used_by_process = m.used_by_process;
        out.address_space_free = m.address_space_free;
        copy_out(info, out);
    });
}

npu_status_t npu_memcpy_async(void* dst, const void* src, size_t bytes, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_memcpy_async", "stream");
    return guarded([&] { stream->stream.memcpy(dst, src, bytes); });
}

npu_status_t npu_memset_async(void* dst, int value, size_t bytes, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_memset_async", "stream");
    return guarded([&] { stream->stream.memset(dst, value, bytes); });
}

npu_status_t npu_memset32_async(void* dst, uint32_t value, size_t count, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_memset32_async", "stream");
    return guarded([&] { stream->stream.memset32(dst, value, count); });
}

npu_status_t npu_memcpy_2d_async(void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                                 size_t width, size_t height, npu_stream_t stream) {
    if (!stream)
        return null_argument("npu_memcpy_2d_async", "stream");
    return guarded(
        [&] { stream->stream.memcpy_2d(dst, dst_pitch, src, src_pitch, width, height); });
}

npu_status_t npu_export_dmabuf(const void* ptr, int* fd, size_t* offset) {
    if (!fd)
        return null_argument("npu_export_dmabuf", "fd");
    return guarded([&] { *fd = npu::export_dmabuf(ptr, offset); });
}

npu_status_t npu_import_dmabuf(npu_device_t device, int fd, void** ptr) {
    if (!device)
        return null_argument("npu_import_dmabuf", "device");
    if (!ptr)
        return null_argument("npu_import_dmabuf", "ptr");
    return guarded([&] { *ptr = npu::import_dmabuf(device->device, fd); });
}

npu_status_t npu_pool_create_ex(npu_device_t device, size_t chunk_size, size_t max_bytes,
                                npu_pool_t* pool) {
    if (!device)
        return null_argument("npu_pool_create_ex", "device");
    if (!pool)
        return null_argument("npu_pool_create_ex", "pool");
    npu::PoolOptions options;
    if (chunk_size)
        options.chunk_size = chunk_size;
    if (max_bytes)
        options.max_bytes = max_bytes;
    return guarded([&] { *pool = new npu_pool{npu::MemoryPool(device->device, options)}; });
}

npu_status_t npu_pool_set_max_bytes(npu_pool_t pool, size_t bytes) {
    if (!pool)
        return null_argument("npu_pool_set_max_bytes", "pool");
    return guarded([&] { pool->pool.set_max_bytes(bytes); });
}

npu_status_t npu_pool_get_stats_ex(npu_pool_t pool, npu_pool_stats_ex_t* stats) {
    if (!pool)
        return null_argument("npu_pool_get_stats_ex", "pool");
    if (!sized(stats))
        return null_argument("npu_pool_get_stats_ex", "stats (with its size set)");
    return guarded([&] {
        const npu::PoolStats s = pool->pool.stats();
        npu_pool_stats_ex_t out{};
        out.reserved_bytes = s.reserved_bytes;
        out.used_bytes = s.used_bytes;
        out.reserved_high_water = s.reserved_high_water;
        out.used_high_water = s.used_high_water;
        out.chunks = s.chunks;
        out.allocations = s.allocations;
        out.total_allocations = s.total_allocations;
        out.total_frees = s.total_frees;
        out.chunk_creations = s.chunk_creations;
        out.oom_retries = s.oom_retries;
        out.failed_allocations = s.failed_allocations;
        copy_out(stats, out);
    });
}

npu_status_t npu_pool_snapshot(npu_pool_t pool, npu_pool_segment_t* segments,
                               size_t segment_capacity, size_t* segment_count,
                               npu_pool_block_t* blocks, size_t block_capacity,
                               size_t* block_count) {
    if (!pool)
        return null_argument("npu_pool_snapshot", "pool");
    if (!segment_count || !block_count)
        return null_argument("npu_pool_snapshot", "segment_count and block_count");
    if ((segment_capacity && !segments) || (block_capacity && !blocks))
        return null_argument("npu_pool_snapshot", "segments/blocks with a capacity");
    return guarded([&] {
        const auto snapshot = pool->pool.snapshot();
        size_t block = 0;
        for (size_t i = 0; i < snapshot.size(); ++i) {
            const npu::PoolSegment& segment = snapshot[i];
            if (i < segment_capacity)
                segments[i] = {segment.address, segment.size, block, segment.blocks.size()};
            for (const npu::PoolBlockInfo& b : segment.blocks) {
                if (block < block_capacity)
                    blocks[block] = {b.offset, b.size, static_cast<uint8_t>(b.allocated),
                                     static_cast<uint8_t>(b.pending)};
                ++block;
            }
        }
        *segment_count = snapshot.size();
        *block_count = block;
    });
}

} // extern "C"
