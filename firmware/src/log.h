/* SPDX-License-Identifier: MIT */
#ifndef FW_LOG_H
#define FW_LOG_H

/* Empties the log ring in BAR2 and publishes its size. */
void log_init(void);

/*
 * Appends "[seconds.micros] message\n" to the log ring and mirrors it to
 * the console peripheral. The message is formatted by fmt_vformat().
 */
void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* FW_LOG_H */
