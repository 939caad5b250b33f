#include "throughput_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <optional>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

extern char** environ;

namespace npu::bench {
namespace {

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// The device's pickup -> completion of job (queue 0, seqno) from debugfs
// hops, in ns; nullopt when not there (not root, not alone on its ring).
std::optional<uint64_t> firmware_ns(const Device& device, uint64_t seqno) {
    std::ifstream in("/sys/kernel/debug/npu/" + device.info().pci_address + "/hops");
    std::string line;
    std::getline(in, line);
    std::getline(in, line);
    const uint64_t context = device.driver().get_param(DRM_NPU_PARAM_CONTEXT_ID);
    std::optional<uint64_t> found;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        uint64_t ctx = 0, queue = 0, seq = 0, hop[9] = {};
        f >> ctx >> queue >> seq;
        for (auto& h : hop)
            f >> h;
        if (f && ctx == context && queue == 0 && seq == seqno && hop[4] && hop[5] >= hop[4])
            found = hop[5] - hop[4];
    }
    return found;
}

} // namespace

Result async_launch(const Device& device, Stream& stream, const Options& opt) {
    const unsigned launches = std::max(64u, opt.iterations * 8);
    Buffer word(device, 4096);

    // The host side: separate launches, each a 4-byte FILL, back to back;
    // the clock stops once the device finished them all.
    stream.fill(word, 0, 4, 0);
    stream.synchronize();
    const uint64_t start = now_ns();
    for (unsigned i = 0; i < launches; ++i)
        stream.fill(word, 0, 4, i);
    const uint64_t enqueued = now_ns();
    stream.synchronize();
    const double host_s = static_cast<double>(now_ns() - start) / 1e9;

    // The firmware's own rate: the same packets in one job on queue 0,
    // timed by the device from pickup to completion.
    const DriverApi& drv = device.driver();
    const size_t bytes = launches * sizeof(npu_pkt_fill);
    Buffer cmd(device, bytes, BufferKind::host_visible);
    auto* pkt = static_cast<npu_pkt_fill*>(cmd.host_ptr());
    for (unsigned i = 0; i < launches; ++i)
        pkt[i] = {.header = NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS),
                  .value = i,
                  .dst = word.device_addr(),
                  .size = 4};
    drv.bo_sync(cmd.handle(), DRM_NPU_BO_SYNC_TO_DEVICE, 0, bytes);
    const uint32_t handles[] = {cmd.handle(), word.handle()};
    const uint64_t submitted = now_ns();
    const uint64_t seqno = drv.submit(handles, cmd.device_addr(), static_cast<uint32_t>(bytes), 0);
    auto w = drv.wait(0, seqno, static_cast<int64_t>(submitted + 60'000'000'000ull));
    const uint64_t wall = now_ns() - submitted;
    if (!w || w->job_status != DRM_NPU_JOB_STATUS_OK)
        throw std::runtime_error("the job of FILL packets failed");
    const auto fw = firmware_ns(device, seqno);

    Result result{.name = "async_launch",
                  .unit = "ops/s",
                  .measured = {"host_async_launches", launches / host_s},
                  .baseline = Figure{fw ? "firmware_packets" : "one_job_wall_clock",
                                     launches / (static_cast<double>(fw ? *fw : wall) / 1e9)},
                  .meaning = "4-byte FILLs launched one by one through a stream over the same "
                             "packets run by the firmware in one job (goal >= 0.9)"};
    result.details["launches"] = launches;
    // the host's own share: the enqueue loop alone, per launch
    result.details["enqueue_us_per_launch"] =
        static_cast<double>(enqueued - start) / 1e3 / launches;
    result.details["rows"] = std::vector<std::string>{
        fmt::format("enqueue alone: {:.2f} us per launch; {} launches through {}",
                    static_cast<double>(enqueued - start) / 1e3 / launches, launches,
                    stream.user_mode() ? "a user-mode queue" : "kernel submission")};
    result.details["firmware_timed_by"] =
        fw ? "device clock, pickup to completion (debugfs hops)"
           : "wall clock of SUBMIT + WAIT (debugfs hops unreadable)";
    return result;
}

int scaling_child(const char* spec) {
    unsigned index = 0, streams = 0, launches = 0;
    if (std::sscanf(spec, "%u %u %u", &index, &streams, &launches) != 3 || !streams)
        return 2;
    Device device = Device::open(Device::enumerate().at(index));
    Buffer word(device, 4096);
    std::vector<Stream> list;
    for (unsigned s = 0; s < streams; ++s) {
        list.emplace_back(device);
        list.back().fill(word, 0, 4, 0);
        list.back().synchronize();
    }
    std::printf("ready\n");
    std::fflush(stdout);
    char go[8] = {};
    if (read(STDIN_FILENO, go, sizeof(go)) <= 0)
        return 3;
    const uint64_t start = now_ns();
    for (unsigned i = 0; i < launches; ++i)
        list[i % streams].fill(word, 0, 4, i);
    for (auto& s : list)
        s.synchronize();
    std::printf("%llu %llu\n", static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(now_ns()));
    return 0;
}

namespace {

struct Child {
    pid_t pid = -1;
    int in = -1;  // its stdin
    int out = -1; // its stdout
};

std::string read_line(int fd) {
    std::string line;
    char c = 0;
    while (read(fd, &c, 1) == 1 && c != '\n')
        line.push_back(c);
    return line;
}

// Launches per second of `processes` processes with `streams` streams each,
// `launches` launches per process, all started together.
double scaling_run(const Device& device, unsigned processes, unsigned streams, unsigned launches) {
    std::vector<Child> children(processes);
    const std::string spec =
        fmt::format("NPU_BENCH_SCALING_CHILD={} {} {}", device.info().index, streams, launches);
    std::vector<char*> env;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "NPU_BENCH_SCALING_CHILD=", 24) != 0)
            env.push_back(*e);
    env.push_back(const_cast<char*>(spec.c_str()));
    env.push_back(nullptr);
    char self[] = "/proc/self/exe";
    char* argv[] = {self, nullptr};
    for (auto& c : children) {
        int to[2], from[2];
        if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
            throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, to[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, from[1], STDOUT_FILENO);
        const int err = posix_spawn(&c.pid, self, &fa, nullptr, argv, env.data());
        posix_spawn_file_actions_destroy(&fa);
        close(to[0]);
        close(from[1]);
        c.in = to[1];
        c.out = from[0];
        if (err)
            throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(err));
    }
    for (auto& c : children)
        if (read_line(c.out) != "ready")
            throw std::runtime_error("a launch_scaling worker did not start");
    for (auto& c : children)
        if (write(c.in, "go\n", 3) != 3)
            throw std::runtime_error("a launch_scaling worker went away");
    uint64_t first = UINT64_MAX, last = 0;
    bool ok = true;
    for (auto& c : children) {
        unsigned long long s = 0, e = 0;
        ok = ok && std::sscanf(read_line(c.out).c_str(), "%llu %llu", &s, &e) == 2;
        first = std::min<uint64_t>(first, s);
        last = std::max<uint64_t>(last, e);
        close(c.in);
        close(c.out);
        int status = 0;
        waitpid(c.pid, &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok || last <= first)
        throw std::runtime_error("a launch_scaling worker failed");
    return processes * launches / (static_cast<double>(last - first) / 1e9);
}

} // namespace

