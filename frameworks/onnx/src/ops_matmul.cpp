// Lowerings: MatMul (batched, broadcast, 1-D operands), Gemm (transposes as
// swapped strides, C broadcast with zero strides), MatMulInteger and
// QLinearMatMul (8-bit GEMM with zero points and requantisation). One GEMM
// each, on views: no copies. Also what else is best a GEMM: CumSum
// (triangular ones), DFT and STFT (cosine/sine matrices), the recurrent
// layers RNN/GRU/LSTM (unrolled per step), and Det up to 3x3.
#include <algorithm>
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

// ---- recurrent layers ---------------------------------------------------

// RNN, GRU (linear_before_reset 0) and LSTM (with peepholes), forward,
// reverse or bidirectional, layout 0 or 1, default activations. The input
// projection of every step is one batched GEMM (both biases folded into
// its addend); each step is then a GEMM on the previous hidden state with
// the gate activation fused where the gate allows, and a few element-wise
// operations. Steps past a batch entry's sequence_lens keep its state and
// write zeros to Y.
void lower_recurrent(Builder& b) {
    const std::string& type = b.node().op_type();
    const int gates = type == "LSTM" ? 4 : type == "GRU" ? 3 : 1;
    const ValueInfo& X = need_input(b, 0);
    const ValueInfo& W = need_input(b, 1);
    need_input(b, 2);
    const DType f = X.dtype;
    if (!is_float(f) || X.shape.size() != 3 || W.shape.size() != 3)
        b.unsupported("recurrent layer shapes or dtype");
    if (b.has_attr("activations") || b.has_attr("clip"))
        b.unsupported("non-default activations or clip");
    if (type == "GRU" && b.attr_int("linear_before_reset", 0) != 0)
        b.unsupported("GRU with linear_before_reset");
    if (type == "LSTM" && b.attr_int("input_forget", 0) != 0)
        b.unsupported("LSTM with input_forget");
    const bool batchwise = b.attr_int("layout", 0) != 0;
    const int64_t T = batchwise ? X.shape[1] : X.shape[0], B = batchwise ? X.shape[0] : X.shape[1],
                  I = X.shape[2];
    const int64_t H = b.attr_int("hidden_size", W.shape[1] / gates);
    const int64_t D = W.shape[0], G = gates * H;
    const std::string dir = b.attr_string("direction", "forward");
    if (W.shape[1] != G || W.shape[2] != I || (D == 2) != (dir == "bidirectional"))
        b.unsupported("recurrent weight shapes");
    auto has = [&](size_t i) { return i < b.input_count() && b.has_input(i); };
    auto out = [&](size_t i) { return i < b.output_count() && b.has_output(i); };

    // Sequence lengths: a [B] mask per step when given.
    Operand lens;
    if (has(4))
        lens = input_as(b, 4, DType::i64);

    // Y [T, D, B, H] (layout 1: [B, T, D, H]), Y_h and Y_c [D, B, H]
    // (layout 1: [B, D, H]).
    int y = out(0) ? b.define_output(0, f,
                                     batchwise ? std::vector<int64_t>{B, T, D, H}
                                               : std::vector<int64_t>{T, D, B, H})
                   : -1;
    auto state_shape = batchwise ? std::vector<int64_t>{B, D, H} : std::vector<int64_t>{D, B, H};
    int yh = out(1) ? b.define_output(1, f, state_shape) : -1;
    int yc = gates == 4 && out(2) ? b.define_output(2, f, state_shape) : -1;
    // element offset and strides of [B, H] at (t, d) in Y, and at d in Y_h
    auto y_view = [&](int64_t t, int64_t d) {
        return batchwise ? view(b, y, {B, H}, {T * D * H, 1}, t * D * H + d * H)
                         : view(b, y, {B, H}, {H, 1}, (t * D + d) * B * H);
    };
    auto state_view = [&](int v, int64_t d) {
        return batchwise ? view(b, v, {B, H}, {D * H, 1}, d * H)
                         : view(b, v, {B, H}, {H, 1}, d * B * H);
    };
    int zeros = b.device_constant(
        HostTensor::from_double(f, {B, H}, std::vector<double>(static_cast<size_t>(B * H), 0.0)));

    for (int64_t d = 0; d < D; ++d) {
        const bool reverse = dir == "reverse" || d == 1;
        // XW[t] = X[t] W^T + Wb + Rb: [T, B, G]
        int xw = b.temporary(f, {T, B, G});
        Operand xv = b.whole(b.input_id(0));
        xv.desc = TensorDesc::strided(f, {T, B, I},
                                      batchwise ? std::vector<int64_t>{I, T * I, 1}
                                                : std::vector<int64_t>{B * I, I, 1});
        Operand wt = input_as(b, 1, f);
        wt.desc = TensorDesc::strided(f, {T, I, G}, {0, 1, I});
        wt.offset += d * G * I;
        Operand bias;
        if (has(3)) {
            int bs = b.temporary(f, {G});
            Operand bb = input_as(b, 3, f);
            Operand wb = bb, rb = bb;
            wb.desc = TensorDesc::contiguous(f, {G});
            rb.desc = TensorDesc::contiguous(f, {G});
            wb.offset += d * 2 * G;
            rb.offset += d * 2 * G + G;
            emit_binary(b, NPU_BIN_ADD, wb, rb, b.whole(bs));
            bias = view(b, bs, {T, B, G}, {0, 0, 1});
        }
        b.emit(OpDesc::gemm(), {xv, wt, bias, b.whole(xw)});
        // R^T columns [g0, g1) as [H, g1 - g0]
        Operand r = input_as(b, 2, f);
        auto r_t = [&](int64_t g0, int64_t g1) {
            Operand o = r;
            o.desc = TensorDesc::strided(f, {H, g1 - g0}, {1, H});
            o.offset += d * G * H + g0 * H;
            return o;
        };
        auto xw_at = [&](int64_t t, int64_t g0, int64_t g1) {
            return view(b, xw, {B, g1 - g0}, {G, 1}, t * B * G + g0);
        };
        Operand h = has(5) ? [&] {
            Operand o = input_as(b, 5, f);
            o.desc = TensorDesc::contiguous(f, {B, H});
            o.offset += d * B * H;
            return o;
        }()
                           : b.whole(zeros);
        Operand c = b.whole(zeros);
        if (gates == 4 && has(6)) {
            c = input_as(b, 6, f);
            c.desc = TensorDesc::contiguous(f, {B, H});
            c.offset += d * B * H;
        }
        auto tmp = [&](int64_t cols) { return b.whole(b.temporary(f, {B, cols})); };
        for (int64_t s = 0; s < T; ++s) {
            const int64_t t = reverse ? T - 1 - s : s;
            Operand hn = tmp(H), cn;
            if (gates == 1) {
                b.emit(OpDesc::gemm(1, 1, {NPU_FN_TANH, 0, 0}), {h, r_t(0, H), xw_at(t, 0, H), hn});
            } else if (gates == 3) {
                Operand zr = tmp(2 * H), rh = tmp(H), hh = tmp(H), df = tmp(H), e = tmp(H);
                b.emit(OpDesc::gemm(1, 1, {NPU_FN_SIGMOID, 0, 0}),
                       {h, r_t(0, 2 * H), xw_at(t, 0, 2 * H), zr});
                Operand z = zr, rg = zr;
                z.desc = TensorDesc::strided(f, {B, H}, {2 * H, 1});
                rg.desc = TensorDesc::strided(f, {B, H}, {2 * H, 1});
                rg.offset += H;
                emit_binary(b, NPU_BIN_MUL, rg, h, rh);
                b.emit(OpDesc::gemm(1, 1, {NPU_FN_TANH, 0, 0}),
                       {rh, r_t(2 * H, 3 * H), xw_at(t, 2 * H, 3 * H), hh});
                // h' = hh + z * (h - hh)
                emit_binary(b, NPU_BIN_SUB, h, hh, df);
                emit_binary(b, NPU_BIN_MUL, z, df, e);
                emit_binary(b, NPU_BIN_ADD, hh, e, hn);
            } else {
                Operand g = tmp(G), sg = tmp(3 * H), cc = tmp(H), m1 = tmp(H), m2 = tmp(H),
                        tc = tmp(H);
                cn = tmp(H);
                b.emit(OpDesc::gemm(), {h, r_t(0, G), xw_at(t, 0, G), g});
                auto part = [&](const Operand& o, int64_t k, int64_t cols) {
                    Operand v = o;
                    v.desc = TensorDesc::strided(f, {B, H}, {cols, 1});
                    v.offset += k * H;
                    return v;
                };
                auto peep = [&](int64_t k, const Operand& cell) {
                    // g[:, k] += P[k] * cell
                    Operand p = input_as(b, 7, f);
                    p.desc = TensorDesc::strided(f, {B, H}, {0, 1});
                    p.offset += d * 3 * H + (k == 0 ? 0 : k == 1 ? H : 2 * H);
                    Operand m = tmp(H), a = tmp(H);
                    emit_binary(b, NPU_BIN_MUL, p, cell, m);
                    emit_binary(b, NPU_BIN_ADD, part(g, k, G), m, a);
                    emit_copy(b, a, part(g, k, G));
                };
                const bool peepholes = has(7);
                if (peepholes) {
                    peep(0, c); // i
                    peep(2, c); // f
                }
                Operand gi = part(g, 0, G), go = part(g, 1, G), gf = part(g, 2, G),
                        gc = part(g, 3, G);
                Operand si = part(sg, 0, 3 * H), so = part(sg, 1, 3 * H), sf = part(sg, 2, 3 * H);
                emit_unary(b, NPU_FN_SIGMOID, gi, si);
                emit_unary(b, NPU_FN_SIGMOID, gf, sf);
                emit_unary(b, NPU_FN_TANH, gc, cc);
                emit_binary(b, NPU_BIN_MUL, sf, c, m1);
                emit_binary(b, NPU_BIN_MUL, si, cc, m2);
                emit_binary(b, NPU_BIN_ADD, m1, m2, cn);
                if (peepholes)
                    peep(1, cn); // o sees the new cell
                emit_unary(b, NPU_FN_SIGMOID, go, so);
                emit_unary(b, NPU_FN_TANH, cn, tc);
                emit_binary(b, NPU_BIN_MUL, so, tc, hn);
            }
            if (lens.value >= 0) {
                // valid[b] = t < len[b]: new state where valid, else the old one
                Operand valid = b.whole(b.temporary(DType::boolean, {B, H}));
                int tc = scalar_constant(b, DType::i64, static_cast<double>(t));
                Operand lv = lens;
                lv.desc = TensorDesc::strided(DType::i64, {B, H}, {1, 0});
                emit_binary(b, NPU_BIN_LESS, broadcast_to(b.whole(tc), {B, H}), lv, valid);
                if (y >= 0)
                    b.emit(OpDesc::binary(NPU_BIN_SELECT),
                           {hn, b.whole(zeros), valid, y_view(t, d)});
                Operand hk = tmp(H);
                b.emit(OpDesc::binary(NPU_BIN_SELECT), {hn, h, valid, hk});
                hn = hk;
                if (gates == 4) {
                    Operand ck = tmp(H);
                    b.emit(OpDesc::binary(NPU_BIN_SELECT), {cn, c, valid, ck});
                    cn = ck;
                }
            } else if (y >= 0) {
                emit_copy(b, hn, y_view(t, d));
            }
            h = hn;
            if (gates == 4)
                c = cn;
        }
        if (yh >= 0)
            emit_copy(b, h, state_view(yh, d));
        if (yc >= 0)
            emit_copy(b, c, state_view(yc, d));
    }
}

