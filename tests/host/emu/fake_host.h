// SPDX-License-Identifier: MIT
// Plays the kernel driver against an in-process NpuDevice: owns a fake
// guest RAM and BAR2, builds device page tables the way the driver does,
// loads firmware, rings doorbells and waits for interrupts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "drm/npu_packet.h"
#include "npu_device.h"
#include "npu_hw.h"
#include "npu_shared_mem.h"

namespace npu::emu::test
{

using namespace std::chrono_literals;

// Anonymous page-aligned memory standing in for guest RAM or BAR2.
class AnonMemory
{
public:
	explicit AnonMemory(std::size_t size);
	~AnonMemory();
	AnonMemory(const AnonMemory &) = delete;
	AnonMemory &operator=(const AnonMemory &) = delete;
	MemRegion region() const { return {base_, size_}; }

private:
	std::uint8_t *base_;
	std::size_t size_;
};

std::vector<std::uint8_t> read_file(const std::string &path);
std::vector<std::uint8_t> real_firmware();
// A valid image around raw RV64 machine code (entry at offset 0).
std::vector<std::uint8_t> make_image(const std::vector<std::uint32_t> &code,
				     std::uint32_t fw_version = 0x000900);
// Recomputes the header CRC after a test changed the payload on purpose.
void fix_checksum(std::vector<std::uint8_t> &image);

// A device address space: a level-0 table in guest RAM plus the host's
// own record of which page backs which VA.
struct Context {
	std::uint64_t pt_root = 0;
	std::map<std::uint64_t, std::uint64_t> pages; // va page -> pa page
};

class FakeHost
{
public:
	static constexpr std::size_t kRamSize = 16 << 20;
	static constexpr std::size_t kBar2Size = 8 << 20;
	static constexpr std::uint64_t kSerial = 0x5e5a1;
	static constexpr unsigned kQueues = 8;
	static constexpr unsigned kRingEntries = 16;

	FakeHost();
	~FakeHost();

	MemRegion ram() const { return ram_.region(); }
	MemRegion bar2() const { return bar2_.region(); }
	NpuDevice &device() { return *device_; }
	npu_regs *regs() const;
	npu_queue_regs *queue(unsigned q) const;
	std::uint32_t state() const { return shared_load<std::uint32_t>(&regs()->state); }

	// Guest-physical page allocator (zeroed pages, never freed).
	std::uint64_t alloc_page();
	Context new_context();
	// Maps fresh pages at [va, va + size); returns va.
	std::uint64_t map(Context &ctx, std::uint64_t va, std::size_t size, bool writable);
	// Clears the leaf PTE of va's page (the page stays readable through
	// read_va(): the host still owns it).
	void clear_pte(const Context &ctx, std::uint64_t va);
	// Translation invalidate (docs/hardware.md §8): writes seq to
	// regs.mmu_inval_req and rings NPU_DB_MMU, then waits (polling, as
	// the driver does) until regs.mmu_inval_done reaches seq.
	void request_invalidate(std::uint64_t seq);
	bool wait_invalidate(std::uint64_t seq, std::chrono::milliseconds timeout = 5000ms);
	std::uint64_t inval_done() const;
	void write_va(const Context &ctx, std::uint64_t va, const void *data, std::size_t n);
	void read_va(const Context &ctx, std::uint64_t va, void *data, std::size_t n) const;
	std::uint64_t read_u64(const Context &ctx, std::uint64_t va) const;
	void write_u64(const Context &ctx, std::uint64_t va, std::uint64_t v);

	// Loads an image and rings BOOT without waiting.
	void start_boot(const std::vector<std::uint8_t> &image, std::uint32_t heartbeat_ms = 20);
	// start_boot(), then the state once it left BOOTING (or BOOTING
	// itself after the timeout).
	std::uint32_t boot(const std::vector<std::uint8_t> &image, std::uint32_t heartbeat_ms = 20);
	std::uint32_t reset();
	unsigned irq_count(unsigned vector);
	// Waits until pred() holds, re-checking on every interrupt.
	bool wait_for(const std::function<bool()> &pred,
		      std::chrono::milliseconds timeout = 5000ms);

	// Queue q gets a ring in guest RAM and is enabled.
	void setup_queue(unsigned q);
	// Copies cmd into a fresh read-only buffer in ctx and submits it.
	std::uint64_t submit(unsigned q, Context &ctx, const std::vector<std::uint32_t> &cmd);
	// Submits a descriptor as given (cmd buffer already in ctx).
	std::uint64_t submit_raw(unsigned q, const Context &ctx, std::uint64_t cmd_va,
				 std::uint32_t cmd_size);
	bool wait_done(unsigned q, std::uint64_t seqno, std::chrono::milliseconds timeout = 5000ms);
	npu_job_desc descriptor(unsigned q, std::uint64_t seqno) const;

private:
	void on_irq(unsigned vector);
	std::uint64_t *pte_slot(std::uint64_t table, std::uint64_t va, int level);
	std::uint64_t translate(const Context &ctx, std::uint64_t va) const;

	AnonMemory ram_{kRamSize};
	AnonMemory bar2_{kBar2Size};
	std::unique_ptr<NpuDevice> device_;

	unsigned irq_total();

	std::mutex irq_mutex_; // protects irq_counts_ and irq_total_
	std::condition_variable irq_cv_;
	unsigned irq_counts_[NPU_IVSHMEM_VECTORS] = {};
	unsigned irq_total_ = 0;

	std::uint64_t next_page_ = 1 << 20; // leave low RAM untouched
	std::uint64_t next_cmd_va_ = 0x7000'0000;
	std::uint64_t next_seqno_ = 1;
	std::uint64_t ring_base_[NPU_MAX_QUEUES] = {};
	std::uint32_t tail_[NPU_MAX_QUEUES] = {};
	std::map<std::uint64_t, std::uint64_t> desc_addr_of_seqno_;
};

// Packet builders (little-endian dwords).
std::vector<std::uint32_t> pkt_nop(unsigned dwords = 2);
std::vector<std::uint32_t> pkt_fill(std::uint64_t dst, std::uint64_t size, std::uint32_t value);
std::vector<std::uint32_t> pkt_copy(std::uint64_t src, std::uint64_t dst, std::uint64_t size);
std::vector<std::uint32_t> pkt_timestamp(std::uint64_t dst);
std::vector<std::uint32_t> pkt_fence(std::uint64_t dst, std::uint64_t value);
std::vector<std::uint32_t> pkt_wait_mem(std::uint64_t addr, std::uint64_t value);
std::vector<std::uint32_t> operator+(std::vector<std::uint32_t> a,
				     const std::vector<std::uint32_t> &b);

} // namespace npu::emu::test
