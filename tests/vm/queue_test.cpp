// Context queues: QUEUE_CREATE/DESTROY and their rejections, per-queue
// seqnos, SUBMIT/WAIT on created queues, CAP_SYS_NICE above NORMAL, and
// strict priority between levels on the device.
#include <linux/capability.h>
#include <linux/sync_file.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

// QUEUE_CREATE with the given arguments; returns 0 or errno.
int CreateQueue(const Device &dev, drm_npu_queue_create &args)
{
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args);
}

int DestroyQueue(const Device &dev, uint32_t id, uint32_t pad = 0)
{
	drm_npu_queue_destroy args{id, pad};
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_QUEUE_DESTROY, &args);
}

// A created queue, destroyed with the object.
class Queue
{
public:
	Queue(const Device &dev, uint32_t priority) : dev_(dev)
	{
		drm_npu_queue_create args{};
		args.priority = priority;
		int err = CreateQueue(dev, args);
		if (err)
			throw std::system_error(err, std::generic_category(), "QUEUE_CREATE");
		id_ = args.queue_id;
	}
	~Queue() { DestroyQueue(dev_, id_); }
	Queue(const Queue &) = delete;
	Queue &operator=(const Queue &) = delete;
	uint32_t id() const { return id_; }

private:
	const Device &dev_;
	uint32_t id_ = 0;
};

SubmitOptions OnQueue(uint32_t queue_id, std::vector<uint32_t> bos = {})
{
	SubmitOptions opts = UsingBos(std::move(bos));
	opts.queue_id = queue_id;
	return opts;
}

using Queues = NpuTest;

TEST_F(Queues, QueueCountCoversThePriorityLevels)
{
	EXPECT_GE(s->dev().Param(DRM_NPU_PARAM_QUEUE_COUNT), 4u);
}

TEST_F(Queues, EveryPriorityRunsJobsWithItsOwnSeqnos)
{
	Bo out(s->dev(), kPageSize);
	uint64_t count = s->dev().Param(DRM_NPU_PARAM_QUEUE_COUNT);
	for (uint32_t prio = DRM_NPU_PRIORITY_LOW; prio <= DRM_NPU_PRIORITY_REALTIME; prio++) {
		SCOPED_TRACE("priority " + std::to_string(prio));
		Queue q(s->dev(), prio);
		EXPECT_NE(q.id(), 0u);
		EXPECT_LT(q.id(), count);
		for (uint64_t n = 1; n <= 3; n++) {
			Commands cmds;
			cmds.Fill(out.addr() + prio * 64, 0x100 * prio + uint32_t(n), 64);
			EXPECT_EQ(s->Submit(cmds, OnQueue(q.id(), {out.handle()})), n)
				<< "seqnos count per queue from 1";
		}
		EXPECT_JOB_STATUS(s->WaitStatus(3, 10000, q.id()), DRM_NPU_JOB_STATUS_OK);
		EXPECT_EQ(out.ReadU32(prio * 64), 0x100 * prio + 3);
	}
	// queue 0 kept its own series
	Commands cmds;
	cmds.Nop();
	EXPECT_EQ(s->Submit(cmds), 1u);
}

TEST_F(Queues, CreateRejectsBadArguments)
{
	drm_npu_queue_create args{};
	args.flags = 1;
	EXPECT_EQ(CreateQueue(s->dev(), args), EINVAL);
	args = {};
	args.pad = 1;
	EXPECT_EQ(CreateQueue(s->dev(), args), EINVAL);
	args = {};
	args.priority = DRM_NPU_PRIORITY_REALTIME + 1;
	EXPECT_EQ(CreateQueue(s->dev(), args), EINVAL);
	args.priority = ~0u;
	EXPECT_EQ(CreateQueue(s->dev(), args), EINVAL);
	// nothing was created: the first good create gets id 1
	Queue q(s->dev(), DRM_NPU_PRIORITY_NORMAL);
	EXPECT_EQ(q.id(), 1u);
}

TEST_F(Queues, DestroyRejectsBadIds)
{
	EXPECT_EQ(DestroyQueue(s->dev(), 0), EINVAL) << "the default queue is permanent";
	EXPECT_EQ(DestroyQueue(s->dev(), 1), ENOENT);
	EXPECT_EQ(DestroyQueue(s->dev(), ~0u), ENOENT);
	drm_npu_queue_create args{};
	ASSERT_EQ(CreateQueue(s->dev(), args), 0);
	EXPECT_EQ(DestroyQueue(s->dev(), args.queue_id, 1), EINVAL) << "pad";
	EXPECT_EQ(DestroyQueue(s->dev(), args.queue_id), 0);
	EXPECT_EQ(DestroyQueue(s->dev(), args.queue_id), ENOENT) << "destroyed twice";
	s->ExpectWorks();
}