// CumSum(x, axis): a GEMM with a triangular matrix of ones along the axis
// (exclusive: strict; reverse: the other triangle), x seen as
// [outer, n, inner]; exact for I32/I64.
void lower_cumsum(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const auto rank = static_cast<int64_t>(x.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, const_ints(b, 1, "axis").at(0), rank));
    const bool excl = b.attr_int("exclusive", 0) != 0, rev = b.attr_int("reverse", 0) != 0;
    const int64_t outer = product(x.shape, 0, axis), n = x.shape[axis],
                  inner = product(x.shape, axis + 1);
    int y = b.define_output(0, x.dtype, x.shape);
    if (product(x.shape) == 0)
        return;
    std::vector<int64_t> t(static_cast<size_t>(n * n));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            t[static_cast<size_t>(i * n + j)] =
                rev ? (excl ? j > i : j >= i) : (excl ? j < i : j <= i);
    int tm = b.device_constant(HostTensor::from_int64(x.dtype, {n, n}, t));
    b.emit(OpDesc::gemm(),
           {view(b, tm, {outer, n, n}, {0, n, 1}), reshaped(b, b.input_id(0), {outer, n, inner}),
            Operand{}, reshaped(b, y, {outer, n, inner})});
}

// The DFT of x4 ([outer, nin, inner, comps] view, comps 1 or 2) along its
// dimension 1 into y4 ([outer, nout, inner, 2] view): GEMMs with the cosine
// and sine matrices (computed from the sizes), one per output part (real,
// imaginary) and input component, accumulated through the GEMM's addend.
// onesided keeps frequencies 0..n/2; inverse conjugates and divides by n;
// n other than nin zero-pads or truncates.
void dft_core(Builder& b, const Operand& x4, int64_t n, bool onesided, bool inverse,
              const Operand& y4) {
    const int64_t outer = x4.desc.shape[0], nin = x4.desc.shape[1], inner = x4.desc.shape[2],
                  comps = x4.desc.shape[3];
    const auto xs = strides_of(x4), ys = strides_of(y4);
    const int64_t nout = onesided ? n / 2 + 1 : n, used = std::min(nin, n);
    const double pi = 3.14159265358979323846, sg = inverse ? 1.0 : -1.0,
                 scale = inverse ? 1.0 / static_cast<double>(n) : 1.0;
    auto matrix = [&](int part, int comp) {
        std::vector<double> m(static_cast<size_t>(nout * used));
        for (int64_t k = 0; k < nout; ++k)
            for (int64_t j = 0; j < used; ++j) {
                const double ang =
                    2 * pi * static_cast<double>((k * j) % n) / static_cast<double>(n);
                const double c = std::cos(ang) * scale, si = sg * std::sin(ang) * scale;
                // (xr + i xi)(c + i si) = (xr c - xi si) + i (xr si + xi c)
                m[static_cast<size_t>(k * used + j)] =
                    part == 0 ? (comp == 0 ? c : -si) : (comp == 0 ? si : c);
            }
        return m;
    };
    for (int part = 0; part < 2; ++part) {
        Operand yv = y4;
        yv.desc = TensorDesc::strided(DType::f32, {outer, nout, inner}, {ys[0], ys[1], ys[2]});
        yv.offset += part * ys[3];
        Operand acc;
        for (int comp = 0; comp < comps; ++comp) {
            int mc = b.device_constant(
                HostTensor::from_double(DType::f32, {nout, used}, matrix(part, comp)));
            Operand xv = x4;
            xv.desc = TensorDesc::strided(DType::f32, {outer, used, inner}, {xs[0], xs[1], xs[2]});
            xv.offset += comp * xs[3];
            const bool last = comp + 1 == comps;
            Operand dst = last ? yv : b.whole(b.temporary(DType::f32, {outer, nout, inner}));
            b.emit(OpDesc::gemm(), {view(b, mc, {outer, nout, used}, {0, used, 1}), xv, acc, dst});
            acc = dst;
        }
    }
}

