// User-mode queues (DRM_IOCTL_NPU_UQUEUE_*): a process maps a hardware
// queue's ring, its control page and the doorbell, and launches jobs with
// no system call. Every rejection of every field, launches and completion
// through the control page, eventfd and syncobj waits, and the same
// conformance and isolation checks as kernel submission: malformed
// descriptors, forged identity fields, another context's addresses, a
// tail beyond the ring, hangs, the ban, revocation, reset and two
// processes. Under bounce buffers (the vm-swiotlb lane) user-mode queues
// do not exist: there every test checks exactly that instead.
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include <linux/capability.h>
#include <linux/sync_file.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu_control.h"
#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

// Sets a writable module parameter for the lifetime of the object.
class ModuleParam
{
public:
	ModuleParam(const std::string &name, const std::string &value)
	    : path_("/sys/module/npu/parameters/" + name)
	{
		std::ifstream in(path_);
		if (!std::getline(in, old_))
			throw std::runtime_error("cannot read " + path_);
		Write(value);
	}
	~ModuleParam() { Write(old_); }
	ModuleParam(const ModuleParam &) = delete;
	ModuleParam &operator=(const ModuleParam &) = delete;

private:
	void Write(const std::string &value)
	{
		std::ofstream out(path_);
		out << value << "\n";
		out.flush();
		if (!out)
			throw std::runtime_error("cannot write " + path_);
	}
	std::string path_;
	std::string old_;
};

std::string KernelCmdline()
{
	std::ifstream in("/proc/cmdline");
	std::string line;
	std::getline(in, line);
	return line;
}

// Booted with swiotlb=...,force (the vm-swiotlb lane), as dma_test.cpp
// tells it: every streaming mapping bounces, DMA is not coherent for the
// process, and user-mode queues must be unavailable.
bool BounceBuffers()
{
	const std::string cmdline = KernelCmdline();
	const auto at = cmdline.find("swiotlb=");
	if (at == std::string::npos)
		return false;
	const std::string value = cmdline.substr(at, cmdline.find(' ', at) - at);
	return value.find("force") != std::string::npos;
}

// The error a syncobj's (signalled) fence carries: 0, or a negative errno;
// 1 if it is still pending.
int FenceError(const Syncobj &so)
{
	int fd = so.ExportSyncFile();
	if (fd < 0)
		return -1000;
	sync_file_info info{};
	int status = ioctl(fd, SYNC_IOC_FILE_INFO, &info) ? -1000 : info.status;
	close(fd);
	return status == 1 ? 0 : status == 0 ? 1 : status;
}

int CreateRaw(const Device &dev, drm_npu_uqueue_create &args)
{
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_UQUEUE_CREATE, &args);
}

drm_npu_uqueue_create ValidCreateArgs()
{
	drm_npu_uqueue_create args{};
	args.priority = DRM_NPU_PRIORITY_NORMAL;
	args.eventfd = -1;
	return args;
}

// One user-mode queue, created and mapped; destroyed with the object.
class UserQueue
{
public:
	explicit UserQueue(const Device &dev, int eventfd = -1,
			   uint32_t priority = DRM_NPU_PRIORITY_NORMAL)
	    : dev_(dev)
	{
		info_ = ValidCreateArgs();
		info_.eventfd = eventfd;
		info_.priority = priority;
		int err = CreateRaw(dev, info_);
		if (err)
			throw std::system_error(err, std::generic_category(), "UQUEUE_CREATE");
		map_ = mmap(nullptr, info_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd(),
			    static_cast<off_t>(info_.mmap_offset));
		if (map_ == MAP_FAILED) {
			err = errno;
			Destroy();
			throw std::system_error(err, std::generic_category(),
						"mmap of a user queue");
		}
	}
	~UserQueue()
	{
		Unmap();
		if (!destroyed_)
			Destroy();
	}
	UserQueue(const UserQueue &) = delete;
	UserQueue &operator=(const UserQueue &) = delete;

	const drm_npu_uqueue_create &info() const { return info_; }
	uint32_t id() const { return info_.uqueue_id; }
	volatile drm_npu_uqueue_control *control()
	{
		return static_cast<volatile drm_npu_uqueue_control *>(map_);
	}
	volatile drm_npu_uqueue_job *slot(uint64_t index)
	{
		auto *ring = reinterpret_cast<volatile drm_npu_uqueue_job *>(
			static_cast<uint8_t *>(map_) + info_.ring_offset);
		return &ring[index % info_.ring_entries];
	}
	void *map() const { return map_; }

