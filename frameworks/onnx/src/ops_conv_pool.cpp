// Lowerings: Conv and ConvTranspose (1-3 spatial dimensions, groups,
// dilations, explicit and automatic padding, output_padding and
// output_shape), ConvInteger and QLinearConv, MaxPool (with Indices),
// AveragePool (count_include_pad, ceil_mode), LpPool and the global pools.
// Each is one CONV or POOL packet on the node's tensors.
#include <algorithm>
#include <cmath>
#include <optional>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

struct Window {
    size_t spatial = 0;
    std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end, out;
};

std::vector<int64_t> ints_or(const Builder& b, const char* name, size_t n, int64_t def) {
    auto v = b.attr_ints(name, {});
    if (v.empty())
        v.assign(n, def);
    if (v.size() != n)
        b.unsupported(std::string(name) + " has " + std::to_string(v.size()) + " entries for " +
                      std::to_string(n) + " spatial dimensions");
    return v;
}

// Shared by Conv and the pools: kernel, strides, dilations, pads (after
// auto_pad) and the output extents (floor or ceil mode).
Window direct_window(const Builder& b, const std::vector<int64_t>& xshape,
                     std::vector<int64_t> kernel, bool ceil_mode) {
    Window w;
    if (xshape.size() < 3 || xshape.size() > 5)
        b.unsupported("x's rank " + std::to_string(xshape.size()) + " is not 3 to 5");
    w.spatial = xshape.size() - 2;
    const size_t s = w.spatial;
    if (kernel.size() != s)
        b.unsupported("kernel_shape does not match the spatial rank");
    w.kernel = kernel;
    w.stride = ints_or(b, "strides", s, 1);
    w.dilation = ints_or(b, "dilations", s, 1);
    auto pads = b.attr_ints("pads", {});
    if (pads.empty())
        pads.assign(2 * s, 0);
    if (pads.size() != 2 * s)
        b.unsupported("pads has the wrong length");
    std::string autopad = b.attr_string("auto_pad", "NOTSET");
    w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<long>(s));
    w.pad_end.assign(pads.begin() + static_cast<long>(s), pads.end());
    w.out.resize(s);
    for (size_t i = 0; i < s; ++i) {
        int64_t in = xshape[2 + i], span = w.dilation[i] * (w.kernel[i] - 1) + 1;
        if (autopad == "SAME_UPPER" || autopad == "SAME_LOWER") {
            int64_t out = (in + w.stride[i] - 1) / w.stride[i];
            int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[i] + span - in);
            int64_t small = total / 2, big = total - small;
            w.pad_begin[i] = autopad == "SAME_UPPER" ? small : big;
            w.pad_end[i] = autopad == "SAME_UPPER" ? big : small;
        } else if (autopad == "VALID") {
            w.pad_begin[i] = w.pad_end[i] = 0;
        } else if (autopad != "NOTSET") {
            b.unsupported("auto_pad " + autopad);
        }
        int64_t num = in + w.pad_begin[i] + w.pad_end[i] - span;
        if (num < 0)
            b.unsupported("the window is larger than the padded input");
        w.out[i] = (ceil_mode ? (num + w.stride[i] - 1) / w.stride[i] : num / w.stride[i]) + 1;
        // ONNX (like PyTorch) drops a ceil-mode window that starts in the
        // end padding.
        if (ceil_mode && (w.out[i] - 1) * w.stride[i] >= in + w.pad_begin[i])
            --w.out[i];
    }
    return w;
}

uint32_t u32(const Builder& b, int64_t v, const char* what) {
    if (v < 0 || v > 0xffffffffll)
        b.unsupported(std::string(what) + " out of range");
    return static_cast<uint32_t>(v);
}

void set_window(const Builder& b, OpDesc& op, const Window& w, bool with_kernel) {
    for (size_t i = 0; i < w.spatial; ++i) {
        if (with_kernel)
            op.kernel[i] = u32(b, w.kernel[i], "kernel");
        op.stride[i] = u32(b, w.stride[i], "stride");
        op.dilation[i] = u32(b, w.dilation[i], "dilation");
        op.pad_begin[i] = u32(b, w.pad_begin[i], "pad");
        op.pad_end[i] = u32(b, w.pad_end[i], "pad");
    }
}

std::vector<int64_t> out_shape(int64_t n, int64_t c, const std::vector<int64_t>& sp) {
    std::vector<int64_t> s{n, c};
    s.insert(s.end(), sp.begin(), sp.end());
    return s;
}

