// Lowerings: reductions (ReduceSum ... ReduceLogSumExp, ArgMax/ArgMin),
// Softmax/LogSoftmax/Hardmax (opset < 13: the flattened trailing axes;
// >= 13: one axis), BatchNormalization (inference), InstanceNormalization,
// LayerNormalization (with its Mean and InvStdDev outputs),
// MeanVarianceNormalization, LpNormalization and LRN.
#include <cmath>
#include <numeric>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

// x's shape with extent 1 in the reduced axes.
std::vector<int64_t> kept_shape(const std::vector<int64_t>& x, uint64_t mask) {
    auto s = x;
    for (size_t i = 0; i < s.size(); ++i)
        if (mask >> i & 1)
            s[i] = 1;
    return s;
}

std::vector<int64_t> dropped_shape(const std::vector<int64_t>& x, uint64_t mask) {
    std::vector<int64_t> s;
    for (size_t i = 0; i < x.size(); ++i)
        if (!(mask >> i & 1))
            s.push_back(x[i]);
    return s;
}

struct ReduceSpec {
    const char* op;
    uint32_t fn;
};

const ReduceSpec reduce_specs[] = {
    {"ReduceSum", NPU_RED_SUM},        {"ReduceMean", NPU_RED_MEAN},
    {"ReduceMax", NPU_RED_MAX},        {"ReduceMin", NPU_RED_MIN},
    {"ReduceProd", NPU_RED_PROD},      {"ReduceSumSquare", NPU_RED_SUM_SQUARE},
    {"ReduceL1", NPU_RED_L1},          {"ReduceL2", NPU_RED_L2},
    {"ReduceLogSum", NPU_RED_LOG_SUM}, {"ReduceLogSumExp", NPU_RED_LOG_SUM_EXP},
};

void lower_reduce(Builder& b) {
    const std::string& type = b.node().op_type();
    uint32_t fn = 0;
    for (const auto& s : reduce_specs)
        if (type == s.op)
            fn = s.fn;
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> axes = ints_attr_or_input(b, "axes", 1, {});
    bool keep = b.attr_int("keepdims", 1) != 0;
    if (axes.empty() && b.attr_int("noop_with_empty_axes", 0) != 0) {
        int y = b.define_output(0, x.dtype, x.shape);
        emit_copy(b, b.whole(b.input_id(0)), b.whole(y));
        return;
    }
    if (axes.empty()) {
        axes.resize(static_cast<size_t>(rank));
        std::iota(axes.begin(), axes.end(), 0);
    }
    for (auto& a : axes)
        a = norm_axis(b, a, rank);
    uint64_t mask = axes_mask(axes);
    auto yshape = keep ? kept_shape(x.shape, mask) : dropped_shape(x.shape, mask);
    int y = b.define_output(0, x.dtype, yshape);
    if (rank == 0) {
        // A scalar reduces to fn of itself: no axes.
        b.emit(OpDesc::reduce(fn, 0), {b.whole(b.input_id(0)), b.whole(y)});
        return;
    }
    b.emit(OpDesc::reduce(fn, mask),
           {b.whole(b.input_id(0)), reshaped(b, y, kept_shape(x.shape, mask))});
}

void lower_arg(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = norm_axis(b, b.attr_int("axis", 0), rank);
    bool keep = b.attr_int("keepdims", 1) != 0;
    uint64_t mask = uint64_t{1} << axis;
    int y = b.define_output(0, DType::i64,
                            keep ? kept_shape(x.shape, mask) : dropped_shape(x.shape, mask));
    OpDesc op =
        OpDesc::reduce(b.node().op_type() == "ArgMax" ? NPU_RED_ARGMAX : NPU_RED_ARGMIN, mask);
    if (b.attr_int("select_last_index", 0) != 0)
        op.flags = NPU_RED_SELECT_LAST;
    b.emit(op, {b.whole(b.input_id(0)), reshaped(b, y, kept_shape(x.shape, mask))});
}

// The axes a softmax-like op normalises over.
uint64_t softmax_mask(const Builder& b, int64_t rank) {
    if (b.opset() < 13) {
        int64_t axis = norm_axis(b, b.attr_int("axis", 1), rank);
        uint64_t m = 0;
        for (int64_t i = axis; i < rank; ++i)
            m |= uint64_t{1} << i;
        return m;
    }
    return uint64_t{1} << norm_axis(b, b.attr_int("axis", -1), rank);
}

