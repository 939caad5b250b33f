// Building operation packets (uapi/drm/npu_packet.h, packet version 2) on
// the host: tensor descriptors, GEMM and CONV packets, the TIMESTAMP packet
// that brackets them for timing, and f32 <-> bf16 conversion. Header-only,
// no libnpu dependency: npu-bench, npu-smi validate and examples/gemm.cpp
// share it. Packets are plain structs; CommandList lays them out as the
// device reads them (8-byte words, in order).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

namespace npu::ops {

// Bytes per element of an NPU_DTYPE_*; 0 for NPU_DTYPE_NONE or unknown.
inline size_t dtype_size(uint32_t dtype) {
    switch (dtype) {
    case NPU_DTYPE_F32:
    case NPU_DTYPE_I32:
        return 4;
    case NPU_DTYPE_F16:
    case NPU_DTYPE_BF16:
        return 2;
    case NPU_DTYPE_I8:
    case NPU_DTYPE_U8:
    case NPU_DTYPE_BOOL:
        return 1;
    case NPU_DTYPE_I64:
        return 8;
    default:
        return 0;
    }
}

inline const char* dtype_name(uint32_t dtype) {
    static const char* const names[] = {"none", "f32", "f16", "bf16", "i8",
                                        "u8",   "i32", "i64", "bool"};
    return dtype <= NPU_DTYPE_LAST ? names[dtype] : "?";
}

// A row-major (C-contiguous) tensor of the given shape at device address addr.
inline npu_tensor dense_tensor(uint64_t addr, uint32_t dtype,
                               std::initializer_list<uint32_t> shape) {
    if (shape.size() > NPU_MAX_RANK)
        throw std::invalid_argument("tensor rank above NPU_MAX_RANK");
    npu_tensor t{};
    t.addr = addr;
    t.dtype = dtype;
    t.rank = static_cast<uint32_t>(shape.size());
    std::copy(shape.begin(), shape.end(), t.shape);
    int64_t stride = 1;
    for (int d = static_cast<int>(t.rank) - 1; d >= 0; --d) {
        t.stride[d] = stride;
        stride *= t.shape[d];
    }
    return t;
}

// A [rows, cols] view of a vector of cols elements repeated on every row
// (stride 0 along rows): a per-column bias as a GEMM's c operand.
inline npu_tensor row_broadcast(uint64_t addr, uint32_t dtype, uint32_t rows, uint32_t cols) {
    npu_tensor t = dense_tensor(addr, dtype, {rows, cols});
    t.stride[0] = 0;
    return t;
}

inline uint64_t element_count(const npu_tensor& t) {
    uint64_t count = 1;
    for (uint32_t d = 0; d < t.rank; ++d)
        count *= t.shape[d];
    return count;
}

// Bytes a dense tensor of this descriptor occupies.
inline uint64_t dense_bytes(const npu_tensor& t) {
    return element_count(t) * dtype_size(t.dtype);
}

inline uint32_t f32_bits(float value) {
    return std::bit_cast<uint32_t>(value);
}

// bfloat16 is the upper half of an f32: round to nearest even, keep NaNs NaN.
inline uint16_t bf16_from_f32(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    if (std::isnan(value))
        return static_cast<uint16_t>((bits >> 16) | 0x40); // quiet, never becomes inf
    const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

inline float f32_from_bf16(uint16_t value) {
    return std::bit_cast<float>(static_cast<uint32_t>(value) << 16);
}

// A fused activation without parameters (RELU, SIGMOID, ...).
inline npu_act activation(uint32_t fn) {
    return npu_act{fn, 0, 0, 0};
}

// y = act(alpha * (a x b) + beta * c); pass npu_tensor{} as c for none. For
// 8-bit operands with an I32 result, alpha and beta must stay 1 and quant
// holds the zero points (all zero here).
inline npu_pkt_gemm gemm_packet(const npu_tensor& a, const npu_tensor& b, const npu_tensor& c,
                                const npu_tensor& y, npu_act act = activation(NPU_FN_IDENTITY),
                                float alpha = 1.0f, float beta = 1.0f) {
    npu_pkt_gemm p{};
    p.header = NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS);
    p.alpha = f32_bits(alpha);
    p.beta = f32_bits(beta);
    p.act = act;
    p.a = a;
    p.b = b;
    p.c = c;
    p.y = y;
    return p;
}

// Output extent of a direct convolution along one spatial dimension.
inline uint32_t conv_output_extent(uint32_t in, uint32_t kernel, uint32_t stride, uint32_t pad,
                                   uint32_t dilation = 1) {
    const int64_t span = int64_t{in} + 2 * int64_t{pad} - int64_t{dilation} * (kernel - 1) - 1;
    if (span < 0 || stride == 0)
        throw std::invalid_argument("convolution window larger than the padded input");
    return static_cast<uint32_t>(span / stride + 1);
}

// A direct 2-D convolution, one group, no dilation, the same stride and
// padding on both sides of both spatial dimensions. x [N, C, H, W], w [OC,
// C, KH, KW], bias [OC] or npu_tensor{}, y [N, OC, OH, OW].
inline npu_pkt_conv conv2d_packet(const npu_tensor& x, const npu_tensor& w, const npu_tensor& bias,
                                  const npu_tensor& y, uint32_t stride, uint32_t pad,
                                  npu_act act = activation(NPU_FN_IDENTITY)) {
    npu_pkt_conv p{};
    p.header = NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_CONV_DWORDS);
    p.groups = 1;
    p.spatial = 2;
    for (int d = 0; d < 2; ++d) {
        p.stride[d] = stride;
        p.dilation[d] = 1;
        p.pad_begin[d] = pad;
        p.pad_end[d] = pad;
    }
    p.act = act;
    p.x = x;
    p.w = w;
    p.bias = bias;
    p.y = y;
    return p;
}

// Writes the device clock (u64 ns) to dst, an 8-byte aligned address.
inline npu_pkt_timestamp timestamp_packet(uint64_t dst) {
    npu_pkt_timestamp p{};
    p.header = NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS);
    p.dst = dst;
    return p;
}

// A command buffer's contents: packets back to back, each a multiple of 8
// bytes, as the device executes them.
class CommandList {
public:
    template <typename Packet>
    CommandList& add(const Packet& packet) {
        static_assert(sizeof(Packet) % 8 == 0, "packets are whole 8-byte words");
        const size_t at = words_.size();
        words_.resize(at + sizeof(Packet) / 8);
        std::memcpy(&words_[at], &packet, sizeof(Packet));
        return *this;
    }
    [[nodiscard]] const void* data() const noexcept { return words_.data(); }
    [[nodiscard]] size_t size_bytes() const noexcept { return words_.size() * 8; }

private:
    std::vector<uint64_t> words_;
};

} // namespace npu::ops
