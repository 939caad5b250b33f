// npu_vm_smi_tests (npu-smi part): the built npu-smi against the real driver,
// inside an npu-vm guest (run by run-suite). Every subcommand and format;
// JSON and CSV parsed, the exporter scraped over loopback with a plain
// HTTP/1.0 client and its Prometheus text parsed. Needs root and a bound npu
// device. bench_test.cpp covers npu-bench in the same binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "npu/buffer.hpp"
#include "npu/device.hpp"
#include "npu/stream.hpp"
#include "tool_runner.h"

namespace
{

using nlohmann::json;
namespace fs = std::filesystem;

// Runs npu-smi with args (as uid, if given), capturing stdout and stderr.
npu_test::ToolResult smi(const std::vector<std::string> &args, int uid = -1)
{
	return npu_test::run_tool(npu_test::tool_path("NPU_SMI", "tools/npu-smi/npu-smi"), args,
				  uid);
}

json smi_json(std::vector<std::string> args)
{
	args.push_back("--format=json");
	const auto r = smi(args);
	EXPECT_EQ(r.status, 0) << r.err;
	auto doc = json::parse(r.out);
	EXPECT_EQ(doc.at("schema_version"), 1);
	return doc;
}

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> lines;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);)
		lines.push_back(line);
	return lines;
}

std::vector<std::string> split(const std::string &line, char sep)
{
	std::vector<std::string> cells;
	std::stringstream in(line);
	for (std::string cell; std::getline(in, cell, sep);)
		cells.push_back(cell);
	return cells;
}

// PCI functions bound to npu, sorted: what npu-smi must list.
std::vector<std::string> bound_npus()
{
	std::vector<std::string> found;
	for (const auto &entry : fs::directory_iterator("/sys/bus/pci/drivers/npu"))
		if (entry.path().filename().string().starts_with("0000:"))
			found.push_back(entry.path().filename());
	std::sort(found.begin(), found.end());
	return found;
}

// The guest's init leaves lo down; the exporter needs it.
void loopback_up()
{
	const int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ifreq req{};
	std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &req) == 0 && !(req.ifr_flags & IFF_UP)) {
		req.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(fd, SIOCSIFFLAGS, &req);
	}
	close(fd);
}

// HTTP/1.0 GET on loopback; the body, or "" if the server is not there.
std::string http_get(int port, const std::string &path, int *status)
{
	const int fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_port = htons(static_cast<uint16_t>(port));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
		close(fd);
		return "";
	}
	const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	if (write(fd, request.data(), request.size()) < 0) {
		close(fd);
		return "";
	}
	std::string response;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		response.append(buf, static_cast<size_t>(n));
	close(fd);
	const auto header_end = response.find("\r\n\r\n");
	if (header_end == std::string::npos)
		return "";
	std::sscanf(response.c_str(), "HTTP/%*d.%*d %d", status);
	return response.substr(header_end + 4);
}

int free_port()
{
	const int fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
	socklen_t len = sizeof(addr);
	getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
	close(fd);
	return ntohs(addr.sin_port);
}

class SmiVmTest : public ::testing::Test
{
protected:
	void SetUp() override
	{
		devices = bound_npus();
		ASSERT_FALSE(devices.empty()) << "no npu device bound";
	}
	std::vector<std::string> devices;
};

TEST_F(SmiVmTest, ListMatchesSysfs)
{
	const auto doc = smi_json({"list"});
	ASSERT_EQ(doc.at("devices").size(), devices.size());
	for (size_t i = 0; i < devices.size(); ++i) {
		const auto &d = doc["devices"][i];
		EXPECT_EQ(d.at("index"), i);
		EXPECT_EQ(d.at("pci_address"), devices[i]);
		EXPECT_TRUE(fs::exists(d.at("node").get<std::string>())) << d.dump();
		std::ifstream serial("/sys/bus/pci/devices/" + devices[i] + "/serial");
		std::string expected;
		serial >> expected;
		EXPECT_EQ(d.at("serial"), expected);
		EXPECT_EQ(d.at("uuid").get<std::string>().size(), 36u);
		std::ifstream fw("/sys/bus/pci/devices/" + devices[i] + "/fw_version");
		std::string fw_version;
		fw >> fw_version;
		EXPECT_EQ(d.at("firmware_version"), fw_version);
		EXPECT_TRUE(std::regex_match(fw_version, std::regex(R"(\d+\.\d+\.\d+)")))
			<< fw_version;
	}
	const auto csv = smi({"list", "--format", "csv"});
	EXPECT_EQ(lines_of(csv.out).size(), devices.size() + 1) << csv.out;
}