	// Writes a descriptor into the next slot (edit may corrupt it), moves
	// the tail and rings the doorbell: no system call. Returns the job's
	// seqno.
	template <typename Edit> uint64_t Launch(uint64_t cmd_addr, uint32_t cmd_size, Edit edit)
	{
		const uint32_t tail = control()->tail;
		drm_npu_uqueue_job job{};
		job.cmd_addr = cmd_addr;
		job.cmd_size = cmd_size;
		edit(job);
		volatile drm_npu_uqueue_job *d = slot(tail);
		std::memcpy(const_cast<drm_npu_uqueue_job *>(d), &job, sizeof(job));
		std::atomic_thread_fence(std::memory_order_release);
		control()->tail = tail + 1;
		std::atomic_thread_fence(std::memory_order_seq_cst);
		Ring();
		return written_ = uint64_t(tail) + 1;
	}
	uint64_t Launch(uint64_t cmd_addr, uint32_t cmd_size)
	{
		return Launch(cmd_addr, cmd_size, [](drm_npu_uqueue_job &) {});
	}
	void Ring()
	{
		auto *db = reinterpret_cast<volatile uint32_t *>(static_cast<uint8_t *>(map_) +
								 info_.doorbell_offset);
		*db = info_.doorbell_value;
	}

	// Polls the control page (no system call) until done_seqno reaches
	// seqno; false on timeout.
	bool PollDone(uint64_t seqno, int timeout_ms = 10000)
	{
		const int64_t deadline = DeadlineInMs(timeout_ms);
		while (control()->done_seqno < seqno) {
			if (MonotonicNs() > deadline)
				return false;
			usleep(200);
		}
		std::atomic_thread_fence(std::memory_order_acquire);
		return true;
	}
	drm_npu_uqueue_job Descriptor(uint64_t seqno)
	{
		drm_npu_uqueue_job job{};
		std::memcpy(&job, const_cast<drm_npu_uqueue_job *>(slot(seqno - 1)), sizeof(job));
		return job;
	}
	drm_npu_uqueue_query Query()
	{
		drm_npu_uqueue_query q{};
		q.uqueue_id = id();
		int err = IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_QUERY, &q);
		EXPECT_EQ(err, 0) << "UQUEUE_QUERY";
		return q;
	}
	int Fence(uint32_t syncobj, uint64_t seqno, uint64_t point = 0)
	{
		drm_npu_uqueue_fence args{};
		args.uqueue_id = id();
		args.syncobj = syncobj;
		args.seqno = seqno;
		args.point = point;
		return IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_FENCE, &args);
	}
	void Unmap()
	{
		if (map_ && map_ != MAP_FAILED)
			munmap(map_, info_.mmap_size);
		map_ = nullptr;
	}
	// Unmaps and leaves the queue to the file's close.
	void LeaveToClose()
	{
		Unmap();
		destroyed_ = true;
	}
	// Keeps the mapping (to check that it was revoked).
	int Destroy()
	{
		drm_npu_uqueue_destroy args{};
		args.uqueue_id = id();
		destroyed_ = true;
		return IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_UQUEUE_DESTROY, &args);
	}

private:
	const Device &dev_;
	drm_npu_uqueue_create info_{};
	void *map_ = nullptr;
	bool destroyed_ = false;
	uint64_t written_ = 0;
};

class Uqueue : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		std::ifstream param("/sys/module/npu/parameters/user_queues");
		std::string user_queues;
		std::getline(param, user_queues);
		bounced_ = BounceBuffers() || user_queues == "0";
	}

	// Under bounce buffers (or with the module's user_queues=0): the
	// parameter reads 0 and CREATE fails with EOPNOTSUPP, which is all
	// there is to test; true then.
	bool Unavailable()
	{
		if (!bounced_)
			return false;
		EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_UQUEUE_COUNT), 0u);
		drm_npu_uqueue_create args = ValidCreateArgs();
		EXPECT_EQ(CreateRaw(s->dev(), args), EOPNOTSUPP);
		return true;
	}

	// A job writing value into scratch's word at offset.
	uint64_t FenceJob(Session &sess, Bo &bo, uint64_t offset, uint64_t value, uint32_t *size)
	{
		Commands cmds;
		cmds.Fence(bo.addr() + offset, value);
		*size = cmds.bytes();
		return sess.Stage(cmds);
	}

	uint64_t LaunchFence(UserQueue &q, Bo &bo, uint64_t offset, uint64_t value)
	{
		uint32_t size = 0;
		uint64_t addr = FenceJob(*s, bo, offset, value, &size);
		return q.Launch(addr, size);
	}

	bool bounced_ = false;
};

