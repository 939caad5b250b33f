// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firmware: load and validate npu_fw.bin, boot it through the device ROM,
 * reset the control core. The checks mirror the ROM's so that a bad file is
 * reported precisely by the driver rather than as a failed boot.
 */
#include <linux/crc32.h>
#include <linux/firmware.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>

#include <drm/drm_print.h>

#include "npu_drv.h"

/* How often a state wait re-reads regs.state should an interrupt be lost. */
#define NPU_STATE_POLL_MS	100

static const char *npu_state_name(u32 state)
{
	switch (state) {
	case NPU_STATE_ROM:
		return "ROM";
	case NPU_STATE_BOOTING:
		return "BOOTING";
	case NPU_STATE_READY:
		return "READY";
	case NPU_STATE_BOOT_FAILED:
		return "BOOT_FAILED";
	case NPU_STATE_HALTED:
		return "HALTED";
	default:
		return "unknown";
	}
}

static const char *npu_boot_status_name(u32 status)
{
	switch (status) {
	case NPU_BOOT_OK:
		return "OK";
	case NPU_BOOT_BAD_MAGIC:
		return "BAD_MAGIC";
	case NPU_BOOT_BAD_ABI:
		return "BAD_ABI";
	case NPU_BOOT_BAD_SIZE:
		return "BAD_SIZE";
	case NPU_BOOT_BAD_CHECKSUM:
		return "BAD_CHECKSUM";
	default:
		return "unknown";
	}
}

/*
 * Whether the driver runs firmware of this ABI: the same major, and a minor
 * no older than the first with tensor engines (later minors only add).
 */
static bool npu_fw_abi_supported(u32 major, u32 minor)
{
	return major == NPU_FW_ABI_MAJOR && minor >= NPU_FW_ABI_MINOR_MIN;
}

static int npu_fw_validate(struct npu_device *ndev, const u8 *data,
			   size_t size)
{
	const u32 room = NPU_FW_REGION_SIZE - NPU_FW_HEADER_SIZE;
	const struct npu_fw_header *hdr = (const void *)data;
	struct drm_device *drm = &ndev->drm;
	u32 crc;

	if (size < NPU_FW_HEADER_SIZE) {
		drm_err(drm, "%s: %zu bytes, smaller than its header\n",
			NPU_FW_NAME, size);
		return -EINVAL;
	}
	if (hdr->magic != NPU_FW_MAGIC) {
		drm_err(drm, "%s: bad magic 0x%08x (want 0x%08x)\n",
			NPU_FW_NAME, hdr->magic, NPU_FW_MAGIC);
		return -EINVAL;
	}
	if (!npu_fw_abi_supported(hdr->abi_major, hdr->abi_minor)) {
		drm_err(drm, "%s: firmware ABI %u.%u, driver needs %u.%u or a later %u.x (tensor engines)\n",
			NPU_FW_NAME, hdr->abi_major, hdr->abi_minor,
			NPU_FW_ABI_MAJOR, NPU_FW_ABI_MINOR_MIN,
			NPU_FW_ABI_MAJOR);
		return -EINVAL;
	}
	if (hdr->header_size != NPU_FW_HEADER_SIZE) {
		drm_err(drm, "%s: header_size %u (want %u)\n", NPU_FW_NAME,
			hdr->header_size, NPU_FW_HEADER_SIZE);
		return -EINVAL;
	}
	if (hdr->image_size != size - NPU_FW_HEADER_SIZE) {
		drm_err(drm, "%s: image_size %u but the file holds %zu payload bytes\n",
			NPU_FW_NAME, hdr->image_size,
			size - NPU_FW_HEADER_SIZE);
		return -EINVAL;
	}
	if (!hdr->image_size || hdr->image_size > room) {
		drm_err(drm, "%s: payload of %u bytes does not fit the %u byte firmware region\n",
			NPU_FW_NAME, hdr->image_size, room);
		return -EINVAL;
	}
	if (hdr->mem_size < hdr->image_size || hdr->mem_size > room) {
		drm_err(drm, "%s: mem_size %u outside [image_size %u, %u]\n",
			NPU_FW_NAME, hdr->mem_size, hdr->image_size, room);
		return -EINVAL;
	}
	if (hdr->entry_offset >= hdr->image_size || hdr->entry_offset & 1) {
		drm_err(drm, "%s: entry_offset 0x%x outside the payload\n",
			NPU_FW_NAME, hdr->entry_offset);
		return -EINVAL;
	}
	/* zlib's CRC-32: reflected, all-ones seed, inverted result */
	crc = crc32_le(~0u, data + NPU_FW_HEADER_SIZE, hdr->image_size) ^ ~0u;
	if (crc != hdr->checksum) {
		drm_err(drm, "%s: payload CRC-32 0x%08x, header says 0x%08x\n",
			NPU_FW_NAME, crc, hdr->checksum);
		return -EINVAL;
	}
	return 0;
}

