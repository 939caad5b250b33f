// Packet validation rules of POOL, UNARY, BINARY, REDUCE, NORM,
// TENSOR_COPY, GATHER and CAST, run by OpsReject.FailsAtItsPacket
// (ops_reject_test.cpp): BAD_PACKET at the packet, the reason logged.
#include <string>

#include "ops_reject.h"

namespace npu_test::ops
{
namespace
{

using R = OpsReject;
using C = Commands;

const RejectCase kPool[] = {
	{"PoolUnknownMode", "pool: unknown mode",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.mode = NPU_POOL_LP + 1;
		 return Emit(c, p);
	 }},
	{"PoolSpatialFour", "pool: spatial not 1 to 3",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.spatial = 4;
		 return Emit(c, p);
	 }},
	{"PoolPForMax", "pool: p below 1 for LP, or not zero for another mode",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.p = 2;
		 return Emit(c, p);
	 }},
	{"PoolLpOrderZero", "pool: p below 1 for LP, or not zero for another mode",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.mode = NPU_POOL_LP;
		 p.indices = Absent();
		 p.p = 0;
		 return Emit(c, p);
	 }},
	{"PoolMbz", "pool: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.mbz = 1;
		 return Emit(c, p);
	 }},
	{"PoolKernelZero", "pool: kernel, stride or dilation 0, or set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.kernel[1] = 0;
		 return Emit(c, p);
	 }},
	{"PoolKernelBeyondSpatial", "pool: kernel, stride or dilation 0, or set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.kernel[2] = 1;
		 return Emit(c, p);
	 }},
	{"PoolPaddingBeyondSpatial", "pool: padding set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.pad_begin[2] = 1;
		 return Emit(c, p);
	 }},
	{"PoolIntegerX", "pool: x not a float type",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.x.dtype = p.y.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"PoolYDtypeNotX", "pool: y's dtype differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.y.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"PoolRankNotSpatialPlus2", "pool: x or y not of rank spatial + 2",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.spatial = 1;
		 p.kernel[1] = p.stride[1] = p.dilation[1] = 0;
		 return Emit(c, p);
	 }},
	{"PoolChannelsDiffer", "pool: y's N or C differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.y.shape[1] = 1;
		 p.indices.shape[1] = 1;
		 return Emit(c, p);
	 }},
	{"PoolIndicesForAverage", "pool: indices given for a mode other than MAX",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.mode = NPU_POOL_AVG;
		 return Emit(c, p);
	 }},
	{"PoolIndicesI32", "pool: indices not I64",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.indices.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"PoolIndicesShape", "pool: indices' shape differs from y's",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.indices.shape[3] = 2;
		 return Emit(c, p);
	 }},
	{"PoolPaddingNotBelowWindow", "pool: padding not smaller than the dilated window",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.pad_begin[0] = 2; // window 2
		 p.y.shape[2] = p.indices.shape[2] = 4;
		 return Emit(c, p);
	 }},
	{"PoolWindowLargerThanPaddedInput", "pool: dilated window larger than the padded input",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.dilation[1] = 6; // window 7 > 6
		 return Emit(c, p);
	 }},
	{"PoolYExtentWrong",
	 "pool: y's spatial extent is neither the floor nor the ceil output size",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.y.shape[3] = p.indices.shape[3] = 4;
		 return Emit(c, p);
	 }},
	// in 5, kernel 2, stride 3, pad_end 1: floor 2; a third window would
	// start at 6, past x and pad_begin: ceil mode may not add it.
	{"PoolCeilWindowStartingInPadEnd",
	 "pool: y's spatial extent is neither the floor nor the ceil output size",
	 [](R &t, C &c) {
		 auto p = PoolPacket(NPU_POOL_AVG, {2}, t.In(NPU_DTYPE_F32, {1, 1, 5}),
				     t.Out(NPU_DTYPE_F32, {1, 1, 3}));
		 p.stride[0] = 3;
		 p.pad_end[0] = 1;
		 return Emit(c, p);
	 }},
};
const RejectCase kUnary[] = {
	{"UnaryMbz", "unary: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.mbz = 1;
		 return Emit(c, p);
	 }},
	{"UnaryUnknownFunction", "unary act: unknown function",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.act.fn = NPU_FN_LAST + 1;
		 return Emit(c, p);
	 }},
	{"UnaryActMbz", "unary act: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.act.mbz = 0x80000000u;
		 return Emit(c, p);
	 }},
	{"UnaryBetaNan", "unary act: alpha or beta not finite",
	 [](R &t, C &c) {
		 auto p = t.Unary(NPU_FN_CLIP);
		 p.act.beta = kNan;
		 return Emit(c, p);
	 }},
	{"UnaryYShapeDiffers", "unary: y's shape differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.y.shape[1] = 3;
		 return Emit(c, p);
	 }},
	{"UnaryNotOnFloat", "unary: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_NOT)); }},
	{"UnaryBitwiseNotOnFloat", "unary: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_BITWISE_NOT, NPU_DTYPE_BF16)); }},
	{"UnaryExpOnInteger", "unary: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_EXP, NPU_DTYPE_I32)); }},
	{"UnaryIsNanOnInteger", "unary: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_ISNAN, NPU_DTYPE_I8, NPU_DTYPE_BOOL)); }},
	{"UnaryNegOnBool", "unary: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_NEG, NPU_DTYPE_BOOL)); }},
	{"UnaryYDtypeNotX", "unary: y's dtype not x's",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_TANH, NPU_DTYPE_F32, NPU_DTYPE_F16)); }},
	{"UnaryIsNanYNotBool", "unary: y's dtype not x's (BOOL for ISNAN and ISINF)",
	 [](R &t, C &c) { return Emit(c, t.Unary(NPU_FN_ISNAN, NPU_DTYPE_F32)); }},
	{"UnaryYAbsent", "unary y: required but dtype NONE",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.y = Absent();
		 return Emit(c, p);
	 }},
};

