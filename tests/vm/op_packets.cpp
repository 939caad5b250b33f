#include "op_packets.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace npu_test::ops
{

Layout Transposed(unsigned rank)
{
	Layout l;
	l.order.resize(rank);
	std::iota(l.order.begin(), l.order.end(), 0u);
	if (rank >= 2)
		std::swap(l.order[rank - 1], l.order[rank - 2]);
	return l;
}

Layout ChannelsLast(unsigned rank)
{
	Layout l;
	l.order.push_back(0);
	for (unsigned d = 2; d < rank; d++)
		l.order.push_back(d);
	l.order.push_back(1);
	return l;
}

// ---- Arena -----------------------------------------------------------------

Arena::Arena(const Device &dev, uint32_t bo_flags, uint64_t chunk_bytes)
    : dev_(dev), flags_(bo_flags), chunk_(chunk_bytes)
{
}

Arena::Block Arena::Reserve(uint64_t bytes, uint64_t align)
{
	uint64_t at = (used_ + align - 1) / align * align;
	if (bos_.empty() || at + bytes > bos_.back()->size()) {
		uint64_t size = std::max(chunk_, (bytes + kPageSize - 1) / kPageSize * kPageSize);
		bos_.push_back(std::make_unique<Bo>(dev_, size, flags_));
		at = 0;
	}
	used_ = at + bytes;
	Bo &bo = *bos_.back();
	return {bo.addr() + at, bo.map() + at};
}

std::vector<uint32_t> Arena::handles() const
{
	std::vector<uint32_t> h;
	for (const auto &bo : bos_)
		h.push_back(bo->handle());
	return h;
}

uint64_t Arena::end_addr() const
{
	uint64_t end = 0;
	for (const auto &bo : bos_)
		end = std::max(end, bo->addr() + bo->size());
	return end;
}

// ---- DevTensor -------------------------------------------------------------

DevTensor::DevTensor(Arena &arena, uint32_t dtype, const Shape &shape, const Layout &layout)
{
	const unsigned rank = unsigned(shape.size());
	const uint64_t esize = DtypeSize(dtype);
	if (rank > NPU_MAX_RANK || esize == 0)
		throw std::invalid_argument("DevTensor: bad rank or dtype");
	std::vector<unsigned> order = layout.order;
	if (order.empty()) {
		order.resize(rank);
		std::iota(order.begin(), order.end(), 0u);
	}
	auto step = [&](unsigned d) {
		return d < layout.step.size() && layout.step[d] ? layout.step[d] : 1u;
	};
	auto broadcast = [&](unsigned d) { return (layout.broadcast >> d) & 1; };
	// Storage extents and row-major strides in the storage order.
	std::vector<uint64_t> extent(rank), sstride(rank);
	for (unsigned d = 0; d < rank; d++)
		extent[d] = broadcast(d) || shape[d] == 0 ? 1 : (shape[d] - 1) * step(d) + 1;
	uint64_t storage = 1;
	for (unsigned k = rank; k-- > 0;) {
		sstride[order[k]] = storage;
		storage *= extent[order[k]];
	}
	uint64_t first = 0; // storage element of logical [0, ..., 0]
	desc.dtype = dtype;
	desc.rank = rank;
	for (unsigned d = 0; d < rank; d++) {
		desc.shape[d] = uint32_t(shape[d]);
		if (broadcast(d))
			continue;
		auto s = int64_t(step(d) * sstride[d]);
		bool reversed = (layout.reversed >> d) & 1;
		desc.stride[d] = reversed ? -s : s;
		if (reversed && shape[d] > 0)
			first += (shape[d] - 1) * uint64_t(s);
	}
	region_bytes_ = storage * esize + 2 * kGuardBytes;
	Arena::Block block = arena.Reserve(region_bytes_, std::max<uint64_t>(64, esize));
	region_addr_ = block.addr;
	region_host_ = block.host;
	desc.addr = region_addr_ + kGuardBytes + first * esize;
	base_host_ = region_host_ + kGuardBytes + first * esize;
}

std::vector<int64_t> DevTensor::ElementOffsets() const
{
	Shape s = shape();
	uint64_t n = ElementCount(s);
	std::vector<int64_t> offsets;
	offsets.reserve(n);
	if (n == 0)
		return offsets;
	const auto esize = int64_t(DtypeSize(desc.dtype));
	uint64_t index[NPU_MAX_RANK] = {};
	int64_t off = 0;
	for (uint64_t i = 0; i < n; i++) {
		offsets.push_back(off);
		// odometer: advance the innermost dimension, carrying outwards
		for (size_t d = s.size(); d-- > 0;) {
			if (++index[d] < s[d]) {
				off += desc.stride[d] * esize;
				break;
			}
			off -= int64_t(index[d] - 1) * desc.stride[d] * esize;
			index[d] = 0;
		}
	}
	return offsets;
}

namespace
{

void Encode(uint32_t dtype, const HostTensor &t, uint64_t i, uint8_t *p)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		auto f = static_cast<float>(t.Real(i));
		std::memcpy(p, &f, 4);
		break;
	}
	case NPU_DTYPE_F16: {
		uint16_t h = EncodeF16(t.Real(i));
		std::memcpy(p, &h, 2);
		break;
	}
	case NPU_DTYPE_BF16: {
		uint16_t b = EncodeBF16(t.Real(i));
		std::memcpy(p, &b, 2);
		break;
	}
	case NPU_DTYPE_I8:
	case NPU_DTYPE_U8:
		*p = uint8_t(t.Int(i));
		break;
	case NPU_DTYPE_BOOL:
		*p = t.Int(i) != 0;
		break;
	case NPU_DTYPE_I32: {
		auto v = int32_t(t.Int(i));
		std::memcpy(p, &v, 4);
		break;
	}
	case NPU_DTYPE_I64: {
		int64_t v = t.Int(i);
		std::memcpy(p, &v, 8);
		break;
	}
	}
}

