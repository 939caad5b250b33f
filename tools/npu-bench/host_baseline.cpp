#include "host_baseline.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace npu::bench {

namespace {

// A 2048^3 GEMM takes the host a fraction of a second per run; this only
// bounds a host that stopped answering.
constexpr int kReplyTimeoutMs = 300'000;

int64_t monotonic_ms() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

int connect_unix(const char* path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Value of "key=" among the words of a reply line, "" if absent.
std::string field(const std::string& line, const std::string& key) {
    std::istringstream words(line);
    for (std::string w; words >> w;)
        if (w.rfind(key + "=", 0) == 0)
            return w.substr(key.size() + 1);
    return "";
}

} // namespace

HostBaseline::HostBaseline() {
    const char* path = std::getenv("NPU_EMU_CONTROL");
    if (!path || !*path) {
        unavailable_ = "NPU_EMU_CONTROL is not set: no emulator control channel to measure the "
                       "host baseline (tools/npu-vm provides one)";
        return;
    }
    struct stat st {};
    const bool is_socket = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
    fd_ = is_socket ? connect_unix(path) : open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0)
        unavailable_ = std::string("cannot open ") + path + ": " + std::strerror(errno);
}

HostBaseline::~HostBaseline() {
    if (fd_ >= 0)
        close(fd_);
}

std::optional<std::string> HostBaseline::request(const std::string& line, std::string* why) {
    if (fd_ < 0) {
        *why = unavailable_;
        return std::nullopt;
    }
    // A tag per request: replies to requests abandoned earlier are skipped.
    const std::string tag =
        "@" + std::to_string(getpid()) + "-" + std::to_string(next_tag_++) + " ";
    const std::string message = tag + line + "\n";
    if (write(fd_, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
        *why = std::string("writing to the emulator control channel: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::string reply;
    const int64_t deadline = monotonic_ms() + kReplyTimeoutMs;
    for (;;) {
        for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
            std::string got = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            if (got.rfind(tag, 0) != 0)
                continue;
            got.erase(0, tag.size());
            if (got == "ok")
                return reply;
            if (got.rfind("error", 0) == 0) {
                *why = "the emulator answered: " + got;
                return std::nullopt;
            }
            reply += got + "\n";
        }
        const int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            *why = "no answer from the emulator control channel within " +
                   std::to_string(kReplyTimeoutMs / 1000) + " s";
            return std::nullopt;
        }
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
            *why = std::string("waiting for the emulator control channel: ") + std::strerror(errno);
            return std::nullopt;
        }
        char buf[512];
        const ssize_t n = read(fd_, buf, sizeof(buf));
        if (n > 0)
            pending_.append(buf, static_cast<size_t>(n));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            usleep(10'000); // a virtio-serial port whose host side is not connected yet
    }
}

std::optional<HostTiming> HostBaseline::measure(const std::string& command, std::string* why) {
    auto known = answers_.find(command);
    if (known == answers_.end()) {
        Answer answer;
        if (const auto reply = request(command, &answer.why)) {
            const std::string median = field(*reply, "median_ns");
            if (median.empty() || std::strtod(median.c_str(), nullptr) <= 0) {
                answer.why = "unexpected reply from the emulator: " + *reply;
            } else {
                answer.timing = HostTiming{std::strtod(median.c_str(), nullptr),
                                           static_cast<unsigned>(std::strtoul(
                                               field(*reply, "threads").c_str(), nullptr, 10)),
                                           field(*reply, "impl")};
            }
        }
        known = answers_.emplace(command, std::move(answer)).first;
    }
    *why = known->second.why;
    return known->second.timing;
}

} // namespace npu::bench
