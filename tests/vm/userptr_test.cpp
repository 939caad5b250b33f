// DRM_IOCTL_NPU_USERPTR (uapi/drm/npu_accel.h): a buffer object of
// existing process memory. The device and the process share the very
// pages: a job writes what the process reads at its own pointer, a binding
// at the host address makes one pointer for both, read-only registrations
// fault on device writes, and every invalid field is refused.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>

#include <cstring>

#include "npu_test.h"

namespace npu_test
{
namespace
{

constexpr uint64_t kVaEnd = 1ull << 39;

struct UserptrArgs {
	drm_npu_userptr args{};
	int err = 0;
};

UserptrArgs Register(const Device &dev, const void *addr, uint64_t size, uint32_t flags = 0)
{
	UserptrArgs r;
	r.args.addr = reinterpret_cast<uintptr_t>(addr);
	r.args.size = size;
	r.args.flags = flags;
	r.err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_USERPTR, &r.args);
	return r;
}

int RegisterErr(const Device &dev, drm_npu_userptr args)
{
	return IoctlErrno(dev.fd(), DRM_IOCTL_NPU_USERPTR, &args);
}

void Close(const Device &dev, uint32_t handle)
{
	drm_gem_close args{};
	args.handle = handle;
	EXPECT_EQ(IoctlErrno(dev.fd(), DRM_IOCTL_GEM_CLOSE, &args), 0);
}

// Anonymous memory of n pages, optionally at a fixed address.
class Anon
{
public:
	explicit Anon(size_t pages, void *at = nullptr, int prot = PROT_READ | PROT_WRITE)
	    : size_(pages * kPageSize)
	{
		ptr_ = mmap(at, size_, prot,
			    MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);
		if (ptr_ == MAP_FAILED)
			throw std::system_error(errno, std::generic_category(), "mmap");
	}
	~Anon() { munmap(ptr_, size_); }
	Anon(const Anon &) = delete;
	Anon &operator=(const Anon &) = delete;
	uint32_t *u32() { return static_cast<uint32_t *>(ptr_); }
	void *ptr() { return ptr_; }
	size_t size() const { return size_; }

private:
	void *ptr_;
	size_t size_;
};

using Userptr = NpuTest;

TEST_F(Userptr, TheDeviceWritesTheProcessPages)
{
	Anon mem(4);
	for (size_t i = 0; i < mem.size() / 4; i++)
		mem.u32()[i] = 0x1000 + uint32_t(i);
	UserptrArgs r = Register(s->dev(), mem.ptr(), mem.size());
	ASSERT_EQ(r.err, 0);
	ASSERT_NE(r.args.handle, 0u);
	ASSERT_NE(r.args.device_addr, 0u);
	const uint64_t va = r.args.device_addr;
	Commands cmds;
	cmds.Copy(va, va + 2 * kPageSize, kPageSize);	  // page 0 -> page 2
	cmds.Fill(va + 3 * kPageSize + 4, 0xfeedbeef, 8); // two words of page 3
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({r.args.handle}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (size_t i = 0; i < kPageSize / 4; i++)
		ASSERT_EQ(mem.u32()[2 * kPageSize / 4 + i], 0x1000 + uint32_t(i)) << i;
	EXPECT_EQ(mem.u32()[3 * kPageSize / 4], 0x1000 + 3 * kPageSize / 4);
	EXPECT_EQ(mem.u32()[3 * kPageSize / 4 + 1], 0xfeedbeefu);
	EXPECT_EQ(mem.u32()[3 * kPageSize / 4 + 2], 0xfeedbeefu);
	EXPECT_EQ(mem.u32()[3 * kPageSize / 4 + 3], 0x1000 + 3 * kPageSize / 4 + 3);
	Close(s->dev(), r.args.handle);
}

// Memory below 2^39 bound at its own address: one pointer on both sides.
TEST_F(Userptr, BoundAtItsHostAddress)
{
	std::unique_ptr<Anon> mem;
	for (uint64_t hint = 0x5000000000ull; hint < kVaEnd && !mem; hint += 1ull << 32) {
		try {
			mem = std::make_unique<Anon>(2, reinterpret_cast<void *>(hint));
		} catch (const std::system_error &) {
			continue;
		}
		if (mem->ptr() != reinterpret_cast<void *>(hint))
			mem.reset(); // pre-4.17 kernels take the address as a hint
	}
	ASSERT_TRUE(mem) << "no free host range below 2^39";
	UserptrArgs r = Register(s->dev(), mem->ptr(), mem->size());
	ASSERT_EQ(r.err, 0);
	drm_npu_vm_bind bind{};
	bind.op = DRM_NPU_VM_BIND_OP_MAP;
	bind.handle = r.args.handle;
	bind.addr = reinterpret_cast<uintptr_t>(mem->ptr());
	bind.size = mem->size();
	ASSERT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_VM_BIND, &bind), 0);
	mem->u32()[5] = 0xabad1dea;
	const uint64_t p = reinterpret_cast<uintptr_t>(mem->ptr());
	Commands cmds;
	cmds.Copy(p + 20, p + kPageSize + 20, 4);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({r.args.handle}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(mem->u32()[kPageSize / 4 + 5], 0xabad1deau);
	bind.op = DRM_NPU_VM_BIND_OP_UNMAP;
	bind.handle = 0;
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_VM_BIND, &bind), 0);
	Close(s->dev(), r.args.handle);
}

