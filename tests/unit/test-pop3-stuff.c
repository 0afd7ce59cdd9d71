/* SPDX-License-Identifier: MIT */
/* RETR/TOP output: dot-stuffing, CRLF, TOP's header/body cut, UIDL form;
 * each message fed in one piece, byte by byte and in random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "pop3/pop3-stuff.h"

#include "feed-split.h"

struct render {
	struct pop3_stuffer s;
	struct buf *out;
};

/* The stuffer takes every octet until TOP's line count is reached; then
 * it is done and takes no more. */
static size_t
render_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct render *r = ctx;
	size_t used;

	if (pop3_stuffer_is_done(&r->s))
		return 0;
	used = pop3_stuffer_feed(&r->s, data, len, r->out);
	assert_true(used <= len);
	if (used < len)
		assert_true(pop3_stuffer_is_done(&r->s));
	return used;
}

static void
render(const char *msg, bool top, uint32_t lines, unsigned way,
       struct buf *out)
{
	struct render r = { .out = out };

	pop3_stuffer_init(&r.s, top, lines);
	feed_split(msg, strlen(msg), way, 0, render_feed, &r);
	pop3_stuffer_finish(&r.s, out);
}

static const struct {
	const char *msg;
	bool top;
	uint32_t lines;
	const char *want;
} cases[] = {
	{ "A: b\r\n\r\nbody\r\n", false, 0, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ ".\r\n", false, 0, "..\r\n.\r\n" },
	{ "A: b\r\n\r\n.hidden\r\n..two\r\nmid.dle\r\n.", false, 0,
	  "A: b\r\n\r\n..hidden\r\n...two\r\nmid.dle\r\n..\r\n.\r\n" },
	{ "no newline", false, 0, "no newline\r\n.\r\n" },
	{ "bare\nlf\n", false, 0, "bare\r\nlf\r\n.\r\n" },
	{ "ends in cr\r", false, 0, "ends in cr\r\n.\r\n" },
	{ "", false, 0, ".\r\n" },
	{ ".\n.\n", false, 0, "..\r\n..\r\n.\r\n" },
	{ "\n.", false, 0, "\r\n..\r\n.\r\n" },
	{ "\r\n.\r\n..\r\n\n.x\r\r\n", false, 0,
	  "\r\n..\r\n...\r\n\r\n..x\r\r\n.\r\n" },
	{ "A: b\r\nC: d\r\n\r\nl1\r\nl2\r\nl3\r\n", true, 0,
	  "A: b\r\nC: d\r\n\r\n.\r\n" },
	{ "A: b\r\nC: d\r\n\r\nl1\r\n.l2\r\nl3\r\n", true, 2,
	  "A: b\r\nC: d\r\n\r\nl1\r\n..l2\r\n.\r\n" },
	{ "A: b\r\n\r\nl1\r\n", true, 10, "A: b\r\n\r\nl1\r\n.\r\n" },
	{ "A: b\r\nC: d\r\n", true, 0, "A: b\r\nC: d\r\n.\r\n" },
	{ "A: b\n\nl1\nl2\n", true, 1, "A: b\r\n\r\nl1\r\n.\r\n" },
	{ "A: b\r\n\r\nlast", true, 5, "A: b\r\n\r\nlast\r\n.\r\n" },
};

static void
test_stuffing(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned way = 0; way < FEED_RANDOM + 40; way++) {
			struct buf out;

			buf_init(&out);
			render(cases[i].msg, cases[i].top, cases[i].lines, way,
			       &out);
			if (strcmp(out.data, cases[i].want) != 0)
				fail_msg("case %zu way %u", i, way);
			buf_deinit(&out);
		}
	}
}

/* A long CRLF message survives stuffing and un-stuffing unchanged. */
static void
test_roundtrip(void **state)
{
	struct buf msg, out, back;
	size_t i;

	buf_init(&msg);
	buf_init(&out);
	buf_init(&back);
	buf_puts(&msg, "Subject: x\r\n\r\n");
	for (i = 0; i < 5000; i++)
		buf_printf(&msg, "%s%zu\r\n", i % 7 == 0 ? "." : "line", i);
	render(msg.data, false, 0, FEED_RANDOM + 1, &out);
	/* un-stuff like a client: drop the final ".\r\n" and one leading
	 * dot of each line */
	assert_true(out.len >= 3);
	buf_truncate(&out, out.len - 3);
	for (i = 0; i < out.len;) {
		const char *lf = memchr(out.data + i, '\n', out.len - i);
		size_t end = (size_t)(lf - out.data) + 1;

		if (out.data[i] == '.')
			i++;
		buf_append(&back, out.data + i, end - i);
		i = end;
	}
	assert_int_equal(back.len, msg.len);
	assert_memory_equal(back.data, msg.data, msg.len);
	buf_deinit(&msg);
	buf_deinit(&out);
	buf_deinit(&back);
}

static void
test_uidl(void **state)
{
	char u[POP3_UIDL_SIZE];

	pop3_uidl_format(1700000000u, 1, u);
	assert_string_equal(u, "000000016553F100");
	pop3_uidl_format(0xffffffffu, 0xfffffffeu, u);
	assert_string_equal(u, "FFFFFFFEFFFFFFFF");
	assert_int_equal(strlen(u), POP3_UIDL_SIZE - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stuffing),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_uidl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
