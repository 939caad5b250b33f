/*
 * libnpu C ABI, for frameworks and other languages. No exception crosses
 * it: every call returns an npu_status_t, and on failure
 * npu_last_error_message() describes the error (per thread).
 *
 * Handles are opaque. Buffers, streams, events and pools keep their device
 * open, so npu_device_close() may come first; everything else follows the
 * C++ API rules (npu/stream.hpp, npu/event.hpp, npu/pool.hpp), including
 * thread safety: every handle may be used from several threads at once,
 * and destroyed from any thread (not while another thread uses it).
 * Timeouts are relative nanoseconds; NPU_TIMEOUT_INFINITE waits forever.
 * docs/sdk.md documents every function.
 *
 * ABI: libnpu.so.1 keeps every function and struct layout of 1.0 (see
 * npu/version.h). A struct that may grow starts with a `size` member the
 * caller sets to sizeof the struct it was compiled with; libnpu reads and
 * writes only that many bytes (an older caller's smaller struct gets the
 * members it knows), zeroes members it does not know itself, and rejects a
 * size smaller than the 1.0 struct or above 4096 (an unset size) with
 * NPU_ERROR_INVALID_ARGUMENT:
 *     npu_device_properties_t props = {.size = sizeof(props)};
 */
#ifndef NPU_NPU_H
#define NPU_NPU_H

/* A C header: C++ modernizations do not apply. */
/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

#include "npu/version.h"

#if defined(NPU_BUILDING_LIBRARY)
#define NPU_C_API __attribute__((visibility("default")))
#else
#define NPU_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npu_status {
    NPU_SUCCESS = 0,
    NPU_ERROR_INVALID_ARGUMENT = 1,  /* bad handle, range, alignment (EINVAL) */
    NPU_ERROR_NO_DEVICE = 2,         /* no such device (ENODEV, ENOENT) */
    NPU_ERROR_PERMISSION_DENIED = 3, /* EACCES, EPERM */
    NPU_ERROR_OUT_OF_MEMORY = 4,     /* host or device memory (ENOMEM, ENOSPC) */
    NPU_ERROR_TIMEOUT = 5,           /* deadline passed (ETIME) */
    NPU_ERROR_JOB_FAILED = 6,        /* the device reported a failed job */
    NPU_ERROR_OS = 7,                /* any other system call failure */
    NPU_ERROR_INTERNAL = 8,          /* a bug in libnpu */
    NPU_ERROR_NOT_READY = 9,         /* query: work still pending (not an error state) */
    NPU_ERROR_NOT_SUPPORTED = 10,    /* the device cannot do it (ENOTSUP); the message says why */
} npu_status_t;

/* Flags for npu_buffer_create */
#define NPU_BUFFER_DEVICE_READ_ONLY (1u << 0)

typedef struct npu_device* npu_device_t;
typedef struct npu_buffer* npu_buffer_t;
typedef struct npu_stream* npu_stream_t;
typedef struct npu_event* npu_event_t;
typedef struct npu_pool* npu_pool_t;

/* Buffer kinds (npu::BufferKind): all are host-mapped system memory on this
 * device; see docs/sdk.md. */
typedef enum npu_buffer_kind {
    NPU_BUFFER_KIND_DEVICE = 0,
    NPU_BUFFER_KIND_HOST_VISIBLE = 1,
    NPU_BUFFER_KIND_HOST_PINNED = 2,
} npu_buffer_kind_t;

/* Stream priorities (DRM_NPU_PRIORITY_*). */
typedef enum npu_priority {
    NPU_PRIORITY_LOW = 0,
    NPU_PRIORITY_NORMAL = 1,
    NPU_PRIORITY_HIGH = 2,     /* needs CAP_SYS_NICE */
    NPU_PRIORITY_REALTIME = 3, /* needs CAP_SYS_NICE */
} npu_priority_t;

