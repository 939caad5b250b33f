// SPDX-License-Identifier: MIT
#include "npu_power.h"

#include <algorithm>
#include <cmath>

namespace npu::emu
{

ThermalModel::ThermalModel(unsigned engines) : engines_(engines) {}

void ThermalModel::step(double dt_s, bool engines_on, double utilisation)
{
	if (dt_s <= 0)
		return;
	utilisation = std::clamp(utilisation, 0.0, 1.0);
	power_mw_ = engines_on ? kIdleMw + utilisation * kBusyMwPerEngine * engines_ : kGatedMw;
	// exact solution of dT/dt = (T_steady - T) / tau over dt
	double target = steady_temp_mc(power_mw_);
	temp_mc_ = target + (temp_mc_ - target) * std::exp(-dt_s / kTimeConstantS);
}

} // namespace npu::emu
