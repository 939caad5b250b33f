// The fixture of the user-mode queue suites (DRM_IOCTL_NPU_UQUEUE_*):
// a process maps a hardware queue's ring, its control page and the
// doorbell, and launches jobs with no system call. uqueue_test.cpp has
// availability, launch and completion and every rejection of every field;
// uqueue_isolation_test.cpp the conformance and isolation checks of kernel
// submission (malformed descriptors, forged identity fields, another
// context's addresses, two processes) and a stalled queue, hangs and the
// ban; uqueue_lifetime_test.cpp revocation, destruction with jobs running,
// the file's close, reset and system sleep. Under bounce buffers (the
// vm-swiotlb lane) user-mode queues do not exist: there every test checks
// exactly that instead (Uqueue::Unavailable()).
//
// Named, not anonymous, namespace: the Uqueue tests of the three files
// form one gtest suite, which needs one fixture class.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <linux/sync_file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "module_param.h"
#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{

inline std::string KernelCmdline()
{
	std::ifstream in("/proc/cmdline");
	std::string line;
	std::getline(in, line);
	return line;
}

// Booted with swiotlb=...,force (the vm-swiotlb lane), as dma_test.cpp
// tells it: every streaming mapping bounces, DMA is not coherent for the
// process, and user-mode queues must be unavailable.
inline bool BounceBuffers()
{
	const std::string cmdline = KernelCmdline();
	const auto at = cmdline.find("swiotlb=");
	if (at == std::string::npos)
		return false;
	const std::string value = cmdline.substr(at, cmdline.find(' ', at) - at);
	return value.find("force") != std::string::npos;
}

// The error a syncobj's (signalled) fence carries: 0, or a negative errno;
// 1 if it is still pending.
inline int FenceError(const Syncobj &so)
{
	int fd = so.ExportSyncFile();
	if (fd < 0)
		return -1000;
	sync_file_info info{};
	int status = ioctl(fd, SYNC_IOC_FILE_INFO, &info) ? -1000 : info.status;
	close(fd);
	return status == 1 ? 0 : status == 0 ? 1 : status;
}

inline int CreateRaw(const Device &dev, drm_npu_uqueue_create &args)
{
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_UQUEUE_CREATE, &args);
}

inline drm_npu_uqueue_create ValidCreateArgs()
{
	drm_npu_uqueue_create args{};
	args.priority = DRM_NPU_PRIORITY_NORMAL;
	args.eventfd = -1;
	return args;
}

// One user-mode queue, created and mapped; destroyed with the object.
class UserQueue
{
public:
	explicit UserQueue(const Device &dev, int eventfd = -1,
			   uint32_t priority = DRM_NPU_PRIORITY_NORMAL)
	    : dev_(dev)
	{
		info_ = ValidCreateArgs();
		info_.eventfd = eventfd;
		info_.priority = priority;
		int err = CreateRaw(dev, info_);
		if (err)
			throw std::system_error(err, std::generic_category(), "UQUEUE_CREATE");
		map_ = mmap(nullptr, info_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd(),
			    static_cast<off_t>(info_.mmap_offset));
		if (map_ == MAP_FAILED) {
			err = errno;
			Destroy();
			throw std::system_error(err, std::generic_category(),
						"mmap of a user queue");
		}
	}
	~UserQueue()
	{
		Unmap();
		if (!destroyed_)
			Destroy();
	}
	UserQueue(const UserQueue &) = delete;
	UserQueue &operator=(const UserQueue &) = delete;

	const drm_npu_uqueue_create &info() const { return info_; }
	uint32_t id() const { return info_.uqueue_id; }
	volatile drm_npu_uqueue_control *control()
	{
		return static_cast<volatile drm_npu_uqueue_control *>(map_);
	}
	volatile drm_npu_uqueue_job *slot(uint64_t index)
	{
		auto *ring = reinterpret_cast<volatile drm_npu_uqueue_job *>(
			static_cast<uint8_t *>(map_) + info_.ring_offset);
		return &ring[index % info_.ring_entries];
	}
	void *map() const { return map_; }

