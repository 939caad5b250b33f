// GraphExec (npu/graph.hpp): a Graph baked into a command buffer, launched
// with one CALL packet, its pointer arguments patched in place.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include <npu/uapi/drm/npu_accel.h>
#include <npu/uapi/drm/npu_packet.h>

#include "address_map.hpp"
#include "graph_state.hpp"
#include "npu/error.hpp"
#include "npu/graph.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"
#include "stream_impl.hpp"

namespace npu {

namespace detail {

struct GraphExecState {
    struct Baked {
        std::shared_ptr<BoStorage> bo;
        std::shared_ptr<Timeline> timeline; // of the stream that launched it last
        uint64_t point = 0;                 // that launch's point
    };

    std::shared_ptr<DeviceState> device;
    std::shared_ptr<const GraphState> graph;             // nodes and pointers
    std::vector<std::byte> bytes;                        // the prologue, then the graph's packets
    size_t base = 0;                                     // where the graph's packets start in bytes
    std::vector<std::shared_ptr<BoStorage>> pointer_bos; // per pointer, once updated
    std::vector<const BoStorage*> launch_bos;            // listed by every launch
    std::shared_ptr<BoStorage> sync;                     // event word, if any
    std::vector<Baked> baked;
    size_t current = 0;
    bool dirty = false; // bytes changed since baked[current] was written

    const GraphPointer& pointer(size_t node, size_t index) const {
        if (node >= graph->nodes.size())
            throw Error(EINVAL, "graph exec: no node " + std::to_string(node) + " (it has " +
                                    std::to_string(graph->nodes.size()) + ")");
        if (index >= graph->node_pointers[node].size())
            throw Error(EINVAL, "graph exec: node " + std::to_string(node) + " has no pointer " +
                                    std::to_string(index));
        return graph->pointers[graph->node_pointers[node][index]];
    }

    size_t pointer_index(size_t node, size_t index) const {
        pointer(node, index);
        return graph->node_pointers[node][index];
    }

    uint64_t value(size_t p) const { return read_u64(bytes, base + graph->pointers[p].at); }

    void list_bos() {
        launch_bos.clear();
        auto add = [this](const BoStorage* bo) {
            if (bo && std::find(launch_bos.begin(), launch_bos.end(), bo) == launch_bos.end())
                launch_bos.push_back(bo);
        };
        if (sync)
            add(sync.get());
        for (const auto& bo : graph->bos)
            add(bo.get());
        for (const auto& bo : pointer_bos)
            add(bo.get());
        // one for the stream's command buffer, one for its callback gate,
        // one for the baked buffer
        if (launch_bos.size() + 1 > DRM_NPU_MAX_SUBMIT_BOS - 2)
            throw Error(E2BIG, "graph exec: the graph references " +
                                   std::to_string(launch_bos.size()) +
                                   " buffer objects, more than one job can list");
    }

    // The checked new value of pointer p, and the buffer object holding the
    // range it reaches (null for an empty range). peer_value: the value the
    // COPY's other address will have.
    // A host address the device reaches at another one (registered memory
    // above 2^39) becomes that device address (addr is updated).
    std::shared_ptr<BoStorage> check(size_t p, uint64_t& addr, uint64_t peer_value) const {
        const GraphPointer& ptr = graph->pointers[p];
        const std::string what = "graph exec: node " + std::to_string(ptr.node) + " pointer 0x";
        auto hex = [](uint64_t v) {
            char text[32];
            std::snprintf(text, sizeof(text), "%llx", static_cast<unsigned long long>(v));
            return std::string(text);
        };
        if (addr % ptr.align)
            throw Error(EINVAL,
                        what + hex(addr) + " is not a multiple of " + std::to_string(ptr.align));
        if (ptr.hi <= ptr.lo)
            return nullptr;
        const int64_t lo = static_cast<int64_t>(addr) + ptr.lo;
        if (lo < 0)
            throw Error(EINVAL, what + hex(addr) + ": the node reaches below address 0");
        auto hit =
            device->addresses.find(static_cast<uint64_t>(lo), static_cast<size_t>(ptr.hi - ptr.lo));
        if (!hit.bo) {
            if (auto host = process_addresses().find(static_cast<uint64_t>(lo),
                                                     static_cast<size_t>(ptr.hi - ptr.lo));
                host.bo && host.bo->device == device) {
                addr += host.bo->device_addr + host.offset - static_cast<uint64_t>(lo);
                hit.bo = host.bo;
            }
        }
        if (!hit.bo)
            throw Error(EINVAL, what + hex(addr) + ": the " + std::to_string(ptr.hi - ptr.lo) +
                                    " bytes the node reaches are not inside one live buffer "
                                    "of the device");
        if (ptr.copy_peer) {
            const uint64_t size = static_cast<uint64_t>(ptr.hi);
            if (addr < peer_value + size && peer_value < addr + size)
                throw Error(EINVAL, what + hex(addr) + ": copy source and destination overlap");
        }
        return hit.bo;
    }

