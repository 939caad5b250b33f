// Stream::memcpy / memset / memset32 / memcpy_2d: pointer-addressed copies
// and fills in stream order (stream.hpp, memory.hpp).
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "address_map.hpp"
#include "bo_storage.hpp"
#include "graph_state.hpp"
#include "memory_access.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"
#include "pool_state.hpp"
#include "stream_impl.hpp"
#include "time.hpp"

namespace npu {

namespace {

using detail::BoStorage;
using detail::StreamImpl;

// Host staging is cut into pieces of at most this many bytes.
constexpr size_t kStagePiece = size_t{4} << 20;

template <typename Packet>
void encode(std::byte* where, const Packet& packet) {
    static_assert(sizeof(Packet) % 8 == 0, "packets are multiples of 8 bytes");
    std::memcpy(where, &packet, sizeof(packet));
}

uint64_t addr_of(const void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

// Where a range lives for the stream's device: a buffer object the device
// reaches (its own, or another device's bound here), or pageable host
// memory (bo == nullptr).
std::shared_ptr<BoStorage> resolve(StreamImpl& s, const void* p, size_t bytes, const char* what) {
    const uint64_t addr = addr_of(p);
    if (auto hit = s.device->addresses.find(addr, bytes); hit.bo)
        return hit.bo;
    if (auto hit = detail::process_addresses().find(addr, bytes); hit.bo)
        return hit.bo->peer(s.device); // another device's memory: bind it here
    if (detail::process_addresses().find(addr, 1).bo || s.device->addresses.find(addr, 1).bo)
        throw Error(EINVAL, std::string(what) + ": range of " + std::to_string(bytes) +
                                " bytes crosses the end of its allocation");
    if (!p)
        throw Error(EINVAL, std::string(what) + ": null pointer");
    return nullptr;
}

void encode_copy(StreamImpl& s, uint64_t dst, const BoStorage* dst_bo, uint64_t src,
                 const BoStorage* src_bo, size_t bytes) {
    npu_pkt_copy packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS);
    packet.src = src;
    packet.dst = dst;
    packet.size = bytes;
    const std::array<const BoStorage*, 2> bos{src_bo, dst_bo};
    encode(s.reserve(sizeof(packet),
                     std::span<const BoStorage* const>(bos.data(), src_bo == dst_bo ? 1 : 2)),
           packet);
}

void encode_fill(StreamImpl& s, uint64_t dst, const BoStorage* bo, uint32_t value, size_t bytes) {
    npu_pkt_fill packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS);
    packet.value = value;
    packet.dst = dst;
    packet.size = bytes;
    const BoStorage* bos[1] = {bo};
    encode(s.reserve(sizeof(packet), std::span<const BoStorage* const>(bos, 1)), packet);
}

// An idle block for staging the device writes (device -> host: the
// device's default pool); the caller returns it by destroying it.
Buffer stage(StreamImpl& s, size_t bytes) {
    if (!s.staging)
        s.staging = detail::MemoryAccess::device(s.device).default_pool();
    const auto& pool = detail::MemoryAccess::pool(*s.staging);
    return pool->allocate(bytes, nullptr, pool);
}

// An idle block for staging the CPU writes and the device reads (host ->
// device): from the upload pool, whose chunks the driver never syncs back
// over what the CPU writes (pool_state.hpp). The caller hands it over with
// staged_for_device and returns it with release_staging (stream-ordered).
Buffer stage_upload(StreamImpl& s, size_t bytes) {
    if (!s.upload)
        s.upload = detail::upload_pool(s.device);
    return s.upload->allocate(bytes, nullptr, s.upload);
}

// The CPU wrote bytes at the start of block: hand them to the device
// (bounce buffers). Another job may use the same pool chunk meanwhile,
// so the job boundary's sync of the chunk cannot be relied on.
void staged_for_device(StreamImpl& s, const Buffer& block, size_t bytes) {
    const auto& bo = detail::MemoryAccess::bo(block);
    s.device->api.bo_sync(bo->handle, DRM_NPU_BO_SYNC_TO_DEVICE,
                          block.device_addr() - bo->device_addr, bytes);
}

void release_staging(StreamImpl& s, Buffer& block) {
    detail::MemoryAccess::release_after(block, s.timeline, s.promise_point());
}

void check_overlap(uint64_t dst, uint64_t src, size_t span, const char* what) {
    if (dst < src + span && src < dst + span)
        throw Error(EINVAL, std::string(what) + ": source and destination overlap");
}

// A host step in stream order (a copy out of staging); never captured.
void host_function(StreamImpl& s, std::function<void()> fn) {
    detail::capture_reject(s, "a copy to or from pageable host memory");
    detail::launch_host_locked(s, std::move(fn));
}

// A device -> pageable host copy: the device COPYs into staging blocks,
// then the calling thread waits until the stream reached them and copies
// out (synchronous for pageable memory, as in CUDA; no host callback).
struct Download {
    struct Piece {
        Buffer block;    // staging the device writes
        size_t from = 0; // offset in block
        std::byte* to = nullptr;
        size_t bytes = 0;
        size_t rows = 1, to_pitch = 0; // memcpy_2d: rows of `bytes`, packed in block
    };
    std::vector<Piece> pieces;
    uint64_t point = 0; // the job holding the last COPY
};

// With the stream's mutex held, after the COPYs: submits them now.
void download_submit(StreamImpl& s, Download& d) {
    if (d.pieces.empty())
        return;
    s.flush();
    d.point = s.timeline->submitted.load();
}

// Without the stream's mutex: waits for the COPYs (no deadline: the
// driver's job timeout ends a hung job), reports a failed job, copies out.
void download_finish(StreamImpl& s, Download& d) {
    if (d.pieces.empty())
        return;
    try {
        while (!s.timeline->wait(d.point, detail::deadline_after(std::chrono::milliseconds(100)))) {
        }
    } catch (...) { // device lost: the blocks go back once the job is done
        for (auto& piece : d.pieces)
            detail::MemoryAccess::release_after(piece.block, s.timeline, d.point);
        throw;
    }
    {
        std::lock_guard lock(s.mutex);
        s.reap(d.point, 0);
        s.rethrow_failure(); // the COPYs' job, or earlier work, failed
    }
    // The job's completion synced the blocks for the CPU (docs/driver.md,
    // "DMA"); nothing writes them any more.
    for (auto& piece : d.pieces) {
        const auto* in = static_cast<const std::byte*>(piece.block.host_ptr()) + piece.from;
        for (size_t r = 0; r < piece.rows; ++r)
            std::memcpy(piece.to + r * piece.to_pitch, in + r * piece.bytes, piece.bytes);
    }
}

void memcpy_locked(StreamImpl& s, void* dst, const void* src, size_t bytes, Download& download);
void memcpy_2d_locked(StreamImpl& s, void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                      size_t width, size_t height, Download& download);

} // namespace

