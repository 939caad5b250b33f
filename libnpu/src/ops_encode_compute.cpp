// Planning GEMM, CONV and POOL: their checks and packets.
#include <algorithm>
#include <cerrno>
#include <string>

#include <npu/uapi/drm/npu_packet.h>

#include "ops_encode_internal.hpp"

namespace npu::ops::detail {

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

namespace {

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

} // namespace

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

} // namespace npu::ops::detail
