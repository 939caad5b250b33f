// The pointer arguments of captured packets: where each device address
// sits, which bytes the packet reaches from it and its alignment, so that
// GraphExec can patch them (set_pointer, rebind) and check the new ranges.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "graph_state.hpp"
#include "npu/error.hpp"

namespace npu::detail {

uint64_t read_u64(const std::vector<std::byte>& bytes, size_t at) {
    uint64_t value = 0;
    std::memcpy(&value, bytes.data() + at, sizeof(value));
    return value;
}

void write_u64(std::vector<std::byte>& bytes, size_t at, uint64_t value) {
    std::memcpy(bytes.data() + at, &value, sizeof(value));
}

namespace {

uint64_t element_size(uint32_t dtype) {
    switch (dtype) {
    case NPU_DTYPE_F32:
    case NPU_DTYPE_I32:
        return 4;
    case NPU_DTYPE_F16:
    case NPU_DTYPE_BF16:
        return 2;
    case NPU_DTYPE_I64:
        return 8;
    default:
        return 1;
    }
}

struct Finder {
    GraphState& graph;
    size_t node;

    void add(size_t at, int64_t lo, int64_t hi, uint64_t align, size_t peer = 0) {
        graph.node_pointers[node].push_back(graph.pointers.size());
        graph.pointers.push_back({node, at, lo, hi, align, peer});
    }

    // An operand of an operation packet (absent ones have no pointer).
    void tensor(size_t packet, size_t field) {
        npu_tensor t;
        std::memcpy(&t, graph.bytes.data() + packet + field, sizeof(t));
        if (t.dtype == NPU_DTYPE_NONE)
            return;
        const int64_t size = static_cast<int64_t>(element_size(t.dtype));
        int64_t lo = 0;
        int64_t hi = size;
        for (uint32_t d = 0; d < std::min<uint32_t>(t.rank, NPU_MAX_RANK); d++) {
            if (t.shape[d] == 0) {
                lo = hi = 0; // an empty tensor reaches nothing
                break;
            }
            const int64_t reach = static_cast<int64_t>(t.shape[d] - 1) * t.stride[d] * size;
            (reach < 0 ? lo : hi) += reach;
        }
        add(packet + field + offsetof(npu_tensor, addr), lo, hi, static_cast<uint64_t>(size));
    }

    void tensors(size_t packet, std::initializer_list<size_t> fields) {
        for (size_t field : fields)
            tensor(packet, field);
    }

