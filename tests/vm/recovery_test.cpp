// Recovery under injected faults: the emulator (through $NPU_EMU_CONTROL)
// makes the device hang, crash, lie about completions, lose an interrupt,
// stop its heartbeat, or makes a tensor engine hang or misbehave. Every fault must be survived:
// every WAIT returns, the job hit gets an error (or, for a lost interrupt, completes), other
// contexts go on, the device works afterwards, and each reset is counted,
// announced by a uevent and leaves a devcoredump.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <system_error>

#include <unistd.h>

#include "emu_control.h"
#include "engine_work.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

class Recovery : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		std::string why;
		ctl_ = EmuControl::Open(&why);
		if (!ctl_) {
			std::printf("skipping: %s\n", why.c_str());
			GTEST_SKIP() << why;
		}
		node_ = FindNpuNodes().front();
		serial_ = s->dev().Param(DRM_NPU_PARAM_SERIAL);
		std::string st = ctl_->Status(serial_);
		ASSERT_EQ(StatusField(st, "state"), "READY") << st;
		// dumps of earlier tests (job timeouts) would block new ones
		FreeDevcoredumps(node_.sysfs_pci);
		ASSERT_TRUE(uevents_.ok()) << "no uevent socket";
		resets_ = ResetCount();
	}

	uint64_t ResetCount() { return ReadSysfsNumber(node_.sysfs_pci + "/reset_count"); }

	// The reset after a fault: counted once, a uevent and a devcoredump
	// naming reason (any of them, "|"-separated); the dump's text in
	// *dump_text if given.
	void ExpectOneReset(const std::string &reasons, std::string *dump_text = nullptr)
	{
		auto ev = uevents_.WaitReset(node_.pci_bdf, 15000);
		ASSERT_TRUE(ev) << "no NPU_RESET uevent";
		std::string reason;
		for (const auto &kv : *ev)
			if (kv.rfind("NPU_RESET_REASON=", 0) == 0)
				reason = kv.substr(17);
		EXPECT_NE(("|" + reasons + "|").find("|" + reason + "|"), std::string::npos)
			<< "reset reason " << reason << ", expected " << reasons;
		EXPECT_NE(std::find(ev->begin(), ev->end(), "NPU_RESET_RESULT=recovered"),
			  ev->end());
		EXPECT_EQ(ResetCount(), resets_ + 1);

		auto dump = TakeDevcoredump(node_.sysfs_pci, 5000);
		ASSERT_TRUE(dump) << "no devcoredump";
		EXPECT_NE(dump->find("reason: " + reason + "\n"), std::string::npos) << *dump;
		EXPECT_NE(dump->find("registers:"), std::string::npos);
		EXPECT_NE(dump->find("queue 0:"), std::string::npos);
		EXPECT_NE(dump->find("firmware log ("), std::string::npos);
		EXPECT_NE(dump->find("\nengines: "), std::string::npos) << *dump;
		if (dump_text)
			*dump_text = *dump;
		EXPECT_NE(dump->find("npu-fw "), std::string::npos)
			<< "no firmware boot line in the log";
		EXPECT_TRUE(DevcoredumpsOf(node_.sysfs_pci).empty())
			<< "writing data did not free it";
		std::string st = ctl_->Status(serial_);
		EXPECT_EQ(StatusField(st, "state"), "READY") << st;
	}

	// A job writing value into the scratch BO's first word.
	uint64_t SubmitFill(Session &sess, uint32_t value)
	{
		Commands cmds;
		cmds.Fill(sess.scratch().addr(), value, 64);
		return sess.Submit(cmds, UsingBos({sess.scratch().handle()}));
	}

	std::unique_ptr<EmuControl> ctl_;
	NodeInfo node_;
	uint64_t serial_ = 0;
	uint64_t resets_ = 0;
	UeventListener uevents_;
};

TEST_F(Recovery, StatusNamesTheDevice)
{
	auto reply = ctl_->Command("status");
	ASSERT_EQ(reply.back(), "ok");
	EXPECT_EQ(ctl_->Inject(serial_, "melt-down"), "error unknown fault 'melt-down'");
}

