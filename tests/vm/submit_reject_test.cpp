// SUBMIT rejections: one malformed field at a time, each with its errno, and
// the device still runs a good job afterwards.
#include <xf86drm.h>

#include <functional>

#include "npu_test.h"

namespace npu_test
{
namespace
{

class SubmitReject : public NpuTest
{
protected:
	// Corrupts one field of a valid submission and expects errno.
	void ExpectRejected(int expected, const std::function<void(drm_npu_submit &)> &corrupt)
	{
		drm_npu_submit args = s->ValidSubmitArgs();
		corrupt(args);
		args.seqno = 0xdeadull;
		EXPECT_EQ(s->SubmitRaw(args), expected);
		s->ExpectWorks();
	}
};

TEST_F(SubmitReject, UnknownFlags)
{
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.flags = DRM_NPU_SUBMIT_FLAGS << 1; });
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.flags = 0x80000000u; });
}

TEST_F(SubmitReject, OutPointWithoutOutSyncobj)
{
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.out_point = 1; });
}

TEST_F(SubmitReject, InPointsWithoutInSyncobjs)
{
	static const uint64_t points[1] = {1};
	ExpectRejected(EINVAL, [](drm_npu_submit &a) {
		a.in_points = reinterpret_cast<uintptr_t>(points);
		a.in_syncobj_count = 0;
	});
}

TEST_F(SubmitReject, NonZeroPad)
{
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.pad = 1; });
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.pad2 = 1; });
}

// Queue ids the context never created name no queue.
TEST_F(SubmitReject, UnknownQueueId)
{
	ExpectRejected(ENOENT, [](drm_npu_submit &a) { a.queue_id = 1; });
	ExpectRejected(ENOENT, [](drm_npu_submit &a) { a.queue_id = ~0u; });
}

TEST_F(SubmitReject, BoCountOutOfRange)
{
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.bo_count = 0; });
	// A real array one past the limit, so only the count is wrong.
	std::vector<uint32_t> many(DRM_NPU_MAX_SUBMIT_BOS + 1, s->cmd_bo().handle());
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.bo_handles = reinterpret_cast<uintptr_t>(many.data());
		a.bo_count = DRM_NPU_MAX_SUBMIT_BOS + 1;
	});
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.bo_handles = reinterpret_cast<uintptr_t>(many.data());
		a.bo_count = ~0u;
	});
}

TEST_F(SubmitReject, MaxBoCountIsAccepted)
{
	std::vector<std::unique_ptr<Bo>> bos;
	std::vector<uint32_t> handles{s->cmd_bo().handle()};
	while (handles.size() < DRM_NPU_MAX_SUBMIT_BOS) {
		bos.push_back(std::make_unique<Bo>(s->dev(), kPageSize));
		handles.push_back(bos.back()->handle());
	}
	drm_npu_submit args = s->ValidSubmitArgs();
	args.bo_handles = reinterpret_cast<uintptr_t>(handles.data());
	args.bo_count = DRM_NPU_MAX_SUBMIT_BOS;
	ASSERT_EQ(s->SubmitRaw(args), 0);
	EXPECT_JOB_STATUS(s->WaitStatus(args.seqno), DRM_NPU_JOB_STATUS_OK);
}

// The driver locks every listed BO once; a handle listed twice is refused.
TEST_F(SubmitReject, DuplicateBoHandle)
{
	uint32_t twice[] = {s->cmd_bo().handle(), s->scratch().handle(), s->cmd_bo().handle()};
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.bo_handles = reinterpret_cast<uintptr_t>(twice);
		a.bo_count = 3;
	});
}

