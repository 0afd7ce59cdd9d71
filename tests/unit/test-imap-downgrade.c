/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for imap-downgrade: UTF-8 header text rewritten for sessions
 * without UTF8=ACCEPT (encoded words, empty groups for addresses with no
 * ASCII form), and everything else left byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-downgrade.h"
#include "lib/buf.h"

static void
check_text(const char *in, const char *expect)
{
	struct buf out;

	buf_init(&out);
	imap_downgrade_text(&out, in, strlen(in), " ");
	assert_string_equal(out.data != NULL ? out.data : "", expect);
	buf_deinit(&out);
}

static void
test_text(void **state)
{
	(void)state;
	/* ASCII and 8-bit that is not UTF-8 stay */
	check_text("plain text", "plain text");
	check_text("caf\xe9 x", "caf\xe9 x");
	/* one word; two adjacent 8-bit words share one encoding, so the
	 * space between them survives decoding (RFC 2047 6.2) */
	check_text("caf\xc3\xa9 au lait", "=?UTF-8?B?Y2Fmw6k=?= au lait");
	check_text("\xc3\xa9 \xc3\xa9", "=?UTF-8?B?w6kgw6k=?=");
	/* a quoted value keeps its quotes, a parameter its "=" */
	check_text("attachment; filename=\"\xc3\xa9.txt\"",
		   "attachment; filename=\"=?UTF-8?B?w6kudHh0?=\"");
	check_text("(\xc3\xa9)", "(=?UTF-8?B?w6k=?=)");
}

/* Long text: words of at most 75 characters, cut between characters. */
static void
test_long(void **state)
{
	char in[301];
	struct buf out;
	size_t words = 0;

	(void)state;
	/* 100 three-octet characters */
	for (size_t i = 0; i < 300; i += 3)
		memcpy(in + i, "\xe2\x82\xac", 3);
	in[300] = '\0';
	buf_init(&out);
	imap_downgrade_encode(&out, in, 300, "\r\n ");
	for (const char *p = out.data; p != NULL; words++) {
		const char *end = strstr(p, "?=");

		assert_non_null(end);
		assert_true(end + 2 - p <= 75);
		assert_memory_equal(p, "=?UTF-8?B?", 10);
		p = strstr(end, "\r\n =?");
		if (p != NULL)
			p += 3;
	}
	/* 45 octets (15 characters) a word */
	assert_int_equal(words, 7);
	buf_deinit(&out);
}

static void
check_header(const char *in, const char *expect)
{
	struct buf out;

	buf_init(&out);
	imap_downgrade_header(&out, (const uint8_t *)in, strlen(in));
	assert_string_equal(out.data != NULL ? out.data : "", expect);
	buf_deinit(&out);
}

static void
test_header(void **state)
{
	(void)state;
	/* untouched: ASCII, raw Latin-1, the empty line, bare LF */
	check_header("Subject: hi\r\nX: caf\xe9\r\n\r\n",
		     "Subject: hi\r\nX: caf\xe9\r\n\r\n");
	check_header("Subject: hi\n\n", "Subject: hi\n\n");
	/* fields rewritten one by one, the rest as stored */
	check_header("Subject: caf\xc3\xa9\r\nX-A: b\r\n\r\n",
		     "Subject: =?UTF-8?B?Y2Fmw6k=?=\r\nX-A: b\r\n\r\n");
	/* addresses: a UTF-8 name is encoded, an address without an ASCII
	 * form becomes a group named after it, others stay */
	check_header("To: Zo\xc3\xab <z@b.example>, x@b.example,\r\n"
		     " \xc3\xa9@b.example\r\n\r\n",
		     "To: =?UTF-8?B?Wm/Dqw==?= <z@b.example>, x@b.example, "
		     "=?UTF-8?B?w6lAYi5leGFtcGxl?=:;\r\n\r\n");
	/* groups keep their shape; a quoted name is quoted again */
	check_header("Cc: Team: \"A, B\" <a@b.example>, \xc3\xa9@x.example;\r\n",
		     "Cc: Team: \"A, B\" <a@b.example>, "
		     "=?UTF-8?B?w6lAeC5leGFtcGxl?=:;;\r\n");
	/* Return-Path has no group form: the text treatment */
	check_header("Return-Path: <\xc3\xa9@x.example>\r\n",
		     "Return-Path: <=?UTF-8?B?w6lAeC5leGFtcGxl?=>\r\n");
	/* an address field that does not parse is text */
	check_header("From: <<\xc3\xa9\r\n",
		     "From: <<=?UTF-8?B?w6k=?=\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
