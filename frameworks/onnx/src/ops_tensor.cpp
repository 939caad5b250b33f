// Lowerings: layout and data movement. Transpose, Slice, Expand, Tile,
// DepthToSpace and SpaceToDepth are one TENSOR_COPY from a strided view
// (negative strides for reversed slices, zero strides for broadcasts);
// Concat and Split one copy per part into or out of an offset view; Pad the
// copy's padding modes; Gather/GatherElements the GATHER packet; Cast and
// CastLike CAST; Trilu and OneHot a select against masks or positions
// computed from shapes alone.
#include <cstring>
#include <numeric>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

void lower_transpose(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const size_t r = x.shape.size();
    std::vector<int64_t> perm = b.attr_ints("perm", {});
    if (perm.empty()) {
        perm.resize(r);
        std::iota(perm.rbegin(), perm.rend(), 0);
    }
    if (perm.size() != r)
        b.unsupported("perm's length differs from the rank");
    auto xs = contiguous_strides(x.shape);
    std::vector<int64_t> shape(r), strides(r);
    for (size_t i = 0; i < r; ++i) {
        int64_t p = norm_axis(b, perm[i], static_cast<int64_t>(r));
        shape[i] = x.shape[static_cast<size_t>(p)];
        strides[i] = xs[static_cast<size_t>(p)];
    }
    int y = b.define_output(0, x.dtype, shape);
    emit_copy(b, view(b, b.input_id(0), shape, strides), b.whole(y));
}

void lower_concat(Builder& b) {
    const ValueInfo& x0 = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x0.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", 0), rank));
    std::vector<int64_t> shape = x0.shape;
    shape[axis] = 0;
    for (size_t i = 0; i < b.input_count(); ++i) {
        const ValueInfo& v = need_input(b, i);
        if (v.shape.size() != x0.shape.size())
            b.unsupported("Concat inputs of different ranks");
        shape[axis] += v.shape[axis];
    }
    int y = b.define_output(0, x0.dtype, shape);
    auto ys = contiguous_strides(shape);
    int64_t at = 0;
    for (size_t i = 0; i < b.input_count(); ++i) {
        const ValueInfo& v = b.input(i);
        if (product(v.shape) != 0)
            emit_copy(b, input_as(b, i, x0.dtype), view(b, y, v.shape, ys, at * ys[axis]));
        at += v.shape[axis];
    }
}

void lower_split(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", 0), rank));
    const size_t n = b.output_count();
    std::vector<int64_t> split = ints_attr_or_input(b, "split", 1, {});
    int64_t len = x.shape[axis];
    if (split.empty()) {
        int64_t parts = b.attr_int("num_outputs", static_cast<int64_t>(n));
        int64_t each = (len + parts - 1) / parts;
        for (int64_t i = 0; i < parts; ++i)
            split.push_back(std::min(each, len - i * each));
    }
    if (split.size() != n)
        b.unsupported("split has " + std::to_string(split.size()) + " parts for " +
                      std::to_string(n) + " outputs");
    auto xs = contiguous_strides(x.shape);
    int64_t at = 0;
    for (size_t i = 0; i < n; ++i) {
        auto shape = x.shape;
        shape[axis] = split[i];
        if (b.has_output(i)) {
            int y = b.define_output(i, x.dtype, shape);
            if (product(shape) != 0)
                emit_copy(b, view(b, b.input_id(0), shape, xs, at * xs[axis]), b.whole(y));
        }
        at += split[i];
    }
}