TEST_F(SmiVmTest, DefaultTableAndOverviewJson)
{
	const auto table = smi({});
	ASSERT_EQ(table.status, 0) << table.err;
	for (const auto &bdf : devices)
		EXPECT_NE(table.out.find(bdf), std::string::npos) << table.out;
	EXPECT_NE(table.out.find("ready"), std::string::npos) << table.out;
	const auto doc = smi_json({});
	for (const auto &d : doc.at("devices")) {
		EXPECT_EQ(d.at("state"), "ready");
		EXPECT_EQ(d.at("driver"), "npu");
		const double temp = d.at("temperature_c");
		EXPECT_GT(temp, 0.0);
		EXPECT_LT(temp, 150.0);
		EXPECT_GT(d.at("power_w").get<double>(), 0.0);
		EXPECT_GE(d.at("utilization_percent").get<double>(), 0.0);
		EXPECT_GT(d.at("memory_total_bytes").get<uint64_t>(), 0u);
		EXPECT_TRUE(d.at("busy_time_us").is_number());
		EXPECT_TRUE(d.at("reset_count").is_number());
		EXPECT_TRUE(d.at("driver_version").is_string());
	}
}

TEST_F(SmiVmTest, InfoHasDriverProperties)
{
	const auto doc = smi_json({"info", "-d", "0"});
	const auto &d = doc.at("devices").at(0);
	ASSERT_TRUE(d.at("properties").is_object()) << d.dump();
	EXPECT_GT(d["properties"].at("engines").get<int>(), 0);
	EXPECT_EQ(d["properties"].at("devmem_size"), d.at("memory_total_bytes"))
		<< "sysfs BAR2 arithmetic agrees with GET_PARAM";
	EXPECT_EQ(d.at("pci_path").back(), devices[0]);
	const auto table = smi({"info", "-d", devices[0]});
	EXPECT_EQ(table.status, 0) << table.err;
	EXPECT_NE(table.out.find("engines"), std::string::npos);
}

// The tensor engines as npu-smi shows them match the driver's sysfs.
TEST_F(SmiVmTest, EnginesMatchSysfs)
{
	const auto doc =
		smi_json({"query", "--fields",
			  "pci_address,engine_count,engines,ops_done,engine_utilization_percent"});
	ASSERT_EQ(doc.at("devices").size(), devices.size());
	for (size_t i = 0; i < devices.size(); ++i) {
		const auto &d = doc["devices"][i];
		const std::string sysfs = "/sys/bus/pci/devices/" + devices[i];
		npu::Device device = npu::Device::open_pci(devices[i]);
		const unsigned count = device.properties().engine_count;
		ASSERT_EQ(d.at("engine_count"), count) << d.dump();
		ASSERT_EQ(d.at("engines").size(), count);
		EXPECT_TRUE(d.at("ops_done").is_number()) << d.dump();
		const double mean = d.at("engine_utilization_percent");
		EXPECT_GE(mean, 0.0);
		EXPECT_LE(mean, 100.0);
		for (unsigned e = 0; e < count; ++e) {
			const auto &engine = d["engines"][e];
			EXPECT_EQ(engine.at("index"), e);
			const std::string state = engine.at("state");
			EXPECT_TRUE(state == "idle" || state == "busy") << engine.dump();
			const double util = engine.at("util_percent");
			EXPECT_GE(util, 0.0);
			EXPECT_LE(util, 100.0);
			EXPECT_TRUE(fs::exists(sysfs + "/engine" + std::to_string(e) + "/busy_ns"));
			EXPECT_TRUE(engine.at("tasks_done").is_number());
			EXPECT_TRUE(engine.at("busy_ns").is_number());
		}
	}
	const auto table = smi({});
	ASSERT_EQ(table.status, 0) << table.err;
	EXPECT_NE(table.out.find("ENGINES"), std::string::npos) << table.out;
	EXPECT_NE(table.out.find("IDX  ENGINE  STATE"), std::string::npos) << table.out;
}

TEST_F(SmiVmTest, QueryCsvAndJson)
{
	auto r = smi({"query", "--fields",
		      "index,pci_address,temperature_c,power_w,memory_used_bytes", "--format",
		      "csv"});
	ASSERT_EQ(r.status, 0) << r.err;
	auto lines = lines_of(r.out);
	ASSERT_EQ(lines.size(), devices.size() + 1);
	EXPECT_EQ(lines[0],
		  "index,pci_address,temperature_c [C],power_w [W],memory_used_bytes [B]");
	auto cells = split(lines[1], ',');
	ASSERT_EQ(cells.size(), 5u);
	EXPECT_EQ(cells[1], devices[0]);
	EXPECT_TRUE(cells[2].ends_with(" C")) << cells[2];
	r = smi({"query", "--fields", "temperature_c,jobs_completed", "--format", "csv",
		 "--no-header", "--no-units", "-d", devices[0]});
	lines = lines_of(r.out);
	ASSERT_EQ(lines.size(), 1u) << r.out;
	cells = split(lines[0], ',');
	ASSERT_EQ(cells.size(), 2u);
	EXPECT_GT(std::stod(cells[0]), 0.0);
	(void)std::stoull(cells[1]);
	const auto doc = smi_json({"query", "--fields", "uuid,state"});
	EXPECT_EQ(doc["devices"][0].size(), 2u);
	EXPECT_NE(smi({"query", "--fields", "nonsense"}).status, 0);
}

