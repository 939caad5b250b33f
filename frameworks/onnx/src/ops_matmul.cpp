// Lowerings: MatMul (batched, broadcast, 1-D operands), Gemm (transposes as
// swapped strides, C broadcast with zero strides), MatMulInteger and
// QLinearMatMul (8-bit GEMM with zero points and requantisation). One GEMM
// each, on views: no copies.
#include <cmath>
#include <optional>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

struct MatMulShapes {
    std::vector<int64_t> batch;
    int64_t m = 0, k = 0, n = 0;
    std::vector<int64_t> y; // ONNX output shape
    Operand a, b, yv;       // device views (rank batch + 2)
};

// numpy matmul semantics on inputs ia and ib (their shapes; the operands
// ao and bo hold their elements); defines no output when ydt is none.
MatMulShapes matmul_views(Builder& b, size_t ia, size_t ib, DType ydt, Operand ao, Operand bo) {
    const ValueInfo& A = need_input(b, ia);
    const ValueInfo& B = need_input(b, ib);
    if (A.shape.empty() || B.shape.empty())
        b.unsupported("MatMul of a scalar");
    std::vector<int64_t> as = A.shape, bs = B.shape;
    bool a1 = as.size() == 1, b1 = bs.size() == 1;
    if (a1)
        as.insert(as.begin(), 1);
    if (b1)
        bs.push_back(1);
    MatMulShapes s;
    s.m = as[as.size() - 2];
    s.k = as.back();
    s.n = bs.back();
    if (bs[bs.size() - 2] != s.k)
        b.unsupported("MatMul K mismatch " + shape_str(A.shape) + " x " + shape_str(B.shape));
    std::vector<int64_t> ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    s.batch = broadcast_shapes(b, ab, bb);
    s.y = s.batch;
    if (!a1)
        s.y.push_back(s.m);
    if (!b1)
        s.y.push_back(s.n);
    auto full = [&](int64_t r, int64_t c) {
        auto v = s.batch;
        v.push_back(r);
        v.push_back(c);
        return v;
    };
    ao.desc = TensorDesc::strided(ao.desc.dtype, as, contiguous_strides(as));
    bo.desc = TensorDesc::strided(bo.desc.dtype, bs, contiguous_strides(bs));
    s.a = broadcast_to(ao, full(s.m, s.k));
    s.b = broadcast_to(bo, full(s.k, s.n));
    if (ydt != DType::none) {
        int y = b.define_output(0, ydt, s.y);
        s.yv = reshaped(b, y, full(s.m, s.n));
    } else {
        s.yv.desc = TensorDesc::contiguous(DType::none, full(s.m, s.n));
    }
    return s;
}

MatMulShapes matmul_views_into(Builder& b, size_t ia, size_t ib, Operand ao, Operand bo) {
    return matmul_views(b, ia, ib, DType::none, std::move(ao), std::move(bo));
}

void lower_matmul(Builder& b) {
    const ValueInfo& A = need_input(b, 0);
    MatMulShapes s =
        matmul_views(b, 0, 1, A.dtype, b.whole(b.input_id(0)), input_as(b, 1, A.dtype));
    b.emit(OpDesc::gemm(), {s.a, s.b, Operand{}, s.yv});
}

// A zero point or scale known while planning as one value (nullopt when
// it is computed at run time or differs per row/column).
std::optional<double> known_scalar(Builder& b, size_t i, double def) {
    if (i >= b.input_count() || !b.has_input(i))
        return def;
    if (!b.input(i).constant)
        return std::nullopt;
    auto v = b.input(i).constant->to_double();
    if (v.empty())
        return def;
    for (double e : v)
        if (e != v[0])
            return std::nullopt;
    return v[0];
}

// (input xi - zero point zi) in dtype dt; a's zero point runs along rows
// (axis -2 of a 2-D or wider a), b's along columns (axis -1).
Operand minus_zp(Builder& b, size_t xi, size_t zi, bool rows, DType dt) {
    const auto rank = static_cast<int64_t>(need_input(b, xi).shape.size());
    return minus_zero_point(b, xi, zi, rows && rank >= 2 ? -2 : -1, dt);
}