void lower_slice(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (b.opset() < 10) {
        starts = b.attr_ints("starts", {});
        ends = b.attr_ints("ends", {});
        axes = b.attr_ints("axes", {});
    } else {
        starts = const_ints(b, 1, "starts");
        ends = const_ints(b, 2, "ends");
        if (b.input_count() > 3 && b.has_input(3))
            axes = const_ints(b, 3, "axes");
        if (b.input_count() > 4 && b.has_input(4))
            steps = const_ints(b, 4, "steps");
    }
    if (axes.empty()) {
        axes.resize(starts.size());
        std::iota(axes.begin(), axes.end(), 0);
    }
    if (steps.empty())
        steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
        b.unsupported("Slice parameters of different lengths");
    auto shape = x.shape;
    auto strides = contiguous_strides(x.shape);
    int64_t offset = 0;
    for (size_t i = 0; i < starts.size(); ++i) {
        const auto a = static_cast<size_t>(norm_axis(b, axes[i], rank));
        const int64_t dim = x.shape[a], step = steps[i];
        if (step == 0)
            b.unsupported("Slice step 0");
        int64_t s = starts[i], e = ends[i];
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        int64_t n;
        if (step > 0) {
            s = std::clamp<int64_t>(s, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
            n = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = std::clamp<int64_t>(s, 0, dim - 1);
            e = std::clamp<int64_t>(e, -1, dim - 1);
            n = s > e ? (s - e + (-step) - 1) / (-step) : 0;
        }
        shape[a] = n;
        if (n > 0)
            offset += s * strides[a];
        strides[a] *= step;
    }
    int y = b.define_output(0, x.dtype, shape);
    if (product(shape) != 0)
        emit_copy(b, view(b, b.input_id(0), shape, strides, offset), b.whole(y));
}

void lower_expand(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    auto target = const_ints(b, 1, "shape");
    auto shape = broadcast_shapes(b, x.shape, target);
    int y = b.define_output(0, x.dtype, shape);
    emit_copy(b, broadcast_to(b.whole(b.input_id(0)), shape), b.whole(y));
}

// y seen as [r0, d0, r1, d1, ...]; x repeats with stride 0 along each r.
void lower_tile(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    auto reps = const_ints(b, 1, "repeats");
    const size_t r = x.shape.size();
    if (reps.size() != r)
        b.unsupported("repeats' length differs from the rank");
    std::vector<int64_t> shape(r);
    for (size_t i = 0; i < r; ++i)
        shape[i] = x.shape[i] * reps[i];
    int y = b.define_output(0, x.dtype, shape);
    auto ys = contiguous_strides(shape), xs = contiguous_strides(x.shape);
    std::vector<int64_t> vshape, ystr, xstr;
    for (size_t i = 0; i < r; ++i) {
        vshape.push_back(reps[i]);
        vshape.push_back(x.shape[i]);
        ystr.push_back(x.shape[i] * ys[i]);
        ystr.push_back(ys[i]);
        xstr.push_back(0);
        xstr.push_back(xs[i]);
    }
    if (product(shape) != 0)
        emit_copy(b, view(b, b.input_id(0), vshape, xstr), view(b, y, vshape, ystr));
}

void lower_depth_to_space(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() != 4)
        b.unsupported("DepthToSpace of rank != 4");
    const int64_t bs = b.attr_int("blocksize", 0);
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
    if (bs < 1 || c % (bs * bs))
        b.unsupported("bad blocksize");
    const int64_t cc = c / (bs * bs);
    bool crd = b.attr_string("mode", "DCR") == "CRD";
    int y = b.define_output(0, x.dtype, {n, cc, h * bs, w * bs});
    std::vector<int64_t> vshape{n, cc, h, bs, w, bs}, xstr;
    if (crd) {
        auto s = contiguous_strides({n, cc, bs, bs, h, w});
        xstr = {s[0], s[1], s[4], s[2], s[5], s[3]};
    } else {
        auto s = contiguous_strides({n, bs, bs, cc, h, w});
        xstr = {s[0], s[3], s[4], s[1], s[5], s[2]};
    }
    emit_copy(b, view(b, b.input_id(0), vshape, xstr), reshaped(b, y, vshape));
}

void lower_space_to_depth(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() != 4)
        b.unsupported("SpaceToDepth of rank != 4");
    const int64_t bs = b.attr_int("blocksize", 0);
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
    if (bs < 1 || h % bs || w % bs)
        b.unsupported("bad blocksize");
    int y = b.define_output(0, x.dtype, {n, c * bs * bs, h / bs, w / bs});
    auto s = contiguous_strides({n, c, h / bs, bs, w / bs, bs});
    std::vector<int64_t> vshape{n, bs, bs, c, h / bs, w / bs},
        xstr{s[0], s[3], s[5], s[1], s[2], s[4]};
    emit_copy(b, view(b, b.input_id(0), vshape, xstr), reshaped(b, y, vshape));
}

uint64_t element_bits(DType dt, double v) {
    double vv[1] = {v};
    HostTensor t = HostTensor::from_double(dt, {}, vv);
    uint64_t bits = 0;
    std::memcpy(&bits, t.bytes.data(), std::min<size_t>(t.bytes.size(), sizeof bits));
    return bits;
}

