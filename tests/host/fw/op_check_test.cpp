// SPDX-License-Identifier: MIT
// The firmware's operation-packet validation and tile planning
// (firmware/src/op_check.c), built for the host: one accepted packet per
// operation, then one mutation per rule of uapi/drm/npu_packet.h that must
// turn it into BAD_PACKET with the reason for that rule, then tile plans.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "drm/npu_packet.h"
#include "npu_hw.h"
#include "op_check.h"

namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kVaLimit = std::uint64_t{1} << NPU_VA_BITS;
constexpr std::uint32_t kF32One = 0x3f800000;
constexpr std::uint32_t kF32Half = 0x3f000000;
constexpr std::uint32_t kF32Inf = 0x7f800000;
constexpr std::uint32_t kF32NaN = 0x7fc00000;

// A row-major tensor at addr.
npu_tensor tensor(std::uint32_t dtype, const std::vector<std::uint32_t>& shape,
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
void expect_rejections(std::uint32_t op, const P& valid, const std::vector<Rule<P>>& rules) {
    ASSERT_EQ(check(op, valid).why, "");
    for (const auto& rule : rules) {
        P p = valid;
        rule.mutate(p);
        const std::string why = check(op, p).why;
        EXPECT_NE(why.find(rule.reason), std::string::npos)
            << "expected \"" << rule.reason << "\", got \"" << why << "\"";
    }
}

npu_pkt_gemm gemm_f32(std::uint32_t m, std::uint32_t k, std::uint32_t n) {
    auto p = packet<npu_pkt_gemm>(NPU_OP_GEMM);
    p.alpha = kF32One;
    p.beta = kF32One;
    p.a = tensor(NPU_DTYPE_F32, {2, m, k}, 0x100000);
    p.b = tensor(NPU_DTYPE_F32, {2, k, n}, 0x2000000);
    p.c = tensor(NPU_DTYPE_F32, {2, m, n}, 0x4000000);
    p.y = tensor(NPU_DTYPE_F32, {2, m, n}, 0x6000000);
    return p;
}

// ---- tensor descriptors (through CAST, whose rules are the fewest) ----

npu_pkt_cast cast_of(const npu_tensor& x, const npu_tensor& y) {
    auto p = packet<npu_pkt_cast>(NPU_OP_CAST);
    p.x = x;
    p.y = y;
    return p;
}

std::string cast_reason(const npu_tensor& x) {
    npu_tensor y = x;
    y.addr = 0x7000000000; // far from x
    y.dtype = x.dtype == NPU_DTYPE_NONE || x.dtype > NPU_DTYPE_LAST ? NPU_DTYPE_F32 : x.dtype;
    return check(NPU_OP_CAST, cast_of(x, y)).why;
}

TEST(OpCheckTensor, AcceptsOrdinaryDescriptors) {
    for (std::uint32_t dt = NPU_DTYPE_F32; dt <= NPU_DTYPE_LAST; ++dt)
        EXPECT_EQ(cast_reason(tensor(dt, {3, 4, 5}, 0x1000)), "") << dt;
    EXPECT_EQ(cast_reason(tensor(NPU_DTYPE_F32, {}, 0x1000)), "") << "a scalar";
    EXPECT_EQ(cast_reason(tensor(NPU_DTYPE_F32, {1, 2, 3, 4, 5, 6}, 0x1000)), "") << "rank 6";
}

TEST(OpCheckTensor, RejectsMalformedDescriptors) {
    npu_tensor t = tensor(NPU_DTYPE_F32, {3, 4}, 0x1000);
    t.dtype = NPU_DTYPE_LAST + 1;
    EXPECT_EQ(cast_reason(t), "cast x: unknown dtype");
    t = tensor(NPU_DTYPE_F32, {1, 1, 1, 1, 1, 1}, 0x1000);
    t.rank = 7;
    EXPECT_EQ(cast_reason(t), "cast x: rank above 6");
    t = tensor(NPU_DTYPE_F32, {3, 4}, 0x1000);
    t.shape[2] = 1;
    EXPECT_EQ(cast_reason(t), "cast x: shape or stride beyond the rank not zero");
    t = tensor(NPU_DTYPE_F32, {3, 4}, 0x1000);
    t.stride[5] = 1;
    EXPECT_EQ(cast_reason(t), "cast x: shape or stride beyond the rank not zero");
    t = tensor(NPU_DTYPE_F32, {3, 4}, 0x1002);
    EXPECT_EQ(cast_reason(t), "cast x: address not a multiple of the element size");
    t = tensor(NPU_DTYPE_I64, {3}, 0x1004);
    EXPECT_EQ(cast_reason(t), "cast x: address not a multiple of the element size");
    t = tensor(NPU_DTYPE_NONE, {3}, 0x1000);
    EXPECT_EQ(cast_reason(t), "cast x: required but dtype NONE");
}

TEST(OpCheckTensor, ElementCountMustFit64Bits) {
    // broadcast strides keep the addresses in range; only the count is too big
    npu_tensor t = tensor(NPU_DTYPE_U8, {0xffffffffu, 0xffffffffu, 2}, 0x1000);
    t.stride[0] = t.stride[1] = t.stride[2] = 0;
    EXPECT_EQ(cast_reason(t), "cast x: element count overflows 64 bits");
    t.shape[2] = 1; // (2^32 - 1)^2 < 2^64
    EXPECT_EQ(cast_reason(t), "");
    t.rank = 4; // [2^32 - 1, 2^32 - 1, 0, 2^32 - 1]: empty, no count to overflow
    t.shape[2] = 0;
    t.shape[3] = 0xffffffffu;
    EXPECT_EQ(cast_reason(t), "");
}

TEST(OpCheckTensor, EveryReachedElementInsideTheAddressSpace) {
    // the last element ends exactly at 2^39
    npu_tensor t = tensor(NPU_DTYPE_F32, {16}, kVaLimit - 64);
    EXPECT_EQ(cast_reason(t), "");
    t.addr += 4;
    EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space");
    // a negative stride reaches below addr: down to exactly 0 is fine
    t = tensor(NPU_DTYPE_F32, {5}, 16);
    t.stride[0] = -1;
    EXPECT_EQ(cast_reason(t), "");
    t.shape[0] = 6;
    EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space");
    // the reach of mixed strides adds up per sign
    t = tensor(NPU_DTYPE_I8, {3, 4}, 100);
    t.stride[0] = -50;
    t.stride[1] = 1;
    EXPECT_EQ(cast_reason(t), "");
    t.stride[0] = -51;
    EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space");
    t.addr = kVaLimit;
    t.shape[0] = 1;
    t.stride[0] = 0;
    EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space");
    t.addr = ~std::uint64_t{0} & ~std::uint64_t{7};
    EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space");
}

TEST(OpCheckTensor, HugeStridesDoNotWrapAround) {
    for (std::int64_t s :
         {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
          std::int64_t{1} << 62, -(std::int64_t{1} << 40), std::int64_t{1} << 36}) {
        npu_tensor t = tensor(NPU_DTYPE_I64, {0xffffffffu, 2}, 0x1000);
        t.stride[0] = s;
        t.stride[1] = s;
        EXPECT_EQ(cast_reason(t), "cast x: reaches outside the device address space") << s;
    }
    // an empty tensor reaches nothing, wherever its strides point
    npu_tensor t = tensor(NPU_DTYPE_F32, {0, 7}, 0x1000);
    t.stride[1] = std::numeric_limits<std::int64_t>::min();
    EXPECT_EQ(cast_reason(t), "");
}

TEST(OpCheckTensor, AbsentOptionalTensorIsAllZero) {
    npu_pkt_gemm p = gemm_f32(4, 4, 4);
    p.c = npu_tensor{};
    EXPECT_EQ(check(NPU_OP_GEMM, p).why, "");
    for (int field = 0; field < 4; ++field) {
        p.c = npu_tensor{};
        if (field == 0)
            p.c.addr = 0x1000;
        if (field == 1)
            p.c.rank = 1;
        if (field == 2)
            p.c.shape[5] = 1;
        if (field == 3)
            p.c.stride[0] = 1;
        EXPECT_EQ(check(NPU_OP_GEMM, p).why, "gemm c: absent (dtype NONE) but fields not zero");
    }
}

TEST(OpCheck, PacketLengthsAndUnknownOpcodes) {
    EXPECT_EQ(op_packet_dwords(NPU_OP_GEMM), NPU_PKT_GEMM_DWORDS);
    EXPECT_EQ(op_packet_dwords(NPU_OP_CONV), NPU_PKT_CONV_DWORDS);
    EXPECT_EQ(op_packet_dwords(NPU_OP_NORM), NPU_PKT_NORM_DWORDS);
    EXPECT_EQ(op_packet_dwords(NPU_OP_CAST), NPU_PKT_CAST_DWORDS);
    EXPECT_EQ(op_packet_dwords(NPU_OP_COPY), 0u);
    EXPECT_EQ(op_packet_dwords(NPU_OP_LAST + 1), 0u);
    EXPECT_EQ(op_packet_dwords(0xff), 0u);
    auto p = packet<npu_pkt_cast>(NPU_OP_CAST);
    EXPECT_EQ(check(NPU_OP_FILL, p).why, "not an operation");
}

// ---- GEMM ----

TEST(OpCheckGemm, Rules) {
    using P = npu_pkt_gemm;
    const P valid = gemm_f32(8, 16, 32);
    expect_rejections<P>(
        NPU_OP_GEMM, valid,
        {
            {"gemm: non-zero mbz", [](P& p) { p.mbz = 1; }},
            {"gemm act: unknown function", [](P& p) { p.act.fn = NPU_FN_LAST + 1; }},
            {"gemm act: non-zero mbz", [](P& p) { p.act.mbz = 1; }},
            {"gemm act: alpha or beta not finite", [](P& p) { p.act.alpha = kF32NaN; }},
            {"gemm act: alpha or beta not finite", [](P& p) { p.act.beta = kF32Inf; }},
            {"gemm act: function does not keep", [](P& p) { p.act.fn = NPU_FN_ISNAN; }},
            {"gemm act: function does not keep", [](P& p) { p.act.fn = NPU_FN_NOT; }},
            {"gemm act: function does not keep", [](P& p) { p.act.fn = NPU_FN_BITWISE_NOT; }},
            {"gemm alpha/beta: not finite", [](P& p) { p.alpha = kF32Inf; }},
            {"gemm alpha/beta: not finite", [](P& p) { p.beta = kF32NaN | 0x80000000u; }},
            {"gemm quant: not zero for float inputs", [](P& p) { p.quant.y_scale = kF32One; }},
            {"gemm quant: not zero for float inputs", [](P& p) { p.quant.a_zero = 1; }},
            {"gemm y: required", [](P& p) { p.y.dtype = NPU_DTYPE_NONE; }},
            {"gemm a: required", [](P& p) { p.a = npu_tensor{}; }},
            {"gemm: y's rank below 2",
             [](P& p) {
                 p.a = tensor(NPU_DTYPE_F32, {4});
                 p.b = tensor(NPU_DTYPE_F32, {4});
                 p.c = npu_tensor{};
                 p.y = tensor(NPU_DTYPE_F32, {4}, 0x4000000);
             }},
            {"gemm: a, b or c not of y's rank",
             [](P& p) {
                 p.a = tensor(NPU_DTYPE_F32, {8, 16});
             }},
            {"gemm: a, b or c not of y's rank",
             [](P& p) {
                 p.c = tensor(NPU_DTYPE_F32, {8, 32}, 0x4000000);
             }},
            {"gemm: a's or b's batch extents differ from y's",
             [](P& p) {
                 p.b = tensor(NPU_DTYPE_F32, {3, 16, 32}, 0x2000000);
             }},
            {"gemm: a's M differs from y's M",
             [](P& p) {
                 p.a = tensor(NPU_DTYPE_F32, {2, 9, 16});
             }},
            {"gemm: b's N differs from y's N",
             [](P& p) {
                 p.b = tensor(NPU_DTYPE_F32, {2, 16, 31}, 0x2000000);
             }},
            {"gemm: a's K differs from b's K",
             [](P& p) {
                 p.a = tensor(NPU_DTYPE_F32, {2, 8, 15});
             }},
            {"gemm: c's shape differs from y's",
             [](P& p) {
                 p.c = tensor(NPU_DTYPE_F32, {2, 8, 1}, 0x4000000);
             }},
            {"gemm dtypes: a and b neither", [](P& p) { p.b.dtype = NPU_DTYPE_BF16; }},
            {"gemm dtypes: a and b neither", [](P& p) { p.a.dtype = p.b.dtype = NPU_DTYPE_BOOL; }},
            {"gemm y: not a float type", [](P& p) { p.y.dtype = NPU_DTYPE_I32; }},
            {"gemm c: not a float type", [](P& p) { p.c.dtype = NPU_DTYPE_I32; }},
        });
}

struct GemmTypes {
    std::uint32_t a, b, c, y;
    bool ok;
};

TEST(OpCheckGemm, DtypeCombinations) {
    using enum_t = std::uint32_t;
    const enum_t F32 = NPU_DTYPE_F32, F16 = NPU_DTYPE_F16, BF16 = NPU_DTYPE_BF16, I8 = NPU_DTYPE_I8,
                 U8 = NPU_DTYPE_U8, I32 = NPU_DTYPE_I32, I64 = NPU_DTYPE_I64, NONE = NPU_DTYPE_NONE;
    const GemmTypes cases[] = {
        {F32, F32, F32, F32, true},   {BF16, BF16, F32, BF16, true}, {F16, F16, NONE, F32, true},
        {BF16, BF16, F16, F16, true}, {F16, BF16, NONE, F32, false}, {F32, F16, NONE, F32, false},
        {I8, I8, I32, I32, true},     {U8, I8, NONE, I32, true},     {I8, U8, I32, I8, true},
        {U8, U8, I32, U8, true},      {I8, I8, F32, F32, true},      {I8, I8, I32, F32, false},
        {I8, I8, F32, I32, false},    {I8, I8, NONE, F16, false},    {I8, I8, NONE, I64, false},
        {I32, I32, I32, I32, true},   {I64, I64, NONE, I64, true},   {I32, I32, I64, I32, false},
        {I32, I32, NONE, I64, false}, {I32, I64, NONE, I64, false},  {I8, I32, NONE, I32, false},
        {F32, F32, NONE, I32, false},
    };
    for (const auto& tc : cases) {
        npu_pkt_gemm p = gemm_f32(4, 8, 4);
        p.a.dtype = tc.a;
        p.b.dtype = tc.b;
        p.y.dtype = tc.y;
        if (tc.c == NONE)
            p.c = npu_tensor{};
        else
            p.c.dtype = tc.c;
        if (tc.a != F32 && tc.a != F16 && tc.a != BF16 && tc.y != F32)
            p.quant.y_scale = kF32Half; // harmless where unused
        if ((tc.a == I32 || tc.a == I64) && tc.b == tc.a)
            p.quant.y_scale = 0;
        EXPECT_EQ(check(NPU_OP_GEMM, p).why.empty(), tc.ok)
            << tc.a << " " << tc.b << " " << tc.c << " " << tc.y << ": "
            << check(NPU_OP_GEMM, p).why;
    }
}

npu_pkt_gemm gemm_i8(std::uint32_t y_dtype) {
    npu_pkt_gemm p = gemm_f32(4, 8, 4);
    p.a.dtype = NPU_DTYPE_I8;
    p.b.dtype = NPU_DTYPE_U8;
    p.c.dtype = y_dtype == NPU_DTYPE_F32 ? NPU_DTYPE_F32 : NPU_DTYPE_I32;
    p.y.dtype = y_dtype;
    p.quant = {-128, 255, kF32Half, y_dtype == NPU_DTYPE_U8 ? 255 : -3};
    return p;
}

TEST(OpCheckGemm, EightBitRules) {
    using P = npu_pkt_gemm;
    expect_rejections<P>(
        NPU_OP_GEMM, gemm_i8(NPU_DTYPE_I8),
        {
            {"gemm quant: zero point outside", [](P& p) { p.quant.a_zero = -129; }},
            {"gemm quant: zero point outside", [](P& p) { p.quant.a_zero = 128; }},
            {"gemm quant: zero point outside", [](P& p) { p.quant.b_zero = 256; }},
            {"gemm quant: zero point outside", [](P& p) { p.quant.b_zero = -1; }},
            {"gemm quant: zero point outside", [](P& p) { p.quant.y_zero = 200; }},
            {"gemm quant: y_scale not finite", [](P& p) { p.quant.y_scale = kF32Inf; }},
            {"gemm alpha/beta: not 1 for an integer y", [](P& p) { p.alpha = kF32Half; }},
            {"gemm c: not F32 for an F32 y, else not I32", [](P& p) { p.c.dtype = NPU_DTYPE_I8; }},
        });
    EXPECT_EQ(check(NPU_OP_GEMM, gemm_i8(NPU_DTYPE_U8)).why, "");
    npu_pkt_gemm u8 = gemm_i8(NPU_DTYPE_U8);
    u8.quant.y_zero = -1;
    EXPECT_EQ(check(NPU_OP_GEMM, u8).why, "gemm quant: zero point outside its dtype's range");

    // I32 y: alpha = beta = 1 and act IDENTITY or RELU only
    expect_rejections<P>(
        NPU_OP_GEMM, gemm_i8(NPU_DTYPE_I32),
        {
            {"gemm alpha/beta: not 1 for an integer y", [](P& p) { p.beta = 0; }},
            {"gemm act: only IDENTITY or RELU", [](P& p) { p.act.fn = NPU_FN_SIGMOID; }},
            {"gemm act: only IDENTITY or RELU", [](P& p) { p.act.fn = NPU_FN_CLIP; }},
        });
    npu_pkt_gemm relu = gemm_i8(NPU_DTYPE_I32);
    relu.act.fn = NPU_FN_RELU;
    EXPECT_EQ(check(NPU_OP_GEMM, relu).why, "");

    // F32 y from 8-bit inputs: scaled and any float activation
    npu_pkt_gemm f32 = gemm_i8(NPU_DTYPE_F32);
    f32.alpha = kF32Half;
    f32.act.fn = NPU_FN_GELU;
    EXPECT_EQ(check(NPU_OP_GEMM, f32).why, "");
}

TEST(OpCheckGemm, IntegerRules) {
    using P = npu_pkt_gemm;
    P valid = gemm_f32(4, 8, 4);
    valid.a.dtype = valid.b.dtype = valid.c.dtype = valid.y.dtype = NPU_DTYPE_I64;
    valid.a.addr = 0x100000;
    valid.act.fn = NPU_FN_RELU;
    expect_rejections<P>(
        NPU_OP_GEMM, valid,
        {
            {"gemm quant: not zero for I32/I64", [](P& p) { p.quant.b_zero = 1; }},
            {"gemm alpha/beta: not 1", [](P& p) { p.alpha = 0x40000000; }},
            {"gemm act: only IDENTITY or RELU", [](P& p) { p.act.fn = NPU_FN_ABS; }},
            {"gemm c/y: not the integer dtype", [](P& p) { p.y.dtype = NPU_DTYPE_I32; }},
        });
}

TEST(OpCheckGemm, BroadcastAndTransposedOperands) {
    npu_pkt_gemm p = gemm_f32(8, 16, 32);
    p.b.stride[0] = 0; // one b for every batch
    p.a.stride[1] = 1;
    p.a.stride[2] = 8; // a stored as [2][K][M]
    p.c = tensor(NPU_DTYPE_F32, {2, 8, 32}, 0x4000000);
    p.c.stride[0] = p.c.stride[1] = 0; // a bias row
    EXPECT_EQ(check(NPU_OP_GEMM, p).why, "");
}

// ---- CONV ----

npu_pkt_conv conv2d() {
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

TEST(OpCheckConv, Rules) {
    using P = npu_pkt_conv;
    expect_rejections<P>(
        NPU_OP_CONV, conv2d(),
        {
            {"conv: unknown flags", [](P& p) { p.flags = 2; }},
            {"conv: groups 0", [](P& p) { p.groups = 0; }},
            {"conv: spatial not 1 to 3", [](P& p) { p.spatial = 0; }},
            {"conv: spatial not 1 to 3", [](P& p) { p.spatial = 4; }},
            {"conv: stride or dilation 0", [](P& p) { p.stride[1] = 0; }},
            {"conv: stride or dilation 0", [](P& p) { p.dilation[0] = 0; }},
            {"conv: stride or dilation 0, or set beyond spatial", [](P& p) { p.stride[2] = 1; }},
            {"conv: stride or dilation 0, or set beyond spatial", [](P& p) { p.dilation[2] = 1; }},
            {"conv: padding set beyond spatial", [](P& p) { p.pad_end[2] = 1; }},
            {"conv: padding set beyond spatial", [](P& p) { p.pad_begin[2] = 1; }},
            {"conv act: unknown function", [](P& p) { p.act.fn = 99; }},
            {"conv act: alpha or beta not finite", [](P& p) { p.act.alpha = kF32Inf; }},
            {"conv act: function does not keep", [](P& p) { p.act.fn = NPU_FN_ISINF; }},
            {"conv quant: not zero for float inputs", [](P& p) { p.quant.y_zero = 1; }},
            {"conv x: required", [](P& p) { p.x.dtype = 0; }},
            {"conv w: address not a multiple", [](P& p) { p.w.addr += 2; }},
            {"conv bias: absent (dtype NONE) but", [](P& p) { p.bias.dtype = 0; }},
            {"conv: x, w or y not of rank spatial + 2",
             [](P& p) {
                 p.w = tensor(NPU_DTYPE_F32, {6, 2, 3}, 0x200000);
             }},
            {"conv: x, w or y not of rank spatial + 2",
             [](P& p) {
                 p.spatial = 1;
                 p.stride[1] = p.dilation[1] = 0;
                 p.pad_begin[1] = 0;
             }},
            {"conv: y's batch extent differs from x's", [](P& p) { p.y.shape[0] = 2; }},
            {"conv: groups does not divide x's channels", [](P& p) { p.groups = 3; }},
            {"conv: groups does not divide y's channels",
             [](P& p) {
                 p.groups = 4;
                 p.w.shape[1] = 1;
             }},
            {"conv: w's extent 0 is not y's channels", [](P& p) { p.w.shape[0] = 4; }},
            {"conv: w's extent 1 is not x's channels / groups", [](P& p) { p.w.shape[1] = 4; }},
            {"conv: bias not [OC]", [](P& p) { p.bias.shape[0] = 3; }},
            {"conv: bias not [OC]",
             [](P& p) {
                 p.bias = tensor(NPU_DTYPE_F32, {6, 1}, 0x300000);
             }},
            {"conv: w's kernel extent 0", [](P& p) { p.w.shape[3] = 0; }},
            {"conv: y's spatial extent differs from the output size",
             [](P& p) { p.y.shape[2] = 4; }},
            {"conv: y's spatial extent differs from the output size",
             [](P& p) { p.y.shape[3] = 8; }},
            {"conv: dilated kernel larger than the padded input",
             [](P& p) {
                 p.x.shape[3] = 2;
                 p.y.shape[3] = 1;
             }},
            {"conv dtypes: x and w neither", [](P& p) { p.w.dtype = NPU_DTYPE_F16; }},
            {"conv dtypes: x and w neither", [](P& p) { p.x.dtype = p.w.dtype = NPU_DTYPE_I32; }},
            {"conv y: not a float type", [](P& p) { p.y.dtype = NPU_DTYPE_I8; }},
            {"conv bias: not a float type", [](P& p) { p.bias.dtype = NPU_DTYPE_I32; }},
        });
}

TEST(OpCheckConv, EightBit) {
    npu_pkt_conv p = conv2d();
    p.x.dtype = NPU_DTYPE_U8;
    p.w.dtype = NPU_DTYPE_I8;
    p.x = tensor(NPU_DTYPE_U8, {3, 4, 10, 9}, 0x100000);
    p.w = tensor(NPU_DTYPE_I8, {6, 2, 3, 3}, 0x200000);
    p.bias = tensor(NPU_DTYPE_I32, {6}, 0x300000);
    p.y = tensor(NPU_DTYPE_I32, {3, 6, 5, 7}, 0x400000);
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "");
    p.act.fn = NPU_FN_TANH;
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "conv act: only IDENTITY or RELU for an integer result");
    p.act.fn = NPU_FN_RELU;
    p.quant.a_zero = 300;
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "conv quant: zero point outside its dtype's range");
    p.quant = {128, -5, kF32Half, -7};
    p.y.dtype = NPU_DTYPE_I8;
    p.act.fn = NPU_FN_TANH;
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "");
    p.bias.dtype = NPU_DTYPE_F32;
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "conv bias: not F32 for an F32 y, else not I32");
    p.y = tensor(NPU_DTYPE_F32, {3, 6, 5, 7}, 0x400000);
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "");
}

