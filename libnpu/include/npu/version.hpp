// libnpu's version (C++): NPU_API_VERSION (npu/version.h) is what a program
// was compiled against, these return what is loaded.
#pragma once

#include "npu/device.hpp" // npu::Version
#include "npu/export.hpp"
#include "npu/version.h" // IWYU pragma: export

namespace npu {

// {NPU_VERSION_MAJOR, NPU_VERSION_MINOR, NPU_VERSION_PATCH} of the library.
[[nodiscard]] NPU_API Version library_version() noexcept;
// NPU_API_VERSION of the library (10000 for 1.0.0).
[[nodiscard]] NPU_API unsigned api_version() noexcept;

} // namespace npu
