// Building operation packets (uapi/drm/npu_packet.h) over tensors that live
// in buffer objects, for npu_vm_ops_tests: layouts (transposed, sliced with
// steps, reversed, broadcast), tensor descriptors, the host view of their
// elements with guard bytes around them, packet builders with defaults the
// tests then adjust, and the fixture that runs jobs and checks results
// against op_reference.h.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "npu_test.h"
#include "op_reference.h"

namespace npu_test::ops
{

// Where the logical elements of a tensor sit in its storage.
struct Layout {
	// Storage nesting, outermost first (a permutation of the dimensions);
	// empty: row-major. {1, 0} on a matrix stores it transposed.
	std::vector<unsigned> order;
	// Per dimension, the storage step between neighbours (a slice with
	// step); empty or 0 entries: 1.
	std::vector<uint32_t> step;
	uint32_t reversed = 0;	// bit d: dimension d runs backwards (negative stride)
	uint32_t broadcast = 0; // bit d: stride 0, every index reads one element
};

Layout Transposed(unsigned rank);   // the last two dimensions swapped in storage
Layout ChannelsLast(unsigned rank); // [N, C, spatial...] stored as [N, spatial..., C]

// Buffer objects tensors are bump-allocated from; grows by whole BOs.
class Arena
{
public:
	Arena(const Device &dev, uint32_t bo_flags = 0, uint64_t chunk_bytes = 4ull << 20);
	struct Block {
		uint64_t addr;
		uint8_t *host;
	};
	Block Reserve(uint64_t bytes, uint64_t align = 64);
	std::vector<uint32_t> handles() const;
	// The highest device address any of its BOs covers.
	uint64_t end_addr() const;

private:
	const Device &dev_;
	uint32_t flags_;
	uint64_t chunk_;
	std::vector<std::unique_ptr<Bo>> bos_;
	uint64_t used_ = 0; // in the last BO
};

// Bytes of unreferenced memory kept around every tensor's storage.
inline constexpr uint64_t kGuardBytes = 64;
inline constexpr uint8_t kOutputFill = 0xa5;  // outputs' storage and guards
inline constexpr uint8_t kInputPoison = 0xff; // inputs' gaps: NaN, or -1

// A tensor descriptor over storage in an arena, with its host view.
class DevTensor
{
public:
	DevTensor() = default;
	DevTensor(Arena &arena, uint32_t dtype, const Shape &shape, const Layout &layout = {});

	npu_tensor desc{};
	uint32_t dtype() const { return desc.dtype; }
	Shape shape() const { return ShapeOf(desc); }

