// SPDX-License-Identifier: MIT
#include "npu_control.h"

#include <cerrno>
#include <cstring>
#include <sstream>
#include <system_error>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "npu_device.h"
#include "npu_fault.h"
#include "npu_log.h"
#include "npu_reference_bench.h"

namespace npu::emu
{

namespace
{

constexpr std::size_t kMaxLine = 4096;
constexpr unsigned kMaxClients = 16;

[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

std::vector<std::string> split_words(std::string_view line)
{
	std::vector<std::string> words;
	std::istringstream in{std::string(line)};
	for (std::string w; in >> w;)
		words.push_back(w);
	return words;
}

NpuDevice *find_device(const std::vector<NpuDevice *> &devices, const std::string &id)
{
	for (NpuDevice *d : devices) {
		if (d->name() == id)
			return d;
		if (id.rfind("0x", 0) == 0) {
			try {
				if (std::stoull(id, nullptr, 16) == d->config().serial)
					return d;
			} catch (const std::exception &) {
				return nullptr;
			}
		}
	}
	return nullptr;
}

bool write_all(int fd, const std::string &s)
{
	std::size_t done = 0;
	while (done < s.size()) {
		ssize_t n = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += n;
	}
	return true;
}

} // namespace

std::string control_command(const std::vector<NpuDevice *> &devices, std::string_view line)
{
	std::vector<std::string> w = split_words(line);
	if (w.empty())
		return "error empty command\n";
	if (w[0] == "help")
		return "inject DEVICE hang-engine|crash-firmware|corrupt-completion [status|seqno]"
		       "|drop-interrupt|stop-heartbeat|hang-tensor-engine|corrupt-engine\nstatus "
		       "[DEVICE]\nbench gemm M N K DTYPE THREADS [RUNS]\n"
		       "bench conv N C OC H W KSIZE STRIDE PAD DTYPE THREADS [RUNS]\n"
		       "bench torch MODEL THREADS [RUNS]\nok\n";
	if (w[0] == "status") {
		if (w.size() > 2)
			return "error usage: status [DEVICE]\n";
		std::string out;
		for (NpuDevice *d : devices) {
			if (w.size() == 2 && d != find_device(devices, w[1]))
				continue;
			out += d->status() + "\n";
		}
		if (out.empty())
			return "error no device " + w[1] + "\n";
		return out + "ok\n";
	}
	if (w[0] == "inject") {
		if (w.size() < 3 || w.size() > 4)
			return "error usage: inject DEVICE FAULT [ARG]\n";
		NpuDevice *d = find_device(devices, w[1]);
		if (!d)
			return "error no device " + w[1] + "\n";
		auto fault = parse_fault(w[2], w.size() == 4 ? w[3] : "");
		if (!fault)
			return "error unknown fault '" + w[2] + (w.size() == 4 ? " " + w[3] : "") +
			       "'\n";
		std::string why = d->inject(*fault);
		if (!why.empty())
			return "error " + why + "\n";
		log("control", "{}: {} injected", d->name(), fault_name(*fault));
		return "ok\n";
	}
	if (w[0] == "bench") // host baseline for npu-bench (npu_reference_bench.h)
		return reference_bench_command(w);
	return "error unknown command '" + w[0] + "'\n";
}

ControlServer::ControlServer(std::string path, std::vector<NpuDevice *> devices)
    : path_(std::move(path)), devices_(std::move(devices)),
      stop_efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
	if (!stop_efd_)
		throw_errno("eventfd");
	listen_fd_ = listen_unix_socket(path_);
	thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer()
{
	std::uint64_t one = 1;
	if (write(stop_efd_.get(), &one, sizeof(one)) < 0)
		log("control", "cannot wake the control thread: {}", std::strerror(errno));
	if (thread_.joinable())
		thread_.join();
	unlink(path_.c_str());
}

void ControlServer::serve()
{
	struct Client {
		UniqueFd fd;
		std::string buf;
	};
	std::vector<Client> clients;

	for (;;) {
		std::vector<pollfd> pfds{{stop_efd_.get(), POLLIN, 0},
					 {listen_fd_.get(), POLLIN, 0}};
		for (const Client &c : clients)
			pfds.push_back({c.fd.get(), POLLIN, 0});
		if (poll(pfds.data(), pfds.size(), -1) < 0) {
			if (errno == EINTR)
				continue;
			log("control", "poll: {}", std::strerror(errno));
			return;
		}
		if (pfds[0].revents)
			return;
		if (pfds[1].revents & POLLIN) {
			UniqueFd fd(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
			if (fd && clients.size() < kMaxClients)
				clients.push_back({std::move(fd), {}});
		}
		// clients accepted just now have no pollfd entry yet
		for (std::size_t i = 0; i + 2 < pfds.size(); i++) {
			Client &c = clients[i];
			if (!pfds[i + 2].revents)
				continue;
			char chunk[512];
			ssize_t n = read(c.fd.get(), chunk, sizeof(chunk));
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				c.fd.reset();
				continue;
			}
			c.buf.append(chunk, n);
			std::size_t nl;
			while ((nl = c.buf.find('\n')) != std::string::npos) {
				std::string line = c.buf.substr(0, nl);
				c.buf.erase(0, nl + 1);
				if (!line.empty() && line.back() == '\r')
					line.pop_back();
				std::string tag;
				if (line.rfind('@', 0) == 0) {
					std::size_t sp = line.find(' ');
					tag = line.substr(0, sp) + " ";
					line = sp == std::string::npos ? "" : line.substr(sp + 1);
				}
				std::string reply = control_command(devices_, line), out;
				for (std::size_t p = 0; p < reply.size();) {
					std::size_t e = reply.find('\n', p);
					out += tag + reply.substr(p, e - p + 1);
					p = e + 1;
				}
				if (!write_all(c.fd.get(), out)) {
					c.fd.reset();
					break;
				}
			}
			if (c.fd && c.buf.size() > kMaxLine)
				c.buf.clear(); // a runaway line: drop it
		}
		std::erase_if(clients, [](const Client &c) { return !c.fd; });
	}
}

} // namespace npu::emu
