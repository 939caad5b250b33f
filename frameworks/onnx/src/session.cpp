// Session: lowering, planning, memory and the captured graph.
//
// 1. Values. Every tensor name of the graph is a value: a device value
//    (graph inputs fed by the caller, node outputs computed on the device,
//    temporaries), a constant (initializers, Constant nodes, folded shape
//    arithmetic) or an alias (a device value's memory seen with another
//    shape: Reshape, Flatten, Squeeze, Identity...).
// 2. Lowering. Nodes are visited in the graph's (topological) order; each
//    is lowered once by its op type's lowering (lowering.hpp), which
//    defines its outputs (this is the shape propagation: concrete shapes
//    from the caller's input shapes) and emits device operations, each
//    checked and planned at once (npu::ops::Plan). A node that emits
//    nothing ran on the host (metadata); one whose lowering throws
//    Unsupported is reported with the reason, and so is every such node
//    (nodes downstream of one are not reported again).
// 3. Memory. Constants read by operations are uploaded once into a
//    constant buffer. Device values are laid out in one arena by liveness
//    (arena.hpp): an alias extends its base value's interval.
// 4. Graph. Every operation is launched once on the session's stream under
//    capture; the graph is instantiated once and each run() is: copy the
//    inputs into their arena slots (stream memcpy from the caller's host
//    memory), launch the graph (one CALL packet), copy the outputs out,
//    synchronize. The arena never moves, so no pointer is updated.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <npu/error.hpp>
#include <npu/event.hpp>
#include <npu/graph.hpp>
#include <npu/memory.hpp>
#include <npu/stream.hpp>

#include "arena.hpp"
#include "lowering.hpp"
#include "npu_onnx/runner.hpp"

namespace npu_onnx {

namespace {

enum class ValueKind { device, constant, alias };

struct Value {
    std::string name;
    ValueKind kind = ValueKind::device;
    ValueInfo info;
    std::unique_ptr<HostTensor> host; // constants
    int root = -1;                    // device values and aliases: the value owning the memory
    bool upload = false;              // a constant some operation reads
    bool specialized = false;         // a graph input fixed while planning
    // Liveness (device roots): operation indices.
    int64_t first = std::numeric_limits<int64_t>::max();
    int64_t last = std::numeric_limits<int64_t>::min();
    size_t offset = 0; // in the arena (device roots) or the constant buffer (uploads)
};

struct Operation {
    int node = 0;
    npu::ops::OpDesc desc;
    std::vector<Operand> operands;
    std::optional<npu::ops::Plan> plan;
};

size_t value_bytes(const ValueInfo& v) {
    uint64_t n = 1;
    for (int64_t d : v.shape)
        n *= static_cast<uint64_t>(d);
    return static_cast<size_t>(n) * npu::ops::dtype_size(v.dtype);
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); i++)
        s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

} // namespace

struct Session::Impl {
    npu::ops::DeviceOps caps;
    std::optional<npu::Device> device;
    std::optional<npu::Stream> stream;
    std::deque<Value> values;
    std::map<std::string, int> by_name;
    std::map<std::string, std::string> unavailable; // name -> why
    std::vector<Operation> ops;
    std::vector<NodeReport> node_reports;
    std::vector<std::pair<std::string, std::string>> labels; // per node index: name, op type
    std::vector<OutputInfo> output_infos;
    std::vector<int> output_ids;
    std::vector<std::pair<std::string, int>> input_ids; // fed inputs
    std::map<std::string, std::vector<int64_t>> shapes;
    std::map<std::string, HostTensor> baked; // constant inputs
    int64_t opset = 0;
    MemoryReport mem;
    void* arena = nullptr;
    void* constants = nullptr;
    std::optional<npu::GraphExec> exec;

    ~Impl() {
        if (stream) {
            try {
                stream->synchronize();
            } catch (...) {
            }
        }
        exec.reset();
        if (arena)
            npu::free(arena);
        if (constants)
            npu::free(constants);
    }

    int add_value(Value v) {
        values.push_back(std::move(v));
        int id = static_cast<int>(values.size()) - 1;
        Value& nv = values.back();
        if (nv.kind == ValueKind::device)
            nv.root = id;
        if (nv.host)
            nv.info.constant = nv.host.get();
        return id;
    }

