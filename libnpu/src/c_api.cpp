// The C ABI: thin wrappers that turn exceptions into npu_status_t.
#include "npu/npu.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include <cstdio>
#include <cstring>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/pool.hpp"
#include "npu/stream.hpp"

#include "c_api_internal.hpp"

// The handle structs and the error mapping are shared with the other
// c_api_*.cpp files.
using npu::capi::fail;
using npu::capi::guarded;
using npu::capi::null_argument;

namespace {

// No struct of the C ABI grows past this: a larger size is an unset one.
constexpr size_t kMaxStructSize = 4096;

// Stores value into a caller's struct that starts with its own size (see
// npu.h): at most out->size bytes, the rest of a larger struct zeroed;
// Error(EINVAL) if out->size is below min_size, the struct's 1.0 size, or
// above kMaxStructSize.
template <typename T>
void write_sized(T* out, T value, size_t min_size, const char* function) {
    const size_t size = out->size;
    if (size < min_size || size > kMaxStructSize)
        throw npu::Error(EINVAL, std::string(function) + ": size " + std::to_string(size) +
                                     " is not that of the struct (" + std::to_string(min_size) +
                                     " bytes in libnpu 1.0; set size = sizeof the struct)");
    value.size = size;
    const size_t n = std::min(size, sizeof(T));
    std::memcpy(out, &value, n);
    if (size > n)
        std::memset(reinterpret_cast<char*>(out) + n, 0, size - n);
}

// The 1.0 sizes: members added later go after these.
constexpr size_t kDevicePropertiesSize1 =
    offsetof(npu_device_properties_t, pci_address) + sizeof(npu_device_properties_t::pci_address);
constexpr size_t kPoolStatsSize1 =
    offsetof(npu_pool_stats_t, allocations) + sizeof(npu_pool_stats_t::allocations);

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
    case NPU_ERROR_NOT_READY:
        return "NPU_ERROR_NOT_READY";
    case NPU_ERROR_NOT_SUPPORTED:
        return "NPU_ERROR_NOT_SUPPORTED";
    }
    return "NPU_ERROR_UNKNOWN_STATUS";
}

const char* npu_last_error_message(void) {
    return npu::capi::last_error.c_str();
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

#define NPU_REQUIRE(arg)                                                                           \
    do {                                                                                           \
        if (!(arg))                                                                                \
            return null_argument(__func__, #arg);                                                  \
    } while (0)

npu_status_t npu_device_open_by(const char* selector, npu_device_t* device) {
    NPU_REQUIRE(selector);
    NPU_REQUIRE(device);
    return guarded([&] { *device = new npu_device{npu::Device::select(selector)}; });
}

npu_status_t npu_device_get_properties(npu_device_t device, npu_device_properties_t* properties) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(properties);
    return guarded([&] {
        const npu::DeviceProperties p = device->device.properties();
        npu_device_properties_t out{};
        out.pci_device_id = p.pci_device_id;
        out.revision = p.revision;
        out.hw_version = p.hw_version;
        out.fw_version = p.fw_version.major << 16 | p.fw_version.minor << 8 | p.fw_version.patch;
        out.fw_abi = p.fw_abi.major << 16 | p.fw_abi.minor;
        out.engine_count = p.engine_count;
        out.queue_count = p.queue_count;
        out.max_cmd_size = p.max_cmd_size;
        out.devmem_size = p.devmem_size;
        out.va_size = p.va_size;
        out.serial = p.serial;
        std::snprintf(out.uuid, sizeof(out.uuid), "%s", p.uuid.c_str());
        std::snprintf(out.pci_address, sizeof(out.pci_address), "%s",
                      device->device.info().pci_address.c_str());
        write_sized(properties, out, kDevicePropertiesSize1, __func__);
    });
}

npu_status_t npu_device_is_lost(npu_device_t device, int* lost) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(lost);
    *lost = device->device.lost() ? 1 : 0;
    return NPU_SUCCESS;
}

