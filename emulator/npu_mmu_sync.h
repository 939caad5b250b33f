// SPDX-License-Identifier: MIT
// Translation invalidate (docs/hardware.md §8, hw 1.2): how the device
// makes sure no cached translation, and no access that used one, outlives a
// host's request.
//
// A device-wide generation counts invalidates. Everything that translates
// context addresses (a tensor engine's task, a DMA transfer) does it as a
// TranslationUser: it enters the generation current at its first
// translation and, before every later translation, checks whether the
// generation moved on (one acquire load); if it did, it drops what it
// cached and moves to the new one. invalidate() bumps the generation and
// waits until no user is left in the old one: every user has either left
// (task or transfer over) or made a translation since the bump, so nothing
// from before the bump is in use any more.
//
// The rule that makes "made a translation since" enough: a user never uses a
// host pointer from an earlier translation once it asked for the next one
// (refresh() is called before each translation, and callers drop the
// previous page's pointer when they ask for a new page). A user that works
// on staged data for long without translating calls leave() first.
//
// Users are counted per generation parity, so an invalidate waits only for
// the users of the generation it ends, never for ones that entered after it
// (no starvation by a stream of new work). Invalidates run one at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace npu::emu
{

class TranslationSync
{
public:
	TranslationSync() = default;
	TranslationSync(const TranslationSync &) = delete;
	TranslationSync &operator=(const TranslationSync &) = delete;

	// The current generation (never 0). The users' hot path.
	std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

	// Drops every translation cached before the call and returns once no
	// access that used one is in progress (see above). Callers must not
	// be users themselves. Blocks while a user stays in the old
	// generation: a user that never translates again and never leaves
	// keeps it waiting (a reset's cancel makes engine tasks leave).
	void invalidate();
	// Completed invalidate() calls.
	std::uint64_t invalidations() const { return invalidations_.load(); }
	// Users in the generation an invalidate would end now (tests).
	std::uint64_t current_users() const;

private:
	friend class TranslationUser;
	// Enters the current generation; returns it.
	std::uint64_t enter();
	void exit(std::uint64_t generation);

	std::atomic<std::uint64_t> generation_{1};
	// users_[g & 1]: users in generation g (or, for a moment, users that
	// read an older g and are about to retry).
	std::atomic<std::uint64_t> users_[2] = {};
	std::atomic<std::uint64_t> invalidations_{0};
	std::mutex invalidate_mutex_; // serialises invalidate() (the parity scheme needs it)
};

// One agent's use of translations: a tensor engine's task, one DMA transfer.
// Not thread-safe (one thread at a time); starts outside any generation.
class TranslationUser
{
public:
	explicit TranslationUser(TranslationSync &sync) : sync_(sync) {}
	~TranslationUser() { leave(); }
	TranslationUser(const TranslationUser &) = delete;
	TranslationUser &operator=(const TranslationUser &) = delete;

	// Call before every translation. Returns the generation the next
	// translations belong to; when it differs from the last call's, every
	// translation made before must be dropped (and the caller no longer
	// uses pointers from them).
	std::uint64_t refresh()
	{
		std::uint64_t g = sync_.generation();
		if (g == generation_) [[likely]]
			return g;
		return move();
	}
	// True if an invalidate is waiting for this user (refresh() would
	// return a new generation).
	bool stale() const { return generation_ && sync_.generation() != generation_; }
	// The user holds no pointer from a translation until its next
	// refresh() (end of task, or long work on staged data): an invalidate
	// no longer waits for it.
	void leave()
	{
		if (generation_) {
			sync_.exit(generation_);
			generation_ = 0;
		}
	}

private:
	std::uint64_t move();

	TranslationSync &sync_;
	std::uint64_t generation_ = 0; // 0: outside any generation
};

} // namespace npu::emu
