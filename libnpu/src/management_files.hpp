// Small readers for sysfs/proc/debugfs files used by the management API.
// Every reader returns std::nullopt (or an empty list) when the file is
// missing or unreadable: absent telemetry is normal, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace npu::mgmt::detail {

// Whole file, trailing whitespace removed.
std::optional<std::string> read_text(const std::string& path);
// First line parsed as an unsigned decimal (or 0x-prefixed hex if base 0).
std::optional<uint64_t> read_u64(const std::string& path, int base = 10);
std::optional<int64_t> read_i64(const std::string& path);
// The target of a symlink as stored.
std::optional<std::string> read_link(const std::string& path);
// The last component of a path ("a/b/c" -> "c").
std::string basename_of(const std::string& path);
// Entry names of a directory, sorted, without "." and "..".
std::vector<std::string> list_dir(const std::string& path);
// "a b  c" -> {"a", "b", "c"}
std::vector<std::string> split_words(const std::string& line);
// Each line of text split into its words (empty lines give empty lists).
std::vector<std::vector<std::string>> split_lines(const std::string& text);
// Non-empty and only decimal digits.
bool all_digits(std::string_view text);
// Writes text to an existing file (sysfs style); throws npu::Error.
void write_text(const std::string& path, const std::string& text);

} // namespace npu::mgmt::detail
