// SPDX-License-Identifier: MIT
// The element-wise family never crashes, hangs or strays on malformed
// packets: random small fields and real descriptors bent at random, run
// through run_engine_task(); every outcome must be one of the task
// statuses (the sanitizer lanes catch the rest).
#include <cstddef>
#include <random>

#include "engine_fixture.h"

namespace npu::emu::test
{
namespace
{

using EngineEltwiseFuzzTest = EngineKernelTest;

TEST_F(EngineEltwiseFuzzTest, SurvivesRandomPackets)
{
	std::mt19937 rng(20240611);
	std::uniform_int_distribution<unsigned> byte(0, 255), field(0, 7);
	// Real tensors of every kind of content, and a writable target.
	std::vector<float> values(240);
	std::vector<std::int64_t> ints(240);
	for (unsigned i = 0; i < 240; i++) {
		values[i] = static_cast<float>(static_cast<int>(i % 23) - 11) / 3;
		ints[i] = static_cast<std::int64_t>(i % 13) - 6; // in and out of index ranges
	}
	const npu_tensor real[] = {
		make_tensor(put(values), NPU_DTYPE_F32, {2, 3, 4, 5}),
		make_tensor(put(ints), NPU_DTYPE_I64, {2, 3, 4, 5}),
		make_tensor(put(ints), NPU_DTYPE_I32, {4, 5, 6}),
		make_tensor(put(values), NPU_DTYPE_U8, {3, 4}),
		make_tensor(out<std::int64_t>(240), NPU_DTYPE_F32, {2, 3, 4, 5}),
		make_tensor(out<std::int64_t>(240), NPU_DTYPE_I64, {5, 4, 3, 2}),
	};
	struct Op {
		std::uint32_t opcode, dwords;
		std::size_t first_tensor;
	};
	const Op ops[] = {
		{NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS, offsetof(npu_pkt_unary, x)},
		{NPU_OP_BINARY, NPU_PKT_BINARY_DWORDS, offsetof(npu_pkt_binary, a)},
		{NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS, offsetof(npu_pkt_reduce, x)},
		{NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS, offsetof(npu_pkt_tensor_copy, x)},
		{NPU_OP_GATHER, NPU_PKT_GATHER_DWORDS, offsetof(npu_pkt_gather, x)},
		{NPU_OP_CAST, NPU_PKT_CAST_DWORDS, offsetof(npu_pkt_cast, x)},
	};
	unsigned ok = 0;
	for (const Op &op : ops) {
		for (int round = 0; round < 400; round++) {
			npu_engine_task t{};
			t.pt_root = ctx_.pt_root;
			auto *words = reinterpret_cast<std::uint32_t *>(t.packet);
			for (std::uint32_t w = 1; w < op.dwords; w++)
				words[w] =
					field(rng) < 6 ? field(rng) : byte(rng) << 24 | byte(rng);
			words[0] = NPU_PKT_HEADER(op.opcode, op.dwords);
			auto *bytes = reinterpret_cast<std::uint8_t *>(t.packet);
			for (std::size_t at = op.first_tensor;
			     at + sizeof(npu_tensor) <= op.dwords * 4; at += sizeof(npu_tensor)) {
				// Mostly the F32 pair that makes a valid packet, so
				// the kernels get past their checks often enough.
				bool last = at + 2 * sizeof(npu_tensor) > op.dwords * 4;
				npu_tensor d = field(rng) < 4 ? real[last ? 4 : 0]
							      : real[byte(rng) % std::size(real)];
				if (field(rng) == 0)
					d.rank = field(rng);
				if (field(rng) == 0)
					d.shape[field(rng) % 6] = field(rng);
				if (field(rng) == 0)
					d.stride[field(rng) % 6] = std::int64_t(field(rng)) - 3;
				if (field(rng) == 0)
					d.dtype = field(rng) + (field(rng) < 2);
				if (field(rng) == 0)
					d.addr += byte(rng) * 4 * NPU_PAGE_SIZE; // likely unmapped
				std::memcpy(bytes + at, &d, sizeof(d));
			}
			t.begin[0] = field(rng) < 6 ? 0 : byte(rng);
			t.end[0] = t.begin[0] + 1 + (field(rng) < 2 ? byte(rng) : field(rng));
			t.end[1] = 1;
			EngineResult r = run_engine_task(dma_, t, scratch_);
			ASSERT_LE(r.status, NPU_ENG_ST_BAD_TASK) << op.opcode << " round " << round;
			if (r.status == NPU_ENG_ST_OK)
				ok++;
		}
	}
	// Some of them were valid and ran to completion.
	EXPECT_GT(ok, 100u) << ok;
}

} // namespace
} // namespace npu::emu::test
