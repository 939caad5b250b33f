// Lowerings: metadata and shape arithmetic. Everything here runs on the
// host while planning: outputs are constants (elements known now) or
// aliases (another value's memory with a new shape); no device work.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "lowering.hpp"

namespace npu_onnx {

namespace {

int64_t product(const std::vector<int64_t>& shape, size_t begin = 0, size_t end = SIZE_MAX) {
    int64_t n = 1;
    for (size_t i = begin; i < std::min(end, shape.size()); i++)
        n *= shape[i];
    return n;
}

// Normalises a possibly negative axis against rank.
int64_t axis_of(const Builder& b, int64_t axis, int64_t rank) {
    if (axis < -rank || axis >= rank)
        b.unsupported("axis " + std::to_string(axis) + " out of range for rank " +
                      std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

// Input i's elements, which must be known while planning.
const HostTensor& constant_input(const Builder& b, size_t i, const char* what) {
    const ValueInfo& v = b.input(i);
    if (!v.constant)
        b.unsupported(std::string(what) + " (input " + std::to_string(i) +
                      ") is computed at run time; only constant values are supported");
    return *v.constant;
}

// Axes from input i (opset >= 13 form) or the "axes" attribute.
std::optional<std::vector<int64_t>> axes_of(const Builder& b, size_t input_index) {
    if (b.has_input(input_index))
        return constant_input(b, input_index, "axes").to_int64();
    if (b.has_attr("axes"))
        return b.attr_ints("axes", {});
    return std::nullopt;
}

void lower_identity(Builder& b) {
    b.define_output_alias(0, 0, b.input(0).shape);
}

void lower_constant(Builder& b) {
    if (const onnx::TensorProto* t = b.attr_tensor("value")) {
        b.define_output_constant(0, HostTensor::from_proto(*t));
        return;
    }
    if (b.has_attr("value_float")) {
        double v = b.attr_float("value_float", 0);
        b.define_output_constant(0, HostTensor::from_double(DType::f32, {}, std::span(&v, 1)));
        return;
    }
    if (b.has_attr("value_floats")) {
        auto f = b.attr_floats("value_floats", {});
        std::vector<double> d(f.begin(), f.end());
        b.define_output_constant(
            0, HostTensor::from_double(DType::f32, {static_cast<int64_t>(d.size())}, d));
        return;
    }
    if (b.has_attr("value_int")) {
        int64_t v = b.attr_int("value_int", 0);
        b.define_output_constant(0, HostTensor::from_int64(DType::i64, {}, std::span(&v, 1)));
        return;
    }
    if (b.has_attr("value_ints")) {
        auto v = b.attr_ints("value_ints", {});
        b.define_output_constant(
            0, HostTensor::from_int64(DType::i64, {static_cast<int64_t>(v.size())}, v));
        return;
    }
    b.unsupported("only tensor, float(s) and int(s) constants are supported");
}

void lower_shape(Builder& b) {
    const auto& shape = b.input(0).shape;
    auto rank = static_cast<int64_t>(shape.size());
    int64_t start = b.attr_int("start", 0);
    int64_t end = b.attr_int("end", rank);
    auto clampi = [&](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
    start = clampi(start);
    end = clampi(end);
    std::vector<int64_t> dims;
    for (int64_t i = start; i < end; i++)
        dims.push_back(shape[static_cast<size_t>(i)]);
    b.define_output_constant(
        0, HostTensor::from_int64(DType::i64, {static_cast<int64_t>(dims.size())}, dims));
}

void lower_size(Builder& b) {
    int64_t n = product(b.input(0).shape);
    b.define_output_constant(0, HostTensor::from_int64(DType::i64, {}, std::span(&n, 1)));
}

void lower_reshape(Builder& b) {
    const auto& in = b.input(0).shape;
    std::vector<int64_t> target =
        b.opset() < 5 ? b.attr_ints("shape", {}) : constant_input(b, 1, "shape").to_int64();
    bool allowzero = b.attr_int("allowzero", 0) != 0;
    int64_t infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < target.size(); i++) {
        if (target[i] == 0 && !allowzero) {
            if (i >= in.size())
                b.unsupported("shape copies dimension " + std::to_string(i) +
                              " the input does not have");
            target[i] = in[i];
        }
        if (target[i] == -1) {
            if (infer >= 0)
                b.unsupported("shape has two -1 extents");
            infer = static_cast<int64_t>(i);
        } else if (target[i] < 0) {
            b.unsupported("shape has a negative extent");
        } else {
            known *= target[i];
        }
    }
    int64_t total = product(in);
    if (infer >= 0) {
        if (known == 0 || total % known)
            b.unsupported("cannot infer the -1 extent");
        target[static_cast<size_t>(infer)] = total / known;
    }
    b.define_output_alias(0, 0, target);
}

void lower_flatten(Builder& b) {
    const auto& in = b.input(0).shape;
    auto rank = static_cast<int64_t>(in.size());
    int64_t axis = b.attr_int("axis", 1);
    if (axis < -rank || axis > rank)
        b.unsupported("axis out of range");
    if (axis < 0)
        axis += rank;
    auto a = static_cast<size_t>(axis);
    b.define_output_alias(0, 0, {product(in, 0, a), product(in, a)});
}

void lower_squeeze(Builder& b) {
    const auto& in = b.input(0).shape;
    auto rank = static_cast<int64_t>(in.size());
    auto axes = axes_of(b, 1);
    std::vector<bool> drop(in.size(), false);
    if (!axes) {
        for (size_t i = 0; i < in.size(); i++)
            drop[i] = in[i] == 1;
    } else {
        for (int64_t a : *axes) {
            auto i = static_cast<size_t>(axis_of(b, a, rank));
            if (in[i] != 1)
                b.unsupported("squeezed axis " + std::to_string(a) + " has extent " +
                              std::to_string(in[i]));
            drop[i] = true;
        }
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < in.size(); i++)
        if (!drop[i])
            out.push_back(in[i]);
    b.define_output_alias(0, 0, out);
}

void lower_unsqueeze(Builder& b) {
    const auto& in = b.input(0).shape;
    auto axes = axes_of(b, 1);
    if (!axes)
        b.unsupported("Unsqueeze without axes");
    auto rank = static_cast<int64_t>(in.size() + axes->size());
    std::vector<bool> added(static_cast<size_t>(rank), false);
    for (int64_t a : *axes) {
        auto i = static_cast<size_t>(axis_of(b, a, rank));
        if (added[i])
            b.unsupported("axis repeated");
        added[i] = true;
    }
    std::vector<int64_t> out;
    size_t k = 0;
    for (size_t i = 0; i < added.size(); i++)
        out.push_back(added[i] ? 1 : in[k++]);
    b.define_output_alias(0, 0, out);
}

void lower_dropout(Builder& b) {
    bool training = false;
    if (b.opset() >= 12 && b.has_input(2))
        training = constant_input(b, 2, "training_mode").to_int64().at(0) != 0;
    if (training) {
        double ratio = 0.5;
        if (b.has_input(1))
            ratio = constant_input(b, 1, "ratio").to_double().at(0);
        if (ratio != 0)
            b.unsupported("training-mode Dropout with a non-zero ratio is random");
    }
    b.define_output_alias(0, 0, b.input(0).shape);
    if (b.output_count() > 1 && b.has_output(1)) {
        std::vector<int64_t> ones(static_cast<size_t>(product(b.input(0).shape)), 1);
        b.define_output_constant(1, HostTensor::from_int64(DType::boolean, b.input(0).shape, ones));
    }
}

void lower_constant_of_shape(Builder& b) {
    std::vector<int64_t> shape = constant_input(b, 0, "shape").to_int64();
    for (int64_t d : shape)
        if (d < 0)
            b.unsupported("negative extent");
    HostTensor value;
    if (const onnx::TensorProto* t = b.attr_tensor("value"))
        value = HostTensor::from_proto(*t);
    else
        value = HostTensor::from_double(DType::f32, {1}, std::vector<double>{0.0});
    if (value.elements() != 1)
        b.unsupported("value must hold one element");
    HostTensor out{value.dtype, shape, {}};
    auto n = static_cast<size_t>(product(shape));
    out.bytes.reserve(n * value.bytes.size());
    for (size_t i = 0; i < n; i++)
        out.bytes.insert(out.bytes.end(), value.bytes.begin(), value.bytes.end());
    b.define_output_constant(0, std::move(out));
}

void lower_range(Builder& b) {
    const HostTensor& s = constant_input(b, 0, "start");
    const HostTensor& l = constant_input(b, 1, "limit");
    const HostTensor& d = constant_input(b, 2, "delta");
    DType dt = s.dtype;
    bool is_float = dt == DType::f32 || dt == DType::f16 || dt == DType::bf16;
    if (is_float) {
        double start = s.to_double().at(0), limit = l.to_double().at(0),
               delta = d.to_double().at(0);
        if (delta == 0)
            b.unsupported("delta is 0");
        auto n = static_cast<int64_t>(std::max(std::ceil((limit - start) / delta), 0.0));
        std::vector<double> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; i++)
            v[static_cast<size_t>(i)] = start + static_cast<double>(i) * delta;
        b.define_output_constant(0, HostTensor::from_double(dt, {n}, v));
    } else {
        int64_t start = s.to_int64().at(0), limit = l.to_int64().at(0), delta = d.to_int64().at(0);
        if (delta == 0)
            b.unsupported("delta is 0");
        auto n = static_cast<int64_t>(std::max(
            std::ceil(static_cast<double>(limit - start) / static_cast<double>(delta)), 0.0));
        std::vector<int64_t> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; i++)
            v[static_cast<size_t>(i)] = start + i * delta;
        b.define_output_constant(0, HostTensor::from_int64(dt, {n}, v));
    }
}

// ---- Host folding of small integer arithmetic -------------------------

constexpr int64_t fold_limit = 1 << 16; // elements per input

bool is_integer(DType d) {
    return d == DType::i8 || d == DType::u8 || d == DType::i32 || d == DType::i64 ||
           d == DType::boolean;
}

std::vector<int64_t> broadcast_shape(const Builder& b, const std::vector<int64_t>& x,
                                     const std::vector<int64_t>& y) {
    size_t r = std::max(x.size(), y.size());
    std::vector<int64_t> out(r);
    for (size_t i = 0; i < r; i++) {
        int64_t a = i + x.size() >= r ? x[i + x.size() - r] : 1;
        int64_t c = i + y.size() >= r ? y[i + y.size() - r] : 1;
        if (a != c && a != 1 && c != 1)
            b.unsupported("shapes do not broadcast");
        out[i] = a == 1 ? c : a;
    }
    return out;
}

// Element index in a tensor of shape `shape` broadcast to `out`.
size_t broadcast_index(const std::vector<int64_t>& shape, const std::vector<int64_t>& out,
                       size_t flat) {
    size_t idx = 0, stride = 1;
    for (size_t k = out.size(); k-- > 0;) {
        auto coord = static_cast<int64_t>(flat % static_cast<size_t>(out[k]));
        flat /= static_cast<size_t>(out[k]);
        size_t sk = k + shape.size() >= out.size() ? k + shape.size() - out.size() : SIZE_MAX;
        if (sk != SIZE_MAX) {
            if (shape[sk] != 1)
                idx += static_cast<size_t>(coord) * stride;
            stride *= static_cast<size_t>(shape[sk]);
        }
    }
    return idx;
}

bool fold_elementwise(Builder& b, const std::string& op) {
    using F = std::function<int64_t(int64_t, int64_t)>;
    static const std::map<std::string, F> binary = {
        {"Add", [](int64_t x, int64_t y) { return x + y; }},
        {"Sub", [](int64_t x, int64_t y) { return x - y; }},
        {"Mul", [](int64_t x, int64_t y) { return x * y; }},
        {"Div", [](int64_t x, int64_t y) { return y ? x / y : 0; }},
        {"Min", [](int64_t x, int64_t y) { return std::min(x, y); }},
        {"Max", [](int64_t x, int64_t y) { return std::max(x, y); }},
        {"Mod",
         [](int64_t x, int64_t y) {
             if (!y)
                 return int64_t{0};
             int64_t m = x % y;
             return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
         }},
        {"Equal", [](int64_t x, int64_t y) { return int64_t{x == y}; }},
        {"Less", [](int64_t x, int64_t y) { return int64_t{x < y}; }},
        {"Greater", [](int64_t x, int64_t y) { return int64_t{x > y}; }},
        {"LessOrEqual", [](int64_t x, int64_t y) { return int64_t{x <= y}; }},
        {"GreaterOrEqual", [](int64_t x, int64_t y) { return int64_t{x >= y}; }},
        {"And", [](int64_t x, int64_t y) { return int64_t{x && y}; }},
        {"Or", [](int64_t x, int64_t y) { return int64_t{x || y}; }},
    };
    static const std::set<std::string> compare = {"Equal", "Less", "Greater", "LessOrEqual",
                                                  "GreaterOrEqual"};
    auto it = binary.find(op);
    if (it != binary.end()) {
        if (b.input_count() != 2)
            return false;
        const HostTensor& x = *b.input(0).constant;
        const HostTensor& y = *b.input(1).constant;
        auto shape = broadcast_shape(b, x.shape, y.shape);
        auto xv = x.to_int64(), yv = y.to_int64();
        std::vector<int64_t> out(static_cast<size_t>(product(shape)));
        for (size_t i = 0; i < out.size(); i++)
            out[i] = it->second(xv[broadcast_index(x.shape, shape, i)],
                                yv[broadcast_index(y.shape, shape, i)]);
        DType dt = compare.count(op) ? DType::boolean : x.dtype;
        b.define_output_constant(0, HostTensor::from_int64(dt, shape, out));
        return true;
    }
    if (op == "Neg" || op == "Abs" || op == "Not" || op == "Identity") {
        const HostTensor& x = *b.input(0).constant;
        auto v = x.to_int64();
        for (auto& e : v)
            e = op == "Neg" ? -e : op == "Abs" ? std::abs(e) : op == "Not" ? !e : e;
        b.define_output_constant(0, HostTensor::from_int64(x.dtype, x.shape, v));
        return true;
    }
    if (op == "Where") {
        const HostTensor& c = *b.input(0).constant;
        const HostTensor& x = *b.input(1).constant;
        const HostTensor& y = *b.input(2).constant;
        auto shape = broadcast_shape(b, broadcast_shape(b, c.shape, x.shape), y.shape);
        auto cv = c.to_int64(), xv = x.to_int64(), yv = y.to_int64();
        std::vector<int64_t> out(static_cast<size_t>(product(shape)));
        for (size_t i = 0; i < out.size(); i++)
            out[i] = cv[broadcast_index(c.shape, shape, i)]
                         ? xv[broadcast_index(x.shape, shape, i)]
                         : yv[broadcast_index(y.shape, shape, i)];
        b.define_output_constant(0, HostTensor::from_int64(x.dtype, shape, out));
        return true;
    }
    return false;
}

bool fold_cast(Builder& b) {
    DType to = dtype_from_onnx(static_cast<int32_t>(b.attr_int("to", 0)));
    if (to == DType::none)
        return false;
    const HostTensor& x = *b.input(0).constant;
    if (to == DType::f32 || to == DType::f16 || to == DType::bf16) {
        auto v = x.to_double();
        b.define_output_constant(0, HostTensor::from_double(to, x.shape, v));
    } else {
        auto v = x.to_int64();
        b.define_output_constant(0, HostTensor::from_int64(to, x.shape, v));
    }
    return true;
}

bool fold_concat(Builder& b) {
    const HostTensor& first = *b.input(0).constant;
    auto rank = static_cast<int64_t>(first.shape.size());
    auto axis = static_cast<size_t>(axis_of(b, b.attr_int("axis", 0), rank));
    std::vector<int64_t> shape = first.shape;
    shape[axis] = 0;
    for (size_t i = 0; i < b.input_count(); i++) {
        const HostTensor& t = *b.input(i).constant;
        if (t.shape.size() != first.shape.size() || t.dtype != first.dtype)
            b.unsupported("inputs differ in rank or dtype");
        shape[axis] += t.shape[axis];
    }
    int64_t outer = product(shape, 0, axis);
    size_t es = npu::ops::dtype_size(first.dtype);
    HostTensor out{first.dtype, shape, {}};
    for (int64_t o = 0; o < outer; o++)
        for (size_t i = 0; i < b.input_count(); i++) {
            const HostTensor& t = *b.input(i).constant;
            auto chunk = static_cast<size_t>(product(t.shape, axis)) * es;
            auto src = t.bytes.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(o) * chunk);
            out.bytes.insert(out.bytes.end(), src, src + static_cast<ptrdiff_t>(chunk));
        }
    b.define_output_constant(0, std::move(out));
    return true;
}

bool fold_gather(Builder& b) {
    const HostTensor& x = *b.input(0).constant;
    const HostTensor& idx = *b.input(1).constant;
    auto rank = static_cast<int64_t>(x.shape.size());
    auto axis = static_cast<size_t>(axis_of(b, b.attr_int("axis", 0), rank));
    std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + static_cast<ptrdiff_t>(axis));
    shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
    shape.insert(shape.end(), x.shape.begin() + static_cast<ptrdiff_t>(axis) + 1, x.shape.end());
    int64_t outer = product(x.shape, 0, axis), inner = product(x.shape, axis + 1);
    int64_t n = x.shape[axis];
    size_t es = npu::ops::dtype_size(x.dtype);
    auto iv = idx.to_int64();
    HostTensor out{x.dtype, shape, {}};
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k : iv) {
            if (k < -n || k >= n)
                b.unsupported("index out of range");
            if (k < 0)
                k += n;
            auto off = static_cast<size_t>((o * n + k) * inner) * es;
            out.bytes.insert(out.bytes.end(), x.bytes.begin() + static_cast<ptrdiff_t>(off),
                             x.bytes.begin() +
                                 static_cast<ptrdiff_t>(off + static_cast<size_t>(inner) * es));
        }
    b.define_output_constant(0, std::move(out));
    return true;
}