static void npu_fw_free(void *data)
{
	kvfree(data);
}

/**
 * npu_fw_load() - read and validate the firmware file, keeping a copy
 * @ndev: the device
 *
 * Return: 0 or a negative errno (logged).
 */
int npu_fw_load(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;
	const struct firmware *fw;
	u8 *image;
	int ret;

	ret = request_firmware(&fw, NPU_FW_NAME, dev);
	if (ret) {
		drm_err(&ndev->drm, "cannot load %s: %d\n", NPU_FW_NAME, ret);
		return ret;
	}
	ret = npu_fw_validate(ndev, fw->data, fw->size);
	if (ret)
		goto out_release;

	image = kvmalloc(fw->size, GFP_KERNEL);
	if (!image) {
		ret = -ENOMEM;
		goto out_release;
	}
	memcpy(image, fw->data, fw->size);
	ret = devm_add_action_or_reset(dev, npu_fw_free, image);
	if (ret)
		goto out_release;
	ndev->fw_image = image;
	ndev->fw_size = fw->size;
out_release:
	release_firmware(fw);
	return ret;
}

/*
 * Writes @ctrl, rings the CTRL doorbell and waits until regs.state is one
 * of @states (a mask of BIT(NPU_STATE_*)). Returns 0 with the state in
 * @state, or -ETIMEDOUT.
 */
static int npu_fw_request(struct npu_device *ndev, u32 ctrl, u32 states,
			  u32 *state)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(npu_boot_timeout_ms);

	reinit_completion(&ndev->state_changed);
	npu_wr32(ndev, NPU_REG(ctrl), ctrl);
	npu_doorbell(ndev, NPU_DB_CTRL);

	for (;;) {
		/* re-arm before reading, so no state change goes unseen */
		reinit_completion(&ndev->state_changed);
		*state = npu_rd32(ndev, NPU_REG(state));
		if (*state < 32 && (BIT(*state) & states))
			return 0;
		if (time_after_eq(jiffies, deadline))
			return -ETIMEDOUT;
		wait_for_completion_timeout(&ndev->state_changed,
					    min_t(unsigned long,
						  deadline - jiffies,
						  msecs_to_jiffies(NPU_STATE_POLL_MS)));
	}
}

/**
 * npu_fw_reset() - stop the control core and return the device to ROM
 * @ndev: the device, with hw_lock held (or not yet shared)
 *
 * Return: 0 or -ETIMEDOUT (logged).
 */
int npu_fw_reset(struct npu_device *ndev)
{
	u32 state;
	int ret;

	WRITE_ONCE(ndev->fw_ready, false);
	ret = npu_fw_request(ndev, NPU_CTRL_RESET, BIT(NPU_STATE_ROM), &state);
	if (ret)
		drm_err(&ndev->drm, "device reset timed out after %u ms in state %s\n",
			npu_boot_timeout_ms, npu_state_name(state));
	return ret;
}

static void npu_fw_log_version(struct npu_device *ndev)
{
	const struct npu_fw_header *hdr = (const void *)ndev->fw_image;
	u32 v = ndev->fw_version;

	if (ndev->fw_logged)
		return;
	ndev->fw_logged = true;
	drm_info(&ndev->drm, "firmware %u.%u.%u (ABI %u.%u, %.*s) running, packet version %u, %u tensor engines\n",
		 v >> 16, (v >> 8) & 0xff, v & 0xff, ndev->fw_abi >> 16,
		 ndev->fw_abi & 0xffff, (int)sizeof(hdr->build_id),
		 hdr->build_id, ndev->packet_version, ndev->engine_count);
}

