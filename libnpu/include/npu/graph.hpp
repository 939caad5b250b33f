// Graphs: a stream's work captured once, baked into a device command buffer
// and launched with one packet (CUDA graphs, Level Zero command lists).
//
// Capture: Graph::begin_capture(stream) turns the stream into a recorder:
// fill(), copy(), operations and record()/wait() encode their packets into
// the capture instead of the stream's batch, and nothing runs. A stream that
// wait()s on an event recorded during a capture joins that capture (its
// later work is captured too, in program order) until the capture ends.
// Graph::end_capture(stream) (on the stream that began it) ends the capture
// of every joined stream and returns the Graph. Work that needs the host in
// stream order (launch_host_func, copy_to_host, copy_from_host) cannot be
// captured: it throws Error(EINVAL) and leaves the capture as it was. A
// wait() on an event recorded outside the capture throws Error(EINVAL) too.
//
// Nodes: every enqueue captured is a node, its packets kept as encoded. A
// node's pointer arguments (device addresses: copy source and destination,
// fill destination, an operation's tensors...) are numbered in packet
// order; pointer() reads them and GraphExec::set_pointer() changes them.
//
// Instantiate: GraphExec bakes the graph into a device-read-only command
// buffer (at most NPU_CALL_MAX_SIZE bytes). launch(stream) enqueues one CALL
// packet on the stream (batched like any other work), which runs the whole
// graph in capture order; events recorded and waited for inside the
// capture become WRITE_MEM / WAIT_MEM (>=) packets on a word of the
// GraphExec. A launch's failure is the stream's (JobError from
// synchronize(), its err_offset the CALL's).
//
// Update: set_pointer() and rebind() patch the baked packets without
// re-capture; the change applies from the next launch on (a launch already
// enqueued keeps the old pointers: a buffer still in use is not rewritten,
// the GraphExec bakes into another one). A new pointer must lie in a live
// buffer of the graph's device with the whole range the node touches, and
// keep the node's alignment, else Error(EINVAL) and nothing changes.
//
// Lifetime: a Graph and a GraphExec keep the buffer objects their nodes
// reference alive (not their contents: memory freed to a pool and reused is
// the caller's business). Like a Buffer (stream.hpp), a GraphExec must stay
// alive until its launches are submitted. Allocations from a pool during a
// capture happen at capture time, not per launch. Thread safety: as
// Stream: one thread at a time per Graph/GraphExec; the stream that began
// a capture and the streams joined to it must outlive the capture (end it
// before destroying them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "npu/export.hpp"

namespace npu {

class Stream;
namespace detail {
struct GraphState;
struct GraphExecState;
} // namespace detail

enum class GraphNodeKind : uint32_t {
    fill,
    copy,
    timestamp,
    operation, // a tensor operation packet (GEMM, CONV, ...)
    event_record,
    event_wait,
    other, // packets with no pointer the graph tracks
};

class NPU_API Graph {
public:
    Graph() noexcept;
    ~Graph();
    Graph(Graph&&) noexcept;
    Graph& operator=(Graph&&) noexcept;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    // Starts capturing stream's work; Error(EINVAL) if it already captures.
    static void begin_capture(Stream& stream);
    // Ends the capture stream began; Error(EINVAL) if it began none (a
    // stream that only joined a capture cannot end it).
    [[nodiscard]] static Graph end_capture(Stream& stream);
    [[nodiscard]] static bool capturing(const Stream& stream) noexcept;

    [[nodiscard]] size_t node_count() const noexcept;
    [[nodiscard]] GraphNodeKind node_kind(size_t node) const;
    [[nodiscard]] size_t pointer_count(size_t node) const;
    [[nodiscard]] void* pointer(size_t node, size_t index) const;
    // Bytes of packets captured.
    [[nodiscard]] size_t command_bytes() const noexcept;

private:
    friend class GraphExec;
    std::shared_ptr<detail::GraphState> state_;
};

class NPU_API GraphExec {
public:
    // Bakes graph (which stays usable) into a command buffer of its device.
    // Error(ENOTSUP) if the device's firmware has no CALL packet, EINVAL
    // for an empty or moved-from graph, E2BIG beyond NPU_CALL_MAX_SIZE.
    explicit GraphExec(const Graph& graph);
    ~GraphExec();
    GraphExec(GraphExec&&) noexcept;
    GraphExec& operator=(GraphExec&&) noexcept;
    GraphExec(const GraphExec&) = delete;
    GraphExec& operator=(const GraphExec&) = delete;

    // Enqueues the whole graph on stream (one CALL packet). Error(EINVAL)
    // for a stream of another device or one capturing.
    void launch(Stream& stream);

    [[nodiscard]] size_t node_count() const noexcept;
    [[nodiscard]] size_t pointer_count(size_t node) const;
    [[nodiscard]] void* pointer(size_t node, size_t index) const;
    // Points argument index of node at ptr from the next launch on.
    void set_pointer(size_t node, size_t index, void* ptr);
    // Moves every pointer argument inside [old_base, old_base + bytes) to
    // the same offset from new_base (e.g. a framework's input and output
    // tensors); returns how many changed. All or nothing.
    size_t rebind(const void* old_base, size_t bytes, void* new_base);
    // Buffers the GraphExec baked into so far (more than one only when
    // updates met launches still running).
    [[nodiscard]] size_t baked_buffers() const noexcept;

private:
    std::unique_ptr<detail::GraphExecState> state_;
};

} // namespace npu
