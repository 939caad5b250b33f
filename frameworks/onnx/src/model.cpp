// Model: parsing, checking, and the graph's declared inputs and outputs.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <set>
#include <sstream>

#include "npu_onnx/runner.hpp"

namespace npu_onnx {

namespace {

ValueSpec spec_of(const onnx::ValueInfoProto& v) {
    ValueSpec s;
    s.name = v.name();
    if (v.type().has_tensor_type()) {
        const auto& tt = v.type().tensor_type();
        s.elem_type = tt.elem_type();
        if (tt.has_shape()) {
            s.has_shape = true;
            for (const auto& d : tt.shape().dim())
                s.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
        }
    }
    return s;
}

} // namespace

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::from_bytes(const std::string& bytes, const std::string& what) {
    Model m;
    m.proto_ = std::make_unique<onnx::ModelProto>();
    if (!m.proto_->ParseFromString(bytes))
        throw ModelError(what + ": not an ONNX model (protobuf parse failed)");
    try {
        onnx::checker::check_model(*m.proto_);
    } catch (const std::exception& e) {
        throw ModelError(what + ": check_model: " + e.what());
    }
    for (const auto& op : m.proto_->opset_import())
        if (op.domain().empty() || op.domain() == "ai.onnx")
            m.opset_ = op.version();
    const auto& g = m.proto_->graph();
    std::set<std::string> initializers;
    for (const auto& t : g.initializer())
        initializers.insert(t.name());
    for (const auto& v : g.input())
        if (!initializers.count(v.name()))
            m.inputs_.push_back(spec_of(v));
    for (const auto& v : g.output())
        m.outputs_.push_back(spec_of(v));
    return m;
}

Model Model::load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw ModelError("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return from_bytes(ss.str(), path);
}

UnsupportedError::UnsupportedError(std::vector<UnsupportedNode> list)
    : std::runtime_error([&] {
          std::string s;
          for (const auto& n : list) {
              if (!s.empty())
                  s += "; ";
              s += "unsupported node " + n.name + " (" + n.op_type + "): " + n.reason;
          }
          return s;
      }()),
      nodes(std::move(list)) {}

} // namespace npu_onnx
