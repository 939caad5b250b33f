// npu-smi end to end on the host: a fake sysfs/proc tree for the management
// API and FakeOs (tests/host/libnpu) for the commands that open devices.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "command.hpp"
#include "fake_os.hpp"
#include "fake_tree.hpp"
#include "report.hpp"

namespace npu::testing {
namespace {

using nlohmann::json;

struct SmiResult {
    int status;
    std::string out;
    std::string err;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

class SmiTest : public ::testing::Test {
protected:
    void SetUp() override {
        tree.add_two_npus();
        FakeDeviceConfig accel1;
        accel1.node = "/dev/accel/accel1";
        accel1.pci_address = "0000:00:05.0";
        os->add_device(accel1);
        os->add_device(FakeDeviceConfig{});
    }

    SmiResult smi(std::vector<const char*> args, std::optional<bool> privileged = true) {
        std::ostringstream out, err;
        smi::Context context{os, out, err, tree.root(), privileged};
        args.insert(args.begin(), "npu-smi");
        const int status = smi::run(static_cast<int>(args.size()), args.data(), context);
        return {status, out.str(), err.str()};
    }

    // A third NPU (0000:00:08.0, accel2) whose node this user cannot open.
    void add_npu_without_access() {
        FakeDeviceConfig locked;
        locked.node = "/dev/accel/accel2";
        locked.pci_address = "0000:00:08.0";
        locked.deny_open = true;
        os->add_device(locked);
        FakeNpu npu;
        npu.pci_address = "0000:00:08.0";
        npu.node = "accel2";
        tree.add_npu(npu);
    }

    json smi_json(std::vector<const char*> args) {
        args.push_back("--format");
        args.push_back("json");
        const auto result = smi(args);
        EXPECT_EQ(result.status, 0) << result.err;
        const auto doc = json::parse(result.out);
        EXPECT_EQ(doc.at("schema_version"), smi::kSchemaVersion);
        return doc;
    }

