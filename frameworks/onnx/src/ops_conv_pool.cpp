// Lowerings: Conv, ConvTranspose and the pools.
#include "lowering.hpp"

namespace npu_onnx {

void register_conv_pool_ops() {}

} // namespace npu_onnx
