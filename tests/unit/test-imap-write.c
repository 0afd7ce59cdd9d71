/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the IMAP response string primitives: each input and the
 * exact octets it must produce, checked by hand against RFC 9051 section 9
 * (atom, quoted, literal, literal8, nstring, astring, mailbox).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-write.h"
#include "lib/buf.h"

enum kind { K_STRING, K_NSTRING, K_ASTRING, K_MAILBOX };

struct tcase {
	enum kind kind;
	unsigned int flags;
	const char *in;		/* NULL: nil */
	size_t in_len;
	const char *expect;	/* NULL: imap_write_mailbox() fails */
	size_t expect_len;
};

#define S(x) x, sizeof(x) - 1
#define U IMAP_WRITE_UTF8
#define B IMAP_WRITE_BINARY

static const struct tcase cases[] = {
	/* string: quoted unless CR, LF, NUL or (without UTF8=ACCEPT) 8-bit */
	{ K_STRING, 0, S(""), S("\"\"") },
	{ K_STRING, 0, S("abc"), S("\"abc\"") },
	{ K_STRING, 0, S("NIL"), S("\"NIL\"") },
	{ K_STRING, 0, S("a b"), S("\"a b\"") },
	{ K_STRING, 0, S("a\"b\\c"), S("\"a\\\"b\\\\c\"") },
	{ K_STRING, 0, S("\"\\"), S("\"\\\"\\\\\"") },
	{ K_STRING, 0, S("a\tb\x7f"), S("\"a\tb\x7f\"") },
	{ K_STRING, 0, S("a\r\nb"), S("{4}\r\na\r\nb") },
	{ K_STRING, 0, S("a\rb"), S("{3}\r\na\rb") },
	{ K_STRING, 0, S("a\nb"), S("{3}\r\na\nb") },
	{ K_STRING, 0, S("x\"\r\n"), S("{4}\r\nx\"\r\n") },
	{ K_STRING, 0, S("a\0b"), S("{3}\r\na\x80" "b") },
	{ K_STRING, U, S("a\0b"), S("{3}\r\na\x80" "b") },
	{ K_STRING, B, S("a\0b"), S("~{3}\r\na\0b") },
	{ K_STRING, B, S("abc"), S("\"abc\"") },
	{ K_STRING, B, S("a\nb"), S("{3}\r\na\nb") },
	{ K_STRING, 0, S("caf\xc3\xa9"), S("{5}\r\ncaf\xc3\xa9") },
	{ K_STRING, U, S("caf\xc3\xa9"), S("\"caf\xc3\xa9\"") },
	{ K_STRING, U, S("\xf0\x9f\x93\xa7\""), S("\"\xf0\x9f\x93\xa7\\\"\"") },
	{ K_STRING, U, S("\xff"), S("{1}\r\n\xff") },
	{ K_STRING, U, S("\xc3"), S("{1}\r\n\xc3") },
	{ K_STRING, U, S("\xed\xa0\x80"), S("{3}\r\n\xed\xa0\x80") },
	/* nstring */
	{ K_NSTRING, 0, NULL, 0, S("NIL") },
	{ K_NSTRING, 0, S(""), S("\"\"") },
	{ K_NSTRING, 0, S("NIL"), S("\"NIL\"") },
	/* astring: an atom where ASTRING-CHAR allows, "]" included */
	{ K_ASTRING, 0, S("INBOX"), S("INBOX") },
	{ K_ASTRING, 0, S("[Gmail]/Sent"), S("[Gmail]/Sent") },
	{ K_ASTRING, 0, S("a]b"), S("a]b") },
	{ K_ASTRING, 0, S("~x.y-z_&+!#$'=?@^`|:;,<>/"), S("~x.y-z_&+!#$'=?@^`|:;,<>/") },
	{ K_ASTRING, 0, S(""), S("\"\"") },
	{ K_ASTRING, 0, S("nil"), S("\"nil\"") },
	{ K_ASTRING, 0, S("NILS"), S("NILS") },
	{ K_ASTRING, 0, S("a b"), S("\"a b\"") },
	{ K_ASTRING, 0, S("a(b"), S("\"a(b\"") },
	{ K_ASTRING, 0, S("a)b"), S("\"a)b\"") },
	{ K_ASTRING, 0, S("a{b"), S("\"a{b\"") },
	{ K_ASTRING, 0, S("a%"), S("\"a%\"") },
	{ K_ASTRING, 0, S("*"), S("\"*\"") },
	{ K_ASTRING, 0, S("\\Seen"), S("\"\\\\Seen\"") },
	{ K_ASTRING, 0, S("a\"b"), S("\"a\\\"b\"") },
	{ K_ASTRING, 0, S("a\x7f"), S("\"a\x7f\"") },
	{ K_ASTRING, 0, S("a\x01"), S("\"a\x01\"") },
	{ K_ASTRING, 0, S("a\r\n"), S("{3}\r\na\r\n") },
	{ K_ASTRING, U, S("\xc3\xa9"), S("\"\xc3\xa9\"") },
	{ K_ASTRING, 0, S("\xc3\xa9"), S("{2}\r\n\xc3\xa9") },
	/* mailbox: INBOX rule, modified UTF-7 unless UTF8=ACCEPT */
	{ K_MAILBOX, 0, S("inbox"), S("INBOX") },
	{ K_MAILBOX, U, S("InBoX"), S("INBOX") },
	{ K_MAILBOX, 0, S("Inbox/sub"), S("Inbox/sub") },
	{ K_MAILBOX, 0, S("INBOXES"), S("INBOXES") },
	{ K_MAILBOX, 0, S("Sent Items"), S("\"Sent Items\"") },
	{ K_MAILBOX, 0, S("nil"), S("\"nil\"") },
	{ K_MAILBOX, 0, S(""), S("\"\"") },
	{ K_MAILBOX, 0, S("a&b"), S("a&-b") },
	{ K_MAILBOX, 0, S("Entw\xc3\xbcrfe"), S("Entw&APw-rfe") },
	{ K_MAILBOX, U, S("Entw\xc3\xbcrfe"), S("\"Entw\xc3\xbcrfe\"") },
	{ K_MAILBOX, U, S("a&b"), S("a&b") },
	{ K_MAILBOX, 0, S("\xe6\x97\xa5 \"x\""), S("\"&ZeU- \\\"x\\\"\"") },
	{ K_MAILBOX, 0, S("a%b"), S("\"a%b\"") },
	{ K_MAILBOX, 0, S("\xff"), NULL, 0 },
	{ K_MAILBOX, U, S("\xff"), NULL, 0 },
	{ K_MAILBOX, 0, S("a\x01"), NULL, 0 },
	{ K_MAILBOX, U, S("a\r\nb"), NULL, 0 },
	{ K_MAILBOX, 0, S("a\0b"), NULL, 0 },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		const char *error = NULL;
		struct buf out;
		int ret = 0;

		buf_init(&out);
		buf_puts(&out, "* ");
		switch (c->kind) {
		case K_STRING:
			imap_write_string(&out, c->in, c->in_len, c->flags);
			break;
		case K_NSTRING:
			imap_write_nstring(&out, c->in, c->in_len, c->flags);
			break;
		case K_ASTRING:
			imap_write_astring(&out, c->in, c->in_len, c->flags);
			break;
		case K_MAILBOX:
			ret = imap_write_mailbox(&out, c->in, c->in_len,
						 c->flags, &error);
			break;
		}
		if (c->expect == NULL) {
			if (ret != -1 || error == NULL || out.len != 2)
				fail_msg("case %zu: expected a refusal", i);
		} else {
			if (ret != 0 || out.len != c->expect_len + 2 ||
			    memcmp(out.data + 2, c->expect,
				   c->expect_len) != 0)
				fail_msg("case %zu: got [%s]", i, out.data);
		}
		buf_deinit(&out);
	}
}

