// Lowerings: reductions, softmax and normalisations.
#include "lowering.hpp"

namespace npu_onnx {

void register_reduce_norm_ops() {}

} // namespace npu_onnx