    FakeTree tree;
    std::shared_ptr<FakeOs> os = std::make_shared<FakeOs>();
};

TEST_F(SmiTest, NoDevicesIsNotAnError) {
    FakeTree empty;
    for (const auto& args : {std::vector<const char*>{}, std::vector<const char*>{"list"}}) {
        std::ostringstream out, err;
        smi::Context context{os, out, err, empty.root(), std::nullopt};
        std::vector<const char*> argv{"npu-smi"};
        argv.insert(argv.end(), args.begin(), args.end());
        EXPECT_EQ(smi::run(static_cast<int>(argv.size()), argv.data(), context), 0);
        EXPECT_NE(out.str().find("No NPU devices found."), std::string::npos) << out.str();
        EXPECT_EQ(err.str(), "");
    }
    std::ostringstream out, err;
    smi::Context context{os, out, err, empty.root(), std::nullopt};
    const char* argv[] = {"npu-smi", "list", "--json"};
    EXPECT_EQ(smi::run(3, argv, context), 0);
    EXPECT_TRUE(json::parse(out.str()).at("devices").empty());
}

TEST_F(SmiTest, OverviewTableShowsEveryDevice) {
    tree.add_process(4242, "trainer", "accel0");
    tree.set_contexts("0000:00:03.0", "1 4242 trainer 1 65536 3 3 0\n");
    const auto result = smi({});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = lines_of(result.out);
    ASSERT_GE(lines.size(), 4u) << result.out;
    EXPECT_NE(lines[0].find("driver 0.1.0"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("PCI ADDRESS"), std::string::npos);
    EXPECT_NE(lines[2].find("0000:00:03.0"), std::string::npos) << lines[2];
    for (const char* cell : {"ready", "0.1.0", "38.5 C", "15.00 W", "2 MiB / 62 MiB"})
        EXPECT_NE(lines[2].find(cell), std::string::npos) << cell << " in " << lines[2];
    EXPECT_NE(lines[3].find("0000:00:05.0"), std::string::npos) << lines[3];
    EXPECT_NE(result.out.find("4242"), std::string::npos) << "process section";
    EXPECT_NE(result.out.find("64 KiB"), std::string::npos) << result.out;
}

TEST_F(SmiTest, OverviewTableShowsEngines) {
    tree.set_engine_busy_ns("0000:00:05.0", 1, 4000000000); // 4 s: busy all the window
    const auto result = smi({});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = lines_of(result.out);
    ASSERT_GE(lines.size(), 4u) << result.out;
    EXPECT_NE(lines[1].find("ENGINES"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("4 @ 0 %"), std::string::npos) << lines[2];
    // Sampled before the window started: engine 1 of NPU 1 did not move either.
    EXPECT_NE(lines[3].find("4 @ 0 %"), std::string::npos) << lines[3];
    const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
        return l.starts_with("IDX  ENGINE  STATE");
    });
    ASSERT_NE(header, lines.end()) << "no per-engine section:\n" << result.out;
    ASSERT_GE(lines.end() - header, 9) << result.out;
    EXPECT_TRUE(std::regex_match(header[1], std::regex(R"(0 +0 +busy +0 % +100)"))) << header[1];
    EXPECT_TRUE(std::regex_match(header[8], std::regex(R"(1 +3 +idle +0 % +103)"))) << header[8];
}

TEST_F(SmiTest, EnginesInQueryJsonAndCsv) {
    const auto doc = smi_json({"query", "--fields", "engine_count,ops_done,engines"});
    ASSERT_EQ(doc.at("devices").size(), 2u);
    const auto& d = doc["devices"][0];
    EXPECT_EQ(d.at("engine_count"), 4);
    EXPECT_EQ(d.at("ops_done"), 17);
    ASSERT_EQ(d.at("engines").size(), 4u);
    const auto& e = d["engines"][3];
    EXPECT_EQ(e.at("index"), 3);
    EXPECT_EQ(e.at("state"), "idle");
    EXPECT_EQ(e.at("tasks_done"), 103);
    EXPECT_EQ(e.at("busy_ns"), 20000000);
    EXPECT_EQ(e.at("util_percent"), 0.0) << "sampled over a window";
    const auto csv =
        smi({"query", "--fields", "index,engine_count,engine_utilization_percent,engines",
             "--format", "csv", "--no-units", "-d", "1"});
    ASSERT_EQ(csv.status, 0) << csv.err;
    EXPECT_EQ(csv.out,
              "index,engine_count,engine_utilization_percent,engines\n1,4,0.0,0.0;0.0;0.0;0.0\n");
}

TEST_F(SmiTest, DriverWithoutEnginesShowsNotAvailable) {
    FakeNpu old;
    old.pci_address = "0000:00:08.0";
    old.node = "accel2";
    old.ops_completed = ~uint64_t{0};
    tree.add_npu(old);
    const auto doc = smi_json({"query", "--fields", "engine_count,engines,ops_done", "-d", "2"});
    EXPECT_TRUE(doc["devices"][0].at("engine_count").is_null());
    EXPECT_TRUE(doc["devices"][0].at("engines").is_null());
    EXPECT_TRUE(doc["devices"][0].at("ops_done").is_null());
    const auto table = smi({"-d", "2"});
    EXPECT_EQ(table.status, 0) << table.err;
    EXPECT_EQ(table.out.find("IDX  ENGINE"), std::string::npos) << table.out;
}

TEST_F(SmiTest, OverviewJsonCarriesEveryField) {
    const auto doc = smi_json({});
    EXPECT_EQ(doc.at("command"), "overview");
    const auto& devices = doc.at("devices");
    ASSERT_EQ(devices.size(), 2u);
    for (const auto& f : smi::fields())
        EXPECT_TRUE(devices[0].contains(f.name)) << f.name;
    EXPECT_EQ(devices[0].at("pci_address"), "0000:00:03.0");
    EXPECT_EQ(devices[0].at("temperature_c"), 38.5);
    EXPECT_EQ(devices[0].at("power_w"), 15.0);
    EXPECT_EQ(devices[0].at("memory_total_bytes"), 62u << 20);
    EXPECT_TRUE(devices[0].at("utilization_percent").is_number()) << "sampled over a window";
    EXPECT_TRUE(devices[0].at("processes").is_array());
}

TEST_F(SmiTest, ListJsonAndCsv) {
    const auto doc = smi_json({"list"});
    ASSERT_EQ(doc.at("devices").size(), 2u);
    EXPECT_EQ(doc["devices"][1].at("uuid"), "00000000-0000-8000-8a6e-70752d756964");
    EXPECT_EQ(doc["devices"][1].at("node"), "/dev/accel/accel1");
    const auto csv = smi({"list", "--format", "csv"});
    const auto lines = lines_of(csv.out);
    ASSERT_EQ(lines.size(), 3u) << csv.out;
    EXPECT_EQ(lines[0], "index,pci_address,node,uuid,firmware_version");
    EXPECT_EQ(lines[1],
              "0,0000:00:03.0,/dev/accel/accel0,9430a88e-132f-8087-8d6e-70752d756964,0.1.0");
}

TEST_F(SmiTest, QueryCsvWithAndWithoutHeaderAndUnits) {
    auto result = smi(
        {"query", "--fields", "index,temperature_c,power_w,memory_used_bytes", "--format", "csv"});
    ASSERT_EQ(result.status, 0) << result.err;
    auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "index,temperature_c [C],power_w [W],memory_used_bytes [B]");
    EXPECT_EQ(lines[1], "0,38.5 C,15.0 W,2097152 B");
    result = smi({"query", "--fields", "index,temperature_c", "--format", "csv", "--no-header",
                  "--no-units", "-d", "00:05.0"});
    EXPECT_EQ(result.out, "1,38.5\n");
}

TEST_F(SmiTest, QueryJsonAndMissingValues) {
    tree.remove("sys/devices/pci0000:00/0000:00:03.0/hwmon");
    const auto doc = smi_json({"query", "--fields", "pci_address,temperature_c,state"});
    ASSERT_EQ(doc.at("devices").size(), 2u);
    EXPECT_EQ(doc["devices"][0].size(), 3u);
    EXPECT_TRUE(doc["devices"][0].at("temperature_c").is_null());
    EXPECT_EQ(doc["devices"][1].at("temperature_c"), 38.5);
    const auto table = smi({"query", "--fields", "index,temperature_c"});
    EXPECT_NE(lines_of(table.out).at(1).find("N/A"), std::string::npos) << table.out;
}

TEST_F(SmiTest, QueryRejectsUnknownFieldsAndDevices) {
    auto result = smi({"query", "--fields", "index,bogus"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("unknown field 'bogus'"), std::string::npos) << result.err;
    result = smi({"query", "--fields", "index", "-d", "9"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("no NPU device '9'"), std::string::npos) << result.err;
    EXPECT_NE(smi({"bogus"}).status, 0);
    EXPECT_NE(smi({"query", "--format", "xml", "--fields", "index"}).status, 0);
}

TEST_F(SmiTest, InfoOpensTheDeviceForProperties) {
    const auto doc = smi_json({"info", "-d", "0"});
    ASSERT_EQ(doc.at("devices").size(), 1u);
    const auto& d = doc["devices"][0];
    EXPECT_EQ(d.at("properties").at("engines"), 4);
    EXPECT_EQ(d.at("properties").at("firmware_abi"), "1.0");
    EXPECT_TRUE(d.at("properties_error").is_null());
    EXPECT_EQ(d.at("pci_path"), json({"pci0000:00", "0000:00:03.0"}));
    const auto table = smi({"info", "-d", "1"});
    EXPECT_EQ(table.status, 0) << table.err;
    EXPECT_NE(table.out.find("NPU 1 (0000:00:05.0)"), std::string::npos) << table.out;
}

TEST_F(SmiTest, InfoExplainsPermissionDenied) {
    add_npu_without_access();
    const auto result = smi({"info", "-d", "2", "--json"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("cannot open /dev/accel/accel2: Permission denied (need read/write"),
              std::string::npos)
        << result.err;
    const auto doc = json::parse(result.out);
    EXPECT_TRUE(doc["devices"][0].at("properties").is_null());
    EXPECT_NE(doc["devices"][0].at("properties_error").get<std::string>().find("Permission denied"),
              std::string::npos);
    // Sysfs views need no access to the node.
    EXPECT_EQ(smi({"list"}).status, 0);
}

TEST_F(SmiTest, ResettingDeviceIsShownNotFatal) {
    tree.remove("sys/devices/pci0000:00/0000:00:03.0/driver");
    const auto doc = smi_json({});
    EXPECT_EQ(doc["devices"][0].at("state"), "unbound");
    EXPECT_TRUE(doc["devices"][0].at("node").is_null());
    EXPECT_TRUE(doc["devices"][0].at("temperature_c").is_null());
    const auto table = smi({});
    EXPECT_EQ(table.status, 0);
    EXPECT_NE(table.out.find("unbound"), std::string::npos) << table.out;
}

TEST_F(SmiTest, ProcessesInEveryFormat) {
    EXPECT_NE(smi({"processes"}).out.find("No processes"), std::string::npos);
    tree.add_process(77, "infer", "accel1", 2);
    tree.set_contexts("0000:00:05.0", "3 77 infer 2 16384 8 7 1\n");
    const auto doc = smi_json({"processes"});
    ASSERT_EQ(doc.at("processes").size(), 1u);
    const auto& p = doc["processes"][0];
    EXPECT_EQ(p.at("pid"), 77);
    EXPECT_EQ(p.at("name"), "infer");
    EXPECT_EQ(p.at("device_index"), 1);
    EXPECT_EQ(p.at("fds"), 2);
    EXPECT_EQ(p.at("memory_bytes"), 16384);
    EXPECT_EQ(p.at("jobs_failed"), 1);
    const auto csv = smi({"processes", "--format", "csv", "--no-header"});
    EXPECT_EQ(csv.out, "1,0000:00:05.0,77,infer,2,16384,N/A,8,7,1,N/A\n");
}

TEST_F(SmiTest, TopoMatrix) {
    const auto doc = smi_json({"topo"});
    ASSERT_EQ(doc.at("devices").size(), 2u);
    EXPECT_EQ(doc.at("links"),
              json::array({json::array({"SELF", "PHB"}), json::array({"PHB", "SELF"})}));
    EXPECT_TRUE(doc["devices"][0].at("numa_node").is_null());
    const auto table = smi({"topo"});
    EXPECT_NE(table.out.find("NPU0"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("PHB"), std::string::npos);
}

TEST_F(SmiTest, FirmwareWithLog) {
    const auto doc = smi_json({"firmware", "--log", "-d", "0"});
    ASSERT_EQ(doc.at("devices").size(), 1u);
    EXPECT_EQ(doc["devices"][0].at("firmware_version"), "0.1.0");
    EXPECT_EQ(doc["devices"][0].at("state"), "ready");
    EXPECT_EQ(doc["devices"][0].at("log"), "npu-fw 0.1.0 booted\nqueues ready");
    EXPECT_TRUE(smi_json({"firmware"})["devices"][0].at("log").is_null());
}

TEST_F(SmiTest, ResetRules) {
    auto result = smi({"reset", "-d", "0"}, false);
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("needs root"), std::string::npos) << result.err;
    EXPECT_EQ(smi({"reset"}).status, 2) << "a device is required";
    tree.add_process(55, "holder", "accel0");
    result = smi({"reset", "-d", "0"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("in use by 55 (holder)"), std::string::npos) << result.err;
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/unbind"), "");
    result = smi({"reset", "-d", "0", "--force", "--json"});
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(json::parse(result.out).at("device").at("state"), "ready");
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/bind"), "0000:00:03.0");
}

TEST_F(SmiTest, WatchStopsAfterCount) {
    const auto result = smi({"watch", "-l", "0.05", "-c", "3", "--format", "json"});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 3u) << "one compact JSON document per report";
    for (const auto& line : lines)
        EXPECT_EQ(json::parse(line).at("devices").size(), 2u);
    const auto tables = smi(
        {"query", "--fields", "index", "-l", "0.05", "-c", "2", "--format", "csv", "--no-header"});
    EXPECT_EQ(tables.out, "0\n1\n0\n1\n");
}

TEST_F(SmiTest, FileOption) {
    const std::string file = tree.root() + "/out.json";
    const auto result = smi({"list", "--json", "--file", file.c_str()});
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, "");
    std::ifstream in(file);
    EXPECT_EQ(json::parse(in).at("devices").size(), 2u);
    EXPECT_EQ(smi({"list", "--file", "/nonexistent-dir/x"}).status, 1);
}

TEST_F(SmiTest, ValidatePassesOnAWorkingDevice) {
    const auto doc = smi_json({"validate", "-d", "1", "--bytes", "262144", "--iterations", "20"});
    EXPECT_EQ(doc.at("passed"), true);
    const auto& checks = doc["devices"][0].at("checks");
    std::vector<std::string> names;
    for (const auto& c : checks) {
        names.push_back(c.at("name"));
        EXPECT_TRUE(c.at("passed").get<bool>()) << c.dump();
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{"reachable", "firmware", "dma_bandwidth",
                                        "dma_data_pattern", "fence_latency", "gemm", "conv2d"}));
    EXPECT_EQ(checks[3].at("value"), 0) << "no mismatched words";
    EXPECT_GT(checks[2].at("value").get<double>(), 0.0);
}

TEST_F(SmiTest, ValidateFailsWhenTheNodeCannotBeOpened) {
    add_npu_without_access();
    const auto result = smi({"validate", "-d", "2"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("FAIL"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("Permission denied"), std::string::npos) << result.out;
}

// One sample line: name{labels} value.
TEST_F(SmiTest, PrometheusText) {
    mgmt::System system(tree.root());
    const auto text = smi::prometheus_text(system);
    const std::regex sample(R"(^([a-z_]+)\{([^}]*)\} (\S+)$)");
    std::map<std::string, int> samples;
    for (const auto& line : lines_of(text)) {
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE "))
            continue;
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
        EXPECT_NE(m[2].str().find("pci_address=\"0000:00:0"), std::string::npos) << line;
        (void)std::stod(m[3].str());
        ++samples[m[1].str()];
    }
    for (const char* name :
         {"npu_info", "npu_up", "npu_temperature_celsius", "npu_power_watts",
          "npu_utilization_ratio", "npu_memory_used_bytes", "npu_memory_total_bytes",
          "npu_busy_seconds_total", "npu_jobs_completed_total", "npu_ops_completed_total",
          "npu_engines", "npu_resets_total", "npu_processes"})
        EXPECT_EQ(samples[name], 2) << name;
    for (const char* name : {"npu_engine_utilization_ratio", "npu_engine_busy_seconds_total",
                             "npu_engine_tasks_total", "npu_engine_busy"})
        EXPECT_EQ(samples[name], 8) << name << ": one per engine of each device";
    EXPECT_NE(text.find("# TYPE npu_engine_tasks_total counter"), std::string::npos);
    EXPECT_NE(text.find("npu_engine_tasks_total{device=\"1\",pci_address=\"0000:00:05.0\","
                        "uuid=\"00000000-0000-8000-8a6e-70752d756964\",engine=\"2\"} 102\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("npu_engine_busy{device=\"0\",pci_address=\"0000:00:03.0\","
                        "uuid=\"9430a88e-132f-8087-8d6e-70752d756964\",engine=\"0\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(",engine=\"3\"} 0.02\n"), std::string::npos)
        << "engine 3's 20 ms of busy time in seconds:\n"
        << text;
    EXPECT_NE(text.find("# TYPE npu_jobs_completed_total counter"), std::string::npos);
    EXPECT_NE(text.find("npu_temperature_celsius{device=\"0\",pci_address=\"0000:00:03.0\","
                        "uuid=\"9430a88e-132f-8087-8d6e-70752d756964\"} 38.5"),
              std::string::npos)
        << text;
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TEST_F(SmiTest, ExporterServesMetricsThenStops) {
    const int port = free_port();
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    SmiResult result{};
    std::thread server([&] {
        result = smi({"exporter", "--listen", listen.c_str(), "--max-requests", "2"});
    });
    httplib::Client client("127.0.0.1", port);
    int status = 0;
    std::string body;
    for (int i = 0; i < 100 && !status; ++i) { // until the server listens
        if (auto first = client.Get("/metrics")) {
            status = first->status;
            body = first->body;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    EXPECT_EQ(status, 200);
    EXPECT_NE(body.find("npu_up{"), std::string::npos);
    const auto second = client.Get("/metrics");
    ASSERT_TRUE(second);
    EXPECT_NE(second->body.find("npu_utilization_ratio{"), std::string::npos);
    server.join();
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.err.find("stopped after 2 scrapes"), std::string::npos) << result.err;
}

// Operators type the device after the subcommand (`info 0`), as -d.
TEST_F(SmiTest, DeviceSelectorAfterTheSubcommand) {
    for (const char* sub : {"info", "query", "processes", "list", "firmware"}) {
        std::vector<const char*> args{sub, "1"};
        if (std::string(sub) == "query")
            args.insert(args.end(), {"--fields", "index,pci_address"});
        const auto doc = smi_json(args);
        if (doc.contains("devices")) {
            ASSERT_EQ(doc.at("devices").size(), 1u) << sub << ": " << doc.dump();
            EXPECT_EQ(doc.at("devices")[0].at("pci_address"), "0000:00:05.0") << sub;
        }
    }
    const auto by_uuid = smi_json({"info", "00000000-0000-8000-8a6e-70752d756964"});
    ASSERT_EQ(by_uuid.at("devices").size(), 1u);
    EXPECT_EQ(by_uuid.at("devices")[0].at("index"), 1);
    const auto nvidia_style = smi_json({"query", "-i", "0", "--fields", "pci_address"});
    ASSERT_EQ(nvidia_style.at("devices").size(), 1u);
    EXPECT_EQ(nvidia_style.at("devices")[0].at("pci_address"), "0000:00:03.0");
}

TEST_F(SmiTest, QueryHelpFieldsListsFieldsAndAliases) {
    const auto result = smi({"query", "--help-fields"});
    ASSERT_EQ(result.status, 0) << result.err;
    for (const auto& f : smi::fields())
        EXPECT_NE(result.out.find(f.name), std::string::npos) << f.name;
    for (const auto& a : smi::field_aliases())
        EXPECT_NE(result.out.find(a.name), std::string::npos) << a.name;
    const auto none = smi({"query"});
    EXPECT_NE(none.status, 0);
    EXPECT_NE(none.err.find("--help-fields"), std::string::npos) << none.err;
    const auto unknown = smi({"query", "--fields", "nope"});
    EXPECT_NE(unknown.status, 0);
    EXPECT_NE(unknown.err.find("npu-smi query --help-fields"), std::string::npos) << unknown.err;
}

TEST_F(SmiTest, QueryAcceptsNvidiaSmiFieldNames) {
    const auto result = smi({"query", "--fields",
                             "pci.bus_id,memory.total,memory.used,memory.free,Utilization.GPU,"
                             "temperature.npu,power.draw,name,uuid",
                             "--format", "csv", "-d", "0"});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 2u) << result.out;
    EXPECT_EQ(lines[0], "pci.bus_id,memory.total [MiB],memory.used [MiB],memory.free [MiB],"
                        "utilization.gpu [%],temperature.npu [C],power.draw [W],name,uuid");
    // 64 MiB BAR2 less the device-memory offset; 2 MiB in use.
    const auto total = smi_json({"query", "-d", "0", "--fields", "memory_total_bytes"})
                           .at("devices")[0]
                           .at("memory_total_bytes")
                           .get<uint64_t>();
    std::vector<std::string> cells;
    std::istringstream row(lines[1]);
    for (std::string cell; std::getline(row, cell, ',');)
        cells.push_back(cell);
    ASSERT_EQ(cells.size(), 9u) << lines[1];
    EXPECT_EQ(cells[0], "0000:00:03.0");
    EXPECT_EQ(cells[1], fmt::format("{} MiB", total >> 20));
    EXPECT_EQ(cells[2], "2 MiB");
    EXPECT_EQ(cells[3], fmt::format("{} MiB", (total >> 20) - 2));
    EXPECT_EQ(cells[5], "38.5 C");
    EXPECT_EQ(cells[6], "15.0 W");
    EXPECT_EQ(cells[7], "npu");
    EXPECT_EQ(cells[8], "9430a88e-132f-8087-8d6e-70752d756964");
}

TEST_F(SmiTest, GresLinesForSlurm) {
    const auto result = smi({"gres", "--node", "node07"});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 4u) << result.out;
    EXPECT_EQ(lines[0], "# gres.conf for node07: 2 NPU(s), from npu-smi gres");
    EXPECT_EQ(lines[1], "# slurm.conf: GresTypes=npu, and on this node's line Gres=npu:vnpu:2");
    EXPECT_EQ(lines[2], "NodeName=node07 Name=npu Type=vnpu File=/dev/accel/accel0");
    EXPECT_EQ(lines[3], "NodeName=node07 Name=npu Type=vnpu File=/dev/accel/accel1");
    const auto doc = smi_json({"gres"});
    ASSERT_EQ(doc.at("gres").size(), 2u);
    EXPECT_EQ(doc.at("gres")[1].at("uuid"), "00000000-0000-8000-8a6e-70752d756964");
    EXPECT_EQ(doc.at("slurm_conf_gres"), "npu:vnpu:2");
}

TEST_F(SmiTest, CdiSpecHasEveryNpuAndAll) {
    const auto result = smi({"cdi", "generate", "--vendor", "example.com", "--library",
                             "/x/libnpu.so.1", "--smi", "/x/npu-smi"});
    ASSERT_EQ(result.status, 0) << result.err;
    const auto spec = json::parse(result.out);
    EXPECT_EQ(spec.at("cdiVersion"), "0.5.0");
    EXPECT_EQ(spec.at("kind"), "example.com/npu");
    const auto& mounts = spec.at("containerEdits").at("mounts");
    ASSERT_EQ(mounts.size(), 2u);
    EXPECT_EQ(mounts[0].at("hostPath"), "/x/libnpu.so.1");
    EXPECT_EQ(mounts[0].at("containerPath"), "/usr/lib/x86_64-linux-gnu/libnpu.so.1");
    EXPECT_EQ(mounts[1].at("containerPath"), "/usr/bin/npu-smi");
    std::map<std::string, json> devices;
    for (const auto& d : spec.at("devices"))
        devices[d.at("name")] = d.at("containerEdits");
    ASSERT_EQ(devices.size(), 5u) << spec.dump(2); // 0, 1, two UUIDs, all
    EXPECT_EQ(devices.at("1").at("deviceNodes")[0].at("path"), "/dev/accel/accel1");
    EXPECT_EQ(devices.at("1").at("env")[0],
              "NPU_VISIBLE_DEVICES=00000000-0000-8000-8a6e-70752d756964");
    EXPECT_EQ(devices.at("00000000-0000-8000-8a6e-70752d756964"), devices.at("1"));
    EXPECT_EQ(devices.at("all").at("deviceNodes").size(), 2u);
    EXPECT_FALSE(devices.at("all").contains("env"));
}

class VisibleDevices : public SmiTest {
protected:
    void TearDown() override { unsetenv("NPU_VISIBLE_DEVICES"); }
    std::vector<std::string> listed(const char* spec) {
        setenv("NPU_VISIBLE_DEVICES", spec, 1);
        std::vector<std::string> result;
        const auto doc = smi_json({"list"});
        for (const auto& d : doc.at("devices"))
            result.push_back(std::to_string(d.at("index").get<int>()) + "=" +
                             d.at("pci_address").get<std::string>());
        return result;
    }
};

TEST_F(VisibleDevices, RestrictAndRenumberNpuSmi) {
    using V = std::vector<std::string>;
    EXPECT_EQ(listed("1"), V{"0=0000:00:05.0"});
    EXPECT_EQ(listed("00000000-0000-8000-8A6E-70752d756964"), V{"0=0000:00:05.0"});
    EXPECT_EQ(listed("NPU-9430a88e-132f-8087-8d6e-70752d756964"), V{"0=0000:00:03.0"});
    EXPECT_EQ(listed("1,0"), (V{"0=0000:00:05.0", "1=0000:00:03.0"}));
    EXPECT_EQ(listed("00:05.0,7,1,nope"), V{"0=0000:00:05.0"});
    EXPECT_EQ(listed(""), V{});
    // -d picks from what is visible, by the new numbering.
    setenv("NPU_VISIBLE_DEVICES", "1", 1);
    const auto doc = smi_json({"info", "0"});
    EXPECT_EQ(doc.at("devices")[0].at("pci_address"), "0000:00:05.0");
    EXPECT_NE(smi({"info", "1"}).status, 0);
}

TEST_F(SmiTest, ProcessesCarryTheirSlurmJob) {
    tree.add_process(4242, "trainer", "accel0");
    tree.write("proc/4242/cgroup", "0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n");
    tree.add_process(4343, "other", "accel1");
    tree.write("proc/4343/environ", std::string("HOME=/root\0SLURM_JOB_ID=7\0X=1\0", 30));
    tree.add_process(4444, "plain", "accel1");
    tree.write("proc/4444/cgroup", "0::/user.slice\n");
    std::map<int, json> jobs;
    const auto doc = smi_json({"processes"});
    for (const auto& p : doc.at("processes"))
        jobs[p.at("pid")] = p.at("slurm_job_id");
    EXPECT_EQ(jobs.at(4242), "42");
    EXPECT_EQ(jobs.at(4343), "7");
    EXPECT_TRUE(jobs.at(4444).is_null());
    const auto csv = smi({"processes", "--format", "csv"});
    EXPECT_NE(csv.out.find(",slurm_job_id\n"), std::string::npos) << csv.out;
    EXPECT_NE(csv.out.find(",4242,trainer,1,0,N/A,0,0,0,42\n"), std::string::npos) << csv.out;

    tree.set_contexts("0000:00:03.0", "1 4242 trainer 1 65536 3 3 0\n");
    mgmt::System system(tree.root());
    const auto text = smi::prometheus_text(system);
    EXPECT_NE(text.find("npu_slurm_job{device=\"0\",pci_address=\"0000:00:03.0\",uuid=\"9430a88e-"
                        "132f-8087-8d6e-70752d756964\",slurm_job=\"42\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("npu_process_memory_bytes{device=\"0\",pci_address=\"0000:00:03.0\",uuid="
                        "\"9430a88e-132f-8087-8d6e-70752d756964\",pid=\"4242\",comm=\"trainer\","
                        "slurm_job=\"42\"} 65536\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("npu_process_jobs_completed_total{"), std::string::npos);
}

TEST_F(SmiTest, SchemaIsDocumented) {
    std::ifstream in(NPU_SMI_DOC);
    ASSERT_TRUE(in) << NPU_SMI_DOC;
    std::stringstream doc;
    doc << in.rdbuf();
    for (const auto& f : smi::fields())
        EXPECT_NE(doc.str().find("`" + f.name + "`"), std::string::npos) << f.name;
    for (const char* key : {"schema_version",
                            "processes",
                            "jobs_submitted",
                            "pci_path",
                            "links",
                            "checks",
                            "properties_error",
                            "npu_up",
                            "npu_busy_seconds_total",
                            "util_percent",
                            "tasks_done",
                            "busy_ns",
                            "npu_engine_utilization_ratio",
                            "npu_engine_busy_seconds_total",
                            "npu_engine_tasks_total",
                            "npu_engine_busy",
                            "npu_ops_completed_total",
                            "npu_engines",
                            "slurm_job_id",
                            "npu_slurm_job",
                            "npu_process_memory_bytes",
                            "npu_process_busy_seconds_total",
                            "npu_process_jobs_submitted_total",
                            "npu_process_jobs_completed_total",
                            "npu_process_jobs_failed_total",
                            "gres",
                            "cdi generate",
                            "NPU_VISIBLE_DEVICES"})
        EXPECT_NE(doc.str().find(std::string("`") + key + "`"), std::string::npos) << key;
}

} // namespace
} // namespace npu::testing
