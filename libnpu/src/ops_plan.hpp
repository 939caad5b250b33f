// What a Plan holds: the operation's packets encoded once with zero
// addresses, where each address goes, and each operand's byte range.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "npu/ops.hpp"

namespace npu::ops::detail {

inline constexpr size_t max_slots = 6; // norm: x, scale, bias, mean, var, y

struct Operand {
    bool present = false;
    bool empty = false; // no element: reaches no memory
    uint32_t esize = 0; // bytes per element
    int64_t lo = 0;     // bytes reached, relative to element [0, ...]: [lo, hi)
    int64_t hi = 0;
};

// An address field of one packet: operand slot's pointer + delta bytes.
struct Patch {
    uint32_t offset; // byte offset of the u64 field in commands
    uint32_t slot;
    int64_t delta;
};

struct PlanData {
    OpKind kind = OpKind::unary;
    size_t slots = 0;
    std::array<Operand, max_slots> operands{};
    std::vector<std::byte> commands;   // packets, addresses zero
    std::vector<Patch> patches;        // in commands order
    std::vector<uint32_t> packet_ends; // byte offset after each packet
};

// Validates and encodes (ops_encode.cpp); throws Error(EINVAL / ENOTSUP).
void build_plan(PlanData& plan, const DeviceOps& caps, const OpDesc& op,
                std::span<const TensorDesc> tensors);

} // namespace npu::ops::detail
