// Job failures are reported, not hung: malformed packets (BAD_PACKET with the
// packet's offset), faults (PAGE_FAULT with the address), read-only BOs, and
// isolation between contexts. The device keeps working after each.
#include <algorithm>

#include "npu_test.h"

namespace npu_test
{
namespace
{

class JobFaults : public NpuTest
{
protected:
	// Runs cmds (prefixed by nothing) and checks the reported failure.
	WaitResult RunFailing(const Commands &cmds, const std::vector<uint32_t> &bos = {})
	{
		uint64_t seqno = s->Submit(cmds, UsingBos(bos));
		WaitResult r = s->Wait(seqno, 5000);
		EXPECT_EQ(r.err, 0) << "WAIT on a failing job";
		return r;
	}

	void ExpectBadPacketAt(const Commands &cmds, uint32_t offset)
	{
		WaitResult r = RunFailing(cmds);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
		EXPECT_EQ(r.args.err_offset, offset);
		s->ExpectWorks();
	}

	// An address no BO of this session's context covers: above all of them.
	uint64_t UnmappedAddr(std::initializer_list<const Bo *> bos)
	{
		uint64_t top = std::max(s->cmd_bo().addr() + s->cmd_bo().size(),
					s->scratch().addr() + s->scratch().size());
		for (const Bo *bo : bos)
			top = std::max(top, bo->addr() + bo->size());
		return (top + (64ull << 20)) & ~(kPageSize - 1);
	}
};

TEST_F(JobFaults, UnknownOpcode)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Nop();
	cmds.Fill(out.addr(), 0x77, 8);
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	cmds.Fence(out.addr() + 8, 1);
	WaitResult r = RunFailing(cmds, {out.handle()});
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
	EXPECT_EQ(r.args.err_offset, bad);
	EXPECT_EQ(out.ReadU32(0), 0x77u) << "packets before the bad one must have run";
	EXPECT_EQ(out.ReadU64(8), 0u) << "a packet after the bad one ran";
	s->ExpectWorks();
}

TEST_F(JobFaults, OpcodeJustPastTheLast)
{
	Commands cmds;
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(NPU_OP_DATA_LAST + 1, 2), {0});
	ExpectBadPacketAt(cmds, bad);
}

TEST_F(JobFaults, WrongLengthForOpcode)
{
	Bo out(s->dev(), kPageSize);
	Commands too_short;
	too_short.Nop();
	uint32_t bad = too_short.Raw(NPU_PKT_HEADER(NPU_OP_FILL, 4),
				     {0x1, uint32_t(out.addr()), uint32_t(out.addr() >> 32)});
	ExpectBadPacketAt(too_short, bad);

	Commands too_long;
	bad = too_long.Raw(NPU_PKT_HEADER(NPU_OP_TIMESTAMP, 6),
			   {0, uint32_t(out.addr()), uint32_t(out.addr() >> 32), 0, 0});
	ExpectBadPacketAt(too_long, bad);
	EXPECT_EQ(out.ReadU64(0), 0u) << "a malformed TIMESTAMP wrote memory";
}

TEST_F(JobFaults, ZeroOrOddLength)
{
	Commands zero;
	zero.Nop();
	uint32_t bad = zero.Raw(NPU_PKT_HEADER(NPU_OP_NOP, 0), {0});
	ExpectBadPacketAt(zero, bad);

	Commands odd;
	bad = odd.Raw(NPU_PKT_HEADER(NPU_OP_NOP, 3), {0, 0, 0}); // padded to 8 bytes
	ExpectBadPacketAt(odd, bad);
}

TEST_F(JobFaults, LengthRunsPastTheBuffer)
{
	Commands cmds;
	cmds.Nop();
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(NPU_OP_NOP, 4), {0}); // claims 16, has 8
	ExpectBadPacketAt(cmds, bad);
}

TEST_F(JobFaults, MbzFieldSet)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Nop();
	cmds.Nop();
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(NPU_OP_FENCE, NPU_PKT_FENCE_DWORDS) | 1u << 8,
				{0, uint32_t(out.addr()), uint32_t(out.addr() >> 32), 5, 0});
	ExpectBadPacketAt(cmds, bad);
	EXPECT_EQ(out.ReadU64(0), 0u);
}

TEST_F(JobFaults, CopyFromUnmappedAddress)
{
	Bo dst(s->dev(), kPageSize);
	uint64_t hole = UnmappedAddr({&dst});
	Commands cmds;
	uint32_t at = cmds.Copy(hole, dst.addr(), 256);
	WaitResult r = RunFailing(cmds, {dst.handle()});
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, hole) << std::hex << "fault_addr 0x" << r.args.fault_addr;
	EXPECT_EQ(r.args.err_offset, at);
	s->ExpectWorks();
}

TEST_F(JobFaults, FaultingContextIsMarked)
{
	Session other;
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS), 0u);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_LAST_FAULT), 0u);

	Bo dst(s->dev(), kPageSize);
	uint64_t hole = UnmappedAddr({&dst});
	for (uint64_t n = 1; n <= 2; n++) {
		Commands cmds;
		cmds.Copy(hole + n * 0x100, dst.addr(), 64);
		WaitResult r = RunFailing(cmds, {dst.handle()});
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
		EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS), n);
		EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_LAST_FAULT), hole + n * 0x100);
	}
	// A bad packet is a failure but not a fault; other contexts stay clean.
	Commands bad;
	bad.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	RunFailing(bad);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS), 2u);
	EXPECT_EQ(other.dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS), 0u);
	other.ExpectWorks();
	s->ExpectWorks();
}

