// The C ABI of graphs (npu/npu_graph.h): thin wrappers over npu/graph.hpp
// that turn exceptions into npu_status_t, as c_api.cpp does.
#include <cerrno>
#include <new>
#include <string>
#include <system_error>

#include "c_api_internal.hpp"
#include "npu/error.hpp"
#include "npu/graph.hpp"
#include "npu/npu.h"
#include "npu/stream.hpp"

// Defined as in c_api.cpp (the handle types are shared).
struct npu_graph {
    npu::Graph graph;
};
struct npu_graph_exec {
    npu::GraphExec exec;
};

namespace {

using npu::capi::guarded;
using npu::capi::null_argument;

#define NPU_REQUIRE(arg)                                                                           \
    do {                                                                                           \
        if (!(arg))                                                                                \
            return null_argument(__func__, #arg);                                                  \
    } while (0)

} // namespace

extern "C" {

npu_status_t npu_stream_begin_capture(npu_stream_t stream) {
    NPU_REQUIRE(stream);
    return guarded([&] { npu::Graph::begin_capture(stream->stream); });
}

npu_status_t npu_stream_end_capture(npu_stream_t stream, npu_graph_t* graph) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(graph);
    return guarded([&] { *graph = new npu_graph{npu::Graph::end_capture(stream->stream)}; });
}

npu_status_t npu_stream_is_capturing(npu_stream_t stream, int* capturing) {
    NPU_REQUIRE(stream);
    NPU_REQUIRE(capturing);
    *capturing = npu::Graph::capturing(stream->stream) ? 1 : 0;
    return NPU_SUCCESS;
}

npu_status_t npu_graph_destroy(npu_graph_t graph) {
    delete graph;
    return NPU_SUCCESS;
}

npu_status_t npu_graph_node_count(npu_graph_t graph, size_t* count) {
    NPU_REQUIRE(graph);
    NPU_REQUIRE(count);
    *count = graph->graph.node_count();
    return NPU_SUCCESS;
}

npu_status_t npu_graph_node_kind(npu_graph_t graph, size_t node, npu_graph_node_kind_t* kind) {
    NPU_REQUIRE(graph);
    NPU_REQUIRE(kind);
    return guarded(
        [&] { *kind = static_cast<npu_graph_node_kind_t>(graph->graph.node_kind(node)); });
}

npu_status_t npu_graph_pointer_count(npu_graph_t graph, size_t node, size_t* count) {
    NPU_REQUIRE(graph);
    NPU_REQUIRE(count);
    return guarded([&] { *count = graph->graph.pointer_count(node); });
}

npu_status_t npu_graph_pointer(npu_graph_t graph, size_t node, size_t index, void** pointer) {
    NPU_REQUIRE(graph);
    NPU_REQUIRE(pointer);
    return guarded([&] { *pointer = graph->graph.pointer(node, index); });
}

npu_status_t npu_graph_instantiate(npu_graph_t graph, npu_graph_exec_t* exec) {
    NPU_REQUIRE(graph);
    NPU_REQUIRE(exec);
    return guarded([&] { *exec = new npu_graph_exec{npu::GraphExec(graph->graph)}; });
}

npu_status_t npu_graph_exec_destroy(npu_graph_exec_t exec) {
    delete exec;
    return NPU_SUCCESS;
}

npu_status_t npu_graph_exec_launch(npu_graph_exec_t exec, npu_stream_t stream) {
    NPU_REQUIRE(exec);
    NPU_REQUIRE(stream);
    return guarded([&] { exec->exec.launch(stream->stream); });
}

npu_status_t npu_graph_exec_pointer(npu_graph_exec_t exec, size_t node, size_t index,
                                    void** pointer) {
    NPU_REQUIRE(exec);
    NPU_REQUIRE(pointer);
    return guarded([&] { *pointer = exec->exec.pointer(node, index); });
}

npu_status_t npu_graph_exec_set_pointer(npu_graph_exec_t exec, size_t node, size_t index,
                                        void* pointer) {
    NPU_REQUIRE(exec);
    return guarded([&] { exec->exec.set_pointer(node, index, pointer); });
}

npu_status_t npu_graph_exec_rebind(npu_graph_exec_t exec, const void* old_base, size_t bytes,
                                   void* new_base, size_t* changed) {
    NPU_REQUIRE(exec);
    return guarded([&] {
        const size_t count = exec->exec.rebind(old_base, bytes, new_base);
        if (changed)
            *changed = count;
    });
}

} // extern "C"
