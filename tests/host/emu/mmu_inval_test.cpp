// SPDX-License-Identifier: MIT
// Translation invalidate (hw 1.2, docs/hardware.md §8): the request
// completes in every core state, waits for a task that still uses a
// translation from before it and for a DMA chunk in progress, and leaves no
// cached translation behind (the next access walks the tables and faults on
// a cleared entry).
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "drm/npu_accel.h"
#include "drm/npu_packet.h"
#include "fake_host.h"
#include "npu_control.h"
#include "npu_dma.h"
#include "npu_tensor_access.h"
#include "rv64_asm.h"

namespace npu::emu::test
{
namespace
{

using namespace std::chrono_literals;

// Long enough for an invalidate that does not wait to have finished even on
// a loaded machine. Only used to check that something has NOT happened yet,
// so a slow machine cannot make a test fail.
constexpr auto kPendingCheck = 200ms;
constexpr auto kDeadline = 20s;

// Runs fn on another thread; the future says when it returned.
std::future<void> in_background(std::function<void()> fn)
{
	return std::async(std::launch::async, std::move(fn));
}

bool finished(std::future<void> &f, std::chrono::milliseconds within)
{
	return f.wait_for(within) == std::future_status::ready;
}

// What page() did: a host pointer or a fault.
struct PageOutcome {
	std::uint8_t *host = nullptr;
	std::uint32_t fault = 0; // NPU_ENG_ST_* or 0
	std::uint64_t addr = 0;
};

PageOutcome page_of(ContextMemory &mem, std::uint64_t va, bool write = false)
{
	try {
		return {mem.page(va, write), 0, 0};
	} catch (const EngineFault &f) {
		return {nullptr, f.status, f.addr};
	}
}

// ---- the engines' translation cache, driven directly ----------------------

class TranslationCache : public ::testing::Test
{
protected:
	void SetUp() override
	{
		host_.map(ctx_, kA, NPU_PAGE_SIZE, true);
		host_.map(ctx_, kB, NPU_PAGE_SIZE, true);
	}
	TranslationSync &sync() { return dma_.translation_sync(); }

