// npu-bench against the real driver: the report is complete and consistent
// (every benchmark on every device, positive figures, ratio = measured /
// baseline, an operation's details), device and benchmark selection work,
// a missing host baseline is reported as missing, and bad options are
// refused. Speed itself is never asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "npu/device.hpp"
#include "tool_runner.h"

namespace
{

using nlohmann::json;

npu_test::ToolResult bench(const std::vector<std::string> &args)
{
	return npu_test::run_tool(npu_test::tool_path("NPU_BENCH", "tools/npu-bench/npu-bench"),
				  args);
}

// Few samples, a small copy and small operations: the figures are not the
// point here.
const std::vector<std::string> quick = {
	"--json",      "-n",	    "5",	 "--copy-mib", "1",
	"--gemm-size", "48",	    "--conv-hw", "6",	       "--conv-channels",
	"8",	       "--op-runs", "1"};

const std::set<std::string> all_results = {
	"job_round_trip",      "copy_bandwidth", "pipelined_jobs",   "pool_alloc",
	"pool_pairs_per_core", "pool_syscalls",	 "event_round_trip", "gemm_f32",
	"gemm_bf16",	       "gemm_i8",	 "conv_f32",	     "conv_bf16",
	"op_launch",	       "graph_launch",	 "launch_floor",     "launch_breakdown",
	"async_launch"};

json bench_json(std::vector<std::string> args)
{
	args.insert(args.end(), quick.begin(), quick.end());
	const auto r = bench(args);
	EXPECT_EQ(r.status, 0) << r.err;
	return json::parse(r.out);
}

// Sets an environment variable for the tools run in this scope (children
// inherit it), restoring the previous value afterwards.
class ScopedEnv
{
public:
	ScopedEnv(const char *name, const char *value) : name_(name)
	{
		if (const char *old = std::getenv(name))
			old_ = old;
		setenv(name, value, 1);
	}
	~ScopedEnv()
	{
		if (old_)
			setenv(name_, old_->c_str(), 1);
		else
			unsetenv(name_);
	}

private:
	const char *name_;
	std::optional<std::string> old_;
};

// The operation results' details: what ran, both sides' times, and the
// host command that measured the baseline with one thread per engine.
void ExpectOperationDetails(const json &b, unsigned engines)
{
	const std::string name = b.at("name");
	const json &d = b.at("details");
	EXPECT_FALSE(d.at("shape").get<std::string>().empty()) << name;
	EXPECT_GT(d.at("flops").get<double>(), 0) << name;
	EXPECT_GT(d.at("device_ms").get<double>(), 0) << name;
	EXPECT_GT(d.at("wall_ms").get<double>(), 0) << name;
	const std::string op = name.substr(0, name.find('_'));
	const std::string command = d.at("host_command");
	EXPECT_EQ(command.rfind("bench " + op + " ", 0), 0u) << command;
	if (b.at("baseline").is_null())
		return;
	EXPECT_EQ(d.at("host_threads"), engines) << name;
	EXPECT_GT(d.at("host_ms").get<double>(), 0) << name;
	EXPECT_FALSE(d.at("host_impl").get<std::string>().empty()) << name;
}

TEST(BenchVmTest, ReportsEveryBenchmarkAgainstItsBaselineOnEveryDevice)
{
	const auto devices = npu::Device::enumerate();
	ASSERT_FALSE(devices.empty());
	// Under tools/npu-vm the emulator's control channel is there, so every
	// benchmark has its baseline.
	const bool host_reachable = std::getenv("NPU_EMU_CONTROL") != nullptr;
	const json doc = bench_json({});
	EXPECT_EQ(doc.at("schema_version"), 2);
	ASSERT_EQ(doc.at("devices").size(), devices.size());
	for (size_t i = 0; i < devices.size(); ++i) {
		const json &dev = doc["devices"][i];
		EXPECT_EQ(dev.at("index"), devices[i].index);
		EXPECT_EQ(dev.at("pci_address"), devices[i].pci_address);
		EXPECT_EQ(dev.at("uuid").get<std::string>().size(), 36u);
		const unsigned engines = npu::Device::open(devices[i]).properties().engine_count;
		std::set<std::string> names;
		for (const json &b : dev.at("benchmarks")) {
			const std::string name = b.at("name");
			names.insert(name);
			// a count (syscalls) may be zero, a time or a rate not
			if (b.at("unit") == "syscalls")
				EXPECT_GE(b.at("measured").at("value").get<double>(), 0) << name;
			else
				EXPECT_GT(b.at("measured").at("value").get<double>(), 0) << name;
			EXPECT_FALSE(b.at("unit").get<std::string>().empty()) << name;
			EXPECT_FALSE(b.at("meaning").get<std::string>().empty()) << name;
			EXPECT_TRUE(b.at("details").is_object()) << name;
			if (b.at("details").contains("shape"))
				ExpectOperationDetails(b, engines);
			if (!host_reachable && b.at("baseline").is_null())
				continue;
			ASSERT_FALSE(b.at("baseline").is_null())
				<< name << ": " << b.value("baseline_unavailable", "");
			const double measured = b.at("measured").at("value");
			const double baseline = b.at("baseline").at("value");
			EXPECT_GT(baseline, 0) << name;
			EXPECT_TRUE(std::isfinite(b.at("ratio").get<double>())) << name;
			EXPECT_NEAR(b.at("ratio").get<double>(), measured / baseline,
				    1e-9 * measured / baseline)
				<< name;
			EXPECT_NE(b.at("measured").at("name"), b.at("baseline").at("name")) << name;
		}
		EXPECT_EQ(names, all_results);
	}
}

// The issue 15 launch benchmarks' details: launch_breakdown's hops (every
// hop of the round trip, in order), launch_floor's user-mode queue line,
// and the two run only when named: launch_scaling's table (1, 2, 4, 8
// processes by 1, 8, 64 streams) and kernel_memory's two figures.
TEST(BenchVmTest, LaunchBenchmarksReportTheirTables)
{
	const json doc = bench_json(
		{"-d", "0", "launch_floor", "launch_breakdown", "launch_scaling", "kernel_memory"});
	std::map<std::string, json> by_name;
	for (const json &b : doc.at("devices").at(0).at("benchmarks"))
		by_name[b.at("name").get<std::string>()] = b;
	ASSERT_EQ(by_name.size(), 4u) << doc.dump();

	const json &hops = by_name["launch_breakdown"].at("details").at("hops");
	ASSERT_EQ(hops.size(), 10u) << hops.dump();
	EXPECT_EQ(hops.front().at("hop"), "user -> ioctl entry");
	EXPECT_EQ(hops.back().at("hop"), "waiter wakes -> back in userspace");
	EXPECT_GT(by_name["launch_breakdown"].at("details").at("clock_window_us").get<double>(), 0);

	const json &uq = by_name["launch_floor"].at("details").at("user_queues_us");
	EXPECT_TRUE(uq.is_number() || uq == "n/a (user-mode queues unavailable)") << uq.dump();

	const json &table = by_name["launch_scaling"].at("details").at("table");
	std::set<std::pair<unsigned, unsigned>> cells;
	for (const json &cell : table) {
		cells.insert(
			{cell.at("processes").get<unsigned>(), cell.at("streams").get<unsigned>()});
		EXPECT_GT(cell.at("launches_per_s").get<double>(), 0) << cell.dump();
	}
	EXPECT_EQ(cells.size(), 12u) << table.dump();
	EXPECT_TRUE(cells.count({8, 64})) << table.dump();

	const json &memory = by_name["kernel_memory"];
	EXPECT_GE(memory.at("measured").at("value").get<double>(), 0);
	EXPECT_GE(memory.at("details").at("per_bo_beyond_payload").get<double>(), 0);
	EXPECT_TRUE(memory.at("baseline").is_null());
}

TEST(BenchVmTest, SelectsOneDeviceByIndexOrPciAddress)
{
	const auto devices = npu::Device::enumerate();
	ASSERT_FALSE(devices.empty());
	const auto &last = devices.back();
	for (const std::string &id : {std::to_string(last.index), last.pci_address}) {
		const json doc = bench_json({"-d", id, "job_round_trip"});
		ASSERT_EQ(doc.at("devices").size(), 1u) << id;
		EXPECT_EQ(doc["devices"][0].at("pci_address"), last.pci_address) << id;
	}
}

TEST(BenchVmTest, RunsOnlyTheBenchmarksNamed)
{
	const json doc = bench_json({"-d", "0", "gemm", "pool_alloc"});
	std::set<std::string> names;
	for (const json &b : doc.at("devices").at(0).at("benchmarks"))
		names.insert(b.at("name").get<std::string>());
	EXPECT_EQ(names,
		  (std::set<std::string>{"pool_alloc", "pool_pairs_per_core", "pool_syscalls",
					 "gemm_f32", "gemm_bf16", "gemm_i8"}));
}

// Without the emulator's control channel there is no native baseline: the
// device figures are still reported, the baseline and ratio are null and
// the report says why. Nothing is made up in its place.
TEST(BenchVmTest, SaysSoWhenTheHostBaselineIsUnavailable)
{
	const ScopedEnv no_channel("NPU_EMU_CONTROL", "/nonexistent/npu-emu-control");
	const json doc = bench_json({"-d", "0", "conv"});
	const json &results = doc.at("devices").at(0).at("benchmarks");
	ASSERT_EQ(results.size(), 2u);
	for (const json &b : results) {
		EXPECT_GT(b.at("measured").at("value").get<double>(), 0) << b.dump();
		EXPECT_TRUE(b.at("baseline").is_null()) << b.dump();
		EXPECT_TRUE(b.at("ratio").is_null()) << b.dump();
		EXPECT_NE(b.at("baseline_unavailable").get<std::string>().find("/nonexistent"),
			  std::string::npos)
			<< b.dump();
	}
	std::vector<std::string> table = {"-d", "0", "conv"};
	table.insert(table.end(), quick.begin() + 1, quick.end()); // without --json
	const auto r = bench(table);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("no baseline: cannot open /nonexistent"), std::string::npos) << r.out;
}

