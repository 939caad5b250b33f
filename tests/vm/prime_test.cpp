// PRIME: a BO exported as a dma-buf by one context is imported by another
// context of the same device, or by a context of another NPU, and used by
// jobs there: the importer's jobs read and write the exporter's pages, a
// read-only BO stays read-only, and implicit sync spans both contexts
// (the import shares the exporter's reservation object).
#include <fcntl.h>
#include <unistd.h>
#include <xf86drm.h>

#include <cstring>

#include "npu_test.h"

namespace npu_test
{
namespace
{

// A dma-buf fd of one of dev's handles, closed with the object.
class DmaBuf
{
public:
	DmaBuf(const Device &dev, uint32_t handle)
	{
		int err = drmPrimeHandleToFD(dev.fd(), handle, DRM_CLOEXEC | DRM_RDWR, &fd_);
		if (err)
			throw std::system_error(errno, std::generic_category(),
						"PRIME_HANDLE_TO_FD");
	}
	~DmaBuf() { close(fd_); }
	DmaBuf(const DmaBuf &) = delete;
	DmaBuf &operator=(const DmaBuf &) = delete;
	int fd() const { return fd_; }

private:
	int fd_ = -1;
};

// What another context sees of an imported dma-buf: its handle and device
// address there.
struct Imported {
	Imported(const Device &dev, const DmaBuf &buf)
	{
		if (drmPrimeFDToHandle(dev.fd(), buf.fd(), &handle))
			throw std::system_error(errno, std::generic_category(),
						"PRIME_FD_TO_HANDLE");
		drm_npu_bo_info info{};
		info.handle = handle;
		int err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_BO_INFO, &info);
		if (err)
			throw std::system_error(err, std::generic_category(), "BO_INFO");
		addr = info.device_addr;
		size = info.size;
		flags = info.flags;
	}
	uint32_t handle = 0;
	uint64_t addr = 0;
	uint64_t size = 0;
	uint32_t flags = 0;
};

constexpr uint64_t kSize = 4 * kPageSize;

class Prime : public NpuTest
{
};

// Context B fills a BO context A exported; A sees B's data, and B's job
// reads what A wrote from the host.
TEST_F(Prime, AnotherContextUsesAnImportedBo)
{
	Bo shared(s->dev(), kSize);
	for (uint64_t i = 0; i < kSize / 4; i++)
		shared.at<uint32_t>(0)[i] = 0x1000 + uint32_t(i);
	DmaBuf buf(s->dev(), shared.handle());

	Session other(std::make_unique<Device>(s->dev().path()));
	Imported in(other.dev(), buf);
	EXPECT_EQ(in.size, kSize);
	EXPECT_EQ(in.flags, 0u);
	Bo copy(other.dev(), kSize);
	Commands read;
	read.Copy(in.addr, copy.addr(), kSize);
	ASSERT_JOB_STATUS(
		other.WaitStatus(other.Submit(read, UsingBos({in.handle, copy.handle()}))),
		DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(copy.at<uint32_t>(0)[i], 0x1000 + uint32_t(i)) << "word " << i;

	Commands write;
	write.Fill(in.addr, 0xfeedf00d, kSize);
	ASSERT_JOB_STATUS(other.WaitStatus(other.Submit(write, UsingBos({in.handle}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(shared.at<uint32_t>(0)[i], 0xfeedf00du) << "word " << i;
}

// The import outlives the exporter's handle and file: the pages stay.
TEST_F(Prime, AnImportKeepsThePagesAfterTheExporterCloses)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	std::unique_ptr<Imported> in;
	{
		Device exporter(s->dev().path());
		Bo bo(exporter, kSize);
		std::memset(bo.map(), 0x5c, kSize);
		DmaBuf buf(exporter, bo.handle());
		in = std::make_unique<Imported>(other.dev(), buf);
	}
	Bo copy(other.dev(), kSize);
	Commands read;
	read.Copy(in->addr, copy.addr(), kSize);
	ASSERT_JOB_STATUS(
		other.WaitStatus(other.Submit(read, UsingBos({in->handle, copy.handle()}))),
		DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kSize; i++)
		ASSERT_EQ(copy.map()[i], 0x5c) << "byte " << i;
}

// A BO created read-only for the device stays read-only in the importer.
TEST_F(Prime, AReadOnlyBoStaysReadOnlyForTheImporter)
{
	Bo shared(s->dev(), kSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	DmaBuf buf(s->dev(), shared.handle());
	Session other(std::make_unique<Device>(s->dev().path()));
	Imported in(other.dev(), buf);
	EXPECT_EQ(in.flags, uint32_t(DRM_NPU_BO_DEVICE_READ_ONLY));
	Commands write;
	write.Fill(in.addr, 1, kPageSize);
	WaitResult r = other.Wait(other.Submit(write, UsingBos({in.handle})));
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.fault_addr, in.addr);
}

// A's job writes the BO after a gate; B's job reading the import waits for
// it without any syncobj, as for a BO both contexts share.
TEST_F(Prime, ImplicitSyncSpansExporterAndImporter)
{
	Bo shared(s->dev(), kSize);
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	DmaBuf buf(s->dev(), shared.handle());
	Commands produce;
	produce.WaitMem(gate.addr(), 1);
	produce.Fill(shared.addr(), 0xabad1dea, kSize);
	uint64_t producer = s->Submit(produce, UsingBos({shared.handle(), gate.handle()}));

	Session other(std::make_unique<Device>(s->dev().path()));
	Imported in(other.dev(), buf);
	Bo copy(other.dev(), kSize);
	Commands consume;
	consume.Copy(in.addr, copy.addr(), kSize);
	uint64_t consumer = other.Submit(consume, UsingBos({in.handle, copy.handle()}));
	EXPECT_EQ(other.Wait(consumer, 300).err, ETIME) << "the reader ran before the writer";

	gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(producer, 20000), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(other.WaitStatus(consumer, 20000), DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(copy.at<uint32_t>(0)[i], 0xabad1deau) << "word " << i;
}

// A dma-buf of another NPU: this device's jobs write it, the exporter's
// host mapping sees the data.
TEST_F(Prime, ABoOfAnotherDeviceIsImported)
{
	auto nodes = FindNpuNodes();
	ASSERT_GE(nodes.size(), 2u) << "the VM lanes boot two NPUs";
	Device exporter(nodes[1].dev_path);
	Bo theirs(exporter, kSize);
	std::memset(theirs.map(), 0, kSize);
	DmaBuf buf(exporter, theirs.handle());

	Session mine(std::make_unique<Device>(nodes[0].dev_path));
	Imported in(mine.dev(), buf);
	Commands write;
	write.Fill(in.addr, 0x0dd0cafe, kSize);
	ASSERT_JOB_STATUS(mine.WaitStatus(mine.Submit(write, UsingBos({in.handle}))),
			  DRM_NPU_JOB_STATUS_OK);
	for (uint64_t i = 0; i < kSize / 4; i++)
		ASSERT_EQ(theirs.at<uint32_t>(0)[i], 0x0dd0cafeu) << "word " << i;
}

} // namespace
} // namespace npu_test