	static constexpr std::uint64_t kA = 0x200000;
	static constexpr std::uint64_t kB = 0x300000;
	FakeHost host_;
	Context ctx_ = host_.new_context();
	// An engine's view of its own, apart from the device's (whose MMU
	// thread plays no part here).
	DmaEngine dma_{host_.bar2(), host_.ram()};
};

TEST_F(TranslationCache, CachedTranslationOutlivesItsPteUntilAnInvalidate)
{
	std::future<void> inval; // outlives mem: mem's end lets it finish
	ContextMemory mem(dma_, ctx_.pt_root);
	PageOutcome first = page_of(mem, kA + 8);
	ASSERT_NE(first.host, nullptr);
	host_.clear_pte(ctx_, kA);
	// the cache is why the device needs invalidates at all
	EXPECT_EQ(page_of(mem, kA + 8).host, first.host) << "no cache: this test shows nothing";

	std::uint64_t before = sync().generation();
	inval = in_background([&] { sync().invalidate(); });
	ASSERT_TRUE(host_.wait_for([&] { return sync().generation() != before; }, kDeadline));
	// the next access, once the request is in, walks the tables again
	PageOutcome after = page_of(mem, kA + 8);
	EXPECT_EQ(after.host, nullptr) << "a translation cached before the invalidate was used";
	EXPECT_EQ(after.fault, std::uint32_t{NPU_ENG_ST_FAULT_READ});
	EXPECT_EQ(after.addr, kA + 8);
	EXPECT_TRUE(finished(inval, kDeadline));
	EXPECT_EQ(sync().invalidations(), 1u);
}

TEST_F(TranslationCache, TaskHoldingATranslationKeepsTheRequestPendingUntilItMovesOn)
{
	std::future<void> inval, again; // outlive mem: mem's end lets them finish
	{
		ContextMemory mem(dma_, ctx_.pt_root);
		ASSERT_NE(page_of(mem, kA).host, nullptr); // in use from now on
		EXPECT_EQ(sync().current_users(), 1u);
		inval = in_background([&] { sync().invalidate(); });
		EXPECT_FALSE(finished(inval, kPendingCheck))
			<< "completed while a task may still use a pointer from before it";
		// the next translation: the old page's pointer is dead now
		EXPECT_NE(page_of(mem, kB).host, nullptr);
		EXPECT_TRUE(finished(inval, kDeadline)) << "the task moved on";
		// ... and it is in the new generation, holding up no one
		EXPECT_EQ(sync().current_users(), 1u);
		again = in_background([&] { sync().invalidate(); });
		EXPECT_FALSE(finished(again, kPendingCheck)) << "the task is busy again";
		mem.release();
		EXPECT_TRUE(finished(again, kDeadline));
	}
	inval.wait();
	EXPECT_EQ(sync().invalidations(), 2u);
	EXPECT_EQ(sync().current_users(), 0u);
}

TEST_F(TranslationCache, ReleasedTaskDoesNotHoldTheRequestButDropsItsCacheAfterIt)
{
	std::future<void> inval; // outlives mem: mem's end lets it finish
	ContextMemory mem(dma_, ctx_.pt_root);
	std::uint8_t *a = page_of(mem, kA).host;
	ASSERT_NE(a, nullptr);
	host_.clear_pte(ctx_, kA);

	// released without an invalidate in between: the cache stays
	mem.release();
	EXPECT_EQ(sync().current_users(), 0u);
	EXPECT_EQ(page_of(mem, kA).host, a);

	mem.release(); // computing on staged data
	inval = in_background([&] { sync().invalidate(); });
	ASSERT_TRUE(finished(inval, kDeadline)) << "waited for a task that holds nothing";
	EXPECT_EQ(page_of(mem, kA).fault, std::uint32_t{NPU_ENG_ST_FAULT_READ});
}

TEST_F(TranslationCache, StridedWalkOnOnePageTranslatesAgainAfterARequest)
{
	// A zero stride reads one element over and over through one page
	// pointer (no page() call per element). After a request the walk must
	// translate again within a few thousand elements, in the very call
	// during which the request came, not only at its next call.
	ContextMemory mem(dma_, ctx_.pt_root);
	npu_tensor desc{};
	desc.addr = kA;
	desc.dtype = NPU_DTYPE_U8;
	desc.rank = 1;
	desc.shape[0] = 1u << 31;
	desc.stride[0] = 0;
	TensorRef x(mem, desc);
	const std::uint64_t kPerCall = 1 << 24;
	std::uint64_t old_generation = sync().generation();
	std::uint64_t call_generation = 0; // when the faulting call began
	std::atomic<bool> cleared{false};
	auto walk = in_background([&] {
		std::vector<std::uint8_t> out(kPerCall);
		try {
			// bounded: ends by itself (after seconds) if nothing stops it
			for (std::uint64_t at = 0; at < desc.shape[0]; at += kPerCall) {
				call_generation = sync().generation();
				x.read_raw(at, kPerCall, out.data());
			}
		} catch (const EngineFault &f) {
			EXPECT_EQ(f.status, std::uint32_t{NPU_ENG_ST_FAULT_READ});
			EXPECT_EQ(f.addr, kA);
			EXPECT_TRUE(cleared.load());
			return;
		}
		ADD_FAILURE() << "the walk never translated its page again";
	});
	ASSERT_TRUE(host_.wait_for([&] { return sync().current_users() == 1; }, kDeadline));
	host_.clear_pte(ctx_, kA);
	cleared = true;
	sync().invalidate();
	ASSERT_TRUE(finished(walk, kDeadline));
	EXPECT_EQ(call_generation, old_generation)
		<< "the call that saw the request finished on its old page pointer";
}

// ---- the DMA engine ---------------------------------------------------------

class DmaInterlock : public TranslationCache
{
protected:
	// Blocks run() between translating and copying the first chunk until
	// open().
	void hold_first_chunk()
	{
		dma_.set_chunk_hook([this](std::uint64_t done) {
			if (done != 0)
				return;
			std::unique_lock lock(mutex_);
			in_chunk_ = true;
			cv_.notify_all();
			cv_.wait(lock, [&] { return open_; });
		});
	}
	bool wait_in_chunk()
	{
		std::unique_lock lock(mutex_);
		return cv_.wait_for(lock, kDeadline, [&] { return in_chunk_; });
	}
	void open()
	{
		std::lock_guard lock(mutex_);
		open_ = true;
		cv_.notify_all();
	}
	// Declared after a test's futures: opens the gate when the test ends
	// early, before the futures wait for their threads.
	struct OpenAtExit {
		DmaInterlock &t;
		~OpenAtExit() { t.open(); }
	};

