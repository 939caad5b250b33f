/*
 * libnpu C ABI, for frameworks and other languages. No exception crosses
 * it: every call returns an npu_status_t, and on failure
 * npu_last_error_message() describes the error (per thread).
 *
 * Handles are opaque. A buffer or stream keeps its device open, so
 * npu_device_close() may come first; everything else follows the C++ API
 * (npu/stream.hpp) rules.
 */
#ifndef NPU_NPU_H
#define NPU_NPU_H

/* A C header: C++ modernizations do not apply. */
/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

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
} npu_status_t;

/* Flags for npu_buffer_create */
#define NPU_BUFFER_DEVICE_READ_ONLY (1u << 0)

typedef struct npu_device* npu_device_t;
typedef struct npu_buffer* npu_buffer_t;
typedef struct npu_stream* npu_stream_t;

/* Name of a status code ("NPU_ERROR_TIMEOUT"); never NULL. */
NPU_C_API const char* npu_status_string(npu_status_t status);
/* Message of the last failed call on this thread; "" if none. Valid until
 * the next libnpu call on this thread. */
NPU_C_API const char* npu_last_error_message(void);

NPU_C_API npu_status_t npu_device_count(uint32_t* count);
NPU_C_API npu_status_t npu_device_open(uint32_t index, npu_device_t* device);
NPU_C_API npu_status_t npu_device_close(npu_device_t device);

NPU_C_API npu_status_t npu_buffer_create(npu_device_t device, size_t size, uint32_t flags,
                                         npu_buffer_t* buffer);
NPU_C_API npu_status_t npu_buffer_destroy(npu_buffer_t buffer);
NPU_C_API npu_status_t npu_buffer_host_ptr(npu_buffer_t buffer, void** host_ptr);
NPU_C_API npu_status_t npu_buffer_device_addr(npu_buffer_t buffer, uint64_t* device_addr);
NPU_C_API npu_status_t npu_buffer_size(npu_buffer_t buffer, size_t* size);

NPU_C_API npu_status_t npu_stream_create(npu_device_t device, npu_stream_t* stream);
NPU_C_API npu_status_t npu_stream_destroy(npu_stream_t stream);
NPU_C_API npu_status_t npu_stream_fill(npu_stream_t stream, npu_buffer_t dst, size_t offset,
                                       size_t size, uint32_t pattern);
NPU_C_API npu_status_t npu_stream_copy(npu_stream_t stream, npu_buffer_t src, size_t src_offset,
                                       npu_buffer_t dst, size_t dst_offset, size_t size);
/* Submits and waits up to timeout_ns nanoseconds (relative). */
NPU_C_API npu_status_t npu_stream_synchronize(npu_stream_t stream, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-*) */

#endif /* NPU_NPU_H */
