// SPDX-License-Identifier: MIT
// Fault injection on the emulated device with the real firmware: each
// fault shows up the way the driver will see it, and a reset clears it.
#include <gtest/gtest.h>

#include <thread>

#include "drm/npu_accel.h"
#include "fake_host.h"
#include "npu_control.h"
#include "npu_fault.h"

namespace npu::emu::test
{
namespace
{

class FaultInjection : public ::testing::Test
{
protected:
	void SetUp() override
	{
		image_ = real_firmware();
		ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
		host_.setup_queue(0);
		ctx_ = host_.new_context();
	}

	std::uint32_t heartbeat() const
	{
		return shared_load<std::uint32_t>(&host_.regs()->heartbeat);
	}
	std::uint64_t done_seqno() const
	{
		return shared_load<std::uint64_t>(&host_.queue(0)->done_seqno);
	}
	std::string inject(const std::string &what)
	{
		return control_command({&host_.device()}, "inject npu-test " + what);
	}
	// After a reset the device boots again and serves a job.
	void expect_usable_after_reset()
	{
		ASSERT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
		ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
		host_.setup_queue(0);
		std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
		ASSERT_TRUE(host_.wait_done(0, seqno));
		EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	}

	FakeHost host_;
	std::vector<std::uint8_t> image_;
	Context ctx_;
};

TEST_F(FaultInjection, HangEngineStallsTheJobAndTheCoreUntilReset)
{
	ASSERT_EQ(inject("hang-engine"), "ok\n");
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	EXPECT_FALSE(host_.wait_done(0, seqno, 300ms));
	std::uint32_t hb = heartbeat();
	std::this_thread::sleep_for(100ms); // 5 heartbeat periods
	EXPECT_EQ(heartbeat(), hb) << "a hung core cannot beat";
	EXPECT_NE(host_.device().status().find("hits=1"), std::string::npos);
	expect_usable_after_reset();
}

TEST_F(FaultInjection, CrashFirmwareHaltsTheCore)
{
	unsigned ctrl = host_.irq_count(NPU_IRQ_CTRL);
	ASSERT_EQ(inject("crash-firmware"), "ok\n");
	EXPECT_TRUE(host_.wait_for([&] { return host_.state() == NPU_STATE_HALTED; }));
	EXPECT_GT(host_.irq_count(NPU_IRQ_CTRL), ctrl);
	EXPECT_EQ(inject("crash-firmware"), "error firmware not running\n");
	expect_usable_after_reset();
}

TEST_F(FaultInjection, CorruptCompletionWritesAnImpossibleStatus)
{
	ASSERT_EQ(inject("corrupt-completion"), "ok\n");
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, kCorruptStatus);
	// one shot: the next job is fine
	std::uint64_t next = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, next));
	EXPECT_EQ(host_.descriptor(0, next).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(FaultInjection, CorruptCompletionSeqnoJumpsPastEverySubmittedJob)
{
	ASSERT_EQ(inject("corrupt-completion seqno"), "ok\n");
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(done_seqno(), seqno + kCorruptSeqnoJump);
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(FaultInjection, DropInterruptCompletesTheJobSilently)
{
	ASSERT_EQ(inject("drop-interrupt"), "ok\n");
	unsigned irqs = host_.irq_count(NPU_IRQ_JOB);
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno)); // polls like a watchdog would
	std::this_thread::sleep_for(50ms);
	EXPECT_EQ(host_.irq_count(NPU_IRQ_JOB), irqs);
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	// the next one interrupts again
	seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_TRUE(host_.wait_for([&] { return host_.irq_count(NPU_IRQ_JOB) > irqs; }));
}

