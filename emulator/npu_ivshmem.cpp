// SPDX-License-Identifier: MIT
#include "npu_ivshmem.h"

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "npu_device.h"
#include "npu_log.h"

namespace npu::emu
{

namespace
{

[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

UniqueFd make_eventfd()
{
	UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!fd)
		throw_errno("eventfd");
	return fd;
}

// One protocol message: a little-endian int64, optionally with one fd.
bool send_message(int sock, std::int64_t value, int fd)
{
	iovec iov{&value, sizeof(value)};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
	if (fd >= 0) {
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == sizeof(value);
}

} // namespace

IvshmemServer::IvshmemServer(std::string name, std::string socket_path, int shm_fd)
    : name_(std::move(name)), path_(std::move(socket_path)), shm_fd_(shm_fd),
      stop_efd_(make_eventfd())
{
	listen_fd_ = listen_unix_socket(path_);
}

IvshmemServer::~IvshmemServer()
{
	stop();
	unlink(path_.c_str());
}

void IvshmemServer::start(NpuDevice &device)
{
	thread_ = std::thread([this, &device] { serve(device); });
}

void IvshmemServer::stop()
{
	if (!thread_.joinable())
		return;
	std::uint64_t one = 1;
	if (write(stop_efd_.get(), &one, sizeof(one)) < 0)
		log(name_, "cannot signal server thread: {}", std::strerror(errno));
	thread_.join();
}

void IvshmemServer::raise_irq(unsigned vector)
{
	std::lock_guard lock(client_mutex_);
	if (vector >= client_.guest_efd.size() || !client_.guest_efd[vector])
		return; // nobody connected: the interrupt is lost, as on a bus
	std::uint64_t one = 1;
	if (write(client_.guest_efd[vector].get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
		log(name_, "MSI-X {} write failed: {}", vector, std::strerror(errno));
}

bool IvshmemServer::send_greeting(const Client &c)
{
	int s = c.sock.get();
	if (!send_message(s, kIvshmemProtocolVersion, -1) || !send_message(s, kClientPeerId, -1) ||
	    !send_message(s, -1, shm_fd_))
		return false;
	for (const auto &efd : c.device_efd)
		if (!send_message(s, kEmulatorPeerId, efd.get()))
			return false;
	for (const auto &efd : c.guest_efd)
		if (!send_message(s, kClientPeerId, efd.get()))
			return false;
	return true;
}

void IvshmemServer::accept_client(NpuDevice &device)
{
	UniqueFd sock(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
	if (!sock) {
		log(name_, "accept: {}", std::strerror(errno));
		return;
	}
	int queue_fd = -1;
	int ping_fd = -1;
	{
		std::lock_guard lock(client_mutex_);
		if (client_.sock) {
			log(name_, "second client refused: one VM per device");
			return;
		}
		Client c;
		c.sock = std::move(sock);
		for (auto &efd : c.device_efd)
			efd = make_eventfd();
		for (auto &efd : c.guest_efd)
			efd = make_eventfd();
		if (!send_greeting(c)) {
			log(name_, "client left during handshake: {}", std::strerror(errno));
			return;
		}
		client_ = std::move(c);
		queue_fd = client_.device_efd[NPU_DB_QUEUE].get();
		ping_fd = client_.device_efd[NPU_DB_PING].get();
	}
	// Outside client_mutex_: raise_irq() takes it under the device's
	// ctrl mutex, which set_doorbell_fds() takes. No firmware runs now
	// (the last client's departure reset the device), and only this
	// thread replaces or drops the client, so the fds stay valid.
	device.set_doorbell_fds(queue_fd, ping_fd);
	log(name_, "client connected (peer {})", kClientPeerId);
}

void IvshmemServer::drop_client(NpuDevice &device)
{
	log(name_, "client disconnected");
	// Stop the firmware before the interrupt eventfds go away.
	device.power_on_reset();
	device.set_doorbell_fds(-1, -1);
	std::lock_guard lock(client_mutex_);
	client_ = Client{};
}

void IvshmemServer::serve(NpuDevice &device)
{
	enum { kStop, kListen, kClient, kDoorbell0 };
	for (;;) {
		std::vector<pollfd> fds{{stop_efd_.get(), POLLIN, 0},
					{listen_fd_.get(), POLLIN, 0}};
		// Only this thread changes client_, so reading it unlocked is safe.
		if (client_.sock) {
			fds.push_back({client_.sock.get(), POLLIN, 0});
			for (unsigned v = 0; v < NPU_IVSHMEM_VECTORS; v++)
				fds.push_back({client_.device_efd[v].get(),
					       v == NPU_DB_QUEUE || v == NPU_DB_PING
						       ? short{0}
						       : short{POLLIN},
					       0});
		}
		if (poll(fds.data(), fds.size(), -1) < 0) {
			if (errno == EINTR)
				continue;
			log(name_, "poll: {}", std::strerror(errno));
			return;
		}
		if (fds[kStop].revents)
			return;
		if (fds.size() > kClient) {
			for (unsigned v = 0; v < NPU_IVSHMEM_VECTORS; v++) {
				if (!(fds[kDoorbell0 + v].revents & POLLIN))
					continue;
				std::uint64_t count;
				if (read(fds[kDoorbell0 + v].fd, &count, sizeof(count)) ==
				    sizeof(count))
					device.doorbell(v);
			}
			if (fds[kClient].revents) {
				char buf[64];
				ssize_t n = read(fds[kClient].fd, buf, sizeof(buf));
				if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
					drop_client(device);
				// A client never sends data; anything else is ignored.
			}
		}
		if (fds[kListen].revents & POLLIN)
			accept_client(device);
	}
}

} // namespace npu::emu
