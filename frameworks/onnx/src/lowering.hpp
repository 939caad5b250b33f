// How one ONNX node becomes device work: the interface between the
// planner (model.cpp, planner.cpp) and the per-operator lowerings
// (ops_*.cpp). A lowering reads its node's inputs (dtype, shape, and the
// elements when they are known while planning), defines its outputs and
// emits device operations of the op API (npu/ops.hpp) on whole values or
// strided views of them. It runs once per plan, never per inference.
//
// Values are the graph's tensors, named by integer ids. A value is one of
//   - a device value: memory the planner allocates (liveness-based reuse);
//   - a constant: elements known while planning (initializers, Constant
//     nodes, shape arithmetic); uploaded once if a device op reads it;
//   - an alias: another value's memory seen with a new shape (Reshape,
//     Flatten, Squeeze, Identity, ...): no copy, no work.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <npu/ops.hpp>

#include "npu_onnx/tensor.hpp"

namespace onnx {
class NodeProto;
class TensorProto;
} // namespace onnx

namespace npu_onnx {

using npu::ops::DType;
using npu::ops::OpDesc;
using npu::ops::TensorDesc;

// A node the device cannot run, and why (reported per node).
struct Unsupported : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// HostTensor (elements known while planning) and dtype_from_onnx() are in
// the public npu_onnx/tensor.hpp.

// A value as a lowering sees it.
struct ValueInfo {
    DType dtype = DType::none;
    std::vector<int64_t> shape;
    const HostTensor* constant = nullptr; // elements, when known while planning
};

// What a device operation reads or writes: a view of a value.
struct Operand {
    int value = -1;     // value id; -1 = an absent optional operand
    TensorDesc desc;    // dtype, shape and strides (elements) of the view
    int64_t offset = 0; // in elements, from the value's first element
};

class Builder {
public:
    virtual ~Builder() = default;

    [[nodiscard]] virtual const onnx::NodeProto& node() const = 0;
    // The model's opset version for the default ("" / "ai.onnx") domain.
    [[nodiscard]] virtual int64_t opset() const = 0;

    // Inputs as the node lists them; an empty name is an absent optional
    // input (has_input false).
    [[nodiscard]] virtual size_t input_count() const = 0;
    [[nodiscard]] virtual bool has_input(size_t i) const = 0;
    [[nodiscard]] virtual int input_id(size_t i) const = 0;
    [[nodiscard]] virtual const ValueInfo& input(size_t i) const = 0;
    [[nodiscard]] virtual size_t output_count() const = 0;
    [[nodiscard]] virtual bool has_output(size_t i) const = 0;

    // Attributes, with defaults for absent ones.
    [[nodiscard]] virtual bool has_attr(const char* name) const = 0;
    [[nodiscard]] virtual int64_t attr_int(const char* name, int64_t def) const = 0;
    [[nodiscard]] virtual float attr_float(const char* name, float def) const = 0;
    [[nodiscard]] virtual std::string attr_string(const char* name, std::string def) const = 0;
    [[nodiscard]] virtual std::vector<int64_t> attr_ints(const char* name,
                                                         std::vector<int64_t> def) const = 0;
    [[nodiscard]] virtual std::vector<float> attr_floats(const char* name,
                                                         std::vector<float> def) const = 0;
    // nullptr when absent.
    [[nodiscard]] virtual const onnx::TensorProto* attr_tensor(const char* name) const = 0;

    // Output i is computed on the device; returns its value id.
    virtual int define_output(size_t i, DType dtype, std::vector<int64_t> shape) = 0;
    // Output i is known now (shape and metadata arithmetic, on the host).
    virtual void define_output_constant(size_t i, HostTensor value) = 0;
    // Output i is input j's memory (or its constant) seen as shape, whose
    // element count must equal the input's.
    virtual void define_output_alias(size_t i, size_t j, std::vector<int64_t> shape) = 0;

    // Scratch device memory for a multi-operation lowering, live from its
    // first to its last use in this node.
    virtual int temporary(DType dtype, std::vector<int64_t> shape) = 0;
    // Device memory holding elements computed while planning (weights
    // rearranged once, broadcast constants, ...); uploaded once.
    virtual int device_constant(HostTensor value) = 0;
    // The value's dtype and shape (any id: inputs, outputs, temporaries).
    [[nodiscard]] virtual const ValueInfo& info(int value) const = 0;

    // Appends one device operation; operands in the op API's order
    // (ops.hpp's table), absent optional ones as Operand{}. Constants used
    // here are uploaded by the planner. Throws Unsupported when the op API
    // refuses the operation (Plan::check's reason).
    virtual void emit(const OpDesc& op, std::vector<Operand> operands) = 0;

    // The whole value as a row-major contiguous operand.
    [[nodiscard]] Operand whole(int value) const;
    [[noreturn]] void unsupported(const std::string& reason) const;
};

// Lowers one node or throws Unsupported.
using Lowering = void (*)(Builder&);

// The lowering of an op type of the default domain, or nullptr.
[[nodiscard]] Lowering find_lowering(const std::string& op_type);

// Host folding (ops_shape.cpp): when every input of the node is a constant
// and the op is small shape arithmetic (Add, Mul, Gather, Concat, Cast,
// Slice, ... on integer tensors), defines its outputs as constants and
// returns true; else leaves the node alone and returns false. The planner
// tries it before the op type's lowering.
bool fold_on_host(Builder& b);

// Registration: each ops_*.cpp has one register_*_ops() that calls add();
// lowering.cpp's registry calls them all.
void add_lowering(const std::string& op_type, Lowering fn);

} // namespace npu_onnx
