// Multi-process stress: several processes, each with three queues of
// different priorities, submit many FILL/COPY jobs over buffers of random
// sizes with random timeline dependencies among their own jobs. Every job
// must finish OK, every timeline point signal, and the buffers must hold
// what a sequential replay of the submissions predicts (jobs touching a
// BO are ordered through its reservation). Afterwards, with every process
// gone, the driver's object counts (debugfs counters) are back where they
// started: nothing leaked.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "npu_test.h"
#include "syncobj.h"

namespace npu_test
{
namespace
{

constexpr int kProcesses = 4;
constexpr int kQueues = 3;
constexpr int kDefaultJobsPerQueue = 500;

// NPU_STRESS_JOBS overrides the jobs per queue: the debug-kernel lane,
// where every kernel access is checked under TCG, runs fewer.
int JobsPerQueue()
{
	const char *env = std::getenv("NPU_STRESS_JOBS");
	int jobs = env ? std::atoi(env) : 0;
	return jobs > 0 ? jobs : kDefaultJobsPerQueue;
}
constexpr int kBos = 8;
constexpr uint32_t kMaxPages = 16;

// The objects debugfs "counters" must show back at their baseline.
const char *const kLeakCounters[] = {"contexts",       "vms",	"bos", "bo_bytes", "jobs",
				     "jobs_in_flight", "resets"};

std::map<std::string, int64_t> ReadCounters(const std::string &pci_bdf)
{
	std::ifstream in("/sys/kernel/debug/npu/" + pci_bdf + "/counters");
	std::map<std::string, int64_t> out;
	std::string name;
	int64_t value;
	while (in >> name >> value)
		out[name] = value;
	return out;
}

// Counters once they hold still for 100 ms (an earlier test's jobs may
// still be draining), or empty after timeout_ms.
std::map<std::string, int64_t> SettledCounters(const std::string &pci_bdf, int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	auto last = ReadCounters(pci_bdf);
	while (MonotonicNs() < deadline) {
		usleep(100000);
		auto now = ReadCounters(pci_bdf);
		if (now == last)
			return now;
		last = now;
	}
	return {};
}

std::string Format(const std::map<std::string, int64_t> &counters)
{
	std::ostringstream out;
	for (const auto &[name, value] : counters)
		out << name << " " << value << "\n";
	return out.str();
}

struct Buffer {
	std::unique_ptr<Bo> bo;
	std::vector<uint32_t> pages; // expected fill value of each page
};

// One process's workload; returns an error description, empty if all is well.
std::string RunWorker(const std::string &path, unsigned seed)
{
	std::mt19937 rng(seed);
	auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
	Session sess(std::make_unique<Device>(path));
	Device &dev = sess.dev();

	uint32_t queue_ids[kQueues] = {0, 0, 0};
	const uint32_t prios[kQueues] = {DRM_NPU_PRIORITY_NORMAL, DRM_NPU_PRIORITY_LOW,
					 DRM_NPU_PRIORITY_HIGH};
	for (int q = 1; q < kQueues; q++) {
		drm_npu_queue_create args{};
		args.priority = prios[q];
		if (int err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args))
			return std::string("QUEUE_CREATE: ") + std::strerror(err);
		queue_ids[q] = args.queue_id;
	}
	std::vector<std::unique_ptr<Syncobj>> timelines;
	uint64_t last_point[kQueues] = {};
	uint64_t last_seqno[kQueues] = {};
	for (int q = 0; q < kQueues; q++)
		timelines.push_back(std::make_unique<Syncobj>(dev));

	std::vector<Buffer> bufs(kBos);
	for (auto &b : bufs) {
		uint32_t pages = 1 + pick(kMaxPages);
		b.bo = std::make_unique<Bo>(dev, pages * kPageSize);
		b.pages.assign(pages, 0);
	}

