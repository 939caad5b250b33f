// Compute kernels through libnpu's op API: plans cached by descriptor,
// launched on the tensor's device's current stream. Strided operands go
// into the TensorDesc as they are (the device takes strides).
#include "common.hpp"

#include <ATen/ExpandUtils.h>
#include <ATen/native/Pool.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/irange.h>
#include <torch/library.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

namespace npu_torch {

using npu::ops::DType;
using npu::ops::OpDesc;
using npu::ops::TensorDesc;

DType to_dtype(at::ScalarType type) {
    switch (type) {
    case at::kFloat: return DType::f32;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    case at::kChar: return DType::i8;
    case at::kByte: return DType::u8;
    case at::kInt: return DType::i32;
    case at::kLong: return DType::i64;
    case at::kBool: return DType::boolean;
    default: return DType::none;
    }
}

bool device_dtype(at::ScalarType type) { return to_dtype(type) != DType::none; }

TensorDesc desc(const at::Tensor& t) {
    if (t.dim() == 0)
        return TensorDesc::strided(to_dtype(t.scalar_type()), {1}, {1});
    return TensorDesc::strided(to_dtype(t.scalar_type()), t.sizes().vec(), t.strides().vec());
}

TensorDesc desc_broadcast(const at::Tensor& t, at::IntArrayRef shape) {
    if (shape.empty())
        return desc(t);
    size_t r = shape.size(), tr = static_cast<size_t>(t.dim());
    TORCH_CHECK(tr <= r, "npu: cannot broadcast ", t.sizes(), " to ", shape);
    std::vector<int64_t> strides(r, 0);
    for (size_t i = 0; i < tr; ++i) {
        size_t d = r - tr + i;
        if (t.size(i) == shape[d])
            strides[d] = t.stride(i);
        else
            TORCH_CHECK(t.size(i) == 1, "npu: cannot broadcast ", t.sizes(), " to ", shape);
    }
    return TensorDesc::strided(to_dtype(t.scalar_type()), shape.vec(), std::move(strides));
}

namespace {

std::string plan_key(const OpDesc& op, const std::vector<TensorDesc>& descs) {
    std::string k;
    auto put = [&k](const auto& v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(op.kind), put(op.fn), put(op.flags), put(op.alpha), put(op.beta), put(op.act.fn);
    put(op.act.alpha), put(op.act.beta), put(op.quant.a_zero), put(op.quant.b_zero);
    put(op.quant.y_scale), put(op.quant.y_zero), put(op.axes), put(op.axis), put(op.epsilon);
    put(op.groups), put(op.kernel), put(op.stride), put(op.dilation), put(op.pad_begin);
    put(op.pad_end), put(op.p), put(op.pad_value), put(op.copy_offset.size());
    for (auto v : op.copy_offset)
        put(v);
    for (const auto& d : descs) {
        put(d.dtype), put(d.shape.size()), put(d.strides.size());
        for (auto v : d.shape)
            put(v);
        for (auto v : d.strides)
            put(v);
    }
    return k;
}

std::mutex plans_lock; // protects plans
std::unordered_map<std::string, std::shared_ptr<npu::ops::Plan>> plans;

std::shared_ptr<npu::ops::Plan> plan_for(int dev, const OpDesc& op,
                                         const std::vector<TensorDesc>& descs) {
    auto k = plan_key(op, descs);
    {
        std::lock_guard g(plans_lock);
        auto it = plans.find(k);
        if (it != plans.end())
            return it->second;
    }
    std::shared_ptr<npu::ops::Plan> p;
    try {
        p = std::make_shared<npu::ops::Plan>(device(dev), op, descs);
    } catch (const std::exception& e) {
        TORCH_CHECK(false, "npu: cannot plan ", npu::ops::op_kind_name(op.kind), ": ", e.what());
    }
    std::lock_guard g(plans_lock);
    if (plans.size() > 8192)
        plans.clear();
    plans.emplace(std::move(k), p);
    return p;
}

} // namespace

void launch(int dev, const OpDesc& op, const std::vector<TensorDesc>& descs,
            const std::vector<const void*>& ptrs) {
    auto p = plan_for(dev, op, descs);
    try {
        p->launch(current_stream(dev), std::span<const void* const>(ptrs.data(), ptrs.size()));
    } catch (const std::exception& e) {
        TORCH_CHECK(false, "npu: ", npu::ops::op_kind_name(op.kind), " launch failed: ", e.what());
    }
}

at::Tensor scalar_on(const at::Scalar& value, at::ScalarType type, const at::Device& dev) {
    at::Tensor host = at::scalar_tensor(value, at::TensorOptions().dtype(type));
    at::Tensor t = at::empty({}, at::TensorOptions().dtype(type).device(dev));
    c10::DeviceGuard guard(dev);
    current_stream(index_of(t)).memcpy(t.data_ptr(), host.data_ptr(), host.nbytes());
    return t;
}

namespace {

const void* ptr(const at::Tensor& t) { return t.numel() == 0 ? nullptr : t.data_ptr(); }

bool is_float(at::ScalarType t) { return t == at::kFloat || t == at::kHalf || t == at::kBFloat16; }

// A CPU computation standing in for a device kernel (a dtype or a variant
// the device does not take): counted with the boxed fallback's counts.
at::Tensor to_cpu(const at::Tensor& t) { return t.defined() ? t.cpu() : t; }

// ------------------------------------------------------------- elementwise

at::Tensor operand(const at::Tensor& t, at::ScalarType type, const at::Device& dev) {
    if (t.device().type() != kNpu) {
        if (t.dim() == 0)
            return scalar_on(t.item(), type, dev);
        return t.to(dev, type);
    }
    return t.scalar_type() == type ? t : t.to(type);
}

void binary_into(uint32_t fn, const at::Tensor& a, const at::Tensor& b, const at::Tensor& out) {
    if (out.numel() == 0)
        return;
    if (a.scalar_type() == at::kBool) {
        // Booleans: + and max are "or", * and min are "and".
        if (fn == NPU_BIN_ADD || fn == NPU_BIN_MAX)
            fn = NPU_BIN_OR;
        else if (fn == NPU_BIN_MUL || fn == NPU_BIN_MIN)
            fn = NPU_BIN_AND;
    }
    auto shape = out.sizes();
    launch(index_of(out), OpDesc::binary(fn),
           {desc_broadcast(a, shape), desc_broadcast(b, shape), TensorDesc{}, desc(out)},
           {a.data_ptr(), b.data_ptr(), nullptr, out.data_ptr()});
}

void select_into(const at::Tensor& cond, const at::Tensor& a, const at::Tensor& b,
                 const at::Tensor& out) {
    if (out.numel() == 0)
        return;
    auto shape = out.sizes();
    launch(index_of(out), OpDesc::binary(NPU_BIN_SELECT),
           {desc_broadcast(a, shape), desc_broadcast(b, shape), desc_broadcast(cond, shape),
            desc(out)},
           {a.data_ptr(), b.data_ptr(), cond.data_ptr(), out.data_ptr()});
}

at::Device npu_device_of(const at::Tensor& a, const at::Tensor& b) {
    return a.device().type() == kNpu ? a.device() : b.device();
}

enum class Kind { arith, true_div, compare };

at::ScalarType binary_type(const at::Tensor& a, const at::Tensor& b, Kind kind) {
    auto type = at::result_type(a, b);
    if (kind == Kind::true_div && at::isIntegralType(type, true))
        type = at::typeMetaToScalarType(at::get_default_dtype());
    return type;
}

at::Tensor scaled(const at::Tensor& b, const at::Scalar& alpha, at::ScalarType type,
                  const at::Device& dev) {
    if (alpha.equal(1))
        return b;
    at::Tensor out = at::empty(b.sizes(), b.options().dtype(type));
    binary_into(NPU_BIN_MUL, b, scalar_on(alpha, type, dev), out);
    return out;
}

at::Tensor binary(uint32_t fn, Kind kind, const at::Tensor& self, const at::Tensor& other,
                  const at::Scalar& alpha = 1) {
    auto type = binary_type(self, other, kind);
    auto dev = npu_device_of(self, other);
    c10::DeviceGuard guard(dev);
    if (!device_dtype(type)) {
        count_fallback("npu_cpu_path::binary");
        at::Tensor a = to_cpu(self), b = to_cpu(other);
        at::Tensor r;
        switch (fn) {
        case NPU_BIN_ADD: r = at::add(a, b, alpha); break;
        case NPU_BIN_SUB: r = at::sub(a, b, alpha); break;
        case NPU_BIN_MUL: r = at::mul(a, b); break;
        default: r = at::div(a, b); break;
        }
        return r.to(dev);
    }
    at::Tensor a = operand(self, type, dev), b = scaled(operand(other, type, dev), alpha, type, dev);
    auto shape = at::infer_size(self.sizes(), other.sizes());
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(kind == Kind::compare ? at::kBool : type).device(dev));
    binary_into(fn, a, b, out);
    return out;
}

at::Tensor& binary_inplace(uint32_t fn, Kind kind, at::Tensor& self, const at::Tensor& other,
                           const at::Scalar& alpha = 1) {
    auto type = binary_type(self, other, kind);
    if (!device_dtype(self.scalar_type()) || !device_dtype(type) ||
        at::infer_size(self.sizes(), other.sizes()) != self.sizes() ||
        (type != self.scalar_type() && !at::canCast(type, self.scalar_type()))) {
        self.copy_(binary(fn, kind, self, other, alpha));
        return self;
    }
    type = self.scalar_type();
    c10::DeviceGuard guard(self.device());
    at::Tensor b = scaled(operand(other, type, self.device()), alpha, type, self.device());
    binary_into(fn, self, b, self);
    return self;
}

at::Tensor& binary_out(uint32_t fn, Kind kind, const at::Tensor& self, const at::Tensor& other,
                       const at::Scalar& alpha, at::Tensor& out) {
    at::Tensor r = binary(fn, kind, self, other, alpha);
    at::native::resize_output(out, r.sizes());
    out.copy_(r);
    return out;
}

at::Tensor k_add(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary(NPU_BIN_ADD, Kind::arith, a, b, alpha);
}
at::Tensor& k_add_(at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary_inplace(NPU_BIN_ADD, Kind::arith, a, b, alpha);
}
at::Tensor& k_add_out(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha, at::Tensor& out) {
    return binary_out(NPU_BIN_ADD, Kind::arith, a, b, alpha, out);
}
at::Tensor k_sub(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary(NPU_BIN_SUB, Kind::arith, a, b, alpha);
}
at::Tensor& k_sub_(at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary_inplace(NPU_BIN_SUB, Kind::arith, a, b, alpha);
}
at::Tensor& k_sub_out(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha, at::Tensor& out) {
    return binary_out(NPU_BIN_SUB, Kind::arith, a, b, alpha, out);
}
at::Tensor k_mul(const at::Tensor& a, const at::Tensor& b) { return binary(NPU_BIN_MUL, Kind::arith, a, b); }
at::Tensor& k_mul_(at::Tensor& a, const at::Tensor& b) {
    return binary_inplace(NPU_BIN_MUL, Kind::arith, a, b);
}
at::Tensor& k_mul_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
    return binary_out(NPU_BIN_MUL, Kind::arith, a, b, 1, out);
}
at::Tensor k_div(const at::Tensor& a, const at::Tensor& b) {
    return binary(NPU_BIN_DIV, Kind::true_div, a, b);
}
at::Tensor& k_div_(at::Tensor& a, const at::Tensor& b) {
    return binary_inplace(NPU_BIN_DIV, Kind::true_div, a, b);
}
at::Tensor& k_div_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
    return binary_out(NPU_BIN_DIV, Kind::true_div, a, b, 1, out);
}
at::Tensor k_maximum(const at::Tensor& a, const at::Tensor& b) {
    return binary(NPU_BIN_MAX, Kind::arith, a, b);
}
at::Tensor k_minimum(const at::Tensor& a, const at::Tensor& b) {
    return binary(NPU_BIN_MIN, Kind::arith, a, b);
}
template <uint32_t Fn>
at::Tensor compare_t(const at::Tensor& a, const at::Tensor& b) {
    return binary(Fn, Kind::compare, a, b);
}
template <uint32_t Fn>
at::Tensor compare_s(const at::Tensor& a, const at::Scalar& b) {
    return binary(Fn, Kind::compare, a, at::scalar_tensor(b));
}

