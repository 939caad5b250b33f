// Timeline syncobjs (in and out points), wait-before-signal, sync_file
// export/poll/import, and implicit ordering through shared BOs, with jobs
// on different queues of a context.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

class Timeline : public NpuTest
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
	// A job on queue that waits for *gate == 1, stamps ts_off and fills
	// fill_off with value.
	uint64_t Gated(uint32_t queue, Bo &mem, uint64_t ts_off, uint32_t value, SubmitOptions opts)
	{
		Commands c;
		c.WaitMem(mem.addr(), 1);
		c.Timestamp(mem.addr() + ts_off);
		c.Fill(mem.addr() + 512, value, 4);
		opts.queue_id = queue;
		opts.extra_bos.push_back(mem.handle());
		return s->Submit(c, opts);
	}
	uint32_t q1 = 0; // a second queue; jobs on 0 and q1 may run in any order
};

TEST_F(Timeline, OutPointsSignalInOrder)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj tl(s->dev());
	SubmitOptions first;
	first.out_syncobj = tl.handle();
	first.out_point = 1;
	uint64_t sa = Gated(0, mem, 8, 0xa, first);
	Commands b;
	b.Nop();
	SubmitOptions second;
	second.queue_id = q1;
	second.out_syncobj = tl.handle();
	second.out_point = 2;
	uint64_t sb = s->Submit(b, second);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 5000, q1), DRM_NPU_JOB_STATUS_OK);
	// point 2's job is done, but a timeline point covers all before it
	EXPECT_EQ(tl.WaitPoint(2, 100), -ETIME);
	EXPECT_EQ(tl.WaitPoint(1, 0), -ETIME);
	EXPECT_EQ(tl.Query(), 0u);
	mem.WriteU64(0, 1);
	EXPECT_EQ(tl.WaitPoint(2, 2000), 0);
	EXPECT_EQ(tl.Query(), 2u);
	EXPECT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Timeline, InPointOrdersJobsAcrossQueues)
{
	Bo mem(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	Syncobj tl(s->dev());
	SubmitOptions a_opts;
	a_opts.out_syncobj = tl.handle();
	a_opts.out_point = 5;
	uint64_t sa = Gated(0, mem, 8, 0xaaaa, a_opts);
	// B reads A's result, on another queue, through timeline point 5
	Commands b;
	b.Timestamp(out.addr());
	SubmitOptions b_opts = UsingBos({out.handle()});
	b_opts.queue_id = q1;
	b_opts.in_syncobjs = {tl.handle()};
	b_opts.in_points = {5};
	uint64_t sb = s->Submit(b, b_opts);
	EXPECT_EQ(s->Wait(sb, 200, q1).err, ETIME) << "B ran before timeline point 5";
	mem.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 2000, q1), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(out.ReadU64(0), mem.ReadU64(8)) << "B ran before A";
}

