// Operation packets inside a CALLed command buffer (a baked graph): they
// run on the tensor engines, each sees what the one before wrote, the job
// goes on in the called buffer after each and returns to its own; a
// failure found while an operation of a called buffer runs is reported at
// the job's outermost CALL.
#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

using OpsCall = OpsTest;

TEST_F(OpsCall, OperationsInsideACallSeeEachOther)
{
	Operand a = Input(NPU_DTYPE_F32, {64, 80}, -1, 1);
	Operand b = Input(NPU_DTYPE_F32, {80, 48}, -1, 1);
	DevTensor y1 = Output(NPU_DTYPE_F32, {64, 48});
	DevTensor y2 = Output(NPU_DTYPE_F32, {64, 48});
	DevTensor y3 = Output(NPU_DTYPE_F32, {64, 1});
	npu_pkt_gemm gemm = GemmPacket(a.dev, b.dev, nullptr, y1);
	npu_pkt_unary unary = UnaryPacket(Act(NPU_FN_TANH), y1, y2);
	npu_pkt_reduce reduce = ReducePacket(NPU_RED_SUM, 0b10, y2, y3);
	Commands graph;
	Emit(graph, gemm);
	Emit(graph, unary);
	Emit(graph, reduce);
	const uint64_t addr = s->Stage(graph);
	uint64_t before = s->dev().Param(DRM_NPU_PARAM_OPS_DONE);
	Commands cmds;
	cmds.Call(addr, graph.bytes());
	cmds.Nop();
	cmds.Call(addr, graph.bytes()); // the baked buffer runs again
	ASSERT_TRUE(RunOk(cmds));
	EXPECT_EQ(s->dev().Param(DRM_NPU_PARAM_OPS_DONE) - before, 6u);
	HostTensor got1 = y1.Read(), got2 = y2.Read();
	ExpectResult(y1, RefGemm(gemm, a.host, b.host, nullptr), kGemmF32, "GEMM");
	ExpectResult(y2, RefUnary(unary, got1), kEltwiseF32, "UNARY of the GEMM's y");
	ExpectResult(y3, RefReduce(reduce, got2), kReduceF32, "REDUCE of the UNARY's y");
}

TEST_F(OpsCall, AnOperationFailingInsideACallFailsAtTheCall)
{
	Operand x = Input(NPU_DTYPE_F32, {3, 7}, -1, 1);
	HostTensor idx_values(NPU_DTYPE_I64, {3});
	idx_values.ints = {0, 7, 1}; // 7 is out of range
	Operand idx = InputFrom(idx_values);
	DevTensor y = Output(NPU_DTYPE_F32, {3, 3});
	Operand small = Input(NPU_DTYPE_I32, {8}, -100, 100);
	DevTensor before_y = Output(NPU_DTYPE_I32, {8});
	DevTensor after_y = Output(NPU_DTYPE_I32, {8});
	Commands graph;
	Emit(graph, TensorCopyPacket(NPU_COPY_PLAIN, small.dev, before_y));
	Emit(graph, GatherPacket(NPU_GATHER_TAKE, 1, x.dev, idx.dev, y));
	Emit(graph, TensorCopyPacket(NPU_COPY_PLAIN, small.dev, after_y));
	const uint64_t addr = s->Stage(graph);
	Commands cmds;
	cmds.Nop();
	uint32_t call = cmds.Call(addr, graph.bytes());
	WaitResult r = Run(cmds);
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_BAD_PACKET);
	EXPECT_EQ(r.args.err_offset, call);
	EXPECT_TRUE(MatchesReference(before_y.Read(), Expected{small.host, {}}, kExact))
		<< "the packet before the failing gather did not run";
	EXPECT_TRUE(after_y.RegionUnwritten()) << "a packet after the failing gather ran";
	s->ExpectWorks();
}

} // namespace
} // namespace npu_test::ops
