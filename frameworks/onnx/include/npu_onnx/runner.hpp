// npu-onnx: runs ONNX models on the NPU through libnpu's public API.
//
//   npu_onnx::Model model = npu_onnx::Model::load("model.onnx"); // parse + check_model
//   npu_onnx::Session session(device, model, {{"x", x.shape}}); // lower, plan, allocate, capture
//   std::vector<npu_onnx::HostTensor> y = session.run({{"x", x}});
//
// A Session is built for concrete input shapes: every node is lowered once
// (ops_*.cpp, lowering.hpp), which defines its outputs' shapes (shape
// propagation), every device operation is planned once (npu::ops::Plan),
// device memory is one arena laid out by liveness (planner.hpp), constants
// are uploaded once, and the whole run is captured as an npu::Graph that
// run() replays. docs/onnx.md describes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <npu/device.hpp>
#include <npu/ops.hpp>

#include "npu_onnx/tensor.hpp"

namespace onnx {
class ModelProto;
}

namespace npu_onnx {

// A model that could not be loaded or checked, or inputs that do not fit it.
struct ModelError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One node the NPU cannot run, and why.
struct UnsupportedNode {
    std::string name; // the node's name, or "#index" when it has none
    std::string op_type;
    std::string reason;
    std::vector<std::string> inputs; // the node's input names
};

// The model has nodes the NPU cannot run (every one found is listed).
struct UnsupportedError : std::runtime_error {
    explicit UnsupportedError(std::vector<UnsupportedNode> nodes);
    std::vector<UnsupportedNode> nodes;
};

// A graph input or output as the model declares it.
struct ValueSpec {
    std::string name;
    int32_t elem_type = 0;     // onnx::TensorProto_DataType
    std::vector<int64_t> dims; // -1 for symbolic or unknown dimensions
    bool has_shape = false;
};

class Model {
public:
    // Parses and checks (onnx::checker::check_model); throws ModelError.
    [[nodiscard]] static Model load(const std::string& path);
    [[nodiscard]] static Model from_bytes(const std::string& bytes, const std::string& what);
    ~Model();
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;

    [[nodiscard]] const onnx::ModelProto& proto() const { return *proto_; }
    // Inputs the caller feeds (initializers that are also inputs excluded).
    [[nodiscard]] const std::vector<ValueSpec>& inputs() const { return inputs_; }
    [[nodiscard]] const std::vector<ValueSpec>& outputs() const { return outputs_; }
    // Opset of the default domain.
    [[nodiscard]] int64_t opset() const { return opset_; }

private:
    Model() = default;
    std::unique_ptr<onnx::ModelProto> proto_;
    std::vector<ValueSpec> inputs_, outputs_;
    int64_t opset_ = 0;
};

// Where a node ran.
enum class Placement { host, device };

struct NodeReport {
    std::string name;
    std::string op_type;
    Placement placement = Placement::host;
    size_t operations = 0; // device operations emitted
};

struct MemoryReport {
    size_t arena_bytes = 0;    // device memory for inputs, intermediates, outputs, temporaries
    size_t unshared_bytes = 0; // what they would take without reuse
    size_t constant_bytes = 0; // constants uploaded once
    size_t buffers = 0;        // device values placed in the arena
};

struct OutputInfo {
    std::string name;
    DType dtype = DType::none;
    std::vector<int64_t> shape;
    bool constant = false; // known while planning (no device work)
};

struct NodeTime {
    std::string name;
    std::string op_type;
    std::chrono::nanoseconds device_time{0};
};

class Session {
public:
    // Lowers and plans model for these input shapes (by input name; inputs
    // left out keep their declared shape, which must then be concrete).
    // Throws UnsupportedError, ModelError, npu::Error.
    //
    // constant_inputs: inputs whose values are fixed while planning
    // (shape-carrying inputs such as Reshape's shape): they become
    // constants, their shape is the tensor's, and run() checks that it is
    // given the same values (ModelError otherwise). Nodes whose inputs
    // are such values are never folded on the host.
    Session(const npu::Device& device, const Model& model,
            const std::map<std::string, std::vector<int64_t>>& input_shapes,
            const std::map<std::string, HostTensor>& constant_inputs = {});
    // Planning only, against given capabilities (no device, no memory, no
    // graph): shapes, placement and the memory layout; run() throws.
    Session(const npu::ops::DeviceOps& caps, const Model& model,
            const std::map<std::string, std::vector<int64_t>>& input_shapes,
            const std::map<std::string, HostTensor>& constant_inputs = {});
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;

    // Runs once: inputs by name (all of inputs()), outputs in the model's order.
    [[nodiscard]] std::vector<HostTensor> run(const std::map<std::string, HostTensor>& inputs);
    // Runs the operations one by one (no graph) with events around each
    // node's work: device time per node, in node order (device nodes only).
    [[nodiscard]] std::vector<NodeTime> profile(const std::map<std::string, HostTensor>& inputs);

    [[nodiscard]] const std::vector<NodeReport>& nodes() const;
    // The graph outputs' dtypes and shapes, in the model's order.
    [[nodiscard]] const std::vector<OutputInfo>& outputs() const;
    [[nodiscard]] MemoryReport memory() const;
    [[nodiscard]] size_t operation_count() const;
    // The input shapes the session was planned for.
    [[nodiscard]] const std::map<std::string, std::vector<int64_t>>& input_shapes() const;
    // The inputs planned as constants (names).
    [[nodiscard]] std::vector<std::string> constant_inputs() const;

    struct Impl; // opaque (session.cpp)
    friend bool session_fits(const Session& session,
                             const std::map<std::string, HostTensor>& inputs);

private:
    std::unique_ptr<Impl> impl_;
};

// A session for these inputs: planned with every input on the device
// first; if nodes are unsupported and some of their direct inputs are small
// graph inputs (at most 64 elements: shapes, axes, pads, scales, clip
// bounds, ...), planned again with those as constant inputs, until no such
// input is left. True to the run-time semantics as long as run() is given
// the same values for them (it checks).
[[nodiscard]] Session make_session(const npu::Device& device, const Model& model,
                                   const std::map<std::string, HostTensor>& inputs);
// The same against capabilities only (planning, no device).
[[nodiscard]] Session make_session(const npu::ops::DeviceOps& caps, const Model& model,
                                   const std::map<std::string, HostTensor>& inputs);
// Whether session can run these inputs (shapes and constant input values match).
[[nodiscard]] bool session_fits(const Session& session,
                                const std::map<std::string, HostTensor>& inputs);

// The TensorProto file (.pb) or NumPy file (.npy) at path.
[[nodiscard]] HostTensor read_tensor_file(const std::string& path, std::string* name = nullptr);
// Writes a TensorProto (.pb, raw_data) or, for a path ending in .npy, NumPy.
void write_tensor_file(const std::string& path, const HostTensor& tensor, const std::string& name);

} // namespace npu_onnx