	// Byte offsets from desc.addr of every logical element, row-major.
	std::vector<int64_t> ElementOffsets() const;
	// Writes every logical element (broadcast ones overwrite each other)
	// and reads them back.
	void Write(const HostTensor &t);
	HostTensor Read() const;
	// The storage and the guard bytes around it.
	void FillRegion(uint8_t byte);
	std::vector<uint8_t> SnapshotRegion() const;
	bool RegionEquals(const std::vector<uint8_t> &snapshot) const;
	// Bytes of the region no element covers still hold byte.
	::testing::AssertionResult UntouchedOutside(uint8_t byte) const;
	// Every byte of an output's region, elements included, still holds
	// kOutputFill: nothing wrote it.
	::testing::AssertionResult RegionUnwritten() const;
	// Host pointer to element [0, ..., 0] (bulk access to contiguous data).
	uint8_t *host_base() const { return base_host_; }
	uint64_t region_addr() const { return region_addr_; }
	uint64_t region_bytes() const { return region_bytes_; }

private:
	uint8_t *HostAt(int64_t offset) const { return base_host_ + offset; }
	uint8_t *region_host_ = nullptr;
	uint64_t region_addr_ = 0, region_bytes_ = 0;
	uint8_t *base_host_ = nullptr; // element [0, ..., 0]
};

// A descriptor for a tensor that is not there (optional operands).
inline npu_tensor Absent()
{
	return npu_tensor{};
}

npu_act Act(uint32_t fn, float alpha = 0, float beta = 0);

// Packet builders: every MBZ field zero, neutral parameters (alpha 1,
// stride 1, ...), the header set. Tests adjust fields afterwards.
npu_pkt_gemm GemmPacket(const DevTensor &a, const DevTensor &b, const DevTensor *c,
			const DevTensor &y);
npu_pkt_conv ConvPacket(const DevTensor &x, const DevTensor &w, const DevTensor *bias,
			const DevTensor &y);
npu_pkt_pool PoolPacket(uint32_t mode, const std::vector<uint32_t> &kernel, const DevTensor &x,
			const DevTensor &y);
npu_pkt_unary UnaryPacket(npu_act act, const DevTensor &x, const DevTensor &y);
npu_pkt_binary BinaryPacket(uint32_t fn, const DevTensor &a, const DevTensor &b, const DevTensor &y,
			    const DevTensor *cond = nullptr);
npu_pkt_reduce ReducePacket(uint32_t fn, uint32_t axes, const DevTensor &x, const DevTensor &y);
npu_pkt_norm NormPacket(uint32_t fn, uint32_t axes, const DevTensor &x, const DevTensor &y);
npu_pkt_tensor_copy TensorCopyPacket(uint32_t mode, const DevTensor &x, const DevTensor &y);
npu_pkt_gather GatherPacket(uint32_t mode, uint32_t axis, const DevTensor &x,
			    const DevTensor &indices, const DevTensor &y);
npu_pkt_cast CastPacket(const DevTensor &x, const DevTensor &y);

// Appends any packet struct; returns its byte offset in the buffer.
template <typename Pkt> uint32_t Emit(Commands &cmds, const Pkt &pkt)
{
	static_assert(sizeof(Pkt) % 8 == 0);
	std::vector<uint32_t> words(sizeof(Pkt) / 4);
	std::memcpy(words.data(), &pkt, sizeof(Pkt));
	uint32_t header = words.front();
	words.erase(words.begin());
	return cmds.Raw(header, words);
}

// An input tensor: on the device and as the host saw it after writing.
struct Operand {
	DevTensor dev;
	HostTensor host;
};

// The fixture of npu_vm_ops_tests: one context (NpuTest), an arena its
// jobs list, a random generator seeded from the test's name, and checks
// that every job left inputs and the memory around outputs untouched.
class OpsTest : public NpuTest
{
protected:
	void SetUp() override;

	Arena &arena() { return *arena_; }
	Rng &rng() { return rng_; }

	// Random values in [lo, hi] (rounded to dtype) in a fresh tensor; its
	// gaps hold poison so reading one shows in the result.
	Operand Input(uint32_t dtype, const Shape &shape, double lo, double hi,
		      const Layout &layout = {});
	Operand InputFrom(const HostTensor &values, const Layout &layout = {});
	// A fresh output, storage and guards filled with kOutputFill.
	DevTensor Output(uint32_t dtype, const Shape &shape, const Layout &layout = {});

	// Submits cmds on queue 0 with the arena's BOs and waits.
	WaitResult Run(const Commands &cmds, int64_t timeout_ms = 20000);
	// Run that must end OK; then checks every input is unchanged and no
	// output's guard or gap byte was written. False (with failures
	// recorded) otherwise.
	bool RunOk(const Commands &cmds, int64_t timeout_ms = 20000);
	// Reads y and compares it with the reference.
	void ExpectResult(const DevTensor &y, const Expected &want, Tolerance tol,
			  const std::string &what);
	// The same, deferred to the next RunAndCheck (a job of many packets).
	void ExpectAfterRun(const DevTensor &y, Expected want, Tolerance tol, std::string what);
	// RunOk, then every deferred comparison (dropped either way).
	bool RunAndCheck(const Commands &cmds, int64_t timeout_ms = 20000);

	// Every tensor made by Input/Output, for the checks after a job.
	void ExpectBuffersIntact();

	// The firmware log (debugfs fw_log of this session's device); false
	// without debugfs.
	bool ReadFirmwareLog(std::string *log);
	// Its last lines, for failure messages.
	std::string FirmwareLogTail(int lines = 4);

private:
	std::unique_ptr<Arena> arena_;
	Rng rng_{0};
	struct Tracked {
		DevTensor tensor;
		std::vector<uint8_t> snapshot; // inputs only
	};
	std::vector<Tracked> inputs_, outputs_;
	struct Deferred {
		DevTensor y;
		Expected want;
		Tolerance tol;
		std::string what;
	};
	std::vector<Deferred> deferred_;
};

} // namespace npu_test::ops