uint64_t ReadWord(Bo &bo, uint64_t offset)
{
	return *reinterpret_cast<volatile uint64_t *>(bo.map() + offset);
}

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

// ---- conformance: malformed descriptors ----------------------------------

// Each malformed descriptor completes with BAD_PACKET; the queue goes on.
TEST_F(Uqueue, MalformedDescriptorsFailAloneAndTheQueueGoesOn)
{
	if (Unavailable())
		return;
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	uint32_t size = 0;
	uint64_t addr = FenceJob(*s, out, 0, 0xabc, &size);
	const struct {
		const char *what;
		void (*edit)(drm_npu_uqueue_job &);
	} cases[] = {
		{"cmd_size 0", [](drm_npu_uqueue_job &j) { j.cmd_size = 0; }},
		{"cmd_size unaligned", [](drm_npu_uqueue_job &j) { j.cmd_size = 12; }},
		{"cmd_size too big", [](drm_npu_uqueue_job &j) { j.cmd_size = (64u << 10) + 8; }},
		{"flags", [](drm_npu_uqueue_job &j) { j.flags = 1; }},
		{"reserved", [](drm_npu_uqueue_job &j) { j.reserved = 1; }},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.what);
		uint64_t bad = q.Launch(addr, size, c.edit);
		uint64_t good = LaunchFence(q, out, 8, bad);
		ASSERT_TRUE(q.PollDone(good));
		EXPECT_JOB_STATUS(q.Descriptor(bad).status, DRM_NPU_JOB_STATUS_BAD_PACKET);
		EXPECT_JOB_STATUS(q.Descriptor(good).status, DRM_NPU_JOB_STATUS_OK);
		EXPECT_EQ(ReadWord(out, 8), bad);
	}
	EXPECT_EQ(ReadWord(out, 0), 0u) << "a malformed job ran";
	EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
}

// A descriptor naming another seqno, context and page table runs as the
// queue's job in the queue's context, and is written back that way.
TEST_F(Uqueue, ForgedIdentityFieldsAreIgnored)
{
	if (Unavailable())
		return;
	Session other;
	Bo victim(other.dev(), kPageSize);
	std::memset(victim.map(), 0x5c, kPageSize);
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	uint32_t size = 0;
	uint64_t addr = FenceJob(*s, out, 0, 0x600d, &size);
	const uint64_t other_ctx = other.dev().Param(DRM_NPU_PARAM_CONTEXT_ID);
	uint64_t seqno = q.Launch(addr, size, [&](drm_npu_uqueue_job &j) {
		j.seqno = 1000;
		j.context_id = uint32_t(other_ctx);
		j.reserved0 = 0x1000; // where a page-table root would be
	});
	ASSERT_TRUE(q.PollDone(seqno));
	drm_npu_uqueue_job d = q.Descriptor(seqno);
	EXPECT_EQ(d.seqno, seqno);
	EXPECT_EQ(d.context_id, s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID));
	EXPECT_EQ(d.reserved0, 0u);
	EXPECT_JOB_STATUS(d.status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(ReadWord(out, 0), 0x600du) << "the job did not run in its own context";
	for (uint64_t i = 0; i < kPageSize; i++)
		ASSERT_EQ(victim.map()[i], 0x5c) << "another context's memory changed at " << i;
	other.ExpectWorks();
}

// ---- isolation: another context's addresses -------------------------------

