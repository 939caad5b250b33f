#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <npu/device.hpp>
#include <npu/error.hpp>

#include "npu_onnx/compare.hpp"
#include "npu_onnx/runner.hpp"

namespace fs = std::filesystem;

namespace npu_onnx::cli {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++)
        r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
}

// Binds tensors to the model's fed inputs: by the tensor's name when it
// names an input, else by position.
std::map<std::string, HostTensor>
bind_inputs(const Model& model, std::vector<std::pair<std::string, HostTensor>> given) {
    std::map<std::string, HostTensor> bound;
    std::set<std::string> names;
    for (const auto& in : model.inputs())
        names.insert(in.name);
    size_t pos = 0;
    for (auto& [name, t] : given) {
        if (!name.empty() && names.count(name)) {
            bound[name] = std::move(t);
            continue;
        }
        while (pos < model.inputs().size() && bound.count(model.inputs()[pos].name))
            pos++;
        if (pos >= model.inputs().size())
            throw ModelError("more inputs given than the model has (" +
                             std::to_string(model.inputs().size()) + ")");
        bound[model.inputs()[pos++].name] = std::move(t);
    }
    return bound;
}

// ---- run ----------------------------------------------------------------

struct RunArgs {
    std::string model;
    std::vector<std::string> inputs;
    std::string output;
    unsigned device = 0;
    bool profile = false;
    bool json = false;
    bool npy = false;
};

int do_run(const RunArgs& a, std::ostream& out, std::ostream& err) {
    Model model = Model::load(a.model);
    std::vector<std::pair<std::string, HostTensor>> given;
    for (const auto& spec : a.inputs) {
        auto eq = spec.find('=');
        std::string name = eq == std::string::npos ? "" : spec.substr(0, eq);
        std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
        std::string pb_name;
        HostTensor t = read_tensor_file(file, &pb_name);
        given.emplace_back(name.empty() ? pb_name : name, std::move(t));
    }
    auto inputs = bind_inputs(model, std::move(given));
    for (const auto& in : model.inputs())
        if (!inputs.count(in.name))
            throw ModelError("input " + in.name + " not given (--input " + in.name + "=FILE)");
    npu::Device device(a.device);
    auto t0 = std::chrono::steady_clock::now();
    Session session = make_session(device, model, inputs);
    auto t1 = std::chrono::steady_clock::now();
    std::vector<HostTensor> outputs = session.run(inputs);
    auto t2 = std::chrono::steady_clock::now();
    std::vector<NodeTime> times;
    if (a.profile)
        times = session.profile(inputs);
    if (!a.output.empty()) {
        fs::create_directories(a.output);
        for (size_t i = 0; i < outputs.size(); i++)
            write_tensor_file(
                (fs::path(a.output) / fmt::format("output_{}.{}", i, a.npy ? "npy" : "pb"))
                    .string(),
                outputs[i], session.outputs()[i].name);
    }
    size_t on_device = 0;
    for (const auto& n : session.nodes())
        on_device += n.placement == Placement::device;
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    MemoryReport mem = session.memory();
    if (a.json) {
        nlohmann::json j;
        j["model"] = a.model;
        j["nodes"] = session.nodes().size();
        j["nodes_on_device"] = on_device;
        j["operations"] = session.operation_count();
        j["plan_ms"] = ms(t1 - t0);
        j["run_ms"] = ms(t2 - t1);
        j["memory"] = {{"arena_bytes", mem.arena_bytes},
                       {"unshared_bytes", mem.unshared_bytes},
                       {"constant_bytes", mem.constant_bytes}};
        for (size_t i = 0; i < outputs.size(); i++)
            j["outputs"].push_back({{"name", session.outputs()[i].name},
                                    {"dtype", npu::ops::dtype_name(outputs[i].dtype)},
                                    {"shape", outputs[i].shape}});
        for (const auto& n : session.nodes())
            j["placement"].push_back(
                {{"node", n.name},
                 {"op_type", n.op_type},
                 {"placement", n.placement == Placement::device ? "npu" : "host"},
                 {"operations", n.operations}});
        for (const auto& t : times)
            j["profile"].push_back({{"node", t.name},
                                    {"op_type", t.op_type},
                                    {"device_us", t.device_time.count() / 1e3}});
        out << j.dump(2) << "\n";
        return 0;
    }
    out << fmt::format("{}: {} nodes ({} on the NPU, {} on the host), {} device operations\n",
                       a.model, session.nodes().size(), on_device,
                       session.nodes().size() - on_device, session.operation_count());
    out << fmt::format("memory: arena {} bytes (without reuse {}), constants {} bytes\n",
                       mem.arena_bytes, mem.unshared_bytes, mem.constant_bytes);
    out << fmt::format("plan {:.1f} ms, first run {:.1f} ms\n", ms(t1 - t0), ms(t2 - t1));
    for (size_t i = 0; i < outputs.size(); i++)
        out << fmt::format("output {} {}: {}{}\n", i, session.outputs()[i].name,
                           npu::ops::dtype_name(outputs[i].dtype), shape_str(outputs[i].shape));
    if (a.profile) {
        out << "profile (device time per node):\n";
        double total = 0;
        for (const auto& t : times) {
            double us = static_cast<double>(t.device_time.count()) / 1e3;
            total += us;
            out << fmt::format("  {:>10.1f} us  {} ({})\n", us, t.name, t.op_type);
        }
        out << fmt::format("  {:>10.1f} us  total\n", total);
    }
    (void)err;
    return 0;
}

