// SPDX-License-Identifier: MIT
// The real firmware image on the emulated device, driven the way the
// kernel driver drives it: boot, queues, packets, faults, reset.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "drm/npu_accel.h"
#include "fake_host.h"

namespace npu::emu::test
{
namespace
{

constexpr std::uint64_t kDataVa = 0x100000;
constexpr std::uint64_t kReadOnlyVa = 0x200000;

class Firmware : public ::testing::Test
{
protected:
	void SetUp() override
	{
		image_ = real_firmware();
		ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY})
			<< "boot_status " << host_.regs()->boot_status;
		host_.setup_queue(0);
		ctx_ = host_.new_context();
		host_.map(ctx_, kDataVa, 4 * NPU_PAGE_SIZE, true);
		host_.map(ctx_, kReadOnlyVa, NPU_PAGE_SIZE, false);
	}

	npu_job_desc run(const std::vector<std::uint32_t> &cmd, unsigned q = 0)
	{
		std::uint64_t seqno = host_.submit(q, ctx_, cmd);
		EXPECT_TRUE(host_.wait_done(q, seqno)) << "job " << seqno << " not done";
		return host_.descriptor(q, seqno);
	}

	FakeHost host_;
	std::vector<std::uint8_t> image_;
	Context ctx_;
};

TEST_F(Firmware, BootReportsVersionAndAbi)
{
	auto *hdr = reinterpret_cast<const npu_fw_header *>(image_.data());
	EXPECT_EQ(host_.regs()->fw_version, hdr->fw_version);
	EXPECT_EQ(host_.regs()->fw_abi, std::uint32_t{NPU_FW_ABI_MAJOR << 16 | NPU_FW_ABI_MINOR});
	EXPECT_EQ(host_.regs()->boot_status, std::uint32_t{NPU_BOOT_OK});
	EXPECT_EQ(host_.irq_count(NPU_IRQ_CTRL), 1u);
}

TEST_F(Firmware, HeartbeatAdvances)
{
	std::uint32_t first = shared_load<std::uint32_t>(&host_.regs()->heartbeat);
	EXPECT_TRUE(host_.wait_for(
		[&] { return shared_load<std::uint32_t>(&host_.regs()->heartbeat) >= first + 2; }));
}

TEST_F(Firmware, NopJobCompletes)
{
	npu_job_desc d = run(pkt_nop() + pkt_nop(4));
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(shared_load<std::uint64_t>(&host_.queue(0)->done_seqno), d.seqno);
	EXPECT_EQ(shared_load<std::uint32_t>(&host_.queue(0)->head), 1u);
	EXPECT_EQ(shared_load<std::uint64_t>(&host_.regs()->jobs_done), 1u);
	EXPECT_GE(host_.irq_count(NPU_IRQ_JOB), 1u);
}

TEST_F(Firmware, FillAndCopyAcrossPages)
{
	npu_job_desc d = run(pkt_fill(kDataVa + 0xff0, 0x20, 0xcafef00d) +
			     pkt_copy(kDataVa + 0xff0, kDataVa + 0x2ff8, 0x20));
	ASSERT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	for (unsigned i = 0; i < 0x20; i += 4) {
		EXPECT_EQ(static_cast<std::uint32_t>(host_.read_u64(ctx_, kDataVa + 0xff0 + i)),
			  0xcafef00du);
		EXPECT_EQ(static_cast<std::uint32_t>(host_.read_u64(ctx_, kDataVa + 0x2ff8 + i)),
			  0xcafef00du);
	}
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0xfe8), 0u);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x3018), 0u);
}

