// Neural-network kernels through libnpu's op API: GEMM, convolution,
// pooling, reductions, softmax, batch norm, fill/cat, NLL loss, indexing.
#include "kernels.hpp"

#include <ATen/ExpandUtils.h>
#include <ATen/native/Pool.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/irange.h>
#include <torch/library.h>

#include <cstring>

namespace npu_torch {

using npu::ops::DType;
using npu::ops::OpDesc;
using npu::ops::TensorDesc;

namespace {

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
        launch(index_of(y), OpDesc::gemm(alpha.toFloat(), 1),
               {desc(a), desc(b), TensorDesc{}, desc(y)},
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
    std::vector<int64_t> shape{input.size(0),
                               transposed ? weight.size(1) * groups : weight.size(0)};
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
    launch(
        index_of(y), op, {desc(input), desc(weight), b.defined() ? desc(b) : TensorDesc{}, desc(y)},
        {input.data_ptr(), weight.data_ptr(), b.defined() ? b.data_ptr() : nullptr, y.data_ptr()});
    return y;
}

// The gradient of a direct convolution on the device: the input's is the
// transposed convolution of the output's gradient with the same weights,
// the bias's a sum, and (groups == 1) the weights' a convolution of the
// input with the output's gradient, batch and channels swapped (stride and
// dilation swap too), cropped to the kernel. Transposed convolutions, the
// weights of grouped ones, and what the device cannot plan go to the CPU
// (counted).
at::Tensor sum_dim(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                   c10::optional<at::ScalarType> dtype);

std::tuple<at::Tensor, at::Tensor, at::Tensor>
conv_backward_on_cpu(const at::Tensor& grad_output, const at::Tensor& input,
                     const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
                     at::IntArrayRef dilation, bool transposed, at::IntArrayRef output_padding,
                     int64_t groups, std::array<bool, 3> mask) {
    count_fallback("convolution_backward_overrideable");
    auto dev = input.device();
    auto [gi, gw, gb] = at::convolution_backward(
        grad_output.cpu(), input.cpu(), weight.cpu(), at::OptionalIntArrayRef(weight.sizes()),
        stride, padding, dilation, transposed, output_padding, groups, mask);
    auto back = [&](const at::Tensor& t) { return t.defined() ? t.to(dev) : t; };
    return {back(gi), back(gw), back(gb)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> k_convolution_backward_overrideable(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool transposed,
    at::IntArrayRef output_padding, int64_t groups, std::array<bool, 3> mask) {
    if (transposed || !is_float(input.scalar_type()))
        return conv_backward_on_cpu(grad_output, input, weight, stride, padding, dilation,
                                    transposed, output_padding, groups, mask);
    size_t spatial = input.dim() - 2;
    auto st = param3(stride, spatial, 1, 1), pad = param3(padding, spatial, 0, 0),
         dil = param3(dilation, spatial, 1, 1);
    std::vector<int64_t> s(st.begin(), st.begin() + spatial), p(pad.begin(), pad.begin() + spatial),
        d(dil.begin(), dil.begin() + spatial);
    c10::DeviceGuard guard(input.device());
    at::Tensor gi, gw, gb;
    if (mask[0]) {
        std::vector<int64_t> extra;
        for (size_t i = 0; i < spatial; ++i) {
            int64_t k = weight.size(2 + i), out = grad_output.size(2 + i);
            extra.push_back(input.size(2 + i) - ((out - 1) * s[i] - 2 * p[i] + d[i] * (k - 1) + 1));
        }
        gi = k_convolution_overrideable(grad_output, weight, c10::nullopt, s, p, d, true, extra,
                                        groups);
    }
    if (mask[2]) {
        std::vector<int64_t> dims{0};
        for (size_t i = 0; i < spatial; ++i)
            dims.push_back(2 + static_cast<int64_t>(i));
        gb = sum_dim(grad_output, dims, false, c10::nullopt);
    }
    if (mask[1]) {
        bool done = false;
        if (groups == 1) {
            try {
                at::Tensor full =
                    k_convolution_overrideable(input.transpose(0, 1), grad_output.transpose(0, 1),
                                               c10::nullopt, d, p, s, false, {}, 1);
                at::Tensor crop = full;
                for (size_t i = 0; i < spatial; ++i)
                    crop = crop.narrow(2 + i, 0, weight.size(2 + i));
                gw = at::empty(weight.sizes(), weight.options());
                device_copy(crop.transpose(0, 1), gw);
                done = true;
            } catch (const c10::Error&) {
                // Beyond what the device plans (a very large window): the CPU.
            }
        }
        if (!done)
            gw = std::get<1>(conv_backward_on_cpu(grad_output, input, weight, stride, padding,
                                                  dilation, false, output_padding, groups,
                                                  {false, true, false}));
    }
    return {gi, gw, gb};
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

std::tuple<at::Tensor, at::Tensor>
k_max_pool2d_with_indices(const at::Tensor& self, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
    TORCH_CHECK(is_float(self.scalar_type()), "npu: max_pool2d of ", self.scalar_type());
    c10::DeviceGuard guard(self.device());
    auto g = pool_geometry(self, kernel, stride, padding, dilation, ceil_mode);
    at::Tensor y = at::empty(g.out_shape, self.options());
    at::Tensor idx = at::empty(g.out_shape, self.options().dtype(at::kLong));
    if (y.numel() > 0) {
        launch(index_of(y), pool_op(NPU_POOL_MAX, g), {desc(g.x), desc(y), desc(idx)},
               {g.x.data_ptr(), y.data_ptr(), idx.data_ptr()});
        // The device's indices count over [N, C, H, W]; PyTorch's within a plane.
        binary_into(NPU_BIN_MOD, idx,
                    scalar_on(g.x.size(2) * g.x.size(3), at::kLong, self.device()), idx);
    }
    if (!g.batched)
        return {y.squeeze(0), idx.squeeze(0)};
    return {y, idx};
}

at::Tensor& k_fill_(at::Tensor& self, const at::Scalar& value);

// Max pooling's gradient for non-overlapping windows (kernel == stride, no
// padding or dilation: every input element lies in at most one window):
// each element of a window receives the window's gradient where its
// position is the window's argmax. Other windows go to the CPU (counted):
// they need a scatter-add the device has no operation for.
at::Tensor k_max_pool2d_with_indices_backward(const at::Tensor& grad, const at::Tensor& self,
                                              at::IntArrayRef kernel, at::IntArrayRef stride,
                                              at::IntArrayRef padding, at::IntArrayRef dilation,
                                              bool ceil_mode, const at::Tensor& indices) {
    auto g = pool_geometry(self, kernel, stride, padding, dilation, ceil_mode);
    int64_t h = g.x.size(2), w = g.x.size(3), oh = g.out_shape[2], ow = g.out_shape[3];
    bool simple = is_float(self.scalar_type()) && g.k[0] == g.s[0] && g.k[1] == g.s[1] &&
                  g.p[0] == 0 && g.p[1] == 0 && g.d[0] == 1 && g.d[1] == 1 && oh * g.k[0] <= h &&
                  ow * g.k[1] <= w;
    if (!simple) {
        count_fallback("aten::max_pool2d_with_indices_backward");
        return at::max_pool2d_with_indices_backward(grad.cpu(), self.cpu(), kernel, stride, padding,
                                                    dilation, ceil_mode, indices.cpu())
            .to(self.device());
    }
    c10::DeviceGuard guard(self.device());
    int64_t kh = g.k[0], kw = g.k[1], n = g.x.size(0), c = g.x.size(1);
    at::Tensor gi = at::empty({n, c, h, w}, grad.options());
    k_fill_(gi, 0);
    at::Tensor g4 = g.batched ? grad : grad.unsqueeze(0);
    at::Tensor i4 = g.batched ? indices : indices.unsqueeze(0);
    // The windows' part of the gradient as [N, C, OH, kh, OW, kw].
    at::Tensor region = gi.as_strided({n, c, oh, kh, ow, kw}, {c * h * w, h * w, kh * w, w, kw, 1},
                                      gi.storage_offset());
    // Each element's flat position in its plane.
    at::Tensor pos =
        (at::arange(oh * kh).view({oh, kh, 1, 1}) * w + at::arange(ow * kw).view({1, 1, ow, kw}))
            .to(self.device());
    at::Tensor hit = binary(NPU_BIN_EQUAL, Kind::compare, i4.unsqueeze(3).unsqueeze(5),
                            pos); // [N,C,OH,kh,OW,kw]
    select_into(hit, g4.unsqueeze(3).unsqueeze(5), scalar_on(0, grad.scalar_type(), self.device()),
                region);
    return g.batched ? gi : gi.squeeze(0);
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
    case NPU_RED_SUM:
        r = at::sum(c, dims, true, out_type);
        break;
    case NPU_RED_MEAN:
        r = at::mean(c, dims, true, out_type);
        break;
    case NPU_RED_MAX:
        r = at::amax(c, dims, true);
        break;
    case NPU_RED_MIN:
        r = at::amin(c, dims, true);
        break;
    case NPU_RED_ARGMAX:
        r = dims.empty() ? at::zeros({}, c.options().dtype(at::kLong))
                         : at::argmax(c, dims[0], true);
        break;
    case NPU_RED_ARGMIN:
        r = dims.empty() ? at::zeros({}, c.options().dtype(at::kLong))
                         : at::argmin(c, dims[0], true);
        break;
    default:
        TORCH_CHECK(false, "npu: reduction ", fn, " of ", x.scalar_type());
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
    auto type = dtype                                          ? *dtype
                : at::isIntegralType(self.scalar_type(), true) ? at::kLong
                                                               : self.scalar_type();
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
    TORCH_CHECK(self.numel() > 0,
                "max(): Expected reduction dim to be specified for input.numel() == 0.");
    return reduce(NPU_RED_MAX, self, axes_of(self, {}), false, self.scalar_type());
}

at::Tensor min_all(const at::Tensor& self) {
    TORCH_CHECK(self.numel() > 0,
                "min(): Expected reduction dim to be specified for input.numel() == 0.");
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

std::tuple<at::Tensor, at::Tensor, at::Tensor> k_native_batch_norm(
    const at::Tensor& input, const c10::optional<at::Tensor>& weight,
    const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& running_mean,
    const c10::optional<at::Tensor>& running_var, bool training, double momentum, double eps) {
    bool have_stats =
        running_mean && running_mean->defined() && running_var && running_var->defined();
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

at::Tensor& k_zero_(at::Tensor& self) {
    return k_fill_(self, 0);
}

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

std::tuple<at::Tensor, at::Tensor> k_nll_loss_forward(const at::Tensor& self,
                                                      const at::Tensor& target,
                                                      const c10::optional<at::Tensor>& weight,
                                                      int64_t reduction, int64_t ignore_index) {
    if ((weight && weight->defined()) || self.dim() != 2 || !is_float(self.scalar_type())) {
        count_fallback("npu_cpu_path::nll_loss_forward");
        auto [o, w] =
            at::nll_loss_forward(self.cpu(), target.cpu(), to_cpu(weight.value_or(at::Tensor())),
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
                               int64_t reduction, int64_t ignore_index,
                               const at::Tensor& total_weight) {
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

c10::List<c10::optional<at::Tensor>>
indices_on_cpu(const c10::List<c10::optional<at::Tensor>>& in) {
    c10::List<c10::optional<at::Tensor>> out;
    for (const c10::optional<at::Tensor>& t : in)
        out.push_back(t && t->defined() ? c10::optional<at::Tensor>(t->cpu()) : c10::nullopt);
    return out;
}

at::Tensor index_tensor(const at::Tensor& self,
                        const c10::List<c10::optional<at::Tensor>>& indices) {
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
    m.impl("mm", TORCH_FN(k_mm));
    m.impl("mm.out", TORCH_FN(k_mm_out));
    m.impl("addmm", TORCH_FN(k_addmm));
    m.impl("addmm.out", TORCH_FN(k_addmm_out));
    m.impl("bmm", TORCH_FN(k_bmm));
    m.impl("convolution_overrideable", TORCH_FN(k_convolution_overrideable));
    m.impl("convolution_backward_overrideable", TORCH_FN(k_convolution_backward_overrideable));
    m.impl("max_pool2d_with_indices", TORCH_FN(k_max_pool2d_with_indices));
    m.impl("avg_pool2d", TORCH_FN(k_avg_pool2d));
    m.impl("max_pool2d_with_indices_backward", TORCH_FN(k_max_pool2d_with_indices_backward));
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
