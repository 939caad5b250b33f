// The version of the library actually loaded (npu/version.h).
#include "npu/version.hpp"

#include "npu/npu.h"

#define NPU_STRINGIFY2(x) #x
#define NPU_STRINGIFY(x) NPU_STRINGIFY2(x)

namespace npu {

Version library_version() noexcept {
    return {NPU_VERSION_MAJOR, NPU_VERSION_MINOR, NPU_VERSION_PATCH};
}

unsigned api_version() noexcept {
    return NPU_API_VERSION;
}

} // namespace npu

extern "C" {

uint32_t npu_api_version(void) {
    return NPU_API_VERSION;
}

const char* npu_version_string(void) {
    return NPU_STRINGIFY(NPU_VERSION_MAJOR) "." NPU_STRINGIFY(NPU_VERSION_MINOR) "." NPU_STRINGIFY(
        NPU_VERSION_PATCH);
}

} // extern "C"
