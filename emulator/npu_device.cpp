// SPDX-License-Identifier: MIT
#include "npu_device.h"

#include <cstddef>
#include <chrono>
#include <stdexcept>

#include "npu_hw.h"
#include "npu_log.h"
#include "npu_rom.h"

namespace npu::emu
{

namespace
{

const char *boot_status_name(std::uint32_t status)
{
	switch (status) {
	case NPU_BOOT_BAD_MAGIC:
		return "bad magic";
	case NPU_BOOT_BAD_ABI:
		return "unsupported ABI";
	case NPU_BOOT_BAD_SIZE:
		return "bad size";
	case NPU_BOOT_BAD_CHECKSUM:
		return "bad checksum";
	default:
		return "unknown";
	}
}

} // namespace

NpuDevice::NpuDevice(DeviceConfig config, MemRegion bar2, MemRegion guest_ram,
		     IrqCallback raise_irq)
    : config_(std::move(config)), bar2_(bar2), dma_(bar2, guest_ram),
      raise_irq_(std::move(raise_irq)), thermal_(config_.engine_count)
{
	if (bar2_.size < NPU_BAR2_MIN_SIZE || (bar2_.size & (NPU_PAGE_SIZE - 1)))
		throw std::invalid_argument("BAR2 too small or not page aligned");
	if (config_.num_queues == 0 || config_.num_queues > NPU_MAX_QUEUES)
		throw std::invalid_argument("queue count out of range");
	if (config_.engine_count == 0 || config_.engine_count > NPU_MAX_ENGINES)
		throw std::invalid_argument("engine count out of range");
	init_registers(true);
	engines_ = std::make_unique<EngineArray>(config_.name, config_.engine_count,
						 config_.engine_mem, bar2_, dma_, faults_,
						 [this] { wake_core_for_engines(); });
	if (config_.sensor_period_ms)
		sensor_thread_ = std::thread([this] { sensor_loop(); });
	mmu_thread_ = std::thread([this] { mmu_loop(); });
}

NpuDevice::~NpuDevice()
{
	{
		std::lock_guard lock(sensor_mutex_);
		sensor_stop_ = true;
		sensor_cv_.notify_all();
	}
	if (sensor_thread_.joinable())
		sensor_thread_.join();
	{
		std::lock_guard lock(mmu_mutex_);
		mmu_stop_ = true;
		mmu_cv_.notify_all();
	}
	{
		// a task the invalidate in progress waits for ends here
		std::lock_guard lock(ctrl_mutex_);
		stop_core();
		engines_.reset();
	}
	mmu_thread_.join();
}

void NpuDevice::wake_core_for_engines()
{
	std::lock_guard lock(wake_mutex_);
	if (wake_core_)
		wake_core_->post_event(NPU_WFE_ENGINE);
}

void NpuDevice::sensor_loop()
{
	const auto period = std::chrono::milliseconds(config_.sensor_period_ms);
	std::unique_lock lock(sensor_mutex_);
	while (!sensor_cv_.wait_for(lock, period, [this] { return sensor_stop_; })) {
		lock.unlock();
		update_sensors(config_.sensor_period_ms / 1000.0);
		lock.lock();
	}
}

void NpuDevice::update_sensors(double dt_s)
{
	npu_regs *r = regs();
	std::lock_guard lock(sensor_mutex_);
	// busy_ns is the firmware's count since boot; a reboot restarts it
	std::uint64_t busy = shared_get(r->busy_ns);
	std::uint64_t delta = busy >= last_busy_ns_ ? busy - last_busy_ns_ : busy;
	last_busy_ns_ = busy;
	bool on = shared_get(r->power_state) != NPU_POWER_ENGINES_OFF;
	thermal_.step(dt_s, on, dt_s > 0 ? delta / (dt_s * 1e9) : 0);
	shared_set(r->power_mw, thermal_.power_mw());
	shared_set(r->temp_mc, thermal_.temp_mc());
}

std::string NpuDevice::inject(Fault fault)
{
	std::lock_guard lock(ctrl_mutex_);
	bool running = core_ && shared_get(regs()->state) == NPU_STATE_READY;
	switch (fault) {
	case Fault::CrashFirmware:
		if (!running)
			return "firmware not running";
		faults_.arm(fault);
		faults_.take(fault);
		log(config_.name, "injected fault: firmware crash");
		core_->crash();
		return "";
	case Fault::StopHeartbeat:
		if (!running)
			return "firmware not running";
		faults_.freeze_heartbeat();
		faults_.arm(fault);
		faults_.take(fault);
		return "";
	default:
		faults_.arm(fault);
		log(config_.name, "fault armed: {}", fault_name(fault));
		return "";
	}
}

std::string NpuDevice::status() const
{
	static const char *const states[] = {"?",     "ROM",	     "BOOTING",
					     "READY", "BOOT_FAILED", "HALTED"};
	npu_regs *r = regs();
	std::uint32_t state = shared_get(r->state);
	return fmt::format("{} serial={:#x} state={} heartbeat={} jobs_done={} "
			   "power_state={} power_mw={} temp_mc={} armed={} "
			   "injected={} hits={} gated_dma={} mmu_invalidations={}",
			   config_.name, config_.serial, state < 6 ? states[state] : "?",
			   shared_get(r->heartbeat), shared_get(r->jobs_done),
			   shared_get(r->power_state) == NPU_POWER_ENGINES_OFF ? "off" : "on",
			   shared_get(r->power_mw), shared_get(r->temp_mc), faults_.armed_list(),
			   faults_.injected(), faults_.hits(), gated_dma_.load(),
			   mmu_invalidations());
}

npu_regs *NpuDevice::regs() const
{
	return reinterpret_cast<npu_regs *>(bar2_.base + NPU_REGS_OFFSET);
}

void NpuDevice::init_registers(bool power_on)
{
	npu_regs *r = regs();
	// Every field but the invalidate sequence numbers, which a reset keeps
	// (the host may wait for a request across one).
	constexpr std::size_t kInvalBegin = offsetof(npu_regs, mmu_inval_req);
	constexpr std::size_t kInvalEnd = offsetof(npu_regs, mmu_inval_done) + 8;
	static_assert(kInvalEnd - kInvalBegin == 16, "mmu_inval_req/done are adjacent");
	shared_fill(bar2_.base + NPU_REGS_OFFSET, 0, 0, kInvalBegin);
	shared_fill(bar2_.base + NPU_REGS_OFFSET + kInvalEnd, 0, 0, sizeof(npu_regs) - kInvalEnd);
	if (power_on) {
		std::lock_guard lock(mmu_mutex_);
		shared_set(r->mmu_inval_req, std::uint64_t{0});
		shared_set(r->mmu_inval_done, std::uint64_t{0});
		mmu_pending_ = false;
		mmu_epoch_++;
	}
	shared_fill(bar2_.base + NPU_QUEUE_OFFSET, 0, 0, NPU_MAX_QUEUES * NPU_QUEUE_STRIDE);
	shared_fill(bar2_.base + NPU_UDB_OFFSET, 0, 0, NPU_MAX_QUEUES * NPU_UDB_STRIDE);
	shared_set(r->id, std::uint32_t{NPU_ID_MAGIC});
	shared_set(r->hw_version, std::uint32_t{NPU_HW_VERSION});
	shared_set(r->engine_count, config_.engine_count);
	shared_set(r->num_queues, config_.num_queues);
	shared_set(r->devmem_size, std::uint64_t{bar2_.size - NPU_DEVMEM_OFFSET});
	shared_set(r->engine_mem_size, config_.engine_mem);
	shared_set(r->serial, config_.serial);
	{
		// a reset does not cool the die
		std::lock_guard lock(sensor_mutex_);
		shared_set(r->temp_mc, thermal_.temp_mc());
		shared_set(r->power_mw, thermal_.power_mw());
		last_busy_ns_ = 0;
	}
	shared_set(r->state, std::uint32_t{NPU_STATE_ROM});
	faults_.on_reset();
}

void NpuDevice::doorbell(unsigned vector)
{
	if (vector == NPU_DB_MMU) {
		// never behind ctrl_mutex_: a reset may be waiting for an engine
		std::lock_guard lock(mmu_mutex_);
		mmu_pending_ = true;
		mmu_cv_.notify_all();
		return;
	}
	std::lock_guard lock(ctrl_mutex_);
	switch (vector) {
	case NPU_DB_CTRL:
		handle_ctrl();
		break;
	case NPU_DB_QUEUE:
		if (core_)
			core_->post_event(NPU_WFE_QUEUE);
		break;
	case NPU_DB_PING:
		if (core_)
			core_->post_event(NPU_WFE_PING);
		break;
	default:
		log(config_.name, "doorbell on unused vector {} ignored", vector);
		break;
	}
}

void NpuDevice::set_doorbell_fds(int queue_fd, int ping_fd)
{
	std::lock_guard lock(ctrl_mutex_);
	if (core_)
		log(config_.name, "doorbell eventfds changed under running firmware");
	doorbell_fds_.clear();
	if (queue_fd >= 0)
		doorbell_fds_.push_back({queue_fd, NPU_WFE_QUEUE});
	if (ping_fd >= 0)
		doorbell_fds_.push_back({ping_fd, NPU_WFE_PING});
}

void NpuDevice::power_on_reset()
{
	std::lock_guard lock(ctrl_mutex_);
	stop_core();
	init_registers(true);
	log(config_.name, "power-on reset");
}

void NpuDevice::handle_ctrl()
{
	std::uint32_t ctrl = shared_get(regs()->ctrl);
	switch (ctrl) {
	case NPU_CTRL_BOOT:
		boot();
		break;
	case NPU_CTRL_RESET:
		stop_core();
		init_registers(false);
		log(config_.name, "reset: back to ROM");
		raise_irq_(NPU_IRQ_CTRL);
		break;
	default:
		if (core_)
			core_->post_event(NPU_WFE_CTRL);
		break;
	}
}

void NpuDevice::boot()
{
	npu_regs *r = regs();
	if (core_) {
		log(config_.name, "boot requested with firmware loaded: stopping it first");
		stop_core();
		init_registers(false);
	}
	shared_set(r->ctrl, std::uint32_t{NPU_CTRL_NONE});

	RomVerdict verdict = rom_check_image(bar2_);
	if (verdict.boot_status != NPU_BOOT_OK) {
		log(config_.name, "boot failed: {}", boot_status_name(verdict.boot_status));
		shared_set(r->boot_status, verdict.boot_status);
		shared_set(r->state, std::uint32_t{NPU_STATE_BOOT_FAILED});
		raise_irq_(NPU_IRQ_CTRL);
		return;
	}
	if (faults_.take(Fault::FailBoot)) {
		log(config_.name, "fault: boot fails, the core halts before it starts");
		shared_set(r->state, std::uint32_t{NPU_STATE_HALTED});
		raise_irq_(NPU_IRQ_CTRL);
		return;
	}
	try {
		core_ = std::make_unique<ControlCore>(
			config_.name, bar2_, dma_, raise_irq_, [this] { on_core_halt(); }, &faults_,
			&gated_dma_, engines_.get(), doorbell_fds_);
	} catch (const std::exception &e) {
		log(config_.name, "cannot start control core: {}", e.what());
		shared_set(r->state, std::uint32_t{NPU_STATE_HALTED});
		raise_irq_(NPU_IRQ_CTRL);
		return;
	}
	shared_set(r->boot_status, std::uint32_t{NPU_BOOT_OK});
	shared_set(r->state, std::uint32_t{NPU_STATE_BOOTING});
	log(config_.name, "firmware {}.{}.{} accepted, starting core at {:#x}",
	    verdict.fw_version >> 16, (verdict.fw_version >> 8) & 0xff, verdict.fw_version & 0xff,
	    verdict.entry);
	{
		std::lock_guard wake(wake_mutex_);
		wake_core_ = core_.get();
	}
	core_->start(verdict.entry);
}

// The core first (it kicks engines), then the engines: a reset leaves no
// engine writing memory for work the stopped firmware started.
void NpuDevice::stop_core()
{
	{
		std::lock_guard wake(wake_mutex_);
		wake_core_ = nullptr;
	}
	if (core_) {
		core_->stop();
		core_.reset();
	}
	if (engines_)
		engines_->reset();
}

// Core thread: the firmware crashed or ran off; it will not be restarted
// until the host asks for RESET or BOOT.
void NpuDevice::on_core_halt()
{
	shared_set(regs()->state, std::uint32_t{NPU_STATE_HALTED});
	raise_irq_(NPU_IRQ_CTRL);
}

// MMU thread: one translation invalidate per wake-up, however many doorbells
// rang meanwhile (the latest request covers the earlier ones). It needs no
// firmware and no control-path lock, so it completes in every core state,
// during a reset as well (the reset's cancel ends the engine tasks it would
// wait for). docs/hardware.md §8.
void NpuDevice::mmu_loop()
{
	npu_regs *r = regs();
	std::unique_lock lock(mmu_mutex_);
	for (;;) {
		mmu_cv_.wait(lock, [this] { return mmu_stop_ || mmu_pending_; });
		if (mmu_stop_)
			return;
		mmu_pending_ = false;
		// Read before the invalidate: the PTEs the host cleared before
		// writing this number are what the invalidate must cover.
		std::uint64_t req = shared_get(r->mmu_inval_req);
		std::uint64_t epoch = mmu_epoch_;
		lock.unlock();
		dma_.translation_sync().invalidate();
		lock.lock();
		if (epoch == mmu_epoch_)
			shared_set(r->mmu_inval_done, req);
	}
}

} // namespace npu::emu
