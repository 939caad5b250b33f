#include "npu/pool.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>

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

void Timeline::refresh() {
    mark_complete(device->api.syncobj_query(syncobj));
}

PoolState::PoolState(std::shared_ptr<DeviceState> device_state, const PoolOptions& pool_options)
    : device(std::move(device_state)), options(pool_options),
      release_threshold(pool_options.release_threshold) {}

PoolState::~PoolState() = default;

bool PoolState::usable(const FreeBlock& block, const Timeline* stream) const noexcept {
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
    if (!found) {
        // Blocks other streams freed may have become idle: ask the kernel.
        std::set<Timeline*> pending;
        for (const Chunk& chunk : chunks)
            for (const FreeBlock& block : chunk.free)
                if (block.after && !block.after->known_complete(block.point))
                    pending.insert(block.after.get());
        for (Timeline* timeline : pending)
            timeline->refresh();
        found = !pending.empty() && take(rounded, stream, out, self);
    }
    if (!found) {
        const size_t bytes = std::max(options.chunk_size, round_up(rounded, kPage));
        Chunk chunk;
        chunk.bo = std::make_shared<BoStorage>(device, bytes, 0);
        chunk.free.push_back({0, chunk.bo->size, nullptr, 0});
        stats.reserved_bytes += chunk.bo->size;
        stats.reserved_high_water = std::max(stats.reserved_high_water, stats.reserved_bytes);
        ++stats.chunks;
        chunks.push_back(std::move(chunk));
        if (!take(rounded, stream, out, self))
            throw Error(ENOMEM, "pool: new chunk does not fit the allocation");
    }
    out.size_ = size;
    return out;
}

void PoolState::release_block(const BoStorage* bo, size_t offset, size_t size,
                              std::shared_ptr<Timeline> after, uint64_t point) noexcept {
    std::lock_guard lock(mutex);
    auto chunk = std::find_if(chunks.begin(), chunks.end(),
                              [bo](const Chunk& c) { return c.bo.get() == bo; });
    if (chunk == chunks.end())
        return; // not ours: cannot happen for blocks this pool handed out
    if (after && after->known_complete(point))
        after.reset();
    chunk->used -= size;
    stats.used_bytes -= size;
    --stats.allocations;
    auto& free = chunk->free;
    auto it =
        free.insert(std::lower_bound(free.begin(), free.end(), offset,
                                     [](const FreeBlock& b, size_t o) { return b.offset < o; }),
                    FreeBlock{offset, size, std::move(after), point});
    // Merges a with b (b directly after a) when their conditions agree.
    auto merge = [this](FreeBlock& a, FreeBlock& b) {
        if (a.offset + a.size != b.offset)
            return false;
        for (FreeBlock* x : {&a, &b})
            if (x->after && x->after->known_complete(x->point))
                x->after.reset();
        if (a.after != b.after)
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
        const bool idle =
            it->used == 0 && it->free.size() == 1 &&
            (!it->free[0].after || it->free[0].after->known_complete(it->free[0].point));
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
    const uint64_t point = impl.promise_point();
    state_->release_block(buffer.bo_.get(), buffer.offset_, buffer.allocated_size_, impl.timeline,
                          point);
    buffer.pool_.reset();
    buffer = Buffer();
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