TEST_F(FaultInjection, StopHeartbeatFreezesItWhileJobsStillRun)
{
	ASSERT_EQ(inject("stop-heartbeat"), "ok\n");
	std::this_thread::sleep_for(50ms);
	std::uint32_t hb = heartbeat();
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	std::this_thread::sleep_for(200ms); // 10 periods
	EXPECT_EQ(heartbeat(), hb);
	expect_usable_after_reset();
	hb = heartbeat();
	EXPECT_TRUE(host_.wait_for([&] { return heartbeat() >= hb + 2; }));
}

TEST_F(FaultInjection, ArmedFaultSurvivesAResetUntilItHits)
{
	ASSERT_EQ(inject("corrupt-completion status"), "ok\n");
	EXPECT_NE(host_.device().status().find("armed=corrupt-completion-status"),
		  std::string::npos);
	ASSERT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
	host_.setup_queue(0);
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, kCorruptStatus);
	EXPECT_NE(host_.device().status().find("armed=none"), std::string::npos);
}

// The driver's failed recovery and its retry (Recovery.AFailedRecovery* in
// the VM): a crash, a boot that fails, a reset and a boot that works. The
// firmware booted last raises its interrupts again: a job's and a ping's.
TEST_F(FaultInjection, InterruptsWorkAfterAFailedBootAndARetry)
{
	ASSERT_EQ(inject("fail-boot"), "ok\n");
	ASSERT_EQ(inject("crash-firmware"), "ok\n");
	ASSERT_TRUE(host_.wait_for([&] { return host_.state() == NPU_STATE_HALTED; }));
	ASSERT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_HALTED}) << "fail-boot did not hit";
	ASSERT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
	host_.setup_queue(0);
	const unsigned jobs = host_.irq_count(NPU_IRQ_JOB);
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_TRUE(host_.wait_for([&] { return host_.irq_count(NPU_IRQ_JOB) > jobs; }))
		<< "no JOB interrupt";
	const unsigned pings = host_.irq_count(NPU_IRQ_PING);
	shared_store<std::uint64_t>(&host_.regs()->ping_req, 1);
	host_.device().doorbell(NPU_DB_PING);
	EXPECT_TRUE(host_.wait_for([&] { return host_.irq_count(NPU_IRQ_PING) > pings; }))
		<< "no PING interrupt";
	EXPECT_EQ(shared_load<std::uint64_t>(&host_.regs()->ping_ack), 1u);
}

TEST_F(FaultInjection, ControlCommandsRejectNonsense)
{
	std::vector<NpuDevice *> devs{&host_.device()};
	EXPECT_EQ(control_command(devs, "inject npu-test melt"), "error unknown fault 'melt'\n");
	EXPECT_EQ(control_command(devs, "inject npu-test hang-engine now"),
		  "error unknown fault 'hang-engine now'\n");
	EXPECT_EQ(control_command(devs, "inject npu-test corrupt-completion bits"),
		  "error unknown fault 'corrupt-completion bits'\n");
	EXPECT_EQ(control_command(devs, "inject npu7 hang-engine"), "error no device npu7\n");
	EXPECT_EQ(control_command(devs, "inject npu-test"),
		  "error usage: inject DEVICE FAULT [ARG]\n");
	EXPECT_EQ(control_command(devs, "reboot"), "error unknown command 'reboot'\n");
	EXPECT_EQ(control_command(devs, ""), "error empty command\n");
	EXPECT_EQ(host_.device().status().find("armed=none") != std::string::npos, true);
}

TEST_F(FaultInjection, DevicesAreFoundBySerial)
{
	std::vector<NpuDevice *> devs{&host_.device()};
	std::string reply = control_command(devs, "status 0x5e5a1");
	EXPECT_EQ(reply.rfind("npu-test serial=0x5e5a1 state=READY", 0), 0u) << reply;
	EXPECT_NE(reply.find("\nok\n"), std::string::npos);
	EXPECT_EQ(control_command(devs, "inject 0x5e5a1 drop-interrupt"), "ok\n");
	EXPECT_EQ(control_command(devs, "status 0x1234"), "error no device 0x1234\n");
}

} // namespace
} // namespace npu::emu::test
