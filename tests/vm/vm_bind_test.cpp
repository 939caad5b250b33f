// DRM_IOCTL_NPU_VM_BIND (uapi/drm/npu_accel.h, docs/driver.md): userspace
// maps BO ranges at device addresses it chooses. Jobs use bound addresses
// without listing the BO; a BO bound twice aliases; UNMAP and closing the
// file keep the pages for the jobs submitted before, and later jobs fault;
// a host mapping and a device binding can share one address.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "npu_test.h"

namespace npu_test
{
namespace
{

// Far from the addresses BO_CREATE picks (best fit from NPU_VA_START up).
constexpr uint64_t kBase = 0x4000000000ull;
constexpr uint64_t kVaStart = 16ull << 20;
constexpr uint64_t kVaEnd = 1ull << 39;

int BindErr(const Device &dev, uint32_t op, uint32_t handle, uint64_t bo_offset, uint64_t addr,
	    uint64_t size, uint32_t flags = 0, uint32_t pad = 0)
{
	drm_npu_vm_bind args{};
	args.op = op;
	args.flags = flags;
	args.handle = handle;
	args.pad = pad;
	args.bo_offset = bo_offset;
	args.addr = addr;
	args.size = size;
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_VM_BIND, &args);
}

int Map(const Device &dev, const Bo &bo, uint64_t addr, uint64_t bo_offset = 0, uint64_t size = 0,
	uint32_t flags = 0)
{
	return BindErr(dev, DRM_NPU_VM_BIND_OP_MAP, bo.handle(), bo_offset, addr,
		       size ? size : bo.size() - bo_offset, flags);
}

int Unmap(const Device &dev, uint64_t addr, uint64_t size)
{
	return BindErr(dev, DRM_NPU_VM_BIND_OP_UNMAP, 0, 0, addr, size);
}

class VmBind : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		auto nodes = FindNpuNodes();
		ASSERT_FALSE(nodes.empty());
		node_ = nodes[0];
	}
	NodeInfo node_;
};

// Writes seed + i to word i, then syncs the BO to the device: the jobs
// below reach it through bindings, without listing it, so no job boundary
// syncs it (under bounce buffers the device would read stale bytes).
void FillPattern(Bo &bo, uint32_t seed)
{
	for (uint64_t i = 0; i < bo.size() / 4; i++)
		bo.at<uint32_t>(0)[i] = seed + uint32_t(i);
	ASSERT_EQ(bo.Sync(0, bo.size(), DRM_NPU_BO_SYNC_TO_DEVICE), 0);
}

TEST_F(VmBind, ParamsDescribeTheBindableRange)
{
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_VA_START), kVaStart);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_VA_SIZE), kVaEnd);
}

