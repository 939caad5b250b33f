// libnpu C++ API.
#pragma once

#include "npu/buffer.hpp"     // IWYU pragma: export
#include "npu/device.hpp"     // IWYU pragma: export
#include "npu/driver_api.hpp" // IWYU pragma: export
#include "npu/error.hpp"      // IWYU pragma: export
#include "npu/event.hpp"      // IWYU pragma: export
#include "npu/graph.hpp"      // IWYU pragma: export
#include "npu/memory.hpp"     // IWYU pragma: export
#include "npu/pool.hpp"       // IWYU pragma: export
#include "npu/stream.hpp"     // IWYU pragma: export
#include "npu/version.hpp"    // IWYU pragma: export