void Decode(uint32_t dtype, const uint8_t *p, HostTensor &t, uint64_t i)
{
	switch (dtype) {
	case NPU_DTYPE_F32: {
		float f;
		std::memcpy(&f, p, 4);
		t.real[i] = f;
		break;
	}
	case NPU_DTYPE_F16:
	case NPU_DTYPE_BF16: {
		uint16_t h;
		std::memcpy(&h, p, 2);
		t.real[i] = dtype == NPU_DTYPE_F16 ? DecodeF16(h) : DecodeBF16(h);
		break;
	}
	case NPU_DTYPE_I8:
		t.ints[i] = int8_t(*p);
		break;
	case NPU_DTYPE_U8:
	case NPU_DTYPE_BOOL: // the raw byte: a true other than 1 is wrong
		t.ints[i] = *p;
		break;
	case NPU_DTYPE_I32: {
		int32_t v;
		std::memcpy(&v, p, 4);
		t.ints[i] = v;
		break;
	}
	case NPU_DTYPE_I64: {
		int64_t v;
		std::memcpy(&v, p, 8);
		t.ints[i] = v;
		break;
	}
	}
}

} // namespace

void DevTensor::Write(const HostTensor &t)
{
	if (t.shape != shape())
		throw std::invalid_argument("DevTensor::Write: shape " + ShapeString(t.shape) +
					    " into " + ShapeString(shape()));
	auto offsets = ElementOffsets();
	for (uint64_t i = 0; i < offsets.size(); i++)
		Encode(desc.dtype, t, i, HostAt(offsets[i]));
}

HostTensor DevTensor::Read() const
{
	HostTensor t(desc.dtype, shape());
	auto offsets = ElementOffsets();
	for (uint64_t i = 0; i < offsets.size(); i++)
		Decode(desc.dtype, HostAt(offsets[i]), t, i);
	return t;
}

void DevTensor::FillRegion(uint8_t byte)
{
	std::memset(region_host_, byte, region_bytes_);
}

std::vector<uint8_t> DevTensor::SnapshotRegion() const
{
	return std::vector<uint8_t>(region_host_, region_host_ + region_bytes_);
}

bool DevTensor::RegionEquals(const std::vector<uint8_t> &snapshot) const
{
	return snapshot.size() == region_bytes_ &&
	       std::memcmp(snapshot.data(), region_host_, region_bytes_) == 0;
}

::testing::AssertionResult DevTensor::UntouchedOutside(uint8_t byte) const
{
	std::vector<bool> covered(region_bytes_);
	const uint64_t esize = DtypeSize(desc.dtype);
	const int64_t base = base_host_ - region_host_;
	for (int64_t off : ElementOffsets())
		for (uint64_t b = 0; b < esize; b++)
			covered[uint64_t(base + off) + b] = true;
	uint64_t bad = 0;
	std::ostringstream report;
	for (uint64_t i = 0; i < region_bytes_; i++) {
		if (covered[i] || region_host_[i] == byte)
			continue;
		if (bad++ < 8)
			report << "\n  byte at device address 0x" << std::hex << region_addr_ + i
			       << " (region offset " << std::dec << i << ") is 0x" << std::hex
			       << unsigned(region_host_[i]) << std::dec;
	}
	if (bad == 0)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << bad << " bytes outside the elements of " << DtypeName(desc.dtype)
	       << ShapeString(shape()) << " at 0x" << std::hex << desc.addr << std::dec
	       << " were written (guards " << kGuardBytes << " bytes each side, and the gaps "
	       << "its strides leave):" << report.str();
}

