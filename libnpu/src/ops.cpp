// The op API (npu/ops.hpp): descriptors, plans and the launch path.
#include "npu/ops.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <npu/uapi/drm/npu_accel.h>

#include "address_map.hpp"
#include "bo_storage.hpp"
#include "npu/error.hpp"
#include "ops_plan.hpp"
#include "stream_impl.hpp"

namespace npu::ops {

size_t dtype_size(DType dtype) noexcept {
    switch (dtype) {
    case DType::f32:
    case DType::i32:
        return 4;
    case DType::f16:
    case DType::bf16:
        return 2;
    case DType::i8:
    case DType::u8:
    case DType::boolean:
        return 1;
    case DType::i64:
        return 8;
    case DType::none:
        break;
    }
    return 0;
}

const char* dtype_name(DType dtype) noexcept {
    switch (dtype) {
    case DType::none:
        return "none";
    case DType::f32:
        return "f32";
    case DType::f16:
        return "f16";
    case DType::bf16:
        return "bf16";
    case DType::i8:
        return "i8";
    case DType::u8:
        return "u8";
    case DType::i32:
        return "i32";
    case DType::i64:
        return "i64";
    case DType::boolean:
        return "bool";
    }
    return "unknown";
}

const char* op_kind_name(OpKind kind) noexcept {
    static constexpr const char* names[] = {"gemm",   "conv", "pool",        "unary",  "binary",
                                            "reduce", "norm", "tensor_copy", "gather", "cast"};
    const auto i = static_cast<uint32_t>(kind);
    return i < std::size(names) ? names[i] : "unknown";
}

TensorDesc TensorDesc::contiguous(DType dtype, std::vector<int64_t> shape) {
    return TensorDesc{dtype, std::move(shape), {}};
}

TensorDesc TensorDesc::strided(DType dtype, std::vector<int64_t> shape,
                               std::vector<int64_t> strides) {
    return TensorDesc{dtype, std::move(shape), std::move(strides)};
}

uint64_t TensorDesc::elements() const noexcept {
    uint64_t n = 1;
    for (int64_t e : shape)
        n *= e < 0 ? 0 : static_cast<uint64_t>(e);
    return n;
}

OpDesc OpDesc::gemm(float alpha, float beta, Activation act) {
    OpDesc op;
    op.kind = OpKind::gemm;
    op.alpha = alpha;
    op.beta = beta;
    op.act = act;
    return op;
}

OpDesc OpDesc::conv(uint32_t groups, Activation act) {
    OpDesc op;
    op.kind = OpKind::conv;
    op.groups = groups;
    op.act = act;
    return op;
}

OpDesc OpDesc::pool(uint32_t mode, std::array<uint32_t, 3> kernel) {
    OpDesc op;
    op.kind = OpKind::pool;
    op.fn = mode;
    op.kernel = kernel;
    return op;
}

OpDesc OpDesc::unary(uint32_t fn, float alpha, float beta) {
    OpDesc op;
    op.kind = OpKind::unary;
    op.act = {fn, alpha, beta};
    return op;
}

OpDesc OpDesc::binary(uint32_t fn) {
    OpDesc op;
    op.kind = OpKind::binary;
    op.fn = fn;
    return op;
}

OpDesc OpDesc::reduce(uint32_t fn, uint64_t axes) {
    OpDesc op;
    op.kind = OpKind::reduce;
    op.fn = fn;
    op.axes = axes;
    return op;
}

OpDesc OpDesc::norm(uint32_t fn, uint64_t axes, float epsilon) {
    OpDesc op;
    op.kind = OpKind::norm;
    op.fn = fn;
    op.axes = axes;
    op.epsilon = epsilon;
    return op;
}

OpDesc OpDesc::tensor_copy(uint32_t mode) {
    OpDesc op;
    op.kind = OpKind::tensor_copy;
    op.fn = mode;
    return op;
}

OpDesc OpDesc::gather(uint32_t mode, uint32_t axis) {
    OpDesc op;
    op.kind = OpKind::gather;
    op.fn = mode;
    op.axis = axis;
    return op;
}

OpDesc OpDesc::cast() {
    OpDesc op;
    op.kind = OpKind::cast;
    return op;
}

DeviceOps DeviceOps::from_device(const Device& device) {
    DeviceOps caps;
    try {
        caps.packet_version = static_cast<uint32_t>(device.param(DRM_NPU_PARAM_PACKET_VERSION));
    } catch (const Error& e) {
        if (e.errnum() != EINVAL) // a driver that predates operations
            throw;
        return caps;
    }
    if (caps.packet_version < 2)
        return caps;
    caps.op_mask = device.param(DRM_NPU_PARAM_OP_MASK);
    caps.dtype_mask = device.param(DRM_NPU_PARAM_DTYPE_MASK);
    caps.engine_mem_size = device.param(DRM_NPU_PARAM_ENGINE_MEM_SIZE);
    return caps;
}

Plan::Plan(const Device& device, const OpDesc& op, std::span<const TensorDesc> tensors)
    : Plan(DeviceOps::from_device(device), op, tensors) {}

Plan::Plan(const DeviceOps& caps, const OpDesc& op, std::span<const TensorDesc> tensors)
    : data_(std::make_unique<detail::PlanData>()) {
    detail::build_plan(*data_, caps, op, tensors);
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

std::string Plan::check(const DeviceOps& caps, const OpDesc& op,
                        std::span<const TensorDesc> tensors) {
    detail::PlanData data;
    try {
        detail::build_plan(data, caps, op, tensors);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

namespace {
const detail::PlanData& valid(const std::unique_ptr<detail::PlanData>& data) {
    if (!data)
        throw Error(EINVAL, "plan: moved from");
    return *data;
}
} // namespace

OpKind Plan::kind() const noexcept {
    return data_ ? data_->kind : OpKind::unary;
}
size_t Plan::operand_count() const noexcept {
    return data_ ? data_->slots : 0;
}
size_t Plan::packet_count() const noexcept {
    return data_ ? data_->packet_ends.size() : 0;
}
size_t Plan::command_bytes() const noexcept {
    return data_ ? data_->commands.size() : 0;
}

void Plan::launch(Stream& stream, std::span<const void* const> operands) const {
    const detail::PlanData& plan = valid(data_);
    if (!stream.impl_)
        throw Error(EINVAL, "launch: stream was moved from");
    npu::detail::StreamImpl& impl = *stream.impl_;
    if (operands.size() != plan.slots)
        throw Error(EINVAL, std::string("launch ") + op_kind_name(plan.kind) + ": " +
                                std::to_string(plan.slots) + " operands expected, " +
                                std::to_string(operands.size()) + " given");
    // Each operand's bytes inside one live buffer object of this device.
    std::array<std::shared_ptr<npu::detail::BoStorage>, detail::max_slots> keep;
    std::array<const npu::detail::BoStorage*, detail::max_slots> bos{};
    std::array<uint64_t, detail::max_slots> addr{};
    size_t nbos = 0;
    for (size_t i = 0; i < plan.slots; ++i) {
        const detail::Operand& o = plan.operands[i];
        addr[i] = reinterpret_cast<uint64_t>(operands[i]);
        if (!o.present) {
            if (operands[i])
                throw Error(EINVAL, "launch: operand " + std::to_string(i) +
                                        " is absent in the plan but a pointer was given");
            continue;
        }
        if (o.empty) {
            addr[i] = 0; // reaches no memory; any pointer (nullptr too) will do
            continue;
        }
        if (addr[i] % o.esize)
            throw Error(EINVAL, "launch: operand " + std::to_string(i) +
                                    " is not aligned to its element size");
        const auto bytes = static_cast<size_t>(o.hi - o.lo);
        uint64_t first = addr[i] + static_cast<uint64_t>(o.lo);
        // Operands often share a buffer object (a pool chunk): one already
        // found (and kept alive) answers without a lookup.
        const auto inside = [&](const npu::detail::BoStorage* bo) {
            return first >= bo->device_addr && first - bo->device_addr <= bo->size &&
                   bytes <= bo->size - (first - bo->device_addr);
        };
        if (std::any_of(bos.begin(), bos.begin() + nbos, inside))
            continue;
        auto hit = impl.device->addresses.find(first, bytes);
        if (!hit.bo) {
            // A host address the device reaches at another one (memory
            // registered above 2^39, bo_storage.hpp), or another device's
            // memory (bound here at its own address): the packets get the
            // device address.
            if (auto host = npu::detail::process_addresses().find(first, bytes); host.bo) {
                const uint64_t device_first = host.bo->device_addr + host.offset;
                addr[i] += device_first - first;
                hit.bo = host.bo->peer(impl.device);
            }
        }
        if (!hit.bo)
            throw Error(EINVAL, "launch: operand " + std::to_string(i) + "'s " +
                                    std::to_string(bytes) +
                                    " bytes are not inside one allocation of the stream's device");
        bos[nbos] = hit.bo.get();
        keep[nbos++] = std::move(hit.bo);
    }
    if (plan.commands.empty())
        return;
    // Packets in runs that fit a command buffer, each run's addresses
    // patched in place.
    const std::span<const npu::detail::BoStorage* const> referenced(bos.data(), nbos);
    // The stream's lock from the first packet to the last, so that its
    // flusher never submits a half-written run.
    const npu::detail::StreamImpl::Enqueue guard(impl);
    size_t start = 0, patch = 0, packet = 0;
    while (start < plan.commands.size()) {
        size_t end = start;
        while (packet < plan.packet_ends.size() &&
               (end == start || plan.packet_ends[packet] - start <= impl.capacity))
            end = plan.packet_ends[packet++];
        if (end - start > impl.capacity)
            throw Error(EINVAL, "launch: a packet does not fit the stream's command buffer");
        std::byte* where = impl.reserve(end - start, referenced);
        std::memcpy(where, plan.commands.data() + start, end - start);
        for (; patch < plan.patches.size() && plan.patches[patch].offset < end; ++patch) {
            const detail::Patch& p = plan.patches[patch];
            const uint64_t value = addr[p.slot] + static_cast<uint64_t>(p.delta);
            std::memcpy(where + (p.offset - start), &value, sizeof(value));
        }
        start = end;
    }
}

} // namespace npu::ops