    int add_constant(std::string name, HostTensor t) {
        Value v;
        v.name = std::move(name);
        v.kind = ValueKind::constant;
        v.info.dtype = t.dtype;
        v.info.shape = t.shape;
        v.host = std::make_unique<HostTensor>(std::move(t));
        return add_value(std::move(v));
    }

    void use(int id, int64_t op) {
        Value& v = values.at(static_cast<size_t>(id));
        if (v.kind == ValueKind::constant) {
            v.upload = true;
            return;
        }
        Value& r = values.at(static_cast<size_t>(v.root));
        r.first = std::min(r.first, op);
        r.last = std::max(r.last, op);
    }

    void build(const Model& model, const std::map<std::string, std::vector<int64_t>>& input_shapes,
               const std::map<std::string, HostTensor>& constant_inputs);
    void lower_node(const onnx::NodeProto& node, int index);
    void allocate();
    void capture();
    void launch_all(npu::Stream& s, std::vector<npu::Event>* events);
    void* address(const Operand& o) const;
    void feed(const std::map<std::string, HostTensor>& inputs);
    std::vector<HostTensor> fetch();
};

namespace {

class NodeBuilder final : public Builder {
public:
    NodeBuilder(Session::Impl& s, const onnx::NodeProto& node, int index)
        : s_(s), node_(node), index_(index) {
        for (const auto& name : node.input())
            inputs_.push_back(name.empty() ? -1 : s.by_name.at(name));
        outputs_.assign(static_cast<size_t>(node.output_size()), -1);
        for (const auto& a : node.attribute())
            attrs_[a.name()] = &a;
    }

    const onnx::NodeProto& node() const override { return node_; }
    int64_t opset() const override { return s_.opset; }
    size_t input_count() const override { return inputs_.size(); }
    bool has_input(size_t i) const override { return i < inputs_.size() && inputs_[i] >= 0; }
    int input_id(size_t i) const override {
        if (!has_input(i))
            throw Unsupported("input " + std::to_string(i) + " is absent");
        return inputs_[i];
    }
    const ValueInfo& input(size_t i) const override { return info(input_id(i)); }
    size_t output_count() const override { return outputs_.size(); }
    bool has_output(size_t i) const override {
        return i < outputs_.size() && !node_.output(static_cast<int>(i)).empty();
    }

    const onnx::AttributeProto* attr(const char* name) const {
        auto it = attrs_.find(name);
        return it == attrs_.end() ? nullptr : it->second;
    }
    bool has_attr(const char* name) const override { return attr(name) != nullptr; }
    int64_t attr_int(const char* name, int64_t def) const override {
        const auto* a = attr(name);
        return a ? a->i() : def;
    }
    float attr_float(const char* name, float def) const override {
        const auto* a = attr(name);
        return a ? a->f() : def;
    }
    std::string attr_string(const char* name, std::string def) const override {
        const auto* a = attr(name);
        return a ? a->s() : def;
    }
    std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> def) const override {
        const auto* a = attr(name);
        return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
    }
    std::vector<float> attr_floats(const char* name, std::vector<float> def) const override {
        const auto* a = attr(name);
        return a ? std::vector<float>(a->floats().begin(), a->floats().end()) : def;
    }
    const onnx::TensorProto* attr_tensor(const char* name) const override {
        const auto* a = attr(name);
        return a && a->has_t() ? &a->t() : nullptr;
    }

    void check_output(size_t i) const {
        if (i >= outputs_.size())
            throw std::logic_error("lowering defines output " + std::to_string(i) +
                                   " of a node with " + std::to_string(outputs_.size()));
        if (outputs_[i] >= 0)
            throw std::logic_error("lowering defines output " + std::to_string(i) + " twice");
    }
    static void check_shape(const std::vector<int64_t>& shape) {
        for (int64_t d : shape)
            if (d < 0)
                throw Unsupported("output shape " + shape_str(shape) + " has a negative extent");
    }

