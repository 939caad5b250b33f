// The state behind graphs (npu/graph.hpp): a capture in progress, a captured
// Graph, and the pointer arguments found in its packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "bo_storage.hpp"
#include "device_state.hpp"
#include "npu/graph.hpp"

namespace npu::detail {

struct StreamImpl;
struct EventState;

struct GraphNode {
    size_t offset = 0; // of its packets in the graph's bytes
    size_t size = 0;
    GraphNodeKind kind = GraphNodeKind::other;
};

// A pointer argument inside a node's packets: the 64-bit device address at
// byte `at` of the graph's commands. The packet touches [addr + lo,
// addr + hi) (lo < 0 for negative tensor strides); addr must be a
// multiple of align.
struct GraphPointer {
    size_t node = 0;
    size_t at = 0;
    int64_t lo = 0;
    int64_t hi = 0;
    uint64_t align = 1;
    // For COPY: `at` of the other address of the same packet (the two
    // ranges must not overlap); 0 otherwise.
    size_t copy_peer = 0;
};

struct GraphCapture {
    std::shared_ptr<DeviceState> device;
    StreamImpl* origin = nullptr;
    std::vector<StreamImpl*> members; // origin and the streams that joined
    std::vector<std::byte> bytes;
    std::vector<GraphNode> nodes;
    std::vector<std::shared_ptr<BoStorage>> bos;
    std::map<const EventState*, uint64_t> records; // event -> sync value
    uint64_t sync_values = 0;
};

struct GraphState {
    std::shared_ptr<DeviceState> device;
    std::vector<std::byte> bytes;
    std::vector<GraphNode> nodes;
    std::vector<GraphPointer> pointers;             // in node order
    std::vector<std::vector<size_t>> node_pointers; // node -> indexes into pointers
    std::vector<std::shared_ptr<BoStorage>> bos;
};

// The stream hooks (stream.cpp): room for a captured node's packets.
std::byte* capture_reserve(GraphCapture& capture, size_t bytes,
                           std::span<const BoStorage* const> referenced);
// record()/wait() on a capturing stream (or, for wait, an event recorded in
// a capture): true if the capture took it.
bool capture_record(StreamImpl& stream, const EventState& event);
bool capture_wait(StreamImpl& stream, const EventState& event);
// Error(EINVAL) if the stream captures: what cannot be captured.
void capture_reject(const StreamImpl& stream, const char* what);

// Finds the pointer arguments of every node (graph_pointers.cpp); throws
// Error(EINVAL) for a packet it does not know.
void find_pointers(GraphState& graph);
uint64_t read_u64(const std::vector<std::byte>& bytes, size_t at);
void write_u64(std::vector<std::byte>& bytes, size_t at, uint64_t value);

} // namespace npu::detail
