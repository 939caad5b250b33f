// Planning an operation: the firmware's rules (docs/operations.md) checked
// on the host with a reason, dimensions coalesced and split into packets of
// at most six dimensions, and the packets encoded with zero addresses plus
// the list of address fields launch() fills in.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "npu/error.hpp"
#include "ops_plan.hpp"

namespace npu::ops::detail {

namespace {

constexpr uint64_t extent_max = std::numeric_limits<uint32_t>::max();
constexpr size_t packet_rank = NPU_MAX_RANK;

// ---- reasons ------------------------------------------------------------

struct Ctx {
    OpKind kind;
    const DeviceOps& caps;
};

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

bool is_float(DType d) {
    return d == DType::f32 || d == DType::f16 || d == DType::bf16;
}
bool is_8bit(DType d) {
    return d == DType::i8 || d == DType::u8;
}
bool is_int(DType d) {
    return is_8bit(d) || d == DType::i32 || d == DType::i64;
}
bool finite(float f) {
    return std::isfinite(f);
}
uint32_t bits(float f) {
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

// ---- per kind -------------------------------------------------------------

void build_gemm(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, false, false, true, true, false, false);
    if (op.axes || op.axis)
        invalid(c, "axes/axis must be 0");
    Tensor a = load(c, "a", ts[0], false), b = load(c, "b", ts[1], false);
    Tensor cc = load(c, "c", ts[2], true), y = load(c, "y", ts[3], false);
    if (y.rank() < 2)
        invalid(c, "y's rank " + std::to_string(y.rank()) + " below 2");
    if (a.rank() < 2 || b.rank() < 2)
        invalid(c, "a and b need rank 2 or more");
    const size_t r = y.rank();
    const uint64_t m = y.ext[r - 2], n = y.ext[r - 1];
    const uint64_t k = a.ext[a.rank() - 1];
    if (a.ext[a.rank() - 2] != m)
        invalid(c, "a's M (" + std::to_string(a.ext[a.rank() - 2]) + ") differs from y's (" +
                       std::to_string(m) + ")");
    if (b.ext[b.rank() - 1] != n)
        invalid(c, "b's N (" + std::to_string(b.ext[b.rank() - 1]) + ") differs from y's (" +
                       std::to_string(n) + ")");
    if (b.ext[b.rank() - 2] != k)
        invalid(c, "a's K (" + std::to_string(k) + ") differs from b's K (" +
                       std::to_string(b.ext[b.rank() - 2]) + ")");
    check_mm_types(c, op, a.dtype, b.dtype, cc, y.dtype, true);
    for (uint64_t e : {m, n, k})
        if (e > extent_max)
            unsupported(c, "M, N or K above 2^32 - 1");
    // K beyond an engine's local memory (a 1 x 1 tile stages (2K + 2)
    // elements): several packets, each a slice of K, accumulating into y.
    // The first takes beta and c as given, the others c = y with beta = 1
    // (an exact alias, which the engines support: each tile reads its c
    // block before it writes the same y block); the activation runs on the
    // last one only. The partial sums pass through y, so y must hold them
    // exactly: F32 (float or 8-bit inputs) or I32/I64 (integer inputs).
    const uint64_t elem = a.dtype == DType::i64 ? 8 : 4;
    const uint64_t k_fit = c.caps.engine_mem_size / elem / 2;
    const uint64_t k_step = k_fit > 1 ? k_fit - 1 : 0;
    if ((2 * k + 2) * elem > c.caps.engine_mem_size) {
        const std::string why = "K = " + std::to_string(k) + " does not fit an engine's local " +
                                "memory (" + std::to_string(c.caps.engine_mem_size) + " bytes)";
        if (!k_step)
            unsupported(c, why);
        if (y.dtype != DType::f32 && y.dtype != DType::i32 && y.dtype != DType::i64)
            unsupported(c, why + " and y (" + std::string(dtype_name(y.dtype)) +
                               ") cannot carry the partial sums of a split along K: use an "
                               "F32 or I32 y");
        if (y.dtype != DType::f32 && is_float(a.dtype))
            unsupported(c, why); // cannot happen: float inputs give a float y
    }
    // Batch dimensions broadcast to y's.
    std::vector<uint64_t> batch(y.ext.begin(), y.ext.end() - 2);
    auto batch_of = [&](const Tensor& t, bool whole) {
        if (!t.present())
            return t;
        Tensor head = t;
        head.ext.resize(whole ? t.rank() : t.rank() - 2);
        head.str.resize(head.ext.size());
        return head;
    };
    Tensor ab = expand(c, batch_of(a, false), batch, "y's batch");
    Tensor bb = expand(c, batch_of(b, false), batch, "y's batch");
    Tensor cb = expand(c, cc, y.ext, "y");
    const int64_t a_m = a.str[a.rank() - 2], a_k = a.str[a.rank() - 1];
    const int64_t b_k = b.str[b.rank() - 2], b_n = b.str[b.rank() - 1];
    int64_t c_m = 0, c_n = 0;
    if (cc.present()) {
        c_m = cb.str[r - 2];
        c_n = cb.str[r - 1];
        cb.ext.resize(r - 2);
        cb.str.resize(r - 2);
    }
    std::vector<Dim> dims(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        dims[i].ext = batch[i];
        dims[i].s = {ab.str[i], bb.str[i], cc.present() ? cb.str[i] : 0, y.str[i]};
    }
    const uint32_t slots = cc.present() ? 0xf : 0xb;
    npu_pkt_gemm pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS);
    pkt.alpha = bits(op.alpha);
    pkt.beta = bits(op.beta);
    pkt.act = {op.act.fn, bits(op.act.alpha), bits(op.act.beta), 0};
    pkt.quant = {op.quant.a_zero, op.quant.b_zero, bits(op.quant.y_scale), op.quant.y_zero};
    for_each_packet(c, dims, slots, packet_rank - 2, [&](const auto& kept, const auto& delta) {
        auto tail = [&](DType dt, uint32_t slot, uint64_t e0, int64_t s0, uint64_t e1, int64_t s1) {
            npu_tensor d = desc_of(dt, slot, kept);
            if (!d.dtype)
                return d;
            d.shape[d.rank] = static_cast<uint32_t>(e0);
            d.stride[d.rank] = s0;
            d.shape[d.rank + 1] = static_cast<uint32_t>(e1);
            d.stride[d.rank + 1] = s1;
            d.rank += 2;
            return d;
        };
        pkt.y = tail(y.dtype, 3, m, y.str[r - 2], n, y.str[r - 1]);
        if ((2 * k + 2) * elem <= c.caps.engine_mem_size) {
            pkt.a = tail(a.dtype, 0, m, a_m, k, a_k);
            pkt.b = tail(b.dtype, 1, k, b_k, n, b_n);
            pkt.c = tail(cc.dtype, 2, m, c_m, n, c_n);
            emit(plan, pkt,
                 {{&pkt.a, 0, delta[0]},
                  {&pkt.b, 1, delta[1]},
                  {&pkt.c, 2, delta[2]},
                  {&pkt.y, 3, delta[3]}});
            return;
        }
        for (uint64_t k0 = 0; k0 < k; k0 += k_step) {
            const uint64_t kn = std::min(k_step, k - k0);
            const bool first = k0 == 0, last = k0 + kn == k;
            npu_pkt_gemm part = pkt;
            part.a = tail(a.dtype, 0, m, a_m, kn, a_k);
            part.b = tail(b.dtype, 1, kn, b_k, n, b_n);
            if (!last)
                part.act = {NPU_FN_IDENTITY, 0, 0, 0};
            const int64_t a_at = delta[0] + static_cast<int64_t>(k0) * a_k;
            const int64_t b_at = delta[1] + static_cast<int64_t>(k0) * b_k;
            if (first) {
                part.c = tail(cc.dtype, 2, m, c_m, n, c_n);
                emit(plan, part,
                     {{&part.a, 0, a_at},
                      {&part.b, 1, b_at},
                      {&part.c, 2, delta[2]},
                      {&part.y, 3, delta[3]}});
            } else { // y += alpha * (a x b) over this slice
                part.beta = bits(1.0f);
                part.c = part.y;
                emit(plan, part,
                     {{&part.a, 0, a_at},
                      {&part.b, 1, b_at},
                      {&part.c, 3, delta[3]},
                      {&part.y, 3, delta[3]}});
            }
        }
    });
    if (plan.packet_ends.size() > max_packets)
        unsupported(c, "needs more than " + std::to_string(max_packets) +
                           " packets (K split into slices of " + std::to_string(k_step) + ")");
}

uint64_t window_out(uint64_t in, uint32_t k, uint32_t s, uint32_t d, uint32_t pb, uint32_t pe,
                    bool* fits) {
    const uint64_t span = uint64_t{d} * (k - 1) + 1;
    const uint64_t padded = in + pb + pe;
    *fits = padded >= span;
    return *fits ? (padded - span) / s + 1 : 0;
}

void check_window_params(const Ctx& c, const OpDesc& op, uint32_t spatial, bool kernel) {
    for (uint32_t s = 0; s < 3; ++s) {
        if (s < spatial) {
            if (!op.stride[s] || !op.dilation[s] || (kernel && !op.kernel[s]))
                invalid(c, "stride, dilation" + std::string(kernel ? " and kernel" : "") +
                               " must be at least 1 in every spatial dimension");
        } else if ((kernel && op.kernel[s]) || op.stride[s] != 1 || op.dilation[s] != 1 ||
                   op.pad_begin[s] || op.pad_end[s]) {
            invalid(c, "window parameters beyond the " + std::to_string(spatial) +
                           " spatial dimensions must keep their defaults");
        }
    }
}

void set_window(uint32_t (&dst)[3], const std::array<uint32_t, 3>& src, uint32_t spatial) {
    for (uint32_t s = 0; s < 3; ++s)
        dst[s] = s < spatial ? src[s] : 0;
}

void build_conv(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, false, true, true, true, true, false);
    if (op.fn || op.axes || op.axis || op.p || op.kernel != std::array<uint32_t, 3>{})
        invalid(c, "fn, axes, axis, p and kernel must be 0 (w gives the kernel)");
    if (op.flags & ~uint32_t{NPU_CONV_FLAGS})
        invalid(c, "unknown flags");
    const bool transposed = op.flags & NPU_CONV_TRANSPOSED;
    Tensor x = load(c, "x", ts[0], false), w = load(c, "w", ts[1], false);
    Tensor bias = load(c, "bias", ts[2], true), y = load(c, "y", ts[3], false);
    if (x.rank() < 3 || x.rank() > 5)
        invalid(c, "x's rank " + std::to_string(x.rank()) + " is not 3 to 5 (1 to 3 spatial)");
    const auto spatial = static_cast<uint32_t>(x.rank() - 2);
    if (w.rank() != x.rank() || y.rank() != x.rank())
        invalid(c, "x, w and y need the same rank");
    if (!op.groups)
        invalid(c, "groups is 0");
    check_window_params(c, op, spatial, false);
    for (const Tensor* t : {&x, &w, &bias, &y})
        require_extents(c, *t);
    const uint64_t n = x.ext[0], ch = x.ext[1], oc = y.ext[1];
    if (y.ext[0] != n)
        invalid(c, "y's N differs from x's");
    if (ch % op.groups || oc % op.groups)
        invalid(c, "groups does not divide the input and output channels");
    const uint64_t cg = ch / op.groups, ocg = oc / op.groups;
    if (!transposed && (w.ext[0] != oc || w.ext[1] != cg))
        invalid(c, "w is not [OC, C / groups, k...]");
    if (transposed && (w.ext[0] != ch || w.ext[1] != ocg))
        invalid(c, "w is not [C, OC / groups, k...] for a transposed convolution");
    if (bias.present() && (bias.rank() != 1 || bias.ext[0] != oc))
        invalid(c, "bias is not [OC]");
    uint64_t in_vol = 1, k_vol = 1, out_vol = 1;
    for (uint32_t s = 0; s < spatial; ++s) {
        const uint64_t in = x.ext[2 + s], k = w.ext[2 + s], out = y.ext[2 + s];
        const uint32_t st = op.stride[s], dl = op.dilation[s];
        if (!k)
            invalid(c, "a kernel extent is 0");
        if (!transposed) {
            bool fits = false;
            const uint64_t want = window_out(in, static_cast<uint32_t>(k), st, dl, op.pad_begin[s],
                                             op.pad_end[s], &fits);
            if (!fits)
                invalid(c, "the dilated kernel is larger than the padded input in spatial "
                           "dimension " +
                               std::to_string(s));
            if (out != want)
                invalid(c, "y's spatial extent " + std::to_string(out) + " in dimension " +
                               std::to_string(s) + " is not " + std::to_string(want));
        } else {
            if (!in)
                invalid(c, "a transposed convolution's spatial input extent is 0");
            const __int128 base = static_cast<__int128>(in - 1) * st - op.pad_begin[s] -
                                  op.pad_end[s] + static_cast<__int128>(dl) * (k - 1) + 1;
            const __int128 extra = static_cast<__int128>(out) - base;
            if (extra < 0 || extra >= std::max(st, dl))
                invalid(c, "y's spatial extent " + std::to_string(out) + " in dimension " +
                               std::to_string(s) + " does not follow the transposed formula");
        }
        in_vol *= in;
        k_vol *= k;
        out_vol *= out;
    }
    check_mm_types(c, op, x.dtype, w.dtype, bias, y.dtype, false);
    const unsigned __int128 need =
        static_cast<unsigned __int128>(4) * cg * in_vol + 4 * (cg * k_vol + out_vol + 1);
    if (need > c.caps.engine_mem_size)
        unsupported(c, "one output channel of one group needs " +
                           std::to_string(static_cast<uint64_t>(need)) +
                           " bytes, above an engine's local memory (" +
                           std::to_string(c.caps.engine_mem_size) + "); split it spatially");
    npu_pkt_conv pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_CONV_DWORDS);
    pkt.flags = op.flags;
    pkt.groups = op.groups;
    pkt.spatial = spatial;
    set_window(pkt.stride, op.stride, spatial);
    set_window(pkt.dilation, op.dilation, spatial);
    set_window(pkt.pad_begin, op.pad_begin, spatial);
    set_window(pkt.pad_end, op.pad_end, spatial);
    pkt.act = {op.act.fn, bits(op.act.alpha), bits(op.act.beta), 0};
    pkt.quant = {op.quant.a_zero, op.quant.b_zero, bits(op.quant.y_scale), op.quant.y_zero};
    pkt.x = desc(x);
    pkt.w = desc(w);
    pkt.bias = desc(bias);
    pkt.y = desc(y);
    emit(plan, pkt, {{&pkt.x, 0, 0}, {&pkt.w, 1, 0}, {&pkt.bias, 2, 0}, {&pkt.y, 3, 0}});
}