// threshold_backward (relu's gradient): self <= threshold ? 0 : grad.
at::Tensor k_threshold_backward(const at::Tensor& grad, const at::Tensor& self,
                              const at::Scalar& threshold) {
    auto type = grad.scalar_type();
    c10::DeviceGuard guard(grad.device());
    at::Tensor cond = binary(NPU_BIN_GREATER, Kind::compare, self, at::scalar_tensor(threshold));
    auto shape = at::infer_size(grad.sizes(), self.sizes());
    at::Tensor out = at::empty(shape, grad.options());
    select_into(cond, grad, scalar_on(0, type, grad.device()), out);
    return out;
}

// ------------------------------------------------------------------- unary

void unary_into(const at::Tensor& x, const at::Tensor& y, uint32_t fn, float alpha, float beta) {
    if (y.numel() == 0)
        return;
    launch(index_of(y), OpDesc::unary(fn, alpha, beta), {desc(x), desc(y)},
           {x.data_ptr(), y.data_ptr()});
}

// The CPU's version of the functions without parameters, for dtypes the
// device does not compute them in (double, integers).
at::Tensor unary_on_cpu(const at::Tensor& self, uint32_t fn) {
    count_fallback("npu_cpu_path::unary");
    at::Tensor c = self.cpu(), r;
    switch (fn) {
    case NPU_FN_RELU: r = at::relu(c); break;
    case NPU_FN_SIGMOID: r = at::sigmoid(c); break;
    case NPU_FN_TANH: r = at::tanh(c); break;
    case NPU_FN_EXP: r = at::exp(c); break;
    case NPU_FN_LOG: r = at::log(c); break;
    case NPU_FN_SQRT: r = at::sqrt(c); break;
    case NPU_FN_RSQRT: r = at::rsqrt(c); break;
    case NPU_FN_RECIPROCAL: r = at::reciprocal(c); break;
    case NPU_FN_NEG: r = at::neg(c); break;
    case NPU_FN_ABS: r = at::abs(c); break;
    case NPU_FN_SIN: r = at::sin(c); break;
    case NPU_FN_COS: r = at::cos(c); break;
    case NPU_FN_ERF: r = at::erf(c); break;
    case NPU_FN_FLOOR: r = at::floor(c); break;
    case NPU_FN_CEIL: r = at::ceil(c); break;
    case NPU_FN_SILU: r = at::silu(c); break;
    case NPU_FN_HARD_SWISH: r = at::hardswish(c); break;
    default:
        TORCH_CHECK(false, "npu: unary function ", fn, " on ", self.scalar_type(),
                    " has no device kernel");
    }
    return r.to(self.device());
}

