// A small ONNX model builder over the protobuf API, for the host and VM
// suites of npu-onnx.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "npu_onnx/runner.hpp"

namespace npu_onnx_test {

using npu_onnx::Model;

struct ModelBuilder {
    onnx::ModelProto m;
    onnx::GraphProto* g;
    explicit ModelBuilder(int64_t opset = 13) {
        m.set_ir_version(7);
        auto* op = m.add_opset_import();
        op->set_domain("");
        op->set_version(opset);
        g = m.mutable_graph();
        g->set_name("g");
    }
    static void set_type(onnx::ValueInfoProto* v, const std::string& name, int32_t elem,
                         const std::vector<int64_t>& dims) {
        v->set_name(name);
        auto* tt = v->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem);
        auto* sh = tt->mutable_shape();
        for (int64_t d : dims) {
            auto* dim = sh->add_dim();
            if (d < 0)
                dim->set_dim_param("N");
            else
                dim->set_dim_value(d);
        }
    }
    ModelBuilder& input(const std::string& name, std::vector<int64_t> dims,
                        int32_t elem = onnx::TensorProto_DataType_FLOAT) {
        set_type(g->add_input(), name, elem, dims);
        return *this;
    }
    ModelBuilder& output(const std::string& name, std::vector<int64_t> dims = {},
                         int32_t elem = onnx::TensorProto_DataType_FLOAT) {
        auto* v = g->add_output();
        v->set_name(name);
        auto* tt = v->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem);
        auto* sh = tt->mutable_shape(); // check_model wants one; extents unknown
        for (size_t i = 0; i < dims.size(); i++)
            sh->add_dim();
        return *this;
    }
    ModelBuilder& int64_initializer(const std::string& name, std::vector<int64_t> values) {
        auto* t = g->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto_DataType_INT64);
        t->add_dims(static_cast<int64_t>(values.size()));
        for (int64_t v : values)
            t->add_int64_data(v);
        return *this;
    }
    onnx::NodeProto* node(const std::string& op, std::vector<std::string> in,
                          std::vector<std::string> out, const std::string& name = "") {
        auto* n = g->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (auto& s : in)
            n->add_input(s);
        for (auto& s : out)
            n->add_output(s);
        return n;
    }
    Model build() const { return Model::from_bytes(m.SerializeAsString(), "test model"); }
};

} // namespace npu_onnx_test