TEST_F(JobFaults, CopyToUnmappedAddress)
{
	Bo src(s->dev(), kPageSize);
	uint64_t hole = UnmappedAddr({&src}) + 0x40;
	Commands cmds;
	cmds.Nop();
	uint32_t at = cmds.Copy(src.addr(), hole, 64);
	WaitResult r = RunFailing(cmds, {src.handle()});
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, hole) << std::hex << "fault_addr 0x" << r.args.fault_addr;
	EXPECT_EQ(r.args.err_offset, at);
	s->ExpectWorks();
}

TEST_F(JobFaults, CopyRunningOffTheEndOfABo)
{
	Bo src(s->dev(), 2 * kPageSize);
	Bo dst(s->dev(), 8 * kPageSize);
	uint64_t end = src.addr() + src.size();
	bool next_page_free = dst.addr() != end;
	if (!next_page_free)
		GTEST_SKIP() << "dst directly follows src: no hole to run into";
	Commands cmds;
	cmds.Copy(src.addr() + kPageSize, dst.addr(), 2 * kPageSize);
	WaitResult r = RunFailing(cmds, {src.handle(), dst.handle()});
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr & ~(kPageSize - 1), end)
		<< std::hex << "fault_addr 0x" << r.args.fault_addr;
	s->ExpectWorks();
}

TEST_F(JobFaults, FillToUnmappedAddress)
{
	uint64_t hole = UnmappedAddr({});
	Commands cmds;
	uint32_t at = cmds.Fill(hole + 8, 1, 16);
	WaitResult r = RunFailing(cmds);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, hole + 8);
	EXPECT_EQ(r.args.err_offset, at);
	s->ExpectWorks();
}

TEST_F(JobFaults, WritesToReadOnlyBoFault)
{
	Bo ro(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo rw(s->dev(), kPageSize);
	rw.WriteU64(0, 0x5555);
	const auto check = [&](Commands cmds, uint64_t target) {
		WaitResult r = RunFailing(cmds, {ro.handle(), rw.handle()});
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
		EXPECT_EQ(r.args.fault_addr, target)
			<< std::hex << "fault_addr 0x" << r.args.fault_addr;
		EXPECT_EQ(ro.ReadU64(0) | ro.ReadU64(128), 0u) << "the device wrote a read-only BO";
		s->ExpectWorks();
	};
	Commands fill;
	fill.Fill(ro.addr() + 128, 0xffffffff, 8);
	check(fill, ro.addr() + 128);
	Commands copy;
	copy.Copy(rw.addr(), ro.addr(), 8);
	check(copy, ro.addr());
	Commands ts;
	ts.Timestamp(ro.addr());
	check(ts, ro.addr());
	Commands fence;
	fence.Fence(ro.addr(), 1);
	check(fence, ro.addr());
}

TEST_F(JobFaults, WaitMemOnUnmappedAddressFaults)
{
	uint64_t hole = UnmappedAddr({});
	Commands cmds;
	cmds.WaitMem(hole, 1);
	WaitResult r = RunFailing(cmds);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, hole);
	s->ExpectWorks();
}

TEST_F(JobFaults, ClosedBoIsUnmapped)
{
	uint64_t gone;
	{
		Bo bo(s->dev(), kPageSize);
		gone = bo.addr();
	}
	Commands cmds;
	cmds.Fill(gone, 1, 8);
	WaitResult r = RunFailing(cmds);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT)
		<< "a closed BO is still mapped in the device address space";
	s->ExpectWorks();
}

// A context reaches only its own mappings: context B using addresses of
// context A's buffers faults on read and on write.
TEST_F(JobFaults, ContextsAreIsolated)
{
	Session b(std::make_unique<Device>(s->dev().path()));
	Bo b_buf(b.dev(), kPageSize);
	// A's buffers; pick one whose address B has not mapped itself.
	std::vector<std::unique_ptr<Bo>> a_bufs;
	Bo *victim = nullptr;
	auto mapped_in_b = [&](uint64_t addr) {
		for (const Bo *bo : {&b.cmd_bo(), &b.scratch(), &b_buf})
			if (addr + kPageSize > bo->addr() && addr < bo->addr() + bo->size())
				return true;
		return false;
	};
	for (int i = 0; i < 8 && !victim; i++) {
		a_bufs.push_back(std::make_unique<Bo>(s->dev(), kPageSize));
		if (!mapped_in_b(a_bufs.back()->addr()))
			victim = a_bufs.back().get();
	}
	ASSERT_NE(victim, nullptr) << "every A buffer aliases a B buffer address";
	std::vector<uint8_t> secret(64, 0xa5);
	std::copy(secret.begin(), secret.end(), victim->at<uint8_t>(0));
	// The device's copy holds it too (bounce buffers), so that ReadU64's
	// sync from the device below reads back the secret, not stale zeros.
	ASSERT_EQ(victim->Sync(0, 64, DRM_NPU_BO_SYNC_TO_DEVICE), 0);

	Commands steal;
	steal.Copy(victim->addr(), b_buf.addr(), 64);
	uint64_t seqno = b.Submit(steal, UsingBos({b_buf.handle()}));
	WaitResult r = b.Wait(seqno, 5000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, victim->addr());
	EXPECT_EQ(b_buf.ReadU64(0), 0u) << "context B read context A's buffer";

	Commands scribble;
	scribble.Fill(victim->addr(), 0, 64);
	seqno = b.Submit(scribble);
	r = b.Wait(seqno, 5000);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(victim->ReadU64(0), 0xa5a5a5a5a5a5a5a5ull)
		<< "context B wrote context A's buffer";

	b.ExpectWorks();
	s->ExpectWorks();
}

} // namespace
} // namespace npu_test