npu_status_t npu_buffer_create_kind(npu_device_t device, size_t size, npu_buffer_kind_t kind,
                                    npu_buffer_t* buffer) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(buffer);
    if (kind > NPU_BUFFER_KIND_HOST_PINNED)
        return fail(NPU_ERROR_INVALID_ARGUMENT, "npu_buffer_create_kind: unknown kind");
    return guarded([&] {
        *buffer =
            new npu_buffer{npu::Buffer(device->device, size, static_cast<npu::BufferKind>(kind))};
    });
}

npu_status_t npu_stream_create_with_priority(npu_device_t device, npu_priority_t priority,
                                             npu_stream_t* stream) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(stream);
    if (priority > NPU_PRIORITY_REALTIME)
        return fail(NPU_ERROR_INVALID_ARGUMENT,
                    "npu_stream_create_with_priority: unknown priority");
    npu::StreamOptions options;
    options.priority = static_cast<npu::Priority>(priority);
    return guarded([&] { *stream = new npu_stream{npu::Stream(device->device, options)}; });
}

npu_status_t npu_stream_copy_from_host(npu_stream_t stream, npu_buffer_t dst, size_t dst_offset,
                                       const void* src, size_t size) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(dst);
    NPU_REQUIRE(src);
    return guarded([&] { stream->stream.copy_from_host(dst->buffer, dst_offset, src, size); });
}

npu_status_t npu_stream_copy_to_host(npu_stream_t stream, void* dst, npu_buffer_t src,
                                     size_t src_offset, size_t size) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(dst);
    NPU_REQUIRE(src);
    return guarded([&] { stream->stream.copy_to_host(dst, src->buffer, src_offset, size); });
}

npu_status_t npu_stream_launch_host_func(npu_stream_t stream, npu_host_fn_t fn, void* user_data) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(fn);
    return guarded([&] { stream->stream.launch_host_func([fn, user_data] { fn(user_data); }); });
}

npu_status_t npu_stream_record_event(npu_stream_t stream, npu_event_t event) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(event);
    return guarded([&] { stream->stream.record(event->event); });
}

npu_status_t npu_stream_wait_event(npu_stream_t stream, npu_event_t event) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(event);
    return guarded([&] { stream->stream.wait(event->event); });
}

npu_status_t npu_stream_flush(npu_stream_t stream) {
    NPU_REQUIRE(stream);
    return guarded([&] { stream->stream.flush(); });
}

npu_status_t npu_stream_query(npu_stream_t stream) {
    NPU_REQUIRE(stream);
    bool done = false;
    const npu_status_t status = guarded([&] { done = stream->stream.query(); });
    return status == NPU_SUCCESS && !done ? NPU_ERROR_NOT_READY : status;
}

npu_status_t npu_event_create(npu_device_t device, npu_event_t* event) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(event);
    return guarded([&] { *event = new npu_event{npu::Event(device->device)}; });
}

npu_status_t npu_event_destroy(npu_event_t event) {
    NPU_REQUIRE(event);
    delete event;
    return NPU_SUCCESS;
}

npu_status_t npu_event_query(npu_event_t event) {
    NPU_REQUIRE(event);
    bool done = false;
    const npu_status_t status = guarded([&] { done = event->event.query(); });
    return status == NPU_SUCCESS && !done ? NPU_ERROR_NOT_READY : status;
}

npu_status_t npu_event_synchronize(npu_event_t event, uint64_t timeout_ns) {
    NPU_REQUIRE(event);
    const auto timeout =
        std::chrono::nanoseconds(static_cast<int64_t>(std::min<uint64_t>(timeout_ns, INT64_MAX)));
    return guarded([&] { event->event.synchronize(timeout); });
}

npu_status_t npu_event_elapsed_ns(npu_event_t start, npu_event_t end, int64_t* elapsed_ns) {
    NPU_REQUIRE(start);
    NPU_REQUIRE(end);
    NPU_REQUIRE(elapsed_ns);
    return guarded([&] { *elapsed_ns = npu::Event::elapsed(start->event, end->event).count(); });
}