TEST_F(Firmware, CopyPreservesData)
{
	std::vector<std::uint8_t> data(5000);
	for (std::size_t i = 0; i < data.size(); i++)
		data[i] = static_cast<std::uint8_t>(i * 31 + 7);
	host_.write_va(ctx_, kDataVa + 3, data.data(), data.size());
	ASSERT_EQ(run(pkt_copy(kDataVa + 3, kDataVa + 0x2000 + 5, data.size())).status,
		  std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	std::vector<std::uint8_t> out(data.size());
	host_.read_va(ctx_, kDataVa + 0x2000 + 5, out.data(), out.size());
	EXPECT_EQ(out, data);
}

TEST_F(Firmware, TimestampsIncrease)
{
	ASSERT_EQ(run(pkt_timestamp(kDataVa) + pkt_fill(kDataVa + 0x100, 0x1000, 1) +
		      pkt_timestamp(kDataVa + 8))
			  .status,
		  std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	std::uint64_t t0 = host_.read_u64(ctx_, kDataVa);
	std::uint64_t t1 = host_.read_u64(ctx_, kDataVa + 8);
	EXPECT_GT(t0, 0u);
	EXPECT_GT(t1, t0);
}

TEST_F(Firmware, FenceWritesValueAndInterrupts)
{
	unsigned irqs = host_.irq_count(NPU_IRQ_JOB);
	npu_job_desc d = run(pkt_fence(kDataVa + 0x40, 0x1122334455667788ull) + pkt_nop());
	ASSERT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x40), 0x1122334455667788ull);
	EXPECT_GE(host_.irq_count(NPU_IRQ_JOB), irqs + 2); // fence + completion
}

TEST_F(Firmware, WaitMemStallsUntilHostWrites)
{
	std::uint64_t seqno = host_.submit(
		0, ctx_, pkt_wait_mem(kDataVa + 0x80, 42) + pkt_fill(kDataVa + 0x88, 8, 0x77));
	EXPECT_FALSE(host_.wait_done(0, seqno, 100ms));
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x88), 0u);
	host_.write_u64(ctx_, kDataVa + 0x80, 42);
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x88), 0x0000007700000077ull);
}

// Firmware ABI 1.4: NPU_DB_PING is answered with ping_ack = ping_req and one
// NPU_IRQ_PING, even while a job waits on the device, which goes on
// waiting undisturbed.
TEST_F(Firmware, PingIsAnsweredWithAnInterruptAndNothingElse)
{
	std::uint64_t seqno = host_.submit(
		0, ctx_, pkt_wait_mem(kDataVa + 0x80, 42) + pkt_fill(kDataVa + 0x88, 8, 0x77));
	EXPECT_FALSE(host_.wait_done(0, seqno, 100ms));
	for (std::uint64_t round = 1; round <= 3; round++) {
		const unsigned irqs = host_.irq_count(NPU_IRQ_PING);
		shared_store<std::uint64_t>(&host_.regs()->ping_req, round);
		host_.device().doorbell(NPU_DB_PING);
		ASSERT_TRUE(host_.wait_for([&] { return host_.irq_count(NPU_IRQ_PING) > irqs; }))
			<< "round " << round;
		EXPECT_EQ(shared_load<std::uint64_t>(&host_.regs()->ping_ack), round);
	}
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x88), 0u) << "the waiting job ran on";
	host_.write_u64(ctx_, kDataVa + 0x80, 42);
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

