// SPDX-License-Identifier: MIT
// User-mode queues (firmware ABI 1.4) on the emulated device with the real
// firmware: a process fills the ring and the doorbell page's tail, while
// the context and page table come from the queue registers alone.
#include <gtest/gtest.h>

#include "drm/npu_accel.h"
#include "fake_host.h"

namespace npu::emu::test
{
namespace
{

constexpr std::uint64_t kDataVa = 0x100000;
constexpr std::uint64_t kCmdVa = 0x400000;
constexpr unsigned kQueue = 3;
constexpr std::uint32_t kContextId = 5;

class UserQueue : public ::testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_EQ(host_.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
		own_ = host_.new_context();
		other_ = host_.new_context();
		host_.map(own_, kDataVa, NPU_PAGE_SIZE, true);
		host_.map(other_, kDataVa, NPU_PAGE_SIZE, true);
		ring_ = host_.alloc_page();
		npu_queue_regs *qr = host_.queue(kQueue);
		shared_store(&qr->ring_base, ring_);
		shared_store<std::uint32_t>(&qr->ring_entries, kEntries);
		shared_store<std::uint32_t>(&qr->mode, NPU_QUEUE_USER);
		shared_store<std::uint32_t>(&qr->context_id, kContextId);
		shared_store(&qr->pt_root, own_.pt_root);
		shared_store<std::uint32_t>(&qr->enable, 1);
	}

	npu_user_doorbell *doorbell() const
	{
		return reinterpret_cast<npu_user_doorbell *>(host_.bar2().base + NPU_UDB_OFFSET +
							     kQueue * NPU_UDB_STRIDE);
	}
	npu_queue_regs *regs() const { return host_.queue(kQueue); }

	// Copies cmd into a read-only buffer of ctx; returns its address.
	std::uint64_t command(Context &ctx, const std::vector<std::uint32_t> &cmd)
	{
		std::uint64_t va = next_cmd_va_;
		next_cmd_va_ += 2 * NPU_PAGE_SIZE;
		host_.map(ctx, va, cmd.size() * 4, false);
		host_.write_va(ctx, va, cmd.data(), cmd.size() * 4);
		return va;
	}

	// What a process does: descriptor, tail, doorbell.
	void write_job(const npu_job_desc &desc)
	{
		std::uint64_t addr = ring_ + (tail_ % kEntries) * sizeof(desc);
		shared_copy(host_.ram().base + addr, reinterpret_cast<const std::uint8_t *>(&desc),
			    sizeof(desc));
		tail_++;
		shared_store(&doorbell()->tail, tail_);
		host_.device().doorbell(NPU_DB_QUEUE);
	}

	npu_job_desc job(std::uint64_t cmd_va, std::uint32_t cmd_size)
	{
		npu_job_desc desc{};
		desc.cmd_va = cmd_va;
		desc.cmd_size = cmd_size;
		return desc;
	}

	bool wait_done(std::uint64_t seqno)
	{
		return host_.wait_for([&] {
			return shared_load<std::uint64_t>(&doorbell()->done_seqno) >= seqno;
		});
	}

	npu_job_desc written_back(std::uint32_t index) const
	{
		npu_job_desc desc;
		shared_copy(reinterpret_cast<std::uint8_t *>(&desc),
			    host_.ram().base + ring_ + (index % kEntries) * sizeof(desc),
			    sizeof(desc));
		return desc;
	}

	static constexpr std::uint32_t kEntries = 8;
	FakeHost host_;
	Context own_;
	Context other_;
	std::uint64_t ring_ = 0;
	std::uint32_t tail_ = 0;
	std::uint64_t next_cmd_va_ = kCmdVa;
};

TEST_F(UserQueue, JobRunsInTheQueuesContextWhateverItsDescriptorSays)
{
	std::vector<std::uint32_t> fill = pkt_fill(kDataVa, 64, 0x5a5a5a5a);
	npu_job_desc desc = job(command(own_, fill), static_cast<std::uint32_t>(fill.size() * 4));
	desc.seqno = 1234;
	desc.context_id = 99;
	desc.pt_root = other_.pt_root;
	write_job(desc);
	ASSERT_TRUE(wait_done(1));

	EXPECT_EQ(static_cast<std::uint32_t>(host_.read_u64(own_, kDataVa)), 0x5a5a5a5au);
	EXPECT_EQ(host_.read_u64(other_, kDataVa), 0u) << "the forged page table was used";
	npu_job_desc back = written_back(0);
	EXPECT_EQ(back.status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(back.seqno, 1u);
	EXPECT_EQ(back.context_id, kContextId);
	EXPECT_EQ(back.pt_root, 0u) << "a page-table address reached the process";
	EXPECT_EQ(shared_load<std::uint64_t>(&regs()->done_seqno), 1u);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->head), 1u);
	EXPECT_EQ(shared_load<std::uint32_t>(&doorbell()->head), 1u);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->failed), 0u);
	EXPECT_GE(host_.irq_count(NPU_IRQ_JOB), 1u);
}

TEST_F(UserQueue, KernelTailIsIgnored)
{
	std::vector<std::uint32_t> nop = pkt_nop();
	npu_job_desc desc = job(command(own_, nop), 8);
	std::uint64_t addr = ring_;
	shared_copy(host_.ram().base + addr, reinterpret_cast<const std::uint8_t *>(&desc),
		    sizeof(desc));
	shared_store<std::uint32_t>(&regs()->tail, 1);
	host_.device().doorbell(NPU_DB_QUEUE);
	EXPECT_FALSE(host_.wait_for(
		[&] { return shared_load<std::uint64_t>(&regs()->done_seqno) != 0; }, 200ms));
}