    int define_output(size_t i, DType dtype, std::vector<int64_t> shape) override {
        check_output(i);
        check_shape(shape);
        Value v;
        v.name = has_output(i) ? node_.output(static_cast<int>(i)) : std::string();
        v.kind = ValueKind::device;
        v.info.dtype = dtype;
        v.info.shape = std::move(shape);
        outputs_[i] = s_.add_value(std::move(v));
        created_.push_back(outputs_[i]);
        return outputs_[i];
    }
    void define_output_constant(size_t i, HostTensor value) override {
        check_output(i);
        check_shape(value.shape);
        outputs_[i] = s_.add_constant(has_output(i) ? node_.output(static_cast<int>(i)) : "",
                                      std::move(value));
        created_.push_back(outputs_[i]);
    }
    void define_output_alias(size_t i, size_t j, std::vector<int64_t> shape) override {
        check_output(i);
        check_shape(shape);
        const Value& in = s_.values.at(static_cast<size_t>(input_id(j)));
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        if (static_cast<uint64_t>(n) !=
            TensorDesc::contiguous(in.info.dtype, in.info.shape).elements())
            throw Unsupported("alias shape " + shape_str(shape) + " does not hold the " +
                              shape_str(in.info.shape) + " input's elements");
        std::string name = has_output(i) ? node_.output(static_cast<int>(i)) : std::string();
        if (in.kind == ValueKind::constant) {
            HostTensor t = *in.host;
            t.shape = std::move(shape);
            outputs_[i] = s_.add_constant(name, std::move(t));
        } else {
            Value v;
            v.name = name;
            v.kind = ValueKind::alias;
            v.root = in.root;
            v.info.dtype = in.info.dtype;
            v.info.shape = std::move(shape);
            outputs_[i] = s_.add_value(std::move(v));
        }
        created_.push_back(outputs_[i]);
    }
    int temporary(DType dtype, std::vector<int64_t> shape) override {
        check_shape(shape);
        Value v;
        v.kind = ValueKind::device;
        v.info.dtype = dtype;
        v.info.shape = std::move(shape);
        int id = s_.add_value(std::move(v));
        created_.push_back(id);
        return id;
    }
    int device_constant(HostTensor value) override {
        int id = s_.add_constant("", std::move(value));
        created_.push_back(id);
        return id;
    }
    const ValueInfo& info(int value) const override {
        if (value < 0 || static_cast<size_t>(value) >= s_.values.size())
            throw std::logic_error("no value " + std::to_string(value));
        return s_.values[static_cast<size_t>(value)].info;
    }

    void emit(const OpDesc& op, std::vector<Operand> operands) override {
        std::vector<TensorDesc> descs;
        descs.reserve(operands.size());
        for (const Operand& o : operands) {
            if (o.value < 0) {
                descs.emplace_back();
                continue;
            }
            (void)info(o.value);
            descs.push_back(o.desc);
        }
        std::string why = npu::ops::Plan::check(s_.caps, op, descs);
        if (!why.empty())
            throw Unsupported(std::string(npu::ops::op_kind_name(op.kind)) + ": " + why);
        Operation rec;
        rec.node = index_;
        rec.desc = op;
        rec.plan.emplace(s_.caps, op, descs);
        rec.operands = std::move(operands);
        s_.ops.push_back(std::move(rec));
    }

    // Undo what a failed lowering added.
    void rollback(size_t ops_before) {
        s_.ops.resize(ops_before);
        // Values are never removed (ids stay valid); those made here stay
        // unnamed and unused.
        for (int id : created_) {
            Value& v = s_.values[static_cast<size_t>(id)];
            v.name.clear();
            v.upload = false;
        }
    }

    // Publishes the outputs by name once the lowering succeeded.
    void commit() {
        for (size_t i = 0; i < outputs_.size(); i++)
            if (has_output(i) && outputs_[i] < 0)
                throw Unsupported("the lowering left output " + std::to_string(i) + " undefined");
        for (size_t i = 0; i < outputs_.size(); i++)
            if (has_output(i))
                s_.by_name[node_.output(static_cast<int>(i))] = outputs_[i];
    }

private:
    Session::Impl& s_;
    const onnx::NodeProto& node_;
    int index_;
    std::vector<int> inputs_;
    std::vector<int> outputs_;
    std::vector<int> created_;
    std::map<std::string, const onnx::AttributeProto*> attrs_;
};

std::string node_label(const onnx::NodeProto& node, int index) {
    return node.name().empty() ? "#" + std::to_string(index) : node.name();
}

} // namespace