at::Tensor k_unary(const at::Tensor& self, uint32_t fn, float alpha = 0, float beta = 0) {
    if (!is_float(self.scalar_type()))
        return unary_on_cpu(self, fn);
    c10::DeviceGuard guard(self.device());
    at::Tensor out = at::empty(self.sizes(), self.options());
    unary_into(self, out, fn, alpha, beta);
    return out;
}

at::Tensor& unary_(at::Tensor& self, uint32_t fn, float alpha = 0, float beta = 0) {
    if (!is_float(self.scalar_type()))
        return self.copy_(unary_on_cpu(self, fn));
    c10::DeviceGuard guard(self.device());
    unary_into(self, self, fn, alpha, beta);
    return self;
}

template <uint32_t Fn>
at::Tensor un(const at::Tensor& self) {
    if (!is_float(self.scalar_type()) && Fn == NPU_FN_RELU) {
        // Integer relu: max(x, 0).
        return binary(NPU_BIN_MAX, Kind::arith, self, at::scalar_tensor(0, self.scalar_type()));
    }
    return k_unary(self, Fn);
}
template <uint32_t Fn>
at::Tensor& un_(at::Tensor& self) { return unary_(self, Fn); }

at::Tensor k_gelu(const at::Tensor& self, c10::string_view approximate) {
    return k_unary(self, approximate == "tanh" ? NPU_FN_GELU_TANH : NPU_FN_GELU);
}
at::Tensor k_hardtanh(const at::Tensor& self, const at::Scalar& lo, const at::Scalar& hi) {
    return k_unary(self, NPU_FN_CLIP, lo.toFloat(), hi.toFloat());
}
at::Tensor& k_hardtanh_(at::Tensor& self, const at::Scalar& lo, const at::Scalar& hi) {
    return unary_(self, NPU_FN_CLIP, lo.toFloat(), hi.toFloat());
}
at::Tensor k_leaky_relu(const at::Tensor& self, const at::Scalar& slope) {
    return k_unary(self, NPU_FN_LEAKY_RELU, slope.toFloat());
}
at::Tensor& k_leaky_relu_(at::Tensor& self, const at::Scalar& slope) {
    return unary_(self, NPU_FN_LEAKY_RELU, slope.toFloat());
}
at::Tensor k_hardsigmoid(const at::Tensor& self) {
    return k_unary(self, NPU_FN_HARD_SIGMOID, 1.0f / 6.0f, 0.5f);
}
at::Tensor& k_hardsigmoid_(at::Tensor& self) {
    return unary_(self, NPU_FN_HARD_SIGMOID, 1.0f / 6.0f, 0.5f);
}
at::Tensor k_elu(const at::Tensor& self, const at::Scalar& alpha, const at::Scalar& scale,
               const at::Scalar& input_scale) {
    TORCH_CHECK(scale.equal(1) && input_scale.equal(1), "npu: elu with scale has no device kernel");
    return k_unary(self, NPU_FN_ELU, alpha.toFloat());
}

// sigmoid' = grad * y * (1 - y); tanh' = grad * (1 - y * y).
at::Tensor k_sigmoid_backward(const at::Tensor& grad, const at::Tensor& y) {
    at::Tensor one_minus = binary(NPU_BIN_SUB, Kind::arith, at::scalar_tensor(1, y.scalar_type()), y);
    return k_mul(k_mul(grad, y), one_minus);
}
at::Tensor k_tanh_backward(const at::Tensor& grad, const at::Tensor& y) {
    at::Tensor one_minus = binary(NPU_BIN_SUB, Kind::arith, at::scalar_tensor(1, y.scalar_type()), k_mul(y, y));
    return k_mul(grad, one_minus);
}

// -------------------------------------------------------------------- GEMM

void check_float_pair(const char* what, const at::Tensor& a, const at::Tensor& b) {
    TORCH_CHECK(is_float(a.scalar_type()) && a.scalar_type() == b.scalar_type(), "npu: ", what,
                " needs two float operands of one dtype (", a.scalar_type(), ", ", b.scalar_type(),
                ")");
}

at::Tensor k_mm(const at::Tensor& a, const at::Tensor& b) {
    check_float_pair("mm", a, b);
    TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "npu mm: shapes ",
                a.sizes(), " and ", b.sizes());
    c10::DeviceGuard guard(a.device());
    at::Tensor y = at::empty({a.size(0), b.size(1)}, a.options());
    if (y.numel() == 0)
        return y;
    if (a.size(1) == 0)
        return y.zero_();
    launch(index_of(y), OpDesc::gemm(), {desc(a), desc(b), TensorDesc{}, desc(y)},
           {a.data_ptr(), b.data_ptr(), nullptr, y.data_ptr()});
    return y;
}

at::Tensor& k_mm_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
    at::Tensor r = k_mm(a, b);
    at::native::resize_output(out, r.sizes());
    out.copy_(r);
    return out;
}

at::Tensor k_addmm(const at::Tensor& self, const at::Tensor& a, const at::Tensor& b,
                 const at::Scalar& beta, const at::Scalar& alpha) {
    check_float_pair("addmm", a, b);
    c10::DeviceGuard guard(a.device());
    std::vector<int64_t> shape{a.size(0), b.size(1)};
    at::Tensor y = at::empty(shape, a.options());
    if (y.numel() == 0)
        return y;
    if (a.size(1) == 0 || beta.toFloat() == 0) {
        if (a.size(1) == 0)
            return y.copy_(k_mul(self.expand(shape), scalar_on(beta, a.scalar_type(), a.device())));
        launch(index_of(y), OpDesc::gemm(alpha.toFloat(), 1), {desc(a), desc(b), TensorDesc{}, desc(y)},
               {a.data_ptr(), b.data_ptr(), nullptr, y.data_ptr()});
        return y;
    }
    at::Tensor c = operand(self, a.scalar_type(), a.device());
    launch(index_of(y), OpDesc::gemm(alpha.toFloat(), beta.toFloat()),
           {desc(a), desc(b), desc_broadcast(c, shape), desc(y)},
           {a.data_ptr(), b.data_ptr(), c.data_ptr(), y.data_ptr()});
    return y;
}

