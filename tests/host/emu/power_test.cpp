// SPDX-License-Identifier: MIT
// The sensor model: power follows the engines' power state and load,
// temperature follows power with a lag; the device publishes both.
#include <gtest/gtest.h>

#include "fake_host.h"
#include "npu_power.h"

namespace npu::emu::test
{
namespace
{

TEST(ThermalModel, PowerFollowsStateAndLoad)
{
	ThermalModel m(4);
	m.step(0.1, false, 0);
	std::uint32_t gated = m.power_mw();
	m.step(0.1, true, 0);
	std::uint32_t idle = m.power_mw();
	m.step(0.1, true, 1.0);
	std::uint32_t busy = m.power_mw();
	EXPECT_LT(gated, idle);
	EXPECT_LT(idle, busy);
	m.step(0.1, true, 7.0); // clamped to full load
	EXPECT_EQ(m.power_mw(), busy);
	m.step(0.1, false, 1.0); // gated engines draw the floor whatever the load
	EXPECT_EQ(m.power_mw(), gated);
}

TEST(ThermalModel, TemperatureLagsAndSettles)
{
	ThermalModel m(4);
	std::uint32_t start = m.temp_mc();
	m.step(0.1, true, 1.0);
	std::uint32_t after_short = m.temp_mc();
	EXPECT_GT(after_short, start);
	double steady = ThermalModel::steady_temp_mc(m.power_mw());
	EXPECT_LT(after_short, steady - 1000) << "no lag";
	for (int i = 0; i < 200; i++)
		m.step(0.1, true, 1.0);
	EXPECT_NEAR(m.temp_mc(), steady, 50);
	for (int i = 0; i < 200; i++)
		m.step(0.1, false, 0);
	EXPECT_NEAR(m.temp_mc(), ThermalModel::steady_temp_mc(ThermalModel::kGatedMw), 50);
	m.step(0, true, 1.0); // no time, no change
	EXPECT_NEAR(m.temp_mc(), ThermalModel::steady_temp_mc(ThermalModel::kGatedMw), 50);
}

TEST(DevicePower, GatedEnginesDrawLessAndJobDmaIsCounted)
{
	FakeHost host;
	ASSERT_EQ(host.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
	host.device().update_sensors(0.1);
	std::uint32_t on_mw = shared_load<std::uint32_t>(&host.regs()->power_mw);
	shared_store<std::uint32_t>(&host.regs()->power_state, NPU_POWER_ENGINES_OFF);
	host.device().update_sensors(0.1);
	std::uint32_t off_mw = shared_load<std::uint32_t>(&host.regs()->power_mw);
	EXPECT_LT(off_mw, on_mw);
	EXPECT_NE(host.device().status().find("power_state=off"), std::string::npos);

	// a driver bug: work submitted with the engines off
	host.setup_queue(0);
	Context ctx = host.new_context();
	EXPECT_EQ(host.device().gated_dma(), 0u);
	std::uint64_t seqno = host.submit(0, ctx, pkt_nop());
	ASSERT_TRUE(host.wait_done(0, seqno));
	EXPECT_GT(host.device().gated_dma(), 0u);

	std::uint64_t seen = host.device().gated_dma();
	shared_store<std::uint32_t>(&host.regs()->power_state, NPU_POWER_ON);
	seqno = host.submit(0, ctx, pkt_nop());
	ASSERT_TRUE(host.wait_done(0, seqno));
	EXPECT_EQ(host.device().gated_dma(), seen);
}

TEST(DevicePower, ResetPowersTheEnginesBackOn)
{
	FakeHost host;
	ASSERT_EQ(host.boot(real_firmware()), std::uint32_t{NPU_STATE_READY});
	shared_store<std::uint32_t>(&host.regs()->power_state, NPU_POWER_ENGINES_OFF);
	ASSERT_EQ(host.reset(), std::uint32_t{NPU_STATE_ROM});
	EXPECT_EQ(shared_load<std::uint32_t>(&host.regs()->power_state),
		  std::uint32_t{NPU_POWER_ON});
}

} // namespace
} // namespace npu::emu::test
