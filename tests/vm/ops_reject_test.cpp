// Packet validation through the real firmware: one test per rule of
// uapi/drm/npu_packet.h and docs/operations.md. Each test runs a job of
// three packets: a valid TENSOR_COPY, the malformed packet (a valid one
// with one field broken), and another TENSOR_COPY. The job must fail with
// BAD_PACKET at the malformed packet's byte offset, the first copy must
// have run, and neither the malformed packet's outputs nor the last copy's
// may have been written. Where debugfs shows the firmware log, the logged
// reason must be the rule the test breaks.
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

class OpsReject;

struct RejectCase {
	const char *name;
	const char *reason; // what the firmware log names (a substring)
	// Appends the malformed packet; returns its byte offset.
	std::function<uint32_t(OpsReject &, Commands &)> emit;
	bool last = false; // the packet must end the buffer (nothing after it)
};

uint32_t Bits(float f)
{
	return F32Bits(f);
}

const uint32_t kInf = 0x7f800000u, kNan = 0x7fc00000u;

// Appends pkt with its header claiming dwords (and that many words sent).
template <typename Pkt>
uint32_t EmitWithLength(Commands &cmds, Pkt pkt, uint32_t dwords, uint32_t sent)
{
	std::vector<uint32_t> words(std::max<size_t>(sent, sizeof(Pkt) / 4));
	std::memcpy(words.data(), &pkt, sizeof(Pkt));
	words.resize(sent);
	words[0] = (words[0] & 0xffff) | dwords << 16;
	uint32_t header = words.front();
	words.erase(words.begin());
	return cmds.Raw(header, words);
}