void build_pool(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, false, false, false, true, false);
    if (op.axes || op.axis || op.groups != 1)
        invalid(c, "axes, axis must be 0 and groups 1");
    if (op.fn > NPU_POOL_LP)
        invalid(c, "unknown pool mode " + std::to_string(op.fn));
    if ((op.fn == NPU_POOL_LP) != (op.p != 0))
        invalid(c, "p must be at least 1 for LP pooling and 0 otherwise");
    Tensor x = load(c, "x", ts[0], false), y = load(c, "y", ts[1], false);
    Tensor idx = load(c, "indices", ts[2], true);
    if (x.rank() < 3 || x.rank() > 5)
        invalid(c, "x's rank " + std::to_string(x.rank()) + " is not 3 to 5 (1 to 3 spatial)");
    const auto spatial = static_cast<uint32_t>(x.rank() - 2);
    check_window_params(c, op, spatial, true);
    if (!is_float(x.dtype))
        invalid(c, "x is not a float type");
    if (y.dtype != x.dtype)
        invalid(c, "y's dtype is not x's");
    if (y.rank() != x.rank() || y.ext[0] != x.ext[0] || y.ext[1] != x.ext[1])
        invalid(c, "y is not [N, C, out...] with x's N and C");
    if (idx.present()) {
        if (op.fn != NPU_POOL_MAX)
            invalid(c, "indices only for MAX pooling");
        if (idx.dtype != DType::i64 || idx.ext != y.ext)
            invalid(c, "indices not I64 with y's shape");
    }
    for (const Tensor* t : {&x, &y, &idx})
        require_extents(c, *t);
    for (uint32_t s = 0; s < spatial; ++s) {
        const uint32_t k = op.kernel[s], st = op.stride[s], dl = op.dilation[s];
        const uint64_t window = uint64_t{dl} * (k - 1) + 1;
        if (op.pad_begin[s] >= window || op.pad_end[s] >= window)
            invalid(c, "padding not below the dilated window in spatial dimension " +
                           std::to_string(s));
        const uint64_t in = x.ext[2 + s], out = y.ext[2 + s];
        bool fits = false;
        const uint64_t floor_out = window_out(in, k, st, dl, op.pad_begin[s], op.pad_end[s], &fits);
        if (!fits)
            invalid(c, "the dilated window is larger than the padded input in spatial dimension " +
                           std::to_string(s));
        const uint64_t padded = in + op.pad_begin[s] + op.pad_end[s];
        const bool remainder = (padded - window) % st != 0;
        const bool ceil_ok = remainder && floor_out * st < in + op.pad_begin[s];
        if (out != floor_out && !(ceil_ok && out == floor_out + 1))
            invalid(c, "y's spatial extent " + std::to_string(out) + " in dimension " +
                           std::to_string(s) + " is neither the floor (" +
                           std::to_string(floor_out) + ") nor an allowed ceil size");
    }
    npu_pkt_pool pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_POOL, NPU_PKT_POOL_DWORDS);
    pkt.mode = op.fn;
    pkt.spatial = spatial;
    pkt.p = op.p;
    set_window(pkt.kernel, op.kernel, spatial);
    set_window(pkt.stride, op.stride, spatial);
    set_window(pkt.dilation, op.dilation, spatial);
    set_window(pkt.pad_begin, op.pad_begin, spatial);
    set_window(pkt.pad_end, op.pad_end, spatial);
    pkt.x = desc(x);
    pkt.y = desc(y);
    pkt.indices = desc(idx);
    emit(plan, pkt, {{&pkt.x, 0, 0}, {&pkt.y, 1, 0}, {&pkt.indices, 2, 0}});
}

