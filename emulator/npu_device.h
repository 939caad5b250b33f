// SPDX-License-Identifier: MIT
// One virtual NPU, independent of how it is attached: BAR2 shared memory,
// guest RAM for DMA, an interrupt callback, and doorbell() as the input.
//
// Thread-safety: doorbell() and power_on_reset() may be called from any
// thread; they are serialised internally (NPU_DB_MMU apart: it only hands
// the request to the device's MMU thread, whatever the control path is
// doing, so a translation invalidate never waits for a reset, a boot or the
// firmware, and a reset never waits for an invalidate). The interrupt
// callback is called from the caller of doorbell() and from the
// control-core thread, so it must be thread-safe. The device never frees or
// remaps the two regions; they must outlive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "npu_core.h"
#include "npu_dma.h"
#include "npu_engine.h"
#include "npu_fault.h"
#include "npu_hw.h"
#include "npu_power.h"
#include "npu_shared_mem.h"

namespace npu::emu
{

struct DeviceConfig {
	std::string name = "npu0";
	std::uint64_t serial = 0;
	std::uint32_t num_queues = 16;	// at most NPU_MAX_QUEUES
	std::uint32_t engine_count = 4; // tensor engines, at most NPU_MAX_ENGINES
	// Local memory of each engine: the staging space of one tile.
	std::uint64_t engine_mem = std::uint64_t{64} << 20;
	// Period of the power/thermal sensor update; 0 = no sensor thread
	// (tests step the sensors with update_sensors()).
	unsigned sensor_period_ms = 50;
};

class NpuDevice
{
public:
	// Throws std::invalid_argument for a BAR2 below NPU_BAR2_MIN_SIZE or a
	// bad queue count. Leaves the device in ROM state.
	NpuDevice(DeviceConfig config, MemRegion bar2, MemRegion guest_ram, IrqCallback raise_irq);
	~NpuDevice();
	NpuDevice(const NpuDevice &) = delete;
	NpuDevice &operator=(const NpuDevice &) = delete;

	// The host rang doorbell vector (NPU_DB_*).
	void doorbell(unsigned vector);
	// Eventfds (or -1) on which the host rings NPU_DB_QUEUE and NPU_DB_PING:
	// the control core then polls them itself in WFE, one thread wake-up
	// per doorbell instead of two, and the caller must not read them. Takes
	// effect at the next boot: call it while no firmware runs (before the
	// first boot or after power_on_reset()); the fds must stay open until
	// the next power_on_reset().
	void set_doorbell_fds(int queue_fd, int ping_fd);
	// Power cycle: stop the core, registers back to ROM state, no
	// interrupt (nobody is listening, e.g. the VM went away).
	void power_on_reset();

	const std::string &name() const { return config_.name; }
	const DeviceConfig &config() const { return config_; }

	// Fault injection (npu_fault.h). Returns "" or why the fault cannot
	// be injected now (crash-firmware and stop-heartbeat need running
	// firmware).
	std::string inject(Fault fault);
	// One line of "key=value" words: state, heartbeat, power, faults,
	// translation invalidates.
	std::string status() const;
	// Job DMA seen while the host had the engines powered off.
	std::uint64_t gated_dma() const { return gated_dma_.load(); }
	// Translation invalidates completed (NPU_DB_MMU requests, coalesced).
	std::uint64_t mmu_invalidations() const { return dma_.translation_sync().invalidations(); }
	// Advances the sensor model by dt_s and publishes power_mw/temp_mc.
	void update_sensors(double dt_s);

private:
	void handle_ctrl();
	void boot();
	void stop_core();
	// Registers to their reset values; mmu_inval_req/done only at power-on.
	void init_registers(bool power_on);
	void mmu_loop();
	void on_core_halt();
	void wake_core_for_engines();
	void sensor_loop();
	struct npu_regs *regs() const;

	const DeviceConfig config_;
	const MemRegion bar2_;
	const DmaEngine dma_;
	const IrqCallback raise_irq_;

	std::mutex ctrl_mutex_; // serialises doorbells and resets; protects core_
	std::unique_ptr<ControlCore> core_;
	std::vector<DoorbellFd> doorbell_fds_; // for the next boot; under ctrl_mutex_

	FaultInjector faults_;
	std::atomic<std::uint64_t> gated_dma_{0};

	// The core engine completions wake; engine threads read it while the
	// control path replaces core_, so it has its own lock.
	std::mutex wake_mutex_; // protects wake_core_
	ControlCore *wake_core_ = nullptr;
	std::unique_ptr<EngineArray> engines_;

	// Translation invalidate (docs/hardware.md §8): NPU_DB_MMU wakes the MMU
	// thread, which reads regs.mmu_inval_req, runs the invalidate and
	// writes regs.mmu_inval_done. mmu_mutex_ protects mmu_pending_,
	// mmu_stop_, mmu_epoch_ and the device's writes of
	// regs.mmu_inval_req/done. Lock order: ctrl_mutex_, then mmu_mutex_.
	std::mutex mmu_mutex_;
	std::condition_variable mmu_cv_;
	bool mmu_pending_ = false;
	bool mmu_stop_ = false;
	// Bumped by a power-on reset: a request read before it is not reported.
	std::uint64_t mmu_epoch_ = 0;
	std::thread mmu_thread_;

	std::mutex sensor_mutex_; // protects thermal_, last_busy_ns_, sensor_stop_
	std::condition_variable sensor_cv_;
	ThermalModel thermal_;
	std::uint64_t last_busy_ns_ = 0;
	bool sensor_stop_ = false;
	std::thread sensor_thread_;
};

} // namespace npu::emu
