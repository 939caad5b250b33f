// Host reference implementations of the operation packets
// (uapi/drm/npu_packet.h, docs/operations.md): plain loops in double and
// int64 with the documented semantics, against which npu_vm_ops_tests
// compares what the device computed. The references read their parameters
// from the very packet the device ran, and their operands as logical
// row-major host tensors (strides, broadcasts and slices already resolved
// by reading the device buffers back), so they know nothing of layouts.
//
// Tolerances (what a device result may differ from the exact value by):
//
//   integer, BOOL and requantised 8-bit results     exact
//   any float result, on top of the rows below      the output dtype's own
//                                                   rounding: 2^-24 (F32),
//                                                   2^-11 (F16), 2^-8 (BF16)
//                                                   of |exact|
//   GEMM / CONV, F32 or F16 operands                1e-4 x sum of |terms|
//   GEMM / CONV, BF16 operands                      1e-2 x sum of |terms|
//   REDUCE accumulations (SUM, MEAN, L1, L2, ...)   1e-4 x sum of |terms|
//   element-wise functions computed in f32          1e-5 x |exact| + 1e-6
//   softmax, normalisations                         1e-4 x (1 + |exact|) etc.
//                                                   (see each test)
//
// "sum of |terms|" is the sum of the magnitudes of everything added up for
// that element (alpha * |a| * |b| over k, plus |beta * c|), the natural
// bound of f32 accumulation error whatever the summation order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "drm/npu_packet.h"

namespace npu_test::ops
{

using Shape = std::vector<uint64_t>;

uint64_t ElementCount(const Shape &shape);
std::vector<uint64_t> RowMajorStrides(const Shape &shape);
std::string ShapeString(const Shape &shape);
Shape ShapeOf(const npu_tensor &t);

// ---- dtypes -------------------------------------------------------------

size_t DtypeSize(uint32_t dtype); // 0 for NONE or unknown
bool IsFloatDtype(uint32_t dtype);
bool IsIntDtype(uint32_t dtype); // I8, U8, I32, I64 (not BOOL)
const char *DtypeName(uint32_t dtype);
int64_t IntDtypeMin(uint32_t dtype); // integer dtypes and BOOL
int64_t IntDtypeMax(uint32_t dtype);
// Largest finite value of a float dtype.
double FloatDtypeMax(uint32_t dtype);

inline constexpr uint32_t kAllDtypes[] = {NPU_DTYPE_F32, NPU_DTYPE_F16, NPU_DTYPE_BF16,
					  NPU_DTYPE_I8,	 NPU_DTYPE_U8,	NPU_DTYPE_I32,
					  NPU_DTYPE_I64, NPU_DTYPE_BOOL};
inline constexpr uint32_t kFloatDtypes[] = {NPU_DTYPE_F32, NPU_DTYPE_F16, NPU_DTYPE_BF16};
inline constexpr uint32_t kIntDtypes[] = {NPU_DTYPE_I8, NPU_DTYPE_U8, NPU_DTYPE_I32, NPU_DTYPE_I64};

// Rounds a real to the nearest value of a float dtype (ties to even,
// overflow to infinity, subnormals kept): what a store of v does.
double RoundToDtype(double v, uint32_t float_dtype);
// The same from an exact integer (one rounding, also beyond 2^53).
double RoundIntToDtype(int64_t v, uint32_t float_dtype);
// Two's complement wrap into an integer dtype; BOOL: v != 0.
int64_t WrapToDtype(int64_t v, uint32_t dtype);
// Clamps into an integer dtype's range.
int64_t SaturateToDtype(int64_t v, uint32_t dtype);

// Bit patterns. Encoders round to nearest even.
uint32_t F32Bits(float f);
float F32FromBits(uint32_t bits);
uint16_t EncodeF16(double v);
double DecodeF16(uint16_t h);
uint16_t EncodeBF16(double v);
double DecodeBF16(uint16_t b);

// ---- host tensors ---------------------------------------------------------

// A dense row-major tensor on the host. Float dtypes keep exact doubles in
// real, the others int64 in ints.
struct HostTensor {
	uint32_t dtype = NPU_DTYPE_F32;
	Shape shape;
	std::vector<double> real;
	std::vector<int64_t> ints;

	HostTensor() = default;
	HostTensor(uint32_t dtype, Shape shape); // zeros