void lower_softmax(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    if (rank == 0)
        b.unsupported("softmax of a scalar");
    uint64_t mask = softmax_mask(b, rank);
    int y = b.define_output(0, x.dtype, x.shape);
    uint32_t fn = b.node().op_type() == "Softmax" ? NPU_NORM_SOFTMAX : NPU_NORM_LOG_SOFTMAX;
    b.emit(OpDesc::norm(fn, mask),
           {b.whole(b.input_id(0)), Operand{}, Operand{}, Operand{}, Operand{}, b.whole(y)});
}

// Hardmax: argmax over the (flattened) axis, compared with the positions
// along it, cast to x's dtype.
void lower_hardmax(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    if (rank == 0)
        b.unsupported("hardmax of a scalar");
    std::vector<int64_t> vshape; // x seen as [outer, len, inner]
    int64_t axis;
    if (b.opset() < 13) {
        axis = norm_axis(b, b.attr_int("axis", 1), rank);
        vshape = {product(x.shape, 0, static_cast<size_t>(axis)),
                  product(x.shape, static_cast<size_t>(axis)), 1};
    } else {
        axis = norm_axis(b, b.attr_int("axis", -1), rank);
        vshape = {product(x.shape, 0, static_cast<size_t>(axis)),
                  x.shape[static_cast<size_t>(axis)],
                  product(x.shape, static_cast<size_t>(axis) + 1)};
    }
    int y = b.define_output(0, x.dtype, x.shape);
    int arg = b.temporary(DType::i64, {vshape[0], 1, vshape[2]});
    b.emit(OpDesc::reduce(NPU_RED_ARGMAX, 2), {reshaped(b, b.input_id(0), vshape), b.whole(arg)});
    std::vector<int64_t> pos(static_cast<size_t>(vshape[1]));
    std::iota(pos.begin(), pos.end(), 0);
    int iota = b.device_constant(HostTensor::from_int64(DType::i64, {vshape[1], 1}, pos));
    int eq = b.temporary(DType::boolean, vshape);
    emit_binary(b, NPU_BIN_EQUAL, broadcast_to(b.whole(arg), vshape),
                broadcast_to(b.whole(iota), vshape), b.whole(eq));
    b.emit(OpDesc::cast(), {b.whole(eq), reshaped(b, y, vshape)});
}

// A per-channel [C] (or [C, spatial...]) tensor broadcast to x's shape.
Operand channel_view(Builder& b, size_t i, const std::vector<int64_t>& xshape, DType dt) {
    const ValueInfo& v = need_input(b, i);
    Operand o = is_float(v.dtype) ? b.whole(b.input_id(i)) : input_as(b, i, dt);
    if (xshape.size() < 2)
        return broadcast_to(o, xshape);
    std::vector<int64_t> target(xshape.begin() + 1, xshape.end());
    std::vector<int64_t> s = v.shape;
    // [C] against [N, C, d...]: C aligned with dimension 1.
    s.resize(target.size(), 1);
    o.desc = TensorDesc::strided(o.desc.dtype, s, contiguous_strides(s));
    Operand r = broadcast_to(o, target);
    auto st = strides_of(r);
    st.insert(st.begin(), 0);
    r.desc = TensorDesc::strided(r.desc.dtype, xshape, st);
    return r;
}