bool unary_allowed(uint32_t fn, DType d) {
    if (is_float(d))
        return fn != NPU_FN_NOT && fn != NPU_FN_BITWISE_NOT;
    if (is_int(d))
        return fn == NPU_FN_IDENTITY || fn == NPU_FN_RELU || fn == NPU_FN_NEG || fn == NPU_FN_ABS ||
               fn == NPU_FN_SIGN || fn == NPU_FN_FLOOR || fn == NPU_FN_CEIL || fn == NPU_FN_ROUND ||
               fn == NPU_FN_CLIP || fn == NPU_FN_BITWISE_NOT;
    return fn == NPU_FN_IDENTITY || fn == NPU_FN_NOT;
}

void build_unary_like(PlanData& plan, const Ctx& c, const OpDesc& op,
                      std::span<const TensorDesc> ts) {
    const bool unary = c.kind == OpKind::unary;
    const bool copy = c.kind == OpKind::tensor_copy;
    require_defaults(c, op, copy, false, unary, false, false, copy);
    if (op.axes || op.axis)
        invalid(c, "axes/axis must be 0");
    Tensor x = load(c, "x", ts[0], false), y = load(c, "y", ts[1], false);
    if (unary) {
        if (op.act.fn > NPU_FN_LAST)
            invalid(c, "unknown function " + std::to_string(op.act.fn));
        if (!finite(op.act.alpha) || !finite(op.act.beta))
            invalid(c, "alpha/beta not finite");
        if (!unary_allowed(op.act.fn, x.dtype))
            invalid(c, "function " + std::to_string(op.act.fn) + " not defined on " +
                           dtype_name(x.dtype));
        const bool to_bool = op.act.fn == NPU_FN_ISNAN || op.act.fn == NPU_FN_ISINF;
        if (y.dtype != (to_bool ? DType::boolean : x.dtype))
            invalid(c, std::string("y's dtype must be ") + (to_bool ? "bool" : "x's"));
    }
    if (copy && y.dtype != x.dtype)
        invalid(c, "y's dtype is not x's");
    x = expand(c, x, y.ext, "y");
    npu_pkt_unary up{};
    npu_pkt_tensor_copy tp{};
    npu_pkt_cast cp{};
    up.header = NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS);
    up.act = {op.act.fn, bits(op.act.alpha), bits(op.act.beta), 0};
    tp.header = NPU_PKT_HEADER(NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS);
    tp.mode = NPU_COPY_PLAIN;
    cp.header = NPU_PKT_HEADER(NPU_OP_CAST, NPU_PKT_CAST_DWORDS);
    const auto dims = elementwise_dims(y.ext, {{0, &x}, {1, &y}});
    for_each_packet(c, dims, 0x3, packet_rank, [&](const auto& kept, const auto& delta) {
        const npu_tensor xd = desc_of(x.dtype, 0, kept), yd = desc_of(y.dtype, 1, kept);
        if (unary) {
            up.x = xd;
            up.y = yd;
            emit(plan, up, {{&up.x, 0, delta[0]}, {&up.y, 1, delta[1]}});
        } else if (copy) {
            tp.x = xd;
            tp.y = yd;
            emit(plan, tp, {{&tp.x, 0, delta[0]}, {&tp.y, 1, delta[1]}});
        } else {
            cp.x = xd;
            cp.y = yd;
            emit(plan, cp, {{&cp.x, 0, delta[0]}, {&cp.y, 1, delta[1]}});
        }
    });
}

