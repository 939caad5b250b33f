// The kernel-log watch itself must work, or "no kernel warning" proves
// nothing: a line injected into /dev/kmsg has to come back out.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "kernel_log.h"

namespace npu_test
{
namespace
{

TEST(KernelLogWatch, SeesNewKernelLogLines)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to write /dev/kmsg";
	KernelLog log;
	ASSERT_TRUE(log.available());
	std::string marker = "npu_vm_tests: kernel log self-check " + std::to_string(getpid());
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	// The newline finalises the record; without it readers do not see it yet.
	std::string record = marker + "\n";
	ASSERT_EQ(write(fd, record.data(), record.size()), ssize_t(record.size()));
	close(fd);
	bool seen = false;
	for (int i = 0; i < 50 && !seen; i++, usleep(20000))
		for (const auto &line : log.ReadNew())
			seen |= line.find(marker) != std::string::npos;
	EXPECT_TRUE(seen) << "the injected line was not read back";
	EXPECT_TRUE(log.ReadNew().empty()) << "lines were returned twice";
}

TEST(KernelLogWatch, RecognisesKernelBugReports)
{
	EXPECT_TRUE(KernelLog::IsKernelBug(
		"WARNING: CPU: 0 PID: 88 at drivers/accel/npu/npu_job.c:120"));
	EXPECT_TRUE(KernelLog::IsKernelBug(
		"BUG: kernel NULL pointer dereference, address: 0000000000000008"));
	EXPECT_TRUE(KernelLog::IsKernelBug(
		"INFO: task kworker/0:1:12 blocked for more than 120 seconds."));
	EXPECT_TRUE(KernelLog::IsKernelBug("refcount_t: underflow; use-after-free."));
	EXPECT_TRUE(KernelLog::IsKernelBug("Call Trace:"));
	// What the debug kernel's checkers print.
	EXPECT_TRUE(KernelLog::IsKernelBug(
		"BUG: KASAN: slab-use-after-free in npu_job_free+0x3c/0x90 [npu]"));
	EXPECT_TRUE(
		KernelLog::IsKernelBug("WARNING: possible circular locking dependency detected"));
	EXPECT_TRUE(KernelLog::IsKernelBug("inconsistent lock state"));
	EXPECT_TRUE(KernelLog::IsKernelBug("BUG: sleeping function called from invalid context at "
					   "kernel/locking/mutex.c:283"));
	EXPECT_TRUE(KernelLog::IsKernelBug("ODEBUG: free active (active state 0) object: "
					   "000000001e3c5a7b object type: work_struct"));
	EXPECT_TRUE(KernelLog::IsKernelBug("list_del corruption, ffff888004c1e0a8->next is NULL"));
	// The debug kernel's boot-time self-tests are not reports.
	EXPECT_FALSE(KernelLog::IsKernelBug("ODEBUG: selftest passed"));
	EXPECT_TRUE(KernelLog::IsKernelBug("kernel BUG at mm/slub.c:447!"));
	EXPECT_FALSE(KernelLog::IsKernelBug("kasan: KernelAddressSanitizer initialized (generic)"));
	EXPECT_FALSE(KernelLog::IsKernelBug("npu 0000:00:03.0: firmware 0.1.0 ready"));
	EXPECT_FALSE(KernelLog::IsKernelBug("npu 0000:00:03.0: job 12 timed out, resetting"));
}

} // namespace
} // namespace npu_test