// BatchNormalization in training mode (opset 14+): normalised with the
// batch's statistics (biased variance), running_mean and running_var
// outputs = input * momentum + batch statistic * (1 - momentum).
void batchnorm_training(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 2 || !is_float(x.dtype))
        b.unsupported("BatchNormalization training shapes");
    const DType f = x.dtype;
    uint64_t mask = 0;
    for (size_t i = 0; i < x.shape.size(); ++i)
        if (i != 1)
            mask |= uint64_t{1} << i;
    const float eps = b.attr_float("epsilon", 1e-5f), mom = b.attr_float("momentum", 0.9f);
    int y = b.define_output(0, f, x.shape);
    b.emit(OpDesc::norm(NPU_NORM_NORMALIZE, mask, eps),
           {b.whole(b.input_id(0)), channel_view(b, 1, x.shape, f), channel_view(b, 2, x.shape, f),
            Operand{}, Operand{}, b.whole(y)});
    const bool want_mean = b.output_count() > 1 && b.has_output(1);
    const bool want_var = b.output_count() > 2 && b.has_output(2);
    if (!want_mean && !want_var)
        return;
    const int64_t c = x.shape[1];
    auto kshape = kept_shape(x.shape, mask);
    const std::vector<int64_t> cs{c};
    int mean = b.temporary(f, kshape);
    Operand xin = b.whole(b.input_id(0));
    b.emit(OpDesc::reduce(NPU_RED_MEAN, mask), {xin, b.whole(mean)});
    auto scalar = [&](double v) { return broadcast_to(b.whole(scalar_constant(b, f, v)), cs); };
    // running = input * momentum + stat * (1 - momentum)
    auto running = [&](size_t in, const Operand& stat, size_t outi) {
        int a = b.temporary(f, cs), s2 = b.temporary(f, cs);
        emit_binary(b, NPU_BIN_MUL, input_as(b, in, f), scalar(mom), b.whole(a));
        emit_binary(b, NPU_BIN_MUL, stat, scalar(1.0 - static_cast<double>(mom)), b.whole(s2));
        int o = b.define_output(outi, f, cs);
        emit_binary(b, NPU_BIN_ADD, b.whole(a), b.whole(s2), b.whole(o));
    };
    if (want_mean)
        running(3, reshaped(b, mean, cs), 1);
    if (want_var) {
        int diff = b.temporary(f, x.shape), ss = b.temporary(f, kshape), var = b.temporary(f, cs);
        emit_binary(b, NPU_BIN_SUB, xin, broadcast_to(b.whole(mean), x.shape), b.whole(diff));
        b.emit(OpDesc::reduce(NPU_RED_SUM_SQUARE, mask), {b.whole(diff), b.whole(ss)});
        emit_binary(b, NPU_BIN_DIV, reshaped(b, ss, cs),
                    scalar(static_cast<double>(product(x.shape) / c)), b.whole(var));
        running(4, b.whole(var), 2);
    }
}

void lower_batchnorm(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (b.attr_int("training_mode", 0) != 0) {
        batchnorm_training(b);
        return;
    }
    for (size_t i = 1; i < b.output_count(); ++i)
        if (b.has_output(i))
            b.unsupported("BatchNormalization's running statistics outputs");
    int y = b.define_output(0, x.dtype, x.shape);
    OpDesc op = OpDesc::norm(NPU_NORM_BATCH, 0, b.attr_float("epsilon", 1e-5f));
    b.emit(op, {b.whole(b.input_id(0)), channel_view(b, 1, x.shape, x.dtype),
                channel_view(b, 2, x.shape, x.dtype), channel_view(b, 3, x.shape, x.dtype),
                channel_view(b, 4, x.shape, x.dtype), b.whole(y)});
}

void lower_instancenorm(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 3)
        b.unsupported("InstanceNormalization of rank < 3");
    uint64_t mask = 0;
    for (size_t i = 2; i < x.shape.size(); ++i)
        mask |= uint64_t{1} << i;
    int y = b.define_output(0, x.dtype, x.shape);
    b.emit(OpDesc::norm(NPU_NORM_NORMALIZE, mask, b.attr_float("epsilon", 1e-5f)),
           {b.whole(b.input_id(0)), channel_view(b, 1, x.shape, x.dtype),
            channel_view(b, 2, x.shape, x.dtype), Operand{}, Operand{}, b.whole(y)});
}

void lower_mvn(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    auto axes = b.attr_ints("axes", {0, 2, 3});
    for (auto& a : axes)
        a = norm_axis(b, a, rank);
    int y = b.define_output(0, x.dtype, x.shape);
    b.emit(OpDesc::norm(NPU_NORM_NORMALIZE, axes_mask(axes), 1e-9f),
           {b.whole(b.input_id(0)), Operand{}, Operand{}, Operand{}, Operand{}, b.whole(y)});
}