// Firmware ABI 1.4: a ping changes nothing but its answer (ping_ack,
// ping_ns and one NPU_IRQ_PING each): every other register of the device
// and of a queue that ran a job stays as it was, and no other interrupt
// is raised. The device clock in ping_ns moves forward.
TEST_F(Firmware, PingChangesNothingButItsAnswer)
{
	ASSERT_EQ(run(pkt_fill(kDataVa, 8, 0x11)).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	// The sensors and the heartbeat move on their own.
	auto snapshot = [&](npu_regs *r, npu_queue_regs *q) {
		// shared_copy: the device's threads write these while we read
		shared_copy(reinterpret_cast<std::uint8_t *>(r),
			    reinterpret_cast<const std::uint8_t *>(host_.regs()), sizeof(*r));
		shared_copy(reinterpret_cast<std::uint8_t *>(q),
			    reinterpret_cast<const std::uint8_t *>(host_.queue(0)), sizeof(*q));
		r->heartbeat = r->temp_mc = r->power_mw = 0;
		r->ping_req = r->ping_ack = r->ping_ns = 0;
	};
	npu_regs before{}, after{};
	npu_queue_regs qbefore{}, qafter{};
	snapshot(&before, &qbefore);
	const unsigned ctrl = host_.irq_count(NPU_IRQ_CTRL), job = host_.irq_count(NPU_IRQ_JOB);
	std::uint64_t last_ns = 0;
	for (std::uint64_t round = 1; round <= 3; round++) {
		const unsigned pings = host_.irq_count(NPU_IRQ_PING);
		shared_store<std::uint64_t>(&host_.regs()->ping_req, round);
		host_.device().doorbell(NPU_DB_PING);
		ASSERT_TRUE(host_.wait_for([&] { return host_.irq_count(NPU_IRQ_PING) > pings; }))
			<< "round " << round;
		EXPECT_EQ(host_.irq_count(NPU_IRQ_PING), pings + 1) << "round " << round;
		EXPECT_EQ(shared_load<std::uint64_t>(&host_.regs()->ping_ack), round);
		const std::uint64_t ns = shared_load<std::uint64_t>(&host_.regs()->ping_ns);
		EXPECT_GT(ns, last_ns) << "round " << round;
		last_ns = ns;
	}
	// A doorbell without a new request is not answered again.
	const unsigned pings = host_.irq_count(NPU_IRQ_PING);
	host_.device().doorbell(NPU_DB_PING);
	std::this_thread::sleep_for(50ms);
	EXPECT_EQ(host_.irq_count(NPU_IRQ_PING), pings);
	snapshot(&after, &qafter);
	EXPECT_EQ(std::memcmp(&before, &after, sizeof(before)), 0) << "a device register moved";
	EXPECT_EQ(std::memcmp(&qbefore, &qafter, sizeof(qbefore)), 0) << "a queue register moved";
	EXPECT_EQ(host_.irq_count(NPU_IRQ_CTRL), ctrl);
	EXPECT_EQ(host_.irq_count(NPU_IRQ_JOB), job);
}

// Firmware ABI 1.2: the host kills a job parked on WAIT_MEM through its
// queue's kill_seqno; it is written back with TIMEOUT without running on,
// the job behind it runs, and killing a job already done changes nothing.
TEST_F(Firmware, KilledJobIsWrittenBackWithTimeoutAndTheQueueGoesOn)
{
	npu_queue_regs *qr = host_.queue(0);
	std::uint64_t stuck = host_.submit(
		0, ctx_, pkt_wait_mem(kDataVa + 0x80, 42) + pkt_fill(kDataVa + 0x88, 8, 0x77));
	std::uint64_t behind = host_.submit(0, ctx_, pkt_fill(kDataVa + 0x90, 8, 0x55));
	EXPECT_FALSE(host_.wait_done(0, stuck, 100ms));
	shared_store(&qr->kill_seqno, stuck);
	host_.device().doorbell(NPU_DB_QUEUE);
	ASSERT_TRUE(host_.wait_for([&] {
		return shared_load<std::uint64_t>(&qr->killed_seqno) == stuck;
	})) << "the kill was never acknowledged";
	EXPECT_GE(shared_load<std::uint64_t>(&qr->done_seqno), stuck) << "acknowledged before done";
	npu_job_desc d = host_.descriptor(0, stuck);
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_TIMEOUT});
	EXPECT_EQ(d.err_offset, 0u) << "the WAIT_MEM it was parked in";
	ASSERT_TRUE(host_.wait_done(0, behind));
	EXPECT_EQ(host_.descriptor(0, behind).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x90), 0x0000005500000055ull);
	// released too late: the killed job does not run on
	host_.write_u64(ctx_, kDataVa + 0x80, 42);
	EXPECT_EQ(run(pkt_fill(kDataVa + 0x98, 8, 0x1)).status, 0u);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x88), 0u);

	shared_store(&qr->kill_seqno, behind);
	host_.device().doorbell(NPU_DB_QUEUE);
	ASSERT_TRUE(host_.wait_for(
		[&] { return shared_load<std::uint64_t>(&qr->killed_seqno) == behind; }));
	EXPECT_EQ(host_.descriptor(0, behind).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(Firmware, JobsRunInOrderOnSeveralQueues)
{
	host_.setup_queue(3);
	std::uint64_t a = host_.submit(0, ctx_, pkt_fill(kDataVa, 8, 0xa));
	std::uint64_t b = host_.submit(3, ctx_, pkt_fill(kDataVa + 8, 8, 0xb));
	std::uint64_t c = host_.submit(0, ctx_, pkt_fill(kDataVa + 16, 8, 0xc));
	ASSERT_TRUE(host_.wait_done(0, c));
	ASSERT_TRUE(host_.wait_done(3, b));
	EXPECT_EQ(host_.descriptor(0, a).status, 0u);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa), 0x0000000a0000000aull);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 8), 0x0000000b0000000bull);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 16), 0x0000000c0000000cull);
}

