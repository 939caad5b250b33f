// SPDX-License-Identifier: MIT
#include "fake_host.h"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include <sys/mman.h>
#include <zlib.h>

namespace npu::emu::test
{

AnonMemory::AnonMemory(std::size_t size) : size_(size)
{
	void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		throw std::system_error(errno, std::generic_category(), "mmap");
	base_ = static_cast<std::uint8_t *>(p);
}

AnonMemory::~AnonMemory()
{
	munmap(base_, size_);
}

std::vector<std::uint8_t> read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> real_firmware()
{
	return read_file(NPU_FW_IMAGE);
}

void fix_checksum(std::vector<std::uint8_t> &image)
{
	auto *hdr = reinterpret_cast<npu_fw_header *>(image.data());
	hdr->checksum = static_cast<std::uint32_t>(
		crc32(0, image.data() + NPU_FW_HEADER_SIZE, hdr->image_size));
}

std::vector<std::uint8_t> make_image(const std::vector<std::uint32_t> &code,
				     std::uint32_t fw_version)
{
	std::vector<std::uint8_t> image(NPU_FW_HEADER_SIZE + code.size() * 4);
	auto *hdr = reinterpret_cast<npu_fw_header *>(image.data());
	hdr->magic = NPU_FW_MAGIC;
	hdr->abi_major = NPU_FW_ABI_MAJOR;
	hdr->abi_minor = NPU_FW_ABI_MINOR;
	hdr->header_size = NPU_FW_HEADER_SIZE;
	hdr->image_size = static_cast<std::uint32_t>(code.size() * 4);
	hdr->mem_size = hdr->image_size + 4096;
	hdr->entry_offset = 0;
	hdr->fw_version = fw_version;
	std::strcpy(hdr->build_id, "hand-assembled test image");
	std::memcpy(image.data() + NPU_FW_HEADER_SIZE, code.data(), code.size() * 4);
	fix_checksum(image);
	return image;
}

FakeHost::FakeHost()
{
	DeviceConfig cfg;
	cfg.name = "npu-test";
	cfg.serial = kSerial;
	cfg.num_queues = kQueues;
	device_ =
		std::make_unique<NpuDevice>(cfg, bar2(), ram(), [this](unsigned v) { on_irq(v); });
}

FakeHost::~FakeHost()
{
	device_.reset(); // joins the core before the memory goes
}

npu_regs *FakeHost::regs() const
{
	return reinterpret_cast<npu_regs *>(bar2().base + NPU_REGS_OFFSET);
}

npu_queue_regs *FakeHost::queue(unsigned q) const
{
	return reinterpret_cast<npu_queue_regs *>(bar2().base + NPU_QUEUE_OFFSET +
						  q * NPU_QUEUE_STRIDE);
}

void FakeHost::on_irq(unsigned vector)
{
	std::lock_guard lock(irq_mutex_);
	irq_counts_[vector]++;
	irq_total_++;
	irq_cv_.notify_all();
}

unsigned FakeHost::irq_count(unsigned vector)
{
	std::lock_guard lock(irq_mutex_);
	return irq_counts_[vector];
}

bool FakeHost::wait_for(const std::function<bool()> &pred, std::chrono::milliseconds timeout)
{
	// Interrupts wake us; the short period covers state that changes
	// without one (a driver would poll those, too). pred() runs unlocked
	// so it may call irq_count().
	auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		unsigned seen = irq_total();
		if (pred())
			return true;
		if (std::chrono::steady_clock::now() >= deadline)
			return false;
		std::unique_lock lock(irq_mutex_);
		irq_cv_.wait_for(lock, 10ms, [&] { return irq_total_ != seen; });
	}
}

unsigned FakeHost::irq_total()
{
	std::lock_guard lock(irq_mutex_);
	return irq_total_;
}

std::uint64_t FakeHost::alloc_page()
{
	std::uint64_t pa = next_page_;
	next_page_ += NPU_PAGE_SIZE;
	if (next_page_ > kRamSize)
		throw std::runtime_error("fake guest RAM exhausted");
	shared_fill(ram().base + pa, 0, 0, NPU_PAGE_SIZE);
	return pa;
}

Context FakeHost::new_context()
{
	return Context{alloc_page(), {}};
}

std::uint64_t *FakeHost::pte_slot(std::uint64_t table, std::uint64_t va, int level)
{
	return reinterpret_cast<std::uint64_t *>(ram().base + table) + NPU_PT_INDEX(va, level);
}

