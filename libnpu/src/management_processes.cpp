// npu::mgmt: which processes hold which device, from /proc/*/fd, with
// per-process memory and device time from the DRM fdinfo keys (any user
// may read them for its own processes) and job counts from debugfs
// `contexts` (root), which also gives the memory where fdinfo does not.
#include <algorithm>
#include <cctype>
#include <set>

#include "management_files.hpp"
#include "npu/management.hpp"

namespace npu::mgmt {

using namespace detail;

namespace {

struct ContextTotals {
    uint64_t bo_bytes = 0;
    uint64_t submitted = 0;
    uint64_t completed = 0;
    uint64_t failed = 0;
};

// debugfs contexts: "id pid comm bos bo_bytes submitted completed failed"
// after a header line; comm may not contain spaces (the kernel's comm can,
// so take the numbers from the end).
std::optional<std::map<int, ContextTotals>> read_contexts(const std::string& file) {
    const auto text = read_text(file);
    if (!text)
        return std::nullopt;
    std::map<int, ContextTotals> by_pid;
    for (const auto& words : split_lines(*text)) {
        if (words.size() < 8 || !all_digits(words[0]) || !all_digits(words[1]))
            continue;
        const size_t n = words.size();
        if (!all_digits(words[n - 4]) || !all_digits(words[n - 3]) || !all_digits(words[n - 2]) ||
            !all_digits(words[n - 1]))
            continue;
        auto& totals = by_pid[std::stoi(words[1])];
        totals.bo_bytes += std::stoull(words[n - 4]);
        totals.submitted += std::stoull(words[n - 3]);
        totals.completed += std::stoull(words[n - 2]);
        totals.failed += std::stoull(words[n - 1]);
    }
    return by_pid;
}

struct FdinfoUsage {
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> busy_ns;
};

// DRM client usage stats (Documentation/gpu/drm-usage-stats.rst):
// "drm-total-<region>: <n> [KiB|MiB]" per memory region (the older
// "drm-memory-<region>" where a driver has no drm-total-*) and
// "drm-engine-<class>: <n> ns" per engine class, summed. The client id
// dedupes fds sharing one context.
std::optional<FdinfoUsage> fdinfo_usage(const std::string& file, std::set<std::string>& clients) {
    const auto text = read_text(file);
    if (!text || text->find("drm-") == std::string::npos)
        return std::nullopt;
    std::optional<uint64_t> total, legacy, busy;
    std::string client;
    auto add = [](std::optional<uint64_t>& sum, uint64_t v) { sum = sum.value_or(0) + v; };
    for (const auto& words : split_lines(*text)) {
        if (words.size() < 2)
            continue;
        if (words[0] == "drm-client-id:")
            client = words[1];
        if (!all_digits(words[1]))
            continue;
        uint64_t value = std::stoull(words[1]);
        if (words[0].starts_with("drm-engine-") && !words[0].starts_with("drm-engine-capacity-")) {
            add(busy, value);
            continue;
        }
        if (words.size() > 2 && words[2] == "KiB")
            value <<= 10;
        else if (words.size() > 2 && words[2] == "MiB")
            value <<= 20;
        if (words[0].starts_with("drm-total-"))
            add(total, value);
        else if (words[0].starts_with("drm-memory-"))
            add(legacy, value);
    }
    if (!client.empty() && !clients.insert(client).second)
        return FdinfoUsage{uint64_t{0}, busy ? std::optional<uint64_t>(0) : std::nullopt};
    return FdinfoUsage{total ? total : legacy, busy};
}

// The Slurm job of a process: Slurm's cgroup plugins put every task in
// ".../job_<id>/step_<n>/..." (v1 and v2); without them, the job's
// environment says it.
std::optional<std::string> slurm_job_of(const std::string& pid_dir) {
    if (const auto cgroups = read_text(pid_dir + "/cgroup")) {
        const auto at = cgroups->find("/job_");
        if (at != std::string::npos) {
            const auto start = at + 5;
            auto end = start;
            while (end < cgroups->size() &&
                   std::isdigit(static_cast<unsigned char>((*cgroups)[end])))
                ++end;
            if (end > start)
                return cgroups->substr(start, end - start);
        }
    }
    if (const auto environ = read_text(pid_dir + "/environ")) {
        const std::string key = "SLURM_JOB_ID=";
        size_t start = 0;
        while (start < environ->size()) {
            size_t end = environ->find('\0', start);
            if (end == std::string::npos)
                end = environ->size();
            const std::string_view entry(environ->data() + start, end - start);
            if (entry.starts_with(key) && all_digits(entry.substr(key.size())))
                return std::string(entry.substr(key.size()));
            start = end + 1;
        }
    }
    return std::nullopt;
}

} // namespace

std::vector<Process> System::processes(const std::vector<DeviceIdentity>& devices) const {
    std::vector<Process> found;
    std::vector<std::optional<std::map<int, ContextTotals>>> contexts;
    for (const auto& device : devices)
        contexts.push_back(
            read_contexts(root_ + "/sys/kernel/debug/npu/" + device.pci_address + "/contexts"));

    const std::string proc = root_ + "/proc";
    std::vector<std::string> pids = list_dir(proc);
    pids.erase(std::remove_if(pids.begin(), pids.end(),
                              [](const std::string& p) { return !all_digits(p); }),
               pids.end());
    std::sort(pids.begin(), pids.end(), [](const std::string& a, const std::string& b) {
        return std::stoi(a) < std::stoi(b);
    });

    for (const auto& pid_text : pids) {
        const int pid = std::stoi(pid_text);
        const std::string fd_dir = proc + "/" + pid_text + "/fd";
        std::map<size_t, Process> per_device; // by position in devices
        std::map<size_t, std::set<std::string>> clients;
        for (const auto& fd : list_dir(fd_dir)) { // unreadable for other users' processes
            const auto target = read_link(fd_dir + "/" + fd);
            if (!target)
                continue;
            for (size_t i = 0; i < devices.size(); ++i) {
                if (devices[i].node.empty() || *target != devices[i].node)
                    continue;
                auto& p = per_device[i];
                p.pid = pid;
                p.device_index = devices[i].index;
                p.pci_address = devices[i].pci_address;
                ++p.fds;
                const auto usage =
                    fdinfo_usage(proc + "/" + pid_text + "/fdinfo/" + fd, clients[i]);
                if (usage && usage->memory_bytes)
                    p.memory_bytes = p.memory_bytes.value_or(0) + *usage->memory_bytes;
                if (usage && usage->busy_ns)
                    p.busy_ns = p.busy_ns.value_or(0) + *usage->busy_ns;
            }
        }
        if (per_device.empty())
            continue;
        const std::string name = read_text(proc + "/" + pid_text + "/comm").value_or("");
        const auto slurm_job = slurm_job_of(proc + "/" + pid_text);
        for (auto& [i, p] : per_device) {
            p.name = name;
            p.slurm_job_id = slurm_job;
            if (contexts[i]) { // debugfs knows the contexts this pid opened
                const auto it = contexts[i]->find(pid);
                const ContextTotals totals =
                    it != contexts[i]->end() ? it->second : ContextTotals{};
                if (!p.memory_bytes) // fdinfo, where the driver has it, comes first
                    p.memory_bytes = totals.bo_bytes;
                p.jobs_submitted = totals.submitted;
                p.jobs_completed = totals.completed;
                p.jobs_failed = totals.failed;
            }
            found.push_back(std::move(p));
        }
    }
    return found;
}

} // namespace npu::mgmt