TEST_F(SubmitReject, TooManyInSyncobjs)
{
	std::vector<uint32_t> syncobjs(DRM_NPU_MAX_IN_SYNCOBJS + 1);
	for (auto &h : syncobjs)
		ASSERT_EQ(drmSyncobjCreate(s->dev().fd(), DRM_SYNCOBJ_CREATE_SIGNALED, &h), 0);
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.in_syncobjs = reinterpret_cast<uintptr_t>(syncobjs.data());
		a.in_syncobj_count = DRM_NPU_MAX_IN_SYNCOBJS + 1;
	});
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.in_syncobjs = reinterpret_cast<uintptr_t>(syncobjs.data());
		a.in_syncobj_count = ~0u;
	});
	for (auto h : syncobjs)
		drmSyncobjDestroy(s->dev().fd(), h);
}

TEST_F(SubmitReject, BadCmdSize)
{
	uint32_t max = static_cast<uint32_t>(s->dev().Param(DRM_NPU_PARAM_MAX_CMD_SIZE));
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.cmd_size = 0; });
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.cmd_size = 4; });
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.cmd_size = 12; });
	// The command BO is 1 MiB, so only the size limit can refuse these.
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) { a.cmd_size = max + 8; });
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) { a.cmd_size = 0x80000000u; });
}

TEST_F(SubmitReject, MisalignedCmdAddr)
{
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.cmd_addr += 4; });
	ExpectRejected(EINVAL, [](drm_npu_submit &a) { a.cmd_addr += 1; });
}

TEST_F(SubmitReject, CmdRangeOutsideListedBos)
{
	Bo unlisted(s->dev(), kPageSize);
	uint64_t cmd_base = s->cmd_bo().addr(), cmd_end = cmd_base + s->cmd_bo().size();
	// Straddles the end of the listed BO.
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.cmd_addr = cmd_end - 8;
		a.cmd_size = 16;
	});
	// Entirely past / before it.
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.cmd_addr = cmd_end;
		a.cmd_size = 8;
	});
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.cmd_addr = cmd_base >= kPageSize ? cmd_base - kPageSize : 0;
		a.cmd_size = 8;
	});
	// Inside a BO of this context that the job did not list.
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.cmd_addr = unlisted.addr();
		a.cmd_size = 8;
	});
	// Wrapping around the address space.
	ExpectRejected(EINVAL, [&](drm_npu_submit &a) {
		a.cmd_addr = ~7ull;
		a.cmd_size = 16;
	});
}

TEST_F(SubmitReject, UnknownBoHandle)
{
	static uint32_t bogus[] = {0x7ffffff0};
	ExpectRejected(ENOENT, [](drm_npu_submit &a) {
		a.bo_handles = reinterpret_cast<uintptr_t>(bogus);
	});
	// A bad handle after a good one: nothing may stay referenced.
	uint32_t mixed[] = {s->cmd_bo().handle(), 0x7ffffff0};
	ExpectRejected(ENOENT, [&](drm_npu_submit &a) {
		a.bo_handles = reinterpret_cast<uintptr_t>(mixed);
		a.bo_count = 2;
	});
}

TEST_F(SubmitReject, UnknownSyncobjs)
{
	static uint32_t bogus_in[] = {0x7ffffff0};
	ExpectRejected(ENOENT, [](drm_npu_submit &a) {
		a.in_syncobjs = reinterpret_cast<uintptr_t>(bogus_in);
		a.in_syncobj_count = 1;
	});
	ExpectRejected(ENOENT, [](drm_npu_submit &a) { a.out_syncobj = 0x7ffffff0; });
}

TEST_F(SubmitReject, BadUserPointers)
{
	ExpectRejected(EFAULT, [](drm_npu_submit &a) { a.bo_handles = 0; });
	ExpectRejected(EFAULT, [](drm_npu_submit &a) { a.bo_handles = 8; });
	ExpectRejected(EFAULT, [](drm_npu_submit &a) { a.bo_handles = ~0ull - 3; });
	ExpectRejected(EFAULT, [](drm_npu_submit &a) {
		a.in_syncobjs = 8;
		a.in_syncobj_count = 1;
	});
	drm_npu_submit *unmapped = reinterpret_cast<drm_npu_submit *>(16);
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_SUBMIT, unmapped), EFAULT);
	s->ExpectWorks();
}

} // namespace
} // namespace npu_test
