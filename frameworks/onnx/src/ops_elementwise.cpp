// Lowerings: unary and binary element-wise operators, variadic Sum/Mean/
// Max/Min, Clip and Where. Broadcasting is zero strides on the inputs'
// views; an input of another dtype than the operation takes (Pow's
// exponent, BitShift, ...) is cast into a temporary first.
#include <cfloat>
#include <cmath>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

// ---- unary --------------------------------------------------------------

struct UnarySpec {
    const char* op;
    uint32_t fn;
    const char* alpha_attr;
    float alpha_def;
    const char* beta_attr;
    float beta_def;
};

// ONNX op, device function, attributes mapped to the function's alpha and
// beta (nullptr: none).
const UnarySpec unary_specs[] = {
    {"Relu", NPU_FN_RELU, nullptr, 0, nullptr, 0},
    {"LeakyRelu", NPU_FN_LEAKY_RELU, "alpha", 0.01f, nullptr, 0},
    {"Elu", NPU_FN_ELU, "alpha", 1.0f, nullptr, 0},
    {"Selu", NPU_FN_SELU, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f},
    {"Celu", NPU_FN_CELU, "alpha", 1.0f, nullptr, 0},
    {"Sigmoid", NPU_FN_SIGMOID, nullptr, 0, nullptr, 0},
    {"HardSigmoid", NPU_FN_HARD_SIGMOID, "alpha", 0.2f, "beta", 0.5f},
    {"HardSwish", NPU_FN_HARD_SWISH, nullptr, 0, nullptr, 0},
    {"Tanh", NPU_FN_TANH, nullptr, 0, nullptr, 0},
    {"Softplus", NPU_FN_SOFTPLUS, nullptr, 0, nullptr, 0},
    {"Softsign", NPU_FN_SOFTSIGN, nullptr, 0, nullptr, 0},
    {"Mish", NPU_FN_MISH, nullptr, 0, nullptr, 0},
    {"ThresholdedRelu", NPU_FN_THRESHOLDED_RELU, "alpha", 1.0f, nullptr, 0},
    {"Shrink", NPU_FN_SHRINK, "lambd", 0.5f, "bias", 0.0f},
    {"Exp", NPU_FN_EXP, nullptr, 0, nullptr, 0},
    {"Log", NPU_FN_LOG, nullptr, 0, nullptr, 0},
    {"Sqrt", NPU_FN_SQRT, nullptr, 0, nullptr, 0},
    {"Reciprocal", NPU_FN_RECIPROCAL, nullptr, 0, nullptr, 0},
    {"Neg", NPU_FN_NEG, nullptr, 0, nullptr, 0},
    {"Abs", NPU_FN_ABS, nullptr, 0, nullptr, 0},
    {"Floor", NPU_FN_FLOOR, nullptr, 0, nullptr, 0},
    {"Ceil", NPU_FN_CEIL, nullptr, 0, nullptr, 0},
    {"Round", NPU_FN_ROUND, nullptr, 0, nullptr, 0},
    {"Sign", NPU_FN_SIGN, nullptr, 0, nullptr, 0},
    {"Erf", NPU_FN_ERF, nullptr, 0, nullptr, 0},
    {"Sin", NPU_FN_SIN, nullptr, 0, nullptr, 0},
    {"Cos", NPU_FN_COS, nullptr, 0, nullptr, 0},
    {"Tan", NPU_FN_TAN, nullptr, 0, nullptr, 0},
    {"Asin", NPU_FN_ASIN, nullptr, 0, nullptr, 0},
    {"Acos", NPU_FN_ACOS, nullptr, 0, nullptr, 0},
    {"Atan", NPU_FN_ATAN, nullptr, 0, nullptr, 0},
    {"Sinh", NPU_FN_SINH, nullptr, 0, nullptr, 0},
    {"Cosh", NPU_FN_COSH, nullptr, 0, nullptr, 0},
    {"Asinh", NPU_FN_ASINH, nullptr, 0, nullptr, 0},
    {"Acosh", NPU_FN_ACOSH, nullptr, 0, nullptr, 0},
    {"Atanh", NPU_FN_ATANH, nullptr, 0, nullptr, 0},
    {"Not", NPU_FN_NOT, nullptr, 0, nullptr, 0},
    {"BitwiseNot", NPU_FN_BITWISE_NOT, nullptr, 0, nullptr, 0},
    {"Gelu", NPU_FN_GELU, nullptr, 0, nullptr, 0},
};