void Session::Impl::lower_node(const onnx::NodeProto& node, int index) {
    NodeReport report{node_label(node, index), node.op_type(), Placement::host, 0};
    size_t ops_before = ops.size();
    NodeBuilder b(*this, node, index);
    try {
        if (!node.domain().empty() && node.domain() != "ai.onnx")
            throw Unsupported("domain '" + node.domain() + "' is not supported");
        bool specialized = false;
        for (size_t i = 0; i < b.input_count(); i++)
            if (b.has_input(i) && values[static_cast<size_t>(b.input_id(i))].specialized)
                specialized = true;
        if (specialized || !fold_on_host(b)) {
            Lowering fn = find_lowering(node.op_type());
            if (!fn)
                throw Unsupported("no lowering for " + node.op_type());
            fn(b);
        }
        b.commit();
    } catch (const Unsupported&) {
        b.rollback(ops_before);
        throw;
    } catch (const npu::Error& e) {
        b.rollback(ops_before);
        throw Unsupported(e.what());
    } catch (const std::invalid_argument& e) {
        b.rollback(ops_before);
        throw Unsupported(e.what());
    }
    report.operations = ops.size() - ops_before;
    report.placement = report.operations ? Placement::device : Placement::host;
    node_reports.push_back(std::move(report));
}