std::uint64_t FakeHost::map(Context &ctx, std::uint64_t va, std::size_t size, bool writable)
{
	for (std::uint64_t off = 0; off < size; off += NPU_PAGE_SIZE) {
		std::uint64_t page_va = va + off;
		std::uint64_t table = ctx.pt_root;
		for (int level = 0; level < NPU_PT_LEVELS - 1; level++) {
			std::uint64_t *slot = pte_slot(table, page_va, level);
			std::uint64_t pte = shared_load<std::uint64_t>(slot);
			if (!(pte & NPU_PTE_VALID)) {
				pte = alloc_page() | NPU_PTE_VALID;
				shared_store(slot, pte);
			}
			table = pte & NPU_PTE_ADDR_MASK;
		}
		std::uint64_t pa = alloc_page();
		shared_store(pte_slot(table, page_va, NPU_PT_LEVELS - 1),
			     pa | NPU_PTE_VALID | (writable ? NPU_PTE_WRITE : 0));
		ctx.pages[page_va] = pa;
	}
	return va;
}

void FakeHost::clear_pte(const Context &ctx, std::uint64_t va)
{
	std::uint64_t table = ctx.pt_root;
	for (int level = 0; level < NPU_PT_LEVELS - 1; level++) {
		std::uint64_t pte = shared_load<std::uint64_t>(pte_slot(table, va, level));
		if (!(pte & NPU_PTE_VALID))
			throw std::out_of_range("clear_pte of an unmapped VA");
		table = pte & NPU_PTE_ADDR_MASK;
	}
	shared_store<std::uint64_t>(pte_slot(table, va, NPU_PT_LEVELS - 1), 0);
}

void FakeHost::request_invalidate(std::uint64_t seq)
{
	shared_store(&regs()->mmu_inval_req, seq);
	device_->doorbell(NPU_DB_MMU);
}

std::uint64_t FakeHost::inval_done() const
{
	return shared_load<std::uint64_t>(&regs()->mmu_inval_done);
}

bool FakeHost::wait_invalidate(std::uint64_t seq, std::chrono::milliseconds timeout)
{
	return wait_for([&] { return inval_done() >= seq; }, timeout);
}

std::uint64_t FakeHost::translate(const Context &ctx, std::uint64_t va) const
{
	auto it = ctx.pages.find(va & ~(NPU_PAGE_SIZE - 1));
	if (it == ctx.pages.end())
		throw std::out_of_range("test touched an unmapped VA");
	return it->second + (va & (NPU_PAGE_SIZE - 1));
}

void FakeHost::write_va(const Context &ctx, std::uint64_t va, const void *data, std::size_t n)
{
	auto *src = static_cast<const std::uint8_t *>(data);
	while (n) {
		std::size_t chunk =
			std::min<std::size_t>(n, NPU_PAGE_SIZE - (va & (NPU_PAGE_SIZE - 1)));
		shared_copy(ram().base + translate(ctx, va), src, chunk);
		va += chunk, src += chunk, n -= chunk;
	}
}

void FakeHost::read_va(const Context &ctx, std::uint64_t va, void *data, std::size_t n) const
{
	auto *dst = static_cast<std::uint8_t *>(data);
	while (n) {
		std::size_t chunk =
			std::min<std::size_t>(n, NPU_PAGE_SIZE - (va & (NPU_PAGE_SIZE - 1)));
		shared_copy(dst, ram().base + translate(ctx, va), chunk);
		va += chunk, dst += chunk, n -= chunk;
	}
}

std::uint64_t FakeHost::read_u64(const Context &ctx, std::uint64_t va) const
{
	std::uint64_t v;
	read_va(ctx, va, &v, sizeof(v));
	return v;
}

void FakeHost::write_u64(const Context &ctx, std::uint64_t va, std::uint64_t v)
{
	write_va(ctx, va, &v, sizeof(v));
}

void FakeHost::start_boot(const std::vector<std::uint8_t> &image, std::uint32_t heartbeat_ms)
{
	shared_copy(bar2().base + NPU_FW_OFFSET, image.data(), image.size());
	auto *params = reinterpret_cast<npu_boot_params *>(bar2().base + NPU_MBOX_OFFSET);
	shared_store(&params->heartbeat_ms, heartbeat_ms);
	shared_store(&params->flags, 0u);
	shared_store<std::uint64_t>(&params->host_time_ns, 12345);
	shared_store<std::uint32_t>(&regs()->ctrl, NPU_CTRL_BOOT);
	device_->doorbell(NPU_DB_CTRL);
}

std::uint32_t FakeHost::boot(const std::vector<std::uint8_t> &image, std::uint32_t heartbeat_ms)
{
	start_boot(image, heartbeat_ms);
	wait_for([this] { return state() != NPU_STATE_BOOTING; });
	return state();
}