void lower_pad(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::string mode = b.attr_string("mode", "constant");
    std::vector<int64_t> pads;
    double value = 0;
    if (b.opset() < 11) {
        pads = b.attr_ints(b.has_attr("pads") ? "pads" : "paddings", {});
        value = b.attr_float("value", 0.0f);
    } else {
        pads = const_ints(b, 1, "pads");
        if (b.input_count() > 2 && b.has_input(2)) {
            auto v = const_doubles(b, 2, "constant_value");
            if (!v.empty())
                value = v[0];
        }
    }
    std::vector<int64_t> axes;
    if (b.input_count() > 3 && b.has_input(3))
        axes = const_ints(b, 3, "axes");
    if (axes.empty()) {
        axes.resize(static_cast<size_t>(rank));
        std::iota(axes.begin(), axes.end(), 0);
    }
    if (pads.size() != 2 * axes.size())
        b.unsupported("pads has the wrong length");
    std::vector<int64_t> begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
        auto a = static_cast<size_t>(norm_axis(b, axes[i], rank));
        begin[a] = pads[i];
        end[a] = pads[axes.size() + i];
    }
    auto shape = x.shape;
    for (size_t i = 0; i < shape.size(); ++i)
        shape[i] += begin[i] + end[i];
    OpDesc op;
    if (mode == "constant") {
        op = OpDesc::tensor_copy(NPU_COPY_PAD_CONSTANT);
        op.pad_value = element_bits(x.dtype, value);
    } else if (mode == "reflect") {
        op = OpDesc::tensor_copy(NPU_COPY_PAD_REFLECT);
    } else if (mode == "edge") {
        op = OpDesc::tensor_copy(NPU_COPY_PAD_EDGE);
    } else {
        b.unsupported("Pad mode " + mode);
    }
    op.copy_offset = begin;
    int y = b.define_output(0, x.dtype, shape);
    b.emit(op, {b.whole(b.input_id(0)), b.whole(y)});
}

Operand index_operand(Builder& b, size_t i) {
    const ValueInfo& v = need_input(b, i);
    if (v.dtype == DType::i32 || v.dtype == DType::i64)
        return b.whole(b.input_id(i));
    return input_as(b, i, DType::i64);
}

void lower_gather(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& ind = need_input(b, 1);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", 0), rank));
    std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + static_cast<long>(axis));
    shape.insert(shape.end(), ind.shape.begin(), ind.shape.end());
    shape.insert(shape.end(), x.shape.begin() + static_cast<long>(axis) + 1, x.shape.end());
    int y = b.define_output(0, x.dtype, shape);
    b.emit(OpDesc::gather(NPU_GATHER_TAKE, static_cast<uint32_t>(axis)),
           {b.whole(b.input_id(0)), index_operand(b, 1), b.whole(y)});
}

// GatherElements; above six dimensions, neighbours outside axis whose
// inner extents agree in x and indices merge (both are contiguous).
void lower_gather_elements(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& ind = need_input(b, 1);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", 0), rank));
    if (ind.shape.size() != x.shape.size())
        b.unsupported("GatherElements indices of another rank than x");
    int y = b.define_output(0, x.dtype, ind.shape);
    std::vector<int64_t> xs = x.shape, is = ind.shape;
    for (size_t i = 0; xs.size() > 6 && i + 1 < xs.size();) {
        if (i != axis && i + 1 != axis && xs[i + 1] == is[i + 1]) {
            xs[i] *= xs[i + 1];
            is[i] *= is[i + 1];
            xs.erase(xs.begin() + static_cast<long>(i) + 1);
            is.erase(is.begin() + static_cast<long>(i) + 1);
            if (axis > i)
                --axis;
        } else {
            ++i;
        }
    }
    Operand io = index_operand(b, 1);
    io.desc = TensorDesc::contiguous(io.desc.dtype, is);
    b.emit(OpDesc::gather(NPU_GATHER_ELEMENTS, static_cast<uint32_t>(axis)),
           {reshaped(b, b.input_id(0), xs), io, reshaped(b, y, is)});
}

void lower_cast(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    DType to = b.node().op_type() == "CastLike"
                   ? need_input(b, 1).dtype
                   : dtype_from_onnx(static_cast<int32_t>(b.attr_int("to", 0)));
    if (to == DType::none)
        b.unsupported("Cast to a type the device has no dtype for");
    int y = b.define_output(0, to, x.shape);
    emit_cast(b, b.whole(b.input_id(0)), b.whole(y));
}

