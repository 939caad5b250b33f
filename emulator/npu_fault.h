// SPDX-License-Identifier: MIT
// Fault injection: faults a test (through the control socket) arms on a
// device, consumed by the device model at the point where real hardware
// would fail. One-shot faults stay armed, across resets, until they hit;
// a frozen heartbeat lasts until the next reset or boot.
//
// Thread-safe: every member is an atomic; arm() from the control thread,
// take_*() from the core thread or the interrupt path.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace npu::emu
{

enum class Fault {
	HangEngine,	  // the next job's DMA stalls until reset
	CrashFirmware,	  // the core takes a fatal exception now
	CorruptStatus,	  // the next written-back descriptor holds garbage
	CorruptSeqno,	  // the next completion moves done_seqno too far
	DropInterrupt,	  // the next JOB MSI-X is lost
	StopHeartbeat,	  // the firmware runs on, regs.heartbeat freezes
	HangTensorEngine, // the next engine task never completes until reset
	CorruptEngine,	  // the next engine completion reports a garbage status
	FailBoot,	  // the next firmware boot halts before the core starts
};

// "hang-engine", "crash-firmware", "corrupt-completion" (+ optional
// "status" | "seqno"), "drop-interrupt", "stop-heartbeat",
// "hang-tensor-engine", "corrupt-engine", "fail-boot".
std::optional<Fault> parse_fault(std::string_view name, std::string_view arg);
const char *fault_name(Fault f);

// A done_seqno this far past the real one can never be a submitted job.
inline constexpr std::uint64_t kCorruptSeqnoJump = 1u << 20;
// What a corrupted descriptor's status reads as: no NPU_JOB_STATUS_*.
inline constexpr std::uint32_t kCorruptStatus = 0xbad5eed5u;
// What a corrupted engine completion's status reads as: no NPU_ENG_ST_*.
inline constexpr std::uint32_t kCorruptEngineStatus = 0xe9b00badu;

class FaultInjector
{
public:
	void arm(Fault f);
	// True once per arm(): the fault fires now.
	bool take(Fault f);
	bool armed(Fault f) const;
	// A reset or boot ends what lasts until then.
	void on_reset() { heartbeat_frozen_.store(false); }

	bool heartbeat_frozen() const { return heartbeat_frozen_.load(); }
	void freeze_heartbeat() { heartbeat_frozen_.store(true); }

	std::uint64_t injected() const { return injected_.load(); }
	std::uint64_t hits() const { return hits_.load(); }
	// Space-separated names of the armed faults, "none" if none.
	std::string armed_list() const;

private:
	static constexpr unsigned kFaults = 9;
	std::atomic<bool> armed_[kFaults] = {};
	std::atomic<bool> heartbeat_frozen_{false};
	std::atomic<std::uint64_t> injected_{0};
	std::atomic<std::uint64_t> hits_{0};
};

} // namespace npu::emu
