// SPDX-License-Identifier: MIT
// op_check for the element-wise and data-movement operations: UNARY,
// BINARY, REDUCE, NORM, TENSOR_COPY, GATHER and CAST, with their dtype
// tables checked function by function.
#include <cstdint>
#include <string>
#include <utility>

#include "op_check_fixture.h"

using namespace op_check_test;

namespace {

// ---- UNARY ----

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

} // namespace
