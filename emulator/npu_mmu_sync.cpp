// SPDX-License-Identifier: MIT
#include "npu_mmu_sync.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace npu::emu
{

// Sequentially consistent on purpose: a user that enters after an
// invalidate read its count as 0 must see the bumped generation (its
// increment follows that read, its re-read of the generation follows its
// increment), and so never translates with a generation the invalidate
// believes over.
std::uint64_t TranslationSync::enter()
{
	for (;;) {
		std::uint64_t g = generation_.load();
		users_[g & 1].fetch_add(1);
		if (generation_.load() == g)
			return g;
		// an invalidate ended g meanwhile: it may not have counted us
		users_[g & 1].fetch_sub(1);
	}
}

// Release: every access the user made with its translations happens before
// the invalidate that sees the count drop.
void TranslationSync::exit(std::uint64_t generation)
{
	users_[generation & 1].fetch_sub(1, std::memory_order_release);
}

std::uint64_t TranslationSync::current_users() const
{
	return users_[generation() & 1].load();
}

void TranslationSync::invalidate()
{
	std::lock_guard lock(invalidate_mutex_);
	// The bump, then the count, both sequentially consistent: the other
	// half of enter()'s increment-then-re-read.
	std::uint64_t old = generation_.fetch_add(1);
	// Users of old finish the page or chunk they are on; poll with a
	// growing pause (an invalidate on an idle device returns at once).
	auto pause = std::chrono::microseconds(1);
	for (unsigned spins = 0; users_[old & 1].load(); spins++) {
		if (spins < 64) {
			std::this_thread::yield();
			continue;
		}
		std::this_thread::sleep_for(pause);
		pause = std::min<std::chrono::microseconds>(pause * 2,
							    std::chrono::milliseconds(1));
	}
	invalidations_.fetch_add(1);
}

std::uint64_t TranslationUser::move()
{
	// Enter the new generation before leaving the old one: never a moment
	// in which an invalidate could miss an access in progress.
	std::uint64_t g = sync_.enter();
	if (generation_)
		sync_.exit(generation_);
	generation_ = g;
	return g;
}

} // namespace npu::emu
