// User-mode queues (DRM_IOCTL_NPU_UQUEUE_*, fixture in uqueue_fixture.h):
// availability, launches and completion through the control page, eventfd
// and syncobj waits, and every rejection of every field of CREATE, mmap,
// DESTROY, FENCE and QUERY.
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <linux/capability.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npu_test.h"
#include "syncobj.h"
#include "uqueue_fixture.h"

namespace npu_test
{
namespace
{

// ---- availability ------------------------------------------------------

TEST_F(Uqueue, AvailableExactlyWhereDmaIsCoherent)
{
	if (Unavailable())
		return;
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_UQUEUE_COUNT), 2u) << "user_queues_per_context";
	UserQueue q(s->dev());
	EXPECT_NE(q.id(), 0u);
	EXPECT_EQ(q.info().ring_entries & (q.info().ring_entries - 1), 0u);
	EXPECT_GE(q.info().ring_entries, 2u);
	EXPECT_EQ(q.info().ring_offset, 2 * kPageSize);
	EXPECT_EQ(q.info().doorbell_offset, kPageSize + 0x0c);
	EXPECT_EQ(q.info().doorbell_value, 1u) << "NPU_DOORBELL_VALUE(NPU_DB_QUEUE)";
	EXPECT_EQ(q.info().mmap_size,
		  q.info().ring_offset + q.info().ring_entries * sizeof(drm_npu_uqueue_job));
	drm_npu_uqueue_query st = q.Query();
	EXPECT_EQ(st.state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
	EXPECT_EQ(st.done_seqno, 0u);
	EXPECT_EQ(st.timeouts, 0u);
}

// debugfs uqueues lists each user queue with its hardware queue, context,
// progress and state; debugfs queues leaves those hardware queues out.
TEST_F(Uqueue, DebugfsListsUserQueues)
{
	if (Unavailable())
		return;
	const NodeInfo node = FindNpuNodes().at(0);
	const std::string dir = "/sys/kernel/debug/npu/" + node.pci_bdf + "/";
	auto read = [](const std::string &path) {
		std::ifstream in(path);
		return std::string(std::istreambuf_iterator<char>(in), {});
	};
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	ASSERT_TRUE(q.PollDone(LaunchFence(q, out, 0, 1)));
	const drm_npu_uqueue_query st = q.Query();
	const std::string line = "hw_queue " + std::to_string(st.hw_queue) + " context " +
				 std::to_string(s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID)) +
				 " uqueue " + std::to_string(q.id()) +
				 " priority 1 done 1 state active";
	const std::string uqueues = read(dir + "uqueues");
	EXPECT_NE(uqueues.find(line), std::string::npos) << uqueues;
	EXPECT_NE(uqueues.find("available 1"), std::string::npos) << uqueues;
	const std::string queues = read(dir + "queues");
	EXPECT_EQ(queues.find("queue " + std::to_string(st.hw_queue) + "\n"), std::string::npos)
		<< queues;
}

// ---- launch and completion -----------------------------------------------

// The whole round trip without a system call: descriptor, tail, doorbell,
// and completion read from the control page; the descriptor comes back
// with the queue's seqno and context and no page-table address.
TEST_F(Uqueue, LaunchCompletesWithoutASystemCall)
{
	if (Unavailable())
		return;
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	uint64_t first = LaunchFence(q, out, 0, 0x1111);
	uint64_t second = LaunchFence(q, out, 8, 0x2222);
	EXPECT_EQ(first, 1u);
	EXPECT_EQ(second, 2u);
	ASSERT_TRUE(q.PollDone(second)) << "done_seqno " << q.control()->done_seqno;
	EXPECT_EQ(ReadWord(out, 0), 0x1111u);
	EXPECT_EQ(ReadWord(out, 8), 0x2222u);
	EXPECT_EQ(q.control()->head, 2u);
	EXPECT_EQ(q.control()->error, 0u);
	for (uint64_t seqno : {first, second}) {
		drm_npu_uqueue_job d = q.Descriptor(seqno);
		EXPECT_EQ(d.seqno, seqno);
		EXPECT_EQ(d.context_id, s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID));
		EXPECT_EQ(d.reserved0, 0u) << "the page-table root reached the process";
		EXPECT_JOB_STATUS(d.status, DRM_NPU_JOB_STATUS_OK);
	}
	drm_npu_uqueue_query st = q.Query();
	EXPECT_EQ(st.done_seqno, 2u);
	EXPECT_EQ(st.state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
	s->ExpectWorks();
}