	std::mutex mutex_; // protects in_chunk_, open_
	std::condition_variable cv_;
	bool in_chunk_ = false;
	bool open_ = false;
	DmaRequest req_;
	DmaResult result_;
};

TEST_F(DmaInterlock, RequestWaitsForTheChunkInProgress)
{
	std::uint32_t pattern = 0x5a5a1234;
	host_.write_va(ctx_, kA, &pattern, sizeof(pattern));
	hold_first_chunk();
	req_.op = NPU_DMA_OP(NPU_DMA_COPY, NPU_DMA_SPACE_CTX, NPU_DMA_SPACE_CTX);
	req_.src = kA;
	req_.dst = kB;
	req_.len = NPU_PAGE_SIZE;
	req_.pt_root = ctx_.pt_root;
	std::future<void> copy, inval;
	OpenAtExit opener{*this};
	copy = in_background([&] { result_ = dma_.run(req_); });
	ASSERT_TRUE(wait_in_chunk());

	inval = in_background([&] { sync().invalidate(); });
	EXPECT_FALSE(finished(inval, kPendingCheck))
		<< "completed while a chunk copy with an older translation was under way";
	open();
	EXPECT_TRUE(finished(inval, kDeadline));
	ASSERT_TRUE(finished(copy, kDeadline));
	EXPECT_EQ(result_.status, std::uint32_t{NPU_DMA_ST_OK});
	EXPECT_EQ(host_.read_u64(ctx_, kB) & 0xffffffff, pattern);
}

TEST_F(DmaInterlock, NextChunkWalksAgain)
{
	// two pages: the second chunk is translated after the request
	host_.map(ctx_, kB + NPU_PAGE_SIZE, NPU_PAGE_SIZE, true);
	hold_first_chunk();
	req_.op = NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_CTX);
	req_.dst = kB;
	req_.len = 2 * NPU_PAGE_SIZE;
	req_.fill = 0x11111111;
	req_.pt_root = ctx_.pt_root;
	std::future<void> fill, inval;
	OpenAtExit opener{*this};
	fill = in_background([&] { result_ = dma_.run(req_); });
	ASSERT_TRUE(wait_in_chunk());
	host_.clear_pte(ctx_, kB + NPU_PAGE_SIZE);
	inval = in_background([&] { sync().invalidate(); });
	open();
	EXPECT_TRUE(finished(inval, kDeadline));
	ASSERT_TRUE(finished(fill, kDeadline));
	EXPECT_EQ(result_.status, std::uint32_t{NPU_DMA_ST_FAULT_WRITE});
	EXPECT_EQ(result_.fault, kB + NPU_PAGE_SIZE);
}

TEST_F(DmaInterlock, TransferWithoutContextAddressesHoldsNothing)
{
	hold_first_chunk();
	req_.op = NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST);
	req_.dst = 0x1000;
	req_.len = 64;
	std::future<void> fill, inval;
	OpenAtExit opener{*this};
	fill = in_background([&] { result_ = dma_.run(req_); });
	ASSERT_TRUE(wait_in_chunk());
	inval = in_background([&] { sync().invalidate(); });
	EXPECT_TRUE(finished(inval, kDeadline)) << "a bus address needs no translation";
	open();
	EXPECT_TRUE(finished(fill, kDeadline));
	EXPECT_EQ(result_.status, std::uint32_t{NPU_DMA_ST_OK});
}

// ---- the device: NPU_DB_MMU in every state -----------------------------------

using namespace rv;

constexpr std::uint64_t kXVa = 0x100000;
constexpr std::uint64_t kYVa = 0x400000;

