// Compute kernels through libnpu's op API: plans cached by descriptor,
// launched on the tensor's device's current stream. Strided operands go
// into the TensorDesc as they are (the device takes strides).
#include "kernels.hpp"

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
    case at::kFloat:
        return DType::f32;
    case at::kHalf:
        return DType::f16;
    case at::kBFloat16:
        return DType::bf16;
    case at::kChar:
        return DType::i8;
    case at::kByte:
        return DType::u8;
    case at::kInt:
        return DType::i32;
    case at::kLong:
        return DType::i64;
    case at::kBool:
        return DType::boolean;
    default:
        return DType::none;
    }
}

bool device_dtype(at::ScalarType type) {
    return to_dtype(type) != DType::none;
}

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

const void* ptr(const at::Tensor& t) {
    return t.numel() == 0 ? nullptr : t.data_ptr();
}

bool is_float(at::ScalarType t) {
    return t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

at::Tensor to_cpu(const at::Tensor& t) {
    return t.defined() ? t.cpu() : t;
}

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
                  const at::Scalar& alpha) {
    auto type = binary_type(self, other, kind);
    auto dev = npu_device_of(self, other);
    c10::DeviceGuard guard(dev);
    if (!device_dtype(type)) {
        count_fallback("npu_cpu_path::binary");
        at::Tensor a = to_cpu(self), b = to_cpu(other);
        at::Tensor r;
        switch (fn) {
        case NPU_BIN_ADD:
            r = at::add(a, b, alpha);
            break;
        case NPU_BIN_SUB:
            r = at::sub(a, b, alpha);
            break;
        case NPU_BIN_MUL:
            r = at::mul(a, b);
            break;
        case NPU_BIN_DIV:
            r = at::div(a, b);
            break;
        case NPU_BIN_MAX:
            r = at::maximum(a, b);
            break;
        case NPU_BIN_MIN:
            r = at::minimum(a, b);
            break;
        case NPU_BIN_EQUAL:
            r = at::eq(a, b);
            break;
        case NPU_BIN_LESS:
            r = at::lt(a, b);
            break;
        case NPU_BIN_LESS_EQUAL:
            r = at::le(a, b);
            break;
        case NPU_BIN_GREATER:
            r = at::gt(a, b);
            break;
        case NPU_BIN_GREATER_EQUAL:
            r = at::ge(a, b);
            break;
        default:
            TORCH_CHECK(false, "npu: binary function ", fn, " of ", type);
        }
        return r.to(dev);
    }
    at::Tensor a = operand(self, type, dev),
               b = scaled(operand(other, type, dev), alpha, type, dev);
    auto shape = at::infer_size(self.sizes(), other.sizes());
    at::Tensor out = at::empty(
        shape, at::TensorOptions().dtype(kind == Kind::compare ? at::kBool : type).device(dev));
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
at::Tensor& k_add_out(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha,
                      at::Tensor& out) {
    return binary_out(NPU_BIN_ADD, Kind::arith, a, b, alpha, out);
}
at::Tensor k_sub(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary(NPU_BIN_SUB, Kind::arith, a, b, alpha);
}
at::Tensor& k_sub_(at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha) {
    return binary_inplace(NPU_BIN_SUB, Kind::arith, a, b, alpha);
}
at::Tensor& k_sub_out(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha,
                      at::Tensor& out) {
    return binary_out(NPU_BIN_SUB, Kind::arith, a, b, alpha, out);
}
at::Tensor k_mul(const at::Tensor& a, const at::Tensor& b) {
    return binary(NPU_BIN_MUL, Kind::arith, a, b);
}
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

// a != b: not (a == b).
at::Tensor not_bool(const at::Tensor& t) {
    unary_into(t, t, NPU_FN_NOT, 0, 0);
    return t;
}
at::Tensor ne_t(const at::Tensor& a, const at::Tensor& b) {
    at::Tensor eq = binary(NPU_BIN_EQUAL, Kind::compare, a, b); // bool, on the device
    return eq.numel() > 0 ? not_bool(eq) : eq;
}
at::Tensor ne_s(const at::Tensor& a, const at::Scalar& b) {
    return ne_t(a, at::scalar_tensor(b));
}

// Bitwise and/or: logical on booleans, bitwise on integers.
template <uint32_t Logical, uint32_t Bitwise>
at::Tensor bitwise(const at::Tensor& a, const at::Tensor& b) {
    auto type = at::result_type(a, b);
    if (type != at::kBool && !at::isIntegralType(type, false)) {
        count_fallback("npu_cpu_path::bitwise");
        at::Tensor r = Logical == NPU_BIN_AND ? at::bitwise_and(a.cpu(), b.cpu())
                                              : at::bitwise_or(a.cpu(), b.cpu());
        return r.to(npu_device_of(a, b));
    }
    auto dev = npu_device_of(a, b);
    c10::DeviceGuard guard(dev);
    at::Tensor out = at::empty(at::infer_size(a.sizes(), b.sizes()),
                               at::TensorOptions().dtype(type).device(dev));
    binary_into(type == at::kBool ? Logical : Bitwise, operand(a, type, dev), operand(b, type, dev),
                out);
    return out;
}

at::Tensor logical_not(const at::Tensor& self) {
    c10::DeviceGuard guard(self.device());
    at::Tensor b = self.scalar_type() == at::kBool ? self.clone() : self.to(at::kBool);
    return b.numel() > 0 ? not_bool(b) : b;
}

// addcmul: self + value * t1 * t2; addcdiv: self + value * t1 / t2 (the
// optimizers' updates).
at::Tensor addc(uint32_t fn, const at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                const at::Scalar& value) {
    at::Tensor prod = binary(fn, fn == NPU_BIN_DIV ? Kind::true_div : Kind::arith, t1, t2);
    return binary(NPU_BIN_ADD, Kind::arith, self, prod, value);
}
at::Tensor k_addcmul(const at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                     const at::Scalar& value) {
    return addc(NPU_BIN_MUL, self, t1, t2, value);
}
at::Tensor k_addcdiv(const at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                     const at::Scalar& value) {
    return addc(NPU_BIN_DIV, self, t1, t2, value);
}
at::Tensor& k_addcmul_(at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                       const at::Scalar& value) {
    at::Tensor prod = binary(NPU_BIN_MUL, Kind::arith, t1, t2);
    return binary_inplace(NPU_BIN_ADD, Kind::arith, self, prod, value);
}
at::Tensor& k_addcdiv_(at::Tensor& self, const at::Tensor& t1, const at::Tensor& t2,
                       const at::Scalar& value) {
    at::Tensor quot = binary(NPU_BIN_DIV, Kind::true_div, t1, t2);
    return binary_inplace(NPU_BIN_ADD, Kind::arith, self, quot, value);
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
    case NPU_FN_RELU:
        r = at::relu(c);
        break;
    case NPU_FN_SIGMOID:
        r = at::sigmoid(c);
        break;
    case NPU_FN_TANH:
        r = at::tanh(c);
        break;
    case NPU_FN_EXP:
        r = at::exp(c);
        break;
    case NPU_FN_LOG:
        r = at::log(c);
        break;
    case NPU_FN_SQRT:
        r = at::sqrt(c);
        break;
    case NPU_FN_RSQRT:
        r = at::rsqrt(c);
        break;
    case NPU_FN_RECIPROCAL:
        r = at::reciprocal(c);
        break;
    case NPU_FN_NEG:
        r = at::neg(c);
        break;
    case NPU_FN_ABS:
        r = at::abs(c);
        break;
    case NPU_FN_SIN:
        r = at::sin(c);
        break;
    case NPU_FN_COS:
        r = at::cos(c);
        break;
    case NPU_FN_ERF:
        r = at::erf(c);
        break;
    case NPU_FN_FLOOR:
        r = at::floor(c);
        break;
    case NPU_FN_CEIL:
        r = at::ceil(c);
        break;
    case NPU_FN_SILU:
        r = at::silu(c);
        break;
    case NPU_FN_HARD_SWISH:
        r = at::hardswish(c);
        break;
    default:
        TORCH_CHECK(false, "npu: unary function ", fn, " on ", self.scalar_type(),
                    " has no device kernel");
    }
    return r.to(self.device());
}

