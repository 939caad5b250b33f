// Memory lifetime (docs/driver.md, "Memory lifetime"): a job may reach any
// BO of its context, listed or not, so closing a BO's handle or the whole
// file while jobs run must not take memory from under them. The mapping and
// the pages go once the jobs submitted before the close have finished, and
// only after the device acknowledged a translation invalidate.
#include <sys/mman.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "npu_hw.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

constexpr uint32_t kPattern = 0x6c696665; // "life"

class MemoryLifetime : public ::testing::Test
{
protected:
	void SetUp() override
	{
		auto nodes = FindNpuNodes();
		ASSERT_FALSE(nodes.empty());
		node_ = nodes[0];
	}
	NodeInfo node_;
};

// A job waits on a gate, then copies from a BO it does not list; the BO's
// handle is closed while the job waits. The copy still reads the BO's data:
// its pages stayed mapped until the job finished.
TEST_F(MemoryLifetime, ClosingAnUnlistedBoWaitsForTheJobsThatMayUseIt)
{
	Session s(std::make_unique<Device>(node_.dev_path));
	constexpr uint64_t kSize = 16 * kPageSize;
	auto src = std::make_unique<Bo>(s.dev(), kSize);
	Bo dst(s.dev(), kSize);
	Bo gate(s.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	for (uint64_t i = 0; i < kSize / 4; i++)
		src->at<uint32_t>(0)[i] = kPattern + uint32_t(i);
	// the job does not list src: no job boundary syncs it for the device
	ASSERT_EQ(src->Sync(0, kSize, DRM_NPU_BO_SYNC_TO_DEVICE), 0);
	const uint64_t src_addr = src->addr();

	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	cmds.Copy(src_addr, dst.addr(), kSize);
	uint64_t seqno = s.Submit(cmds, UsingBos({dst.handle(), gate.handle()}));
	ASSERT_EQ(s.Wait(seqno, 100).err, ETIME) << "the job did not wait on its gate";

	src.reset(); // closes the handle: the last reference
	// give a driver that unmaps at once the time to do it
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	gate.WriteU64(0, 1);
	WaitResult r = s.Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	ASSERT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK)
		<< "fault at 0x" << std::hex << r.args.fault_addr;
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(dst.at<uint32_t>(0)[i], kPattern + uint32_t(i)) << "word " << i;

	// Once that job is done the range is unmapped: a later job faults there.
	Commands late;
	late.Copy(src_addr, dst.addr(), kPageSize);
	EXPECT_TRUE(Eventually([&] {
		WaitResult w = s.Wait(s.Submit(late, UsingBos({dst.handle()})));
		return w.err == 0 && w.args.job_status == DRM_NPU_JOB_STATUS_PAGE_FAULT &&
		       w.args.fault_addr == src_addr;
	})) << "the closed BO stayed mapped";
	s.ExpectWorks();
}

// The same through closing the whole file: its BOs stay mapped (and
// counted) while its job runs, the job completes its work, and then
// everything is released.
TEST_F(MemoryLifetime, ClosingTheFileKeepsItsMemoryUntilItsJobsEnd)
{
	constexpr uint64_t kSize = 8 * kPageSize;
	auto s = std::make_unique<Session>(std::make_unique<Device>(node_.dev_path));
	auto src = std::make_unique<Bo>(s->dev(), kSize);
	auto dst = std::make_unique<Bo>(s->dev(), kSize);
	auto gate = std::make_unique<Bo>(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	for (uint64_t i = 0; i < kSize / 4; i++)
		src->at<uint32_t>(0)[i] = ~kPattern - uint32_t(i);
	Mapping dst_view(*dst, s->dev().fd()), gate_view(*gate, s->dev().fd());
	const int64_t bytes_before_close = Counter(node_.pci_bdf, "bo_bytes");

	Commands cmds;
	cmds.WaitMem(gate->addr(), 1);
	cmds.Copy(src->addr(), dst->addr(), kSize);
	uint64_t seqno = s->Submit(cmds, UsingBos({gate->handle()}));
	ASSERT_EQ(s->Wait(seqno, 100).err, ETIME) << "the job did not wait on its gate";

	src.reset();
	dst.reset();
	gate.reset();
	s.reset(); // every handle and the file are closed; the job waits
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	EXPECT_EQ(Counter(node_.pci_bdf, "bo_bytes"), bytes_before_close)
		<< "memory of a context with a running job was released";

	gate_view.u64()[0] = 1;
	EXPECT_TRUE(Eventually([&] { return dst_view.u32()[kSize / 4 - 1] != 0; }, 20000))
		<< "the job never wrote its result";
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(dst_view.u32()[i], ~kPattern - uint32_t(i)) << "word " << i;
	EXPECT_TRUE(Eventually([&] {
		return Counter(node_.pci_bdf, "bo_bytes") < bytes_before_close;
	})) << "the closed context's memory was never released";
}

// Every unmap is followed by an invalidate the device acknowledges
// (docs/hardware.md §8) before the pages are reused.
TEST_F(MemoryLifetime, UnmapsAreInvalidatedOnTheDevice)
{
	Device dev(node_.dev_path);
	ASSERT_GE(dev.Param(DRM_NPU_PARAM_HW_VERSION), uint64_t(NPU_HW_VERSION_MMU_INVAL));
	const int64_t before = Counter(node_.pci_bdf, "invalidates");
	{
		Bo bo(dev, kPageSize);
	}
	EXPECT_TRUE(Eventually([&] { return Counter(node_.pci_bdf, "invalidates") > before; }))
		<< "closing a BO invalidated nothing";
}

} // namespace
} // namespace npu_test