std::uint32_t FakeHost::reset()
{
	unsigned before = irq_count(NPU_IRQ_CTRL);
	shared_store<std::uint32_t>(&regs()->ctrl, NPU_CTRL_RESET);
	device_->doorbell(NPU_DB_CTRL);
	wait_for([&] { return irq_count(NPU_IRQ_CTRL) > before; });
	std::fill(std::begin(tail_), std::end(tail_), 0);
	return state();
}

void FakeHost::setup_queue(unsigned q)
{
	static_assert(kRingEntries * sizeof(npu_job_desc) <= NPU_PAGE_SIZE);
	ring_base_[q] = alloc_page();
	tail_[q] = 0;
	npu_queue_regs *qr = queue(q);
	shared_store(&qr->ring_base, ring_base_[q]);
	shared_store<std::uint32_t>(&qr->ring_entries, kRingEntries);
	shared_store<std::uint32_t>(&qr->tail, 0);
	shared_store<std::uint32_t>(&qr->enable, 1);
}

std::uint64_t FakeHost::submit(unsigned q, Context &ctx, const std::vector<std::uint32_t> &cmd)
{
	std::size_t bytes = cmd.size() * 4;
	std::uint64_t va = next_cmd_va_;
	next_cmd_va_ += (bytes + NPU_PAGE_SIZE - 1) & ~(NPU_PAGE_SIZE - 1);
	next_cmd_va_ += NPU_PAGE_SIZE; // guard page
	map(ctx, va, bytes, false);
	write_va(ctx, va, cmd.data(), bytes);
	return submit_raw(q, ctx, va, static_cast<std::uint32_t>(bytes));
}

std::uint64_t FakeHost::submit_raw(unsigned q, const Context &ctx, std::uint64_t cmd_va,
				   std::uint32_t cmd_size)
{
	npu_job_desc desc{};
	desc.seqno = next_seqno_++;
	desc.cmd_va = cmd_va;
	desc.cmd_size = cmd_size;
	desc.context_id = 7;
	desc.pt_root = ctx.pt_root;
	desc.status = 0xdead;
	std::uint64_t addr = ring_base_[q] + (tail_[q] % kRingEntries) * sizeof(desc);
	shared_copy(ram().base + addr, reinterpret_cast<std::uint8_t *>(&desc), sizeof(desc));
	desc_addr_of_seqno_[desc.seqno] = addr;
	tail_[q]++;
	shared_store(&queue(q)->tail, tail_[q]);
	device_->doorbell(NPU_DB_QUEUE);
	return desc.seqno;
}

bool FakeHost::wait_done(unsigned q, std::uint64_t seqno, std::chrono::milliseconds timeout)
{
	return wait_for([&] { return shared_load<std::uint64_t>(&queue(q)->done_seqno) >= seqno; },
			timeout);
}

npu_job_desc FakeHost::descriptor(unsigned, std::uint64_t seqno) const
{
	npu_job_desc desc;
	shared_copy(reinterpret_cast<std::uint8_t *>(&desc),
		    ram().base + desc_addr_of_seqno_.at(seqno), sizeof(desc));
	return desc;
}

namespace
{

std::vector<std::uint32_t> words(std::uint32_t header, std::initializer_list<std::uint64_t> fields,
				 std::uint32_t second)
{
	std::vector<std::uint32_t> v{header, second};
	for (std::uint64_t f : fields) {
		v.push_back(static_cast<std::uint32_t>(f));
		v.push_back(static_cast<std::uint32_t>(f >> 32));
	}
	return v;
}

} // namespace

std::vector<std::uint32_t> pkt_nop(unsigned dwords)
{
	std::vector<std::uint32_t> v(dwords, 0);
	v[0] = NPU_PKT_HEADER(NPU_OP_NOP, dwords);
	return v;
}

std::vector<std::uint32_t> pkt_fill(std::uint64_t dst, std::uint64_t size, std::uint32_t value)
{
	return words(NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS), {dst, size}, value);
}

std::vector<std::uint32_t> pkt_copy(std::uint64_t src, std::uint64_t dst, std::uint64_t size)
{
	return words(NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS), {src, dst, size}, 0);
}

std::vector<std::uint32_t> pkt_timestamp(std::uint64_t dst)
{
	return words(NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS), {dst}, 0);
}

std::vector<std::uint32_t> pkt_fence(std::uint64_t dst, std::uint64_t value)
{
	return words(NPU_PKT_HEADER(NPU_OP_FENCE, NPU_PKT_FENCE_DWORDS), {dst, value}, 0);
}

std::vector<std::uint32_t> pkt_wait_mem(std::uint64_t addr, std::uint64_t value)
{
	return words(NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS), {addr, value}, 0);
}

std::vector<std::uint32_t> operator+(std::vector<std::uint32_t> a,
				     const std::vector<std::uint32_t> &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

} // namespace npu::emu::test