// Trilu: y = mask ? x : 0. The mask is a constant of the last two extents
// when k is known while planning; else (j - i) compared with k on the
// device.
void lower_trilu(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 2)
        b.unsupported("Trilu of rank < 2");
    const bool has_k = b.input_count() > 1 && b.has_input(1);
    const bool k_known = !has_k || b.input(1).constant;
    int64_t k = 0;
    if (has_k && k_known)
        k = const_ints(b, 1, "k").at(0);
    bool upper = b.attr_int("upper", 1) != 0;
    const int64_t m = x.shape[x.shape.size() - 2], n = x.shape.back();
    std::vector<int64_t> mask(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
            mask[static_cast<size_t>(i * n + j)] =
                k_known ? (upper ? (j - i >= k) : (j - i <= k)) : j - i;
    int y = b.define_output(0, x.dtype, x.shape);
    if (product(x.shape) == 0)
        return;
    int mk;
    if (k_known) {
        mk = b.device_constant(HostTensor::from_int64(DType::boolean, {m, n}, mask));
    } else {
        int diff = b.device_constant(HostTensor::from_int64(DType::i64, {m, n}, mask));
        mk = b.temporary(DType::boolean, {m, n});
        emit_binary(b, upper ? NPU_BIN_GREATER_EQUAL : NPU_BIN_LESS_EQUAL, b.whole(diff),
                    broadcast_to(input_as(b, 1, DType::i64), {m, n}), b.whole(mk));
    }
    int zero = scalar_constant(b, x.dtype, 0);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {b.whole(b.input_id(0)), broadcast_to(b.whole(zero), x.shape),
            broadcast_to(b.whole(mk), x.shape), b.whole(y)});
}

// OneHot(indices, depth, values[off, on]): y = (indices mod depth ==
// position along axis) ? on : off.
void lower_onehot(Builder& b) {
    const ValueInfo& ind = need_input(b, 0);
    const ValueInfo& vals = need_input(b, 2);
    auto depth_v = const_doubles(b, 1, "depth");
    if (depth_v.empty())
        b.unsupported("depth empty");
    const auto depth = static_cast<int64_t>(depth_v[0]);
    const int64_t rank = static_cast<int64_t>(ind.shape.size()) + 1;
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", -1), rank));
    auto shape = ind.shape;
    shape.insert(shape.begin() + static_cast<long>(axis), depth);
    int y = b.define_output(0, vals.dtype, shape);
    // indices as i64, wrapped into [0, depth) (negative ones count from the end).
    Operand i64 = input_as(b, 0, DType::i64);
    int wrapped = b.temporary(DType::i64, ind.shape);
    int dep = scalar_constant(b, DType::i64, static_cast<double>(depth));
    emit_binary(b, NPU_BIN_MOD, i64, broadcast_to(b.whole(dep), ind.shape), b.whole(wrapped));
    // indices seen with extent 1 at axis, broadcast along it.
    auto ishape = ind.shape;
    ishape.insert(ishape.begin() + static_cast<long>(axis), 1);
    Operand iv = broadcast_to(reshaped(b, wrapped, ishape), shape);
    std::vector<int64_t> pos(static_cast<size_t>(depth));
    std::iota(pos.begin(), pos.end(), 0);
    std::vector<int64_t> pshape(shape.size() - axis, 1);
    pshape[0] = depth;
    int iota = b.device_constant(HostTensor::from_int64(DType::i64, pshape, pos));
    int eq = b.temporary(DType::boolean, shape);
    emit_binary(b, NPU_BIN_EQUAL, iv, broadcast_to(b.whole(iota), shape), b.whole(eq));
    Operand on = view(b, b.input_id(2), {}, {}, 1), off = view(b, b.input_id(2), {}, {}, 0);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {broadcast_to(on, shape), broadcast_to(off, shape), b.whole(eq), b.whole(y)});
}

void lower_eyelike(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() != 2)
        b.unsupported("EyeLike of rank != 2");
    DType dt = b.has_attr("dtype") ? dtype_from_onnx(static_cast<int32_t>(b.attr_int("dtype", 1)))
                                   : x.dtype;
    if (dt == DType::none)
        b.unsupported("EyeLike dtype");
    int64_t k = b.attr_int("k", 0);
    const int64_t m = x.shape[0], n = x.shape[1];
    std::vector<int64_t> v(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
            v[static_cast<size_t>(i * n + j)] = j - i == k;
    b.define_output_constant(0, HostTensor::from_int64(dt, {m, n}, v));
}

