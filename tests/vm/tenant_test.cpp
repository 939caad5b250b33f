// Tenants of one shared device: a file's job limit (SUBMIT -EBUSY past
// DRM_NPU_PARAM_JOB_LIMIT jobs not yet completed), the ban of a context
// whose jobs keep faulting or timing out, which the other contexts never
// feel, and a hung job killed alone while the others stream on, without a
// device reset. Limits are module parameters: the tests lower them through
// /sys/module/npu/parameters and restore them.
#include <deque>
#include <fstream>
#include <string>
#include <system_error>

#include <linux/sync_file.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine_work.h"
#include "module_param.h"
#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

// A job parked on the device until flag's first word reads 1, then writing
// value into out at offset.
uint64_t SubmitGated(Session &sess, Bo &flag, Bo &out, uint64_t offset, uint64_t value,
		     uint32_t queue_id = 0)
{
	Commands cmds;
	cmds.WaitMem(flag.addr(), 1);
	cmds.Fence(out.addr() + offset, value);
	SubmitOptions opts = UsingBos({flag.handle(), out.handle()});
	opts.queue_id = queue_id;
	return sess.Submit(cmds, opts);
}

// A sync_file's status: 1 signalled, 0 pending, a negative errno for a
// fence signalled with an error.
int SyncFileStatus(int fd)
{
	sync_file_info info{};
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info))
		return -1000;
	return info.status;
}

using Tenants = NpuTest;

TEST_F(Tenants, JobLimitRefusesSubmitsWithEbusyUntilAJobCompletes)
{
	constexpr uint64_t kLimit = 6;
	uint64_t default_limit = s->dev().Param(DRM_NPU_PARAM_JOB_LIMIT);
	EXPECT_GE(default_limit, 256u)
		<< "the default limit should not get in a normal program's way";
	ModuleParam limit("job_limit", std::to_string(kLimit));
	Session t(std::make_unique<Device>(s->dev().path()));
	ASSERT_EQ(t.dev().Param(DRM_NPU_PARAM_JOB_LIMIT), kLimit);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_JOB_LIMIT), default_limit)
		<< "a file keeps the limit it was opened with";

	// gates only read their flag: read-only keeps them free of implicit deps
	Bo flag(t.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(t.dev(), kPageSize);
	uint32_t low = CreateQueue(t.dev(), DRM_NPU_PRIORITY_LOW);
	std::vector<std::pair<uint64_t, uint32_t>> jobs; // seqno, queue
	// the limit counts the jobs of every queue of the file
	for (uint64_t i = 0; i + 1 < kLimit; i++) {
		uint32_t queue = i % 2 ? low : 0;
		jobs.push_back({SubmitGated(t, flag, out, 8 * i, i + 1, queue), queue});
	}
	// failed submissions take no slot
	for (int i = 0; i < 3; i++) {
		drm_npu_submit bad = t.ValidSubmitArgs();
		uint32_t handles[] = {t.cmd_bo().handle(), 0xdead};
		bad.bo_handles = reinterpret_cast<uintptr_t>(handles);
		bad.bo_count = 2;
		EXPECT_EQ(t.SubmitRaw(bad), ENOENT);
	}
	jobs.push_back({SubmitGated(t, flag, out, 8 * (kLimit - 1), kLimit), 0});

	drm_npu_submit more = t.ValidSubmitArgs();
	EXPECT_EQ(t.SubmitRaw(more), EBUSY) << "job " << kLimit + 1 << " accepted";
	more = t.ValidSubmitArgs();
	more.queue_id = low;
	EXPECT_EQ(t.SubmitRaw(more), EBUSY) << "another queue escapes the limit";
	// other files are not limited by this one
	s->ExpectWorks();

	flag.WriteU64(0, 1);
	for (auto [seqno, queue] : jobs)
		EXPECT_JOB_STATUS(t.WaitStatus(seqno, 10000, queue), DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kLimit; i++)
		EXPECT_EQ(out.ReadU64(8 * i), i + 1);
	// completed jobs give their slots back
	for (uint64_t i = 0; i < kLimit; i++) {
		more = t.ValidSubmitArgs();
		ASSERT_EQ(t.SubmitRaw(more), 0) << "slot " << i << " not given back";
		EXPECT_JOB_STATUS(t.WaitStatus(more.seqno), DRM_NPU_JOB_STATUS_OK);
	}
	t.ExpectWorks();
}

