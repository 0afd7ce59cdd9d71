/* SPDX-License-Identifier: MIT */
/* lib/array: append, push, index, delete, clear, free, growth, bounds. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/array.h"

struct item {
	int id;
	char name[16];
};

static void
test_empty(void **state)
{
	ARRAY(int) a = { 0 };

	assert_int_equal(array_len(&a), 0);
	assert_true(array_is_empty(&a));
	assert_null(array_data(&a));
	array_free(&a);
	array_clear(&a);
	assert_int_equal(array_len(&a), 0);
}

static void
test_append_and_index(void **state)
{
	ARRAY(struct item) a = { 0 };

	for (int i = 0; i < 1000; i++) {
		struct item it = { .id = i };

		snprintf(it.name, sizeof(it.name), "n%d", i);
		array_append(&a, &it);
	}
	assert_int_equal(array_len(&a), 1000);
	assert_false(array_is_empty(&a));
	for (int i = 0; i < 1000; i++) {
		char want[16];

		snprintf(want, sizeof(want), "n%d", i);
		assert_int_equal(array_idx(&a, (size_t)i)->id, i);
		assert_string_equal(array_idx(&a, (size_t)i)->name, want);
		assert_int_equal(array_data(&a)[i].id, i);
	}
	/* doubling: far fewer than 1000 reallocations left this capacity */
	assert_true(a.arr.cap >= 1000 && a.arr.cap < 2000);
	array_free(&a);
	assert_int_equal(array_len(&a), 0);
	assert_null(array_data(&a));
}

static void
test_push_is_zeroed(void **state)
{
	ARRAY(struct item) a = { 0 };
	struct item *it;

	it = array_push(&a);
	it->id = 7;
	memset(it->name, 'x', sizeof(it->name));
	array_clear(&a);
	/* the reused slot comes back zeroed */
	it = array_push(&a);
	assert_int_equal(it->id, 0);
	assert_int_equal(it->name[0], '\0');
	assert_int_equal(array_len(&a), 1);
	array_free(&a);
}

static void
test_clear_keeps_memory(void **state)
{
	ARRAY(char *) a = { 0 };
	char *s = "x";

	for (int i = 0; i < 10; i++)
		array_append(&a, &s);
	size_t cap = a.arr.cap;
	void *data = a.arr.data;

	array_clear(&a);
	assert_int_equal(array_len(&a), 0);
	array_append(&a, &s);
	assert_int_equal(a.arr.cap, cap);
	assert_ptr_equal(a.arr.data, data);
	assert_string_equal(*array_idx(&a, 0), "x");
	array_free(&a);
}

static void
test_delete(void **state)
{
	ARRAY(int) a = { 0 };

	for (int i = 0; i < 5; i++)
		array_append(&a, &i);
	array_delete(&a, 0);	/* 1 2 3 4 */
	array_delete(&a, 3);	/* 1 2 3 */
	array_delete(&a, 1);	/* 1 3 */
	assert_int_equal(array_len(&a), 2);
	assert_int_equal(*array_idx(&a, 0), 1);
	assert_int_equal(*array_idx(&a, 1), 3);
	array_free(&a);
}

/* Appending one of its own elements while the array grows: the source
 * moves with the realloc. */
static void
test_append_own_element(void **state)
{
	ARRAY(struct item) a = { 0 };

	for (int i = 0; i < 4; i++)
		array_append(&a, &((struct item){ .id = i, .name = "same" }));
	assert_int_equal(a.arr.len, a.arr.cap);
	array_append(&a, array_idx(&a, 2));
	assert_int_equal(array_len(&a), 5);
	assert_int_equal(array_idx(&a, 4)->id, 2);
	assert_string_equal(array_idx(&a, 4)->name, "same");
	array_free(&a);
}

/* Runs fn in a child and tells whether it died of SIGABRT (panic). */
static bool
aborts(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* panic's log line is expected; keep the test output clean */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(1);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
index_past_end(void)
{
	ARRAY(int) a = { 0 };
	int v = 1;

	array_append(&a, &v);
	(void)array_idx(&a, 1);
}

static void
delete_past_end(void)
{
	ARRAY(int) a = { 0 };

	array_delete(&a, 0);
}

static void
test_bounds_panic(void **state)
{
	assert_true(aborts(index_past_end));
	assert_true(aborts(delete_past_end));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append_and_index),
		cmocka_unit_test(test_push_is_zeroed),
		cmocka_unit_test(test_clear_keeps_memory),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_append_own_element),
		cmocka_unit_test(test_bounds_panic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