TEST_F(Recovery, HungEngineIsResetAndOnlyTheHungJobIsBlamed)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	uint32_t high = CreateQueue(other.dev(), DRM_NPU_PRIORITY_HIGH);
	uint64_t hits = std::stoull(StatusField(ctl_->Status(serial_), "hits"));
	ASSERT_EQ(ctl_->Inject(serial_, "hang-engine"), "ok");
	uint64_t hung = SubmitFill(*s, 0x4a4a);
	// the other jobs reach the device once the engine hangs on the first
	int64_t deadline = DeadlineInMs(5000);
	while (std::stoull(StatusField(ctl_->Status(serial_), "hits")) == hits) {
		ASSERT_LT(MonotonicNs(), deadline) << "the engine never hung";
		usleep(10000);
	}
	// An innocent job on another hardware queue, then one more behind the
	// hung job: that push restarts the hung queue's job timer, so the
	// innocent job's timer expires first (or in the same tick). The
	// driver must still blame the job the firmware is stuck in.
	SubmitOptions on_high = UsingBos({other.scratch().handle()});
	on_high.queue_id = high;
	Commands fill;
	fill.Fill(other.scratch().addr(), 0x5b5b, 64);
	uint64_t innocent = other.Submit(fill, on_high);
	usleep(50000);
	uint64_t behind = SubmitFill(*s, 0x6c6c);

	SCOPED_TRACE("hung context " + std::to_string(s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID)) +
		     ", other context " +
		     std::to_string(other.dev().Param(DRM_NPU_PARAM_CONTEXT_ID)));
	WaitResult r = s->Wait(hung, 20000);
	ASSERT_EQ(r.err, 0) << "WAIT on the hung job never returned";
	WaitResult o = other.Wait(innocent, 20000, high);
	ASSERT_EQ(o.err, 0) << "the other context's job was lost";
	WaitResult b = s->Wait(behind, 20000);
	ASSERT_EQ(b.err, 0) << "the job behind the hung one was lost";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_TIMEOUT);
	EXPECT_JOB_STATUS(o.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	EXPECT_JOB_STATUS(b.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	ExpectOneReset("job-timeout|heartbeat");
	s->ExpectWorks();
	other.ExpectWorks();
}

TEST_F(Recovery, FirmwareCrashIsRecovered)
{
	// a job in flight when the core dies
	Bo mem(s->dev(), kPageSize);
	Commands stuck;
	stuck.WaitMem(mem.addr(), 0x77);
	uint64_t seqno = s->Submit(stuck, UsingBos({mem.handle()}));
	usleep(200000);
	ASSERT_EQ(ctl_->Inject(serial_, "crash-firmware"), "ok");
	WaitResult r = s->Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	ExpectOneReset("firmware-halted");
	s->ExpectWorks();
}

TEST_F(Recovery, CorruptCompletionStatusIsNotBelieved)
{
	ASSERT_EQ(ctl_->Inject(serial_, "corrupt-completion status"), "ok");
	uint64_t seqno = SubmitFill(*s, 0x6c6c);
	WaitResult r = s->Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	ExpectOneReset("bad-completion");
	s->ExpectWorks();
}

TEST_F(Recovery, CorruptDoneSeqnoSignalsNoFutureJob)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	Bo mem(other.dev(), kPageSize);
	// a job that cannot have finished: a jump of done_seqno must not
	// complete it
	Commands stuck;
	stuck.WaitMem(mem.addr(), 0x99);
	uint64_t waiting = other.Submit(stuck, UsingBos({mem.handle()}));
	usleep(100000);
	ASSERT_EQ(ctl_->Inject(serial_, "corrupt-completion seqno"), "ok");
	// runs on another hardware queue only if priorities differ; either
	// way its completion carries the jump
	uint64_t seqno = SubmitFill(*s, 0x7d7d);
	mem.WriteU64(0, 0x99);
	WaitResult r = s->Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	WaitResult w = other.Wait(waiting, 20000);
	ASSERT_EQ(w.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	EXPECT_NE(w.args.job_status, uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET});
	ExpectOneReset("bad-completion");
	s->ExpectWorks();
	other.ExpectWorks();
}

