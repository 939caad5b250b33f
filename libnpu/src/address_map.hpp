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

namespace npu::detail {

// VaAllocator: the addresses libnpu gives buffer objects. One per process
// (shared by every device), so that a pointer names one allocation
// whatever device it belongs to and a buffer of one device can be bound at
// its own address in another device's address space. Addresses are page
// aligned, in [kVaLow, kVaHigh) (below 2^39, the device's address width,
// and above the low range where the driver places the addresses
// BO_CREATE chooses); a guard page follows every range. Allocation is
// next-fit from a moving cursor, so a freed range is reused as late as
// possible (the driver keeps an unmapped range busy until the jobs that
// used it finished).
class VaAllocator {
public:
    static constexpr uint64_t kVaLow = uint64_t{1} << 38;
    static constexpr uint64_t kVaHigh = uint64_t{1} << 39;
    // Where the host cannot map [kVaLow, kVaHigh) at all (AddressSanitizer
    // reserves everything from 2.25 GiB to 2^44 for its shadow), the low
    // window below 2 GiB, which such runtimes leave to the application.
    static constexpr uint64_t kFallbackLow = uint64_t{1} << 30;
    static constexpr uint64_t kFallbackHigh = 0x7fff0000;
    static constexpr uint64_t kPage = 4096;

    VaAllocator();
    // A free range of size bytes (page-rounded), or 0 if none is left.
    [[nodiscard]] uint64_t allocate(uint64_t size);
    // Gives up the main window for the fallback one (once the host refused
    // every try there); true if this call switched.
    bool use_fallback_window();
    void free(uint64_t addr, uint64_t size) noexcept;
    [[nodiscard]] uint64_t free_bytes() const;

private:
    mutable std::mutex mutex_;           // protects holes_, cursor_
    std::map<uint64_t, uint64_t> holes_; // start -> size
    uint64_t cursor_ = kVaLow;
    bool fallback_ = false;
};

VaAllocator& process_va();

// Every buffer object libnpu created or imported in this process, by
// address, whatever its device: for pointer queries.
AddressMap& process_addresses();

} // namespace npu::detail
