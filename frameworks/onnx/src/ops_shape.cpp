// Lowerings: metadata and shape arithmetic.
#include "lowering.hpp"

namespace npu_onnx {

void register_shape_ops() {}

} // namespace npu_onnx
