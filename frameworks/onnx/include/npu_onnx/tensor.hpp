// Host tensors of npu-onnx: elements in host memory, row-major contiguous.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <npu/ops.hpp>

namespace onnx {
class TensorProto;
}

namespace npu_onnx {

using npu::ops::DType;

// Elements known while planning (or a run's inputs and outputs),
// row-major contiguous, little-endian.
struct HostTensor {
    DType dtype = DType::none;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    [[nodiscard]] int64_t elements() const;
    // Every element converted (integers, bool and floats alike).
    [[nodiscard]] std::vector<int64_t> to_int64() const;
    [[nodiscard]] std::vector<double> to_double() const;
    // Built from values, stored as dtype.
    [[nodiscard]] static HostTensor from_int64(DType dtype, std::vector<int64_t> shape,
                                               std::span<const int64_t> values);
    [[nodiscard]] static HostTensor from_double(DType dtype, std::vector<int64_t> shape,
                                                std::span<const double> values);
    // An ONNX TensorProto (raw_data or typed fields); throws Unsupported
    // for element types the device has no dtype for.
    [[nodiscard]] static HostTensor from_proto(const onnx::TensorProto& proto);
    // The ONNX TensorProto (raw_data).
    void to_proto(onnx::TensorProto& proto) const;
};

// ONNX TensorProto element type to the device's dtype (DType::none when
// there is none: double, strings, ...) and back.
[[nodiscard]] DType dtype_from_onnx(int32_t elem_type);
[[nodiscard]] int32_t dtype_to_onnx(DType dtype);
// "float", "int64", ... for an ONNX element type.
[[nodiscard]] const char* onnx_type_name(int32_t elem_type);

// f16 / bf16 bits to float and back (round to nearest even).
[[nodiscard]] float half_to_float(uint16_t h);
[[nodiscard]] uint16_t float_to_half(float f);
[[nodiscard]] float bf16_to_float(uint16_t h);
[[nodiscard]] uint16_t float_to_bf16(float f);

} // namespace npu_onnx
