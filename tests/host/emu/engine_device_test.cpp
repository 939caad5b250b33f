// SPDX-License-Identifier: MIT
// The tensor engines behind the real firmware, on the host: operations
// split over engines, jobs of two queues on the engines at once, and a
// reset that stops a task which would otherwise run for hours.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "drm/npu_accel.h"
#include "drm/npu_packet.h"
#include "fake_host.h"

namespace npu::emu::test
{
namespace
{

using namespace std::chrono_literals;

constexpr std::uint64_t kXVa = 0x100000;
constexpr std::uint64_t kYVa = 0x400000;

template <typename Packet> std::vector<std::uint32_t> words(const Packet &p)
{
	std::vector<std::uint32_t> w(sizeof(p) / 4);
	std::memcpy(w.data(), &p, sizeof(p));
	return w;
}

npu_tensor tensor(std::uint64_t addr, std::vector<std::uint32_t> shape,
		  std::vector<std::int64_t> stride)
{
	npu_tensor t{};
	t.addr = addr;
	t.dtype = NPU_DTYPE_F32;
	t.rank = static_cast<std::uint32_t>(shape.size());
	for (unsigned d = 0; d < t.rank; d++) {
		t.shape[d] = shape[d];
		t.stride[d] = stride[d];
	}
	return t;
}

npu_pkt_unary relu(const npu_tensor &x, const npu_tensor &y)
{
	npu_pkt_unary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS);
	p.act.fn = NPU_FN_RELU;
	p.x = x;
	p.y = y;
	return p;
}

class EngineDevice : public ::testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_EQ(host_.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
		host_.setup_queue(0);
		host_.setup_queue(1);
		ctx_ = host_.new_context();
		host_.map(ctx_, kXVa, kElems * 4, false);
		host_.map(ctx_, kYVa, kElems * 4, true);
		std::vector<float> x(kElems);
		for (std::size_t i = 0; i < kElems; i++)
			x[i] = (i % 7) - 3.0f;
		host_.write_va(ctx_, kXVa, x.data(), x.size() * 4);
	}

	std::uint64_t engine_tasks() const
	{
		std::uint64_t n = 0;
		for (unsigned e = 0; e < host_.regs()->engine_count; e++)
			n += reinterpret_cast<const npu_engine_regs *>(
				     host_.bar2().base + NPU_ENGINE_OFFSET + e * NPU_ENGINE_STRIDE)
				     ->tasks_done;
		return n;
	}

	static constexpr std::size_t kElems = 1 << 19; // split over the engines
	FakeHost host_;
	Context ctx_;
};

TEST_F(EngineDevice, LargeOperationIsSplitOverEnginesAndComputed)
{
	const std::uint32_t n = kElems;
	auto p = relu(tensor(kXVa, {n}, {1}), tensor(kYVa, {n}, {1}));
	std::uint64_t before = engine_tasks();
	std::uint64_t seqno = host_.submit(0, ctx_, words(p));
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_GE(engine_tasks() - before, 2u) << "one engine did all the work";
	EXPECT_EQ(host_.regs()->ops_done, 1u);
	std::vector<float> y(kElems);
	host_.read_va(ctx_, kYVa, y.data(), y.size() * 4);
	for (std::size_t i = 0; i < kElems; i += 4099)
		ASSERT_EQ(y[i], std::max(0.0f, (i % 7) - 3.0f)) << "element " << i;
}

TEST_F(EngineDevice, ResetStopsATaskThatWouldRunForHours)
{
	// One output summing 2^40 elements (one element read over and over
	// through zero strides): a single cell no tile plan can split, far
	// beyond any job timeout. The reset must cancel it.
	npu_pkt_reduce p{};
	p.header = NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS);
	p.fn = NPU_RED_SUM;
	p.axes = 3;
	p.x = tensor(kXVa, {1u << 20, 1u << 20}, {0, 0});
	p.y = tensor(kYVa, {1, 1}, {1, 1});
	std::uint64_t seqno = host_.submit(0, ctx_, words(p));
	ASSERT_TRUE(host_.wait_for(
		[&] { return host_.device().status().find("state=READY") != std::string::npos; }));
	std::this_thread::sleep_for(100ms);
	EXPECT_FALSE(host_.wait_done(0, seqno, 10ms)) << "the endless operation finished";

	auto start = std::chrono::steady_clock::now();
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "reset waited for the task";

	// the device works again after a boot
	ASSERT_EQ(host_.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
	host_.setup_queue(0);
	const std::uint32_t n = 1024;
	auto small = relu(tensor(kXVa, {n}, {1}), tensor(kYVa, {n}, {1}));
	std::uint64_t again = host_.submit(0, ctx_, words(small));
	ASSERT_TRUE(host_.wait_done(0, again));
	EXPECT_EQ(host_.descriptor(0, again).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(EngineDevice, AnotherQueueRunsWhileOneWaitsForItsEngines)
{
	// queue 0's endless operation keeps its engines; queue 1 still
	// completes its own job on the rest
	auto endless = relu(tensor(kXVa, {1u << 20, 1u << 20}, {0, 0}),
			    tensor(kYVa, {1u << 20, 1u << 20}, {0, 0}));
	std::uint64_t stuck = host_.submit(0, ctx_, words(endless));
	const std::uint32_t n = 4096;
	auto small = relu(tensor(kXVa, {n}, {1}), tensor(kYVa + (1 << 20), {n}, {1}));
	std::uint64_t quick = host_.submit(1, ctx_, words(small));
	ASSERT_TRUE(host_.wait_done(1, quick));
	EXPECT_EQ(host_.descriptor(1, quick).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
	EXPECT_FALSE(host_.wait_done(0, stuck, 10ms));
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
}

} // namespace
} // namespace npu::emu::test