// MatMulInteger(a, b, [a_zero_point], [b_zero_point]) -> i32. Known scalar
// zero points: one 8-bit GEMM with them in its quant block; otherwise the
// zero points are subtracted on the device and an exact I32 GEMM runs.
void lower_matmul_integer(Builder& b) {
    need_input(b, 0);
    need_input(b, 1);
    auto az = known_scalar(b, 2, 0), bz = known_scalar(b, 3, 0);
    if (az && bz) {
        MatMulShapes s =
            matmul_views(b, 0, 1, DType::i32, b.whole(b.input_id(0)), b.whole(b.input_id(1)));
        OpDesc op = OpDesc::gemm();
        op.quant.a_zero = static_cast<int32_t>(*az);
        op.quant.b_zero = static_cast<int32_t>(*bz);
        b.emit(op, {s.a, s.b, Operand{}, s.yv});
        return;
    }
    Operand ai = minus_zp(b, 0, 2, true, DType::i32);
    Operand bi = minus_zp(b, 1, 3, false, DType::i32);
    MatMulShapes s = matmul_views(b, 0, 1, DType::i32, ai, bi);
    b.emit(OpDesc::gemm(), {s.a, s.b, Operand{}, s.yv});
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp). Known
// scalar parameters: one requantising 8-bit GEMM. Otherwise f32 on the
// device: (a - a_zp) x (b - b_zp) (exact), times a_scale * b_scale /
// y_scale, rounded, plus y_zp, saturated.
void lower_qlinear_matmul(Builder& b) {
    need_input(b, 0);
    need_input(b, 3);
    const ValueInfo& yzp = need_input(b, 7);
    auto as = known_scalar(b, 1, 1), az = known_scalar(b, 2, 0), bs = known_scalar(b, 4, 1),
         bz = known_scalar(b, 5, 0), ys = known_scalar(b, 6, 1), yz = known_scalar(b, 7, 0);
    if (as && az && bs && bz && ys && yz) {
        MatMulShapes s =
            matmul_views(b, 0, 3, yzp.dtype, b.whole(b.input_id(0)), b.whole(b.input_id(3)));
        OpDesc op = OpDesc::gemm();
        op.quant.a_zero = static_cast<int32_t>(*az);
        op.quant.b_zero = static_cast<int32_t>(*bz);
        op.quant.y_zero = static_cast<int32_t>(*yz);
        op.quant.y_scale = static_cast<float>(*as * *bs / *ys);
        b.emit(op, {s.a, s.b, Operand{}, s.yv});
        return;
    }
    const DType f = DType::f32;
    if (!(b.input(1).shape.empty() || product(b.input(1).shape) == 1) ||
        !(b.input(4).shape.empty() || product(b.input(4).shape) == 1))
        b.unsupported("per-row or per-column scales");
    Operand af = minus_zp(b, 0, 2, true, f);
    Operand bf = minus_zp(b, 3, 5, false, f);
    // The product into an f32 temporary shaped like y.
    MatMulShapes s = matmul_views_into(b, 0, 3, af, bf);
    int acc = b.temporary(f, s.y);
    b.emit(OpDesc::gemm(), {s.a, s.b, Operand{}, reshaped(b, acc, s.yv.desc.shape)});
    const std::vector<int64_t> one{1};
    int f1 = b.temporary(f, one), f2 = b.temporary(f, one);
    emit_binary(b, NPU_BIN_MUL, per_axis(b, input_as(b, 1, f), one, 0),
                per_axis(b, input_as(b, 4, f), one, 0), b.whole(f1));
    emit_binary(b, NPU_BIN_DIV, b.whole(f1), per_axis(b, input_as(b, 6, f), one, 0), b.whole(f2));
    int v = b.temporary(f, s.y);
    emit_binary(b, NPU_BIN_MUL, b.whole(acc), broadcast_to(b.whole(f2), s.y), b.whole(v));
    int y = b.define_output(0, yzp.dtype, s.y);
    requantize(b, b.whole(v), 7, -1, b.whole(y));
}

// Gemm: y = alpha * A' x B' + beta * C.
void lower_gemm(Builder& b) {
    const ValueInfo& A = need_input(b, 0);
    const ValueInfo& B = need_input(b, 1);
    if (A.shape.size() != 2 || B.shape.size() != 2)
        b.unsupported("Gemm operands not 2-D");
    bool ta = b.attr_int("transA", 0) != 0, tb = b.attr_int("transB", 0) != 0;
    int64_t m = ta ? A.shape[1] : A.shape[0], k = ta ? A.shape[0] : A.shape[1];
    int64_t kb = tb ? B.shape[1] : B.shape[0], n = tb ? B.shape[0] : B.shape[1];
    if (k != kb)
        b.unsupported("Gemm K mismatch");
    Operand ao = b.whole(b.input_id(0));
    ao.desc = TensorDesc::strided(A.dtype, {m, k},
                                  ta ? std::vector<int64_t>{1, m} : std::vector<int64_t>{k, 1});
    Operand bo = input_as(b, 1, A.dtype);
    bo.desc = TensorDesc::strided(A.dtype, {k, n},
                                  tb ? std::vector<int64_t>{1, k} : std::vector<int64_t>{n, 1});
    int y = b.define_output(0, A.dtype, {m, n});
    OpDesc op = OpDesc::gemm(b.attr_float("alpha", 1.0f), b.attr_float("beta", 1.0f));
    Operand co;
    if (b.input_count() > 2 && b.has_input(2)) {
        const ValueInfo& C = need_input(b, 2);
        if (C.shape.size() > 2)
            b.unsupported("Gemm C of rank > 2");
        std::vector<int64_t> yshape{m, n};
        broadcast_shapes(b, yshape, C.shape);
        co = broadcast_to(b.whole(b.input_id(2)), yshape);
        if (!is_float(C.dtype) && C.dtype != A.dtype)
            co = broadcast_to(input_as(b, 2, A.dtype), yshape);
    } else {
        op.beta = 1.0f;
    }
    b.emit(op, {ao, bo, co, b.whole(y)});
}

} // namespace

void register_matmul_ops() {
    add_lowering("MatMul", lower_matmul);
    add_lowering("Gemm", lower_gemm);
    add_lowering("MatMulInteger", lower_matmul_integer);
    add_lowering("QLinearMatMul", lower_qlinear_matmul);
}

} // namespace npu_onnx
