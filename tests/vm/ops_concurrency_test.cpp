// Operations on several engines at once, shown by device timestamps
// (TIMESTAMP packets around the operations): two contexts' GEMMs overlap in
// time; a high-priority job overtakes low-priority work queued before it;
// an engine page fault fails only the job that caused it while another
// context's GEMM completes with correct data; and within one job each
// packet sees everything the previous one wrote. Also what the device
// reports about its operations (GET_PARAM).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>
#include <system_error>
#include <thread>

#include "op_packets.h"

namespace npu_test::ops
{
namespace
{

// A queue created with QUEUE_CREATE, destroyed with the object.
class Queue
{
public:
	Queue(const Device &dev, uint32_t priority) : dev_(dev)
	{
		drm_npu_queue_create args{};
		args.priority = priority;
		int err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args);
		if (err)
			throw std::system_error(err, std::generic_category(), "QUEUE_CREATE");
		id_ = args.queue_id;
	}
	~Queue()
	{
		drm_npu_queue_destroy args{id_, 0};
		IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_QUEUE_DESTROY, &args);
	}
	Queue(const Queue &) = delete;
	Queue &operator=(const Queue &) = delete;
	uint32_t id() const { return id_; }

private:
	const Device &dev_;
	uint32_t id_ = 0;
};

// F32 GEMM operands of one context: a and b in a read-only BO (shared by
// its jobs without ordering them), and per job its own BOs for y and for
// its timestamps: a BO a job writes orders it after every earlier user, so
// sharing one would serialise jobs of different queues.
struct GemmSetup {
	GemmSetup(Session &session, uint64_t m, uint64_t k, uint64_t n, int jobs)
	    : inputs(session.dev(), DRM_NPU_BO_DEVICE_READ_ONLY), a(inputs, NPU_DTYPE_F32, {m, k}),
	      b(inputs, NPU_DTYPE_F32, {k, n})
	{
		for (int j = 0; j < jobs; j++) {
			outputs.push_back(std::make_unique<Arena>(session.dev()));
			ys.emplace_back(*outputs.back(), NPU_DTYPE_F32, Shape{m, n});
			stamps.push_back(std::make_unique<Bo>(session.dev(), kPageSize));
		}
	}

	// The same value everywhere (a and b are contiguous), quickly even on
	// the guest's slow CPU.
	void FillConstant(float av, float bv)
	{
		std::fill_n(reinterpret_cast<float *>(a.host_base()), ElementCount(a.shape()), av);
		std::fill_n(reinterpret_cast<float *>(b.host_base()), ElementCount(b.shape()), bv);
	}

	// y[i] of job j, row-major (ys are contiguous).
	float Y(int j, uint64_t i) const
	{
		float v;
		std::memcpy(&v, ys[j].host_base() + 4 * i, 4);
		return v;
	}

	// job: [TIMESTAMP arrived, WAIT_MEM gate], TIMESTAMP start,
	// GEMM x repeats, TIMESTAMP end
	Commands Job(int j, int repeats, const Bo *gate = nullptr) const
	{
		Commands c;
		if (gate) {
			c.Timestamp(stamps[j]->addr() + 16);
			c.WaitMem(gate->addr(), 1);
		}
		c.Timestamp(stamps[j]->addr());
		for (int r = 0; r < repeats; r++)
			Emit(c, GemmPacket(a, b, nullptr, ys[j]));
		c.Timestamp(stamps[j]->addr() + 8);
		return c;
	}

	std::vector<uint32_t> Bos(int j) const
	{
		std::vector<uint32_t> h = inputs.handles();
		for (uint32_t o : outputs[j]->handles())
			h.push_back(o);
		h.push_back(stamps[j]->handle());
		return h;
	}

	uint64_t Start(int j) { return stamps[j]->ReadU64(0); }
	uint64_t End(int j) { return stamps[j]->ReadU64(8); }
	// a gated job is on the device, waiting for its gate
	bool Arrived(int j) { return stamps[j]->ReadU64(16) != 0; }

	Arena inputs;
	DevTensor a, b;
	std::vector<std::unique_ptr<Arena>> outputs;
	std::vector<DevTensor> ys;
	std::vector<std::unique_ptr<Bo>> stamps;
};

