// Telemetry: the sysfs attributes of the PCI device, the hwmon sensors and
// the debugfs files (docs/driver-sysfs.md) report what the test just did.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "emu_control.h"
#include "engine_work.h"
#include "npu_test.h"

namespace npu_test
{
namespace
{

std::string ReadFile(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

std::string Trimmed(std::string s)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

// "name value" lines of debugfs/counters as a map.
std::map<std::string, int64_t> ParseCounters(const std::string &text)
{
	std::map<std::string, int64_t> out;
	std::istringstream in(text);
	std::string name;
	int64_t value;
	while (in >> name >> value)
		out[name] = value;
	return out;
}

struct ContextLine {
	uint32_t id = 0;
	int pid = 0;
	std::string comm;
	uint64_t bos = 0, bo_bytes = 0, submitted = 0, completed = 0, failed = 0;
};

class Telemetry : public NpuTest
{
protected:
	void SetUp() override
	{
		NpuTest::SetUp();
		node_ = FindNpuNodes().at(0);
		ASSERT_EQ(node_.dev_path, s->dev().path())
			<< "the session is not on the first node";
		debugfs_ = "/sys/kernel/debug/npu/" + node_.pci_bdf + "/";
	}

	uint64_t Attr(const std::string &name)
	{
		return ReadSysfsNumber(node_.sysfs_pci + "/" + name);
	}
	std::string Debugfs(const std::string &name) { return ReadFile(debugfs_ + name); }
	// The leak counters: objects alive (not the event counts).
	std::map<std::string, int64_t> Counters()
	{
		auto counters = ParseCounters(Debugfs("counters"));
		counters.erase("invalidates");
		return counters;
	}

	// The "contexts" line of context id, if listed.
	bool FindContext(uint32_t id, ContextLine *out)
	{
		std::istringstream in(Debugfs("contexts"));
		std::string line;
		std::getline(in, line); // header
		while (std::getline(in, line)) {
			std::istringstream fields(line);
			ContextLine c;
			if (!(fields >> c.id >> c.pid >> c.comm >> c.bos >> c.bo_bytes >>
			      c.submitted >> c.completed >> c.failed))
				ADD_FAILURE() << "malformed contexts line: " << line;
			if (c.id == id) {
				*out = c;
				return true;
			}
		}
		return false;
	}

	// The BO lines listed under context id in "bos".
	std::vector<std::string> BoLines(uint32_t id)
	{
		std::istringstream in(Debugfs("bos"));
		std::string line, header = "context " + std::to_string(id) + " ";
		std::vector<std::string> lines;
		bool mine = false;
		while (std::getline(in, line)) {
			if (line.rfind("context ", 0) == 0)
				mine = line.rfind(header, 0) == 0;
			else if (mine)
				lines.push_back(line);
		}
		return lines;
	}

	std::string EngineFile(unsigned engine, const std::string &name)
	{
		return node_.sysfs_pci + "/engine" + std::to_string(engine) + "/" + name;
	}
	uint64_t EngineNumber(unsigned engine, const std::string &name)
	{
		return ReadSysfsNumber(EngineFile(engine, name));
	}
	unsigned EngineCount()
	{
		return static_cast<unsigned>(s->dev().Param(DRM_NPU_PARAM_ENGINE_COUNT));
	}

	NodeInfo node_;
	std::string debugfs_;
};

TEST_F(Telemetry, SysfsIdentityMatchesGetParam)
{
	uint64_t fw = s->dev().Param(DRM_NPU_PARAM_FW_VERSION);
	std::string expect_fw = std::to_string(fw >> 16) + "." + std::to_string((fw >> 8) & 0xff) +
				"." + std::to_string(fw & 0xff);
	EXPECT_EQ(Trimmed(ReadFile(node_.sysfs_pci + "/fw_version")), expect_fw);

	std::string serial = Trimmed(ReadFile(node_.sysfs_pci + "/serial"));
	EXPECT_EQ(serial.size(), 16u) << serial;
	EXPECT_EQ(std::stoull(serial, nullptr, 16), s->dev().Param(DRM_NPU_PARAM_SERIAL));

	// Version 8, variant 10, all 64 serial bits, then "npu-uid"
	// (npu_sysfs.c); the same on every read.
	std::string expect_uuid = serial.substr(0, 8) + "-" + serial.substr(8, 4) + "-8" +
				  serial.substr(12, 3) + "-8" + serial.substr(15, 1) +
				  "6e-70752d756964";
	std::string uuid = Trimmed(ReadFile(node_.sysfs_pci + "/uuid"));
	EXPECT_EQ(uuid, expect_uuid);
	EXPECT_EQ(Trimmed(ReadFile(node_.sysfs_pci + "/uuid")), uuid);
}

TEST_F(Telemetry, SysfsCountersAreSane)
{
	EXPECT_GE(Attr("contexts"), 1u) << "this test's own file is a context";
	EXPECT_GE(Attr("mem_in_use"), s->cmd_bo().size() + s->scratch().size());
	EXPECT_EQ(Attr("mem_in_use") % kPageSize, 0u);
	EXPECT_LT(Attr("reset_count"), 1000u);
	EXPECT_NO_THROW(Attr("busy_time_us"));
	EXPECT_NO_THROW(Attr("jobs_completed"));
}

TEST_F(Telemetry, ContextCountFollowsOpenFiles)
{
	uint64_t before = Attr("contexts");
	{
		Device other(s->dev().path());
		EXPECT_EQ(Attr("contexts"), before + 1);
	}
	EXPECT_EQ(Attr("contexts"), before);
}

TEST_F(Telemetry, JobsAdvanceBusyTimeAndCompletedCount)
{
	const int jobs = 4;
	const uint64_t size = 1 << 20;
	Bo dst(s->dev(), size);
	uint64_t done_before = Attr("jobs_completed");
	uint64_t busy_before = Attr("busy_time_us");
	uint64_t seqno = 0;
	for (int i = 0; i < jobs; i++) {
		Commands cmds;
		cmds.Fill(dst.addr(), 0x1000 + i, size);
		seqno = s->Submit(cmds, UsingBos({dst.handle()}));
	}
	ASSERT_JOB_STATUS(s->WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK);
	EXPECT_GE(Attr("jobs_completed"), done_before + jobs);
	EXPECT_GT(Attr("busy_time_us"), busy_before) << "four 1 MiB fills took no time";
}

TEST_F(Telemetry, MemInUseFollowsBoLifetime)
{
	const uint64_t size = 3 * 1024 * 1024;
	uint64_t before = Attr("mem_in_use");
	{
		Bo bo(s->dev(), size);
		EXPECT_GE(Attr("mem_in_use"), before + size);
	}
	EXPECT_TRUE(Eventually([&] { return Attr("mem_in_use") <= before; }))
		<< "mem_in_use stays at " << Attr("mem_in_use") << ", was " << before;
}

TEST_F(Telemetry, ResetCountCountsRecoveries)
{
	// a job that overruns its time is killed alone (Tenants tests): only
	// a firmware that is gone resets the device
	std::string why;
	auto ctl = EmuControl::Open(&why);
	if (!ctl)
		GTEST_SKIP() << why;
	uint64_t before = Attr("reset_count");
	ASSERT_EQ(ctl->Inject(s->dev().Param(DRM_NPU_PARAM_SERIAL), "crash-firmware"), "ok");
	EXPECT_TRUE(Eventually([&] { return Attr("reset_count") == before + 1; }, 20000))
		<< "reset_count " << Attr("reset_count") << ", was " << before;
	EXPECT_EQ(ParseCounters(Debugfs("counters"))["resets"], int64_t(before + 1));
	FreeDevcoredumps(node_.sysfs_pci);
	s->ExpectWorks();
}

TEST_F(Telemetry, HwmonReportsTemperatureAndPower)
{
	std::string dir = node_.sysfs_pci + "/hwmon";
	DIR *d = opendir(dir.c_str());
	ASSERT_NE(d, nullptr) << "no " << dir;
	std::string hwmon;
	while (dirent *e = readdir(d)) {
		if (std::string(e->d_name).rfind("hwmon", 0) == 0)
			hwmon = dir + "/" + e->d_name;
	}
	closedir(d);
	ASSERT_FALSE(hwmon.empty()) << "no hwmon device under " << dir;
	EXPECT_EQ(Trimmed(ReadFile(hwmon + "/name")), "npu");
	uint64_t temp_mc = ReadSysfsNumber(hwmon + "/temp1_input");
	EXPECT_GT(temp_mc, 0u);
	EXPECT_LT(temp_mc, 150000u) << "hotter than 150 degrees C";
	uint64_t power_uw = ReadSysfsNumber(hwmon + "/power1_input");
	EXPECT_GT(power_uw, 0u);
	EXPECT_LT(power_uw, 1000000000u) << "more than 1 kW";
	EXPECT_EQ(power_uw % 1000, 0u) << "the register counts milliwatts";
}

TEST_F(Telemetry, DebugfsListsContextAndBosUntilClose)
{
	auto dev = std::make_unique<Device>(s->dev().path());
	uint32_t id = static_cast<uint32_t>(dev->Param(DRM_NPU_PARAM_CONTEXT_ID));
	auto bo = std::make_unique<Bo>(*dev, 5 * kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);

	ContextLine c;
	ASSERT_TRUE(FindContext(id, &c)) << Debugfs("contexts");
	EXPECT_EQ(c.pid, getpid());
	EXPECT_EQ(c.comm, "npu_vm_tests");
	EXPECT_EQ(c.bos, 1u);
	EXPECT_EQ(c.bo_bytes, 5 * kPageSize);
	EXPECT_EQ(c.submitted, 0u);

	char expect[128];
	snprintf(expect, sizeof(expect), "  addr 0x%010llx size %llu flags 0x%x",
		 (unsigned long long)bo->addr(), (unsigned long long)(5 * kPageSize),
		 DRM_NPU_BO_DEVICE_READ_ONLY);
	EXPECT_EQ(BoLines(id), std::vector<std::string>{expect}) << Debugfs("bos");

	// unmapped once no job can reach it: here at once, asynchronously
	bo.reset();
	EXPECT_TRUE(Eventually([&] { return BoLines(id).empty(); })) << Debugfs("bos");
	dev.reset();
	EXPECT_FALSE(FindContext(id, &c)) << "closed context still listed:\n"
					  << Debugfs("contexts");
}

// A VM_BIND range is not a BO: contexts counts the BO once, and bos lists
// the range on its own line (a range bound twice is two lines).
TEST_F(Telemetry, DebugfsListsBoundRangesApartFromBos)
{
	auto dev = std::make_unique<Device>(s->dev().path());
	uint32_t id = static_cast<uint32_t>(dev->Param(DRM_NPU_PARAM_CONTEXT_ID));
	Bo bo(*dev, 3 * kPageSize);
	const uint64_t a = 0x4000000000ull, b = a + (1ull << 30);
	for (uint64_t addr : {a, b}) {
		drm_npu_vm_bind args{};
		args.op = DRM_NPU_VM_BIND_OP_MAP;
		args.handle = bo.handle();
		args.bo_offset = kPageSize;
		args.addr = addr;
		args.size = 2 * kPageSize;
		ASSERT_EQ(IoctlErrno(dev->fd(), DRM_IOCTL_NPU_VM_BIND, &args), 0);
	}

	ContextLine c;
	ASSERT_TRUE(FindContext(id, &c)) << Debugfs("contexts");
	EXPECT_EQ(c.bos, 1u);
	EXPECT_EQ(c.bo_bytes, 3 * kPageSize);
	std::vector<std::string> expect;
	char line[128];
	snprintf(line, sizeof(line), "  addr 0x%010llx size %llu flags 0x0",
		 (unsigned long long)bo.addr(), (unsigned long long)(3 * kPageSize));
	expect.push_back(line);
	for (uint64_t addr : {a, b}) {
		snprintf(line, sizeof(line), "  bind 0x%010llx size %llu bo 0x%010llx",
			 (unsigned long long)addr, (unsigned long long)(2 * kPageSize),
			 (unsigned long long)bo.addr());
		expect.push_back(line);
	}
	EXPECT_EQ(BoLines(id), expect) << Debugfs("bos");
}

TEST_F(Telemetry, DebugfsCountsJobsPerContext)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	uint32_t id = static_cast<uint32_t>(other.dev().Param(DRM_NPU_PARAM_CONTEXT_ID));
	Commands good;
	good.Nop();
	other.Submit(good);
	other.Submit(good);
	Commands bad;
	bad.Raw(NPU_PKT_HEADER(0x7f, 2), {0});
	uint64_t last = other.Submit(bad);
	ASSERT_JOB_STATUS(other.WaitStatus(last), DRM_NPU_JOB_STATUS_BAD_PACKET);

	ContextLine c;
	ASSERT_TRUE(FindContext(id, &c)) << Debugfs("contexts");
	EXPECT_EQ(c.submitted, 3u);
	EXPECT_EQ(c.completed, 2u);
	EXPECT_EQ(c.failed, 1u);

	// The firmware logged the failure, naming the context.
	std::string log = Debugfs("fw_log");
	EXPECT_NE(log.find("ctx " + std::to_string(id) + "): bad packet"), std::string::npos)
		<< log;
}

TEST_F(Telemetry, DebugfsCountersReturnToBaselineAfterClose)
{
	// Jobs of the previous test may still be draining.
	std::map<std::string, int64_t> before;
	EXPECT_TRUE(Eventually([&] {
		auto first = Counters();
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		before = Counters();
		return first == before;
	}));
	for (const char *name : {"contexts", "vms", "bos", "bo_bytes", "jobs", "jobs_in_flight"})
		EXPECT_TRUE(before.count(name)) << "counters lacks " << name;
	{
		Session other(std::make_unique<Device>(s->dev().path()));
		Bo extra(other.dev(), 2 * kPageSize);
		Commands cmds;
		cmds.Fill(extra.addr(), 7, 2 * kPageSize);
		other.Submit(cmds, UsingBos({extra.handle()}));
		auto during = Counters();
		EXPECT_EQ(during["contexts"], before["contexts"] + 1);
		EXPECT_GE(during["bos"], before["bos"] + 3) << "command, scratch and extra BO";
		EXPECT_GE(during["vms"], before["vms"] + 1);
	}
	// Closing does not wait for the job: it drains in the background.
	EXPECT_TRUE(Eventually([&] { return Counters() == before; }))
		<< "now:\n"
		<< Debugfs("counters") << "jobs before " << before["jobs"] << ", bos before "
		<< before["bos"] << ", vms before " << before["vms"];
}

TEST_F(Telemetry, DebugfsQueuesShowRingState)
{
	Commands cmds;
	cmds.Nop();
	ASSERT_JOB_STATUS(s->WaitStatus(s->Submit(cmds)), DRM_NPU_JOB_STATUS_OK);
	std::string queues = Debugfs("queues");
	EXPECT_NE(queues.find("queue 0\n  enable 1 ring_entries 256"), std::string::npos) << queues;
	std::regex ring(R"(head (\d+) tail (\d+) done_seqno (\d+))");
	uint64_t done = 0;
	int count = 0;
	for (std::sregex_iterator it(queues.begin(), queues.end(), ring), end; it != end; ++it) {
		EXPECT_EQ((*it)[1], (*it)[2]) << "idle queue with head != tail:\n" << queues;
		done += std::stoull((*it)[3]);
		count++;
	}
	EXPECT_GE(count, 1) << queues;
	EXPECT_GT(done, 0u) << "no job ever completed on any queue:\n" << queues;
}

TEST_F(Telemetry, EngineDirectoriesMatchEngineCount)
{
	const unsigned engines = EngineCount();
	ASSERT_GE(engines, 1u);
	for (unsigned i = 0; i < engines; i++) {
		SCOPED_TRACE("engine " + std::to_string(i));
		std::string state = Trimmed(ReadFile(EngineFile(i, "state")));
		EXPECT_TRUE(state == "idle" || state == "busy") << state;
		EXPECT_NO_THROW(EngineNumber(i, "busy_ns"));
		EXPECT_NO_THROW(EngineNumber(i, "tasks_done"));
		EXPECT_LE(EngineNumber(i, "busy_percent"), 100u);
	}
	EXPECT_NE(access((node_.sysfs_pci + "/engine" + std::to_string(engines)).c_str(), F_OK), 0)
		<< "a directory for an engine the device does not have";
	// Every node reports its own device's engines.
	for (const auto &n : FindNpuNodes()) {
		Device dev(n.dev_path);
		unsigned count = static_cast<unsigned>(dev.Param(DRM_NPU_PARAM_ENGINE_COUNT));
		ASSERT_GE(count, 1u) << n.sysfs_pci;
		EXPECT_EQ(
			access((n.sysfs_pci + "/engine" + std::to_string(count - 1)).c_str(), F_OK),
			0)
			<< n.sysfs_pci;
	}
}

TEST_F(Telemetry, OpsCompletedMatchesGetParam)
{
	GemmOperands gemm(*s, 16);
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	uint64_t ops = s->dev().Param(DRM_NPU_PARAM_OPS_DONE);
	EXPECT_GE(ops, 1u);
	EXPECT_EQ(Attr("ops_completed"), ops) << "the device is idle: both read regs.ops_done";
}

// Engines that compute show it: busy time and tasks grow, and the
// utilisation the watchdog samples (a one-second window) rises above 0.
TEST_F(Telemetry, EngineUtilizationRisesWhileEnginesWork)
{
	const unsigned engines = EngineCount();
	uint64_t busy_before = 0, tasks_before = 0;
	for (unsigned i = 0; i < engines; i++) {
		busy_before += EngineNumber(i, "busy_ns");
		tasks_before += EngineNumber(i, "tasks_done");
	}
	// jobs long next to the guest's submission time (slow on the debug
	// kernel), so the engines are busy most of the time
	GemmLoad load(s->dev().path(), 1024);
	uint64_t best = 0;
	bool seen_busy = false;
	int64_t deadline = DeadlineInMs(20000);
	// at least two windows of work, then until the utilisation shows
	int64_t min_end = DeadlineInMs(2500);
	while (MonotonicNs() < deadline && (best == 0 || MonotonicNs() < min_end)) {
		load.Pump();
		for (unsigned i = 0; i < engines; i++) {
			best = std::max(best, EngineNumber(i, "busy_percent"));
			seen_busy |= Trimmed(ReadFile(EngineFile(i, "state"))) == "busy";
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	std::string table = Debugfs("engines");
	load.Drain();
	EXPECT_GT(best, 0u) << "no engine ever showed utilisation:\n" << table;
	EXPECT_LE(best, 100u);
	EXPECT_TRUE(seen_busy) << "no engine was ever seen busy:\n" << table;
	uint64_t busy_after = 0, tasks_after = 0;
	for (unsigned i = 0; i < engines; i++) {
		busy_after += EngineNumber(i, "busy_ns");
		tasks_after += EngineNumber(i, "tasks_done");
	}
	EXPECT_GT(busy_after, busy_before);
	EXPECT_GT(tasks_after, tasks_before);
	// Idle again: every engine's window ends at 0 within two windows.
	EXPECT_TRUE(Eventually(
		[&] {
			for (unsigned i = 0; i < engines; i++)
				if (EngineNumber(i, "busy_percent") != 0)
					return false;
			return true;
		},
		5000))
		<< Debugfs("engines");
}

TEST_F(Telemetry, DebugfsEnginesListsEveryEngine)
{
	GemmOperands gemm(*s, 64);
	ASSERT_JOB_STATUS(s->WaitStatus(gemm.Submit()), DRM_NPU_JOB_STATUS_OK);
	std::istringstream in(Debugfs("engines"));
	std::string line;
	std::getline(in, line);
	EXPECT_EQ(line, "engine state busy_percent busy_ns tasks_done last_status seqno op queue");
	const std::regex row(
		R"((\d+) (idle|busy) (\d+) (\d+) (\d+) (\d+) (\d+) 0x([0-9a-f]{2,}) (\d+))");
	unsigned count = 0;
	uint64_t tasks = 0;
	while (std::getline(in, line)) {
		std::smatch m;
		ASSERT_TRUE(std::regex_match(line, m, row)) << line;
		EXPECT_EQ(std::stoul(m[1]), count);
		EXPECT_EQ(std::stoull(m[5]), EngineNumber(count, "tasks_done"))
			<< "idle engines: debugfs and sysfs read the same register";
		tasks += std::stoull(m[5]);
		count++;
	}
	EXPECT_EQ(count, EngineCount());
	EXPECT_GT(tasks, 0u) << "the GEMM ran on no engine";
}

TEST_F(Telemetry, FirmwareLogHasTheBootLine)
{
	std::string log = Debugfs("fw_log");
	ASSERT_FALSE(log.empty());
	EXPECT_EQ(log.back(), '\n');
	EXPECT_TRUE(
		std::regex_search(log, std::regex(R"(\] npu-fw \d+\.\d+\.\d+ .* abi \d+\.\d+)")))
		<< log;
}

} // namespace
} // namespace npu_test