TEST_F(Firmware, MalformedPacketFailsJobAndQueueGoesOn)
{
	auto bad = pkt_fill(kDataVa, 8, 1);
	bad[0] = NPU_PKT_HEADER(0x7e, bad.size()); // unknown opcode
	npu_job_desc d = run(pkt_fill(kDataVa + 0x10, 8, 5) + pkt_nop() + bad +
			     pkt_fill(kDataVa + 0x20, 8, 6));
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET});
	EXPECT_EQ(d.err_offset, 6u * 4 + 2 * 4);
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x10), 0x0000000500000005ull); // ran
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x20), 0u);			// did not

	auto wrong_len = pkt_fill(kDataVa, 8, 1);
	wrong_len[0] = NPU_PKT_HEADER(NPU_OP_FILL, 4);
	EXPECT_EQ(run(wrong_len).status, std::uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET});
	auto mbz = pkt_nop();
	mbz[0] |= 1u << 8;
	EXPECT_EQ(run(mbz).status, std::uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET});

	EXPECT_EQ(run(pkt_fill(kDataVa + 0x30, 8, 9)).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 0x30), 0x0000000900000009ull);
}

TEST_F(Firmware, UnmappedAddressIsAPageFault)
{
	npu_job_desc d = run(pkt_nop() + pkt_fill(0x900000, 8, 1));
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
	EXPECT_EQ(d.fault_va, 0x900000u);
	EXPECT_EQ(d.err_offset, 8u);

	d = run(pkt_copy(0xa00000, kDataVa, 16));
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
	EXPECT_EQ(d.fault_va, 0xa00000u);
}

TEST_F(Firmware, WriteToReadOnlyPageIsAPageFault)
{
	npu_job_desc d = run(pkt_fill(kReadOnlyVa + 0x100, 8, 1));
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
	EXPECT_EQ(d.fault_va, kReadOnlyVa + 0x100);
	EXPECT_EQ(host_.read_u64(ctx_, kReadOnlyVa + 0x100), 0u);
	// reading it is fine
	EXPECT_EQ(run(pkt_copy(kReadOnlyVa, kDataVa, 8)).status,
		  std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(Firmware, ResetStopsASpinningWaitAndRebootWorks)
{
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_wait_mem(kDataVa, 1));
	std::this_thread::sleep_for(50ms);
	EXPECT_LT(shared_load<std::uint64_t>(&host_.queue(0)->done_seqno), seqno);
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(host_.regs()->fw_version, 0u);
	EXPECT_EQ(shared_load<std::uint32_t>(&host_.queue(0)->enable), 0u);

	ASSERT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
	host_.setup_queue(0);
	EXPECT_EQ(run(pkt_fill(kDataVa + 8, 8, 3)).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kDataVa + 8), 0x0000000300000003ull);
}

TEST_F(Firmware, TamperedRealImageIsRejected)
{
	ASSERT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	auto image = image_;
	image[NPU_FW_HEADER_SIZE + 100] ^= 1;
	EXPECT_EQ(host_.boot(image), std::uint32_t{NPU_STATE_BOOT_FAILED});
	EXPECT_EQ(host_.regs()->boot_status, std::uint32_t{NPU_BOOT_BAD_CHECKSUM});
	EXPECT_EQ(host_.boot(image_), std::uint32_t{NPU_STATE_READY});
}

} // namespace
} // namespace npu::emu::test