at::Tensor& k_addmm_out(const at::Tensor& self, const at::Tensor& a, const at::Tensor& b,
                      const at::Scalar& beta, const at::Scalar& alpha, at::Tensor& out) {
    at::Tensor r = k_addmm(self, a, b, beta, alpha);
    at::native::resize_output(out, r.sizes());
    out.copy_(r);
    return out;
}

at::Tensor k_bmm(const at::Tensor& a, const at::Tensor& b) {
    check_float_pair("bmm", a, b);
    TORCH_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1),
                "npu bmm: shapes ", a.sizes(), " and ", b.sizes());
    c10::DeviceGuard guard(a.device());
    at::Tensor y = at::empty({a.size(0), a.size(1), b.size(2)}, a.options());
    if (y.numel() == 0)
        return y;
    if (a.size(2) == 0)
        return y.zero_();
    launch(index_of(y), OpDesc::gemm(), {desc(a), desc(b), TensorDesc{}, desc(y)},
           {a.data_ptr(), b.data_ptr(), nullptr, y.data_ptr()});
    return y;
}

// -------------------------------------------------------------------- conv

// Per spatial dimension; entries beyond spatial keep the OpDesc default
// (rest: 1 for stride and dilation, 0 for pads and pool kernels).
std::array<uint32_t, 3> param3(at::IntArrayRef v, size_t spatial, int64_t fill, uint32_t rest) {
    std::array<uint32_t, 3> out{rest, rest, rest};
    for (size_t i = 0; i < spatial; ++i)
        out[i] = static_cast<uint32_t>(v.empty() ? fill : v.size() == 1 ? v[0] : v[i]);
    return out;
}

at::Tensor k_convolution_overrideable(const at::Tensor& input, const at::Tensor& weight,
                                    const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                    at::IntArrayRef padding, at::IntArrayRef dilation,
                                    bool transposed, at::IntArrayRef output_padding,
                                    int64_t groups) {
    check_float_pair("convolution", input, weight);
    size_t spatial = input.dim() - 2;
    TORCH_CHECK(spatial >= 1 && spatial <= 3, "npu: convolution of rank ", input.dim());
    c10::DeviceGuard guard(input.device());
    auto st = param3(stride, spatial, 1, 1), pad = param3(padding, spatial, 0, 0),
         dil = param3(dilation, spatial, 1, 1), opad = param3(output_padding, spatial, 0, 0);
    std::vector<int64_t> shape{input.size(0), transposed ? weight.size(1) * groups : weight.size(0)};
    for (size_t i = 0; i < spatial; ++i) {
        int64_t in = input.size(2 + i), k = weight.size(2 + i);
        shape.push_back(transposed ? (in - 1) * st[i] - 2 * pad[i] + dil[i] * (k - 1) + 1 + opad[i]
                                   : (in + 2 * pad[i] - dil[i] * (k - 1) - 1) / st[i] + 1);
    }
    at::Tensor y = at::empty(shape, input.options());
    if (y.numel() == 0)
        return y;
    OpDesc op = OpDesc::conv(static_cast<uint32_t>(groups));
    op.flags = transposed ? NPU_CONV_TRANSPOSED : 0;
    op.stride = st;
    op.dilation = dil;
    op.pad_begin = pad;
    op.pad_end = pad;
    at::Tensor b;
    if (bias && bias->defined())
        b = operand(*bias, input.scalar_type(), input.device());
    launch(index_of(y), op, {desc(input), desc(weight), b.defined() ? desc(b) : TensorDesc{}, desc(y)},
           {input.data_ptr(), weight.data_ptr(), b.defined() ? b.data_ptr() : nullptr, y.data_ptr()});
    return y;
}

// The gradient of a convolution is computed by the CPU (counted as a
// fallback): the device's CONV has no backward-data/backward-weight form.
std::tuple<at::Tensor, at::Tensor, at::Tensor>
k_convolution_backward_overrideable(const at::Tensor& grad_output, const at::Tensor& input,
                                  const at::Tensor& weight, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation, bool transposed,
                                  at::IntArrayRef output_padding, int64_t groups,
                                  std::array<bool, 3> mask) {
    count_fallback("convolution_backward_overrideable");
    auto dev = input.device();
    auto [gi, gw, gb] = at::convolution_backward(
        grad_output.cpu(), input.cpu(), weight.cpu(), at::OptionalIntArrayRef(weight.sizes()),
        stride, padding, dilation, transposed, output_padding, groups, mask);
    auto back = [&](const at::Tensor& t) { return t.defined() ? t.to(dev) : t; };
    return {back(gi), back(gw), back(gb)};
}

// ------------------------------------------------------------------- pools

struct PoolGeom {
    at::Tensor x; // 4-D
    bool batched;
    std::array<uint32_t, 3> k{}, s{}, p{}, d{};
    std::vector<int64_t> out_shape;
};

PoolGeom pool_geometry(const at::Tensor& self, at::IntArrayRef kernel, at::IntArrayRef stride,
                       at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
    TORCH_CHECK(self.dim() == 3 || self.dim() == 4, "npu: 2-D pooling of rank ", self.dim());
    PoolGeom g;
    g.batched = self.dim() == 4;
    g.x = g.batched ? self : self.unsqueeze(0);
    g.k = param3(kernel, 2, 1, 0);
    g.s = stride.empty() ? param3(kernel, 2, 1, 1) : param3(stride, 2, 1, 1);
    g.p = param3(padding, 2, 0, 0);
    g.d = param3(dilation, 2, 1, 1);
    g.out_shape = {g.x.size(0), g.x.size(1)};
    for (int i = 0; i < 2; ++i)
        g.out_shape.push_back(at::native::pooling_output_shape<int64_t>(
            g.x.size(2 + i), g.k[i], g.p[i], g.s[i], g.d[i], ceil_mode));
    return g;
}

OpDesc pool_op(uint32_t mode, const PoolGeom& g) {
    OpDesc op = OpDesc::pool(mode, g.k);
    op.stride = g.s;
    op.dilation = g.d;
    op.pad_begin = g.p;
    op.pad_end = g.p;
    return op;
}

std::tuple<at::Tensor, at::Tensor> k_max_pool2d_with_indices(const at::Tensor& self,
                                                           at::IntArrayRef kernel,
                                                           at::IntArrayRef stride,
                                                           at::IntArrayRef padding,
                                                           at::IntArrayRef dilation, bool ceil_mode) {
    TORCH_CHECK(is_float(self.scalar_type()), "npu: max_pool2d of ", self.scalar_type());
    c10::DeviceGuard guard(self.device());
    auto g = pool_geometry(self, kernel, stride, padding, dilation, ceil_mode);
    at::Tensor y = at::empty(g.out_shape, self.options());
    at::Tensor idx = at::empty(g.out_shape, self.options().dtype(at::kLong));
    if (y.numel() > 0) {
        launch(index_of(y), pool_op(NPU_POOL_MAX, g), {desc(g.x), desc(y), desc(idx)},
               {g.x.data_ptr(), y.data_ptr(), idx.data_ptr()});
        // The device's indices count over [N, C, H, W]; PyTorch's within a plane.
        binary_into(NPU_BIN_MOD, idx, scalar_on(g.x.size(2) * g.x.size(3), at::kLong, self.device()),
                    idx);
    }
    if (!g.batched)
        return {y.squeeze(0), idx.squeeze(0)};
    return {y, idx};
}

