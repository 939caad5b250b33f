// The C ABI: thin wrappers that turn exceptions into npu_status_t.
#include "npu/npu.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <new>
#include <string>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"

struct npu_device {
    npu::Device device;
};
struct npu_buffer {
    npu::Buffer buffer;
};
struct npu_stream {
    npu::Stream stream;
};

namespace {

thread_local std::string last_error;

npu_status_t status_for_errno(int errnum) {
    switch (errnum) {
    case EINVAL:
    case ERANGE:
    case EOVERFLOW:
    case EBADF:
        return NPU_ERROR_INVALID_ARGUMENT;
    case ENODEV:
    case ENOENT:
    case ENXIO:
        return NPU_ERROR_NO_DEVICE;
    case EACCES:
    case EPERM:
        return NPU_ERROR_PERMISSION_DENIED;
    case ENOMEM:
    case ENOSPC:
        return NPU_ERROR_OUT_OF_MEMORY;
    case ETIME:
    case ETIMEDOUT:
        return NPU_ERROR_TIMEOUT;
    default:
        return NPU_ERROR_OS;
    }
}

npu_status_t fail(npu_status_t status, std::string message) {
    try {
        last_error = std::move(message);
    } catch (...) {
        last_error.clear();
    }
    return status;
}

// Runs body, mapping every exception to a status and a message.
template <typename Body>
npu_status_t guarded(Body&& body) noexcept {
    try {
        body();
        return NPU_SUCCESS;
    } catch (const npu::JobError& e) {
        return fail(NPU_ERROR_JOB_FAILED, e.what());
    } catch (const std::system_error& e) {
        return fail(status_for_errno(e.code().value()), e.what());
    } catch (const std::bad_alloc&) {
        return fail(NPU_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
        return fail(NPU_ERROR_INTERNAL, e.what());
    } catch (...) {
        return fail(NPU_ERROR_INTERNAL, "unknown exception");
    }
}

npu_status_t null_argument(const char* function, const char* argument) {
    return fail(NPU_ERROR_INVALID_ARGUMENT,
                std::string(function) + ": " + argument + " must not be NULL");
}

} // namespace

extern "C" {

const char* npu_status_string(npu_status_t status) {
    switch (status) {
    case NPU_SUCCESS:
        return "NPU_SUCCESS";
    case NPU_ERROR_INVALID_ARGUMENT:
        return "NPU_ERROR_INVALID_ARGUMENT";
    case NPU_ERROR_NO_DEVICE:
        return "NPU_ERROR_NO_DEVICE";
    case NPU_ERROR_PERMISSION_DENIED:
        return "NPU_ERROR_PERMISSION_DENIED";
    case NPU_ERROR_OUT_OF_MEMORY:
        return "NPU_ERROR_OUT_OF_MEMORY";
    case NPU_ERROR_TIMEOUT:
        return "NPU_ERROR_TIMEOUT";
    case NPU_ERROR_JOB_FAILED:
        return "NPU_ERROR_JOB_FAILED";
    case NPU_ERROR_OS:
        return "NPU_ERROR_OS";
    case NPU_ERROR_INTERNAL:
        return "NPU_ERROR_INTERNAL";
    }
    return "NPU_ERROR_UNKNOWN_STATUS";
}

const char* npu_last_error_message(void) {
    return last_error.c_str();
}

npu_status_t npu_device_count(uint32_t* count) {
    if (!count)
        return null_argument(__func__, "count");
    return guarded([&] { *count = static_cast<uint32_t>(npu::Device::enumerate().size()); });
}

npu_status_t npu_device_open(uint32_t index, npu_device_t* device) {
    if (!device)
        return null_argument(__func__, "device");
    return guarded([&] { *device = new npu_device{npu::Device(index)}; });
}

npu_status_t npu_device_close(npu_device_t device) {
    if (!device)
        return null_argument(__func__, "device");
    delete device;
    return NPU_SUCCESS;
}

npu_status_t npu_buffer_create(npu_device_t device, size_t size, uint32_t flags,
                               npu_buffer_t* buffer) {
    if (!device)
        return null_argument(__func__, "device");
    if (!buffer)
        return null_argument(__func__, "buffer");
    if (flags & ~NPU_BUFFER_DEVICE_READ_ONLY)
        return fail(NPU_ERROR_INVALID_ARGUMENT, "npu_buffer_create: unknown flags");
    return guarded([&] {
        *buffer =
            new npu_buffer{npu::Buffer(device->device, size, static_cast<npu::BufferFlags>(flags))};
    });
}

npu_status_t npu_buffer_destroy(npu_buffer_t buffer) {
    if (!buffer)
        return null_argument(__func__, "buffer");
    delete buffer;
    return NPU_SUCCESS;
}

npu_status_t npu_buffer_host_ptr(npu_buffer_t buffer, void** host_ptr) {
    if (!buffer)
        return null_argument(__func__, "buffer");
    if (!host_ptr)
        return null_argument(__func__, "host_ptr");
    *host_ptr = buffer->buffer.host_ptr();
    return NPU_SUCCESS;
}

npu_status_t npu_buffer_device_addr(npu_buffer_t buffer, uint64_t* device_addr) {
    if (!buffer)
        return null_argument(__func__, "buffer");
    if (!device_addr)
        return null_argument(__func__, "device_addr");
    *device_addr = buffer->buffer.device_addr();
    return NPU_SUCCESS;
}

npu_status_t npu_buffer_size(npu_buffer_t buffer, size_t* size) {
    if (!buffer)
        return null_argument(__func__, "buffer");
    if (!size)
        return null_argument(__func__, "size");
    *size = buffer->buffer.size();
    return NPU_SUCCESS;
}

npu_status_t npu_stream_create(npu_device_t device, npu_stream_t* stream) {
    if (!device)
        return null_argument(__func__, "device");
    if (!stream)
        return null_argument(__func__, "stream");
    return guarded([&] { *stream = new npu_stream{npu::Stream(device->device)}; });
}

npu_status_t npu_stream_destroy(npu_stream_t stream) {
    if (!stream)
        return null_argument(__func__, "stream");
    delete stream;
    return NPU_SUCCESS;
}

npu_status_t npu_stream_fill(npu_stream_t stream, npu_buffer_t dst, size_t offset, size_t size,
                             uint32_t pattern) {
    if (!stream)
        return null_argument(__func__, "stream");
    if (!dst)
        return null_argument(__func__, "dst");
    return guarded([&] { stream->stream.fill(dst->buffer, offset, size, pattern); });
}

npu_status_t npu_stream_copy(npu_stream_t stream, npu_buffer_t src, size_t src_offset,
                             npu_buffer_t dst, size_t dst_offset, size_t size) {
    if (!stream)
        return null_argument(__func__, "stream");
    if (!src)
        return null_argument(__func__, "src");
    if (!dst)
        return null_argument(__func__, "dst");
    return guarded(
        [&] { stream->stream.copy(src->buffer, src_offset, dst->buffer, dst_offset, size); });
}

npu_status_t npu_stream_synchronize(npu_stream_t stream, uint64_t timeout_ns) {
    if (!stream)
        return null_argument(__func__, "stream");
    const auto timeout =
        std::chrono::nanoseconds(static_cast<int64_t>(std::min<uint64_t>(timeout_ns, INT64_MAX)));
    return guarded([&] { stream->stream.synchronize(timeout); });
}

} // extern "C"