const UnarySpec* find_unary(const std::string& op) {
    for (const auto& s : unary_specs)
        if (op == s.op)
            return &s;
    return nullptr;
}

void lower_unary(Builder& b) {
    const UnarySpec* s = find_unary(b.node().op_type());
    const ValueInfo& x = need_input(b, 0);
    float alpha = s->alpha_attr ? b.attr_float(s->alpha_attr, s->alpha_def) : 0.0f;
    float beta = s->beta_attr ? b.attr_float(s->beta_attr, s->beta_def) : 0.0f;
    uint32_t fn = s->fn;
    if (fn == NPU_FN_GELU && b.attr_string("approximate", "none") == "tanh")
        fn = NPU_FN_GELU_TANH;
    int y = b.define_output(0, x.dtype, x.shape);
    emit_unary(b, fn, b.whole(b.input_id(0)), b.whole(y), alpha, beta);
}

void lower_isnan(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    int y = b.define_output(0, DType::boolean, x.shape);
    emit_unary(b, NPU_FN_ISNAN, b.whole(b.input_id(0)), b.whole(y));
}

void lower_isinf(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    int y = b.define_output(0, DType::boolean, x.shape);
    emit_unary(b, NPU_FN_ISINF, b.whole(b.input_id(0)), b.whole(y),
               b.attr_int("detect_positive", 1) ? 1.0f : 0.0f,
               b.attr_int("detect_negative", 1) ? 1.0f : 0.0f);
}

// Clip: bounds from attributes (opset < 11) or optional inputs 1 and 2.
void lower_clip(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    int y = b.define_output(0, x.dtype, x.shape);
    Operand xin = b.whole(b.input_id(0));
    if (b.opset() < 11) {
        emit_unary(b, NPU_FN_CLIP, xin, b.whole(y), b.attr_float("min", -FLT_MAX),
                   b.attr_float("max", FLT_MAX));
        return;
    }
    bool has_min = b.input_count() > 1 && b.has_input(1);
    bool has_max = b.input_count() > 2 && b.has_input(2);
    bool min_const = !has_min || b.input(1).constant;
    bool max_const = !has_max || b.input(2).constant;
    // Integer bounds beyond f32's exact range go through MAX/MIN.
    auto exact = [&](size_t i) {
        if (!(i < b.input_count() && b.has_input(i)))
            return true;
        double v = b.input(i).constant->to_double().at(0);
        return std::fabs(v) < 16777216.0 || is_float(x.dtype);
    };
    if (min_const && max_const && exact(1) && exact(2)) {
        float lo = has_min ? static_cast<float>(b.input(1).constant->to_double().at(0)) : -FLT_MAX;
        float hi = has_max ? static_cast<float>(b.input(2).constant->to_double().at(0)) : FLT_MAX;
        if (std::isinf(lo))
            lo = lo < 0 ? -FLT_MAX : FLT_MAX;
        if (std::isinf(hi))
            hi = hi < 0 ? -FLT_MAX : FLT_MAX;
        emit_unary(b, NPU_FN_CLIP, xin, b.whole(y), lo, hi);
        return;
    }
    Operand cur = xin;
    if (has_min) {
        Operand dst = has_max ? b.whole(b.temporary(x.dtype, x.shape)) : b.whole(y);
        emit_binary(b, NPU_BIN_MAX, cur, broadcast_to(input_as(b, 1, x.dtype), x.shape), dst);
        cur = dst;
    }
    if (has_max) {
        emit_binary(b, NPU_BIN_MIN, cur, broadcast_to(input_as(b, 2, x.dtype), x.shape),
                    b.whole(y));
        cur = b.whole(y);
    }
    if (!has_min && !has_max)
        emit_copy(b, xin, b.whole(y));
}

// ---- binary -------------------------------------------------------------

struct BinarySpec {
    const char* op;
    uint32_t fn;
    bool to_bool; // comparison: y is BOOL
};

const BinarySpec binary_specs[] = {
    {"Add", NPU_BIN_ADD, false},
    {"Sub", NPU_BIN_SUB, false},
    {"Mul", NPU_BIN_MUL, false},
    {"Div", NPU_BIN_DIV, false},
    {"Pow", NPU_BIN_POW, false},
    {"PRelu", NPU_BIN_PRELU, false},
    {"Equal", NPU_BIN_EQUAL, true},
    {"Less", NPU_BIN_LESS, true},
    {"LessOrEqual", NPU_BIN_LESS_EQUAL, true},
    {"Greater", NPU_BIN_GREATER, true},
    {"GreaterOrEqual", NPU_BIN_GREATER_EQUAL, true},
    {"And", NPU_BIN_AND, true},
    {"Or", NPU_BIN_OR, true},
    {"Xor", NPU_BIN_XOR, true},
    {"BitwiseAnd", NPU_BIN_BITWISE_AND, false},
    {"BitwiseOr", NPU_BIN_BITWISE_OR, false},
    {"BitwiseXor", NPU_BIN_BITWISE_XOR, false},
};

