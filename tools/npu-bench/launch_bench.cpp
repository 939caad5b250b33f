#include "launch_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <vector>

#include <drm/npu_accel.h>
#include <drm/npu_packet.h>

namespace npu::bench {
namespace {

std::string debugfs_path(const Device& device, const char* file) {
    return "/sys/kernel/debug/npu/" + device.info().pci_address + "/" + file;
}

std::string read_text(const std::string& path, bool* ok) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    *ok = static_cast<bool>(in) || !text.str().empty();
    return text.str();
}

// debugfs "ping" of the device: one batch of raw round trips; nullopt and
// why when it cannot be read (not root, no debugfs, older firmware).
std::optional<double> raw_round_trip_us(const Device& device, std::string* why) {
    const std::string path = debugfs_path(device, "ping");
    bool ok = false;
    const std::string line = read_text(path, &ok);
    std::smatch m;
    if (!ok || !std::regex_search(line, m, std::regex(R"(median_ns (\d+))"))) {
        *why = fmt::format("{} unreadable (needs root, debugfs and firmware ABI 1.4)", path);
        return std::nullopt;
    }
    return std::stod(m[1]) / 1e3;
}

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts); // the kernel's ktime_get_ns()
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

// The hops of debugfs "hops" (driver/npu_hops.h), in order.
constexpr std::array<const char*, 9> kHops = {
    "ioctl", "pushed", "run_job", "doorbell", "fw_pickup", "fw_complete", "irq", "signal", "wake"};

struct UserTimes {
    uint64_t before_submit = 0;
    uint64_t after_submit = 0;
    uint64_t after_wait = 0;
};

// One job's hop times, user side and kernel side, on CLOCK_MONOTONIC.
struct Trip {
    UserTimes user;
    std::array<uint64_t, kHops.size()> hop{};
};

// Reads debugfs "hops" and joins its entries for queue 0 with the user
// times of the jobs submitted (by seqno, and the ioctl stamp inside the
// submit call, which tells this process's jobs from another's).
// False when the file cannot be read (not root, no debugfs).
bool join_hops(const Device& device, const std::map<uint64_t, UserTimes>& user,
               std::vector<Trip>* trips, std::vector<double>* windows_us) {
    bool ok = false;
    const std::string path = debugfs_path(device, "hops");
    const std::string text = read_text(path, &ok);
    if (!ok)
        return false;
    std::istringstream in(text);
    std::string line;
    std::getline(in, line); // clock_offset_ns O window_ns W
    std::smatch m;
    if (std::regex_search(line, m, std::regex(R"(window_ns (\d+))")))
        windows_us->push_back(std::stod(m[1]) / 1e3);
    std::getline(in, line); // the header
    {
        std::istringstream header(line);
        std::string word;
        std::vector<std::string> words;
        while (header >> word)
            words.push_back(word);
        if (words.size() != 3 + kHops.size() ||
            !std::equal(kHops.begin(), kHops.end(), words.begin() + 3))
            throw std::runtime_error(path + ": unexpected header: " + line);
    }
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        uint32_t context = 0, queue = 0;
        uint64_t seqno = 0;
        Trip trip;
        fields >> context >> queue >> seqno;
        for (auto& ns : trip.hop)
            fields >> ns;
        if (!fields || queue != 0)
            continue;
        auto it = user.find(seqno);
        if (it == user.end() || trip.hop[0] < it->second.before_submit ||
            trip.hop[0] > it->second.after_submit)
            continue;
        if (std::find(trip.hop.begin(), trip.hop.end(), 0u) != trip.hop.end())
            continue; // a device-clock hop not recorded: not alone on its queue
        trip.user = it->second;
        trips->push_back(trip);
    }
    return true;
}

} // namespace

