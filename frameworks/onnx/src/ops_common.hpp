// Helpers shared by the operator lowerings (ops_*.cpp): views with
// strides and offsets, numpy broadcasting, axis normalisation, constant
// inputs read while planning, and small emit shortcuts. Header-only so the
// lowering files need no build change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

#include "lowering.hpp"

namespace npu_onnx::lower {

using npu::ops::Activation;

// Row-major strides (elements) of a shape.
inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size());
    int64_t acc = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        s[i] = acc;
        acc *= shape[i];
    }
    return s;
}

inline int64_t product(const std::vector<int64_t>& shape, size_t begin = 0, size_t end = SIZE_MAX) {
    int64_t p = 1;
    for (size_t i = begin; i < shape.size() && i < end; ++i)
        p *= shape[i];
    return p;
}

inline std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i)
        r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
}

inline bool is_float(DType d) {
    return d == DType::f32 || d == DType::f16 || d == DType::bf16;
}
inline bool is_int(DType d) {
    return d == DType::i8 || d == DType::u8 || d == DType::i32 || d == DType::i64;
}

// A view of value: shape with strides and an offset (elements).
inline Operand view(const Builder& b, int value, std::vector<int64_t> shape,
                    std::vector<int64_t> strides, int64_t offset = 0) {
    return Operand{value,
                   TensorDesc::strided(b.info(value).dtype, std::move(shape), std::move(strides)),
                   offset};
}

// The whole value seen as another shape of the same element count.
inline Operand reshaped(const Builder& b, int value, std::vector<int64_t> shape) {
    auto st = contiguous_strides(shape);
    return view(b, value, std::move(shape), std::move(st));
}

inline std::vector<int64_t> strides_of(const Operand& o) {
    return o.desc.strides.empty() ? contiguous_strides(o.desc.shape) : o.desc.strides;
}

// o broadcast (numpy rules, right-aligned) to shape: missing leading
// dimensions and extents of 1 get stride 0.
inline Operand broadcast_to(const Operand& o, const std::vector<int64_t>& shape) {
    auto st = strides_of(o);
    const size_t r = shape.size(), ro = o.desc.shape.size();
    std::vector<int64_t> ns(r, 0);
    for (size_t i = 0; i < ro; ++i) {
        size_t j = r - ro + i;
        ns[j] = o.desc.shape[i] == shape[j] ? st[i] : 0;
    }
    Operand out = o;
    out.desc = TensorDesc::strided(o.desc.dtype, shape, ns);
    return out;
}

inline std::vector<int64_t> broadcast_shapes(const Builder& b, const std::vector<int64_t>& x,
                                             const std::vector<int64_t>& y) {
    size_t r = std::max(x.size(), y.size());
    std::vector<int64_t> out(r);
    for (size_t i = 0; i < r; ++i) {
        int64_t a = i + x.size() >= r ? x[i + x.size() - r] : 1;
        int64_t c = i + y.size() >= r ? y[i + y.size() - r] : 1;
        if (a != c && a != 1 && c != 1)
            b.unsupported("shapes " + shape_str(x) + " and " + shape_str(y) + " do not broadcast");
        out[i] = a == 1 ? c : a;
    }
    return out;
}

