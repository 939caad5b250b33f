// The packets graphs are built from (uapi/drm/npu_packet.h, packet version
// 3): WRITE_MEM (a memory write without interrupt), WAIT_MEM with the >=
// comparison, and CALL into a command buffer baked once. What each does,
// and every field the device rejects, with the failure reported at the
// right offset and the device working afterwards.
#include <algorithm>
#include <cstring>
#include <thread>

#include "npu_test.h"

namespace npu_test
{
namespace
{

class GraphPackets : public NpuTest
{
protected:
	// Runs cmds on queue 0 with the given BOs; returns the WAIT result.
	WaitResult Run(const Commands &cmds, const std::vector<uint32_t> &bos = {})
	{
		uint64_t seqno = s->Submit(cmds, UsingBos(bos));
		WaitResult r = s->Wait(seqno, 10000);
		EXPECT_EQ(r.err, 0) << "WAIT";
		return r;
	}

	void ExpectOk(const Commands &cmds, const std::vector<uint32_t> &bos = {})
	{
		EXPECT_JOB_STATUS(Run(cmds, bos).args.job_status, DRM_NPU_JOB_STATUS_OK);
	}

	void ExpectBadPacketAt(const Commands &cmds, uint32_t offset,
			       const std::vector<uint32_t> &bos = {})
	{
		WaitResult r = Run(cmds, bos);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
		EXPECT_EQ(r.args.err_offset, offset);
		s->ExpectWorks();
	}

	void ExpectFaultAt(const Commands &cmds, uint32_t offset, uint64_t fault,
			   const std::vector<uint32_t> &bos = {})
	{
		WaitResult r = Run(cmds, bos);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
		EXPECT_EQ(r.args.err_offset, offset);
		EXPECT_EQ(r.args.fault_addr, fault);
		s->ExpectWorks();
	}

	// A called buffer: staged in the session's command BO, which every
	// submission lists.
	struct Staged {
		uint64_t addr;
		uint64_t size;
	};
	Staged Stage(const Commands &cmds) { return {s->Stage(cmds), cmds.bytes()}; }

	// An address no BO of this session covers.
	uint64_t Hole(const Bo &bo)
	{
		uint64_t top = std::max({s->cmd_bo().addr() + s->cmd_bo().size(),
					 s->scratch().addr() + s->scratch().size(),
					 bo.addr() + bo.size()});
		return (top + (64ull << 20)) & ~(kPageSize - 1);
	}

	static uint32_t Lo(uint64_t v) { return uint32_t(v); }
	static uint32_t Hi(uint64_t v) { return uint32_t(v >> 32); }
};

// ---- WRITE_MEM ------------------------------------------------------------

TEST_F(GraphPackets, WriteMem64And32)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Fill(out.addr(), 0xffffffff, 32);
	cmds.WriteMem(out.addr(), 0x1122334455667788ull);
	cmds.WriteMem(out.addr() + 12, 0xa5a5a5a5, NPU_WRITE_MEM_32);
	ExpectOk(cmds, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 0x1122334455667788ull);
	EXPECT_EQ(out.ReadU32(8), 0xffffffffu) << "a 32-bit write touched the word before";
	EXPECT_EQ(out.ReadU32(12), 0xa5a5a5a5u);
	EXPECT_EQ(out.ReadU32(16), 0xffffffffu) << "a 32-bit write touched the word after";
}

// Written in order with the packets around it: after the packets before.
TEST_F(GraphPackets, WriteMemOrderedAfterEarlierPackets)
{
	Bo a(s->dev(), kPageSize);
	Bo b(s->dev(), kPageSize);
	Commands cmds;
	cmds.Fill(a.addr(), 0x33, 8);
	cmds.Copy(a.addr(), b.addr(), 8);
	cmds.WriteMem(a.addr(), 7);
	cmds.Copy(a.addr(), b.addr() + 8, 8);
	ExpectOk(cmds, {a.handle(), b.handle()});
	EXPECT_EQ(b.ReadU64(0), 0x0000003300000033ull);
	EXPECT_EQ(b.ReadU64(8), 7u);
}

TEST_F(GraphPackets, WriteMemRejectsUnknownFlags)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Nop();
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(NPU_OP_WRITE_MEM, NPU_PKT_WRITE_MEM_DWORDS),
				{NPU_WRITE_MEM_FLAGS << 1, Lo(out.addr()), Hi(out.addr()), 5, 0});
	ExpectBadPacketAt(cmds, bad, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 0u);
}