void lower_layernorm(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = norm_axis(b, b.attr_int("axis", -1), rank);
    float eps = b.attr_float("epsilon", 1e-5f);
    uint64_t mask = 0;
    for (int64_t i = axis; i < rank; ++i)
        mask |= uint64_t{1} << i;
    int y = b.define_output(0, x.dtype, x.shape);
    Operand scale = broadcast_to(input_as(b, 1, x.dtype), x.shape);
    Operand bias;
    if (b.input_count() > 2 && b.has_input(2))
        bias = broadcast_to(input_as(b, 2, x.dtype), x.shape);
    b.emit(OpDesc::norm(NPU_NORM_NORMALIZE, mask, eps),
           {b.whole(b.input_id(0)), scale, bias, Operand{}, Operand{}, b.whole(y)});
    bool want_mean = b.output_count() > 1 && b.has_output(1);
    bool want_inv = b.output_count() > 2 && b.has_output(2);
    if (!want_mean && !want_inv)
        return;
    // Mean and 1/sqrt(var + epsilon) over the normalised axes, in x's dtype
    // (stash_type f32 for f32 inputs).
    if (x.dtype != DType::f32)
        b.unsupported("LayerNormalization statistics outputs for non-f32 x");
    auto kshape = kept_shape(x.shape, mask);
    int mean = want_mean ? b.define_output(1, DType::f32, kshape) : b.temporary(DType::f32, kshape);
    Operand xin = b.whole(b.input_id(0));
    b.emit(OpDesc::reduce(NPU_RED_MEAN, mask), {xin, b.whole(mean)});
    if (!want_inv)
        return;
    int diff = b.temporary(DType::f32, x.shape);
    emit_binary(b, NPU_BIN_SUB, xin, broadcast_to(b.whole(mean), x.shape), b.whole(diff));
    int var = b.temporary(DType::f32, kshape);
    OpDesc sq = OpDesc::reduce(NPU_RED_SUM_SQUARE, mask);
    b.emit(sq, {b.whole(diff), b.whole(var)});
    int var2 = b.temporary(DType::f32, kshape);
    double n = static_cast<double>(product(x.shape, static_cast<size_t>(axis)));
    emit_binary(b, NPU_BIN_DIV, b.whole(var),
                broadcast_to(b.whole(scalar_constant(b, DType::f32, n)), kshape), b.whole(var2));
    int var3 = b.temporary(DType::f32, kshape);
    emit_binary(b, NPU_BIN_ADD, b.whole(var2),
                broadcast_to(b.whole(scalar_constant(b, DType::f32, eps)), kshape), b.whole(var3));
    int inv = b.define_output(2, DType::f32, kshape);
    emit_unary(b, NPU_FN_RSQRT, b.whole(var3), b.whole(inv));
}

void lower_lpnorm(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = norm_axis(b, b.attr_int("axis", -1), rank);
    int64_t p = b.attr_int("p", 2);
    if (p != 1 && p != 2)
        b.unsupported("LpNormalization p=" + std::to_string(p));
    uint64_t mask = uint64_t{1} << axis;
    auto kshape = kept_shape(x.shape, mask);
    int nrm = b.temporary(x.dtype, kshape);
    b.emit(OpDesc::reduce(p == 1 ? NPU_RED_L1 : NPU_RED_L2, mask),
           {b.whole(b.input_id(0)), b.whole(nrm)});
    int y = b.define_output(0, x.dtype, x.shape);
    emit_binary(b, NPU_BIN_DIV, b.whole(b.input_id(0)), broadcast_to(b.whole(nrm), x.shape),
                b.whole(y));
}