TEST_F(Timeline, BinaryAndTimelineInFencesMix)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj tl(s->dev());
	Syncobj bin(s->dev(), DRM_SYNCOBJ_CREATE_SIGNALED);
	SubmitOptions a_opts;
	a_opts.out_syncobj = tl.handle();
	a_opts.out_point = 3;
	Gated(0, mem, 8, 1, a_opts);
	Commands b;
	b.Nop();
	SubmitOptions b_opts;
	b_opts.queue_id = q1;
	b_opts.in_syncobjs = {bin.handle(), tl.handle()};
	b_opts.in_points = {0, 3}; // 0: the binary syncobj's fence
	uint64_t sb = s->Submit(b, b_opts);
	EXPECT_EQ(s->Wait(sb, 100, q1).err, ETIME);
	mem.WriteU64(0, 1);
	EXPECT_JOB_STATUS(s->WaitStatus(sb, 2000, q1), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Timeline, UnsubmittedPointIsRejectedWithoutWaitForSubmit)
{
	Syncobj tl(s->dev());
	Syncobj empty(s->dev());
	Commands c;
	c.Nop();
	SubmitOptions opts;
	opts.in_syncobjs = {tl.handle()};
	opts.in_points = {7};
	try {
		s->Submit(c, opts);
		ADD_FAILURE() << "a point nobody submitted was accepted";
	} catch (const std::system_error &e) {
		EXPECT_EQ(e.code().value(), EINVAL);
	}
	opts.in_syncobjs = {empty.handle()};
	opts.in_points = {};
	try {
		s->Submit(c, opts);
		ADD_FAILURE() << "a syncobj without fence was accepted";
	} catch (const std::system_error &e) {
		EXPECT_EQ(e.code().value(), EINVAL);
	}
	// a bad in_points pointer
	drm_npu_submit args = s->ValidSubmitArgs();
	uint32_t h = tl.handle();
	args.in_syncobjs = reinterpret_cast<uintptr_t>(&h);
	args.in_syncobj_count = 1;
	args.in_points = 8;
	EXPECT_EQ(s->SubmitRaw(args), EFAULT);
	s->ExpectWorks();
}