namespace {

// Median us of an eager empty launch (an event recorded on an idle stream
// and synchronised: one job, no packet work) on a stream of its own.
double empty_launch_us(const Device& device, unsigned iterations) {
    Stream stream(device);
    Event event(device);
    stream.record(event);
    event.synchronize();
    std::vector<double> us(iterations);
    for (auto& sample : us) {
        const auto start = std::chrono::steady_clock::now();
        stream.record(event);
        event.synchronize();
        sample = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count();
    }
    return median(us);
}

// Sets an environment variable while it lives, restoring the old value.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name))
            old_ = old;
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

Result launch_floor(const Device& device, Stream& stream, const Options& opt) {
    stream.synchronize();
    double kernel_us = 0;
    {
        // kernel submission (SUBMIT ioctl) even where user-mode queues exist
        const ScopedEnv env("NPU_USER_QUEUES", "0");
        kernel_us = empty_launch_us(device, opt.iterations);
    }
    uint64_t user_queues = 0;
    try {
        user_queues = device.driver().get_param(DRM_NPU_PARAM_UQUEUE_COUNT);
    } catch (const Error&) {
        user_queues = 0; // a driver without them
    }
    Result result{.name = "launch_floor",
                  .unit = "us",
                  .measured = {"empty_launch", kernel_us},
                  .baseline = std::nullopt,
                  .meaning = "an eager empty launch (kernel submission) over the raw device round "
                             "trip (goal <= 1.5)"};
    std::string why;
    const auto raw = raw_round_trip_us(device, &why);
    if (raw)
        result.baseline = Figure{"raw_round_trip", *raw};
    else
        result.baseline_missing = why;
    std::vector<std::string> rows;
    rows.push_back(
        fmt::format("kernel submission (NPU_USER_QUEUES=0): {:.1f} us{}", kernel_us,
                    raw ? fmt::format(", {:.2f}x the raw trip", kernel_us / *raw) : std::string()));
    if (user_queues) {
        const ScopedEnv env("NPU_USER_QUEUES", nullptr); // libnpu's default
        const double user_us = empty_launch_us(device, opt.iterations);
        result.details["user_queues_us"] = user_us;
        rows.push_back(fmt::format("default (user-mode queues): {:.1f} us{} (goal <= 1.2)", user_us,
                                   raw ? fmt::format(", {:.2f}x the raw trip", user_us / *raw)
                                       : std::string()));
    } else {
        result.details["user_queues_us"] = "n/a (user-mode queues unavailable)";
        rows.push_back("default (user-mode queues): n/a (user-mode queues unavailable)");
    }
    result.details["rows"] = rows;
    return result;
}

Result launch_breakdown(const Device& device, Stream& stream, const Options& opt) {
    stream.synchronize();
    const DriverApi& drv = device.driver();
    Buffer cmd(device, 4096, BufferKind::host_visible);
    const npu_pkt_nop nop{.header = NPU_PKT_HEADER(NPU_OP_NOP, NPU_PKT_NOP_DWORDS), .mbz = 0};
    std::memcpy(cmd.host_ptr(), &nop, sizeof(nop));
    drv.bo_sync(cmd.handle(), DRM_NPU_BO_SYNC_TO_DEVICE, 0, 4096);
    const uint32_t handles[] = {cmd.handle()};

    // In batches the ring of debugfs "hops" holds (256 jobs).
    constexpr unsigned kBatch = 128;
    std::vector<Trip> trips;
    std::vector<double> total, submit_ioctl, windows_us;
    bool hops_read = true;
    (void)drv.wait(0, drv.submit(handles, cmd.device_addr(), sizeof(nop), 0),
                   static_cast<int64_t>(now_ns() + 20'000'000'000ull)); // warm-up
    for (unsigned done = 0; done < opt.iterations;) {
        const unsigned n = std::min(kBatch, opt.iterations - done);
        std::map<uint64_t, UserTimes> user;
        for (unsigned i = 0; i < n; ++i) {
            UserTimes t;
            t.before_submit = now_ns();
            const uint64_t seqno = drv.submit(handles, cmd.device_addr(), sizeof(nop), 0);
            t.after_submit = now_ns();
            auto w = drv.wait(0, seqno, static_cast<int64_t>(t.after_submit + 20'000'000'000ull));
            t.after_wait = now_ns();
            if (!w || w->job_status != DRM_NPU_JOB_STATUS_OK)
                throw std::runtime_error("an empty job did not complete");
            user[seqno] = t;
            total.push_back(static_cast<double>(t.after_wait - t.before_submit) / 1e3);
            submit_ioctl.push_back(static_cast<double>(t.after_submit - t.before_submit) / 1e3);
        }
        hops_read = hops_read && join_hops(device, user, &trips, &windows_us);
        done += n;
    }

    // Each hop's median, from the previous hop's time: they add up to the
    // whole round trip (up to the medians of the parts not adding exactly).
    struct Hop {
        const char* name;
        std::vector<double> us;
    };
    std::vector<Hop> hops = {{"user -> ioctl entry", {}},
                             {"ioctl entry -> pushed to the scheduler", {}},
                             {"pushed -> scheduler run_job", {}},
                             {"run_job -> doorbell", {}},
                             {"doorbell -> firmware pickup", {}},
                             {"firmware pickup -> completion write", {}},
                             {"completion write -> IRQ handler", {}},
                             {"IRQ handler -> fence signal", {}},
                             {"fence signal -> waiter wakes", {}},
                             {"waiter wakes -> back in userspace", {}}};
    for (const Trip& t : trips) {
        uint64_t prev = t.user.before_submit;
        for (size_t h = 0; h < kHops.size(); ++h) {
            hops[h].us.push_back((static_cast<double>(t.hop[h]) - static_cast<double>(prev)) / 1e3);
            prev = t.hop[h];
        }
        hops.back().us.push_back(
            (static_cast<double>(t.user.after_wait) - static_cast<double>(prev)) / 1e3);
    }
    Result result{.name = "launch_breakdown",
                  .unit = "us",
                  .measured = {"submit_wait_round_trip", median(total)},
                  .baseline = std::nullopt,
                  .meaning = "an empty job through SUBMIT + WAIT over the raw device round trip, "
                             "hop by hop below (medians)"};
    result.details["submit_ioctl_us"] = median(submit_ioctl);
    result.details["jobs_with_hops"] = trips.size();
    if (!trips.empty()) {
        nlohmann::json table = nlohmann::json::array();
        double sum = 0;
        for (const Hop& h : hops) {
            const double m = median(h.us);
            sum += m;
            table.push_back({{"hop", h.name}, {"median_us", m}});
        }
        result.details["hops"] = table;
        result.details["sum_of_medians_us"] = sum;
        // how far the device-clock hops may be off (half of it either way)
        result.details["clock_window_us"] = median(windows_us);
    } else {
        result.details["hops_missing"] =
            hops_read ? "no job was alone on its queue"
                      : debugfs_path(device, "hops") + " unreadable (needs root and debugfs)";
    }
    std::string why;
    if (auto raw = raw_round_trip_us(device, &why))
        result.baseline = Figure{"raw_round_trip", *raw};
    else
        result.baseline_missing = why;
    return result;
}

} // namespace npu::bench