// LRN: y = x / (bias + alpha/size * sum of x^2 over a window of channels)^beta;
// the windowed sum is an AVG_PAD pool over the channel dimension.
void lower_lrn(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 3 || !is_float(x.dtype))
        b.unsupported("LRN of rank < 3 or non-float x");
    int64_t size = b.attr_int("size", 1);
    float alpha = b.attr_float("alpha", 1e-4f), beta = b.attr_float("beta", 0.75f),
          bias = b.attr_float("bias", 1.0f);
    std::vector<int64_t> v{x.shape[0], 1, x.shape[1], product(x.shape, 2)};
    int sq = b.temporary(x.dtype, x.shape);
    Operand xin = b.whole(b.input_id(0));
    emit_binary(b, NPU_BIN_MUL, xin, xin, b.whole(sq));
    int avg = b.temporary(x.dtype, x.shape);
    OpDesc pool = OpDesc::pool(NPU_POOL_AVG_PAD, {static_cast<uint32_t>(size), 1, 0});
    pool.pad_begin[0] = static_cast<uint32_t>((size - 1) / 2);
    pool.pad_end[0] = static_cast<uint32_t>(size - 1 - (size - 1) / 2);
    b.emit(pool, {reshaped(b, sq, v), reshaped(b, avg, v), Operand{}});
    // avg = sum / size; t = bias + alpha * avg
    int t1 = b.temporary(x.dtype, x.shape);
    emit_binary(b, NPU_BIN_MUL, b.whole(avg),
                broadcast_to(b.whole(scalar_constant(b, x.dtype, alpha)), x.shape), b.whole(t1));
    int t2 = b.temporary(x.dtype, x.shape);
    emit_binary(b, NPU_BIN_ADD, b.whole(t1),
                broadcast_to(b.whole(scalar_constant(b, x.dtype, bias)), x.shape), b.whole(t2));
    int t3 = b.temporary(x.dtype, x.shape);
    emit_binary(b, NPU_BIN_POW, b.whole(t2),
                broadcast_to(b.whole(scalar_constant(b, x.dtype, beta)), x.shape), b.whole(t3));
    int y = b.define_output(0, x.dtype, x.shape);
    emit_binary(b, NPU_BIN_DIV, xin, b.whole(t3), b.whole(y));
}

// NegativeLogLikelihoodLoss on log-probabilities lp ([N, C, d...] view of
// value lp_id), target input ti ([N, d...]), optional weight input wi ([C]):
// loss = -lp[n, t, d] * w[t] (0 where t == ignore_index), reduced by
// "none", "sum" or "mean" (sum / sum of the weights used).
void nll_common(Builder& b, int lp_id, DType dt, const std::vector<int64_t>& xshape, size_t ti,
                size_t wi) {
    const ValueInfo& t = need_input(b, ti);
    if (xshape.size() < 2 || t.shape.size() + 1 != xshape.size())
        b.unsupported("loss shapes");
    std::string reduction = b.attr_string("reduction", "mean");
    if (reduction != "none" && reduction != "sum" && reduction != "mean")
        b.unsupported("reduction " + reduction);
    const bool has_ii = b.has_attr("ignore_index");
    const bool has_w = wi < b.input_count() && b.has_input(wi);
    // Positions [N, d...] flattened to [N, D], classes [N, C, D]: the
    // packets take at most six dimensions and the values are contiguous.
    const std::vector<int64_t> ts{t.shape[0], product(t.shape, 1)};
    const std::vector<int64_t> xs{xshape[0], xshape[1], product(xshape, 2)};
    Operand target = input_as(b, ti, DType::i64);
    target.desc = TensorDesc::contiguous(DType::i64, ts);
    Operand mask; // target == ignore_index
    if (has_ii) {
        int m = b.temporary(DType::boolean, ts);
        int ii = scalar_constant(b, DType::i64, static_cast<double>(b.attr_int("ignore_index", 0)));
        emit_binary(b, NPU_BIN_EQUAL, target, broadcast_to(b.whole(ii), ts), b.whole(m));
        mask = b.whole(m);
        int safe = b.temporary(DType::i64, ts);
        int zero = scalar_constant(b, DType::i64, 0);
        b.emit(OpDesc::binary(NPU_BIN_SELECT),
               {broadcast_to(b.whole(zero), ts), target, mask, b.whole(safe)});
        target = b.whole(safe);
    }
    // g[n, d] = lp[n, t[n, d], d]
    auto ishape = ts;
    ishape.insert(ishape.begin() + 1, 1);
    int g = b.temporary(dt, ts);
    Operand tv = target;
    tv.desc = TensorDesc::strided(DType::i64, ishape, contiguous_strides(ishape));
    b.emit(OpDesc::gather(NPU_GATHER_ELEMENTS, 1),
           {reshaped(b, lp_id, xs), tv, reshaped(b, g, ishape)});
    // the weight of each position
    Operand w;
    if (has_w) {
        int wt = b.temporary(dt, ts);
        b.emit(OpDesc::gather(NPU_GATHER_TAKE, 0), {input_as(b, wi, dt), target, b.whole(wt)});
        w = b.whole(wt);
    }
    if (has_ii) {
        int wz = b.temporary(dt, ts);
        int zero = scalar_constant(b, dt, 0);
        Operand other = has_w ? w : broadcast_to(b.whole(scalar_constant(b, dt, 1)), ts);
        b.emit(OpDesc::binary(NPU_BIN_SELECT),
               {broadcast_to(b.whole(zero), ts), other, mask, b.whole(wz)});
        w = b.whole(wz);
    }
    Operand gw = b.whole(g);
    if (w.value >= 0) {
        int p = b.temporary(dt, ts);
        emit_binary(b, NPU_BIN_MUL, gw, w, b.whole(p));
        gw = b.whole(p);
    }
    if (reduction == "none") {
        int y = b.define_output(0, dt, t.shape);
        emit_unary(b, NPU_FN_NEG, gw, reshaped(b, y, ts));
        return;
    }
    std::vector<int64_t> ones(ts.size(), 1);
    uint64_t all = (uint64_t{1} << ts.size()) - 1;
    int y = b.define_output(0, dt, {});
    if (reduction == "mean" && w.value < 0) {
        int m = b.temporary(dt, ones);
        b.emit(OpDesc::reduce(NPU_RED_MEAN, all), {gw, b.whole(m)});
        emit_unary(b, NPU_FN_NEG, b.whole(m), reshaped(b, y, ones));
        return;
    }
    int s = b.temporary(dt, ones);
    b.emit(OpDesc::reduce(NPU_RED_SUM, all), {gw, b.whole(s)});
    Operand num = b.whole(s);
    if (reduction == "mean") {
        int ws = b.temporary(dt, ones);
        b.emit(OpDesc::reduce(NPU_RED_SUM, all), {w, b.whole(ws)});
        int q = b.temporary(dt, ones);
        emit_binary(b, NPU_BIN_DIV, num, b.whole(ws), b.whole(q));
        num = b.whole(q);
    }
    emit_unary(b, NPU_FN_NEG, num, reshaped(b, y, ones));
}

