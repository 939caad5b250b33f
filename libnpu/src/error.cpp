#include "npu/error.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include <npu/uapi/drm/npu_accel.h>

namespace npu {

Error::Error(int errnum, const std::string& operation)
    : std::system_error(errnum, std::generic_category(), operation) {}

Error::~Error() = default;

namespace {

std::string describe_job(uint32_t status, uint64_t seqno, uint32_t err_offset,
                         uint64_t fault_addr) {
    char text[160];
    if (status == DRM_NPU_JOB_STATUS_PAGE_FAULT) {
        std::snprintf(text, sizeof(text),
                      "job %" PRIu64 " failed: PAGE_FAULT at device address 0x%" PRIx64
                      " (packet at offset %" PRIu32 ")",
                      seqno, fault_addr, err_offset);
    } else {
        std::snprintf(text, sizeof(text),
                      "job %" PRIu64 " failed: %s (status %" PRIu32 ", packet at offset %" PRIu32
                      ", fault address 0x%" PRIx64 ")",
                      seqno, job_status_name(status).c_str(), status, err_offset, fault_addr);
    }
    return text;
}

} // namespace

JobError::JobError(uint32_t status, uint64_t seqno, uint32_t err_offset, uint64_t fault_addr)
    : Error(EIO, describe_job(status, seqno, err_offset, fault_addr)), status_(status),
      seqno_(seqno), err_offset_(err_offset), fault_addr_(fault_addr) {}

JobError::~JobError() = default;

std::string job_status_name(uint32_t status) {
    switch (status) {
    case DRM_NPU_JOB_STATUS_OK:
        return "OK";
    case DRM_NPU_JOB_STATUS_BAD_PACKET:
        return "BAD_PACKET";
    case DRM_NPU_JOB_STATUS_PAGE_FAULT:
        return "PAGE_FAULT";
    case DRM_NPU_JOB_STATUS_TIMEOUT:
        return "TIMEOUT";
    case DRM_NPU_JOB_STATUS_ABORTED:
        return "ABORTED";
    case DRM_NPU_JOB_STATUS_EXPIRED:
        return "EXPIRED";
    default:
        return "UNKNOWN(" + std::to_string(status) + ")";
    }
}

} // namespace npu
