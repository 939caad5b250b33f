// A program built only against an installed libnpu (find_package or
// pkg-config): uses the C++ API and the C ABI without a device present.
#include <npu/npu.h>
#include <npu/npu.hpp>

#include <cstdio>

int main() {
    const auto devices = npu::Device::enumerate();
    uint32_t count = 0;
    if (npu_device_count(&count) != NPU_SUCCESS || count != devices.size()) {
        std::fprintf(stderr, "device counts disagree\n");
        return 1;
    }
    // Built against this header's version; the loaded library is at least it.
    if (npu_api_version() < NPU_API_VERSION || npu::api_version() != npu_api_version()) {
        std::fprintf(stderr, "libnpu %s is older than the headers (%d)\n", npu_version_string(),
                     NPU_API_VERSION);
        return 1;
    }
    std::printf("libnpu %s: ", npu_version_string());
    std::printf("%zu npu device(s); uuid of serial 1: %s; %s\n", devices.size(),
                npu::uuid_from_serial(1).c_str(), npu_status_string(NPU_ERROR_TIMEOUT));
    return 0;
}