// GatherND(data, indices): the index tuples (wrapped into range) become
// flat positions through an I64 GEMM with the strides, plus each batch's
// offset for batch_dims > 0; then one GATHER TAKE on data seen as
// [positions, rest...].
void lower_gather_nd(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& ind = need_input(b, 1);
    const auto bd = static_cast<size_t>(b.attr_int("batch_dims", 0));
    if (ind.shape.empty())
        b.unsupported("GatherND indices of rank 0");
    const auto k = static_cast<size_t>(ind.shape.back());
    if (bd + k > x.shape.size() || bd >= ind.shape.size())
        b.unsupported("GatherND shapes");
    std::vector<int64_t> yshape(ind.shape.begin(), ind.shape.end() - 1);
    yshape.insert(yshape.end(), x.shape.begin() + static_cast<long>(bd + k), x.shape.end());
    int y = b.define_output(0, x.dtype, yshape);
    if (product(yshape) == 0)
        return;
    const int64_t p = product(ind.shape, 0, ind.shape.size() - 1);
    const auto kk = static_cast<int64_t>(k);
    // wrapped[p, j] = idx[p, j] mod dim j
    std::vector<int64_t> dims(x.shape.begin() + static_cast<long>(bd),
                              x.shape.begin() + static_cast<long>(bd + k));
    std::vector<int64_t> strides(k);
    int64_t acc = 1;
    for (size_t j = k; j-- > 0;) {
        strides[j] = acc;
        acc *= dims[j];
    }
    int dc = b.device_constant(HostTensor::from_int64(DType::i64, {kk}, dims));
    int sc = b.device_constant(HostTensor::from_int64(DType::i64, {kk, 1}, strides));
    Operand idx = input_as(b, 1, DType::i64);
    idx.desc = TensorDesc::contiguous(DType::i64, {p, kk});
    int wrapped = b.temporary(DType::i64, {p, kk});
    emit_binary(b, NPU_BIN_MOD, idx, broadcast_to(b.whole(dc), {p, kk}), b.whole(wrapped));
    int flat = b.temporary(DType::i64, {p, 1});
    b.emit(OpDesc::gemm(), {b.whole(wrapped), b.whole(sc), Operand{}, b.whole(flat)});
    Operand pos = b.whole(flat);
    if (bd > 0) {
        const int64_t nb = product(ind.shape, 0, bd), per = p / nb;
        std::vector<int64_t> off(static_cast<size_t>(nb));
        for (int64_t i = 0; i < nb; ++i)
            off[static_cast<size_t>(i)] = i * acc;
        int oc = b.device_constant(HostTensor::from_int64(DType::i64, {nb, 1}, off));
        int withb = b.temporary(DType::i64, {nb, per});
        emit_binary(b, NPU_BIN_ADD, reshaped(b, flat, {nb, per}),
                    broadcast_to(b.whole(oc), {nb, per}), b.whole(withb));
        pos = b.whole(withb);
    }
    pos.desc = TensorDesc::contiguous(DType::i64, {p});
    std::vector<int64_t> xv{product(x.shape, 0, bd + k)};
    xv.insert(xv.end(), x.shape.begin() + static_cast<long>(bd + k), x.shape.end());
    std::vector<int64_t> yv{p};
    yv.insert(yv.end(), x.shape.begin() + static_cast<long>(bd + k), x.shape.end());
    b.emit(OpDesc::gather(NPU_GATHER_TAKE, 0),
           {reshaped(b, b.input_id(0), xv), pos, reshaped(b, y, yv)});
}