	for (int n = 0; n < kQueues * JobsPerQueue(); n++) {
		int q = n % kQueues;
		Buffer &dst = bufs[pick(kBos)];
		Commands cmds;
		SubmitOptions opts;
		opts.queue_id = queue_ids[q];
		opts.extra_bos = {dst.bo->handle()};
		uint32_t value = (seed << 20) ^ static_cast<uint32_t>(n + 1);
		Buffer &src = bufs[pick(kBos)];
		if (pick(2) || &src == &dst) { // the device refuses overlapping copies
			uint32_t pages = 1 + pick(static_cast<uint32_t>(dst.pages.size()));
			cmds.Fill(dst.bo->addr(), value, pages * kPageSize);
			std::fill_n(dst.pages.begin(), pages, value);
		} else {
			opts.extra_bos.push_back(src.bo->handle());
			uint32_t max =
				static_cast<uint32_t>(std::min(src.pages.size(), dst.pages.size()));
			uint32_t pages = 1 + pick(max);
			cmds.Copy(src.bo->addr(), dst.bo->addr(), pages * kPageSize);
			std::copy_n(src.pages.begin(), pages, dst.pages.begin());
		}
		// a random dependency on an earlier job of any queue
		if (pick(3) == 0) {
			int dq = static_cast<int>(pick(kQueues));
			if (last_point[dq]) {
				opts.in_syncobjs = {timelines[dq]->handle()};
				opts.in_points = {1 + rng() % last_point[dq]};
			}
		}
		opts.out_syncobj = timelines[q]->handle();
		opts.out_point = ++last_point[q];
		try {
			last_seqno[q] = sess.Submit(cmds, opts);
		} catch (const std::exception &e) {
			return "job " + std::to_string(n) + ": " + e.what();
		}
		// check a job well inside the WAIT history now and then
		if (last_seqno[q] > 100 && n % 37 == 0) {
			WaitResult r = sess.Wait(last_seqno[q] - 100, 20000, queue_ids[q]);
			if (r.err || r.args.job_status != DRM_NPU_JOB_STATUS_OK)
				return "WAIT queue " + std::to_string(q) + " failed: err " +
				       std::to_string(r.err) + " status " +
				       JobStatusName(r.args.job_status);
		}
	}
	for (int q = 0; q < kQueues; q++) {
		WaitResult r = sess.Wait(last_seqno[q], 30000, queue_ids[q]);
		if (r.err || r.args.job_status != DRM_NPU_JOB_STATUS_OK)
			return "last job of queue " + std::to_string(q) + ": err " +
			       std::to_string(r.err) + " status " +
			       JobStatusName(r.args.job_status);
		if (int err = timelines[q]->WaitPoint(last_point[q], 10000))
			return "timeline " + std::to_string(q) + " point " +
			       std::to_string(last_point[q]) +
			       " did not signal: " + std::to_string(err);
		if (timelines[q]->Query() != last_point[q])
			return "timeline " + std::to_string(q) + " stopped at point " +
			       std::to_string(timelines[q]->Query());
	}
	for (int b = 0; b < kBos; b++) {
		Buffer &buf = bufs[b];
		for (size_t p = 0; p < buf.pages.size(); p++) {
			for (uint64_t off = 0; off < kPageSize; off += 4) {
				uint32_t got = buf.bo->ReadU32(p * kPageSize + off);
				if (got != buf.pages[p]) {
					char msg[160];
					std::snprintf(msg, sizeof(msg),
						      "bo %d page %zu +%llu: 0x%x, expected 0x%x",
						      b, p, static_cast<unsigned long long>(off),
						      got, buf.pages[p]);
					return msg;
				}
			}
		}
	}
	return {};
}

TEST(Stress, ProcessesQueuesAndRandomDependencies)
{
	auto nodes = FindNpuNodes();
	ASSERT_FALSE(nodes.empty());
	std::string path = nodes.front().dev_path;
	const std::string bdf = nodes.front().pci_bdf;
	auto before = SettledCounters(bdf, 10000);
	ASSERT_FALSE(before.empty()) << "debugfs counters unreadable or never settle";
	for (const char *name : kLeakCounters)
		ASSERT_TRUE(before.count(name)) << "counters lacks " << name << ":\n"
						<< Format(before);
	int64_t start = MonotonicNs();
	std::vector<pid_t> pids;
	for (int i = 0; i < kProcesses; i++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			std::string err;
			try {
				err = RunWorker(path, 1234u + static_cast<unsigned>(i));
			} catch (const std::exception &e) {
				err = e.what();
			}
			if (!err.empty())
				std::fprintf(stderr, "stress worker %d: %s\n", i, err.c_str());
			std::fflush(stderr);
			_exit(err.empty() ? 0 : 1);
		}
		pids.push_back(pid);
	}
	for (size_t i = 0; i < pids.size(); i++) {
		int status = 0;
		ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			<< "worker " << i << " failed (see its message above)";
	}
	std::printf("stress: %d processes x %d queues x %d jobs in %.1f s\n", kProcesses, kQueues,
		    JobsPerQueue(), (MonotonicNs() - start) / 1e9);

	// Every file is closed; the scheduler frees the last jobs shortly after.
	std::map<std::string, int64_t> after;
	int64_t deadline = DeadlineInMs(10000);
	auto at_baseline = [&] {
		after = ReadCounters(bdf);
		return std::all_of(std::begin(kLeakCounters), std::end(kLeakCounters),
				   [&](const char *name) { return after[name] == before[name]; });
	};
	while (!at_baseline() && MonotonicNs() < deadline)
		usleep(20000);
	for (const char *name : kLeakCounters)
		EXPECT_EQ(after[name], before[name]) << "counter " << name << " after the stress";
	EXPECT_EQ(after["jobs_in_flight"], 0);
}

} // namespace
} // namespace npu_test
