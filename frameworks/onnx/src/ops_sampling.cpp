// Lowerings: spatial resampling. Resize and Upsample (one GEMM per resized
// axis with its interpolation matrix, computed from the shapes alone),
// GridSample and RoiAlign (coordinates and weights computed on the device,
// neighbours gathered with GatherElements).
#include <algorithm>
#include <cmath>

#include "ops_common.hpp"

namespace npu_onnx {

using namespace lower;

namespace {

// ---- Resize ---------------------------------------------------------------

// The [out, in] interpolation matrix of one axis, following the ONNX
// reference (coordinate transformation, neighbours clamped to the edge,
// exclude_outside renormalisation).
std::vector<double> resize_matrix(const Builder& b, int64_t in, int64_t out, double scale,
                                  const std::string& mode, const std::string& coord,
                                  const std::string& nearest, double cubic_a, bool exclude_outside,
                                  double roi_start, double roi_end, std::vector<bool>* outside) {
    std::vector<double> w(static_cast<size_t>(out * in), 0.0);
    const double out_w = scale * static_cast<double>(in);
    for (int64_t o = 0; o < out; ++o) {
        const auto x = static_cast<double>(o);
        double xo;
        if (coord == "align_corners")
            xo = out_w == 1 ? 0.0 : x * static_cast<double>(in - 1) / (out_w - 1);
        else if (coord == "asymmetric")
            xo = x / scale;
        else if (coord == "pytorch_half_pixel")
            xo = out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
        else if (coord == "half_pixel")
            xo = (x + 0.5) / scale - 0.5;
        else if (coord == "tf_half_pixel_for_nn")
            xo = (x + 0.5) / scale;
        else if (coord == "tf_crop_and_resize")
            xo = out_w > 1
                     ? roi_start * static_cast<double>(in - 1) +
                           x * (roi_end - roi_start) * static_cast<double>(in - 1) / (out_w - 1)
                     : 0.5 * (roi_start + roi_end) * static_cast<double>(in - 1);
        else
            b.unsupported("coordinate_transformation_mode " + coord);
        if (outside && (xo < 0 || xo > static_cast<double>(in - 1))) {
            (*outside)[static_cast<size_t>(o)] = true;
            continue; // the extrapolation value, selected afterwards
        }
        const double fl = std::floor(xo);
        const double ratio = xo == fl ? 1.0 : xo - fl;
        std::vector<double> c;
        if (mode == "nearest") {
            if (ratio == 1.0)
                c = {0, 1};
            else if (nearest == "round_prefer_floor")
                c = {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
            else if (nearest == "round_prefer_ceil")
                c = {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
            else if (nearest == "floor")
                c = {1, 0};
            else if (nearest == "ceil")
                c = {0, 1};
            else
                b.unsupported("nearest_mode " + nearest);
        } else if (mode == "linear") {
            c = {1 - ratio, ratio};
        } else if (mode == "cubic") {
            const double A = cubic_a, r = ratio;
            c = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                 ((A + 2) * r - (A + 3)) * r * r + 1,
                 ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                 ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A};
        } else {
            b.unsupported("Resize mode " + mode);
        }
        const auto n = static_cast<int64_t>(c.size());
        const int64_t base = static_cast<int64_t>(std::ceil(xo)) - n / 2;
        if (exclude_outside) {
            double sum = 0;
            for (int64_t m = 0; m < n; ++m) {
                if (base + m < 0 || base + m >= in)
                    c[static_cast<size_t>(m)] = 0;
                sum += c[static_cast<size_t>(m)];
            }
            if (sum != 0)
                for (auto& v : c)
                    v /= sum;
        }
        for (int64_t m = 0; m < n; ++m) {
            const int64_t i = std::clamp<int64_t>(base + m, 0, in - 1);
            w[static_cast<size_t>(o * in + i)] += c[static_cast<size_t>(m)];
        }
    }
    return w;
}

// Resize with scales or sizes known while planning: each resized axis is a
// GEMM with its interpolation matrix (computed from the shapes alone),
// broadcast over the axes before it.
void lower_resize(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    if (!is_float(x.dtype))
        b.unsupported("Resize of a non-float x");
    const size_t r = x.shape.size();
    std::vector<double> scales;
    std::vector<int64_t> sizes;
    // Upsample and Resize-10: scales (attribute before opset 9, else
    // input 1), asymmetric coordinates, nearest rounding down.
    const bool v10 = b.node().op_type() == "Upsample" || b.opset() < 11;
    if (b.node().op_type() == "Upsample" && b.has_attr("scales")) {
        for (float v : b.attr_floats("scales", {}))
            scales.push_back(v);
    } else if (v10) {
        scales = const_doubles(b, 1, "scales");
    } else {
        if (b.input_count() > 3 && b.has_input(3) &&
            (!b.input(3).constant || b.input(3).constant->elements() > 0))
            sizes = const_ints(b, 3, "sizes");
        else
            scales = const_doubles(b, 2, "scales");
    }
    const std::string mode = b.attr_string("mode", "nearest");
    const std::string coord = v10 ? std::string("asymmetric")
                                  : b.attr_string("coordinate_transformation_mode", "half_pixel");
    const std::string nearest =
        v10 ? std::string("floor") : b.attr_string("nearest_mode", "round_prefer_floor");
    const double cubic_a = b.attr_float("cubic_coeff_a", -0.75f);
    const bool excl = b.attr_int("exclude_outside", 0) != 0;
    if (b.has_attr("axes") || b.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
        b.unsupported("Resize axes / keep_aspect_ratio_policy");
    std::vector<int64_t> out(r);
    if (!sizes.empty()) {
        if (sizes.size() != r)
            b.unsupported("sizes' length differs from the rank");
        out = sizes;
        scales.resize(r);
        for (size_t i = 0; i < r; ++i)
            scales[i] = static_cast<double>(out[i]) / static_cast<double>(x.shape[i]);
    } else {
        if (scales.size() != r)
            b.unsupported("scales' length differs from the rank");
        for (size_t i = 0; i < r; ++i)
            out[i] = static_cast<int64_t>(std::floor(static_cast<double>(x.shape[i]) * scales[i]));
    }
    int y = b.define_output(0, x.dtype, out);
    if (product(out) == 0)
        return;
    // axes whose matrix is not the identity
    const bool crop = coord == "tf_crop_and_resize";
    std::vector<double> roi;
    if (crop) {
        roi = const_doubles(b, 1, "roi");
        if (roi.size() != 2 * r)
            b.unsupported("roi's length");
    }
    std::vector<std::vector<bool>> outside(r);
    std::vector<size_t> axes;
    std::vector<std::vector<double>> mats(r);
    for (size_t i = 0; i < r; ++i) {
        outside[i].assign(static_cast<size_t>(out[i]), false);
        mats[i] =
            resize_matrix(b, x.shape[i], out[i], scales[i], mode, coord, nearest, cubic_a, excl,
                          crop ? roi[i] : 0, crop ? roi[r + i] : 1, crop ? &outside[i] : nullptr);
        bool identity = out[i] == x.shape[i];
        for (int64_t o = 0; identity && o < out[i]; ++o)
            for (int64_t j = 0; identity && j < x.shape[i]; ++j)
                identity = mats[i][static_cast<size_t>(o * x.shape[i] + j)] == (o == j ? 1.0 : 0.0);
        if (!identity)
            axes.push_back(i);
    }
    // tf_crop_and_resize: positions outside the input on any axis take the
    // extrapolation value (a select against a mask of the output's shape).
    int res = y;
    std::vector<int64_t> outmask;
    if (crop) {
        outmask.assign(static_cast<size_t>(product(out)), 0);
        auto st = contiguous_strides(out);
        for (size_t e = 0; e < outmask.size(); ++e)
            for (size_t i = 0; i < r; ++i)
                if (outside[i][static_cast<size_t>((static_cast<int64_t>(e) / st[i]) % out[i])])
                    outmask[e] = 1;
        res = b.temporary(x.dtype, out);
    }
    Operand cur = b.whole(b.input_id(0));
    auto shape = x.shape;
    if (axes.empty() && !crop) {
        emit_copy(b, cur, b.whole(y));
        return;
    }
    for (size_t k = 0; k < axes.size(); ++k) {
        const size_t a = axes[k];
        const int64_t outer = product(shape, 0, a), in = shape[a], inner = product(shape, a + 1);
        auto next = shape;
        next[a] = out[a];
        int dst = k + 1 == axes.size() ? res : b.temporary(x.dtype, next);
        int wm = b.device_constant(HostTensor::from_double(x.dtype, {out[a], in}, mats[a]));
        Operand src = cur;
        src.desc = TensorDesc::contiguous(x.dtype, {outer, in, inner});
        b.emit(OpDesc::gemm(), {view(b, wm, {outer, out[a], in}, {0, in, 1}), src, Operand{},
                                reshaped(b, dst, {outer, out[a], inner})});
        cur = b.whole(dst);
        shape = next;
    }
    if (crop) {
        int mk = b.device_constant(HostTensor::from_int64(DType::boolean, out, outmask));
        int ev = scalar_constant(b, x.dtype, b.attr_float("extrapolation_value", 0.0f));
        b.emit(OpDesc::binary(NPU_BIN_SELECT),
               {broadcast_to(b.whole(ev), out), axes.empty() ? cur : b.whole(res), b.whole(mk),
                b.whole(y)});
    }
}

// GridSample (opset 16; bilinear, nearest or bicubic; zeros, border or
// reflection padding), as PyTorch defines it: the grid's coordinates are
// unnormalised and padded on the device; each neighbour's flat position is
// gathered with GatherElements from x seen as [N, C, H*W], weighted (0
// outside x) and summed.
void lower_grid_sample(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& g = need_input(b, 1);
    if (x.shape.size() != 4 || g.shape.size() != 4 || g.shape[3] != 2 || x.dtype != DType::f32 ||
        g.dtype != DType::f32)
        b.unsupported("GridSample other than 2-D f32");
    const std::string mode = b.attr_string("mode", "bilinear");
    const std::string pad = b.attr_string("padding_mode", "zeros");
    if ((mode != "bilinear" && mode != "nearest" && mode != "bicubic") ||
        (pad != "zeros" && pad != "border" && pad != "reflection"))
        b.unsupported("GridSample mode " + mode + " / padding " + pad);
    const bool align = b.attr_int("align_corners", 0) != 0;
    const DType f = DType::f32;
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3],
                  p = g.shape[1] * g.shape[2];
    int y = b.define_output(0, f, {n, c, g.shape[1], g.shape[2]});
    if (n * c * p == 0)
        return;
    const std::vector<int64_t> ps{n, p}, cs{n, c, p};
    auto tmp = [&] { return b.whole(b.temporary(f, ps)); };
    auto sc = [&](double v) { return broadcast_to(b.whole(scalar_constant(b, f, v)), ps); };
    // unnormalised coordinate along one axis of extent size
    auto unnorm = [&](int64_t comp, int64_t size) {
        Operand gv = view(b, b.input_id(1), ps, {p * 2, 2}, comp);
        Operand a = tmp(), m = tmp(), r = tmp();
        emit_binary(b, NPU_BIN_ADD, gv, sc(1), a);
        emit_binary(b, NPU_BIN_MUL, a,
                    sc(align ? static_cast<double>(size - 1) / 2 : static_cast<double>(size) / 2),
                    m);
        emit_binary(b, NPU_BIN_ADD, m, sc(align ? 0.0 : -0.5), r);
        return r;
    };
    // border and reflection padding of a coordinate
    auto apply_pad = [&](Operand r, int64_t size) {
        if (pad == "reflection") {
            // PyTorch's reflect_coordinates over [lo, hi] (align: [0, size - 1],
            // else [-0.5, size - 0.5]), then clamped into x.
            const double lo = align ? 0.0 : -0.5;
            const double span = align ? static_cast<double>(size - 1) : static_cast<double>(size);
            if (span > 0) {
                Operand d = tmp(), ad = tmp(), extra = tmp(), q = tmp(), flips = tmp(), par = tmp(),
                        even = b.whole(b.temporary(DType::boolean, ps)), up = tmp(), down = tmp(),
                        dn = tmp(), sel = tmp();
                emit_binary(b, NPU_BIN_SUB, r, sc(lo), d);
                emit_unary(b, NPU_FN_ABS, d, ad);
                emit_binary(b, NPU_BIN_FMOD, ad, sc(span), extra);
                emit_binary(b, NPU_BIN_DIV, ad, sc(span), q);
                emit_unary(b, NPU_FN_FLOOR, q, flips);
                emit_binary(b, NPU_BIN_FMOD, flips, sc(2), par);
                emit_binary(b, NPU_BIN_EQUAL, par, sc(0), even);
                emit_binary(b, NPU_BIN_ADD, extra, sc(lo), up);
                emit_binary(b, NPU_BIN_SUB, sc(span), extra, down);
                emit_binary(b, NPU_BIN_ADD, down, sc(lo), dn);
                b.emit(OpDesc::binary(NPU_BIN_SELECT), {up, dn, even, sel});
                r = sel;
            }
        }
        if (pad == "border" || pad == "reflection") {
            Operand cl = tmp();
            emit_unary(b, NPU_FN_CLIP, r, cl, 0.0f, static_cast<float>(size - 1));
            r = cl;
        }
        return r;
    };
    auto coord = [&](int64_t comp, int64_t size) { return apply_pad(unnorm(comp, size), size); };
    struct Corner {
        Operand xk, yk, wt; // wt absent: 1
    };
    std::vector<Corner> corners;
    if (mode == "bicubic") {
        // PyTorch: taps floor(i) - 1 .. floor(i) + 2, each padded on its own,
        // with the cubic convolution weights (A = -0.75) of t = i - floor(i).
        const double A = -0.75;
        auto taps = [&](int64_t comp, int64_t size, std::vector<Operand>& pos,
                        std::vector<Operand>& wts) {
            Operand i = unnorm(comp, size), fl = tmp(), t = tmp();
            emit_unary(b, NPU_FN_FLOOR, i, fl);
            emit_binary(b, NPU_BIN_SUB, i, fl, t);
            // cc1(x) = ((A + 2) x - (A + 3)) x^2 + 1; cc2(x) = ((A x - 5A) x + 8A) x - 4A
            auto cc1 = [&](const Operand& x) {
                Operand a = tmp(), s1 = tmp(), m1 = tmp(), m2 = tmp(), r = tmp();
                emit_binary(b, NPU_BIN_MUL, x, sc(A + 2), a);
                emit_binary(b, NPU_BIN_SUB, a, sc(A + 3), s1);
                emit_binary(b, NPU_BIN_MUL, s1, x, m1);
                emit_binary(b, NPU_BIN_MUL, m1, x, m2);
                emit_binary(b, NPU_BIN_ADD, m2, sc(1), r);
                return r;
            };
            auto cc2 = [&](const Operand& x) {
                Operand a = tmp(), s1 = tmp(), m1 = tmp(), a2 = tmp(), m2 = tmp(), r = tmp();
                emit_binary(b, NPU_BIN_MUL, x, sc(A), a);
                emit_binary(b, NPU_BIN_SUB, a, sc(5 * A), s1);
                emit_binary(b, NPU_BIN_MUL, s1, x, m1);
                emit_binary(b, NPU_BIN_ADD, m1, sc(8 * A), a2);
                emit_binary(b, NPU_BIN_MUL, a2, x, m2);
                emit_binary(b, NPU_BIN_SUB, m2, sc(4 * A), r);
                return r;
            };
            Operand tp1 = tmp(), om = tmp(), tw = tmp();
            emit_binary(b, NPU_BIN_ADD, t, sc(1), tp1);
            emit_binary(b, NPU_BIN_SUB, sc(1), t, om);
            emit_binary(b, NPU_BIN_SUB, sc(2), t, tw);
            wts = {cc2(tp1), cc1(t), cc1(om), cc2(tw)};
            for (int k = 0; k < 4; ++k) {
                Operand q = tmp();
                emit_binary(b, NPU_BIN_ADD, fl, sc(k - 1), q);
                pos.push_back(apply_pad(q, size));
            }
        };
        std::vector<Operand> xs, wxs, ys, wys;
        taps(0, w, xs, wxs);
        taps(1, h, ys, wys);
        for (int j = 0; j < 4; ++j)
            for (int i = 0; i < 4; ++i) {
                Operand wt = tmp();
                emit_binary(b, NPU_BIN_MUL, wxs[static_cast<size_t>(i)],
                            wys[static_cast<size_t>(j)], wt);
                corners.push_back({xs[static_cast<size_t>(i)], ys[static_cast<size_t>(j)], wt});
            }
    }
    Operand ix, iy;
    if (mode != "bicubic") {
        ix = coord(0, w);
        iy = coord(1, h);
    }
    if (mode == "nearest") {
        Operand xr = tmp(), yr = tmp();
        emit_unary(b, NPU_FN_ROUND, ix, xr);
        emit_unary(b, NPU_FN_ROUND, iy, yr);
        corners.push_back({xr, yr, Operand{}});
    } else if (mode == "bilinear") {
        Operand x0 = tmp(), x1 = tmp(), y0 = tmp(), y1 = tmp(), wx1 = tmp(), wx0 = tmp(),
                wy1 = tmp(), wy0 = tmp();
        emit_unary(b, NPU_FN_FLOOR, ix, x0);
        emit_unary(b, NPU_FN_FLOOR, iy, y0);
        emit_binary(b, NPU_BIN_ADD, x0, sc(1), x1);
        emit_binary(b, NPU_BIN_ADD, y0, sc(1), y1);
        emit_binary(b, NPU_BIN_SUB, ix, x0, wx1);
        emit_binary(b, NPU_BIN_SUB, sc(1), wx1, wx0);
        emit_binary(b, NPU_BIN_SUB, iy, y0, wy1);
        emit_binary(b, NPU_BIN_SUB, sc(1), wy1, wy0);
        for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
                Operand wt = tmp();
                emit_binary(b, NPU_BIN_MUL, dx ? wx1 : wx0, dy ? wy1 : wy0, wt);
                corners.push_back({dx ? x1 : x0, dy ? y1 : y0, wt});
            }
    }
    Operand acc;
    Operand xv = reshaped(b, b.input_id(0), {n, c, h * w});
    for (size_t k = 0; k < corners.size(); ++k) {
        const Corner& cr = corners[k];
        auto btmp = [&] { return b.whole(b.temporary(DType::boolean, ps)); };
        Operand v0 = btmp(), v1 = btmp(), v2 = btmp(), v3 = btmp(), a0 = btmp(), a1 = btmp(),
                valid = btmp();
        emit_binary(b, NPU_BIN_GREATER_EQUAL, cr.xk, sc(0), v0);
        emit_binary(b, NPU_BIN_LESS_EQUAL, cr.xk, sc(static_cast<double>(w - 1)), v1);
        emit_binary(b, NPU_BIN_GREATER_EQUAL, cr.yk, sc(0), v2);
        emit_binary(b, NPU_BIN_LESS_EQUAL, cr.yk, sc(static_cast<double>(h - 1)), v3);
        emit_binary(b, NPU_BIN_AND, v0, v1, a0);
        emit_binary(b, NPU_BIN_AND, v2, v3, a1);
        emit_binary(b, NPU_BIN_AND, a0, a1, valid);
        Operand xc = tmp(), yc = tmp(), row = tmp(), flat = tmp(), wv = tmp();
        emit_unary(b, NPU_FN_CLIP, cr.xk, xc, 0.0f, static_cast<float>(w - 1));
        emit_unary(b, NPU_FN_CLIP, cr.yk, yc, 0.0f, static_cast<float>(h - 1));
        emit_binary(b, NPU_BIN_MUL, yc, sc(static_cast<double>(w)), row);
        emit_binary(b, NPU_BIN_ADD, row, xc, flat);
        int fi = b.temporary(DType::i64, ps);
        b.emit(OpDesc::cast(), {flat, b.whole(fi)});
        b.emit(OpDesc::binary(NPU_BIN_SELECT),
               {cr.wt.value >= 0 ? cr.wt : sc(1), sc(0), valid, wv});
        int gathered = b.temporary(f, cs);
        b.emit(OpDesc::gather(NPU_GATHER_ELEMENTS, 2),
               {xv, view(b, fi, cs, {p, 0, 1}), b.whole(gathered)});
        Operand wb = wv;
        wb.desc = TensorDesc::strided(f, cs, {p, 0, 1});
        const bool last = k + 1 == corners.size();
        Operand term = last && acc.value < 0 ? reshaped(b, y, cs) : b.whole(b.temporary(f, cs));
        emit_binary(b, NPU_BIN_MUL, b.whole(gathered), wb, term);
        if (acc.value >= 0) {
            Operand sum = last ? reshaped(b, y, cs) : b.whole(b.temporary(f, cs));
            emit_binary(b, NPU_BIN_ADD, acc, term, sum);
            acc = sum;
        } else {
            acc = term;
        }
    }
}

// RoiAlign (avg mode, fixed sampling_ratio) as onnxruntime computes it:
// the sample coordinates of every roi are computed on the device per axis
// (separable), each of the four bilinear neighbours is gathered from x
// seen channel-major as [C, N*H*W], weighted and summed; the samples of a
// bin are averaged by a REDUCE MEAN and the result transposed to
// [R, C, oh, ow].
void lower_roi_align(Builder& b) {
    const ValueInfo& x = need_input(b, 0);
    const ValueInfo& rois = need_input(b, 1);
    need_input(b, 2);
    if (x.shape.size() != 4 || x.dtype != DType::f32 || rois.dtype != DType::f32 ||
        rois.shape.size() != 2 || rois.shape[1] != 4)
        b.unsupported("RoiAlign other than f32 [N, C, H, W] with [R, 4] rois");
    if (b.attr_string("mode", "avg") != "avg")
        b.unsupported("RoiAlign max mode");
    const int64_t sr = b.attr_int("sampling_ratio", 0);
    if (sr < 1)
        b.unsupported("RoiAlign adaptive sampling (sampling_ratio 0)");
    const int64_t oh = b.attr_int("output_height", 1), ow = b.attr_int("output_width", 1);
    const double scale = b.attr_float("spatial_scale", 1.0f);
    const std::string ctm = b.attr_string("coordinate_transformation_mode", "half_pixel");
    const bool aligned = ctm == "half_pixel";
    if (!aligned && ctm != "output_half_pixel")
        b.unsupported("RoiAlign coordinate_transformation_mode " + ctm);
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], r = rois.shape[0];
    int y = b.define_output(0, DType::f32, {r, c, oh, ow});
    if (r * c * oh * ow == 0)
        return;
    const DType f = DType::f32;
    auto sc = [&](double v, const std::vector<int64_t>& shape) {
        return broadcast_to(b.whole(scalar_constant(b, f, v)), shape);
    };
    // Per axis: the low/high neighbour and their weights, [R, bins * sr].
    struct Axis {
        Operand lo, hi, wlo, whi;
    };
    auto axis = [&](int64_t comp, int64_t bins, int64_t size) {
        const std::vector<int64_t> rs{r}, as{r, bins * sr};
        auto t1 = [&] { return b.whole(b.temporary(f, rs)); };
        auto t2 = [&] { return b.whole(b.temporary(f, as)); };
        auto bt = [&] { return b.whole(b.temporary(DType::boolean, as)); };
        Operand s0 = view(b, b.input_id(1), rs, {4}, comp),
                e0 = view(b, b.input_id(1), rs, {4}, comp + 2);
        Operand start = t1(), end = t1(), s1 = t1(), e1 = t1(), len = t1(), step = t1();
        emit_binary(b, NPU_BIN_MUL, s0, sc(scale, rs), s1);
        emit_binary(b, NPU_BIN_MUL, e0, sc(scale, rs), e1);
        emit_binary(b, NPU_BIN_SUB, s1, sc(aligned ? 0.5 : 0.0, rs), start);
        emit_binary(b, NPU_BIN_SUB, e1, sc(aligned ? 0.5 : 0.0, rs), end);
        emit_binary(b, NPU_BIN_SUB, end, start, len);
        if (!aligned) {
            Operand l2 = t1();
            emit_binary(b, NPU_BIN_MAX, len, sc(1.0, rs), l2);
            len = l2;
        }
        emit_binary(b, NPU_BIN_DIV, len, sc(static_cast<double>(bins * sr), rs), step);
        std::vector<double> u(static_cast<size_t>(bins * sr));
        for (size_t i = 0; i < u.size(); ++i)
            u[i] = static_cast<double>(i) + 0.5;
        int uc = b.device_constant(HostTensor::from_double(f, {bins * sr}, u));
        Operand stepb = view(b, step.value, as, {1, 0}), startb = view(b, start.value, as, {1, 0});
        Operand off = t2(), pos = t2();
        emit_binary(b, NPU_BIN_MUL, broadcast_to(b.whole(uc), as), stepb, off);
        emit_binary(b, NPU_BIN_ADD, startb, off, pos);
        // valid: -1 <= pos <= size
        Operand v0 = bt(), v1 = bt(), valid = bt();
        emit_binary(b, NPU_BIN_GREATER_EQUAL, pos, sc(-1.0, as), v0);
        emit_binary(b, NPU_BIN_LESS_EQUAL, pos, sc(static_cast<double>(size), as), v1);
        emit_binary(b, NPU_BIN_AND, v0, v1, valid);
        Operand pc = t2(), low = t2(), at_end = bt(), lo = t2(), hi0 = t2(), hi = t2(), pe = t2(),
                l = t2(), hw = t2(), lw = t2(), hw2 = t2();
        emit_binary(b, NPU_BIN_MAX, pos, sc(0.0, as), pc);
        emit_unary(b, NPU_FN_FLOOR, pc, low);
        emit_binary(b, NPU_BIN_GREATER_EQUAL, low, sc(static_cast<double>(size - 1), as), at_end);
        Operand last = sc(static_cast<double>(size - 1), as);
        b.emit(OpDesc::binary(NPU_BIN_SELECT), {last, low, at_end, lo});
        emit_binary(b, NPU_BIN_ADD, low, sc(1.0, as), hi0);
        b.emit(OpDesc::binary(NPU_BIN_SELECT), {last, hi0, at_end, hi});
        b.emit(OpDesc::binary(NPU_BIN_SELECT), {last, pc, at_end, pe});
        emit_binary(b, NPU_BIN_SUB, pe, lo, l);
        emit_binary(b, NPU_BIN_SUB, sc(1.0, as), l, hw);
        b.emit(OpDesc::binary(NPU_BIN_SELECT), {l, sc(0.0, as), valid, lw});
        b.emit(OpDesc::binary(NPU_BIN_SELECT), {hw, sc(0.0, as), valid, hw2});
        return Axis{lo, hi, hw2, lw};
    };
    Axis ax = axis(0, ow, w), ay = axis(1, oh, h);
    // sample grid [R, oh*sr, ow*sr]
    const int64_t sy = oh * sr, sx = ow * sr, samples = r * sy * sx;
    const std::vector<int64_t> gs{r, sy, sx};
    auto ybc = [&](const Operand& o) { return view(b, o.value, gs, {sy, 1, 0}); };
    auto xbc = [&](const Operand& o) { return view(b, o.value, gs, {sx, 0, 1}); };
    // x channel-major: [C, N, H*W] -> [C, N*H*W]
    int xt = b.temporary(f, {c, n, h * w});
    emit_copy(b, view(b, b.input_id(0), {c, n, h * w}, {h * w, c * h * w, 1}), b.whole(xt));
    // batch offsets b[r] * H*W as f32 [R]
    int bf = b.temporary(f, {r}), bo = b.temporary(f, {r});
    b.emit(OpDesc::cast(), {b.whole(b.input_id(2)), b.whole(bf)});
    emit_binary(b, NPU_BIN_MUL, b.whole(bf), sc(static_cast<double>(h * w), {r}), b.whole(bo));
    Operand bob = view(b, bo, gs, {1, 0, 0});
    Operand acc;
    const std::vector<int64_t> cs{c, samples};
    for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
            auto t3 = [&] { return b.whole(b.temporary(f, gs)); };
            Operand rowp = t3(), rowb = t3(), flat = t3(), wt = t3();
            emit_binary(b, NPU_BIN_MUL, ybc(dy ? ay.hi : ay.lo), sc(static_cast<double>(w), gs),
                        rowp);
            emit_binary(b, NPU_BIN_ADD, rowp, bob, rowb);
            emit_binary(b, NPU_BIN_ADD, rowb, xbc(dx ? ax.hi : ax.lo), flat);
            emit_binary(b, NPU_BIN_MUL, ybc(dy ? ay.whi : ay.wlo), xbc(dx ? ax.whi : ax.wlo), wt);
            int fi = b.temporary(DType::i64, gs);
            b.emit(OpDesc::cast(), {flat, b.whole(fi)});
            int g = b.temporary(f, cs);
            b.emit(OpDesc::gather(NPU_GATHER_ELEMENTS, 1),
                   {reshaped(b, xt, {c, n * h * w}), view(b, fi, cs, {0, 1}), b.whole(g)});
            Operand term = b.whole(b.temporary(f, cs));
            emit_binary(b, NPU_BIN_MUL, b.whole(g), view(b, wt.value, cs, {0, 1}), term);
            if (acc.value >= 0) {
                Operand sum = b.whole(b.temporary(f, cs));
                emit_binary(b, NPU_BIN_ADD, acc, term, sum);
                acc = sum;
            } else {
                acc = term;
            }
        }
    // [C, R, oh, sr, ow, sr] averaged over the samples of each bin
    const std::vector<int64_t> bins{c, r, oh, sr, ow, sr};
    int avg = b.temporary(f, {c, r, oh, 1, ow, 1});
    b.emit(OpDesc::reduce(NPU_RED_MEAN, (uint64_t{1} << 3) | (uint64_t{1} << 5)),
           {reshaped(b, acc.value, bins), b.whole(avg)});
    emit_copy(b, view(b, avg, {r, c, oh, ow}, {oh * ow, r * oh * ow, ow, 1}), b.whole(y));
}

} // namespace

void register_sampling_ops() {
    add_lowering("Resize", lower_resize);
    add_lowering("Upsample", lower_resize);
    add_lowering("GridSample", lower_grid_sample);
    add_lowering("RoiAlign", lower_roi_align);
}

} // namespace npu_onnx
