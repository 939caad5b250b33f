// Kernel-log watch for the whole run: every test's new /dev/kmsg lines are
// collected, lines that signal a kernel bug are attributed to the test that
// was running, and the global environment fails at tear-down if any showed
// up. A failed test also gets its kernel log printed, to diagnose the driver.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace npu_test
{

class KernelLog
{
public:
	KernelLog(); // opens /dev/kmsg positioned at its end
	~KernelLog();
	bool available() const { return fd_ >= 0; }
	std::vector<std::string> ReadNew(); // messages since the last call
	static bool IsKernelBug(const std::string &line);

private:
	int fd_ = -1;
};

// Installs the environment and the per-test listener; call before
// RUN_ALL_TESTS.
void InstallKernelLogCheck();

} // namespace npu_test