// Axis in [-rank, rank) to [0, rank).
inline int64_t norm_axis(const Builder& b, int64_t axis, int64_t rank) {
    if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
        b.unsupported("axis " + std::to_string(axis) + " out of range for rank " +
                      std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

inline const ValueInfo& need_input(const Builder& b, size_t i) {
    if (i >= b.input_count() || !b.has_input(i))
        b.unsupported("input " + std::to_string(i) + " missing");
    const ValueInfo& v = b.input(i);
    if (v.dtype == DType::none)
        b.unsupported("input " + std::to_string(i) + " has no device dtype");
    return v;
}

// Input i's elements; Unsupported unless known while planning.
inline std::vector<int64_t> const_ints(const Builder& b, size_t i, const char* what) {
    if (i >= b.input_count() || !b.has_input(i) || !b.input(i).constant)
        b.unsupported(std::string(what) + " not known while planning");
    return b.input(i).constant->to_int64();
}
inline std::vector<double> const_doubles(const Builder& b, size_t i, const char* what) {
    if (i >= b.input_count() || !b.has_input(i) || !b.input(i).constant)
        b.unsupported(std::string(what) + " not known while planning");
    return b.input(i).constant->to_double();
}

// A zero point or scale known while planning as one value: def when input i
// is absent, nullopt when it is computed at run time or differs per
// channel (row, column).
inline std::optional<double> known_scalar(const Builder& b, size_t i, double def) {
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

// A device scalar constant of dtype (rank 0).
inline int scalar_constant(Builder& b, DType dtype, double value) {
    double v[1] = {value};
    return b.device_constant(HostTensor::from_double(dtype, {}, v));
}

inline void emit_copy(Builder& b, const Operand& x, const Operand& y) {
    b.emit(OpDesc::tensor_copy(NPU_COPY_PLAIN), {x, y});
}
inline void emit_cast(Builder& b, const Operand& x, const Operand& y) {
    if (x.desc.dtype == y.desc.dtype)
        emit_copy(b, x, y);
    else
        b.emit(OpDesc::cast(), {x, y});
}
inline void emit_unary(Builder& b, uint32_t fn, const Operand& x, const Operand& y, float alpha = 0,
                       float beta = 0) {
    b.emit(OpDesc::unary(fn, alpha, beta), {x, y});
}
inline void emit_binary(Builder& b, uint32_t fn, const Operand& a, const Operand& c,
                        const Operand& y) {
    b.emit(OpDesc::binary(fn), {a, c, Operand{}, y});
}

// Input i as a whole operand of dtype (cast into a temporary when needed).
inline Operand input_as(Builder& b, size_t i, DType dtype) {
    const ValueInfo& v = need_input(b, i);
    Operand o = b.whole(b.input_id(i));
    if (v.dtype == dtype)
        return o;
    int t = b.temporary(dtype, v.shape);
    emit_cast(b, o, b.whole(t));
    return b.whole(t);
}

inline uint64_t axes_mask(const std::vector<int64_t>& axes) {
    uint64_t m = 0;
    for (int64_t a : axes)
        m |= uint64_t{1} << a;
    return m;
}

// Attribute or (from opset `from`) constant input i holding a list of
// integers; def when neither is given.
inline std::vector<int64_t> ints_attr_or_input(const Builder& b, const char* attr, size_t i,
                                               std::vector<int64_t> def) {
    if (b.has_attr(attr))
        return b.attr_ints(attr, def);
    if (i < b.input_count() && b.has_input(i))
        return const_ints(b, i, attr);
    return def;
}

// A scalar or 1-D tensor (quantisation scales and zero points) seen with
// shape: its one element everywhere, or its elements along axis.
inline Operand per_axis(const Builder& b, Operand o, const std::vector<int64_t>& shape,
                        int64_t axis) {
    const auto n = static_cast<int64_t>(o.desc.elements());
    std::vector<int64_t> st(shape.size(), 0);
    if (n != 1) {
        const int64_t a = norm_axis(b, axis, static_cast<int64_t>(shape.size()));
        if (o.desc.shape.size() != 1 || shape[static_cast<size_t>(a)] != n)
            b.unsupported("scale or zero point of shape " + shape_str(o.desc.shape));
        st[static_cast<size_t>(a)] = 1;
    }
    o.desc = TensorDesc::strided(o.desc.dtype, shape, st);
    return o;
}

// (dt(x) - dt(zero_point)) in a temporary of dtype dt; the zero point input
// zi (absent: 0) is a scalar or per-axis.
inline Operand minus_zero_point(Builder& b, size_t xi, size_t zi, int64_t axis, DType dt) {
    const ValueInfo& x = need_input(b, xi);
    Operand xf = input_as(b, xi, dt);
    if (zi >= b.input_count() || !b.has_input(zi))
        return xf;
    int t = b.temporary(dt, x.shape);
    emit_binary(b, NPU_BIN_SUB, xf, per_axis(b, input_as(b, zi, dt), x.shape, axis), b.whole(t));
    return b.whole(t);
}

// y = saturate(round(v) + zero_point) into y's integer dtype: ROUND, ADD
// the zero point (input zi, per axis, or none), CAST (saturating).
inline void requantize(Builder& b, Operand v, size_t zi, int64_t axis, const Operand& y) {
    const auto& shape = v.desc.shape;
    const DType dt = v.desc.dtype;
    int r = b.temporary(dt, shape);
    emit_unary(b, NPU_FN_ROUND, v, b.whole(r));
    Operand cur = b.whole(r);
    if (zi < b.input_count() && b.has_input(zi)) {
        int z = b.temporary(dt, shape);
        emit_binary(b, NPU_BIN_ADD, cur, per_axis(b, input_as(b, zi, dt), shape, axis), b.whole(z));
        cur = b.whole(z);
    }
    b.emit(OpDesc::cast(), {cur, y});
}

} // namespace npu_onnx::lower