// A job writing below the first valid device address: a page fault.
uint64_t SubmitFaulting(Session &sess)
{
	Commands cmds;
	cmds.Fill(0x1000, 0xbad, 64);
	return sess.Submit(cmds);
}

TEST_F(Tenants, ContextThatKeepsFaultingIsBannedAlone)
{
	ModuleParam threshold("ban_threshold", "3");
	Session bad(std::make_unique<Device>(s->dev().path()));
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(bad.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u)
			<< "banned after " << i;
		EXPECT_JOB_STATUS(bad.WaitStatus(SubmitFaulting(bad)),
				  DRM_NPU_JOB_STATUS_PAGE_FAULT);
	}
	EXPECT_EQ(bad.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 1u);
	drm_npu_submit args = bad.ValidSubmitArgs();
	EXPECT_EQ(bad.SubmitRaw(args), ECANCELED) << "a banned context still submits";
	uint32_t low = CreateQueue(bad.dev(), DRM_NPU_PRIORITY_LOW);
	args = bad.ValidSubmitArgs();
	args.queue_id = low;
	EXPECT_EQ(bad.SubmitRaw(args), ECANCELED) << "a new queue escapes the ban";

	// the others never notice, a new file of the same process starts clean
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u);
	s->ExpectWorks();
	Session fresh(std::make_unique<Device>(s->dev().path()));
	EXPECT_EQ(fresh.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u);
	fresh.ExpectWorks();
}

TEST_F(Tenants, BadPacketsAreNoStrike)
{
	ModuleParam threshold("ban_threshold", "1");
	Session t(std::make_unique<Device>(s->dev().path()));
	for (int i = 0; i < 3; i++) {
		Commands cmds;
		cmds.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
		EXPECT_JOB_STATUS(t.WaitStatus(t.Submit(cmds)), DRM_NPU_JOB_STATUS_BAD_PACKET);
	}
	EXPECT_EQ(t.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u);
	t.ExpectWorks();
}

