// SPDX-License-Identifier: MIT
// Accessors for memory another agent (guest driver, firmware) uses at the
// same time: BAR2 and guest RAM. Every access is a relaxed atomic of at most
// 8 bytes, the way a bus master sees memory: no torn words, no ordering
// promises beyond what the protocol adds (doorbells, interrupts).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace npu::emu
{

// A block of shared memory: BAR2 or guest RAM. Not owned.
struct MemRegion {
	std::uint8_t *base = nullptr;
	std::size_t size = 0;

	bool contains(std::uint64_t off, std::uint64_t len) const
	{
		return off <= size && len <= size - off;
	}
};

template <typename T> T shared_load(const void *p)
{
	return std::atomic_ref<T>(*static_cast<T *>(const_cast<void *>(p)))
		.load(std::memory_order_acquire);
}

template <typename T> void shared_store(void *p, T v)
{
	std::atomic_ref<T>(*static_cast<T *>(p)).store(v, std::memory_order_release);
}

// A field of a structure in shared memory, its type taken from the field.
template <typename T> T shared_get(const T &field)
{
	return shared_load<T>(&field);
}

template <typename T> void shared_set(T &field, T value)
{
	shared_store<T>(&field, value);
}

// Copy n bytes between shared regions, 8 bytes at a time where aligned.
void shared_copy(std::uint8_t *dst, const std::uint8_t *src, std::size_t n);

// Store the little-endian 32-bit pattern over n bytes; byte i of the
// destination gets pattern byte (phase + i) % 4.
void shared_fill(std::uint8_t *dst, std::uint32_t pattern, unsigned phase, std::size_t n);

} // namespace npu::emu
