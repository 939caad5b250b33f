// BoStorage: one buffer object of a device and its host mapping. Plain
// Buffers own one each; pool chunks are shared by the blocks cut from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "device_state.hpp"

namespace npu::detail {

struct BoStorage : std::enable_shared_from_this<BoStorage> {
    // BO_CREATE + BO_INFO + mmap, registered in the device's AddressMap;
    // throws npu::Error, leaving nothing behind.
    BoStorage(std::shared_ptr<DeviceState> device, size_t size, uint32_t flags);
    ~BoStorage(); // unregister + munmap + GEM_CLOSE
    BoStorage(const BoStorage&) = delete;
    BoStorage& operator=(const BoStorage&) = delete;

    std::shared_ptr<DeviceState> device;
    void* host = nullptr;
    size_t size = 0; // allocated (page-rounded)
    uint64_t device_addr = 0;
    uint32_t handle = 0;
    uint32_t flags = 0;
};

} // namespace npu::detail
