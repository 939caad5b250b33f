// The op API: the device's tensor operations (uapi/drm/npu_packet.h,
// docs/operations.md) planned once per set of tensor descriptors and
// launched with device pointers on a stream.
//
//   npu::ops::TensorDesc a = npu::ops::TensorDesc::contiguous(DType::f32, {64, 32});
//   ...
//   npu::ops::Plan plan(device, npu::ops::OpDesc::gemm(), {a, b, {}, y});
//   plan.launch(stream, {a_ptr, b_ptr, nullptr, y_ptr});
//
// A TensorDesc is dtype, shape and strides in elements (signed; 0
// broadcasts), no address. A Plan checks every rule the firmware checks
// (and what the device reports it runs: opcodes, dtypes, engine memory),
// then encodes the packets once; launch() only resolves each pointer's byte
// range to its buffer object, patches the addresses into a copy of the
// packets in the stream's command buffer and lists the buffer objects in
// the job: no allocation and no system call in the steady state.
//
// Beyond one packet's limits a plan splits the work: descriptors of any
// rank (up to max_rank) are first coalesced (neighbouring dimensions whose
// strides chain in every operand merge; extents of 1 drop), and dimensions
// still beyond the packet's six (four batch dimensions for GEMM) become a
// host loop of packets, each with its own address offsets. Non-contiguous
// operands need no copy: packets take strides directly. What cannot be
// split throws Error(ENOTSUP, reason) (an extent above 2^32 - 1 outside
// element-wise work, more than max_packets packets). A GEMM whose K does
// not fit an engine's local memory is split along K into packets that
// accumulate into y (the first adds beta * c, the others y itself with
// beta = 1, the activation on the last only); y must then be F32, I32 or
// I64 to carry the partial sums. What is malformed throws Error(EINVAL,
// reason). Plan::check() returns the reason without throwing.
//
// Operand order per kind (optional ones in brackets; pass an absent
// TensorDesc{} and a nullptr pointer to leave them out):
//   gemm         a, b, [c], y
//   conv         x, w, [bias], y
//   pool         x, y, [indices]
//   unary        x, y
//   binary       a, b, [cond] (select only), y
//   reduce       x, y
//   norm         x, [scale], [bias], [mean], [var], y
//   tensor_copy  x, y
//   gather       x, indices, y
//   cast         x, y
//
// Thread safety: a Plan is immutable after construction; launch() may be
// called from several threads at once on different streams.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <npu/uapi/drm/npu_packet.h> // NPU_FN_*, NPU_BIN_*, ... codes

#include "npu/device.hpp"
#include "npu/export.hpp"
#include "npu/stream.hpp"

namespace npu::ops {

// NPU_DTYPE_* values.
enum class DType : uint32_t {
    none = 0, // an absent optional operand
    f32 = 1,
    f16 = 2,
    bf16 = 3,
    i8 = 4,
    u8 = 5,
    i32 = 6,
    i64 = 7,
    boolean = 8,
};
// Bytes per element (0 for none); "f32", "bool", ...
[[nodiscard]] NPU_API size_t dtype_size(DType dtype) noexcept;
[[nodiscard]] NPU_API const char* dtype_name(DType dtype) noexcept;

// The operation kinds (opcode NPU_OP_GEMM + kind).
enum class OpKind : uint32_t {
    gemm = 0,
    conv = 1,
    pool = 2,
    unary = 3,
    binary = 4,
    reduce = 5,
    norm = 6,
    tensor_copy = 7,
    gather = 8,
    cast = 9,
};
[[nodiscard]] NPU_API const char* op_kind_name(OpKind kind) noexcept;

// Largest rank a TensorDesc may have (the packets take NPU_MAX_RANK = 6).
inline constexpr size_t max_rank = 16;
// Most packets one plan may encode.
inline constexpr size_t max_packets = 4096;

struct NPU_API TensorDesc {
    DType dtype = DType::none;
    std::vector<int64_t> shape;   // extents, each >= 0
    std::vector<int64_t> strides; // in elements; empty: row-major contiguous