TEST_F(Queues, DestroyedQueueRefusesSubmitAndWait)
{
	drm_npu_queue_create args{};
	ASSERT_EQ(CreateQueue(s->dev(), args), 0);
	Commands cmds;
	cmds.Nop();
	uint64_t seqno = s->Submit(cmds, OnQueue(args.queue_id));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno, 10000, args.queue_id), DRM_NPU_JOB_STATUS_OK);
	ASSERT_EQ(DestroyQueue(s->dev(), args.queue_id), 0);
	drm_npu_submit sub = s->ValidSubmitArgs();
	sub.queue_id = args.queue_id;
	EXPECT_EQ(s->SubmitRaw(sub), ENOENT);
	EXPECT_EQ(s->Wait(seqno, 1000, args.queue_id).err, ENOENT);
}

TEST_F(Queues, QueueIdsArePerContext)
{
	Queue q(s->dev(), DRM_NPU_PRIORITY_NORMAL);
	Session other(std::make_unique<Device>(s->dev().path()));
	drm_npu_submit sub = other.ValidSubmitArgs();
	sub.queue_id = q.id();
	EXPECT_EQ(other.SubmitRaw(sub), ENOENT);
	EXPECT_EQ(DestroyQueue(other.dev(), q.id()), ENOENT);
}

TEST_F(Queues, CreateFailsWithEnospcWhenAllIdsAreTaken)
{
	uint64_t count = s->dev().Param(DRM_NPU_PARAM_QUEUE_COUNT);
	std::vector<std::unique_ptr<Queue>> queues;
	for (uint64_t i = 1; i < count; i++)
		queues.push_back(std::make_unique<Queue>(s->dev(), DRM_NPU_PRIORITY_LOW));
	drm_npu_queue_create args{};
	EXPECT_EQ(CreateQueue(s->dev(), args), ENOSPC);
	uint32_t freed = queues[3]->id();
	queues.erase(queues.begin() + 3);
	ASSERT_EQ(CreateQueue(s->dev(), args), 0);
	EXPECT_EQ(args.queue_id, freed) << "a destroyed id is handed out again";
	EXPECT_EQ(DestroyQueue(s->dev(), args.queue_id), 0);
}

// QUEUE_DESTROY cancels the queue's jobs on the device: a job parked on
// WAIT_MEM signals at once with ECANCELED instead of holding up the shared
// ring, and never runs on.
TEST_F(Queues, DestroyCancelsItsJobsOnTheDevice)
{
	Bo mem(s->dev(), kPageSize);
	Syncobj done(s->dev());
	drm_npu_queue_create args{};
	ASSERT_EQ(CreateQueue(s->dev(), args), 0);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 1);
	cmds.Fence(mem.addr() + 8, 0xd0);
	SubmitOptions opts = OnQueue(args.queue_id, {mem.handle()});
	opts.out_syncobj = done.handle();
	s->Submit(cmds, opts);
	// give the scheduler time to hand the job to the device
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	ASSERT_EQ(DestroyQueue(s->dev(), args.queue_id), 0);
	int fence = done.ExportSyncFile();
	pollfd pfd{fence, POLLIN, 0};
	ASSERT_EQ(poll(&pfd, 1, 30000), 1) << "the destroyed queue's job never ended";
	sync_file_info info{};
	ASSERT_EQ(ioctl(fence, SYNC_IOC_FILE_INFO, &info), 0);
	EXPECT_EQ(info.status, -ECANCELED) << "not cancelled (-ETIMEDOUT: it timed out)";
	close(fence);
	mem.WriteU64(0, 1);
	s->ExpectWorks();
	EXPECT_EQ(mem.ReadU64(8), 0u) << "the cancelled job ran on";
}

// Drops CAP_SYS_NICE from this process's effective set; false on failure.
bool DropCapSysNice()
{
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
	if (syscall(SYS_capget, &hdr, data))
		return false;
	data[CAP_TO_INDEX(CAP_SYS_NICE)].effective &= ~CAP_TO_MASK(CAP_SYS_NICE);
	return syscall(SYS_capset, &hdr, data) == 0;
}

// What a process without CAP_SYS_NICE gets from QUEUE_CREATE at each
// priority, as an exit code of the forked child that tried: 0 when HIGH and
// REALTIME are refused with EPERM and LOW and NORMAL are created.
int TryPrioritiesUnprivileged(int fd)
{
	const struct {
		uint32_t priority;
		int err;
	} cases[] = {
		{DRM_NPU_PRIORITY_REALTIME, EPERM},
		{DRM_NPU_PRIORITY_HIGH, EPERM},
		{DRM_NPU_PRIORITY_NORMAL, 0},
		{DRM_NPU_PRIORITY_LOW, 0},
	};
	for (const auto &c : cases) {
		drm_npu_queue_create args{};
		args.priority = c.priority;
		if (IoctlErrno(fd, DRM_IOCTL_NPU_QUEUE_CREATE, &args) != c.err)
			return 11 + int(c.priority);
	}
	return 0;
}

