// FakeOs: an in-memory kernel + NPU for libnpu's host tests. Implements the
// ioctls of uapi/drm/npu_accel.h and DRM core's syncobj ioctls against host
// memory: BOs are heap pages, each open file has its own device address
// space and queues; jobs run in queue order as soon as their in-fences are
// signalled (or stay held, to test timeouts), executing FILL/COPY/TIMESTAMP/
// FENCE/WAIT_MEM packets (WAIT_MEM blocks its queue until the word
// matches); WAIT and syncobj waits block until their absolute deadline.
// Syncobjs are binary or timeline; sync_file and syncobj fds are fake fds
// shared by every device, so fences travel between devices.
// It counts every fd, GEM handle, mapping and ioctl so tests can check for
// leaks and for system calls.
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
    uint32_t flags = 0;     // DRM_NPU_SUBMIT_*
    uint32_t in_fences = 0; // in-syncobjs
};

class FakeOs final : public OsInterface {
public:
    FakeOs();
    ~FakeOs() override;

    void add_device(FakeDeviceConfig config);

    // Fault injection.
    void fail_next_ioctl(unsigned long request, int errnum);
    void fail_next_mmap(int errnum);
    void hold_jobs(bool hold); // jobs submitted while holding stay unfinished
    void release_jobs();       // lets every held job run
    // User-mode queues (DRM_IOCTL_NPU_UQUEUE_*, enabled by a non-zero
    // DRM_NPU_PARAM_UQUEUE_COUNT): a ring of this many descriptors (16 by
    // default; a power of two) for queues created from now on.
    void set_uqueue_entries(uint32_t entries);
    // Runs what user-mode queues hold, as the device does when their
    // doorbells ring (ioctls do it too, like every job: see pump()).
    void run_user_queues();
    // Every user-mode queue stops (DRM_NPU_UQUEUE_STOPPED with an error in
    // the control page, or LOST / BANNED with none): nothing more of them
    // runs, their fences signal.
    void stop_user_queues(uint32_t state, uint32_t error);
    // Hot-unplug: the node disappears, its files' ioctls and mmaps fail with
    // ENODEV, unfinished jobs end ABORTED (their fences signal).
    void unplug(const std::string& node);

    // Observation.
    size_t open_fds() const;
    size_t live_handles() const;
    size_t live_mappings() const;
    size_t bos_created() const;
    size_t binds_made() const; // VM_BIND maps so far
    // Ranges bound with VM_BIND in fd's address space and still bound.
    size_t live_binds(int fd) const;
    // GEM handles still open when their file was closed (leaked by the caller).
    size_t handles_dropped_by_close() const;
    std::vector<SubmitRecord> submits() const;
    // ioctls made so far (all files), and of one request code.
    size_t ioctl_count() const;
    size_t ioctl_count(unsigned long request) const;
    // Queues created (QUEUE_CREATE) and still alive, all files.
    size_t live_queues() const;
    size_t live_uqueues() const; // user-mode queues
    // Jobs completed by user-mode queues so far (all files).
    size_t user_jobs_run() const;
    size_t live_syncobjs() const;
    uint32_t queue_priority(int fd, uint32_t queue_id) const;
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
    struct Fence;
    struct Syncobj;
    struct ExtraFd;
    struct UQueue;
    using Lock = std::unique_lock<std::mutex>;

    int do_ioctl(File& file, unsigned long request, void* arg, Lock& lock);
    int queue_create(File& file, void* arg);
    int queue_destroy(File& file, void* arg);
    int uqueue_ioctl(File& file, unsigned long request, void* arg);
    // Runs user-mode queue jobs; true if any progressed.
    bool pump_user_queues(File& file);
    int syncobj_ioctl(File& file, unsigned long request, void* arg, Lock& lock);
    // Fence of a syncobj point (0: the binary fence); nullptr if none yet.
    static std::shared_ptr<Fence> fence_for(const Syncobj& syncobj, uint64_t point);
    // Runs every job that can run, until nothing changes.
    void pump();
    // Returns true when the job finished, false if it is blocked (WAIT_MEM).
    bool run_job(Job& job);
    // Unlocks, sleeps briefly, relocks, pumps; false once deadline_ns passed.
    bool poll_until(Lock& lock, int64_t deadline_ns);
    int get_param(File& file, void* arg);
    int bo_create(File& file, void* arg);
    int bo_info(File& file, void* arg);
    int bo_sync(File& file, void* arg);
    int gem_close(File& file, void* arg);
    int vm_bind(File& file, void* arg);
    int userptr(File& file, void* arg);
    int prime(File& file, unsigned long request, void* arg);
    int submit(File& file, void* arg);
    int wait(File& file, void* arg, Lock& lock);
    int version(File& file, void* arg);
    static Bo* find_bo(const Job& job, uint64_t va, uint64_t size);

    mutable std::mutex mutex_; // protects everything below
    std::vector<FakeDeviceConfig> devices_;
    std::map<int, std::unique_ptr<File>> files_;
    std::map<void*, std::pair<size_t, std::shared_ptr<Memory>>> mappings_;
    std::vector<SubmitRecord> submits_;
    std::map<int, std::unique_ptr<ExtraFd>> extra_fds_; // sync_file / syncobj fds
    std::map<unsigned long, size_t> ioctl_counts_;
    size_t ioctl_total_ = 0;
    std::map<unsigned long, int> ioctl_failures_;
    int mmap_failure_ = 0;
    bool hold_jobs_ = false;
    uint32_t uqueue_entries_ = 16;
    size_t user_jobs_run_ = 0;
    int next_fd_ = 100;
    size_t bos_created_ = 0;
    size_t binds_made_ = 0;
    size_t handles_dropped_by_close_ = 0;
};

} // namespace npu::testing
