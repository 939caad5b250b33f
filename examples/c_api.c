/*
 * npu-c-api: the libnpu 1.0 C ABI from plain C11, as a framework binding
 * would use it. On each NPU:
 *
 *  1. allocate device memory with npu_malloc (one pointer per allocation,
 *     valid on the host and on the device), upload host data with
 *     npu_memcpy_async, plan an element-wise ADD once with npu_op_plan_create
 *     and launch it on the stream with plain pointers, read the sum back;
 *  2. capture fill + copy + ADD into a graph, instantiate it once, launch it
 *     twice, moving the copy's source and the ADD's output to other buffers
 *     between the launches (no re-capture);
 *  3. verify every element on the host, and show that a bad plan is refused
 *     with a status and a reason instead of aborting.
 */
#include <npu/npu.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COUNT = 64 * 1024 }; /* elements: 256 KiB per tensor */
#define TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define BIAS 0.5f

/* Evaluates a libnpu call; on failure reports it and jumps to `out`. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        npu_status_t status_ = (call);                                                             \
        if (status_ != NPU_SUCCESS) {                                                              \
            fprintf(stderr, "npu%u: %s: %s (%s)\n", index, #call, npu_status_string(status_),      \
                    npu_last_error_message());                                                     \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Counts the elements of got that differ from want, reporting the first. */
static size_t mismatches(uint32_t index, const char* what, const float* got, const float* want) {
    size_t i, bad = 0;

    for (i = 0; i < COUNT; i++) {
        if (got[i] != want[i]) {
            if (!bad)
                fprintf(stderr, "npu%u: %s: element %zu is %g, expected %g\n", index, what, i,
                        (double)got[i], (double)want[i]);
            bad++;
        }
    }
    return bad;
}

/* The node of a graph of the given kind, and the slot holding pointer. */
static int find_pointer(npu_graph_exec_t exec, npu_graph_t graph, npu_graph_node_kind_t kind,
                        const void* pointer, size_t* node, size_t* slot) {
    size_t nodes = 0, n, k, count;
    npu_graph_node_kind_t got;
    void* p;

    if (npu_graph_node_count(graph, &nodes) != NPU_SUCCESS)
        return 0;
    for (n = 0; n < nodes; n++) {
        if (npu_graph_node_kind(graph, n, &got) != NPU_SUCCESS || got != kind ||
            npu_graph_pointer_count(graph, n, &count) != NPU_SUCCESS)
            continue;
        for (k = 0; k < count; k++) {
            if (npu_graph_exec_pointer(exec, n, k, &p) == NPU_SUCCESS && p == pointer) {
                *node = n;
                *slot = k;
                return 1;
            }
        }
    }
    return 0;
}

