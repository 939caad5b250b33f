// SPDX-License-Identifier: GPL-2.0-only
/*
 * sysfs attributes of the PCI device (docs/driver-sysfs.md): identity and
 * activity counters, and one directory per tensor engine (engineN/) with
 * its counters, state and utilisation, one value per file. Per-context
 * detail is in debugfs. Attributes that read the device fail with -ENODEV
 * once it is unplugged.
 */
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uuid.h>
#include <linux/xarray.h>

#include <drm/drm_drv.h>

#include "npu_drv.h"
#include "npu_telemetry.h"

/* The last 7 bytes of every npu UUID: "npu-uid". */
static const u8 npu_uuid_namespace[7] = { 'n', 'p', 'u', '-', 'u', 'i', 'd' };

/*
 * An RFC 9562 version 8 (vendor-defined) UUID holding all 64 bits of the
 * serial, so it is stable and unique whenever the serial is: bytes 0-5 are
 * serial bits 63-16, byte 6 the version and bits 15-12, byte 7 bits 11-4,
 * byte 8 the variant and bits 3-0, bytes 9-15 npu_uuid_namespace.
 */
static void npu_serial_to_uuid(u64 serial, uuid_t *uuid)
{
	u8 *b = uuid->b;
	int i;

	for (i = 0; i < 6; i++)
		b[i] = serial >> (56 - 8 * i);
	b[6] = 0x80 | ((serial >> 12) & 0x0f);
	b[7] = serial >> 4;
	b[8] = 0x80 | (serial & 0x0f);
	memcpy(&b[9], npu_uuid_namespace, sizeof(npu_uuid_namespace));
}

static struct npu_device *npu_dev_to_ndev(struct device *dev)
{
	return dev_get_drvdata(dev);
}

/* Reads a 64-bit register of struct npu_regs unless the device is gone. */
static ssize_t npu_show_reg64(struct device *dev, char *buf, u32 off,
			      u64 divisor)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);
	u64 val;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	val = npu_rd64(ndev, off);
	drm_dev_exit(idx);
	return sysfs_emit(buf, "%llu\n", div64_u64(val, divisor));
}

static ssize_t fw_version_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	u32 ver = READ_ONCE(npu_dev_to_ndev(dev)->fw_version);

	return sysfs_emit(buf, "%u.%u.%u\n", ver >> 16, (ver >> 8) & 0xff,
			  ver & 0xff);
}
static DEVICE_ATTR_RO(fw_version);

static ssize_t serial_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%016llx\n", npu_dev_to_ndev(dev)->serial);
}
static DEVICE_ATTR_RO(serial);

static ssize_t uuid_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	uuid_t uuid;

	npu_serial_to_uuid(npu_dev_to_ndev(dev)->serial, &uuid);
	return sysfs_emit(buf, "%pUb\n", &uuid);
}
static DEVICE_ATTR_RO(uuid);

static ssize_t busy_time_us_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return npu_show_reg64(dev, buf, NPU_REG(busy_ns), NSEC_PER_USEC);
}
static DEVICE_ATTR_RO(busy_time_us);

static ssize_t jobs_completed_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return npu_show_reg64(dev, buf, NPU_REG(jobs_done), 1);
}
static DEVICE_ATTR_RO(jobs_completed);

static ssize_t ops_completed_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return npu_show_reg64(dev, buf, NPU_REG(ops_done), 1);
}
static DEVICE_ATTR_RO(ops_completed);

static ssize_t mem_in_use_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);

	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&ndev->stats.bo_bytes));
}
static DEVICE_ATTR_RO(mem_in_use);

static ssize_t reset_count_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&npu_dev_to_ndev(dev)->reset_count));
}
static DEVICE_ATTR_RO(reset_count);

static ssize_t contexts_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);
	struct npu_context *ctx;
	unsigned long id;
	unsigned int count = 0;

	xa_lock(&ndev->contexts);
	xa_for_each(&ndev->contexts, id, ctx)
		count++;
	xa_unlock(&ndev->contexts);
	return sysfs_emit(buf, "%u\n", count);
}
static DEVICE_ATTR_RO(contexts);

static struct attribute *npu_attrs[] = {
	&dev_attr_fw_version.attr,
	&dev_attr_serial.attr,
	&dev_attr_uuid.attr,
	&dev_attr_busy_time_us.attr,
	&dev_attr_jobs_completed.attr,
	&dev_attr_ops_completed.attr,
	&dev_attr_mem_in_use.attr,
	&dev_attr_reset_count.attr,
	&dev_attr_contexts.attr,
	NULL
};

