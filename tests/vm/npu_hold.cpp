// npu-hold: a stand-in for a job's NPU work that stays put long enough to be
// looked at (tests/vm/slurm-suite). Opens device 0 of what it may see,
// keeps a 1 MiB buffer, runs fills on it, prints "holding <pci address>"
// and waits until the file $NPU_HOLD_UNTIL exists (at most 120 s).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "npu/npu.hpp"

int main()
{
	const char *until = std::getenv("NPU_HOLD_UNTIL");
	try {
		const auto devices = npu::Device::enumerate();
		if (devices.empty()) {
			std::fprintf(stderr, "npu-hold: no NPU visible\n");
			return 1;
		}
		const npu::Device device = npu::Device::open(devices.front());
		npu::Buffer buffer(device, size_t{1} << 20);
		npu::Stream stream(device);
		for (uint32_t i = 0; i < 4; ++i)
			stream.fill(buffer, 0, buffer.size(), 0x01010101u * i);
		stream.synchronize();
		std::printf("holding %s\n", devices.front().pci_address.c_str());
		std::fflush(stdout);
		struct stat st {
		};
		for (int i = 0; i < 1200 && until && ::stat(until, &st) != 0; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "npu-hold: %s\n", e.what());
		return 1;
	}
}
