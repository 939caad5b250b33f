// Runtime PM: an idle device autosuspends (its engines are powered down in
// the emulator), a submission wakes it and completes.
#include <fstream>

#include <unistd.h>

#include "emu_control.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

class RuntimePm : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		node_ = FindNpuNodes().front();
		std::string why;
		ctl_ = EmuControl::Open(&why);
		if (!ctl_)
			std::printf("emulator checks skipped: %s\n", why.c_str());
		serial_ = s->dev().Param(DRM_NPU_PARAM_SERIAL);
	}

	std::string RuntimeStatus()
	{
		std::ifstream f(node_.sysfs_pci + "/power/runtime_status");
		std::string v;
		f >> v;
		return v;
	}

	bool WaitSuspended(int timeout_ms)
	{
		int64_t deadline = DeadlineInMs(timeout_ms);
		while (RuntimeStatus() != "suspended") {
			if (MonotonicNs() > deadline)
				return false;
			usleep(20000);
		}
		return true;
	}

	NodeInfo node_;
	std::unique_ptr<EmuControl> ctl_;
	uint64_t serial_ = 0;
};

TEST_F(RuntimePm, AutosuspendDelayIsTheModuleDefault)
{
	EXPECT_EQ(ReadSysfsNumber(node_.sysfs_pci + "/power/autosuspend_delay_ms"), 500u);
	std::ifstream f(node_.sysfs_pci + "/power/control");
	std::string control;
	f >> control;
	EXPECT_EQ(control, "auto");
}

TEST_F(RuntimePm, IdleDeviceSuspendsAndPowersDownItsEngines)
{
	s->ExpectWorks();
	EXPECT_EQ(RuntimeStatus(), "active") << "suspended right after a job";
	ASSERT_TRUE(WaitSuspended(5000)) << "still " << RuntimeStatus() << " after 5 s idle";
	if (ctl_) {
		std::string st = ctl_->Status(serial_);
		EXPECT_EQ(StatusField(st, "power_state"), "off") << st;
		EXPECT_EQ(StatusField(st, "gated_dma"), "0")
			<< "the driver let jobs run gated: " << st;
	}
}

TEST_F(RuntimePm, SubmitWakesASuspendedDevice)
{
	ASSERT_TRUE(WaitSuspended(5000));
	int64_t start = MonotonicNs();
	s->ExpectWorks();
	EXPECT_LT(double(MonotonicNs() - start) / 1e9, 1.0) << "resume was slow";
	EXPECT_EQ(RuntimeStatus(), "active");
	if (ctl_) {
		std::string st = ctl_->Status(serial_);
		EXPECT_EQ(StatusField(st, "power_state"), "on") << st;
		EXPECT_EQ(StatusField(st, "gated_dma"), "0") << st;
	}
	// and it goes back to sleep
	EXPECT_TRUE(WaitSuspended(5000));
}

TEST_F(RuntimePm, DeviceStaysUpWhileAJobRuns)
{
	Bo mem(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 0x31);
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));
	usleep(1000000); // twice the autosuspend delay
	EXPECT_EQ(RuntimeStatus(), "active") << "suspended with a job in flight";
	mem.WriteU64(0, 0x31);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
}

} // namespace
} // namespace npu_test