npu_pkt_conv conv_transposed_1d(std::uint32_t in, std::uint32_t k, std::uint32_t out,
                                std::uint32_t stride, std::uint32_t dil, std::uint32_t pb,
                                std::uint32_t pe) {
    auto p = packet<npu_pkt_conv>(NPU_OP_CONV);
    p.flags = NPU_CONV_TRANSPOSED;
    p.groups = 2;
    p.spatial = 1;
    p.stride[0] = stride;
    p.dilation[0] = dil;
    p.pad_begin[0] = pb;
    p.pad_end[0] = pe;
    p.x = tensor(NPU_DTYPE_BF16, {1, 4, in}, 0x100000);
    p.w = tensor(NPU_DTYPE_BF16, {4, 3, k}, 0x200000); // [C, OC / groups, k]
    p.y = tensor(NPU_DTYPE_F32, {1, 6, out}, 0x400000);
    return p;
}

TEST(OpCheckConv, TransposedOutputSizeWithOutputPadding) {
    // (3 - 1) * 2 - 1 - 1 + 1 * (3 - 1) + 1 = 5, output padding 0 or 1
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(3, 3, 5, 2, 1, 1, 1)).why, "");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(3, 3, 6, 2, 1, 1, 1)).why, "");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(3, 3, 7, 2, 1, 1, 1)).why,
              "conv: y's spatial extent differs from the transposed output size");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(3, 3, 4, 2, 1, 1, 1)).why,
              "conv: y's spatial extent differs from the transposed output size");
    // (4 - 1) * 1 + 3 * (2 - 1) + 1 = 7, output padding up to max(stride, dilation) - 1 = 2
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(4, 2, 7, 1, 3, 0, 0)).why, "");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(4, 2, 9, 1, 3, 0, 0)).why, "");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(4, 2, 10, 1, 3, 0, 0)).why,
              "conv: y's spatial extent differs from the transposed output size");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(4, 2, 6, 1, 3, 0, 0)).why,
              "conv: y's spatial extent differs from the transposed output size");
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(0, 2, 0, 1, 1, 0, 0)).why,
              "conv: transposed with an empty spatial input extent");
    // huge strides and kernels saturate instead of wrapping onto a match
    EXPECT_EQ(check(NPU_OP_CONV, conv_transposed_1d(0xffffffffu, 2, 2, 0xffffffffu, 1, 0, 0)).why,
              "conv: y's spatial extent differs from the transposed output size");

    npu_pkt_conv p = conv_transposed_1d(3, 3, 5, 2, 1, 1, 1);
    p.w.shape[0] = 6;
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "conv: transposed w's extent 0 is not x's channels");
    p = conv_transposed_1d(3, 3, 5, 2, 1, 1, 1);
    p.w.shape[1] = 6;
    EXPECT_EQ(check(NPU_OP_CONV, p).why,
              "conv: transposed w's extent 1 is not y's channels / groups");
}

