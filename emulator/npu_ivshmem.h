// SPDX-License-Identifier: MIT
// The ivshmem-server side of one virtual NPU: a unix socket QEMU's
// ivshmem-doorbell device connects to. The emulator is peer 0, the one
// client (the VM) peer 1. On connect the client gets the protocol version,
// its id, the BAR2 memfd and both peers' eventfds. Client doorbells arrive
// on peer 0's eventfds and become NpuDevice::doorbell(); raise_irq() writes
// peer 1's eventfds (MSI-X in the guest). A disconnect power-cycles the
// device and the next client (the rebooted VM) can connect.
//
// Threads: one server thread per socket (start() to stop()). raise_irq()
// may be called from any thread. The NPU_DB_QUEUE and NPU_DB_PING eventfds
// are the control core's to poll (NpuDevice::set_doorbell_fds()): the
// server thread handles CTRL and MMU only.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "npu_hw.h"
#include "npu_os.h"

namespace npu::emu
{

class NpuDevice;

inline constexpr std::int64_t kIvshmemProtocolVersion = 0;
inline constexpr std::int64_t kEmulatorPeerId = 0;
inline constexpr std::int64_t kClientPeerId = 1;

class IvshmemServer
{
public:
	// Binds and listens; throws std::system_error (a stale socket file is
	// replaced, anything else at path is an error).
	IvshmemServer(std::string name, std::string socket_path, int shm_fd);
	~IvshmemServer(); // stop()s and removes the socket file
	IvshmemServer(const IvshmemServer &) = delete;
	IvshmemServer &operator=(const IvshmemServer &) = delete;

	void start(NpuDevice &device);
	void stop();
	void raise_irq(unsigned vector);
	const std::string &socket_path() const { return path_; }

private:
	struct Client {
		UniqueFd sock;
		std::array<UniqueFd, NPU_IVSHMEM_VECTORS> device_efd; // peer 0
		std::array<UniqueFd, NPU_IVSHMEM_VECTORS> guest_efd;  // peer 1
	};

	void serve(NpuDevice &device);
	void accept_client(NpuDevice &device);
	void drop_client(NpuDevice &device);
	bool send_greeting(const Client &c);

	const std::string name_;
	const std::string path_;
	const int shm_fd_;
	UniqueFd listen_fd_;
	UniqueFd stop_efd_;
	std::thread thread_;

	std::mutex client_mutex_; // protects client_ (swapped on connect/disconnect)
	Client client_;
};

} // namespace npu::emu
