// npu-bench against the real driver: the report is complete and consistent
// (every benchmark on every device, positive figures, ratio = measured /
// baseline), device selection works and bad options are refused. Speed
// itself is never asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
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

// Few samples and a small copy: the figures are not the point here.
const std::vector<std::string> quick = {"--json", "-n", "5", "--copy-mib", "1"};

json bench_json(std::vector<std::string> args)
{
	args.insert(args.end(), quick.begin(), quick.end());
	const auto r = bench(args);
	EXPECT_EQ(r.status, 0) << r.err;
	return json::parse(r.out);
}

TEST(BenchVmTest, ReportsEveryBenchmarkAgainstItsBaselineOnEveryDevice)
{
	const auto devices = npu::Device::enumerate();
	ASSERT_FALSE(devices.empty());
	const json doc = bench_json({});
	EXPECT_EQ(doc.at("schema_version"), 1);
	ASSERT_EQ(doc.at("devices").size(), devices.size());
	for (size_t i = 0; i < devices.size(); ++i) {
		const json &dev = doc["devices"][i];
		EXPECT_EQ(dev.at("index"), devices[i].index);
		EXPECT_EQ(dev.at("pci_address"), devices[i].pci_address);
		EXPECT_EQ(dev.at("uuid").get<std::string>().size(), 36u);
		std::set<std::string> names;
		for (const json &b : dev.at("benchmarks")) {
			const std::string name = b.at("name");
			names.insert(name);
			const double measured = b.at("measured").at("value");
			const double baseline = b.at("baseline").at("value");
			EXPECT_GT(measured, 0) << name;
			EXPECT_GT(baseline, 0) << name;
			EXPECT_TRUE(std::isfinite(b.at("ratio").get<double>())) << name;
			EXPECT_NEAR(b.at("ratio").get<double>(), measured / baseline,
				    1e-9 * measured / baseline)
				<< name;
			EXPECT_NE(b.at("measured").at("name"), b.at("baseline").at("name")) << name;
			EXPECT_FALSE(b.at("unit").get<std::string>().empty()) << name;
			EXPECT_FALSE(b.at("meaning").get<std::string>().empty()) << name;
		}
		EXPECT_EQ(names, (std::set<std::string>{"job_round_trip", "copy_bandwidth",
							"pipelined_jobs", "pool_alloc"}));
	}
}

TEST(BenchVmTest, SelectsOneDeviceByIndexOrPciAddress)
{
	const auto devices = npu::Device::enumerate();
	ASSERT_FALSE(devices.empty());
	const auto &last = devices.back();
	for (const std::string &id : {std::to_string(last.index), last.pci_address}) {
		const json doc = bench_json({"-d", id});
		ASSERT_EQ(doc.at("devices").size(), 1u) << id;
		EXPECT_EQ(doc["devices"][0].at("pci_address"), last.pci_address) << id;
	}
}

TEST(BenchVmTest, TableNamesEveryBenchmark)
{
	std::vector<std::string> args = {"-n", "5", "--copy-mib", "1", "-d", "0"};
	const auto r = bench(args);
	ASSERT_EQ(r.status, 0) << r.err;
	for (const char *name :
	     {"job_round_trip", "copy_bandwidth", "pipelined_jobs", "pool_alloc"})
		EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
}

TEST(BenchVmTest, RefusesAnUnknownDeviceAndOutOfRangeOptions)
{
	const auto missing = bench({"-d", "99"});
	EXPECT_EQ(missing.status, 1);
	EXPECT_NE(missing.err.find("npu-bench:"), std::string::npos) << missing.err;
	for (const std::vector<std::string> &args :
	     {std::vector<std::string>{"--depth", "1"}, {"-n", "0"}, {"--copy-mib", "65"}}) {
		const auto r = bench(args);
		EXPECT_NE(r.status, 0) << args[0];
		EXPECT_TRUE(r.out.empty()) << args[0] << ": ran anyway: " << r.out;
	}
}

} // namespace