static int run_device(uint32_t index) {
    const size_t bytes = COUNT * sizeof(float);
    const int64_t shape[1] = {COUNT}, bad_shape[1] = {COUNT + 1};
    npu_device_t device = NULL;
    npu_stream_t stream = NULL;
    npu_op_plan_t add = NULL, refused = NULL;
    npu_graph_t graph = NULL;
    npu_graph_exec_t exec = NULL;
    npu_device_properties_t props = {.size = sizeof(props)};
    npu_op_desc_t op;
    npu_tensor_desc_t tensors[4], bad[4];
    /* Device memory: inputs a, a2 and b, the graph's scratch t and bias c,
     * outputs y (eager), g1 and g2 (the two graph launches). */
    float *a = NULL, *a2 = NULL, *b = NULL, *t = NULL, *c = NULL;
    float *y = NULL, *g1 = NULL, *g2 = NULL;
    float* host[6] = {NULL}; /* in_a, in_a2, in_b, out_y, out_g1, out_g2 */
    float* want = NULL;
    uint32_t bias_bits;
    size_t i, nodes = 0, copy_node = 0, copy_slot = 0, op_node = 0, op_slot = 0, moved = 0;
    size_t bad_count = 0;
    int ok = 0;
    const float bias = BIAS;

    for (i = 0; i < 6; i++)
        if (!(host[i] = malloc(bytes)))
            goto out;
    if (!(want = malloc(bytes)))
        goto out;
    for (i = 0; i < COUNT; i++) {
        /* Small integers and halves: every sum is exact in float. */
        host[0][i] = (float)(i % 1000) + (float)index;
        host[1][i] = (float)((i * 7) % 1000) - 500.0f;
        host[2][i] = (float)(i % 17) * 2.0f;
    }
    memcpy(&bias_bits, &bias, sizeof(bias_bits));

    CHECK(npu_device_open(index, &device));
    CHECK(npu_device_get_properties(device, &props));
    CHECK(npu_stream_create(device, &stream));
    CHECK(npu_malloc(device, bytes, (void**)&a));
    CHECK(npu_malloc(device, bytes, (void**)&a2));
    CHECK(npu_malloc(device, bytes, (void**)&b));
    CHECK(npu_malloc(device, bytes, (void**)&t));
    CHECK(npu_malloc(device, bytes, (void**)&c));
    CHECK(npu_malloc(device, bytes, (void**)&y));
    CHECK(npu_malloc(device, bytes, (void**)&g1));
    CHECK(npu_malloc(device, bytes, (void**)&g2));

    /* Plan y = a + b once for this descriptor set: binary operands are
     * a, b, [cond], y; an absent operand has dtype NPU_DTYPE_NONE. */
    CHECK(npu_op_desc_init(&op, NPU_OP_KIND_BINARY));
    op.fn = NPU_BIN_ADD;
    memset(tensors, 0, sizeof(tensors));
    tensors[0] = (npu_tensor_desc_t){NPU_DTYPE_F32, 1, shape, NULL};
    tensors[1] = tensors[0];
    tensors[3] = tensors[0];
    CHECK(npu_op_plan_create(device, &op, tensors, 4, &add));

    /* 1. Eager: upload, add, download, all ordered on the stream. */
    CHECK(npu_memcpy_async(a, host[0], bytes, stream));
    CHECK(npu_memcpy_async(a2, host[1], bytes, stream));
    CHECK(npu_memcpy_async(b, host[2], bytes, stream));
    {
        const void* operands[4] = {a, b, NULL, y};
        CHECK(npu_op_plan_launch(add, stream, operands, 4));
    }
    CHECK(npu_memcpy_async(host[3], y, bytes, stream));

    /* 2. Capture: c = BIAS (fill), t = a (copy), g1 = t + c (operation). */
    CHECK(npu_stream_begin_capture(stream));
    CHECK(npu_memset32_async(c, bias_bits, COUNT, stream));
    CHECK(npu_memcpy_async(t, a, bytes, stream));
    {
        const void* operands[4] = {t, c, NULL, g1};
        CHECK(npu_op_plan_launch(add, stream, operands, 4));
    }
    CHECK(npu_stream_end_capture(stream, &graph));
    CHECK(npu_graph_node_count(graph, &nodes));
    CHECK(npu_graph_instantiate(graph, &exec));

    CHECK(npu_graph_exec_launch(exec, stream));
    /* Second launch: the copy reads a2 instead of a, the ADD writes g2.
     * The first launch, already enqueued, keeps its own pointers. */
    if (!find_pointer(exec, graph, NPU_GRAPH_NODE_COPY, a, &copy_node, &copy_slot) ||
        !find_pointer(exec, graph, NPU_GRAPH_NODE_OPERATION, g1, &op_node, &op_slot)) {
        fprintf(stderr, "npu%u: the graph's copy source or operation output was not found\n",
                index);
        goto out;
    }
    CHECK(npu_graph_exec_set_pointer(exec, copy_node, copy_slot, a2));
    CHECK(npu_graph_exec_rebind(exec, g1, bytes, g2, &moved));
    if (moved != 1) {
        fprintf(stderr, "npu%u: rebind moved %zu pointers, expected 1\n", index, moved);
        goto out;
    }
    CHECK(npu_graph_exec_launch(exec, stream));
    CHECK(npu_memcpy_async(host[4], g1, bytes, stream));
    CHECK(npu_memcpy_async(host[5], g2, bytes, stream));
    CHECK(npu_stream_synchronize(stream, TIMEOUT_NS));

    /* 3. Verify everything on the host. */
    for (i = 0; i < COUNT; i++)
        want[i] = host[0][i] + host[2][i];
    bad_count += mismatches(index, "eager a + b", host[3], want);
    for (i = 0; i < COUNT; i++)
        want[i] = host[0][i] + BIAS;
    bad_count += mismatches(index, "graph launch 1 (a + bias)", host[4], want);
    for (i = 0; i < COUNT; i++)
        want[i] = host[1][i] + BIAS;
    bad_count += mismatches(index, "graph launch 2 (a2 + bias)", host[5], want);
    if (bad_count) {
        fprintf(stderr, "npu%u: %zu wrong elements\n", index, bad_count);
        goto out;
    }

    /* A plan the device cannot run is refused with a reason. */
    memcpy(bad, tensors, sizeof(bad));
    bad[1].shape = bad_shape;
    if (npu_op_plan_create(device, &op, bad, 4, &refused) == NPU_SUCCESS ||
        !*npu_last_error_message()) {
        fprintf(stderr, "npu%u: adding mismatched shapes was not refused with a message\n", index);
        goto out;
    }

    printf("npu%u (%s, %s): ADD of %d floats eager and in a %zu-node graph (fill, copy, op) "
           "launched twice with new pointers, verified; refused a bad plan: %s\n",
           index, props.pci_address, props.uuid, COUNT, nodes, npu_last_error_message());
    ok = 1;
out:
    /* Destroy calls accept only live handles: skip the ones never made. */
    if (stream && npu_stream_synchronize(stream, TIMEOUT_NS) != NPU_SUCCESS)
        ok = 0;
    if (refused)
        npu_op_plan_destroy(refused);
    if (exec)
        npu_graph_exec_destroy(exec);
    if (graph)
        npu_graph_destroy(graph);
    if (add)
        npu_op_plan_destroy(add);
    /* npu_free(NULL) is a no-op. */
    npu_free(g2);
    npu_free(g1);
    npu_free(y);
    npu_free(c);
    npu_free(t);
    npu_free(b);
    npu_free(a2);
    npu_free(a);
    if (stream)
        npu_stream_destroy(stream);
    if (device)
        npu_device_close(device);
    free(want);
    for (i = 0; i < 6; i++)
        free(host[i]);
    return ok;
}

int main(void) {
    uint32_t count = 0, index;
    int ok = 1;

    if (npu_device_count(&count) != NPU_SUCCESS || count == 0) {
        fprintf(stderr, "No NPU devices found.\n");
        return 1;
    }
    for (index = 0; index < count; index++)
        ok = run_device(index) && ok;
    return ok ? 0 : 1;
}