/**
 * npu_fw_boot() - (re)start the firmware
 * @ndev: the device, with hw_lock held (or not yet shared)
 *
 * Resets the device to ROM if needed, copies the firmware image into the
 * firmware region, fills the boot mailbox and waits for READY.
 *
 * Return: 0 or a negative errno (logged).
 */
int npu_fw_boot(struct npu_device *ndev)
{
	const struct npu_fw_header *hdr = (const void *)ndev->fw_image;
	struct drm_device *drm = &ndev->drm;
	void __iomem *region = ndev->bar2 + NPU_FW_OFFSET;
	u32 state;
	int ret;

	WRITE_ONCE(ndev->fw_ready, false);
	if (npu_rd32(ndev, NPU_REG(state)) != NPU_STATE_ROM) {
		ret = npu_fw_reset(ndev);
		if (ret)
			return ret;
	}

	memcpy_toio(region, ndev->fw_image, ndev->fw_size);
	/* bss and stack start zeroed */
	memset_io(region + ndev->fw_size, 0,
		  NPU_FW_HEADER_SIZE + hdr->mem_size - ndev->fw_size);

	npu_wr32(ndev, NPU_MBOX_OFFSET +
		 offsetof(struct npu_boot_params, heartbeat_ms),
		 npu_heartbeat_ms);
	npu_wr32(ndev, NPU_MBOX_OFFSET +
		 offsetof(struct npu_boot_params, flags), 0);
	npu_wr64(ndev, NPU_MBOX_OFFSET +
		 offsetof(struct npu_boot_params, host_time_ns),
		 ktime_get_ns());

	ret = npu_fw_request(ndev, NPU_CTRL_BOOT,
			     BIT(NPU_STATE_READY) | BIT(NPU_STATE_BOOT_FAILED) |
			     BIT(NPU_STATE_HALTED), &state);
	if (ret) {
		drm_err(drm, "firmware boot timed out after %u ms in state %s (boot_status %s)\n",
			npu_boot_timeout_ms, npu_state_name(state),
			npu_boot_status_name(npu_rd32(ndev, NPU_REG(boot_status))));
		return ret;
	}
	if (state == NPU_STATE_BOOT_FAILED) {
		u32 status = npu_rd32(ndev, NPU_REG(boot_status));

		drm_err(drm, "device ROM rejected the firmware: boot_status %u (%s)\n",
			status, npu_boot_status_name(status));
		return -EIO;
	}
	if (state == NPU_STATE_HALTED) {
		drm_err(drm, "firmware halted while booting\n");
		return -EIO;
	}

	WRITE_ONCE(ndev->fw_version, npu_rd32(ndev, NPU_REG(fw_version)));
	WRITE_ONCE(ndev->fw_abi, npu_rd32(ndev, NPU_REG(fw_abi)));
	if (!npu_fw_abi_supported(ndev->fw_abi >> 16, ndev->fw_abi & 0xffff)) {
		drm_err(drm, "running firmware reports ABI %u.%u, driver needs %u.%u or a later %u.x (tensor engines)\n",
			ndev->fw_abi >> 16, ndev->fw_abi & 0xffff,
			NPU_FW_ABI_MAJOR, NPU_FW_ABI_MINOR_MIN,
			NPU_FW_ABI_MAJOR);
		npu_fw_reset(ndev);
		return -EIO;
	}
	/* what the firmware executes, written by it before READY */
	WRITE_ONCE(ndev->op_mask, npu_rd64(ndev, NPU_REG(op_mask)));
	WRITE_ONCE(ndev->dtype_mask, npu_rd32(ndev, NPU_REG(dtype_mask)));
	WRITE_ONCE(ndev->packet_version,
		   npu_rd32(ndev, NPU_REG(packet_version)));
	npu_fw_log_version(ndev);
	WRITE_ONCE(ndev->fw_ready, true);
	return 0;
}
