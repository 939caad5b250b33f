// A DRM syncobj owned by one device file (libdrm wrappers), binary or
// timeline, for the syncobj, queue and timeline suites.
#pragma once

#include <xf86drm.h>

#include <cstdint>
#include <memory>
#include <system_error>

#include "npu_test.h"

namespace npu_test
{

class Syncobj
{
public:
	explicit Syncobj(const Device &dev, uint32_t flags = 0) : fd_(dev.fd())
	{
		Check(drmSyncobjCreate(fd_, flags, &handle_), "drmSyncobjCreate");
	}
	// Imports a syncobj exported (drmSyncobjHandleToFD) by another file.
	static std::unique_ptr<Syncobj> Import(const Device &dev, int exported_fd)
	{
		uint32_t handle = 0;
		Check(drmSyncobjFDToHandle(dev.fd(), exported_fd, &handle), "drmSyncobjFDToHandle");
		return std::unique_ptr<Syncobj>(new Syncobj(dev.fd(), handle));
	}
	~Syncobj() { drmSyncobjDestroy(fd_, handle_); }
	Syncobj(const Syncobj &) = delete;
	Syncobj &operator=(const Syncobj &) = delete;

	uint32_t handle() const { return handle_; }
	// 0 once signalled, -ETIME if still pending at the deadline.
	int Wait(int64_t timeout_ms) const
	{
		uint32_t h = handle_;
		return drmSyncobjWait(fd_, &h, 1, Deadline(timeout_ms), 0, nullptr);
	}
	// Waits for timeline point; flags DRM_SYNCOBJ_WAIT_FLAGS_*.
	int WaitPoint(uint64_t point, int64_t timeout_ms, uint32_t flags = 0) const
	{
		uint32_t h = handle_;
		return drmSyncobjTimelineWait(fd_, &h, &point, 1, Deadline(timeout_ms), flags,
					      nullptr);
	}
	// Last signalled timeline point.
	uint64_t Query() const
	{
		uint32_t h = handle_;
		uint64_t point = 0;
		Check(drmSyncobjQuery(fd_, &h, &point, 1), "drmSyncobjQuery");
		return point;
	}
	int ExportFd() const
	{
		int fd = -1;
		EXPECT_EQ(drmSyncobjHandleToFD(fd_, handle_, &fd), 0);
		return fd;
	}
	// The current fence as a sync_file (DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_
	// EXPORT_SYNC_FILE); -errno on failure.
	int ExportSyncFile() const
	{
		int fd = -1;
		int ret = drmSyncobjExportSyncFile(fd_, handle_, &fd);
		return ret ? ret : fd;
	}
	// Replaces the fence with the sync_file's; 0 or -errno.
	int ImportSyncFile(int sync_file) const
	{
		return drmSyncobjImportSyncFile(fd_, handle_, sync_file);
	}

private:
	Syncobj(int fd, uint32_t handle) : fd_(fd), handle_(handle) {}
	static void Check(int ret, const char *what)
	{
		if (ret)
			throw std::system_error(-ret, std::generic_category(), what);
	}
	static int64_t Deadline(int64_t timeout_ms)
	{
		return timeout_ms <= 0 ? 0 : DeadlineInMs(timeout_ms);
	}
	int fd_;
	uint32_t handle_ = 0;
};

} // namespace npu_test
