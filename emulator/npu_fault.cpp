// SPDX-License-Identifier: MIT
#include "npu_fault.h"

namespace npu::emu
{

namespace
{

constexpr Fault kAll[] = {Fault::HangEngine,	   Fault::CrashFirmware, Fault::CorruptStatus,
			  Fault::CorruptSeqno,	   Fault::DropInterrupt, Fault::StopHeartbeat,
			  Fault::HangTensorEngine, Fault::CorruptEngine, Fault::FailBoot};

unsigned index_of(Fault f)
{
	return static_cast<unsigned>(f);
}

} // namespace

std::optional<Fault> parse_fault(std::string_view name, std::string_view arg)
{
	if (name == "corrupt-completion") {
		if (arg.empty() || arg == "status")
			return Fault::CorruptStatus;
		if (arg == "seqno")
			return Fault::CorruptSeqno;
		return std::nullopt;
	}
	if (!arg.empty())
		return std::nullopt;
	if (name == "hang-engine")
		return Fault::HangEngine;
	if (name == "crash-firmware")
		return Fault::CrashFirmware;
	if (name == "drop-interrupt")
		return Fault::DropInterrupt;
	if (name == "stop-heartbeat")
		return Fault::StopHeartbeat;
	if (name == "hang-tensor-engine")
		return Fault::HangTensorEngine;
	if (name == "corrupt-engine")
		return Fault::CorruptEngine;
	if (name == "fail-boot")
		return Fault::FailBoot;
	return std::nullopt;
}

const char *fault_name(Fault f)
{
	switch (f) {
	case Fault::HangEngine:
		return "hang-engine";
	case Fault::CrashFirmware:
		return "crash-firmware";
	case Fault::CorruptStatus:
		return "corrupt-completion-status";
	case Fault::CorruptSeqno:
		return "corrupt-completion-seqno";
	case Fault::DropInterrupt:
		return "drop-interrupt";
	case Fault::StopHeartbeat:
		return "stop-heartbeat";
	case Fault::HangTensorEngine:
		return "hang-tensor-engine";
	case Fault::CorruptEngine:
		return "corrupt-engine";
	case Fault::FailBoot:
		return "fail-boot";
	}
	return "unknown";
}

void FaultInjector::arm(Fault f)
{
	armed_[index_of(f)].store(true);
	injected_++;
}

bool FaultInjector::take(Fault f)
{
	if (!armed_[index_of(f)].exchange(false))
		return false;
	hits_++;
	return true;
}

bool FaultInjector::armed(Fault f) const
{
	return armed_[index_of(f)].load();
}

std::string FaultInjector::armed_list() const
{
	std::string out;
	for (Fault f : kAll) {
		if (!armed(f))
			continue;
		if (!out.empty())
			out += ',';
		out += fault_name(f);
	}
	if (heartbeat_frozen()) {
		if (!out.empty())
			out += ',';
		out += "heartbeat-frozen";
	}
	return out.empty() ? "none" : out;
}

} // namespace npu::emu