// Conv-like ops: x input 0, w input wi. Sets op's window and groups;
// returns y's shape.
std::vector<int64_t> conv_setup(Builder& b, size_t wi, OpDesc& op) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& w = need_input(b, wi);
    if (w.shape.size() != x.shape.size())
        b.unsupported("weight rank differs from x's");
    std::vector<int64_t> kernel = b.attr_ints("kernel_shape", {});
    if (kernel.empty())
        kernel.assign(w.shape.begin() + 2, w.shape.end());
    Window win = direct_window(b, x.shape, kernel, false);
    op.groups = u32(b, b.attr_int("group", 1), "group");
    set_window(b, op, win, false);
    return out_shape(x.shape[0], w.shape[0], win.out);
}

Operand optional_input(Builder& b, size_t i) {
    if (i >= b.input_count() || !b.has_input(i))
        return Operand{};
    need_input(b, i);
    return b.whole(b.input_id(i));
}

void lower_conv(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    OpDesc op = OpDesc::conv();
    auto yshape = conv_setup(b, 1, op);
    int y = b.define_output(0, x.dtype, yshape);
    Operand bias = optional_input(b, 2);
    b.emit(op, {b.whole(b.input_id(0)), input_as(b, 1, x.dtype), bias, b.whole(y)});
}

// ConvInteger(x, w, [x_zero_point], [w_zero_point]) -> i32. Known scalar
// zero points: one 8-bit CONV with them in its quant block. Otherwise the
// zero points are subtracted on the device in f32 (exact for 8-bit
// operands), the convolution runs in f32 and is cast back.
void lower_conv_integer(Builder& b) {
    OpDesc op = OpDesc::conv();
    auto yshape = conv_setup(b, 1, op);
    auto xz = known_scalar(b, 2, 0), wz = known_scalar(b, 3, 0);
    int y = b.define_output(0, DType::i32, yshape);
    if (xz && wz) {
        op.quant.a_zero = static_cast<int32_t>(*xz);
        op.quant.b_zero = static_cast<int32_t>(*wz);
        b.emit(op, {b.whole(b.input_id(0)), b.whole(b.input_id(1)), Operand{}, b.whole(y)});
        return;
    }
    Operand xf = minus_zero_point(b, 0, 2, 1, DType::f32);
    Operand wf = minus_zero_point(b, 1, 3, 0, DType::f32);
    int acc = b.temporary(DType::f32, yshape);
    b.emit(op, {xf, wf, Operand{}, b.whole(acc)});
    b.emit(OpDesc::cast(), {b.whole(acc), b.whole(y)});
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]).
// Known scalar parameters: one requantising 8-bit CONV. Otherwise f32
// arithmetic on the device: (x - x_zp) conv (w - w_zp) + B, times
// x_scale * w_scale / y_scale (w_scale per output channel), rounded, plus
// y_zp, saturated.
void lower_qlinear_conv(Builder& b) {
    OpDesc op = OpDesc::conv();
    auto yshape = conv_setup(b, 3, op);
    const DType ydt = need_input(b, 7).dtype;
    int y = b.define_output(0, ydt, yshape);
    auto xs = known_scalar(b, 1, 1), xz = known_scalar(b, 2, 0), ws = known_scalar(b, 4, 1),
         wz = known_scalar(b, 5, 0), ys = known_scalar(b, 6, 1), yz = known_scalar(b, 7, 0);
    if (xs && xz && ws && wz && ys && yz) {
        op.quant.a_zero = static_cast<int32_t>(*xz);
        op.quant.b_zero = static_cast<int32_t>(*wz);
        op.quant.y_zero = static_cast<int32_t>(*yz);
        op.quant.y_scale = static_cast<float>(*xs * *ws / *ys);
        b.emit(op,
               {b.whole(b.input_id(0)), b.whole(b.input_id(3)), optional_input(b, 8), b.whole(y)});
        return;
    }
    const DType f = DType::f32;
    Operand xf = minus_zero_point(b, 0, 2, 1, f);
    Operand wf = minus_zero_point(b, 3, 5, 0, f);
    Operand bias;
    if (b.input_count() > 8 && b.has_input(8))
        bias = input_as(b, 8, f);
    int acc = b.temporary(f, yshape);
    b.emit(op, {xf, wf, bias, b.whole(acc)});
    // factor = x_scale * w_scale / y_scale, per output channel
    const int64_t oc = yshape[1];
    std::vector<int64_t> cs{oc};
    int f1 = b.temporary(f, cs), f2 = b.temporary(f, cs);
    emit_binary(b, NPU_BIN_MUL, per_axis(b, input_as(b, 1, f), cs, 0),
                per_axis(b, input_as(b, 4, f), cs, 0), b.whole(f1));
    emit_binary(b, NPU_BIN_DIV, b.whole(f1), per_axis(b, input_as(b, 6, f), cs, 0), b.whole(f2));
    int v = b.temporary(f, yshape);
    emit_binary(b, NPU_BIN_MUL, b.whole(acc), per_axis(b, b.whole(f2), yshape, 1), b.whole(v));
    requantize(b, b.whole(v), 7, 1, b.whole(y));
}