void Stream::memcpy(void* dst, const void* src, size_t bytes) {
    StreamImpl& s = detail::MemoryAccess::impl(*this);
    Download download;
    {
        const StreamImpl::Enqueue guard(s); // the flusher never sees a half-written packet
        memcpy_locked(s, dst, src, bytes, download);
    }
    download_finish(s, download);
}

namespace {

void memcpy_locked(StreamImpl& s, void* dst, const void* src, size_t bytes, Download& download) {
    if (bytes == 0)
        return;
    s.check_alive("memcpy");
    auto dst_bo = resolve(s, dst, bytes, "memcpy destination");
    auto src_bo = resolve(s, src, bytes, "memcpy source");
    check_overlap(addr_of(dst), addr_of(src), bytes, "memcpy");
    if (dst_bo && src_bo) { // device-visible on both sides: one COPY
        encode_copy(s, dst_bo->device_address_of(dst), dst_bo.get(), src_bo->device_address_of(src),
                    src_bo.get(), bytes);
        return;
    }
    if (dst_bo) { // pageable host -> device: staged now, copied in order
        for (size_t done = 0; done < bytes;) {
            const size_t piece = std::min(bytes - done, kStagePiece);
            Buffer block = stage_upload(s, piece);
            std::memcpy(block.host_ptr(), static_cast<const std::byte*>(src) + done, piece);
            staged_for_device(s, block, piece);
            encode_copy(s, dst_bo->device_address_of(dst) + done, dst_bo.get(), block.device_addr(),
                        detail::MemoryAccess::bo(block).get(), piece);
            release_staging(s, block);
            done += piece;
        }
        return;
    }
    if (src_bo) { // device -> pageable host: COPY into staging, the caller copies out
        detail::capture_reject(s, "a copy to pageable host memory");
        s.check_stopped();
        for (size_t done = 0; done < bytes;) {
            const size_t piece = std::min(bytes - done, kStagePiece);
            Buffer block = stage(s, piece);
            encode_copy(s, block.device_addr(), detail::MemoryAccess::bo(block).get(),
                        src_bo->device_address_of(src) + done, src_bo.get(), piece);
            download.pieces.push_back(
                {std::move(block), 0, static_cast<std::byte*>(dst) + done, piece, 1, 0});
            done += piece;
        }
        download_submit(s, download);
        return;
    }
    // Host to host, in stream order.
    host_function(s, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
}

} // namespace

void Stream::memset(void* dst, int value, size_t bytes) {
    StreamImpl& s = detail::MemoryAccess::impl(*this);
    const StreamImpl::Enqueue guard(s); // the flusher never sees a half-written packet
    if (bytes == 0)
        return;
    s.check_alive("memset");
    auto bo = resolve(s, dst, bytes, "memset");
    if (!bo)
        throw Error(EINVAL, "memset: " + std::to_string(addr_of(dst)) +
                                " is not memory the device can reach (npu::malloc*, a Buffer)");
    const auto byte = static_cast<uint8_t>(value);
    const uint32_t word = byte * 0x01010101u;
    const uint64_t addr = bo->device_address_of(dst);
    // FILL writes whole aligned words: the unaligned head and tail bytes
    // are copied from a staging block holding the byte.
    const size_t head = std::min<size_t>(bytes, (4 - addr % 4) % 4);
    const size_t middle = (bytes - head) & ~size_t{3};
    const size_t tail = bytes - head - middle;
    if (middle)
        encode_fill(s, addr + head, bo.get(), word, middle);
    if (head || tail) {
        Buffer block = stage_upload(s, 8);
        std::memset(block.host_ptr(), byte, 8);
        staged_for_device(s, block, 8);
        const BoStorage* block_bo = detail::MemoryAccess::bo(block).get();
        if (head)
            encode_copy(s, addr, bo.get(), block.device_addr(), block_bo, head);
        if (tail)
            encode_copy(s, addr + head + middle, bo.get(), block.device_addr(), block_bo, tail);
        release_staging(s, block);
    }
}

void Stream::memset32(void* dst, uint32_t value, size_t count) {
    StreamImpl& s = detail::MemoryAccess::impl(*this);
    const StreamImpl::Enqueue guard(s); // the flusher never sees a half-written packet
    if (count == 0)
        return;
    if (addr_of(dst) % 4)
        throw Error(EINVAL, "memset32: destination not 4-byte aligned");
    if (count > SIZE_MAX / 4)
        throw Error(EINVAL, "memset32: count too large");
    s.check_alive("memset32");
    auto bo = resolve(s, dst, count * 4, "memset32");
    if (!bo)
        throw Error(EINVAL, "memset32: not memory the device can reach");
    encode_fill(s, bo->device_address_of(dst), bo.get(), value, count * 4);
}

void Stream::memcpy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                       size_t height) {
    StreamImpl& s = detail::MemoryAccess::impl(*this);
    if (dst_pitch == width && src_pitch == width && width && height && height <= SIZE_MAX / width) {
        memcpy(dst, src, width * height);
        return;
    }
    Download download;
    {
        const StreamImpl::Enqueue guard(s); // the flusher never sees a half-written packet
        memcpy_2d_locked(s, dst, dst_pitch, src, src_pitch, width, height, download);
    }
    download_finish(s, download);
}

