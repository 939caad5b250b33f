#include "sdk_bench.hpp"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <utility>

#include <drm/npu_accel.h>

namespace npu::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The real OS, counting every call libnpu makes through it: syscalls per
// operation without strace.
class CountingOs final : public OsInterface {
public:
    explicit CountingOs(std::shared_ptr<OsInterface> real) : real_(std::move(real)) {}
    int open(const char* path, int flags) override { return count(real_->open(path, flags)); }
    int close(int fd) override { return count(real_->close(fd)); }
    int ioctl(int fd, unsigned long request, void* arg) override {
        return count(real_->ioctl(fd, request, arg));
    }
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) override {
        ++calls_;
        return real_->mmap(addr, length, prot, flags, fd, offset);
    }
    int munmap(void* addr, size_t length) override { return count(real_->munmap(addr, length)); }
    std::vector<DeviceNode> list_device_nodes() override { return real_->list_device_nodes(); }
    [[nodiscard]] uint64_t calls() const noexcept { return calls_.load(); }

private:
    int count(int result) {
        ++calls_;
        return result;
    }
    std::shared_ptr<OsInterface> real_;
    std::atomic<uint64_t> calls_{0};
};

// Runs fn on CPU 0 only (the figure is per core), restoring the mask.
template <typename Fn>
auto on_one_core(Fn&& fn) {
    cpu_set_t old_mask;
    const bool pinned = sched_getaffinity(0, sizeof(old_mask), &old_mask) == 0;
    if (pinned) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        sched_setaffinity(0, sizeof(one), &one);
    }
    auto result = fn();
    if (pinned)
        sched_setaffinity(0, sizeof(old_mask), &old_mask);
    return result;
}

template <typename Fn>
double per_second(unsigned n, Fn&& fn) {
    fn(); // warm-up
    const auto start = Clock::now();
    for (unsigned i = 0; i < n; ++i)
        fn();
    return n / std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

std::vector<Result> pool_benchmarks(const Device& shared_device, Stream&, const Options& opt) {
    constexpr size_t size = 64 << 10;
    // A context of its own, so that every syscall it makes is counted.
    auto os = std::make_shared<CountingOs>(default_os_interface());
    Device device(shared_device.info().index, os);
    Stream stream(device);
    MemoryPool pool = device.default_pool();
    auto warm_pair = [&] { pool.free_async(pool.allocate_async(size, stream), stream); };
    auto new_buffer = [&] { Buffer buffer(device, size); };
    const unsigned n = opt.iterations;

    const double pool_rate = on_one_core([&] { return per_second(n, warm_pair); });
    const double buffer_rate = on_one_core([&] { return per_second(n, new_buffer); });

    warm_pair();
    uint64_t before = os->calls();
    for (unsigned i = 0; i < n; ++i)
        warm_pair();
    const double pool_calls = static_cast<double>(os->calls() - before) / n;
    before = os->calls();
    for (unsigned i = 0; i < n; ++i)
        new_buffer();
    const double buffer_calls = static_cast<double>(os->calls() - before) / n;
    stream.synchronize();

    return {{.name = "pool_alloc",
             .unit = "us",
             .measured = {"warm_pool_pair", 1e6 / pool_rate},
             .baseline = Figure{"new_buffer", 1e6 / buffer_rate},
             .meaning = "cost of a pool block relative to a new buffer"},
            {.name = "pool_pairs_per_core",
             .unit = "pairs/s",
             .measured = {"warm_pool_pair", pool_rate},
             .baseline = Figure{"new_buffer", buffer_rate},
             .meaning = "allocate+free pairs per second on one core, pool over buffers"},
            {.name = "pool_syscalls",
             .unit = "syscalls",
             .measured = {"warm_pool_pair", pool_calls},
             .baseline = Figure{"new_buffer", buffer_calls},
             .meaning = "syscalls per warm pool allocation (goal 0) over a new buffer's"}};
}

std::vector<Result> event_benchmarks(const Device& device, Stream& stream, const Options& opt) {
    Event event(device);
    stream.synchronize();
    const double events = per_second(opt.iterations, [&] {
        stream.record(event);
        event.synchronize();
    });
    const double ioctls =
        per_second(opt.iterations, [&] { (void)device.param(DRM_NPU_PARAM_FW_VERSION); });
    return {{.name = "event_round_trip",
             .unit = "us",
             .measured = {"record_synchronize", 1e6 / events},
             .baseline = Figure{"get_param_ioctl", 1e6 / ioctls},
             .meaning = "ioctl round trips an event record + synchronize costs"}};
}

} // namespace npu::bench
