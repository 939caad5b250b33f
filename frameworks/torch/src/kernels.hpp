// Element-wise building blocks kernels.cpp defines and the other kernel
// files (kernels_nn.cpp) compose: operands moved to the device, binary and
// unary functions into a given output, select.
#pragma once

#include "common.hpp"

namespace npu_torch {

// nullptr for an empty tensor (the op API takes none), else its data.
const void* ptr(const at::Tensor& t);
bool is_float(at::ScalarType t);
// A CPU computation standing in for a device kernel (a dtype or a variant
// the device does not take): counted with the boxed fallback's counts.
at::Tensor to_cpu(const at::Tensor& t);
// t as a device tensor of type on dev (host scalars and tensors copied).
at::Tensor operand(const at::Tensor& t, at::ScalarType type, const at::Device& dev);

// out = fn(a, b) with broadcasting, NPU_BIN_* codes.
void binary_into(uint32_t fn, const at::Tensor& a, const at::Tensor& b, const at::Tensor& out);
// out = cond ? a : b.
void select_into(const at::Tensor& cond, const at::Tensor& a, const at::Tensor& b,
                 const at::Tensor& out);
// y = fn(x) with NPU_FN_* codes and their parameters.
void unary_into(const at::Tensor& x, const at::Tensor& y, uint32_t fn, float alpha, float beta);

// How a binary function's result type follows its operands'.
enum class Kind { arith, true_div, compare };
at::Tensor binary(uint32_t fn, Kind kind, const at::Tensor& self, const at::Tensor& other,
                  const at::Scalar& alpha = 1);
at::Tensor k_sub(const at::Tensor& a, const at::Tensor& b, const at::Scalar& alpha);
at::Tensor k_mul(const at::Tensor& a, const at::Tensor& b);
at::Tensor k_div(const at::Tensor& a, const at::Tensor& b);
at::Tensor k_unary(const at::Tensor& self, uint32_t fn, float alpha = 0, float beta = 0);

} // namespace npu_torch
