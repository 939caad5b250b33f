// SPDX-License-Identifier: MIT
// The firmware's operation-packet validation (firmware/src/op_check.c),
// built for the host: tensor descriptors, GEMM, CONV and POOL. Each op has
// an accepted packet and one mutation per rule of uapi/drm/npu_packet.h
// that must turn it into BAD_PACKET for that rule's reason.
#include <cstdint>
#include <limits>
#include <string>

#include "op_check_fixture.h"

using namespace op_check_test;

namespace {

// ---- tensor descriptors (through CAST, whose rules are the fewest) ----

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

} // namespace