typedef struct npu_device_properties {
    size_t size;          /* set by the caller: sizeof(npu_device_properties_t) */
    uint32_t pci_device_id;
    uint32_t revision;
    uint32_t hw_version;
    uint32_t fw_version;  /* major << 16 | minor << 8 | patch */
    uint32_t fw_abi;      /* major << 16 | minor */
    uint32_t engine_count;
    uint32_t queue_count;
    uint32_t max_cmd_size;
    uint64_t devmem_size;
    uint64_t va_size;
    uint64_t serial;
    char uuid[37];        /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
    char pci_address[32]; /* "0000:00:03.0" */
} npu_device_properties_t;

typedef struct npu_pool_stats {
    size_t size; /* set by the caller: sizeof(npu_pool_stats_t) */
    size_t reserved_bytes;
    size_t used_bytes;
    size_t reserved_high_water;
    size_t used_high_water;
    size_t chunks;
    size_t allocations;
} npu_pool_stats_t;

/* A host function run in stream order (npu_stream_launch_host_func). */
typedef void (*npu_host_fn_t)(void* user_data);

/* NPU_API_VERSION of the loaded library (the header's NPU_API_VERSION is
 * what the program was compiled against). */
NPU_C_API uint32_t npu_api_version(void);
/* "1.0.0": the loaded library's version. */
NPU_C_API const char* npu_version_string(void);

/* Name of a status code ("NPU_ERROR_TIMEOUT"); never NULL. */
NPU_C_API const char* npu_status_string(npu_status_t status);
/* Message of the last failed call on this thread; "" if none. Valid until
 * the next libnpu call on this thread. */
NPU_C_API const char* npu_last_error_message(void);

NPU_C_API npu_status_t npu_device_count(uint32_t* count);
NPU_C_API npu_status_t npu_device_open(uint32_t index, npu_device_t* device);
/* Opens by index ("1"), PCI address ("0000:00:05.0") or UUID. */
NPU_C_API npu_status_t npu_device_open_by(const char* selector, npu_device_t* device);
NPU_C_API npu_status_t npu_device_close(npu_device_t device);
NPU_C_API npu_status_t npu_device_get_properties(npu_device_t device,
                                                 npu_device_properties_t* properties);
/* *lost = 1 once the device was found unplugged (calls then fail with
 * NPU_ERROR_NO_DEVICE). */
NPU_C_API npu_status_t npu_device_is_lost(npu_device_t device, int* lost);

NPU_C_API npu_status_t npu_buffer_create(npu_device_t device, size_t size, uint32_t flags,
                                         npu_buffer_t* buffer);
NPU_C_API npu_status_t npu_buffer_create_kind(npu_device_t device, size_t size,
                                              npu_buffer_kind_t kind, npu_buffer_t* buffer);
/* Destroys a buffer; a pool block returns to its pool at once (use
 * npu_pool_free_async for stream-ordered frees). */
NPU_C_API npu_status_t npu_buffer_destroy(npu_buffer_t buffer);
NPU_C_API npu_status_t npu_buffer_host_ptr(npu_buffer_t buffer, void** host_ptr);
NPU_C_API npu_status_t npu_buffer_device_addr(npu_buffer_t buffer, uint64_t* device_addr);
NPU_C_API npu_status_t npu_buffer_size(npu_buffer_t buffer, size_t* size);

NPU_C_API npu_status_t npu_stream_create(npu_device_t device, npu_stream_t* stream);
NPU_C_API npu_status_t npu_stream_create_with_priority(npu_device_t device,
                                                       npu_priority_t priority,
                                                       npu_stream_t* stream);
NPU_C_API npu_status_t npu_stream_destroy(npu_stream_t stream);
NPU_C_API npu_status_t npu_stream_fill(npu_stream_t stream, npu_buffer_t dst, size_t offset,
                                       size_t size, uint32_t pattern);
NPU_C_API npu_status_t npu_stream_copy(npu_stream_t stream, npu_buffer_t src, size_t src_offset,
                                       npu_buffer_t dst, size_t dst_offset, size_t size);
/* Host -> device (src staged at once, reusable on return). */
NPU_C_API npu_status_t npu_stream_copy_from_host(npu_stream_t stream, npu_buffer_t dst,
                                                 size_t dst_offset, const void* src, size_t size);