const BinarySpec* find_binary(const std::string& op) {
    for (const auto& s : binary_specs)
        if (op == s.op)
            return &s;
    return nullptr;
}

// y = fn(a, b) with numpy broadcasting; b cast to a's dtype if it differs.
void binary_broadcast(Builder& b, uint32_t fn, bool to_bool) {
    const ValueInfo& a = need_input(b, 0);
    const ValueInfo& c = need_input(b, 1);
    std::vector<int64_t> shape = broadcast_shapes(b, a.shape, c.shape);
    int y = b.define_output(0, to_bool ? DType::boolean : a.dtype, shape);
    Operand ao = broadcast_to(b.whole(b.input_id(0)), shape);
    Operand co = broadcast_to(input_as(b, 1, a.dtype), shape);
    emit_binary(b, fn, ao, co, b.whole(y));
}

void lower_binary(Builder& b) {
    const BinarySpec* s = find_binary(b.node().op_type());
    binary_broadcast(b, s->fn, s->to_bool);
}

void lower_mod(Builder& b) {
    bool fmod = b.attr_int("fmod", 0) != 0;
    if (!fmod && is_float(need_input(b, 0).dtype))
        b.unsupported("Mod with fmod=0 on floats is undefined by ONNX");
    binary_broadcast(b, fmod ? NPU_BIN_FMOD : NPU_BIN_MOD, false);
}

void lower_bitshift(Builder& b) {
    std::string dir = b.attr_string("direction", "");
    if (dir != "LEFT" && dir != "RIGHT")
        b.unsupported("BitShift direction '" + dir + "'");
    binary_broadcast(b, dir == "LEFT" ? NPU_BIN_SHIFT_LEFT : NPU_BIN_SHIFT_RIGHT, false);
}

// PRelu's slope broadcasts unidirectionally to x (also the old opsets'
// [C] slope against [N, C, ...]: treated as numpy broadcasting, which the
// suite's models satisfy).
void lower_prelu(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& s = need_input(b, 1);
    std::vector<int64_t> sshape = s.shape;
    // opset < 7: slope [C] against [N, C, ...] means channel-wise.
    if (b.opset() < 7 && sshape.size() == 1 && x.shape.size() > 2 && sshape[0] == x.shape[1] &&
        x.shape.back() != sshape[0])
        sshape.insert(sshape.end(), x.shape.size() - 2, 1);
    std::vector<int64_t> shape = broadcast_shapes(b, x.shape, sshape);
    int y = b.define_output(0, x.dtype, shape);
    Operand so = input_as(b, 1, x.dtype);
    so.desc = TensorDesc::strided(so.desc.dtype, sshape, contiguous_strides(sshape));
    emit_binary(b, NPU_BIN_PRELU, broadcast_to(b.whole(b.input_id(0)), shape),
                broadcast_to(so, shape), b.whole(y));
}

// Where(cond, x, y) = cond ? x : y.
void lower_where(Builder& b) {
    need_input(b, 0);
    const ValueInfo& x = need_input(b, 1);
    const ValueInfo& z = need_input(b, 2);
    std::vector<int64_t> shape =
        broadcast_shapes(b, broadcast_shapes(b, b.input(0).shape, x.shape), z.shape);
    int y = b.define_output(0, x.dtype, shape);
    Operand cond = broadcast_to(input_as(b, 0, DType::boolean), shape);
    b.emit(OpDesc::binary(NPU_BIN_SELECT),
           {broadcast_to(b.whole(b.input_id(1)), shape),
            broadcast_to(input_as(b, 2, x.dtype), shape), cond, b.whole(y)});
}