void build_copy_pad(PlanData& plan, const Ctx& c, const OpDesc& op,
                    std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, false, false, false, false, true);
    if (op.axes || op.axis)
        invalid(c, "axes/axis must be 0");
    if (op.fn > NPU_COPY_PAD_EDGE)
        invalid(c, "unknown copy mode " + std::to_string(op.fn));
    if (op.fn == NPU_COPY_PLAIN && !op.pad_value)
        invalid(c, "PLAIN copies take no copy_offset (x's shape is y's)");
    Tensor x = load(c, "x", ts[0], false), y = load(c, "y", ts[1], false);
    if (x.dtype != y.dtype || x.rank() != y.rank())
        invalid(c, "x and y need the same dtype and rank");
    if (!op.copy_offset.empty() && op.copy_offset.size() != y.rank())
        invalid(c, "copy_offset needs one entry per dimension");
    require_extents(c, x);
    require_extents(c, y);
    const uint64_t esize = dtype_size(y.dtype);
    if (op.fn == NPU_COPY_PAD_CONSTANT) {
        if (esize < 8 && (op.pad_value >> (8 * esize)))
            invalid(c, "pad_value has bits above y's element size");
        if (y.dtype == DType::boolean && op.pad_value > 1)
            invalid(c, "pad_value of a bool must be 0 or 1");
    } else if (op.pad_value) {
        invalid(c, "pad_value only for PAD_CONSTANT");
    }
    npu_pkt_tensor_copy pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS);
    pkt.mode = op.fn;
    pkt.pad_value = op.pad_value;
    const bool y_empty = y.empty();
    for (size_t i = 0; i < y.rank(); ++i) {
        const int64_t off = op.copy_offset.empty() ? 0 : op.copy_offset[i];
        if (off < std::numeric_limits<int32_t>::min() || off > std::numeric_limits<int32_t>::max())
            invalid(c, "copy_offset outside 32 bits");
        pkt.pad_begin[i] = static_cast<int32_t>(off);
        if (y_empty)
            continue;
        const bool outside =
            off > 0 || static_cast<__int128>(y.ext[i]) - off > static_cast<__int128>(x.ext[i]);
        if (op.fn != NPU_COPY_PAD_CONSTANT && x.ext[i] < 1)
            invalid(c, "x's extents must be at least 1 for edge and reflect padding");
        if (op.fn == NPU_COPY_PAD_REFLECT && outside && x.ext[i] < 2)
            invalid(c,
                    "reflection needs x's extent of at least 2 in dimension " + std::to_string(i));
    }
    pkt.x = desc(x);
    pkt.y = desc(y);
    emit(plan, pkt, {{&pkt.x, 0, 0}, {&pkt.y, 1, 0}});
}

