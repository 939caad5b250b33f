// View kernels: metadata only, on the device's storage. (A boxed CPU
// fallback cannot serve views: it would return a copy.)
#include "common.hpp"

#include <ATen/native/Resize.h>
#include <ATen/native/TensorShape.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/view_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

namespace npu_torch {
namespace {

at::Tensor view(const at::Tensor& self, at::IntArrayRef size) { return at::native::view(self, size); }

at::Tensor as_strided(const at::Tensor& self, at::IntArrayRef size, at::IntArrayRef stride,
                      c10::optional<int64_t> storage_offset) {
    return at::native::as_strided_tensorimpl(self, size, stride, storage_offset);
}

at::Tensor reshape_alias(const at::Tensor& self, at::IntArrayRef size, at::IntArrayRef stride) {
    return at::native::_reshape_alias(self, size, stride);
}

// Grows the storage with a new device block (the old bytes copied by the
// device, in stream order) when the new shape needs more.
const at::Tensor& resize_(const at::Tensor& self, at::IntArrayRef size,
                          c10::optional<at::MemoryFormat> memory_format) {
    auto* impl = self.unsafeGetTensorImpl();
    impl->set_sizes_contiguous(size);
    if (memory_format)
        impl->empty_tensor_restride(*memory_format);
    size_t needed = 0;
    if (self.numel() > 0)
        needed = (impl->storage_offset() + at::detail::computeStorageNbytes(
                                               size, impl->strides(), self.itemsize()) /
                                               self.itemsize()) *
                 self.itemsize();
    auto storage = impl->unsafe_storage();
    if (needed > storage.nbytes()) {
        c10::DeviceGuard guard(self.device());
        at::DataPtr fresh = storage.allocator()->allocate(needed);
        if (storage.nbytes() > 0 && storage.data() != nullptr)
            current_stream(index_of(self)).memcpy(fresh.get(), storage.data(), storage.nbytes());
        storage.set_data_ptr_noswap(std::move(fresh));
        storage.set_nbytes(needed);
    }
    return self;
}

} // namespace

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
    m.impl("view", TORCH_FN(view));
    m.impl("as_strided", TORCH_FN(as_strided));
    m.impl("_reshape_alias", TORCH_FN(reshape_alias));
    m.impl("resize_", TORCH_FN(resize_));
}

} // namespace npu_torch
