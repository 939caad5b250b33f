// Internal to planning operations (ops_encode*.cpp): the reasons, logical
// tensors, packet emission, iteration spaces and shared checks the per-kind
// builders use, and the builders themselves.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <npu/uapi/drm/npu_packet.h>

#include "ops_plan.hpp"

namespace npu::ops::detail {

inline constexpr uint64_t extent_max = std::numeric_limits<uint32_t>::max();
inline constexpr size_t packet_rank = NPU_MAX_RANK;

// ---- reasons ------------------------------------------------------------

struct Ctx {
    OpKind kind;
    const DeviceOps& caps;
};

[[noreturn]] void fail(const Ctx& c, int errnum, const std::string& why);
[[noreturn]] void invalid(const Ctx& c, const std::string& why);
[[noreturn]] void unsupported(const Ctx& c, const std::string& why);

std::string shape_str(const std::vector<uint64_t>& shape);

inline bool is_float(DType d) {
    return d == DType::f32 || d == DType::f16 || d == DType::bf16;
}
inline bool is_8bit(DType d) {
    return d == DType::i8 || d == DType::u8;
}
inline bool is_int(DType d) {
    return is_8bit(d) || d == DType::i32 || d == DType::i64;
}
inline bool finite(float f) {
    return std::isfinite(f);
}
inline uint32_t bits(float f) {
    return std::bit_cast<uint32_t>(f);
}

// ---- logical tensors ----------------------------------------------------

struct Tensor {
    const char* name = "";
    DType dtype = DType::none;
    std::vector<uint64_t> ext;
    std::vector<int64_t> str;
    [[nodiscard]] bool present() const { return dtype != DType::none; }
    [[nodiscard]] size_t rank() const { return ext.size(); }
    [[nodiscard]] bool empty() const { return std::find(ext.begin(), ext.end(), 0) != ext.end(); }
};

Tensor load(const Ctx& c, const char* name, const TensorDesc& d, bool optional);

// The bytes a tensor reaches relative to element [0, ...].
Operand operand_of(const Ctx& c, const Tensor& t);

// t with numpy broadcasting to shape (right-aligned; extent 1 repeats).
Tensor expand(const Ctx& c, const Tensor& t, const std::vector<uint64_t>& shape,
              const char* target);

void require_extents(const Ctx& c, const Tensor& t);

npu_tensor desc(const Tensor& t);

// ---- emitting packets -----------------------------------------------------

struct Field {
    npu_tensor* tensor;
    uint32_t slot;
    int64_t delta_elements;
};

template <typename Packet>
void emit(PlanData& plan, Packet& packet, std::initializer_list<Field> fields) {
    static_assert(sizeof(Packet) % 8 == 0);
    const auto base = static_cast<uint32_t>(plan.commands.size());
    for (const Field& f : fields) {
        if (!f.tensor->dtype)
            continue;
        const auto at = static_cast<uint32_t>(reinterpret_cast<const std::byte*>(&f.tensor->addr) -
                                              reinterpret_cast<const std::byte*>(&packet));
        const auto esize = static_cast<int64_t>(dtype_size(static_cast<DType>(f.tensor->dtype)));
        plan.patches.push_back({base + at, f.slot, f.delta_elements * esize});
    }
    const auto* bytes = reinterpret_cast<const std::byte*>(&packet);
    plan.commands.insert(plan.commands.end(), bytes, bytes + sizeof(Packet));
    plan.packet_ends.push_back(static_cast<uint32_t>(plan.commands.size()));
}

// ---- iteration spaces: coalescing and splitting ---------------------------

// One dimension shared by several operands. group 0 may be split off into
// a host loop (one packet per index or chunk); other groups (reduced or
// normalised dimensions) stay inside every packet. Operands in one_mask
// have extent 1 there (a reduction's y).
struct Dim {
    uint64_t ext = 1;
    int group = 0;
    uint32_t one_mask = 0;
    std::array<int64_t, max_slots> s{};
};

using PacketFn =
    std::function<void(const std::vector<Dim>&, const std::array<int64_t, max_slots>&)>;

void for_each_packet(const Ctx& c, std::vector<Dim> dims, uint32_t slots, size_t rank_limit,
                     const PacketFn& fn);

// The packet descriptor of operand slot over the kept dimensions.
npu_tensor desc_of(DType dtype, uint32_t slot, const std::vector<Dim>& dims);

// Dimensions of operands that all have shape (already expanded).
std::vector<Dim> elementwise_dims(const std::vector<uint64_t>& shape,
                                  std::initializer_list<std::pair<uint32_t, const Tensor*>> ts);

uint32_t slot_mask(std::initializer_list<std::pair<uint32_t, const Tensor*>> ts);

// ---- shared checks ----------------------------------------------------------

void check_act(const Ctx& c, const Activation& a, bool float_result, bool integer_acc);

bool zero_point_ok(int32_t z, DType d);

// GEMM and CONV operand types (docs/operations.md, the GEMM table).
void check_mm_types(const Ctx& c, const OpDesc& op, DType in0, DType in1, const Tensor& add,
                    DType out, bool scaled);

void require_defaults(const Ctx& c, const OpDesc& op, bool fn, bool flags, bool act, bool quant,
                      bool window, bool copy);

// ---- per kind (ops_encode_compute.cpp, ops_encode_elementwise.cpp) ---------

void build_gemm(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_conv(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_pool(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_unary_like(PlanData& plan, const Ctx& c, const OpDesc& op,
                      std::span<const TensorDesc> ts);
void build_copy_pad(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_binary(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_reduce(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_norm(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);
void build_gather(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts);

} // namespace npu::ops::detail