TEST_F(Tenants, ZeroThresholdNeverBans)
{
	ModuleParam threshold("ban_threshold", "0");
	Session t(std::make_unique<Device>(s->dev().path()));
	for (int i = 0; i < 3; i++)
		EXPECT_JOB_STATUS(t.WaitStatus(SubmitFaulting(t)), DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(t.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u);
	t.ExpectWorks();
}

TEST_F(Tenants, ContextWhoseJobTimesOutIsBanned)
{
	ModuleParam threshold("ban_threshold", "1");
	Session bad(std::make_unique<Device>(s->dev().path()));
	Bo flag(bad.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(bad.dev(), kPageSize);
	uint64_t stuck = SubmitGated(bad, flag, out, 0, 1); // never released
	WaitResult r = bad.Wait(stuck, 30000);
	ASSERT_EQ(r.err, 0) << "the job timeout did not fire";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_TIMEOUT);
	EXPECT_EQ(bad.dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 1u);
	drm_npu_submit args = bad.ValidSubmitArgs();
	EXPECT_EQ(bad.SubmitRaw(args), ECANCELED);
	s->ExpectWorks();
}

// Another context streaming FILL jobs over kQueues NORMAL queues (so that
// some of them share the hung context's hardware ring: the device has
// fewer NORMAL rings, each queue goes to the least used), each writing its
// own word, a window of kDepth jobs in flight.
class Streamer
{
public:
	static constexpr uint32_t kQueues = 8;
	static constexpr size_t kDepth = 8;
	static constexpr uint64_t kMaxJobs = 8192;

	explicit Streamer(const std::string &path) : sess_(std::make_unique<Device>(path))
	{
		queues_.push_back(0);
		for (uint32_t i = 1; i < kQueues; i++)
			queues_.push_back(CreateQueue(sess_.dev(), DRM_NPU_PRIORITY_NORMAL));
		for (uint32_t i = 0; i < kQueues; i++)
			out_.push_back(std::make_unique<Bo>(sess_.dev(), kMaxJobs * 8));
	}

	// Submits one more job, waiting for the oldest when the window is full.
	void Step()
	{
		ASSERT_LT(submitted_, kMaxJobs);
		if (inflight_.size() >= kDepth)
			Retire();
		uint32_t q = submitted_ % kQueues;
		Commands cmds;
		cmds.Fill(out_[q]->addr() + 8 * submitted_, Value(submitted_), 8);
		SubmitOptions opts = UsingBos({out_[q]->handle()});
		opts.queue_id = queues_[q];
		inflight_.push_back({sess_.Submit(cmds, opts), q});
		submitted_++;
	}

	// Waits for every job; all must have completed OK with their data.
	void Finish()
	{
		while (!inflight_.empty())
			Retire();
		for (uint64_t i = 0; i < submitted_; i++) {
			uint64_t want = uint64_t(Value(i)) | uint64_t(Value(i)) << 32;
			ASSERT_EQ(out_[i % kQueues]->ReadU64(8 * i), want)
				<< "job " << i << " lost its data";
		}
		EXPECT_EQ(ok_, submitted_);
	}
	uint64_t submitted() const { return submitted_; }

private:
	static uint32_t Value(uint64_t i) { return 0x5e000000u | uint32_t(i); }
	void Retire()
	{
		auto [seqno, q] = inflight_.front();
		inflight_.pop_front();
		WaitResult r = sess_.Wait(seqno, 30000, queues_[q]);
		ASSERT_EQ(r.err, 0) << "an innocent job never completed";
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
		ok_ += r.args.job_status == DRM_NPU_JOB_STATUS_OK;
	}

	Session sess_;
	std::vector<uint32_t> queues_;
	std::vector<std::unique_ptr<Bo>> out_;
	std::deque<std::pair<uint64_t, uint32_t>> inflight_;
	uint64_t submitted_ = 0;
	uint64_t ok_ = 0;
};

class HungTenant : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		node_ = FindNpuNodes().front();
		resets_ = ResetCount();
	}
	uint64_t ResetCount() { return ReadSysfsNumber(node_.sysfs_pci + "/reset_count"); }

	// Streams from another context until the hung job's WAIT returns (and
	// some more), then checks that stream, the hung job's TIMEOUT and
	// that nothing was reset.
	void StreamUntilDone(Session &hung, uint64_t seqno)
	{
		Streamer stream(s->dev().path());
		int64_t deadline = DeadlineInMs(60000);
		WaitResult r;
		do {
			stream.Step();
			if (HasFatalFailure())
				return;
			r = hung.Wait(seqno, -1);
			ASSERT_LT(MonotonicNs(), deadline) << "the hung job never ended";
		} while (r.err == ETIME);
		ASSERT_EQ(r.err, 0);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_TIMEOUT);
		for (int i = 0; i < 32; i++)
			stream.Step();
		stream.Finish();
		EXPECT_GT(stream.submitted(), 32u);
		EXPECT_EQ(ResetCount(), resets_) << "the device was reset for one tenant's job";
	}

	NodeInfo node_;
	uint64_t resets_ = 0;
};

