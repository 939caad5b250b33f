// Shared by the C ABI's source files (c_api*.cpp): the handle structs
// behind the opaque C types, and the exception -> npu_status_t mapping.
#pragma once

#include <cerrno>
#include <new>
#include <string>
#include <system_error>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/npu.h"
#include "npu/pool.hpp"
#include "npu/stream.hpp"

struct npu_device {
    npu::Device device;
};
struct npu_event {
    npu::Event event;
};
struct npu_pool {
    npu::MemoryPool pool;
};
struct npu_buffer {
    npu::Buffer buffer;
};
struct npu_stream {
    npu::Stream stream;
};

namespace npu::capi {

inline thread_local std::string last_error;

inline npu_status_t status_for_errno(int errnum) {
    switch (errnum) {
    case EINVAL:
    case ERANGE:
    case EOVERFLOW:
    case EBADF:
    case E2BIG:
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
    case ENOTSUP:
        return NPU_ERROR_NOT_SUPPORTED;
    default:
        return NPU_ERROR_OS;
    }
}

inline npu_status_t fail(npu_status_t status, std::string message) {
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

inline npu_status_t null_argument(const char* function, const char* argument) {
    return fail(NPU_ERROR_INVALID_ARGUMENT,
                std::string(function) + ": " + argument + " must not be NULL");
}

} // namespace npu::capi