// Addresses valid only in another file's context fault in this one (as
// data and as commands), and that context's memory stays as it was.
TEST_F(Uqueue, AnotherContextsAddressesFault)
{
	if (Unavailable())
		return;
	Session other;
	// push the other context's allocations beyond anything this one has
	Bo filler(other.dev(), 32 * kPageSize * 64);
	Bo victim(other.dev(), kPageSize);
	std::memset(victim.map(), 0x3a, kPageSize);
	Commands victim_cmds;
	victim_cmds.Fill(victim.addr(), 0, kPageSize);
	uint64_t victim_cmd_addr = other.Stage(victim_cmds);
	Bo mine(s->dev(), kPageSize);
	ASSERT_TRUE(victim.addr() >= mine.addr() + mine.size() ||
		    victim.addr() + victim.size() <= mine.addr());
	ASSERT_GE(victim.addr(), s->cmd_bo().addr() + s->cmd_bo().size());

	UserQueue q(s->dev());
	Commands data;
	data.Fill(victim.addr(), 0, 64);
	uint64_t as_data = q.Launch(s->Stage(data), data.bytes());
	uint64_t as_cmds = q.Launch(victim_cmd_addr, victim_cmds.bytes());
	uint64_t after = LaunchFence(q, mine, 0, 0x1234);
	ASSERT_TRUE(q.PollDone(after));
	drm_npu_uqueue_job d = q.Descriptor(as_data);
	EXPECT_JOB_STATUS(d.status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(d.fault_addr, victim.addr());
	EXPECT_JOB_STATUS(q.Descriptor(as_cmds).status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_JOB_STATUS(q.Descriptor(after).status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(ReadWord(mine, 0), 0x1234u);
	for (uint64_t i = 0; i < kPageSize; i++)
		ASSERT_EQ(victim.map()[i], 0x3a) << "another context's memory changed at " << i;
	other.ExpectWorks();
}

// The kernel does not know which BOs a user job uses: a BO freed while
// such a job is parked is unmapped under it (once the device acknowledged
// the invalidate), so the job faults when it reaches the freed memory
// rather than writing pages the kernel may have reused.
TEST_F(Uqueue, MemoryFreedUnderARunningJobFaults)
{
	if (Unavailable())
		return;
	const std::string bdf = FindNpuNodes().at(0).pci_bdf;
	Bo gate(s->dev(), kPageSize);
	auto doomed = std::make_unique<Bo>(s->dev(), kPageSize);
	const uint64_t doomed_addr = doomed->addr();
	UserQueue q(s->dev());
	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	cmds.Fill(doomed_addr, 0x77, 64);
	uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
	usleep(100000);
	const int64_t bos = Counter(bdf, "bos");
	doomed.reset();
	ASSERT_TRUE(Eventually([&] { return Counter(bdf, "bos") < bos; }))
		<< "the freed BO was never released";
	*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
	ASSERT_TRUE(q.PollDone(seqno));
	drm_npu_uqueue_job d = q.Descriptor(seqno);
	EXPECT_JOB_STATUS(d.status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(d.fault_addr, doomed_addr);
}

// Two processes, each with its own queue: each job lands in its own
// process's memory, and neither can map, query or destroy the other's.
TEST_F(Uqueue, TwoProcessesQueuesAreIsolated)
{
	if (Unavailable())
		return;
	int to_child[2], to_parent[2];
	ASSERT_EQ(pipe(to_child), 0);
	ASSERT_EQ(pipe(to_parent), 0);
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int code = 0;
		try {
			Session mine(std::make_unique<Device>(s->dev().path()));
			Bo cout(mine.dev(), kPageSize);
			UserQueue cq(mine.dev());
			// the parent's queue is not ours, whatever its offset
			void *p = mmap(nullptr, q.info().mmap_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, mine.dev().fd(), off_t(q.info().mmap_offset));
			if (p != MAP_FAILED)
				code = 2;
			drm_npu_uqueue_query qq{};
			qq.uqueue_id = q.id() == cq.id() ? 0 : q.id();
			if (!code && qq.uqueue_id &&
			    IoctlErrno(mine.dev().fd(), DRM_IOCTL_NPU_UQUEUE_QUERY, &qq) != ENOENT)
				code = 3;
			Commands cmds;
			cmds.Fence(cout.addr(), 0xc41d);
			uint64_t seqno = 0;
			for (int i = 0; i < 20; i++)
				seqno = cq.Launch(mine.Stage(cmds), cmds.bytes());
			if (!code && !cq.PollDone(seqno))
				code = 4;
			if (!code && ReadWord(cout, 0) != 0xc41du)
				code = 5;
		} catch (...) {
			code = 9;
		}
		char c = 0;
		(void)!write(to_parent[1], &c, 1);
		(void)!read(to_child[0], &c, 1);
		_exit(code);
	}
	for (int i = 0; i < 20; i++)
		LaunchFence(q, out, 0, 0x9a7e);
	ASSERT_TRUE(q.PollDone(20));
	char c = 0;
	ASSERT_EQ(read(to_parent[0], &c, 1), 1);
	ASSERT_EQ(write(to_child[1], &c, 1), 1);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "2: mapped the parent's queue, 3: queried it, "
					     "4: jobs never done, 5: wrong result, 9: exception";
	EXPECT_EQ(ReadWord(out, 0), 0x9a7eu);
	for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]})
		close(fd);
}

