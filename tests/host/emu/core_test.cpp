// SPDX-License-Identifier: MIT
// The ROM and the control core with hand-assembled programs: register
// block, image checks, peripherals, RESET of a spinning core, crashes.
#include <gtest/gtest.h>

#include <thread>

#include "fake_host.h"
#include "rv64_asm.h"

namespace npu::emu::test
{
namespace
{

using namespace rv;

// Offsets in BAR2 device memory where the probe program leaves results.
constexpr std::uint64_t kScratch = NPU_DEVMEM_OFFSET;

// a0 = peripherals, a1 = scratch, a2 = registers
std::vector<std::uint32_t> probe_program()
{
	return {
		lui(a0, NPU_CORE_PERIPH_BASE >> 12),
		lui(a1, (NPU_CORE_BAR2_BASE + kScratch) >> 12),
		lui(a2, NPU_CORE_BAR2_BASE >> 12),
		// console "hi\n"
		addi(t0, zero, 'h'),
		sw(t0, a0, NPU_PERIPH_CONSOLE),
		addi(t0, zero, 'i'),
		sw(t0, a0, NPU_PERIPH_CONSOLE),
		addi(t0, zero, '\n'),
		sw(t0, a0, NPU_PERIPH_CONSOLE),
		// FILL 64 bytes of host RAM at 0x2000 with 0x12345678
		lui(t0, 0x2),
		sd(t0, a0, NPU_PERIPH_DMA_DST),
		addi(t0, zero, 64),
		sd(t0, a0, NPU_PERIPH_DMA_LEN),
		lui(t0, 0x12345),
		addi(t0, t0, 0x678),
		sw(t0, a0, NPU_PERIPH_DMA_FILL),
		addi(t0, zero, NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST)),
		sw(t0, a0, NPU_PERIPH_DMA_OP),
		lw(t1, a0, NPU_PERIPH_DMA_STATUS),
		sw(t1, a1, 0),
		// FILL past the end of the 16 MiB guest RAM: write fault
		lui(t0, 0x1000),
		sd(t0, a0, NPU_PERIPH_DMA_DST),
		addi(t0, zero, NPU_DMA_OP(NPU_DMA_FILL, 0, NPU_DMA_SPACE_HOST)),
		sw(t0, a0, NPU_PERIPH_DMA_OP),
		lw(t1, a0, NPU_PERIPH_DMA_STATUS),
		sw(t1, a1, 4),
		ld(t2, a0, NPU_PERIPH_DMA_FAULT),
		sd(t2, a1, 8),
		// clock
		ld(t2, a0, NPU_PERIPH_TIME_NS),
		sd(t2, a1, 16),
		// state = READY, MSI-X 0
		addi(t0, zero, NPU_STATE_READY),
		sw(t0, a2, offsetof(npu_regs, state)),
		addi(t0, zero, NPU_IRQ_CTRL),
		sw(t0, a0, NPU_PERIPH_IRQ_RAISE),
		// loop: t1 = WFE; scratch[24] = t1; MSI-X 1
		lw(t1, a0, NPU_PERIPH_WFE),
		sw(t1, a1, 24),
		addi(t0, zero, NPU_IRQ_JOB),
		sw(t0, a0, NPU_PERIPH_IRQ_RAISE),
		j(-16),
	};
}

template <typename T> T scratch(FakeHost &host, std::uint64_t off)
{
	return shared_load<T>(host.bar2().base + kScratch + off);
}

TEST(Rom, RegisterBlockAtPowerOn)
{
	FakeHost host;
	npu_regs *r = host.regs();
	EXPECT_EQ(r->id, NPU_ID_MAGIC);
	EXPECT_EQ(r->hw_version, NPU_HW_VERSION);
	EXPECT_EQ(r->engine_count, 4u);
	EXPECT_EQ(r->num_queues, FakeHost::kQueues);
	EXPECT_EQ(r->devmem_size, FakeHost::kBar2Size - NPU_DEVMEM_OFFSET);
	EXPECT_EQ(r->serial, FakeHost::kSerial);
	EXPECT_EQ(r->state, std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(r->fw_version, 0u);
}

TEST(Rom, RejectsBadConfiguration)
{
	AnonMemory ram(1 << 20), bar2(NPU_BAR2_MIN_SIZE);
	DeviceConfig cfg;
	cfg.num_queues = NPU_MAX_QUEUES + 1;
	EXPECT_THROW(NpuDevice(cfg, bar2.region(), ram.region(), [](unsigned) {}),
		     std::invalid_argument);
	cfg.num_queues = 1;
	MemRegion small{bar2.region().base, NPU_BAR2_MIN_SIZE / 2};
	EXPECT_THROW(NpuDevice(cfg, small, ram.region(), [](unsigned) {}), std::invalid_argument);
}

struct BadImageCase {
	const char *name;
	void (*corrupt)(std::vector<std::uint8_t> &);
	std::uint32_t boot_status;
};

npu_fw_header &header(std::vector<std::uint8_t> &image)
{
	return *reinterpret_cast<npu_fw_header *>(image.data());
}

class RomBadImage : public ::testing::TestWithParam<BadImageCase>
{
};

TEST_P(RomBadImage, FailsBootWithReason)
{
	FakeHost host;
	auto image = make_image({j(0)});
	GetParam().corrupt(image);
	EXPECT_EQ(host.boot(image), std::uint32_t{NPU_STATE_BOOT_FAILED});
	EXPECT_EQ(host.regs()->boot_status, GetParam().boot_status);
	EXPECT_EQ(host.irq_count(NPU_IRQ_CTRL), 1u);
}

INSTANTIATE_TEST_SUITE_P(
	Images, RomBadImage,
	::testing::Values(
		BadImageCase{"magic", [](auto &im) { header(im).magic ^= 1; }, NPU_BOOT_BAD_MAGIC},
		BadImageCase{"abi", [](auto &im) { header(im).abi_major = NPU_FW_ABI_MAJOR + 1; },
			     NPU_BOOT_BAD_ABI},
		BadImageCase{"header_size", [](auto &im) { header(im).header_size = 128; },
			     NPU_BOOT_BAD_SIZE},
		BadImageCase{"image_too_big",
			     [](auto &im) { header(im).image_size = NPU_FW_REGION_SIZE; },
			     NPU_BOOT_BAD_SIZE},
		BadImageCase{"mem_too_big",
			     [](auto &im) { header(im).mem_size = NPU_FW_REGION_SIZE; },
			     NPU_BOOT_BAD_SIZE},
		BadImageCase{"entry_outside",
			     [](auto &im) { header(im).entry_offset = header(im).image_size; },
			     NPU_BOOT_BAD_SIZE},
		BadImageCase{"checksum", [](auto &im) { im.back() ^= 0x80; },
			     NPU_BOOT_BAD_CHECKSUM}),
	[](const auto &info) { return std::string(info.param.name); });

TEST(Core, PeripheralsFromAHandWrittenProgram)
{
	FakeHost host;
	ASSERT_EQ(host.boot(make_image(probe_program())), std::uint32_t{NPU_STATE_READY});
	ASSERT_TRUE(host.wait_for([&] { return host.irq_count(NPU_IRQ_JOB) >= 1; }));

	EXPECT_EQ(scratch<std::uint32_t>(host, 0), std::uint32_t{NPU_DMA_ST_OK});
	for (unsigned i = 0; i < 64; i += 4)
		EXPECT_EQ(shared_load<std::uint32_t>(host.ram().base + 0x2000 + i), 0x12345678u);
	EXPECT_EQ(shared_load<std::uint32_t>(host.ram().base + 0x2040), 0u);
	EXPECT_EQ(scratch<std::uint32_t>(host, 4), std::uint32_t{NPU_DMA_ST_FAULT_WRITE});
	EXPECT_EQ(scratch<std::uint64_t>(host, 8), FakeHost::kRamSize);
	EXPECT_GT(scratch<std::uint64_t>(host, 16), 0u);
	EXPECT_LT(scratch<std::uint64_t>(host, 16), 5'000'000'000u);

	// A QUEUE doorbell wakes WFE with the QUEUE bit.
	host.device().doorbell(NPU_DB_QUEUE);
	EXPECT_TRUE(
		host.wait_for([&] { return scratch<std::uint32_t>(host, 24) == NPU_WFE_QUEUE; }));
	// With nothing pending WFE times out after heartbeat_ms and says 0.
	EXPECT_TRUE(host.wait_for([&] { return scratch<std::uint32_t>(host, 24) == 0; }));

	EXPECT_EQ(host.reset(), std::uint32_t{NPU_STATE_ROM});
}

TEST(Core, ResetStopsACoreThatNeverWaits)
{
	FakeHost host;
	host.start_boot(make_image({j(0)}));
	std::this_thread::sleep_for(50ms);
	EXPECT_EQ(host.state(), std::uint32_t{NPU_STATE_BOOTING});
	auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(host.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
	EXPECT_EQ(host.irq_count(NPU_IRQ_CTRL), 1u);
}

TEST(Core, BootWhileRunningRestartsTheCore)
{
	FakeHost host;
	host.start_boot(make_image({j(0)}));
	std::this_thread::sleep_for(20ms);
	ASSERT_EQ(host.boot(make_image(probe_program())), std::uint32_t{NPU_STATE_READY});
}

TEST(Core, IllegalInstructionHaltsTheDevice)
{
	FakeHost host;
	EXPECT_EQ(host.boot(make_image({addi(t0, zero, 1), illegal})),
		  std::uint32_t{NPU_STATE_HALTED});
	EXPECT_EQ(host.irq_count(NPU_IRQ_CTRL), 1u);
	// RESET brings it back to ROM and a new image runs.
	EXPECT_EQ(host.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(host.boot(make_image(probe_program())), std::uint32_t{NPU_STATE_READY});
}

TEST(Core, UnmappedAccessHaltsTheDevice)
{
	FakeHost host;
	EXPECT_EQ(host.boot(make_image({ld(t0, zero, 0x100)})), std::uint32_t{NPU_STATE_HALTED});
}

TEST(Core, PowerOnResetReturnsToRomSilently)
{
	FakeHost host;
	ASSERT_EQ(host.boot(make_image(probe_program())), std::uint32_t{NPU_STATE_READY});
	unsigned irqs = host.irq_count(NPU_IRQ_CTRL);
	host.device().power_on_reset();
	EXPECT_EQ(host.state(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(host.irq_count(NPU_IRQ_CTRL), irqs);
}

} // namespace
} // namespace npu::emu::test
