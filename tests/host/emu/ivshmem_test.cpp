// SPDX-License-Identifier: MIT
// The ivshmem-server protocol as QEMU sees it, with a fake client.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_host.h"
#include "npu_ivshmem.h"
#include "npu_os.h"

namespace npu::emu::test
{
namespace
{

struct Message {
	std::int64_t value;
	UniqueFd fd;
};

Message receive(int sock)
{
	Message m{0, UniqueFd()};
	iovec iov{&m.value, sizeof(m.value)};
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n != sizeof(m.value))
		throw std::runtime_error("short message");
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fd;
			std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			m.fd.reset(fd);
		}
	}
	return m;
}

UniqueFd connect_to(const std::string &path)
{
	UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
	if (connect(s.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
		throw std::system_error(errno, std::generic_category(), "connect");
	return s;
}

bool readable(int fd, int timeout_ms)
{
	pollfd p{fd, POLLIN, 0};
	return poll(&p, 1, timeout_ms) == 1;
}

// What QEMU learns on connect.
struct Session {
	UniqueFd sock;
	UniqueFd shm;
	std::array<UniqueFd, NPU_IVSHMEM_VECTORS> doorbell; // peer 0's
	std::array<UniqueFd, NPU_IVSHMEM_VECTORS> irq;	    // our own

	explicit Session(const std::string &path) : sock(connect_to(path))
	{
		EXPECT_EQ(receive(sock.get()).value, 0); // protocol version
		EXPECT_EQ(receive(sock.get()).value, kClientPeerId);
		Message shm_msg = receive(sock.get());
		EXPECT_EQ(shm_msg.value, -1);
		shm = std::move(shm_msg.fd);
		for (auto &fd : doorbell) {
			Message m = receive(sock.get());
			EXPECT_EQ(m.value, kEmulatorPeerId);
			fd = std::move(m.fd);
		}
		for (auto &fd : irq) {
			Message m = receive(sock.get());
			EXPECT_EQ(m.value, kClientPeerId);
			fd = std::move(m.fd);
		}
	}
	void ring(unsigned vector)
	{
		std::uint64_t one = 1;
		ASSERT_EQ(write(doorbell[vector].get(), &one, sizeof(one)), 8);
	}
};

class Ivshmem : public ::testing::Test
{
protected:
	std::string path_ = (std::filesystem::temp_directory_path() /
			     ("npu-emu-test-" + std::to_string(getpid()) + ".sock"))
				    .string();
	AnonMemory ram_{1 << 20};
	SharedMemory bar2_{"test-bar2", NPU_BAR2_MIN_SIZE};
	std::unique_ptr<IvshmemServer> server_ =
		std::make_unique<IvshmemServer>("npu-test", path_, bar2_.fd());
	NpuDevice device_{DeviceConfig{}, bar2_.region(), ram_.region(),
			  [this](unsigned v) { server_->raise_irq(v); }};

	void SetUp() override { server_->start(device_); }
	void TearDown() override
	{
		if (server_)
			server_->stop();
	}
};

TEST_F(Ivshmem, HandshakeSharesBar2AndDoorbellRaisesInterrupt)
{
	Session s(path_);
	ASSERT_TRUE(s.shm);
	void *p = mmap(nullptr, NPU_BAR2_MIN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s.shm.get(),
		       0);
	ASSERT_NE(p, MAP_FAILED);
	auto *regs = static_cast<npu_regs *>(p);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs->id), NPU_ID_MAGIC);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs->state), std::uint32_t{NPU_STATE_ROM});

	// BOOT with an empty firmware region: the ROM refuses it and says so
	// on MSI-X vector 0.
	shared_store<std::uint32_t>(&regs->ctrl, NPU_CTRL_BOOT);
	s.ring(NPU_DB_CTRL);
	ASSERT_TRUE(readable(s.irq[NPU_IRQ_CTRL].get(), 5000));
	std::uint64_t count = 0;
	EXPECT_EQ(read(s.irq[NPU_IRQ_CTRL].get(), &count, sizeof(count)), 8);
	EXPECT_EQ(count, 1u);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs->state), std::uint32_t{NPU_STATE_BOOT_FAILED});
	EXPECT_EQ(shared_load<std::uint32_t>(&regs->boot_status),
		  std::uint32_t{NPU_BOOT_BAD_MAGIC});
	EXPECT_FALSE(readable(s.irq[NPU_IRQ_JOB].get(), 0));
	munmap(p, NPU_BAR2_MIN_SIZE);
}

