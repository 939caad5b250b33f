// SPDX-License-Identifier: MIT
// The control socket: line protocol, request tags, several clients.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_host.h"
#include "npu_control.h"
#include "npu_os.h"

namespace npu::emu::test
{
namespace
{

class ControlSocket : public ::testing::Test
{
protected:
	void SetUp() override
	{
		path_ = (std::filesystem::temp_directory_path() /
			 ("npu-ctl-test-" + std::to_string(getpid()) + ".sock"))
				.string();
		server_ = std::make_unique<ControlServer>(
			path_, std::vector<NpuDevice *>{&host_.device()});
	}

	UniqueFd connect_client()
	{
		UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
		if (connect(s.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
			throw std::system_error(errno, std::generic_category(), "connect");
		return s;
	}

	// Sends text and reads until a line starting with last_prefix arrived.
	static std::string ask(int fd, const std::string &text, const std::string &last_prefix)
	{
		EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
		std::string got;
		for (;;) {
			pollfd p{fd, POLLIN, 0};
			if (poll(&p, 1, 5000) <= 0)
				return got + "<timeout>";
			char buf[256];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return got + "<eof>";
			got.append(buf, n);
			std::size_t start = got.rfind('\n', got.size() - 2);
			start = start == std::string::npos ? 0 : start + 1;
			if (got.back() == '\n' &&
			    got.compare(start, last_prefix.size(), last_prefix) == 0)
				return got;
		}
	}

	FakeHost host_;
	std::string path_;
	std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlSocket, StatusAndInjectOverTheSocket)
{
	UniqueFd c = connect_client();
	std::string reply = ask(c.get(), "status\n", "ok");
	EXPECT_EQ(reply.rfind("npu-test serial=0x5e5a1 state=ROM", 0), 0u) << reply;
	EXPECT_EQ(ask(c.get(), "inject npu-test crash-firmware\n", "error"),
		  "error firmware not running\n");
	EXPECT_EQ(ask(c.get(), "inject npu-test hang-engine\r\n", "ok"), "ok\n");
	EXPECT_NE(host_.device().status().find("armed=hang-engine"), std::string::npos);
}

TEST_F(ControlSocket, TagsPrefixEveryReplyLine)
{
	UniqueFd c = connect_client();
	std::string reply = ask(c.get(), "@t42 status\n", "@t42 ok");
	EXPECT_EQ(reply.rfind("@t42 npu-test serial=", 0), 0u) << reply;
	EXPECT_EQ(ask(c.get(), "@x bogus\n", "@x error"), "@x error unknown command 'bogus'\n");
}

TEST_F(ControlSocket, ServesSeveralClientsAndSurvivesHangups)
{
	UniqueFd a = connect_client();
	UniqueFd b = connect_client();
	EXPECT_EQ(ask(b.get(), "inject npu-test drop-interrupt\n", "ok"), "ok\n");
	b.reset();
	{
		UniqueFd half = connect_client();
		ASSERT_EQ(write(half.get(), "stat", 4), 4); // hangs up mid-line
	}
	EXPECT_EQ(ask(a.get(), "inject npu-test stop-heartbeat\n", "error"),
		  "error firmware not running\n");
}

} // namespace
} // namespace npu::emu::test
