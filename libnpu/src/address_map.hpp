// AddressMap: which buffer object holds a device address. Every BoStorage of
// a device registers its range, so that work addressed by plain pointers
// (device addresses) can be tied back to the buffer objects it touches: for
// the submit's BO list (DMA sync, keeping memory alive) and for pointer
// queries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace npu::detail {

struct BoStorage;

class AddressMap {
public:
    struct Hit {
        std::shared_ptr<BoStorage> bo;
        size_t offset = 0; // of the address inside bo
    };

    // Registers [addr, addr + size) as held by bo; ranges never overlap.
    void insert(uint64_t addr, size_t size, BoStorage* bo);
    void erase(uint64_t addr) noexcept;
    // The live buffer object holding all of [addr, addr + bytes), or an
    // empty Hit if none does (unknown address, range crosses the end, or the
    // object is being destroyed).
    [[nodiscard]] Hit find(uint64_t addr, size_t bytes) const;
    [[nodiscard]] size_t size() const;

private:
    struct Range {
        size_t size;
        BoStorage* bo;
    };
    mutable std::mutex mutex_;         // protects ranges_
    std::map<uint64_t, Range> ranges_; // by start address
};

} // namespace npu::detail