::testing::AssertionResult DevTensor::RegionUnwritten() const
{
	for (uint64_t i = 0; i < region_bytes_; i++)
		if (region_host_[i] != kOutputFill)
			return ::testing::AssertionFailure()
			       << "the output " << DtypeName(desc.dtype) << ShapeString(shape())
			       << " at 0x" << std::hex << desc.addr << " was written: byte at 0x"
			       << region_addr_ + i << " is 0x" << unsigned(region_host_[i]);
	return ::testing::AssertionSuccess();
}

// ---- packets -----------------------------------------------------------------

npu_act Act(uint32_t fn, float alpha, float beta)
{
	return npu_act{fn, F32Bits(alpha), F32Bits(beta), 0};
}

npu_pkt_gemm GemmPacket(const DevTensor &a, const DevTensor &b, const DevTensor *c,
			const DevTensor &y)
{
	npu_pkt_gemm p{};
	p.header = NPU_PKT_HEADER(NPU_OP_GEMM, NPU_PKT_GEMM_DWORDS);
	p.alpha = F32Bits(1.0f);
	p.beta = F32Bits(1.0f); // unused without c, but integer results need 1
	p.a = a.desc;
	p.b = b.desc;
	p.c = c ? c->desc : Absent();
	p.y = y.desc;
	return p;
}

npu_pkt_conv ConvPacket(const DevTensor &x, const DevTensor &w, const DevTensor *bias,
			const DevTensor &y)
{
	npu_pkt_conv p{};
	p.header = NPU_PKT_HEADER(NPU_OP_CONV, NPU_PKT_CONV_DWORDS);
	p.groups = 1;
	p.spatial = x.desc.rank - 2;
	for (uint32_t d = 0; d < p.spatial && d < 3; d++)
		p.stride[d] = p.dilation[d] = 1;
	p.x = x.desc;
	p.w = w.desc;
	p.bias = bias ? bias->desc : Absent();
	p.y = y.desc;
	return p;
}