// More jobs than the ring has slots: the process reuses slots once
// done_seqno covers them.
TEST_F(Uqueue, RingWrapsAround)
{
	if (Unavailable())
		return;
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	const uint32_t entries = q.info().ring_entries;
	uint32_t size = 0;
	uint64_t addr = FenceJob(*s, out, 0, 0x77, &size);
	uint64_t last = 0;
	for (uint32_t i = 0; i < entries + entries / 2; i++) {
		if (i >= entries) {
			ASSERT_TRUE(q.PollDone(i + 1 - entries));
		}
		last = q.Launch(addr, size);
	}
	ASSERT_TRUE(q.PollDone(last));
	EXPECT_EQ(q.Descriptor(last).seqno, last);
	EXPECT_EQ(q.Query().done_seqno, last);
}

TEST_F(Uqueue, EventfdWakesOnCompletion)
{
	if (Unavailable())
		return;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	Bo gate(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	{
		UserQueue q(s->dev(), efd);
		Commands cmds;
		cmds.WaitMem(gate.addr(), 1);
		cmds.Fence(out.addr(), 0xe7e7);
		uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
		pollfd pfd{efd, POLLIN, 0};
		EXPECT_EQ(poll(&pfd, 1, 200), 0) << "eventfd signalled before the job ran";
		*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
		ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "eventfd never signalled";
		uint64_t count = 0;
		EXPECT_EQ(read(efd, &count, sizeof(count)), ssize_t(sizeof(count)));
		EXPECT_GE(count, 1u);
		EXPECT_GE(q.control()->done_seqno, seqno);
		EXPECT_EQ(ReadWord(out, 0), 0xe7e7u);
	}
	close(efd);
}

// UQUEUE_FENCE: a binary syncobj replaced and a timeline point, both
// signalled when done_seqno reaches the job; SYNCOBJ_WAIT sleeps on them.
TEST_F(Uqueue, FenceLetsAProcessSleepInSyncobjWait)
{
	if (Unavailable())
		return;
	Bo gate(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	cmds.Fence(out.addr(), 0xf1f1);
	uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
	Syncobj binary(s->dev());
	Syncobj timeline(s->dev());
	ASSERT_EQ(q.Fence(binary.handle(), seqno), 0);
	ASSERT_EQ(q.Fence(timeline.handle(), seqno, 5), 0);
	EXPECT_EQ(binary.Wait(100), -ETIME) << "signalled before the job ran";
	EXPECT_EQ(timeline.WaitPoint(5, 100), -ETIME);
	*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
	EXPECT_EQ(binary.Wait(10000), 0);
	EXPECT_EQ(FenceError(binary), 0);
	EXPECT_EQ(timeline.WaitPoint(5, 10000), 0);
	EXPECT_EQ(timeline.Query(), 5u);
	EXPECT_EQ(ReadWord(out, 0), 0xf1f1u);
	// a job already done: the fence is signalled at once
	Syncobj late(s->dev());
	ASSERT_EQ(q.Fence(late.handle(), seqno), 0);
	EXPECT_EQ(late.Wait(0), 0);
}

// ---- rejections: CREATE ---------------------------------------------------

TEST_F(Uqueue, CreateRejectsFlags)
{
	if (Unavailable())
		return;
	drm_npu_uqueue_create args = ValidCreateArgs();
	args.flags = 1;
	EXPECT_EQ(CreateRaw(s->dev(), args), EINVAL);
}

TEST_F(Uqueue, CreateRejectsAnUnknownPriority)
{
	if (Unavailable())
		return;
	drm_npu_uqueue_create args = ValidCreateArgs();
	args.priority = DRM_NPU_PRIORITY_REALTIME + 1;
	EXPECT_EQ(CreateRaw(s->dev(), args), EINVAL);
}

TEST_F(Uqueue, CreateRefusesHighPrioritiesWithoutCapSysNice)
{
	if (Unavailable())
		return;
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
		__user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
		if (syscall(SYS_capget, &hdr, data))
			_exit(10);
		data[CAP_TO_INDEX(CAP_SYS_NICE)].effective &= ~CAP_TO_MASK(CAP_SYS_NICE);
		if (syscall(SYS_capset, &hdr, data))
			_exit(10);
		Device dev(s->dev().path());
		for (uint32_t prio : {DRM_NPU_PRIORITY_HIGH, DRM_NPU_PRIORITY_REALTIME}) {
			drm_npu_uqueue_create args = ValidCreateArgs();
			args.priority = prio;
			if (CreateRaw(dev, args) != EPERM)
				_exit(11 + int(prio));
		}
		drm_npu_uqueue_create args = ValidCreateArgs();
		args.priority = DRM_NPU_PRIORITY_LOW;
		_exit(CreateRaw(dev, args) == 0 ? 0 : 20);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "10: capset failed, 13/14: HIGH/REALTIME not EPERM, "
					     "20: LOW refused";
	// with the capability, every level
	for (uint32_t prio = 0; prio <= DRM_NPU_PRIORITY_REALTIME; prio++) {
		Device dev(s->dev().path());
		drm_npu_uqueue_create args = ValidCreateArgs();
		args.priority = prio;
		EXPECT_EQ(CreateRaw(dev, args), 0) << "priority " << prio;
	}
}

TEST_F(Uqueue, CreateRejectsANegativeEventfd)
{
	if (Unavailable())
		return;
	drm_npu_uqueue_create args = ValidCreateArgs();
	args.eventfd = -2;
	EXPECT_EQ(CreateRaw(s->dev(), args), EBADF);
}

TEST_F(Uqueue, CreateRejectsAClosedEventfd)
{
	if (Unavailable())
		return;
	int efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	close(efd);
	drm_npu_uqueue_create args = ValidCreateArgs();
	args.eventfd = efd;
	EXPECT_EQ(CreateRaw(s->dev(), args), EBADF);
}

TEST_F(Uqueue, CreateRejectsAFileThatIsNoEventfd)
{
	if (Unavailable())
		return;
	drm_npu_uqueue_create args = ValidCreateArgs();
	args.eventfd = s->dev().fd();
	EXPECT_EQ(CreateRaw(s->dev(), args), EBADF);
}

TEST_F(Uqueue, CreateRefusesMoreThanTheContextMay)
{
	if (Unavailable())
		return;
	const uint64_t limit = s->dev().Param(DRM_NPU_PARAM_UQUEUE_COUNT);
	std::vector<std::unique_ptr<UserQueue>> queues;
	for (uint64_t i = 0; i < limit; i++)
		queues.push_back(std::make_unique<UserQueue>(s->dev()));
	drm_npu_uqueue_create args = ValidCreateArgs();
	EXPECT_EQ(CreateRaw(s->dev(), args), ENOSPC);
	// a destroyed one makes room
	queues.pop_back();
	EXPECT_NO_THROW(UserQueue again(s->dev()));
}

// Every hardware queue kept for user mode taken (by several files): EBUSY,
// until one is given back.
TEST_F(Uqueue, CreateIsBusyWhenEveryHardwareQueueIsTaken)
{
	if (Unavailable())
		return;
	std::vector<std::unique_ptr<Device>> files;
	std::vector<std::unique_ptr<UserQueue>> queues;
	int err = 0;
	for (int i = 0; i < 64 && !err; i++) {
		if (i % 2 == 0)
			files.push_back(std::make_unique<Device>(s->dev().path()));
		try {
			queues.push_back(std::make_unique<UserQueue>(*files.back()));
		} catch (const std::system_error &e) {
			err = e.code().value();
		}
	}
	ASSERT_EQ(err, EBUSY) << "after " << queues.size() << " queues";
	EXPECT_GE(queues.size(), 1u);
	queues.pop_back();
	EXPECT_NO_THROW(UserQueue again(*files.back()));
}

TEST_F(Uqueue, CreateRefusesABannedContext)
{
	if (Unavailable())
		return;
	ModuleParam threshold("ban_threshold", "1");
	UserQueue q(s->dev());
	Commands cmds;
	cmds.Fill(0x100, 0, 64); // below NPU_VA_START: never mapped
	uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
	ASSERT_TRUE(q.PollDone(seqno));
	EXPECT_JOB_STATUS(q.Descriptor(seqno).status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	ASSERT_TRUE(Eventually([&] { return s->dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED) == 1; }));
	drm_npu_uqueue_create args = ValidCreateArgs();
	EXPECT_EQ(CreateRaw(s->dev(), args), ECANCELED);
}

// ---- rejections: mmap -------------------------------------------------------

class UqueueMap : public Uqueue
{
protected:
	void *Map(int fd, uint64_t size, int prot, int flags)
	{
		void *p = mmap(nullptr, size, prot, flags, fd, off_t(info_.mmap_offset));
		err_ = p == MAP_FAILED ? errno : 0;
		if (p != MAP_FAILED)
			munmap(p, size);
		return p;
	}
	void Create()
	{
		info_ = ValidCreateArgs();
		ASSERT_EQ(CreateRaw(s->dev(), info_), 0);
	}
	drm_npu_uqueue_create info_{};
	int err_ = 0;
};

TEST_F(UqueueMap, RejectsASmallerSize)
{
	if (Unavailable())
		return;
	Create();
	Map(s->dev().fd(), info_.mmap_size - kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(err_, EINVAL);
}

TEST_F(UqueueMap, RejectsALargerSize)
{
	if (Unavailable())
		return;
	Create();
	Map(s->dev().fd(), info_.mmap_size + kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_NE(err_, 0);
}

TEST_F(UqueueMap, RejectsAPrivateMapping)
{
	if (Unavailable())
		return;
	Create();
	Map(s->dev().fd(), info_.mmap_size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	EXPECT_EQ(err_, EINVAL);
}

TEST_F(UqueueMap, RejectsExecutableMappings)
{
	if (Unavailable())
		return;
	Create();
	Map(s->dev().fd(), info_.mmap_size, PROT_READ | PROT_EXEC, MAP_SHARED);
	EXPECT_EQ(err_, EPERM);
	// nor can a mapping become executable later
	void *p = mmap(nullptr, info_.mmap_size, PROT_READ, MAP_SHARED, s->dev().fd(),
		       off_t(info_.mmap_offset));
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_NE(mprotect(p, info_.mmap_size, PROT_READ | PROT_EXEC), 0);
	munmap(p, info_.mmap_size);
}

TEST_F(UqueueMap, RejectsAnotherFile)
{
	if (Unavailable())
		return;
	Create();
	Device other(s->dev().path());
	Map(other.fd(), info_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(err_, EACCES);
}

TEST_F(UqueueMap, WorksForTheCreatingFile)
{
	if (Unavailable())
		return;
	Create();
	Map(s->dev().fd(), info_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(err_, 0);
}

// ---- rejections: DESTROY, FENCE, QUERY -----------------------------------

TEST_F(Uqueue, DestroyRejectsPad)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	drm_npu_uqueue_destroy args{};
	args.uqueue_id = q.id();
	args.pad = 1;
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_UQUEUE_DESTROY, &args), EINVAL);
}

TEST_F(Uqueue, DestroyRejectsUnknownIds)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	for (uint32_t id : {0u, q.id() + 1, 0xffffffffu}) {
		drm_npu_uqueue_destroy args{};
		args.uqueue_id = id;
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_UQUEUE_DESTROY, &args), ENOENT)
			<< id;
	}
	// twice
	EXPECT_EQ(q.Destroy(), 0);
	EXPECT_EQ(q.Destroy(), ENOENT);
}

TEST_F(Uqueue, DestroyRejectsAnotherFilesQueue)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Device other(s->dev().path());
	drm_npu_uqueue_destroy args{};
	args.uqueue_id = q.id();
	EXPECT_EQ(IoctlErrno(other.fd(), DRM_IOCTL_NPU_UQUEUE_DESTROY, &args), ENOENT);
	EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
}

