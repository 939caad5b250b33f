// npu_vm_smi_tests entry point: npu-smi against the real driver, with the
// kernel log watched like the other VM suites.
#include <gtest/gtest.h>

#include "kernel_log.h"

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	npu_test::InstallKernelLogCheck();
	return RUN_ALL_TESTS();
}
