// Shared helpers of the VM suite: find and open NPU nodes, buffer objects
// with host mappings, command-stream encoding and submit/wait wrappers over
// the raw uapi (no libnpu: this suite tests the kernel ABI itself).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "drm/npu_accel.h"
#include "drm/npu_packet.h"

namespace npu_test
{

inline constexpr uint64_t kPageSize = 4096;

// One NPU device node: /dev/accel/accelN (6.12) or /dev/dri/renderDN (6.1).
struct NodeInfo {
	std::string dev_path;  // /dev/accel/accel0
	std::string pci_bdf;   // 0000:00:03.0
	std::string sysfs_pci; // /sys/bus/pci/devices/0000:00:03.0
};

// Every node whose parent device is bound to the "npu" driver, by path.
std::vector<NodeInfo> FindNpuNodes();

// Polls FindNpuNodes() until pred holds or timeout_ms passes.
bool WaitForNodes(bool (*pred)(const std::vector<NodeInfo> &), int timeout_ms);

int64_t MonotonicNs();

// Polls pred every 10 ms until it holds or timeout_ms passes: the driver
// releases objects (jobs, BOs, address spaces) in the background.
bool Eventually(const std::function<bool()> &pred, int timeout_ms = 5000);
inline int64_t DeadlineInMs(int64_t ms)
{
	return MonotonicNs() + ms * 1000000;
}

// Reads a sysfs attribute like "0x1110\n" as a number; throws if absent.
uint64_t ReadSysfsNumber(const std::string &path);

// ioctl() retried on EINTR/EAGAIN; returns 0 or the errno it failed with.
int IoctlErrno(int fd, unsigned long request, void *arg);

// An open device file, i.e. one NPU context.
class Device
{
public:
	explicit Device(const std::string &path);
	~Device();
	Device(const Device &) = delete;
	Device &operator=(const Device &) = delete;

	// The first NPU node; throws std::runtime_error "no npu device found".
	static std::unique_ptr<Device> OpenFirst();

	int fd() const { return fd_; }
	const std::string &path() const { return path_; }
	uint64_t Param(uint32_t param) const; // throws on failure
	void Close();			      // early close (lifecycle tests)

private:
	int fd_ = -1;
	std::string path_;
};

// A buffer object with a lazily created host mapping; closed on destruction.
class Bo
{
public:
	Bo(const Device &dev, uint64_t size, uint32_t flags = 0);
	~Bo();
	Bo(const Bo &) = delete;
	Bo &operator=(const Bo &) = delete;

	uint32_t handle() const { return handle_; }
	uint64_t addr() const { return addr_; } // device address
	uint64_t size() const { return size_; } // after rounding
	uint64_t mmap_offset() const { return mmap_offset_; }
	uint8_t *map(); // host view, MAP_SHARED

	template <typename T> T *at(uint64_t offset)
	{
		return reinterpret_cast<T *>(map() + offset);
	}
	// DRM_IOCTL_NPU_BO_SYNC of [offset, offset + size); returns its errno.
	int Sync(uint64_t offset, uint64_t size, uint32_t flags);

	// Volatile reads: the device writes behind the compiler's back. Each
	// syncs its bytes from the device first and WriteU64 syncs them to
	// the device after the store, so a running job and the CPU exchange
	// gates and stamps under bounce buffers too (docs/driver.md, "DMA").
	uint64_t ReadU64(uint64_t offset)
	{
		SyncWord(offset, 8, DRM_NPU_BO_SYNC_FROM_DEVICE);
		return *reinterpret_cast<volatile uint64_t *>(map() + offset);
	}
	uint32_t ReadU32(uint64_t offset)
	{
		SyncWord(offset, 4, DRM_NPU_BO_SYNC_FROM_DEVICE);
		return *reinterpret_cast<volatile uint32_t *>(map() + offset);
	}
	void WriteU64(uint64_t offset, uint64_t v)
	{
		*reinterpret_cast<volatile uint64_t *>(map() + offset) = v;
		SyncWord(offset, 8, DRM_NPU_BO_SYNC_TO_DEVICE);
	}

private:
	// Sync() for the helpers above: a failure other than the device
	// being gone (unbind tests, closed file) is a test failure.
	void SyncWord(uint64_t offset, uint64_t size, uint32_t flags);

	const Device &dev_;
	uint32_t handle_ = 0;
	uint64_t addr_ = 0;
	uint64_t size_ = 0;
	uint64_t mmap_offset_ = 0;
	uint8_t *map_ = nullptr;
};

// Encodes packets of uapi/drm/npu_packet.h; each method returns the byte
// offset of the packet it appended (what WAIT reports as err_offset).
class Commands
{
public:
	uint32_t Nop(uint32_t dwords = NPU_PKT_NOP_DWORDS);
	uint32_t Fill(uint64_t dst, uint32_t value, uint64_t size);
	uint32_t Copy(uint64_t src, uint64_t dst, uint64_t size);
	uint32_t Timestamp(uint64_t dst);
	uint32_t Fence(uint64_t dst, uint64_t value);
	uint32_t WaitMem(uint64_t addr, uint64_t value);
	uint32_t WaitMemGe(uint64_t addr, uint64_t value); // NPU_WAIT_MEM_GE
	uint32_t WriteMem(uint64_t addr, uint64_t value, uint32_t flags = 0);
	uint32_t Call(uint64_t addr, uint64_t size);
	// Any header followed by raw dwords, for malformed packets.
	uint32_t Raw(uint32_t header, const std::vector<uint32_t> &payload);