at::Tensor k_avg_pool2d(const at::Tensor& self, at::IntArrayRef kernel, at::IntArrayRef stride,
                      at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                      c10::optional<int64_t> divisor_override) {
    TORCH_CHECK(is_float(self.scalar_type()), "npu: avg_pool2d of ", self.scalar_type());
    if (divisor_override) {
        count_fallback("npu_cpu_path::avg_pool2d(divisor_override)");
        return at::avg_pool2d(self.cpu(), kernel, stride, padding, ceil_mode, count_include_pad,
                              divisor_override)
            .to(self.device());
    }
    c10::DeviceGuard guard(self.device());
    auto g = pool_geometry(self, kernel, stride, padding, {}, ceil_mode);
    at::Tensor y = at::empty(g.out_shape, self.options());
    if (y.numel() > 0)
        launch(index_of(y), pool_op(count_include_pad ? NPU_POOL_AVG_PAD : NPU_POOL_AVG, g),
               {desc(g.x), desc(y), TensorDesc{}}, {g.x.data_ptr(), y.data_ptr(), nullptr});
    return g.batched ? y : y.squeeze(0);
}

// ------------------------------------------------------------- reductions

uint64_t axes_of(const at::Tensor& self, at::OptionalIntArrayRef dim) {
    uint64_t axes = 0;
    if (!dim || dim->empty()) {
        for (int64_t i = 0; i < self.dim(); ++i)
            axes |= uint64_t{1} << i;
        return axes;
    }
    for (auto d : *dim)
        axes |= uint64_t{1} << at::maybe_wrap_dim(d, self.dim());
    return axes;
}

std::vector<int64_t> kept_shape(const at::Tensor& self, uint64_t axes) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < self.dim(); ++i)
        s.push_back(axes >> i & 1 ? 1 : self.size(i));
    return s;
}

std::vector<int64_t> dropped_shape(const at::Tensor& self, uint64_t axes) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < self.dim(); ++i)
        if (!(axes >> i & 1))
            s.push_back(self.size(i));
    return s;
}

// The CPU's version of a reduction over dtypes the device lacks (double, ...).
at::Tensor reduce_on_cpu(uint32_t fn, const at::Tensor& x, uint64_t axes, bool keepdim,
                         at::ScalarType out_type) {
    count_fallback("npu_cpu_path::reduce");
    at::Tensor c = x.cpu();
    std::vector<int64_t> dims;
    for (int64_t i = 0; i < x.dim(); ++i)
        if (axes >> i & 1)
            dims.push_back(i);
    at::Tensor r;
    switch (fn) {
    case NPU_RED_SUM: r = at::sum(c, dims, true, out_type); break;
    case NPU_RED_MEAN: r = at::mean(c, dims, true, out_type); break;
    case NPU_RED_MAX: r = at::amax(c, dims, true); break;
    case NPU_RED_MIN: r = at::amin(c, dims, true); break;
    case NPU_RED_ARGMAX: r = dims.empty() ? at::zeros({}, c.options().dtype(at::kLong)) : at::argmax(c, dims[0], true); break;
    case NPU_RED_ARGMIN: r = dims.empty() ? at::zeros({}, c.options().dtype(at::kLong)) : at::argmin(c, dims[0], true); break;
    default: TORCH_CHECK(false, "npu: reduction ", fn, " of ", x.scalar_type());
    }
    r = r.to(x.device());
    return keepdim || x.dim() == 0 ? r : r.view(dropped_shape(x, axes));
}

at::Tensor reduce(uint32_t fn, const at::Tensor& x, uint64_t axes, bool keepdim,
                  at::ScalarType out_type) {
    if (!device_dtype(x.scalar_type()) || !device_dtype(out_type))
        return reduce_on_cpu(fn, x, axes, keepdim, out_type);
    c10::DeviceGuard guard(x.device());
    at::Tensor y = at::empty(kept_shape(x, axes), x.options().dtype(out_type));
    if (x.dim() == 0) {
        if (fn == NPU_RED_ARGMAX || fn == NPU_RED_ARGMIN)
            return y.zero_();
        return y.copy_(x);
    }
    if (y.numel() > 0) {
        OpDesc op = OpDesc::reduce(fn, axes);
        launch(index_of(y), op, {desc(x), desc(y)}, {ptr(x), y.data_ptr()});
    }
    return keepdim ? y : y.view(dropped_shape(x, axes));
}

at::Tensor sum_dim(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                   c10::optional<at::ScalarType> dtype) {
    auto type = dtype ? *dtype
                      : at::isIntegralType(self.scalar_type(), true) ? at::kLong : self.scalar_type();
    TORCH_CHECK(device_dtype(type), "npu: sum to ", type, " has no device kernel");
    at::Tensor x = self.scalar_type() == type ? self : self.to(type);
    return reduce(NPU_RED_SUM, x, axes_of(self, dim), keepdim, type);
}

at::Tensor mean_dim(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                    c10::optional<at::ScalarType> dtype) {
    auto type = dtype ? *dtype : self.scalar_type();
    TORCH_CHECK(is_float(type), "npu: mean of ", type);
    at::Tensor x = self.scalar_type() == type ? self : self.to(type);
    return reduce(NPU_RED_MEAN, x, axes_of(self, dim), keepdim, type);
}

std::tuple<at::Tensor, at::Tensor> max_dim(const at::Tensor& self, int64_t dim, bool keepdim) {
    uint64_t axes = self.dim() == 0 ? 0 : uint64_t{1} << at::maybe_wrap_dim(dim, self.dim());
    return {reduce(NPU_RED_MAX, self, axes, keepdim, self.scalar_type()),
            reduce(NPU_RED_ARGMAX, self, axes, keepdim, at::kLong)};
}

std::tuple<at::Tensor, at::Tensor> min_dim(const at::Tensor& self, int64_t dim, bool keepdim) {
    uint64_t axes = self.dim() == 0 ? 0 : uint64_t{1} << at::maybe_wrap_dim(dim, self.dim());
    return {reduce(NPU_RED_MIN, self, axes, keepdim, self.scalar_type()),
            reduce(NPU_RED_ARGMIN, self, axes, keepdim, at::kLong)};
}

at::Tensor max_all(const at::Tensor& self) {
    TORCH_CHECK(self.numel() > 0, "max(): Expected reduction dim to be specified for input.numel() == 0.");
    return reduce(NPU_RED_MAX, self, axes_of(self, {}), false, self.scalar_type());
}

