// Graph capture (npu/graph.hpp): the stream hooks that divert a capturing
// stream's packets into the capture, and the captured Graph.
#include "npu/graph.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <npu/uapi/drm/npu_packet.h>

#include "event_state.hpp"
#include "graph_state.hpp"
#include "npu/error.hpp"
#include "npu/event.hpp"
#include "npu/stream.hpp"
#include "stream_impl.hpp"

namespace npu {

namespace detail {

namespace {

// Events recorded during a capture still in progress, so that a wait() on
// another stream finds the capture to join.
std::mutex recorded_mutex; // protects recorded_in
std::map<const EventState*, std::weak_ptr<GraphCapture>>& recorded_in() {
    static std::map<const EventState*, std::weak_ptr<GraphCapture>> map;
    return map;
}

std::shared_ptr<GraphCapture> capture_of(const EventState& event) {
    std::lock_guard lock(recorded_mutex);
    auto it = recorded_in().find(&event);
    if (it == recorded_in().end())
        return nullptr;
    auto capture = it->second.lock();
    if (!capture)
        recorded_in().erase(it);
    return capture;
}

// A node of its own for an event record or wait on the GraphExec's word
// (address 0 here: instantiation fills it in).
void sync_node(GraphCapture& capture, GraphNodeKind kind, uint64_t value) {
    std::byte* where = capture_reserve(capture, sizeof(npu_pkt_wait_mem), {});
    if (kind == GraphNodeKind::event_record) {
        npu_pkt_write_mem packet{};
        packet.header = NPU_PKT_HEADER(NPU_OP_WRITE_MEM, NPU_PKT_WRITE_MEM_DWORDS);
        packet.value = value;
        std::memcpy(where, &packet, sizeof(packet));
    } else {
        npu_pkt_wait_mem packet{};
        packet.header = NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS);
        packet.flags = NPU_WAIT_MEM_GE;
        packet.value = value;
        std::memcpy(where, &packet, sizeof(packet));
    }
    capture.nodes.back().kind = kind;
}

StreamImpl& impl_of(const std::unique_ptr<StreamImpl>& impl) {
    if (!impl)
        throw Error(EINVAL, "graph capture: stream was moved from");
    return *impl;
}

} // namespace

static_assert(sizeof(npu_pkt_wait_mem) == sizeof(npu_pkt_write_mem));

std::byte* capture_reserve(GraphCapture& capture, size_t bytes,
                           std::span<const BoStorage* const> referenced) {
    for (const BoStorage* bo : referenced) {
        auto owner = const_cast<BoStorage*>(bo)->shared_from_this();
        if (std::find(capture.bos.begin(), capture.bos.end(), owner) == capture.bos.end())
            capture.bos.push_back(std::move(owner));
    }
    const size_t offset = capture.bytes.size();
    capture.bytes.resize(offset + bytes);
    capture.nodes.push_back({offset, bytes, GraphNodeKind::other});
    // The caller encodes its packets here before it enqueues anything else.
    return capture.bytes.data() + offset;
}

bool capture_record(StreamImpl& stream, const EventState& event) {
    if (!stream.capture) {
        // Recorded outside any capture from now on.
        std::lock_guard lock(recorded_mutex);
        recorded_in().erase(&event);
        return false;
    }
    GraphCapture& capture = *stream.capture;
    const uint64_t value = ++capture.sync_values;
    sync_node(capture, GraphNodeKind::event_record, value);
    capture.records[&event] = value;
    std::lock_guard lock(recorded_mutex);
    recorded_in()[&event] = stream.capture;
    return true;
}

bool capture_wait(StreamImpl& stream, const EventState& event) {
    std::shared_ptr<GraphCapture> capture = capture_of(event);
    if (!capture) {
        if (stream.capture && event.recorded)
            throw Error(EINVAL, "wait: inside a graph capture, on an event recorded outside it");
        return stream.capture != nullptr; // never recorded: nothing to wait for
    }
    if (stream.capture && stream.capture != capture)
        throw Error(EINVAL, "wait: on an event recorded in another graph capture");
    if (!stream.capture) { // joins the capture
        if (capture->device != stream.device)
            throw Error(EINVAL, "wait: a graph capture spans one device");
        stream.capture = capture;
        capture->members.push_back(&stream);
    }
    sync_node(*capture, GraphNodeKind::event_wait, capture->records.at(&event));
    return true;
}

void capture_reject(const StreamImpl& stream, const char* what) {
    if (stream.capture)
        throw Error(EINVAL, std::string(what) +
                                ": stream-ordered host work cannot be captured in a graph "
                                "(end the capture first)");
}

} // namespace detail

Graph::Graph() noexcept = default;
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;

void Graph::begin_capture(Stream& stream) {
    detail::StreamImpl& s = detail::impl_of(stream.impl_);
    const std::lock_guard lock(s.mutex);
    if (s.capture)
        throw Error(EINVAL, "begin_capture: the stream is already capturing");
    auto capture = std::make_shared<detail::GraphCapture>();
    capture->device = s.device;
    capture->origin = &s;
    capture->members.push_back(&s);
    s.capture = std::move(capture);
}

Graph Graph::end_capture(Stream& stream) {
    detail::StreamImpl& s = detail::impl_of(stream.impl_);
    std::unique_lock lock(s.mutex);
    if (!s.capture)
        throw Error(EINVAL, "end_capture: the stream is not capturing");
    if (s.capture->origin != &s)
        throw Error(EINVAL, "end_capture: the stream joined a capture another stream began");
    std::shared_ptr<detail::GraphCapture> capture = std::move(s.capture);
    lock.unlock(); // the members' locks, one at a time
    for (detail::StreamImpl* member : capture->members) {
        const std::lock_guard member_lock(member->mutex);
        member->capture.reset();
    }
    {
        std::lock_guard lock(detail::recorded_mutex);
        for (const auto& [event, value] : capture->records)
            detail::recorded_in().erase(event);
    }
    auto state = std::make_shared<detail::GraphState>();
    state->device = capture->device;
    state->bytes = std::move(capture->bytes);
    state->nodes = std::move(capture->nodes);
    state->bos = std::move(capture->bos);
    detail::find_pointers(*state);
    Graph graph;
    graph.state_ = std::move(state);
    return graph;
}

bool Graph::capturing(const Stream& stream) noexcept {
    return stream.impl_ && stream.impl_->capture;
}

size_t Graph::node_count() const noexcept {
    return state_ ? state_->nodes.size() : 0;
}

size_t Graph::command_bytes() const noexcept {
    return state_ ? state_->bytes.size() : 0;
}

namespace {

const detail::GraphState& checked(const std::shared_ptr<detail::GraphState>& state, size_t node) {
    if (!state)
        throw Error(EINVAL, "graph: empty or moved from");
    if (node >= state->nodes.size())
        throw Error(EINVAL, "graph: no node " + std::to_string(node) + " (it has " +
                                std::to_string(state->nodes.size()) + ")");
    return *state;
}

} // namespace

GraphNodeKind Graph::node_kind(size_t node) const {
    return checked(state_, node).nodes[node].kind;
}

size_t Graph::pointer_count(size_t node) const {
    return checked(state_, node).node_pointers[node].size();
}

void* Graph::pointer(size_t node, size_t index) const {
    const detail::GraphState& g = checked(state_, node);
    if (index >= g.node_pointers[node].size())
        throw Error(EINVAL, "graph: node " + std::to_string(node) + " has no pointer " +
                                std::to_string(index));
    return reinterpret_cast<void*>(
        detail::read_u64(g.bytes, g.pointers[g.node_pointers[node][index]].at));
}

} // namespace npu