// A WAIT_MEM nobody releases: the job times out and is killed alone; the
// jobs behind it on its queue run, another context streams work all the
// while and loses nothing; no reset.
TEST_F(HungTenant, StuckWaitIsKilledAloneAndOthersLoseNothing)
{
	Session hung(std::make_unique<Device>(s->dev().path()));
	Bo flag(hung.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(hung.dev(), kPageSize);
	uint64_t stuck = SubmitGated(hung, flag, out, 0, 1); // never released
	Commands next;
	next.Fence(out.addr() + 8, 0x600d);
	uint64_t behind = hung.Submit(next, UsingBos({out.handle()}));

	StreamUntilDone(hung, stuck);
	EXPECT_EQ(out.ReadU64(0), 0u) << "the killed job ran on past its WAIT_MEM";
	EXPECT_JOB_STATUS(hung.WaitStatus(behind), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(8), 0x600du);
	// the killed job's context goes on (one strike is no ban)
	hung.ExpectWorks();
	flag.WriteU64(0, 1); // released too late: changes nothing
	hung.ExpectWorks();
}

// A job of GEMMs that runs far longer than the job timeout: killed between
// tiles (its running tiles finish, no more are handed out), the engines
// serve the others on; no reset.
TEST_F(HungTenant, OverlongGemmJobIsKilledAloneAndOthersLoseNothing)
{
	Session hung(std::make_unique<Device>(s->dev().path()));
	GemmOperands gemm(hung, 1024);
	const uint64_t max_cmd = hung.dev().Param(DRM_NPU_PARAM_MAX_CMD_SIZE);
	Commands cmds;
	while (cmds.bytes() + sizeof(npu_pkt_gemm) <= max_cmd)
		gemm.Append(cmds);
	uint64_t overlong = hung.Submit(cmds, UsingBos(gemm.handles()));

	StreamUntilDone(hung, overlong);
	// the engines compute correctly afterwards, for the hung context too
	ASSERT_JOB_STATUS(hung.WaitStatus(gemm.Submit(), 30000), DRM_NPU_JOB_STATUS_OK);
	EXPECT_FLOAT_EQ(gemm.Y(5, 1000), gemm.Expected(5, 1000));
	hung.ExpectWorks();
}

// A file closes with jobs parked on WAIT_MEM on a hardware ring it shares
// with another context: they are cancelled (ABORTED, fence error
// ECANCELED), not left to time out one by one, and the other context's
// jobs on that ring run; nothing is reset.
TEST_F(HungTenant, ClosingAFileCancelsItsJobsOnTheSharedRing)
{
	constexpr int kParked = 3;
	std::vector<int> fences; // sync_files of the closed file's jobs
	Streamer stream(s->dev().path());
	{
		Session closing(std::make_unique<Device>(s->dev().path()));
		Bo flag(closing.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
		Bo out(closing.dev(), kPageSize);
		for (int i = 0; i < kParked; i++) {
			Syncobj done(closing.dev());
			Commands cmds;
			cmds.WaitMem(flag.addr(), 1); // never released
			cmds.Fence(out.addr() + 8 * i, 1);
			SubmitOptions opts = UsingBos({flag.handle(), out.handle()});
			opts.out_syncobj = done.handle();
			closing.Submit(cmds, opts);
			fences.push_back(done.ExportSyncFile());
		}
		// the other context's jobs queue up behind them on the shared ring
		for (uint32_t q = 0; q < Streamer::kQueues; q++)
			stream.Step();
	}
	for (int i = 0; i < kParked; i++) {
		SCOPED_TRACE("parked job " + std::to_string(i));
		pollfd pfd{fences[i], POLLIN, 0};
		ASSERT_EQ(poll(&pfd, 1, 30000), 1) << "the job of the closed file never ended";
		EXPECT_EQ(SyncFileStatus(fences[i]), -ECANCELED)
			<< "not cancelled at close (-ETIMEDOUT: it timed out on the ring)";
		close(fences[i]);
	}
	stream.Finish();
	EXPECT_EQ(ResetCount(), resets_);
}

} // namespace
} // namespace npu_test