TEST_F(Recovery, LostInterruptStillCompletesTheJob)
{
	ASSERT_EQ(ctl_->Inject(serial_, "drop-interrupt"), "ok");
	int64_t start = MonotonicNs();
	uint64_t seqno = SubmitFill(*s, 0x8e8e);
	WaitResult r = s->Wait(seqno, 20000);
	double waited_s = double(MonotonicNs() - start) / 1e9;
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(s->scratch().ReadU32(0), 0x8e8eu);
	EXPECT_LT(waited_s, 1.5) << "found only by the 2 s job timeout, not the watchdog";
	std::string st = ctl_->Status(serial_);
	EXPECT_EQ(StatusField(st, "armed"), "none") << "the interrupt was not dropped: " << st;
	EXPECT_EQ(ResetCount(), resets_) << "a lost interrupt needs no reset";
	EXPECT_TRUE(DevcoredumpsOf(node_.sysfs_pci).empty());
	s->ExpectWorks();
}

TEST_F(Recovery, FrozenHeartbeatIsReset)
{
	ASSERT_EQ(ctl_->Inject(serial_, "stop-heartbeat"), "ok");
	ExpectOneReset("heartbeat");
	std::string st = ctl_->Status(serial_);
	EXPECT_EQ(StatusField(st, "armed"), "none")
		<< "reset did not restart the heartbeat: " << st;
	s->ExpectWorks();
}

// The devcoredump line of an engine busy with a GEMM task, "" if none.
std::string BusyGemmEngine(const std::string &dump)
{
	std::smatch m;
	const std::regex busy(R"(engine \d+: state busy seqno (\d+) op 0x10 queue \d+)");
	return std::regex_search(dump, m, busy) ? m.str(0) : "";
}

TEST_F(Recovery, HungTensorEngineTimesOutItsJob)
{
	GemmOperands gemm(*s, 256);
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	ASSERT_EQ(ctl_->Inject(serial_, "hang-tensor-engine"), "ok");
	uint64_t hung = gemm.Submit();
	WaitResult r = s->Wait(hung, 20000);
	ASSERT_EQ(r.err, 0) << "WAIT on the job of the hung engine never returned";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_TIMEOUT);
	std::string dump;
	ExpectOneReset("job-timeout", &dump);
	EXPECT_NE(BusyGemmEngine(dump), "") << "the hung engine is not shown busy in a GEMM:\n"
					    << dump;
	EXPECT_NE(dump.find("guilty: queue "), std::string::npos) << dump;
	std::string st = ctl_->Status(serial_);
	EXPECT_EQ(StatusField(st, "armed"), "none") << "the fault never hit: " << st;
	// The engines compute again after the reset.
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	EXPECT_FLOAT_EQ(gemm.Y(17, 3), gemm.Expected(17, 3));
	s->ExpectWorks();
}

TEST_F(Recovery, MisbehavingEngineFailsItsJobWithEngineError)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	GemmOperands gemm(*s, 128);
	ASSERT_EQ(ctl_->Inject(serial_, "corrupt-engine"), "ok");
	// The GEMM after two NOPs: err_offset names it.
	uint64_t failing = gemm.Submit(2);
	WaitResult r = s->Wait(failing, 20000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ENGINE_ERROR);
	EXPECT_EQ(r.args.err_offset, 2 * NPU_PKT_NOP_DWORDS * 4) << "the GEMM packet's offset";
	// Reported only once the device was reset: a job submitted now runs on
	// the reset device, never into the reset.
	other.ExpectWorks();
	std::string dump;
	ExpectOneReset("engine-error", &dump);
	EXPECT_NE(dump.find("guilty: queue "), std::string::npos) << "the failing job is named:\n"
								  << dump;
	std::string st = ctl_->Status(serial_);
	EXPECT_EQ(StatusField(st, "armed"), "none") << "the fault never hit: " << st;
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	EXPECT_FLOAT_EQ(gemm.Y(100, 99), gemm.Expected(100, 99));
	s->ExpectWorks();
}

TEST_F(Recovery, JobsBehindAnEngineErrorAreAbortedNotLost)
{
	GemmOperands gemm(*s, 128);
	ASSERT_EQ(ctl_->Inject(serial_, "corrupt-engine"), "ok");
	uint64_t failing = gemm.Submit();
	uint64_t behind = SubmitFill(*s, 0x9f9f);
	WaitResult r = s->Wait(failing, 20000);
	ASSERT_EQ(r.err, 0);
	WaitResult b = s->Wait(behind, 20000);
	ASSERT_EQ(b.err, 0) << "the job behind the failing one was lost";
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ENGINE_ERROR);
	// On the device at the reset (ABORTED), or queued in the scheduler
	// until the restart (OK); never blamed.
	EXPECT_TRUE(b.args.job_status == DRM_NPU_JOB_STATUS_ABORTED ||
		    b.args.job_status == DRM_NPU_JOB_STATUS_OK)
		<< JobStatusName(b.args.job_status);
	ExpectOneReset("engine-error");
	s->ExpectWorks();
}

