#include "npu_test.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace npu_test
{

namespace
{

[[noreturn]] void ThrowErrno(int err, const std::string &what)
{
	throw std::system_error(err, std::generic_category(), what);
}

// Appends the nodes of one sysfs class ("accel" or "drm") whose device's
// driver is npu; prefix selects render nodes in the drm class.
void ScanClass(const std::string &cls, const std::string &prefix, const std::string &dev_dir,
	       std::vector<NodeInfo> &out)
{
	std::error_code ec;
	fs::path dir = "/sys/class/" + cls;
	for (const auto &entry : fs::directory_iterator(dir, ec)) {
		std::string name = entry.path().filename();
		if (name.rfind(prefix, 0) != 0)
			continue;
		fs::path dev = entry.path() / "device";
		fs::path driver = fs::read_symlink(dev / "driver", ec);
		if (ec || driver.filename() != "npu")
			continue;
		fs::path pci = fs::canonical(dev, ec);
		if (ec)
			continue;
		out.push_back({dev_dir + name, pci.filename(), pci.string()});
	}
}

} // namespace

std::vector<NodeInfo> FindNpuNodes()
{
	std::vector<NodeInfo> nodes;
	ScanClass("accel", "accel", "/dev/accel/", nodes);
	ScanClass("drm", "renderD", "/dev/dri/", nodes);
	std::sort(nodes.begin(), nodes.end(),
		  [](const NodeInfo &a, const NodeInfo &b) { return a.pci_bdf < b.pci_bdf; });
	return nodes;
}

bool WaitForNodes(bool (*pred)(const std::vector<NodeInfo> &), int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	for (;;) {
		auto nodes = FindNpuNodes();
		// devtmpfs creates the node right after the sysfs entry.
		bool present = std::all_of(nodes.begin(), nodes.end(), [](const NodeInfo &n) {
			return access(n.dev_path.c_str(), F_OK) == 0;
		});
		if (present && pred(nodes))
			return true;
		if (MonotonicNs() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

bool Eventually(const std::function<bool()> &pred, int timeout_ms)
{
	int64_t deadline = DeadlineInMs(timeout_ms);
	while (!pred()) {
		if (MonotonicNs() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return true;
}

int64_t Counter(const std::string &pci_bdf, const std::string &name)
{
	std::ifstream in("/sys/kernel/debug/npu/" + pci_bdf + "/counters");
	std::string key;
	int64_t value;
	while (in >> key >> value)
		if (key == name)
			return value;
	ADD_FAILURE() << "no counter " << name;
	return -1;
}

Mapping::Mapping(const Bo &bo, int fd, void *at, int extra_flags) : size_(bo.size())
{
	ptr_ = mmap(at, size_, PROT_READ | PROT_WRITE, MAP_SHARED | extra_flags, fd,
		    static_cast<off_t>(bo.mmap_offset()));
	if (ptr_ == MAP_FAILED)
		throw std::system_error(errno, std::generic_category(), "mmap");
}

Mapping::~Mapping()
{
	munmap(ptr_, size_);
}

uint32_t CreateQueue(const Device &dev, uint32_t priority)
{
	drm_npu_queue_create args{};
	args.priority = priority;
	int err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_QUEUE_CREATE, &args);
	if (err)
		throw std::system_error(err, std::generic_category(), "QUEUE_CREATE");
	return args.queue_id;
}

int64_t MonotonicNs()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t ReadSysfsNumber(const std::string &path)
{
	std::ifstream in(path);
	std::string text;
	if (!(in >> text))
		throw std::runtime_error("cannot read " + path);
	return std::stoull(text, nullptr, 0);
}

int IoctlErrno(int fd, unsigned long request, void *arg)
{
	int ret;
	do {
		ret = ioctl(fd, request, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret == 0 ? 0 : errno;
}

// ---- Device --------------------------------------------------------------

Device::Device(const std::string &path) : path_(path)
{
	fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
	if (fd_ < 0)
		ThrowErrno(errno, "open " + path);
}

Device::~Device()
{
	Close();
}

void Device::Close()
{
	if (fd_ >= 0)
		close(fd_);
	fd_ = -1;
}

std::unique_ptr<Device> Device::OpenFirst()
{
	auto nodes = FindNpuNodes();
	if (nodes.empty())
		throw std::runtime_error("no npu device found (no /sys/class/accel or "
					 "/sys/class/drm/renderD* node bound to driver npu)");
	return std::make_unique<Device>(nodes.front().dev_path);
}

uint64_t Device::Param(uint32_t param) const
{
	drm_npu_get_param args{};
	args.param = param;
	int err = IoctlErrno(fd_, DRM_IOCTL_NPU_GET_PARAM, &args);
	if (err)
		ThrowErrno(err, "GET_PARAM " + std::to_string(param));
	return args.value;
}

// ---- Bo ------------------------------------------------------------------

Bo::Bo(const Device &dev, uint64_t size, uint32_t flags) : dev_(dev)
{
	drm_npu_bo_create create{};
	create.size = size;
	create.flags = flags;
	int err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_BO_CREATE, &create);
	if (err)
		ThrowErrno(err, "BO_CREATE size " + std::to_string(size));
	handle_ = create.handle;
	addr_ = create.device_addr;

	drm_npu_bo_info info{};
	info.handle = handle_;
	err = IoctlErrno(dev.fd(), DRM_IOCTL_NPU_BO_INFO, &info);
	if (err) {
		drm_gem_close close_args{handle_, 0};
		IoctlErrno(dev.fd(), DRM_IOCTL_GEM_CLOSE, &close_args);
		ThrowErrno(err, "BO_INFO");
	}
	size_ = info.size;
	mmap_offset_ = info.mmap_offset;
}

Bo::~Bo()
{
	if (map_)
		munmap(map_, size_);
	if (dev_.fd() >= 0) {
		drm_gem_close close_args{handle_, 0};
		IoctlErrno(dev_.fd(), DRM_IOCTL_GEM_CLOSE, &close_args);
	}
}

int Bo::Sync(uint64_t offset, uint64_t size, uint32_t flags)
{
	drm_npu_bo_sync args{};
	args.handle = handle_;
	args.flags = flags;
	args.offset = offset;
	args.size = size;
	return IoctlErrno(dev_.fd(), DRM_IOCTL_NPU_BO_SYNC, &args);
}

void Bo::SyncWord(uint64_t offset, uint64_t size, uint32_t flags)
{
	if (dev_.fd() < 0)
		return;
	int err = Sync(offset, size, flags);
	if (err && err != ENODEV)
		ADD_FAILURE() << "BO_SYNC offset " << offset << " size " << size << " flags "
			      << flags << ": " << strerror(err);
}

uint8_t *Bo::map()
{
	if (!map_) {
		void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, dev_.fd(),
			       static_cast<off_t>(mmap_offset_));
		if (p == MAP_FAILED)
			ThrowErrno(errno, "mmap BO");
		map_ = static_cast<uint8_t *>(p);
	}
	return map_;
}

// ---- Commands ------------------------------------------------------------

template <typename Pkt> uint32_t Commands::Append(const Pkt &pkt)
{
	static_assert(sizeof(Pkt) % 8 == 0);
	uint32_t offset = bytes();
	size_t at = words_.size();
	words_.resize(at + sizeof(Pkt) / 4);
	std::memcpy(&words_[at], &pkt, sizeof(Pkt));
	return offset;
}

uint32_t Commands::Nop(uint32_t dwords)
{
	uint32_t offset = bytes();
	words_.push_back(NPU_PKT_HEADER(NPU_OP_NOP, dwords));
	for (uint32_t i = 1; i < std::max<uint32_t>(dwords, 2); i++)
		words_.push_back(0);
	return offset;
}

uint32_t Commands::Fill(uint64_t dst, uint32_t value, uint64_t size)
{
	npu_pkt_fill p{NPU_PKT_HEADER(NPU_OP_FILL, NPU_PKT_FILL_DWORDS), value, dst, size};
	return Append(p);
}

uint32_t Commands::Copy(uint64_t src, uint64_t dst, uint64_t size)
{
	npu_pkt_copy p{NPU_PKT_HEADER(NPU_OP_COPY, NPU_PKT_COPY_DWORDS), 0, src, dst, size};
	return Append(p);
}

uint32_t Commands::Timestamp(uint64_t dst)
{
	npu_pkt_timestamp p{NPU_PKT_HEADER(NPU_OP_TIMESTAMP, NPU_PKT_TIMESTAMP_DWORDS), 0, dst};
	return Append(p);
}

uint32_t Commands::Fence(uint64_t dst, uint64_t value)
{
	npu_pkt_fence p{NPU_PKT_HEADER(NPU_OP_FENCE, NPU_PKT_FENCE_DWORDS), 0, dst, value};
	return Append(p);
}

uint32_t Commands::WaitMem(uint64_t addr, uint64_t value)
{
	npu_pkt_wait_mem p{NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS), 0, addr,
			   value};
	return Append(p);
}

uint32_t Commands::WaitMemGe(uint64_t addr, uint64_t value)
{
	npu_pkt_wait_mem p{NPU_PKT_HEADER(NPU_OP_WAIT_MEM, NPU_PKT_WAIT_MEM_DWORDS),
			   NPU_WAIT_MEM_GE, addr, value};
	return Append(p);
}

uint32_t Commands::WriteMem(uint64_t addr, uint64_t value, uint32_t flags)
{
	npu_pkt_write_mem p{NPU_PKT_HEADER(NPU_OP_WRITE_MEM, NPU_PKT_WRITE_MEM_DWORDS), flags, addr,
			    value};
	return Append(p);
}

uint32_t Commands::Call(uint64_t addr, uint64_t size)
{
	npu_pkt_call p{NPU_PKT_HEADER(NPU_OP_CALL, NPU_PKT_CALL_DWORDS), 0, addr, size};
	return Append(p);
}

uint32_t Commands::Raw(uint32_t header, const std::vector<uint32_t> &payload)
{
	uint32_t offset = bytes();
	words_.push_back(header);
	words_.insert(words_.end(), payload.begin(), payload.end());
	return offset;
}

// ---- Session -------------------------------------------------------------

Session::Session(std::unique_ptr<Device> dev) : dev_(std::move(dev))
{
	// read-only: jobs do not order each other through their command BO
	cmd_bo_ = std::make_unique<Bo>(*dev_, 1 << 20, DRM_NPU_BO_DEVICE_READ_ONLY);
	scratch_ = std::make_unique<Bo>(*dev_, kPageSize);
}

Session::Session() : Session(Device::OpenFirst()) {}

uint64_t Session::Stage(const Commands &cmds)
{
	uint64_t size = (cmds.bytes() + 7) & ~7ull;
	if (cmd_used_ + size > cmd_bo_->size())
		throw std::runtime_error("test command BO exhausted");
	std::memcpy(cmd_bo_->map() + cmd_used_, cmds.words().data(), cmds.bytes());
	uint64_t addr = cmd_bo_->addr() + cmd_used_;
	cmd_used_ += size;
	return addr;
}

uint64_t Session::Submit(const Commands &cmds, const SubmitOptions &opts)
{
	std::vector<uint32_t> bos{cmd_bo_->handle()};
	bos.insert(bos.end(), opts.extra_bos.begin(), opts.extra_bos.end());
	drm_npu_submit args{};
	args.cmd_addr = Stage(cmds);
	args.cmd_size = cmds.bytes();
	args.bo_handles = reinterpret_cast<uintptr_t>(bos.data());
	args.bo_count = static_cast<uint32_t>(bos.size());
	args.in_syncobjs = reinterpret_cast<uintptr_t>(opts.in_syncobjs.data());
	args.in_syncobj_count = static_cast<uint32_t>(opts.in_syncobjs.size());
	args.out_syncobj = opts.out_syncobj;
	args.queue_id = opts.queue_id;
	args.in_points =
		opts.in_points.empty() ? 0 : reinterpret_cast<uintptr_t>(opts.in_points.data());
	args.out_point = opts.out_point;
	args.flags = opts.flags;
	int err = IoctlErrno(dev_->fd(), DRM_IOCTL_NPU_SUBMIT, &args);
	if (err)
		ThrowErrno(err, "SUBMIT");
	return args.seqno;
}

int Session::SubmitRaw(drm_npu_submit &args)
{
	return IoctlErrno(dev_->fd(), DRM_IOCTL_NPU_SUBMIT, &args);
}

drm_npu_submit Session::ValidSubmitArgs()
{
	Commands cmds;
	cmds.Nop();
	handles_ = {cmd_bo_->handle()};
	drm_npu_submit args{};
	args.cmd_addr = Stage(cmds);
	args.cmd_size = cmds.bytes();
	args.bo_handles = reinterpret_cast<uintptr_t>(handles_.data());
	args.bo_count = 1;
	return args;
}

WaitResult Session::Wait(uint64_t seqno, int64_t timeout_ms, uint32_t queue_id)
{
	WaitResult r;
	r.args.seqno = seqno;
	r.args.timeout_ns = timeout_ms < 0 ? MonotonicNs() - 1000000 : DeadlineInMs(timeout_ms);
	r.args.queue_id = queue_id;
	// Not IoctlErrno: a restarted wait keeps its absolute deadline anyway,
	// but -ETIME must reach the caller as is.
	int ret;
	do {
		ret = ioctl(dev_->fd(), DRM_IOCTL_NPU_WAIT, &r.args);
	} while (ret == -1 && errno == EINTR);
	r.err = ret == 0 ? 0 : errno;
	return r;
}

uint32_t Session::WaitStatus(uint64_t seqno, int64_t timeout_ms, uint32_t queue_id)
{
	WaitResult r = Wait(seqno, timeout_ms, queue_id);
	EXPECT_EQ(r.err, 0) << "WAIT seqno " << seqno << " queue " << queue_id << ": "
			    << std::strerror(r.err);
	return r.err ? ~0u : r.args.job_status;
}

void Session::ExpectWorks()
{
	uint32_t value = ++probe_value_;
	Commands cmds;
	cmds.Fill(scratch_->addr(), value, 64);
	uint64_t seqno = Submit(cmds, UsingBos({scratch_->handle()}));
	EXPECT_JOB_STATUS(WaitStatus(seqno), DRM_NPU_JOB_STATUS_OK) << "device stopped working";
	EXPECT_EQ(scratch_->ReadU32(60), value) << "FILL did not reach memory";
}

void NpuTest::SetUp()
{
	s = std::make_unique<Session>();
}

std::string JobStatusName(uint32_t status)
{
	switch (status) {
	case DRM_NPU_JOB_STATUS_OK:
		return "OK";
	case DRM_NPU_JOB_STATUS_BAD_PACKET:
		return "BAD_PACKET";
	case DRM_NPU_JOB_STATUS_PAGE_FAULT:
		return "PAGE_FAULT";
	case DRM_NPU_JOB_STATUS_TIMEOUT:
		return "TIMEOUT";
	case DRM_NPU_JOB_STATUS_ABORTED:
		return "ABORTED";
	case DRM_NPU_JOB_STATUS_EXPIRED:
		return "EXPIRED";
	default:
		return "status " + std::to_string(status);
	}
}

} // namespace npu_test
