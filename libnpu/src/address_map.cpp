#include "address_map.hpp"

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
