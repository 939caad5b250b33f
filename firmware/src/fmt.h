/* SPDX-License-Identifier: MIT */
#ifndef FW_FMT_H
#define FW_FMT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A small vsnprintf for log lines: %c %s %d %u %x %%, the length modifiers
 * l and ll, a '0' flag and a field width. Output is always NUL-terminated
 * (size > 0) and truncated to fit; returns the number of characters stored.
 */
size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* FW_FMT_H */