	uint32_t bytes() const { return static_cast<uint32_t>(words_.size() * 4); }
	const std::vector<uint32_t> &words() const { return words_; }

private:
	template <typename Pkt> uint32_t Append(const Pkt &pkt);
	std::vector<uint32_t> words_;
};

struct SubmitOptions {
	std::vector<uint32_t> extra_bos; // besides the command BO
	std::vector<uint32_t> in_syncobjs;
	uint32_t out_syncobj = 0;
	uint32_t queue_id = 0;
	std::vector<uint64_t> in_points; // empty, or one per in_syncobj
	uint64_t out_point = 0;
	uint32_t flags = 0;
};

// Options with extra BOs, binary in-syncobjs and an out-syncobj (0: none).
inline SubmitOptions WithSyncobjs(std::vector<uint32_t> bos, std::vector<uint32_t> in, uint32_t out)
{
	SubmitOptions opts;
	opts.extra_bos = std::move(bos);
	opts.in_syncobjs = std::move(in);
	opts.out_syncobj = out;
	return opts;
}

// Options naming only the BOs a job uses besides the command BO.
inline SubmitOptions UsingBos(std::vector<uint32_t> bos)
{
	SubmitOptions opts;
	opts.extra_bos = std::move(bos);
	return opts;
}

struct WaitResult {
	int err = 0; // errno of DRM_IOCTL_NPU_WAIT, 0 on success
	drm_npu_wait args{};
};

// One context plus a command BO that submissions are bump-allocated from
// (never reused, so a stalled job's commands stay intact).
class Session
{
public:
	explicit Session(std::unique_ptr<Device> dev);
	Session(); // the first device

	Device &dev() { return *dev_; }
	Bo &cmd_bo() { return *cmd_bo_; }
	Bo &scratch() { return *scratch_; } // ExpectWorks' target

	// Copies cmds into the command BO; returns its device address.
	uint64_t Stage(const Commands &cmds);
	// Stages and submits; throws std::system_error if SUBMIT fails.
	uint64_t Submit(const Commands &cmds, const SubmitOptions &opts = {});
	// SUBMIT with caller-built arguments; returns 0 or errno.
	int SubmitRaw(drm_npu_submit &args);
	// Arguments for a valid one-NOP job, to corrupt one field at a time.
	drm_npu_submit ValidSubmitArgs();

	WaitResult Wait(uint64_t seqno, int64_t timeout_ms = 10000, uint32_t queue_id = 0);
	// Wait that must succeed; returns job_status (fails the test otherwise).
	uint32_t WaitStatus(uint64_t seqno, int64_t timeout_ms = 10000, uint32_t queue_id = 0);

	// Submits a FILL and checks its result: the device still works.
	void ExpectWorks();

private:
	std::unique_ptr<Device> dev_;
	std::unique_ptr<Bo> cmd_bo_;
	std::unique_ptr<Bo> scratch_;
	uint64_t cmd_used_ = 0;
	uint32_t probe_value_ = 0x5a5a0000;
	std::vector<uint32_t> handles_; // storage for ValidSubmitArgs
};

// Fixture: a session on the first NPU, and a device-still-works check.
// One "name value" line of the device's debugfs counters (fails the test
// when the counter is missing).
int64_t Counter(const std::string &pci_bdf, const std::string &name);

// A MAP_SHARED view of a BO that stays valid after its handle and even its
// file are closed (the mapping holds the object); at and extra_flags as
// for mmap (e.g. a fixed host address).
class Mapping
{
public:
	Mapping(const Bo &bo, int fd, void *at = nullptr, int extra_flags = 0);
	~Mapping();
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	void *ptr() const { return ptr_; }
	volatile uint32_t *u32() { return static_cast<volatile uint32_t *>(ptr_); }
	volatile uint64_t *u64() { return static_cast<volatile uint64_t *>(ptr_); }

private:
	void *ptr_;
	size_t size_;
};

// QUEUE_CREATE with the given priority (a queue of another priority lands
// on another hardware queue); throws std::system_error.
uint32_t CreateQueue(const Device &dev, uint32_t priority);

class NpuTest : public ::testing::Test
{
protected:
	void SetUp() override;
	std::unique_ptr<Session> s;
};

std::string JobStatusName(uint32_t status);

// Compares job statuses by name, so a failure reads "PAGE_FAULT vs OK".
#define EXPECT_JOB_STATUS(actual, expected)                                                        \
	EXPECT_EQ(::npu_test::JobStatusName(actual), ::npu_test::JobStatusName(expected))
#define ASSERT_JOB_STATUS(actual, expected)                                                        \
	ASSERT_EQ(::npu_test::JobStatusName(actual), ::npu_test::JobStatusName(expected))

} // namespace npu_test
