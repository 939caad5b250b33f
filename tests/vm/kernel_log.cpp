#include "kernel_log.h"

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
	static const std::regex bug(
		"WARNING:|BUG:|Oops|Call Trace|general protection|KASAN|UBSAN|lockdep|"
		"refcount_t|list_add corruption|INFO: task .* blocked");
	return std::regex_search(line, bug);
}

namespace
{

struct Finding {
	std::string test;
	std::string line;
};

// Shared by the listener (collects per test) and the environment (judges).
struct Watch {
	KernelLog log;
	std::vector<Finding> findings;
	std::vector<std::string> current; // lines of the running test

	void Collect(const std::string &test)
	{
		for (auto &line : log.ReadNew()) {
			if (KernelLog::IsKernelBug(line))
				findings.push_back({test, line});
			current.push_back(std::move(line));
		}
	}
};

Watch *g_watch;

class KernelLogListener : public ::testing::EmptyTestEventListener
{
	void OnTestStart(const ::testing::TestInfo &) override
	{
		g_watch->Collect("(between tests)");
		g_watch->current.clear();
	}

	void OnTestEnd(const ::testing::TestInfo &info) override
	{
		std::string name = std::string(info.test_suite_name()) + "." + info.name();
		g_watch->Collect(name);
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

	void TearDown() override
	{
		g_watch->Collect("(after the last test)");
		if (g_watch->findings.empty())
			return;
		std::string report;
		for (const auto &f : g_watch->findings)
			report += "  " + f.test + ": " + f.line + "\n";
		ADD_FAILURE() << g_watch->findings.size()
			      << " kernel log line(s) report a kernel bug:\n"
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
