// Stream work on Views (buffer.hpp): a View carries device addresses, not a
// Buffer, so each range is resolved to its buffer object through the
// device's AddressMap when the work is enqueued.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "address_map.hpp"
#include "bo_storage.hpp"
#include "npu/error.hpp"
#include "npu/stream.hpp"
#include "stream_impl.hpp"

namespace npu {

namespace {

detail::StreamImpl& checked_stream(const std::unique_ptr<detail::StreamImpl>& impl,
                                   const char* what) {
    if (!impl)
        throw Error(EINVAL, std::string(what) + ": stream was moved from");
    return *impl;
}

std::string hex(uint64_t value) {
    char text[19];
    std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

std::shared_ptr<detail::BoStorage> resolve(const detail::StreamImpl& s, uint64_t addr, size_t bytes,
                                           const char* what) {
    auto hit = s.device->addresses.find(addr, bytes);
    if (!hit.bo)
        throw Error(EINVAL, std::string(what) + ": view [" + hex(addr) + ", +" +
                                std::to_string(bytes) +
                                ") is not inside a live buffer of the stream's device");
    return std::move(hit.bo);
}

template <typename Packet>
void encode(std::byte* where, const Packet& packet) {
    std::memcpy(where, &packet, sizeof(packet));
}

} // namespace

void Stream::fill_view(uint64_t dst, size_t bytes, uint32_t pattern) {
    detail::StreamImpl& s = checked_stream(impl_, "fill");
    if (dst % 4 != 0 || bytes % 4 != 0)
        throw Error(EINVAL, "fill: view address and size must be multiples of 4");
    if (bytes == 0)
        return;
    const auto bo = resolve(s, dst, bytes, "fill");
    const detail::BoStorage* const bos[] = {bo.get()};
    npu_pkt_fill packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS);
    packet.value = pattern;
    packet.dst = dst;
    packet.size = bytes;
    encode(s.reserve(sizeof(packet), bos), packet);
}

void Stream::copy_view(uint64_t src, size_t src_bytes, uint64_t dst, size_t dst_bytes) {
    detail::StreamImpl& s = checked_stream(impl_, "copy");
    if (src_bytes != dst_bytes)
        throw Error(EINVAL, "copy: source view has " + std::to_string(src_bytes) +
                                " bytes, destination view " + std::to_string(dst_bytes));
    if (src_bytes == 0)
        return;
    const auto from = resolve(s, src, src_bytes, "copy source");
    const auto to = resolve(s, dst, dst_bytes, "copy destination");
    if (src < dst + dst_bytes && dst < src + src_bytes)
        throw Error(EINVAL, "copy: source and destination overlap");
    const detail::BoStorage* const bos[] = {from.get(), to.get()};
    npu_pkt_copy packet{};
    packet.header = NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS);
    packet.src = src;
    packet.dst = dst;
    packet.size = src_bytes;
    encode(s.reserve(sizeof(packet), bos), packet);
}

} // namespace npu
