// Output comparison as the ONNX backend test runner does it:
// |got - expected| <= atol + rtol * |expected| for floats (NaN matches NaN,
// infinities match themselves), exact equality for integers and bool.
#pragma once

#include <cstddef>
#include <string>

#include "npu_onnx/tensor.hpp"

namespace npu_onnx {

struct Comparison {
    bool ok = true;
    std::string message;      // the first mismatch, or why the tensors cannot match
    double max_abs_error = 0; // over all elements (floats; integers: 0 or the largest difference)
    size_t mismatches = 0;
};

inline constexpr double default_rtol = 1e-3;
inline constexpr double default_atol = 1e-7;

[[nodiscard]] Comparison compare(const HostTensor& got, const HostTensor& expected,
                                 double rtol = default_rtol, double atol = default_atol);

} // namespace npu_onnx