void Session::Impl::build(const Model& model,
                          const std::map<std::string, std::vector<int64_t>>& input_shapes,
                          const std::map<std::string, HostTensor>& constant_inputs) {
    const onnx::GraphProto& g = model.proto().graph();
    opset = model.opset();
    std::vector<UnsupportedNode> failures;

    std::map<std::string, const onnx::TensorProto*> inits;
    for (const auto& t : g.initializer())
        inits[t.name()] = &t;
    auto add_initializer = [&](const onnx::TensorProto& t) {
        try {
            by_name[t.name()] = add_constant(t.name(), HostTensor::from_proto(t));
        } catch (const Unsupported& e) {
            unavailable[t.name()] = std::string("initializer ") + t.name() + ": " + e.what();
        }
    };
    std::set<std::string> graph_inputs;
    for (const auto& in : g.input()) {
        graph_inputs.insert(in.name());
        if (auto c = constant_inputs.find(in.name()); c != constant_inputs.end()) {
            int id = add_constant(in.name(), c->second);
            values.back().specialized = true;
            by_name[in.name()] = id;
            baked[in.name()] = c->second;
            shapes[in.name()] = c->second.shape;
            continue;
        }
        auto init = inits.find(in.name());
        auto given = input_shapes.find(in.name());
        if (init != inits.end() && given == input_shapes.end()) {
            add_initializer(*init->second);
            continue;
        }
        if (!in.type().has_tensor_type()) {
            unavailable[in.name()] = "input " + in.name() + " is not a tensor";
            failures.push_back({in.name(), "(input)", "not a tensor (sequence, map, ...)", {}});
            continue;
        }
        const auto& tt = in.type().tensor_type();
        DType dtype = dtype_from_onnx(tt.elem_type());
        if (dtype == DType::none) {
            std::string why = std::string("element type ") + onnx_type_name(tt.elem_type()) +
                              " has no device dtype";
            unavailable[in.name()] = "input " + in.name() + ": " + why;
            failures.push_back({in.name(), "(input)", why, {}});
            continue;
        }
        std::vector<int64_t> shape;
        if (given != input_shapes.end()) {
            shape = given->second;
        } else {
            if (!tt.has_shape())
                throw ModelError("input " + in.name() + " has no declared shape; give one");
            for (const auto& d : tt.shape().dim()) {
                if (!d.has_dim_value())
                    throw ModelError("input " + in.name() +
                                     " has a symbolic dimension; give its shape");
                shape.push_back(d.dim_value());
            }
        }
        Value v;
        v.name = in.name();
        v.kind = ValueKind::device;
        v.info.dtype = dtype;
        v.info.shape = shape;
        int id = add_value(std::move(v));
        Value& nv = values.back();
        nv.first = -1; // live from before the first operation
        nv.last = -1;
        by_name[in.name()] = id;
        input_ids.emplace_back(in.name(), id);
        shapes[in.name()] = shape;
    }
    for (const auto& t : g.initializer())
        if (!graph_inputs.count(t.name()))
            add_initializer(t);

    for (int i = 0; i < g.node_size(); i++)
        labels.emplace_back(node_label(g.node(i), i), g.node(i).op_type());
    int index = 0;
    for (const auto& node : g.node()) {
        std::string blocked;
        for (const auto& name : node.input()) {
            if (name.empty() || by_name.count(name))
                continue;
            auto u = unavailable.find(name);
            blocked = u != unavailable.end() ? u->second : "input '" + name + "' is not defined";
            break;
        }
        if (!blocked.empty()) {
            // Downstream of an unsupported node: reported there, unless
            // the reason is the input itself (a double initializer, ...).
            bool root_cause = blocked.rfind("after ", 0) != 0;
            if (root_cause)
                failures.push_back({node_label(node, index),
                                    node.op_type(),
                                    blocked,
                                    {node.input().begin(), node.input().end()}});
            for (const auto& out : node.output())
                unavailable[out] = "after " + node_label(node, index);
            index++;
            continue;
        }
        try {
            lower_node(node, index);
        } catch (const Unsupported& e) {
            failures.push_back({node_label(node, index),
                                node.op_type(),
                                e.what(),
                                {node.input().begin(), node.input().end()}});
            for (const auto& out : node.output())
                unavailable[out] = "after " + node_label(node, index);
        }
        index++;
    }
    for (const auto& out : g.output()) {
        auto it = by_name.find(out.name());
        if (it == by_name.end()) {
            if (!unavailable.count(out.name()))
                failures.push_back({out.name(), "(output)", "never defined", {}});
            continue;
        }
        output_ids.push_back(it->second);
        const Value& v = values[static_cast<size_t>(it->second)];
        output_infos.push_back(
            {out.name(), v.info.dtype, v.info.shape, v.kind == ValueKind::constant});
    }
    if (!failures.empty())
        throw UnsupportedError(std::move(failures));

    // Liveness.
    for (size_t i = 0; i < ops.size(); i++)
        for (const Operand& o : ops[i].operands)
            if (o.value >= 0)
                use(o.value, static_cast<int64_t>(i));
    int64_t end = static_cast<int64_t>(ops.size());
    for (int id : output_ids) {
        Value& v = values[static_cast<size_t>(id)];
        if (v.kind == ValueKind::constant)
            continue;
        Value& r = values[static_cast<size_t>(v.root)];
        r.first = std::min(r.first, end);
        r.last = end;
    }
    for (auto& [name, id] : input_ids)
        values[static_cast<size_t>(id)].first = -1;

    // Layout.
    std::vector<LiveBuffer> bufs;
    std::vector<int> buf_values;
    size_t const_bytes = 0;
    for (size_t i = 0; i < values.size(); i++) {
        Value& v = values[i];
        if (v.kind == ValueKind::device && v.first <= v.last) {
            bufs.push_back({v.first, v.last, value_bytes(v.info)});
            buf_values.push_back(static_cast<int>(i));
        } else if (v.kind == ValueKind::constant && v.upload) {
            v.offset = const_bytes;
            const_bytes += (v.host->bytes.size() + 255) / 256 * 256;
        }
    }
    ArenaLayout layout = plan_arena(bufs);
    for (size_t i = 0; i < bufs.size(); i++)
        values[static_cast<size_t>(buf_values[i])].offset = layout.offsets[i];
    mem.arena_bytes = layout.size;
    mem.unshared_bytes = layout.unshared;
    mem.constant_bytes = const_bytes;
    mem.buffers = bufs.size();
}

void* Session::Impl::address(const Operand& o) const {
    if (o.value < 0)
        return nullptr;
    const Value& v = values[static_cast<size_t>(o.value)];
    size_t es = npu::ops::dtype_size(v.info.dtype);
    if (v.kind == ValueKind::constant) {
        if (v.host->bytes.empty())
            return nullptr;
        return static_cast<uint8_t*>(constants) + v.offset + static_cast<size_t>(o.offset) * es;
    }
    const Value& r = values[static_cast<size_t>(v.root)];
    if (value_bytes(r.info) == 0)
        return nullptr;
    return static_cast<uint8_t*>(arena) + r.offset + static_cast<size_t>(o.offset) * es;
}

