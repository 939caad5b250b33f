// Devices, streams, the allocator and the device guard of the PrivateUse1
// backend.
#include "common.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <deque>
#include <memory>
#include <mutex>

namespace npu_torch {
namespace {

struct DeviceSlot {
    std::once_flag opened;
    std::unique_ptr<npu::Device> device;
    std::mutex lock; // protects streams
    // Index = stream id; entries are never removed (a c10::Stream holds an id).
    std::deque<std::unique_ptr<npu::Stream>> streams;
    std::mutex stats_lock; // protects stats
    MemoryStats stats;
};

// Deliberately leaked: tensors may be freed during interpreter shutdown,
// after static destructors ran.
struct Registry {
    int count = -1;
    std::vector<std::unique_ptr<DeviceSlot>> slots;
};

Registry& registry() {
    static Registry* r = [] {
        auto* reg = new Registry;
        try {
            reg->count = static_cast<int>(npu::Device::enumerate().size());
        } catch (const std::exception&) {
            reg->count = 0;
        }
        for (int i = 0; i < reg->count; ++i)
            reg->slots.push_back(std::make_unique<DeviceSlot>());
        return reg;
    }();
    return *r;
}

DeviceSlot& slot(int index) {
    auto& r = registry();
    TORCH_CHECK(index >= 0 && index < r.count, "npu: no device ", index, " (", r.count,
                " present)");
    auto& s = *r.slots[index];
    std::call_once(s.opened, [&] {
        s.device = std::make_unique<npu::Device>(static_cast<unsigned>(index));
        s.streams.push_back(std::make_unique<npu::Stream>(*s.device));
    });
    return s;
}

thread_local int tls_device = 0;
thread_local std::vector<int64_t> tls_streams;

} // namespace

int device_count() { return registry().count; }
npu::Device& device(int index) { return *slot(index).device; }
int current_device() { return tls_device; }
void set_current_device(int index) {
    TORCH_CHECK(index >= 0 && index < device_count(), "npu: no device ", index);
    tls_device = index;
}

npu::Stream& stream(int dev, int64_t id) {
    auto& s = slot(dev);
    std::lock_guard g(s.lock);
    TORCH_CHECK(id >= 0 && id < static_cast<int64_t>(s.streams.size()), "npu: no stream ", id,
                " on device ", dev);
    return *s.streams[id];
}

int64_t new_stream(int dev, int priority) {
    auto& s = slot(dev);
    npu::StreamOptions opt;
    opt.priority = static_cast<npu::Priority>(priority);
    auto st = std::make_unique<npu::Stream>(*s.device, opt);
    std::lock_guard g(s.lock);
    s.streams.push_back(std::move(st));
    return static_cast<int64_t>(s.streams.size()) - 1;
}

int64_t current_stream_id(int dev) {
    if (dev < static_cast<int>(tls_streams.size()))
        return tls_streams[dev];
    return 0;
}

void set_current_stream_id(int dev, int64_t id) {
    (void)stream(dev, id); // validates
    if (dev >= static_cast<int>(tls_streams.size()))
        tls_streams.resize(dev + 1, 0);
    tls_streams[dev] = id;
}

void synchronize_device(int dev) {
    auto& s = slot(dev);
    std::vector<npu::Stream*> all;
    {
        std::lock_guard g(s.lock);
        for (auto& st : s.streams)
            all.push_back(st.get());
    }
    for (auto* st : all)
        st->synchronize();
}

MemoryStats memory_stats(int dev) {
    auto& s = slot(dev);
    std::lock_guard g(s.stats_lock);
    return s.stats;
}

void reset_peak(int dev) {
    auto& s = slot(dev);
    std::lock_guard g(s.stats_lock);
    s.stats.peak_allocated_bytes = s.stats.allocated_bytes;
}

void empty_cache(int dev) {
    synchronize_device(dev);
    device(dev).default_pool().trim();
}

namespace {

// ---------------------------------------------------------------- allocator
//
// Blocks of the device's default pool, allocated stream-ordered on the
// current stream and freed stream-ordered on the same stream: the block is
// reused only once the work enqueued on that stream before the free is
// done. A tensor used on another stream is protected by record_stream
// (recordDataPtrOnStream below).

struct Block {
    void* ptr;
    int dev;
    int64_t stream;
    size_t bytes;
};

void delete_block(void* ctx) {
    auto* b = static_cast<Block*>(ctx);
    npu::free_async(b->ptr, stream(b->dev, b->stream));
    {
        auto& s = slot(b->dev);
        std::lock_guard g(s.stats_lock);
        s.stats.allocated_bytes -= static_cast<int64_t>(b->bytes);
        s.stats.allocations -= 1;
        s.stats.total_frees += 1;
    }
    delete b;
}

class NpuAllocator final : public c10::Allocator {
public:
    c10::DataPtr allocate(size_t bytes) const override {
        int dev = current_device();
        c10::Device where(kNpu, static_cast<c10::DeviceIndex>(dev));
        if (bytes == 0)
            return {nullptr, where};
        int64_t sid = current_stream_id(dev);
        void* p = nullptr;
        try {
            p = npu::malloc_async(bytes, stream(dev, sid));
        } catch (const std::exception& e) {
            TORCH_CHECK(false, "npu: out of memory allocating ", bytes, " bytes on device ",
                        dev, ": ", e.what());
        }
        {
            auto& s = slot(dev);
            std::lock_guard g(s.stats_lock);
            s.stats.allocated_bytes += static_cast<int64_t>(bytes);
            s.stats.peak_allocated_bytes =
                std::max(s.stats.peak_allocated_bytes, s.stats.allocated_bytes);
            s.stats.allocations += 1;
            s.stats.total_allocations += 1;
        }
        return {p, new Block{p, dev, sid, bytes}, &delete_block, where};
    }
    c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
};

NpuAllocator the_allocator;

} // namespace
} // namespace npu_torch