    // Applies checked values (pointer index -> value) all at once.
    void apply(std::vector<std::pair<size_t, uint64_t>> values) {
        std::unordered_map<size_t, uint64_t> next(values.begin(), values.end());
        auto after = [&](size_t p) {
            auto it = next.find(p);
            return it != next.end() ? it->second : value(p);
        };
        std::vector<std::shared_ptr<BoStorage>> bos;
        for (auto& [p, addr] : values) {
            const GraphPointer& ptr = graph->pointers[p];
            uint64_t peer = 0;
            if (ptr.copy_peer) {
                // the peer's pointer index: the other address of the packet
                for (size_t q : graph->node_pointers[ptr.node])
                    if (graph->pointers[q].at == ptr.copy_peer)
                        peer = after(q);
            }
            bos.push_back(check(p, addr, peer));
        }
        const auto saved_bos = pointer_bos;
        for (size_t i = 0; i < values.size(); i++)
            pointer_bos[values[i].first] = bos[i];
        try {
            list_bos();
        } catch (...) {
            pointer_bos = saved_bos;
            list_bos();
            throw;
        }
        for (const auto& [p, addr] : values)
            write_u64(bytes, base + graph->pointers[p].at, addr);
        dirty = dirty || !values.empty();
    }

    static bool idle(Baked& baked) {
        if (!baked.timeline || baked.timeline->known_complete(baked.point))
            return true;
        baked.timeline->refresh();
        return baked.timeline->known_complete(baked.point);
    }

    void write(Baked& baked) const { std::memcpy(baked.bo->host, bytes.data(), bytes.size()); }

