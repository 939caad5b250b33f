// SPDX-License-Identifier: GPL-2.0-only
/*
 * hwmon: die temperature (temp1_input, millidegrees Celsius) and board
 * power (power1_input, microwatts), read from the device registers on
 * every access.
 */
#include <linux/hwmon.h>

#include <drm/drm_drv.h>

#include "npu_drv.h"
#include "npu_telemetry.h"

static umode_t npu_hwmon_is_visible(const void *data,
				    enum hwmon_sensor_types type, u32 attr,
				    int channel)
{
	if ((type == hwmon_temp && attr == hwmon_temp_input) ||
	    (type == hwmon_power && attr == hwmon_power_input))
		return 0444;
	return 0;
}

static int npu_hwmon_read(struct device *dev, enum hwmon_sensor_types type,
			  u32 attr, int channel, long *val)
{
	struct npu_device *ndev = dev_get_drvdata(dev);
	int ret = 0, idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	if (type == hwmon_temp && attr == hwmon_temp_input)
		*val = npu_rd32(ndev, NPU_REG(temp_mc));
	else if (type == hwmon_power && attr == hwmon_power_input)
		*val = (long)npu_rd32(ndev, NPU_REG(power_mw)) * 1000;
	else
		ret = -EOPNOTSUPP;
	drm_dev_exit(idx);
	return ret;
}

static const struct hwmon_ops npu_hwmon_ops = {
	.is_visible = npu_hwmon_is_visible,
	.read = npu_hwmon_read,
};

/* not "* const": 6.1's hwmon_chip_info.info lacks the inner const */
static const struct hwmon_channel_info *npu_hwmon_info[] = {
	HWMON_CHANNEL_INFO(temp, HWMON_T_INPUT),
	HWMON_CHANNEL_INFO(power, HWMON_P_INPUT),
	NULL
};

static const struct hwmon_chip_info npu_hwmon_chip = {
	.ops = &npu_hwmon_ops,
	.info = npu_hwmon_info,
};

int npu_hwmon_init(struct npu_device *ndev)
{
	struct device *hwmon;

	if (!IS_REACHABLE(CONFIG_HWMON))
		return 0;
	hwmon = devm_hwmon_device_register_with_info(&ndev->pdev->dev,
						     NPU_DRIVER_NAME, ndev,
						     &npu_hwmon_chip, NULL);
	return PTR_ERR_OR_ZERO(hwmon);
}