void lower_nll(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    nll_common(b, b.input_id(0), x.dtype, x.shape, 1, 2);
}

// SoftmaxCrossEntropyLoss: log-softmax over the class axis (output 1 when
// asked for), then the NLL loss of it.
void lower_sce(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.shape.size() < 2)
        b.unsupported("scores of rank < 2");
    int lp = b.output_count() > 1 && b.has_output(1) ? b.define_output(1, x.dtype, x.shape)
                                                     : b.temporary(x.dtype, x.shape);
    b.emit(OpDesc::norm(NPU_NORM_LOG_SOFTMAX, 2),
           {b.whole(b.input_id(0)), Operand{}, Operand{}, Operand{}, Operand{}, b.whole(lp)});
    nll_common(b, lp, x.dtype, x.shape, 1, 2);
}

// TopK(x, k) with k known while planning, by ranks: with x seen as
// [outer, n, inner], rank[i] = #{j: x[j] beats x[i], or ties it with
// j < i}; output r takes the element of rank r (values and indices by a
// select and a sum over i, which has one term). O(n^2) work per row.
void lower_topk(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const auto rank = static_cast<int64_t>(x.shape.size());
    const auto axis = static_cast<size_t>(norm_axis(b, b.attr_int("axis", -1), rank));
    const int64_t k = b.opset() < 10 ? b.attr_int("k", 0) : const_ints(b, 1, "k").at(0);
    const bool largest = b.attr_int("largest", 1) != 0;
    const int64_t outer = product(x.shape, 0, axis), n = x.shape[axis],
                  inner = product(x.shape, axis + 1);
    if (k < 0 || k > n)
        b.unsupported("k out of range");
    auto yshape = x.shape;
    yshape[axis] = k;
    int yv = b.define_output(0, x.dtype, yshape);
    int yi = b.define_output(1, DType::i64, yshape);
    if (product(yshape) == 0)
        return;
    const std::vector<int64_t> nn{outer, n, n, inner}; // [o, i, j, in]
    Operand xi = view(b, b.input_id(0), nn, {n * inner, inner, 0, 1});
    Operand xj = view(b, b.input_id(0), nn, {n * inner, 0, inner, 1});
    int beats = b.temporary(DType::boolean, nn), ties = b.temporary(DType::boolean, nn),
        tie_before = b.temporary(DType::boolean, nn), ahead = b.temporary(DType::boolean, nn);
    emit_binary(b, largest ? NPU_BIN_GREATER : NPU_BIN_LESS, xj, xi, b.whole(beats));
    emit_binary(b, NPU_BIN_EQUAL, xj, xi, b.whole(ties));
    std::vector<int64_t> before(static_cast<size_t>(n * n));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            before[static_cast<size_t>(i * n + j)] = j < i;
    int bm = b.device_constant(HostTensor::from_int64(DType::boolean, {n, n}, before));
    emit_binary(b, NPU_BIN_AND, b.whole(ties), view(b, bm, nn, {0, n, 1, 0}), b.whole(tie_before));
    emit_binary(b, NPU_BIN_OR, b.whole(beats), b.whole(tie_before), b.whole(ahead));
    int ahead_i = b.temporary(DType::i32, nn);
    b.emit(OpDesc::cast(), {b.whole(ahead), b.whole(ahead_i)});
    int rk = b.temporary(DType::i32, {outer, n, 1, inner});
    b.emit(OpDesc::reduce(NPU_RED_SUM, uint64_t{1} << 2), {b.whole(ahead_i), b.whole(rk)});
    // M[o, r, i, in] = rank[o, i, in] == r
    const std::vector<int64_t> ks{outer, k, n, inner};
    std::vector<int64_t> rs(static_cast<size_t>(k));
    std::iota(rs.begin(), rs.end(), 0);
    int rc = b.device_constant(HostTensor::from_int64(DType::i32, {k}, rs));
    int m = b.temporary(DType::boolean, ks);
    emit_binary(b, NPU_BIN_EQUAL, view(b, rk, ks, {n * inner, 0, inner, 1}),
                view(b, rc, ks, {0, 1, 0, 0}), b.whole(m));
    const std::vector<int64_t> kept{outer, k, 1, inner};
    int sv = b.temporary(x.dtype, ks), zv = scalar_constant(b, x.dtype, 0);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {view(b, b.input_id(0), ks, {n * inner, 0, inner, 1}), broadcast_to(b.whole(zv), ks),
            b.whole(m), b.whole(sv)});
    b.emit(OpDesc::reduce(NPU_RED_SUM, uint64_t{1} << 2), {b.whole(sv), reshaped(b, yv, kept)});
    std::vector<int64_t> is(static_cast<size_t>(n));
    std::iota(is.begin(), is.end(), 0);
    int ic = b.device_constant(HostTensor::from_int64(DType::i64, {n}, is));
    int si = b.temporary(DType::i64, ks), zi = scalar_constant(b, DType::i64, 0);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {view(b, ic, ks, {0, 0, 1, 0}), broadcast_to(b.whole(zi), ks), b.whole(m), b.whole(si)});
    b.emit(OpDesc::reduce(NPU_RED_SUM, uint64_t{1} << 2), {b.whole(si), reshaped(b, yi, kept)});
}

} // namespace

void register_reduce_norm_ops() {
    for (const auto& s : reduce_specs)
        add_lowering(s.op, lower_reduce);
    add_lowering("ArgMax", lower_arg);
    add_lowering("ArgMin", lower_arg);
    add_lowering("Softmax", lower_softmax);
    add_lowering("LogSoftmax", lower_softmax);
    add_lowering("Hardmax", lower_hardmax);
    add_lowering("BatchNormalization", lower_batchnorm);
    add_lowering("InstanceNormalization", lower_instancenorm);
    add_lowering("LayerNormalization", lower_layernorm);
    add_lowering("MeanVarianceNormalization", lower_mvn);
    add_lowering("LpNormalization", lower_lpnorm);
    add_lowering("LRN", lower_lrn);
    add_lowering("TopK", lower_topk);
    add_lowering("NegativeLogLikelihoodLoss", lower_nll);
    add_lowering("SoftmaxCrossEntropyLoss", lower_sce);
}

} // namespace npu_onnx
