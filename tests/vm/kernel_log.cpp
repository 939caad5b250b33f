#include "kernel_log.h"

#include "kernel_bug_pattern.h"

#include <cerrno>
#include <cstdio>
#include <regex>

#include <fcntl.h>
#include <unistd.h>

namespace npu_test
{

KernelLog::KernelLog()
{
	fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd_ >= 0)
		lseek(fd_, 0, SEEK_END);
}

KernelLog::~KernelLog()
{
	if (fd_ >= 0)
		close(fd_);
}

std::vector<std::string> KernelLog::ReadNew()
{
	std::vector<std::string> lines;
	if (fd_ < 0)
		return lines;
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd_, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE) // overwritten records: keep going
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		// "prio,seq,usec,flags;text\n" then " KEY=value" dictionary lines
		std::string record(buf, static_cast<size_t>(n));
		size_t semi = record.find(';');
		size_t end = record.find('\n');
		std::string prefix = record.substr(0, semi);
		std::string text = semi == std::string::npos
					   ? record
					   : record.substr(semi + 1, end == std::string::npos
									     ? std::string::npos
									     : end - semi - 1);
		size_t c1 = prefix.find(','), c2 = prefix.find(',', c1 + 1),
		       c3 = prefix.find(',', c2 + 1);
		std::string usec =
			c2 == std::string::npos ? "" : prefix.substr(c2 + 1, c3 - c2 - 1);
		char stamp[32] = "";
		if (!usec.empty()) {
			unsigned long long us = std::stoull(usec);
			std::snprintf(stamp, sizeof(stamp), "[%5llu.%06llu] ", us / 1000000,
				      us % 1000000);
		}
		lines.push_back(stamp + text);
	}
	return lines;
}

bool KernelLog::IsKernelBug(const std::string &line)
{
	// tests/vm/kernel-bug-pattern, shared with kernel-checks
	static const std::regex bug(NPU_KERNEL_BUG_PATTERN);
	return std::regex_search(line, bug);
}

namespace
{

// Lines kept after the first line of a report (a KASAN or lockdep report
// with its stacks runs to a few dozen).
constexpr size_t kReportLines = 80;

struct Finding {
	std::string test;
	std::vector<std::string> report; // first line of the report onwards
};

// Shared by the listener (collects per test) and the environment (judges).
struct Watch {
	KernelLog log;
	std::vector<Finding> findings;
	std::vector<std::string> current; // lines of the running test

	// Reads the new lines; returns the report they hold, if any, and
	// records it against TEST.
	std::vector<std::string> Collect(const std::string &test)
	{
		std::vector<std::string> report;
		for (auto &line : log.ReadNew()) {
			if (!report.empty() && report.size() < kReportLines)
				report.push_back(line);
			else if (report.empty() && KernelLog::IsKernelBug(line))
				report.push_back(line);
			current.push_back(std::move(line));
		}
		if (!report.empty())
			findings.push_back({test, report});
		return report;
	}
};

Watch *g_watch;

std::string Join(const std::vector<std::string> &lines)
{
	std::string text;
	for (const auto &l : lines)
		text += "  " + l + "\n";
	return text;
}

class KernelLogListener : public ::testing::EmptyTestEventListener
{
	void OnTestStart(const ::testing::TestInfo &info) override
	{
		g_watch->Collect("(between tests)");
		g_watch->current.clear();
		// A marker in the kernel log ties later reports to this test,
		// also for the log scan after the run (tests/vm/kernel-checks).
		Mark(std::string("npu-test: start ") + info.test_suite_name() + "." + info.name());
	}

	void OnTestEnd(const ::testing::TestInfo &info) override
	{
		std::string name = std::string(info.test_suite_name()) + "." + info.name();
		auto report = g_watch->Collect(name);
		// The test is still current here (listeners see OnTestEnd before
		// gtest detaches it), so the failure is this test's.
		if (!report.empty())
			ADD_FAILURE() << "the kernel reported a bug during this test:\n"
				      << Join(report);
		if (!info.result()->Failed() || g_watch->current.empty())
			return;
		const auto &lines = g_watch->current;
		size_t first = lines.size() > 60 ? lines.size() - 60 : 0;
		std::printf("---- kernel log during %s (%zu lines%s) ----\n", name.c_str(),
			    lines.size(), first ? ", last 60" : "");
		for (size_t i = first; i < lines.size(); i++)
			std::printf("  %s\n", lines[i].c_str());
		std::printf("---- end of kernel log ----\n");
	}

	static void Mark(const std::string &text)
	{
		int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		std::string record = text + "\n";
		if (write(fd, record.data(), record.size()) < 0) {
			// Best effort: the marker only helps attribution.
		}
		close(fd);
	}
};

class KernelLogEnvironment : public ::testing::Environment
{
	void SetUp() override
	{
		if (!g_watch->log.available())
			std::printf("warning: /dev/kmsg unreadable (%s): kernel warnings go "
				    "unchecked\n",
				    getuid() ? "not root" : "no access");
	}

	// Reports that came between tests or after the last one have no test
	// to fail; the environment fails instead.
	void TearDown() override
	{
		g_watch->Collect("(after the last test)");
		std::string report;
		size_t count = 0;
		for (const auto &f : g_watch->findings) {
			if (f.test.front() != '(')
				continue;
			count++;
			report += f.test + ":\n" + Join(f.report);
		}
		if (count)
			ADD_FAILURE() << count << " kernel bug report(s) outside any test:\n"
				      << report;
	}
};

} // namespace

void InstallKernelLogCheck()
{
	g_watch = new Watch; // lives for the whole process
	::testing::AddGlobalTestEnvironment(new KernelLogEnvironment);
	::testing::UnitTest::GetInstance()->listeners().Append(new KernelLogListener);
}

} // namespace npu_test