// ---- a stalled queue, hangs, the ban -----------------------------------------

TEST_F(Uqueue, TailBeyondTheRingStopsTheQueue)
{
	if (Unavailable())
		return;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	{
		UserQueue q(s->dev(), efd);
		q.control()->tail = q.info().ring_entries + 1;
		q.Ring();
		ASSERT_TRUE(Eventually([&] { return q.control()->error != 0; }, 10000));
		EXPECT_EQ(q.control()->error, uint32_t(DRM_NPU_UQUEUE_ERR_TAIL));
		ASSERT_TRUE(Eventually([&] { return q.Query().state != DRM_NPU_UQUEUE_ACTIVE; }));
		drm_npu_uqueue_query st = q.Query();
		EXPECT_EQ(st.state, uint32_t(DRM_NPU_UQUEUE_STOPPED));
		EXPECT_EQ(st.error, uint32_t(DRM_NPU_UQUEUE_ERR_TAIL));
		pollfd pfd{efd, POLLIN, 0};
		EXPECT_EQ(poll(&pfd, 1, 5000), 1) << "no eventfd for the stop";
		// it stays stopped; a fence for a job it will never run fails
		Syncobj so(s->dev());
		ASSERT_EQ(q.Fence(so.handle(), 1), 0);
		EXPECT_EQ(so.Wait(5000), 0);
		EXPECT_EQ(FenceError(so), -EIO);
		EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_STOPPED));
	}
	close(efd);
	s->ExpectWorks();
	// the hardware queue serves a new user queue
	Bo out(s->dev(), kPageSize);
	UserQueue fresh(s->dev());
	ASSERT_TRUE(fresh.PollDone(LaunchFence(fresh, out, 0, 5)));
	EXPECT_EQ(ReadWord(out, 0), 5u);
}

// A job stuck on a WAIT_MEM nobody satisfies is killed after job_timeout
// with TIMEOUT; the jobs behind it run, nothing is reset.
TEST_F(Uqueue, HungJobIsKilledAndTheQueueGoesOn)
{
	if (Unavailable())
		return;
	const uint64_t resets = ReadSysfsNumber(FindNpuNodes().front().sysfs_pci + "/reset_count");
	Bo gate(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	Commands stuck;
	stuck.WaitMem(gate.addr(), 0x57ac);
	stuck.Fence(out.addr(), 0xdead);
	uint64_t hung = q.Launch(s->Stage(stuck), stuck.bytes());
	uint64_t behind = LaunchFence(q, out, 8, 0xbe11);
	ASSERT_TRUE(q.PollDone(behind, 30000)) << "the hung job was never killed";
	EXPECT_JOB_STATUS(q.Descriptor(hung).status, DRM_NPU_JOB_STATUS_TIMEOUT);
	EXPECT_JOB_STATUS(q.Descriptor(behind).status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(ReadWord(out, 0), 0u) << "the hung job went on after all";
	EXPECT_EQ(ReadWord(out, 8), 0xbe11u);
	drm_npu_uqueue_query st = q.Query();
	EXPECT_EQ(st.timeouts, 1u);
	EXPECT_EQ(st.state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
	EXPECT_EQ(ReadSysfsNumber(FindNpuNodes().front().sysfs_pci + "/reset_count"), resets)
		<< "a kill reset the device";
	s->ExpectWorks();
}

// Failed jobs of a user queue count toward the context's ban like
// submitted ones; at the threshold the queue is BANNED and stops.
TEST_F(Uqueue, FaultsBanTheContext)
{
	if (Unavailable())
		return;
	ModuleParam threshold("ban_threshold", "3");
	Bo out(s->dev(), kPageSize);
	UserQueue q(s->dev());
	Commands fault;
	fault.Fill(0x100, 0, 64);
	uint64_t addr = s->Stage(fault);
	uint64_t seqno = 0;
	for (int i = 0; i < 2; i++)
		seqno = q.Launch(addr, fault.bytes());
	ASSERT_TRUE(q.PollDone(seqno));
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 0u) << "banned below the threshold";
	EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_ACTIVE));
	seqno = q.Launch(addr, fault.bytes());
	ASSERT_TRUE(q.PollDone(seqno));
	ASSERT_TRUE(Eventually([&] { return q.Query().state == DRM_NPU_UQUEUE_BANNED; }));
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_BANNED), 1u);
	// the device no longer serves it
	uint64_t after = LaunchFence(q, out, 0, 0xba);
	Syncobj so(s->dev());
	EXPECT_EQ(q.Fence(so.handle(), after), 0);
	EXPECT_EQ(so.Wait(5000), 0);
	EXPECT_EQ(FenceError(so), -EIO);
	usleep(100000);
	EXPECT_EQ(ReadWord(out, 0), 0u) << "a banned context's queue ran a job";
	// other contexts do not feel it
	Session other;
	other.ExpectWorks();
}

