// Lowerings: unary and binary element-wise operators.
#include "lowering.hpp"

namespace npu_onnx {

void register_elementwise_ops() {}

} // namespace npu_onnx