	uint64_t size() const { return ElementCount(shape); }
	bool is_float() const { return IsFloatDtype(dtype); }
	double Real(uint64_t i) const { return is_float() ? real[i] : double(ints[i]); }
	int64_t Int(uint64_t i) const { return is_float() ? int64_t(real[i]) : ints[i]; }
	void SetReal(uint64_t i, double v); // float: stored as is; others: truncated
	void SetInt(uint64_t i, int64_t v); // others: stored as is; float: converted
};

// Deterministic random numbers (splitmix64): a fixed seed per test.
class Rng
{
public:
	explicit Rng(uint64_t seed) : state_(seed) {}
	uint64_t Next();
	double Uniform(double lo, double hi);
	int64_t Int(int64_t lo, int64_t hi); // inclusive

private:
	uint64_t state_;
};

// Uniform values in [lo, hi], rounded to the dtype (integers: whole
// numbers in [lo, hi]; BOOL: 0 or 1).
HostTensor RandomTensor(uint32_t dtype, const Shape &shape, Rng &rng, double lo, double hi);

// ---- expected results -----------------------------------------------------

// The exact result of an operation and, per element, the magnitude its
// error is measured against (empty: |value| itself).
struct Expected {
	HostTensor value;
	std::vector<double> scale;
};

// The computational part of the tolerance; the output dtype's rounding is
// always added on top (see the table at the top of this file).
struct Tolerance {
	double rel = 0; // times the element's scale
	double abs = 0;
};
// Floats too: the stored value must be the exact result rounded to the
// output dtype, bit for bit (copies, casts, max, select, ...).
inline constexpr Tolerance kExact{0, 0};
inline constexpr Tolerance kGemmF32{1e-4, 1e-6};
inline constexpr Tolerance kGemmBF16{1e-2, 1e-4};
inline constexpr Tolerance kReduceF32{1e-4, 1e-6};
inline constexpr Tolerance kEltwiseF32{1e-5, 1e-6};
inline constexpr Tolerance kNormF32{1e-4, 1e-5};

// Compares a device result (read back) with the expectation: integers
// exactly, floats within tol plus the output rounding (kExact: bit for bit,
// the sign of zero included); NaN must match NaN and infinities must match
// exactly. Reports the first mismatches.
::testing::AssertionResult MatchesReference(const HostTensor &got, const Expected &want,
					    Tolerance tol);

// ---- element-wise functions -----------------------------------------------

// NPU_FN_* on a real (float dtypes), alpha and beta as the packet holds them.
double ApplyFn(uint32_t fn, double alpha, double beta, double x);
// The same for an integer or BOOL value of dtype (exact, wrapping; CLIP's
// bounds stored into the dtype, truncated and saturated).
int64_t ApplyFnInt(uint32_t fn, double alpha, double beta, int64_t x, uint32_t dtype);
// NPU_BIN_* on reals / on integers of dtype (comparisons give 0 or 1).
double ApplyBinary(uint32_t fn, double a, double b);
int64_t ApplyBinaryInt(uint32_t fn, int64_t a, int64_t b, uint32_t dtype);
bool IsComparison(uint32_t fn);

// ---- shape arithmetic -------------------------------------------------------

// Output extent of a direct convolution or pooling window (rounded down).
uint64_t WindowOutExtent(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			 uint32_t pad_begin, uint32_t pad_end);
// Ceil mode: rounded up, unless the last window would start past x and
// pad_begin.
uint64_t WindowOutExtentCeil(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			     uint32_t pad_begin, uint32_t pad_end);
// Transposed convolution output extent, without output padding.
uint64_t TransposedOutExtent(uint64_t in, uint32_t kernel, uint32_t stride, uint32_t dilation,
			     uint32_t pad_begin, uint32_t pad_end);

// ---- references, one per opcode ------------------------------------------
// Operands are logical host tensors in the shapes the packet's descriptors
// give (absent optional operands: nullptr); the result has y's dtype and
// shape.

Expected RefGemm(const npu_pkt_gemm &p, const HostTensor &a, const HostTensor &b,
		 const HostTensor *c);
Expected RefConv(const npu_pkt_conv &p, const HostTensor &x, const HostTensor &w,
		 const HostTensor *bias);
// indices (NPU_POOL_MAX): receives the flat index of each maximum.
Expected RefPool(const npu_pkt_pool &p, const HostTensor &x, HostTensor *indices = nullptr);
Expected RefUnary(const npu_pkt_unary &p, const HostTensor &x);
Expected RefBinary(const npu_pkt_binary &p, const HostTensor &a, const HostTensor &b,
		   const HostTensor *cond);
Expected RefReduce(const npu_pkt_reduce &p, const HostTensor &x);
Expected RefNorm(const npu_pkt_norm &p, const HostTensor &x, const HostTensor *scale,
		 const HostTensor *bias, const HostTensor *mean, const HostTensor *var);
Expected RefTensorCopy(const npu_pkt_tensor_copy &p, const HostTensor &x);
Expected RefGather(const npu_pkt_gather &p, const HostTensor &x, const HostTensor &indices);
Expected RefCast(const npu_pkt_cast &p, const HostTensor &x);

// The value an operation stores for an exact real result in an integer
// dtype (requantisation): saturate(round_half_even(v * scale) + zero).
int64_t Requantize(double v, float y_scale, int32_t y_zero, uint32_t dtype);

} // namespace npu_test::ops
