// The host side of a compute benchmark: the guest's own CPU is emulated, so
// the native oneDNN baseline is measured by the emulator on the host,
// through its control socket ("bench gemm|conv ...", see
// emulator/npu_reference_bench.h). tools/npu-vm hands the socket to the
// guest as a virtio-serial port named by $NPU_EMU_CONTROL; a unix socket
// path (the emulator's --control) works too.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace npu::bench {

struct HostTiming {
    double median_ns = 0;
    unsigned threads = 0;
    std::string impl; // the oneDNN implementation that ran
};

class HostBaseline {
public:
    HostBaseline(); // never throws: an unusable channel is reported by measure()
    ~HostBaseline();
    HostBaseline(const HostBaseline&) = delete;
    HostBaseline& operator=(const HostBaseline&) = delete;

    // The host's timing of a "bench ..." command line, each distinct line
    // measured once per run; nullopt with *why set when there is none.
    std::optional<HostTiming> measure(const std::string& command, std::string* why);

private:
    // Sends one tagged line; returns the reply's lines before "ok", or
    // nullopt with *why set (an "error ..." reply, a timeout).
    std::optional<std::string> request(const std::string& line, std::string* why);

    int fd_ = -1;
    std::string unavailable_; // why fd_ is -1
    unsigned next_tag_ = 1;
    std::string pending_;
    struct Answer {
        std::optional<HostTiming> timing;
        std::string why;
    };
    std::map<std::string, Answer> answers_; // by command line
};

} // namespace npu::bench
