// MemoryAccess: what the pointer API (memory.cpp, stream_memory.cpp,
// c_api_memory.cpp) reaches inside Device, Buffer, MemoryPool and Stream.
#pragma once

#include <memory>

#include "bo_storage.hpp"
#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/pool.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"

namespace npu::detail {

struct StreamImpl;

struct MemoryAccess {
    static const std::shared_ptr<DeviceState>& state(const Device& device) { return device.state_; }
    static Device device(std::shared_ptr<DeviceState> state) { return Device(std::move(state)); }
    static const std::shared_ptr<BoStorage>& bo(const Buffer& buffer) { return buffer.bo_; }
    static const std::shared_ptr<PoolState>& pool(const Buffer& buffer) { return buffer.pool_; }
    static MemoryPool pool_handle(std::shared_ptr<PoolState> state) {
        return MemoryPool(std::move(state));
    }
    static StreamImpl& impl(Stream& stream);
    static const std::shared_ptr<PoolState>& pool(const MemoryPool& pool) { return pool.state_; }
    // Returns a pool block for reuse after `after` reaches point; block
    // becomes empty.
    static void release_after(Buffer& block, std::shared_ptr<Timeline> after, uint64_t point) {
        block.pool_->release_block(block.bo_.get(), block.offset_, block.allocated_size_,
                                   std::move(after), point);
        block.pool_.reset();
        block = Buffer();
    }
};

} // namespace npu::detail
