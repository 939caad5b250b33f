// SPDX-License-Identifier: MIT
// The DMA engine and device MMU, driven directly (no core, no firmware).
#include <gtest/gtest.h>

#include <vector>

#include "fake_host.h"
#include "npu_dma.h"

namespace npu::emu::test
{
namespace
{

constexpr std::uint32_t kCtxToCtx = NPU_DMA_OP(NPU_DMA_COPY, NPU_DMA_SPACE_CTX, NPU_DMA_SPACE_CTX);

class DmaTest : public ::testing::Test
{
protected:
	AnonMemory ram_{4 << 20};
	AnonMemory bar2_{NPU_BAR2_MIN_SIZE};
	DmaEngine dma_{bar2_.region(), ram_.region()};
	std::uint64_t next_page_ = 0x10000;
	std::uint64_t root_ = alloc();

	std::uint64_t alloc()
	{
		std::uint64_t pa = next_page_;
		next_page_ += NPU_PAGE_SIZE;
		return pa;
	}
	std::uint64_t &slot(std::uint64_t table, std::uint64_t va, int level)
	{
		return reinterpret_cast<std::uint64_t *>(ram_.region().base +
							 table)[NPU_PT_INDEX(va, level)];
	}
	// Maps one page; returns its physical address.
	std::uint64_t map(std::uint64_t va, bool writable)
	{
		std::uint64_t table = root_;
		for (int level = 0; level < NPU_PT_LEVELS - 1; level++) {
			std::uint64_t &pte = slot(table, va, level);
			if (!(pte & NPU_PTE_VALID))
				pte = alloc() | NPU_PTE_VALID;
			table = pte & NPU_PTE_ADDR_MASK;
		}
		std::uint64_t pa = alloc();
		slot(table, va, NPU_PT_LEVELS - 1) =
			pa | NPU_PTE_VALID | (writable ? NPU_PTE_WRITE : 0);
		return pa;
	}
	std::uint8_t *phys(std::uint64_t pa) { return ram_.region().base + pa; }
};

TEST_F(DmaTest, WalkFindsEveryLevel)
{
	std::uint64_t va = (3ull << 30) | (5ull << 21) | (7ull << 12);
	std::uint64_t pa = map(va, true);
	EXPECT_EQ(dma_.walk(root_, va + 0x123, false), pa + 0x123);
	EXPECT_EQ(dma_.walk(root_, va + 0x123, true), pa + 0x123);
	EXPECT_FALSE(dma_.walk(root_, va + NPU_PAGE_SIZE, false));	   // next page unmapped
	EXPECT_FALSE(dma_.walk(root_, va | (1ull << NPU_VA_BITS), false)); // beyond 39 bits
}

TEST_F(DmaTest, ReadOnlyPageRefusesWrites)
{
	std::uint64_t pa = map(0x5000, false);
	EXPECT_EQ(dma_.walk(root_, 0x5008, false), pa + 8);
	EXPECT_FALSE(dma_.walk(root_, 0x5008, true));
}

TEST_F(DmaTest, PteOutsideRamFaults)
{
	slot(root_, 0, 0) = (ram_.region().size + 0x1000) | NPU_PTE_VALID;
	EXPECT_FALSE(dma_.walk(root_, 0x10, false));
	EXPECT_FALSE(dma_.walk(ram_.region().size, 0x10, false)); // root outside RAM
}

TEST_F(DmaTest, CopyAcrossScatteredPages)
{
	// Source pages are physically discontiguous and in reverse order.
	std::uint64_t src_hi = map(0x11000, false);
	std::uint64_t src_lo = map(0x10000, false);
	std::uint64_t dst_lo = map(0x20000, true);
	std::uint64_t dst_hi = map(0x21000, true);
	for (unsigned i = 0; i < NPU_PAGE_SIZE; i++) {
		phys(src_lo)[i] = static_cast<std::uint8_t>(i * 7);
		phys(src_hi)[i] = static_cast<std::uint8_t>(i * 13);
	}
	// 0x10800..0x11800 -> 0x20400..0x21400
	DmaResult r = dma_.run({kCtxToCtx, 0x10800, 0x20400, 0x1000, 0, root_});
	ASSERT_EQ(r.status, NPU_DMA_ST_OK);
	for (unsigned i = 0; i < 0x1000; i++) {
		std::uint64_t s = 0x800 + i;
		std::uint8_t want = s < 0x1000 ? phys(src_lo)[s] : phys(src_hi)[s - 0x1000];
		std::uint64_t d = 0x400 + i;
		std::uint8_t got = d < 0x1000 ? phys(dst_lo)[d] : phys(dst_hi)[d - 0x1000];
		ASSERT_EQ(got, want) << "byte " << i;
	}
	EXPECT_EQ(phys(dst_lo)[0x3ff], 0);
	EXPECT_EQ(phys(dst_hi)[0x400], 0);
}

TEST_F(DmaTest, FaultStopsAtFirstUnmappedByte)
{
	std::uint64_t dst = map(0x30000, true); // 0x31000 stays unmapped
	DmaResult r = dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_CTX), 0, 0x30ff0, 0x20,
				0xdeadbeef, root_});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_WRITE);
	EXPECT_EQ(r.fault, 0x31000u);
	std::uint32_t last;
	std::memcpy(&last, phys(dst) + 0xffc, 4);
	EXPECT_EQ(last, 0xdeadbeefu);		     // written before the fault
	EXPECT_EQ(phys(dst + NPU_PAGE_SIZE)[0], 0u); // the next physical page untouched
}