TEST_F(GraphPackets, WriteMemRejectsMisalignedAddress)
{
	Bo out(s->dev(), kPageSize);
	Commands wide;
	uint32_t bad = wide.WriteMem(out.addr() + 4, 1);
	ExpectBadPacketAt(wide, bad, {out.handle()});
	Commands narrow;
	narrow.Nop();
	bad = narrow.WriteMem(out.addr() + 2, 1, NPU_WRITE_MEM_32);
	ExpectBadPacketAt(narrow, bad, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 0u);
}

TEST_F(GraphPackets, WriteMemRejects32BitValueAbove32Bits)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	uint32_t bad = cmds.WriteMem(out.addr(), 1ull << 32, NPU_WRITE_MEM_32);
	ExpectBadPacketAt(cmds, bad, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 0u);
}

TEST_F(GraphPackets, WriteMemRejectsWrongLength)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	uint32_t bad =
		cmds.Raw(NPU_PKT_HEADER(NPU_OP_WRITE_MEM, 4), {0, Lo(out.addr()), Hi(out.addr())});
	ExpectBadPacketAt(cmds, bad, {out.handle()});
}

TEST_F(GraphPackets, WriteMemFaults)
{
	Bo out(s->dev(), kPageSize);
	uint64_t hole = Hole(out);
	Commands unmapped;
	unmapped.Nop();
	uint32_t at = unmapped.WriteMem(hole, 1);
	ExpectFaultAt(unmapped, at, hole);

	Commands narrow;
	at = narrow.WriteMem(hole + 4, 1, NPU_WRITE_MEM_32);
	ExpectFaultAt(narrow, at, hole + 4);

	Bo ro(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Commands readonly;
	at = readonly.WriteMem(ro.addr(), 1);
	ExpectFaultAt(readonly, at, ro.addr(), {ro.handle()});

	// beyond the device address space
	const uint64_t va_end = 1ull << 39;
	Commands beyond;
	at = beyond.WriteMem(va_end, 1);
	ExpectFaultAt(beyond, at, va_end);
}

// ---- WAIT_MEM >= ----------------------------------------------------------

// Released by a value at or above the one waited for, not by a smaller one
// (the old equality wait would stay stalled on 5 waiting for 3).
TEST_F(GraphPackets, WaitMemGreaterOrEqual)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(s->dev(), kPageSize);
	gate.WriteU64(0, 1);
	Commands cmds;
	cmds.WaitMemGe(gate.addr(), 3);
	cmds.Fence(out.addr(), 0xd0);
	uint64_t seqno = s->Submit(cmds, UsingBos({gate.handle(), out.handle()}));
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	gate.WriteU64(0, 2);
	WaitResult r = s->Wait(seqno, 200);
	EXPECT_EQ(r.err, ETIME) << "released below the value";
	EXPECT_EQ(out.ReadU64(0), 0u);
	gate.WriteU64(0, 5);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(0), 0xd0u);

	// already satisfied: no stall; unsigned: 2^63 is above 3
	gate.WriteU64(0, 1ull << 63);
	Commands again;
	again.WaitMemGe(gate.addr(), 3);
	again.WaitMemGe(gate.addr(), 1ull << 63);
	ExpectOk(again, {gate.handle()});
}

// Without the flag WAIT_MEM still waits for equality.
TEST_F(GraphPackets, WaitMemWithoutFlagWaitsForEquality)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	gate.WriteU64(0, 5);
	Commands cmds;
	cmds.WaitMem(gate.addr(), 3);
	uint64_t seqno = s->Submit(cmds, UsingBos({gate.handle()}));
	WaitResult r = s->Wait(seqno, 300);
	EXPECT_EQ(r.err, ETIME) << "an equality wait took 5 for 3";
	gate.WriteU64(0, 3);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(GraphPackets, WaitMemRejectsUnknownFlags)
{
	Bo gate(s->dev(), kPageSize);
	Commands cmds;
	cmds.Nop();
	uint32_t bad = cmds.Raw(NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS),
				{NPU_WAIT_MEM_FLAGS << 1, Lo(gate.addr()), Hi(gate.addr()), 0, 0});
	ExpectBadPacketAt(cmds, bad, {gate.handle()});
}