// A job fills and copies through a bound address without listing the BO.
TEST_F(VmBind, AJobUsesABoundAddress)
{
	Bo bo(s->dev(), 4 * kPageSize);
	Bo dst(s->dev(), 4 * kPageSize);
	ASSERT_EQ(Map(s->dev(), bo, kBase), 0);
	Commands cmds;
	cmds.Fill(kBase, 0xb0b0b0b0, 2 * kPageSize);
	FillPattern(bo, 0); // the second half, read below
	Commands copy;
	copy.Copy(kBase + 2 * kPageSize, dst.addr(), 2 * kPageSize);
	uint64_t fill_seq = s->Submit(cmds);
	WaitResult r = s->Wait(fill_seq);
	ASSERT_EQ(r.err, 0);
	ASSERT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK)
		<< "fault at 0x" << std::hex << r.args.fault_addr;
	for (uint64_t i = 0; i < 2 * kPageSize / 4; i++)
		ASSERT_EQ(bo.ReadU32(4 * i), 0xb0b0b0b0u) << "word " << i;
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(copy, UsingBos({dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < 2 * kPageSize / 4; i++)
		ASSERT_EQ(dst.ReadU32(4 * i), uint32_t(2 * kPageSize / 4 + i)) << "word " << i;
	EXPECT_EQ(Unmap(s->dev(), kBase, bo.size()), 0);
}

// The driver's own addresses stay low, whatever userspace binds high
// (best fit would place the next BO right after a range bound in the upper
// half, in the middle of a shared-virtual-addressing runtime's range).
TEST_F(VmBind, BoCreateAddressesStayLowAfterAHighBind)
{
	const uint64_t high = 0x6000000000ull;
	Bo bo(s->dev(), kPageSize);
	ASSERT_EQ(Map(s->dev(), bo, high), 0);
	Bo next(s->dev(), kPageSize);
	EXPECT_LT(next.addr(), kBase) << "BO_CREATE chose 0x" << std::hex << next.addr();
	EXPECT_EQ(Unmap(s->dev(), high, bo.size()), 0);
}

// SUBMIT finds the command buffer at a range its BO is bound at, if the
// BO is listed; a bound range of an unlisted BO, or commands running past
// the bound range, are refused.
TEST_F(VmBind, CommandsAtABoundAddress)
{
	const uint64_t at = kBase + (3ull << 30);
	ASSERT_EQ(Map(s->dev(), s->cmd_bo(), at), 0);
	drm_npu_submit args = s->ValidSubmitArgs();
	const uint64_t offset = args.cmd_addr - s->cmd_bo().addr();
	args.cmd_addr = at + offset;
	ASSERT_EQ(s->SubmitRaw(args), 0);
	ASSERT_JOB_STATUS(s->WaitStatus(args.seqno), DRM_NPU_JOB_STATUS_OK);

	args = s->ValidSubmitArgs();
	args.cmd_addr = at + s->cmd_bo().size() - 8;
	args.cmd_size = 16;
	EXPECT_EQ(s->SubmitRaw(args), EINVAL) << "commands past the bound range";

	Bo other(s->dev(), kPageSize);
	const uint64_t other_at = at + (1ull << 30);
	ASSERT_EQ(Map(s->dev(), other, other_at), 0);
	args = s->ValidSubmitArgs();
	args.cmd_addr = other_at;
	EXPECT_EQ(s->SubmitRaw(args), EINVAL) << "a bound range of an unlisted BO";
	EXPECT_EQ(Unmap(s->dev(), other_at, other.size()), 0);
	EXPECT_EQ(Unmap(s->dev(), at, s->cmd_bo().size()), 0);
}

// Two bindings of one BO and its own address alias the same pages.
TEST_F(VmBind, ABoBoundTwiceAliases)
{
	Bo bo(s->dev(), 2 * kPageSize);
	Bo dst(s->dev(), 2 * kPageSize);
	const uint64_t a = kBase, b = kBase + (1ull << 30);
	ASSERT_EQ(Map(s->dev(), bo, a), 0);
	ASSERT_EQ(Map(s->dev(), bo, b), 0);
	Commands cmds;
	cmds.Fill(a, 0x11111111, kPageSize);		 // page 0 through a
	cmds.Fill(b + kPageSize, 0x22222222, kPageSize); // page 1 through b
	cmds.Copy(b, dst.addr(), 2 * kPageSize);	 // both back through b
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kPageSize / 4; i++) {
		ASSERT_EQ(dst.ReadU32(4 * i), 0x11111111u) << "word " << i;
		ASSERT_EQ(dst.ReadU32(kPageSize + 4 * i), 0x22222222u) << "word " << i;
		ASSERT_EQ(bo.ReadU32(4 * i), 0x11111111u) << "word " << i;
		ASSERT_EQ(bo.ReadU32(kPageSize + 4 * i), 0x22222222u) << "word " << i;
	}
	EXPECT_EQ(Unmap(s->dev(), a, bo.size()), 0);
	EXPECT_EQ(Unmap(s->dev(), b, bo.size()), 0);
}