TEST_F(Recovery, RepeatedFaultsAreEachRecovered)
{
	for (int i = 0; i < 3; i++) {
		SCOPED_TRACE(i);
		ASSERT_EQ(ctl_->Inject(serial_, "crash-firmware"), "ok");
		ExpectOneReset("firmware-halted");
		resets_ = ResetCount();
		s->ExpectWorks();
	}
}

bool WriteFile(const std::string &path, const std::string &text)
{
	std::ofstream out(path);
	out << text;
	out.flush();
	return out.good();
}

// The PCI command register's bus-master bit: whether the device may reach
// memory (and raise MSI-X).
bool BusMaster(const std::string &sysfs_pci)
{
	std::ifstream config(sysfs_pci + "/config", std::ios::binary);
	config.seekg(4);
	uint8_t command = 0;
	config.read(reinterpret_cast<char *>(&command), 1);
	EXPECT_TRUE(config.good()) << sysfs_pci << "/config";
	return command & 0x4;
}

// A recovery whose boot fails takes the device off the bus before its jobs
// fail (their memory may then be freed), fails later jobs at once, and a
// later retry boots the device again.
TEST_F(Recovery, AFailedRecoveryStopsTheDeviceUntilARetryBootsIt)
{
	const std::string retry_param = "/sys/module/npu/parameters/dead_retry_ms";
	const uint64_t retry_ms = ReadSysfsNumber(retry_param);
	ASSERT_TRUE(WriteFile(retry_param, "3000")) << "slow retries, to look at the dead device";
	ASSERT_TRUE(BusMaster(node_.sysfs_pci));

	Bo mem(s->dev(), kPageSize);
	Commands stuck;
	stuck.WaitMem(mem.addr(), 0x55);
	uint64_t seqno = s->Submit(stuck, UsingBos({mem.handle()}));
	usleep(200000);
	ASSERT_EQ(ctl_->Inject(serial_, "fail-boot"), "ok");
	ASSERT_EQ(ctl_->Inject(serial_, "crash-firmware"), "ok");

	auto failed = uevents_.WaitReset(node_.pci_bdf, 15000);
	ASSERT_TRUE(failed) << "no NPU_RESET uevent";
	EXPECT_NE(std::find(failed->begin(), failed->end(), "NPU_RESET_RESULT=failed"),
		  failed->end());
	EXPECT_FALSE(BusMaster(node_.sysfs_pci)) << "a dead device may still reach memory";
	WaitResult r = s->Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_ABORTED);
	EXPECT_JOB_STATUS(s->WaitStatus(SubmitFill(*s, 0x1234)), DRM_NPU_JOB_STATUS_ABORTED)
		<< "a dead device ran a job";

	auto retried = uevents_.WaitReset(node_.pci_bdf, 15000);
	ASSERT_TRUE(retried) << "the dead device was never booted again";
	EXPECT_NE(std::find(retried->begin(), retried->end(), "NPU_RESET_REASON=retry"),
		  retried->end());
	EXPECT_NE(std::find(retried->begin(), retried->end(), "NPU_RESET_RESULT=recovered"),
		  retried->end());
	EXPECT_TRUE(BusMaster(node_.sysfs_pci));
	EXPECT_TRUE(WriteFile(retry_param, std::to_string(retry_ms)));
	FreeDevcoredumps(node_.sysfs_pci);
	s->ExpectWorks();

	// The device autosuspended while dead; the job above resumed it, and
	// the PCI core restored the config space it saved then. Bus mastering
	// stays on, so MSI-X messages arrive: the raw round trip, which has no
	// polling fallback (unlike jobs, which the watchdog completes), is
	// answered with its interrupt.
	EXPECT_TRUE(BusMaster(node_.sysfs_pci)) << "a runtime resume undid the retry";
	std::ifstream ping("/sys/kernel/debug/npu/" + node_.pci_bdf + "/ping");
	std::string line;
	EXPECT_TRUE(std::getline(ping, line)) << "ping: " << std::strerror(errno);
	EXPECT_EQ(line.rfind("rounds 200 ", 0), 0u) << line;
}

} // namespace
} // namespace npu_test