const RejectCase kBinary[] = {
	{"BinaryUnknownFunction", "binary: unknown function",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_LAST + 1)); }},
	{"BinaryMbz", "binary: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Binary();
		 p.mbz[1] = 1;
		 return Emit(c, p);
	 }},
	{"BinaryBShapeDiffers", "binary: a's or b's shape differs from y's",
	 [](R &t, C &c) {
		 auto p = t.Binary();
		 p.b.shape[0] = 1; // broadcasting is a zero stride, not extent 1
		 return Emit(c, p);
	 }},
	{"BinaryBDtypeDiffers", "binary: b's dtype differs from a's",
	 [](R &t, C &c) {
		 auto p = t.Binary();
		 p.b.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"BinarySelectWithoutCond", "binary cond: required but dtype NONE",
	 [](R &t, C &c) {
		 auto p = t.Select();
		 p.cond = Absent();
		 return Emit(c, p);
	 }},
	{"BinarySelectCondNotBool", "binary: cond not BOOL",
	 [](R &t, C &c) {
		 auto p = t.Select();
		 p.cond.dtype = NPU_DTYPE_U8;
		 return Emit(c, p);
	 }},
	{"BinarySelectCondShape", "binary: cond's shape differs from y's",
	 [](R &t, C &c) {
		 auto p = t.Select();
		 p.cond.shape[1] = 2;
		 return Emit(c, p);
	 }},
	{"BinaryCondForAdd", "binary: cond given for a function other than SELECT",
	 [](R &t, C &c) {
		 auto p = t.Select();
		 p.fn = NPU_BIN_ADD;
		 return Emit(c, p);
	 }},
	{"BinaryLogicalOnInteger", "binary: function not defined for a's dtype",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_AND, NPU_DTYPE_I32)); }},
	{"BinaryBitwiseOnFloat", "binary: function not defined for a's dtype",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_BITWISE_XOR, NPU_DTYPE_F32)); }},
	{"BinaryShiftOnBool", "binary: function not defined for a's dtype",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_SHIFT_LEFT, NPU_DTYPE_BOOL)); }},
	{"BinaryAddOnBool", "binary: function not defined for a's dtype",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_ADD, NPU_DTYPE_BOOL)); }},
	{"BinaryComparisonYNotBool", "binary: y's dtype not a's (BOOL for comparisons)",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_LESS, NPU_DTYPE_F32)); }},
	{"BinaryAddYBool", "binary: y's dtype not a's (BOOL for comparisons)",
	 [](R &t, C &c) { return Emit(c, t.Binary(NPU_BIN_ADD, NPU_DTYPE_I8, NPU_DTYPE_BOOL)); }},
};