// bo_offset selects the pages: [addr, addr + size) shows BO pages 1 and 2,
// and the page after the range is not mapped.
TEST_F(VmBind, APartialBindSeesTheRightBytes)
{
	Bo bo(s->dev(), 4 * kPageSize);
	Bo dst(s->dev(), 2 * kPageSize);
	FillPattern(bo, 0x70000000);
	ASSERT_EQ(Map(s->dev(), bo, kBase, kPageSize, 2 * kPageSize), 0);
	Commands cmds;
	cmds.Copy(kBase, dst.addr(), 2 * kPageSize);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < 2 * kPageSize / 4; i++)
		ASSERT_EQ(dst.ReadU32(4 * i), 0x70000000u + uint32_t(kPageSize / 4 + i))
			<< "word " << i;

	Commands past;
	past.Copy(kBase + 2 * kPageSize, dst.addr(), kPageSize);
	WaitResult r = s->Wait(s->Submit(past, UsingBos({dst.handle()})));
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, kBase + 2 * kPageSize);
}

// Rejections: each leaves nothing behind, so a valid MAP of the same range
// succeeds afterwards.
class VmBindReject : public VmBind
{
protected:
	void ExpectNothingBound()
	{
		EXPECT_EQ(Unmap(s->dev(), kBase, 2 * kPageSize), ENOENT);
		EXPECT_EQ(Map(s->dev(), *bo_, kBase), 0) << "a rejected MAP left something behind";
		EXPECT_EQ(Unmap(s->dev(), kBase, bo_->size()), 0);
	}
	void SetUp() override
	{
		VmBind::SetUp();
		bo_ = std::make_unique<Bo>(s->dev(), 2 * kPageSize);
	}
	void TearDown() override { bo_.reset(); }
	std::unique_ptr<Bo> bo_;
};

TEST_F(VmBindReject, UnknownOp)
{
	EXPECT_EQ(BindErr(s->dev(), 2, bo_->handle(), 0, kBase, kPageSize), EINVAL);
	EXPECT_EQ(BindErr(s->dev(), ~0u, bo_->handle(), 0, kBase, kPageSize), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, UnknownFlags)
{
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 0, 0, 1u << 1), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 0, 0, 1u << 31), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, NonZeroPad)
{
	EXPECT_EQ(
		BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, bo_->handle(), 0, kBase, kPageSize, 0, 1),
		EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, UnalignedAddr)
{
	EXPECT_EQ(Map(s->dev(), *bo_, kBase + 8), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase + kPageSize / 2), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, UnalignedSize)
{
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 0, kPageSize + 8), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 0, 100), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, UnalignedBoOffset)
{
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 8, kPageSize), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, ZeroSize)
{
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, bo_->handle(), 0, kBase, 0), EINVAL);
	EXPECT_EQ(Unmap(s->dev(), kBase, 0), EINVAL);
	ExpectNothingBound();
}

TEST_F(VmBindReject, OutsideTheBo)
{
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 0, 3 * kPageSize), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, kPageSize, 2 * kPageSize), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, 2 * kPageSize, kPageSize), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kBase, ~0ull & ~(kPageSize - 1), kPageSize), EINVAL)
		<< "bo_offset + size overflows";
	ExpectNothingBound();
}

TEST_F(VmBindReject, OutsideTheVaRange)
{
	EXPECT_EQ(Map(s->dev(), *bo_, 0), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kVaStart - kPageSize), EINVAL) << "straddles VA_START";
	EXPECT_EQ(Map(s->dev(), *bo_, kVaStart - 2 * kPageSize), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, kVaEnd - kPageSize), EINVAL) << "straddles the end";
	EXPECT_EQ(Map(s->dev(), *bo_, kVaEnd), EINVAL);
	EXPECT_EQ(Map(s->dev(), *bo_, ~0ull & ~(kPageSize - 1)), EINVAL) << "addr + size overflows";
	ExpectNothingBound();
	// the last pages of the range are bindable
	EXPECT_EQ(Map(s->dev(), *bo_, kVaEnd - bo_->size()), 0);
	EXPECT_EQ(Unmap(s->dev(), kVaEnd - bo_->size(), bo_->size()), 0);
}

