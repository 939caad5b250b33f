// Planning UNARY, CAST, TENSOR_COPY, BINARY, REDUCE, NORM and GATHER: their checks and packets.
#include <algorithm>
#include <cerrno>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "ops_encode_internal.hpp"

namespace npu::ops::detail {

// ---- per kind -------------------------------------------------------------

namespace {

bool unary_allowed(uint32_t fn, DType d) {
    if (is_float(d))
        return fn != NPU_FN_NOT && fn != NPU_FN_BITWISE_NOT;
    if (is_int(d))
        return fn == NPU_FN_IDENTITY || fn == NPU_FN_RELU || fn == NPU_FN_NEG || fn == NPU_FN_ABS ||
               fn == NPU_FN_SIGN || fn == NPU_FN_FLOOR || fn == NPU_FN_CEIL || fn == NPU_FN_ROUND ||
               fn == NPU_FN_CLIP || fn == NPU_FN_BITWISE_NOT;
    return fn == NPU_FN_IDENTITY || fn == NPU_FN_NOT;
}

} // namespace

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

namespace {

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

} // namespace

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

} // namespace npu::ops::detail
