// Factories and copies in every direction (host <-> device through the
// stream's memcpy, device <-> device through TENSOR_COPY / CAST).
#include "common.hpp"

#include <ATen/EmptyTensor.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

namespace npu_torch {

namespace {

c10::Allocator* allocator() { return c10::GetAllocator(kNpu); }

at::Tensor empty_memory_format(at::IntArrayRef size, c10::optional<at::ScalarType> dtype,
                               c10::optional<at::Layout> layout,
                               c10::optional<at::Device> dev, c10::optional<bool> pin_memory,
                               c10::optional<at::MemoryFormat> memory_format) {
    c10::OptionalDeviceGuard guard(dev);
    return at::detail::empty_generic(size, allocator(), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                     c10::dtype_or_default(dtype), memory_format);
}

at::Tensor empty_strided(at::IntArrayRef size, at::IntArrayRef stride,
                         c10::optional<at::ScalarType> dtype, c10::optional<at::Layout> layout,
                         c10::optional<at::Device> dev, c10::optional<bool> pin_memory) {
    c10::OptionalDeviceGuard guard(dev);
    return at::detail::empty_strided_generic(size, stride, allocator(),
                                             c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                             c10::dtype_or_default(dtype));
}

// A CPU tensor aliasing device memory (valid on the host: shared virtual
// addressing). Only after the device's work on it is synchronized.
at::Tensor host_alias(const at::Tensor& t) {
    return at::from_blob(t.data_ptr(), t.sizes(), t.strides(),
                         at::TensorOptions().dtype(t.scalar_type()).device(at::kCPU));
}

// Same-sized integer dtype for a bit-exact copy of a dtype the device
// does not compute in.
npu::ops::DType bits_dtype(at::ScalarType type) {
    switch (c10::elementSize(type)) {
    case 1: return npu::ops::DType::u8;
    case 2: return npu::ops::DType::f16;
    case 4: return npu::ops::DType::i32;
    case 8: return npu::ops::DType::i64;
    default: return npu::ops::DType::none;
    }
}

void host_to_device(const at::Tensor& src, const at::Tensor& dst) {
    if (dst.numel() == 0)
        return;
    auto& st = stream_of(dst);
    at::Tensor tmp = src.to(dst.scalar_type()).contiguous();
    if (dst.is_contiguous()) {
        st.memcpy(dst.data_ptr(), tmp.data_ptr(), tmp.nbytes());
        return;
    }
    at::Tensor stage = at::empty(dst.sizes(), dst.options());
    st.memcpy(stage.data_ptr(), tmp.data_ptr(), tmp.nbytes());
    device_copy(stage, dst);
}

void device_to_host(const at::Tensor& src, const at::Tensor& dst) {
    if (src.numel() == 0)
        return;
    c10::DeviceGuard guard(src.device());
    auto& st = stream_of(src);
    at::Tensor s = src;
    if (!s.is_contiguous()) {
        s = at::empty(src.sizes(), src.options());
        device_copy(src, s);
    }
    if (dst.is_contiguous() && dst.scalar_type() == s.scalar_type()) {
        st.memcpy(dst.data_ptr(), s.data_ptr(), s.nbytes());
        st.synchronize();
        return;
    }
    at::Tensor tmp = at::empty(s.sizes(), s.options().device(at::kCPU));
    st.memcpy(tmp.data_ptr(), s.data_ptr(), s.nbytes());
    st.synchronize();
    dst.copy_(tmp);
}

} // namespace

void device_copy(const at::Tensor& src, const at::Tensor& dst) {
    TORCH_CHECK(src.sizes() == dst.sizes(), "npu copy: shapes differ");
    if (dst.numel() == 0)
        return;
    int dev = index_of(dst);
    if (index_of(src) != dev)
        current_stream(index_of(src)).synchronize(); // the source's producers are done
    c10::DeviceGuard guard(dst.device());
    auto& st = current_stream(dev);
    if (src.scalar_type() == dst.scalar_type()) {
        if (src.is_contiguous() && dst.is_contiguous()) {
            if (src.data_ptr() != dst.data_ptr())
                st.memcpy(dst.data_ptr(), src.data_ptr(), dst.nbytes());
            return;
        }
        auto dt = device_dtype(dst.scalar_type()) ? to_dtype(dst.scalar_type())
                                                  : bits_dtype(dst.scalar_type());
        if (dt != npu::ops::DType::none) {
            auto a = desc(src), b = desc(dst);
            a.dtype = b.dtype = dt;
            launch(dev, npu::ops::OpDesc::tensor_copy(), {a, b}, {src.data_ptr(), dst.data_ptr()});
            return;
        }
    } else if (device_dtype(src.scalar_type()) && device_dtype(dst.scalar_type())) {
        launch(dev, npu::ops::OpDesc::cast(), {desc(src), desc(dst)},
               {src.data_ptr(), dst.data_ptr()});
        return;
    }
    // A dtype the device has no operation for (double, complex, ...): on
    // the host, over the shared addresses, once the device is idle.
    st.synchronize();
    host_alias(dst).copy_(host_alias(src));
}

namespace {

at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool non_blocking) {
    bool src_dev = self.device().type() == kNpu;
    bool dst_dev = dst.device().type() == kNpu;
    if (src_dev && dst_dev)
        device_copy(self, dst);
    else if (dst_dev)
        host_to_device(self, dst);
    else if (src_dev)
        device_to_host(self, dst);
    else
        dst.copy_(self);
    return dst;
}

at::Tensor copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
    if (dst.sizes() != self.sizes())
        dst.resize_(self.sizes());
    return copy_from(self, dst, false);
}

at::Tensor& copy_(at::Tensor& self, const at::Tensor& src, bool non_blocking) {
    if (self.is_same(src))
        return self;
    at::Tensor s = src.sizes() == self.sizes() ? src : src.expand(self.sizes());
    copy_from(s, self, non_blocking);
    return self;
}

at::Scalar local_scalar_dense(const at::Tensor& self) {
    at::Tensor host = at::empty({}, self.options().device(at::kCPU));
    device_to_host(self, host);
    return host.item();
}

} // namespace

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
    m.impl("empty.memory_format", TORCH_FN(empty_memory_format));
    m.impl("empty_strided", TORCH_FN(empty_strided));
    m.impl("_copy_from", TORCH_FN(copy_from));
    m.impl("_copy_from_and_resize", TORCH_FN(copy_from_and_resize));
    m.impl("copy_", TORCH_FN(copy_));
    m.impl("_local_scalar_dense", TORCH_FN(local_scalar_dense));
}

} // namespace npu_torch