/* Past IMAP_WRITE_QUOTED_MAX a quotable string becomes a literal. */
static void
test_long(void **state)
{
	static char s[IMAP_WRITE_QUOTED_MAX + 2];
	struct buf out;

	(void)state;
	memset(s, 'a', sizeof(s));
	buf_init(&out);
	imap_write_string(&out, s, IMAP_WRITE_QUOTED_MAX, 0);
	assert_int_equal(out.len, IMAP_WRITE_QUOTED_MAX + 2);
	assert_int_equal(out.data[0], '"');
	assert_int_equal(out.data[out.len - 1], '"');

	buf_reset(&out);
	imap_write_string(&out, s, IMAP_WRITE_QUOTED_MAX + 1, 0);
	assert_memory_equal(out.data + 8, s, IMAP_WRITE_QUOTED_MAX + 1);
	assert_memory_equal(out.data, "{1025}\r\n", 8);
	assert_int_equal(out.len, 8 + IMAP_WRITE_QUOTED_MAX + 1);

	/* an atom is never cut into a literal by length */
	buf_reset(&out);
	imap_write_astring(&out, s, sizeof(s), 0);
	assert_int_equal(out.len, sizeof(s));
	buf_deinit(&out);
}

/* A megabyte with every octet value: one literal, octets unchanged except
 * NUL (0x80 in text, kept in literal8). */
static void
test_all_octets(void **state)
{
	size_t n = 1024 * 1024;
	char *s = test_malloc(n);
	struct buf out;
	size_t hdr;

	(void)state;
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 256);
	buf_init(&out);
	imap_write_string(&out, s, n, B);
	hdr = strlen("~{1048576}\r\n");
	assert_int_equal(out.len, hdr + n);
	assert_memory_equal(out.data, "~{1048576}\r\n", hdr);
	assert_memory_equal(out.data + hdr, s, n);

	buf_reset(&out);
	imap_write_string(&out, s, n, U);
	hdr = strlen("{1048576}\r\n");
	assert_int_equal(out.len, hdr + n);
	assert_memory_equal(out.data, "{1048576}\r\n", hdr);
	for (size_t i = 0; i < n; i++) {
		unsigned char want = i % 256 == 0 ? 0x80 : (unsigned char)s[i];

		if ((unsigned char)out.data[hdr + i] != want)
			fail_msg("octet %zu", i);
	}
	buf_deinit(&out);
	test_free(s);
}

static void
test_number_list(void **state)
{
	struct imap_write_list list, inner;
	struct buf out;

	(void)state;
	buf_init(&out);
	imap_write_list_begin(&list, &out);
	imap_write_list_end(&list);
	assert_string_equal(out.data, "()");

	buf_reset(&out);
	imap_write_list_begin(&list, &out);
	imap_write_number(imap_write_list_item(&list), 0);
	imap_write_number(imap_write_list_item(&list), 4294967295u);
	imap_write_number(imap_write_list_item(&list), UINT64_MAX);
	imap_write_nstring(imap_write_list_item(&list), NULL, 0, 0);
	imap_write_list_begin(&inner, imap_write_list_item(&list));
	imap_write_string(imap_write_list_item(&inner), "x y", 3, 0);
	imap_write_astring(imap_write_list_item(&inner), "z", 1, 0);
	imap_write_list_end(&inner);
	imap_write_list_end(&list);
	assert_string_equal(out.data,
			    "(0 4294967295 18446744073709551615 NIL "
			    "(\"x y\" z))");
	buf_deinit(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_all_octets),
		cmocka_unit_test(test_number_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