at::Tensor k_unary(const at::Tensor& self, uint32_t fn, float alpha, float beta) {
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
at::Tensor& k_sqrt_(at::Tensor& self) {
    return unary_(self, NPU_FN_SQRT);
}

template <uint32_t Fn>
at::Tensor& un_(at::Tensor& self) {
    return unary_(self, Fn);
}

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
    at::Tensor one_minus =
        binary(NPU_BIN_SUB, Kind::arith, at::scalar_tensor(1, y.scalar_type()), y);
    return k_mul(k_mul(grad, y), one_minus);
}
at::Tensor k_tanh_backward(const at::Tensor& grad, const at::Tensor& y) {
    at::Tensor one_minus =
        binary(NPU_BIN_SUB, Kind::arith, at::scalar_tensor(1, y.scalar_type()), k_mul(y, y));
    return k_mul(grad, one_minus);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
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
    m.impl("ne.Tensor", TORCH_FN(ne_t));
    m.impl("ne.Scalar", TORCH_FN(ne_s));
    m.impl("logical_not", TORCH_FN(logical_not));
    m.impl("bitwise_and.Tensor", TORCH_FN((bitwise<NPU_BIN_AND, NPU_BIN_BITWISE_AND>)));
    m.impl("bitwise_or.Tensor", TORCH_FN((bitwise<NPU_BIN_OR, NPU_BIN_BITWISE_OR>)));
    m.impl("addcmul", TORCH_FN(k_addcmul));
    m.impl("addcmul_", TORCH_FN(k_addcmul_));
    m.impl("addcdiv", TORCH_FN(k_addcdiv));
    m.impl("addcdiv_", TORCH_FN(k_addcdiv_));
    m.impl("sqrt_", TORCH_FN(k_sqrt_));

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
}

} // namespace npu_torch