void Session::Impl::allocate() {
    if (mem.arena_bytes)
        arena = npu::malloc(*device, mem.arena_bytes);
    if (mem.constant_bytes) {
        constants = npu::malloc(*device, mem.constant_bytes);
        std::vector<uint8_t> staging(mem.constant_bytes);
        for (const Value& v : values)
            if (v.kind == ValueKind::constant && v.upload)
                std::memcpy(staging.data() + v.offset, v.host->bytes.data(), v.host->bytes.size());
        stream->memcpy(constants, staging.data(), staging.size());
        stream->synchronize();
    }
}

void Session::Impl::launch_all(npu::Stream& s, std::vector<npu::Event>* events) {
    std::vector<const void*> ptrs;
    int node = -1;
    for (const Operation& op : ops) {
        if (op.plan->packet_count() == 0)
            continue;
        if (events && op.node != node) {
            events->emplace_back(*device);
            s.record(events->back());
            node = op.node;
        }
        ptrs.clear();
        for (const Operand& o : op.operands)
            ptrs.push_back(address(o));
        op.plan->launch(s, ptrs);
    }
    if (events) {
        events->emplace_back(*device);
        s.record(events->back());
    }
}

void Session::Impl::capture() {
    bool work = std::any_of(ops.begin(), ops.end(),
                            [](const Operation& op) { return op.plan->packet_count() > 0; });
    if (!work)
        return;
    npu::Graph::begin_capture(*stream);
    try {
        launch_all(*stream, nullptr);
    } catch (...) {
        (void)npu::Graph::end_capture(*stream);
        throw;
    }
    npu::Graph graph = npu::Graph::end_capture(*stream);
    try {
        exec.emplace(graph);
    } catch (const npu::Error& e) {
        // Beyond one CALL's size (or no CALL packet): launch the plans
        // directly on every run instead.
        if (e.errnum() != E2BIG && e.errnum() != ENOTSUP)
            throw;
    }
}

void Session::Impl::feed(const std::map<std::string, HostTensor>& inputs) {
    if (!device)
        throw std::logic_error("npu_onnx::Session: planned without a device; cannot run");
    for (const auto& [name, t] : baked) {
        auto it = inputs.find(name);
        if (it == inputs.end())
            throw ModelError("input " + name + " not given");
        if (it->second.dtype != t.dtype || it->second.shape != t.shape ||
            it->second.bytes != t.bytes)
            throw ModelError("input " + name +
                             " differs from the value the session was planned with");
    }
    for (const auto& [name, id] : input_ids) {
        auto it = inputs.find(name);
        if (it == inputs.end())
            throw ModelError("input " + name + " not given");
        const Value& v = values[static_cast<size_t>(id)];
        const HostTensor& t = it->second;
        if (t.dtype != v.info.dtype || t.shape != v.info.shape)
            throw ModelError("input " + name + ": " + npu::ops::dtype_name(t.dtype) +
                             shape_str(t.shape) + " given, session planned for " +
                             npu::ops::dtype_name(v.info.dtype) + shape_str(v.info.shape));
        if (t.bytes.size() != value_bytes(v.info))
            throw ModelError("input " + name + ": byte count does not match its shape");
        if (!t.bytes.empty() && v.first <= v.last)
            stream->memcpy(static_cast<uint8_t*>(arena) + v.offset, t.bytes.data(), t.bytes.size());
    }
}

std::vector<HostTensor> Session::Impl::fetch() {
    std::vector<HostTensor> out;
    out.reserve(output_ids.size());
    for (int id : output_ids) {
        const Value& v = values[static_cast<size_t>(id)];
        if (v.kind == ValueKind::constant) {
            out.push_back(*v.host);
            continue;
        }
        HostTensor t{v.info.dtype, v.info.shape, std::vector<uint8_t>(value_bytes(v.info))};
        out.push_back(std::move(t));
        if (!out.back().bytes.empty()) {
            Operand whole{id, {}, 0};
            stream->memcpy(out.back().bytes.data(), address(whole), out.back().bytes.size());
        }
    }
    stream->synchronize();
    return out;
}

Session::Session(const npu::Device& device, const Model& model,
                 const std::map<std::string, std::vector<int64_t>>& input_shapes,
                 const std::map<std::string, HostTensor>& constant_inputs)
    : impl_(std::make_unique<Impl>()) {
    impl_->caps = npu::ops::DeviceOps::from_device(device);
    impl_->device.emplace(device);
    impl_->build(model, input_shapes, constant_inputs);
    impl_->stream.emplace(device);
    impl_->allocate();
    impl_->capture();
}