void lower_conv_transpose(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& w = need_input(b, 1);
    if (x.shape.size() < 3 || x.shape.size() > 5 || w.shape.size() != x.shape.size())
        b.unsupported("ConvTranspose rank");
    const size_t s = x.shape.size() - 2;
    std::vector<int64_t> kernel = b.attr_ints("kernel_shape", {});
    if (kernel.empty())
        kernel.assign(w.shape.begin() + 2, w.shape.end());
    auto stride = ints_or(b, "strides", s, 1), dil = ints_or(b, "dilations", s, 1),
         opad = ints_or(b, "output_padding", s, 0);
    auto pads = b.attr_ints("pads", {});
    if (pads.empty())
        pads.assign(2 * s, 0);
    if (pads.size() != 2 * s)
        b.unsupported("pads has the wrong length");
    std::string autopad = b.attr_string("auto_pad", "NOTSET");
    auto oshape = b.attr_ints("output_shape", {});
    if (!oshape.empty() && oshape.size() > s)
        oshape.erase(oshape.begin(), oshape.end() - static_cast<long>(s));
    int64_t group = b.attr_int("group", 1);
    OpDesc op = OpDesc::conv(u32(b, group, "group"));
    op.flags = NPU_CONV_TRANSPOSED;
    std::vector<int64_t> out(s);
    for (size_t i = 0; i < s; ++i) {
        int64_t in = x.shape[2 + i], span = dil[i] * (kernel[i] - 1) + 1;
        int64_t natural = stride[i] * (in - 1) + opad[i] + span; // before pads
        int64_t pb = pads[i], pe = pads[s + i];
        if (!oshape.empty() || autopad == "SAME_UPPER" || autopad == "SAME_LOWER") {
            int64_t target = !oshape.empty() ? oshape[i] : in * stride[i];
            int64_t total = natural - target;
            if (total >= 0) {
                int64_t small = total / 2, big = total - small;
                pb = autopad == "SAME_UPPER" ? small : big;
                pe = autopad == "SAME_UPPER" ? big : small;
            } else {
                pb = pe = 0; // the difference becomes output padding
            }
            out[i] = target;
        } else {
            if (autopad == "VALID")
                pb = pe = 0;
            out[i] = natural - pb - pe;
        }
        op.stride[i] = u32(b, stride[i], "stride");
        op.dilation[i] = u32(b, dil[i], "dilation");
        op.pad_begin[i] = u32(b, pb, "pad");
        op.pad_end[i] = u32(b, pe, "pad");
    }
    int y = b.define_output(0, x.dtype, out_shape(x.shape[0], w.shape[1] * group, out));
    Operand bias;
    if (b.input_count() > 2 && b.has_input(2))
        bias = b.whole(b.input_id(2));
    b.emit(op, {b.whole(b.input_id(0)), input_as(b, 1, x.dtype), bias, b.whole(y)});
}

// Row-major flat indices r (over [N, C, spatial...]) to ONNX's column-major
// storage order: (r - r mod plane) + sum over spatial dimension i of its
// coordinate times the product of the extents before it.
void column_major_indices(Builder& b, const Operand& r, const std::vector<int64_t>& sp, int y) {
    const auto& shape = r.desc.shape;
    auto sc = [&](int64_t v) {
        return broadcast_to(b.whole(scalar_constant(b, DType::i64, static_cast<double>(v))), shape);
    };
    auto tmp = [&] { return b.whole(b.temporary(DType::i64, shape)); };
    const int64_t plane = product(sp);
    Operand rem = tmp(), acc = tmp();
    emit_binary(b, NPU_BIN_MOD, r, sc(plane), rem);
    emit_binary(b, NPU_BIN_SUB, r, rem, acc);
    int64_t row = plane, col = 1;
    for (size_t i = 0; i < sp.size(); ++i) {
        row /= sp[i];
        Operand q = tmp(), c = tmp(), t = tmp();
        Operand next = i + 1 == sp.size() ? b.whole(y) : tmp();
        emit_binary(b, NPU_BIN_DIV, rem, sc(row), q);
        emit_binary(b, NPU_BIN_MOD, q, sc(sp[i]), c);
        emit_binary(b, NPU_BIN_MUL, c, sc(col), t);
        emit_binary(b, NPU_BIN_ADD, acc, t, next);
        acc = next;
        col *= sp[i];
    }
}

