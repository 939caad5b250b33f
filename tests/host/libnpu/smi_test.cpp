#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "command.hpp"
#include "fixture.hpp"

namespace npu::testing {
namespace {

struct SmiResult {
    int status;
    std::string out;
    std::string err;
};

SmiResult run_smi(const std::shared_ptr<OsInterface>& os, std::vector<const char*> args) {
    std::ostringstream out;
    std::ostringstream err;
    smi::Context context{os, out, err};
    args.insert(args.begin(), "npu-smi");
    const int status = smi::run(static_cast<int>(args.size()), args.data(), context);
    return {status, out.str(), err.str()};
}

using SmiTest = FakeOsTest;

TEST_F(SmiTest, NoDevices) {
    auto empty = std::make_shared<FakeOs>();
    for (const auto& args : {std::vector<const char*>{}, std::vector<const char*>{"list"}}) {
        const auto result = run_smi(empty, args);
        EXPECT_EQ(result.status, 0);
        EXPECT_EQ(result.out, "No NPU devices found.\n");
        EXPECT_EQ(result.err, "");
    }
    const auto json = nlohmann::json::parse(run_smi(empty, {"--json"}).out);
    EXPECT_TRUE(json.at("devices").empty());
}

TEST_F(SmiTest, TableListsEveryNpu) {
    const auto result = run_smi(os, {"list"});
    EXPECT_EQ(result.status, 0) << result.err;
    std::istringstream lines(result.out);
    std::string header, first, second, extra;
    std::getline(lines, header);
    std::getline(lines, first);
    std::getline(lines, second);
    EXPECT_FALSE(std::getline(lines, extra)) << "the i915 node must not be listed";
    EXPECT_NE(header.find("PCI ADDRESS"), std::string::npos);
    EXPECT_NE(first.find("/dev/accel/accel0"), std::string::npos) << first;
    EXPECT_NE(first.find("0000:00:03.0"), std::string::npos) << first;
    EXPECT_NE(first.find("0.1.0"), std::string::npos) << first;
    EXPECT_NE(first.find("62 MiB"), std::string::npos) << first;
    EXPECT_NE(second.find("/dev/accel/accel1"), std::string::npos) << second;
}

TEST_F(SmiTest, JsonHasTheProperties) {
    for (const auto& args :
         {std::vector<const char*>{"--json"}, std::vector<const char*>{"list", "--json"}}) {
        const auto result = run_smi(os, args);
        ASSERT_EQ(result.status, 0) << result.err;
        const auto json = nlohmann::json::parse(result.out);
        const auto& devices = json.at("devices");
        ASSERT_EQ(devices.size(), 2u);
        EXPECT_EQ(devices[0].at("index"), 0);
        EXPECT_EQ(devices[0].at("node"), "/dev/accel/accel0");
        EXPECT_EQ(devices[0].at("pci_address"), "0000:00:03.0");
        EXPECT_EQ(devices[0].at("firmware_version"), "0.1.0");
        EXPECT_EQ(devices[0].at("memory_bytes"), 62u << 20);
        EXPECT_EQ(devices[0].at("engines"), 4);
        EXPECT_EQ(devices[1].at("pci_address"), "0000:00:05.0");
    }
}

TEST_F(SmiTest, PermissionDeniedNamesTheNode) {
    FakeDeviceConfig locked;
    locked.node = "/dev/accel/accel2";
    locked.pci_address = "0000:00:08.0";
    locked.deny_open = true;
    os->add_device(locked);
    const auto result = run_smi(os, {});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("cannot open /dev/accel/accel2: Permission denied"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.out.find("/dev/accel/accel2"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("/dev/accel/accel0"), std::string::npos) << result.out;
    const auto json = nlohmann::json::parse(run_smi(os, {"--json"}).out);
    EXPECT_NE(json.at("devices")[2].at("error").get<std::string>().find("Permission denied"),
              std::string::npos);
}

TEST_F(SmiTest, UnknownArgumentFails) {
    EXPECT_NE(run_smi(os, {"bogus"}).status, 0);
}

} // namespace
} // namespace npu::testing
