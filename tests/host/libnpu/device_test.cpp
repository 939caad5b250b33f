#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "npu/device.hpp"
#include "npu/error.hpp"

namespace npu::testing {
namespace {

using DeviceTest = FakeOsTest;

TEST_F(DeviceTest, EnumerateKeepsOnlyNpuNodesInPciOrder) {
    const auto devices = Device::enumerate(os);
    ASSERT_EQ(devices.size(), 2u);
    EXPECT_EQ(devices[0].index, 0u);
    EXPECT_EQ(devices[0].node, "/dev/accel/accel0");
    EXPECT_EQ(devices[0].pci_address, "0000:00:03.0");
    EXPECT_EQ(devices[1].index, 1u);
    EXPECT_EQ(devices[1].node, "/dev/accel/accel1");
    EXPECT_EQ(devices[1].pci_address, "0000:00:05.0");
}

TEST_F(DeviceTest, EnumerateUsesTheDefaultInterface) {
    EXPECT_EQ(Device::enumerate().size(), 2u);
}

// NPU_VISIBLE_DEVICES restricts and renumbers, in its order (UUIDs come
// from sysfs and are covered by tests/host/smi, which has a fake sysfs).
TEST_F(DeviceTest, VisibleDevicesRestrictAndRenumber) {
    struct Unset {
        ~Unset() { unsetenv("NPU_VISIBLE_DEVICES"); }
    } unset;
    auto nodes = [&](const char* spec) {
        setenv("NPU_VISIBLE_DEVICES", spec, 1);
        std::vector<std::string> result;
        for (const auto& d : Device::enumerate(os)) {
            EXPECT_EQ(d.index, result.size());
            result.push_back(d.node);
        }
        return result;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(nodes("1"), V{"/dev/accel/accel1"});
    EXPECT_EQ(nodes("1,0"), (V{"/dev/accel/accel1", "/dev/accel/accel0"}));
    EXPECT_EQ(nodes(" 0 , 0,9,00:05.0"), (V{"/dev/accel/accel0", "/dev/accel/accel1"}));
    EXPECT_EQ(nodes(""), V{});
    setenv("NPU_VISIBLE_DEVICES", "1", 1);
    Device only(0, os);
    EXPECT_EQ(only.info().pci_address, "0000:00:05.0");
    EXPECT_THROW(Device(1, os), Error);
}

TEST_F(DeviceTest, RenderNodeOfNpuDriverIsFound) {
    FakeDeviceConfig render;
    render.node = "/dev/dri/renderD129";
    render.subsystem = "drm";
    render.pci_address = "0000:00:04.0";
    os->add_device(render);
    const auto devices = Device::enumerate(os);
    ASSERT_EQ(devices.size(), 3u);
    EXPECT_EQ(devices[1].node, "/dev/dri/renderD129");
    Device device(1, os);
    EXPECT_EQ(device.info().pci_address, "0000:00:04.0");
}

TEST_F(DeviceTest, OpenByIndexAndPciAddress) {
    Device first(0, os);
    EXPECT_EQ(first.info().node, "/dev/accel/accel0");
    Device second = Device::open_pci("00:05.0", os);
    EXPECT_EQ(second.info().node, "/dev/accel/accel1");
    EXPECT_EQ(os->open_fds(), 2u);
    Device copy = first; // shares the open file
    first = second;      // so dropping first's reference keeps it open
    EXPECT_EQ(os->open_fds(), 2u);
    EXPECT_EQ(copy.info().node, "/dev/accel/accel0");
    copy = second;
    EXPECT_EQ(os->open_fds(), 1u);
}

TEST_F(DeviceTest, MissingDeviceIsEnodev) {
    try {
        Device device(2, os);
        FAIL() << "opened a device that does not exist";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("2 found"), std::string::npos) << e.what();
    }
    try {
        (void)Device::open_pci("0000:00:09.0", os);
        FAIL() << "opened a PCI address without a device";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("0000:00:09.0"), std::string::npos) << e.what();
    }
}

TEST_F(DeviceTest, PermissionDeniedNamesTheNode) {
    FakeDeviceConfig locked;
    locked.node = "/dev/accel/accel7";
    locked.pci_address = "0000:00:07.0";
    locked.deny_open = true;
    os->add_device(locked);
    try {
        (void)Device::open_pci("0000:00:07.0", os);
        FAIL() << "open should have been denied";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EACCES);
        EXPECT_EQ(e.code(), std::errc::permission_denied);
        EXPECT_NE(std::string(e.what()).find("/dev/accel/accel7"), std::string::npos) << e.what();
    }
}

TEST_F(DeviceTest, WrongDrmDriverIsRejectedAndClosed) {
    FakeDeviceConfig impostor;
    impostor.node = "/dev/accel/accel9";
    impostor.pci_address = "0000:00:09.0";
    impostor.drm_name = "other";
    os->add_device(impostor);
    try {
        (void)Device::open_pci("0000:00:09.0", os);
        FAIL() << "accepted a node of another driver";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("other"), std::string::npos) << e.what();
    }
    EXPECT_EQ(os->open_fds(), 0u);
}

TEST_F(DeviceTest, VersionIoctlFailureClosesTheFile) {
    os->fail_next_ioctl(DRM_IOCTL_VERSION, EIO);
    try {
        Device device(0, os);
        FAIL() << "open succeeded despite a failing VERSION ioctl";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EIO);
        EXPECT_NE(std::string(e.what()).find("DRM_IOCTL_VERSION"), std::string::npos);
    }
    EXPECT_EQ(os->open_fds(), 0u);
}

TEST_F(DeviceTest, PropertiesDecodeParams) {
    FakeDeviceConfig custom;
    custom.node = "/dev/accel/accel4";
    custom.pci_address = "0000:00:04.0";
    custom.params[DRM_NPU_PARAM_FW_VERSION] = 2u << 16 | 7u << 8 | 13u;
    custom.params[DRM_NPU_PARAM_FW_ABI] = 1u << 16 | 3u;
    custom.params[DRM_NPU_PARAM_DEVMEM_SIZE] = 123456789;
    custom.params[DRM_NPU_PARAM_ENGINE_COUNT] = 8;
    custom.params[DRM_NPU_PARAM_SERIAL] = 0xfeedfacecafebeefull;
    os->add_device(custom);
    const auto props = Device::open_pci("00:04.0", os).properties();
    EXPECT_EQ(props.fw_version.str(), "2.7.13");
    EXPECT_EQ(props.fw_abi.major, 1u);
    EXPECT_EQ(props.fw_abi.minor, 3u);
    EXPECT_EQ(props.devmem_size, 123456789u);
    EXPECT_EQ(props.engine_count, 8u);
    EXPECT_EQ(props.serial, 0xfeedfacecafebeefull);
    EXPECT_EQ(props.max_cmd_size, 64u * 1024);
}

TEST_F(DeviceTest, ParamErrorNamesTheIoctl) {
    Device device(0, os);
    try {
        (void)device.param(999);
        FAIL() << "unknown param accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.errnum(), EINVAL);
        EXPECT_NE(std::string(e.what()).find("GET_PARAM(param=999)"), std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace npu::testing
