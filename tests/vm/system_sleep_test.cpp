// System suspend and resume (driver/npu_pm.c): the driver's system-sleep
// callbacks, suspend then resume, run through the debugfs hook
// system_sleep as the PM core runs them. (A real suspend of these guests,
// echo freeze > /sys/power/state with pm_test=devices, was tried: it resets
// the virtio-9p root file system, which cannot be restored under QEMU 7.2,
// and the guest hangs.) Jobs run before and after, the firmware is booted
// again on resume (its since-boot counters restart), and jobs queued at
// suspend time run after resume.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "npu_test.h"

namespace npu_test
{
namespace
{

class SystemSleep : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		const NodeInfo node = FindNpuNodes().at(0);
		sysfs_ = node.sysfs_pci;
		hook_ = "/sys/kernel/debug/npu/" + node.pci_bdf + "/system_sleep";
	}
	uint64_t JobsCompleted() { return ReadSysfsNumber(sysfs_ + "/jobs_completed"); }
	// The device's suspend then resume callbacks; fails the test if
	// suspend refused.
	void SuspendAndResume()
	{
		std::ofstream out(hook_);
		ASSERT_TRUE(out) << hook_;
		out << "1" << std::flush;
		ASSERT_TRUE(out) << "system suspend failed (dmesg says why)";
	}

	std::string sysfs_;
	std::string hook_;
};

TEST_F(SystemSleep, JobsRunBeforeAndAfterAndTheFirmwareIsBootedAgain)
{
	s->ExpectWorks();
	ASSERT_GT(JobsCompleted(), 0u);
	ASSERT_NO_FATAL_FAILURE(SuspendAndResume());
	// the device may have lost power: the firmware was stopped and booted
	EXPECT_EQ(JobsCompleted(), 0u) << "the firmware kept running through system sleep";
	s->ExpectWorks();
	EXPECT_EQ(JobsCompleted(), 1u);
}

TEST_F(SystemSleep, QueuedJobsRunAfterResume)
{
	// more jobs than a ring holds: at suspend some are on the device (they
	// complete first), the others still queued in the scheduler
	constexpr uint32_t kJobs = 600;
	Bo out(s->dev(), kJobs * sizeof(uint64_t));
	for (uint32_t i = 0; i < kJobs; i++)
		out.WriteU64(i * sizeof(uint64_t), 0);
	uint64_t last = 0;
	for (uint32_t i = 0; i < kJobs; i++) {
		Commands cmds;
		for (int n = 0; n < 32; n++)
			cmds.Nop();
		cmds.Fence(out.addr() + i * sizeof(uint64_t), 0x5100000000ull + i);
		last = s->Submit(cmds, UsingBos({out.handle()}));
	}
	ASSERT_NO_FATAL_FAILURE(SuspendAndResume());
	// one context queue runs its jobs in order: the last one done means all
	EXPECT_JOB_STATUS(s->WaitStatus(last, 60000), DRM_NPU_JOB_STATUS_OK);
	uint32_t wrong = 0;
	for (uint32_t i = 0; i < kJobs; i++)
		wrong += out.ReadU64(i * sizeof(uint64_t)) != 0x5100000000ull + i;
	EXPECT_EQ(wrong, 0u) << "jobs lost across system sleep";
	s->ExpectWorks();
}

} // namespace
} // namespace npu_test
