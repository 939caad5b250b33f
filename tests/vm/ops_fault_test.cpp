// Page faults of operation packets: an operand of every opcode at an
// unmapped address, an operand running from a BO into the guard page
// after it, outputs in read-only BOs and at unmapped addresses. Each job
// fails with PAGE_FAULT at the packet's offset and the faulting address
// inside the operand (its first unmapped page when it fits one), the
// packet before it has run, the one after has not, the context records
// the fault, and the context keeps working.
#include <algorithm>
#include <functional>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

class OpsFault : public OpsTest
{
protected:
	// An address no BO of this context maps: 64 MiB above all of them.
	uint64_t UnmappedAddr(std::initializer_list<const Arena *> more = {})
	{
		uint64_t top =
			std::max({s->cmd_bo().addr() + s->cmd_bo().size(),
				  s->scratch().addr() + s->scratch().size(), arena().end_addr()});
		for (const Arena *a : more)
			top = std::max(top, a->end_addr());
		return (top + (64ull << 20)) & ~(kPageSize - 1);
	}

	// A descriptor like t's, contiguous at addr.
	static npu_tensor MovedTo(npu_tensor t, uint64_t addr)
	{
		t.addr = addr;
		return t;
	}

	// Bytes from desc.addr to one past the last element of a
	// contiguous, non-reversed descriptor.
	static uint64_t Span(const npu_tensor &t)
	{
		return ElementCount(ShapeOf(t)) * DtypeSize(t.dtype);
	}

	struct Outcome {
		WaitResult wait;
		bool before_ran, after_unwritten;
	};

	// Runs [valid copy, packet, valid copy] and reports what happened.
	Outcome RunBetweenMarkers(const std::function<uint32_t(Commands &)> &emit, uint32_t *offset,
				  const std::vector<uint32_t> &extra_bos = {})
	{
		Operand marker = Input(NPU_DTYPE_I32, {16}, -9, 9);
		DevTensor before = Output(NPU_DTYPE_I32, {16});
		DevTensor after = Output(NPU_DTYPE_I32, {16});
		Commands cmds;
		Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, marker.dev, before));
		*offset = emit(cmds);
		Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, marker.dev, after));
		std::vector<uint32_t> bos = arena().handles();
		bos.insert(bos.end(), extra_bos.begin(), extra_bos.end());
		uint64_t seqno = s->Submit(cmds, UsingBos(bos));
		Outcome o{s->Wait(seqno, 20000), false, false};
		o.before_ran = MatchesReference(before.Read(), Expected{marker.host, {}}, kExact);
		o.after_unwritten = after.RegionUnwritten();
		return o;
	}

	// A fault at addr, inside [lo, hi); in lo's page when want_page.
	void ExpectPageFault(const Outcome &o, uint32_t offset, uint64_t lo, uint64_t hi,
			     bool want_first_page)
	{
		ASSERT_EQ(o.wait.err, 0);
		EXPECT_JOB_STATUS(o.wait.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
		EXPECT_EQ(o.wait.args.err_offset, offset) << "err_offset names another packet";
		uint64_t fault = o.wait.args.fault_addr;
		EXPECT_TRUE(fault >= lo && fault < hi)
			<< std::hex << "fault_addr 0x" << fault << " outside the operand [0x" << lo
			<< ", 0x" << hi << ")";
		if (want_first_page) {
			EXPECT_EQ(fault & ~(kPageSize - 1), lo & ~(kPageSize - 1))
				<< std::hex << "fault_addr 0x" << fault
				<< " not in the first unmapped page";
		}
		EXPECT_TRUE(o.before_ran) << "the packet before the faulting one did not run";
		EXPECT_TRUE(o.after_unwritten) << "a packet after the faulting one ran";
	}
};