TEST_F(DmaTest, ReadFaultReportsSourceAddress)
{
	map(0x40000, true);
	DmaResult r = dma_.run({kCtxToCtx, 0x90000, 0x40000, 8, 0, root_});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_READ);
	EXPECT_EQ(r.fault, 0x90000u);
}

TEST_F(DmaTest, WriteToReadOnlyPageFaults)
{
	std::uint64_t pa = map(0x50000, false);
	DmaResult r =
		dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_CTX), 0, 0x50010, 8, 1, root_});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_WRITE);
	EXPECT_EQ(r.fault, 0x50010u);
	EXPECT_EQ(phys(pa)[0x10], 0u);
}

TEST_F(DmaTest, HostSpaceIsBoundedByRam)
{
	std::uint64_t end = ram_.region().size;
	DmaResult r = dma_.run(
		{NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST), 0, end - 4, 8, 0x01020304, 0});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_WRITE);
	EXPECT_EQ(r.fault, end);
	EXPECT_EQ(phys(end - 4)[0], 0x04); // the in-range part was written
	r = dma_.run({NPU_DMA_OP(NPU_DMA_COPY, NPU_DMA_SPACE_HOST, NPU_DMA_SPACE_HOST), ~0ull - 2,
		      0, 8, 0, 0});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_READ); // no wrap-around
}

TEST_F(DmaTest, CoreSpaceIsTheBar2Window)
{
	std::uint8_t *bar2 = bar2_.region().base;
	std::memcpy(phys(0x1000), "npu!", 4);
	DmaResult r = dma_.run({NPU_DMA_OP(NPU_DMA_COPY, NPU_DMA_SPACE_HOST, NPU_DMA_SPACE_CORE),
				0x1000, NPU_CORE_BAR2_BASE + NPU_DEVMEM_OFFSET, 4, 0, 0});
	ASSERT_EQ(r.status, NPU_DMA_ST_OK);
	EXPECT_EQ(std::memcmp(bar2 + NPU_DEVMEM_OFFSET, "npu!", 4), 0);

	r = dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_CORE), 0, NPU_CORE_BAR2_BASE - 4, 4,
		      0, 0});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_WRITE);
	EXPECT_EQ(r.fault, NPU_CORE_BAR2_BASE - 4);
	std::uint64_t end = NPU_CORE_BAR2_BASE + bar2_.region().size;
	r = dma_.run({NPU_DMA_OP(NPU_DMA_COPY, NPU_DMA_SPACE_CORE, NPU_DMA_SPACE_HOST), end - 2, 0,
		      4, 0, 0});
	EXPECT_EQ(r.status, NPU_DMA_ST_FAULT_READ);
	EXPECT_EQ(r.fault, end);
}

TEST_F(DmaTest, FillKeepsPatternPhaseAcrossChunks)
{
	DmaResult r = dma_.run(
		{NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST), 0, 0x2ffe, 0x20, 0xaabbccdd, 0});
	ASSERT_EQ(r.status, NPU_DMA_ST_OK);
	const std::uint8_t want[4] = {0xdd, 0xcc, 0xbb, 0xaa};
	for (unsigned i = 0; i < 0x20; i++)
		ASSERT_EQ(phys(0x2ffe)[i], want[i % 4]) << i;
}

TEST_F(DmaTest, BadOperationsAreRejected)
{
	EXPECT_EQ(dma_.run({0, 0, 0, 8, 0, 0}).status, NPU_DMA_ST_BAD_OP);
	EXPECT_EQ(dma_.run({3, 0, 0, 8, 0, 0}).status, NPU_DMA_ST_BAD_OP);
	EXPECT_EQ(dma_.run({NPU_DMA_OP(NPU_DMA_COPY, 3, NPU_DMA_SPACE_HOST), 0, 0, 8, 0, 0}).status,
		  NPU_DMA_ST_BAD_OP);
	EXPECT_EQ(dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, 3), 0, 0, 8, 0, 0}).status,
		  NPU_DMA_ST_BAD_OP);
	EXPECT_EQ(dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST) | 0x100, 0, 0, 8, 0, 0})
			  .status,
		  NPU_DMA_ST_BAD_OP);
	EXPECT_EQ(dma_.run({NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST), 0, 0, 0, 0, 0}).status,
		  NPU_DMA_ST_OK); // zero length is a no-op
}

} // namespace
} // namespace npu::emu::test
