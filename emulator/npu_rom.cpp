// SPDX-License-Identifier: MIT
#include "npu_rom.h"

#include <vector>

#include <zlib.h>

#include "npu_hw.h"

namespace npu::emu
{

RomVerdict rom_check_image(const MemRegion &bar2)
{
	npu_fw_header hdr;
	std::uint8_t *region = bar2.base + NPU_FW_OFFSET;
	shared_copy(reinterpret_cast<std::uint8_t *>(&hdr), region, sizeof(hdr));

	if (hdr.magic != NPU_FW_MAGIC)
		return {NPU_BOOT_BAD_MAGIC, 0, 0};
	if (hdr.abi_major != NPU_FW_ABI_MAJOR)
		return {NPU_BOOT_BAD_ABI, 0, 0};
	// The payload must fit and so must its run-time footprint; the entry
	// point must lie inside the loaded payload.
	constexpr std::uint64_t room = NPU_FW_REGION_SIZE - NPU_FW_HEADER_SIZE;
	if (hdr.header_size != NPU_FW_HEADER_SIZE || hdr.image_size == 0 || hdr.image_size > room ||
	    hdr.mem_size > room || hdr.mem_size < hdr.image_size ||
	    hdr.entry_offset >= hdr.image_size || (hdr.entry_offset & 1))
		return {NPU_BOOT_BAD_SIZE, 0, 0};

	// Read through the shared-memory accessors: BAR2 is host-writable.
	std::vector<std::uint8_t> payload(hdr.image_size);
	shared_copy(payload.data(), region + NPU_FW_HEADER_SIZE, payload.size());
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, payload.data(), static_cast<uInt>(payload.size()));
	if (static_cast<std::uint32_t>(crc) != hdr.checksum)
		return {NPU_BOOT_BAD_CHECKSUM, 0, 0};

	return {NPU_BOOT_OK, NPU_CORE_FW_ENTRY_BASE + hdr.entry_offset, hdr.fw_version};
}

} // namespace npu::emu