// ---- test ---------------------------------------------------------------

struct TestResult {
    std::string name; // dir/test
    bool passed = false;
    std::string reason;
    double worst = 0; // max abs error over outputs
    double seconds = 0;
};

struct TestCase {
    std::string name;
    fs::path dir;
};

std::vector<TestCase> collect(const std::vector<std::string>& dirs) {
    std::vector<TestCase> cases;
    for (const auto& d : dirs) {
        fs::path p(d);
        if (!fs::is_directory(p))
            throw ModelError(d + " is not a directory");
        p = fs::absolute(p).lexically_normal();
        if (p.filename().empty())
            p = p.parent_path();
        if (fs::exists(p / "model.onnx")) {
            cases.push_back({(p.parent_path().filename() / p.filename()).string(), p});
            continue;
        }
        std::vector<fs::path> subs;
        for (const auto& e : fs::directory_iterator(p))
            if (e.is_directory() && fs::exists(e.path() / "model.onnx"))
                subs.push_back(e.path());
        std::sort(subs.begin(), subs.end());
        for (const auto& s : subs)
            cases.push_back({(p.filename() / s.filename()).string(), s});
    }
    return cases;
}

std::vector<HostTensor> read_numbered(const fs::path& dir, const char* prefix,
                                      std::vector<std::string>* names) {
    std::vector<HostTensor> ts;
    for (size_t i = 0;; i++) {
        fs::path f = dir / fmt::format("{}_{}.pb", prefix, i);
        if (!fs::exists(f))
            break;
        std::string name;
        ts.push_back(read_tensor_file(f.string(), &name));
        if (names)
            names->push_back(name);
    }
    return ts;
}

