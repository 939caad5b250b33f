// Lowerings: layout, copies, gathers and casts.
#include "lowering.hpp"

namespace npu_onnx {

void register_tensor_ops() {}

} // namespace npu_onnx