void lower_dft(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.dtype != DType::f32 || x.shape.size() < 2)
        b.unsupported("DFT of a non-f32 or rank < 2 input");
    const auto rank = static_cast<int64_t>(x.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", 1), rank - 1));
    const int64_t comps = x.shape.back();
    if (comps != 1 && comps != 2)
        b.unsupported("DFT input's last dimension is not 1 or 2");
    const bool inverse = b.attr_int("inverse", 0) != 0, onesided = b.attr_int("onesided", 0) != 0;
    const int64_t nin = x.shape[axis];
    int64_t n = nin;
    if (b.input_count() > 1 && b.has_input(1))
        n = const_ints(b, 1, "dft_length").at(0);
    if (n < 1)
        b.unsupported("dft_length < 1");
    const int64_t nout = onesided ? n / 2 + 1 : n;
    auto yshape = x.shape;
    yshape[axis] = nout;
    yshape.back() = 2;
    int y = b.define_output(0, DType::f32, yshape);
    const int64_t outer = product(x.shape, 0, axis),
                  inner = product(x.shape, axis + 1, x.shape.size() - 1);
    dft_core(b, reshaped(b, b.input_id(0), {outer, nin, inner, comps}), n, onesided, inverse,
             reshaped(b, y, {outer, nout, inner, 2}));
}