npu_pkt_pool PoolPacket(uint32_t mode, const std::vector<uint32_t> &kernel, const DevTensor &x,
			const DevTensor &y)
{
	npu_pkt_pool p{};
	p.header = NPU_PKT_HEADER(NPU_OP_POOL, NPU_PKT_POOL_DWORDS);
	p.mode = mode;
	p.spatial = x.desc.rank - 2;
	for (uint32_t d = 0; d < p.spatial && d < 3; d++) {
		p.kernel[d] = d < kernel.size() ? kernel[d] : 1;
		p.stride[d] = p.dilation[d] = 1;
	}
	if (mode == NPU_POOL_LP)
		p.p = 2;
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_unary UnaryPacket(npu_act act, const DevTensor &x, const DevTensor &y)
{
	npu_pkt_unary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_UNARY, NPU_PKT_UNARY_DWORDS);
	p.act = act;
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_binary BinaryPacket(uint32_t fn, const DevTensor &a, const DevTensor &b, const DevTensor &y,
			    const DevTensor *cond)
{
	npu_pkt_binary p{};
	p.header = NPU_PKT_HEADER(NPU_OP_BINARY, NPU_PKT_BINARY_DWORDS);
	p.fn = fn;
	p.a = a.desc;
	p.b = b.desc;
	p.cond = cond ? cond->desc : Absent();
	p.y = y.desc;
	return p;
}

npu_pkt_reduce ReducePacket(uint32_t fn, uint32_t axes, const DevTensor &x, const DevTensor &y)
{
	npu_pkt_reduce p{};
	p.header = NPU_PKT_HEADER(NPU_OP_REDUCE, NPU_PKT_REDUCE_DWORDS);
	p.fn = fn;
	p.axes = axes;
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_norm NormPacket(uint32_t fn, uint32_t axes, const DevTensor &x, const DevTensor &y)
{
	npu_pkt_norm p{};
	p.header = NPU_PKT_HEADER(NPU_OP_NORM, NPU_PKT_NORM_DWORDS);
	p.fn = fn;
	p.axes = axes;
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_tensor_copy TensorCopyPacket(uint32_t mode, const DevTensor &x, const DevTensor &y)
{
	npu_pkt_tensor_copy p{};
	p.header = NPU_PKT_HEADER(NPU_OP_TENSOR_COPY, NPU_PKT_TENSOR_COPY_DWORDS);
	p.mode = mode;
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_gather GatherPacket(uint32_t mode, uint32_t axis, const DevTensor &x,
			    const DevTensor &indices, const DevTensor &y)
{
	npu_pkt_gather p{};
	p.header = NPU_PKT_HEADER(NPU_OP_GATHER, NPU_PKT_GATHER_DWORDS);
	p.mode = mode;
	p.axis = axis;
	p.x = x.desc;
	p.indices = indices.desc;
	p.y = y.desc;
	return p;
}

npu_pkt_cast CastPacket(const DevTensor &x, const DevTensor &y)
{
	npu_pkt_cast p{};
	p.header = NPU_PKT_HEADER(NPU_OP_CAST, NPU_PKT_CAST_DWORDS);
	p.x = x.desc;
	p.y = y.desc;
	return p;
}

// ---- fixture -------------------------------------------------------------------

void OpsTest::SetUp()
{
	NpuTest::SetUp();
	arena_ = std::make_unique<Arena>(s->dev());
	// A fixed seed per test: FNV-1a of its full name.
	const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
	std::string name = std::string(info->test_suite_name()) + "." + info->name();
	uint64_t seed = 0xcbf29ce484222325ull;
	for (char c : name)
		seed = (seed ^ uint8_t(c)) * 0x100000001b3ull;
	rng_ = Rng(seed);
}

Operand OpsTest::Input(uint32_t dtype, const Shape &shape, double lo, double hi,
		       const Layout &layout)
{
	return InputFrom(RandomTensor(dtype, shape, rng_, lo, hi), layout);
}

Operand OpsTest::InputFrom(const HostTensor &values, const Layout &layout)
{
	DevTensor t(*arena_, values.dtype, values.shape, layout);
	t.FillRegion(kInputPoison);
	t.Write(values);
	inputs_.push_back({t, t.SnapshotRegion()});
	return {t, t.Read()};
}

DevTensor OpsTest::Output(uint32_t dtype, const Shape &shape, const Layout &layout)
{
	DevTensor t(*arena_, dtype, shape, layout);
	t.FillRegion(kOutputFill);
	outputs_.push_back({t, {}});
	return t;
}

WaitResult OpsTest::Run(const Commands &cmds, int64_t timeout_ms)
{
	uint64_t seqno = s->Submit(cmds, UsingBos(arena_->handles()));
	return s->Wait(seqno, timeout_ms);
}

bool OpsTest::RunOk(const Commands &cmds, int64_t timeout_ms)
{
	WaitResult r = Run(cmds, timeout_ms);
	EXPECT_EQ(r.err, 0) << "WAIT: " << std::strerror(r.err);
	if (r.err)
		return false;
	EXPECT_JOB_STATUS(r.args.job_status, DRM_NPU_JOB_STATUS_OK)
		<< "err_offset " << r.args.err_offset << ", fault_addr 0x" << std::hex
		<< r.args.fault_addr << std::dec << "; firmware log:\n"
		<< (r.args.job_status != DRM_NPU_JOB_STATUS_OK ? FirmwareLogTail() : "");
	if (r.args.job_status != DRM_NPU_JOB_STATUS_OK)
		return false;
	ExpectBuffersIntact();
	return true;
}

void OpsTest::ExpectResult(const DevTensor &y, const Expected &want, Tolerance tol,
			   const std::string &what)
{
	EXPECT_TRUE(MatchesReference(y.Read(), want, tol)) << what;
}

void OpsTest::ExpectAfterRun(const DevTensor &y, Expected want, Tolerance tol, std::string what)
{
	deferred_.push_back({y, std::move(want), tol, std::move(what)});
}

bool OpsTest::RunAndCheck(const Commands &cmds, int64_t timeout_ms)
{
	std::vector<Deferred> checks = std::move(deferred_);
	deferred_.clear();
	if (!RunOk(cmds, timeout_ms))
		return false;
	for (const auto &c : checks)
		ExpectResult(c.y, c.want, c.tol, c.what);
	return true;
}

bool OpsTest::ReadFirmwareLog(std::string *log)
{
	for (const auto &node : FindNpuNodes()) {
		if (node.dev_path != s->dev().path())
			continue;
		std::ifstream in("/sys/kernel/debug/npu/" + node.pci_bdf + "/fw_log");
		if (!in)
			return false;
		std::ostringstream text;
		text << in.rdbuf();
		*log = text.str();
		return true;
	}
	return false;
}

std::string OpsTest::FirmwareLogTail(int lines)
{
	std::string log;
	if (!ReadFirmwareLog(&log))
		return "(no debugfs fw_log)";
	size_t at = log.size();
	for (int i = 0; i <= lines && at != std::string::npos && at > 0; i++)
		at = log.rfind('\n', at - 1);
	return at == std::string::npos ? log : log.substr(at + 1);
}

void OpsTest::ExpectBuffersIntact()
{
	for (const auto &in : inputs_)
		EXPECT_TRUE(in.tensor.RegionEquals(in.snapshot))
			<< "the device wrote into an input (" << DtypeName(in.tensor.dtype())
			<< ShapeString(in.tensor.shape()) << " at 0x" << std::hex
			<< in.tensor.desc.addr << ") or its guard bytes";
	for (const auto &out : outputs_)
		EXPECT_TRUE(out.tensor.UntouchedOutside(kOutputFill));
}

} // namespace npu_test::ops
