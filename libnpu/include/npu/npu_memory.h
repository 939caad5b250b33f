/*
 * libnpu C ABI: the pointer memory model (npu/memory.hpp, docs/sdk.md
 * "Memory"). Included by npu/npu.h. Every allocation has one address, valid
 * on the host and the device; device pointers are plain `void *`.
 */
#ifndef NPU_NPU_MEMORY_H
#define NPU_NPU_MEMORY_H

/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an address points to (npu::MemoryKind). */
typedef enum npu_memory_kind {
    NPU_MEMORY_UNKNOWN = 0,     /* not libnpu memory (pageable host memory) */
    NPU_MEMORY_DEVICE = 1,      /* npu_malloc, pools, buffers */
    NPU_MEMORY_HOST_PINNED = 2, /* npu_malloc_host */
    NPU_MEMORY_REGISTERED = 3,  /* registered host memory */
    NPU_MEMORY_IMPORTED = 4,    /* npu_import_dmabuf */
} npu_memory_kind_t;

/* npu_pointer_get_info. The caller sets size = sizeof(npu_pointer_info_t). */
typedef struct npu_pointer_info {
    size_t size;
    npu_memory_kind_t kind;
    uint32_t device_index; /* npu::DeviceInfo::index of the owning device */
    uint32_t handle;       /* GEM handle of the buffer object in its device's file */
    void* base;            /* start of the buffer object holding the address */
    size_t bo_size;        /* its bytes */
    size_t offset;         /* the address's offset in it */
} npu_pointer_info_t;

/* The caller sets size = sizeof(npu_memory_info_t). */
typedef struct npu_memory_info {
    size_t size;
    size_t free;  /* bytes the system can still give buffer objects */
    size_t total; /* bytes of system memory */
    size_t used_by_process;
    size_t address_space_free;
} npu_memory_info_t;

/* The caller sets size = sizeof(npu_pool_stats_ex_t). */
typedef struct npu_pool_stats_ex {
    size_t size;
    size_t reserved_bytes;
    size_t used_bytes;
    size_t reserved_high_water;
    size_t used_high_water;
    size_t chunks;
    size_t allocations;
    size_t total_allocations;
    size_t total_frees;
    size_t chunk_creations;
    size_t oom_retries;
    size_t failed_allocations;
} npu_pool_stats_ex_t;

/* One block of a pool segment (npu::PoolBlockInfo). */
typedef struct npu_pool_block {
    size_t offset;
    size_t size;
    uint8_t allocated;
    uint8_t pending;
} npu_pool_block_t;

/* One chunk of a pool (npu::PoolSegment). */
typedef struct npu_pool_segment {
    void* base;
    size_t size;
    size_t first_block;
    size_t block_count;
} npu_pool_segment_t;

NPU_C_API npu_status_t npu_malloc(npu_device_t device, size_t bytes, void** ptr);
NPU_C_API npu_status_t npu_malloc_host(npu_device_t device, size_t bytes, void** ptr);
/* From pool (NULL: the stream's device's default pool), for stream's work. */
NPU_C_API npu_status_t npu_malloc_async(size_t bytes, npu_pool_t pool, npu_stream_t stream,
                                        void** ptr);
/* NULL is a no-op. */
NPU_C_API npu_status_t npu_free(void* ptr);
NPU_C_API npu_status_t npu_free_async(void* ptr, npu_stream_t stream);
NPU_C_API npu_status_t npu_record_stream(const void* ptr, npu_stream_t stream);
/* Registers existing host memory (npu::host_register); read_only 0 or 1. */
NPU_C_API npu_status_t npu_host_register(npu_device_t device, void* ptr, size_t bytes,
                                         int read_only);
NPU_C_API npu_status_t npu_host_unregister(void* ptr);
NPU_C_API npu_status_t npu_pointer_get_info(const void* ptr, npu_pointer_info_t* info);
NPU_C_API npu_status_t npu_memory_get_info(npu_device_t device, npu_memory_info_t* info);

/* Stream-ordered copies and fills of any addresses (npu::Stream::memcpy...).
 * A copy into pageable host memory is synchronous: it returns once the
 * stream reached it and the bytes are in dst. */
NPU_C_API npu_status_t npu_memcpy_async(void* dst, const void* src, size_t bytes,
                                        npu_stream_t stream);
NPU_C_API npu_status_t npu_memset_async(void* dst, int value, size_t bytes, npu_stream_t stream);
NPU_C_API npu_status_t npu_memset32_async(void* dst, uint32_t value, size_t count,
                                          npu_stream_t stream);
NPU_C_API npu_status_t npu_memcpy_2d_async(void* dst, size_t dst_pitch, const void* src,
                                           size_t src_pitch, size_t width, size_t height,
                                           npu_stream_t stream);

/* dma-buf: *fd is the caller's to close; *offset (may be NULL) the
 * pointer's offset in the exported buffer object. */
NPU_C_API npu_status_t npu_export_dmabuf(const void* ptr, int* fd, size_t* offset);
NPU_C_API npu_status_t npu_import_dmabuf(npu_device_t device, int fd, void** ptr);

/* Caching-allocator hooks of a pool. */
NPU_C_API npu_status_t npu_pool_create_ex(npu_device_t device, size_t chunk_size, size_t max_bytes,
                                          npu_pool_t* pool);
NPU_C_API npu_status_t npu_pool_set_max_bytes(npu_pool_t pool, size_t bytes);
NPU_C_API npu_status_t npu_pool_get_stats_ex(npu_pool_t pool, npu_pool_stats_ex_t* stats);
/* Segment snapshot, taken at once: up to segment_capacity segments and
 * block_capacity blocks (all segments' blocks, in order; a segment's are
 * blocks[first_block, first_block + block_count)). *segment_count and
 * *block_count receive the totals, so a call with capacities 0 sizes the
 * arrays. */
NPU_C_API npu_status_t npu_pool_snapshot(npu_pool_t pool, npu_pool_segment_t* segments,
                                         size_t segment_capacity, size_t* segment_count,
                                         npu_pool_block_t* blocks, size_t block_capacity,
                                         size_t* block_count);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-*) */

#endif /* NPU_NPU_MEMORY_H */