/* Device -> host in stream order, synchronous: returns once the bytes are in
 * dst (or with the stream's job error). */
NPU_C_API npu_status_t npu_stream_copy_to_host(npu_stream_t stream, void* dst, npu_buffer_t src,
                                               size_t src_offset, size_t size);
/* Runs fn(user_data) on the stream's callback thread in stream order. */
NPU_C_API npu_status_t npu_stream_launch_host_func(npu_stream_t stream, npu_host_fn_t fn,
                                                   void* user_data);
NPU_C_API npu_status_t npu_stream_record_event(npu_stream_t stream, npu_event_t event);
NPU_C_API npu_status_t npu_stream_wait_event(npu_stream_t stream, npu_event_t event);
NPU_C_API npu_status_t npu_stream_flush(npu_stream_t stream);
/* NPU_SUCCESS when all work is done, NPU_ERROR_NOT_READY while pending. */
NPU_C_API npu_status_t npu_stream_query(npu_stream_t stream);
/* Submits and waits up to timeout_ns nanoseconds (relative). */
NPU_C_API npu_status_t npu_stream_synchronize(npu_stream_t stream, uint64_t timeout_ns);

NPU_C_API npu_status_t npu_event_create(npu_device_t device, npu_event_t* event);
NPU_C_API npu_status_t npu_event_destroy(npu_event_t event);
/* NPU_SUCCESS when done (or never recorded), NPU_ERROR_NOT_READY while pending. */
NPU_C_API npu_status_t npu_event_query(npu_event_t event);
NPU_C_API npu_status_t npu_event_synchronize(npu_event_t event, uint64_t timeout_ns);
/* Device time from start to end in nanoseconds (waits for both). */
NPU_C_API npu_status_t npu_event_elapsed_ns(npu_event_t start, npu_event_t end,
                                            int64_t* elapsed_ns);
/* New fds the caller closes. */
NPU_C_API npu_status_t npu_event_export_sync_file(npu_event_t event, int* fd);
NPU_C_API npu_status_t npu_event_export_syncobj(npu_event_t event, int* fd);
/* New events on device; the fd is not consumed. */
NPU_C_API npu_status_t npu_event_import_sync_file(npu_device_t device, int fd,
                                                  npu_event_t* event);
NPU_C_API npu_status_t npu_event_import_syncobj(npu_device_t device, int fd, npu_event_t* event);

/* A pool with chunk_size bytes per chunk (0: default 2 MiB) and a release
 * threshold (SIZE_MAX: keep everything). */
NPU_C_API npu_status_t npu_pool_create(npu_device_t device, size_t chunk_size,
                                       size_t release_threshold, npu_pool_t* pool);
/* The device's default pool (a new handle to it; destroy it when done). */
NPU_C_API npu_status_t npu_device_default_pool(npu_device_t device, npu_pool_t* pool);
/* Blocks still allocated keep the pool's memory alive. */
NPU_C_API npu_status_t npu_pool_destroy(npu_pool_t pool);
NPU_C_API npu_status_t npu_pool_alloc_async(npu_pool_t pool, size_t size, npu_stream_t stream,
                                            npu_buffer_t* buffer);
/* Returns buffer's block after stream's work so far; destroys the handle. */
NPU_C_API npu_status_t npu_pool_free_async(npu_pool_t pool, npu_buffer_t buffer,
                                           npu_stream_t stream);
NPU_C_API npu_status_t npu_pool_trim(npu_pool_t pool, size_t min_bytes_to_keep);
NPU_C_API npu_status_t npu_pool_set_release_threshold(npu_pool_t pool, size_t bytes);
NPU_C_API npu_status_t npu_pool_get_stats(npu_pool_t pool, npu_pool_stats_t* stats);

#ifdef __cplusplus
}
#endif

#include "npu/npu_ops.h" /* the op API */

/* NOLINTEND(modernize-*) */

#include "npu/npu_graph.h" /* IWYU pragma: export */
#include "npu/npu_stream.h"
#include "npu/npu_memory.h" /* the pointer memory model */

#endif /* NPU_NPU_H */