TestResult run_test(const npu::Device& device, const TestCase& tc) {
    TestResult r;
    r.name = tc.name;
    auto start = std::chrono::steady_clock::now();
    try {
        Model model = Model::load((tc.dir / "model.onnx").string());
        std::vector<fs::path> sets;
        for (const auto& e : fs::directory_iterator(tc.dir))
            if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
                sets.push_back(e.path());
        std::sort(sets.begin(), sets.end());
        if (sets.empty())
            throw ModelError("no test_data_set_*");
        std::optional<Session> session;
        bool all_ok = true;
        for (const auto& set : sets) {
            std::vector<std::string> names;
            std::vector<HostTensor> ins = read_numbered(set, "input", &names);
            std::vector<std::pair<std::string, HostTensor>> given;
            for (size_t i = 0; i < ins.size(); i++)
                given.emplace_back(names[i], std::move(ins[i]));
            auto inputs = bind_inputs(model, std::move(given));
            if (!session || !session_fits(*session, inputs))
                session.emplace(make_session(device, model, inputs));
            std::vector<HostTensor> got = session->run(inputs);
            std::vector<HostTensor> expected;
            for (size_t i = 0;; i++) {
                fs::path f = set / fmt::format("output_{}.pb", i);
                if (!fs::exists(f))
                    break;
                expected.push_back(read_tensor_file(f.string()));
            }
            if (expected.size() != got.size())
                throw ModelError(
                    fmt::format("{} outputs, {} expected", got.size(), expected.size()));
            for (size_t k = 0; k < got.size(); k++) {
                Comparison c = compare(got[k], expected[k]);
                r.worst = std::max(r.worst, c.max_abs_error);
                if (!c.ok && all_ok) {
                    all_ok = false;
                    r.reason =
                        fmt::format("mismatch at output {} ({}) of {}: {} ({} elements differ)", k,
                                    session->outputs()[k].name, set.filename().string(), c.message,
                                    c.mismatches);
                }
            }
        }
        r.passed = all_ok;
    } catch (const UnsupportedError& e) {
        const auto& n = e.nodes.front();
        r.reason = fmt::format("unsupported node {} ({}): {}", n.name, n.op_type, n.reason);
        if (e.nodes.size() > 1)
            r.reason += fmt::format(" (+{} more)", e.nodes.size() - 1);
    } catch (const npu::Error& e) {
        r.reason = std::string("device error: ") + e.what();
    } catch (const std::exception& e) {
        r.reason = std::string("error: ") + e.what();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

std::string xml_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
        case '<':
            o += "&lt;";
            break;
        case '>':
            o += "&gt;";
            break;
        case '&':
            o += "&amp;";
            break;
        case '"':
            o += "&quot;";
            break;
        default:
            if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t')
                o += c;
        }
    }
    return o;
}

struct TestArgs {
    std::vector<std::string> dirs;
    unsigned device = 0;
    std::string junit;
    std::string expected;
    bool json = false;
};