TEST_F(Userptr, ReadOnlyRegistrationFaultsOnDeviceWrites)
{
	Anon mem(1, nullptr, PROT_READ);
	EXPECT_EQ(Register(s->dev(), mem.ptr(), mem.size()).err, EFAULT)
		<< "a read-only mapping pinned for writing";
	UserptrArgs r = Register(s->dev(), mem.ptr(), mem.size(), DRM_NPU_USERPTR_DEVICE_READ_ONLY);
	ASSERT_EQ(r.err, 0);
	Bo dst(s->dev(), kPageSize);
	Commands read;
	read.Copy(r.args.device_addr, dst.addr(), kPageSize);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(read, UsingBos({r.args.handle, dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(dst.ReadU32(0), 0u);
	Commands write;
	write.Fill(r.args.device_addr, 1, 4);
	WaitResult w = s->Wait(s->Submit(write, UsingBos({r.args.handle})));
	ASSERT_EQ(w.err, 0);
	EXPECT_JOB_STATUS(w.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	Close(s->dev(), r.args.handle);
	s->ExpectWorks();
}

TEST_F(Userptr, NoMmapNoExport)
{
	Anon mem(1);
	UserptrArgs r = Register(s->dev(), mem.ptr(), mem.size());
	ASSERT_EQ(r.err, 0);
	drm_npu_bo_info info{};
	info.handle = r.args.handle;
	ASSERT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_INFO, &info), 0);
	EXPECT_EQ(info.size, mem.size());
	void *view = mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED, s->dev().fd(),
			  static_cast<off_t>(info.mmap_offset));
	EXPECT_EQ(view, MAP_FAILED);
	if (view != MAP_FAILED)
		munmap(view, kPageSize);
	int fd = -1;
	EXPECT_NE(drmPrimeHandleToFD(s->dev().fd(), r.args.handle, DRM_CLOEXEC, &fd), 0);
	if (fd >= 0)
		close(fd);
	Close(s->dev(), r.args.handle);
}

// The pages stay pinned after the process unmaps them: a job still sees them.
TEST_F(Userptr, PagesOutliveTheProcessMapping)
{
	auto mem = std::make_unique<Anon>(1);
	mem->u32()[7] = 0x77777777;
	UserptrArgs r = Register(s->dev(), mem->ptr(), mem->size());
	ASSERT_EQ(r.err, 0);
	mem.reset();
	Bo dst(s->dev(), kPageSize);
	Commands cmds;
	cmds.Copy(r.args.device_addr + 28, dst.addr(), 4);
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds, UsingBos({r.args.handle, dst.handle()}))),
			  DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(dst.ReadU32(0), 0x77777777u);
	Close(s->dev(), r.args.handle);
}

TEST_F(Userptr, InvalidArgumentsAreRefused)
{
	Anon mem(2);
	const uint64_t addr = reinterpret_cast<uintptr_t>(mem.ptr());
	auto valid = [&] {
		drm_npu_userptr a{};
		a.addr = addr;
		a.size = kPageSize;
		return a;
	};
	drm_npu_userptr a = valid();
	a.flags = 1u << 31;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "unknown flag";
	a = valid();
	a.handle = 1;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "handle not zero";
	a = valid();
	a.device_addr = 4096;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "device_addr not zero";
	a = valid();
	a.size = 0;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "size 0";
	a = valid();
	a.size = 100;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "size not page-aligned";
	a = valid();
	a.addr = addr + 8;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "address not page-aligned";
	a = valid();
	a.addr = 0;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "address 0";
	a = valid();
	a.size = (1ull << 30) + kPageSize;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "over 1 GiB";
	a = valid();
	a.addr = ~0ull & ~(kPageSize - 1);
	a.size = 2 * kPageSize;
	EXPECT_EQ(RegisterErr(s->dev(), a), EINVAL) << "range wraps";
	a = valid();
	a.addr = 0xffff800000000000ull;
	EXPECT_EQ(RegisterErr(s->dev(), a), EFAULT) << "kernel address";
	// a hole: the second page unmapped
	munmap(static_cast<char *>(mem.ptr()) + kPageSize, kPageSize);
	a = valid();
	a.size = 2 * kPageSize;
	EXPECT_EQ(RegisterErr(s->dev(), a), EFAULT) << "unmapped page";
	UserptrArgs ok = Register(s->dev(), mem.ptr(), kPageSize);
	EXPECT_EQ(ok.err, 0) << "the first page alone is fine";
	if (ok.err == 0)
		Close(s->dev(), ok.args.handle);
	s->ExpectWorks();
}

} // namespace
} // namespace npu_test
