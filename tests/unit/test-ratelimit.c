/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for sasl/ratelimit: blocking after N failures, window expiry,
 * marking a key (and that nothing else clears one), sharing across fork(), the eviction bound, long keys, and several
 * threads hammering one table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "sasl/ratelimit.h"

static void
test_block_after_limit(void **state)
{
	struct ratelimit *rl = ratelimit_new(100, 3, 60);
	time_t t = 1000;

	assert_false(ratelimit_is_blocked(rl, "192.0.2.1", t));
	assert_false(ratelimit_fail(rl, "192.0.2.1", t));
	assert_false(ratelimit_fail(rl, "192.0.2.1", t + 1));
	assert_false(ratelimit_is_blocked(rl, "192.0.2.1", t + 1));
	assert_int_equal(ratelimit_failures(rl, "192.0.2.1", t + 1), 2);
	assert_true(ratelimit_fail(rl, "192.0.2.1", t + 2));
	assert_true(ratelimit_is_blocked(rl, "192.0.2.1", t + 2));
	assert_true(ratelimit_is_blocked(rl, "192.0.2.1", t + 59));
	/* Other keys are unaffected. */
	assert_false(ratelimit_is_blocked(rl, "192.0.2.2", t + 2));
	assert_false(ratelimit_is_blocked(rl, "192.0.2.10", t + 2));
	ratelimit_free(&rl);
	assert_null(rl);
	ratelimit_free(&rl);
}

static void
test_window_expiry(void **state)
{
	struct ratelimit *rl = ratelimit_new(100, 2, 60);
	time_t t = 5000;

	ratelimit_fail(rl, "alice@example.org", t);
	ratelimit_fail(rl, "alice@example.org", t + 10);
	assert_true(ratelimit_is_blocked(rl, "alice@example.org", t + 59));
	/* The window opened at t ends at t + 60. */
	assert_false(ratelimit_is_blocked(rl, "alice@example.org", t + 60));
	assert_int_equal(ratelimit_count(rl), 0);
	/* A failure after expiry opens a new window. */
	ratelimit_fail(rl, "alice@example.org", t + 100);
	assert_int_equal(ratelimit_failures(rl, "alice@example.org", t + 100), 1);
	assert_false(ratelimit_is_blocked(rl, "alice@example.org", t + 100));
	ratelimit_fail(rl, "alice@example.org", t + 200);
	assert_int_equal(ratelimit_failures(rl, "alice@example.org", t + 200), 1);
	/* A clock going backwards does not keep a key blocked. */
	ratelimit_fail(rl, "alice@example.org", t + 201);
	assert_true(ratelimit_is_blocked(rl, "alice@example.org", t + 201));
	assert_false(ratelimit_is_blocked(rl, "alice@example.org", t));
	ratelimit_free(&rl);
}

static void
test_mark_restarts_window(void **state)
{
	struct ratelimit *seen = ratelimit_new(10, 1, 60);

	assert_false(ratelimit_is_blocked(seen, "k", 1));
	ratelimit_mark(seen, "k", 1);
	assert_true(ratelimit_is_blocked(seen, "k", 60));
	/* a new mark restarts the window: seen until 50 + 60 */
	ratelimit_mark(seen, "k", 50);
	assert_int_equal(ratelimit_failures(seen, "k", 100), 1);
	assert_true(ratelimit_is_blocked(seen, "k", 109));
	assert_false(ratelimit_is_blocked(seen, "k", 110));
	ratelimit_free(&seen);
}

static void
test_limit_zero_never_blocks(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 0, 60);
	int i;

	for (i = 0; i < 100; i++)
		assert_false(ratelimit_fail(rl, "k", 1));
	assert_false(ratelimit_is_blocked(rl, "k", 1));
	assert_int_equal(ratelimit_failures(rl, "k", 1), 100);
	ratelimit_free(&rl);
}

