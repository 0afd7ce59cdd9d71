/* SPDX-License-Identifier: MIT */
/*
 * lib/mem: after mem_tune_long_lived(), large blocks freed on a pool-like
 * thread go back to the system instead of staying in its arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>

#include "lib/mem.h"

/* Heap bytes held by all arenas (mmapped blocks not included). */
static size_t
arena_bytes(void)
{
	return mallinfo2().arena;
}

static void *
big_blocks(void *arg)
{
	size_t *grown = arg, before = arena_bytes();

	/* glibc, untuned, mmaps the first block, raises its thresholds when
	 * it is freed, and serves the next ones from this thread's arena,
	 * which keeps them once freed */
	for (int i = 0; i < 4; i++) {
		char *p = xmalloc(3 * 1024 * 1024);

		memset(p, i, 3 * 1024 * 1024);
		free(p);
	}
	*grown = arena_bytes() - before;
	return NULL;
}

static void
test_big_blocks_return(void **state)
{
	pthread_t t;
	size_t grown = 0;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, big_blocks, &grown), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
#if !defined(__SANITIZE_ADDRESS__)
	/* (under ASan, its allocator serves malloc, not glibc's) */
	assert_true(grown < 1024 * 1024);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_blocks_return),
	};

	mem_tune_long_lived();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
