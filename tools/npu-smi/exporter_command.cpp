// npu-smi exporter: Prometheus text format (version 0.0.4) on GET /metrics,
// served by cpp-httplib with two worker threads until SIGINT/SIGTERM or
// --max-requests. Metric names are listed in docs/npu-smi.md.
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "command.hpp"
#include "npu/error.hpp"
#include "report.hpp"

namespace npu::smi {

namespace {

std::string label_value(const std::string& text) {
    std::string escaped;
    for (char c : text) {
        if (c == '\\' || c == '"')
            escaped += '\\';
        escaped += c == '\n' ? 'n' : c;
    }
    return escaped;
}

struct Metric {
    const char* name;
    const char* type;
    const char* help;
    std::optional<double> (*get)(const DeviceSnapshot&);
};

std::optional<double> as_double(const std::optional<uint64_t>& v) {
    return v ? std::optional(static_cast<double>(*v)) : std::nullopt;
}

const Metric kMetrics[] = {
    {"npu_up", "gauge", "1 if the device is bound and its firmware is running",
     [](const DeviceSnapshot& d) {
         return std::optional(d.telemetry.state == "ready" ? 1.0 : 0.0);
     }},
    {"npu_temperature_celsius", "gauge", "Die temperature",
     [](const DeviceSnapshot& d) { return d.telemetry.temperature_c; }},
    {"npu_power_watts", "gauge", "Board power",
     [](const DeviceSnapshot& d) { return d.telemetry.power_w; }},
    {"npu_utilization_ratio", "gauge", "Busy time over the time since the previous scrape (0-1)",
     [](const DeviceSnapshot& d) {
         return d.telemetry.utilization_percent
                    ? std::optional(*d.telemetry.utilization_percent / 100.0)
                    : std::nullopt;
     }},
    {"npu_memory_used_bytes", "gauge", "Bytes of buffer objects alive",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.memory_used_bytes); }},
    {"npu_memory_total_bytes", "gauge", "Device memory",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.memory_total_bytes); }},
    {"npu_busy_seconds_total", "counter", "Time spent executing jobs since firmware boot",
     [](const DeviceSnapshot& d) {
         return d.telemetry.busy_time_us ? std::optional(*d.telemetry.busy_time_us / 1e6)
                                         : std::nullopt;
     }},
    {"npu_jobs_completed_total", "counter", "Jobs completed since firmware boot",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.jobs_completed); }},
    {"npu_ops_completed_total", "counter",
     "Operation packets (GEMM ... CAST) completed since firmware boot",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.ops_completed); }},
    {"npu_engines", "gauge", "Tensor engines",
     [](const DeviceSnapshot& d) {
         return d.telemetry.engine_count ? std::optional(double(*d.telemetry.engine_count))
                                         : std::nullopt;
     }},
    {"npu_resets_total", "counter", "Recoveries since the driver probed the device",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.reset_count); }},
    {"npu_contexts", "gauge", "Open device files",
     [](const DeviceSnapshot& d) { return as_double(d.telemetry.contexts); }},
    {"npu_processes", "gauge", "Processes holding the device node (those visible to the exporter)",
     [](const DeviceSnapshot& d) {
         return std::optional(static_cast<double>(d.processes.size()));
     }},
};

// Per-engine metrics: one sample per engine, labelled engine="N".
struct EngineMetric {
    const char* name;
    const char* type;
    const char* help;
    std::optional<double> (*get)(const mgmt::EngineTelemetry&);
};

const EngineMetric kEngineMetrics[] = {
    {"npu_engine_utilization_ratio", "gauge",
     "Busy time of the tensor engine over the time since the previous scrape (0-1)",
     [](const mgmt::EngineTelemetry& e) {
         return e.utilization_percent ? std::optional(*e.utilization_percent / 100.0)
                                      : std::nullopt;
     }},
    {"npu_engine_busy_seconds_total", "counter",
     "Time the tensor engine spent executing tasks since power-on",
     [](const mgmt::EngineTelemetry& e) {
         return e.busy_ns ? std::optional(static_cast<double>(*e.busy_ns) / 1e9) : std::nullopt;
     }},
    {"npu_engine_tasks_total", "counter",
     "Tasks (tiles of operations) the tensor engine completed since power-on",
     [](const mgmt::EngineTelemetry& e) { return as_double(e.tasks_done); }},
    {"npu_engine_busy", "gauge", "1 while the tensor engine runs a task",
     [](const mgmt::EngineTelemetry& e) {
         return e.state ? std::optional(*e.state == "busy" ? 1.0 : 0.0) : std::nullopt;
     }},
};

// Per-process metrics (fdinfo and debugfs, docs/npu-smi.md), labelled with
// the process and, where it runs in one, its Slurm job.
struct ProcessMetric {
    const char* name;
    const char* type;
    const char* help;
    std::optional<double> (*get)(const mgmt::Process&);
};