// ReverseSequence(x, sequence_lens): along time_axis, the first len[b]
// steps of each batch entry reversed: a GatherElements whose indices
// (t < len ? len - 1 - t : t) are computed on the device.
void lower_reverse_sequence(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    need_input(b, 1);
    if (x.shape.size() < 2)
        b.unsupported("ReverseSequence of rank < 2");
    const auto ba = static_cast<size_t>(b.attr_int("batch_axis", 1));
    const auto ta = static_cast<size_t>(b.attr_int("time_axis", 0));
    if (ba > 1 || ta > 1 || ba == ta)
        b.unsupported("batch_axis/time_axis");
    const int64_t nb = x.shape[ba], nt = x.shape[ta];
    // [B, T] in (batch, time) order, then seen in x's order.
    std::vector<int64_t> bt{nb, nt};
    std::vector<int64_t> pos(static_cast<size_t>(nt));
    std::iota(pos.begin(), pos.end(), 0);
    int iota = b.device_constant(HostTensor::from_int64(DType::i64, {nt}, pos));
    Operand t = broadcast_to(b.whole(iota), bt);
    Operand len = input_as(b, 1, DType::i64);
    len.desc = TensorDesc::strided(DType::i64, bt, {1, 0});
    int lm1 = b.temporary(DType::i64, bt), rev = b.temporary(DType::i64, bt),
        cond = b.temporary(DType::boolean, bt), idx = b.temporary(DType::i64, bt);
    int one = scalar_constant(b, DType::i64, 1);
    emit_binary(b, NPU_BIN_SUB, len, broadcast_to(b.whole(one), bt), b.whole(lm1));
    emit_binary(b, NPU_BIN_SUB, b.whole(lm1), t, b.whole(rev));
    emit_binary(b, NPU_BIN_LESS, t, len, b.whole(cond));
    b.emit(OpDesc::binary(NPU_BIN_SELECT), {b.whole(rev), t, b.whole(cond), b.whole(idx)});
    // idx seen with x's shape: strides for (batch, time), 0 elsewhere.
    std::vector<int64_t> st(x.shape.size(), 0);
    st[ba] = nt;
    st[ta] = 1;
    int y = b.define_output(0, x.dtype, x.shape);
    b.emit(OpDesc::gather(NPU_GATHER_ELEMENTS, static_cast<uint32_t>(ta)),
           {b.whole(b.input_id(0)), view(b, idx, x.shape, st), b.whole(y)});
}

// Scatter along axis without a scatter packet: one-hot matching. With
// data [Ds], indices and updates [Is] (Is <= Ds outside axis, J = Ds[axis]):
// E[.., i, j, ..] = (indices[.., i, ..] mod J == j) over Is with J
// inserted after axis; per output position the matched updates are
// summed (none, add) or multiplied (mul) over i, and where nothing matched
// data is kept. y = data outside the block Is (axis extent J).
void scatter_core(Builder& b, const Operand& data, const Operand& idx, const Operand& upd,
                  size_t axis, const std::string& reduction, const Operand& yo) {
    const DType dt = data.desc.dtype;
    const auto& ds = data.desc.shape;
    const auto& is = idx.desc.shape;
    const int64_t J = ds[axis];
    auto es = is;
    es.insert(es.begin() + static_cast<long>(axis) + 1, J);
    auto rs = is; // the block of y written
    rs[axis] = J;
    auto ks = es; // es reduced over i
    ks[axis] = 1;
    // wrapped indices
    int wrapped = b.temporary(DType::i64, is);
    int jc = scalar_constant(b, DType::i64, static_cast<double>(J));
    emit_binary(b, NPU_BIN_MOD, idx, broadcast_to(b.whole(jc), is), b.whole(wrapped));
    auto with_j = [&](Operand o) { // [Is] seen as [Es], stride 0 along j
        auto st = strides_of(o);
        st.insert(st.begin() + static_cast<long>(axis) + 1, 0);
        o.desc = TensorDesc::strided(o.desc.dtype, es, st);
        return o;
    };
    std::vector<int64_t> pos(static_cast<size_t>(J));
    std::iota(pos.begin(), pos.end(), 0);
    int iota = b.device_constant(HostTensor::from_int64(DType::i64, {J}, pos));
    std::vector<int64_t> ist(es.size(), 0);
    ist[axis + 1] = 1;
    int e = b.temporary(DType::boolean, es);
    emit_binary(b, NPU_BIN_EQUAL, with_j(b.whole(wrapped)), view(b, iota, es, ist), b.whole(e));
    // y = data, then the block
    emit_copy(b, data, yo);
    Operand dsub = data;
    dsub.desc = TensorDesc::strided(dt, rs, strides_of(data));
    Operand ysub = yo;
    ysub.desc = TensorDesc::strided(dt, rs, strides_of(yo));
    int comb = b.temporary(dt, ks);
    Operand comb_r = reshaped(b, comb, rs);
    if (reduction == "mul") {
        int one = scalar_constant(b, dt, 1);
        int q = b.temporary(dt, es);
        b.emit(OpDesc::binary(NPU_BIN_SELECT),
               {with_j(upd), broadcast_to(b.whole(one), es), b.whole(e), b.whole(q)});
        b.emit(OpDesc::reduce(NPU_RED_PROD, uint64_t{1} << axis), {b.whole(q), b.whole(comb)});
        emit_binary(b, NPU_BIN_MUL, dsub, comb_r, ysub);
        return;
    }
    int zero = scalar_constant(b, dt, 0), prod = b.temporary(dt, es);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {with_j(upd), broadcast_to(b.whole(zero), es), b.whole(e), b.whole(prod)});
    b.emit(OpDesc::reduce(NPU_RED_SUM, uint64_t{1} << axis), {b.whole(prod), b.whole(comb)});
    if (reduction == "add") {
        emit_binary(b, NPU_BIN_ADD, dsub, comb_r, ysub);
        return;
    }
    int any = b.temporary(DType::boolean, ks);
    b.emit(OpDesc::reduce(NPU_RED_MAX, uint64_t{1} << axis), {b.whole(e), b.whole(any)});
    b.emit(OpDesc::binary(NPU_BIN_SELECT), {comb_r, dsub, reshaped(b, any, rs), ysub});
}

