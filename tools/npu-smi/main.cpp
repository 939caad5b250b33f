#include <csignal>
#include <iostream>

#include "command.hpp"

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) {
    stop_requested = true; // lock-free atomic store: async-signal-safe
}

} // namespace

int main(int argc, char** argv) {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    npu::smi::Context context{.os = npu::default_os_interface(),
                              .out = std::cout,
                              .err = std::cerr,
                              .root = {},
                              .privileged = std::nullopt,
                              .stop = &stop_requested};
    return npu::smi::run(argc, argv, context);
}
