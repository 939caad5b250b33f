// Per-file kernel objects are charged to the opener's memory cgroup
// (GFP_KERNEL_ACCOUNT: contexts, address spaces, queues, jobs, BO
// bookkeeping): a process keeping thousands of jobs alive (each context
// queue's WAIT history holds the last DRM_NPU_WAIT_HISTORY) sees them in
// its cgroup's slab_unreclaimable, and they go when the file closes.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "npu_test.h"

namespace npu_test
{
namespace
{

constexpr uint32_t kQueues = 8;

bool WriteFile(const std::string &path, const std::string &text)
{
	std::ofstream out(path);
	out << text << std::flush;
	return static_cast<bool>(out);
}

uint64_t MemoryStat(const std::string &cgroup, const std::string &key)
{
	std::ifstream in(cgroup + "/memory.stat");
	std::string name;
	uint64_t value;
	while (in >> name >> value)
		if (name == key)
			return value;
	ADD_FAILURE() << "no " << key << " in " << cgroup << "/memory.stat";
	return 0;
}

// Moves this process into a new memory cgroup for the test's lifetime.
class MemoryCgroup
{
public:
	MemoryCgroup()
	{
		root_ = "/sys/fs/cgroup";
		if (access((root_ + "/cgroup.controllers").c_str(), F_OK) != 0) {
			root_ = "/tmp/npu-cgroup2";
			mkdir(root_.c_str(), 0755);
			if (mount("none", root_.c_str(), "cgroup2", 0, nullptr) != 0 &&
			    access((root_ + "/cgroup.controllers").c_str(), F_OK) != 0)
				return;
		}
		std::ifstream controllers(root_ + "/cgroup.controllers");
		std::string list;
		std::getline(controllers, list);
		if (list.find("memory") == std::string::npos) {
			no_memcg_ = true;
			return;
		}
		WriteFile(root_ + "/cgroup.subtree_control", "+memory");
		path_ = root_ + "/npu-accounting-test";
		mkdir(path_.c_str(), 0755);
		ok_ = WriteFile(path_ + "/cgroup.procs", std::to_string(getpid()));
	}
	~MemoryCgroup()
	{
		if (ok_)
			WriteFile(root_ + "/cgroup.procs", std::to_string(getpid()));
		if (!path_.empty())
			rmdir(path_.c_str());
	}
	bool ok() const { return ok_; }
	bool no_memcg() const { return no_memcg_; }
	const std::string &path() const { return path_; }

private:
	std::string root_;
	std::string path_;
	bool ok_ = false;
	bool no_memcg_ = false;
};

TEST(Accounting, JobsAndQueuesAreChargedToTheOpenersCgroup)
{
	MemoryCgroup cgroup;
	if (cgroup.no_memcg())
		GTEST_SKIP() << "kernel without memory cgroups (CONFIG_MEMCG): nothing is charged";
	ASSERT_TRUE(cgroup.ok()) << "cannot set up a memory cgroup (cgroup2)";
	const uint64_t before = MemoryStat(cgroup.path(), "slab_unreclaimable");
	uint64_t during = 0;
	{
		// opened inside the cgroup: everything it allocates is charged there
		Session session(Device::OpenFirst());
		std::vector<uint32_t> queues = {0};
		for (uint32_t i = 1; i < kQueues; i++) {
			drm_npu_queue_create args{};
			args.priority = DRM_NPU_PRIORITY_NORMAL;
			ASSERT_EQ(IoctlErrno(session.dev().fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args),
				  0);
			queues.push_back(args.queue_id);
		}
		for (uint32_t q : queues) {
			uint64_t last = 0;
			for (uint32_t i = 0; i < DRM_NPU_WAIT_HISTORY; i++) {
				Commands cmds;
				cmds.Nop();
				SubmitOptions opts;
				opts.queue_id = q;
				last = session.Submit(cmds, opts);
			}
			EXPECT_JOB_STATUS(session.WaitStatus(last, 60000, q),
					  DRM_NPU_JOB_STATUS_OK);
		}
		during = MemoryStat(cgroup.path(), "slab_unreclaimable");
		// kQueues * 256 jobs stay in the WAIT histories, a few hundred bytes each
		EXPECT_GE(during, before + 512 * 1024)
			<< "jobs kept alive by this process are not charged to its cgroup";
	}
	// closing the file frees them (the scheduler lets go shortly after)
	const int64_t deadline = DeadlineInMs(10000);
	while (MemoryStat(cgroup.path(), "slab_unreclaimable") > before + (during - before) / 2 &&
	       MonotonicNs() < deadline)
		usleep(50000);
	EXPECT_LE(MemoryStat(cgroup.path(), "slab_unreclaimable"), before + (during - before) / 2)
		<< "the charge did not go with the file";
}

} // namespace
} // namespace npu_test
