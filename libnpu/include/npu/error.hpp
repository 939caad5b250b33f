// Errors: every failure is an npu::Error (a std::system_error) carrying the
// errno and naming the operation that failed; a failed job is a JobError.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include "npu/export.hpp"

namespace npu {

class NPU_API Error : public std::system_error {
public:
    // what() reads "<operation>: <strerror(errnum)>".
    Error(int errnum, const std::string& operation);
    ~Error() override;

    [[nodiscard]] int errnum() const noexcept { return code().value(); }
};

// A job the device ran but that failed (errno EIO). Carries what WAIT reported.
class NPU_API JobError : public Error {
public:
    JobError(uint32_t status, uint64_t seqno, uint32_t err_offset, uint64_t fault_addr);
    ~JobError() override;

    [[nodiscard]] uint32_t status() const noexcept { return status_; }
    [[nodiscard]] uint64_t seqno() const noexcept { return seqno_; }
    [[nodiscard]] uint32_t err_offset() const noexcept { return err_offset_; }
    [[nodiscard]] uint64_t fault_addr() const noexcept { return fault_addr_; }

private:
    uint32_t status_;
    uint64_t seqno_;
    uint32_t err_offset_;
    uint64_t fault_addr_;
};

// "OK", "BAD_PACKET", "PAGE_FAULT", ... for a DRM_NPU_JOB_STATUS_* value.
NPU_API std::string job_status_name(uint32_t status);

} // namespace npu
