// DMA: the mask the driver gives the DMA layer, and the syncs that make the
// CPU's and the device's view of a BO agree at job boundaries
// (docs/driver.md, "DMA"). Under swiotlb=force (the vm-swiotlb lane) every
// device access goes through a bounce buffer, so a missing sync shows up as
// data that never arrives; on coherent x86 these tests pass either way,
// except the mask test and the bounce check, which the lane needs.
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "npu_test.h"

namespace npu_test
{
namespace
{

using Dma = NpuTest;

// swiotlb slots are 2 KiB (IO_TLB_SHIFT).
constexpr uint64_t kSwiotlbSlab = 2048;
const char kIoTlbUsed[] = "/sys/kernel/debug/swiotlb/io_tlb_used";

std::string KernelCmdline()
{
	std::ifstream in("/proc/cmdline");
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

// Booted with swiotlb=...,force: every streaming DMA mapping is bounced.
bool SwiotlbForced()
{
	const std::string cmdline = KernelCmdline();
	const auto at = cmdline.find("swiotlb=");
	if (at == std::string::npos)
		return false;
	const std::string value = cmdline.substr(at, cmdline.find(' ', at) - at);
	return value.find("force") != std::string::npos;
}

// The vm-swiotlb lane sets NPU_EXPECT_SWIOTLB=1: there, no bouncing is a
// failure, not a reason to skip.
bool SwiotlbExpected()
{
	const char *v = std::getenv("NPU_EXPECT_SWIOTLB");
	return v && std::string(v) == "1";
}

// The device takes 52-bit bus addresses (a PTE's bits 51-12), so the DMA
// layer must never hand it more: both masks say 52 bits, for every device.
TEST_F(Dma, MaskIsWhatAPteHolds)
{
	const auto nodes = FindNpuNodes();
	ASSERT_FALSE(nodes.empty());
	for (const auto &node : nodes) {
		EXPECT_EQ(ReadSysfsNumber(node.sysfs_pci + "/dma_mask_bits"), 52u) << node.pci_bdf;
		EXPECT_EQ(ReadSysfsNumber(node.sysfs_pci + "/consistent_dma_mask_bits"), 52u)
			<< node.pci_bdf;
	}
}

// The lane's own check that it tests something: a BO's device mapping
// takes its size in bounce-buffer slots, and data still round-trips
// through the device.
TEST_F(Dma, BounceBuffersCarryJobData)
{
	if (!SwiotlbForced()) {
		ASSERT_FALSE(SwiotlbExpected())
			<< "NPU_EXPECT_SWIOTLB=1 but the kernel command line has no "
			   "swiotlb=...,force: "
			<< KernelCmdline();
		GTEST_SKIP() << "not booted with swiotlb=<slabs>,force";
	}
	const uint64_t size = 1 << 20;
	const uint64_t before = ReadSysfsNumber(kIoTlbUsed);
	Bo src(s->dev(), size, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo dst(s->dev(), size);
	const uint64_t after = ReadSysfsNumber(kIoTlbUsed);
	EXPECT_GE(after, before + 2 * size / kSwiotlbSlab)
		<< kIoTlbUsed << " did not grow by two 1 MiB BOs: nothing is bounced";

	for (uint64_t i = 0; i < size; i += 4)
		*src.at<uint32_t>(i) = static_cast<uint32_t>(i * 2654435761u);
	Commands cmds;
	cmds.Copy(src.addr(), dst.addr(), size);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({src.handle(), dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < size; i += 4)
		ASSERT_EQ(dst.ReadU32(i), static_cast<uint32_t>(i * 2654435761u)) << "offset " << i;
}

// Ownership goes back and forth: the device writes, the CPU reads and
// changes it, the device reads the change. Read-only BOs are synced again
// for every job that lists them.
TEST_F(Dma, CpuAndDeviceTakeTurns)
{
	Bo in(s->dev(), 4 * kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo buf(s->dev(), 4 * kPageSize);
	Bo out(s->dev(), 4 * kPageSize);
	const SubmitOptions bos = UsingBos({in.handle(), buf.handle(), out.handle()});
	for (uint32_t round = 1; round <= 3; round++) {
		// CPU -> device: a new input every round.
		for (uint64_t i = 0; i < in.size(); i += 4)
			*in.at<uint32_t>(i) = round * 0x01000000u + static_cast<uint32_t>(i);
		Commands first;
		first.Copy(in.addr(), buf.addr(), in.size());
		first.Fill(buf.addr() + kPageSize, 0xb0b00000u + round, kPageSize);
		ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(first, bos)), DRM_NPU_JOB_STATUS_OK);
		// Device -> CPU.
		ASSERT_EQ(buf.ReadU32(0), round * 0x01000000u) << "round " << round;
		ASSERT_EQ(buf.ReadU32(kPageSize), 0xb0b00000u + round) << "round " << round;
		ASSERT_EQ(buf.ReadU32(2 * kPageSize + 8), round * 0x01000000u + 2 * kPageSize + 8);
		// CPU changes what the device wrote; the next job reads the change.
		*buf.at<uint32_t>(3 * kPageSize) = 0xc0de0000u + round;
		Commands second;
		second.Copy(buf.addr(), out.addr(), buf.size());
		ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(second, bos)), DRM_NPU_JOB_STATUS_OK);
		EXPECT_EQ(out.ReadU32(0), round * 0x01000000u) << "round " << round;
		EXPECT_EQ(out.ReadU32(kPageSize + 4), 0xb0b00000u + round) << "round " << round;
		EXPECT_EQ(out.ReadU32(3 * kPageSize), 0xc0de0000u + round) << "round " << round;
	}
}

// Two jobs on one queue that list the same writable BO: the scheduler
// hands the second to the ring while the first still runs. The second's
// sync must not copy the (stale) pages over the bounce buffer the first
// has already written: the first writes a marker, then keeps the device
// busy long enough for the second to be handed over, then the second
// copies the marker out.
TEST_F(Dma, PipelinedJobsKeepEarlierWrites)
{
	const uint64_t busy_size = 16ull << 20;
	Bo shared(s->dev(), kPageSize);
	Bo busy(s->dev(), busy_size);
	Bo out(s->dev(), kPageSize);

	Commands first;
	first.Fill(shared.addr(), 0x600dda7au, kPageSize);
	for (int i = 0; i < 24; i++)
		first.Fill(busy.addr(), static_cast<uint32_t>(i), busy_size);
	Commands second;
	second.Copy(shared.addr(), out.addr(), kPageSize);
	const uint64_t a = s->Submit(first, UsingBos({shared.handle(), busy.handle()}));
	const uint64_t b = s->Submit(second, UsingBos({shared.handle(), out.handle()}));
	ASSERT_JOB_STATUS(s->WaitStatus(a), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(s->WaitStatus(b), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(out.ReadU32(0), 0x600dda7au) << "the second job read what the first wrote";
	EXPECT_EQ(out.ReadU32(kPageSize - 4), 0x600dda7au);
	EXPECT_EQ(shared.ReadU32(0), 0x600dda7au) << "the CPU sees what the first job wrote";
	EXPECT_EQ(busy.ReadU32(busy_size - 4), 23u);
}

int BoSync(const Device &dev, uint32_t handle, uint32_t flags, uint64_t offset, uint64_t size)
{
	drm_npu_bo_sync args{};
	args.handle = handle;
	args.flags = flags;
	args.offset = offset;
	args.size = size;
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_BO_SYNC, &args);
}

// Every field BO_SYNC takes is checked: flags exactly one direction, a
// non-empty range inside the BO, a handle of this file.
TEST_F(Dma, BoSyncRejectsBadArguments)
{
	Bo bo(s->dev(), 2 * kPageSize);
	const uint32_t to = DRM_NPU_BO_SYNC_TO_DEVICE, from = DRM_NPU_BO_SYNC_FROM_DEVICE;
	const uint64_t size = bo.size();

	EXPECT_EQ(BoSync(s->dev(), bo.handle(), 0, 0, 8), EINVAL) << "no direction";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to | from, 0, 8), EINVAL) << "both directions";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), 1u << 2, 0, 8), EINVAL) << "unknown flag";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to | (1u << 31), 0, 8), EINVAL)
		<< "unknown flag next to a direction";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to, 0, 0), EINVAL) << "zero size";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), from, size - 4, 8), EINVAL) << "runs past the end";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to, size, 1), EINVAL) << "starts at the end";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to, 0, size + 1), EINVAL) << "larger than the BO";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), from, ~0ull - 3, 8), EINVAL)
		<< "offset + size wraps";
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to, 8, ~0ull), EINVAL) << "size wraps";
	EXPECT_EQ(BoSync(s->dev(), bo.handle() + 1000, to, 0, 8), ENOENT) << "unknown handle";

	// The edges themselves are fine, at any alignment.
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), to, 0, size), 0);
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), from, size - 1, 1), 0);
	EXPECT_EQ(BoSync(s->dev(), bo.handle(), from, kPageSize - 3, 7), 0) << "across a page";
	s->ExpectWorks();
}

