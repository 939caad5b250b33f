// npu::mgmt against a fake sysfs/proc/debugfs tree.
#include <gtest/gtest.h>

#include "fake_tree.hpp"
#include "npu/error.hpp"
#include "npu/management.hpp"

namespace npu::testing {
namespace {

using namespace std::chrono_literals;

class MgmtTest : public ::testing::Test {
protected:
    void SetUp() override {
        tree.add_two_npus();
        tree.add_other("0000:00:02.0", "i915");
    }
    FakeTree tree;
};

TEST_F(MgmtTest, ListsNpusInPciOrderWithIdentity) {
    mgmt::System system(tree.root());
    const auto devices = system.devices();
    ASSERT_EQ(devices.size(), 2u) << "the i915 function must not be listed";
    EXPECT_EQ(devices[0].index, 0u);
    EXPECT_EQ(devices[0].pci_address, "0000:00:03.0");
    EXPECT_EQ(devices[0].node, "/dev/accel/accel0");
    EXPECT_EQ(devices[0].driver, "npu");
    EXPECT_EQ(devices[0].serial, "9430a88e132f087d");
    EXPECT_EQ(devices[0].uuid, "9430a88e-132f-8087-8d6e-70752d756964");
    EXPECT_EQ(devices[0].firmware_version, "0.1.0");
    EXPECT_EQ(devices[0].driver_version, "0.1.0");
    EXPECT_EQ(devices[0].vendor_id, 0x1af4u);
    EXPECT_EQ(devices[1].index, 1u);
    EXPECT_EQ(devices[1].node, "/dev/accel/accel1");
}

TEST_F(MgmtTest, FindsByIndexAddressUuidSerialAndNode) {
    mgmt::System system(tree.root());
    EXPECT_EQ(system.find("1").pci_address, "0000:00:05.0");
    EXPECT_EQ(system.find("00:05.0").pci_address, "0000:00:05.0");
    EXPECT_EQ(system.find("0000:00:03.0").index, 0u);
    EXPECT_EQ(system.find("9430A88E-132F-8087-8D6E-70752D756964").index, 0u);
    EXPECT_EQ(system.find("00000000000000aa").index, 1u);
    EXPECT_EQ(system.find("/dev/accel/accel1").index, 1u);
    try {
        (void)system.find("7");
        FAIL() << "no device 7";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("'7'"), std::string::npos) << e.what();
    }
}

TEST_F(MgmtTest, TelemetryConvertsUnits) {
    mgmt::System system(tree.root());
    const auto t = system.telemetry(system.find("0"), 0ms);
    EXPECT_EQ(t.state, "ready");
    EXPECT_EQ(t.runtime_pm, "active");
    EXPECT_DOUBLE_EQ(t.temperature_c.value(), 38.5);
    EXPECT_DOUBLE_EQ(t.power_w.value(), 15.0);
    EXPECT_EQ(t.memory_used_bytes, 2u << 20);
    EXPECT_EQ(t.memory_total_bytes, 62u << 20) << "BAR2 64 MiB minus the 2 MiB below device memory";
    EXPECT_EQ(t.busy_time_us, 1000u);
    EXPECT_EQ(t.jobs_completed, 42u);
    EXPECT_EQ(t.reset_count, 1u);
    EXPECT_EQ(t.contexts, 2u);
    EXPECT_FALSE(t.utilization_percent) << "one sample gives no utilisation";
}

TEST_F(MgmtTest, UtilizationIsBusyTimeOverWallTime) {
    mgmt::System system(tree.root());
    const auto device = system.find("0");
    (void)system.telemetry(device, 0ms);
    std::this_thread::sleep_for(200ms);
    // 100 ms busy in >= 200 ms wall: at most 50 %, well above 0.
    tree.write("sys/devices/pci0000:00/0000:00:03.0/busy_time_us", "101000\n");
    const auto t = system.telemetry(device, 0ms);
    ASSERT_TRUE(t.utilization_percent);
    EXPECT_GT(*t.utilization_percent, 10.0);
    EXPECT_LE(*t.utilization_percent, 50.0);
    // Busy time going backwards (a reset restarts it) is not utilisation.
    tree.write("sys/devices/pci0000:00/0000:00:03.0/busy_time_us", "5\n");
    mgmt::System fresh(tree.root());
    EXPECT_TRUE(fresh.telemetry(device, 20ms).utilization_percent.has_value());
}

TEST_F(MgmtTest, TelemetryListsEngines) {
    mgmt::System system(tree.root());
    const auto t = system.telemetry(system.find("0"), 0ms);
    EXPECT_EQ(t.ops_completed, 17u);
    ASSERT_EQ(t.engine_count, 4u);
    ASSERT_EQ(t.engines.size(), 4u);
    for (unsigned i = 0; i < 4; ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(t.engines[i].index, i);
        EXPECT_EQ(t.engines[i].state, i == 0 ? "busy" : "idle");
        EXPECT_EQ(t.engines[i].tasks_done, 100u + i);
        EXPECT_EQ(t.engines[i].busy_ns, 5000000u * (i + 1));
        EXPECT_FALSE(t.engines[i].utilization_percent) << "one sample gives no utilisation";
    }
    EXPECT_FALSE(t.engine_utilization_percent);
}

TEST_F(MgmtTest, EngineUtilizationIsBusyTimeOverWallTime) {
    mgmt::System system(tree.root());
    const auto device = system.find("00:05.0");
    (void)system.telemetry(device, 0ms);
    std::this_thread::sleep_for(200ms);
    // Engine 2 (busy_ns 15 ms) works 100 ms of >= 200 ms; the others rest.
    tree.set_engine_busy_ns("0000:00:05.0", 2, 115000000);
    const auto t = system.telemetry(device, 0ms);
    ASSERT_EQ(t.engines.size(), 4u);
    ASSERT_TRUE(t.engines[2].utilization_percent);
    EXPECT_GT(*t.engines[2].utilization_percent, 10.0);
    EXPECT_LE(*t.engines[2].utilization_percent, 50.0);
    for (unsigned i : {0u, 1u, 3u})
        EXPECT_EQ(t.engines[i].utilization_percent, 0.0) << i;
    ASSERT_TRUE(t.engine_utilization_percent);
    EXPECT_DOUBLE_EQ(*t.engine_utilization_percent, *t.engines[2].utilization_percent / 4);
    EXPECT_EQ(t.engines[2].busy_ns, 115000000u);

    // Without a previous sample, a window of its own.
    mgmt::System fresh(tree.root());
    const auto windowed = fresh.telemetry(device, 20ms);
    ASSERT_TRUE(windowed.engines[2].utilization_percent);
    EXPECT_EQ(*windowed.engines[2].utilization_percent, 0.0) << "nothing moved meanwhile";
}

TEST_F(MgmtTest, DriverWithoutEnginesHasNoEngineTelemetry) {
    FakeNpu old;
    old.pci_address = "0000:00:08.0";
    old.node = "accel2";
    old.ops_completed = ~uint64_t{0};
    tree.add_npu(old);
    mgmt::System system(tree.root());
    const auto t = system.telemetry(system.find("00:08.0"), 10ms);
    EXPECT_FALSE(t.ops_completed);
    EXPECT_FALSE(t.engine_count);
    EXPECT_TRUE(t.engines.empty());
    EXPECT_FALSE(t.engine_utilization_percent);
    EXPECT_TRUE(t.utilization_percent) << "the device's own utilisation still works";

    FakeNpu none;
    none.pci_address = "0000:00:09.0";
    none.node = "accel3";
    none.engines = 0;
    tree.add_npu(none);
    const auto zero = system.telemetry(system.find("00:09.0"), 0ms);
    EXPECT_EQ(zero.engine_count, 0u) << "a driver that counts operations lists its engines";
}

TEST_F(MgmtTest, MissingAttributesAreAbsentNotErrors) {
    const std::string dev = "sys/devices/pci0000:00/0000:00:03.0";
    for (const char* f :
         {"/hwmon", "/mem_in_use", "/busy_time_us", "/reset_count", "/resource", "/power", "/uuid"})
        tree.remove(dev + f);
    mgmt::System system(tree.root());
    const auto device = system.find("0");
    EXPECT_FALSE(device.uuid);
    const auto t = system.telemetry(device, 10ms);
    EXPECT_EQ(t.state, "ready");
    EXPECT_FALSE(t.temperature_c);
    EXPECT_FALSE(t.power_w);
    EXPECT_FALSE(t.memory_used_bytes);
    EXPECT_FALSE(t.memory_total_bytes);
    EXPECT_FALSE(t.utilization_percent);
    EXPECT_FALSE(t.runtime_pm);
}

TEST_F(MgmtTest, StatesOfDevicesNotReady) {
    FakeNpu unbound;
    unbound.pci_address = "0000:00:08.0";
    unbound.driver = "";
    tree.add_npu(unbound);
    FakeNpu probing;
    probing.pci_address = "0000:00:09.0";
    probing.node = "";
    tree.add_npu(probing);
    mgmt::System system(tree.root());
    EXPECT_EQ(system.telemetry(system.find("00:08.0"), 0ms).state, "unbound");
    EXPECT_EQ(system.find("00:08.0").node, "");
    EXPECT_EQ(system.telemetry(system.find("00:09.0"), 0ms).state, "no_node");
    tree.write("sys/devices/pci0000:00/0000:00:03.0/state", "resetting\n");
    EXPECT_EQ(system.telemetry(system.find("0"), 0ms).state, "resetting")
        << "a driver state attribute wins";
}

TEST_F(MgmtTest, ProcessesFromProcFdWithDebugfsMemory) {
    tree.add_process(100, "trainer", "accel0", 2);
    tree.add_process(200, "infer", "accel1");
    tree.add_process(300, "bash", "tty0");
    tree.set_contexts("0000:00:03.0", "1 100 trainer 2 8192 10 9 1\n"
                                      "2 100 trainer 1 4096 5 5 0\n");
    mgmt::System system(tree.root());
    const auto procs = system.processes(system.devices());
    ASSERT_EQ(procs.size(), 2u);
    EXPECT_EQ(procs[0].pid, 100);
    EXPECT_EQ(procs[0].name, "trainer");
    EXPECT_EQ(procs[0].device_index, 0u);
    EXPECT_EQ(procs[0].fds, 2u);
    EXPECT_EQ(procs[0].memory_bytes, 12288u) << "both contexts of the pid";
    EXPECT_EQ(procs[0].jobs_submitted, 15u);
    EXPECT_EQ(procs[0].jobs_completed, 14u);
    EXPECT_EQ(procs[0].jobs_failed, 1u);
    EXPECT_EQ(procs[1].pid, 200);
    EXPECT_EQ(procs[1].pci_address, "0000:00:05.0");
    EXPECT_EQ(procs[1].memory_bytes, 0u) << "debugfs lists no context of pid 200";
}

TEST_F(MgmtTest, FdinfoMemoryWhenNoDebugfs) {
    tree.remove("sys/kernel/debug");
    tree.add_process(100, "trainer", "accel0", 2);
    tree.write("proc/100/fdinfo/3",
               "drm-driver:\tnpu\ndrm-client-id:\t7\ndrm-total-memory:\t8 KiB\n");
    tree.write("proc/100/fdinfo/4",
               "drm-driver:\tnpu\ndrm-client-id:\t7\ndrm-total-memory:\t8 KiB\n");
    mgmt::System system(tree.root());
    const auto procs = system.processes(system.devices());
    ASSERT_EQ(procs.size(), 1u);
    EXPECT_EQ(procs[0].memory_bytes, 8192u) << "one client behind two fds counts once";
    EXPECT_FALSE(procs[0].jobs_submitted);
    EXPECT_FALSE(procs[0].busy_ns) << "no drm-engine-* key";
}

TEST_F(MgmtTest, FdinfoEngineTimeAndMemoryBeforeDebugfs) {
    tree.add_process(100, "trainer", "accel0", 2);
    tree.set_contexts("0000:00:03.0", "3 100 trainer 2 16384 8 7 1\n");
    // drm-memory-* is the older name of the same memory: not added again
    tree.write("proc/100/fdinfo/3", "drm-driver:\tnpu\ndrm-client-id:\t7\n"
                                    "drm-total-system:\t8192\ndrm-memory-system:\t8192\n"
                                    "drm-engine-npu:\t1500 ns\n");
    tree.write("proc/100/fdinfo/4", "drm-driver:\tnpu\ndrm-client-id:\t8\n"
                                    "drm-total-system:\t4 KiB\ndrm-engine-npu:\t500 ns\n"
                                    "drm-engine-capacity-npu:\t4\n");
    mgmt::System system(tree.root());
    const auto procs = system.processes(system.devices());
    ASSERT_EQ(procs.size(), 1u);
    EXPECT_EQ(procs[0].memory_bytes, 12288u) << "fdinfo comes before debugfs";
    EXPECT_EQ(procs[0].busy_ns, 2000u);
    EXPECT_EQ(procs[0].jobs_submitted, 8u) << "job counts still from debugfs";
}

TEST_F(MgmtTest, TopologyAndLinks) {
    FakeNpu a;
    a.pci_address = "0000:01:00.0";
    a.parent = "pci0000:00/0000:00:1c.0";
    a.node = "accel2";
    FakeNpu b = a;
    b.pci_address = "0000:01:00.1";
    b.node = "accel3";
    FakeNpu far;
    far.pci_address = "0001:00:01.0";
    far.parent = "pci0001:00";
    far.node = "accel4";
    far.numa_node = 1;
    tree.add_npu(a);
    tree.add_npu(b);
    tree.add_npu(far);
    mgmt::System system(tree.root());
    const auto t0 = system.topology(system.find("0000:00:03.0"));
    const auto ta = system.topology(system.find("0000:01:00.0"));
    const auto tb = system.topology(system.find("0000:01:00.1"));
    const auto tf = system.topology(system.find("0001:00:01.0"));
    EXPECT_EQ(ta.pci_path,
              (std::vector<std::string>{"pci0000:00", "0000:00:1c.0", "0000:01:00.0"}));
    EXPECT_FALSE(t0.numa_node) << "-1 means unknown";
    EXPECT_EQ(tf.numa_node, 1);
    EXPECT_EQ(t0.local_cpus, "0-1");
    EXPECT_EQ(mgmt::link_between(ta, ta), "SELF");
    EXPECT_EQ(mgmt::link_between(ta, tb), "PIX");
    EXPECT_EQ(mgmt::link_between(t0, ta), "PHB");
    EXPECT_EQ(mgmt::link_between(t0, tf), "SYS");
}

TEST_F(MgmtTest, FirmwareAndCounters) {
    mgmt::System system(tree.root());
    const auto device = system.find("0");
    EXPECT_EQ(system.firmware(device, false).version, "0.1.0");
    EXPECT_FALSE(system.firmware(device, false).log);
    EXPECT_EQ(system.firmware(device, true).log, "npu-fw 0.1.0 booted\nqueues ready");
    const auto counters = system.counters(device);
    ASSERT_TRUE(counters);
    EXPECT_EQ(counters->at("bos"), 3u);
    EXPECT_EQ(counters->at("resets"), 1u);
}

TEST_F(MgmtTest, ResetNeedsRootAndAnIdleDevice) {
    mgmt::System system(tree.root());
    const auto device = system.find("0");
    system.set_privileged(false);
    try {
        system.reset(device);
        FAIL() << "unprivileged reset";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EPERM);
    }
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/unbind"), "");