const ProcessMetric kProcessMetrics[] = {
    {"npu_process_memory_bytes", "gauge", "Bytes of buffer objects the process holds on the device",
     [](const mgmt::Process& p) { return as_double(p.memory_bytes); }},
    {"npu_process_busy_seconds_total", "counter", "Device time of the process's jobs",
     [](const mgmt::Process& p) {
         return p.busy_ns ? std::optional(static_cast<double>(*p.busy_ns) / 1e9) : std::nullopt;
     }},
    {"npu_process_jobs_submitted_total", "counter", "Jobs the process submitted to the device",
     [](const mgmt::Process& p) { return as_double(p.jobs_submitted); }},
    {"npu_process_jobs_completed_total", "counter", "Jobs of the process the device completed",
     [](const mgmt::Process& p) { return as_double(p.jobs_completed); }},
    {"npu_process_jobs_failed_total", "counter", "Jobs of the process that failed",
     [](const mgmt::Process& p) { return as_double(p.jobs_failed); }},
};

} // namespace

std::string prometheus_text(mgmt::System& system) {
    const auto devices = snapshot(system, system.devices());
    std::string text;
    auto labels = [](const DeviceSnapshot& d) {
        return fmt::format("device=\"{}\",pci_address=\"{}\",uuid=\"{}\"", d.identity.index,
                           d.identity.pci_address, label_value(d.identity.uuid.value_or("")));
    };
    text += "# HELP npu_info Identity of each NPU; the value is always 1\n# TYPE npu_info gauge\n";
    for (const auto& d : devices)
        text += fmt::format(
            "npu_info{{{},serial=\"{}\",firmware_version=\"{}\",driver_version=\"{}\","
            "state=\"{}\"}} 1\n",
            labels(d), label_value(d.identity.serial.value_or("")),
            label_value(d.identity.firmware_version.value_or("")),
            label_value(d.identity.driver_version.value_or("")), label_value(d.telemetry.state));
    for (const auto& m : kMetrics) {
        text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
        for (const auto& d : devices)
            if (const auto value = m.get(d))
                text += fmt::format("{}{{{}}} {}\n", m.name, labels(d), *value);
    }
    for (const auto& m : kEngineMetrics) {
        text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
        for (const auto& d : devices)
            for (const auto& e : d.telemetry.engines)
                if (const auto value = m.get(e))
                    text += fmt::format("{}{{{},engine=\"{}\"}} {}\n", m.name, labels(d), e.index,
                                        *value);
    }
    // Which Slurm jobs use which device: join on slurm_job in queries.
    text += "# HELP npu_slurm_job A Slurm job has processes on the device; the value is always "
            "1\n# TYPE npu_slurm_job gauge\n";
    for (const auto& d : devices) {
        std::set<std::string> jobs;
        for (const auto& p : d.processes)
            if (p.slurm_job_id && jobs.insert(*p.slurm_job_id).second)
                text += fmt::format("npu_slurm_job{{{},slurm_job=\"{}\"}} 1\n", labels(d),
                                    label_value(*p.slurm_job_id));
    }
    for (const auto& m : kProcessMetrics) {
        text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
        for (const auto& d : devices)
            for (const auto& p : d.processes)
                if (const auto value = m.get(p))
                    text += fmt::format("{}{{{},pid=\"{}\",comm=\"{}\",slurm_job=\"{}\"}} {}\n",
                                        m.name, labels(d), p.pid, label_value(p.name),
                                        label_value(p.slurm_job_id.value_or("")), *value);
    }
    return text;
}

int run_exporter(Run& run) {
    const auto colon = run.options.listen.rfind(':');
    if (colon == std::string::npos)
        throw std::invalid_argument("--listen takes ADDRESS:PORT");
    const std::string host = run.options.listen.substr(0, colon);
    const int port = std::stoi(run.options.listen.substr(colon + 1));

    httplib::Server server;
    server.new_task_queue = [] { return new httplib::ThreadPool(2); };
    std::mutex mutex; // protects run.system (its busy-time samples) and served
    std::condition_variable changed;
    unsigned served = 0;
    bool done = false;
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& response) {
        std::lock_guard lock(mutex);
        response.set_content(prometheus_text(run.system), "text/plain; version=0.0.4");
        ++served;
        changed.notify_all();
    });
    server.Get("/", [&](const httplib::Request&, httplib::Response& response) {
        response.set_content("npu-smi exporter: metrics at /metrics\n", "text/plain");
    });

    const int bound =
        port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound < 0)
        throw Error(EADDRINUSE, "listen on " + run.options.listen);
    run.context.err << fmt::format("npu-smi exporter: serving http://{}:{}/metrics\n", host, bound);
    run.context.err.flush();

    // Stops the server on a signal or after --max-requests (with a moment
    // for the last response to be written).
    std::thread watcher([&] {
        std::unique_lock lock(mutex);
        while (!done) {
            if (run.stopping() ||
                (run.options.max_requests && served >= run.options.max_requests)) {
                lock.unlock();
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                server.stop();
                return;
            }
            changed.wait_for(lock, std::chrono::milliseconds(100));
        }
    });
    const bool ok = server.listen_after_bind();
    {
        std::lock_guard lock(mutex);
        done = true;
        changed.notify_all();
    }
    watcher.join();
    run.context.err << fmt::format("npu-smi exporter: stopped after {} scrapes\n", served);
    return ok || served > 0 || run.stopping() ? 0 : 1;
}

} // namespace npu::smi