Result launch_scaling(const Device& device, Stream&, const Options& opt) {
    const unsigned launches = std::max(64u, opt.iterations * 2);
    const unsigned process_counts[] = {1, 2, 4, 8};
    const unsigned stream_counts[] = {1, 8, 64};
    nlohmann::json table = nlohmann::json::array();
    std::vector<std::string> rows;
    rows.push_back(fmt::format("{:>9} {:>12} {:>12} {:>12}  launches/s ({} launches a process)",
                               "processes", "1 stream", "8 streams", "64 streams", launches));
    double base = 0, best = 0;
    for (unsigned p : process_counts) {
        std::string row = fmt::format("{:>9}", p);
        for (unsigned s : stream_counts) {
            const double rate = scaling_run(device, p, s, launches);
            if (p == 1 && s == 1)
                base = rate;
            best = std::max(best, rate);
            table.push_back({{"processes", p}, {"streams", s}, {"launches_per_s", rate}});
            row += fmt::format(" {:>12.0f}", rate);
        }
        rows.push_back(row);
    }
    Result result{.name = "launch_scaling",
                  .unit = "launches/s",
                  .measured = {"best_of_table", best},
                  .baseline = Figure{"one_process_one_stream", base},
                  .meaning = "4-byte FILL launches per second over processes x streams, all "
                             "started together (table below)"};
    result.details["table"] = table;
    result.details["rows"] = rows;
    return result;
}

