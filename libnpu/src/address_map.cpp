#include "address_map.hpp"

#include <iterator>

#include "bo_storage.hpp"

namespace npu::detail {

void AddressMap::insert(uint64_t addr, size_t size, BoStorage* bo) {
    const std::lock_guard lock(mutex_);
    ranges_.insert_or_assign(addr, Range{size, bo});
}

void AddressMap::erase(uint64_t addr) noexcept {
    const std::lock_guard lock(mutex_);
    ranges_.erase(addr);
}

AddressMap::Hit AddressMap::find(uint64_t addr, size_t bytes) const {
    const std::lock_guard lock(mutex_);
    auto it = ranges_.upper_bound(addr);
    if (it == ranges_.begin())
        return {};
    --it;
    const size_t offset = addr - it->first;
    if (offset >= it->second.size || bytes > it->second.size - offset)
        return {};
    // Null while the object's last reference is being dropped.
    return {it->second.bo->weak_from_this().lock(), offset};
}

size_t AddressMap::size() const {
    const std::lock_guard lock(mutex_);
    return ranges_.size();
}

} // namespace npu::detail

namespace npu::detail {

VaAllocator::VaAllocator() {
    holes_[kVaLow] = kVaHigh - kVaLow;
}

uint64_t VaAllocator::allocate(uint64_t size) {
    const uint64_t need = (size + kPage - 1) / kPage * kPage + kPage; // guard page
    const std::lock_guard lock(mutex_);
    // Next fit: the first hole that fits at or after the cursor, else the
    // first one from the start.
    for (int pass = 0; pass < 2; ++pass) {
        auto it = pass == 0 ? holes_.upper_bound(cursor_) : holes_.begin();
        if (pass == 0 && it != holes_.begin()) {
            auto before = std::prev(it);
            if (before->first + before->second > cursor_)
                it = before;
        }
        for (; it != holes_.end(); ++it) {
            uint64_t start = it->first;
            const uint64_t end = it->first + it->second;
            if (pass == 0 && start < cursor_)
                start = cursor_;
            if (end - start < need)
                continue;
            // Split [it->first, end) into [it->first, start), the range, and the rest.
            const uint64_t hole_start = it->first;
            holes_.erase(it);
            if (start > hole_start)
                holes_[hole_start] = start - hole_start;
            if (end > start + need)
                holes_[start + need] = end - (start + need);
            cursor_ = start + need;
            return start;
        }
    }
    return 0;
}

void VaAllocator::free(uint64_t addr, uint64_t size) noexcept {
    uint64_t need = (size + kPage - 1) / kPage * kPage + kPage;
    const std::lock_guard lock(mutex_);
    auto next = holes_.lower_bound(addr);
    if (next != holes_.end() && addr + need == next->first) {
        need += next->second;
        next = holes_.erase(next);
    }
    if (next != holes_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == addr) {
            prev->second += need;
            return;
        }
    }
    holes_[addr] = need;
}

bool VaAllocator::use_fallback_window() {
    const std::lock_guard lock(mutex_);
    if (fallback_)
        return false;
    fallback_ = true;
    // Ranges handed out in the main window stay out of holes_, and are
    // never handed out again.
    holes_.erase(holes_.lower_bound(kVaLow), holes_.end());
    holes_[kFallbackLow] = kFallbackHigh - kFallbackLow;
    cursor_ = kFallbackLow;
    return true;
}

uint64_t VaAllocator::free_bytes() const {
    const std::lock_guard lock(mutex_);
    uint64_t total = 0;
    for (const auto& [start, size] : holes_)
        total += size;
    return total;
}

VaAllocator& process_va() {
    static auto* va = new VaAllocator; // never destroyed: buffers may outlive statics
    return *va;
}

AddressMap& process_addresses() {
    static auto* map = new AddressMap;
    return *map;
}

} // namespace npu::detail
