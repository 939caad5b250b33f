// SPDX-License-Identifier: MIT
// Board power and die temperature of the virtual NPU: power from the
// engines' power state and utilisation, temperature a first-order lag
// towards ambient + thermal resistance x power. Pure arithmetic, no clock:
// the caller steps it with the elapsed time.
#pragma once

#include <cstdint>

namespace npu::emu
{

class ThermalModel
{
public:
	static constexpr double kAmbientMc = 30000; // 30 C
	static constexpr double kMcPerMw = 0.4;	    // 0.4 C per W
	static constexpr double kTimeConstantS = 2.0;
	static constexpr double kGatedMw = 3000; // engines off
	static constexpr double kIdleMw = 15000; // engines on, no job
	static constexpr double kBusyMwPerEngine = 12000;

	explicit ThermalModel(unsigned engines);

	// Advances dt_s seconds with the engines on or gated and busy for
	// the fraction utilisation (clamped to [0, 1]) of that time.
	void step(double dt_s, bool engines_on, double utilisation);

	std::uint32_t power_mw() const { return static_cast<std::uint32_t>(power_mw_); }
	std::uint32_t temp_mc() const { return static_cast<std::uint32_t>(temp_mc_); }
	// Where the temperature settles at a constant power.
	static double steady_temp_mc(double power_mw) { return kAmbientMc + kMcPerMw * power_mw; }

private:
	const unsigned engines_;
	double power_mw_ = kIdleMw;
	double temp_mc_ = steady_temp_mc(kIdleMw);
};

} // namespace npu::emu