class UqueueFence : public Uqueue
{
protected:
	int FenceRaw(drm_npu_uqueue_fence &args)
	{
		return IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_UQUEUE_FENCE, &args);
	}
	// A valid request: job 1, done.
	drm_npu_uqueue_fence Valid(UserQueue &q, Syncobj &so, Bo &out)
	{
		uint64_t seqno = LaunchFence(q, out, 0, 1);
		EXPECT_TRUE(q.PollDone(seqno));
		drm_npu_uqueue_fence args{};
		args.uqueue_id = q.id();
		args.syncobj = so.handle();
		args.seqno = seqno;
		return args;
	}
};

TEST_F(UqueueFence, AcceptsTheValidRequest)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	EXPECT_EQ(FenceRaw(args), 0);
	EXPECT_EQ(so.Wait(0), 0);
}

TEST_F(UqueueFence, RejectsFlags)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.flags = 1;
	EXPECT_EQ(FenceRaw(args), EINVAL);
}

TEST_F(UqueueFence, RejectsPad)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.pad = 1;
	EXPECT_EQ(FenceRaw(args), EINVAL);
}

TEST_F(UqueueFence, RejectsSeqnoZero)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.seqno = 0;
	EXPECT_EQ(FenceRaw(args), EINVAL);
}

TEST_F(UqueueFence, RejectsAJobNotYetWritten)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.seqno = 2;
	EXPECT_EQ(FenceRaw(args), EINVAL);
	// nor does a tail the process moved beyond the ring make it one
	q.control()->tail = q.info().ring_entries + 5;
	args.seqno = 3;
	EXPECT_EQ(FenceRaw(args), EINVAL);
}