void build_binary(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, false, false, false, false, false);
    if (op.axes || op.axis)
        invalid(c, "axes/axis must be 0");
    const uint32_t fn = op.fn;
    if (fn > NPU_BIN_LAST)
        invalid(c, "unknown function " + std::to_string(fn));
    Tensor a = load(c, "a", ts[0], false), b = load(c, "b", ts[1], false);
    Tensor cond = load(c, "cond", ts[2], true), y = load(c, "y", ts[3], false);
    if (b.dtype != a.dtype)
        invalid(c, "b's dtype is not a's");
    if ((fn == NPU_BIN_SELECT) != cond.present())
        invalid(c, fn == NPU_BIN_SELECT ? "select needs cond" : "cond only for select");
    if (cond.present() && cond.dtype != DType::boolean)
        invalid(c, "cond is not bool");
    const DType d = a.dtype;
    bool ok = false;
    DType want = d;
    if (fn <= NPU_BIN_DIV || (fn >= NPU_BIN_POW && fn <= NPU_BIN_FMOD))
        ok = is_float(d) || is_int(d);
    else if (fn == NPU_BIN_MAX || fn == NPU_BIN_MIN || fn == NPU_BIN_SELECT)
        ok = true;
    else if (fn >= NPU_BIN_EQUAL && fn <= NPU_BIN_GREATER_EQUAL) {
        ok = true;
        want = DType::boolean;
    } else if (fn >= NPU_BIN_AND && fn <= NPU_BIN_XOR)
        ok = d == DType::boolean;
    else
        ok = is_int(d);
    if (!ok)
        invalid(c, "function " + std::to_string(fn) + " not defined on " + dtype_name(d));
    if (y.dtype != want)
        invalid(c, std::string("y's dtype must be ") + dtype_name(want));
    a = expand(c, a, y.ext, "y");
    b = expand(c, b, y.ext, "y");
    cond = expand(c, cond, y.ext, "y");
    npu_pkt_binary pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_BINARY, NPU_PKT_BINARY_DWORDS);
    pkt.fn = fn;
    const auto dims = elementwise_dims(y.ext, {{0, &a}, {1, &b}, {2, &cond}, {3, &y}});
    const uint32_t slots = slot_mask({{0, &a}, {1, &b}, {2, &cond}, {3, &y}});
    for_each_packet(c, dims, slots, packet_rank, [&](const auto& kept, const auto& delta) {
        pkt.a = desc_of(a.dtype, 0, kept);
        pkt.b = desc_of(b.dtype, 1, kept);
        pkt.cond = desc_of(cond.dtype, 2, kept);
        pkt.y = desc_of(y.dtype, 3, kept);
        emit(plan, pkt,
             {{&pkt.a, 0, delta[0]},
              {&pkt.b, 1, delta[1]},
              {&pkt.cond, 2, delta[2]},
              {&pkt.y, 3, delta[3]}});
    });
}