// SUBMIT with WAIT_FOR_SUBMIT on a point not yet submitted sleeps until
// another thread submits the job that provides it, then the job runs after
// that one.
TEST_F(Timeline, WaitBeforeSignal)
{
	Bo mem(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	Syncobj tl(s->dev());
	// Stage both command buffers here: Session is not thread-safe.
	Commands b;
	b.Timestamp(out.addr());
	std::vector<uint32_t> b_bos{s->cmd_bo().handle(), out.handle()};
	uint32_t b_in = tl.handle();
	uint64_t b_point = 3;
	drm_npu_submit b_args{};
	b_args.cmd_addr = s->Stage(b);
	b_args.cmd_size = b.bytes();
	b_args.bo_handles = reinterpret_cast<uintptr_t>(b_bos.data());
	b_args.bo_count = 2;
	b_args.in_syncobjs = reinterpret_cast<uintptr_t>(&b_in);
	b_args.in_syncobj_count = 1;
	b_args.in_points = reinterpret_cast<uintptr_t>(&b_point);
	b_args.queue_id = q1;
	b_args.flags = DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT;

	std::atomic<bool> submitted{false};
	int b_err = -1;
	std::thread waiter([&] {
		b_err = s->SubmitRaw(b_args);
		submitted = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	EXPECT_FALSE(submitted) << "SUBMIT returned before its in-point was submitted";

	SubmitOptions a_opts;
	a_opts.out_syncobj = tl.handle();
	a_opts.out_point = 3;
	uint64_t sa = Gated(0, mem, 8, 1, a_opts);
	waiter.join();
	ASSERT_EQ(b_err, 0);
	EXPECT_EQ(s->Wait(b_args.seqno, 100, q1).err, ETIME) << "B ran before A";
	mem.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(b_args.seqno, 2000, q1), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(out.ReadU64(0), mem.ReadU64(8));
}

// An already submitted point does not make WAIT_FOR_SUBMIT sleep.
TEST_F(Timeline, WaitForSubmitOnSubmittedPointDoesNotBlock)
{
	Syncobj tl(s->dev());
	Commands a;
	a.Nop();
	SubmitOptions a_opts;
	a_opts.out_syncobj = tl.handle();
	a_opts.out_point = 1;
	s->Submit(a, a_opts);
	SubmitOptions b_opts;
	b_opts.in_syncobjs = {tl.handle()};
	b_opts.in_points = {1};
	b_opts.flags = DRM_NPU_SUBMIT_WAIT_FOR_SUBMIT;
	int64_t start = MonotonicNs();
	uint64_t sb = s->Submit(a, b_opts);
	EXPECT_LT(MonotonicNs() - start, 1000000000);
	EXPECT_JOB_STATUS(s->WaitStatus(sb), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Timeline, SyncFileOfAJobPollsReadyWhenItCompletes)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj out(s->dev());
	SubmitOptions opts;
	opts.out_syncobj = out.handle();
	uint64_t sa = Gated(q1, mem, 8, 1, opts);
	int fd = out.ExportSyncFile();
	ASSERT_GE(fd, 0) << "export: " << fd;
	pollfd p{fd, POLLIN, 0};
	EXPECT_EQ(poll(&p, 1, 50), 0) << "sync_file ready while the job is gated";
	mem.WriteU64(0, 1);
	EXPECT_EQ(poll(&p, 1, 2000), 1) << "sync_file never became ready";
	EXPECT_TRUE(p.revents & POLLIN);
	close(fd);
	EXPECT_JOB_STATUS(s->WaitStatus(sa, -1, q1), DRM_NPU_JOB_STATUS_OK);
}

// A sync_file from one context's job becomes another context's in-fence.
TEST_F(Timeline, ImportedSyncFileIsAnInFence)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	Bo mem(s->dev(), kPageSize);
	Bo out(other.dev(), kPageSize);
	Syncobj a_done(s->dev());
	SubmitOptions opts;
	opts.out_syncobj = a_done.handle();
	uint64_t sa = Gated(0, mem, 8, 1, opts);
	int fd = a_done.ExportSyncFile();
	ASSERT_GE(fd, 0);
	Syncobj in(other.dev());
	ASSERT_EQ(in.ImportSyncFile(fd), 0);
	close(fd);
	Commands b;
	b.Timestamp(out.addr());
	SubmitOptions b_opts = UsingBos({out.handle()});
	b_opts.in_syncobjs = {in.handle()};
	uint64_t sb = other.Submit(b, b_opts);
	EXPECT_EQ(other.Wait(sb, 200).err, ETIME) << "B ignored the imported fence";
	mem.WriteU64(0, 1);
	ASSERT_JOB_STATUS(other.WaitStatus(sb, 2000), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(out.ReadU64(0), mem.ReadU64(8));
}

// Implicit dependency: B on another queue reads a BO A writes, with no
// syncobj between them; it waits for A through the BO's reservation.
TEST_F(Timeline, SharedBoOrdersJobsAcrossQueues)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo data(s->dev(), kPageSize);
	Bo result(s->dev(), kPageSize);
	Commands a;
	a.WaitMem(gate.addr(), 1);
	a.Fill(data.addr(), 0x600d, 64);
	uint64_t sa = s->Submit(a, UsingBos({gate.handle(), data.handle()}));
	Commands b;
	b.Copy(data.addr(), result.addr(), 64);
	SubmitOptions b_opts = UsingBos({data.handle(), result.handle()});
	b_opts.queue_id = q1;
	uint64_t sb = s->Submit(b, b_opts);
	EXPECT_EQ(s->Wait(sb, 200, q1).err, ETIME) << "B ran while its input was being written";
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(sb, 2000, q1), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(sa, -1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(result.ReadU32(60), 0x600du);
}

// Readers of a read-only BO do not wait for each other.
TEST_F(Timeline, ReadOnlyBoDoesNotOrderReaders)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(s->dev(), kPageSize);
	Commands a;
	a.WaitMem(gate.addr(), 1);
	uint64_t sa = s->Submit(a, UsingBos({gate.handle()}));
	Commands b;
	b.Fill(out.addr(), 7, 4);
	SubmitOptions b_opts = UsingBos({gate.handle(), out.handle()});
	b_opts.queue_id = q1;
	uint64_t sb = s->Submit(b, b_opts);
	EXPECT_JOB_STATUS(s->WaitStatus(sb, 2000, q1), DRM_NPU_JOB_STATUS_OK)
		<< "a reader waited for another reader";
	gate.WriteU64(0, 1);
	EXPECT_JOB_STATUS(s->WaitStatus(sa, 2000), DRM_NPU_JOB_STATUS_OK);
}

} // namespace
} // namespace npu_test