TEST_F(VmBindReject, OverlappingABoCreateAddress)
{
	Bo other(s->dev(), 2 * kPageSize);
	EXPECT_EQ(Map(s->dev(), *bo_, other.addr()), EBUSY);
	EXPECT_EQ(Map(s->dev(), *bo_, other.addr() - kPageSize), EBUSY);
	EXPECT_EQ(Map(s->dev(), *bo_, other.addr() + kPageSize), EBUSY);
	// BO_CREATE's guard page belongs to its mapping
	EXPECT_EQ(Map(s->dev(), *bo_, other.addr() + other.size(), 0, kPageSize), EBUSY);
	ExpectNothingBound();
	// a new BO never lands on a bound range, even one right where the next
	// BO would go (after the last one's guard page; kBase is torn down
	// asynchronously, so not there)
	const uint64_t next = other.addr() + other.size() + kPageSize;
	ASSERT_EQ(Map(s->dev(), *bo_, next), 0);
	Bo later(s->dev(), kPageSize);
	EXPECT_TRUE(later.addr() + later.size() <= next || later.addr() >= next + bo_->size())
		<< std::hex << later.addr() << " overlaps the bind at " << next;
	EXPECT_EQ(Unmap(s->dev(), next, bo_->size()), 0);
}

TEST_F(VmBindReject, OverlappingAnotherBind)
{
	const uint64_t other = kBase + (1ull << 30);
	ASSERT_EQ(Map(s->dev(), *bo_, other), 0);
	EXPECT_EQ(Map(s->dev(), *bo_, other), EBUSY);
	EXPECT_EQ(Map(s->dev(), *bo_, other + kPageSize), EBUSY);
	EXPECT_EQ(Map(s->dev(), *bo_, other - kPageSize), EBUSY);
	EXPECT_EQ(Map(s->dev(), *bo_, other + kPageSize, kPageSize, kPageSize), EBUSY);
	// touching is not overlapping
	EXPECT_EQ(Map(s->dev(), *bo_, other + bo_->size()), 0);
	EXPECT_EQ(Map(s->dev(), *bo_, other - bo_->size()), 0);
	EXPECT_EQ(Unmap(s->dev(), other + bo_->size(), bo_->size()), 0);
	EXPECT_EQ(Unmap(s->dev(), other - bo_->size(), bo_->size()), 0);
	EXPECT_EQ(Unmap(s->dev(), other, bo_->size()), 0);
	ExpectNothingBound();
}

// Handles are per file: another file's handle number names nothing here.
TEST_F(VmBindReject, AnotherFilesHandle)
{
	Device other(s->dev().path());
	Bo theirs(other, 2 * kPageSize);
	uint32_t unused = theirs.handle();
	while (unused == bo_->handle() || unused == s->cmd_bo().handle() ||
	       unused == s->scratch().handle())
		unused++;
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, unused, 0, kBase, kPageSize), ENOENT);
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, 0, 0, kBase, kPageSize), ENOENT);
	ExpectNothingBound();
}

// A handle of this file naming another context's BO (GEM flink/open, which
// root may use on 6.12): that BO has no place in this address space. On
// kernels refusing flink on accel nodes (6.1: EACCES) no handle can name
// another context's BO, so only that refusal is checked.
TEST_F(VmBindReject, AnotherContextsBo)
{
	Device other(s->dev().path());
	Bo theirs(other, 2 * kPageSize);
	drm_gem_flink flink{};
	flink.handle = theirs.handle();
	int err = IoctlErrno(other.fd(), DRM_IOCTL_GEM_FLINK, &flink);
	if (err) {
		EXPECT_EQ(err, EACCES) << "flink failed otherwise than refused";
		ExpectNothingBound();
		return;
	}
	drm_gem_open open_args{};
	open_args.name = flink.name;
	ASSERT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_GEM_OPEN, &open_args), 0);
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, open_args.handle, 0, kBase, kPageSize),
		  EINVAL);
	drm_gem_close close_args{open_args.handle, 0};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_GEM_CLOSE, &close_args), 0);
	ExpectNothingBound();
}

