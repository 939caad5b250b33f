// npu_vm_ops_tests entry point: every operation packet run by the real
// driver, firmware and engines, checked against host references. Refuses
// to run without an NPU; watches the kernel log like the uapi suite.
#include <cstdio>

#include <gtest/gtest.h>

#include "kernel_log.h"
#include "npu_test.h"

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	if (!GTEST_FLAG_GET(list_tests) && npu_test::FindNpuNodes().empty()) {
		std::fprintf(stderr,
			     "npu_vm_ops_tests: no npu device found; run it in the VM: "
			     "tools/npu-vm -- %s\n",
			     argv[0]);
		return 1;
	}
	npu_test::InstallKernelLogCheck();
	return RUN_ALL_TESTS();
}
