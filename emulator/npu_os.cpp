// SPDX-License-Identifier: MIT
#include "npu_os.h"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace npu::emu
{

namespace
{

[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

UniqueFd listen_unix_socket(const std::string &path)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(addr.sun_path))
		throw std::system_error(ENAMETOOLONG, std::generic_category(),
					"bad socket path '" + path + "'");
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

	struct stat st {
	};
	if (lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			throw std::system_error(EEXIST, std::generic_category(),
						path + " exists and is not a socket");
		unlink(path.c_str());
	}
	UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		throw_errno("socket");
	if (bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
		throw_errno("cannot bind " + path);
	if (listen(fd.get(), 4) < 0) {
		int err = errno;
		unlink(path.c_str());
		throw std::system_error(err, std::generic_category(), "listen " + path);
	}
	return fd;
}

UniqueFd &UniqueFd::operator=(UniqueFd &&o) noexcept
{
	if (this != &o)
		reset(std::exchange(o.fd_, -1));
	return *this;
}

void UniqueFd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

SharedMemory::SharedMemory(const std::string &name, std::size_t size)
    : fd_(memfd_create(name.c_str(), MFD_CLOEXEC)), size_(size)
{
	if (!fd_)
		throw_errno("memfd_create " + name);
	if (ftruncate(fd_.get(), static_cast<off_t>(size)) < 0)
		throw_errno("ftruncate " + name);
	void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (p == MAP_FAILED)
		throw_errno("mmap " + name);
	base_ = static_cast<std::uint8_t *>(p);
}

SharedMemory::~SharedMemory()
{
	munmap(base_, size_);
}

MappedFile::MappedFile(const std::string &path)
{
	UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
	if (!fd)
		throw_errno("cannot open RAM file " + path);
	struct stat st {
	};
	if (fstat(fd.get(), &st) < 0)
		throw_errno("cannot stat RAM file " + path);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		throw std::system_error(EINVAL, std::generic_category(),
					"RAM file " + path + " is not a non-empty regular file");
	size_ = static_cast<std::size_t>(st.st_size);
	void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
	if (p == MAP_FAILED)
		throw_errno("cannot map RAM file " + path);
	base_ = static_cast<std::uint8_t *>(p);
}

MappedFile::~MappedFile()
{
	munmap(base_, size_);
}

} // namespace npu::emu
