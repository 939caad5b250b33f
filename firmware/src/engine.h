/* SPDX-License-Identifier: MIT */
/*
 * The tensor engines as the control core drives them: one task slot per
 * engine in core memory, kicked through ENG_KICK(n) and collected through
 * ENG_DONE (docs/hardware.md, "Tensor engines").
 */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "job.h"

/* Engine count and memory from the device registers. */
void engines_init(void);
uint32_t engines_count(void);
uint64_t engines_mem_size(void);
bool engines_any_idle(void);

/* Hands the job's next tile to an idle engine; false if none is idle. */
bool engines_dispatch(struct job *job);

/*
 * Collects finished tiles and accounts them to their jobs; calls
 * op_finished() for each job whose operation has no tile left running
 * and none left to hand out (or that failed). Returns true if any tile
 * finished.
 */
bool engines_collect(void (*op_finished)(struct job *job));

#endif /* FW_ENGINE_H */
