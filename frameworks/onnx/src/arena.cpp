#include "arena.hpp"

#include <algorithm>
#include <numeric>

namespace npu_onnx {

ArenaLayout plan_arena(std::span<const LiveBuffer> buffers, size_t alignment) {
    auto align = [&](size_t v) { return (v + alignment - 1) / alignment * alignment; };
    ArenaLayout layout;
    layout.offsets.assign(buffers.size(), 0);
    std::vector<size_t> order(buffers.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (buffers[a].bytes != buffers[b].bytes)
            return buffers[a].bytes > buffers[b].bytes;
        return buffers[a].first < buffers[b].first;
    });
    std::vector<size_t> placed;
    for (size_t i : order) {
        const LiveBuffer& b = buffers[i];
        size_t bytes = align(b.bytes);
        layout.unshared += bytes;
        if (bytes == 0)
            continue;
        std::vector<size_t> conflicts;
        for (size_t j : placed)
            if (buffers[j].first <= b.last && b.first <= buffers[j].last)
                conflicts.push_back(j);
        std::sort(conflicts.begin(), conflicts.end(),
                  [&](size_t x, size_t y) { return layout.offsets[x] < layout.offsets[y]; });
        size_t offset = 0;
        for (size_t j : conflicts) {
            size_t start = layout.offsets[j];
            size_t end = start + align(buffers[j].bytes);
            if (start >= offset + bytes)
                break; // the gap before j fits
            offset = std::max(offset, end);
        }
        layout.offsets[i] = offset;
        layout.size = std::max(layout.size, offset + bytes);
        placed.push_back(i);
    }
    return layout;
}

} // namespace npu_onnx
