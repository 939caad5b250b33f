// SPDX-License-Identifier: MIT
#include "log.h"

#include <stdarg.h>
#include <stdint.h>

#include "fmt.h"
#include "mmio.h"

#define LOG_DATA_SIZE	(NPU_LOG_SIZE - sizeof(struct npu_log_ring))
#define LOG_LINE_MAX	200

void log_init(void)
{
	LOG_RING->write_pos = 0;
	LOG_RING->size = LOG_DATA_SIZE;
	mem_fence();
}

static void log_write(const char *text, size_t len)
{
	volatile struct npu_log_ring *ring = LOG_RING;
	uint32_t pos = ring->write_pos;

	for (size_t i = 0; i < len; i++) {
		ring->data[(pos + i) % LOG_DATA_SIZE] = text[i];
		periph_write32(NPU_PERIPH_CONSOLE, (uint8_t)text[i]);
	}
	/* readers trust write_pos: the text must land first */
	mem_fence();
	ring->write_pos = pos + (uint32_t)len;
}

void log_printf(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	uint64_t now = time_ns();
	va_list ap;
	size_t len;

	len = fmt_format(line, sizeof(line), "[%5llu.%06llu] ",
			 (unsigned long long)(now / 1000000000u),
			 (unsigned long long)(now % 1000000000u / 1000u));
	va_start(ap, fmt);
	len += fmt_vformat(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	log_write(line, len);
}
