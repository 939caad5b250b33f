/* SPDX-License-Identifier: MIT */
/*
 * Entry point: the ROM jumps here (payload offset 0) with nothing set up.
 * Set the stack, zero .bss, run main(); main never returns, but if it did
 * the core parks in WFE, which the host sees as a dead heartbeat.
 */
	.section .text.start, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	.option push
	.option norelax
	la	sp, __stack_top
	.option pop
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	main
	li	t0, 0x10000000		/* NPU_CORE_PERIPH_BASE + NPU_PERIPH_WFE */
3:	lw	t1, 0(t0)
	j	3b
	.size	_start, . - _start