TEST_F(VmBindReject, UnmapOfSomethingNotBound)
{
	EXPECT_EQ(Unmap(s->dev(), kBase, kPageSize), ENOENT);
	EXPECT_EQ(Unmap(s->dev(), bo_->addr(), bo_->size()), ENOENT) << "BO_CREATE's address";
	ASSERT_EQ(Map(s->dev(), *bo_, kBase), 0);
	EXPECT_EQ(Unmap(s->dev(), kBase, kPageSize), ENOENT) << "part of a bind";
	EXPECT_EQ(Unmap(s->dev(), kBase + kPageSize, kPageSize), ENOENT) << "part of a bind";
	EXPECT_EQ(Unmap(s->dev(), kBase, 4 * kPageSize), ENOENT) << "more than a bind";
	EXPECT_EQ(Unmap(s->dev(), kBase, bo_->size()), 0);
	EXPECT_EQ(Unmap(s->dev(), kBase, bo_->size()), ENOENT) << "unmapped twice";
}

TEST_F(VmBindReject, UnmapWithMapFields)
{
	ASSERT_EQ(Map(s->dev(), *bo_, kBase), 0);
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_UNMAP, bo_->handle(), 0, kBase, bo_->size()),
		  EINVAL);
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_UNMAP, 0, kPageSize, kBase, bo_->size()),
		  EINVAL);
	EXPECT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_UNMAP, 0, 0, kBase, bo_->size(),
			  DRM_NPU_VM_BIND_READ_ONLY),
		  EINVAL);
	EXPECT_EQ(Unmap(s->dev(), kBase, bo_->size()), 0) << "a rejected UNMAP unmapped";
}

// UNMAP while a gated job will read the range (the BO's handle closed too,
// so the binding holds the last reference): the job still reads the data,
// and a job submitted afterwards faults there once the range is torn down.
TEST_F(VmBind, UnmapWaitsForTheJobsSubmittedBefore)
{
	constexpr uint64_t kSize = 8 * kPageSize;
	auto src = std::make_unique<Bo>(s->dev(), kSize);
	Bo dst(s->dev(), kSize);
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	FillPattern(*src, 0x5eed0000);
	ASSERT_EQ(Map(s->dev(), *src, kBase), 0);

	Commands cmds;
	cmds.WaitMem(gate.addr(), 1);
	cmds.Copy(kBase, dst.addr(), kSize);
	uint64_t seqno = s->Submit(cmds, UsingBos({dst.handle(), gate.handle()}));
	ASSERT_EQ(s->Wait(seqno, 100).err, ETIME) << "the job did not wait on its gate";

	ASSERT_EQ(Unmap(s->dev(), kBase, kSize), 0);
	src.reset();
	EXPECT_EQ(Unmap(s->dev(), kBase, kSize), ENOENT) << "still in lookup after UNMAP";
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	gate.WriteU64(0, 1);
	WaitResult r = s->Wait(seqno, 20000);
	ASSERT_EQ(r.err, 0);
	ASSERT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK)
		<< "fault at 0x" << std::hex << r.args.fault_addr;
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(dst.ReadU32(4 * i), 0x5eed0000u + uint32_t(i)) << "word " << i;

	Commands late;
	late.Copy(kBase, dst.addr(), kPageSize);
	EXPECT_TRUE(Eventually([&] {
		WaitResult w = s->Wait(s->Submit(late, UsingBos({dst.handle()})));
		return w.err == 0 && w.args.job_status == DRM_NPU_JOB_STATUS_PAGE_FAULT &&
		       w.args.fault_addr == kBase;
	})) << "the unmapped range stayed mapped";
	s->ExpectWorks();
}

// Once torn down, an unmapped range can be bound again, to another BO.
TEST_F(VmBind, AnUnmappedRangeCanBeBoundAgain)
{
	Bo a(s->dev(), 2 * kPageSize), b(s->dev(), 2 * kPageSize), dst(s->dev(), kPageSize);
	b.WriteU64(0, 0xbbbbbbbbbbbbbbbbull);
	ASSERT_EQ(Map(s->dev(), a, kBase), 0);
	ASSERT_EQ(Unmap(s->dev(), kBase, a.size()), 0);
	int err = 0;
	EXPECT_TRUE(Eventually([&] { return (err = Map(s->dev(), b, kBase)) != EBUSY; }));
	ASSERT_EQ(err, 0);
	Commands cmds;
	cmds.Copy(kBase, dst.addr(), 8);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(dst.ReadU64(0), 0xbbbbbbbbbbbbbbbbull);
}

