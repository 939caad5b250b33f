// SPDX-License-Identifier: MIT
// The boot ROM's image check: what the device verifies before it starts the
// control core on a firmware image placed at BAR2 + NPU_FW_OFFSET.
#pragma once

#include <cstdint>

#include "npu_shared_mem.h"

namespace npu::emu
{

struct RomVerdict {
	std::uint32_t boot_status; // NPU_BOOT_*
	std::uint64_t entry;	   // core address of the entry point when OK
	std::uint32_t fw_version;  // from the header when OK
};

// Validates the header and payload CRC in the firmware region of bar2.
RomVerdict rom_check_image(const MemRegion &bar2);

} // namespace npu::emu