static void
test_eviction_bound(void **state)
{
	struct ratelimit *rl = ratelimit_new(50, 1, 600);
	char key[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_true(ratelimit_fail(rl, key, 10));
		assert_true(ratelimit_count(rl) <= 50);
	}
	assert_int_equal(ratelimit_count(rl), 50);
	/* The oldest were evicted, the newest 50 are kept. */
	assert_false(ratelimit_is_blocked(rl, "10.0.0.0", 10));
	assert_true(ratelimit_is_blocked(rl, "10.0.3.231", 10)); /* 999 */
	assert_true(ratelimit_is_blocked(rl, "10.0.3.182", 10)); /* 950 */
	assert_false(ratelimit_is_blocked(rl, "10.0.3.181", 10)); /* 949 */
	/* A fresh failure makes an old key the most recent one. */
	ratelimit_fail(rl, "10.0.3.182", 10);
	ratelimit_fail(rl, "new", 10);
	assert_true(ratelimit_is_blocked(rl, "10.0.3.182", 10));
	assert_false(ratelimit_is_blocked(rl, "10.0.3.183", 10));
	ratelimit_free(&rl);
}

/* A blocked key is not pushed out by a flood of keys with one failure
 * each (user names anyone may try): they are evicted first, so the
 * account being guessed at keeps its limit. */
static void
test_eviction_spares_blocked(void **state)
{
	struct ratelimit *rl = ratelimit_new(16, 3, 600);
	char key[32];

	(void)state;
	for (int i = 0; i < 3; i++)
		ratelimit_fail(rl, "alice@example.test", 10);
	assert_true(ratelimit_is_blocked(rl, "alice@example.test", 10));
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "junk%d@example.test", i);
		assert_false(ratelimit_fail(rl, key, 11));
	}
	assert_int_equal(ratelimit_count(rl), 16);
	assert_true(ratelimit_is_blocked(rl, "alice@example.test", 12));
	/* its window still ends */
	assert_false(ratelimit_is_blocked(rl, "alice@example.test", 610));
	ratelimit_free(&rl);
}

static void
test_long_keys(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 2, 60);
	char a[1000], b[1000];

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[998] = 'y';	/* the whole key counts, however long */
	ratelimit_fail(rl, a, 1);
	assert_false(ratelimit_fail(rl, b, 1));
	assert_true(ratelimit_fail(rl, a, 1));
	ratelimit_fail(rl, "", 1);
	assert_int_equal(ratelimit_count(rl), 3);
	ratelimit_free(&rl);
}

/* A table made before fork() is one table: failures counted in two
 * children block the key in the parent (the workers of one server). */
static void
test_shared_across_fork(void **state)
{
	struct ratelimit *rl = ratelimit_new(100, 4, 60);
	int status;

	for (int c = 0; c < 2; c++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			ratelimit_fail(rl, "192.0.2.1", 5);
			ratelimit_fail(rl, "192.0.2.1", 5);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(ratelimit_failures(rl, "192.0.2.1", 5), 4);
	assert_true(ratelimit_is_blocked(rl, "192.0.2.1", 5));
	ratelimit_free(&rl);
}

static void *
hammer(void *arg)
{
	struct ratelimit *rl = arg;
	char key[16];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 300);
		ratelimit_fail(rl, key, i / 1000);
		(void)ratelimit_is_blocked(rl, key, i / 1000);
		if (i % 7 == 0)
			ratelimit_mark(rl, key, i / 1000);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct ratelimit *rl = ratelimit_new(128, 5, 3);
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, rl), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(ratelimit_count(rl) <= 128);
	ratelimit_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_after_limit),
		cmocka_unit_test(test_window_expiry),
		cmocka_unit_test(test_mark_restarts_window),
		cmocka_unit_test(test_limit_zero_never_blocks),
		cmocka_unit_test(test_eviction_bound),
		cmocka_unit_test(test_eviction_spares_blocked),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_shared_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
