// Module and device lifecycle against the live kernel: unload refused while
// a file is open, unload + reload, unbind/rebind under an open file. These
// reload the driver, so this file is linked last and its suite runs last.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "npu_test.h"

namespace npu_test
{
namespace
{

const char kDriverDir[] = "/sys/bus/pci/drivers/npu";

int WriteSysfs(const std::string &path, const std::string &value)
{
	int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, value.data(), value.size());
	int err = n == ssize_t(value.size()) ? 0 : (n < 0 ? errno : EIO);
	close(fd);
	return err;
}

int DeleteModule()
{
	return syscall(SYS_delete_module, "npu", O_NONBLOCK) == 0 ? 0 : errno;
}

int LoadModule(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	const char *params = std::getenv("NPU_MODULE_PARAMS");
	int ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	int err = ret == 0 ? 0 : errno;
	close(fd);
	return err;
}

bool HasNode(const std::string &bdf)
{
	for (const auto &n : FindNpuNodes())
		if (n.pci_bdf == bdf && access(n.dev_path.c_str(), F_OK) == 0)
			return true;
	return false;
}

// Binds the unbound function bdf again: its node comes back and works.
void BindAgainAndExpectWorks(const std::string &bdf)
{
	ASSERT_EQ(WriteSysfs(std::string(kDriverDir) + "/bind", bdf), 0) << "bind " << bdf;
	static std::string wanted;
	wanted = bdf;
	ASSERT_TRUE(
		WaitForNodes([](const std::vector<NodeInfo> &) { return HasNode(wanted); }, 20000))
		<< "no node after rebinding " << bdf;
	for (const auto &node : FindNpuNodes())
		if (node.pci_bdf == bdf)
			Session(std::make_unique<Device>(node.dev_path)).ExpectWorks();
}

class ZModuleLifecycle : public ::testing::Test
{
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root";
		nodes_ = FindNpuNodes();
		ASSERT_FALSE(nodes_.empty()) << "no npu device found";
	}
	std::vector<NodeInfo> nodes_;
};

TEST_F(ZModuleLifecycle, UnloadRefusedWhileAFileIsOpen)
{
	Session s(std::make_unique<Device>(nodes_[0].dev_path));
	int err = DeleteModule();
	// The kernel reports a module in use as EWOULDBLOCK (EAGAIN).
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY) << "delete_module(npu) with an open file: "
							<< (err ? std::strerror(err) : "succeeded");
	ASSERT_NE(err, 0) << "the module unloaded under an open file";
	EXPECT_GT(ReadSysfsNumber("/sys/module/npu/refcnt"), 0u);
	s.ExpectWorks();
}

TEST_F(ZModuleLifecycle, UnloadAndReload)
{
	const char *module = std::getenv("NPU_MODULE");
	if (!module || !*module)
		GTEST_SKIP() << "NPU_MODULE (path of npu.ko) is not set";
	size_t count = nodes_.size();

	// File references drop at close; give deferred releases a moment.
	int err = EWOULDBLOCK;
	for (int i = 0; i < 100 && (err == EWOULDBLOCK || err == EBUSY); i++) {
		err = DeleteModule();
		if (err)
			usleep(20000);
	}
	ASSERT_EQ(err, 0) << "rmmod npu with no open file: " << std::strerror(err);
	EXPECT_FALSE(std::filesystem::exists("/sys/module/npu"));
	EXPECT_TRUE(FindNpuNodes().empty());
	EXPECT_NE(access(nodes_[0].dev_path.c_str(), F_OK), 0)
		<< nodes_[0].dev_path << " still exists";

	ASSERT_EQ(LoadModule(module), 0) << "insmod " << module;
	static size_t expected;
	expected = count;
	ASSERT_TRUE(WaitForNodes(
		[](const std::vector<NodeInfo> &n) { return n.size() == expected; }, 20000))
		<< "not every device came back after insmod";
	for (const auto &node : FindNpuNodes()) {
		Session s(std::make_unique<Device>(node.dev_path));
		s.ExpectWorks();
	}
}

TEST_F(ZModuleLifecycle, UnbindWithOpenFileThenRebind)
{
	const std::string bdf = nodes_[0].pci_bdf;
	auto s = std::make_unique<Session>(std::make_unique<Device>(nodes_[0].dev_path));
	Bo bo(s->dev(), kPageSize);
	bo.WriteU64(0, 1);
	s->ExpectWorks();

	ASSERT_EQ(WriteSysfs(std::string(kDriverDir) + "/unbind", bdf), 0) << "unbind " << bdf;
	EXPECT_FALSE(HasNode(bdf)) << "node still listed after unbind";

	// The old file outlives the device: every ioctl answers ENODEV.
	drm_npu_get_param param{DRM_NPU_PARAM_DEVICE_ID, 0, 0};
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_GET_PARAM, &param), ENODEV);
	drm_npu_bo_create create{};
	create.size = kPageSize;
	EXPECT_EQ(IoctlErrno(s->dev().fd(), DRM_IOCTL_NPU_BO_CREATE, &create), ENODEV);
	drm_npu_submit submit = s->ValidSubmitArgs();
	EXPECT_EQ(s->SubmitRaw(submit), ENODEV);
	EXPECT_EQ(s->Wait(1, 100).err, ENODEV);

	s.reset(); // closes the BOs and the file on a gone device
	BindAgainAndExpectWorks(bdf);
}

