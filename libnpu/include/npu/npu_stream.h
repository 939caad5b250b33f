/*
 * libnpu C ABI: contexts, stream options, job errors, cheap events and the
 * device clock (npu/device.hpp, npu/stream.hpp, npu/event.hpp). Included by
 * npu/npu.h; docs/sdk.md ("Contexts", "Streams", "Events") documents it.
 * Structs that may grow start with `size`, which the caller sets to
 * sizeof(the struct).
 */
#ifndef NPU_NPU_STREAM_H
#define NPU_NPU_STREAM_H

/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Timeouts: this value waits forever (as does any value above INT64_MAX). */
#define NPU_TIMEOUT_INFINITE UINT64_MAX

/* Flags for npu_device_open_flags */
#define NPU_DEVICE_SEPARATE_CONTEXT (1u << 0) /* a new context, not the primary one */

/* Opens device `index` (npu_device_open() opens the primary context). */
NPU_C_API npu_status_t npu_device_open_flags(uint32_t index, uint32_t flags, npu_device_t* device);
/* *primary = 1 for the process's primary context of the device. */
NPU_C_API npu_status_t npu_device_is_primary(npu_device_t device, int* primary);
/* *same = 1 if both handles are one context (one open file). */
NPU_C_API npu_status_t npu_device_same_context(npu_device_t a, npu_device_t b, int* same);

typedef struct npu_clock_pair {
    size_t size;             /* in: sizeof(npu_clock_pair_t) */
    uint64_t device_ns;      /* device clock (the clock of event timestamps) */
    uint64_t host_ns;        /* host CLOCK_MONOTONIC at the same instant */
    uint64_t uncertainty_ns; /* +/- */
} npu_clock_pair_t;
NPU_C_API npu_status_t npu_device_clock_pair(npu_device_t device, npu_clock_pair_t* pair);

/* Flags of npu_stream_options_t */
#define NPU_STREAM_SHARED_QUEUE (1u << 0)  /* use the context's default queue 0 */
#define NPU_STREAM_STOP_ON_ERROR (1u << 1) /* later enqueues fail after a failed job */
#define NPU_STREAM_IMPLICIT_SYNC (1u << 2) /* also order by shared buffer objects */
#define NPU_STREAM_MANUAL_SUBMIT (1u << 3) /* submit only on flush/sync/full buffer */

typedef struct npu_stream_options {
    size_t size; /* in: sizeof(npu_stream_options_t) */
    npu_priority_t priority;
    uint32_t flags;              /* NPU_STREAM_* */
    size_t command_buffer_size;  /* 0: default (64 KiB) */
    size_t max_jobs_in_flight;   /* 0: default (16) */
    uint64_t max_batch_delay_ns; /* UINT64_MAX: default (1 ms); 0: submit every enqueue */
} npu_stream_options_t;
/* Fills options with the defaults (sets size). */
NPU_C_API npu_status_t npu_stream_options_init(npu_stream_options_t* options);
NPU_C_API npu_status_t npu_stream_create_with_options(npu_device_t device,
                                                      const npu_stream_options_t* options,
                                                      npu_stream_t* stream);
/* The stream's driver queue id and the priority its work runs at. */
NPU_C_API npu_status_t npu_stream_get_queue(npu_stream_t stream, uint32_t* queue_id,
                                            npu_priority_t* priority);

typedef struct npu_job_error {
    size_t size;     /* in: sizeof(npu_job_error_t) */
    uint32_t status; /* DRM_NPU_JOB_STATUS_*; 0 (OK): no failure */
    uint32_t queue_id;
    uint64_t seqno;
    uint32_t err_offset; /* command buffer offset of the failing packet */
    uint32_t reserved;
    uint64_t fault_addr; /* PAGE_FAULT: the device address */
} npu_job_error_t;
/* The first failed job the stream has seen (status 0: none); *stopped = 1
 * once a NPU_STREAM_STOP_ON_ERROR stream stopped (stopped may be NULL). */
NPU_C_API npu_status_t npu_stream_get_error(npu_stream_t stream, npu_job_error_t* error,
                                            int* stopped);

/* Flags for npu_event_create_flags */
#define NPU_EVENT_DISABLE_TIMING (1u << 0) /* no timestamp: no BO, no system call */

NPU_C_API npu_status_t npu_event_create_flags(npu_device_t device, uint32_t flags,
                                              npu_event_t* event);
/* Once the event's work is done: the failed job it reports (status 0:
 * none, or not done yet). */
NPU_C_API npu_status_t npu_event_get_error(npu_event_t event, npu_job_error_t* error);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-*) */

#endif /* NPU_NPU_STREAM_H */