const RejectCase kReduce[] = {
	{"ReduceUnknownFunction", "reduce: unknown function",
	 [](R &t, C &c) {
		 auto p = t.Reduce();
		 p.fn = NPU_RED_LAST + 1;
		 return Emit(c, p);
	 }},
	{"ReduceUnknownFlags", "reduce: unknown flags",
	 [](R &t, C &c) {
		 auto p = t.Reduce(NPU_RED_ARGMAX);
		 p.flags = NPU_RED_FLAGS << 1;
		 return Emit(c, p);
	 }},
	{"ReduceSelectLastForSum", "reduce: SELECT_LAST for a function other than ARGMAX/ARGMIN",
	 [](R &t, C &c) {
		 auto p = t.Reduce();
		 p.flags = NPU_RED_SELECT_LAST;
		 return Emit(c, p);
	 }},
	{"ReduceAxisBeyondRank", "reduce: axes bit at or above x's rank",
	 [](R &t, C &c) {
		 auto p = t.Reduce();
		 p.axes |= 1u << 2;
		 return Emit(c, p);
	 }},
	{"ReduceArgMaxTwoAxes", "reduce: ARGMAX/ARGMIN need exactly one axis",
	 [](R &t, C &c) {
		 auto p = t.Reduce(NPU_RED_ARGMAX);
		 p.axes = 0b11;
		 p.y.shape[0] = 1;
		 return Emit(c, p);
	 }},
	{"ReduceArgMinNoAxis", "reduce: ARGMAX/ARGMIN need exactly one axis",
	 [](R &t, C &c) {
		 auto p = t.Reduce(NPU_RED_ARGMIN);
		 p.axes = 0;
		 p.y.shape[1] = 4;
		 return Emit(c, p);
	 }},
	{"ReduceYRankDiffers", "reduce: y's rank differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Reduce();
		 p.y.rank = 1;
		 p.y.shape[1] = 0;
		 p.y.stride[1] = 0;
		 return Emit(c, p);
	 }},
	{"ReduceYExtentNotOne", "reduce: y's extents not 1 in reduced axes and x's elsewhere",
	 [](R &t, C &c) {
		 auto p = t.Reduce();
		 p.y.shape[1] = 4; // keepdims is not optional
		 return Emit(c, p);
	 }},
	{"ReduceL2OnInteger", "reduce: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Reduce(NPU_RED_L2, NPU_DTYPE_I32)); }},
	{"ReduceSumOnBool", "reduce: function not defined for x's dtype",
	 [](R &t, C &c) { return Emit(c, t.Reduce(NPU_RED_SUM, NPU_DTYPE_BOOL)); }},
	{"ReduceYDtypeNotX", "reduce: y's dtype not x's (I32 or I64 for ARGMAX/ARGMIN)",
	 [](R &t, C &c) {
		 auto p = t.Reduce(NPU_RED_MEAN);
		 p.y.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"ReduceArgMaxYFloat", "reduce: y's dtype not x's (I32 or I64 for ARGMAX/ARGMIN)",
	 [](R &t, C &c) {
		 auto p = t.Reduce(NPU_RED_ARGMAX);
		 p.y.dtype = NPU_DTYPE_F32;
		 return Emit(c, p);
	 }},
	{"ReduceArgMaxOverEmptyAxis", "reduce: ARGMAX/ARGMIN over an empty axis",
	 [](R &t, C &c) {
		 auto p = ReducePacket(NPU_RED_ARGMAX, 0b10, t.In(NPU_DTYPE_F32, {3, 0}),
				       t.Out(NPU_DTYPE_I64, {3, 1}));
		 return Emit(c, p);
	 }},
};

const RejectCase kNorm[] = {
	{"NormUnknownFunction", "norm: unknown function",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.fn = NPU_NORM_LAST + 1;
		 return Emit(c, p);
	 }},
	{"NormAxisBeyondRank", "norm: axes bit at or above x's rank",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.axes = 1u << 31;
		 return Emit(c, p);
	 }},
	{"NormSoftmaxWithoutAxes", "norm: axes empty for a softmax or NORMALIZE, or set for BATCH",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.axes = 0;
		 return Emit(c, p);
	 }},
	{"NormBatchWithAxes", "norm: axes empty for a softmax or NORMALIZE, or set for BATCH",
	 [](R &t, C &c) {
		 auto p = t.BatchNorm();
		 p.axes = 0b01;
		 return Emit(c, p);
	 }},
	{"NormNormalizeEpsilonNan", "norm: epsilon not finite",
	 [](R &t, C &c) {
		 auto p = t.Normalize();
		 p.epsilon = kNan;
		 return Emit(c, p);
	 }},
	{"NormIntegerX", "norm: x not a float type",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.x.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"NormScaleForSoftmax", "norm scale: given for a function that takes none",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.scale = t.In(NPU_DTYPE_F32, {3, 4}).desc;
		 return Emit(c, p);
	 }},
	{"NormBatchWithoutVar", "norm var: required but dtype NONE",
	 [](R &t, C &c) {
		 auto p = t.BatchNorm();
		 p.var = Absent();
		 return Emit(c, p);
	 }},
	{"NormMeanForNormalize", "norm mean: given for a function that takes none",
	 [](R &t, C &c) {
		 auto p = t.Normalize();
		 p.mean = t.In(NPU_DTYPE_F32, {3, 4}).desc;
		 return Emit(c, p);
	 }},
	{"NormScaleInteger", "norm scale: not a float type",
	 [](R &t, C &c) {
		 auto p = t.BatchNorm();
		 p.scale.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"NormBiasShape", "norm bias: shape differs from x's",
	 [](R &t, C &c) {
		 auto p = t.BatchNorm();
		 p.bias.shape[0] = 1; // broadcasting is a zero stride, not extent 1
		 return Emit(c, p);
	 }},
	{"NormYInteger", "norm: y not a float type",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.y.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"NormYShape", "norm: y's shape differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Softmax();
		 p.y.shape[1] = 2;
		 return Emit(c, p);
	 }},
};