bool fold_slice(Builder& b) {
    const HostTensor& x = *b.input(0).constant;
    auto rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (b.opset() < 10) {
        starts = b.attr_ints("starts", {});
        ends = b.attr_ints("ends", {});
        axes = b.attr_ints("axes", {});
    } else {
        starts = b.input(1).constant->to_int64();
        ends = b.input(2).constant->to_int64();
        if (b.has_input(3))
            axes = b.input(3).constant->to_int64();
        if (b.has_input(4))
            steps = b.input(4).constant->to_int64();
    }
    if (axes.empty())
        for (size_t i = 0; i < starts.size(); i++)
            axes.push_back(static_cast<int64_t>(i));
    if (steps.empty())
        steps.assign(starts.size(), 1);
    std::vector<int64_t> st(static_cast<size_t>(rank), 0), sp(static_cast<size_t>(rank), 1),
        shape = x.shape;
    for (size_t i = 0; i < axes.size(); i++) {
        auto a = static_cast<size_t>(axis_of(b, axes[i], rank));
        int64_t d = x.shape[a], s = starts[i], e = ends[i], k = steps[i];
        if (k == 0)
            b.unsupported("step 0");
        if (s < 0)
            s += d;
        if (e < 0)
            e += d;
        if (k > 0) {
            s = std::clamp(s, int64_t{0}, d);
            e = std::clamp(e, int64_t{0}, d);
            shape[a] = e > s ? (e - s + k - 1) / k : 0;
        } else {
            s = std::clamp(s, int64_t{0}, d - 1);
            e = std::clamp(e, int64_t{-1}, d - 1);
            shape[a] = s > e ? (s - e - k - 1) / -k : 0;
        }
        st[a] = s;
        sp[a] = k;
    }
    size_t es = npu::ops::dtype_size(x.dtype);
    HostTensor out{x.dtype, shape, {}};
    auto n = static_cast<size_t>(product(shape));
    out.bytes.resize(n * es);
    for (size_t f = 0; f < n; f++) {
        size_t rem = f, src = 0, stride = 1;
        for (size_t k = shape.size(); k-- > 0;) {
            auto c = static_cast<int64_t>(rem % static_cast<size_t>(shape[k]));
            rem /= static_cast<size_t>(shape[k]);
            src += static_cast<size_t>(st[k] + c * sp[k]) * stride;
            stride *= static_cast<size_t>(x.shape[k]);
        }
        std::memcpy(out.bytes.data() + f * es, x.bytes.data() + src * es, es);
    }
    b.define_output_constant(0, std::move(out));
    return true;
}

} // namespace

