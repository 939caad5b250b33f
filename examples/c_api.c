/*
 * npu-c-api: the libnpu C ABI from plain C11, as a framework binding would
 * use it. On each NPU: stage host data in, fill part of it on the device,
 * copy it through a stream-ordered pool block, read it back, time it with
 * events, run a host callback in stream order, and check every word. Also
 * shows that a bad call returns a status and a message instead of aborting.
 */
#include <npu/npu.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WORDS = 64 * 1024 }; /* 256 KiB */
#define TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

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

static void mark_done(void* user_data) {
    *(int*)user_data = 1;
}

static int run_device(uint32_t index) {
    npu_device_t device = NULL;
    npu_stream_t stream = NULL;
    npu_pool_t pool = NULL;
    npu_buffer_t staging = NULL, block = NULL;
    npu_event_t start = NULL, end = NULL;
    npu_device_properties_t props = {.size = sizeof(props)};
    uint32_t* in = malloc(WORDS * sizeof(*in));
    uint32_t* back = malloc(WORDS * sizeof(*back));
    const uint32_t fill = 0xc0ffee00u + index;
    const size_t bytes = WORDS * sizeof(uint32_t), half = bytes / 2;
    int64_t elapsed_ns = 0;
    int callback_ran = 0, ok = 0;
    size_t i;

    if (!in || !back)
        goto out;
    for (i = 0; i < WORDS; i++) {
        in[i] = (uint32_t)i * 2654435761u + index;
        back[i] = ~in[i];
    }
    CHECK(npu_device_open(index, &device));
    CHECK(npu_device_get_properties(device, &props));
    CHECK(npu_stream_create(device, &stream));
    CHECK(npu_device_default_pool(device, &pool));
    CHECK(npu_event_create(device, &start));
    CHECK(npu_event_create(device, &end));
    CHECK(npu_buffer_create(device, bytes, 0, &staging));

    CHECK(npu_stream_record_event(stream, start));
    CHECK(npu_stream_copy_from_host(stream, staging, 0, in, bytes));
    CHECK(npu_stream_fill(stream, staging, half, bytes - half, fill));
    CHECK(npu_pool_alloc_async(pool, bytes, stream, &block));
    CHECK(npu_stream_copy(stream, staging, 0, block, 0, bytes));
    CHECK(npu_stream_copy_to_host(stream, back, block, 0, bytes));
    CHECK(npu_pool_free_async(pool, block, stream));
    block = NULL; /* the handle is gone; the block returns after the copy */
    CHECK(npu_stream_launch_host_func(stream, mark_done, &callback_ran));
    CHECK(npu_stream_record_event(stream, end));
    CHECK(npu_stream_synchronize(stream, TIMEOUT_NS));
    CHECK(npu_event_elapsed_ns(start, end, &elapsed_ns));

    for (i = 0; i < WORDS; i++) {
        uint32_t want = i < WORDS / 2 ? in[i] : fill;

        if (back[i] != want) {
            fprintf(stderr, "npu%u: word %zu is 0x%08" PRIx32 ", expected 0x%08" PRIx32 "\n", index,
                    i, back[i], want);
            goto out;
        }
    }
    if (!callback_ran) {
        fprintf(stderr, "npu%u: the host callback did not run before synchronize returned\n",
                index);
        goto out;
    }
    if (npu_buffer_create(device, 0, 0, &block) != NPU_ERROR_INVALID_ARGUMENT ||
        !*npu_last_error_message()) {
        fprintf(stderr, "npu%u: a zero-sized buffer was not refused with a message\n", index);
        goto out;
    }
    printf("npu%u (%s, %s): %zu KiB in, filled, copied through a pool block and back, "
           "verified; %" PRId64 " us device time; refused a 0-byte buffer: %s\n",
           index, props.pci_address, props.uuid, bytes / 1024, elapsed_ns / 1000,
           npu_last_error_message());
    ok = 1;
out:
    /* Destroy calls accept only live handles: skip the ones never made. */
    if (block)
        npu_buffer_destroy(block);
    if (staging)
        npu_buffer_destroy(staging);
    if (end)
        npu_event_destroy(end);
    if (start)
        npu_event_destroy(start);
    if (pool)
        npu_pool_destroy(pool);
    if (stream)
        npu_stream_destroy(stream);
    if (device)
        npu_device_close(device);
    free(back);
    free(in);
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