REGISTER_ALLOCATOR(c10::DeviceType::PrivateUse1, &npu_torch::the_allocator);

namespace npu_torch {
namespace {

// ------------------------------------------------------------- device guard

struct NpuGuardImpl final : public c10::impl::DeviceGuardImplInterface {
    c10::DeviceType type() const override { return kNpu; }
    c10::Device exchangeDevice(c10::Device d) const override {
        auto old = getDevice();
        if (d.index() >= 0 && d.index() != old.index())
            set_current_device(d.index());
        return old;
    }
    c10::Device getDevice() const override {
        return {kNpu, static_cast<c10::DeviceIndex>(current_device())};
    }
    void setDevice(c10::Device d) const override {
        TORCH_CHECK(d.type() == kNpu, "npu guard: not a privateuseone device");
        if (d.index() >= 0)
            set_current_device(d.index());
    }
    void uncheckedSetDevice(c10::Device d) const noexcept override {
        if (d.index() >= 0 && d.index() < device_count())
            tls_device = d.index();
    }
    c10::Stream getStream(c10::Device d) const noexcept override {
        int dev = d.index() < 0 ? current_device() : d.index();
        return c10::Stream(c10::Stream::UNSAFE, c10::Device(kNpu, static_cast<c10::DeviceIndex>(dev)),
                           current_stream_id(dev));
    }
    c10::Stream getDefaultStream(c10::Device d) const override {
        return c10::Stream(c10::Stream::DEFAULT, d);
    }
    c10::Stream exchangeStream(c10::Stream s) const noexcept override {
        auto old = getStream(s.device());
        try {
            set_current_stream_id(s.device_index(), s.id());
        } catch (...) {
        }
        return old;
    }
    c10::DeviceIndex deviceCount() const noexcept override {
        return static_cast<c10::DeviceIndex>(device_count());
    }

    // Events: an npu::Event per c10 event slot, created on first record.
    void record(void** event, const c10::Stream& s, const c10::DeviceIndex device_index,
                const c10::EventFlag flag) const override {
        TORCH_CHECK(device_index == -1 || device_index == s.device_index(),
                    "npu: event recorded on a stream of another device");
        auto& st = stream(s.device_index(), s.id());
        if (*event == nullptr) {
            auto flags = flag == c10::EventFlag::PYTORCH_DEFAULT ||
                                 flag == c10::EventFlag::CUDA_EVENT_DISABLE_TIMING
                             ? npu::EventFlags::disable_timing
                             : npu::EventFlags::none;
            *event = new npu::Event(device(s.device_index()), flags);
        }
        st.record(*static_cast<npu::Event*>(*event));
    }
    void block(void* event, const c10::Stream& s) const override {
        if (event == nullptr)
            return;
        stream(s.device_index(), s.id()).wait(*static_cast<npu::Event*>(event));
    }
    bool queryEvent(void* event) const override {
        return event == nullptr || static_cast<npu::Event*>(event)->query();
    }
    void destroyEvent(void* event, const c10::DeviceIndex) const noexcept override {
        delete static_cast<npu::Event*>(event);
    }
    bool queryStream(const c10::Stream& s) const override {
        return stream(s.device_index(), s.id()).query();
    }
    void synchronizeStream(const c10::Stream& s) const override {
        stream(s.device_index(), s.id()).synchronize();
    }
    void recordDataPtrOnStream(const c10::DataPtr& data, const c10::Stream& s) const override {
        if (data.get() == nullptr || data.get_deleter() != &delete_block)
            return;
        npu::record_stream(data.get(), stream(s.device_index(), s.id()));
    }
};

} // namespace
} // namespace npu_torch

C10_REGISTER_GUARD_IMPL(PrivateUse1, npu_torch::NpuGuardImpl);
