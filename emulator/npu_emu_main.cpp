// SPDX-License-Identifier: MIT
// npu-emu: serves virtual NPUs to QEMU ivshmem-doorbell devices, one unix
// socket per device, all sharing one guest RAM file for DMA.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <pthread.h>

#include "npu_control.h"
#include "npu_device.h"
#include "npu_hw.h"
#include "npu_ivshmem.h"
#include "npu_log.h"
#include "npu_os.h"

namespace
{

using namespace npu::emu;

constexpr int kExitUsage = 2;

// FNV-1a: a serial that is stable for a socket path and differs between
// devices and between emulator instances serving different paths.
std::uint64_t make_serial(const std::string &path, unsigned index)
{
	std::uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned char c : path + "#" + std::to_string(index)) {
		h ^= c;
		h *= 0x100000001b3ull;
	}
	return h;
}

// One virtual NPU: BAR2 memory, the device model and its socket server,
// torn down in the order that keeps every callback target alive.
class VirtualNpu
{
public:
	VirtualNpu(unsigned index, const std::string &socket_path, std::size_t bar2_size,
		   unsigned queues, unsigned engines, unsigned engine_mem_mib, MemRegion ram)
	    : name_("npu" + std::to_string(index)), bar2_(name_ + "-bar2", bar2_size),
	      server_(std::make_unique<IvshmemServer>(name_, socket_path, bar2_.fd()))
	{
		DeviceConfig cfg;
		cfg.name = name_;
		cfg.serial = make_serial(std::filesystem::absolute(socket_path), index);
		cfg.num_queues = queues;
		cfg.engine_count = engines;
		cfg.engine_mem = std::uint64_t{engine_mem_mib} << 20;
		IvshmemServer *srv = server_.get();
		device_ = std::make_unique<NpuDevice>(cfg, bar2_.region(), ram,
						      [srv](unsigned v) { srv->raise_irq(v); });
	}
	~VirtualNpu()
	{
		server_->stop(); // no more doorbells
		device_.reset(); // no more interrupts
		server_.reset(); // socket file removed
	}
	void start() { server_->start(*device_); }
	NpuDevice &device() { return *device_; }

private:
	std::string name_;
	SharedMemory bar2_;
	std::unique_ptr<IvshmemServer> server_;
	std::unique_ptr<NpuDevice> device_;
};

int run(int argc, char **argv)
{
	CLI::App app{"npu-emu: virtual NPU devices for QEMU ivshmem-doorbell"};
	std::string ram_path, log_path, control_path;
	std::vector<std::string> sockets;
	unsigned bar2_mib = 32;
	unsigned queues = NPU_MAX_QUEUES;
	unsigned engines = 4;
	unsigned engine_mem_mib = 64;
	app.add_option("--ram", ram_path, "guest RAM backing file (shared with QEMU)")->required();
	app.add_option("--socket", sockets, "ivshmem unix socket, one per device")->required();
	app.add_option("--log", log_path, "log file (default: stderr)");
	app.add_option("--control", control_path,
		       "control socket for fault injection and status (line protocol)");
	app.add_option("--bar2-size", bar2_mib, "BAR2 size in MiB, a power of two >= 4")
		->check(CLI::Range(4u, 1024u))
		->check(CLI::Validator(
			[](std::string &s) -> std::string {
				unsigned long v = 0;
				try {
					v = std::stoul(s);
				} catch (const std::exception &) {
					return "not a number";
				}
				return (v & (v - 1)) ? "not a power of two" : "";
			},
			"POWER_OF_TWO"));
	app.add_option("--queues", queues, "hardware queues per device")
		->check(CLI::Range(1u, unsigned{NPU_MAX_QUEUES}));
	app.add_option("--engines", engines, "tensor engines per device (default 4)")
		->check(CLI::Range(1u, unsigned{NPU_MAX_ENGINES}));
	app.add_option("--engine-mem", engine_mem_mib,
		       "local memory of each tensor engine in MiB (default 64)")
		->check(CLI::Range(1u, 4096u));
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? 0 : kExitUsage;
	}

	// Every thread inherits this mask; the main thread takes the signals.
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
	std::signal(SIGPIPE, SIG_IGN);

	std::unique_ptr<MappedFile> ram;
	std::vector<std::unique_ptr<VirtualNpu>> npus;
	std::unique_ptr<ControlServer> control;
	try {
		if (!log_path.empty())
			Logger::instance().open(log_path);
		ram = std::make_unique<MappedFile>(ram_path);
		for (unsigned i = 0; i < sockets.size(); i++)
			npus.push_back(std::make_unique<VirtualNpu>(
				i, sockets[i], std::size_t{bar2_mib} << 20, queues, engines,
				engine_mem_mib, ram->region()));
		if (!control_path.empty()) {
			std::vector<NpuDevice *> devices;
			for (auto &npu : npus)
				devices.push_back(&npu->device());
			control = std::make_unique<ControlServer>(control_path, devices);
		}
	} catch (const std::exception &e) {
		std::fprintf(stderr, "npu-emu: %s\n", e.what());
		if (!log_path.empty())
			log("npu-emu", "error: {}", e.what());
		return kExitUsage;
	}
	for (auto &npu : npus)
		npu->start();
	log("npu-emu", "{} device(s), guest RAM {} MiB, BAR2 {} MiB", npus.size(),
	    ram->region().size >> 20, bar2_mib);
	log("npu-emu", "ready");
	std::printf("npu-emu: ready\n");
	std::fflush(stdout);

	int sig = 0;
	sigwait(&sigs, &sig);
	log("npu-emu", "signal {}: shutting down", sig);
	control.reset();
	npus.clear();
	log("npu-emu", "exit");
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "npu-emu: fatal: %s\n", e.what());
		return 1;
	}
}
