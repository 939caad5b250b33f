// Lowerings: MatMul and Gemm.
#include "lowering.hpp"

namespace npu_onnx {

void register_matmul_ops() {}

} // namespace npu_onnx