TEST_F(SmiVmTest, ProcessesShowsAHolderWithItsMemory)
{
	npu::Device device(0);
	npu::Buffer buffer(device, size_t{1} << 20);
	const auto doc = smi_json({"processes"});
	bool found = false;
	for (const auto &p : doc.at("processes"))
		if (p.at("pid") == getpid()) {
			found = true;
			EXPECT_EQ(p.at("device_index"), 0);
			EXPECT_GE(p.at("memory_bytes").get<uint64_t>(), uint64_t{1} << 20)
				<< p.dump();
			EXPECT_TRUE(p.at("jobs_submitted").is_number());
		}
	EXPECT_TRUE(found) << doc.dump();
	const auto overview = smi_json({"-d", "0"});
	EXPECT_GE(overview["devices"][0].at("process_count").get<int>(), 1);
	EXPECT_GE(overview["devices"][0].at("memory_used_bytes").get<uint64_t>(),
		  uint64_t{1} << 20);
	const auto csv = smi({"processes", "--format", "csv", "--no-header"});
	EXPECT_NE(csv.out.find("," + std::to_string(getpid()) + ","), std::string::npos) << csv.out;
}

// The processes view reads the DRM fdinfo keys: the device time of the
// holder's jobs (drm-engine-npu) and its memory (drm-total-system).
TEST_F(SmiVmTest, ProcessesShowDeviceTimeFromFdinfo)
{
	npu::Device device(0);
	npu::Buffer buffer(device, size_t{8} << 20);
	npu::Stream stream(device);
	for (int i = 0; i < 4; i++)
		stream.fill(buffer, 0, buffer.size(), 0x1234u + i);
	stream.synchronize();
	const auto doc = smi_json({"processes"});
	bool found = false;
	for (const auto &p : doc.at("processes"))
		if (p.at("pid") == getpid()) {
			found = true;
			ASSERT_TRUE(p.at("busy_ns").is_number()) << p.dump();
			EXPECT_GT(p.at("busy_ns").get<uint64_t>(), 0u) << p.dump();
			EXPECT_GE(p.at("memory_bytes").get<uint64_t>(), uint64_t{8} << 20)
				<< p.dump();
		}
	EXPECT_TRUE(found) << doc.dump();
	const auto table = smi({"processes"});
	EXPECT_NE(table.out.find("busy_ns"), std::string::npos) << table.out;
}

TEST_F(SmiVmTest, TopoAndFirmware)
{
	const auto topo = smi_json({"topo"});
	const auto &links = topo.at("links");
	ASSERT_EQ(links.size(), devices.size());
	for (size_t i = 0; i < devices.size(); ++i) {
		ASSERT_EQ(links[i].size(), devices.size());
		EXPECT_EQ(links[i][i], "SELF");
	}
	EXPECT_EQ(smi({"topo"}).status, 0);
	const auto fw = smi_json({"firmware", "--log"});
	for (const auto &d : fw.at("devices")) {
		EXPECT_EQ(d.at("state"), "ready");
		ASSERT_TRUE(d.at("log").is_string()) << "debugfs fw_log as root";
		EXPECT_NE(d["log"].get<std::string>().find("npu-fw"), std::string::npos);
	}
}

TEST_F(SmiVmTest, ValidatePassesAndMovesTheCounters)
{
	const auto before = smi_json({"query", "--fields", "jobs_completed", "-d", "0"});
	const auto doc = smi_json({"validate", "-d", "0", "--iterations", "50"});
	EXPECT_EQ(doc.at("passed"), true) << doc.dump(2);
	const auto &checks = doc["devices"][0].at("checks");
	std::vector<std::string> names;
	for (const auto &c : checks) {
		names.push_back(c.at("name"));
		EXPECT_TRUE(c.at("passed").get<bool>()) << c.dump();
	}
	ASSERT_EQ(names, (std::vector<std::string>{"reachable", "firmware", "dma_bandwidth",
						   "dma_data_pattern", "fence_latency", "gemm",
						   "conv2d"}));
	EXPECT_GT(checks[2].at("value").get<double>(), 0.0) << "MB/s";
	EXPECT_GT(checks[4].at("value").get<double>(), 0.0) << "us";
	const auto after = smi_json({"query", "--fields", "jobs_completed", "-d", "0"});
	EXPECT_GE(after["devices"][0]["jobs_completed"].get<uint64_t>(),
		  before["devices"][0]["jobs_completed"].get<uint64_t>() + 50);
}

