/* SPDX-License-Identifier: MIT */
/*
 * The firmware is freestanding (picolibc): this stands in for the kernel's
 * uapi <linux/types.h>, which uapi/drm/npu_packet.h includes, with the
 * same fixed-width types. Only the firmware's cross build sees it.
 */
#ifndef NPU_FW_COMPAT_LINUX_TYPES_H
#define NPU_FW_COMPAT_LINUX_TYPES_H

#include <stdint.h>

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int8_t __s8;
typedef int16_t __s16;
typedef int32_t __s32;
typedef int64_t __s64;

#endif