// STFT(signal [batch, length, 1 or 2], frame_step, [window], [frame_length]):
// the frames are an overlapping strided view of the signal, multiplied by
// the window, then a DFT along the frame.
void lower_stft(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.dtype != DType::f32 || x.shape.size() != 3)
        b.unsupported("STFT of a non-f32 or rank != 3 signal");
    const int64_t step = const_ints(b, 1, "frame_step").at(0);
    const bool has_w = b.input_count() > 2 && b.has_input(2);
    int64_t len = 0;
    if (b.input_count() > 3 && b.has_input(3))
        len = const_ints(b, 3, "frame_length").at(0);
    else if (has_w)
        len = need_input(b, 2).shape.at(0);
    const int64_t batch = x.shape[0], length = x.shape[1], comps = x.shape[2];
    if (len < 1 || step < 1 || len > length || (comps != 1 && comps != 2))
        b.unsupported("STFT frame parameters");
    const bool onesided = b.attr_int("onesided", 1) != 0;
    const int64_t frames = (length - len) / step + 1, nout = onesided ? len / 2 + 1 : len;
    int y = b.define_output(0, DType::f32, {batch, frames, nout, 2});
    const std::vector<int64_t> fshape{batch, frames, len, comps};
    Operand fv = view(b, b.input_id(0), fshape, {length * comps, step * comps, comps, 1});
    if (has_w) {
        int t = b.temporary(DType::f32, fshape);
        Operand w = input_as(b, 2, DType::f32);
        w.desc = TensorDesc::strided(DType::f32, fshape, {0, 0, 1, 0});
        emit_binary(b, NPU_BIN_MUL, fv, w, b.whole(t));
        fv = b.whole(t);
    }
    // [batch * frames, len, 1, comps]
    auto fs = strides_of(fv);
    Operand x4 = fv;
    if (has_w) {
        x4.desc = TensorDesc::contiguous(DType::f32, {batch * frames, len, 1, comps});
    } else if (batch == 1) {
        x4.desc = TensorDesc::strided(DType::f32, {frames, len, 1, comps}, {fs[1], fs[2], 0, 1});
    } else {
        int t = b.temporary(DType::f32, fshape);
        emit_copy(b, fv, b.whole(t));
        x4 = reshaped(b, t, {batch * frames, len, 1, comps});
    }
    dft_core(b, x4, len, onesided, false, reshaped(b, y, {batch * frames, nout, 1, 2}));
}

