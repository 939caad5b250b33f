// SPDX-License-Identifier: MIT
// RAII owners of the OS resources the emulator process holds: file
// descriptors, the BAR2 memfd and the guest RAM file mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "npu_shared_mem.h"

namespace npu::emu
{

class UniqueFd
{
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	UniqueFd(UniqueFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	UniqueFd &operator=(UniqueFd &&o) noexcept;
	~UniqueFd() { reset(); }
	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	void reset(int fd = -1);

private:
	int fd_ = -1;
};

// A listening unix stream socket at path, replacing a stale socket file
// there (but never another kind of file). Throws system_error.
UniqueFd listen_unix_socket(const std::string &path);

// Anonymous shared memory (memfd) mapped into this process; the fd is
// what the ivshmem client maps as BAR2.
class SharedMemory
{
public:
	SharedMemory(const std::string &name, std::size_t size); // throws system_error
	~SharedMemory();
	SharedMemory(const SharedMemory &) = delete;
	SharedMemory &operator=(const SharedMemory &) = delete;
	int fd() const { return fd_.get(); }
	MemRegion region() const { return {base_, size_}; }

private:
	UniqueFd fd_;
	std::uint8_t *base_ = nullptr;
	std::size_t size_ = 0;
};

// The guest RAM backing file, mapped shared: guest physical == offset.
class MappedFile
{
public:
	explicit MappedFile(const std::string &path); // throws system_error
	~MappedFile();
	MappedFile(const MappedFile &) = delete;
	MappedFile &operator=(const MappedFile &) = delete;
	MemRegion region() const { return {base_, size_}; }

private:
	std::uint8_t *base_ = nullptr;
	std::size_t size_ = 0;
};

} // namespace npu::emu