// One queue's job releases another's with WRITE_MEM: no host involved.
TEST_F(GraphPackets, WriteMemReleasesWaitOnAnotherQueue)
{
	uint32_t q1 = CreateQueue(s->dev(), DRM_NPU_PRIORITY_NORMAL);
	uint32_t q2 = CreateQueue(s->dev(), DRM_NPU_PRIORITY_NORMAL);
	Bo flag(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	Commands waiter;
	waiter.WaitMemGe(flag.addr(), 2);
	waiter.Fence(out.addr(), 0xd1);
	SubmitOptions on1 = UsingBos({flag.handle(), out.handle()});
	on1.queue_id = q1;
	uint64_t waiting = s->Submit(waiter, on1);

	Commands writer;
	writer.WriteMem(flag.addr(), 2);
	// flag unlisted: listing it would order this job after the waiting
	// one (implicit sync), which waits for this one
	SubmitOptions on2;
	on2.queue_id = q2;
	uint64_t writing = s->Submit(writer, on2);
	EXPECT_JOB_STATUS(s->WaitStatus(writing, 10000, q2), DRM_NPU_JOB_STATUS_OK);
	EXPECT_JOB_STATUS(s->WaitStatus(waiting, 10000, q1), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(0), 0xd1u);
}

// ---- CALL -----------------------------------------------------------------

TEST_F(GraphPackets, CallRunsTheCalledBufferThenContinues)
{
	Bo out(s->dev(), kPageSize);
	Commands sub;
	sub.Fill(out.addr() + 8, 0x22, 8);
	sub.Copy(out.addr(), out.addr() + 16, 8); // sees the caller's fill
	Staged called = Stage(sub);
	Commands cmds;
	cmds.Fill(out.addr(), 0x11, 8);
	cmds.Call(called.addr, called.size);
	cmds.Copy(out.addr() + 8, out.addr() + 24, 8); // sees the callee's fill
	cmds.Call(called.addr, called.size);	       // a baked buffer runs again
	cmds.WriteMem(out.addr() + 32, 0xe0);
	ExpectOk(cmds, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 0x0000001100000011ull);
	EXPECT_EQ(out.ReadU64(8), 0x0000002200000022ull);
	EXPECT_EQ(out.ReadU64(16), 0x0000001100000011ull);
	EXPECT_EQ(out.ReadU64(24), 0x0000002200000022ull);
	EXPECT_EQ(out.ReadU64(32), 0xe0u);
}

// NPU_CALL_MAX_DEPTH levels below the job's buffer run; one more fails at
// the job's outermost CALL.
TEST_F(GraphPackets, CallNestsUpToTheMaximumDepth)
{
	Bo out(s->dev(), kPageSize);
	auto chain = [&](uint32_t levels) {
		Commands innermost;
		innermost.WriteMem(out.addr(), levels);
		Staged next = Stage(innermost);
		for (uint32_t level = 1; level < levels; level++) {
			Commands c;
			c.Nop();
			c.Call(next.addr, next.size);
			c.Nop();
			next = Stage(c);
		}
		return next;
	};
	Staged ok = chain(NPU_CALL_MAX_DEPTH);
	Commands cmds;
	cmds.Call(ok.addr, ok.size);
	cmds.WriteMem(out.addr() + 8, 1);
	ExpectOk(cmds, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), uint64_t(NPU_CALL_MAX_DEPTH));
	EXPECT_EQ(out.ReadU64(8), 1u);

	Staged deep = chain(NPU_CALL_MAX_DEPTH + 1);
	Commands too_deep;
	too_deep.Nop();
	uint32_t at = too_deep.Call(deep.addr, deep.size);
	ExpectBadPacketAt(too_deep, at, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), uint64_t(NPU_CALL_MAX_DEPTH)) << "the innermost buffer ran";
}

// A buffer calling itself ends at the depth limit, not in a loop.
TEST_F(GraphPackets, CallRecursionFails)
{
	Bo out(s->dev(), kPageSize);
	// the buffer's address is known once staged: stage, then patch
	Commands self;
	self.WriteMem(out.addr(), 1);
	uint32_t call_at = self.Call(0, 0);
	Staged staged = Stage(self);
	npu_pkt_call p{NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS), 0, staged.addr,
		       staged.size};
	std::memcpy(s->cmd_bo().map() + (staged.addr - s->cmd_bo().addr()) + call_at, &p,
		    sizeof(p));
	Commands cmds;
	cmds.Nop();
	uint32_t at = cmds.Call(staged.addr, staged.size);
	ExpectBadPacketAt(cmds, at, {out.handle()});
}

TEST_F(GraphPackets, CallRejectsBadFields)
{
	Commands target;
	target.Nop();
	Staged t = Stage(target);

	Commands mbz;
	uint32_t bad = mbz.Raw(NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS),
			       {1, Lo(t.addr), Hi(t.addr), Lo(t.size), 0});
	ExpectBadPacketAt(mbz, bad);

	Commands misaligned;
	misaligned.Nop();
	bad = misaligned.Call(t.addr + 4, 8);
	ExpectBadPacketAt(misaligned, bad);

	Commands empty;
	bad = empty.Call(t.addr, 0);
	ExpectBadPacketAt(empty, bad);

	Commands odd;
	bad = odd.Call(t.addr, 12);
	ExpectBadPacketAt(odd, bad);

	Commands huge;
	bad = huge.Call(t.addr, uint64_t(NPU_CALL_MAX_SIZE) + 8);
	ExpectBadPacketAt(huge, bad);

	Commands size_high_bits; // a 64-bit size is not truncated to 32 bits
	bad = size_high_bits.Call(t.addr, (1ull << 32) + 8);
	ExpectBadPacketAt(size_high_bits, bad);

	Commands wrong_length;
	bad = wrong_length.Raw(NPU_PKT_HEADER(NPU_OP_CALL, 4), {0, Lo(t.addr), Hi(t.addr)});
	ExpectBadPacketAt(wrong_length, bad);
}

