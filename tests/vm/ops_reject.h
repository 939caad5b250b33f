// The fixture of the packet validation tests (ops_reject_test.cpp,
// ops_reject_ops_test.cpp): valid packets over fresh tensors that a case
// breaks one field of, and what a case is.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "op_packets.h"

namespace npu_test::ops
{

class OpsReject;

struct RejectCase {
	const char *name;
	const char *reason; // what the firmware log names (a substring)
	// Appends the malformed packet; returns its byte offset.
	std::function<uint32_t(OpsReject &, Commands &)> emit;
	bool last = false; // the packet must end the buffer (nothing after it)
};

inline uint32_t Bits(float f)
{
	return F32Bits(f);
}

inline constexpr uint32_t kInf = 0x7f800000u, kNan = 0x7fc00000u;

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

} // namespace npu_test::ops
