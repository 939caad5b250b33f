// SPDX-License-Identifier: MIT
// The emulator's control channel: a unix socket taking one command per
// line, for tests that inject faults (QEMU forwards it into the guest as a
// virtio-serial port, see tools/npu-vm).
//
//   inject DEVICE FAULT [ARG]  ->  "ok" | "error REASON"
//   status [DEVICE]            ->  one line per device, then "ok"
//   bench gemm|conv ...        ->  a host oneDNN timing for npu-bench, then "ok"
//                                  (npu_reference_bench.h)
//   help                       ->  the commands, then "ok"
//
// DEVICE is a device name (npu0, ...) or its serial number (0x...), which
// the guest reads with DRM_NPU_PARAM_SERIAL. A line starting "@TAG " gets
// every line of its reply prefixed with "@TAG ", so a client sharing the
// stream with earlier, abandoned requests can find its own reply.
//
// Threads: one server thread (constructor to destructor); any number of
// clients, each served line by line.
#pragma once

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "npu_os.h"

namespace npu::emu
{

class NpuDevice;

// The reply to one command line (without tag handling), lines ending '\n'.
std::string control_command(const std::vector<NpuDevice *> &devices, std::string_view line);

class ControlServer
{
public:
	// Binds and listens at path (a stale socket is replaced); throws
	// std::system_error.
	ControlServer(std::string path, std::vector<NpuDevice *> devices);
	~ControlServer(); // stops the thread, removes the socket file
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

private:
	void serve();

	const std::string path_;
	const std::vector<NpuDevice *> devices_;
	UniqueFd listen_fd_;
	UniqueFd stop_efd_;
	std::thread thread_;
};

} // namespace npu::emu
