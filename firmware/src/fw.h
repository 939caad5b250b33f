/* SPDX-License-Identifier: MIT */
/* Firmware-wide constants that are not part of the hardware interface. */
#ifndef FW_FW_H
#define FW_FW_H

/*
 * Job status codes written into npu_job_desc.status: the numeric values of
 * DRM_NPU_JOB_STATUS_* (uapi/drm/npu_accel.h), which needs drm.h and so is
 * not included here.
 */
#define JOB_STATUS_OK			0
#define JOB_STATUS_BAD_PACKET		1
#define JOB_STATUS_PAGE_FAULT		2
#define JOB_STATUS_TIMEOUT		3	/* killed at the host's request */
#define JOB_STATUS_ENGINE_ERROR		6	/* a tensor engine misbehaved */

#define FW_ABI		(NPU_FW_ABI_MAJOR << 16 | NPU_FW_ABI_MINOR)
#define FW_VERSION	(FW_VERSION_MAJOR << 16 | FW_VERSION_MINOR << 8 | \
			 FW_VERSION_PATCH)

/* What this firmware executes: GET_PARAM reports these (regs.op_mask...). */
#define FW_OP_MASK	(((1ull << (NPU_OP_DATA_LAST + 1)) - 1) | \
			 (((1ull << (NPU_OP_LAST - NPU_OP_GEMM + 1)) - 1) << NPU_OP_GEMM))
#define FW_DTYPE_MASK	(((1u << NPU_DTYPE_LAST) - 1) << 1)

/* heartbeat period when the boot mailbox says 0 */
#define FW_DEFAULT_HEARTBEAT_MS		100

#endif /* FW_FW_H */