class OpsReject : public OpsTest, public ::testing::WithParamInterface<RejectCase>
{
public:
	// Valid packets over fresh tensors, for the cases to break.
	npu_pkt_gemm Gemm()
	{
		return GemmPacket(In(NPU_DTYPE_F32, {2, 3}), In(NPU_DTYPE_F32, {3, 4}), nullptr,
				  Out(NPU_DTYPE_F32, {2, 4}));
	}
	npu_pkt_gemm GemmWithC()
	{
		DevTensor c = In(NPU_DTYPE_F32, {2, 2, 4});
		return GemmPacket(In(NPU_DTYPE_F32, {2, 2, 3}), In(NPU_DTYPE_F32, {2, 3, 4}), &c,
				  Out(NPU_DTYPE_F32, {2, 2, 4}));
	}
	// 8-bit: I8 x I8, c I32 (F32 for an F32 y), requantised for 8-bit y.
	npu_pkt_gemm Gemm8(uint32_t y_dtype)
	{
		DevTensor c = In(y_dtype == NPU_DTYPE_F32 ? NPU_DTYPE_F32 : NPU_DTYPE_I32, {2, 4});
		npu_pkt_gemm p = GemmPacket(In(NPU_DTYPE_I8, {2, 3}), In(NPU_DTYPE_I8, {3, 4}), &c,
					    Out(y_dtype, {2, 4}));
		if (y_dtype == NPU_DTYPE_I8 || y_dtype == NPU_DTYPE_U8)
			p.quant.y_scale = Bits(1.0f / 64);
		return p;
	}
	npu_pkt_gemm GemmInt(uint32_t dtype)
	{
		return GemmPacket(In(dtype, {2, 3}), In(dtype, {3, 4}), nullptr,
				  Out(dtype, {2, 4}));
	}
	// x [1, 2, 5, 5] * w [4, 2, 3, 3] + bias [4] -> y [1, 4, 3, 3]
	npu_pkt_conv Conv()
	{
		DevTensor bias = In(NPU_DTYPE_F32, {4});
		return ConvPacket(In(NPU_DTYPE_F32, {1, 2, 5, 5}), In(NPU_DTYPE_F32, {4, 2, 3, 3}),
				  &bias, Out(NPU_DTYPE_F32, {1, 4, 3, 3}));
	}
	// transposed: x [1, 2, 4] * w [2, 3, 3], stride 2 -> y [1, 3, 9]
	npu_pkt_conv ConvTransposed()
	{
		npu_pkt_conv p =
			ConvPacket(In(NPU_DTYPE_F32, {1, 2, 4}), In(NPU_DTYPE_F32, {2, 3, 3}),
				   nullptr, Out(NPU_DTYPE_F32, {1, 3, 9}));
		p.flags = NPU_CONV_TRANSPOSED;
		p.stride[0] = 2;
		return p;
	}
	// max 2x2 stride 2 over [1, 2, 6, 6] -> [1, 2, 3, 3] with indices
	npu_pkt_pool Pool()
	{
		npu_pkt_pool p = PoolPacket(NPU_POOL_MAX, {2, 2}, In(NPU_DTYPE_F32, {1, 2, 6, 6}),
					    Out(NPU_DTYPE_F32, {1, 2, 3, 3}));
		p.stride[0] = p.stride[1] = 2;
		p.indices = Out(NPU_DTYPE_I64, {1, 2, 3, 3}).desc;
		return p;
	}
	npu_pkt_unary Unary(uint32_t fn = NPU_FN_RELU, uint32_t dtype = NPU_DTYPE_F32,
			    uint32_t y_dtype = NPU_DTYPE_NONE)
	{
		return UnaryPacket(Act(fn), In(dtype, {3, 4}),
				   Out(y_dtype ? y_dtype : dtype, {3, 4}));
	}
	npu_pkt_binary Binary(uint32_t fn = NPU_BIN_ADD, uint32_t dtype = NPU_DTYPE_F32,
			      uint32_t y_dtype = NPU_DTYPE_NONE)
	{
		return BinaryPacket(fn, In(dtype, {3, 4}), In(dtype, {3, 4}),
				    Out(y_dtype ? y_dtype : dtype, {3, 4}));
	}
	npu_pkt_binary Select()
	{
		DevTensor cond = In(NPU_DTYPE_BOOL, {3, 4});
		return BinaryPacket(NPU_BIN_SELECT, In(NPU_DTYPE_F32, {3, 4}),
				    In(NPU_DTYPE_F32, {3, 4}), Out(NPU_DTYPE_F32, {3, 4}), &cond);
	}
	npu_pkt_reduce Reduce(uint32_t fn = NPU_RED_SUM, uint32_t dtype = NPU_DTYPE_F32)
	{
		bool arg = fn == NPU_RED_ARGMAX || fn == NPU_RED_ARGMIN;
		return ReducePacket(fn, 0b10, In(dtype, {3, 4}),
				    Out(arg ? NPU_DTYPE_I64 : dtype, {3, 1}));
	}
	npu_pkt_norm Softmax()
	{
		return NormPacket(NPU_NORM_SOFTMAX, 0b10, In(NPU_DTYPE_F32, {3, 4}),
				  Out(NPU_DTYPE_F32, {3, 4}));
	}
	npu_pkt_norm BatchNorm()
	{
		npu_pkt_norm p = NormPacket(NPU_NORM_BATCH, 0, In(NPU_DTYPE_F32, {3, 4}),
					    Out(NPU_DTYPE_F32, {3, 4}));
		p.epsilon = Bits(1e-5f);
		p.scale = In(NPU_DTYPE_F32, {3, 4}).desc;
		p.bias = In(NPU_DTYPE_F32, {3, 4}).desc;
		p.mean = In(NPU_DTYPE_F32, {3, 4}).desc;
		p.var = In(NPU_DTYPE_F32, {3, 4}, 0.5, 2).desc;
		return p;
	}
	npu_pkt_norm Normalize()
	{
		npu_pkt_norm p = NormPacket(NPU_NORM_NORMALIZE, 0b10, In(NPU_DTYPE_F32, {3, 4}),
					    Out(NPU_DTYPE_F32, {3, 4}));
		p.epsilon = Bits(1e-5f);
		return p;
	}
	// x [2, 3] padded by (1, 1) into y [4, 5]
	npu_pkt_tensor_copy Pad(uint32_t mode = NPU_COPY_PAD_CONSTANT,
				uint32_t dtype = NPU_DTYPE_F32)
	{
		npu_pkt_tensor_copy p =
			TensorCopyPacket(mode, In(dtype, {2, 3}), Out(dtype, {4, 5}));
		p.pad_begin[0] = p.pad_begin[1] = 1;
		return p;
	}
	npu_pkt_tensor_copy Plain()
	{
		return TensorCopyPacket(NPU_COPY_PLAIN, In(NPU_DTYPE_F32, {2, 3}),
					Out(NPU_DTYPE_F32, {2, 3}));
	}
	// take: x [4, 3] at indices [2] along 0 -> y [2, 3]
	npu_pkt_gather Take()
	{
		return GatherPacket(NPU_GATHER_TAKE, 0, In(NPU_DTYPE_F32, {4, 3}),
				    In(NPU_DTYPE_I64, {2}, 0, 3), Out(NPU_DTYPE_F32, {2, 3}));
	}
	// elements: x [4, 3], indices [2, 3] along 0 -> y [2, 3]
	npu_pkt_gather Elements()
	{
		return GatherPacket(NPU_GATHER_ELEMENTS, 0, In(NPU_DTYPE_F32, {4, 3}),
				    In(NPU_DTYPE_I32, {2, 3}, 0, 3), Out(NPU_DTYPE_F32, {2, 3}));
	}
	npu_pkt_cast Cast()
	{
		return CastPacket(In(NPU_DTYPE_F32, {3, 4}), Out(NPU_DTYPE_I32, {3, 4}));
	}

	uint64_t EngineMem() { return s->dev().Param(DRM_NPU_PARAM_ENGINE_MEM_SIZE); }
	// The end of the device address space (2^39).
	uint64_t VaEnd() { return s->dev().Param(DRM_NPU_PARAM_VA_SIZE); }

	// A fresh input / an output of the malformed packet (checked unwritten).
	DevTensor In(uint32_t dtype, const Shape &shape, double lo = -1, double hi = 1)
	{
		return Input(dtype, shape, lo, hi).dev;
	}
	DevTensor Out(uint32_t dtype, const Shape &shape)
	{
		DevTensor t = Output(dtype, shape);
		malformed_outputs_.push_back(t);
		return t;
	}

protected:
	std::vector<DevTensor> malformed_outputs_;
};

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

INSTANTIATE_TEST_SUITE_P(Framing, OpsReject, ::testing::ValuesIn(kFraming), CaseName);
INSTANTIATE_TEST_SUITE_P(Descriptors, OpsReject, ::testing::ValuesIn(kDescriptors), CaseName);
INSTANTIATE_TEST_SUITE_P(Gemm, OpsReject, ::testing::ValuesIn(kGemm), CaseName);
INSTANTIATE_TEST_SUITE_P(Conv, OpsReject, ::testing::ValuesIn(kConv), CaseName);
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