TEST_F(ZModuleLifecycle, UnbindWithAJobInFlight)
{
	const std::string bdf = nodes_[0].pci_bdf;
	auto s = std::make_unique<Session>(std::make_unique<Device>(nodes_[0].dev_path));
	Bo mem(s->dev(), kPageSize);
	Commands cmds;
	cmds.WaitMem(mem.addr(), 1); // never released
	uint64_t seqno = s->Submit(cmds, UsingBos({mem.handle()}));
	ASSERT_EQ(s->Wait(seqno, 50).err, ETIME);

	int64_t start = MonotonicNs();
	ASSERT_EQ(WriteSysfs(std::string(kDriverDir) + "/unbind", bdf), 0) << "unbind " << bdf;
	EXPECT_LT((MonotonicNs() - start) / 1000000, 10000) << "unbind hung on the stuck job";
	EXPECT_EQ(s->Wait(seqno, 1000).err, ENODEV);
	s.reset();

	BindAgainAndExpectWorks(bdf);
}

// The file is closed while its job never ends, then the device is unbound:
// failing that job releases its address space, the last holder of the DRM
// device, from the scheduler's own work. The device must still go away
// cleanly (no hang, no kernel report) and bind again.
TEST_F(ZModuleLifecycle, UnbindAfterClosingAFileWithAStuckJob)
{
	const std::string bdf = nodes_[0].pci_bdf;
	{
		Session s(std::make_unique<Device>(nodes_[0].dev_path));
		Bo mem(s.dev(), kPageSize);
		Commands cmds;
		cmds.WaitMem(mem.addr(), 1); // never released
		uint64_t seqno = s.Submit(cmds, UsingBos({mem.handle()}));
		ASSERT_EQ(s.Wait(seqno, 50).err, ETIME);
	} // closed with the job on the device

	int64_t start = MonotonicNs();
	ASSERT_EQ(WriteSysfs(std::string(kDriverDir) + "/unbind", bdf), 0) << "unbind " << bdf;
	EXPECT_LT((MonotonicNs() - start) / 1000000, 10000) << "unbind hung on the stuck job";

	BindAgainAndExpectWorks(bdf);
}

// A process keeps a user-mode queue mapped across unbind: the mapping is
// revoked before the device's BARs and rings go (accesses SIGBUS), and
// closing the file afterwards frees the queue without touching the device.
TEST_F(ZModuleLifecycle, UnbindRevokesUserQueueMappings)
{
	const std::string bdf = nodes_[0].pci_bdf;
	auto dev = std::make_unique<Device>(nodes_[0].dev_path);
	if (dev->Param(DRM_NPU_PARAM_UQUEUE_COUNT) == 0) {
		// bounce buffers: uqueue_test.cpp checks that there is none
		drm_npu_uqueue_create args{};
		args.eventfd = -1;
		EXPECT_EQ(IoctlErrno(dev->fd(), DRM_IOCTL_NPU_UQUEUE_CREATE, &args), EOPNOTSUPP);
		return;
	}
	drm_npu_uqueue_create args{};
	args.eventfd = -1;
	ASSERT_EQ(IoctlErrno(dev->fd(), DRM_IOCTL_NPU_UQUEUE_CREATE, &args), 0);
	void *map = mmap(nullptr, args.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd(),
			 off_t(args.mmap_offset));
	ASSERT_NE(map, MAP_FAILED);
	EXPECT_EQ(static_cast<volatile drm_npu_uqueue_control *>(map)->done_seqno, 0u);
	// A mark in the ring (a descriptor the tail does not cover yet).
	auto *ring_word = reinterpret_cast<volatile uint64_t *>(static_cast<uint8_t *>(map) +
								args.ring_offset);
	*ring_word = 0xa5a5a5a5a5a5a5a5ull;

	ASSERT_EQ(WriteSysfs(std::string(kDriverDir) + "/unbind", bdf), 0) << "unbind " << bdf;
	// Revoked: neither the BARs nor the ring are reachable any more. A
	// process that polls its control page without a system call (libnpu)
	// is not killed: it reads zeroes (no progress) from pages of its own
	// until its next ioctl reports ENODEV.
	for (uint64_t offset : {uint64_t(0), uint64_t(args.ring_offset)}) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			const uint64_t seen = *reinterpret_cast<volatile uint64_t *>(
				static_cast<uint8_t *>(map) + offset);
			_exit(seen == 0 ? 0 : 1);
		}
		int status = 0;
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			<< "offset " << offset << " still reaches the queue after unbind (status "
			<< status << ")";
	}
	EXPECT_EQ(*ring_word, 0u) << "the ring is still mapped after unbind";
	munmap(map, args.mmap_size);
	dev.reset(); // destroys the queue on a gone device
	BindAgainAndExpectWorks(bdf);
}

} // namespace
} // namespace npu_test
