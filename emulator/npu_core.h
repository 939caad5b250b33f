// SPDX-License-Identifier: MIT
// The control core: an RV64 CPU (Unicorn) running the firmware with BAR2
// mapped at NPU_CORE_BAR2_BASE and the peripheral block (WFE, clock,
// interrupts, console, DMA engine) at NPU_CORE_PERIPH_BASE.
//
// One ControlCore is one boot: a fresh Unicorn engine, so no translated
// code survives a reboot. Threads: start() spawns the core thread, which
// alone touches the engine and the peripheral registers. post_event() and
// stop() may be called from any other thread; stop() works even when the
// firmware never reads WFE (it keeps calling uc_emu_stop until the core
// thread has left the emulation loop).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "npu_dma.h"
#include "npu_shared_mem.h"

struct uc_struct;

namespace npu::emu {

using IrqCallback = std::function<void(unsigned vector)>;

class ControlCore {
public:
	// Creates the engine and maps memory; throws std::runtime_error on a
	// Unicorn error. on_halt runs on the core thread if the firmware
	// crashes or stops by itself (not after stop()).
	ControlCore(std::string name, MemRegion bar2, const DmaEngine &dma,
		    IrqCallback raise_irq, std::function<void()> on_halt);
	~ControlCore(); // stop()s, then frees the engine
	ControlCore(const ControlCore &) = delete;
	ControlCore &operator=(const ControlCore &) = delete;

	void start(std::uint64_t entry);
	void stop();
	// Latches NPU_WFE_* bits for the firmware's next WFE read.
	void post_event(std::uint32_t bits);

private:
	void run(std::uint64_t entry);
	std::uint64_t periph_read(std::uint64_t off, unsigned size);
	void periph_write(std::uint64_t off, unsigned size, std::uint64_t value);
	std::uint32_t wait_for_event();
	void console_putc(char c);
	void start_dma(std::uint32_t op);

	static std::uint64_t mmio_read(uc_struct *uc, std::uint64_t off,
				       unsigned size, void *self);
	static void mmio_write(uc_struct *uc, std::uint64_t off, unsigned size,
			       std::uint64_t value, void *self);

	const std::string name_;
	const MemRegion bar2_;
	const DmaEngine &dma_;
	const IrqCallback raise_irq_;
	const std::function<void()> on_halt_;
	uc_struct *uc_ = nullptr;
	std::chrono::steady_clock::time_point boot_time_;
	std::thread thread_;

	std::mutex event_mutex_; // protects pending_, stopping_ and exited_
	std::condition_variable event_cv_;
	std::uint32_t pending_ = 0;
	bool stopping_ = false;
	bool exited_ = false;
	// Mirror of stopping_ read by the core thread without the lock.
	std::atomic<bool> stop_flag_{false};

	// Peripheral state: core thread only.
	DmaRequest dma_req_;
	DmaResult dma_result_;
	std::string console_line_;
};

} // namespace npu::emu
