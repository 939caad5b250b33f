// npu_vm_sdk_tests entry point: the libnpu runtime against the real driver.
// Refuses to run without an NPU; watches the kernel log like the uapi suite.
#include <cstdio>

#include <gtest/gtest.h>

#include "kernel_log.h"
#include "npu/device.hpp"

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	if (!GTEST_FLAG_GET(list_tests) && npu::Device::enumerate().empty()) {
		std::fprintf(stderr,
			     "npu_vm_sdk_tests: no npu device found; run it in the VM: "
			     "tools/npu-vm --kernel 6.12 -- %s\n",
			     argv[0]);
		return 1;
	}
	npu_test::InstallKernelLogCheck();
	return RUN_ALL_TESTS();
}
