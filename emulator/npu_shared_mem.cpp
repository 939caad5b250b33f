// SPDX-License-Identifier: MIT
#include "npu_shared_mem.h"

namespace npu::emu
{

namespace
{

template <typename T> void relaxed_store(std::uint8_t *p, T v)
{
	std::atomic_ref<T>(*reinterpret_cast<T *>(p)).store(v, std::memory_order_relaxed);
}

template <typename T> T relaxed_load(const std::uint8_t *p)
{
	return std::atomic_ref<T>(*reinterpret_cast<T *>(const_cast<std::uint8_t *>(p)))
		.load(std::memory_order_relaxed);
}

} // namespace

void shared_copy(std::uint8_t *dst, const std::uint8_t *src, std::size_t n)
{
	std::atomic_thread_fence(std::memory_order_acquire);
	bool aligned =
		((reinterpret_cast<std::uintptr_t>(dst) ^ reinterpret_cast<std::uintptr_t>(src)) &
		 7) == 0;
	if (aligned) {
		while (n && (reinterpret_cast<std::uintptr_t>(dst) & 7)) {
			relaxed_store(dst++, relaxed_load<std::uint8_t>(src++));
			n--;
		}
		for (; n >= 8; n -= 8, dst += 8, src += 8)
			relaxed_store(dst, relaxed_load<std::uint64_t>(src));
	}
	for (; n; n--)
		relaxed_store(dst++, relaxed_load<std::uint8_t>(src++));
	std::atomic_thread_fence(std::memory_order_release);
}

void shared_fill(std::uint8_t *dst, std::uint32_t pattern, unsigned phase, std::size_t n)
{
	auto byte_at = [&](std::size_t i) {
		return static_cast<std::uint8_t>(pattern >> (8 * ((phase + i) % 4)));
	};
	std::size_t i = 0;
	for (; i < n && (reinterpret_cast<std::uintptr_t>(dst + i) & 7); i++)
		relaxed_store(dst + i, byte_at(i));
	if (n - i >= 8) {
		std::uint64_t word = 0;
		for (unsigned b = 0; b < 8; b++)
			word |= std::uint64_t(byte_at(i + b)) << (8 * b);
		for (; n - i >= 8; i += 8)
			relaxed_store(dst + i, word); // phase repeats every 4 bytes
	}
	for (; i < n; i++)
		relaxed_store(dst + i, byte_at(i));
	std::atomic_thread_fence(std::memory_order_release);
}

} // namespace npu::emu