// ---- lifetime -------------------------------------------------------------

// After DESTROY every access to the mapping faults (SIGBUS), also in a
// child that inherited it.
TEST_F(Uqueue, DestroyRevokesTheMapping)
{
	if (Unavailable())
		return;
	UserQueue q(s->dev());
	volatile drm_npu_uqueue_control *ctl = q.control();
	EXPECT_EQ(ctl->done_seqno, 0u);
	ASSERT_EQ(q.Destroy(), 0);
	for (int what = 0; what < 3; what++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			auto *base = static_cast<volatile uint8_t *>(q.map());
			if (what == 0)
				(void)ctl->done_seqno;
			else if (what == 1)
				base[kPageSize + 0x0c] = 1;
			else
				base[q.info().ring_offset] = 1;
			_exit(0);
		}
		int status = 0;
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
			<< "access " << what << " after DESTROY did not SIGBUS (status " << status
			<< ")";
	}
	// and the mapping cannot come back
	void *p = mmap(nullptr, q.info().mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       s->dev().fd(), off_t(q.info().mmap_offset));
	EXPECT_EQ(p, MAP_FAILED);
	if (p != MAP_FAILED)
		munmap(p, q.info().mmap_size);
}

// DESTROY with a job parked on the device: the queue's fences fail with
// ECANCELED and the hardware queue serves the next user queue.
TEST_F(Uqueue, DestroyWithAJobRunning)
{
	if (Unavailable())
		return;
	Bo gate(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	Syncobj so(s->dev());
	uint32_t hw_queue = 0;
	{
		UserQueue q(s->dev());
		Commands cmds;
		cmds.WaitMem(gate.addr(), 1);
		cmds.Fence(out.addr(), 0xdd);
		uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
		ASSERT_EQ(q.Fence(so.handle(), seqno), 0);
		hw_queue = q.Query().hw_queue;
		usleep(100000);
		ASSERT_EQ(q.Destroy(), 0);
	}
	EXPECT_EQ(so.Wait(5000), 0);
	EXPECT_EQ(FenceError(so), -ECANCELED);
	*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
	usleep(100000);
	EXPECT_EQ(ReadWord(out, 0), 0u) << "the destroyed queue's job ran on";
	UserQueue next(s->dev());
	EXPECT_EQ(next.Query().hw_queue, hw_queue) << "the lowest free hardware queue";
	ASSERT_TRUE(next.PollDone(LaunchFence(next, out, 8, 0x11)));
	EXPECT_EQ(ReadWord(out, 8), 0x11u);
}

// How many user queues the device gives out, over several files, before
// CREATE says EBUSY (all released again on return); 0 on another error.
size_t CountUntilBusy(const std::string &path)
{
	std::vector<std::unique_ptr<Device>> files;
	std::vector<std::unique_ptr<UserQueue>> queues;
	for (int i = 0; i < 64; i++) {
		if (i % 2 == 0)
			files.push_back(std::make_unique<Device>(path));
		try {
			queues.push_back(std::make_unique<UserQueue>(*files.back()));
		} catch (const std::system_error &e) {
			return e.code().value() == EBUSY ? queues.size() : 0;
		}
	}
	return 0;
}

// Closing the file (and unmapping) while a job runs frees its queue; the
// device and other files go on.
TEST_F(Uqueue, ClosingTheFileWhileAJobRuns)
{
	if (Unavailable())
		return;
	const size_t total = CountUntilBusy(s->dev().path());
	ASSERT_GE(total, 1u);
	Session other;
	{
		Session closing(std::make_unique<Device>(s->dev().path()));
		Bo out(closing.dev(), kPageSize);
		Bo gate(closing.dev(), kPageSize);
		auto q = std::make_unique<UserQueue>(closing.dev());
		Commands cmds;
		cmds.WaitMem(gate.addr(), 1);
		cmds.Fence(out.addr(), 1);
		q->Launch(closing.Stage(cmds), cmds.bytes());
		usleep(100000);
		EXPECT_EQ(CountUntilBusy(s->dev().path()), total - 1);
		// the mapping keeps the file open: unmap, then close
		q->LeaveToClose();
	}
	EXPECT_EQ(CountUntilBusy(s->dev().path()), total)
		<< "the closed file's queue was not freed";
	other.ExpectWorks();
}

// A device reset (a firmware crash) ends every user queue: LOST, pending
// fences fail, the eventfd fires; the queue stays LOST until destroyed.
TEST_F(Uqueue, DeviceResetLosesTheQueue)
{
	if (Unavailable())
		return;
	std::string why;
	auto ctl = EmuControl::Open(&why);
	if (!ctl) {
		std::printf("skipping: %s\n", why.c_str());
		GTEST_SKIP() << why;
	}
	const uint64_t serial = s->dev().Param(DRM_NPU_PARAM_SERIAL);
	const NodeInfo node = FindNpuNodes().front();
	const uint64_t resets = ReadSysfsNumber(node.sysfs_pci + "/reset_count");
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	Bo gate(s->dev(), kPageSize);
	{
		UserQueue q(s->dev(), efd);
		Commands cmds;
		cmds.WaitMem(gate.addr(), 1);
		uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
		Syncobj so(s->dev());
		ASSERT_EQ(q.Fence(so.handle(), seqno), 0);
		usleep(200000);
		ASSERT_EQ(ctl->Inject(serial, "crash-firmware"), "ok");
		ASSERT_TRUE(Eventually(
			[&] { return ReadSysfsNumber(node.sysfs_pci + "/reset_count") > resets; },
			20000));
		EXPECT_EQ(so.Wait(10000), 0) << "the pending fence was not failed";
		EXPECT_EQ(FenceError(so), -EIO);
		EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_LOST));
		pollfd pfd{efd, POLLIN, 0};
		EXPECT_EQ(poll(&pfd, 1, 5000), 1) << "no eventfd for the loss";
		*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
		q.Ring();
		usleep(100000);
		EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_LOST));
	}
	close(efd);
	FreeDevcoredumps(node.sysfs_pci);
	s->ExpectWorks();
	Bo out(s->dev(), kPageSize);
	UserQueue fresh(s->dev());
	ASSERT_TRUE(fresh.PollDone(LaunchFence(fresh, out, 0, 7)));
	EXPECT_EQ(ReadWord(out, 0), 7u);
}

