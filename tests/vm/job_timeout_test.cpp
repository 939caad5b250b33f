// Job timeout recovery: a job that never finishes is failed by the driver's
// job timeout with TIMEOUT, its waiters and fences are released, and the
// device serves new work afterwards.
#include <xf86drm.h>

#include "npu_test.h"

namespace npu_test
{
namespace
{

using JobTimeout = NpuTest;

// A job that stalls on a WAIT_MEM nobody releases.
uint64_t SubmitStuckJob(Session &s, Bo &mem, uint32_t out_syncobj = 0)
{
	Commands cmds;
	cmds.WaitMem(mem.addr(), 0x57ac);
	cmds.Fence(mem.addr() + 8, 1);
	return s.Submit(cmds, WithSyncobjs({mem.handle()}, {}, out_syncobj));
}

TEST_F(JobTimeout, StuckJobFailsWithTimeout)
{
	Bo mem(s->dev(), kPageSize);
	uint32_t out = 0;
	ASSERT_EQ(drmSyncobjCreate(s->dev().fd(), 0, &out), 0);
	int64_t start = MonotonicNs();
	uint64_t seqno = SubmitStuckJob(*s, mem, out);
	WaitResult r = s->Wait(seqno, 20000);
	double waited_s = double(MonotonicNs() - start) / 1e9;
	ASSERT_EQ(r.err, 0) << "WAIT did not return within 20 s: the job timeout did not fire";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_TIMEOUT);
	EXPECT_EQ(mem.ReadU64(8), 0u) << "the stuck job completed after all";
	EXPECT_LT(waited_s, 15.0) << "default job timeout is 2 s";
	EXPECT_GT(waited_s, 0.1) << "killed before any plausible timeout";
	EXPECT_EQ(drmSyncobjWait(s->dev().fd(), &out, 1, DeadlineInMs(1000), 0, nullptr), 0)
		<< "the timed-out job's out fence never signalled";
	drmSyncobjDestroy(s->dev().fd(), out);
	s->ExpectWorks();
}

TEST_F(JobTimeout, JobsQueuedBehindAStuckJobFinish)
{
	Bo mem(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	uint64_t stuck = SubmitStuckJob(*s, mem);
	Commands next;
	next.Fence(out.addr(), 0xf00d);
	uint64_t queued = s->Submit(next, UsingBos({out.handle()}));

	WaitResult r = s->Wait(queued, 20000);
	ASSERT_EQ(r.err, 0) << "a job queued behind a stuck one never finished";
	// It either ran after the recovery or was lost in a device reset.
	if (r.args.job_status == DRM_NPU_JOB_STATUS_OK)
		EXPECT_EQ(out.ReadU64(0), 0xf00du);
	else
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	EXPECT_JOB_STATUS(s->WaitStatus(stuck, -1), DRM_NPU_JOB_STATUS_TIMEOUT);
	s->ExpectWorks();
}

TEST_F(JobTimeout, OtherContextsSurviveTheRecovery)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	Bo mem(s->dev(), kPageSize);
	Bo keep(other.dev(), kPageSize);
	keep.WriteU64(0, 0x1234);
	uint64_t stuck = SubmitStuckJob(*s, mem);
	ASSERT_EQ(s->Wait(stuck, 20000).err, 0);
	other.ExpectWorks();
	EXPECT_EQ(keep.ReadU64(0), 0x1234u) << "recovery lost another context's memory";
	// The other context's address space survived the reset: its BO still
	// works as a job target.
	Commands cmds;
	cmds.Copy(keep.addr(), keep.addr() + 64, 8);
	uint64_t seqno = other.Submit(cmds, UsingBos({keep.handle()}));
	EXPECT_JOB_STATUS(other.WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(keep.ReadU64(64), 0x1234u);
}

} // namespace
} // namespace npu_test
