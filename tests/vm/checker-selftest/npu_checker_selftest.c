// SPDX-License-Identifier: GPL-2.0-only
/*
 * Positive control for the debug-kernel lane: loading this module with
 * bug=NAME commits one bug of the kind the lane must catch, so a test can
 * show that tests/vm/kernel-checks fails on it. Test code only; it
 * deliberately corrupts nothing that outlives the guest. Loading always
 * fails (-EAGAIN) once the bug is done, so nothing stays loaded.
 */
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "kasan, lockdep, atomic_sleep, odebug or kmemleak");

/* Leaked on purpose: kmemleak must report it once nothing points at it. */
static noinline void leak_memory(void)
{
	void *p = kmalloc(128, GFP_KERNEL);

	memset(p, 0x5a, 128);
	pr_info("npu_checker_selftest: leaking %p\n", p);
}

static noinline void read_out_of_bounds(void)
{
	char *p = kmalloc(16, GFP_KERNEL);
	size_t past_the_end = 16;

	/* the compiler must neither fold the read nor warn about it */
	OPTIMIZER_HIDE_VAR(past_the_end);
	if (!p)
		return;
	pr_info("npu_checker_selftest: read %d\n", READ_ONCE(p[past_the_end]));
	kfree(p);
}

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);

/* A then B, later B then A: lockdep reports the possible deadlock. */
static noinline void invert_lock_order(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);

	mutex_lock(&lock_b);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

static DEFINE_SPINLOCK(atomic_lock);

/* might_sleep() reports without actually scheduling while atomic. */
static noinline void sleep_in_atomic(void)
{
	spin_lock(&atomic_lock);
	might_sleep();
	spin_unlock(&atomic_lock);
}

static void selftest_timer_fn(struct timer_list *t)
{
}

/* Freeing an armed timer: DEBUG_OBJECTS_FREE reports it (and fixes it up). */
static noinline void free_active_timer(void)
{
	struct timer_list *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return;
	timer_setup(t, selftest_timer_fn, 0);
	mod_timer(t, jiffies + 60 * HZ);
	kfree(t);
}

static int __init npu_checker_selftest_init(void)
{
	if (!strcmp(bug, "kasan"))
		read_out_of_bounds();
	else if (!strcmp(bug, "lockdep"))
		invert_lock_order();
	else if (!strcmp(bug, "atomic_sleep"))
		sleep_in_atomic();
	else if (!strcmp(bug, "odebug"))
		free_active_timer();
	else if (!strcmp(bug, "kmemleak"))
		leak_memory();
	else
		return -EINVAL;
	return -EAGAIN;
}
module_init(npu_checker_selftest_init);

MODULE_DESCRIPTION("Commits one kernel bug on purpose, to test the bug checkers");
MODULE_LICENSE("GPL");