TEST_F(UserQueue, AnotherContextsCommandsFaultAndTheQueueGoesOn)
{
	std::vector<std::uint32_t> fill = pkt_fill(kDataVa, 8, 1);
	std::uint64_t foreign = command(other_, fill);
	write_job(job(foreign, static_cast<std::uint32_t>(fill.size() * 4)));
	ASSERT_TRUE(wait_done(1));
	npu_job_desc back = written_back(0);
	EXPECT_EQ(back.status, std::uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
	EXPECT_EQ(back.fault_va, foreign);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->failed), 1u);

	std::vector<std::uint32_t> nop = pkt_nop();
	write_job(job(command(own_, nop), 8));
	ASSERT_TRUE(wait_done(2));
	EXPECT_EQ(written_back(1).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(written_back(1).seqno, 2u);
}

TEST_F(UserQueue, MalformedDescriptorsFailAlone)
{
	std::vector<std::uint32_t> nop = pkt_nop();
	std::uint64_t cmd = command(own_, nop);
	npu_job_desc zero = job(cmd, 0);
	npu_job_desc unaligned = job(cmd, 12);
	npu_job_desc huge = job(cmd, NPU_JOB_CMD_MAX_SIZE + 8);
	npu_job_desc flags = job(cmd, 8);
	flags.flags = 1;
	npu_job_desc reserved = job(cmd, 8);
	reserved.reserved = 1;
	for (const npu_job_desc &d : {zero, unaligned, huge, flags, reserved})
		write_job(d);
	write_job(job(cmd, 8));
	ASSERT_TRUE(wait_done(6));
	for (std::uint32_t i = 0; i < 5; i++)
		EXPECT_EQ(written_back(i).status, std::uint32_t{DRM_NPU_JOB_STATUS_BAD_PACKET})
			<< "descriptor " << i;
	EXPECT_EQ(written_back(5).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->failed), 5u);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->error), std::uint32_t{NPU_QUEUE_ERR_NONE});
}

TEST_F(UserQueue, TailBeyondTheRingStopsTheQueueAndSaysWhy)
{
	unsigned irqs = host_.irq_count(NPU_IRQ_JOB);
	shared_store<std::uint32_t>(&doorbell()->tail, kEntries + 1);
	host_.device().doorbell(NPU_DB_QUEUE);
	ASSERT_TRUE(host_.wait_for(
		[&] { return shared_load<std::uint32_t>(&regs()->error) == NPU_QUEUE_ERR_TAIL; }));
	EXPECT_EQ(shared_load<std::uint32_t>(&doorbell()->error),
		  std::uint32_t{NPU_QUEUE_ERR_TAIL});
	EXPECT_GT(host_.irq_count(NPU_IRQ_JOB), irqs);
	EXPECT_EQ(shared_load<std::uint64_t>(&regs()->done_seqno), 0u) << "ran a descriptor anyway";
}

TEST_F(UserQueue, ServedFollowsEnableOnceNothingOfTheQueueIsLeft)
{
	ASSERT_TRUE(
		host_.wait_for([&] { return shared_load<std::uint32_t>(&regs()->served) == 1; }));
	// a job parked on WAIT_MEM is held by the firmware until the queue is off
	std::vector<std::uint32_t> wait = pkt_wait_mem(kDataVa, 1);
	write_job(job(command(own_, wait), static_cast<std::uint32_t>(wait.size() * 4)));
	ASSERT_TRUE(host_.wait_for([&] {
		return shared_load<std::uint64_t>(&host_.regs()->running_seqno) == 0 &&
		       shared_load<std::uint64_t>(&regs()->pickup_ns) != 0;
	}));
	EXPECT_EQ(shared_load<std::uint32_t>(&regs()->served), 1u);
	shared_store<std::uint32_t>(&regs()->enable, 0);
	host_.device().doorbell(NPU_DB_QUEUE);
	ASSERT_TRUE(
		host_.wait_for([&] { return shared_load<std::uint32_t>(&regs()->served) == 0; }));
	EXPECT_EQ(shared_load<std::uint64_t>(&regs()->done_seqno), 0u);
}

TEST_F(UserQueue, HostKillsAHungJobAndTheQueueGoesOn)
{
	std::vector<std::uint32_t> wait = pkt_wait_mem(kDataVa, 1);
	write_job(job(command(own_, wait), static_cast<std::uint32_t>(wait.size() * 4)));
	ASSERT_TRUE(host_.wait_for(
		[&] { return shared_load<std::uint64_t>(&regs()->pickup_ns) != 0; }));
	shared_store<std::uint64_t>(&regs()->kill_seqno, 1);
	host_.device().doorbell(NPU_DB_QUEUE);
	ASSERT_TRUE(host_.wait_for(
		[&] { return shared_load<std::uint64_t>(&regs()->killed_seqno) == 1; }));
	EXPECT_EQ(written_back(0).status, std::uint32_t{DRM_NPU_JOB_STATUS_TIMEOUT});

	std::vector<std::uint32_t> nop = pkt_nop();
	write_job(job(command(own_, nop), 8));
	ASSERT_TRUE(wait_done(2));
	EXPECT_EQ(written_back(1).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(UserQueue, PickupAndCompletionAreTimestamped)
{
	std::vector<std::uint32_t> nop = pkt_nop();
	write_job(job(command(own_, nop), 8));
	ASSERT_TRUE(wait_done(1));
	std::uint64_t pickup = shared_load<std::uint64_t>(&regs()->pickup_ns);
	std::uint64_t complete = shared_load<std::uint64_t>(&regs()->complete_ns);
	EXPECT_NE(pickup, 0u);
	EXPECT_LE(pickup, complete);
}

} // namespace
} // namespace npu::emu::test