TEST_F(UqueueFence, RejectsAnUnknownQueue)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.uqueue_id = q.id() + 1;
	EXPECT_EQ(FenceRaw(args), ENOENT);
	args.uqueue_id = 0;
	EXPECT_EQ(FenceRaw(args), ENOENT);
}

TEST_F(UqueueFence, RejectsAnUnknownSyncobj)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Syncobj so(s->dev());
	Bo out(s->dev(), kPageSize);
	drm_npu_uqueue_fence args = Valid(q, so, out);
	args.syncobj = so.handle() + 100;
	EXPECT_EQ(FenceRaw(args), ENOENT);
	args.syncobj = 0;
	EXPECT_EQ(FenceRaw(args), ENOENT);
}

TEST_F(Uqueue, QueryRejectsUnknownIds)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	Device other(s->dev().path());
	for (uint32_t id : {0u, q.id() + 1}) {
		drm_npu_uqueue_query args{};
		args.uqueue_id = id;
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_UQUEUE_QUERY, &args), ENOENT);
	}
	drm_npu_uqueue_query args{};
	args.uqueue_id = q.id();
	EXPECT_EQ(IoctlErrno(other.fd(), DRM_IOCTL_NPU_UQUEUE_QUERY, &args), ENOENT)
		<< "another file's queue";
}

} // namespace
} // namespace npu_test
