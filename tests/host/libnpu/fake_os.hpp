// FakeOs: an in-memory kernel + NPU for libnpu's host tests. Implements the
// ioctls of uapi/drm/npu_accel.h against host memory: BOs are heap pages,
// each open file has its own device address space, SUBMIT runs FILL/COPY
// packets at once (or holds them, to test timeouts), WAIT reports statuses.
// It counts every fd, GEM handle and mapping so tests can check for leaks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "npu/os_interface.hpp"

namespace npu::testing {

struct FakeDeviceConfig {
    std::string node = "/dev/accel/accel0";
    std::string subsystem = "accel";
    std::string pci_address = "0000:00:03.0";
    std::string pci_driver = "npu"; // driver bound to the PCI parent
    std::string drm_name = "npu";   // DRM_IOCTL_VERSION name
    bool deny_open = false;         // open() fails with EACCES
    std::map<uint32_t, uint64_t> params = default_params();

    static std::map<uint32_t, uint64_t> default_params();
};

struct SubmitRecord {
    int fd = -1;
    std::vector<uint32_t> bo_handles;
    std::vector<std::byte> commands;
    uint32_t queue_id = 0;
    uint64_t seqno = 0;
};

class FakeOs final : public OsInterface {
public:
    FakeOs();
    ~FakeOs() override;

    void add_device(FakeDeviceConfig config);

    // Fault injection.
    void fail_next_ioctl(unsigned long request, int errnum);
    void fail_next_mmap(int errnum);
    void hold_jobs(bool hold); // held jobs stay unfinished (WAIT -> ETIME)
    void release_jobs();       // runs every held job

    // Observation.
    size_t open_fds() const;
    size_t live_handles() const;
    size_t live_mappings() const;
    size_t bos_created() const;
    // GEM handles still open when their file was closed (leaked by the caller).
    size_t handles_dropped_by_close() const;
    std::vector<SubmitRecord> submits() const;
    // Host view of device memory at va in fd's address space (nullptr if unmapped).
    std::byte* device_memory(int fd, uint64_t va, size_t size);

    // OsInterface
    int open(const char* path, int flags) override;
    int close(int fd) override;
    int ioctl(int fd, unsigned long request, void* arg) override;
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) override;
    int munmap(void* addr, size_t length) override;
    std::vector<DeviceNode> list_device_nodes() override;

private:
    struct Memory;
    struct Bo;
    struct Job;
    struct File;

    int do_ioctl(File& file, unsigned long request, void* arg);
    int get_param(File& file, void* arg);
    int bo_create(File& file, void* arg);
    int bo_info(File& file, void* arg);
    int gem_close(File& file, void* arg);
    int submit(File& file, void* arg);
    int wait(File& file, void* arg);
    int version(File& file, void* arg);
    void execute(File& file, Job& job);
    static Bo* find_bo(const Job& job, uint64_t va, uint64_t size);

    mutable std::mutex mutex_; // protects everything below
    std::vector<FakeDeviceConfig> devices_;
    std::map<int, std::unique_ptr<File>> files_;
    std::map<void*, std::pair<size_t, std::shared_ptr<Memory>>> mappings_;
    std::vector<SubmitRecord> submits_;
    std::map<unsigned long, int> ioctl_failures_;
    int mmap_failure_ = 0;
    bool hold_jobs_ = false;
    int next_fd_ = 100;
    size_t bos_created_ = 0;
    size_t handles_dropped_by_close_ = 0;
};

} // namespace npu::testing