std::string scatter_reduction(const Builder& b) {
    std::string r = b.attr_string("reduction", "none");
    if (r != "none" && r != "add" && r != "mul")
        b.unsupported("scatter reduction " + r);
    return r;
}

void lower_scatter_elements(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& ind = need_input(b, 1);
    need_input(b, 2);
    if (x.dtype == DType::boolean || ind.shape.size() != x.shape.size())
        b.unsupported("ScatterElements dtype or ranks");
    const auto axis = static_cast<size_t>(
        norm_axis(b, b.attr_int("axis", 0), static_cast<int64_t>(x.shape.size())));
    int y = b.define_output(0, x.dtype, x.shape);
    scatter_core(b, b.whole(b.input_id(0)), input_as(b, 1, DType::i64), input_as(b, 2, x.dtype),
                 axis, scatter_reduction(b), b.whole(y));
}

// ScatterND: index tuples become flat positions (as in GatherND); data
// seen as [positions, rest], the scatter runs along its axis 0.
void lower_scatter_nd(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& ind = need_input(b, 1);
    need_input(b, 2);
    if (x.dtype == DType::boolean || ind.shape.empty())
        b.unsupported("ScatterND dtype or ranks");
    const auto k = static_cast<size_t>(ind.shape.back());
    if (k > x.shape.size())
        b.unsupported("ScatterND index tuples longer than data's rank");
    const int64_t p = product(ind.shape, 0, ind.shape.size() - 1), kk = static_cast<int64_t>(k);
    const int64_t m = product(x.shape, 0, k), r = product(x.shape, k);
    int y = b.define_output(0, x.dtype, x.shape);
    std::vector<int64_t> dims(x.shape.begin(), x.shape.begin() + static_cast<long>(k));
    std::vector<int64_t> strides(k);
    int64_t acc = 1;
    for (size_t j = k; j-- > 0;) {
        strides[j] = acc;
        acc *= dims[j];
    }
    int dc = b.device_constant(HostTensor::from_int64(DType::i64, {kk}, dims));
    int sc = b.device_constant(HostTensor::from_int64(DType::i64, {kk, 1}, strides));
    Operand idx = input_as(b, 1, DType::i64);
    idx.desc = TensorDesc::contiguous(DType::i64, {p, kk});
    int wrapped = b.temporary(DType::i64, {p, kk});
    emit_binary(b, NPU_BIN_MOD, idx, broadcast_to(b.whole(dc), {p, kk}), b.whole(wrapped));
    int flat = b.temporary(DType::i64, {p, 1});
    b.emit(OpDesc::gemm(), {b.whole(wrapped), b.whole(sc), Operand{}, b.whole(flat)});
    Operand upd = input_as(b, 2, x.dtype);
    upd.desc = TensorDesc::contiguous(x.dtype, {p, r});
    Operand data = b.whole(b.input_id(0));
    data.desc = TensorDesc::contiguous(x.dtype, {m, r});
    scatter_core(b, data, view(b, flat, {p, r}, {1, 0}), upd, 0, scatter_reduction(b),
                 reshaped(b, y, {m, r}));
}