void ExpectChildRefusedHighPriorities(pid_t pid)
{
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	int code = WEXITSTATUS(status);
	EXPECT_NE(code, 10) << "could not drop the privileges";
	EXPECT_NE(code, 11 + DRM_NPU_PRIORITY_REALTIME)
		<< "REALTIME without CAP_SYS_NICE: not EPERM";
	EXPECT_NE(code, 11 + DRM_NPU_PRIORITY_HIGH) << "HIGH without CAP_SYS_NICE: not EPERM";
	EXPECT_NE(code, 11 + DRM_NPU_PRIORITY_NORMAL) << "NORMAL refused without CAP_SYS_NICE";
	EXPECT_NE(code, 11 + DRM_NPU_PRIORITY_LOW) << "LOW refused without CAP_SYS_NICE";
	EXPECT_EQ(code, 0);
}

TEST_F(Queues, PrioritiesAboveNormalNeedCapSysNice)
{
	std::string path = s->dev().path();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		// child: no gtest assertions, the exit code tells
		if (!DropCapSysNice())
			_exit(10);
		Device dev(path);
		_exit(TryPrioritiesUnprivileged(dev.fd()));
	}
	ExpectChildRefusedHighPriorities(pid);
	// with the capability (root) it works
	Queue rt(s->dev(), DRM_NPU_PRIORITY_REALTIME);
	Queue high(s->dev(), DRM_NPU_PRIORITY_HIGH);
}

// A file opened by root and handed to a process running as nobody (no
// capabilities at all): the check is on the caller, not the opener.
TEST_F(Queues, UnprivilegedUserGetsNoHighPriority)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534) || getuid() != 65534)
			_exit(10);
		_exit(TryPrioritiesUnprivileged(s->dev().fd()));
	}
	ExpectChildRefusedHighPriorities(pid);
}

// Low-priority queues of two contexts and a high-priority queue are each
// held by a WAIT_MEM gate with work queued behind it. Released together,
// the device runs all high-priority jobs before any low-priority one.
TEST_F(Queues, HigherPriorityRunsFirst)
{
	constexpr int kLowJobs = 30, kHighJobs = 10;
	Session other(std::make_unique<Device>(s->dev().path()));
	Queue low_a(s->dev(), DRM_NPU_PRIORITY_LOW);
	Queue high(s->dev(), DRM_NPU_PRIORITY_HIGH);
	Queue low_b(other.dev(), DRM_NPU_PRIORITY_LOW);
	Bo ts_low_a(s->dev(), kPageSize), ts_high(s->dev(), kPageSize);
	Bo ts_low_b(other.dev(), kPageSize);
	// gates only read their flag: read-only keeps them free of implicit deps
	Bo flag_a(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo flag_b(other.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);

	auto gate = [](Session &sess, Bo &flag, uint32_t queue) {
		Commands g;
		g.WaitMem(flag.addr(), 1);
		sess.Submit(g, OnQueue(queue, {flag.handle()}));
	};
	// every job writes its own BO, so no BO orders jobs of different queues
	auto stamp = [](Session &sess, Bo &ts, uint32_t queue, int n) {
		uint64_t last = 0;
		for (int i = 0; i < n; i++) {
			Commands c;
			c.Timestamp(ts.addr() + 8 * i);
			last = sess.Submit(c, OnQueue(queue, {ts.handle()}));
		}
		return last;
	};
	gate(*s, flag_a, low_a.id());
	gate(other, flag_b, low_b.id());
	gate(*s, flag_a, high.id());
	uint64_t last_low_a = stamp(*s, ts_low_a, low_a.id(), kLowJobs);
	uint64_t last_low_b = stamp(other, ts_low_b, low_b.id(), kLowJobs);
	uint64_t last_high = stamp(*s, ts_high, high.id(), kHighJobs);
	// let the schedulers fill the rings
	std::this_thread::sleep_for(std::chrono::milliseconds(500));
	flag_a.WriteU64(0, 1);
	flag_b.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(last_low_a, 10000, low_a.id()), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(other.WaitStatus(last_low_b, 10000, low_b.id()), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(last_high, 10000, high.id()), DRM_NPU_JOB_STATUS_OK);

	uint64_t high_last = 0, low_first = UINT64_MAX;
	for (int i = 0; i < kHighJobs; i++)
		high_last = std::max(high_last, ts_high.ReadU64(8 * i));
	for (int i = 0; i < kLowJobs; i++) {
		ASSERT_NE(ts_low_a.ReadU64(8 * i), 0u);
		low_first = std::min({low_first, ts_low_a.ReadU64(8 * i), ts_low_b.ReadU64(8 * i)});
	}
	EXPECT_LT(high_last, low_first) << "a low-priority job ran before the high-priority ones";
	// and both low contexts progressed (neither starved the other)
	EXPECT_NE(ts_low_b.ReadU64(8 * (kLowJobs - 1)), 0u);
}

} // namespace
} // namespace npu_test