// System sleep (the driver's suspend and resume callbacks, through the
// debugfs hook system_sleep_test.cpp uses): the firmware is stopped, so
// user queues are LOST like after a reset.
TEST_F(Uqueue, SystemSleepLosesTheQueue)
{
	if (Unavailable())
		return;
	const NodeInfo node = FindNpuNodes().at(0);
	Bo gate(s->dev(), kPageSize);
	Syncobj so(s->dev());
	{
		UserQueue q(s->dev());
		Commands cmds;
		cmds.WaitMem(gate.addr(), 1);
		uint64_t seqno = q.Launch(s->Stage(cmds), cmds.bytes());
		ASSERT_EQ(q.Fence(so.handle(), seqno), 0);
		{
			std::ofstream out("/sys/kernel/debug/npu/" + node.pci_bdf +
					  "/system_sleep");
			ASSERT_TRUE(out);
			out << "1" << std::flush;
			ASSERT_TRUE(out) << "system suspend failed (dmesg says why)";
		}
		EXPECT_EQ(q.Query().state, uint32_t(DRM_NPU_UQUEUE_LOST));
		EXPECT_EQ(so.Wait(5000), 0);
		EXPECT_EQ(FenceError(so), -EIO);
	}
	s->ExpectWorks();
	Bo out(s->dev(), kPageSize);
	UserQueue fresh(s->dev());
	ASSERT_TRUE(fresh.PollDone(LaunchFence(fresh, out, 0, 9)));
	EXPECT_EQ(ReadWord(out, 0), 9u);
}

} // namespace
} // namespace npu_test