// axes as bits of x's dimensions, checked against its rank.
void check_axes(const Ctx& c, uint64_t axes, size_t rank) {
    if (rank < 64 && (axes >> rank))
        invalid(c, "an axes bit at or above x's rank " + std::to_string(rank));
}

// After coalescing, the packet's axes: bits of the kept group-1 dimensions.
uint32_t kept_axes(const std::vector<Dim>& kept) {
    uint32_t axes = 0;
    for (size_t i = 0; i < kept.size(); ++i)
        if (kept[i].group == 1)
            axes |= 1u << i;
    return axes;
}

void build_reduce(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, true, false, false, false, false);
    if (op.axis)
        invalid(c, "axis must be 0 (axes selects the dimensions)");
    const uint32_t fn = op.fn;
    if (fn > NPU_RED_LAST)
        invalid(c, "unknown function " + std::to_string(fn));
    const bool arg = fn == NPU_RED_ARGMAX || fn == NPU_RED_ARGMIN;
    if (op.flags & ~uint32_t{NPU_RED_FLAGS} || (op.flags && !arg))
        invalid(c, "flags only SELECT_LAST, and only for ARGMAX/ARGMIN");
    Tensor x = load(c, "x", ts[0], false), y = load(c, "y", ts[1], false);
    check_axes(c, op.axes, x.rank());
    const int reduced = std::popcount(op.axes);
    if (arg && reduced != 1)
        invalid(c, "ARGMAX/ARGMIN reduce exactly one axis");
    // y: x's rank with 1 in the reduced dimensions, or those dropped.
    std::vector<uint64_t> want = x.ext;
    for (size_t i = 0; i < x.rank(); ++i)
        if (op.axes >> i & 1)
            want[i] = 1;
    std::vector<int64_t> ystr(x.rank(), 0);
    if (y.rank() == x.rank()) {
        if (y.ext != want)
            invalid(c, "y's shape " + shape_str(y.ext) + " is not " + shape_str(want));
        ystr = y.str;
    } else if (y.rank() + reduced == x.rank()) {
        size_t j = 0;
        for (size_t i = 0; i < x.rank(); ++i) {
            if (op.axes >> i & 1)
                continue;
            if (y.ext[j] != x.ext[i])
                invalid(c, "y's shape " + shape_str(y.ext) +
                               " is not x's without the reduced "
                               "dimensions");
            ystr[i] = y.str[j++];
        }
    } else {
        invalid(c, "y's rank is neither x's nor x's minus the reduced dimensions");
    }
    const DType d = x.dtype;
    bool ok = is_float(d);
    if (is_int(d))
        ok = fn != NPU_RED_L2 && fn != NPU_RED_LOG_SUM && fn != NPU_RED_LOG_SUM_EXP;
    if (d == DType::boolean)
        ok = fn == NPU_RED_MAX || fn == NPU_RED_MIN || arg;
    if (!ok)
        invalid(c, "function " + std::to_string(fn) + " not defined on " + dtype_name(d));
    if (arg ? (y.dtype != DType::i32 && y.dtype != DType::i64) : y.dtype != d)
        invalid(c, arg ? "y must be I32 or I64" : "y's dtype is not x's");
    if (y.empty())
        return;
    if (arg)
        for (size_t i = 0; i < x.rank(); ++i)
            if ((op.axes >> i & 1) && !x.ext[i])
                invalid(c, "ARGMAX/ARGMIN over an empty axis");
    std::vector<Dim> dims(x.rank());
    for (size_t i = 0; i < x.rank(); ++i) {
        const bool red = op.axes >> i & 1;
        dims[i].ext = x.ext[i];
        dims[i].group = red ? 1 : 0;
        dims[i].one_mask = red ? 2u : 0u;
        dims[i].s = {x.str[i], red ? 0 : ystr[i]};
    }
    npu_pkt_reduce pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS);
    pkt.fn = fn;
    pkt.flags = op.flags;
    for_each_packet(c, dims, 0x3, packet_rank, [&](const auto& kept, const auto& delta) {
        pkt.axes = kept_axes(kept);
        pkt.x = desc_of(x.dtype, 0, kept);
        pkt.y = desc_of(y.dtype, 1, kept);
        emit(plan, pkt, {{&pkt.x, 0, delta[0]}, {&pkt.y, 1, delta[1]}});
    });
}