// Sum, Mean, Max, Min over any number of inputs, broadcast together; each
// step writes a fresh buffer (an output may not overlap an input).
void lower_variadic(Builder& b) {
    const std::string& op = b.node().op_type();
    size_t n = b.input_count();
    if (n == 0)
        b.unsupported("no inputs");
    const ValueInfo& first = need_input(b, 0);
    std::vector<int64_t> shape = first.shape;
    for (size_t i = 1; i < n; ++i)
        shape = broadcast_shapes(b, shape, need_input(b, i).shape);
    DType dt = first.dtype;
    int y = b.define_output(0, dt, shape);
    uint32_t fn = op == "Max" ? NPU_BIN_MAX : op == "Min" ? NPU_BIN_MIN : NPU_BIN_ADD;
    bool mean = op == "Mean";
    if (n == 1) {
        emit_copy(b, broadcast_to(b.whole(b.input_id(0)), shape), b.whole(y));
        return;
    }
    Operand cur = broadcast_to(b.whole(b.input_id(0)), shape);
    for (size_t i = 1; i < n; ++i) {
        bool last = i + 1 == n && !mean;
        Operand dst = last ? b.whole(y) : b.whole(b.temporary(dt, shape));
        emit_binary(b, fn, cur, broadcast_to(input_as(b, i, dt), shape), dst);
        cur = dst;
    }
    if (mean) {
        int k = scalar_constant(b, dt, static_cast<double>(n));
        emit_binary(b, NPU_BIN_DIV, cur, broadcast_to(b.whole(k), shape), b.whole(y));
    }
}

// ---- quantisation ---------------------------------------------------------

// QuantizeLinear(x, y_scale, [y_zero_point]): y = saturate(round(x / scale)
// + zero_point), scale and zero point scalar or along axis.
void lower_quantize(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (!is_float(x.dtype))
        b.unsupported("QuantizeLinear of a non-float x");
    int64_t axis = b.attr_int("axis", 1);
    DType ydt = b.input_count() > 2 && b.has_input(2) ? need_input(b, 2).dtype : DType::u8;
    int y = b.define_output(0, ydt, x.shape);
    int q = b.temporary(x.dtype, x.shape);
    emit_binary(b, NPU_BIN_DIV, b.whole(b.input_id(0)),
                per_axis(b, input_as(b, 1, x.dtype), x.shape, axis), b.whole(q));
    requantize(b, b.whole(q), 2, axis, b.whole(y));
}

// DequantizeLinear(x, x_scale, [x_zero_point]): y = (x - zero_point) * scale.
void lower_dequantize(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& s = need_input(b, 1);
    int64_t axis = b.attr_int("axis", 1);
    int y = b.define_output(0, s.dtype, x.shape);
    Operand d = minus_zero_point(b, 0, 2, axis, s.dtype);
    emit_binary(b, NPU_BIN_MUL, d, per_axis(b, b.whole(b.input_id(1)), x.shape, axis), b.whole(y));
}

// DynamicQuantizeLinear(x) -> y (u8), y_scale, y_zero_point: the range
// [min(0, min x), max(0, max x)] mapped onto [0, 255].
void lower_dynamic_quantize(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (x.dtype != DType::f32)
        b.unsupported("DynamicQuantizeLinear of a non-f32 x");
    const DType f = DType::f32;
    const std::vector<int64_t> ones(x.shape.size(), 1);
    const uint64_t all = (uint64_t{1} << x.shape.size()) - 1;
    Operand xin = b.whole(b.input_id(0));
    auto scalar = [&](double v) { return broadcast_to(b.whole(scalar_constant(b, f, v)), ones); };
    auto tmp = [&] { return b.whole(b.temporary(f, ones)); };
    Operand mx = tmp(), mn = tmp(), mx0 = tmp(), mn0 = tmp(), range = tmp();
    b.emit(OpDesc::reduce(NPU_RED_MAX, all), {xin, mx});
    b.emit(OpDesc::reduce(NPU_RED_MIN, all), {xin, mn});
    emit_binary(b, NPU_BIN_MAX, mx, scalar(0), mx0);
    emit_binary(b, NPU_BIN_MIN, mn, scalar(0), mn0);
    emit_binary(b, NPU_BIN_SUB, mx0, mn0, range);
    int ys = b.define_output(1, f, {});
    Operand scale = reshaped(b, ys, ones);
    emit_binary(b, NPU_BIN_DIV, range, scalar(255), scale);
    // zero point = saturate(round(-min0 / scale))
    Operand q = tmp(), nq = tmp(), rq = tmp(), cq = tmp();
    emit_binary(b, NPU_BIN_DIV, mn0, scale, q);
    emit_unary(b, NPU_FN_NEG, q, nq);
    emit_unary(b, NPU_FN_ROUND, nq, rq);
    emit_unary(b, NPU_FN_CLIP, rq, cq, 0.0f, 255.0f);
    int yz = b.define_output(2, DType::u8, {});
    b.emit(OpDesc::cast(), {cq, reshaped(b, yz, ones)});
    // y = saturate(round(x / scale) + zero point)
    int d = b.temporary(f, x.shape), r = b.temporary(f, x.shape), a = b.temporary(f, x.shape);
    emit_binary(b, NPU_BIN_DIV, xin, broadcast_to(scale, x.shape), b.whole(d));
    emit_unary(b, NPU_FN_ROUND, b.whole(d), b.whole(r));
    emit_binary(b, NPU_BIN_ADD, b.whole(r), broadcast_to(cq, x.shape), b.whole(a));
    int y = b.define_output(0, DType::u8, x.shape);
    b.emit(OpDesc::cast(), {b.whole(a), b.whole(y)});
}

