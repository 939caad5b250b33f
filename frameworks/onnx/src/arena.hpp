// Device memory layout by liveness: every device value (graph inputs,
// intermediates, outputs, a lowering's temporaries) is a buffer live over
// an inclusive interval of operation indices, from the first operation that
// touches it to the last (graph inputs from before the first operation,
// graph outputs to after the last). Buffers whose intervals overlap must not
// share bytes; the others may. plan_arena() places them in one arena:
//
//   largest buffer first (ties: earlier first use), each at the lowest
//   aligned offset where it overlaps no already placed buffer whose
//   interval intersects its own (first fit over the gaps between those
//   buffers, sorted by offset).
//
// This is the greedy-by-size offset assignment of TFLite's and ONNX
// Runtime's arena planners: O(n^2 log n), which is nothing next to
// planning the operations. An operation's inputs and outputs intersect at
// its own index, so no operation reads memory it writes (no in-place
// aliasing is assumed of any device operation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace npu_onnx {

struct LiveBuffer {
    int64_t first = 0; // first operation index using it (inclusive)
    int64_t last = 0;  // last operation index using it (inclusive)
    size_t bytes = 0;
};

struct ArenaLayout {
    std::vector<size_t> offsets; // per buffer, in the order given
    size_t size = 0;             // arena bytes (the peak of the layout)
    size_t unshared = 0;         // sum of the aligned buffer sizes
};

[[nodiscard]] ArenaLayout plan_arena(std::span<const LiveBuffer> buffers, size_t alignment = 256);

} // namespace npu_onnx
