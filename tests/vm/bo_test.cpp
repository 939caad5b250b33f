// BO_CREATE / BO_INFO / mmap: sizes, device addresses, host mappings, and
// every rejection.
#include <sys/mman.h>

#include <algorithm>

#include "npu_test.h"

namespace npu_test
{
namespace
{

using Bos = NpuTest;

drm_npu_bo_info Info(const Device &dev, uint32_t handle, int *err)
{
	drm_npu_bo_info info{};
	info.handle = handle;
	*err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_BO_INFO, &info);
	return info;
}

TEST_F(Bos, SizeRoundsUpToPages)
{
	const std::pair<uint64_t, uint64_t> cases[] = {{1, kPageSize},
						       {kPageSize, kPageSize},
						       {kPageSize + 1, 2 * kPageSize},
						       {5 * kPageSize - 7, 5 * kPageSize},
						       {1 << 20, 1 << 20}};
	for (auto [asked, expected] : cases) {
		Bo bo(s->dev(), asked);
		EXPECT_EQ(bo.size(), expected) << "asked " << asked;
	}
}

TEST_F(Bos, InfoDescribesTheObject)
{
	drm_npu_bo_create create{};
	create.size = 3 * kPageSize;
	create.flags = DRM_NPU_BO_DEVICE_READ_ONLY;
	ASSERT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_CREATE, &create), 0);
	EXPECT_NE(create.handle, 0u);
	int err;
	drm_npu_bo_info info = Info(s->dev(), create.handle, &err);
	ASSERT_EQ(err, 0);
	EXPECT_EQ(info.size, 3 * kPageSize);
	EXPECT_EQ(info.flags, uint32_t(DRM_NPU_BO_DEVICE_READ_ONLY));
	EXPECT_EQ(info.device_addr, create.device_addr);
	EXPECT_NE(info.mmap_offset, 0u);
	EXPECT_EQ(info.mmap_offset % kPageSize, 0u);
	drm_gem_close close_args{create.handle, 0};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_GEM_CLOSE, &close_args), 0);
	Info(s->dev(), create.handle, &err);
	EXPECT_EQ(err, ENOENT) << "BO_INFO on a closed handle";
}

TEST_F(Bos, DeviceAddressesAreAlignedAndDisjoint)
{
	std::vector<std::unique_ptr<Bo>> bos;
	for (uint64_t size :
	     {kPageSize, 3 * kPageSize, uint64_t(1) << 20, kPageSize, 64 * kPageSize + 1})
		bos.push_back(std::make_unique<Bo>(s->dev(), size));
	uint64_t va_size = s->dev().Param(DRM_NPU_PARAM_VA_SIZE);
	for (size_t i = 0; i < bos.size(); i++) {
		const Bo &a = *bos[i];
		EXPECT_NE(a.addr(), 0u);
		EXPECT_EQ(a.addr() % kPageSize, 0u) << std::hex << a.addr();
		EXPECT_LE(a.addr() + a.size(), va_size);
		for (size_t j = i + 1; j < bos.size(); j++) {
			const Bo &b = *bos[j];
			bool disjoint =
				a.addr() + a.size() <= b.addr() || b.addr() + b.size() <= a.addr();
			EXPECT_TRUE(disjoint)
				<< std::hex << "[" << a.addr() << ", +" << a.size()
				<< ") overlaps [" << b.addr() << ", +" << b.size() << ")";
		}
	}
}

TEST_F(Bos, MappingIsZeroedAndWritable)
{
	Bo bo(s->dev(), 16 * kPageSize);
	uint8_t *p = bo.map();
	EXPECT_TRUE(std::all_of(p, p + bo.size(), [](uint8_t b) { return b == 0; }))
		<< "new BO memory is not zeroed";
	for (uint64_t i = 0; i < bo.size(); i += 8)
		*bo.at<uint64_t>(i) = i * 0x9e3779b97f4a7c15ull;
	// A second, independent mapping sees the same pages.
	void *q = mmap(nullptr, bo.size(), PROT_READ, MAP_SHARED, s->dev().fd(),
		       static_cast<off_t>(bo.mmap_offset()));
	ASSERT_NE(q, MAP_FAILED);
	for (uint64_t i = 0; i < bo.size(); i += 8)
		ASSERT_EQ(static_cast<uint64_t *>(q)[i / 8], i * 0x9e3779b97f4a7c15ull)
			<< "offset " << i;
	munmap(q, bo.size());
}

TEST_F(Bos, ReadOnlyBoIsHostWritable)
{
	Bo bo(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	bo.WriteU64(8, 0x1122334455667788ull);
	EXPECT_EQ(bo.ReadU64(8), 0x1122334455667788ull);
}

TEST_F(Bos, CreateRejectsZeroSize)
{
	drm_npu_bo_create create{};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_CREATE, &create), EINVAL);
}

TEST_F(Bos, CreateRejectsHugeSizes)
{
	uint64_t va_size = s->dev().Param(DRM_NPU_PARAM_VA_SIZE);
	for (uint64_t size :
	     {va_size + kPageSize, uint64_t(1) << 62, ~uint64_t(0), ~kPageSize + 2}) {
		drm_npu_bo_create create{};
		create.size = size;
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_CREATE, &create), EINVAL)
			<< std::hex << "size 0x" << size;
	}
	s->ExpectWorks();
}

TEST_F(Bos, CreateRejectsUnknownFlags)
{
	for (uint32_t flags : {uint32_t(DRM_NPU_BO_FLAGS) << 1, 0x80000000u, ~0u}) {
		drm_npu_bo_create create{};
		create.size = kPageSize;
		create.flags = flags;
		EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_CREATE, &create), EINVAL)
			<< std::hex << "flags 0x" << flags;
	}
}

TEST_F(Bos, InfoRejectsUnknownHandle)
{
	int err;
	Info(s->dev(), 0, &err);
	EXPECT_EQ(err, ENOENT) << "handle 0";
	Info(s->dev(), 0x7fffffff, &err);
	EXPECT_EQ(err, ENOENT) << "handle 0x7fffffff";
}

TEST_F(Bos, InfoRejectsNonZeroFlags)
{
	Bo bo(s->dev(), kPageSize);
	drm_npu_bo_info info{};
	info.handle = bo.handle();
	info.flags = DRM_NPU_BO_DEVICE_READ_ONLY;
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_INFO, &info), EINVAL);
}

TEST_F(Bos, HandlesArePerFile)
{
	Bo bo(s->dev(), kPageSize);
	Device other(s->dev().path());
	int err;
	Info(other, bo.handle(), &err);
	EXPECT_EQ(err, ENOENT) << "a handle from another file resolved";
}

TEST_F(Bos, MmapBeyondTheObjectFails)
{
	Bo bo(s->dev(), kPageSize);
	void *p = mmap(nullptr, 2 * kPageSize, PROT_READ, MAP_SHARED, s->dev().fd(),
		       static_cast<off_t>(bo.mmap_offset()));
	EXPECT_EQ(p, MAP_FAILED) << "mapped two pages of a one-page BO";
	if (p != MAP_FAILED)
		munmap(p, 2 * kPageSize);
}

} // namespace
} // namespace npu_test