Session::Session(const npu::ops::DeviceOps& caps, const Model& model,
                 const std::map<std::string, std::vector<int64_t>>& input_shapes,
                 const std::map<std::string, HostTensor>& constant_inputs)
    : impl_(std::make_unique<Impl>()) {
    impl_->caps = caps;
    impl_->build(model, input_shapes, constant_inputs);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

std::vector<HostTensor> Session::run(const std::map<std::string, HostTensor>& inputs) {
    impl_->feed(inputs);
    if (impl_->exec)
        impl_->exec->launch(*impl_->stream);
    else
        impl_->launch_all(*impl_->stream, nullptr);
    return impl_->fetch();
}

std::vector<NodeTime> Session::profile(const std::map<std::string, HostTensor>& inputs) {
    impl_->feed(inputs);
    std::vector<npu::Event> events;
    impl_->launch_all(*impl_->stream, &events);
    (void)impl_->fetch();
    std::vector<NodeTime> times;
    int node = -1;
    size_t e = 0;
    for (const Operation& op : impl_->ops) {
        if (op.plan->packet_count() == 0 || op.node == node)
            continue;
        node = op.node;
        const auto& label = impl_->labels.at(static_cast<size_t>(op.node));
        times.push_back({label.first, label.second, npu::Event::elapsed(events[e], events[e + 1])});
        e++;
    }
    return times;
}

std::vector<std::string> Session::constant_inputs() const {
    std::vector<std::string> names;
    for (const auto& [name, t] : impl_->baked)
        names.push_back(name);
    return names;
}

namespace {

template <typename Target>
Session make_session_on(const Target& target, const Model& model,
                        const std::map<std::string, HostTensor>& inputs) {
    std::map<std::string, HostTensor> constants;
    for (;;) {
        std::map<std::string, std::vector<int64_t>> shapes;
        for (const auto& [name, t] : inputs)
            if (!constants.count(name))
                shapes[name] = t.shape;
        try {
            return Session(target, model, shapes, constants);
        } catch (const UnsupportedError& e) {
            size_t before = constants.size();
            // One input per attempt, the smallest first (integers before
            // floats of the same size): shapes, axes and scales, never
            // the data a node computes on when something smaller explains
            // the failure.
            const HostTensor* best = nullptr;
            std::string best_name;
            auto rank = [](const HostTensor& t) {
                bool is_float =
                    t.dtype == DType::f32 || t.dtype == DType::f16 || t.dtype == DType::bf16;
                return std::pair(t.elements(), is_float);
            };
            for (const auto& n : e.nodes)
                for (const auto& in : n.inputs) {
                    auto it = inputs.find(in);
                    if (it == inputs.end() || constants.count(in) || it->second.elements() > 64)
                        continue;
                    if (!best || rank(it->second) < rank(*best)) {
                        best = &it->second;
                        best_name = in;
                    }
                }
            if (best)
                constants[best_name] = *best;
            if (constants.size() == before)
                throw;
        }
    }
}

} // namespace

Session make_session(const npu::Device& device, const Model& model,
                     const std::map<std::string, HostTensor>& inputs) {
    return make_session_on(device, model, inputs);
}

Session make_session(const npu::ops::DeviceOps& caps, const Model& model,
                     const std::map<std::string, HostTensor>& inputs) {
    return make_session_on(caps, model, inputs);
}

bool session_fits(const Session& session, const std::map<std::string, HostTensor>& inputs) {
    for (const auto& [name, shape] : session.input_shapes()) {
        auto it = inputs.find(name);
        if (it == inputs.end() || it->second.shape != shape)
            return false;
    }
    for (const auto& [name, t] : session.impl_->baked) {
        auto it = inputs.find(name);
        if (it == inputs.end() || it->second.bytes != t.bytes || it->second.dtype != t.dtype)
            return false;
    }
    return true;
}

const std::vector<NodeReport>& Session::nodes() const {
    return impl_->node_reports;
}
const std::vector<OutputInfo>& Session::outputs() const {
    return impl_->output_infos;
}
MemoryReport Session::memory() const {
    return impl_->mem;
}
size_t Session::operation_count() const {
    return impl_->ops.size();
}
const std::map<std::string, std::vector<int64_t>>& Session::input_shapes() const {
    return impl_->shapes;
}

} // namespace npu_onnx
