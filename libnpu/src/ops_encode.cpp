// Planning an operation: the firmware's rules (docs/operations.md) checked
// on the host with a reason, dimensions coalesced and split into packets of
// at most six dimensions, and the packets encoded with zero addresses plus
// the list of address fields launch() fills in.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "npu/error.hpp"
#include "ops_encode_internal.hpp"

namespace npu::ops::detail {

// ---- reasons ------------------------------------------------------------

[[noreturn]] void fail(const Ctx& c, int errnum, const std::string& why) {
    throw Error(errnum, std::string("plan ") + op_kind_name(c.kind) + ": " + why);
}
[[noreturn]] void invalid(const Ctx& c, const std::string& why) {
    fail(c, EINVAL, why);
}
[[noreturn]] void unsupported(const Ctx& c, const std::string& why) {
    fail(c, ENOTSUP, why);
}

std::string shape_str(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// ---- logical tensors ----------------------------------------------------

Tensor load(const Ctx& c, const char* name, const TensorDesc& d, bool optional) {
    Tensor t;
    t.name = name;
    const auto dt = static_cast<uint32_t>(d.dtype);
    if (d.dtype == DType::none) {
        if (!optional)
            invalid(c, std::string(name) + " is required");
        if (!d.shape.empty() || !d.strides.empty())
            invalid(c, std::string(name) + " is absent (dtype none) but has a shape");
        return t;
    }
    if (dt > NPU_DTYPE_LAST)
        invalid(c, std::string(name) + ": unknown dtype " + std::to_string(dt));
    if (!(c.caps.dtype_mask & (uint64_t{1} << dt)))
        unsupported(c, std::string(name) + ": the device does not support dtype " +
                           dtype_name(d.dtype));
    if (d.shape.size() > max_rank)
        invalid(c, std::string(name) + ": rank " + std::to_string(d.shape.size()) + " above " +
                       std::to_string(max_rank));
    if (!d.strides.empty() && d.strides.size() != d.shape.size())
        invalid(c, std::string(name) + ": " + std::to_string(d.strides.size()) +
                       " strides for rank " + std::to_string(d.shape.size()));
    t.dtype = d.dtype;
    t.ext.resize(d.shape.size());
    t.str.resize(d.shape.size());
    int64_t running = 1;
    bool overflow = false;
    uint64_t count = 1;
    for (size_t i = d.shape.size(); i-- > 0;) {
        if (d.shape[i] < 0)
            invalid(c, std::string(name) + ": negative extent in dimension " + std::to_string(i));
        t.ext[i] = static_cast<uint64_t>(d.shape[i]);
        t.str[i] = d.strides.empty() ? running : d.strides[i];
        if (d.strides.empty() && t.ext[i] &&
            __builtin_mul_overflow(running, static_cast<int64_t>(t.ext[i]), &running))
            overflow = true;
        if (t.ext[i] && __builtin_mul_overflow(count, t.ext[i], &count))
            overflow = true;
    }
    if (overflow && !t.empty())
        invalid(c, std::string(name) + ": element count overflows 64 bits");
    return t;
}

// The bytes a tensor reaches relative to element [0, ...].
Operand operand_of(const Ctx& c, const Tensor& t) {
    Operand o;
    if (!t.present())
        return o;
    o.present = true;
    o.esize = static_cast<uint32_t>(dtype_size(t.dtype));
    if (t.empty()) {
        o.empty = true;
        return o;
    }
    __int128 lo = 0, hi = 0;
    for (size_t i = 0; i < t.rank(); ++i) {
        const __int128 span = static_cast<__int128>(t.ext[i] - 1) * t.str[i];
        (span < 0 ? lo : hi) += span;
    }
    lo *= o.esize;
    hi = (hi + 1) * o.esize;
    constexpr __int128 limit = __int128{1} << 62;
    if (lo < -limit || hi > limit)
        invalid(c, std::string(t.name) + ": reaches beyond any address space");
    o.lo = static_cast<int64_t>(lo);
    o.hi = static_cast<int64_t>(hi);
    return o;
}

// t with numpy broadcasting to shape (right-aligned; extent 1 repeats).
Tensor expand(const Ctx& c, const Tensor& t, const std::vector<uint64_t>& shape,
              const char* target) {
    if (!t.present())
        return t;
    if (t.rank() > shape.size())
        invalid(c, std::string(t.name) + "'s shape " + shape_str(t.ext) +
                       " has more dimensions than " + target + "'s " + shape_str(shape));
    Tensor r;
    r.name = t.name;
    r.dtype = t.dtype;
    r.ext = shape;
    r.str.assign(shape.size(), 0);
    const size_t lead = shape.size() - t.rank();
    for (size_t i = 0; i < t.rank(); ++i) {
        if (t.ext[i] == shape[lead + i])
            r.str[lead + i] = t.str[i];
        else if (t.ext[i] != 1)
            invalid(c, std::string(t.name) + "'s shape " + shape_str(t.ext) +
                           " does not broadcast to " + target + "'s " + shape_str(shape));
    }
    return r;
}

void require_extents(const Ctx& c, const Tensor& t) {
    if (t.rank() > packet_rank)
        unsupported(c, std::string(t.name) + ": rank " + std::to_string(t.rank()) +
                           " above the packet's " + std::to_string(packet_rank) +
                           " for this operation");
    for (uint64_t e : t.ext)
        if (e > extent_max)
            unsupported(c, std::string(t.name) + ": extent " + std::to_string(e) +
                               " above 2^32 - 1 for this operation");
}

npu_tensor desc(const Tensor& t) {
    npu_tensor d{};
    if (!t.present())
        return d;
    d.dtype = static_cast<uint32_t>(t.dtype);
    d.rank = static_cast<uint32_t>(t.rank());
    for (size_t i = 0; i < t.rank(); ++i) {
        d.shape[i] = static_cast<uint32_t>(t.ext[i]);
        d.stride[i] = t.str[i];
    }
    return d;
}

// ---- iteration spaces: coalescing and splitting ---------------------------

void for_each_packet(const Ctx& c, std::vector<Dim> dims, uint32_t slots, size_t rank_limit,
                     const PacketFn& fn) {
    // Drop extents of 1 outside kept groups; merge neighbours that chain.
    std::vector<Dim> merged;
    for (const Dim& d : dims) {
        if (d.ext == 1 && d.group == 0)
            continue;
        if (!merged.empty()) {
            Dim& p = merged.back();
            bool chain = p.group == d.group && p.one_mask == d.one_mask && p.ext && d.ext &&
                         p.ext * d.ext <= extent_max;
            for (uint32_t i = 0; chain && i < max_slots; ++i)
                if ((slots & (1u << i)) && !(d.one_mask & (1u << i)))
                    chain = p.s[i] == d.s[i] * static_cast<int64_t>(d.ext);
            if (chain) {
                p.ext *= d.ext;
                p.s = d.s;
                continue;
            }
        }
        merged.push_back(d);
    }
    // Split off group-0 dimensions (outermost first) until the rest fits.
    struct Loop {
        size_t kept; // index into kept, or SIZE_MAX: peeled entirely
        uint64_t count, chunk, ext;
        std::array<int64_t, max_slots> s;
    };
    std::vector<Loop> loops;
    std::vector<Dim> kept;
    size_t excess = merged.size() > rank_limit ? merged.size() - rank_limit : 0;
    for (const Dim& d : merged) {
        if (excess && d.group == 0) {
            loops.push_back({SIZE_MAX, d.ext, 1, d.ext, d.s});
            --excess;
            continue;
        }
        kept.push_back(d);
    }
    if (excess)
        unsupported(c, "more than " + std::to_string(rank_limit) +
                           " dimensions that neither merge nor split into packets");
    for (size_t i = 0; i < kept.size(); ++i) {
        if (kept[i].ext <= extent_max)
            continue;
        if (kept[i].group != 0)
            unsupported(c, "a reduced or normalised extent of " + std::to_string(kept[i].ext) +
                               " above 2^32 - 1");
        const uint64_t chunk = uint64_t{1} << 31;
        loops.push_back({i, (kept[i].ext + chunk - 1) / chunk, chunk, kept[i].ext, kept[i].s});
    }
    uint64_t packets = 1;
    for (const Loop& l : loops)
        if (__builtin_mul_overflow(packets, l.count, &packets) || packets > max_packets)
            unsupported(c, "needs more than " + std::to_string(max_packets) + " packets");
    std::array<int64_t, max_slots> delta{};
    std::function<void(size_t)> walk = [&](size_t level) {
        if (level == loops.size()) {
            fn(kept, delta);
            return;
        }
        const Loop& l = loops[level];
        for (uint64_t i = 0; i < l.count; ++i) {
            const auto start = static_cast<int64_t>(i * l.chunk);
            for (size_t s = 0; s < max_slots; ++s)
                delta[s] += start * l.s[s];
            if (l.kept != SIZE_MAX)
                kept[l.kept].ext = std::min(l.chunk, l.ext - i * l.chunk);
            walk(level + 1);
            for (size_t s = 0; s < max_slots; ++s)
                delta[s] -= start * l.s[s];
        }
        if (l.kept != SIZE_MAX)
            kept[l.kept].ext = l.ext;
    };
    walk(0);
}

// The packet descriptor of operand slot over the kept dimensions.
npu_tensor desc_of(DType dtype, uint32_t slot, const std::vector<Dim>& dims) {
    npu_tensor d{};
    if (dtype == DType::none)
        return d;
    d.dtype = static_cast<uint32_t>(dtype);
    d.rank = static_cast<uint32_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        const bool one = dims[i].one_mask & (1u << slot);
        d.shape[i] = one ? 1 : static_cast<uint32_t>(dims[i].ext);
        d.stride[i] = one ? 0 : dims[i].s[slot];
    }
    return d;
}

// Dimensions of operands that all have shape (already expanded).
std::vector<Dim> elementwise_dims(const std::vector<uint64_t>& shape,
                                  std::initializer_list<std::pair<uint32_t, const Tensor*>> ts) {
    std::vector<Dim> dims(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
        dims[i].ext = shape[i];
        for (const auto& [slot, t] : ts)
            if (t->present())
                dims[i].s[slot] = t->str[i];
    }
    return dims;
}

uint32_t slot_mask(std::initializer_list<std::pair<uint32_t, const Tensor*>> ts) {
    uint32_t m = 0;
    for (const auto& [slot, t] : ts)
        if (t->present())
            m |= 1u << slot;
    return m;
}

// ---- shared checks ----------------------------------------------------------

void check_act(const Ctx& c, const Activation& a, bool float_result, bool integer_acc) {
    if (a.fn > NPU_FN_LAST)
        invalid(c, "unknown activation function " + std::to_string(a.fn));
    if (!finite(a.alpha) || !finite(a.beta))
        invalid(c, "activation alpha/beta not finite");
    if (integer_acc && !float_result) {
        if (a.fn != NPU_FN_IDENTITY && a.fn != NPU_FN_RELU)
            invalid(c, "only IDENTITY or RELU for an integer result");
    } else if (a.fn == NPU_FN_NOT || a.fn == NPU_FN_BITWISE_NOT || a.fn == NPU_FN_ISNAN ||
               a.fn == NPU_FN_ISINF) {
        invalid(c, "activation function does not keep a float result's dtype");
    }
}

bool zero_point_ok(int32_t z, DType d) {
    if (d == DType::i8)
        return z >= -128 && z <= 127;
    if (d == DType::u8)
        return z >= 0 && z <= 255;
    return true;
}

// GEMM and CONV operand types (docs/operations.md, the GEMM table).
void check_mm_types(const Ctx& c, const OpDesc& op, DType in0, DType in1, const Tensor& add,
                    DType out, bool scaled) {
    const char* add_name = scaled ? "c" : "bias";
    const Quant& q = op.quant;
    const bool quant_zero = !q.a_zero && !q.b_zero && !bits(q.y_scale) && !q.y_zero;
    bool float_y = true;
    bool int_acc = false;
    if (is_float(in0) && in1 == in0) {
        if (!is_float(out))
            invalid(c, "y not a float type for float inputs");
        if (add.present() && !is_float(add.dtype))
            invalid(c, std::string(add_name) + " not a float type for float inputs");
        if (!quant_zero)
            invalid(c, "quant not zero for float inputs");
    } else if (is_8bit(in0) && is_8bit(in1)) {
        int_acc = true;
        if (out != DType::i32 && out != DType::f32 && !is_8bit(out))
            invalid(c, "y not I32, I8, U8 or F32 for 8-bit inputs");
        if (add.present() && add.dtype != (out == DType::f32 ? DType::f32 : DType::i32))
            invalid(c, std::string(add_name) + " not F32 for an F32 y, else not I32");
        if (!zero_point_ok(q.a_zero, in0) || !zero_point_ok(q.b_zero, in1) ||
            !zero_point_ok(q.y_zero, out))
            invalid(c, "quant zero point outside its dtype's range");
        if (!finite(q.y_scale))
            invalid(c, "quant y_scale not finite");
        float_y = out != DType::i32;
        if (scaled && out != DType::f32 && (op.alpha != 1.0f || op.beta != 1.0f))
            invalid(c, "alpha/beta not 1 for an integer y");
    } else if (scaled && (in0 == DType::i32 || in0 == DType::i64) && in1 == in0) {
        if (out != in0 || (add.present() && add.dtype != in0))
            invalid(c, "c/y not the integer dtype of a and b");
        if (!quant_zero)
            invalid(c, "quant not zero for I32/I64 inputs");
        if (op.alpha != 1.0f || op.beta != 1.0f)
            invalid(c, "alpha/beta not 1 for an integer y");
        float_y = false;
        int_acc = true;
    } else {
        invalid(c, scaled ? "a and b neither one float type, nor 8-bit, nor both I32 or I64"
                          : "x and w neither one float type nor both 8-bit");
    }
    if (scaled && (!finite(op.alpha) || !finite(op.beta)))
        invalid(c, "alpha/beta not finite");
    check_act(c, op.act, float_y, int_acc);
}

void require_defaults(const Ctx& c, const OpDesc& op, bool fn, bool flags, bool act, bool quant,
                      bool window, bool copy) {
    const OpDesc d;
    if (!fn && op.fn)
        invalid(c, "fn must be 0");
    if (!flags && op.flags)
        invalid(c, "flags must be 0");
    if (!act && (op.act.fn || bits(op.act.alpha) || bits(op.act.beta)))
        invalid(c, "act must be left unset");
    if (!quant && (op.quant.a_zero || op.quant.b_zero || bits(op.quant.y_scale) || op.quant.y_zero))
        invalid(c, "quant must be left unset");
    if (!window && (op.groups != 1 || op.kernel != d.kernel || op.stride != d.stride ||
                    op.dilation != d.dilation || op.pad_begin != d.pad_begin ||
                    op.pad_end != d.pad_end || op.p))
        invalid(c, "window parameters (groups, kernel, stride, dilation, padding, p) must be "
                   "left unset");
    if (!copy && (!op.copy_offset.empty() || op.pad_value))
        invalid(c, "copy_offset and pad_value must be left unset");
}

// ---- dispatch ---------------------------------------------------------------

namespace {

constexpr uint32_t opcode_of(OpKind k) {
    return NPU_OP_GEMM + static_cast<uint32_t>(k);
}

size_t slots_of(OpKind k) {
    switch (k) {
    case OpKind::gemm:
    case OpKind::conv:
    case OpKind::binary:
        return 4;
    case OpKind::pool:
    case OpKind::gather:
        return 3;
    case OpKind::norm:
        return 6;
    default:
        return 2;
    }
}

size_t output_slot(OpKind k) {
    switch (k) {
    case OpKind::gemm:
    case OpKind::conv:
    case OpKind::binary:
        return 3;
    case OpKind::gather:
        return 2;
    case OpKind::norm:
        return 5;
    default:
        return 1; // pool's indices are optional, y always there
    }
}

} // namespace

void build_plan(PlanData& plan, const DeviceOps& caps, const OpDesc& op,
                std::span<const TensorDesc> tensors) {
    const Ctx c{op.kind, caps};
    if (static_cast<uint32_t>(op.kind) > static_cast<uint32_t>(OpKind::cast))
        throw Error(EINVAL, "plan: unknown operation kind " +
                                std::to_string(static_cast<uint32_t>(op.kind)));
    if (caps.packet_version < 2)
        unsupported(c, "the device speaks packet version " + std::to_string(caps.packet_version) +
                           ", operations need 2");
    if (!(caps.op_mask & (uint64_t{1} << opcode_of(op.kind))))
        unsupported(c, "the device does not execute this opcode");
    plan.kind = op.kind;
    plan.slots = slots_of(op.kind);
    if (tensors.size() != plan.slots)
        invalid(c, std::to_string(plan.slots) + " tensor descriptors expected, " +
                       std::to_string(tensors.size()) + " given");
    const bool copy_plain =
        op.kind == OpKind::tensor_copy && op.fn == NPU_COPY_PLAIN && !op.pad_value &&
        std::all_of(op.copy_offset.begin(), op.copy_offset.end(), [](int64_t o) { return !o; });
    switch (op.kind) {
    case OpKind::gemm:
        build_gemm(plan, c, op, tensors);
        break;
    case OpKind::conv:
        build_conv(plan, c, op, tensors);
        break;
    case OpKind::pool:
        build_pool(plan, c, op, tensors);
        break;
    case OpKind::unary:
    case OpKind::cast:
        build_unary_like(plan, c, op, tensors);
        break;
    case OpKind::tensor_copy:
        if (copy_plain)
            build_unary_like(plan, c, op, tensors);
        else
            build_copy_pad(plan, c, op, tensors);
        break;
    case OpKind::binary:
        build_binary(plan, c, op, tensors);
        break;
    case OpKind::reduce:
        build_reduce(plan, c, op, tensors);
        break;
    case OpKind::norm:
        build_norm(plan, c, op, tensors);
        break;
    case OpKind::gather:
        build_gather(plan, c, op, tensors);
        break;
    }
    // Byte ranges of the operands as given (launch() resolves them).
    for (size_t i = 0; i < plan.slots; ++i)
        plan.operands[i] = operand_of(c, load(c, "operand", tensors[i], true));
    // An empty output: nothing to run.
    if (plan.operands[output_slot(op.kind)].empty) {
        plan.commands.clear();
        plan.patches.clear();
        plan.packet_ends.clear();
    }
}

} // namespace npu::ops::detail
