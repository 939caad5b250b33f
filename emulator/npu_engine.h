// SPDX-License-Identifier: MIT
// The tensor engines: independent workers, one thread each, that execute
// tiles (struct npu_engine_task) the control core hands them and report
// completion back to it. The control core schedules; it never computes.
//
// Protocol (docs/hardware.md, "Tensor engines"): the firmware writes a task
// into its own memory and the task's core address into ENG_KICK(n). The
// engine copies the task, publishes BUSY in its npu_engine_regs, runs it
// through the device MMU, writes status and fault_addr back into the task,
// updates its counters, sets bit n in ENG_DONE and posts NPU_WFE_ENGINE.
//
// Engines outlive boots (their counters count since power-on). reset()
// (device reset, power cycle) waits for running tasks to end and forgets
// them: after it, no engine writes guest memory or reports a completion
// for work the previous firmware started.
//
// Thread-safety: kick(), done(), busy() are called from the control-core
// thread; reset() from the device's control path; on_done runs on engine
// threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "npu_dma.h"
#include "npu_fault.h"
#include "npu_shared_mem.h"

namespace npu::emu
{

class EngineScratch;

class EngineArray
{
public:
	// count engines, each with local_mem bytes of local memory. on_done
	// (any engine thread) tells the device to wake the control core.
	EngineArray(std::string name, unsigned count, std::uint64_t local_mem, MemRegion bar2,
		    const DmaEngine &dma, FaultInjector &faults, std::function<void()> on_done);
	~EngineArray();
	EngineArray(const EngineArray &) = delete;
	EngineArray &operator=(const EngineArray &) = delete;

	unsigned count() const { return static_cast<unsigned>(engines_.size()); }
	// Starts engine n on the task at core address task_addr. A kick of a
	// busy or nonexistent engine is ignored (and logged).
	void kick(unsigned n, std::uint32_t task_addr);
	// Engines that finished since the last call (read clears).
	std::uint32_t take_done();
	// Engines running a task now.
	std::uint32_t busy() const;
	// Waits for running tasks (a hung engine is released), forgets them
	// and clears the done bits; counters stay.
	void reset();

private:
	struct Engine;
	void run(Engine &e);
	void execute(Engine &e, std::uint32_t task_addr, std::uint64_t generation);
	bool hang(Engine &e, std::uint64_t generation);

	const std::string name_;
	const std::uint64_t local_mem_;
	const MemRegion bar2_;
	const DmaEngine &dma_;
	FaultInjector &faults_;
	const std::function<void()> on_done_;
	std::atomic<std::uint32_t> done_{0};
	std::vector<std::unique_ptr<Engine>> engines_;
};

} // namespace npu::emu
