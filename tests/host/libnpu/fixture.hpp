// Test fixture: a FakeOs with two NPUs and an unrelated render node,
// installed as libnpu's default OS interface; checks for leaks at the end.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "fake_os.hpp"
#include "npu/os_interface.hpp"

namespace npu::testing {

class FakeOsTest : public ::testing::Test {
protected:
    void SetUp() override {
        os = std::make_shared<FakeOs>();
        FakeDeviceConfig second;
        second.node = "/dev/accel/accel1";
        second.pci_address = "0000:00:05.0";
        os->add_device(second);
        FakeDeviceConfig gpu;
        gpu.node = "/dev/dri/renderD128";
        gpu.subsystem = "drm";
        gpu.pci_address = "0000:00:02.0";
        gpu.pci_driver = "i915";
        gpu.drm_name = "i915";
        os->add_device(gpu);
        os->add_device(FakeDeviceConfig{}); // accel0 at 00:03.0, listed after accel1
        set_default_os_interface(os);
    }

    void TearDown() override {
        set_default_os_interface(nullptr);
        EXPECT_EQ(os->open_fds(), 0u) << "leaked file descriptors";
        EXPECT_EQ(os->live_mappings(), 0u) << "leaked mappings";
        EXPECT_EQ(os->handles_dropped_by_close(), 0u) << "GEM handles never closed";
    }

    std::shared_ptr<FakeOs> os;
};

} // namespace npu::testing