    system.set_privileged(true);
    tree.add_process(100, "trainer", "accel0");
    try {
        system.reset(device);
        FAIL() << "reset of a device in use";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EBUSY);
        EXPECT_NE(std::string(e.what()).find("100 (trainer)"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/unbind"), "");

    system.reset(device, {.force = true, .timeout = 1s});
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/unbind"), "0000:00:03.0");
    EXPECT_EQ(tree.read("sys/bus/pci/drivers/npu/bind"), "0000:00:03.0");
}

TEST_F(MgmtTest, ResetTimesOutWhenTheDeviceDoesNotComeBack) {
    mgmt::System system(tree.root());
    system.set_privileged(true);
    const auto device = system.find("0");
    tree.remove("sys/devices/pci0000:00/0000:00:03.0/accel");
    try {
        system.reset(device, {.force = false, .timeout = 200ms});
        FAIL() << "no node came back";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ETIMEDOUT);
    }
}

TEST(MgmtEmpty, NoDevicesNoSysfs) {
    FakeTree tree;
    mgmt::System system(tree.root());
    EXPECT_TRUE(system.devices().empty());
    EXPECT_TRUE(system.processes({}).empty());
    mgmt::System nowhere(tree.root() + "/missing");
    EXPECT_TRUE(nowhere.devices().empty());
}

} // namespace
} // namespace npu::testing
