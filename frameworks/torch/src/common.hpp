// npu_torch internals: the PrivateUse1 device on libnpu's public API.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Stream.h>

#include <npu/device.hpp>
#include <npu/event.hpp>
#include <npu/memory.hpp>
#include <npu/ops.hpp>
#include <npu/pool.hpp>
#include <npu/stream.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace npu_torch {

constexpr c10::DeviceType kNpu = c10::DeviceType::PrivateUse1;

// Devices: npu::Device::enumerate(), opened on first use and kept for the
// life of the process.
int device_count();
npu::Device& device(int index);
int current_device();
void set_current_device(int index);

// Streams of a device: id 0 is the default stream; others come from
// new_stream(). The current stream is per thread and per device.
npu::Stream& stream(int device, int64_t id);
int64_t new_stream(int device, int priority);
int64_t current_stream_id(int device);
void set_current_stream_id(int device, int64_t id);
inline npu::Stream& current_stream(int dev) { return stream(dev, current_stream_id(dev)); }
// Every stream of the device, synchronized.
void synchronize_device(int device);

// The device index of a PrivateUse1 tensor.
inline int index_of(const at::Tensor& t) { return t.device().index() < 0 ? 0 : t.device().index(); }
// The stream a tensor's work is enqueued on: its device's current stream.
inline npu::Stream& stream_of(const at::Tensor& t) { return current_stream(index_of(t)); }

// Allocator (REGISTER_ALLOCATOR) statistics.
struct MemoryStats {
    int64_t allocated_bytes = 0;
    int64_t peak_allocated_bytes = 0;
    int64_t allocations = 0;
    int64_t total_allocations = 0;
    int64_t total_frees = 0;
};
MemoryStats memory_stats(int device);
void reset_peak(int device);
void empty_cache(int device);

// Op API helpers (kernels.cpp, copy.cpp).
npu::ops::DType to_dtype(at::ScalarType type);  // none when the device has no such dtype
bool device_dtype(at::ScalarType type);
npu::ops::TensorDesc desc(const at::Tensor& t);
// t viewed with shape (broadcast: missing or size-1 dimensions get stride 0).
npu::ops::TensorDesc desc_broadcast(const at::Tensor& t, at::IntArrayRef shape);
// Plans are cached by descriptor; launches on the current stream of dev.
void launch(int dev, const npu::ops::OpDesc& op, const std::vector<npu::ops::TensorDesc>& descs,
            const std::vector<const void*>& ptrs);
// A 0-dim device tensor holding value as type.
at::Tensor scalar_on(const at::Scalar& value, at::ScalarType type, const at::Device& dev);
// Device -> device strided copy (and cast) of same-shaped tensors.
void device_copy(const at::Tensor& src, const at::Tensor& dst);

// Fallback counting (fallback.cpp).
void count_fallback(const std::string& name);
std::vector<std::string> fallback_names();
std::vector<int64_t> fallback_values();
void fallback_reset();

} // namespace npu_torch