// One operand per opcode, each smaller than a page, moved to an unmapped
// page: the engine's first access faults there.
TEST_F(OpsFault, UnmappedOperandOfEveryOpcode)
{
	struct Case {
		const char *name;
		std::function<uint32_t(Commands &, uint64_t unmapped, npu_tensor *moved)> emit;
	};
	const Case cases[] = {
		{"GEMM b",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = GemmPacket(Input(NPU_DTYPE_F32, {5, 7}, -1, 1).dev,
					     Input(NPU_DTYPE_F32, {7, 6}, -1, 1).dev, nullptr,
					     Output(NPU_DTYPE_F32, {5, 6}));
			 *moved = p.b = MovedTo(p.b, at);
			 return Emit(c, p);
		 }},
		{"CONV w",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = ConvPacket(Input(NPU_DTYPE_F32, {1, 2, 6}, -1, 1).dev,
					     Input(NPU_DTYPE_F32, {3, 2, 3}, -1, 1).dev, nullptr,
					     Output(NPU_DTYPE_F32, {1, 3, 4}));
			 *moved = p.w = MovedTo(p.w, at);
			 return Emit(c, p);
		 }},
		{"POOL x",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = PoolPacket(NPU_POOL_AVG, {2},
					     Input(NPU_DTYPE_F32, {1, 3, 8}, -1, 1).dev,
					     Output(NPU_DTYPE_F32, {1, 3, 7}));
			 *moved = p.x = MovedTo(p.x, at);
			 return Emit(c, p);
		 }},
		{"UNARY x",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = UnaryPacket(Act(NPU_FN_EXP),
					      Input(NPU_DTYPE_F16, {9, 9}, -1, 1).dev,
					      Output(NPU_DTYPE_F16, {9, 9}));
			 *moved = p.x = MovedTo(p.x, at);
			 return Emit(c, p);
		 }},
		{"BINARY b",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = BinaryPacket(NPU_BIN_MUL, Input(NPU_DTYPE_I32, {4, 8}, -9, 9).dev,
					       Input(NPU_DTYPE_I32, {4, 8}, -9, 9).dev,
					       Output(NPU_DTYPE_I32, {4, 8}));
			 *moved = p.b = MovedTo(p.b, at);
			 return Emit(c, p);
		 }},
		{"REDUCE x",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = ReducePacket(NPU_RED_MAX, 0b01,
					       Input(NPU_DTYPE_F32, {6, 5}, -1, 1).dev,
					       Output(NPU_DTYPE_F32, {1, 5}));
			 *moved = p.x = MovedTo(p.x, at);
			 return Emit(c, p);
		 }},
		{"NORM var",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = NormPacket(NPU_NORM_BATCH, 0,
					     Input(NPU_DTYPE_F32, {3, 4}, -1, 1).dev,
					     Output(NPU_DTYPE_F32, {3, 4}));
			 p.epsilon = F32Bits(1e-5f);
			 p.scale = Input(NPU_DTYPE_F32, {3, 4}, 1, 2).dev.desc;
			 p.bias = Input(NPU_DTYPE_F32, {3, 4}, -1, 1).dev.desc;
			 p.mean = Input(NPU_DTYPE_F32, {3, 4}, -1, 1).dev.desc;
			 p.var = Input(NPU_DTYPE_F32, {3, 4}, 1, 2).dev.desc;
			 *moved = p.var = MovedTo(p.var, at);
			 return Emit(c, p);
		 }},
		{"TENSOR_COPY x",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = TensorCopyPacket(NPU_COPY_PLAIN,
						   Input(NPU_DTYPE_I64, {3, 7}, -9, 9).dev,
						   Output(NPU_DTYPE_I64, {3, 7}));
			 *moved = p.x = MovedTo(p.x, at);
			 return Emit(c, p);
		 }},
		{"GATHER indices",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = GatherPacket(NPU_GATHER_TAKE, 0,
					       Input(NPU_DTYPE_F32, {5, 3}, -1, 1).dev,
					       Input(NPU_DTYPE_I64, {4}, 0, 4).dev,
					       Output(NPU_DTYPE_F32, {4, 3}));
			 *moved = p.indices = MovedTo(p.indices, at);
			 return Emit(c, p);
		 }},
		{"CAST x",
		 [&](Commands &c, uint64_t at, npu_tensor *moved) {
			 auto p = CastPacket(Input(NPU_DTYPE_U8, {10, 10}, 0, 255).dev,
					     Output(NPU_DTYPE_F32, {10, 10}));
			 *moved = p.x = MovedTo(p.x, at);
			 return Emit(c, p);
		 }},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(c.name);
		uint64_t at = UnmappedAddr();
		npu_tensor moved{};
		uint32_t offset = 0;
		Outcome o = RunBetweenMarkers(
			[&](Commands &cmds) { return c.emit(cmds, at, &moved); }, &offset);
		ASSERT_LE(Span(moved), kPageSize);
		ExpectPageFault(o, offset, at, at + Span(moved), true);
	}
	s->ExpectWorks();
}