static const struct attribute_group npu_attr_group = {
	.attrs = npu_attrs,
};

/* An attribute of one engine's directory: which engine it reads. */
struct npu_engine_attribute {
	struct device_attribute attr;
	u32 engine;
};

static u32 npu_attr_engine(struct device_attribute *attr)
{
	return container_of(attr, struct npu_engine_attribute, attr)->engine;
}

/* Reads one 64-bit register of the attribute's engine unless the device is gone. */
static ssize_t npu_show_engine_reg64(struct device *dev,
				     struct device_attribute *attr, char *buf,
				     u32 field_offset)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);
	u32 off = NPU_ENGINE_OFFSET +
		  npu_attr_engine(attr) * NPU_ENGINE_STRIDE + field_offset;
	u64 val;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	val = npu_rd64(ndev, off);
	drm_dev_exit(idx);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t engine_busy_ns_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return npu_show_engine_reg64(dev, attr, buf,
				     offsetof(struct npu_engine_regs, busy_ns));
}

static ssize_t engine_tasks_done_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	return npu_show_engine_reg64(dev, attr, buf,
				     offsetof(struct npu_engine_regs,
					      tasks_done));
}

static ssize_t engine_state_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);
	u32 state;
	int idx;

	if (!drm_dev_enter(&ndev->drm, &idx))
		return -ENODEV;
	state = npu_rd32(ndev, NPU_EREG(npu_attr_engine(attr), state));
	drm_dev_exit(idx);
	return sysfs_emit(buf, "%s\n", npu_engine_state_name(state));
}

static ssize_t engine_busy_percent_show(struct device *dev,
					struct device_attribute *attr,
					char *buf)
{
	struct npu_device *ndev = npu_dev_to_ndev(dev);

	return sysfs_emit(buf, "%u\n",
			  npu_engine_busy_percent(ndev, npu_attr_engine(attr)));
}

/* The files of every engineN directory: name and show() */
static const struct {
	const char *name;
	ssize_t (*show)(struct device *dev, struct device_attribute *attr,
			char *buf);
} npu_engine_files[] = {
	{ "busy_ns", engine_busy_ns_show },
	{ "tasks_done", engine_tasks_done_show },
	{ "state", engine_state_show },
	{ "busy_percent", engine_busy_percent_show },
};

#define NPU_ENGINE_FILES	ARRAY_SIZE(npu_engine_files)

/* One engineN directory: a named attribute group of the PCI device. */
struct npu_engine_sysfs {
	char name[sizeof("engine") + 10];	/* engine + a u32 */
	struct npu_engine_attribute attrs[NPU_ENGINE_FILES];
	struct attribute *list[NPU_ENGINE_FILES + 1];
	struct attribute_group group;
};

/*
 * Only the engines the device has get a directory, so the groups are
 * built at probe (device-managed, like the groups themselves).
 */
static int npu_sysfs_add_engines(struct npu_device *ndev)
{
	struct device *dev = &ndev->pdev->dev;
	struct npu_engine_sysfs *engines;
	u32 i, f;
	int ret;

	if (!ndev->engine_count)
		return 0;
	engines = devm_kcalloc(dev, ndev->engine_count, sizeof(*engines),
			       GFP_KERNEL);
	if (!engines)
		return -ENOMEM;
	for (i = 0; i < ndev->engine_count; i++) {
		struct npu_engine_sysfs *e = &engines[i];

		snprintf(e->name, sizeof(e->name), "engine%u", i);
		for (f = 0; f < NPU_ENGINE_FILES; f++) {
			struct npu_engine_attribute *a = &e->attrs[f];

			sysfs_attr_init(&a->attr.attr);
			a->attr.attr.name = npu_engine_files[f].name;
			a->attr.attr.mode = 0444;
			a->attr.show = npu_engine_files[f].show;
			a->engine = i;
			e->list[f] = &a->attr.attr;
		}
		e->group.name = e->name;
		e->group.attrs = e->list;
		ret = devm_device_add_group(dev, &e->group);
		if (ret)
			return ret;
	}
	return 0;
}

/* Removed at unbind, before the managed hardware teardown. */
int npu_sysfs_init(struct npu_device *ndev)
{
	int ret;

	ret = devm_device_add_group(&ndev->pdev->dev, &npu_attr_group);
	if (ret)
		return ret;
	return npu_sysfs_add_engines(ndev);
}
