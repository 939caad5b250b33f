/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tenant limits (npu_tenant.c): how much of a shared device one file may
 * take. A job limit per file and a ban on contexts whose jobs keep
 * faulting or timing out.
 */
#ifndef NPU_TENANT_H
#define NPU_TENANT_H

#include <linux/atomic.h>
#include <linux/dma-fence.h>
#include <linux/types.h>

struct npu_context;
struct npu_job;
struct npu_vm;

/**
 * struct npu_tenant - what the limits track of one context; in its address
 *	space (npu_vm), which lives as long as any of its jobs
 * @active: jobs accepted by SUBMIT whose finished fence has not signalled;
 *	SUBMIT fails with -EBUSY while this is at npu_context.job_limit
 * @strikes: jobs that ended with TIMEOUT, PAGE_FAULT or ENGINE_ERROR
 * @banned: set once @strikes reached the ban threshold: SUBMIT fails with
 *	-ECANCELED from then on (read locklessly)
 */
struct npu_tenant {
	atomic_t active;
	atomic_t strikes;
	bool banned;
};

extern unsigned int npu_job_limit;
extern unsigned int npu_ban_threshold;

int npu_tenant_job_reserve(struct npu_context *ctx);
void npu_tenant_job_unreserve(struct npu_context *ctx);
void npu_tenant_job_pushed(struct npu_job *job);
bool npu_tenant_banned(struct npu_context *ctx);
void npu_tenant_add_strikes(struct npu_vm *vm, u32 context_id, u32 count);

#endif /* NPU_TENANT_H */