void build_norm(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, false, false, false, false, false);
    if (op.axis)
        invalid(c, "axis must be 0 (axes selects the dimensions)");
    const uint32_t fn = op.fn;
    if (fn > NPU_NORM_LAST)
        invalid(c, "unknown function " + std::to_string(fn));
    Tensor x = load(c, "x", ts[0], false);
    Tensor t[4] = {load(c, "scale", ts[1], true), load(c, "bias", ts[2], true),
                   load(c, "mean", ts[3], true), load(c, "var", ts[4], true)};
    Tensor y = load(c, "y", ts[5], false);
    if (!is_float(x.dtype) || !is_float(y.dtype))
        invalid(c, "x and y must be float types");
    if (y.ext != x.ext)
        invalid(c, "y's shape is not x's");
    check_axes(c, op.axes, x.rank());
    const bool softmax = fn == NPU_NORM_SOFTMAX || fn == NPU_NORM_LOG_SOFTMAX;
    const bool batch = fn == NPU_NORM_BATCH;
    if (batch ? op.axes != 0 : op.axes == 0)
        invalid(c, batch ? "BATCH takes no axes" : "at least one axis");
    if (!softmax && !finite(op.epsilon))
        invalid(c, "epsilon not finite");
    if (softmax && (t[0].present() || t[1].present()))
        invalid(c, "scale and bias only for NORMALIZE and BATCH");
    if (batch && (!t[0].present() || !t[1].present()))
        invalid(c, "BATCH needs scale and bias");
    if (batch != t[2].present() || batch != t[3].present())
        invalid(c, "mean and var go with BATCH, and only with it");
    for (Tensor& p : t) {
        if (p.present() && !is_float(p.dtype))
            invalid(c, std::string(p.name) + " is not a float type");
        p = expand(c, p, x.ext, "x");
    }
    std::vector<Dim> dims(x.rank());
    uint32_t slots = 0x21;
    for (uint32_t i = 0; i < 4; ++i)
        if (t[i].present())
            slots |= 1u << (1 + i);
    for (size_t i = 0; i < x.rank(); ++i) {
        dims[i].ext = x.ext[i];
        dims[i].group = (op.axes >> i & 1) ? 1 : 0;
        dims[i].s[0] = x.str[i];
        for (uint32_t j = 0; j < 4; ++j)
            dims[i].s[1 + j] = t[j].present() ? t[j].str[i] : 0;
        dims[i].s[5] = y.str[i];
    }
    if (y.empty())
        return;
    npu_pkt_norm pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_NORM, NPU_PKT_NORM_DWORDS);
    pkt.fn = fn;
    pkt.epsilon = softmax ? 0 : bits(op.epsilon);
    for_each_packet(c, dims, slots, packet_rank, [&](const auto& kept, const auto& delta) {
        pkt.axes = kept_axes(kept);
        pkt.x = desc_of(x.dtype, 0, kept);
        pkt.scale = desc_of(t[0].dtype, 1, kept);
        pkt.bias = desc_of(t[1].dtype, 2, kept);
        pkt.mean = desc_of(t[2].dtype, 3, kept);
        pkt.var = desc_of(t[3].dtype, 4, kept);
        pkt.y = desc_of(y.dtype, 5, kept);
        emit(plan, pkt,
             {{&pkt.x, 0, delta[0]},
              {&pkt.scale, 1, delta[1]},
              {&pkt.bias, 2, delta[2]},
              {&pkt.mean, 3, delta[3]},
              {&pkt.var, 4, delta[4]},
              {&pkt.y, 5, delta[5]}});
    });
}

