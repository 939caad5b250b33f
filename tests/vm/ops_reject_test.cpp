// Packet validation through the real firmware: one test per rule of
// uapi/drm/npu_packet.h and docs/operations.md. Each test runs a job of
// three packets: a valid TENSOR_COPY, the malformed packet (a valid one
// with one field broken), and another TENSOR_COPY. The job must fail with
// BAD_PACKET at the malformed packet's byte offset, the first copy must
// have run, and neither the malformed packet's outputs nor the last copy's
// may have been written. Where debugfs shows the firmware log, the logged
// reason must be the rule the test breaks.
#include <string>

#include "ops_reject.h"

namespace npu_test::ops
{

TEST_P(OpsReject, FailsAtItsPacket)
{
	const RejectCase &rc = GetParam();
	Operand marker = Input(NPU_DTYPE_I32, {8}, -1000, 1000);
	DevTensor before = Output(NPU_DTYPE_I32, {8});
	DevTensor after = Output(NPU_DTYPE_I32, {8});
	Commands cmds;
	Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, marker.dev, before));
	malformed_outputs_.clear();
	const uint32_t bad = rc.emit(*this, cmds);
	if (!rc.last)
		Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, marker.dev, after));

	std::string log_before;
	const bool have_log = ReadFirmwareLog(&log_before);
	WaitResult r = Run(cmds);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
	EXPECT_EQ(r.args.err_offset, bad) << "err_offset names another packet";
	EXPECT_TRUE(MatchesReference(before.Read(), Expected{marker.host, {}}, kExact))
		<< "the valid packet before the malformed one did not run";
	EXPECT_TRUE(after.RegionUnwritten()) << "a packet after the malformed one ran";
	for (const DevTensor &out : malformed_outputs_)
		EXPECT_TRUE(out.RegionUnwritten()) << "the malformed packet ran (in part)";

	std::string log;
	if (!have_log || !ReadFirmwareLog(&log))
		return; // no debugfs: the status and offset are what the ABI promises
	// Only what this job logged: context ids are reused by later files.
	size_t last_line =
		log_before.rfind('\n', log_before.size() >= 2 ? log_before.size() - 2 : 0);
	std::string old_tail = log_before.substr(last_line == std::string::npos ? 0 : last_line);
	size_t resume = old_tail.size() > 1 ? log.rfind(old_tail) : std::string::npos;
	if (resume != std::string::npos)
		log = log.substr(resume + old_tail.size());
	uint64_t ctx = s->dev().Param(DRM_NPU_PARAM_CONTEXT_ID);
	std::string prefix =
		"ctx " + std::to_string(ctx) + "): bad packet at +" + std::to_string(bad) + ": ";
	size_t at = log.rfind(prefix);
	ASSERT_NE(at, std::string::npos) << "no firmware log line \"" << prefix << "...\"";
	std::string line = log.substr(at, log.find('\n', at) - at);
	EXPECT_NE(line.find(rc.reason), std::string::npos)
		<< "the firmware rejected the packet for another reason than \"" << rc.reason
		<< "\": " << line;
}

namespace
{

// ---- the rules -----------------------------------------------------------------

using R = OpsReject;
using C = Commands;

const RejectCase kFraming[] = {
	{"UnknownOpcode0x1a", "unknown opcode",
	 [](R &, C &c) { return c.Raw(NPU_PKT_HEADER(0x1a, 2), {0}); }},
	{"UnknownOpcode0x1aOperationLength", "unknown opcode",
	 [](R &, C &c) {
		 return c.Raw(NPU_PKT_HEADER(0x1a, NPU_PKT_GEMM_DWORDS),
			      std::vector<uint32_t>(NPU_PKT_GEMM_DWORDS - 1));
	 }},
	{"OpcodeHeaderMbz", "non-zero header mbz",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.header |= 1u << 12;
		 return Emit(c, p);
	 }},
	{"GemmShorterThanItsStruct", "wrong length for opcode",
	 [](R &t, C &c) {
		 return EmitWithLength(c, t.Gemm(), NPU_PKT_GEMM_DWORDS - 2,
				       NPU_PKT_GEMM_DWORDS - 2);
	 }},
	{"CastLongerThanItsStruct", "wrong length for opcode",
	 [](R &t, C &c) {
		 return EmitWithLength(c, t.Cast(), NPU_PKT_CAST_DWORDS + 2,
				       NPU_PKT_CAST_DWORDS + 2);
	 }},
	{"OddLength", "bad packet length",
	 [](R &t, C &c) {
		 return EmitWithLength(c, t.Unary(), NPU_PKT_UNARY_DWORDS - 1,
				       NPU_PKT_UNARY_DWORDS);
	 }},
	{"NormRunsPastTheBuffer", "packet runs past the buffer",
	 [](R &t, C &c) {
		 return EmitWithLength(c, t.Softmax(), NPU_PKT_NORM_DWORDS,
				       NPU_PKT_NORM_DWORDS / 2);
	 },
	 true},
};

