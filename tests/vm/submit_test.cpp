// SUBMIT success paths: each packet type executes and its effect is visible
// through the host mapping.
#include <cstring>

#include "npu_test.h"

namespace npu_test
{
namespace
{

using Submit = NpuTest;

TEST_F(Submit, NopJobCompletes)
{
	Commands cmds;
	cmds.Nop();
	cmds.Nop(8); // longer NOPs are padding
	uint64_t seqno = s->Submit(cmds);
	EXPECT_NE(seqno, 0u);
	EXPECT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Submit, SeqnosIncrease)
{
	uint64_t last = 0;
	for (int i = 0; i < 5; i++) {
		Commands cmds;
		cmds.Nop();
		uint64_t seqno = s->Submit(cmds);
		EXPECT_GT(seqno, last);
		last = seqno;
	}
	EXPECT_JOB_STATUS(s->WaitStatus(last), DRM_NPU_JOB_STATUS_OK);
}

TEST_F(Submit, FillWritesExactlyTheRange)
{
	Bo dst(s->dev(), 4 * kPageSize);
	Commands cmds;
	// Crosses a page boundary and leaves a margin on both sides.
	cmds.Fill(dst.addr() + kPageSize - 64, 0xdeadbeef, kPageSize + 128);
	uint64_t seqno = s->Submit(cmds, UsingBos({dst.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	for (uint64_t off = 0; off < dst.size(); off += 4) {
		bool inside = off >= kPageSize - 64 && off < 2 * kPageSize + 64;
		ASSERT_EQ(dst.ReadU32(off), inside ? 0xdeadbeefu : 0u) << "offset " << off;
	}
}

TEST_F(Submit, CopyMovesData)
{
	const uint64_t size = 64 * 1024 + 40; // many pages, unaligned tail
	Bo src(s->dev(), 32 * kPageSize);
	Bo dst(s->dev(), 32 * kPageSize);
	for (uint64_t i = 0; i < src.size(); i++)
		src.map()[i] = static_cast<uint8_t>(i * 7 + (i >> 12));
	Commands cmds;
	cmds.Copy(src.addr() + 24, dst.addr() + 3000, size);
	uint64_t seqno = s->Submit(cmds, UsingBos({src.handle(), dst.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(std::memcmp(dst.map() + 3000, src.map() + 24, size), 0);
	EXPECT_EQ(dst.map()[2999], 0) << "COPY wrote before dst";
	EXPECT_EQ(dst.map()[3000 + size], 0) << "COPY wrote past dst + size";
}

TEST_F(Submit, CopyFromReadOnlyBoIsAllowed)
{
	Bo src(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo dst(s->dev(), kPageSize);
	src.WriteU64(0, 0x0123456789abcdefull);
	Commands cmds;
	cmds.Copy(src.addr(), dst.addr() + 8, 8);
	uint64_t seqno = s->Submit(cmds, UsingBos({src.handle(), dst.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(dst.ReadU64(8), 0x0123456789abcdefull);
}

TEST_F(Submit, TimestampsAdvance)
{
	Bo out(s->dev(), kPageSize);
	Bo scratch(s->dev(), 64 * kPageSize);
	Commands cmds;
	cmds.Timestamp(out.addr());
	cmds.Fill(scratch.addr(), 1, scratch.size());
	cmds.Timestamp(out.addr() + 8);
	uint64_t seqno = s->Submit(cmds, UsingBos({out.handle(), scratch.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	uint64_t t0 = out.ReadU64(0), t1 = out.ReadU64(8);
	EXPECT_NE(t0, 0u);
	EXPECT_GT(t1, t0) << "the device clock did not advance across a 256 KiB FILL";

	Commands later;
	later.Timestamp(out.addr() + 16);
	seqno = s->Submit(later, UsingBos({out.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GT(out.ReadU64(16), t1);
}

TEST_F(Submit, FenceWritesItsValue)
{
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Fill(out.addr(), 0x11111111, 64);
	cmds.Fence(out.addr() + 64, 0xfeedfacecafef00dull);
	uint64_t seqno = s->Submit(cmds, UsingBos({out.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(64), 0xfeedfacecafef00dull);
	EXPECT_EQ(out.ReadU32(60), 0x11111111u);
}

TEST_F(Submit, WaitMemAlreadySatisfiedPassesThrough)
{
	Bo mem(s->dev(), kPageSize);
	mem.WriteU64(0, 42);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 42);
	cmds.Fence(mem.addr() + 8, 7);
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno, 1500), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(mem.ReadU64(8), 7u);
}

TEST_F(Submit, MaxSizeCommandBuffer)
{
	uint32_t max = static_cast<uint32_t>(s->dev().Param(DRM_NPU_PARAM_MAX_CMD_SIZE));
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	while (cmds.bytes() < max - 24)
		cmds.Nop();
	cmds.Fence(out.addr(), 99);
	ASSERT_EQ(cmds.bytes(), max);
	uint64_t seqno = s->Submit(cmds, UsingBos({out.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(0), 99u) << "the last packet of a max-size buffer did not run";
}

TEST_F(Submit, ManyBosInOneJob)
{
	std::vector<std::unique_ptr<Bo>> bos;
	SubmitOptions opts;
	Commands cmds;
	for (uint32_t i = 0; i < 32; i++) {
		bos.push_back(std::make_unique<Bo>(s->dev(), kPageSize));
		opts.extra_bos.push_back(bos.back()->handle());
		cmds.Fill(bos.back()->addr(), 0x100 + i, 8);
	}
	uint64_t seqno = s->Submit(cmds, opts);
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	for (uint32_t i = 0; i < 32; i++)
		EXPECT_EQ(bos[i]->ReadU32(4), 0x100 + i);
}

TEST_F(Submit, CommandBufferMayLieInAnyListedBo)
{
	Bo cmd(s->dev(), kPageSize);
	Bo out(s->dev(), kPageSize);
	Commands cmds;
	cmds.Fence(out.addr(), 0xabc);
	std::memcpy(cmd.map() + 512, cmds.words().data(), cmds.bytes());
	uint32_t handles[] = {out.handle(), cmd.handle()};
	drm_npu_submit args{};
	args.bo_handles = reinterpret_cast<uintptr_t>(handles);
	args.bo_count = 2;
	args.cmd_addr = cmd.addr() + 512;
	args.cmd_size = cmds.bytes();
	ASSERT_EQ(s->SubmitRaw(args), 0);
	ASSERT_JOB_STATUS(s->WaitStatus(args.seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU64(0), 0xabcu);
}

TEST_F(Submit, EveryDeviceRunsJobs)
{
	for (const auto &node : FindNpuNodes()) {
		Session session(std::make_unique<Device>(node.dev_path));
		session.ExpectWorks();
	}
}

} // namespace
} // namespace npu_test
