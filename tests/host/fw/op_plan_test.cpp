// SPDX-License-Identifier: MIT
// op_check's tile plans: the tiles cover the op's tile space, fit an
// engine's local memory, and spread big operations over the engines.
#include <algorithm>
#include <cstdint>
#include <random>

#include "op_check_fixture.h"

using namespace op_check_test;

namespace {

// ---- tile plans ----

std::uint64_t tiles_of(const op_plan& plan) {
    std::uint64_t n = 1;
    for (int a = 0; a < 2; ++a)
        n *= (plan.extent[a] + plan.tile[a] - 1) / plan.tile[a];
    return n;
}

// The tiles cover the space: every tile size at least 1 and no larger than needed.
void expect_valid_plan(const op_plan& plan) {
    for (int a = 0; a < 2; ++a) {
        EXPECT_GE(plan.tile[a], 1u);
        if (plan.extent[a]) {
            EXPECT_LE(plan.tile[a], plan.extent[a]);
        }
    }
}

// What a GEMM tile stages: r*K of a, K*c of b, r*c of c and y.
std::uint64_t gemm_staging(const op_plan& plan, std::uint64_t k, std::uint64_t elem) {
    const std::uint64_t r = plan.tile[0], c = plan.tile[1];
    return elem * (r * k + k * c + 2 * r * c);
}

TEST(OpCheckPlan, SmallOperationsAreOneTile) {
    auto out = check(NPU_OP_GEMM, gemm_f32(8, 16, 32));
    ASSERT_EQ(out.why, "");
    EXPECT_EQ(out.plan.extent[0], 16u); // 2 batches of 8 rows
    EXPECT_EQ(out.plan.extent[1], 32u);
    EXPECT_EQ(tiles_of(out.plan), 1u);
    out = check(NPU_OP_UNARY, unary(NPU_FN_EXP, NPU_DTYPE_F32, NPU_DTYPE_F32));
    EXPECT_EQ(out.plan.extent[0], 20u);
    EXPECT_EQ(out.plan.extent[1], 1u);
    EXPECT_EQ(tiles_of(out.plan), 1u);
    out = check(NPU_OP_CONV, conv2d());
    EXPECT_EQ(out.plan.extent[0], 3u * 2u); // N x groups
    EXPECT_EQ(out.plan.extent[1], 3u);      // OC per group
    EXPECT_EQ(tiles_of(out.plan), 1u);
    out = check(NPU_OP_POOL, pool2d(NPU_POOL_MAX));
    EXPECT_EQ(out.plan.extent[0], 6u);
    EXPECT_EQ(tiles_of(out.plan), 1u);
}

TEST(OpCheckPlan, BigOperationsSpreadOverTheEngines) {
    for (std::uint32_t engines : {1u, 2u, 3u, 4u, 7u, 16u}) {
        // 2 x 128 rows x 256 x 256: 33 MFLOP, split along rows
        auto out = check(NPU_OP_GEMM, gemm_f32(128, 256, 256), engines);
        ASSERT_EQ(out.why, "");
        expect_valid_plan(out.plan);
        EXPECT_EQ(out.plan.tile[1], 256u) << engines;
        EXPECT_GE(tiles_of(out.plan), engines == 1 ? 1u : engines - 1) << engines;
        EXPECT_LE(tiles_of(out.plan), 2u * engines) << engines;

        // 1 row: the columns are split instead
        auto p = gemm_f32(1, 2048, 2048);
        p.a.shape[0] = p.b.shape[0] = p.c.shape[0] = p.y.shape[0] = 1;
        out = check(NPU_OP_GEMM, p, engines);
        ASSERT_EQ(out.why, "");
        expect_valid_plan(out.plan);
        EXPECT_EQ(tiles_of(out.plan), engines) << engines;

        // 3 rows for 16 engines: rows and columns
        p = gemm_f32(3, 2048, 2048);
        p.a.shape[0] = p.b.shape[0] = p.c.shape[0] = p.y.shape[0] = 1;
        out = check(NPU_OP_GEMM, p, engines);
        expect_valid_plan(out.plan);
        EXPECT_GE(tiles_of(out.plan), std::min(engines, 3u)) << engines;
        EXPECT_LE(tiles_of(out.plan), 2u * engines) << engines;

        // a big element-wise op
        auto u = unary(NPU_FN_EXP, NPU_DTYPE_F32, NPU_DTYPE_F32);
        u.x = tensor(NPU_DTYPE_F32, {1000, 1000}, 0x100000);
        u.y = tensor(NPU_DTYPE_F32, {1000, 1000}, 0x10000000);
        out = check(NPU_OP_UNARY, u, engines);
        ASSERT_EQ(out.why, "");
        EXPECT_EQ(out.plan.extent[0], 1000000u);
        EXPECT_EQ(tiles_of(out.plan), engines);
    }
}

TEST(OpCheckPlan, GemmTilesFitEngineMemory) {
    // b alone (4096 x 4096 x 4 bytes = 64 MiB) exceeds 1 MiB: both axes shrink
    auto p = gemm_f32(4096, 4096, 4096);
    p.a.addr = 0;
    p.b.addr = 0x10000000;
    p.c = npu_tensor{};
    p.y.addr = 0x40000000;
    for (std::uint64_t mem : {1 * kMiB, 3 * kMiB + 12345, 64 * kMiB}) {
        auto out = check(NPU_OP_GEMM, p, 4, mem);
        ASSERT_EQ(out.why, "") << mem;
        expect_valid_plan(out.plan);
        EXPECT_LE(gemm_staging(out.plan, 4096, 4), mem) << mem;
        // not needlessly small: a tile twice as big along one axis would not fit
        op_plan bigger = out.plan;
        bigger.tile[0] = std::min<std::uint64_t>(2 * bigger.tile[0], 2 * 4096);
        bigger.tile[1] = std::min<std::uint64_t>(2 * bigger.tile[1], 4096);
        EXPECT_GT(gemm_staging(bigger, 4096, 4), mem) << mem;
        EXPECT_GE(tiles_of(out.plan), 4u);
    }
    // with room for everything, a tile's work is bounded instead: 2^20
    // units of 512 multiply-adds, 16 rows of 4096 x 4096 (engines cannot
    // be preempted, so no tile may keep one for long)
    auto roomy = check(NPU_OP_GEMM, p, 4, 1024 * kMiB);
    ASSERT_EQ(roomy.why, "");
    EXPECT_EQ(roomy.plan.tile[0], 16u);
    EXPECT_EQ(roomy.plan.tile[1], 4096u);
    // a smaller GEMM under the bound keeps one row block per engine
    auto mid = gemm_f32(512, 512, 512);
    mid.a.addr = 0;
    mid.b.addr = 0x10000000;
    mid.c = npu_tensor{};
    mid.y.addr = 0x40000000;
    auto mid_out = check(NPU_OP_GEMM, mid, 4, 1024 * kMiB);
    ASSERT_EQ(mid_out.why, "");
    EXPECT_EQ(mid_out.plan.tile[0], 256u); // 2 batches x 512 rows over 4 engines
    EXPECT_EQ(mid_out.plan.tile[1], 512u);
    // the smallest memory a 1 x 1 tile fits: 4 * (K + K + 2)
    auto out = check(NPU_OP_GEMM, p, 4, 4 * (2 * 4096 + 2));
    ASSERT_EQ(out.why, "");
    EXPECT_EQ(out.plan.tile[0], 1u);
    EXPECT_EQ(out.plan.tile[1], 1u);
    EXPECT_EQ(check(NPU_OP_GEMM, p, 4, 4 * (2 * 4096 + 2) - 1).why,
              "operation too large for an engine's local memory");
    // I64 stages 8 bytes per element
    p.a.dtype = p.b.dtype = p.y.dtype = NPU_DTYPE_I64;
    p.quant = {};
    EXPECT_EQ(check(NPU_OP_GEMM, p, 4, 4 * (2 * 4096 + 2)).why,
              "operation too large for an engine's local memory");
    EXPECT_EQ(check(NPU_OP_GEMM, p, 4, 8 * (2 * 4096 + 2)).why, "");
}

TEST(OpCheckPlan, NoTileCarriesMoreThanItsShareOfWork) {
    // 2^40 elements through zero strides: legal, and it must not become a
    // few tiles that keep every engine for hours
    auto u = unary(NPU_FN_RELU, NPU_DTYPE_F32, NPU_DTYPE_F32);
    u.x = tensor(NPU_DTYPE_F32, {1u << 20, 1u << 20}, 0x100000);
    u.y = tensor(NPU_DTYPE_F32, {1u << 20, 1u << 20}, 0x10000000);
    u.x.stride[0] = u.x.stride[1] = u.y.stride[0] = u.y.stride[1] = 0;
    auto out = check(NPU_OP_UNARY, u, 4);
    ASSERT_EQ(out.why, "");
    expect_valid_plan(out.plan);
    EXPECT_LE(out.plan.tile[0] * out.plan.tile[1], 1u << 20);
    EXPECT_GE(tiles_of(out.plan), 1u << 20);
}

TEST(OpCheckPlan, EmptyOperationsHaveNothingToDo) {
    auto p = gemm_f32(0, 1u << 30, 8); // K of 2^30 would never fit, but no row needs it
    p.b.stride[0] = 0;
    p.b.addr = 0x1000000000;
    auto out = check(NPU_OP_GEMM, p, 4, kMiB);
    ASSERT_EQ(out.why, "");
    EXPECT_EQ(out.plan.extent[0], 0u);
    EXPECT_EQ(tiles_of(out.plan), 0u);
    auto u = unary(NPU_FN_RELU, NPU_DTYPE_I8, NPU_DTYPE_I8);
    u.x.shape[1] = u.y.shape[1] = 0;
    out = check(NPU_OP_UNARY, u);
    ASSERT_EQ(out.why, "");
    EXPECT_EQ(tiles_of(out.plan), 0u);
}

TEST(OpCheckPlan, ConvTilesFitEngineMemory) {
    // 64 -> 256 channels, 56 x 56, 3 x 3: input slice 64*56*56*4 = 784 KiB
    auto p = packet<npu_pkt_conv>(NPU_OP_CONV);
    p.groups = 1;
    p.spatial = 2;
    p.stride[0] = p.stride[1] = 1;
    p.dilation[0] = p.dilation[1] = 1;
    p.pad_begin[0] = p.pad_begin[1] = p.pad_end[0] = p.pad_end[1] = 1;
    p.x = tensor(NPU_DTYPE_F32, {2, 64, 56, 56}, 0x100000);
    p.w = tensor(NPU_DTYPE_F32, {256, 64, 3, 3}, 0x10000000);
    p.y = tensor(NPU_DTYPE_F32, {2, 256, 56, 56}, 0x20000000);
    const std::uint64_t slice = 4ull * 64 * 56 * 56;
    const std::uint64_t per_channel = 4ull * (64 * 9 + 56 * 56 + 1);
    for (std::uint64_t mem : {slice + per_channel, 2 * kMiB, 64 * kMiB}) {
        auto out = check(NPU_OP_CONV, p, 4, mem);
        ASSERT_EQ(out.why, "") << mem;
        expect_valid_plan(out.plan);
        EXPECT_EQ(out.plan.extent[0], 2u);
        EXPECT_EQ(out.plan.extent[1], 256u);
        EXPECT_LE(slice + out.plan.tile[1] * per_channel, mem) << mem;
        EXPECT_GE(tiles_of(out.plan), 4u) << mem; // 231 MFLOP
    }
    EXPECT_EQ(check(NPU_OP_CONV, p, 4, slice + per_channel).plan.tile[1], 1u);
    EXPECT_EQ(check(NPU_OP_CONV, p, 4, slice + per_channel - 1).why,
              "operation too large for an engine's local memory");
}

// Random GEMM shapes and memories: every accepted plan covers the space
// and fits; a rejection is only ever for memory, and only when 1 x 1 fails.
TEST(OpCheckPlan, RandomGemmPlansAreSound) {
    std::mt19937_64 rng(12345);
    auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    };
    for (int i = 0; i < 3000; ++i) {
        const auto m = static_cast<std::uint32_t>(pick(1, 3000));
        const auto k = static_cast<std::uint32_t>(pick(0, 5000));
        const auto n = static_cast<std::uint32_t>(pick(1, 3000));
        const auto batch = static_cast<std::uint32_t>(pick(1, 3));
        const auto engines = static_cast<std::uint32_t>(pick(1, 16));
        const std::uint64_t mem = pick(1, 8 * kMiB);
        auto p = gemm_f32(m, k, n);
        p.a = tensor(NPU_DTYPE_BF16, {batch, m, k}, 0);
        p.b = tensor(NPU_DTYPE_BF16, {batch, k, n}, 0x1000000000);
        p.c = npu_tensor{};
        p.y = tensor(NPU_DTYPE_F32, {batch, m, n}, 0x2000000000);
        auto out = check(NPU_OP_GEMM, p, engines, mem);
        const std::uint64_t one = 4 * (2 * std::uint64_t{k} + 2);
        if (one > mem) {
            EXPECT_EQ(out.why, "operation too large for an engine's local memory");
            continue;
        }
        ASSERT_EQ(out.why, "") << m << " " << k << " " << n << " " << mem;
        expect_valid_plan(out.plan);
        EXPECT_EQ(out.plan.extent[0], std::uint64_t{batch} * m);
        EXPECT_EQ(out.plan.extent[1], n);
        EXPECT_LE(gemm_staging(out.plan, k, 4), mem) << m << " " << k << " " << n << " " << mem;
        // without memory pressure: one tile when small, at most two per engine when big
        const std::uint64_t flops = 2ull * batch * m * n * k;
        if (gemm_staging(op_plan{{0, 0}, {std::uint64_t{batch} * m, n}}, k, 4) <= mem) {
            if (flops <= (2u << 20)) {
                EXPECT_EQ(tiles_of(out.plan), 1u) << m << " " << k << " " << n << " " << mem;
            }
            EXPECT_LE(tiles_of(out.plan), 2ull * engines);
        }
    }
}

} // namespace
