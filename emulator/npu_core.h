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
//
// WFE: the core thread sleeps in ppoll() on its own wake eventfd
// (post_event(), stop(), crash()) and on the doorbell eventfds it was given,
// so a doorbell rung on one of those (QEMU's ivshmem writes them) wakes the
// core thread directly, with no thread in between.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "npu_dma.h"
#include "npu_engine.h"
#include "npu_fault.h"
#include "npu_shared_mem.h"

struct uc_struct;

namespace npu::emu
{

using IrqCallback = std::function<void(unsigned vector)>;

// A doorbell eventfd the core polls in WFE; readable, it latches bits.
struct DoorbellFd {
	int fd;
	std::uint32_t bits; // NPU_WFE_*
};

class ControlCore
{
public:
	// Creates the engine and maps memory; throws std::runtime_error on a
	// Unicorn error. on_halt runs on the core thread if the firmware
	// crashes or stops by itself (not after stop()). faults (optional)
	// are consumed where the hardware would fail; gated_dma (optional)
	// counts job DMA done while regs.power_state gates the engines.
	// engines (optional) are the tensor engines behind ENG_KICK/ENG_DONE.
	// doorbells (optional): eventfds the core thread reads itself in WFE;
	// they must stay open until the core is destroyed.
	ControlCore(std::string name, MemRegion bar2, const DmaEngine &dma, IrqCallback raise_irq,
		    std::function<void()> on_halt, FaultInjector *faults = nullptr,
		    std::atomic<std::uint64_t> *gated_dma = nullptr, EngineArray *engines = nullptr,
		    std::vector<DoorbellFd> doorbells = {});
	~ControlCore(); // stop()s, then frees the engine
	ControlCore(const ControlCore &) = delete;
	ControlCore &operator=(const ControlCore &) = delete;

	void start(std::uint64_t entry);
	void stop();
	// Latches NPU_WFE_* bits for the firmware's next WFE read.
	void post_event(std::uint32_t bits);
	// Injected fatal exception: the core stops as if it had crashed
	// (on_halt runs). Any thread.
	void crash();

private:
	void run(std::uint64_t entry);
	std::uint64_t periph_read(std::uint64_t off, unsigned size);
	void periph_write(std::uint64_t off, unsigned size, std::uint64_t value);
	std::uint32_t wait_for_event();
	void console_putc(char c);
	void start_dma(std::uint32_t op);
	void kick_engine(unsigned n, std::uint32_t task_addr);
	bool engines_gated() const;
	void hang_until_stopped();
	void corrupt_writeback();
	void corrupt_done_seqno();
	void before_access();
	void wake();

	static std::uint64_t mmio_read(uc_struct *uc, std::uint64_t off, unsigned size, void *self);
	static void mmio_write(uc_struct *uc, std::uint64_t off, unsigned size, std::uint64_t value,
			       void *self);

	const std::string name_;
	const MemRegion bar2_;
	const DmaEngine &dma_;
	const IrqCallback raise_irq_;
	const std::function<void()> on_halt_;
	uc_struct *uc_ = nullptr;
	std::chrono::steady_clock::time_point boot_time_;
	std::thread thread_;

	const std::vector<DoorbellFd> doorbells_;
	int wake_efd_ = -1; // written after pending_, stopping_ or crash_flag_ change

	std::mutex event_mutex_;	   // protects pending_, stopping_ and exited_
	std::condition_variable event_cv_; // exited_, stopping_ (not WFE: wake_efd_)
	std::uint32_t pending_ = 0;
	bool stopping_ = false;
	bool exited_ = false;
	// Mirror of stopping_ read by the core thread without the lock.
	std::atomic<bool> stop_flag_{false};
	std::atomic<bool> crash_flag_{false}; // crash() was called

	FaultInjector *const faults_;
	std::atomic<std::uint64_t> *const gated_dma_;
	EngineArray *const engines_;

	// Peripheral state: core thread only.
	DmaRequest dma_req_;
	DmaResult dma_result_;
	std::string console_line_;
	bool heartbeat_held_ = false;	   // a frozen heartbeat's value is known
	std::uint32_t held_heartbeat_ = 0; // ... and is this
	std::uint64_t corrupt_seqno_ = 0;  // done_seqno to corrupt at next IRQ
};

} // namespace npu::emu
