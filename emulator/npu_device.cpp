// SPDX-License-Identifier: MIT
#include "npu_device.h"

#include <cstddef>
#include <stdexcept>

#include "npu_hw.h"
#include "npu_log.h"
#include "npu_rom.h"

namespace npu::emu {

namespace {

// Static sensor readings until a thermal model exists.
constexpr std::uint32_t kIdleTempMc = 38000;
constexpr std::uint32_t kIdlePowerMw = 15000;

template <typename T> void set(T &field, T value) { shared_store<T>(&field, value); }
template <typename T> T get(const T &field) { return shared_load<T>(&field); }

const char *boot_status_name(std::uint32_t status)
{
	switch (status) {
	case NPU_BOOT_BAD_MAGIC: return "bad magic";
	case NPU_BOOT_BAD_ABI: return "unsupported ABI";
	case NPU_BOOT_BAD_SIZE: return "bad size";
	case NPU_BOOT_BAD_CHECKSUM: return "bad checksum";
	default: return "unknown";
	}
}

} // namespace

NpuDevice::NpuDevice(DeviceConfig config, MemRegion bar2, MemRegion guest_ram,
		     IrqCallback raise_irq)
	: config_(std::move(config)), bar2_(bar2), dma_(bar2, guest_ram),
	  raise_irq_(std::move(raise_irq))
{
	if (bar2_.size < NPU_BAR2_MIN_SIZE || (bar2_.size & (NPU_PAGE_SIZE - 1)))
		throw std::invalid_argument("BAR2 too small or not page aligned");
	if (config_.num_queues == 0 || config_.num_queues > NPU_MAX_QUEUES)
		throw std::invalid_argument("queue count out of range");
	init_registers();
}

NpuDevice::~NpuDevice()
{
	std::lock_guard lock(ctrl_mutex_);
	stop_core();
}

npu_regs *NpuDevice::regs() const
{
	return reinterpret_cast<npu_regs *>(bar2_.base + NPU_REGS_OFFSET);
}

void NpuDevice::init_registers()
{
	npu_regs *r = regs();
	shared_fill(bar2_.base + NPU_REGS_OFFSET, 0, 0, sizeof(npu_regs));
	shared_fill(bar2_.base + NPU_QUEUE_OFFSET, 0, 0,
		    NPU_MAX_QUEUES * NPU_QUEUE_STRIDE);
	set(r->id, std::uint32_t{NPU_ID_MAGIC});
	set(r->hw_version, std::uint32_t{NPU_HW_VERSION});
	set(r->engine_count, config_.engine_count);
	set(r->num_queues, config_.num_queues);
	set(r->devmem_size, std::uint64_t{bar2_.size - NPU_DEVMEM_OFFSET});
	set(r->serial, config_.serial);
	set(r->temp_mc, kIdleTempMc);
	set(r->power_mw, kIdlePowerMw);
	set(r->state, std::uint32_t{NPU_STATE_ROM});
}

void NpuDevice::doorbell(unsigned vector)
{
	std::lock_guard lock(ctrl_mutex_);
	switch (vector) {
	case NPU_DB_CTRL:
		handle_ctrl();
		break;
	case NPU_DB_QUEUE:
		if (core_)
			core_->post_event(NPU_WFE_QUEUE);
		break;
	default:
		log(config_.name, "doorbell on unused vector {} ignored", vector);
		break;
	}
}

void NpuDevice::power_on_reset()
{
	std::lock_guard lock(ctrl_mutex_);
	stop_core();
	init_registers();
	log(config_.name, "power-on reset");
}

void NpuDevice::handle_ctrl()
{
	std::uint32_t ctrl = get(regs()->ctrl);
	switch (ctrl) {
	case NPU_CTRL_BOOT:
		boot();
		break;
	case NPU_CTRL_RESET:
		stop_core();
		init_registers();
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
		init_registers();
	}
	set(r->ctrl, std::uint32_t{NPU_CTRL_NONE});

	RomVerdict verdict = rom_check_image(bar2_);
	if (verdict.boot_status != NPU_BOOT_OK) {
		log(config_.name, "boot failed: {}", boot_status_name(verdict.boot_status));
		set(r->boot_status, verdict.boot_status);
		set(r->state, std::uint32_t{NPU_STATE_BOOT_FAILED});
		raise_irq_(NPU_IRQ_CTRL);
		return;
	}
	try {
		core_ = std::make_unique<ControlCore>(
			config_.name, bar2_, dma_, raise_irq_,
			[this] { on_core_halt(); });
	} catch (const std::exception &e) {
		log(config_.name, "cannot start control core: {}", e.what());
		set(r->state, std::uint32_t{NPU_STATE_HALTED});
		raise_irq_(NPU_IRQ_CTRL);
		return;
	}
	set(r->boot_status, std::uint32_t{NPU_BOOT_OK});
	set(r->state, std::uint32_t{NPU_STATE_BOOTING});
	log(config_.name, "firmware {}.{}.{} accepted, starting core at {:#x}",
	    verdict.fw_version >> 16, (verdict.fw_version >> 8) & 0xff,
	    verdict.fw_version & 0xff, verdict.entry);
	core_->start(verdict.entry);
}

void NpuDevice::stop_core()
{
	if (core_) {
		core_->stop();
		core_.reset();
	}
}

// Core thread: the firmware crashed or ran off; it will not be restarted
// until the host asks for RESET or BOOT.
void NpuDevice::on_core_halt()
{
	set(regs()->state, std::uint32_t{NPU_STATE_HALTED});
	raise_irq_(NPU_IRQ_CTRL);
}

} // namespace npu::emu