    // Row-major contiguous.
    [[nodiscard]] static TensorDesc contiguous(DType dtype, std::vector<int64_t> shape);
    [[nodiscard]] static TensorDesc strided(DType dtype, std::vector<int64_t> shape,
                                            std::vector<int64_t> strides);
    [[nodiscard]] bool present() const noexcept { return dtype != DType::none; }
    [[nodiscard]] size_t rank() const noexcept { return shape.size(); }
    [[nodiscard]] uint64_t elements() const noexcept;
};

// An element-wise function (NPU_FN_*) with its parameters: UNARY's
// function, and the fused activation of GEMM and CONV.
struct Activation {
    uint32_t fn = 0; // NPU_FN_IDENTITY
    float alpha = 0;
    float beta = 0;
};

// 8-bit zero points and requantisation (struct npu_quant); all zero for
// float operands.
struct Quant {
    int32_t a_zero = 0;
    int32_t b_zero = 0;
    float y_scale = 0;
    int32_t y_zero = 0;
};

// What to compute. Fields a kind does not use must keep their defaults.
struct NPU_API OpDesc {
    OpKind kind = OpKind::unary;
    // pool: NPU_POOL_*; binary: NPU_BIN_*; reduce: NPU_RED_*; norm:
    // NPU_NORM_*; tensor_copy: NPU_COPY_*; gather: NPU_GATHER_*.
    uint32_t fn = 0;
    // conv: NPU_CONV_TRANSPOSED; reduce: NPU_RED_SELECT_LAST.
    uint32_t flags = 0;
    // gemm: y = act(alpha * (a x b) + beta * c).
    float alpha = 1;
    float beta = 1;
    // gemm, conv: fused activation; unary: the function itself.
    Activation act;
    Quant quant; // gemm, conv
    // reduce, norm: bit n = dimension n of the operands as given.
    uint64_t axes = 0;
    uint32_t axis = 0;     // gather
    float epsilon = 1e-5f; // norm NORMALIZE and BATCH
    // conv (groups, stride, dilation, pads) and pool (all): per spatial
    // dimension; spatial = x's rank - 2.
    uint32_t groups = 1;
    std::array<uint32_t, 3> kernel{}; // pool only
    std::array<uint32_t, 3> stride{1, 1, 1};
    std::array<uint32_t, 3> dilation{1, 1, 1};
    std::array<uint32_t, 3> pad_begin{};
    std::array<uint32_t, 3> pad_end{};
    uint32_t p = 0; // pool NPU_POOL_LP's order
    // tensor_copy: where x starts inside y per dimension (negative crops),
    // and the constant of NPU_COPY_PAD_CONSTANT as an element of y's dtype
    // (little-endian in the low bytes).
    std::vector<int64_t> copy_offset;
    uint64_t pad_value = 0;

    // Convenience constructors; adjust fields afterwards as needed.
    [[nodiscard]] static OpDesc gemm(float alpha = 1, float beta = 1, Activation act = {});
    [[nodiscard]] static OpDesc conv(uint32_t groups = 1, Activation act = {});
    [[nodiscard]] static OpDesc pool(uint32_t mode, std::array<uint32_t, 3> kernel);
    [[nodiscard]] static OpDesc unary(uint32_t fn, float alpha = 0, float beta = 0);
    [[nodiscard]] static OpDesc binary(uint32_t fn);
    [[nodiscard]] static OpDesc reduce(uint32_t fn, uint64_t axes);
    [[nodiscard]] static OpDesc norm(uint32_t fn, uint64_t axes, float epsilon = 1e-5f);
    [[nodiscard]] static OpDesc tensor_copy(uint32_t mode = 0);
    [[nodiscard]] static OpDesc gather(uint32_t mode, uint32_t axis);
    [[nodiscard]] static OpDesc cast();
};

// What the device reports it executes (DRM_NPU_PARAM_*); a plan is checked
// against it. from_device() reads it once per call (a few GET_PARAMs).
struct DeviceOps {
    uint32_t packet_version = 0;
    uint64_t op_mask = 0;
    uint64_t dtype_mask = 0;
    uint64_t engine_mem_size = 0;
    [[nodiscard]] NPU_API static DeviceOps from_device(const Device& device);
};

namespace detail {
struct PlanData;
}

class NPU_API Plan {
public:
    // Validates and encodes; throws Error(EINVAL) for malformed
    // descriptions, Error(ENOTSUP) for what the device cannot run.
    Plan(const Device& device, const OpDesc& op, std::span<const TensorDesc> tensors);
    Plan(const Device& device, const OpDesc& op, std::initializer_list<TensorDesc> tensors)
        : Plan(device, op, std::span<const TensorDesc>(tensors.begin(), tensors.size())) {}
    // The same against given capabilities (no device: planning only).
    Plan(const DeviceOps& caps, const OpDesc& op, std::span<const TensorDesc> tensors);
    Plan(const DeviceOps& caps, const OpDesc& op, std::initializer_list<TensorDesc> tensors)
        : Plan(caps, op, std::span<const TensorDesc>(tensors.begin(), tensors.size())) {}
    ~Plan();
    Plan(Plan&&) noexcept;
    Plan& operator=(Plan&&) noexcept;
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;

    // "" when the operation can be planned, else why not (the message the
    // constructor would throw with).
    [[nodiscard]] static std::string check(const DeviceOps& caps, const OpDesc& op,
                                           std::span<const TensorDesc> tensors);

    [[nodiscard]] OpKind kind() const noexcept;
    // Operand slots launch() expects (see the table above).
    [[nodiscard]] size_t operand_count() const noexcept;
    // Packets one launch encodes (0 when the output is empty) and their bytes.
    [[nodiscard]] size_t packet_count() const noexcept;
    [[nodiscard]] size_t command_bytes() const noexcept;

    // Enqueues the operation on stream. operands[i] is the device address
    // of element [0, ...] of tensor i (nullptr for absent ones and allowed
    // for empty ones); each operand's whole byte range must lie inside one
    // live allocation of the stream's device (Error(EINVAL) otherwise) and
    // be aligned to its element size. A plan is tied to no device beyond
    // the capabilities it was checked against: launch it on any stream of
    // a device that runs the same operations. Enqueues packets only; the
    // stream submits them (flush, synchronize, ...). If the stream fails
    // to take them (device lost, back-pressure timeout) the packets of a
    // split plan already enqueued stay; discard() drops them.
    void launch(Stream& stream, std::span<const void* const> operands) const;
    void launch(Stream& stream, std::initializer_list<const void*> operands) const {
        launch(stream, std::span<const void* const>(operands.begin(), operands.size()));
    }

private:
    std::unique_ptr<detail::PlanData> data_;
};

} // namespace npu::ops