// Polls an 8-byte word the running job writes, syncing it from the device
// each time; false if it stayed zero for long (the job never got there).
bool PollNonZero(Bo &bo, uint64_t offset, uint64_t &value)
{
	const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
	while (std::chrono::steady_clock::now() < give_up) {
		EXPECT_EQ(bo.Sync(offset, 8, DRM_NPU_BO_SYNC_FROM_DEVICE), 0);
		value = *reinterpret_cast<volatile uint64_t *>(bo.map() + offset);
		if (value)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	return false;
}

// The CPU and a running job exchange data through BO_SYNC: the job writes
// a TIMESTAMP and waits on a gate; the CPU sees the stamp (FROM_DEVICE)
// while the job still waits, then releases the gate (TO_DEVICE). Under
// bounce buffers (the vm-swiotlb lane) neither reaches the other side
// without the sync: the stamp stays zero and the job times out.
TEST_F(Dma, BoSyncExchangesDataWithARunningJob)
{
	Bo stamp(s->dev(), kPageSize);
	Bo gate(s->dev(), kPageSize);
	Commands cmds;
	cmds.Timestamp(stamp.addr() + 64);
	cmds.WaitMem(gate.addr(), 1);
	cmds.Fence(stamp.addr() + 128, 0xd0e5);
	const uint64_t seqno = s->Submit(cmds, UsingBos({stamp.handle(), gate.handle()}));

	uint64_t ts = 0;
	ASSERT_TRUE(PollNonZero(stamp, 64, ts)) << "the job's TIMESTAMP never reached the CPU";
	const WaitResult early = s->Wait(seqno, 0);
	EXPECT_NE(early.err, 0) << "the job finished with its gate closed";

	*reinterpret_cast<volatile uint64_t *>(gate.map()) = 1;
	ASSERT_EQ(BoSync(s->dev(), gate.handle(), DRM_NPU_BO_SYNC_TO_DEVICE, 0, 8), 0);
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(stamp.ReadU64(64), ts) << "the stamp changed after it was read";
	EXPECT_EQ(stamp.ReadU64(128), 0xd0e5u);
}

// Only the range moves: a job fills three pages and waits; the CPU syncs
// an unaligned range across page boundaries from the device. Inside it the
// CPU sees the fill; under bounce buffers the bytes right outside it stay
// as they were (zero), since copying them could overwrite CPU writes.
TEST_F(Dma, BoSyncMovesOnlyTheRange)
{
	Bo buf(s->dev(), 3 * kPageSize);
	Bo gate(s->dev(), kPageSize);
	Commands cmds;
	cmds.Fill(buf.addr(), 0x5eed5eedu, 3 * kPageSize);
	cmds.WaitMem(gate.addr(), 1);
	const uint64_t seqno = s->Submit(cmds, UsingBos({buf.handle(), gate.handle()}));

	const uint64_t from = kPageSize - 12, to = 2 * kPageSize + 20;
	uint64_t word = 0;
	ASSERT_TRUE(PollNonZero(buf, from, word)) << "the FILL never reached the CPU";
	ASSERT_EQ(BoSync(s->dev(), buf.handle(), DRM_NPU_BO_SYNC_FROM_DEVICE, from, to - from), 0);
	for (uint64_t i = from; i < to; i += 4)
		ASSERT_EQ(*buf.at<uint32_t>(i), 0x5eed5eedu) << "offset " << i;
	if (SwiotlbForced()) {
		EXPECT_EQ(*buf.at<uint32_t>(from - 4), 0u) << "synced before the range";
		EXPECT_EQ(*buf.at<uint32_t>(to), 0u) << "synced after the range";
	}
	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(buf.ReadU32(0), 0x5eed5eedu) << "the job's end syncs the whole BO";
}

} // namespace
} // namespace npu_test
