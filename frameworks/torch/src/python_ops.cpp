// The runtime entry points npu_torch/__init__.py calls (torch.ops.npu.*):
// devices, streams, events, memory statistics and fallback counts. Plain
// torch operators, so the extension needs no Python headers.
#include "common.hpp"

#include <torch/library.h>

#include <map>
#include <mutex>

namespace npu_torch {
namespace {

int64_t op_device_count() { return device_count(); }
int64_t op_current_device() { return current_device(); }
void op_set_device(int64_t d) { set_current_device(static_cast<int>(d)); }
void op_synchronize(int64_t d) { synchronize_device(static_cast<int>(d)); }

int64_t op_stream_new(int64_t d, int64_t priority) {
    return new_stream(static_cast<int>(d), static_cast<int>(priority));
}
int64_t op_stream_current(int64_t d) { return current_stream_id(static_cast<int>(d)); }
void op_stream_set(int64_t d, int64_t id) { set_current_stream_id(static_cast<int>(d), id); }
void op_stream_synchronize(int64_t d, int64_t id) { stream(static_cast<int>(d), id).synchronize(); }
bool op_stream_query(int64_t d, int64_t id) { return stream(static_cast<int>(d), id).query(); }

// Events by handle.
std::mutex events_lock; // protects events, next_event
std::map<int64_t, std::shared_ptr<npu::Event>> events;
int64_t next_event = 1;

std::shared_ptr<npu::Event> event(int64_t h) {
    std::lock_guard g(events_lock);
    auto it = events.find(h);
    TORCH_CHECK(it != events.end(), "npu: no event ", h);
    return it->second;
}

int64_t op_event_new(int64_t d, bool timing) {
    auto ev = std::make_shared<npu::Event>(
        device(static_cast<int>(d)), timing ? npu::EventFlags::none : npu::EventFlags::disable_timing);
    std::lock_guard g(events_lock);
    events[next_event] = std::move(ev);
    return next_event++;
}
void op_event_destroy(int64_t h) {
    std::lock_guard g(events_lock);
    events.erase(h);
}
void op_event_record(int64_t h, int64_t d, int64_t sid) {
    stream(static_cast<int>(d), sid).record(*event(h));
}
void op_event_wait(int64_t h, int64_t d, int64_t sid) {
    stream(static_cast<int>(d), sid).wait(*event(h));
}
bool op_event_query(int64_t h) { return event(h)->query(); }
void op_event_synchronize(int64_t h) { event(h)->synchronize(); }
double op_event_elapsed_ms(int64_t a, int64_t b) {
    return std::chrono::duration<double, std::milli>(npu::Event::elapsed(*event(a), *event(b)))
        .count();
}

std::tuple<std::vector<std::string>, std::vector<int64_t>> op_memory_stats(int64_t d) {
    auto s = memory_stats(static_cast<int>(d));
    auto pool = device(static_cast<int>(d)).default_pool().stats();
    return {{"allocated_bytes.all.current", "allocated_bytes.all.peak", "allocation.all.current",
             "allocation.all.allocated", "allocation.all.freed", "reserved_bytes.all.current",
             "reserved_bytes.all.peak", "pool.chunks", "pool.chunk_creations"},
            {s.allocated_bytes, s.peak_allocated_bytes, s.allocations, s.total_allocations,
             s.total_frees, static_cast<int64_t>(pool.reserved_bytes),
             static_cast<int64_t>(pool.reserved_high_water), static_cast<int64_t>(pool.chunks),
             static_cast<int64_t>(pool.chunk_creations)}};
}
void op_reset_peak(int64_t d) { reset_peak(static_cast<int>(d)); }
void op_empty_cache(int64_t d) { empty_cache(static_cast<int>(d)); }

std::tuple<std::vector<std::string>, std::vector<int64_t>> op_fallback_counts() {
    return {fallback_names(), fallback_values()};
}
void op_fallback_reset() { fallback_reset(); }

} // namespace
} // namespace npu_torch

TORCH_LIBRARY(npu, m) {
    using namespace npu_torch;
    m.def("device_count() -> int", &op_device_count);
    m.def("current_device() -> int", &op_current_device);
    m.def("set_device(int device) -> ()", &op_set_device);
    m.def("synchronize(int device) -> ()", &op_synchronize);
    m.def("stream_new(int device, int priority) -> int", &op_stream_new);
    m.def("stream_current(int device) -> int", &op_stream_current);
    m.def("stream_set(int device, int id) -> ()", &op_stream_set);
    m.def("stream_synchronize(int device, int id) -> ()", &op_stream_synchronize);
    m.def("stream_query(int device, int id) -> bool", &op_stream_query);
    m.def("event_new(int device, bool timing) -> int", &op_event_new);
    m.def("event_destroy(int event) -> ()", &op_event_destroy);
    m.def("event_record(int event, int device, int stream) -> ()", &op_event_record);
    m.def("event_wait(int event, int device, int stream) -> ()", &op_event_wait);
    m.def("event_query(int event) -> bool", &op_event_query);
    m.def("event_synchronize(int event) -> ()", &op_event_synchronize);
    m.def("event_elapsed_ms(int start, int end) -> float", &op_event_elapsed_ms);
    m.def("memory_stats(int device) -> (str[], int[])", &op_memory_stats);
    m.def("reset_peak_memory_stats(int device) -> ()", &op_reset_peak);
    m.def("empty_cache(int device) -> ()", &op_empty_cache);
    m.def("fallback_counts() -> (str[], int[])", &op_fallback_counts);
    m.def("fallback_reset() -> ()", &op_fallback_reset);
}