    // One packet at byte `at`; its length was checked.
    void packet(size_t at, uint32_t op) {
        auto u64 = [&](size_t field) { return read_u64(graph.bytes, at + field); };
        auto sized = [](uint64_t size) { return static_cast<int64_t>(size); };
        switch (op) {
        case NPU_OP_NOP:
            return;
        case NPU_OP_FILL:
            return add(at + offsetof(npu_pkt_fill, dst), 0,
                       sized(u64(offsetof(npu_pkt_fill, size))), 4);
        case NPU_OP_COPY: {
            const int64_t size = sized(u64(offsetof(npu_pkt_copy, size)));
            add(at + offsetof(npu_pkt_copy, src), 0, size, 1, at + offsetof(npu_pkt_copy, dst));
            return add(at + offsetof(npu_pkt_copy, dst), 0, size, 1,
                       at + offsetof(npu_pkt_copy, src));
        }
        case NPU_OP_TIMESTAMP:
            return add(at + offsetof(npu_pkt_timestamp, dst), 0, 8, 8);
        case NPU_OP_FENCE:
            return add(at + offsetof(npu_pkt_fence, dst), 0, 8, 8);
        case NPU_OP_WAIT_MEM:
            return add(at + offsetof(npu_pkt_wait_mem, addr), 0, 8, 8);
        case NPU_OP_WRITE_MEM: {
            uint32_t flags = 0;
            std::memcpy(&flags, graph.bytes.data() + at + offsetof(npu_pkt_write_mem, flags), 4);
            const bool narrow = flags & NPU_WRITE_MEM_32;
            return add(at + offsetof(npu_pkt_write_mem, addr), 0, narrow ? 4 : 8, narrow ? 4 : 8);
        }
        case NPU_OP_CALL:
            return add(at + offsetof(npu_pkt_call, addr), 0,
                       sized(u64(offsetof(npu_pkt_call, size))), 8);
        case NPU_OP_GEMM:
            return tensors(at, {offsetof(npu_pkt_gemm, a), offsetof(npu_pkt_gemm, b),
                                offsetof(npu_pkt_gemm, c), offsetof(npu_pkt_gemm, y)});
        case NPU_OP_CONV:
            return tensors(at, {offsetof(npu_pkt_conv, x), offsetof(npu_pkt_conv, w),
                                offsetof(npu_pkt_conv, bias), offsetof(npu_pkt_conv, y)});
        case NPU_OP_POOL:
            return tensors(at, {offsetof(npu_pkt_pool, x), offsetof(npu_pkt_pool, y),
                                offsetof(npu_pkt_pool, indices)});
        case NPU_OP_UNARY:
            return tensors(at, {offsetof(npu_pkt_unary, x), offsetof(npu_pkt_unary, y)});
        case NPU_OP_BINARY:
            return tensors(at, {offsetof(npu_pkt_binary, a), offsetof(npu_pkt_binary, b),
                                offsetof(npu_pkt_binary, cond), offsetof(npu_pkt_binary, y)});
        case NPU_OP_REDUCE:
            return tensors(at, {offsetof(npu_pkt_reduce, x), offsetof(npu_pkt_reduce, y)});
        case NPU_OP_NORM:
            return tensors(at, {offsetof(npu_pkt_norm, x), offsetof(npu_pkt_norm, scale),
                                offsetof(npu_pkt_norm, bias), offsetof(npu_pkt_norm, mean),
                                offsetof(npu_pkt_norm, var), offsetof(npu_pkt_norm, y)});
        case NPU_OP_TENSOR_COPY:
            return tensors(at,
                           {offsetof(npu_pkt_tensor_copy, x), offsetof(npu_pkt_tensor_copy, y)});
        case NPU_OP_GATHER:
            return tensors(at, {offsetof(npu_pkt_gather, x), offsetof(npu_pkt_gather, indices),
                                offsetof(npu_pkt_gather, y)});
        case NPU_OP_CAST:
            return tensors(at, {offsetof(npu_pkt_cast, x), offsetof(npu_pkt_cast, y)});
        default:
            throw Error(EINVAL, "graph capture: unknown packet opcode " + std::to_string(op));
        }
    }
};

GraphNodeKind kind_of(uint32_t op) {
    switch (op) {
    case NPU_OP_FILL:
        return GraphNodeKind::fill;
    case NPU_OP_COPY:
        return GraphNodeKind::copy;
    case NPU_OP_TIMESTAMP:
        return GraphNodeKind::timestamp;
    default:
        return op >= NPU_OP_GEMM && op <= NPU_OP_LAST ? GraphNodeKind::operation
                                                      : GraphNodeKind::other;
    }
}

} // namespace

void find_pointers(GraphState& graph) {
    graph.pointers.clear();
    graph.node_pointers.assign(graph.nodes.size(), {});
    for (size_t n = 0; n < graph.nodes.size(); n++) {
        GraphNode& node = graph.nodes[n];
        // event record/wait: their word is the GraphExec's, not an argument
        const bool internal =
            node.kind == GraphNodeKind::event_record || node.kind == GraphNodeKind::event_wait;
        Finder finder{graph, n};
        bool first = true;
        for (size_t at = node.offset; at < node.offset + node.size;) {
            uint32_t header = 0;
            std::memcpy(&header, graph.bytes.data() + at, sizeof(header));
            const size_t bytes = size_t{NPU_PKT_DWORDS(header)} * 4;
            if (bytes < 8 || at + bytes > node.offset + node.size)
                throw Error(EINVAL, "graph capture: malformed packet in node " + std::to_string(n));
            const uint32_t op = NPU_PKT_OPCODE(header);
            if (first && !internal)
                node.kind = kind_of(op);
            first = false;
            if (!internal)
                finder.packet(at, op);
            at += bytes;
        }
    }
}

} // namespace npu::detail
