#include "npu_onnx/compare.hpp"

#include <cmath>
#include <sstream>

namespace npu_onnx {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++)
        r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
}

bool is_float(DType d) {
    return d == DType::f32 || d == DType::f16 || d == DType::bf16;
}

} // namespace

Comparison compare(const HostTensor& got, const HostTensor& expected, double rtol, double atol) {
    Comparison c;
    if (got.dtype != expected.dtype) {
        c.ok = false;
        c.message = std::string("dtype ") + npu::ops::dtype_name(got.dtype) + ", expected " +
                    npu::ops::dtype_name(expected.dtype);
        return c;
    }
    if (got.shape != expected.shape) {
        c.ok = false;
        c.message = "shape " + shape_str(got.shape) + ", expected " + shape_str(expected.shape);
        return c;
    }
    if (is_float(got.dtype)) {
        auto g = got.to_double(), e = expected.to_double();
        for (size_t i = 0; i < g.size(); i++) {
            bool match;
            double err = 0;
            if (std::isnan(e[i]) || std::isnan(g[i])) {
                match = std::isnan(e[i]) && std::isnan(g[i]);
            } else if (std::isinf(e[i]) || std::isinf(g[i])) {
                match = g[i] == e[i];
            } else {
                err = std::fabs(g[i] - e[i]);
                match = err <= atol + rtol * std::fabs(e[i]);
                c.max_abs_error = std::max(c.max_abs_error, err);
            }
            if (!match) {
                if (c.ok) {
                    std::ostringstream m;
                    m.precision(9);
                    m << "element " << i << ": got " << g[i] << ", expected " << e[i];
                    c.message = m.str();
                }
                c.ok = false;
                c.mismatches++;
            }
        }
        return c;
    }
    auto g = got.to_int64(), e = expected.to_int64();
    for (size_t i = 0; i < g.size(); i++) {
        if (g[i] != e[i]) {
            if (c.ok)
                c.message = "element " + std::to_string(i) + ": got " + std::to_string(g[i]) +
                            ", expected " + std::to_string(e[i]);
            c.ok = false;
            c.mismatches++;
            c.max_abs_error = std::max(
                c.max_abs_error, std::fabs(static_cast<double>(g[i]) - static_cast<double>(e[i])));
        }
    }
    return c;
}

} // namespace npu_onnx