    // The buffer this launch calls: the current one, or after an update one
    // no launch still uses, rewritten.
    Baked& bake() {
        if (!dirty)
            return baked[current];
        for (size_t i = 0; i < baked.size(); i++) {
            if (idle(baked[i])) {
                current = i;
                write(baked[i]);
                dirty = false;
                return baked[i];
            }
        }
        baked.push_back(
            {std::make_shared<BoStorage>(device, bytes.size(), DRM_NPU_BO_DEVICE_READ_ONLY),
             nullptr, 0});
        current = baked.size() - 1;
        write(baked.back());
        dirty = false;
        return baked.back();
    }
};

} // namespace detail

GraphExec::GraphExec(const Graph& graph) {
    if (!graph.state_ || graph.state_->nodes.empty())
        throw Error(EINVAL, "graph exec: the graph is empty or moved from");
    const auto& g = graph.state_;
    const uint64_t ops = g->device->api.get_param(DRM_NPU_PARAM_OP_MASK);
    if (!(ops >> NPU_OP_CALL & 1) || !(ops >> NPU_OP_WRITE_MEM & 1))
        throw Error(ENOTSUP, "graph exec: the device's firmware has no CALL packet "
                             "(packet version 3, firmware ABI 1.3)");
    auto s = std::make_unique<detail::GraphExecState>();
    s->device = g->device;
    s->graph = g;
    const bool syncs = std::any_of(g->nodes.begin(), g->nodes.end(), [](const auto& node) {
        return node.kind == GraphNodeKind::event_record || node.kind == GraphNodeKind::event_wait;
    });
    if (syncs) {
        s->sync = std::make_shared<detail::BoStorage>(s->device, sizeof(uint64_t), 0);
        // Every launch starts its event records from 0.
        npu_pkt_write_mem reset{};
        reset.header = NPU_PKT_HEADER(NPU_OP_WRITE_MEM, NPU_PKT_WRITE_MEM_DWORDS);
        reset.addr = s->sync->device_addr;
        s->bytes.resize(sizeof(reset));
        std::memcpy(s->bytes.data(), &reset, sizeof(reset));
        s->base = sizeof(reset);
    }
    s->bytes.insert(s->bytes.end(), g->bytes.begin(), g->bytes.end());
    if (s->bytes.size() > NPU_CALL_MAX_SIZE)
        throw Error(E2BIG, "graph exec: " + std::to_string(s->bytes.size()) +
                               " bytes of packets, more than a CALL runs (" +
                               std::to_string(NPU_CALL_MAX_SIZE) + ")");
    for (const auto& node : g->nodes)
        if (node.kind == GraphNodeKind::event_record || node.kind == GraphNodeKind::event_wait)
            detail::write_u64(s->bytes, s->base + node.offset + offsetof(npu_pkt_wait_mem, addr),
                              s->sync->device_addr);
    s->pointer_bos.resize(g->pointers.size());
    s->list_bos();
    s->baked.push_back({std::make_shared<detail::BoStorage>(s->device, s->bytes.size(),
                                                            DRM_NPU_BO_DEVICE_READ_ONLY),
                        nullptr, 0});
    s->write(s->baked.back());
    state_ = std::move(s);
}

GraphExec::~GraphExec() = default;
GraphExec::GraphExec(GraphExec&&) noexcept = default;
GraphExec& GraphExec::operator=(GraphExec&&) noexcept = default;

namespace {

detail::GraphExecState& checked(const std::unique_ptr<detail::GraphExecState>& state) {
    if (!state)
        throw Error(EINVAL, "graph exec: moved from");
    return *state;
}

} // namespace

void GraphExec::launch(Stream& stream) {
    detail::GraphExecState& g = checked(state_);
    if (!stream.impl_)
        throw Error(EINVAL, "graph launch: stream was moved from");
    detail::StreamImpl& s = *stream.impl_;
    const detail::StreamImpl::Enqueue guard(s);
    if (s.device != g.device)
        throw Error(EINVAL, "graph launch: the stream belongs to another device");
    if (s.capture)
        throw Error(EINVAL, "graph launch: cannot be captured into another graph");
    s.check_alive("graph launch");
    detail::GraphExecState::Baked& baked = g.bake();
    std::vector<const detail::BoStorage*> bos;
    bos.reserve(g.launch_bos.size() + 1);
    bos.push_back(baked.bo.get());
    bos.insert(bos.end(), g.launch_bos.begin(), g.launch_bos.end());
    npu_pkt_call call{};
    call.header = NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS);
    call.addr = baked.bo->device_addr;
    call.size = g.bytes.size();
    std::memcpy(s.reserve(sizeof(call), bos), &call, sizeof(call));
    baked.timeline = s.timeline;
    baked.point = s.promise_point();
}

size_t GraphExec::node_count() const noexcept {
    return state_ ? state_->graph->nodes.size() : 0;
}

size_t GraphExec::pointer_count(size_t node) const {
    const detail::GraphExecState& g = checked(state_);
    if (node >= g.graph->nodes.size())
        throw Error(EINVAL, "graph exec: no node " + std::to_string(node));
    return g.graph->node_pointers[node].size();
}

void* GraphExec::pointer(size_t node, size_t index) const {
    const detail::GraphExecState& g = checked(state_);
    return reinterpret_cast<void*>(g.value(g.pointer_index(node, index)));
}

void GraphExec::set_pointer(size_t node, size_t index, void* ptr) {
    detail::GraphExecState& g = checked(state_);
    g.apply({{g.pointer_index(node, index), reinterpret_cast<uint64_t>(ptr)}});
}

size_t GraphExec::rebind(const void* old_base, size_t bytes, void* new_base) {
    detail::GraphExecState& g = checked(state_);
    // Registered host memory above 2^39: the graph holds device addresses.
    auto device_address = [&g](const void* p) {
        const auto addr = reinterpret_cast<uint64_t>(p);
        if (g.device->addresses.find(addr, 1).bo)
            return addr;
        const auto host = detail::process_addresses().find(addr, 1);
        return host.bo && host.bo->device == g.device ? host.bo->device_addr + host.offset : addr;
    };
    const uint64_t from = device_address(old_base);
    const uint64_t to = device_address(new_base);
    std::vector<std::pair<size_t, uint64_t>> values;
    for (size_t p = 0; p < g.graph->pointers.size(); p++) {
        const uint64_t addr = g.value(p);
        if (addr >= from && addr - from < bytes)
            values.emplace_back(p, to + (addr - from));
    }
    g.apply(values);
    return values.size();
}

size_t GraphExec::baked_buffers() const noexcept {
    return state_ ? state_->baked.size() : 0;
}

} // namespace npu
