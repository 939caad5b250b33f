// SPDX-License-Identifier: MIT
#include "npu_core.h"

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <unicorn/unicorn.h>

#include "npu_hw.h"
#include "npu_log.h"

namespace npu::emu
{

namespace
{

constexpr unsigned kDefaultHeartbeatMs = 100;
constexpr std::size_t kConsoleLineMax = 512;
// How often stop() re-issues uc_emu_stop: a request made just before the
// core thread enters uc_emu_start is cleared by it and must be repeated.
constexpr auto kStopRetry = std::chrono::milliseconds(2);
constexpr std::size_t kMaxDoorbells = 4;

void drain(int fd)
{
	std::uint64_t count;
	while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
	}
}

void check(uc_err err, const char *what)
{
	if (err != UC_ERR_OK)
		throw std::runtime_error(std::string("unicorn: ") + what + ": " + uc_strerror(err));
}

} // namespace

ControlCore::ControlCore(std::string name, MemRegion bar2, const DmaEngine &dma,
			 IrqCallback raise_irq, std::function<void()> on_halt,
			 FaultInjector *faults, std::atomic<std::uint64_t> *gated_dma,
			 EngineArray *engines, std::vector<DoorbellFd> doorbells)
    : name_(std::move(name)), bar2_(bar2), dma_(dma), raise_irq_(std::move(raise_irq)),
      on_halt_(std::move(on_halt)), doorbells_(std::move(doorbells)), faults_(faults),
      gated_dma_(gated_dma), engines_(engines)
{
	if (doorbells_.size() > kMaxDoorbells)
		throw std::invalid_argument("too many doorbell eventfds");
	wake_efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_efd_ < 0)
		throw std::system_error(errno, std::generic_category(), "eventfd");
	if (uc_err err = uc_open(UC_ARCH_RISCV, UC_MODE_RISCV64, &uc_); err != UC_ERR_OK) {
		close(wake_efd_);
		check(err, "open");
	}
	try {
		check(uc_mem_map_ptr(uc_, NPU_CORE_BAR2_BASE, bar2_.size, UC_PROT_ALL, bar2_.base),
		      "map BAR2");
		check(uc_mmio_map(uc_, NPU_CORE_PERIPH_BASE, NPU_CORE_PERIPH_SIZE,
				  &ControlCore::mmio_read, this, &ControlCore::mmio_write, this),
		      "map peripherals");
	} catch (...) {
		uc_close(uc_);
		close(wake_efd_);
		throw;
	}
}

ControlCore::~ControlCore()
{
	stop();
	uc_close(uc_);
	close(wake_efd_);
}