void build_gather(PlanData& plan, const Ctx& c, const OpDesc& op, std::span<const TensorDesc> ts) {
    require_defaults(c, op, true, false, false, false, false, false);
    if (op.axes)
        invalid(c, "axes must be 0 (axis selects the dimension)");
    if (op.fn > NPU_GATHER_ELEMENTS)
        invalid(c, "unknown gather mode " + std::to_string(op.fn));
    Tensor x = load(c, "x", ts[0], false), idx = load(c, "indices", ts[1], false);
    Tensor y = load(c, "y", ts[2], false);
    if (op.axis >= x.rank())
        invalid(c, "axis " + std::to_string(op.axis) + " not below x's rank");
    if (idx.dtype != DType::i32 && idx.dtype != DType::i64)
        invalid(c, "indices must be I32 or I64");
    if (y.dtype != x.dtype)
        invalid(c, "y's dtype is not x's");
    std::vector<uint64_t> want;
    if (op.fn == NPU_GATHER_TAKE) {
        want.assign(x.ext.begin(), x.ext.begin() + op.axis);
        want.insert(want.end(), idx.ext.begin(), idx.ext.end());
        want.insert(want.end(), x.ext.begin() + op.axis + 1, x.ext.end());
    } else {
        if (idx.rank() != x.rank())
            invalid(c, "indices need x's rank");
        for (size_t i = 0; i < x.rank(); ++i)
            if (i != op.axis && idx.ext[i] > x.ext[i])
                invalid(c, "indices' extent above x's in dimension " + std::to_string(i));
        want = idx.ext;
    }
    if (y.ext != want)
        invalid(c, "y's shape " + shape_str(y.ext) + " is not " + shape_str(want));
    for (const Tensor* t : {&x, &idx, &y})
        require_extents(c, *t);
    npu_pkt_gather pkt{};
    pkt.header = NPU_PKT_HEADER(NPU_OP_GATHER, NPU_PKT_GATHER_DWORDS);
    pkt.mode = op.fn;
    pkt.axis = op.axis;
    pkt.x = desc(x);
    pkt.indices = desc(idx);
    pkt.y = desc(y);
    emit(plan, pkt, {{&pkt.x, 0, 0}, {&pkt.indices, 1, 0}, {&pkt.y, 2, 0}});
}

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
