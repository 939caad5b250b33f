// WAIT: completion status, absolute deadlines (-ETIME), polling, history, and
// rejections.
#include <thread>

#include "npu_test.h"

namespace npu_test
{
namespace
{

using Wait = NpuTest;

TEST_F(Wait, ReturnsOkForACompletedJob)
{
	Commands cmds;
	cmds.Nop();
	uint64_t seqno = s->Submit(cmds);
	WaitResult r = s->Wait(seqno);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(r.args.err_offset, 0u);
	EXPECT_EQ(r.args.fault_addr, 0u);
	// Waiting again on a finished job answers the same.
	r = s->Wait(seqno, -1);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Wait, DeadlineExpiresWhileJobStallsThenSucceeds)
{
	Bo mem(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 0x600d);
	cmds.Fence(mem.addr() + 8, 1);
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));

	int64_t start = MonotonicNs();
	WaitResult r = s->Wait(seqno, 50);
	int64_t waited_ms = (MonotonicNs() - start) / 1000000;
	EXPECT_EQ(r.err, ETIME) << "WAIT on a stalled job did not time out";
	EXPECT_GE(waited_ms, 45) << "returned before the deadline";
	EXPECT_LT(waited_ms, 1000) << "overshot a 50 ms deadline";
	EXPECT_EQ(mem.ReadU64(8), 0u) << "the job ran past its WAIT_MEM";

	mem.WriteU64(0, 0x600d);
	r = s->Wait(seqno, 1500); // well inside the 2 s job timeout
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(mem.ReadU64(8), 1u);
}

TEST_F(Wait, PastDeadlinePolls)
{
	Bo mem(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 1);
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));

	int64_t start = MonotonicNs();
	WaitResult r = s->Wait(seqno, -1);
	EXPECT_EQ(r.err, ETIME);
	EXPECT_LT((MonotonicNs() - start) / 1000000, 200) << "a past deadline blocked";

	mem.WriteU64(0, 1);
	ASSERT_EQ(s->Wait(seqno, 1500).err, 0);
	r = s->Wait(seqno, -1);
	EXPECT_EQ(r.err, 0) << "polling a finished job";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Wait, WaiterInAnotherThreadWakesOnCompletion)
{
	Bo mem(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 3);
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));
	WaitResult r;
	std::thread waiter([&] { r = s->Wait(seqno, 5000); });
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	int64_t released = MonotonicNs();
	mem.WriteU64(0, 3);
	waiter.join();
	EXPECT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_LT((MonotonicNs() - released) / 1000000, 1500) << "the waiter slept past completion";
}

TEST_F(Wait, OlderJobsReportTheirOwnStatus)
{
	Commands good;
	good.Nop();
	Commands bad;
	bad.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	uint64_t a = s->Submit(good), b = s->Submit(bad), c = s->Submit(good);
	EXPECT_JOB_STATUS(s->WaitStatus(c), DRM_NPU_JOB_STATUS_OK);
	EXPECT_JOB_STATUS(s->WaitStatus(a), DRM_NPU_JOB_STATUS_OK);
	EXPECT_JOB_STATUS(s->WaitStatus(b), DRM_NPU_JOB_STATUS_BAD_PACKET);
}

TEST_F(Wait, JobsOlderThanTheHistoryExpire)
{
	Commands cmds;
	cmds.Nop();
	uint64_t first = s->Submit(cmds);
	uint64_t last = first;
	for (int i = 0; i < DRM_NPU_WAIT_HISTORY + 8; i++)
		last = s->Submit(cmds);
	ASSERT_JOB_STATUS(s->WaitStatus(last, 30000), DRM_NPU_JOB_STATUS_OK);
	WaitResult r = s->Wait(first);
	ASSERT_EQ(r.err, 0) << "an expired seqno is still a seqno SUBMIT returned";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_EXPIRED);
}

TEST_F(Wait, RejectsNonZeroFlags)
{
	Commands cmds;
	cmds.Nop();
	drm_npu_wait args{};
	args.seqno = s->Submit(cmds);
	args.timeout_ns = DeadlineInMs(5000);
	args.flags = 1;
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_WAIT, &args), EINVAL);
	EXPECT_JOB_STATUS(s->WaitStatus(args.seqno), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Wait, RejectsUnknownQueueId)
{
	Commands cmds;
	cmds.Nop();
	uint64_t seqno = s->Submit(cmds);
	EXPECT_EQ(s->Wait(seqno, 1000, 1).err, ENOENT);
	EXPECT_EQ(s->Wait(seqno, 1000, ~0u).err, ENOENT);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Wait, RejectsSeqnosNeverIssued)
{
	Commands cmds;
	cmds.Nop();
	uint64_t seqno = s->Submit(cmds);
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(s->Wait(0, 100).err, EINVAL) << "seqno 0";
	EXPECT_EQ(s->Wait(seqno + 1, 100).err, EINVAL) << "the next, not yet issued seqno";
	EXPECT_EQ(s->Wait(seqno + 1000000, 100).err, EINVAL);
	EXPECT_EQ(s->Wait(~0ull, 100).err, EINVAL);
}

TEST_F(Wait, BadArgumentPointerFaults)
{
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_WAIT, reinterpret_cast<void *>(8)),
		  EFAULT);
}

} // namespace
} // namespace npu_test