	// Writes a descriptor into the next slot (edit may corrupt it), moves
	// the tail and rings the doorbell: no system call. Returns the job's
	// seqno.
	template <typename Edit> uint64_t Launch(uint64_t cmd_addr, uint32_t cmd_size, Edit edit)
	{
		const uint32_t tail = control()->tail;
		drm_npu_uqueue_job job{};
		job.cmd_addr = cmd_addr;
		job.cmd_size = cmd_size;
		edit(job);
		volatile drm_npu_uqueue_job *d = slot(tail);
		std::memcpy(const_cast<drm_npu_uqueue_job *>(d), &job, sizeof(job));
		std::atomic_thread_fence(std::memory_order_release);
		control()->tail = tail + 1;
		std::atomic_thread_fence(std::memory_order_seq_cst);
		Ring();
		return written_ = uint64_t(tail) + 1;
	}
	uint64_t Launch(uint64_t cmd_addr, uint32_t cmd_size)
	{
		return Launch(cmd_addr, cmd_size, [](drm_npu_uqueue_job &) {});
	}
	void Ring()
	{
		auto *db = reinterpret_cast<volatile uint32_t *>(static_cast<uint8_t *>(map_) +
								 info_.doorbell_offset);
		*db = info_.doorbell_value;
	}

	// Polls the control page (no system call) until done_seqno reaches
	// seqno; false on timeout.
	bool PollDone(uint64_t seqno, int timeout_ms = 10000)
	{
		const int64_t deadline = DeadlineInMs(timeout_ms);
		while (control()->done_seqno < seqno) {
			if (MonotonicNs() > deadline)
				return false;
			usleep(200);
		}
		std::atomic_thread_fence(std::memory_order_acquire);
		return true;
	}
	drm_npu_uqueue_job Descriptor(uint64_t seqno)
	{
		drm_npu_uqueue_job job{};
		std::memcpy(&job, const_cast<drm_npu_uqueue_job *>(slot(seqno - 1)), sizeof(job));
		return job;
	}
	drm_npu_uqueue_query Query()
	{
		drm_npu_uqueue_query q{};
		q.uqueue_id = id();
		int err = IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_QUERY, &q);
		EXPECT_EQ(err, 0) << "UQUEUE_QUERY";
		return q;
	}
	int Fence(uint32_t syncobj, uint64_t seqno, uint64_t point = 0)
	{
		drm_npu_uqueue_fence args{};
		args.uqueue_id = id();
		args.syncobj = syncobj;
		args.seqno = seqno;
		args.point = point;
		return IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_FENCE, &args);
	}
	void Unmap()
	{
		if (map_ && map_ != MAP_FAILED)
			munmap(map_, info_.mmap_size);
		map_ = nullptr;
	}
	// Unmaps and leaves the queue to the file's close.
	void LeaveToClose()
	{
		Unmap();
		destroyed_ = true;
	}
	// Keeps the mapping (to check that it was revoked).
	int Destroy()
	{
		drm_npu_uqueue_destroy args{};
		args.uqueue_id = id();
		destroyed_ = true;
		return IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_DESTROY, &args);
	}

private:
	const Device &dev_;
	drm_npu_uqueue_create info_{};
	void *map_ = nullptr;
	bool destroyed_ = false;
	uint64_t written_ = 0;
};

class Uqueue : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		std::ifstream param("/sys/module/npu/parameters/user_queues");
		std::string user_queues;
		std::getline(param, user_queues);
		bounced_ = BounceBuffers() || user_queues == "0";
	}

	// Under bounce buffers (or with the module's user_queues=0): the
	// parameter reads 0 and CREATE fails with EOPNOTSUPP, which is all
	// there is to test; true then.
	bool Unavailable()
	{
		if (!bounced_)
			return false;
		EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_UQUEUE_COUNT), 0u);
		drm_npu_uqueue_create args = ValidCreateArgs();
		EXPECT_EQ(CreateRaw(s->dev(), args), EOPNOTSUPP);
		return true;
	}

	// A job writing value into scratch's word at offset.
	uint64_t FenceJob(Session &sess, Bo &bo, uint64_t offset, uint64_t value, uint32_t *size)
	{
		Commands cmds;
		cmds.Fence(bo.addr() + offset, value);
		*size = cmds.bytes();
		return sess.Stage(cmds);
	}

	uint64_t LaunchFence(UserQueue &q, Bo &bo, uint64_t offset, uint64_t value)
	{
		uint32_t size = 0;
		uint64_t addr = FenceJob(*s, bo, offset, value, &size);
		return q.Launch(addr, size);
	}

	bool bounced_ = false;
};

inline uint64_t ReadWord(Bo &bo, uint64_t offset)
{
	return *reinterpret_cast<volatile uint64_t *>(bo.map() + offset);
}

} // namespace npu_test