TEST(BenchVmTest, TableNamesEveryBenchmark)
{
	std::vector<std::string> args = {"-d", "0"};
	args.insert(args.end(), quick.begin() + 1, quick.end()); // without --json
	const auto r = bench(args);
	ASSERT_EQ(r.status, 0) << r.err;
	for (const std::string &name : all_results)
		EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
}

TEST(BenchVmTest, RefusesAnUnknownDeviceAndOutOfRangeOptions)
{
	const auto missing = bench({"-d", "99"});
	EXPECT_EQ(missing.status, 1);
	EXPECT_NE(missing.err.find("npu-bench:"), std::string::npos) << missing.err;
	for (const std::vector<std::string> &args : {std::vector<std::string>{"--depth", "1"},
						     {"-n", "0"},
						     {"--copy-mib", "65"},
						     {"--gemm-size", "4"},
						     {"--conv-hw", "2"},
						     {"--op-runs", "0"},
						     {"--model-runs", "0"},
						     {"matmul"}}) {
		const auto r = bench(args);
		EXPECT_NE(r.status, 0) << args[0];
		EXPECT_TRUE(r.out.empty()) << args[0] << ": ran anyway: " << r.out;
	}
}

// The network benchmarks (framework_bench.hpp) run only when named, and
// without `make models`' networks they fail saying how to make them
// instead of producing a figure.
TEST(BenchVmTest, NetworkBenchmarksNeedTheModels)
{
	for (const char *which : {"onnx", "torch"}) {
		const auto r = bench({"-d", "0", which, "--models-dir", "/nonexistent"});
		EXPECT_EQ(r.status, 1) << which;
		EXPECT_NE(r.err.find("/nonexistent/"), std::string::npos) << which << ": " << r.err;
		EXPECT_NE(r.err.find("make models"), std::string::npos) << which << ": " << r.err;
		EXPECT_TRUE(r.out.empty()) << which << ": ran anyway: " << r.out;
	}
}

} // namespace
