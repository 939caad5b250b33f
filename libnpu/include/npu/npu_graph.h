/*
 * libnpu C ABI: graphs (npu/graph.hpp). Included by npu/npu.h.
 *
 * npu_stream_begin_capture() makes a stream record its work (fills,
 * copies, operations, event records and waits; a stream waiting on an
 * event recorded in the capture joins it) instead of running it;
 * npu_stream_end_capture() returns the graph. npu_graph_instantiate()
 * bakes it into a device command buffer; npu_graph_exec_launch() enqueues
 * all of it on a stream as one packet. npu_graph_exec_set_pointer() and
 * npu_graph_exec_rebind() change pointer arguments (device addresses)
 * without capturing again, from the next launch on. Host functions and
 * host copies cannot be captured (NPU_ERROR_INVALID_ARGUMENT).
 */
#ifndef NPU_NPU_GRAPH_H
#define NPU_NPU_GRAPH_H

/* NOLINTBEGIN(modernize-*) */
#include <stddef.h>
#include <stdint.h>

#include "npu/npu.h" /* npu_status_t, npu_stream_t */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npu_graph* npu_graph_t;
typedef struct npu_graph_exec* npu_graph_exec_t;

/* npu::GraphNodeKind */
typedef enum npu_graph_node_kind {
    NPU_GRAPH_NODE_FILL = 0,
    NPU_GRAPH_NODE_COPY = 1,
    NPU_GRAPH_NODE_TIMESTAMP = 2,
    NPU_GRAPH_NODE_OPERATION = 3,
    NPU_GRAPH_NODE_EVENT_RECORD = 4,
    NPU_GRAPH_NODE_EVENT_WAIT = 5,
    NPU_GRAPH_NODE_OTHER = 6,
} npu_graph_node_kind_t;

NPU_C_API npu_status_t npu_stream_begin_capture(npu_stream_t stream);
/* Ends the capture stream began; *graph receives the captured graph. */
NPU_C_API npu_status_t npu_stream_end_capture(npu_stream_t stream, npu_graph_t* graph);
NPU_C_API npu_status_t npu_stream_is_capturing(npu_stream_t stream, int* capturing);

NPU_C_API npu_status_t npu_graph_destroy(npu_graph_t graph);
NPU_C_API npu_status_t npu_graph_node_count(npu_graph_t graph, size_t* count);
NPU_C_API npu_status_t npu_graph_node_kind(npu_graph_t graph, size_t node,
                                           npu_graph_node_kind_t* kind);
NPU_C_API npu_status_t npu_graph_pointer_count(npu_graph_t graph, size_t node, size_t* count);
NPU_C_API npu_status_t npu_graph_pointer(npu_graph_t graph, size_t node, size_t index,
                                         void** pointer);

NPU_C_API npu_status_t npu_graph_instantiate(npu_graph_t graph, npu_graph_exec_t* exec);
NPU_C_API npu_status_t npu_graph_exec_destroy(npu_graph_exec_t exec);
NPU_C_API npu_status_t npu_graph_exec_launch(npu_graph_exec_t exec, npu_stream_t stream);
NPU_C_API npu_status_t npu_graph_exec_pointer(npu_graph_exec_t exec, size_t node, size_t index,
                                              void** pointer);
NPU_C_API npu_status_t npu_graph_exec_set_pointer(npu_graph_exec_t exec, size_t node,
                                                  size_t index, void* pointer);
/* Moves pointers inside [old_base, old_base + bytes) to new_base; *changed
 * (may be NULL) receives how many. */
NPU_C_API npu_status_t npu_graph_exec_rebind(npu_graph_exec_t exec, const void* old_base,
                                             size_t bytes, void* new_base, size_t* changed);

#ifdef __cplusplus
}
#endif
/* NOLINTEND(modernize-*) */

#endif /* NPU_NPU_GRAPH_H */
