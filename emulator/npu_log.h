// SPDX-License-Identifier: MIT
// Emulator log: one timestamped line per message, tagged with the source
// (device name or "npu-emu"). Thread-safe: a mutex serialises whole lines.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace npu::emu
{

class Logger
{
public:
	// Writes to stderr until open() names a file.
	static Logger &instance();

	// Appends to path; throws std::system_error if it cannot be opened.
	void open(const std::string &path);
	void write(std::string_view source, std::string_view text);

	template <typename... Args>
	void log(std::string_view source, fmt::format_string<Args...> f, Args &&...args)
	{
		write(source, fmt::format(f, std::forward<Args>(args)...));
	}

	~Logger();

private:
	Logger() = default;
	std::mutex mutex_; // protects file_ and the output stream
	std::FILE *file_ = nullptr;
};

template <typename... Args>
void log(std::string_view source, fmt::format_string<Args...> f, Args &&...args)
{
	Logger::instance().log(source, f, std::forward<Args>(args)...);
}

} // namespace npu::emu