// Closing the file with bound ranges (handles closed) and a gated job that
// reads one: the job completes with the right data, then all is released.
TEST_F(VmBind, ClosingTheFileWithBindsAndARunningJob)
{
	constexpr uint64_t kSize = 8 * kPageSize;
	s.reset();
	auto ses = std::make_unique<Session>(std::make_unique<Device>(node_.dev_path));
	auto src = std::make_unique<Bo>(ses->dev(), kSize);
	auto dst = std::make_unique<Bo>(ses->dev(), kSize);
	auto gate = std::make_unique<Bo>(ses->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	FillPattern(*src, 0xc105e000);
	Mapping dst_view(*dst, ses->dev().fd()), gate_view(*gate, ses->dev().fd());
	ASSERT_EQ(Map(ses->dev(), *src, kBase), 0);
	ASSERT_EQ(Map(ses->dev(), *src, kBase + (1ull << 30)), 0);
	ASSERT_EQ(Map(ses->dev(), *dst, kBase + (2ull << 30)), 0);
	const int64_t bytes_before_close = Counter(node_.pci_bdf, "bo_bytes");

	Commands cmds;
	cmds.WaitMem(gate->addr(), 1);
	cmds.Copy(kBase, kBase + (2ull << 30), kSize);
	uint64_t seqno = ses->Submit(cmds, UsingBos({gate->handle()}));
	ASSERT_EQ(ses->Wait(seqno, 100).err, ETIME) << "the job did not wait on its gate";

	src.reset();
	dst.reset();
	gate.reset();
	ses.reset();
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	EXPECT_EQ(Counter(node_.pci_bdf, "bo_bytes"), bytes_before_close)
		<< "memory of a context with a running job was released";

	gate_view.u64()[0] = 1;
	EXPECT_TRUE(Eventually([&] { return dst_view.u32()[kSize / 4 - 1] != 0; }, 20000))
		<< "the job never wrote its result";
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(dst_view.u32()[i], 0xc105e000u + uint32_t(i)) << "word " << i;
	EXPECT_TRUE(Eventually([&] {
		return Counter(node_.pci_bdf, "bo_bytes") < bytes_before_close;
	})) << "the closed context's bound memory was never released";
}

// READ_ONLY binds, and binds of a read-only BO, fault on device writes and
// serve reads.
TEST_F(VmBind, AReadOnlyBindFaultsOnWrite)
{
	Bo bo(s->dev(), kPageSize);
	Bo ro_bo(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo dst(s->dev(), kPageSize);
	bo.WriteU64(0, 0x1234);
	const uint64_t rw = kBase, ro = kBase + kPageSize, ro2 = kBase + 2 * kPageSize;
	ASSERT_EQ(Map(s->dev(), bo, rw), 0);
	ASSERT_EQ(Map(s->dev(), bo, ro, 0, 0, DRM_NPU_VM_BIND_READ_ONLY), 0);
	ASSERT_EQ(Map(s->dev(), ro_bo, ro2), 0);

	for (uint64_t addr : {ro, ro2}) {
		Commands write;
		write.Fill(addr, 0xdead, 8);
		WaitResult r = s->Wait(s->Submit(write));
		ASSERT_EQ(r.err, 0);
		EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT)
			<< "write to 0x" << std::hex << addr;
		EXPECT_EQ(r.args.fault_addr, addr);
	}
	EXPECT_EQ(bo.ReadU64(0), 0x1234u);

	Commands read;
	read.Copy(ro, dst.addr(), 8);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(read, UsingBos({dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(dst.ReadU64(0), 0x1234u);
	Commands write_rw;
	write_rw.Fill(rw, 0x4321, 8);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(write_rw)), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(bo.ReadU32(0), 0x4321u);
	EXPECT_EQ(bo.ReadU32(4), 0x4321u);
}

// A dma-buf imported into this file is a BO of this file: it can be bound.
TEST_F(VmBind, AnImportedBoCanBeBound)
{
	Session exporter(std::make_unique<Device>(s->dev().path()));
	Bo shared(exporter.dev(), 2 * kPageSize);
	int fd = -1;
	ASSERT_EQ(drmPrimeHandleToFD(exporter.dev().fd(), shared.handle(), DRM_CLOEXEC | DRM_RDWR,
				     &fd),
		  0);
	uint32_t handle = 0;
	ASSERT_EQ(drmPrimeFDToHandle(s->dev().fd(), fd, &handle), 0);
	close(fd);
	ASSERT_EQ(BindErr(s->dev(), DRM_NPU_VM_BIND_OP_MAP, handle, 0, kBase, 2 * kPageSize), 0);
	// The job writes through the binding. It lists the imported BO so that
	// its completion syncs the importer's DMA mapping of the pages (its own
	// bounce buffer under swiotlb) for the CPU; the exporter's host mapping
	// is then read without syncing the exporter's mapping (whose bounce
	// buffer never saw the write).
	Commands cmds;
	cmds.Fill(kBase + kPageSize, 0x1e1e1e1e, kPageSize);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({handle}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(*shared.at<volatile uint32_t>(kPageSize), 0x1e1e1e1eu);
	EXPECT_EQ(*shared.at<volatile uint32_t>(2 * kPageSize - 4), 0x1e1e1e1eu);
	EXPECT_EQ(Unmap(s->dev(), kBase, 2 * kPageSize), 0);
	drm_gem_close close_args{handle, 0};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_GEM_CLOSE, &close_args), 0);
}

// Shared virtual addressing, as libnpu does it: the BO is mapped on the
// host at an address below the device VA limit and bound at that same
// address, so one pointer value is valid on both sides.
TEST_F(VmBind, OnePointerOnHostAndDevice)
{
	Bo bo(s->dev(), 4 * kPageSize);
	std::unique_ptr<Mapping> view;
	uint64_t addr = 0;
	for (uint64_t hint = kBase; hint < kVaEnd && !view; hint += 1ull << 32) {
		try {
			view = std::make_unique<Mapping>(bo, s->dev().fd(),
							 reinterpret_cast<void *>(hint),
							 MAP_FIXED_NOREPLACE);
		} catch (const std::system_error &) {
			continue;
		}
		if (view->ptr() != reinterpret_cast<void *>(hint)) { // pre-4.17 kernels
			view.reset();
			continue;
		}
		addr = hint;
	}
	ASSERT_TRUE(view) << "no free host range below 2^39";
	ASSERT_EQ(Map(s->dev(), bo, addr), 0);

	auto *p = static_cast<uint32_t *>(view->ptr());
	const uint64_t ptr = reinterpret_cast<uint64_t>(p);
	for (uint64_t i = 0; i < kPageSize / 4; i++)
		p[i] = 0xa11ce000 + uint32_t(i);
	// the job does not list the BO: sync what the CPU wrote and what the
	// device wrote (no job boundary does it for an unlisted BO)
	ASSERT_EQ(bo.Sync(0, kPageSize, DRM_NPU_BO_SYNC_TO_DEVICE), 0);
	// the device copies page 0 to page 2 and fills page 3, by host pointers
	Commands cmds;
	cmds.Copy(ptr, ptr + 2 * kPageSize, kPageSize);
	cmds.Fill(ptr + 3 * kPageSize, 0x5ca1ab1e, kPageSize);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds)), DRM_NPU_JOB_STATUS_OK);
	ASSERT_EQ(bo.Sync(2 * kPageSize, 2 * kPageSize, DRM_NPU_BO_SYNC_FROM_DEVICE), 0);
	auto *q = reinterpret_cast<volatile uint32_t *>(ptr);
	for (uint64_t i = 0; i < kPageSize / 4; i++) {
		ASSERT_EQ(q[2 * kPageSize / 4 + i], 0xa11ce000u + uint32_t(i)) << "word " << i;
		ASSERT_EQ(q[3 * kPageSize / 4 + i], 0x5ca1ab1eu) << "word " << i;
	}
	EXPECT_EQ(Unmap(s->dev(), addr, bo.size()), 0);
}

} // namespace
} // namespace npu_test
