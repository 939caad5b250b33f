// The registry of lowerings: op type (default domain) to function. Each
// ops_*.cpp registers its operators in one register_*_ops().
#include "lowering.hpp"

#include <map>
#include <mutex>

namespace npu_onnx {

void register_shape_ops();       // ops_shape.cpp: metadata and shape arithmetic
void register_elementwise_ops(); // ops_elementwise.cpp: unary, binary, select, clip
void register_matmul_ops();      // ops_matmul.cpp: MatMul, Gemm
void register_conv_pool_ops();   // ops_conv_pool.cpp: Conv, ConvTranspose, pools
void register_reduce_norm_ops(); // ops_reduce_norm.cpp: reductions, softmax, norms
void register_tensor_ops();      // ops_tensor.cpp: layout, copy, gather, cast
void register_sampling_ops();    // ops_sampling.cpp: Resize, GridSample, RoiAlign

namespace {

std::map<std::string, Lowering>& registry() {
    static std::map<std::string, Lowering> table;
    return table;
}

void register_all() {
    register_shape_ops();
    register_elementwise_ops();
    register_matmul_ops();
    register_conv_pool_ops();
    register_reduce_norm_ops();
    register_tensor_ops();
    register_sampling_ops();
}

} // namespace

void add_lowering(const std::string& op_type, Lowering fn) {
    registry()[op_type] = fn;
}

Lowering find_lowering(const std::string& op_type) {
    static std::once_flag once;
    std::call_once(once, register_all);
    auto it = registry().find(op_type);
    return it == registry().end() ? nullptr : it->second;
}

Operand Builder::whole(int value) const {
    const ValueInfo& v = info(value);
    return Operand{value, TensorDesc::contiguous(v.dtype, v.shape), 0};
}

void Builder::unsupported(const std::string& reason) const {
    throw Unsupported(reason);
}

} // namespace npu_onnx