int do_test(const TestArgs& a, std::ostream& out, std::ostream& err) {
    std::vector<std::string> expected_list;
    std::set<std::string> expected;
    if (!a.expected.empty()) {
        std::ifstream f(a.expected);
        if (!f) {
            err << "npu-onnx: cannot read " << a.expected << "\n";
            return 2;
        }
        std::string line;
        while (std::getline(f, line)) {
            auto hash = line.find('#');
            if (hash != std::string::npos)
                line.erase(hash);
            line.erase(0, line.find_first_not_of(" \t\r"));
            auto last = line.find_last_not_of(" \t\r");
            if (last == std::string::npos)
                continue;
            line.erase(last + 1);
            if (expected.insert(line).second)
                expected_list.push_back(line);
        }
    }
    std::vector<TestCase> cases = collect(a.dirs);
    npu::Device device(a.device);
    std::vector<TestResult> results;
    std::map<std::string, std::pair<int, int>> per_dir; // passed, total
    for (const auto& tc : cases) {
        TestResult r = run_test(device, tc);
        std::string dir = tc.name.substr(0, tc.name.find('/'));
        per_dir[dir].second++;
        per_dir[dir].first += r.passed;
        if (!a.json) {
            if (r.passed)
                out << fmt::format("PASS {} (worst abs error {:.3g})\n", r.name, r.worst);
            else
                out << fmt::format("FAIL {}: {}\n", r.name, r.reason);
            out.flush();
        }
        results.push_back(std::move(r));
    }
    std::map<std::string, const TestResult*> by_name;
    for (const auto& r : results)
        by_name[r.name] = &r;
    int failures = 0;
    std::vector<std::string> unexpected;
    if (!expected.empty()) {
        for (const auto& name : expected_list) {
            auto it = by_name.find(name);
            if (it == by_name.end() || !it->second->passed)
                failures++;
        }
        for (const auto& r : results)
            if (r.passed && !expected.count(r.name))
                unexpected.push_back(r.name);
    } else {
        for (const auto& r : results)
            failures += !r.passed;
    }
    if (!a.junit.empty()) {
        std::ofstream j(a.junit);
        size_t count = expected.empty() ? results.size() : expected_list.size();
        j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        j << fmt::format("<testsuite name=\"npu-onnx\" tests=\"{}\" failures=\"{}\">\n", count,
                         failures);
        auto one = [&](const std::string& name, const TestResult* r) {
            auto slash = name.find('/');
            j << fmt::format("  <testcase classname=\"onnx.{}\" name=\"{}\" time=\"{:.3f}\"",
                             xml_escape(name.substr(0, slash)), xml_escape(name.substr(slash + 1)),
                             r ? r->seconds : 0.0);
            if (r && r->passed) {
                j << "/>\n";
                return;
            }
            std::string why = r ? r->reason : "not found in the directories given";
            j << fmt::format(">\n    <failure message=\"{}\"/>\n  </testcase>\n", xml_escape(why));
        };
        if (expected.empty()) {
            for (const auto& r : results)
                one(r.name, &r);
        } else {
            for (const auto& name : expected_list) {
                auto it = by_name.find(name);
                one(name, it == by_name.end() ? nullptr : it->second);
            }
        }
        j << "</testsuite>\n";
        if (!j)
            err << "npu-onnx: cannot write " << a.junit << "\n";
    }
    if (a.json) {
        nlohmann::json j;
        for (const auto& r : results)
            j["tests"].push_back({{"name", r.name},
                                  {"passed", r.passed},
                                  {"reason", r.reason},
                                  {"worst_abs_error", r.worst},
                                  {"seconds", r.seconds}});
        for (const auto& [dir, c] : per_dir)
            j["summary"][dir] = {{"passed", c.first}, {"total", c.second}};
        if (!expected.empty()) {
            j["expected_failures"] = failures;
            j["unexpectedly_passing"] = unexpected;
        }
        out << j.dump(2) << "\n";
    } else {
        out << "summary (passed on the NPU / total):\n";
        int passed = 0, total = 0;
        for (const auto& [dir, c] : per_dir) {
            out << fmt::format("  {:<20} {:>4} / {}\n", dir, c.first, c.second);
            passed += c.first;
            total += c.second;
        }
        out << fmt::format("  {:<20} {:>4} / {}\n", "all", passed, total);
        if (!expected.empty()) {
            out << fmt::format("expected to pass: {}, failed: {}\n", expected_list.size(),
                               failures);
            for (const auto& name : expected_list) {
                auto it = by_name.find(name);
                if (it == by_name.end())
                    out << fmt::format("  REGRESSION {}: not found\n", name);
                else if (!it->second->passed)
                    out << fmt::format("  REGRESSION {}: {}\n", name, it->second->reason);
            }
            out << fmt::format("unexpectedly passing: {}\n", unexpected.size());
            for (const auto& n : unexpected)
                out << "  " << n << "\n";
        }
    }
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char** argv, std::ostream& out, std::ostream& err) {
    CLI::App app{"npu-onnx: run ONNX models on the NPU"};
    app.require_subcommand(1);
    RunArgs run;
    auto* r = app.add_subcommand("run", "run a model once");
    r->add_option("model", run.model, "MODEL.onnx")->required()->check(CLI::ExistingFile);
    r->add_option("-i,--input", run.inputs,
                  "NAME=FILE (.pb TensorProto or .npy); FILE alone binds by position");
    r->add_option("-o,--output", run.output, "directory for output_K.pb");
    r->add_option("-d,--device", run.device, "device index");
    r->add_flag("--profile", run.profile, "device time per node (events, no graph)");
    r->add_flag("--json", run.json, "machine-readable report");
    r->add_flag("--npy", run.npy, "write outputs as .npy");
    TestArgs test;
    auto* t = app.add_subcommand("test", "run ONNX-suite test directories");
    t->add_option("dirs", test.dirs, "test directories or their parents")->required();
    t->add_option("-d,--device", test.device, "device index");
    t->add_option("--junit", test.junit, "write JUnit XML here");
    t->add_option("--expected", test.expected, "tests expected to pass (one dir/test per line)");
    t->add_flag("--json", test.json, "machine-readable results");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e, out, err);
        return rc == 0 ? 0 : 2;
    }
    try {
        if (*r)
            return do_run(run, out, err);
        return do_test(test, out, err);
    } catch (const UnsupportedError& e) {
        err << "npu-onnx: the model has nodes the NPU cannot run:\n";
        for (const auto& n : e.nodes)
            err << fmt::format("  {} ({}): {}\n", n.name, n.op_type, n.reason);
        return 1;
    } catch (const std::exception& e) {
        err << "npu-onnx: " << e.what() << "\n";
        return 1;
    }
}

} // namespace npu_onnx::cli
