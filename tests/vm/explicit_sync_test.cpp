// DRM_NPU_SUBMIT_EXPLICIT_SYNC: a job that skips the implicit waits on its
// BOs' reservations, publishes a BOOKKEEP fence (implicit-sync jobs do not
// wait for it) and still keeps its memory alive and DMA-synced. Every
// "did not wait" is proven with a device-side gate: the job that would be
// waited for is parked on WAIT_MEM until the test releases it.
#include <memory>

#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

class ExplicitSync : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		drm_npu_queue_create args{};
		args.priority = DRM_NPU_PRIORITY_NORMAL;
		ASSERT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args), 0);
		q1 = args.queue_id;
	}
	void TearDown() override
	{
		drm_npu_queue_destroy args{q1, 0};
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_QUEUE_DESTROY, &args), 0);
	}
	uint32_t q1 = 0;
};

// A writer of `data` is parked on its gate; an explicit-sync reader of
// `data` on another queue runs anyway (without the flag it waits:
// Timeline.SharedBoOrdersJobsAcrossQueues).
TEST_F(ExplicitSync, SkipsImplicitWaitOnWriter)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo data(s->dev(), kPageSize);
	Bo result(s->dev(), kPageSize);
	Commands a;
	a.WaitMem(gate.addr(), 1);
	a.Fill(data.addr(), 0x600d, 64);
	uint64_t sa = s->Submit(a, UsingBos({gate.handle(), data.handle()}));
	Commands b;
	b.Fill(result.addr(), 0xb, 4);
	b.Copy(data.addr(), result.addr() + 64, 4);
	SubmitOptions b_opts = UsingBos({data.handle(), result.handle()});
	b_opts.queue_id = q1;
	b_opts.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	uint64_t sb = s->Submit(b, b_opts);
	// B completes while A cannot have run yet: its gate is still closed.
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 10000, q1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(result.ReadU32(0), 0xbu);
	EXPECT_EQ(s->Wait(sa, -1).err, ETIME) << "A ran before its gate opened";
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sa), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(data.ReadU32(0), 0x600du);
}

// An explicit-sync writer publishes a BOOKKEEP fence: an implicit-sync job
// listing the same BO does not wait for it.
TEST_F(ExplicitSync, FenceIsBookkeepOnly)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo data(s->dev(), kPageSize);
	Commands a;
	a.WaitMem(gate.addr(), 1);
	a.Fill(data.addr(), 0xa, 4);
	SubmitOptions a_opts = UsingBos({gate.handle(), data.handle()});
	a_opts.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	uint64_t sa = s->Submit(a, a_opts);
	Commands b;
	b.Fill(data.addr() + 128, 0xb, 4);
	SubmitOptions b_opts = UsingBos({data.handle()});
	b_opts.queue_id = q1;
	uint64_t sb = s->Submit(b, b_opts);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 10000, q1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(data.ReadU32(128), 0xbu);
	EXPECT_EQ(s->Wait(sa, -1).err, ETIME) << "A ran before its gate opened";
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sa), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(data.ReadU32(0), 0xau);
}

// In-syncobjs still order explicit-sync jobs.
TEST_F(ExplicitSync, InSyncobjsStillOrder)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo data(s->dev(), kPageSize);
	Bo result(s->dev(), kPageSize);
	Syncobj done(s->dev());
	Commands a;
	a.WaitMem(gate.addr(), 1);
	a.Fill(data.addr(), 0x77, 4);
	SubmitOptions a_opts = WithSyncobjs({gate.handle(), data.handle()}, {}, done.handle());
	a_opts.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	uint64_t sa = s->Submit(a, a_opts);
	Commands b;
	b.Copy(data.addr(), result.addr(), 4);
	SubmitOptions b_opts = WithSyncobjs({data.handle(), result.handle()}, {done.handle()}, 0);
	b_opts.queue_id = q1;
	b_opts.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	uint64_t sb = s->Submit(b, b_opts);
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 10000, q1), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(result.ReadU32(0), 0x77u) << "B ran before the job it waited for";
}

// Closing the last handle of a BO an explicit-sync job still uses does not
// take its memory away from the job: the job completes and its writes land
// where the CPU can no longer see them, but without a fault.
TEST_F(ExplicitSync, ClosedBoStaysAliveForTheJob)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	auto data = std::make_unique<Bo>(s->dev(), kPageSize);
	Bo result(s->dev(), kPageSize);
	Commands a;
	a.WaitMem(gate.addr(), 1);
	a.Fill(data->addr(), 0x5a, 64);
	a.Copy(data->addr(), result.addr(), 64);
	SubmitOptions opts = UsingBos({gate.handle(), data->handle(), result.handle()});
	opts.flags = DRM_NPU_SUBMIT_EXPLICIT_SYNC;
	uint64_t sa = s->Submit(a, opts);
	data.reset(); // GEM_CLOSE while the job is parked
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sa), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(result.ReadU32(60), 0x5au);
}

} // namespace
} // namespace npu_test