at::Tensor min_all(const at::Tensor& self) {
    TORCH_CHECK(self.numel() > 0, "min(): Expected reduction dim to be specified for input.numel() == 0.");
    return reduce(NPU_RED_MIN, self, axes_of(self, {}), false, self.scalar_type());
}

at::Tensor k_amax(const at::Tensor& self, at::IntArrayRef dim, bool keepdim) {
    return reduce(NPU_RED_MAX, self, axes_of(self, dim), keepdim, self.scalar_type());
}

at::Tensor k_argmax(const at::Tensor& self, c10::optional<int64_t> dim, bool keepdim) {
    if (!dim) {
        at::Tensor flat = self.reshape({-1});
        return reduce(NPU_RED_ARGMAX, flat, 1, false, at::kLong);
    }
    uint64_t axes = self.dim() == 0 ? 0 : uint64_t{1} << at::maybe_wrap_dim(*dim, self.dim());
    return reduce(NPU_RED_ARGMAX, self, axes, keepdim, at::kLong);
}

// ---------------------------------------------------------------- softmax

at::Tensor softmax_impl(uint32_t fn, const at::Tensor& self, int64_t dim, bool half_to_float) {
    TORCH_CHECK(is_float(self.scalar_type()), "npu: softmax of ", self.scalar_type());
    c10::DeviceGuard guard(self.device());
    at::Tensor y = at::empty(self.sizes(),
                             self.options().dtype(half_to_float ? at::kFloat : self.scalar_type()));
    if (y.numel() == 0)
        return y;
    uint64_t axes = self.dim() == 0 ? 1 : uint64_t{1} << at::maybe_wrap_dim(dim, self.dim());
    launch(index_of(y), OpDesc::norm(fn, axes),
           {desc(self), TensorDesc{}, TensorDesc{}, TensorDesc{}, TensorDesc{}, desc(y)},
           {self.data_ptr(), nullptr, nullptr, nullptr, nullptr, y.data_ptr()});
    return y;
}

at::Tensor k_softmax(const at::Tensor& self, int64_t dim, bool half_to_float) {
    return softmax_impl(NPU_NORM_SOFTMAX, self, dim, half_to_float);
}
at::Tensor k_log_softmax(const at::Tensor& self, int64_t dim, bool half_to_float) {
    return softmax_impl(NPU_NORM_LOG_SOFTMAX, self, dim, half_to_float);
}

// dx = y * (dy - sum(dy * y))
at::Tensor k_softmax_backward(const at::Tensor& grad, const at::Tensor& y, int64_t dim,
                            at::ScalarType input_dtype) {
    at::Tensor gy = k_mul(grad, y);
    at::Tensor s = sum_dim(gy, at::IntArrayRef{dim}, true, c10::nullopt);
    at::Tensor r = k_mul(y, k_sub(grad, s, 1));
    return r.scalar_type() == input_dtype ? r : r.to(input_dtype);
}

// dx = dy - exp(y) * sum(dy)
at::Tensor k_log_softmax_backward(const at::Tensor& grad, const at::Tensor& y, int64_t dim,
                                at::ScalarType input_dtype) {
    at::Tensor s = sum_dim(grad, at::IntArrayRef{dim}, true, c10::nullopt);
    at::Tensor r = k_sub(grad, k_mul(k_unary(y, NPU_FN_EXP), s), 1);
    return r.scalar_type() == input_dtype ? r : r.to(input_dtype);
}

// ------------------------------------------------------------- batch norm

