// SPDX-License-Identifier: MIT
#include "npu_engine.h"

#include <chrono>
#include <cstddef>
#include <cstring>

#include <omp.h>

#include "npu_engine_ops.h"
#include "npu_hw.h"
#include "npu_log.h"

namespace npu::emu
{

struct EngineArray::Engine {
	unsigned index = 0;
	npu_engine_regs *regs = nullptr; // in BAR2
	std::unique_ptr<EngineScratch> scratch;
	std::thread thread;

	std::mutex mutex; // protects everything below
	std::condition_variable cv;
	bool has_task = false;	      // kicked, not yet finished
	std::uint32_t task_addr = 0;  // core address of the task
	std::uint64_t generation = 0; // bumped by reset(): older work is stale
	bool running = false;	      // the thread is inside a task
	bool stopping = false;
};

namespace
{

std::uint64_t now_ns()
{
	return std::chrono::duration_cast<std::chrono::nanoseconds>(
		       std::chrono::steady_clock::now().time_since_epoch())
		.count();
}

} // namespace

EngineArray::EngineArray(std::string name, unsigned count, std::uint64_t local_mem, MemRegion bar2,
			 const DmaEngine &dma, FaultInjector &faults, std::function<void()> on_done)
    : name_(std::move(name)), local_mem_(local_mem), bar2_(bar2), dma_(dma), faults_(faults),
      on_done_(std::move(on_done))
{
	if (count > NPU_MAX_ENGINES)
		count = NPU_MAX_ENGINES;
	for (unsigned n = 0; n < count; n++) {
		auto e = std::make_unique<Engine>();
		e->index = n;
		e->regs = reinterpret_cast<npu_engine_regs *>(bar2_.base + NPU_ENGINE_OFFSET +
							      n * NPU_ENGINE_STRIDE);
		shared_fill(reinterpret_cast<std::uint8_t *>(e->regs), 0, 0,
			    sizeof(npu_engine_regs));
		e->scratch = std::make_unique<EngineScratch>(local_mem_);
		engines_.push_back(std::move(e));
	}
	for (auto &e : engines_)
		e->thread = std::thread([this, eng = e.get()] { run(*eng); });
}

EngineArray::~EngineArray()
{
	for (auto &e : engines_) {
		std::lock_guard lock(e->mutex);
		e->stopping = true;
		e->scratch->cancel().store(true);
		e->cv.notify_all();
	}
	for (auto &e : engines_)
		if (e->thread.joinable())
			e->thread.join();
}

void EngineArray::kick(unsigned n, std::uint32_t task_addr)
{
	if (n >= engines_.size()) {
		log(name_, "kick of engine {} ignored: {} engines", n, engines_.size());
		return;
	}
	Engine &e = *engines_[n];
	std::lock_guard lock(e.mutex);
	if (e.has_task) {
		log(name_, "kick of busy engine {} ignored", n);
		return;
	}
	e.has_task = true;
	e.task_addr = task_addr;
	e.cv.notify_all();
}

std::uint32_t EngineArray::take_done()
{
	return done_.exchange(0);
}

std::uint32_t EngineArray::busy() const
{
	std::uint32_t mask = 0;
	for (const auto &e : engines_) {
		std::lock_guard lock(e->mutex);
		if (e->has_task)
			mask |= 1u << e->index;
	}
	return mask;
}

void EngineArray::reset()
{
	for (auto &e : engines_) {
		std::unique_lock lock(e->mutex);
		e->generation++;
		e->has_task = false;
		e->scratch->cancel().store(true); // a running task stops early
		e->cv.notify_all();
		// a task that started before the reset may still write memory
		e->cv.wait(lock, [&] { return !e->running; });
		shared_set(e->regs->state, std::uint32_t{NPU_ENGINE_IDLE});
		shared_set(e->regs->seqno, std::uint64_t{0});
	}
	done_.store(0);
}

void EngineArray::run(Engine &e)
{
	// oneDNN (OpenMP) work of this engine runs on this thread alone.
	omp_set_num_threads(1);
	std::unique_lock lock(e.mutex);
	for (;;) {
		e.cv.wait(lock, [&] { return e.stopping || (e.has_task && !e.running); });
		if (e.stopping)
			return;
		std::uint32_t addr = e.task_addr;
		std::uint64_t generation = e.generation;
		e.scratch->cancel().store(false);
		e.running = true;
		lock.unlock();
		execute(e, addr, generation);
		lock.lock();
		e.running = false;
		e.cv.notify_all();
	}
}

// An injected hang: the engine never finishes this task; a reset (or
// shutdown) releases it without a completion. Returns true if it hung.
// It hangs before the task's first translation, holding none: translation
// invalidates complete meanwhile (the driver waits for them before it
// frees pages, and only resets a device that hangs for longer).
bool EngineArray::hang(Engine &e, std::uint64_t generation)
{
	if (!faults_.take(Fault::HangTensorEngine))
		return false;
	log(name_, "injected fault: tensor engine {} hangs", e.index);
	std::unique_lock lock(e.mutex);
	e.cv.wait(lock, [&] { return e.stopping || e.generation != generation; });
	return true;
}

void EngineArray::execute(Engine &e, std::uint32_t task_addr, std::uint64_t generation)
{
	npu_engine_task task{};
	std::uint64_t off = task_addr - NPU_CORE_BAR2_BASE;
	bool readable = task_addr >= NPU_CORE_BAR2_BASE && task_addr % 8 == 0 &&
			bar2_.contains(off, sizeof(task));
	if (readable)
		shared_copy(reinterpret_cast<std::uint8_t *>(&task), bar2_.base + off,
			    sizeof(task));
	shared_set(e.regs->seqno, task.seqno);
	shared_set(e.regs->op, static_cast<std::uint32_t>(task.packet[0] & 0xff));
	shared_set(e.regs->queue, task.queue);
	shared_set(e.regs->state, std::uint32_t{NPU_ENGINE_BUSY});

	if (hang(e, generation))
		return;
	std::uint64_t start = now_ns();
	EngineResult res{NPU_ENG_ST_BAD_TASK, 0};
	if (readable)
		res = run_engine_task(dma_, task, *e.scratch);
	else
		log(name_, "engine {}: task address {:#x} outside the core's memory", e.index,
		    task_addr);
	std::uint64_t busy = now_ns() - start;
	if (faults_.take(Fault::CorruptEngine)) {
		log(name_, "injected fault: engine {} completes with status {:#x}", e.index,
		    kCorruptEngineStatus);
		res.status = kCorruptEngineStatus;
	}

	std::unique_lock lock(e.mutex);
	shared_set(e.regs->busy_ns, shared_get(e.regs->busy_ns) + busy);
	shared_set(e.regs->tasks_done, shared_get(e.regs->tasks_done) + 1);
	shared_set(e.regs->last_status, res.status);
	shared_set(e.regs->seqno, std::uint64_t{0});
	shared_set(e.regs->state, std::uint32_t{NPU_ENGINE_IDLE});
	if (e.generation != generation)
		return; // reset meanwhile: the firmware that asked is gone
	e.has_task = false;
	if (readable) {
		auto *t = reinterpret_cast<npu_engine_task *>(bar2_.base + off);
		shared_set(t->fault_addr, res.fault_addr);
		shared_set(t->status, res.status);
	}
	done_.fetch_or(1u << e.index);
	lock.unlock();
	on_done_();
}

} // namespace npu::emu
