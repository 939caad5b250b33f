#include "npu/pool.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>
#include <utility>

#include <npu/uapi/drm/npu_accel.h>

#include "npu/error.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"
#include "stream_impl.hpp"

namespace npu {

namespace detail {

namespace {

constexpr size_t kAlignment = 256;
constexpr size_t kPage = 4096;

size_t round_up(size_t value, size_t to) {
    return (value + to - 1) / to * to;
}

} // namespace

Timeline::Timeline(std::shared_ptr<DeviceState> device_state)
    : device(std::move(device_state)), syncobj(device->api.syncobj_create()) {}

Timeline::~Timeline() {
    device->api.syncobj_destroy(syncobj);
}

void Timeline::mark_complete(uint64_t point) noexcept {
    uint64_t seen = completed.load(std::memory_order_relaxed);
    while (seen < point &&
           !completed.compare_exchange_weak(seen, point, std::memory_order_acq_rel)) {
    }
}

PoolState::PoolState(std::shared_ptr<DeviceState> device_state, const PoolOptions& pool_options)
    : device(std::move(device_state)), options(pool_options),
      release_threshold(pool_options.release_threshold), max_bytes(pool_options.max_bytes) {}

bool PoolState::FreeBlock::settle() noexcept {
    if (after && after->known_complete(point))
        after.reset();
    std::erase_if(also, [](const Wait& w) { return w.first->known_complete(w.second); });
    return !after && also.empty();
}

void PoolState::record(const BoStorage* bo, size_t offset, std::shared_ptr<Timeline> timeline,
                       uint64_t point) {
    std::lock_guard lock(mutex);
    auto& waits = recorded[{bo, offset}];
    for (Wait& w : waits)
        if (w.first == timeline) {
            w.second = std::max(w.second, point);
            return;
        }
    waits.emplace_back(std::move(timeline), point);
}

std::vector<PoolSegment> PoolState::snapshot() const {
    std::lock_guard lock(mutex);
    std::vector<PoolSegment> segments;
    for (const Chunk& chunk : chunks) {
        PoolSegment segment;
        segment.address = chunk.bo->host;
        segment.size = chunk.bo->size;
        size_t at = 0;
        for (const FreeBlock& block : chunk.free) {
            if (block.offset > at)
                segment.blocks.push_back({at, block.offset - at, true, false});
            const bool pending =
                (block.after && !block.after->known_complete(block.point)) ||
                std::any_of(block.also.begin(), block.also.end(),
                            [](const Wait& w) { return !w.first->known_complete(w.second); });
            segment.blocks.push_back({block.offset, block.size, false, pending});
            at = block.offset + block.size;
        }
        if (at < segment.size)
            segment.blocks.push_back({at, segment.size - at, true, false});
        segments.push_back(std::move(segment));
    }
    return segments;
}

PoolState::~PoolState() = default;

bool PoolState::usable(const FreeBlock& block, const Timeline* stream) const noexcept {
    for (const Wait& w : block.also)
        if (!w.first->known_complete(w.second))
            return false;
    return !block.after || (stream && block.after.get() == stream) ||
           block.after->known_complete(block.point);
}

bool PoolState::take(size_t size, const Timeline* stream, Buffer& out,
                     const std::shared_ptr<PoolState>& self) {
    for (Chunk& chunk : chunks) {
        for (auto it = chunk.free.begin(); it != chunk.free.end(); ++it) {
            if (it->size < size || !usable(*it, stream))
                continue;
            const size_t offset = it->offset;
            it->offset += size;
            it->size -= size;
            if (it->size == 0)
                chunk.free.erase(it);
            chunk.used += size;
            stats.used_bytes += size;
            stats.used_high_water = std::max(stats.used_high_water, stats.used_bytes);
            ++stats.allocations;
            ++stats.total_allocations;
            out.device_ = device;
            out.bo_ = chunk.bo;
            out.pool_ = self;
            out.host_ = static_cast<std::byte*>(chunk.bo->host) + offset;
            out.offset_ = offset;
            out.allocated_size_ = size;
            out.device_addr_ = chunk.bo->device_addr + offset;
            out.handle_ = chunk.bo->handle;
            out.kind_ = options.kind;
            return true;
        }
    }
    return false;
}

Buffer PoolState::allocate(size_t size, const Timeline* stream,
                           const std::shared_ptr<PoolState>& self) {
    if (size == 0)
        throw Error(EINVAL, "pool allocate of size 0");
    const size_t rounded = round_up(size, kAlignment);
    Buffer out;
    std::lock_guard lock(mutex);
    bool found = take(rounded, stream, out, self);
    if (!found) // blocks other streams freed may have become idle: ask the kernel
        found = refresh_pending() && take(rounded, stream, out, self);
    if (!found) {
        const size_t bytes = std::max(options.chunk_size, round_up(rounded, kPage));
        try {
            if (stats.reserved_bytes + bytes > max_bytes) {
                ++stats.oom_retries;
                release_idle_chunks(0);
                if (stats.reserved_bytes + bytes > max_bytes)
                    throw Error(ENOMEM, "pool: " + std::to_string(bytes) +
                                            " more bytes would pass the pool's cap of " +
                                            std::to_string(max_bytes));
            }
            try {
                add_chunk(bytes);
            } catch (const Error& e) {
                if (e.errnum() != ENOMEM && e.errnum() != ENOSPC)
                    throw;
                // Out of memory: give idle chunks back to the system, retry once.
                ++stats.oom_retries;
                refresh_pending();
                release_idle_chunks(0);
                add_chunk(bytes);
            }
        } catch (...) {
            ++stats.failed_allocations;
            throw;
        }
        if (!take(rounded, stream, out, self))
            throw Error(ENOMEM, "pool: new chunk does not fit the allocation");
    }
    out.size_ = size;
    return out;
}

bool PoolState::refresh_pending() {
    std::set<Timeline*> pending;
    for (const Chunk& chunk : chunks)
        for (const FreeBlock& block : chunk.free) {
            if (block.after && !block.after->known_complete(block.point))
                pending.insert(block.after.get());
            for (const Wait& w : block.also)
                if (!w.first->known_complete(w.second))
                    pending.insert(w.first.get());
        }
    for (Timeline* timeline : pending)
        timeline->refresh();
    return !pending.empty();
}

void PoolState::add_chunk(size_t bytes) {
    Chunk chunk;
    chunk.bo = std::make_shared<BoStorage>(
        device, bytes, bo_flags,
        options.kind == BufferKind::host_pinned ? MemoryKind::host_pinned : MemoryKind::device);
    chunk.free.push_back({0, chunk.bo->size, nullptr, 0, {}});
    stats.reserved_bytes += chunk.bo->size;
    stats.reserved_high_water = std::max(stats.reserved_high_water, stats.reserved_bytes);
    ++stats.chunks;
    ++stats.chunk_creations;
    chunks.push_back(std::move(chunk));
}

void PoolState::release_block(const BoStorage* bo, size_t offset, size_t size,
                              std::shared_ptr<Timeline> after, uint64_t point) noexcept {
    std::lock_guard lock(mutex);
    auto chunk = std::find_if(chunks.begin(), chunks.end(),
                              [bo](const Chunk& c) { return c.bo.get() == bo; });
    if (chunk == chunks.end())
        return; // not ours: cannot happen for blocks this pool handed out
    FreeBlock released{offset, size, std::move(after), point, {}};
    if (auto rec = recorded.find({bo, offset}); rec != recorded.end()) {
        released.also = std::move(rec->second);
        recorded.erase(rec);
    }
    released.settle();
    chunk->used -= size;
    stats.used_bytes -= size;
    --stats.allocations;
    ++stats.total_frees;
    auto& free = chunk->free;
    auto it =
        free.insert(std::lower_bound(free.begin(), free.end(), offset,
                                     [](const FreeBlock& b, size_t o) { return b.offset < o; }),
                    std::move(released));
    // Merges a with b (b directly after a) when their conditions agree.
    auto merge = [](FreeBlock& a, FreeBlock& b) {
        if (a.offset + a.size != b.offset)
            return false;
        a.settle();
        b.settle();
        if (a.after != b.after || !a.also.empty() || !b.also.empty())
            return false;
        a.size += b.size;
        a.point = std::max(a.point, b.point);
        return true;
    };
    if (it + 1 != free.end() && merge(*it, *(it + 1)))
        free.erase(it + 1);
    if (it != free.begin() && merge(*(it - 1), *it))
        free.erase(it);
    if (stats.reserved_bytes > release_threshold)
        release_idle_chunks(release_threshold);
}

void PoolState::release_idle_chunks(size_t keep) noexcept {
    for (auto it = chunks.begin(); it != chunks.end() && stats.reserved_bytes > keep;) {
        const bool idle = it->used == 0 && it->free.size() == 1 && it->free[0].settle();
        if (!idle) {
            ++it;
            continue;
        }
        stats.reserved_bytes -= it->bo->size;
        --stats.chunks;
        it = chunks.erase(it); // unmaps and closes the BO
    }
}

void PoolState::trim(size_t keep) {
    std::lock_guard lock(mutex);
    release_idle_chunks(keep);
}

} // namespace detail

namespace {

// A moved-from pool or stream is reported, not dereferenced.
detail::PoolState& checked(const std::shared_ptr<detail::PoolState>& state) {
    if (!state)
        throw Error(EINVAL, "pool was moved from");
    return *state;
}

detail::StreamImpl& checked(const std::unique_ptr<detail::StreamImpl>& impl, const char* what) {
    if (!impl)
        throw Error(EINVAL, std::string(what) + ": stream was moved from");
    return *impl;
}

} // namespace

MemoryPool::MemoryPool(const Device& device, const PoolOptions& options)
    : state_(std::make_shared<detail::PoolState>(device.state_, options)) {
    if (options.chunk_size == 0)
        throw Error(EINVAL, "pool: chunk_size 0");
}

MemoryPool::MemoryPool(std::shared_ptr<detail::PoolState> state) : state_(std::move(state)) {}
MemoryPool::~MemoryPool() = default;
MemoryPool::MemoryPool(const MemoryPool&) = default;
MemoryPool& MemoryPool::operator=(const MemoryPool&) = default;
MemoryPool::MemoryPool(MemoryPool&&) noexcept = default;
MemoryPool& MemoryPool::operator=(MemoryPool&&) noexcept = default;

Device MemoryPool::device() const {
    return Device(checked(state_).device);
}

Buffer MemoryPool::allocate_async(size_t size, Stream& stream) {
    checked(state_);
    detail::StreamImpl& impl = checked(stream.impl_, "pool allocate_async");
    if (impl.device != state_->device)
        throw Error(EINVAL, "pool allocate_async: stream of another device");
    impl.check_alive("pool allocate_async");
    return state_->allocate(size, impl.timeline.get(), state_);
}

Buffer MemoryPool::allocate(size_t size) {
    if (checked(state_).device->api.lost())
        throw Error(ENODEV, "pool allocate (device lost)");
    return state_->allocate(size, nullptr, state_);
}

void MemoryPool::free_async(Buffer&& buffer, Stream& stream) {
    checked(state_);
    if (!buffer.valid())
        throw Error(EINVAL, "pool free_async: buffer was moved from");
    if (buffer.pool_ != state_)
        throw Error(EINVAL, "pool free_async: buffer is not from this pool");
    detail::StreamImpl& impl = checked(stream.impl_, "pool free_async");
    if (impl.device != state_->device)
        throw Error(EINVAL, "pool free_async: stream of another device");
    // The stream may be in use by other threads: its point under its lock.
    const uint64_t point = [&impl] {
        std::lock_guard lock(impl.mutex);
        return impl.promise_point();
    }();
    state_->release_block(buffer.bo_.get(), buffer.offset_, buffer.allocated_size_, impl.timeline,
                          point);
    buffer.pool_.reset();
    buffer = Buffer();
}

void MemoryPool::record_stream(const Buffer& buffer, Stream& stream) {
    if (buffer.pool_ != state_)
        throw Error(EINVAL, "pool record_stream: buffer is not from this pool");
    detail::StreamImpl& impl = *stream.impl_;
    if (impl.device != state_->device)
        throw Error(EINVAL, "pool record_stream: stream of another device");
    const uint64_t point = [&impl] {
        std::lock_guard lock(impl.mutex);
        return impl.promise_point();
    }();
    state_->record(buffer.bo_.get(), buffer.offset_, impl.timeline, point);
}

std::vector<PoolSegment> MemoryPool::snapshot() const {
    return state_->snapshot();
}

void MemoryPool::set_max_bytes(size_t bytes) {
    std::lock_guard lock(state_->mutex);
    state_->max_bytes = bytes;
}

size_t MemoryPool::max_bytes() const {
    std::lock_guard lock(state_->mutex);
    return state_->max_bytes;
}

void MemoryPool::trim(size_t min_bytes_to_keep) {
    checked(state_).trim(min_bytes_to_keep);
}

void MemoryPool::set_release_threshold(size_t bytes) {
    std::lock_guard lock(checked(state_).mutex);
    state_->release_threshold = bytes;
}

size_t MemoryPool::release_threshold() const {
    std::lock_guard lock(checked(state_).mutex);
    return state_->release_threshold;
}

PoolStats MemoryPool::stats() const {
    std::lock_guard lock(checked(state_).mutex);
    return state_->stats;
}

void MemoryPool::reset_high_water() {
    std::lock_guard lock(checked(state_).mutex);
    state_->stats.reserved_high_water = state_->stats.reserved_bytes;
    state_->stats.used_high_water = state_->stats.used_bytes;
}

namespace detail {

std::shared_ptr<PoolState> upload_pool(const std::shared_ptr<DeviceState>& device) {
    std::lock_guard lock(device->pool_mutex);
    auto pool = device->upload_pool.lock();
    if (!pool) {
        pool = std::make_shared<PoolState>(device, PoolOptions{});
        pool->bo_flags = DRM_NPU_BO_DEVICE_READ_ONLY;
        device->upload_pool = pool;
    }
    return pool;
}

} // namespace detail

MemoryPool Device::default_pool() const {
    std::lock_guard lock(state_->pool_mutex);
    auto pool = state_->default_pool.lock();
    if (!pool) {
        pool = std::make_shared<detail::PoolState>(state_, PoolOptions{});
        state_->default_pool = pool;
    }
    return MemoryPool(std::move(pool));
}

} // namespace npu