const RejectCase kDescriptors[] = {
	{"UnknownDtype9", "unary x: unknown dtype",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.x.dtype = NPU_DTYPE_LAST + 1;
		 return Emit(c, p);
	 }},
	{"UnknownDtypeHighBit", "gemm b: unknown dtype",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.b.dtype = 0x80000001u;
		 return Emit(c, p);
	 }},
	{"RequiredTensorAbsent", "gemm a: required but dtype NONE",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.a = Absent();
		 return Emit(c, p);
	 }},
	{"AbsentTensorWithAddress", "gemm c: absent (dtype NONE) but fields not zero",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.c.addr = p.a.addr;
		 return Emit(c, p);
	 }},
	{"AbsentTensorWithShape", "pool indices: absent (dtype NONE) but fields not zero",
	 [](R &t, C &c) {
		 auto p = t.Pool();
		 p.indices = Absent();
		 p.indices.shape[3] = 1;
		 return Emit(c, p);
	 }},
	{"Rank7", "unary x: rank above 6",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.x.rank = 7;
		 return Emit(c, p);
	 }},
	{"ShapeBeyondRank", "binary a: shape or stride beyond the rank not zero",
	 [](R &t, C &c) {
		 auto p = t.Binary();
		 p.a.shape[2] = 1;
		 return Emit(c, p);
	 }},
	{"StrideBeyondRank", "cast x: shape or stride beyond the rank not zero",
	 [](R &t, C &c) {
		 auto p = t.Cast();
		 p.x.stride[5] = 4;
		 return Emit(c, p);
	 }},
	{"ExtentProductOverflows", "unary x: element count overflows 64 bits",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.x.rank = 3;
		 for (int d = 0; d < 3; d++) {
			 p.x.shape[d] = 0xffffffffu;
			 p.x.stride[d] = 0;
		 }
		 return Emit(c, p);
	 }},
	{"MisalignedF32Address", "gemm a: address not a multiple of the element size",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.a.addr += 2;
		 return Emit(c, p);
	 }},
	{"MisalignedI64Address", "gather indices: address not a multiple of the element size",
	 [](R &t, C &c) {
		 auto p = t.Take();
		 p.indices.addr += 4;
		 return Emit(c, p);
	 }},
	{"TensorRunsPast2To39", "unary y: reaches outside the device address space",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.y.addr = t.VaEnd() - 4 * 8; // 8 of its 12 elements fit
		 return Emit(c, p);
	 }},
	{"TensorEndsExactlyAt2To39IsFineButXIsNot", "binary b: reaches outside",
	 [](R &t, C &c) {
		 auto p = t.Binary();
		 p.a.addr = t.VaEnd() - 12 * 4; // valid: its last byte is the last one
		 p.b.addr = t.VaEnd() - 11 * 4;
		 return Emit(c, p);
	 }},
	{"NegativeStrideBelowZero", "cast x: reaches outside the device address space",
	 [](R &t, C &c) {
		 auto p = t.Cast();
		 p.x.addr = 8;
		 p.x.stride[1] = -1; // element [0, 3] at -4
		 return Emit(c, p);
	 }},
	{"HugeStride", "unary x: reaches outside the device address space",
	 [](R &t, C &c) {
		 auto p = t.Unary();
		 p.x.stride[0] = int64_t(1) << 40;
		 return Emit(c, p);
	 }},
};

