#include "npu/stream.hpp"

#include <ctime>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <drm/npu_packet.h>

#include "device_state.hpp"
#include "npu/error.hpp"

namespace npu {

namespace {

int64_t monotonic_now_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// now + timeout, saturating so "wait forever" style timeouts stay positive.
int64_t deadline_after(std::chrono::nanoseconds timeout) {
    const int64_t now = monotonic_now_ns();
    const int64_t delta = std::max<int64_t>(timeout.count(), 0);
    return delta > std::numeric_limits<int64_t>::max() - now ? std::numeric_limits<int64_t>::max()
                                                             : now + delta;
}

template <typename Packet>
void encode(std::byte* where, const Packet& packet) {
    static_assert(sizeof(Packet) % 8 == 0, "packets are multiples of 8 bytes");
    std::memcpy(where, &packet, sizeof(packet));
}

} // namespace

Stream::Stream(const Device& device, const StreamOptions& options)
    : device_(device.state_), options_(options) {
    const uint64_t max_cmd = device_->api.get_param(DRM_NPU_PARAM_MAX_CMD_SIZE);
    capacity_ = std::min<uint64_t>(options_.command_buffer_size, max_cmd) & ~size_t{7};
    if (capacity_ < sizeof(npu_pkt_copy))
        throw Error(EINVAL, "create stream: command buffer of " + std::to_string(capacity_) +
                                " bytes is too small");
    options_.max_jobs_in_flight = std::max<size_t>(options_.max_jobs_in_flight, 1);
}

Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

size_t Stream::pending_bytes() const noexcept {
    return current_ ? current_->used : 0;
}

void Stream::check_range(const Buffer& buffer, size_t offset, size_t size, const char* what) const {
    if (!buffer.device_)
        throw Error(EINVAL, std::string(what) + ": buffer was moved from");
    if (buffer.device_ != device_)
        throw Error(EINVAL, std::string(what) + ": buffer belongs to another device");
    if (offset > buffer.size() || size > buffer.size() - offset)
        throw Error(EINVAL, std::string(what) + ": range [" + std::to_string(offset) + ", +" +
                                std::to_string(size) + ") exceeds the buffer's " +
                                std::to_string(buffer.size()) + " bytes");
}

void Stream::fill(Buffer& dst, size_t offset, size_t size, uint32_t pattern) {
    check_range(dst, offset, size, "fill");
    if (offset % 4 != 0 || size % 4 != 0)
        throw Error(EINVAL, "fill: offset and size must be multiples of 4");
    if (size == 0)
        return;
    npu_pkt_fill packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS);
    packet.value = pattern;
    packet.dst = dst.device_addr() + offset;
    packet.size = size;
    encode(reserve(sizeof(packet), {&dst}), packet);
}

void Stream::copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset,
                  size_t size) {
    check_range(src, src_offset, size, "copy source");
    check_range(dst, dst_offset, size, "copy destination");
    if (&src == &dst && src_offset < dst_offset + size && dst_offset < src_offset + size &&
        size != 0)
        throw Error(EINVAL, "copy: source and destination overlap");
    if (size == 0)
        return;
    npu_pkt_copy packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS);
    packet.src = src.device_addr() + src_offset;
    packet.dst = dst.device_addr() + dst_offset;
    packet.size = size;
    encode(reserve(sizeof(packet), {&src, &dst}), packet);
}

std::byte* Stream::reserve(size_t bytes, std::initializer_list<const Buffer*> referenced) {
    // One slot of the BO list is the command buffer itself.
    constexpr size_t max_handles = DRM_NPU_MAX_SUBMIT_BOS - 1;
    if (current_ && (current_->used + bytes > capacity_ ||
                     current_->handles.size() + referenced.size() > max_handles))
        flush();
    if (!current_)
        current_ = std::make_unique<Batch>(take_free_batch());
    Batch& batch = *current_;
    for (const Buffer* buffer : referenced)
        if (std::find(batch.handles.begin(), batch.handles.end(), buffer->handle()) ==
            batch.handles.end())
            batch.handles.push_back(buffer->handle());
    std::byte* where = static_cast<std::byte*>(batch.commands.host_ptr()) + batch.used;
    batch.used += bytes;
    return where;
}

Stream::Batch Stream::take_free_batch() {
    if (free_.empty() && in_flight_.size() >= options_.max_jobs_in_flight) {
        if (!reap_oldest(deadline_after(options_.backpressure_timeout)))
            throw Error(ETIME, "stream: waiting for a free command buffer");
    }
    if (!free_.empty()) {
        Batch batch = std::move(free_.back());
        free_.pop_back();
        return batch;
    }
    Device device(device_);
    return Batch{Buffer(device, capacity_, BufferFlags::device_read_only), 0, {}, 0};
}

void Stream::flush() {
    if (!current_ || current_->used == 0)
        return;
    Batch& batch = *current_;
    std::vector<uint32_t> handles;
    handles.reserve(batch.handles.size() + 1);
    handles.push_back(batch.commands.handle());
    handles.insert(handles.end(), batch.handles.begin(), batch.handles.end());
    // On failure the batch stays current: nothing was submitted.
    batch.seqno = device_->api.submit(handles, batch.commands.device_addr(),
                                      static_cast<uint32_t>(batch.used), options_.queue_id);
    in_flight_.push_back(std::move(batch));
    current_.reset();
}

void Stream::discard() noexcept {
    if (!current_)
        return;
    current_->used = 0;
    current_->handles.clear();
    free_.push_back(std::move(*current_));
    current_.reset();
}

bool Stream::reap_oldest(int64_t deadline_ns) {
    Batch& oldest = in_flight_.front();
    const auto result = device_->api.wait(options_.queue_id, oldest.seqno, deadline_ns);
    if (!result)
        return false;
    // EXPIRED means done but too old for the kernel to remember the status;
    // with max_jobs_in_flight far below DRM_NPU_WAIT_HISTORY that only
    // happens when other streams flood the same queue, so it is not a failure.
    const uint32_t status = result->job_status;
    if (status != DRM_NPU_JOB_STATUS_OK && status != DRM_NPU_JOB_STATUS_EXPIRED && !first_failure_)
        first_failure_ = std::make_exception_ptr(
            JobError(status, oldest.seqno, result->err_offset, result->fault_addr));
    Batch done = std::move(oldest);
    in_flight_.pop_front();
    done.used = 0;
    done.handles.clear();
    free_.push_back(std::move(done));
    return true;
}

void Stream::synchronize(std::chrono::nanoseconds timeout) {
    flush();
    const int64_t deadline = deadline_after(timeout);
    while (!in_flight_.empty())
        if (!reap_oldest(deadline))
            throw Error(ETIME, "synchronize: " + std::to_string(in_flight_.size()) +
                                   " job(s) still running at the deadline");
    if (first_failure_)
        std::rethrow_exception(std::exchange(first_failure_, nullptr));
}

} // namespace npu