namespace {

// MemFree of /proc/meminfo in bytes.
uint64_t mem_free() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib) {
        std::getline(in, unit);
        if (key == "MemFree:")
            return kib * 1024;
    }
    throw std::runtime_error("/proc/meminfo has no MemFree");
}

} // namespace

Result kernel_memory(const Device& device, Stream&, const Options& opt) {
    // Many objects and the median of three trials: MemFree counts pages and
    // moves with everything else the guest does.
    const unsigned contexts = 256;
    const unsigned bos = std::max(512u, opt.iterations);
    constexpr uint64_t kBoSize = 4096;
    constexpr int kTrials = 3;
    auto per = [](uint64_t before, uint64_t after, unsigned n, uint64_t payload) {
        const double used = before > after ? static_cast<double>(before - after) : 0.0;
        return std::max(0.0, used / n - static_cast<double>(payload));
    };
    auto median3 = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const DriverApi& drv = device.driver();
    std::vector<double> ctx_bytes, bo_bytes;
    for (int trial = 0; trial < kTrials; ++trial) {
        // Contexts: each open of the node is one (its default queue, its
        // address space's page-table root).
        std::vector<int> fds;
        const uint64_t before_ctx = mem_free();
        for (unsigned i = 0; i < contexts; ++i) {
            const int fd = open(device.info().node.c_str(), O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                for (int f : fds)
                    close(f);
                throw std::runtime_error(device.info().node + ": " + std::strerror(errno));
            }
            fds.push_back(fd);
        }
        const uint64_t after_ctx = mem_free();
        for (int fd : fds)
            close(fd);
        ctx_bytes.push_back(per(before_ctx, after_ctx, contexts, 0));
        // Buffer objects of one page on one context, their pages populated.
        std::vector<uint32_t> handles;
        const uint64_t before_bo = mem_free();
        for (unsigned i = 0; i < bos; ++i) {
            const auto bo = drv.bo_create(kBoSize, 0);
            handles.push_back(bo.handle);
            drv.bo_sync(bo.handle, DRM_NPU_BO_SYNC_TO_DEVICE, 0, kBoSize);
        }
        const uint64_t after_bo = mem_free();
        for (uint32_t h : handles)
            drv.gem_close(h);
        bo_bytes.push_back(per(before_bo, after_bo, bos, kBoSize));
    }
    const double per_ctx = median3(ctx_bytes), per_bo = median3(bo_bytes);
    Result result{.name = "kernel_memory",
                  .unit = "bytes",
                  .measured = {"per_context", per_ctx},
                  .baseline = std::nullopt,
                  .meaning = "kernel memory a context costs; details: a 4 KiB buffer object's "
                             "cost beyond its page (MemFree deltas)"};
    result.baseline_missing = "none: an absolute figure";
    result.details["per_bo_beyond_payload"] = per_bo;
    result.details["contexts"] = contexts;
    result.details["bos"] = bos;
    result.details["rows"] = std::vector<std::string>{
        fmt::format("per context: {:.0f} bytes (median of {} trials of {} opens of {})", per_ctx,
                    kTrials, contexts, device.info().node),
        fmt::format("per 4 KiB buffer object beyond its page: {:.0f} bytes (median of {} trials "
                    "of {} objects)",
                    per_bo, kTrials, bos)};
    return result;
}

} // namespace npu::bench
