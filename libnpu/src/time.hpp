// CLOCK_MONOTONIC deadlines, as the driver's WAIT and syncobj ioctls take.
#pragma once

#include <ctime>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace npu::detail {

inline int64_t monotonic_now_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// now + timeout, saturating so "wait forever" style timeouts stay positive.
inline int64_t deadline_after(std::chrono::nanoseconds timeout) {
    const int64_t now = monotonic_now_ns();
    const int64_t delta = std::max<int64_t>(timeout.count(), 0);
    return delta > std::numeric_limits<int64_t>::max() - now ? std::numeric_limits<int64_t>::max()
                                                             : now + delta;
}

} // namespace npu::detail