// x starts in the last 2 KiB of a one-page BO and ends in the guard page
// after it: the first page it cannot read is that guard page.
TEST_F(OpsFault, OperandRunningIntoTheGuardPage)
{
	Bo page(s->dev(), kPageSize);
	const uint64_t half = kPageSize / 2;
	uint32_t offset = 0;
	DevTensor y = Output(NPU_DTYPE_F32, {1024});
	Outcome o = RunBetweenMarkers(
		[&](Commands &cmds) {
			npu_pkt_unary p = UnaryPacket(Act(NPU_FN_ABS), y, y);
			p.x.addr = page.addr() + half; // 4 KiB of elements, half mapped
			return Emit(cmds, p);
		},
		&offset, {page.handle()});
	uint64_t end = page.addr() + page.size();
	ExpectPageFault(o, offset, end, end + half, true);
}

// A device write to a read-only BO is a write fault at an address of y;
// inputs and the rest of memory are untouched.
TEST_F(OpsFault, OutputInReadOnlyBo)
{
	Arena read_only(s->dev(), DRM_NPU_BO_DEVICE_READ_ONLY, 64 * 1024);
	DevTensor ro_y(read_only, NPU_DTYPE_F32, {6, 7});
	ro_y.FillRegion(kOutputFill);
	const uint64_t lo = ro_y.desc.addr, hi = lo + 6 * 7 * 4;
	for (uint32_t op : {NPU_OP_GEMM, NPU_OP_UNARY, NPU_OP_TENSOR_COPY}) {
		SCOPED_TRACE("opcode " + std::to_string(op));
		uint32_t offset = 0;
		Outcome o = RunBetweenMarkers(
			[&](Commands &cmds) {
				Operand a = Input(NPU_DTYPE_F32, {6, 5}, -1, 1);
				Operand b = Input(NPU_DTYPE_F32, {5, 7}, -1, 1);
				Operand x = Input(NPU_DTYPE_F32, {6, 7}, -1, 1);
				if (op == NPU_OP_GEMM)
					return Emit(cmds, GemmPacket(a.dev, b.dev, nullptr, ro_y));
				if (op == NPU_OP_UNARY)
					return Emit(cmds,
						    UnaryPacket(Act(NPU_FN_NEG), x.dev, ro_y));
				return Emit(cmds, TensorCopyPacket(NPU_COPY_PLAIN, x.dev, ro_y));
			},
			&offset, read_only.handles());
		ExpectPageFault(o, offset, lo, hi, false);
		EXPECT_TRUE(ro_y.RegionUnwritten()) << "a read-only BO was written";
		ExpectBuffersIntact();
	}
	s->ExpectWorks();
}

TEST_F(OpsFault, UnmappedOutput)
{
	uint32_t offset = 0;
	uint64_t at = UnmappedAddr();
	Outcome o = RunBetweenMarkers(
		[&](Commands &cmds) {
			Operand x = Input(NPU_DTYPE_I8, {33}, -100, 100);
			DevTensor y = Output(NPU_DTYPE_I8, {33});
			npu_pkt_cast p = CastPacket(x.dev, y);
			p.y.addr = at + 7; // I8: any address is aligned
			return Emit(cmds, p);
		},
		&offset);
	ExpectPageFault(o, offset, at + 7, at + 7 + 33, true);
}

// The context counts its faulted jobs and keeps the last address, and its
// operations work afterwards.
TEST_F(OpsFault, ContextRecordsTheFaultAndKeepsWorking)
{
	const uint64_t faults = s->dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS);
	uint32_t offset = 0;
	uint64_t at = UnmappedAddr() + 3 * kPageSize;
	Outcome o = RunBetweenMarkers(
		[&](Commands &cmds) {
			Operand x = Input(NPU_DTYPE_F32, {8, 8}, -1, 1);
			npu_pkt_reduce p = ReducePacket(NPU_RED_SUM, 0b11, x.dev,
							Output(NPU_DTYPE_F32, {1, 1}));
			p.x.addr = at;
			return Emit(cmds, p);
		},
		&offset);
	ExpectPageFault(o, offset, at, at + 256, true);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_FAULTS), faults + 1);
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_CONTEXT_LAST_FAULT), o.wait.args.fault_addr);

	Commands good;
	Operand x = Input(NPU_DTYPE_F32, {8, 8}, -1, 1);
	DevTensor y = Output(NPU_DTYPE_F32, {1, 1});
	npu_pkt_reduce p = ReducePacket(NPU_RED_SUM, 0b11, x.dev, y);
	Emit(good, p);
	ASSERT_TRUE(RunOk(good));
	ExpectResult(y, RefReduce(p, x.host), kReduceF32, "REDUCE after the fault");
}

} // namespace
} // namespace npu_test::ops
