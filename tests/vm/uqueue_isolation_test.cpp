// User-mode queues (fixture in uqueue_fixture.h): the conformance and
// isolation checks of kernel submission - malformed descriptors, forged
// identity fields, another context's addresses, memory freed under a job,
// two processes - and a stalled queue, hangs and the ban.
#include <cstring>
#include <memory>
#include <string>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npu_test.h"
#include "syncobj.h"
#include "uqueue_fixture.h"

namespace npu_test
{
namespace
{

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

} // namespace
} // namespace npu_test