TEST_F(GraphPackets, CallFaults)
{
	Bo out(s->dev(), kPageSize);
	uint64_t hole = Hole(out);
	Commands unmapped;
	unmapped.Fill(out.addr(), 0x44, 8);
	uint32_t at = unmapped.Call(hole, 64);
	unmapped.Fill(out.addr() + 8, 0x55, 8);
	ExpectFaultAt(unmapped, at, hole, {out.handle()});
	EXPECT_EQ(out.ReadU32(0), 0x44u) << "the packet before the CALL did not run";
	EXPECT_EQ(out.ReadU32(8), 0u) << "a packet after the failed CALL ran";

	const uint64_t va_end = 1ull << 39;
	Commands beyond;
	at = beyond.Call(va_end - 8, 16);
	ExpectFaultAt(beyond, at, va_end);
}

// A failure inside a called buffer fails the job at its outermost CALL,
// with the fault address of the packet that faulted; the packets before
// it (in both buffers) ran, the ones after it did not.
TEST_F(GraphPackets, FailureInsideACallReportsTheOutermostCall)
{
	Bo out(s->dev(), kPageSize);
	uint64_t hole = Hole(out);
	Commands inner;
	inner.WriteMem(out.addr() + 8, 2);
	inner.Copy(hole, out.addr() + 16, 8);
	inner.WriteMem(out.addr() + 24, 3);
	Staged in = Stage(inner);
	Commands middle;
	middle.Nop();
	middle.Call(in.addr, in.size);
	middle.WriteMem(out.addr() + 32, 4);
	Staged mid = Stage(middle);
	Commands cmds;
	cmds.WriteMem(out.addr(), 1);
	uint32_t at = cmds.Call(mid.addr, mid.size);
	cmds.WriteMem(out.addr() + 40, 5);
	ExpectFaultAt(cmds, at, hole, {out.handle()});
	EXPECT_EQ(out.ReadU64(0), 1u);
	EXPECT_EQ(out.ReadU64(8), 2u);
	EXPECT_EQ(out.ReadU64(24), 0u);
	EXPECT_EQ(out.ReadU64(32), 0u);
	EXPECT_EQ(out.ReadU64(40), 0u);

	Commands bad_inner;
	bad_inner.Nop();
	bad_inner.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	Staged b = Stage(bad_inner);
	Commands cmds2;
	cmds2.Nop();
	cmds2.Nop();
	at = cmds2.Call(b.addr, b.size);
	ExpectBadPacketAt(cmds2, at);
}

// A WAIT_MEM inside a called buffer stalls the job and resumes it there;
// the job then returns to its own buffer.
TEST_F(GraphPackets, WaitInsideACallResumes)
{
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo out(s->dev(), kPageSize);
	Commands inner;
	inner.WriteMem(out.addr(), 1);
	inner.WaitMemGe(gate.addr(), 1);
	inner.WriteMem(out.addr() + 8, 2);
	Staged in = Stage(inner);
	Commands cmds;
	cmds.Call(in.addr, in.size);
	cmds.WriteMem(out.addr() + 16, 3);
	uint64_t seqno = s->Submit(cmds, UsingBos({gate.handle(), out.handle()}));
	ASSERT_TRUE(Eventually([&] { return out.ReadU64(0) == 1; }));
	EXPECT_EQ(s->Wait(seqno, 100).err, ETIME);
	gate.WriteU64(0, 1);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(8), 2u);
	EXPECT_EQ(out.ReadU64(16), 3u);
}

// A called buffer longer than the firmware's command window (1 KiB) is
// fetched window by window, like a job's own buffer.
TEST_F(GraphPackets, CallOfALongBuffer)
{
	Bo out(s->dev(), kPageSize);
	Commands inner;
	for (uint32_t i = 0; i < 200; i++) // 200 x 24 bytes
		inner.WriteMem(out.addr() + 8 * (i % 64), i);
	Staged in = Stage(inner);
	Commands cmds;
	cmds.Call(in.addr, in.size);
	cmds.Call(in.addr, in.size);
	ExpectOk(cmds, {out.handle()});
	for (uint32_t i = 136; i < 200; i++)
		EXPECT_EQ(out.ReadU64(8 * (i % 64)), i);
}

} // namespace
} // namespace npu_test
