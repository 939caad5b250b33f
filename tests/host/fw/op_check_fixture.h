// SPDX-License-Identifier: MIT
// Shared by the op_check host tests: descriptors and valid packets to
// mutate, and the call into the firmware code under test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "drm/npu_packet.h"
#include "npu_hw.h"
#include "op_check.h"

namespace op_check_test {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kVaLimit = std::uint64_t{1} << NPU_VA_BITS;
constexpr std::uint32_t kF32One = 0x3f800000;
constexpr std::uint32_t kF32Half = 0x3f000000;
constexpr std::uint32_t kF32Inf = 0x7f800000;
constexpr std::uint32_t kF32NaN = 0x7fc00000;

// A row-major tensor at addr.
inline npu_tensor tensor(std::uint32_t dtype, const std::vector<std::uint32_t>& shape,
                         std::uint64_t addr = 0x100000) {
    npu_tensor t{};
    t.addr = addr;
    t.dtype = dtype;
    t.rank = static_cast<std::uint32_t>(shape.size());
    std::uint64_t stride = 1; // wraps for shapes too big to address; callers fix those
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
        t.shape[d] = shape[d];
        t.stride[d] = static_cast<std::int64_t>(stride);
        stride *= shape[d];
    }
    return t;
}

template <typename P>
P packet(std::uint32_t op) {
    P p{};
    p.header = NPU_PKT_HEADER(op, sizeof(P) / 4);
    return p;
}

struct Outcome {
    std::string why; // empty: accepted
    op_plan plan{};
};

template <typename P>
Outcome check(std::uint32_t op, const P& p, std::uint32_t engines = 4,
              std::uint64_t engine_mem = 64 * kMiB) {
    alignas(8) P copy = p;
    Outcome out;
    const char* why = op_check(op, &copy, engines, engine_mem, &out.plan);
    if (why)
        out.why = why;
    return out;
}

template <typename P>
struct Rule {
    const char* reason; // a part of the expected reason
    std::function<void(P&)> mutate;
};

// Each mutation of the valid packet must be rejected, for its own reason.
template <typename P>
inline void expect_rejections(std::uint32_t op, const P& valid, const std::vector<Rule<P>>& rules) {
    ASSERT_EQ(check(op, valid).why, "");
    for (const auto& rule : rules) {
        P p = valid;
        rule.mutate(p);
        const std::string why = check(op, p).why;
        EXPECT_NE(why.find(rule.reason), std::string::npos)
            << "expected \"" << rule.reason << "\", got \"" << why << "\"";
    }
}

inline npu_pkt_gemm gemm_f32(std::uint32_t m, std::uint32_t k, std::uint32_t n) {
    auto p = packet<npu_pkt_gemm>(NPU_OP_GEMM);
    p.alpha = kF32One;
    p.beta = kF32One;
    p.a = tensor(NPU_DTYPE_F32, {2, m, k}, 0x100000);
    p.b = tensor(NPU_DTYPE_F32, {2, k, n}, 0x2000000);
    p.c = tensor(NPU_DTYPE_F32, {2, m, n}, 0x4000000);
    p.y = tensor(NPU_DTYPE_F32, {2, m, n}, 0x6000000);
    return p;
}

inline npu_pkt_conv conv2d() {
    auto p = packet<npu_pkt_conv>(NPU_OP_CONV);
    p.groups = 2;
    p.spatial = 2;
    p.stride[0] = 2;
    p.stride[1] = 1;
    p.dilation[0] = 1;
    p.dilation[1] = 2;
    p.pad_begin[0] = 1;
    p.pad_end[0] = 1;
    p.pad_begin[1] = 2;
    p.pad_end[1] = 0;
    // H: (10 + 2 - 3) / 2 + 1 = 5; W: (9 + 2 - 2*(3-1) - 1) / 1 + 1 = 7
    p.x = tensor(NPU_DTYPE_F32, {3, 4, 10, 9}, 0x100000);
    p.w = tensor(NPU_DTYPE_F32, {6, 2, 3, 3}, 0x200000);
    p.bias = tensor(NPU_DTYPE_F32, {6}, 0x300000);
    p.y = tensor(NPU_DTYPE_F32, {3, 6, 5, 7}, 0x400000);
    return p;
}

inline npu_pkt_pool pool2d(std::uint32_t mode) {
    auto p = packet<npu_pkt_pool>(NPU_OP_POOL);
    p.mode = mode;
    p.spatial = 2;
    p.p = mode == NPU_POOL_LP ? 2 : 0;
    for (int d = 0; d < 2; ++d) {
        p.kernel[d] = 3;
        p.stride[d] = 2;
        p.dilation[d] = 1;
        p.pad_begin[d] = 1;
        p.pad_end[d] = 1;
    }
    // (8 + 2 - 3) / 2 + 1 = 4 (floor); ceil mode gives 5: the last window starts at 8 < 8 + 1
    p.x = tensor(NPU_DTYPE_F32, {2, 3, 8, 8}, 0x100000);
    p.y = tensor(NPU_DTYPE_F32, {2, 3, 4, 4}, 0x200000);
    if (mode == NPU_POOL_MAX)
        p.indices = tensor(NPU_DTYPE_I64, {2, 3, 4, 4}, 0x300000);
    return p;
}

inline npu_pkt_unary unary(std::uint32_t fn, std::uint32_t x_dt, std::uint32_t y_dt) {
    auto p = packet<npu_pkt_unary>(NPU_OP_UNARY);
    p.act.fn = fn;
    p.x = tensor(x_dt, {4, 5}, 0x100000);
    p.y = tensor(y_dt, {4, 5}, 0x200000);
    return p;
}

inline npu_pkt_norm norm(std::uint32_t fn, std::uint32_t axes) {
    auto p = packet<npu_pkt_norm>(NPU_OP_NORM);
    p.fn = fn;
    p.axes = axes;
    p.x = tensor(NPU_DTYPE_F16, {2, 3, 5}, 0x100000);
    p.y = tensor(NPU_DTYPE_F32, {2, 3, 5}, 0x200000);
    if (fn == NPU_NORM_NORMALIZE || fn == NPU_NORM_BATCH)
        p.epsilon = 0x3727c5ac;             // 1e-5
    auto channel = [](std::uint64_t addr) { // [C] broadcast over N and positions
        npu_tensor t = tensor(NPU_DTYPE_F32, {2, 3, 5}, addr);
        t.stride[0] = 0;
        t.stride[1] = 1;
        t.stride[2] = 0;
        return t;
    };
    if (fn == NPU_NORM_BATCH) {
        p.scale = channel(0x300000);
        p.bias = channel(0x400000);
        p.mean = channel(0x500000);
        p.var = channel(0x600000);
    }
    return p;
}

inline npu_pkt_cast cast_of(const npu_tensor& x, const npu_tensor& y) {
    auto p = packet<npu_pkt_cast>(NPU_OP_CAST);
    p.x = x;
    p.y = y;
    return p;
}

} // namespace op_check_test