const RejectCase kGemm[] = {
	{"GemmMbz", "gemm: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.mbz = 1;
		 return Emit(c, p);
	 }},
	{"GemmActUnknownFunction", "gemm act: unknown function",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.act.fn = NPU_FN_LAST + 1;
		 return Emit(c, p);
	 }},
	{"GemmActMbz", "gemm act: non-zero mbz",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.act.mbz = 1;
		 return Emit(c, p);
	 }},
	{"GemmActAlphaInfinite", "gemm act: alpha or beta not finite",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.act = Act(NPU_FN_RELU);
		 p.act.alpha = kInf; // RELU ignores it, it must still be finite
		 return Emit(c, p);
	 }},
	{"GemmAlphaNan", "gemm alpha/beta: not finite",
	 [](R &t, C &c) {
		 auto p = t.GemmWithC();
		 p.beta = kNan;
		 return Emit(c, p);
	 }},
	{"GemmQuantForFloats", "gemm quant: not zero for float inputs",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.quant.a_zero = 1;
		 return Emit(c, p);
	 }},
	{"GemmYRankBelow2", "gemm: y's rank below 2",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 for (npu_tensor *d : {&p.a, &p.b, &p.y}) {
			 d->rank = 1;
			 d->shape[1] = 0;
			 d->stride[1] = 0;
		 }
		 return Emit(c, p);
	 }},
	{"GemmCNotOfYRank", "gemm: a, b or c not of y's rank",
	 [](R &t, C &c) {
		 auto p = t.GemmWithC();
		 p.c.rank = 2;
		 p.c.shape[2] = 0;
		 p.c.stride[2] = 0;
		 return Emit(c, p);
	 }},
	{"GemmBatchMismatch", "gemm: a's or b's batch extents differ from y's",
	 [](R &t, C &c) {
		 auto p = t.GemmWithC();
		 p.b.shape[0] = 1;
		 return Emit(c, p);
	 }},
	{"GemmMMismatch", "gemm: a's M differs from y's M",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.a.shape[0] = 1;
		 return Emit(c, p);
	 }},
	{"GemmNMismatch", "gemm: b's N differs from y's N",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.b.shape[1] = 3;
		 return Emit(c, p);
	 }},
	{"GemmKMismatch", "gemm: a's K differs from b's K",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.b.shape[0] = 2;
		 return Emit(c, p);
	 }},
	{"GemmCShapeMismatch", "gemm: c's shape differs from y's",
	 [](R &t, C &c) {
		 auto p = t.GemmWithC();
		 p.c.shape[1] = 1;
		 return Emit(c, p);
	 }},
	{"GemmMixedFloatInputs", "gemm dtypes: a and b neither one float type",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.b.dtype = NPU_DTYPE_BF16;
		 return Emit(c, p);
	 }},
	{"GemmFloatInputsIntegerY", "gemm y: not a float type for float inputs",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.y.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"GemmFloatInputsIntegerC", "gemm c: not a float type for float inputs",
	 [](R &t, C &c) {
		 auto p = t.GemmWithC();
		 p.c.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"GemmFloatActToBool", "gemm act: function does not keep a float result's dtype",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 p.act = Act(NPU_FN_ISNAN);
		 return Emit(c, p);
	 }},
	{"Gemm8BitYF16", "gemm y: not I32, I8, U8 or F32 for 8-bit inputs",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I8);
		 p.y.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"Gemm8BitCF32ForI8Y", "gemm c: not F32 for an F32 y, else not I32",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I8);
		 p.c.dtype = NPU_DTYPE_F32;
		 return Emit(c, p);
	 }},
	{"Gemm8BitAZeroOutsideI8", "gemm quant: zero point outside its dtype's range",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I8);
		 p.quant.a_zero = 128;
		 return Emit(c, p);
	 }},
	{"Gemm8BitBZeroOutsideU8", "gemm quant: zero point outside its dtype's range",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_U8);
		 p.b.dtype = NPU_DTYPE_U8;
		 p.quant.b_zero = -1;
		 return Emit(c, p);
	 }},
	{"Gemm8BitYZeroOutsideI8", "gemm quant: zero point outside its dtype's range",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I8);
		 p.quant.y_zero = 200;
		 return Emit(c, p);
	 }},
	{"Gemm8BitYScaleInfinite", "gemm quant: y_scale not finite",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_U8);
		 p.quant.y_scale = kInf;
		 return Emit(c, p);
	 }},
	{"Gemm8BitI32YAlphaNotOne", "gemm alpha/beta: not 1 for an integer y",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I32);
		 p.alpha = Bits(2.0f);
		 return Emit(c, p);
	 }},
	{"Gemm8BitI32YSigmoid", "gemm act: only IDENTITY or RELU for an integer result",
	 [](R &t, C &c) {
		 auto p = t.Gemm8(NPU_DTYPE_I32);
		 p.act = Act(NPU_FN_SIGMOID);
		 return Emit(c, p);
	 }},
	{"GemmI32WithI64Y", "gemm c/y: not the integer dtype of a and b",
	 [](R &t, C &c) {
		 auto p = t.GemmInt(NPU_DTYPE_I32);
		 p.y.dtype = NPU_DTYPE_I64;
		 return Emit(c, p);
	 }},
	{"GemmI64WithQuant", "gemm quant: not zero for I32/I64 inputs",
	 [](R &t, C &c) {
		 auto p = t.GemmInt(NPU_DTYPE_I64);
		 p.quant.y_zero = 1;
		 return Emit(c, p);
	 }},
	{"GemmI32BetaNotOne", "gemm alpha/beta: not 1 for an integer y",
	 [](R &t, C &c) {
		 auto p = t.GemmInt(NPU_DTYPE_I32);
		 p.beta = 0;
		 return Emit(c, p);
	 }},
	{"GemmBoolInputs", "gemm dtypes",
	 [](R &t, C &c) {
		 auto p = t.GemmInt(NPU_DTYPE_I32);
		 p.a.dtype = p.b.dtype = p.y.dtype = NPU_DTYPE_BOOL;
		 return Emit(c, p);
	 }},
	// A 1 x 1 tile stages (2K + 2) * 4 bytes: K past the engine memory.
	{"GemmTooLargeForAnEngine", "operation too large for an engine's local memory",
	 [](R &t, C &c) {
		 auto p = t.Gemm();
		 auto k = uint32_t(t.EngineMem() / 8 + 1);
		 p.a.shape[1] = p.b.shape[0] = k;
		 p.a.stride[0] = p.a.stride[1] = p.b.stride[0] = p.b.stride[1] = 0;
		 return Emit(c, p);
	 }},
};