const RejectCase kTensorCopy[] = {
	{"CopyUnknownMode", "tensor_copy: unknown mode",
	 [](R &t, C &c) {
		 auto p = t.Plain();
		 p.mode = NPU_COPY_PAD_EDGE + 1;
		 return Emit(c, p);
	 }},
	{"CopyYDtypeDiffers", "tensor_copy: y's dtype differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Plain();
		 p.y.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"CopyYRankDiffers", "tensor_copy: y's rank differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Pad();
		 p.y.rank = 3;
		 p.y.shape[2] = 1;
		 return Emit(c, p);
	 }},
	{"CopyPadBeginForPlain", "tensor_copy: pad_begin set for PLAIN or beyond the rank",
	 [](R &t, C &c) {
		 auto p = t.Plain();
		 p.pad_begin[0] = 1;
		 return Emit(c, p);
	 }},
	{"CopyPadBeginBeyondRank", "tensor_copy: pad_begin set for PLAIN or beyond the rank",
	 [](R &t, C &c) {
		 auto p = t.Pad();
		 p.pad_begin[2] = -1;
		 return Emit(c, p);
	 }},
	{"CopyPadValueWiderThanI8", "tensor_copy: pad_value wider than y's element",
	 [](R &t, C &c) {
		 auto p = t.Pad(NPU_COPY_PAD_CONSTANT, NPU_DTYPE_I8);
		 p.pad_value = 0x1ff;
		 return Emit(c, p);
	 }},
	{"CopyPadValueWiderThanF32", "tensor_copy: pad_value wider than y's element",
	 [](R &t, C &c) {
		 auto p = t.Pad();
		 p.pad_value = 1ull << 32;
		 return Emit(c, p);
	 }},
	{"CopyPadValueBoolTwo", "tensor_copy: pad_value not 0 or 1 for BOOL",
	 [](R &t, C &c) {
		 auto p = t.Pad(NPU_COPY_PAD_CONSTANT, NPU_DTYPE_BOOL);
		 p.pad_value = 2;
		 return Emit(c, p);
	 }},
	{"CopyPadValueForEdge", "tensor_copy: pad_value set for a mode other than PAD_CONSTANT",
	 [](R &t, C &c) {
		 auto p = t.Pad(NPU_COPY_PAD_EDGE);
		 p.pad_value = 1;
		 return Emit(c, p);
	 }},
	{"CopyPlainShapeDiffers", "tensor_copy: y's shape differs from x's for PLAIN",
	 [](R &t, C &c) {
		 auto p = t.Plain();
		 p.y.shape[1] = 2; // a slice is a smaller x, not a smaller y
		 return Emit(c, p);
	 }},
	{"CopyEdgeFromEmptyX", "tensor_copy: x empty where y is not, for REFLECT or EDGE",
	 [](R &t, C &c) {
		 auto p = t.Pad(NPU_COPY_PAD_EDGE);
		 p.x.shape[1] = 0;
		 return Emit(c, p);
	 }},
	{"CopyReflectOfOneElement", "tensor_copy: reflected dimension of x shorter than 2",
	 [](R &t, C &c) {
		 auto p = TensorCopyPacket(NPU_COPY_PAD_REFLECT, t.In(NPU_DTYPE_F32, {3, 1}),
					   t.Out(NPU_DTYPE_F32, {3, 3}));
		 p.pad_begin[1] = 1;
		 return Emit(c, p);
	 }},
};