TEST_F(Ivshmem, SecondClientIsRefusedAndReconnectResetsDevice)
{
	auto *regs = reinterpret_cast<npu_regs *>(bar2_.region().base);
	{
		Session first(path_);
		shared_store<std::uint32_t>(&regs->ctrl, NPU_CTRL_BOOT);
		first.ring(NPU_DB_CTRL);
		ASSERT_TRUE(readable(first.irq[NPU_IRQ_CTRL].get(), 5000));
		EXPECT_EQ(shared_load<std::uint32_t>(&regs->state),
			  std::uint32_t{NPU_STATE_BOOT_FAILED});

		UniqueFd second = connect_to(path_);
		char c;
		EXPECT_TRUE(readable(second.get(), 5000));
		EXPECT_EQ(read(second.get(), &c, 1), 0); // closed without greeting
	}
	// The VM went away: the device is back in ROM state for the next one.
	Session again(path_);
	EXPECT_EQ(shared_load<std::uint32_t>(&regs->state), std::uint32_t{NPU_STATE_ROM});
	shared_store<std::uint32_t>(&regs->ctrl, NPU_CTRL_RESET);
	again.ring(NPU_DB_CTRL);
	EXPECT_TRUE(readable(again.irq[NPU_IRQ_CTRL].get(), 5000));
}

TEST_F(Ivshmem, MmuDoorbellCompletesTheInvalidateAndADisconnectClearsIt)
{
	auto *regs = reinterpret_cast<npu_regs *>(bar2_.region().base);
	auto done_reaches = [&](std::uint64_t seq) {
		for (int i = 0; i < 5000; i++) {
			if (shared_load<std::uint64_t>(&regs->mmu_inval_done) == seq)
				return true;
			usleep(1000);
		}
		return false;
	};
	{
		Session s(path_);
		shared_store<std::uint64_t>(&regs->mmu_inval_req, 5);
		s.ring(NPU_DB_MMU);
		EXPECT_TRUE(done_reaches(5));
		EXPECT_FALSE(readable(s.irq[NPU_IRQ_CTRL].get(), 0)) << "no interrupt for it";
	}
	// a power cycle for the next VM: both back to 0
	Session again(path_);
	EXPECT_EQ(shared_load<std::uint64_t>(&regs->mmu_inval_req), 0u);
	EXPECT_EQ(shared_load<std::uint64_t>(&regs->mmu_inval_done), 0u);
	EXPECT_EQ(device_.mmu_invalidations(), 1u);
}

// NPU_DB_QUEUE and NPU_DB_PING go straight to the control core, which polls
// their eventfds in WFE (not through the server thread): a ping rung on its
// eventfd is answered, and still is by the firmware the next client boots
// with its own, new eventfds.
TEST_F(Ivshmem, PingDoorbellEventfdWakesTheFirmwareAcrossAReconnect)
{
	auto *regs = reinterpret_cast<npu_regs *>(bar2_.region().base);
	const std::vector<std::uint8_t> image = real_firmware();
	for (int client = 0; client < 2; client++) {
		Session s(path_);
		shared_copy(bar2_.region().base + NPU_FW_OFFSET, image.data(), image.size());
		auto *params =
			reinterpret_cast<npu_boot_params *>(bar2_.region().base + NPU_MBOX_OFFSET);
		shared_store<std::uint32_t>(&params->heartbeat_ms, 20);
		shared_store<std::uint32_t>(&regs->ctrl, NPU_CTRL_BOOT);
		s.ring(NPU_DB_CTRL);
		ASSERT_TRUE(readable(s.irq[NPU_IRQ_CTRL].get(), 10000)) << "client " << client;
		ASSERT_EQ(shared_load<std::uint32_t>(&regs->state), std::uint32_t{NPU_STATE_READY});
		for (std::uint64_t round = 1; round <= 3; round++) {
			shared_store<std::uint64_t>(&regs->ping_req, round);
			s.ring(NPU_DB_PING);
			ASSERT_TRUE(readable(s.irq[NPU_IRQ_PING].get(), 10000))
				<< "client " << client << " round " << round;
			std::uint64_t count = 0;
			EXPECT_EQ(read(s.irq[NPU_IRQ_PING].get(), &count, sizeof(count)), 8);
			EXPECT_EQ(shared_load<std::uint64_t>(&regs->ping_ack), round);
		}
	}
}

TEST_F(Ivshmem, StopRemovesTheSocket)
{
	EXPECT_TRUE(std::filesystem::exists(path_));
	server_->stop();
	server_.reset();
	EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST(IvshmemPath, MissingDirectoryIsAnError)
{
	SharedMemory bar2("test-bar2", NPU_BAR2_MIN_SIZE);
	EXPECT_THROW(IvshmemServer("npu-test", "/nonexistent-dir/npu.sock", bar2.fd()),
		     std::system_error);
}

} // namespace
} // namespace npu::emu::test