// Channel-broadcast descriptor of a per-channel 1-D tensor for x.
TensorDesc channel_desc(const at::Tensor& c, const at::Tensor& x) {
    std::vector<int64_t> strides(x.dim(), 0);
    strides[1] = c.stride(0);
    return TensorDesc::strided(to_dtype(c.scalar_type()), x.sizes().vec(), std::move(strides));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor>
k_native_batch_norm(const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                  const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& running_mean,
                  const c10::optional<at::Tensor>& running_var, bool training, double momentum,
                  double eps) {
    bool have_stats = running_mean && running_mean->defined() && running_var && running_var->defined();
    if (training || !have_stats || !is_float(input.scalar_type()) || input.dim() < 2) {
        // Training statistics: the CPU computes them (counted), the running
        // statistics are written back to the device.
        count_fallback("npu_cpu_path::native_batch_norm(training)");
        auto opt = [](const c10::optional<at::Tensor>& t) -> c10::optional<at::Tensor> {
            if (t && t->defined())
                return t->cpu();
            return c10::nullopt;
        };
        auto rm = opt(running_mean), rv = opt(running_var);
        auto [y, m, v] = at::native_batch_norm(input.cpu(), opt(weight), opt(bias), rm, rv,
                                               training, momentum, eps);
        if (rm)
            running_mean->copy_(*rm);
        if (rv)
            running_var->copy_(*rv);
        return {y.to(input.device()), m.to(input.device()), v.to(input.device())};
    }
    c10::DeviceGuard guard(input.device());
    auto type = input.scalar_type();
    int64_t channels = input.size(1);
    auto per_channel = [&](const c10::optional<at::Tensor>& t, double fill) {
        if (t && t->defined())
            return operand(*t, type, input.device());
        return at::full({channels}, fill, input.options());
    };
    at::Tensor w = per_channel(weight, 1), b = per_channel(bias, 0);
    at::Tensor m = operand(*running_mean, type, input.device()),
               v = operand(*running_var, type, input.device());
    at::Tensor y = at::empty(input.sizes(), input.options());
    if (y.numel() > 0)
        launch(index_of(y), OpDesc::norm(NPU_NORM_BATCH, 0, static_cast<float>(eps)),
               {desc(input), channel_desc(w, input), channel_desc(b, input), channel_desc(m, input),
                channel_desc(v, input), desc(y)},
               {input.data_ptr(), w.data_ptr(), b.data_ptr(), m.data_ptr(), v.data_ptr(),
                y.data_ptr()});
    return {y, at::empty({0}, input.options()), at::empty({0}, input.options())};
}

// -------------------------------------------------------------- fill, cat

at::Tensor& k_fill_(at::Tensor& self, const at::Scalar& value) {
    if (self.numel() == 0)
        return self;
    c10::DeviceGuard guard(self.device());
    if (!device_dtype(self.scalar_type())) {
        count_fallback("npu_cpu_path::fill_");
        self.copy_(at::full(self.sizes(), value, self.options().device(at::kCPU)));
        return self;
    }
    at::Tensor s = scalar_on(value, self.scalar_type(), self.device());
    launch(index_of(self), OpDesc::tensor_copy(), {desc_broadcast(s, self.sizes()), desc(self)},
           {s.data_ptr(), self.data_ptr()});
    return self;
}

at::Tensor& k_fill_tensor_(at::Tensor& self, const at::Tensor& value) {
    TORCH_CHECK(value.dim() == 0, "fill_ only supports 0-dimension value tensor");
    if (value.device().type() != kNpu)
        return k_fill_(self, value.item());
    at::Tensor v = value.scalar_type() == self.scalar_type() ? value : value.to(self.scalar_type());
    c10::DeviceGuard guard(self.device());
    device_copy(v.expand(self.sizes()), self);
    return self;
}

at::Tensor& k_zero_(at::Tensor& self) { return k_fill_(self, 0); }

at::Tensor k_cat(const at::ITensorListRef& list, int64_t dim) {
    auto tensors = list.materialize();
    std::vector<at::Tensor> parts;
    for (const at::Tensor& t : tensors)
        if (!(t.dim() == 1 && t.size(0) == 0))
            parts.push_back(t);
    TORCH_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
    if (parts.empty())
        return at::empty({0}, tensors[0].get().options());
    auto type = parts[0].scalar_type();
    for (auto& t : parts)
        type = at::promote_types(type, t.scalar_type());
    dim = at::maybe_wrap_dim(dim, parts[0].dim());
    auto shape = parts[0].sizes().vec();
    shape[dim] = 0;
    for (auto& t : parts) {
        TORCH_CHECK(t.dim() == parts[0].dim(), "npu cat: tensors must have the same rank");
        shape[dim] += t.size(dim);
    }
    c10::DeviceGuard guard(parts[0].device());
    at::Tensor out = at::empty(shape, parts[0].options().dtype(type));
    int64_t off = 0;
    for (auto& t : parts) {
        at::Tensor src = operand(t, type, out.device());
        device_copy(src, out.narrow(dim, off, t.size(dim)));
        off += t.size(dim);
    }
    return out;
}

// ----------------------------------------------------------------- nll loss

std::tuple<at::Tensor, at::Tensor> k_nll_loss_forward(const at::Tensor& self, const at::Tensor& target,
                                                    const c10::optional<at::Tensor>& weight,
                                                    int64_t reduction, int64_t ignore_index) {
    if ((weight && weight->defined()) || self.dim() != 2 || !is_float(self.scalar_type())) {
        count_fallback("npu_cpu_path::nll_loss_forward");
        auto [o, w] = at::nll_loss_forward(self.cpu(), target.cpu(), to_cpu(weight.value_or(at::Tensor())),
                                           reduction, ignore_index);
        return {o.to(self.device()), w.to(self.device())};
    }
    c10::DeviceGuard guard(self.device());
    auto dev = self.device();
    auto type = self.scalar_type();
    int64_t n = self.size(0);
    at::Tensor t = operand(target, at::kLong, dev).view({n, 1});
    at::Tensor ignored = binary(NPU_BIN_EQUAL, Kind::compare, t, at::scalar_tensor(ignore_index));
    at::Tensor idx = at::empty({n, 1}, t.options());
    select_into(ignored, scalar_on(0, at::kLong, dev), t, idx);
    at::Tensor picked = at::empty({n, 1}, self.options());
    if (n > 0) {
        launch(index_of(picked), OpDesc::gather(NPU_GATHER_ELEMENTS, 1),
               {desc(self), desc(idx), desc(picked)},
               {self.data_ptr(), idx.data_ptr(), picked.data_ptr()});
    }
    at::Tensor zero = scalar_on(0, type, dev);
    at::Tensor loss = at::empty({n, 1}, self.options());
    select_into(ignored, zero, k_unary(picked, NPU_FN_NEG), loss);
    at::Tensor counted = at::empty({n, 1}, self.options());
    select_into(ignored, zero, scalar_on(1, type, dev), counted);
    at::Tensor total = reduce(NPU_RED_SUM, counted, 3, false, type);
    if (reduction == at::Reduction::None)
        return {loss.view({n}), total};
    at::Tensor sum = reduce(NPU_RED_SUM, loss, 3, false, type);
    if (reduction == at::Reduction::Sum)
        return {sum, total};
    return {k_div(sum, total), total};
}

at::Tensor k_nll_loss_backward(const at::Tensor& grad_output, const at::Tensor& self,
                             const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                             int64_t reduction, int64_t ignore_index, const at::Tensor& total_weight) {
    if ((weight && weight->defined()) || self.dim() != 2 || !is_float(self.scalar_type())) {
        count_fallback("npu_cpu_path::nll_loss_backward");
        return at::nll_loss_backward(grad_output.cpu(), self.cpu(), target.cpu(),
                                     to_cpu(weight.value_or(at::Tensor())), reduction, ignore_index,
                                     total_weight.cpu())
            .to(self.device());
    }
    c10::DeviceGuard guard(self.device());
    auto dev = self.device();
    auto type = self.scalar_type();
    int64_t n = self.size(0), c = self.size(1);
    at::Tensor t = operand(target, at::kLong, dev).view({n, 1});
    at::Tensor classes = at::arange(c, at::TensorOptions().dtype(at::kLong)).view({1, c}).to(dev);
    at::Tensor hit = binary(NPU_BIN_EQUAL, Kind::compare, t, classes); // [n, c]
    at::Tensor kept = binary(NPU_BIN_EQUAL, Kind::compare, t, at::scalar_tensor(ignore_index));
    // -grad (per row for reduction none), divided by the total weight for mean.
    at::Tensor g = k_unary(operand(grad_output, type, dev), NPU_FN_NEG);
    if (reduction == at::Reduction::None)
        g = g.view({n, 1});
    else if (reduction == at::Reduction::Mean)
        g = k_div(g, operand(total_weight, type, dev));
    at::Tensor zero = scalar_on(0, type, dev);
    at::Tensor picked = at::empty({n, c}, self.options());
    select_into(hit, g, zero, picked);
    at::Tensor out = at::empty({n, c}, self.options());
    select_into(kept, zero, picked, out);
    return out;
}

// ------------------------------------------------------------- indexing
//
// at::native::cpu_fallback moves Tensor and Tensor[] arguments to the CPU
// but not Tensor?[] (the indices of index and index_put_): these two run
// on the CPU here, counted under their own names.

c10::List<c10::optional<at::Tensor>> indices_on_cpu(const c10::List<c10::optional<at::Tensor>>& in) {
    c10::List<c10::optional<at::Tensor>> out;
    for (const c10::optional<at::Tensor>& t : in)
        out.push_back(t && t->defined() ? c10::optional<at::Tensor>(t->cpu()) : c10::nullopt);
    return out;
}

at::Tensor index_tensor(const at::Tensor& self, const c10::List<c10::optional<at::Tensor>>& indices) {
    count_fallback("aten::index.Tensor");
    return at::index(self.cpu(), indices_on_cpu(indices)).to(self.device());
}

at::Tensor& index_put_(at::Tensor& self, const c10::List<c10::optional<at::Tensor>>& indices,
                       const at::Tensor& values, bool accumulate) {
    count_fallback("aten::index_put_");
    at::Tensor c = self.cpu();
    c.index_put_(indices_on_cpu(indices), values.cpu(), accumulate);
    self.copy_(c);
    return self;
}

} // namespace

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
    m.impl("index.Tensor", TORCH_FN(index_tensor));
    m.impl("index_put_", TORCH_FN(index_put_));
    m.impl("add.Tensor", TORCH_FN(k_add));
    m.impl("add_.Tensor", TORCH_FN(k_add_));
    m.impl("add.out", TORCH_FN(k_add_out));
    m.impl("sub.Tensor", TORCH_FN(k_sub));
    m.impl("sub_.Tensor", TORCH_FN(k_sub_));
    m.impl("sub.out", TORCH_FN(k_sub_out));
    m.impl("mul.Tensor", TORCH_FN(k_mul));
    m.impl("mul_.Tensor", TORCH_FN(k_mul_));
    m.impl("mul.out", TORCH_FN(k_mul_out));
    m.impl("div.Tensor", TORCH_FN(k_div));
    m.impl("div_.Tensor", TORCH_FN(k_div_));
    m.impl("div.out", TORCH_FN(k_div_out));
    m.impl("maximum", TORCH_FN(k_maximum));
    m.impl("minimum", TORCH_FN(k_minimum));
    m.impl("eq.Tensor", TORCH_FN(compare_t<NPU_BIN_EQUAL>));
    m.impl("lt.Tensor", TORCH_FN(compare_t<NPU_BIN_LESS>));
    m.impl("le.Tensor", TORCH_FN(compare_t<NPU_BIN_LESS_EQUAL>));
    m.impl("gt.Tensor", TORCH_FN(compare_t<NPU_BIN_GREATER>));
    m.impl("ge.Tensor", TORCH_FN(compare_t<NPU_BIN_GREATER_EQUAL>));
    m.impl("eq.Scalar", TORCH_FN(compare_s<NPU_BIN_EQUAL>));
    m.impl("lt.Scalar", TORCH_FN(compare_s<NPU_BIN_LESS>));
    m.impl("le.Scalar", TORCH_FN(compare_s<NPU_BIN_LESS_EQUAL>));
    m.impl("gt.Scalar", TORCH_FN(compare_s<NPU_BIN_GREATER>));
    m.impl("ge.Scalar", TORCH_FN(compare_s<NPU_BIN_GREATER_EQUAL>));
    m.impl("threshold_backward", TORCH_FN(k_threshold_backward));

    m.impl("relu", TORCH_FN(un<NPU_FN_RELU>));
    m.impl("relu_", TORCH_FN(un_<NPU_FN_RELU>));
    m.impl("sigmoid", TORCH_FN(un<NPU_FN_SIGMOID>));
    m.impl("sigmoid_", TORCH_FN(un_<NPU_FN_SIGMOID>));
    m.impl("tanh", TORCH_FN(un<NPU_FN_TANH>));
    m.impl("tanh_", TORCH_FN(un_<NPU_FN_TANH>));
    m.impl("silu", TORCH_FN(un<NPU_FN_SILU>));
    m.impl("silu_", TORCH_FN(un_<NPU_FN_SILU>));
    m.impl("hardswish", TORCH_FN(un<NPU_FN_HARD_SWISH>));
    m.impl("hardswish_", TORCH_FN(un_<NPU_FN_HARD_SWISH>));
    m.impl("hardsigmoid", TORCH_FN(k_hardsigmoid));
    m.impl("hardsigmoid_", TORCH_FN(k_hardsigmoid_));
    m.impl("exp", TORCH_FN(un<NPU_FN_EXP>));
    m.impl("exp_", TORCH_FN(un_<NPU_FN_EXP>));
    m.impl("log", TORCH_FN(un<NPU_FN_LOG>));
    m.impl("sqrt", TORCH_FN(un<NPU_FN_SQRT>));
    m.impl("rsqrt", TORCH_FN(un<NPU_FN_RSQRT>));
    m.impl("reciprocal", TORCH_FN(un<NPU_FN_RECIPROCAL>));
    m.impl("neg", TORCH_FN(un<NPU_FN_NEG>));
    m.impl("neg_", TORCH_FN(un_<NPU_FN_NEG>));
    m.impl("abs", TORCH_FN(un<NPU_FN_ABS>));
    m.impl("sin", TORCH_FN(un<NPU_FN_SIN>));
    m.impl("cos", TORCH_FN(un<NPU_FN_COS>));
    m.impl("erf", TORCH_FN(un<NPU_FN_ERF>));
    m.impl("floor", TORCH_FN(un<NPU_FN_FLOOR>));
    m.impl("ceil", TORCH_FN(un<NPU_FN_CEIL>));
    m.impl("gelu", TORCH_FN(k_gelu));
    m.impl("hardtanh", TORCH_FN(k_hardtanh));
    m.impl("hardtanh_", TORCH_FN(k_hardtanh_));
    m.impl("leaky_relu", TORCH_FN(k_leaky_relu));
    m.impl("leaky_relu_", TORCH_FN(k_leaky_relu_));
    m.impl("elu", TORCH_FN(k_elu));
    m.impl("sigmoid_backward", TORCH_FN(k_sigmoid_backward));
    m.impl("tanh_backward", TORCH_FN(k_tanh_backward));

    m.impl("mm", TORCH_FN(k_mm));
    m.impl("mm.out", TORCH_FN(k_mm_out));
    m.impl("addmm", TORCH_FN(k_addmm));
    m.impl("addmm.out", TORCH_FN(k_addmm_out));
    m.impl("bmm", TORCH_FN(k_bmm));
    m.impl("convolution_overrideable", TORCH_FN(k_convolution_overrideable));
    m.impl("convolution_backward_overrideable", TORCH_FN(k_convolution_backward_overrideable));
    m.impl("max_pool2d_with_indices", TORCH_FN(k_max_pool2d_with_indices));
    m.impl("avg_pool2d", TORCH_FN(k_avg_pool2d));

    m.impl("sum.dim_IntList", TORCH_FN(sum_dim));
    m.impl("mean.dim", TORCH_FN(mean_dim));
    m.impl("max.dim", TORCH_FN(max_dim));
    m.impl("min.dim", TORCH_FN(min_dim));
    m.impl("max", TORCH_FN(max_all));
    m.impl("min", TORCH_FN(min_all));
    m.impl("amax", TORCH_FN(k_amax));
    m.impl("argmax", TORCH_FN(k_argmax));
    m.impl("_softmax", TORCH_FN(k_softmax));
    m.impl("_log_softmax", TORCH_FN(k_log_softmax));
    m.impl("_softmax_backward_data", TORCH_FN(k_softmax_backward));
    m.impl("_log_softmax_backward_data", TORCH_FN(k_log_softmax_backward));
    m.impl("native_batch_norm", TORCH_FN(k_native_batch_norm));
    m.impl("nll_loss_forward", TORCH_FN(k_nll_loss_forward));
    m.impl("nll_loss_backward", TORCH_FN(k_nll_loss_backward));

    m.impl("fill_.Scalar", TORCH_FN(k_fill_));
    m.impl("fill_.Tensor", TORCH_FN(k_fill_tensor_));
    m.impl("zero_", TORCH_FN(k_zero_));
    m.impl("cat", TORCH_FN(k_cat));
}

} // namespace npu_torch