bool fold_on_host(Builder& b) {
    const std::string& op = b.node().op_type();
    if (b.input_count() == 0 || b.output_count() != 1)
        return false;
    bool any = false;
    for (size_t i = 0; i < b.input_count(); i++) {
        if (!b.has_input(i))
            continue;
        const ValueInfo& v = b.input(i);
        if (!v.constant || v.constant->elements() > fold_limit)
            return false;
        any = true;
    }
    if (!any)
        return false;
    // Integer (and bool) arithmetic only; Cast may leave integers.
    for (size_t i = 0; i < b.input_count(); i++)
        if (b.has_input(i) && !is_integer(b.input(i).dtype) && !(op == "Where" && i == 0))
            return false;
    if (op == "Cast")
        return fold_cast(b);
    if (op == "Concat")
        return fold_concat(b);
    if (op == "Gather")
        return fold_gather(b);
    if (op == "Slice")
        return fold_slice(b);
    return fold_elementwise(b, op);
}

void register_shape_ops() {
    add_lowering("Identity", lower_identity);
    add_lowering("Constant", lower_constant);
    add_lowering("Shape", lower_shape);
    add_lowering("Size", lower_size);
    add_lowering("Reshape", lower_reshape);
    add_lowering("Flatten", lower_flatten);
    add_lowering("Squeeze", lower_squeeze);
    add_lowering("Unsqueeze", lower_unsqueeze);
    add_lowering("Dropout", lower_dropout);
    add_lowering("ConstantOfShape", lower_constant_of_shape);
    add_lowering("Range", lower_range);
}

} // namespace npu_onnx
