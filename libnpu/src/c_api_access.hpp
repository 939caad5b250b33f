// What c_api.cpp lends the C ABI files of other areas: the C++ objects
// behind handles, and the thread's last-error message. Internal (hidden).
#pragma once

#include <string>

#include "npu/device.hpp"
#include "npu/npu.h"
#include "npu/stream.hpp"

namespace npu::capi {

[[nodiscard]] npu::Stream* stream_of(npu_stream_t stream) noexcept;
[[nodiscard]] const npu::Device* device_of(npu_device_t device) noexcept;
// Records message as npu_last_error_message() and returns status.
npu_status_t fail_with(npu_status_t status, std::string message);
[[nodiscard]] npu_status_t status_of_errno(int errnum);

} // namespace npu::capi