TEST(OpCheckConv, DirectOutputSizeIsExact) {
    // 3-D, stride 3: (8 + 0 - 3) / 3 + 1 = 2 (rounded down from 2.67)
    auto p = packet<npu_pkt_conv>(NPU_OP_CONV);
    p.groups = 1;
    p.spatial = 3;
    for (int d = 0; d < 3; ++d) {
        p.stride[d] = 3;
        p.dilation[d] = 1;
    }
    p.x = tensor(NPU_DTYPE_F16, {1, 1, 8, 8, 8}, 0x100000);
    p.w = tensor(NPU_DTYPE_F16, {1, 1, 3, 3, 3}, 0x200000);
    p.y = tensor(NPU_DTYPE_F16, {1, 1, 2, 2, 2}, 0x400000);
    EXPECT_EQ(check(NPU_OP_CONV, p).why, "");
    p.y.shape[4] = 3;
    EXPECT_NE(check(NPU_OP_CONV, p).why, "");
}

// ---- POOL ----

npu_pkt_pool pool2d(std::uint32_t mode) {
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

TEST(OpCheckPool, Rules) {
    using P = npu_pkt_pool;
    for (std::uint32_t mode = NPU_POOL_MAX; mode <= NPU_POOL_LP; ++mode)
        EXPECT_EQ(check(NPU_OP_POOL, pool2d(mode)).why, "") << mode;
    npu_pkt_pool ceil_mode = pool2d(NPU_POOL_MAX);
    ceil_mode.y.shape[2] = ceil_mode.indices.shape[2] = 5;
    EXPECT_EQ(check(NPU_OP_POOL, ceil_mode).why, "");
    expect_rejections<P>(
        NPU_OP_POOL, pool2d(NPU_POOL_MAX),
        {
            {"pool: unknown mode", [](P& p) { p.mode = NPU_POOL_LP + 1; }},
            {"pool: spatial not 1 to 3", [](P& p) { p.spatial = 0; }},
            {"pool: p below 1 for LP, or not zero", [](P& p) { p.p = 1; }},
            {"pool: non-zero mbz", [](P& p) { p.mbz = 1; }},
            {"pool: kernel, stride or dilation 0", [](P& p) { p.kernel[0] = 0; }},
            {"pool: kernel, stride or dilation 0", [](P& p) { p.stride[1] = 0; }},
            {"pool: kernel, stride or dilation 0", [](P& p) { p.dilation[1] = 0; }},
            {"pool: kernel, stride or dilation 0, or set beyond spatial",
             [](P& p) { p.kernel[2] = 1; }},
            {"pool: padding set beyond spatial", [](P& p) { p.pad_begin[2] = 1; }},
            {"pool x: unknown dtype", [](P& p) { p.x.dtype = 77; }},
            {"pool indices: address not a multiple", [](P& p) { p.indices.addr += 4; }},
            {"pool: x not a float type", [](P& p) { p.x.dtype = p.y.dtype = NPU_DTYPE_I32; }},
            {"pool: y's dtype differs from x's", [](P& p) { p.y.dtype = NPU_DTYPE_F16; }},
            {"pool: x or y not of rank spatial + 2",
             [](P& p) {
                 p.y = tensor(NPU_DTYPE_F32, {2, 3, 16}, 0x200000);
             }},
            {"pool: y's N or C differs from x's", [](P& p) { p.y.shape[1] = 2; }},
            {"pool: indices not I64", [](P& p) { p.indices.dtype = NPU_DTYPE_I32; }},
            {"pool: indices' shape differs from y's", [](P& p) { p.indices.shape[3] = 3; }},
            {"pool: padding not smaller than the dilated window", [](P& p) { p.pad_end[0] = 3; }},
            {"pool: y's spatial extent is neither",
             [](P& p) { p.y.shape[2] = p.indices.shape[2] = 6; }},
            {"pool: y's spatial extent is neither",
             [](P& p) { p.y.shape[3] = p.indices.shape[3] = 3; }},
            {"pool: dilated window larger than the padded input",
             [](P& p) {
                 p.kernel[0] = 11;
                 p.pad_begin[0] = p.pad_end[0] = 0;
             }},
        });
    npu_pkt_pool avg = pool2d(NPU_POOL_AVG);
    avg.indices = tensor(NPU_DTYPE_I64, {2, 3, 4, 4}, 0x300000);
    EXPECT_EQ(check(NPU_OP_POOL, avg).why, "pool: indices given for a mode other than MAX");
    npu_pkt_pool lp = pool2d(NPU_POOL_LP);
    lp.p = 0;
    EXPECT_EQ(check(NPU_OP_POOL, lp).why, "pool: p below 1 for LP, or not zero for another mode");
}

TEST(OpCheckPool, CeilModeOnlyWhenTheLastWindowStartsInsideXOrPadBegin) {
    auto pool1d = [](std::uint32_t in, std::uint32_t k, std::uint32_t s, std::uint32_t pb,
                     std::uint32_t pe, std::uint32_t out) {
        auto p = packet<npu_pkt_pool>(NPU_OP_POOL);
        p.mode = NPU_POOL_AVG_PAD;
        p.spatial = 1;
        p.kernel[0] = k;
        p.stride[0] = s;
        p.dilation[0] = 1;
        p.pad_begin[0] = pb;
        p.pad_end[0] = pe;
        p.x = tensor(NPU_DTYPE_BF16, {1, 1, in}, 0x100000);
        p.y = tensor(NPU_DTYPE_BF16, {1, 1, out}, 0x200000);
        return check(NPU_OP_POOL, p).why;
    };
    EXPECT_EQ(pool1d(5, 2, 2, 0, 0, 2), ""); // floor
    EXPECT_EQ(pool1d(5, 2, 2, 0, 0, 3), ""); // ceil: starts at 4 < 5
    EXPECT_NE(pool1d(4, 2, 2, 0, 0, 3), ""); // exact: no ceil window
    EXPECT_EQ(pool1d(4, 3, 2, 1, 1, 3), ""); // ceil starts at 4 < 4 + 1
    EXPECT_NE(pool1d(3, 2, 2, 1, 1, 3), ""); // would start at 4 = 3 + 1
    EXPECT_EQ(pool1d(3, 2, 2, 1, 1, 2), "");
    EXPECT_NE(pool1d(3, 2, 2, 1, 1, 1), "");
    EXPECT_EQ(pool1d(7, 7, 1, 0, 0, 1), ""); // global
}

// ---- UNARY ----

npu_pkt_unary unary(std::uint32_t fn, std::uint32_t x_dt, std::uint32_t y_dt) {
    auto p = packet<npu_pkt_unary>(NPU_OP_UNARY);
    p.act.fn = fn;
    p.x = tensor(x_dt, {4, 5}, 0x100000);
    p.y = tensor(y_dt, {4, 5}, 0x200000);
    return p;
}

TEST(OpCheckUnary, Rules) {
    using P = npu_pkt_unary;
    expect_rejections<P>(
        NPU_OP_UNARY, unary(NPU_FN_ELU, NPU_DTYPE_F32, NPU_DTYPE_F32),
        {
            {"unary: non-zero mbz", [](P& p) { p.mbz = 1; }},
            {"unary act: unknown function", [](P& p) { p.act.fn = 46; }},
            {"unary act: non-zero mbz", [](P& p) { p.act.mbz = 1; }},
            {"unary act: alpha or beta not finite", [](P& p) { p.act.beta = kF32Inf; }},
            {"unary: y's shape differs from x's", [](P& p) { p.y.shape[0] = 5; }},
            {"unary: y's shape differs from x's",
             [](P& p) { p.y = tensor(NPU_DTYPE_F32, {20}, 0x200000); }},
            {"unary: y's dtype not x's", [](P& p) { p.y.dtype = NPU_DTYPE_F16; }},
            {"unary y: required", [](P& p) { p.y = npu_tensor{}; }},
        });
}

TEST(OpCheckUnary, FunctionsPerDtype) {
    const std::uint32_t floats[] = {NPU_DTYPE_F32, NPU_DTYPE_F16, NPU_DTYPE_BF16};
    const std::uint32_t ints[] = {NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_I32, NPU_DTYPE_I64};
    const std::uint32_t int_ok[] = {NPU_FN_IDENTITY, NPU_FN_RELU,       NPU_FN_NEG,  NPU_FN_ABS,
                                    NPU_FN_SIGN,     NPU_FN_FLOOR,      NPU_FN_CEIL, NPU_FN_ROUND,
                                    NPU_FN_CLIP,     NPU_FN_BITWISE_NOT};
    for (std::uint32_t fn = 0; fn <= NPU_FN_LAST; ++fn) {
        const bool to_bool = fn == NPU_FN_ISNAN || fn == NPU_FN_ISINF;
        for (auto dt : floats) {
            const bool ok = fn != NPU_FN_NOT && fn != NPU_FN_BITWISE_NOT;
            EXPECT_EQ(check(NPU_OP_UNARY, unary(fn, dt, to_bool ? NPU_DTYPE_BOOL : dt)).why.empty(),
                      ok)
                << "fn " << fn << " dtype " << dt;
        }
        for (auto dt : ints) {
            bool ok = false;
            for (auto f : int_ok)
                ok |= f == fn;
            EXPECT_EQ(check(NPU_OP_UNARY, unary(fn, dt, dt)).why.empty(), ok)
                << "fn " << fn << " dtype " << dt;
        }
        const bool bool_ok = fn == NPU_FN_IDENTITY || fn == NPU_FN_NOT;
        EXPECT_EQ(check(NPU_OP_UNARY, unary(fn, NPU_DTYPE_BOOL, NPU_DTYPE_BOOL)).why.empty(),
                  bool_ok)
            << "fn " << fn;
    }
    EXPECT_EQ(check(NPU_OP_UNARY, unary(NPU_FN_ISNAN, NPU_DTYPE_F32, NPU_DTYPE_F32)).why,
              "unary: y's dtype not x's (BOOL for ISNAN and ISINF)");
    EXPECT_EQ(check(NPU_OP_UNARY, unary(NPU_FN_EXP, NPU_DTYPE_I32, NPU_DTYPE_I32)).why,
              "unary: function not defined for x's dtype");
}

// ---- BINARY ----

npu_pkt_binary binary(std::uint32_t fn, std::uint32_t dt, std::uint32_t y_dt) {
    auto p = packet<npu_pkt_binary>(NPU_OP_BINARY);
    p.fn = fn;
    p.a = tensor(dt, {3, 4}, 0x100000);
    p.b = tensor(dt, {3, 4}, 0x200000);
    p.b.stride[0] = 0; // a row broadcast down
    p.y = tensor(y_dt, {3, 4}, 0x300000);
    if (fn == NPU_BIN_SELECT)
        p.cond = tensor(NPU_DTYPE_BOOL, {3, 4}, 0x400000);
    return p;
}

TEST(OpCheckBinary, Rules) {
    using P = npu_pkt_binary;
    expect_rejections<P>(
        NPU_OP_BINARY, binary(NPU_BIN_ADD, NPU_DTYPE_F32, NPU_DTYPE_F32),
        {
            {"binary: unknown function", [](P& p) { p.fn = NPU_BIN_LAST + 1; }},
            {"binary: non-zero mbz", [](P& p) { p.mbz[1] = 1; }},
            {"binary a: rank above 6", [](P& p) { p.a.rank = 9; }},
            {"binary cond: absent (dtype NONE) but", [](P& p) { p.cond.rank = 2; }},
            {"binary: cond given for a function other than SELECT",
             [](P& p) {
                 p.cond = tensor(NPU_DTYPE_BOOL, {3, 4}, 0x400000);
             }},
            {"binary: a's or b's shape differs from y's", [](P& p) { p.b.shape[0] = 1; }},
            {"binary: a's or b's shape differs from y's",
             [](P& p) { p.a = tensor(NPU_DTYPE_F32, {4}); }},
            {"binary: b's dtype differs from a's", [](P& p) { p.b.dtype = NPU_DTYPE_F16; }},
            {"binary: y's dtype not a's", [](P& p) { p.y.dtype = NPU_DTYPE_BOOL; }},
        });
    expect_rejections<P>(
        NPU_OP_BINARY, binary(NPU_BIN_SELECT, NPU_DTYPE_I64, NPU_DTYPE_I64),
        {
            {"binary cond: required", [](P& p) { p.cond = npu_tensor{}; }},
            {"binary: cond not BOOL", [](P& p) { p.cond.dtype = NPU_DTYPE_U8; }},
            {"binary: cond's shape differs from y's", [](P& p) { p.cond.shape[1] = 1; }},
        });
    EXPECT_EQ(check(NPU_OP_BINARY, binary(NPU_BIN_LESS, NPU_DTYPE_F32, NPU_DTYPE_F32)).why,
              "binary: y's dtype not a's (BOOL for comparisons)");
}

TEST(OpCheckBinary, FunctionsPerDtype) {
    const std::uint32_t all[] = {NPU_DTYPE_F32, NPU_DTYPE_F16, NPU_DTYPE_BF16, NPU_DTYPE_I8,
                                 NPU_DTYPE_U8,  NPU_DTYPE_I32, NPU_DTYPE_I64,  NPU_DTYPE_BOOL};
    auto is_float = [](std::uint32_t dt) { return dt >= NPU_DTYPE_F32 && dt <= NPU_DTYPE_BF16; };
    auto is_int = [](std::uint32_t dt) { return dt >= NPU_DTYPE_I8 && dt <= NPU_DTYPE_I64; };
    for (std::uint32_t fn = 0; fn <= NPU_BIN_LAST; ++fn) {
        const bool compare = fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL;
        for (auto dt : all) {
            bool ok;
            if (compare || fn == NPU_BIN_SELECT || fn == NPU_BIN_MAX || fn == NPU_BIN_MIN)
                ok = true;
            else if (fn >= NPU_BIN_AND && fn <= NPU_BIN_XOR)
                ok = dt == NPU_DTYPE_BOOL;
            else if (fn >= NPU_BIN_BITWISE_AND && fn <= NPU_BIN_SHIFT_RIGHT)
                ok = is_int(dt);
            else
                ok = is_float(dt) || is_int(dt);
            const auto p = binary(fn, dt, compare ? NPU_DTYPE_BOOL : dt);
            EXPECT_EQ(check(NPU_OP_BINARY, p).why.empty(), ok) << "fn " << fn << " dtype " << dt;
        }
    }
}

// ---- REDUCE ----

npu_pkt_reduce reduce(std::uint32_t fn, std::uint32_t axes, std::uint32_t dt, std::uint32_t y_dt) {
    auto p = packet<npu_pkt_reduce>(NPU_OP_REDUCE);
    p.fn = fn;
    p.axes = axes;
    const std::vector<std::uint32_t> shape{2, 3, 4};
    std::vector<std::uint32_t> y_shape = shape;
    for (std::size_t d = 0; d < shape.size(); ++d)
        if (axes >> d & 1)
            y_shape[d] = 1;
    p.x = tensor(dt, shape, 0x100000);
    p.y = tensor(y_dt, y_shape, 0x200000);
    return p;
}

TEST(OpCheckReduce, Rules) {
    using P = npu_pkt_reduce;
    expect_rejections<P>(
        NPU_OP_REDUCE, reduce(NPU_RED_SUM, 0b101, NPU_DTYPE_F32, NPU_DTYPE_F32),
        {
            {"reduce: unknown function", [](P& p) { p.fn = NPU_RED_LAST + 1; }},
            {"reduce: unknown flags", [](P& p) { p.flags = 2; }},
            {"reduce: SELECT_LAST for a function other", [](P& p) { p.flags = 1; }},
            {"reduce: axes bit at or above x's rank", [](P& p) { p.axes |= 8; }},
            {"reduce: axes bit at or above x's rank", [](P& p) { p.axes = 0x80000000u; }},
            {"reduce: y's rank differs from x's",
             [](P& p) {
                 p.y.rank = 2;
                 p.y.shape[2] = 0;
                 p.y.stride[2] = 0;
             }},
            {"reduce: y's extents not 1 in reduced axes", [](P& p) { p.y.shape[0] = 2; }},
            {"reduce: y's extents not 1 in reduced axes", [](P& p) { p.y.shape[1] = 1; }},
            {"reduce: y's dtype not x's", [](P& p) { p.y.dtype = NPU_DTYPE_F16; }},
        });
    expect_rejections<P>(
        NPU_OP_REDUCE, reduce(NPU_RED_ARGMIN, 0b010, NPU_DTYPE_U8, NPU_DTYPE_I32),
        {
            {"reduce: ARGMAX/ARGMIN need exactly one axis",
             [](P& p) {
                 p.axes = 0b011;
                 p.y.shape[0] = 1;
             }},
            {"reduce: ARGMAX/ARGMIN need exactly one axis",
             [](P& p) {
                 p.axes = 0;
                 p.y.shape[1] = 3;
             }},
            {"reduce: y's dtype not x's (I32 or I64 for ARGMAX/ARGMIN)",
             [](P& p) { p.y.dtype = NPU_DTYPE_U8; }},
            {"reduce: ARGMAX/ARGMIN over an empty axis", [](P& p) { p.x.shape[1] = 0; }},
        });
    P last = reduce(NPU_RED_ARGMAX, 0b100, NPU_DTYPE_BOOL, NPU_DTYPE_I64);
    last.flags = NPU_RED_SELECT_LAST;
    EXPECT_EQ(check(NPU_OP_REDUCE, last).why, "");
    // no axis: fn over each single element
    EXPECT_EQ(check(NPU_OP_REDUCE, reduce(NPU_RED_L1, 0, NPU_DTYPE_I32, NPU_DTYPE_I32)).why, "");
    // reducing an empty axis gives the identity: fine for SUM
    P empty = reduce(NPU_RED_SUM, 0b010, NPU_DTYPE_F32, NPU_DTYPE_F32);
    empty.x.shape[1] = 0;
    EXPECT_EQ(check(NPU_OP_REDUCE, empty).why, "");
}

TEST(OpCheckReduce, FunctionsPerDtype) {
    for (std::uint32_t fn = 0; fn <= NPU_RED_ARGMIN; ++fn) {
        const bool arg = fn >= NPU_RED_ARGMAX;
        const bool float_only =
            fn == NPU_RED_L2 || fn == NPU_RED_LOG_SUM || fn == NPU_RED_LOG_SUM_EXP;
        const bool bool_ok = arg || fn == NPU_RED_MAX || fn == NPU_RED_MIN;
        for (std::uint32_t dt = NPU_DTYPE_F32; dt <= NPU_DTYPE_LAST; ++dt) {
            const bool ok = dt <= NPU_DTYPE_BF16 || (dt == NPU_DTYPE_BOOL ? bool_ok : !float_only);
            const auto p = reduce(fn, 0b001, dt, arg ? NPU_DTYPE_I64 : dt);
            EXPECT_EQ(check(NPU_OP_REDUCE, p).why.empty(), ok) << "fn " << fn << " dtype " << dt;
        }
    }
}

// ---- NORM ----

npu_pkt_norm norm(std::uint32_t fn, std::uint32_t axes) {
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

TEST(OpCheckNorm, Rules) {
    using P = npu_pkt_norm;
    EXPECT_EQ(check(NPU_OP_NORM, norm(NPU_NORM_SOFTMAX, 0b100)).why, "");
    EXPECT_EQ(check(NPU_OP_NORM, norm(NPU_NORM_LOG_SOFTMAX, 0b110)).why, "");
    EXPECT_EQ(check(NPU_OP_NORM, norm(NPU_NORM_NORMALIZE, 0b110)).why, "");
    P softmax = norm(NPU_NORM_SOFTMAX, 0b100);
    softmax.epsilon = kF32NaN; // not used by a softmax
    EXPECT_EQ(check(NPU_OP_NORM, softmax).why, "");
    expect_rejections<P>(
        NPU_OP_NORM, norm(NPU_NORM_BATCH, 0),
        {
            {"norm: unknown function", [](P& p) { p.fn = NPU_NORM_LAST + 1; }},
            {"norm: axes empty for a softmax or NORMALIZE, or set for BATCH",
             [](P& p) { p.axes = 1; }},
            {"norm: axes bit at or above x's rank", [](P& p) { p.axes = 8; }},
            {"norm: epsilon not finite", [](P& p) { p.epsilon = kF32Inf; }},
            {"norm: x not a float type",
             [](P& p) {
                 p.x = tensor(NPU_DTYPE_I32, {2, 3, 5}, 0x100000);
             }},
            {"norm scale: required", [](P& p) { p.scale = npu_tensor{}; }},
            {"norm bias: required", [](P& p) { p.bias = npu_tensor{}; }},
            {"norm mean: required", [](P& p) { p.mean = npu_tensor{}; }},
            {"norm var: required", [](P& p) { p.var = npu_tensor{}; }},
            {"norm var: not a float type", [](P& p) { p.var.dtype = NPU_DTYPE_I8; }},
            {"norm mean: shape differs from x's", [](P& p) { p.mean.shape[2] = 1; }},
            {"norm: y not a float type", [](P& p) { p.y.dtype = NPU_DTYPE_I64; }},
            {"norm: y's shape differs from x's", [](P& p) { p.y.shape[0] = 1; }},
        });
    P normalize = norm(NPU_NORM_NORMALIZE, 0b100);
    normalize.scale = tensor(NPU_DTYPE_BF16, {2, 3, 5}, 0x300000);
    EXPECT_EQ(check(NPU_OP_NORM, normalize).why, "");
    normalize.mean = tensor(NPU_DTYPE_F32, {2, 3, 5}, 0x500000);
    EXPECT_EQ(check(NPU_OP_NORM, normalize).why, "norm mean: given for a function that takes none");
    softmax.bias = tensor(NPU_DTYPE_F32, {2, 3, 5}, 0x500000);
    EXPECT_EQ(check(NPU_OP_NORM, softmax).why, "norm bias: given for a function that takes none");
    EXPECT_EQ(check(NPU_OP_NORM, norm(NPU_NORM_SOFTMAX, 0)).why,
              "norm: axes empty for a softmax or NORMALIZE, or set for BATCH");
}

TEST(OpCheckNorm, TileSpaceIsPositionsOutsideTheAxes) {
    auto out = check(NPU_OP_NORM, norm(NPU_NORM_SOFTMAX, 0b010));
    ASSERT_EQ(out.why, "");
    EXPECT_EQ(out.plan.extent[0], 2u * 5u);
    EXPECT_EQ(out.plan.extent[1], 1u);
    out = check(NPU_OP_NORM, norm(NPU_NORM_NORMALIZE, 0b110));
    EXPECT_EQ(out.plan.extent[0], 2u);
    out = check(NPU_OP_NORM, norm(NPU_NORM_BATCH, 0));
    EXPECT_EQ(out.plan.extent[0], 30u);
}

// ---- TENSOR_COPY ----

npu_pkt_tensor_copy copy(std::uint32_t mode, std::uint32_t dt,
                         const std::vector<std::uint32_t>& x_shape,
                         const std::vector<std::uint32_t>& y_shape) {
    auto p = packet<npu_pkt_tensor_copy>(NPU_OP_TENSOR_COPY);
    p.mode = mode;
    p.x = tensor(dt, x_shape, 0x100000);
    p.y = tensor(dt, y_shape, 0x200000);
    return p;
}

TEST(OpCheckTensorCopy, Rules) {
    using P = npu_pkt_tensor_copy;
    P transpose = copy(NPU_COPY_PLAIN, NPU_DTYPE_I64, {3, 4}, {3, 4});
    std::swap(transpose.x.stride[0], transpose.x.stride[1]);
    expect_rejections<P>(
        NPU_OP_TENSOR_COPY, transpose,
        {
            {"tensor_copy: unknown mode", [](P& p) { p.mode = NPU_COPY_PAD_EDGE + 1; }},
            {"tensor_copy: y's dtype differs from x's", [](P& p) { p.y.dtype = NPU_DTYPE_F32; }},
            {"tensor_copy: y's rank differs from x's",
             [](P& p) { p.y = tensor(NPU_DTYPE_I64, {12}, 0x200000); }},
            {"tensor_copy: pad_begin set for PLAIN", [](P& p) { p.pad_begin[0] = 1; }},
            {"tensor_copy: pad_value set for a mode other than PAD_CONSTANT",
             [](P& p) { p.pad_value = 1; }},
            {"tensor_copy: y's shape differs from x's for PLAIN", [](P& p) { p.y.shape[1] = 5; }},
        });
    expect_rejections<P>(
        NPU_OP_TENSOR_COPY, copy(NPU_COPY_PAD_CONSTANT, NPU_DTYPE_F16, {3, 4}, {5, 2}),
        {
            {"tensor_copy: pad_begin set for PLAIN or beyond the rank",
             [](P& p) { p.pad_begin[2] = 1; }},
            {"tensor_copy: pad_value wider than y's element", [](P& p) { p.pad_value = 0x10000; }},
        });
    P boolean = copy(NPU_COPY_PAD_CONSTANT, NPU_DTYPE_BOOL, {3}, {5});
    boolean.pad_value = 1;
    EXPECT_EQ(check(NPU_OP_TENSOR_COPY, boolean).why, "");
    boolean.pad_value = 2;
    EXPECT_EQ(check(NPU_OP_TENSOR_COPY, boolean).why, "tensor_copy: pad_value not 0 or 1 for BOOL");
    P wide = copy(NPU_COPY_PAD_CONSTANT, NPU_DTYPE_I64, {3}, {5});
    wide.pad_value = ~std::uint64_t{0};
    wide.pad_begin[0] = -2; // crop two, pad the rest
    EXPECT_EQ(check(NPU_OP_TENSOR_COPY, wide).why, "");
}

TEST(OpCheckTensorCopy, ReflectAndEdgeNeedEnoughOfX) {
    auto reflect = [](std::uint32_t mode, std::uint32_t x_ext, std::uint32_t y_ext,
                      std::int32_t begin) {
        auto p = copy(mode, NPU_DTYPE_U8, {2, x_ext}, {2, y_ext});
        p.pad_begin[1] = begin;
        return check(NPU_OP_TENSOR_COPY, p).why;
    };
    EXPECT_EQ(reflect(NPU_COPY_PAD_REFLECT, 2, 9, 3), ""); // back and forth
    EXPECT_EQ(reflect(NPU_COPY_PAD_REFLECT, 1, 3, 1),
              "tensor_copy: reflected dimension of x shorter than 2");
    EXPECT_EQ(reflect(NPU_COPY_PAD_REFLECT, 1, 2, 0),
              "tensor_copy: reflected dimension of x shorter than 2");
    EXPECT_EQ(reflect(NPU_COPY_PAD_REFLECT, 1, 1, 0), "");  // not reflected
    EXPECT_EQ(reflect(NPU_COPY_PAD_REFLECT, 5, 2, -3), ""); // only cropped
    EXPECT_EQ(reflect(NPU_COPY_PAD_EDGE, 1, 4, 2), "");
    EXPECT_EQ(reflect(NPU_COPY_PAD_EDGE, 0, 4, 2),
              "tensor_copy: x empty where y is not, for REFLECT or EDGE");
    EXPECT_EQ(reflect(NPU_COPY_PAD_CONSTANT, 0, 4, 2), "");
    EXPECT_EQ(reflect(NPU_COPY_PAD_EDGE, 0, 0, 2), ""); // writes nothing
}

// ---- GATHER ----

npu_pkt_gather gather_take() {
    auto p = packet<npu_pkt_gather>(NPU_OP_GATHER);
    p.mode = NPU_GATHER_TAKE;
    p.axis = 1;
    p.x = tensor(NPU_DTYPE_F32, {2, 10, 3}, 0x100000);
    p.indices = tensor(NPU_DTYPE_I64, {4, 5}, 0x200000);
    p.y = tensor(NPU_DTYPE_F32, {2, 4, 5, 3}, 0x300000);
    return p;
}

TEST(OpCheckGather, Rules) {
    using P = npu_pkt_gather;
    expect_rejections<P>(
        NPU_OP_GATHER, gather_take(),
        {
            {"gather: unknown mode", [](P& p) { p.mode = 2; }},
            {"gather: non-zero mbz", [](P& p) { p.mbz = 1; }},
            {"gather indices: required", [](P& p) { p.indices = npu_tensor{}; }},
            {"gather: axis not below x's rank", [](P& p) { p.axis = 3; }},
            {"gather: indices not I32 or I64", [](P& p) { p.indices.dtype = NPU_DTYPE_U8; }},
            {"gather: y's dtype differs from x's", [](P& p) { p.y.dtype = NPU_DTYPE_I32; }},
            {"gather: y's rank is not x's - 1 + indices'",
             [](P& p) {
                 p.y = tensor(NPU_DTYPE_F32, {2, 20, 3}, 0x300000);
             }},
            {"gather: y's extents differ from x's before axis", [](P& p) { p.y.shape[0] = 1; }},
            {"gather: y's extents differ from x's after axis", [](P& p) { p.y.shape[3] = 4; }},
            {"gather: y's extents at axis differ from indices'", [](P& p) { p.y.shape[2] = 4; }},
        });
    P scalar = gather_take(); // a scalar index drops the axis
    scalar.indices = tensor(NPU_DTYPE_I32, {}, 0x200000);
    scalar.y = tensor(NPU_DTYPE_F32, {2, 3}, 0x300000);
    EXPECT_EQ(check(NPU_OP_GATHER, scalar).why, "");
    P deep = gather_take(); // rank 3 - 1 + 5 = 7
    deep.indices = tensor(NPU_DTYPE_I32, {1, 1, 1, 1, 1}, 0x200000);
    deep.y = tensor(NPU_DTYPE_F32, {2, 1, 1, 1, 1, 1}, 0x300000);
    EXPECT_EQ(check(NPU_OP_GATHER, deep).why, "gather: y's rank is not x's - 1 + indices'");

    P elements = packet<P>(NPU_OP_GATHER);
    elements.mode = NPU_GATHER_ELEMENTS;
    elements.axis = 0;
    elements.x = tensor(NPU_DTYPE_BOOL, {3, 4}, 0x100000);
    elements.indices = tensor(NPU_DTYPE_I32, {7, 2}, 0x200000);
    elements.y = tensor(NPU_DTYPE_BOOL, {7, 2}, 0x300000);
    expect_rejections<P>(
        NPU_OP_GATHER, elements,
        {
            {"gather: indices' rank differs from x's",
             [](P& p) {
                 p.indices = tensor(NPU_DTYPE_I32, {14}, 0x200000);
                 p.y = tensor(NPU_DTYPE_BOOL, {14}, 0x300000);
             }},
            {"gather: y's shape differs from indices'", [](P& p) { p.y.shape[0] = 6; }},
            {"gather: indices' extent larger than x's outside axis",
             [](P& p) { p.indices.shape[1] = p.y.shape[1] = 5; }},
        });
}

// ---- CAST ----

TEST(OpCheckCast, Rules) {
    using P = npu_pkt_cast;
    P valid =
        cast_of(tensor(NPU_DTYPE_BOOL, {2, 3}, 0x1000), tensor(NPU_DTYPE_BF16, {2, 3}, 0x2000));
    expect_rejections<P>(NPU_OP_CAST, valid,
                         {
                             {"cast: non-zero mbz", [](P& p) { p.mbz = 1; }},
                             {"cast: y's shape differs from x's", [](P& p) { p.y.shape[1] = 2; }},
                             {"cast y: unknown dtype", [](P& p) { p.y.dtype = 9; }},
                         });
}

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
    // with room for the whole row block, one tile per engine
    auto roomy = check(NPU_OP_GEMM, p, 4, 1024 * kMiB);
    ASSERT_EQ(roomy.why, "");
    EXPECT_EQ(roomy.plan.tile[0], 2048u);
    EXPECT_EQ(roomy.plan.tile[1], 4096u);
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