void pool_common(Builder& b, uint32_t mode, bool global) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 3 || x.shape.size() > 5)
        b.unsupported("pool over rank " + std::to_string(x.shape.size()));
    std::vector<int64_t> kernel;
    Window win;
    if (global) {
        win.spatial = x.shape.size() - 2;
        win.kernel.assign(x.shape.begin() + 2, x.shape.end());
        win.stride.assign(win.spatial, 1);
        win.dilation.assign(win.spatial, 1);
        win.pad_begin.assign(win.spatial, 0);
        win.pad_end.assign(win.spatial, 0);
        win.out.assign(win.spatial, 1);
    } else {
        kernel = b.attr_ints("kernel_shape", {});
        win = direct_window(b, x.shape, kernel, b.attr_int("ceil_mode", 0) != 0);
    }
    std::array<uint32_t, 3> k{};
    OpDesc op = OpDesc::pool(mode, k);
    set_window(b, op, win, true);
    const std::string& type = b.node().op_type();
    if (mode == NPU_POOL_LP)
        op.p = u32(b, b.attr_int("p", 2), "p");
    if (mode == NPU_POOL_AVG && b.attr_int("count_include_pad", 0) != 0)
        op.fn = NPU_POOL_AVG_PAD;
    int y = b.define_output(0, x.dtype, out_shape(x.shape[0], x.shape[1], win.out));
    Operand idx;
    int colmajor = -1; // storage_order 1: indices converted after the pool
    if (type == "MaxPool" && b.output_count() > 1 && b.has_output(1)) {
        const auto ishape = out_shape(x.shape[0], x.shape[1], win.out);
        if (b.attr_int("storage_order", 0) != 0) {
            colmajor = b.define_output(1, DType::i64, ishape);
            idx = b.whole(b.temporary(DType::i64, ishape));
        } else {
            idx = b.whole(b.define_output(1, DType::i64, ishape));
        }
    }
    if (mode == NPU_POOL_MAX && (x.dtype == DType::i8 || x.dtype == DType::u8)) {
        // 8-bit max pooling through f32 (exact both ways).
        const auto yshape = out_shape(x.shape[0], x.shape[1], win.out);
        int yf = b.temporary(DType::f32, yshape);
        b.emit(op, {input_as(b, 0, DType::f32), b.whole(yf), idx});
        b.emit(OpDesc::cast(), {b.whole(yf), b.whole(y)});
        return;
    }
    b.emit(op, {b.whole(b.input_id(0)), b.whole(y), idx});
    if (colmajor >= 0)
        column_major_indices(b, idx, std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()),
                             colmajor);
}

void lower_maxpool(Builder& b) {
    pool_common(b, NPU_POOL_MAX, false);
}
void lower_avgpool(Builder& b) {
    pool_common(b, NPU_POOL_AVG, false);
}
void lower_lppool(Builder& b) {
    pool_common(b, NPU_POOL_LP, false);
}
void lower_global_max(Builder& b) {
    pool_common(b, NPU_POOL_MAX, true);
}
void lower_global_avg(Builder& b) {
    pool_common(b, NPU_POOL_AVG, true);
}
void lower_global_lp(Builder& b) {
    pool_common(b, NPU_POOL_LP, true);
}

} // namespace

void register_conv_pool_ops() {
    add_lowering("Conv", lower_conv);
    add_lowering("ConvInteger", lower_conv_integer);
    add_lowering("QLinearConv", lower_qlinear_conv);
    add_lowering("ConvTranspose", lower_conv_transpose);
    add_lowering("MaxPool", lower_maxpool);
    add_lowering("AveragePool", lower_avgpool);
    add_lowering("LpPool", lower_lppool);
    add_lowering("GlobalMaxPool", lower_global_max);
    add_lowering("GlobalAveragePool", lower_global_avg);
    add_lowering("GlobalLpPool", lower_global_lp);
}

} // namespace npu_onnx
