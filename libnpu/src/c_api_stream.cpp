// The C ABI of contexts, stream options, job errors, cheap events and the
// device clock (npu/npu_stream.h).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <string>

#include "c_api_internal.hpp"
#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/npu.h"
#include "npu/pool.hpp"
#include "npu/stream.hpp"

namespace {

using npu::capi::guarded;

using npu::capi::null_argument;

// A caller's struct must be at least as large as its first version.
npu_status_t check_size(const char* function, size_t given, size_t needed) {
    if (given >= needed)
        return NPU_SUCCESS;
    return npu::capi::fail(NPU_ERROR_INVALID_ARGUMENT,
                           (std::string(function) + ": size " + std::to_string(given) +
                            " is below the struct's " + std::to_string(needed))
                               .c_str());
}

void to_c(const std::optional<npu::JobFailure>& f, npu_job_error_t* out) {
    const size_t size = out->size;
    *out = npu_job_error_t{};
    out->size = size;
    if (!f)
        return;
    out->status = f->status;
    out->queue_id = f->queue_id;
    out->seqno = f->seqno;
    out->err_offset = f->err_offset;
    out->fault_addr = f->fault_addr;
}

} // namespace

extern "C" {

npu_status_t npu_device_open_flags(uint32_t index, uint32_t flags, npu_device_t* device) {
    if (!device)
        return null_argument(__func__, "device");
    if (flags & ~NPU_DEVICE_SEPARATE_CONTEXT)
        return npu::capi::fail(NPU_ERROR_INVALID_ARGUMENT, "npu_device_open_flags: unknown flags");
    const auto context =
        (flags & NPU_DEVICE_SEPARATE_CONTEXT) ? npu::Context::separate : npu::Context::primary;
    return guarded([&] {
        *device = new npu_device{npu::Device(index, npu::default_os_interface(), context)};
    });
}

npu_status_t npu_device_is_primary(npu_device_t device, int* primary) {
    if (!device)
        return null_argument(__func__, "device");
    if (!primary)
        return null_argument(__func__, "primary");
    *primary = device->device.primary_context() ? 1 : 0;
    return NPU_SUCCESS;
}

npu_status_t npu_device_same_context(npu_device_t a, npu_device_t b, int* same) {
    if (!a || !b)
        return null_argument(__func__, "device");
    if (!same)
        return null_argument(__func__, "same");
    *same = a->device == b->device ? 1 : 0;
    return NPU_SUCCESS;
}

npu_status_t npu_device_clock_pair(npu_device_t device, npu_clock_pair_t* pair) {
    if (!device)
        return null_argument(__func__, "device");
    if (!pair)
        return null_argument(__func__, "pair");
    if (npu_status_t s = check_size(__func__, pair->size, sizeof(npu_clock_pair_t)))
        return s;
    return guarded([&] {
        const npu::ClockPair p = device->device.clock_pair();
        pair->device_ns = p.device_ns;
        pair->host_ns = p.host_ns;
        pair->uncertainty_ns = p.uncertainty_ns;
    });
}

npu_status_t npu_stream_options_init(npu_stream_options_t* options) {
    if (!options)
        return null_argument(__func__, "options");
    const npu::StreamOptions defaults;
    *options = npu_stream_options_t{};
    options->size = sizeof(*options);
    options->priority = static_cast<npu_priority_t>(defaults.priority);
    options->command_buffer_size = defaults.command_buffer_size;
    options->max_jobs_in_flight = defaults.max_jobs_in_flight;
    options->max_batch_delay_ns = static_cast<uint64_t>(defaults.max_batch_delay.count());
    return NPU_SUCCESS;
}

npu_status_t npu_stream_create_with_options(npu_device_t device,
                                            const npu_stream_options_t* options,
                                            npu_stream_t* stream) {
    if (!device)
        return null_argument(__func__, "device");
    if (!options)
        return null_argument(__func__, "options");
    if (!stream)
        return null_argument(__func__, "stream");
    if (npu_status_t s = check_size(__func__, options->size, sizeof(npu_stream_options_t)))
        return s;
    constexpr uint32_t known = NPU_STREAM_SHARED_QUEUE | NPU_STREAM_STOP_ON_ERROR |
                               NPU_STREAM_IMPLICIT_SYNC | NPU_STREAM_MANUAL_SUBMIT;
    if (options->flags & ~known)
        return npu::capi::fail(NPU_ERROR_INVALID_ARGUMENT,
                               "npu_stream_create_with_options: unknown flags");
    npu::StreamOptions o;
    o.priority = static_cast<npu::Priority>(options->priority);
    o.dedicated_queue = !(options->flags & NPU_STREAM_SHARED_QUEUE);
    o.stop_on_error = options->flags & NPU_STREAM_STOP_ON_ERROR;
    o.explicit_sync = !(options->flags & NPU_STREAM_IMPLICIT_SYNC);
    if (options->flags & NPU_STREAM_MANUAL_SUBMIT)
        o.submit_policy = npu::SubmitPolicy::manual;
    if (options->command_buffer_size)
        o.command_buffer_size = options->command_buffer_size;
    if (options->max_jobs_in_flight)
        o.max_jobs_in_flight = options->max_jobs_in_flight;
    if (options->max_batch_delay_ns != UINT64_MAX)
        o.max_batch_delay = std::chrono::nanoseconds(
            static_cast<int64_t>(std::min<uint64_t>(options->max_batch_delay_ns, INT64_MAX)));
    return guarded([&] { *stream = new npu_stream{npu::Stream(device->device, o)}; });
}

npu_status_t npu_stream_get_queue(npu_stream_t stream, uint32_t* queue_id,
                                  npu_priority_t* priority) {
    if (!stream)
        return null_argument(__func__, "stream");
    if (queue_id)
        *queue_id = stream->stream.queue_id();
    if (priority)
        *priority = static_cast<npu_priority_t>(stream->stream.priority());
    return NPU_SUCCESS;
}

npu_status_t npu_stream_get_error(npu_stream_t stream, npu_job_error_t* error, int* stopped) {
    if (!stream)
        return null_argument(__func__, "stream");
    if (!error)
        return null_argument(__func__, "error");
    if (npu_status_t s = check_size(__func__, error->size, sizeof(npu_job_error_t)))
        return s;
    return guarded([&] {
        to_c(stream->stream.error(), error);
        if (stopped)
            *stopped = stream->stream.stopped() ? 1 : 0;
    });
}

npu_status_t npu_event_create_flags(npu_device_t device, uint32_t flags, npu_event_t* event) {
    if (!device)
        return null_argument(__func__, "device");
    if (!event)
        return null_argument(__func__, "event");
    if (flags & ~NPU_EVENT_DISABLE_TIMING)
        return npu::capi::fail(NPU_ERROR_INVALID_ARGUMENT, "npu_event_create_flags: unknown flags");
    const auto f = (flags & NPU_EVENT_DISABLE_TIMING) ? npu::EventFlags::disable_timing
                                                      : npu::EventFlags::none;
    return guarded([&] { *event = new npu_event{npu::Event(device->device, f)}; });
}

npu_status_t npu_event_get_error(npu_event_t event, npu_job_error_t* error) {
    if (!event)
        return null_argument(__func__, "event");
    if (!error)
        return null_argument(__func__, "error");
    if (npu_status_t s = check_size(__func__, error->size, sizeof(npu_job_error_t)))
        return s;
    return guarded([&] { to_c(event->event.error(), error); });
}

} // extern "C"