TEST_F(SmiVmTest, WatchAndFile)
{
	const auto r = smi({"watch", "-l", "0.2", "-c", "2", "--format", "json"});
	ASSERT_EQ(r.status, 0) << r.err;
	const auto lines = lines_of(r.out);
	ASSERT_EQ(lines.size(), 2u);
	for (const auto &line : lines)
		EXPECT_EQ(json::parse(line).at("devices").size(), devices.size());
	const std::string file = "/tmp/npu-smi-vm-test.csv";
	ASSERT_EQ(smi({"query", "--fields", "index", "--format", "csv", "--file", file}).status, 0);
	std::ifstream in(file);
	std::stringstream text;
	text << in.rdbuf();
	EXPECT_EQ(lines_of(text.str()).size(), devices.size() + 1);
	fs::remove(file);
}

TEST_F(SmiVmTest, UnprivilegedUser)
{
	const auto list = smi({"list"}, 65534);
	EXPECT_EQ(list.status, 0) << "sysfs views need no node access: " << list.err;
	const auto info = smi({"info", "-d", "0"}, 65534);
	EXPECT_EQ(info.status, 1);
	EXPECT_NE(info.err.find("Permission denied"), std::string::npos) << info.err;
	const auto reset = smi({"reset", "-d", "0"}, 65534);
	EXPECT_EQ(reset.status, 1);
	EXPECT_NE(reset.err.find("needs root"), std::string::npos) << reset.err;
}

TEST_F(SmiVmTest, ExporterServesPrometheusText)
{
	loopback_up();
	const int port = free_port();
	const std::string listen = "127.0.0.1:" + std::to_string(port);
	npu_test::ToolResult server;
	std::thread runner([&] {
		server = smi({"exporter", "--listen", listen, "--max-requests", "2"});
	});
	std::string body;
	int status = 0;
	for (int i = 0; i < 200 && body.empty(); ++i) {
		body = http_get(port, "/metrics", &status);
		if (body.empty())
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	const std::string second = http_get(port, "/metrics", &status);
	runner.join();
	EXPECT_EQ(server.status, 0) << server.err;
	EXPECT_EQ(status, 200);
	EXPECT_FALSE(second.empty());

	const std::regex sample(R"(^([a-z_]+)\{([^}]*)\} (\S+)$)");
	std::map<std::string, std::vector<double>> values;
	for (const auto &line : lines_of(body)) {
		if (line.starts_with("#"))
			continue;
		std::smatch m;
		ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
		EXPECT_NE(m[2].str().find("pci_address=\""), std::string::npos);
		values[m[1].str()].push_back(std::stod(m[3].str()));
	}
	EXPECT_EQ(values["npu_up"], std::vector<double>(devices.size(), 1.0));
	for (const char *name :
	     {"npu_info", "npu_temperature_celsius", "npu_power_watts", "npu_utilization_ratio",
	      "npu_memory_total_bytes", "npu_busy_seconds_total", "npu_jobs_completed_total",
	      "npu_ops_completed_total", "npu_engines", "npu_resets_total"})
		EXPECT_EQ(values[name].size(), devices.size()) << name;
	size_t engines = 0;
	for (double count : values["npu_engines"])
		engines += static_cast<size_t>(count);
	EXPECT_GT(engines, 0u);
	for (const char *name : {"npu_engine_utilization_ratio", "npu_engine_busy_seconds_total",
				 "npu_engine_tasks_total", "npu_engine_busy"})
		EXPECT_EQ(values[name].size(), engines) << name << ": one sample per engine";
	for (double ratio : values["npu_engine_utilization_ratio"]) {
		EXPECT_GE(ratio, 0.0);
		EXPECT_LE(ratio, 1.0);
	}
}

// Last: the device goes through unbind/bind.
TEST_F(SmiVmTest, ZResetRefusedWhileHeldThenWorks)
{
	const std::string bdf = devices.back();
	{
		npu::Device held = npu::Device::open_pci(bdf);
		const auto refused = smi({"reset", "-d", bdf});
		EXPECT_EQ(refused.status, 1);
		EXPECT_NE(refused.err.find("in use by " + std::to_string(getpid())),
			  std::string::npos)
			<< refused.err;
	}
	const auto doc = smi_json({"reset", "-d", bdf});
	EXPECT_EQ(doc.at("device").at("state"), "ready");
	EXPECT_EQ(doc["device"].at("pci_address"), bdf);
	// The device works after the reset.
	EXPECT_EQ(smi_json({"validate", "-d", bdf, "--iterations", "10"}).at("passed"), true);
}

} // namespace