const RejectCase kGather[] = {
	{"GatherUnknownMode", "gather: unknown mode",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.mode = NPU_GATHER_ELEMENTS + 1;
		 return Emit(c, p);
	 }},
	{"GatherMbz", "gather: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.mbz = 1;
		 return Emit(c, p);
	 }},
	{"GatherAxisNotBelowRank", "gather: axis not below x's rank",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.axis = 2;
		 return Emit(c, p);
	 }},
	{"GatherFloatIndices", "gather: indices not I32 or I64",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.indices.dtype = NPU_DTYPE_F32;
		 return Emit(c, p);
	 }},
	{"GatherYDtypeDiffers", "gather: y's dtype differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.y.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"GatherTakeYRank", "gather: y's rank is not x's - 1 + indices'",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.y.rank = 3;
		 p.y.shape[2] = 1;
		 return Emit(c, p);
	 }},
	{"GatherTakeExtentBeforeAxis", "gather: y's extents differ from x's before axis",
	 [](R &t, C &c) {
		 auto p =
			 GatherPacket(NPU_GATHER_TAKE, 1, t.In(NPU_DTYPE_F32, {4, 3}),
				      t.In(NPU_DTYPE_I64, {2}, 0, 2), t.Out(NPU_DTYPE_F32, {3, 2}));
		 return Emit(c, p);
	 }},
	{"GatherTakeExtentAfterAxis", "gather: y's extents differ from x's after axis",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.y.shape[1] = 2;
		 return Emit(c, p);
	 }},
	{"GatherTakeExtentAtAxis", "gather: y's extents at axis differ from indices'",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.y.shape[0] = 1;
		 return Emit(c, p);
	 }},
	{"GatherElementsIndicesRank", "gather: indices' rank differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Elements();
		 p.indices.rank = 1;
		 p.indices.shape[1] = 0;
		 p.indices.stride[1] = 0;
		 p.y.rank = 1;
		 p.y.shape[1] = 0;
		 p.y.stride[1] = 0;
		 return Emit(c, p);
	 }},
	{"GatherElementsYShape", "gather: y's shape differs from indices'",
	 [](R &t, C &c) {
		 auto p = t.Elements();
		 p.y.shape[0] = 1;
		 return Emit(c, p);
	 }},
	{"GatherElementsIndicesWiderThanX", "gather: indices' extent larger than x's outside axis",
	 [](R &t, C &c) {
		 auto p = t.Elements();
		 p.indices.shape[1] = p.y.shape[1] = 4; // x has 3 columns
		 return Emit(c, p);
	 }},
};

const RejectCase kCast[] = {
	{"CastMbz", "cast: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Cast();
		 p.mbz = 1;
		 return Emit(c, p);
	 }},
	{"CastShapeDiffers", "cast: y's shape differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Cast();
		 p.y.shape[0] = 4;
		 return Emit(c, p);
	 }},
	{"CastXAbsent", "cast x: required but dtype NONE",
	 [](R &t, C &c) {
		 auto p = t.Cast();
		 p.x = Absent();
		 return Emit(c, p);
	 }},
};

std::string CaseName(const ::testing::TestParamInfo<RejectCase> &info)
{
	return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Pool, OpsReject, ::testing::ValuesIn(kPool), CaseName);
INSTANTIATE_TEST_SUITE_P(Unary, OpsReject, ::testing::ValuesIn(kUnary), CaseName);
INSTANTIATE_TEST_SUITE_P(Binary, OpsReject, ::testing::ValuesIn(kBinary), CaseName);
INSTANTIATE_TEST_SUITE_P(Reduce, OpsReject, ::testing::ValuesIn(kReduce), CaseName);
INSTANTIATE_TEST_SUITE_P(Norm, OpsReject, ::testing::ValuesIn(kNorm), CaseName);
INSTANTIATE_TEST_SUITE_P(TensorCopy, OpsReject, ::testing::ValuesIn(kTensorCopy), CaseName);
INSTANTIATE_TEST_SUITE_P(Gather, OpsReject, ::testing::ValuesIn(kGather), CaseName);
INSTANTIATE_TEST_SUITE_P(Cast, OpsReject, ::testing::ValuesIn(kCast), CaseName);

} // namespace
} // namespace npu_test::ops
