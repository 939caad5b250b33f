#include "emu_control.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "npu_test.h"

namespace npu_test
{

namespace fs = std::filesystem;

std::unique_ptr<EmuControl> EmuControl::Open(std::string *why)
{
	const char *path = std::getenv("NPU_EMU_CONTROL");
	if (!path || !*path) {
		*why = "NPU_EMU_CONTROL is not set: no emulator control port "
		       "(run under tools/npu-vm, which provides one)";
		return nullptr;
	}
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*why = std::string("cannot open ") + path + ": " + std::strerror(errno);
		return nullptr;
	}
	return std::unique_ptr<EmuControl>(new EmuControl(fd));
}

EmuControl::~EmuControl()
{
	close(fd_);
}

std::vector<std::string> EmuControl::Command(const std::string &line)
{
	// a tag per request: replies to abandoned requests are skipped
	std::string tag = "@" + std::to_string(getpid()) + "-" + std::to_string(next_tag_++) + " ";
	std::string msg = tag + line + "\n";
	std::vector<std::string> reply;
	if (write(fd_, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
		reply.push_back(std::string("error write: ") + std::strerror(errno));
		return reply;
	}
	int64_t deadline = DeadlineInMs(5000);
	for (;;) {
		size_t nl;
		while ((nl = pending_.find('\n')) != std::string::npos) {
			std::string l = pending_.substr(0, nl);
			pending_.erase(0, nl + 1);
			if (l.rfind(tag, 0) != 0)
				continue;
			l.erase(0, tag.size());
			reply.push_back(l);
			if (l == "ok" || l.rfind("error", 0) == 0)
				return reply;
		}
		int left = static_cast<int>((deadline - MonotonicNs()) / 1000000);
		pollfd p{fd_, POLLIN, 0};
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			reply.push_back("error timeout");
			return reply;
		}
		char buf[512];
		ssize_t n = read(fd_, buf, sizeof(buf));
		if (n > 0)
			pending_.append(buf, n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			usleep(10000); // host side not connected yet
	}
}

static std::string HexSerial(uint64_t serial)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(serial));
	return buf;
}

std::string EmuControl::Inject(uint64_t serial, const std::string &fault)
{
	return Command("inject " + HexSerial(serial) + " " + fault).back();
}

std::string EmuControl::Status(uint64_t serial)
{
	auto reply = Command("status " + HexSerial(serial));
	return reply.size() == 2 && reply.back() == "ok" ? reply.front() : reply.back();
}

std::string StatusField(const std::string &status, const std::string &key)
{
	std::istringstream in(status);
	for (std::string w; in >> w;)
		if (w.rfind(key + "=", 0) == 0)
			return w.substr(key.size() + 1);
	return "";
}

std::vector<std::string> DevcoredumpsOf(const std::string &sysfs_pci)
{
	std::vector<std::string> dumps;
	std::error_code ec;
	fs::path want = fs::canonical(sysfs_pci, ec);
	for (const auto &e : fs::directory_iterator("/sys/class/devcoredump", ec)) {
		std::error_code ec2;
		fs::path failing = fs::canonical(e.path() / "failing_device", ec2);
		if (!ec2 && failing == want)
			dumps.push_back(e.path().string());
	}
	return dumps;
}

// Freeing is asynchronous (a work item): wait until the dumps are gone,
// since the kernel drops new dumps of a device while an old one exists.
// The device's "devcoredump" link goes last (after the dump's
// failing_device link), and a dump taken before it went collides with it.
static void WaitNoDevcoredumps(const std::string &sysfs_pci)
{
	int64_t deadline = DeadlineInMs(3000);
	std::error_code ec;
	while ((!DevcoredumpsOf(sysfs_pci).empty() ||
		fs::exists(fs::symlink_status(sysfs_pci + "/devcoredump", ec))) &&
	       MonotonicNs() < deadline)
		usleep(10000);
}

void FreeDevcoredumps(const std::string &sysfs_pci)
{
	for (const auto &d : DevcoredumpsOf(sysfs_pci)) {
		std::ofstream data(d + "/data");
		data << "1";
	}
	WaitNoDevcoredumps(sysfs_pci);
}

std::optional<std::string> TakeDevcoredump(const std::string &sysfs_pci, int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	do {
		auto dumps = DevcoredumpsOf(sysfs_pci);
		if (!dumps.empty()) {
			std::string text;
			{
				std::ifstream data(dumps.front() + "/data");
				std::stringstream ss;
				ss << data.rdbuf();
				text = ss.str();
			}
			std::ofstream(dumps.front() + "/data") << "1";
			WaitNoDevcoredumps(sysfs_pci);
			return text;
		}
		usleep(50000);
	} while (MonotonicNs() < deadline);
	return std::nullopt;
}

UeventListener::UeventListener()
{
	fd_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd_ < 0)
		return;
	int size = 1 << 20;
	setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	sockaddr_nl addr{};
	addr.nl_family = AF_NETLINK;
	addr.nl_groups = 1; // kernel events
	if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
		close(fd_);
		fd_ = -1;
	}
}

UeventListener::~UeventListener()
{
	if (fd_ >= 0)
		close(fd_);
}

std::optional<std::vector<std::string>> UeventListener::WaitReset(const std::string &bdf,
								  int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	while (fd_ >= 0) {
		char buf[8192];
		ssize_t n = recv(fd_, buf, sizeof(buf) - 1, 0);
		if (n <= 0) {
			int left = static_cast<int>((deadline - MonotonicNs()) / 1000000);
			pollfd p{fd_, POLLIN, 0};
			if (left <= 0 || poll(&p, 1, left) <= 0)
				return std::nullopt;
			continue;
		}
		buf[n] = '\0';
		// "action@devpath\0KEY=VALUE\0..."
		std::vector<std::string> keys;
		for (ssize_t off = std::strlen(buf) + 1; off < n; off += std::strlen(buf + off) + 1)
			keys.emplace_back(buf + off);
		auto has = [&](const std::string &kv) {
			return std::find(keys.begin(), keys.end(), kv) != keys.end();
		};
		bool ours = std::any_of(keys.begin(), keys.end(), [&](const std::string &k) {
			return k.rfind("DEVPATH=", 0) == 0 && k.size() >= bdf.size() &&
			       k.compare(k.size() - bdf.size(), bdf.size(), bdf) == 0;
		});
		if (ours && has("ACTION=change") && has("NPU_RESET=1"))
			return keys;
	}
	return std::nullopt;
}

} // namespace npu_test