// Compress(input, condition) with the condition known while planning: a
// GATHER of the selected positions (input flattened when axis is absent).
void lower_compress(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    auto cond = const_ints(b, 1, "condition");
    std::vector<int64_t> xs = x.shape;
    size_t axis = 0;
    if (b.has_attr("axis"))
        axis = static_cast<size_t>(
            norm_axis(b, b.attr_int("axis", 0), static_cast<int64_t>(xs.size())));
    else
        xs = {product(x.shape)};
    std::vector<int64_t> idx;
    for (size_t i = 0; i < cond.size() && static_cast<int64_t>(i) < xs[axis]; ++i)
        if (cond[i])
            idx.push_back(static_cast<int64_t>(i));
    auto yshape = xs;
    yshape[axis] = static_cast<int64_t>(idx.size());
    int y = b.define_output(0, x.dtype, yshape);
    if (product(yshape) == 0)
        return;
    int ic = b.device_constant(
        HostTensor::from_int64(DType::i64, {static_cast<int64_t>(idx.size())}, idx));
    b.emit(OpDesc::gather(NPU_GATHER_TAKE, static_cast<uint32_t>(axis)),
           {reshaped(b, b.input_id(0), xs), b.whole(ic), b.whole(y)});
}

// MaxUnpool(x, indices, [output_shape]): zeros with x scattered to the
// flat positions in indices (MaxPool's, over the whole output).
void lower_max_unpool(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    need_input(b, 1);
    if (x.shape.size() < 3)
        b.unsupported("MaxUnpool of rank < 3");
    const size_t s = x.shape.size() - 2;
    // The indices address the inferred shape; a given output_shape is
    // that, zero-padded at the end.
    auto k = b.attr_ints("kernel_shape", {}), st = b.attr_ints("strides", {}),
         pads = b.attr_ints("pads", {});
    if (k.size() != s)
        b.unsupported("kernel_shape");
    st.resize(s, 1);
    pads.resize(2 * s, 0);
    std::vector<int64_t> inferred{x.shape[0], x.shape[1]};
    for (size_t i = 0; i < s; ++i)
        inferred.push_back((x.shape[2 + i] - 1) * st[i] + k[i] - pads[i] - pads[s + i]);
    std::vector<int64_t> out = inferred;
    if (b.input_count() > 2 && b.has_input(2))
        out = const_ints(b, 2, "output_shape");
    if (out.size() != inferred.size())
        b.unsupported("output_shape's length");
    for (size_t i = 0; i < out.size(); ++i)
        if (out[i] < inferred[i])
            b.unsupported("output_shape smaller than the unpooled shape");
    int y = b.define_output(0, x.dtype, out);
    const int64_t total = product(inferred), p = product(x.shape);
    if (product(out) == 0)
        return;
    const bool padded = out != inferred;
    int dst = padded ? b.temporary(x.dtype, inferred) : y;
    int zeros = b.device_constant(HostTensor::from_double(
        x.dtype, {total}, std::vector<double>(static_cast<size_t>(total), 0.0)));
    Operand idx = input_as(b, 1, DType::i64);
    idx.desc = TensorDesc::contiguous(DType::i64, {p});
    scatter_core(b, b.whole(zeros), idx, reshaped(b, b.input_id(0), {p}), 0, "none",
                 reshaped(b, dst, {total}));
    if (padded) {
        OpDesc op = OpDesc::tensor_copy(NPU_COPY_PAD_CONSTANT);
        op.copy_offset.assign(out.size(), 0);
        b.emit(op, {b.whole(dst), b.whole(y)});
    }
}

} // namespace

void register_tensor_ops() {
    add_lowering("Transpose", lower_transpose);
    add_lowering("Concat", lower_concat);
    add_lowering("Split", lower_split);
    add_lowering("Slice", lower_slice);
    add_lowering("Expand", lower_expand);
    add_lowering("Tile", lower_tile);
    add_lowering("DepthToSpace", lower_depth_to_space);
    add_lowering("SpaceToDepth", lower_space_to_depth);
    add_lowering("Pad", lower_pad);
    add_lowering("Gather", lower_gather);
    add_lowering("GatherElements", lower_gather_elements);
    add_lowering("Cast", lower_cast);
    add_lowering("CastLike", lower_cast);
    add_lowering("Trilu", lower_trilu);
    add_lowering("OneHot", lower_onehot);
    add_lowering("EyeLike", lower_eyelike);
    add_lowering("GatherND", lower_gather_nd);
    add_lowering("ReverseSequence", lower_reverse_sequence);
    add_lowering("ScatterElements", lower_scatter_elements);
    add_lowering("Scatter", lower_scatter_elements);
    add_lowering("ScatterND", lower_scatter_nd);
    add_lowering("Compress", lower_compress);
    add_lowering("MaxUnpool", lower_max_unpool);
}

} // namespace npu_onnx
