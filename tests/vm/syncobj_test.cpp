// Syncobjs: a job's out_syncobj fence signals on completion, in_syncobjs
// hold a job back until they signal, also across contexts.
#include <xf86drm.h>

#include <unistd.h>

#include <system_error>
#include <thread>

#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

using Syncobjs = NpuTest;

TEST_F(Syncobjs, OutSyncobjSignalsWhenTheJobCompletes)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj out(s->dev());
	Commands cmds;
	cmds.WaitMem(mem.addr(), 1);
	cmds.Fence(mem.addr() + 8, 2);
	SubmitOptions opts = WithSyncobjs({mem.handle()}, {}, out.handle());
	uint64_t seqno = s->Submit(cmds, opts);

	EXPECT_EQ(out.Wait(0), -ETIME) << "signalled while the job is stalled";
	EXPECT_EQ(out.Wait(50), -ETIME);
	mem.WriteU64(0, 1);
	EXPECT_EQ(out.Wait(1500), 0) << "the out fence never signalled";
	EXPECT_EQ(mem.ReadU64(8), 2u) << "signalled before the job's last packet ran";
	EXPECT_JOB_STATUS(s->WaitStatus(seqno, -1), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Syncobjs, FailedJobStillSignals)
{
	Syncobj out(s->dev());
	Commands cmds;
	cmds.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	uint64_t seqno = s->Submit(cmds, WithSyncobjs({}, {}, out.handle()));
	EXPECT_EQ(out.Wait(5000), 0);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_BAD_PACKET);
}

TEST_F(Syncobjs, InSyncobjOrdersJobsInOneContext)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj a_done(s->dev());
	Commands a;
	a.WaitMem(mem.addr(), 1);
	a.Timestamp(mem.addr() + 8);
	a.Fill(mem.addr() + 32, 0xaaaa, 4);
	uint64_t sa = s->Submit(a, WithSyncobjs({mem.handle()}, {}, a_done.handle()));
	Commands b;
	b.Timestamp(mem.addr() + 16);
	b.Copy(mem.addr() + 32, mem.addr() + 40, 4); // sees A's data only after A
	uint64_t sb = s->Submit(b, WithSyncobjs({mem.handle()}, {a_done.handle()}, 0));

	EXPECT_EQ(s->Wait(sb, 50).err, ETIME) << "B finished while A was stalled";
	mem.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 1500), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(mem.ReadU64(16), mem.ReadU64(8)) << "B ran before A";
	EXPECT_EQ(mem.ReadU32(40), 0xaaaau) << "B did not see A's data";
}

TEST_F(Syncobjs, InSyncobjOrdersJobsAcrossContexts)
{
	// Context 1 produces a fence; context 2 imports it and waits on it.
	Session other(std::make_unique<Device>(s->dev().path()));
	Bo mem1(s->dev(), kPageSize);
	Bo mem2(other.dev(), kPageSize);
	Syncobj a_done(s->dev());
	Commands a;
	a.WaitMem(mem1.addr(), 1);
	a.Timestamp(mem1.addr() + 8);
	uint64_t sa = s->Submit(a, WithSyncobjs({mem1.handle()}, {}, a_done.handle()));

	int fd = a_done.ExportFd();
	ASSERT_GE(fd, 0);
	auto imported = Syncobj::Import(other.dev(), fd);
	close(fd);
	Commands b;
	b.Timestamp(mem2.addr() + 16);
	uint64_t sb = other.Submit(b, WithSyncobjs({mem2.handle()}, {imported->handle()}, 0));

	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_EQ(other.Wait(sb, -1).err, ETIME) << "B ran before its dependency signalled";
	EXPECT_EQ(mem2.ReadU64(16), 0u);
	mem1.WriteU64(0, 1);
	ASSERT_JOB_STATUS(other.WaitStatus(sb, 1500), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	// One device clock serves both contexts.
	EXPECT_GT(mem2.ReadU64(16), mem1.ReadU64(8)) << "B ran before A";
}

TEST_F(Syncobjs, SignalledInSyncobjsDoNotDelay)
{
	std::vector<std::unique_ptr<Syncobj>> objs;
	SubmitOptions opts;
	for (int i = 0; i < DRM_NPU_MAX_IN_SYNCOBJS; i++) {
		objs.push_back(std::make_unique<Syncobj>(s->dev(), DRM_SYNCOBJ_CREATE_SIGNALED));
		opts.in_syncobjs.push_back(objs.back()->handle());
	}
	Commands cmds;
	cmds.Nop();
	uint64_t seqno = s->Submit(cmds, opts);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno, 5000), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Syncobjs, OutSyncobjIsReplacedByEachJob)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj out(s->dev());
	Commands first;
	first.Nop();
	uint64_t s1 = s->Submit(first, WithSyncobjs({}, {}, out.handle()));
	ASSERT_JOB_STATUS(s->WaitStatus(s1), DRM_NPU_JOB_STATUS_OK);
	ASSERT_EQ(out.Wait(1000), 0);
	Commands second;
	second.WaitMem(mem.addr(), 9);
	uint64_t s2 = s->Submit(second, WithSyncobjs({mem.handle()}, {}, out.handle()));
	EXPECT_EQ(out.Wait(0), -ETIME) << "the syncobj still holds the first job's fence";
	mem.WriteU64(0, 9);
	EXPECT_EQ(out.Wait(1500), 0);
	EXPECT_JOB_STATUS(s->WaitStatus(s2, -1), DRM_NPU_JOB_STATUS_OK);
}

} // namespace
} // namespace npu_test