namespace {

void memcpy_2d_locked(StreamImpl& s, void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                      size_t width, size_t height, Download& download) {
    if (width == 0 || height == 0)
        return;
    if (dst_pitch < width || src_pitch < width)
        throw Error(EINVAL, "memcpy_2d: pitch smaller than width");
    if (height - 1 > (SIZE_MAX - width) / std::max(dst_pitch, src_pitch))
        throw Error(EINVAL, "memcpy_2d: extent overflows");
    s.check_alive("memcpy_2d");
    const size_t dst_span = dst_pitch * (height - 1) + width;
    const size_t src_span = src_pitch * (height - 1) + width;
    auto dst_bo = resolve(s, dst, dst_span, "memcpy_2d destination");
    auto src_bo = resolve(s, src, src_span, "memcpy_2d source");
    if (addr_of(dst) < addr_of(src) + src_span && addr_of(src) < addr_of(dst) + dst_span)
        throw Error(EINVAL, "memcpy_2d: source and destination overlap");
    auto* out = static_cast<std::byte*>(dst);
    const auto* in = static_cast<const std::byte*>(src);
    if (dst_bo && src_bo) {
        for (size_t row = 0; row < height; ++row)
            encode_copy(s, dst_bo->device_address_of(out + row * dst_pitch), dst_bo.get(),
                        src_bo->device_address_of(in + row * src_pitch), src_bo.get(), width);
        return;
    }
    if (!dst_bo && !src_bo) {
        host_function(s, [=] {
            for (size_t row = 0; row < height; ++row)
                std::memcpy(out + row * dst_pitch, in + row * src_pitch, width);
        });
        return;
    }
    // One side pageable host: rows packed in a staging block, in pieces.
    const size_t rows_per_piece = std::max<size_t>(1, kStagePiece / width);
    for (size_t first = 0; first < height; first += rows_per_piece) {
        const size_t rows = std::min(rows_per_piece, height - first);
        if (dst_bo) {
            Buffer block = stage_upload(s, rows * width);
            auto* packed = static_cast<std::byte*>(block.host_ptr());
            for (size_t r = 0; r < rows; ++r)
                std::memcpy(packed + r * width, in + (first + r) * src_pitch, width);
            staged_for_device(s, block, rows * width);
            for (size_t r = 0; r < rows; ++r)
                encode_copy(s, dst_bo->device_address_of(out + (first + r) * dst_pitch),
                            dst_bo.get(), block.device_addr() + r * width,
                            detail::MemoryAccess::bo(block).get(), width);
            release_staging(s, block);
        } else {
            if (first == 0) {
                detail::capture_reject(s, "a copy to pageable host memory");
                s.check_stopped();
            }
            Buffer block = stage(s, rows * width);
            for (size_t r = 0; r < rows; ++r)
                encode_copy(
                    s, block.device_addr() + r * width, detail::MemoryAccess::bo(block).get(),
                    src_bo->device_address_of(in + (first + r) * src_pitch), src_bo.get(), width);
            download.pieces.push_back(
                {std::move(block), 0, out + first * dst_pitch, width, rows, dst_pitch});
        }
    }
    download_submit(s, download);
}

} // namespace

} // namespace npu