// Det of [..., n, n] for n <= 3 by cofactors on strided views of the
// elements (MUL, SUB, ADD); larger matrices are unsupported.
void lower_det(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 2 || !is_float(x.dtype))
        b.unsupported("Det of rank < 2 or a non-float input");
    const int64_t n = x.shape.back();
    if (x.shape[x.shape.size() - 2] != n || n < 1 || n > 3)
        b.unsupported("Det of matrices other than 1x1 to 3x3");
    std::vector<int64_t> bshape(x.shape.begin(), x.shape.end() - 2);
    const int64_t batch = product(bshape);
    int y = b.define_output(0, x.dtype, bshape);
    if (batch == 0)
        return;
    const std::vector<int64_t> vs{batch};
    auto el = [&](int64_t i, int64_t j) { return view(b, b.input_id(0), vs, {n * n}, i * n + j); };
    auto tmp = [&] { return b.whole(b.temporary(x.dtype, vs)); };
    Operand out = reshaped(b, y, vs);
    if (n == 1) {
        emit_copy(b, el(0, 0), out);
        return;
    }
    // minor(r0, r1, c0, c1) = e[r0][c0] e[r1][c1] - e[r0][c1] e[r1][c0]
    auto minor = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1, const Operand& dst) {
        Operand p = tmp(), q = tmp();
        emit_binary(b, NPU_BIN_MUL, el(r0, c0), el(r1, c1), p);
        emit_binary(b, NPU_BIN_MUL, el(r0, c1), el(r1, c0), q);
        emit_binary(b, NPU_BIN_SUB, p, q, dst);
    };
    if (n == 2) {
        minor(0, 1, 0, 1, out);
        return;
    }
    Operand m0 = tmp(), m1 = tmp(), m2 = tmp(), t0 = tmp(), t1 = tmp(), t2 = tmp(), s = tmp();
    minor(1, 2, 1, 2, m0);
    minor(1, 2, 0, 2, m1);
    minor(1, 2, 0, 1, m2);
    emit_binary(b, NPU_BIN_MUL, el(0, 0), m0, t0);
    emit_binary(b, NPU_BIN_MUL, el(0, 1), m1, t1);
    emit_binary(b, NPU_BIN_MUL, el(0, 2), m2, t2);
    emit_binary(b, NPU_BIN_SUB, t0, t1, s);
    emit_binary(b, NPU_BIN_ADD, s, t2, out);
}

} // namespace

void register_matmul_ops() {
    add_lowering("MatMul", lower_matmul);
    add_lowering("Gemm", lower_gemm);
    add_lowering("MatMulInteger", lower_matmul_integer);
    add_lowering("QLinearMatMul", lower_qlinear_matmul);
    add_lowering("CumSum", lower_cumsum);
    add_lowering("DFT", lower_dft);
    add_lowering("Det", lower_det);
    add_lowering("STFT", lower_stft);
    add_lowering("RNN", lower_recurrent);
    add_lowering("GRU", lower_recurrent);
    add_lowering("LSTM", lower_recurrent);
}

} // namespace npu_onnx
