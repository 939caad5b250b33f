// VM suite entry point: refuses to run without an NPU (a clear message beats
// a hundred identical failures) and watches the kernel log for the run.
#include <cstdio>

#include <gtest/gtest.h>

#include "kernel_log.h"
#include "npu_test.h"

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	if (!GTEST_FLAG_GET(list_tests)) {
		auto nodes = npu_test::FindNpuNodes();
		if (nodes.empty()) {
			std::fprintf(
				stderr,
				"npu_vm_tests: no npu device found: no /sys/class/accel/accel* or "
				"/sys/class/drm/renderD* node is bound to driver \"npu\".\n"
				"Run it inside the VM: tools/npu-vm --kernel 6.12 -- %s\n",
				argv[0]);
			return 1;
		}
		for (const auto &n : nodes)
			std::printf("npu device %s at %s\n", n.dev_path.c_str(), n.pci_bdf.c_str());
	}
	npu_test::InstallKernelLogCheck();
	return RUN_ALL_TESTS();
}
