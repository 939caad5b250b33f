// BoStorage: one buffer object of a device and its host mapping. Plain
// Buffers own one each; pool chunks are shared by the blocks cut from them.
//
// Shared virtual addressing: the BO is mapped into the process at an
// address of process_va() and bound (VM_BIND) at that same address in the
// device's address space, so host == device_addr. The address BO_CREATE
// chose stays unused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "device_state.hpp"
#include "npu/memory.hpp"

namespace npu::detail {

struct BoStorage : std::enable_shared_from_this<BoStorage> {
    // BO_CREATE + BO_INFO + mmap + VM_BIND at one address, registered in
    // the device's and the process's AddressMap; throws npu::Error, leaving
    // nothing behind.
    BoStorage(std::shared_ptr<DeviceState> device, size_t size, uint32_t flags,
              MemoryKind kind = MemoryKind::device);
    // PRIME import of a dma-buf (the fd stays the caller's), mapped and
    // bound like a created BO.
    struct Import {};
    BoStorage(std::shared_ptr<DeviceState> device, int dmabuf_fd, Import);
    // Existing process memory [host, host + size) (page-aligned) pinned by
    // DRM_IOCTL_NPU_USERPTR. Below 2^39 it is bound at its own address (one
    // pointer); elsewhere the device reaches it at the address USERPTR
    // chose, and libnpu translates (host != device_addr).
    struct Register {};
    BoStorage(std::shared_ptr<DeviceState> device, void* host, size_t size, bool read_only,
              Register);
    // source's pages in another device's context, bound there at source's
    // address (no host mapping of its own): see peer().
    struct Peer {};
    BoStorage(std::shared_ptr<DeviceState> device, const BoStorage& source, Peer);
    ~BoStorage(); // unbind + unregister + munmap + GEM_CLOSE
    BoStorage(const BoStorage&) = delete;
    BoStorage& operator=(const BoStorage&) = delete;

    // This BO as seen by other's work: itself on its own device, else a
    // PRIME import into other bound at the same address, made on first use
    // and kept until this BO goes.
    std::shared_ptr<BoStorage> peer(const std::shared_ptr<DeviceState>& other);
    // The device address of host address p inside this BO.
    [[nodiscard]] uint64_t device_address_of(const void* p) const noexcept {
        return device_addr + (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(host));
    }

    std::shared_ptr<DeviceState> device;
    void* host = nullptr;
    size_t size = 0; // allocated (page-rounded)
    uint64_t device_addr = 0;
    uint32_t handle = 0;
    uint32_t flags = 0;
    MemoryKind kind = MemoryKind::device;

private:
    void bind_at_new_address(uint64_t mmap_offset);
    void release() noexcept;
    // Registers the object in its device's map (by device_addr) and in the
    // process's (by host_addr), and counts its bytes; release() undoes it.
    void publish(uint64_t host_addr);

    bool mapped = false;    // host is our own mapping (munmap on release)
    bool owns_va = false;   // device_addr came from process_va()
    bool bound = false;     // VM_BIND at device_addr done
    bool published = false; // in process_addresses()
    std::mutex peers_mutex; // protects peers
    std::vector<std::shared_ptr<BoStorage>> peers;
};

} // namespace npu::detail