const RejectCase kConv[] = {
	{"ConvUnknownFlags", "conv: unknown flags",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.flags = NPU_CONV_FLAGS << 1;
		 return Emit(c, p);
	 }},
	{"ConvGroupsZero", "conv: groups 0",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.groups = 0;
		 return Emit(c, p);
	 }},
	{"ConvSpatialZero", "conv: spatial not 1 to 3",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.spatial = 0;
		 p.stride[0] = p.stride[1] = p.dilation[0] = p.dilation[1] = 0;
		 return Emit(c, p);
	 }},
	{"ConvSpatialFour", "conv: spatial not 1 to 3",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.spatial = 4;
		 return Emit(c, p);
	 }},
	{"ConvStrideZero", "conv: stride or dilation 0, or set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.stride[1] = 0;
		 return Emit(c, p);
	 }},
	{"ConvDilationBeyondSpatial", "conv: stride or dilation 0, or set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.dilation[2] = 1;
		 return Emit(c, p);
	 }},
	{"ConvPaddingBeyondSpatial", "conv: padding set beyond spatial",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.pad_end[2] = 1;
		 return Emit(c, p);
	 }},
	{"ConvActAlphaNan", "conv act: alpha or beta not finite",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.act = Act(NPU_FN_LEAKY_RELU);
		 p.act.alpha = kNan;
		 return Emit(c, p);
	 }},
	{"ConvBiasAbsentWithStride", "conv bias: absent (dtype NONE) but fields not zero",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.bias = Absent();
		 p.bias.stride[0] = 1;
		 return Emit(c, p);
	 }},
	{"ConvXRankNotSpatialPlus2", "conv: x, w or y not of rank spatial + 2",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.spatial = 1;
		 p.stride[1] = p.dilation[1] = 0;
		 return Emit(c, p);
	 }},
	{"ConvBatchMismatch", "conv: y's batch extent differs from x's",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.y.shape[0] = 2;
		 return Emit(c, p);
	 }},
	{"ConvGroupsDoNotDivideC", "conv: groups does not divide x's channels",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.groups = 4; // C = 2
		 return Emit(c, p);
	 }},
	{"ConvGroupsDoNotDivideOC", "conv: groups does not divide y's channels",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.groups = 2; // C 2, OC 3
		 p.y.shape[1] = 3;
		 p.w.shape[0] = 3;
		 p.w.shape[1] = 1;
		 p.bias.shape[0] = 3;
		 return Emit(c, p);
	 }},
	{"ConvWExtent0NotOC", "conv: w's extent 0 is not y's channels",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.w.shape[0] = 3;
		 return Emit(c, p);
	 }},
	{"ConvWExtent1NotCPerGroup", "conv: w's extent 1 is not x's channels / groups",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.groups = 2;
		 return Emit(c, p); // w [4, 2, ...] where C / groups is 1
	 }},
	{"ConvTransposedWExtent1NotOCPerGroup",
	 "conv: transposed w's extent 1 is not y's channels / groups",
	 [](R &t, C &c) {
		 auto p = t.ConvTransposed();
		 p.w.shape[1] = 2;
		 return Emit(c, p);
	 }},
	{"ConvBiasNotOC", "conv: bias not [OC]",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.bias.shape[0] = 3;
		 return Emit(c, p);
	 }},
	{"ConvKernelExtentZero", "conv: w's kernel extent 0",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.w.shape[3] = 0;
		 return Emit(c, p);
	 }},
	{"ConvKernelLargerThanPaddedInput", "conv: dilated kernel larger than the padded input",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.dilation[0] = 3; // 7 > 5
		 return Emit(c, p);
	 }},
	{"ConvYExtentWrong", "conv: y's spatial extent differs from the output size",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.pad_begin[1] = 1; // out would be 4
		 return Emit(c, p);
	 }},
	{"ConvTransposedOutputPaddingTooLarge",
	 "conv: y's spatial extent differs from the transposed output size",
	 [](R &t, C &c) {
		 auto p = t.ConvTransposed();
		 p.y.shape[2] = 11; // extra 2, not below stride 2
		 return Emit(c, p);
	 }},
	{"ConvTransposedOutputTooSmall",
	 "conv: y's spatial extent differs from the transposed output size",
	 [](R &t, C &c) {
		 auto p = t.ConvTransposed();
		 p.y.shape[2] = 8;
		 return Emit(c, p);
	 }},
	{"ConvTransposedEmptyInput", "conv: transposed with an empty spatial input extent",
	 [](R &t, C &c) {
		 auto p = t.ConvTransposed();
		 p.x.shape[2] = 0;
		 return Emit(c, p);
	 }},
	{"ConvMixedFloatDtypes", "conv dtypes: x and w neither one float type nor both 8-bit",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.w.dtype = NPU_DTYPE_F16;
		 return Emit(c, p);
	 }},
	{"ConvIntegerInputs", "conv dtypes",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.x.dtype = p.w.dtype = NPU_DTYPE_I32;
		 return Emit(c, p);
	 }},
	{"ConvQuantForFloats", "conv quant: not zero for float inputs",
	 [](R &t, C &c) {
		 auto p = t.Conv();
		 p.quant.y_scale = Bits(1.0f);
		 return Emit(c, p);
	 }},
};

std::string CaseName(const ::testing::TestParamInfo<RejectCase> &info)
{
	return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Framing, OpsReject, ::testing::ValuesIn(kFraming), CaseName);
INSTANTIATE_TEST_SUITE_P(Descriptors, OpsReject, ::testing::ValuesIn(kDescriptors), CaseName);
INSTANTIATE_TEST_SUITE_P(Gemm, OpsReject, ::testing::ValuesIn(kGemm), CaseName);
INSTANTIATE_TEST_SUITE_P(Conv, OpsReject, ::testing::ValuesIn(kConv), CaseName);

} // namespace
} // namespace npu_test::ops