npu_tensor f32_tensor(std::uint64_t addr, std::vector<std::uint32_t> shape,
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

template <typename Packet> std::vector<std::uint32_t> words(const Packet &p)
{
	std::vector<std::uint32_t> w(sizeof(p) / 4);
	std::memcpy(w.data(), &p, sizeof(p));
	return w;
}

// Sums 2^40 reads of x's first element (zero strides): runs for hours on
// one page unless something stops it.
std::vector<std::uint32_t> endless_reduce()
{
	npu_pkt_reduce p{};
	p.header = NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS);
	p.fn = NPU_RED_SUM;
	p.axes = 3;
	p.x = f32_tensor(kXVa, {1u << 20, 1u << 20}, {0, 0});
	p.y = f32_tensor(kYVa, {1, 1}, {1, 1});
	return words(p);
}

std::vector<std::uint32_t> small_relu()
{
	npu_pkt_unary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS);
	p.act.fn = NPU_FN_RELU;
	p.x = f32_tensor(kXVa, {1024}, {1});
	p.y = f32_tensor(kYVa, {1024}, {1});
	return words(p);
}

class DeviceInvalidate : public ::testing::Test
{
protected:
	void SetUp() override
	{
		ctx_ = host_.new_context();
		host_.map(ctx_, kXVa, 1 << 16, false);
		host_.map(ctx_, kYVa, 1 << 16, true);
	}
	void boot()
	{
		ASSERT_EQ(host_.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
		host_.setup_queue(0);
	}
	bool engine_busy() const
	{
		for (unsigned e = 0; e < host_.regs()->engine_count; e++) {
			auto *r = reinterpret_cast<const npu_engine_regs *>(
				host_.bar2().base + NPU_ENGINE_OFFSET + e * NPU_ENGINE_STRIDE);
			if (shared_get(r->state) == NPU_ENGINE_BUSY)
				return true;
		}
		return false;
	}
	std::string status() { return control_command({&host_.device()}, "status npu-test"); }

	FakeHost host_;
	Context ctx_;
};

TEST_F(DeviceInvalidate, RegistersAreZeroAtPowerOnAndVersionIsAtLeast12)
{
	EXPECT_GE(host_.regs()->hw_version, std::uint32_t{NPU_HW_VERSION_MMU_INVAL});
	EXPECT_EQ(host_.regs()->mmu_inval_req, 0u);
	EXPECT_EQ(host_.inval_done(), 0u);
	EXPECT_EQ(offsetof(npu_regs, mmu_inval_req), 136u);
}

TEST_F(DeviceInvalidate, CompletesInRomState)
{
	ASSERT_EQ(host_.state(), std::uint32_t{NPU_STATE_ROM});
	host_.request_invalidate(3);
	ASSERT_TRUE(host_.wait_invalidate(3));
	EXPECT_EQ(host_.inval_done(), 3u);
	EXPECT_EQ(host_.device().mmu_invalidations(), 1u);
	EXPECT_NE(status().find(" mmu_invalidations=1\n"), std::string::npos) << status();
}

TEST_F(DeviceInvalidate, CompletesWithFirmwareRunningAndEnginesIdle)
{
	boot();
	std::uint64_t seqno = host_.submit(0, ctx_, small_relu());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	host_.request_invalidate(1);
	ASSERT_TRUE(host_.wait_invalidate(1));
	host_.request_invalidate(2);
	ASSERT_TRUE(host_.wait_invalidate(2));
	EXPECT_EQ(host_.inval_done(), 2u);
	EXPECT_EQ(host_.device().mmu_invalidations(), 2u);
	// the device goes on working
	seqno = host_.submit(0, ctx_, small_relu());
	ASSERT_TRUE(host_.wait_done(0, seqno));
	EXPECT_EQ(host_.descriptor(0, seqno).status, std::uint32_t{DRM_NPU_JOB_STATUS_OK});
}

TEST_F(DeviceInvalidate, CompletesWhileHalted)
{
	ASSERT_EQ(host_.boot(make_image({ld(t0, zero, 0x100)})), std::uint32_t{NPU_STATE_HALTED});
	host_.request_invalidate(9);
	EXPECT_TRUE(host_.wait_invalidate(9));
}

TEST_F(DeviceInvalidate, DoneIsKeptAcrossResetsAndClearedByPowerOn)
{
	boot();
	host_.request_invalidate(7);
	ASSERT_TRUE(host_.wait_invalidate(7));
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(host_.regs()->mmu_inval_req, 7u);
	EXPECT_EQ(host_.inval_done(), 7u);
	boot(); // BOOT keeps them too
	EXPECT_EQ(host_.inval_done(), 7u);
	host_.device().power_on_reset();
	EXPECT_EQ(host_.regs()->mmu_inval_req, 0u);
	EXPECT_EQ(host_.inval_done(), 0u);
	host_.request_invalidate(1);
	EXPECT_TRUE(host_.wait_invalidate(1));
}

TEST_F(DeviceInvalidate, RunningTaskMovesOnAndFaultsOnTheClearedPage)
{
	boot();
	std::uint64_t seqno = host_.submit(0, ctx_, endless_reduce());
	ASSERT_TRUE(host_.wait_for([&] { return engine_busy(); }));
	EXPECT_FALSE(host_.wait_done(0, seqno, 50ms)) << "the endless operation finished";

	// the driver's unmap: clear the PTE, invalidate, only then reuse
	host_.clear_pte(ctx_, kXVa);
	host_.request_invalidate(1);
	ASSERT_TRUE(host_.wait_invalidate(1, kDeadline));
	// the task still reading x through its old translation walks again
	ASSERT_TRUE(host_.wait_done(0, seqno, kDeadline)) << "the task kept its old translation";
	npu_job_desc d = host_.descriptor(0, seqno);
	EXPECT_EQ(d.status, std::uint32_t{DRM_NPU_JOB_STATUS_PAGE_FAULT});
	EXPECT_EQ(d.fault_va, kXVa);
}

TEST_F(DeviceInvalidate, CompletesWhileATensorEngineHangs)
{
	// A hung engine hangs before its task's first translation: it holds
	// none, so the request does not wait for it (the driver's reset
	// releases the engine later).
	boot();
	ASSERT_EQ(control_command({&host_.device()}, "inject npu-test hang-tensor-engine"), "ok\n");
	std::uint64_t seqno = host_.submit(0, ctx_, small_relu());
	ASSERT_TRUE(host_.wait_for([&] { return engine_busy(); }));
	host_.request_invalidate(4);
	EXPECT_TRUE(host_.wait_invalidate(4, kDeadline));
	EXPECT_FALSE(host_.wait_done(0, seqno, 10ms));
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
}

TEST_F(DeviceInvalidate, CompletesWhileTheDmaEngineHangs)
{
	boot();
	ASSERT_EQ(control_command({&host_.device()}, "inject npu-test hang-engine"), "ok\n");
	std::uint64_t seqno = host_.submit(0, ctx_, pkt_nop());
	ASSERT_TRUE(host_.wait_for(
		[&] { return host_.device().status().find("hits=1") != std::string::npos; }));
	host_.request_invalidate(5);
	EXPECT_TRUE(host_.wait_invalidate(5, kDeadline));
	EXPECT_FALSE(host_.wait_done(0, seqno, 10ms));
	EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM});
}

TEST_F(DeviceInvalidate, CompletesAlongsideAReset)
{
	// a reset cancelling a busy engine and a request racing it: both
	// finish, whichever goes first
	for (std::uint64_t seq = 1; seq <= 3; seq++) {
		boot();
		std::uint64_t seqno = host_.submit(0, ctx_, endless_reduce());
		ASSERT_TRUE(host_.wait_for([&] { return engine_busy(); }));
		(void)seqno;
		auto reset = in_background(
			[&] { EXPECT_EQ(host_.reset(), std::uint32_t{NPU_STATE_ROM}); });
		host_.request_invalidate(seq);
		EXPECT_TRUE(host_.wait_invalidate(seq, kDeadline));
		EXPECT_TRUE(finished(reset, kDeadline));
	}
	EXPECT_EQ(host_.inval_done(), 3u);
}

} // namespace
} // namespace npu::emu::test
