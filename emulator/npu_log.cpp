// SPDX-License-Identifier: MIT
#include "npu_log.h"

#include <cerrno>
#include <chrono>
#include <ctime>
#include <system_error>

namespace npu::emu
{

Logger &Logger::instance()
{
	static Logger logger;
	return logger;
}

Logger::~Logger()
{
	if (file_)
		std::fclose(file_);
}

void Logger::open(const std::string &path)
{
	std::FILE *f = std::fopen(path.c_str(), "a");
	if (!f)
		throw std::system_error(errno, std::generic_category(),
					"cannot open log file " + path);
	std::lock_guard lock(mutex_);
	if (file_)
		std::fclose(file_);
	file_ = f;
}

void Logger::write(std::string_view source, std::string_view text)
{
	using namespace std::chrono;
	auto now = system_clock::now();
	std::time_t secs = system_clock::to_time_t(now);
	auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
	std::tm tm{};
	localtime_r(&secs, &tm);
	char stamp[32];
	std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);

	std::string line = fmt::format("{}.{:03d} {}: {}\n", stamp, ms, source, text);
	std::lock_guard lock(mutex_);
	std::FILE *out = file_ ? file_ : stderr;
	std::fputs(line.c_str(), out);
	std::fflush(out);
}

} // namespace npu::emu