// ---- signal windows -------------------------------------------------------

// Hann, Hamming and Blackman windows of a size known while planning,
// computed on the device from the positions n: a0 - a1 cos(2 pi n / N) +
// a2 cos(4 pi n / N), N = size (periodic) or size - 1 (symmetric).
void lower_window(Builder& b) {
    const std::string& type = b.node().op_type();
    const int64_t size = const_ints(b, 0, "size").at(0);
    DType dt = dtype_from_onnx(static_cast<int32_t>(b.attr_int("output_datatype", 1)));
    if (!is_float(dt))
        b.unsupported("window of a non-float output_datatype");
    double a0 = 0.5, a1 = 0.5, a2 = 0;
    if (type == "HammingWindow") {
        a0 = 25.0 / 46;
        a1 = 21.0 / 46;
    } else if (type == "BlackmanWindow") {
        a0 = 0.42;
        a1 = 0.5;
        a2 = 0.08;
    }
    const bool periodic = b.attr_int("periodic", 1) != 0;
    const double n = static_cast<double>(periodic ? size : size - 1);
    const std::vector<int64_t> shape{size};
    int y = b.define_output(0, dt, shape);
    if (size == 0)
        return;
    const DType f = DType::f32;
    std::vector<double> pos(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i)
        pos[static_cast<size_t>(i)] = static_cast<double>(i);
    int p = b.device_constant(HostTensor::from_double(f, shape, pos));
    auto sc = [&](double v) { return broadcast_to(b.whole(scalar_constant(b, f, v)), shape); };
    auto tmp = [&] { return b.whole(b.temporary(f, shape)); };
    const double pi = 3.14159265358979323846;
    Operand t1 = tmp(), c1 = tmp(), m1 = tmp(), w = tmp();
    emit_binary(b, NPU_BIN_MUL, b.whole(p), sc(n > 0 ? 2 * pi / n : 0), t1);
    emit_unary(b, NPU_FN_COS, t1, c1);
    emit_binary(b, NPU_BIN_MUL, c1, sc(a1), m1);
    emit_binary(b, NPU_BIN_SUB, sc(a0), m1, w);
    if (a2 != 0) {
        Operand t2 = tmp(), c2 = tmp(), m2 = tmp(), w2 = tmp();
        emit_binary(b, NPU_BIN_MUL, b.whole(p), sc(n > 0 ? 4 * pi / n : 0), t2);
        emit_unary(b, NPU_FN_COS, t2, c2);
        emit_binary(b, NPU_BIN_MUL, c2, sc(a2), m2);
        emit_binary(b, NPU_BIN_ADD, w, m2, w2);
        w = w2;
    }
    emit_cast(b, w, b.whole(y));
}

} // namespace

void register_elementwise_ops() {
    for (const auto& s : unary_specs)
        add_lowering(s.op, lower_unary);
    add_lowering("IsNaN", lower_isnan);
    add_lowering("IsInf", lower_isinf);
    add_lowering("Clip", lower_clip);
    for (const auto& s : binary_specs)
        add_lowering(s.op, lower_binary);
    add_lowering("PRelu", lower_prelu);
    add_lowering("Mod", lower_mod);
    add_lowering("BitShift", lower_bitshift);
    add_lowering("Where", lower_where);
    for (const char* op : {"Sum", "Mean", "Max", "Min"})
        add_lowering(op, lower_variadic);
    add_lowering("QuantizeLinear", lower_quantize);
    for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"})
        add_lowering(op, lower_window);
    add_lowering("DequantizeLinear", lower_dequantize);
    add_lowering("DynamicQuantizeLinear", lower_dynamic_quantize);
}

} // namespace npu_onnx