SubmitOptions OnQueue(uint32_t queue, std::vector<uint32_t> bos)
{
	SubmitOptions o = UsingBos(std::move(bos));
	o.queue_id = queue;
	return o;
}

// Polls guest-visible memory the device writes, up to timeout_ms.
bool WaitUntil(const std::function<bool()> &done, int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	while (!done()) {
		if (MonotonicNs() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
	return true;
}

using OpsConcurrency = OpsTest;

// Both jobs wait on a gate until both are on the device, then run a
// 1024^3 F32 GEMM each: their [start, end] intervals must overlap. A
// device running one job at a time would run the second after the first.
TEST_F(OpsConcurrency, TwoContextsGemmsOverlapInTime)
{
	Session other(std::make_unique<Device>(s->dev().path()));
	Queue qa(s->dev(), DRM_NPU_PRIORITY_NORMAL), qb(other.dev(), DRM_NPU_PRIORITY_NORMAL);
	GemmSetup ga(*s, 1024, 1024, 1024, 1), gb(other, 1024, 1024, 1024, 1);
	ga.FillConstant(0.5f, 0.25f);
	gb.FillConstant(0.25f, 0.75f);
	Bo gate_a(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Bo gate_b(other.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	auto bos_a = ga.Bos(0), bos_b = gb.Bos(0);
	bos_a.push_back(gate_a.handle());
	bos_b.push_back(gate_b.handle());
	uint64_t seq_a = s->Submit(ga.Job(0, 1, &gate_a), OnQueue(qa.id(), bos_a));
	uint64_t seq_b = other.Submit(gb.Job(0, 1, &gate_b), OnQueue(qb.id(), bos_b));
	// both jobs on the device, each waiting for its gate
	ASSERT_TRUE(WaitUntil([&] { return ga.Arrived(0) && gb.Arrived(0); }, 20000))
		<< "the jobs never reached the device";
	gate_a.WriteU64(0, 1);
	gate_b.WriteU64(0, 1);
	ASSERT_JOB_STATUS(s->WaitStatus(seq_a, 20000, qa.id()), DRM_NPU_JOB_STATUS_OK);
	ASSERT_JOB_STATUS(other.WaitStatus(seq_b, 20000, qb.id()), DRM_NPU_JOB_STATUS_OK);

	uint64_t a0 = ga.Start(0), a1 = ga.End(0), b0 = gb.Start(0), b1 = gb.End(0);
	ASSERT_LT(a0, a1);
	ASSERT_LT(b0, b1);
	EXPECT_LT(std::max(a0, b0), std::min(a1, b1))
		<< "context A ran [" << a0 << ", " << a1 << "] ns, context B [" << b0 << ", " << b1
		<< "] ns: one after the other";
	// and both computed their own product: 1024 * 0.5 * 0.25 and 1024 * 0.25 * 0.75
	for (uint64_t i = 0; i < 1024 * 1024; i += 4099) {
		ASSERT_EQ(ga.Y(0, i), 128.0f) << "element " << i;
		ASSERT_EQ(gb.Y(0, i), 192.0f) << "element " << i;
	}
}

// Three low-priority queues, each with two GEMM jobs, and one job of the
// same size on a high-priority queue of another context. The first
// low-priority jobs and the high-priority one wait on the device behind
// gates; the low gate opens first, and once the low jobs have started the
// high gate opens. The high job's tiles go first, so it ends before every
// low-priority job, even those already running. (With fair sharing instead
// it ends after the ones that had a head start: checked by running this
// with the high queue at LOW priority.) Gates, not submissions, start the
// jobs, so the guest's submission latency gives no job a head start.
TEST_F(OpsConcurrency, HighPriorityJobOvertakesQueuedLowPriorityWork)
{
	constexpr int kLowQueues = 3, kJobsPerQueue = 2, kGemmsPerJob = 8;
	constexpr uint64_t kSize = 512;
	std::vector<std::unique_ptr<Queue>> low;
	for (int q = 0; q < kLowQueues; q++)
		low.push_back(std::make_unique<Queue>(s->dev(), DRM_NPU_PRIORITY_LOW));
	GemmSetup lows(*s, kSize, kSize, kSize, kLowQueues * kJobsPerQueue);
	lows.FillConstant(1.0f, 0.5f);
	Bo low_gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Session other(std::make_unique<Device>(s->dev().path()));
	Queue high(other.dev(), DRM_NPU_PRIORITY_HIGH);
	GemmSetup highs(other, kSize, kSize, kSize, 1);
	highs.FillConstant(0.5f, 0.5f);
	Bo high_gate(other.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);

	std::vector<std::pair<uint32_t, uint64_t>> low_jobs; // queue, seqno
	for (int j = 0; j < kLowQueues * kJobsPerQueue; j++) {
		uint32_t q = low[j % kLowQueues]->id();
		// the first job of each queue waits for the gate, the second
		// behind it
		const bool gated = j < kLowQueues;
		auto bos = lows.Bos(j);
		if (gated)
			bos.push_back(low_gate.handle());
		low_jobs.emplace_back(
			q, s->Submit(lows.Job(j, kGemmsPerJob, gated ? &low_gate : nullptr),
				     OnQueue(q, bos)));
	}
	auto high_bos = highs.Bos(0);
	high_bos.push_back(high_gate.handle());
	uint64_t seq_high =
		other.Submit(highs.Job(0, kGemmsPerJob, &high_gate), OnQueue(high.id(), high_bos));
	ASSERT_TRUE(WaitUntil(
		[&] {
			for (int j = 0; j < kLowQueues; j++)
				if (!lows.Arrived(j))
					return false;
			return highs.Arrived(0);
		},
		20000))
		<< "the jobs never reached the device";
	low_gate.WriteU64(0, 1);
	ASSERT_TRUE(WaitUntil(
		[&] {
			for (int j = 0; j < kLowQueues; j++)
				if (!lows.Start(j))
					return false;
			return true;
		},
		10000))
		<< "the low-priority jobs never started";
	high_gate.WriteU64(0, 1);

	ASSERT_JOB_STATUS(other.WaitStatus(seq_high, 20000, high.id()), DRM_NPU_JOB_STATUS_OK);
	for (auto [q, seqno] : low_jobs)
		ASSERT_JOB_STATUS(s->WaitStatus(seqno, 20000, q), DRM_NPU_JOB_STATUS_OK);

	uint64_t high_end = highs.End(0);
	std::ostringstream timeline;
	timeline << "high [" << highs.Start(0) << ", " << high_end << "]";
	for (int j = 0; j < kLowQueues * kJobsPerQueue; j++)
		timeline << ", low " << j << " [" << lows.Start(j) << ", " << lows.End(j) << "]";
	for (int j = 0; j < kLowQueues * kJobsPerQueue; j++)
		EXPECT_LT(high_end, lows.End(j))
			<< "low-priority job " << j << " (queue " << low_jobs[j].first
			<< ") ended before the high-priority one: " << timeline.str();
	EXPECT_EQ(highs.Y(0, 12345), float(kSize) * 0.25f);
	RecordProperty("timeline", timeline.str());
}

// One context's GEMM reads an unmapped page while another context's GEMM
// runs: the first job fails with PAGE_FAULT at that packet, the second
// completes with correct results, and both contexts keep working.
TEST_F(OpsConcurrency, EngineFaultFailsOnlyTheJobThatCausedIt)
{
	constexpr uint64_t M = 384, K = 512, N = 448;
	Session healthy(std::make_unique<Device>(s->dev().path()));
	Queue q_ok(healthy.dev(), DRM_NPU_PRIORITY_NORMAL);
	GemmSetup ok(healthy, M, K, N, 1);
	HostTensor ha = RandomTensor(NPU_DTYPE_F32, {M, K}, rng(), -3, 3);
	HostTensor hb = RandomTensor(NPU_DTYPE_F32, {K, N}, rng(), -3, 3);
	for (auto *t : {&ha, &hb}) // small integers: every result exact in f32
		for (double &v : t->real)
			v = std::round(v);
	ok.a.Write(ha);
	ok.b.Write(hb);

	// The faulting job: its a lies on unmapped pages, past every BO.
	Queue q_bad(s->dev(), DRM_NPU_PRIORITY_NORMAL);
	GemmSetup bad(*s, M, K, N, 1);
	Bo gate(s->dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	uint64_t top = std::max({bad.inputs.end_addr(), bad.outputs[0]->end_addr(),
				 gate.addr() + gate.size(), bad.stamps[0]->addr() + kPageSize,
				 s->cmd_bo().addr() + s->cmd_bo().size(),
				 s->scratch().addr() + s->scratch().size()});
	const uint64_t a_addr = (top + (64ull << 20)) & ~(kPageSize - 1);
	Commands bad_job;
	bad_job.WaitMem(gate.addr(), 1);
	bad_job.Timestamp(bad.stamps[0]->addr());
	npu_pkt_gemm fault = GemmPacket(bad.a, bad.b, nullptr, bad.ys[0]);
	fault.a.addr = a_addr;
	const uint32_t fault_offset = Emit(bad_job, fault);
	bad_job.Timestamp(bad.stamps[0]->addr() + 8);
	auto bad_bos = bad.Bos(0);
	bad_bos.push_back(gate.handle());
	uint64_t seq_bad = s->Submit(bad_job, OnQueue(q_bad.id(), bad_bos));

	// The healthy job: GEMMs, then a gate the test opens once the fault
	// is reported, then one more GEMM: it is on the device all along.
	Bo ok_gate(healthy.dev(), kPageSize, DRM_NPU_BO_DEVICE_READ_ONLY);
	Commands ok_job;
	ok_job.Timestamp(ok.stamps[0]->addr());
	for (int r = 0; r < 3; r++)
		Emit(ok_job, GemmPacket(ok.a, ok.b, nullptr, ok.ys[0]));
	ok_job.WaitMem(ok_gate.addr(), 1);
	Emit(ok_job, GemmPacket(ok.a, ok.b, nullptr, ok.ys[0]));
	ok_job.Timestamp(ok.stamps[0]->addr() + 8);
	auto ok_bos = ok.Bos(0);
	ok_bos.push_back(ok_gate.handle());
	uint64_t seq_ok = healthy.Submit(ok_job, OnQueue(q_ok.id(), ok_bos));
	ASSERT_TRUE(WaitUntil([&] { return ok.Start(0) != 0; }, 10000))
		<< "the GEMM job never started";
	gate.WriteU64(0, 1); // now fault while the other context computes

	WaitResult r = s->Wait(seq_bad, 20000, q_bad.id());
	ASSERT_EQ(r.err, 0);
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_PAGE_FAULT);
	EXPECT_EQ(r.args.err_offset, fault_offset);
	EXPECT_GE(r.args.fault_addr, a_addr);
	EXPECT_LT(r.args.fault_addr, a_addr + M * K * 4);
	ok_gate.WriteU64(0, 1);
	ASSERT_JOB_STATUS(healthy.WaitStatus(seq_ok, 20000, q_ok.id()), DRM_NPU_JOB_STATUS_OK);
	EXPECT_EQ(bad.End(0), 0u) << "the packet after the faulting GEMM ran";
	uint64_t fault_time = bad.Start(0);
	EXPECT_TRUE(fault_time > ok.Start(0) && fault_time < ok.End(0))
		<< "the faulting job started at " << fault_time << " ns, outside the other job's ["
		<< ok.Start(0) << ", " << ok.End(0) << "]";

	// Spot-check the healthy result: whole rows and columns, exactly.
	HostTensor y = ok.ys[0].Read();
	uint64_t bad_count = 0;
	for (uint64_t i = 0; i < M * N; i += 37) {
		uint64_t m = i / N, n = i % N;
		double want = 0;
		for (uint64_t k = 0; k < K; k++)
			want += ha.real[m * K + k] * hb.real[k * N + n];
		if (y.real[i] != want && bad_count++ < 5)
			ADD_FAILURE() << "y[" << m << "," << n << "] = " << y.real[i]
				      << ", expected " << want;
	}
	EXPECT_EQ(bad_count, 0u);
	s->ExpectWorks();
	healthy.ExpectWorks();
}

// GEMM (spread over the engines) -> UNARY -> REDUCE -> CAST in one job,
// each reading the previous one's output: each result is checked against
// the reference applied to what the device wrote before it, so a packet
// starting before the previous one finished shows as a mismatch.
TEST_F(OpsConcurrency, EachPacketSeesWhatThePreviousOnesWrote)
{
	Commands cmds;
	Operand a = Input(NPU_DTYPE_F32, {256, 300}, -1, 1);
	Operand b = Input(NPU_DTYPE_F32, {300, 257}, -1, 1);
	DevTensor y1 = Output(NPU_DTYPE_F32, {256, 257});
	DevTensor y2 = Output(NPU_DTYPE_F32, {256, 257}, Transposed(2));
	DevTensor y3 = Output(NPU_DTYPE_F32, {256, 1});
	DevTensor y4 = Output(NPU_DTYPE_I32, {256, 1});
	npu_pkt_gemm gemm = GemmPacket(a.dev, b.dev, nullptr, y1);
	gemm.alpha = F32Bits(0.25f);
	npu_pkt_unary unary = UnaryPacket(Act(NPU_FN_TANH), y1, y2);
	npu_pkt_reduce reduce = ReducePacket(NPU_RED_SUM, 0b10, y2, y3);
	npu_pkt_cast cast = CastPacket(y3, y4);
	Emit(cmds, gemm);
	Emit(cmds, unary);
	Emit(cmds, reduce);
	Emit(cmds, cast);
	ASSERT_TRUE(RunOk(cmds));
	HostTensor got1 = y1.Read(), got2 = y2.Read(), got3 = y3.Read();
	ExpectResult(y1, RefGemm(gemm, a.host, b.host, nullptr), kGemmF32, "GEMM");
	ExpectResult(y2, RefUnary(unary, got1), kEltwiseF32, "UNARY of the GEMM's y");
	ExpectResult(y3, RefReduce(reduce, got2), kReduceF32, "REDUCE of the UNARY's y");
	ExpectResult(y4, RefCast(cast, got3), kExact, "CAST of the REDUCE's y");
}

// What the device says it runs, and the count of operations it completed.
TEST_F(OpsConcurrency, DeviceReportsItsOperations)
{
	const Device &dev = s->dev();
	EXPECT_GE(dev.Param(DRM_NPU_PARAM_PACKET_VERSION), uint64_t(NPU_PACKET_VERSION));
	uint64_t ops = dev.Param(DRM_NPU_PARAM_OP_MASK);
	for (uint32_t op = NPU_OP_GEMM; op <= NPU_OP_LAST; op++)
		EXPECT_TRUE(ops >> op & 1) << "opcode 0x" << std::hex << op << " not in OP_MASK";
	for (uint32_t op = NPU_OP_NOP; op <= NPU_OP_DATA_LAST; op++)
		EXPECT_TRUE(ops >> op & 1) << "opcode 0x" << std::hex << op << " not in OP_MASK";
	EXPECT_FALSE(ops >> (NPU_OP_LAST + 1) & 1);
	uint64_t dtypes = dev.Param(DRM_NPU_PARAM_DTYPE_MASK);
	for (uint32_t dt : kAllDtypes)
		EXPECT_TRUE(dtypes >> dt & 1) << DtypeName(dt) << " not in DTYPE_MASK";
	EXPECT_FALSE(dtypes & 1) << "NONE is no dtype";
	EXPECT_GT(dev.Param(DRM_NPU_PARAM_ENGINE_COUNT), 0u);
	EXPECT_GT(dev.Param(DRM_NPU_PARAM_ENGINE_MEM_SIZE), 0u);

	uint64_t before = dev.Param(DRM_NPU_PARAM_OPS_DONE);
	Commands cmds;
	Operand x = Input(NPU_DTYPE_F32, {4, 4}, -1, 1);
	Emit(cmds, UnaryPacket(Act(NPU_FN_RELU), x.dev, Output(NPU_DTYPE_F32, {4, 4})));
	cmds.Nop();
	Emit(cmds, CastPacket(x.dev, Output(NPU_DTYPE_I8, {4, 4})));
	Emit(cmds, ReducePacket(NPU_RED_SUM, 1, x.dev, Output(NPU_DTYPE_F32, {1, 4})));
	ASSERT_TRUE(RunOk(cmds));
	EXPECT_EQ(dev.Param(DRM_NPU_PARAM_OPS_DONE) - before, 3u)
		<< "three operation packets (and a NOP) ran";
}

} // namespace
} // namespace npu_test::ops
