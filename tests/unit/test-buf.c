/* SPDX-License-Identifier: MIT */
/*
 * lib/buf: growth, printf, consume and truncate, and buf_steal(), whose
 * buf may go out of scope without buf_deinit() (an IMAP session leaked 64
 * octets per tagged reply when buf_steal() allocated a fresh buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>

#include "lib/buf.h"

static void
test_append_printf_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_memory_equal(b.data, "0,1,2,", 6);
	buf_consume(&b, 2);
	assert_memory_equal(b.data, "1,2,", 4);
	buf_truncate(&b, 2);
	assert_string_equal(b.data, "1,");
	buf_reset(&b);
	assert_string_equal(b.data, "");
	buf_deinit(&b);
}

static void
test_steal_leaves_usable_empty(void **state)
{
	struct buf b;
	char *a, *e;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "hello");
	a = buf_steal(&b);
	assert_string_equal(a, "hello");
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* every operation works on the emptied buf */
	buf_reset(&b);
	buf_truncate(&b, 0);
	buf_consume(&b, 0);
	e = buf_steal(&b);	/* stealing nothing gives "" to free */
	assert_string_equal(e, "");
	buf_printf(&b, "%s-%d", "x", 42);
	assert_string_equal(b.data, "x-42");
	buf_putc(&b, '!');
	assert_string_equal(b.data, "x-42!");
	buf_deinit(&b);
	buf_deinit(&b);		/* twice is harmless */
	free(a);
	free(e);
}

/* A million steals from bufs that go out of scope: with one fresh buffer
 * left behind per steal, the heap grew by 80 MB. */
static void
test_steal_out_of_scope_holds_nothing(void **state)
{
	size_t before = mallinfo2().uordblks;

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		struct buf b;
		char *p;

		buf_init(&b);
		buf_puts(&b, "a OK NOOP completed\r\n");
		p = buf_steal(&b);
		free(p);
	}
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(mallinfo2().uordblks - before < 1024 * 1024);
#else
	(void)before;	/* LeakSanitizer checks it at exit */
#endif
}

static void
test_put_uint(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_put_uint(&b, 0);
	buf_putc(&b, ' ');
	buf_put_uint(&b, 2048);
	buf_putc(&b, ' ');
	buf_put_uint(&b, UINT64_MAX);
	assert_string_equal(b.data, "0 2048 18446744073709551615");
	buf_deinit(&b);
}

static void
expect_dec(uint64_t n, const char *want)
{
	/* a guard octet on each side: exactly the digits are written */
	char out[BUF_UINT_DEC_MAX + 2], text[32];
	size_t len;

	memset(out, '#', sizeof(out));
	len = buf_uint_to_dec(out + 1, n);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out + 1, want, len);
	assert_int_equal(out[0], '#');
	assert_int_equal(out[len + 1], '#');
	snprintf(text, sizeof(text), "%llu", (unsigned long long)n);
	assert_string_equal(text, want);
}

static void
test_uint_to_dec(void **state)
{
	char want[32];
	uint64_t p = 1;

	(void)state;
	expect_dec(0, "0");
	expect_dec(9, "9");
	expect_dec(10, "10");
	expect_dec(UINT64_MAX, "18446744073709551615");
	/* every power of ten that fits, and the numbers either side */
	for (int i = 0; i < 20; i++, p *= 10) {
		/* "1" then i zeros */
		memset(want, '0', sizeof(want));
		want[0] = '1';
		want[i + 1] = '\0';
		expect_dec(p, want);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)p - 1);
		expect_dec(p - 1, want);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)p + 1);
		expect_dec(p + 1, want);
	}
}

/* buf_init_size: the room asked for in its one allocation (no regrowth
 * up to size), and an ordinary buf afterwards */
static void
test_init_size(void **state)
{
	struct buf b;
	char *before;

	(void)state;
	buf_init_size(&b, 1000);
	assert_true(b.cap >= 1001);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	before = b.data;
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "0123456789");
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.len, 1000);
	buf_puts(&b, "more");
	assert_int_equal(b.len, 1004);
	assert_memory_equal(b.data + 1000, "more", 5);
	buf_deinit(&b);
	buf_init_size(&b, 0);
	buf_puts(&b, "x");
	assert_string_equal(b.data, "x");
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_printf_consume),
		cmocka_unit_test(test_put_uint),
		cmocka_unit_test(test_uint_to_dec),
		cmocka_unit_test(test_init_size),
		cmocka_unit_test(test_steal_leaves_usable_empty),
		cmocka_unit_test(test_steal_out_of_scope_holds_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