// Wakes the core thread from WFE (or makes its next WFE return at once).
void ControlCore::wake()
{
	std::uint64_t one = 1;
	if (write(wake_efd_, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log(name_, "cannot wake the core: {}", std::strerror(errno));
}

void ControlCore::start(std::uint64_t entry)
{
	boot_time_ = std::chrono::steady_clock::now();
	thread_ = std::thread([this, entry] { run(entry); });
}

void ControlCore::stop()
{
	std::unique_lock lock(event_mutex_);
	stopping_ = true;
	stop_flag_.store(true);
	event_cv_.notify_all();
	wake();
	while (thread_.joinable() && !exited_) {
		uc_emu_stop(uc_);
		event_cv_.wait_for(lock, kStopRetry);
	}
	lock.unlock();
	if (thread_.joinable())
		thread_.join();
}

void ControlCore::post_event(std::uint32_t bits)
{
	std::lock_guard lock(event_mutex_);
	pending_ |= bits;
	wake();
}

void ControlCore::crash()
{
	std::lock_guard lock(event_mutex_);
	crash_flag_.store(true);
	event_cv_.notify_all();
	wake();
	// the core also stops itself at its next peripheral access
	uc_emu_stop(uc_);
}

void ControlCore::run(std::uint64_t entry)
{
	uc_err err = UC_ERR_OK;
	if (!stop_flag_.load())
		err = uc_emu_start(uc_, entry, ~0ull, 0, 0);

	bool stopped = stop_flag_.load();
	if (!stopped) {
		std::uint64_t pc = 0;
		uc_reg_read(uc_, UC_RISCV_REG_PC, &pc);
		if (!console_line_.empty())
			log(name_, "fw: {}", console_line_);
		if (crash_flag_.load())
			log(name_, "firmware crashed: injected fatal exception at pc {:#x}", pc);
		else if (err != UC_ERR_OK)
			log(name_, "firmware crashed: {} at pc {:#x}", uc_strerror(err), pc);
		else
			log(name_, "firmware stopped by itself at pc {:#x}", pc);
		on_halt_();
	}
	std::lock_guard lock(event_mutex_);
	exited_ = true;
	event_cv_.notify_all();
}

std::uint32_t ControlCore::wait_for_event()
{
	auto *params = reinterpret_cast<npu_boot_params *>(bar2_.base + NPU_MBOX_OFFSET);
	unsigned ms = shared_load<std::uint32_t>(&params->heartbeat_ms);
	if (ms == 0)
		ms = kDefaultHeartbeatMs;

	const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
	std::array<pollfd, 1 + kMaxDoorbells> fds{};
	fds[0] = {wake_efd_, POLLIN, 0};
	for (std::size_t i = 0; i < doorbells_.size(); i++)
		fds[1 + i] = {doorbells_[i].fd, POLLIN, 0};
	const auto nfds = static_cast<nfds_t>(1 + doorbells_.size());
	std::uint32_t rang = 0;
	for (;;) {
		{
			std::lock_guard lock(event_mutex_);
			pending_ |= rang;
			if (stopping_ || crash_flag_) {
				uc_emu_stop(uc_);
				return 0;
			}
			if (pending_)
				return std::exchange(pending_, 0);
		}
		auto left = deadline - std::chrono::steady_clock::now();
		if (left <= std::chrono::nanoseconds::zero())
			return 0;
		auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
		timespec ts{static_cast<time_t>(ns / 1000000000),
			    static_cast<long>(ns % 1000000000)};
		if (ppoll(fds.data(), nfds, &ts, nullptr) < 0) {
			if (errno == EINTR)
				continue;
			log(name_, "WFE: ppoll: {}", std::strerror(errno));
			return 0;
		}
		for (nfds_t i = 0; i < nfds; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			drain(fds[i].fd);
			if (i > 0)
				rang |= doorbells_[i - 1].bits;
		}
	}
}

void ControlCore::console_putc(char c)
{
	if (c == '\n' || console_line_.size() >= kConsoleLineMax) {
		log(name_, "fw: {}", console_line_);
		console_line_.clear();
		if (c == '\n')
			return;
	}
	if (c != '\r')
		console_line_.push_back(c);
}

void ControlCore::start_dma(std::uint32_t op)
{
	const unsigned src = (op >> 4) & 3, dst = (op >> 6) & 3;
	const bool job_dma = src == NPU_DMA_SPACE_CTX || dst == NPU_DMA_SPACE_CTX;

	dma_req_.op = op;
	if (job_dma && engines_gated() && (*gated_dma_)++ == 0)
		log(name_, "job DMA while the host has the engines powered off");
	if (job_dma && faults_ && faults_->take(Fault::HangEngine)) {
		log(name_, "injected fault: DMA engine hangs (op {:#x})", op);
		hang_until_stopped();
		return;
	}
	dma_result_ = dma_.run(dma_req_);
	// the firmware writes a finished job's descriptor back to the host
	if ((op & 0xf) == NPU_DMA_COPY && src == NPU_DMA_SPACE_CORE && dst == NPU_DMA_SPACE_HOST &&
	    dma_req_.len == sizeof(npu_job_desc) && dma_result_.status == NPU_DMA_ST_OK && faults_)
		corrupt_writeback();
}

bool ControlCore::engines_gated() const
{
	auto *r = reinterpret_cast<npu_regs *>(bar2_.base + NPU_REGS_OFFSET);
	return gated_dma_ && shared_load<std::uint32_t>(&r->power_state) == NPU_POWER_ENGINES_OFF;
}

void ControlCore::kick_engine(unsigned n, std::uint32_t task_addr)
{
	if (!engines_) {
		log(name_, "engine kick without tensor engines ignored");
		return;
	}
	if (engines_gated() && (*gated_dma_)++ == 0)
		log(name_, "tensor engine kicked while the host has the engines powered off");
	engines_->kick(n, task_addr);
}

// An engine that never finishes: the core is stuck in the transfer until
// the host resets the device. Stuck before the transfer's first
// translation: translation invalidates complete meanwhile.
void ControlCore::hang_until_stopped()
{
	std::unique_lock lock(event_mutex_);
	event_cv_.wait(lock, [this] { return stopping_ || crash_flag_.load(); });
	uc_emu_stop(uc_);
	dma_result_ = {NPU_DMA_ST_BAD_OP, 0};
}

void ControlCore::corrupt_writeback()
{
	npu_job_desc desc;
	auto win = dma_.translate(NPU_DMA_SPACE_HOST, dma_req_.dst, true, 0);
	if (!win || win->length < sizeof(desc))
		return;
	if (faults_->take(Fault::CorruptStatus)) {
		shared_store<std::uint32_t>(win->ptr + offsetof(npu_job_desc, status),
					    kCorruptStatus);
		log(name_, "injected fault: job {} written back with status {:#x}",
		    shared_load<std::uint64_t>(win->ptr), kCorruptStatus);
	}
	if (faults_->take(Fault::CorruptSeqno))
		corrupt_seqno_ = shared_load<std::uint64_t>(win->ptr);
}

// Rewrites the done_seqno the firmware just stored for corrupt_seqno_.
void ControlCore::corrupt_done_seqno()
{
	auto *r = reinterpret_cast<npu_regs *>(bar2_.base + NPU_REGS_OFFSET);
	std::uint32_t queues = shared_load<std::uint32_t>(&r->num_queues);
	for (std::uint32_t q = 0; q < queues && q < NPU_MAX_QUEUES; q++) {
		auto *qr = reinterpret_cast<npu_queue_regs *>(bar2_.base + NPU_QUEUE_OFFSET +
							      q * NPU_QUEUE_STRIDE);
		if (shared_load<std::uint64_t>(&qr->done_seqno) != corrupt_seqno_)
			continue;
		shared_store<std::uint64_t>(&qr->done_seqno, corrupt_seqno_ + kCorruptSeqnoJump);
		log(name_, "injected fault: queue {} done_seqno {} reported as {}", q,
		    corrupt_seqno_, corrupt_seqno_ + kCorruptSeqnoJump);
	}
	corrupt_seqno_ = 0;
}

// Core thread, on every peripheral access: the firmware touches the
// peripherals between any two heartbeat stores, so a frozen heartbeat is
// restored before the host can see it move (but for a few instructions).
void ControlCore::before_access()
{
	if (crash_flag_.load())
		uc_emu_stop(uc_);
	if (!faults_)
		return;
	auto *r = reinterpret_cast<npu_regs *>(bar2_.base + NPU_REGS_OFFSET);
	if (!faults_->heartbeat_frozen()) {
		heartbeat_held_ = false;
		return;
	}
	if (!heartbeat_held_) {
		held_heartbeat_ = shared_load<std::uint32_t>(&r->heartbeat);
		heartbeat_held_ = true;
		log(name_, "injected fault: heartbeat frozen at {}", held_heartbeat_);
	}
	shared_store<std::uint32_t>(&r->heartbeat, held_heartbeat_);
}

// Registers wider than the access are read or written in part: the access
// hits bytes [off, off + size) of the aligned 64-bit word holding them.
std::uint64_t ControlCore::periph_read(std::uint64_t off, unsigned size)
{
	std::uint64_t word_off = off & ~7ull;
	unsigned shift = 8 * (off & 7);
	std::uint64_t word = 0;
	before_access();
	switch (word_off) {
	case NPU_PERIPH_WFE:
		word = shift == 0 ? wait_for_event() : 0;
		break;
	case NPU_PERIPH_TIME_NS:
		word = std::chrono::duration_cast<std::chrono::nanoseconds>(
			       std::chrono::steady_clock::now() - boot_time_)
			       .count();
		break;
	case NPU_PERIPH_DMA_SRC:
		word = dma_req_.src;
		break;
	case NPU_PERIPH_DMA_DST:
		word = dma_req_.dst;
		break;
	case NPU_PERIPH_DMA_LEN:
		word = dma_req_.len;
		break;
	case NPU_PERIPH_DMA_PT_ROOT:
		word = dma_req_.pt_root;
		break;
	case NPU_PERIPH_DMA_FILL:
		word = dma_req_.fill;
		break; // OP reads 0
	case NPU_PERIPH_DMA_STATUS:
		word = dma_result_.status;
		break;
	case NPU_PERIPH_DMA_FAULT:
		word = dma_result_.fault;
		break;
	case NPU_PERIPH_ENG_DONE:
		word = shift == 0 && engines_ ? engines_->take_done() : 0;
		break;
	case NPU_PERIPH_ENG_BUSY:
		word = engines_ ? engines_->busy() : 0;
		break;
	default:
		break;
	}
	word >>= shift;
	return size >= 8 ? word : word & ((1ull << (8 * size)) - 1);
}

void ControlCore::periph_write(std::uint64_t off, unsigned size, std::uint64_t value)
{
	std::uint64_t word_off = off & ~7ull;
	unsigned shift = 8 * (off & 7);
	std::uint64_t mask = (size >= 8 ? ~0ull : (1ull << (8 * size)) - 1) << shift;
	auto merge = [&](std::uint64_t &reg) { reg = (reg & ~mask) | ((value << shift) & mask); };

	before_access();
	switch (word_off) {
	case NPU_PERIPH_IRQ_RAISE:
		if (shift == 0 && !stop_flag_.load()) {
			auto vector = static_cast<std::uint32_t>(value);
			if (vector == NPU_IRQ_JOB && corrupt_seqno_)
				corrupt_done_seqno();
			if (vector == NPU_IRQ_JOB && faults_ && faults_->take(Fault::DropInterrupt))
				log(name_, "injected fault: JOB interrupt dropped");
			else if (vector < NPU_IVSHMEM_VECTORS)
				raise_irq_(vector);
			else
				log(name_, "firmware raised invalid vector {}", vector);
		}
		break;
	case NPU_PERIPH_CONSOLE:
		if (shift == 0)
			console_putc(static_cast<char>(value));
		break;
	case NPU_PERIPH_DMA_SRC:
		merge(dma_req_.src);
		break;
	case NPU_PERIPH_DMA_DST:
		merge(dma_req_.dst);
		break;
	case NPU_PERIPH_DMA_LEN:
		merge(dma_req_.len);
		break;
	case NPU_PERIPH_DMA_PT_ROOT:
		merge(dma_req_.pt_root);
		break;
	case NPU_PERIPH_DMA_FILL: {
		// DMA_FILL is the low half of this word, DMA_OP the high half.
		std::uint64_t word = dma_req_.fill;
		merge(word);
		dma_req_.fill = static_cast<std::uint32_t>(word);
		if ((mask >> 32) && !stop_flag_.load())
			start_dma(static_cast<std::uint32_t>(word >> 32));
		break;
	}
	default:
		if (word_off >= NPU_PERIPH_ENG_KICK(0) &&
		    word_off < NPU_PERIPH_ENG_KICK(NPU_MAX_ENGINES) && shift == 0 &&
		    !stop_flag_.load())
			kick_engine(static_cast<unsigned>((word_off - NPU_PERIPH_ENG_KICK(0)) / 8),
				    static_cast<std::uint32_t>(value));
		break;
	}
}

std::uint64_t ControlCore::mmio_read(uc_struct *, std::uint64_t off, unsigned size, void *self)
{
	return static_cast<ControlCore *>(self)->periph_read(off, size);
}

void ControlCore::mmio_write(uc_struct *, std::uint64_t off, unsigned size, std::uint64_t value,
			     void *self)
{
	static_cast<ControlCore *>(self)->periph_write(off, size, value);
}

} // namespace npu::emu