npu_status_t npu_event_export_sync_file(npu_event_t event, int* fd) {
    NPU_REQUIRE(event);
    NPU_REQUIRE(fd);
    return guarded([&] { *fd = event->event.export_sync_file(); });
}

npu_status_t npu_event_export_syncobj(npu_event_t event, int* fd) {
    NPU_REQUIRE(event);
    NPU_REQUIRE(fd);
    return guarded([&] { *fd = event->event.export_syncobj(); });
}

npu_status_t npu_event_import_sync_file(npu_device_t device, int fd, npu_event_t* event) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(event);
    return guarded(
        [&] { *event = new npu_event{npu::Event::import_sync_file(device->device, fd)}; });
}

npu_status_t npu_event_import_syncobj(npu_device_t device, int fd, npu_event_t* event) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(event);
    return guarded([&] { *event = new npu_event{npu::Event::import_syncobj(device->device, fd)}; });
}

npu_status_t npu_pool_create(npu_device_t device, size_t chunk_size, size_t release_threshold,
                             npu_pool_t* pool) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(pool);
    npu::PoolOptions options;
    if (chunk_size)
        options.chunk_size = chunk_size;
    options.release_threshold = release_threshold;
    return guarded([&] { *pool = new npu_pool{npu::MemoryPool(device->device, options)}; });
}

npu_status_t npu_device_default_pool(npu_device_t device, npu_pool_t* pool) {
    NPU_REQUIRE(device);
    NPU_REQUIRE(pool);
    return guarded([&] { *pool = new npu_pool{device->device.default_pool()}; });
}

npu_status_t npu_pool_destroy(npu_pool_t pool) {
    NPU_REQUIRE(pool);
    delete pool;
    return NPU_SUCCESS;
}

npu_status_t npu_pool_alloc_async(npu_pool_t pool, size_t size, npu_stream_t stream,
                                  npu_buffer_t* buffer) {
    NPU_REQUIRE(pool);
    NPU_REQUIRE(stream);
    NPU_REQUIRE(buffer);
    return guarded(
        [&] { *buffer = new npu_buffer{pool->pool.allocate_async(size, stream->stream)}; });
}

npu_status_t npu_pool_free_async(npu_pool_t pool, npu_buffer_t buffer, npu_stream_t stream) {
    NPU_REQUIRE(pool);
    NPU_REQUIRE(buffer);
    NPU_REQUIRE(stream);
    const npu_status_t status =
        guarded([&] { pool->pool.free_async(std::move(buffer->buffer), stream->stream); });
    if (status == NPU_SUCCESS)
        delete buffer;
    return status;
}

npu_status_t npu_pool_trim(npu_pool_t pool, size_t min_bytes_to_keep) {
    NPU_REQUIRE(pool);
    return guarded([&] { pool->pool.trim(min_bytes_to_keep); });
}

npu_status_t npu_pool_set_release_threshold(npu_pool_t pool, size_t bytes) {
    NPU_REQUIRE(pool);
    return guarded([&] { pool->pool.set_release_threshold(bytes); });
}

npu_status_t npu_pool_get_stats(npu_pool_t pool, npu_pool_stats_t* stats) {
    NPU_REQUIRE(pool);
    NPU_REQUIRE(stats);
    return guarded([&] {
        const npu::PoolStats s = pool->pool.stats();
        const npu_pool_stats_t out = {
            sizeof(npu_pool_stats_t), s.reserved_bytes, s.used_bytes, s.reserved_high_water,
            s.used_high_water,        s.chunks,         s.allocations};
        write_sized(stats, out, kPoolStatsSize1, __func__);
    });
}

} // extern "C"

// For the C ABI of other areas (c_api_access.hpp).
namespace npu::capi {
npu::Stream* stream_of(npu_stream_t stream) noexcept {
    return stream ? &stream->stream : nullptr;
}
const npu::Device* device_of(npu_device_t device) noexcept {
    return device ? &device->device : nullptr;
}
npu_status_t fail_with(npu_status_t status, std::string message) {
    return fail(status, std::move(message));
}
npu_status_t status_of_errno(int errnum) {
    return status_for_errno(errnum);
}
} // namespace npu::capi
