// User-mode queues (fixture in uqueue_fixture.h), lifetime: DESTROY
// revokes the mapping and cancels jobs, the file's close frees the queue,
// a device reset and system sleep leave it LOST.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu_control.h"
#include "npu_test.h"
#include "syncobj.h"
#include "uqueue_fixture.h"

namespace npu_test
{
namespace
{

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
