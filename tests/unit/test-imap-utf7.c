/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for modified UTF-7 mailbox names: pairs that must convert
 * both ways exactly (CLIENT-QUIRKS "Modified UTF-7 round-trips exactly"),
 * and every non-canonical or invalid spelling refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-utf7.h"
#include "lib/buf.h"
#include "lib/utf8.h"

struct pair {
	const char *utf8;
	const char *utf7;
};

static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&", "&-" },
	{ "a&b&&", "a&-b&-&-" },
	{ "Drafts/\"quoted\" [x] %*\\~", "Drafts/\"quoted\" [x] %*\\~" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	/* RFC 3501 5.1.3 */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	/* U+1F4E7 as a surrogate pair */
	{ "\xf0\x9f\x93\xa7", "&2D3c5w-" },
	{ "a\xf0\x9f\x93\xa7" "b\xe2\x82\xac", "a&2D3c5w-b&IKw-" },
	{ "\xd0\x9e\xd1\x82\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbb\xd0\xb5"
	  "\xd0\xbd\xd0\xbd\xd1\x8b\xd0\xb5",
	  "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&", "&ZeVnLIqe-&-" },
	{ "&\xc3\xa9", "&-&AOk-" },
	{ "\xc3\xa9/\xc3\xa9", "&AOk-/&AOk-" },
	{ "\xc2\xa0", "&AKA-" },
};

static const char *const bad_utf7[] = {
	"&",			/* unterminated */
	"&AOk",
	"a&-&AOk",
	"&U,BTFw-&ZeVnLIqe-",	/* two shifts back to back */
	"&AEE-",		/* "A" must be itself */
	"&ACY-",		/* "&" must be "&-" */
	"&AOl-",		/* padding bits not zero */
	"&AOkA-",		/* an unneeded base64 character */
	"&AO-",			/* half a unit */
	"&2D0-",		/* lone high surrogate */
	"&3D0-",		/* lone low surrogate */
	"&2D3YPQ-",		/* high followed by high */
	"&3OfYPQ-",		/* low then high */
	"&AOk/-",		/* plain base64 "/" */
	"&AOk=-",
	"&AAA-",		/* U+0000 */
	"&AAo-",		/* LF */
	"&AIA-",		/* U+0080, a C1 control */
	"\xc3\xa9",		/* 8-bit octets */
	"a\tb",
	"a\x7f",
};

static const char *const bad_utf8[] = {
	"\xff",
	"\xc3",
	"\xc0\xaf",		/* overlong "/" */
	"\xed\xa0\x80",		/* encoded surrogate */
	"a\x01",
	"a\nb",
	"\x7f",
	"\xc2\x80",
};

static void
test_pairs(void **state)
{
	struct buf out;
	const char *error = NULL;
	size_t i;

	buf_init(&out);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct pair *tc = &pairs[i];

		buf_reset(&out);
		buf_puts(&out, "x");
		if (imap_utf8_to_utf7(tc->utf8, strlen(tc->utf8), &out,
				      &error) != 0)
			fail_msg("encode \"%s\": %s", tc->utf8, error);
		assert_string_equal(out.data + 1, tc->utf7);
		buf_reset(&out);
		buf_puts(&out, "x");
		if (imap_utf7_to_utf8(tc->utf7, strlen(tc->utf7), &out,
				      &error) != 0)
			fail_msg("decode \"%s\": %s", tc->utf7, error);
		assert_string_equal(out.data + 1, tc->utf8);
		assert_int_equal(imap_utf7_is_plain(tc->utf7,
						    strlen(tc->utf7)),
				 strcmp(tc->utf7, tc->utf8) == 0 &&
				 strchr(tc->utf7, '&') == NULL);
	}
	buf_deinit(&out);
}

static void
test_refused(void **state)
{
	struct buf out;
	const char *error;
	size_t i;

	buf_init(&out);
	for (i = 0; i < sizeof(bad_utf7) / sizeof(bad_utf7[0]); i++) {
		buf_reset(&out);
		buf_puts(&out, "keep");
		error = NULL;
		if (imap_utf7_to_utf8(bad_utf7[i], strlen(bad_utf7[i]), &out,
				      &error) != -1)
			fail_msg("\"%s\" decoded to \"%s\"", bad_utf7[i],
				 out.data);
		assert_non_null(error);
		assert_string_equal(out.data, "keep");
	}
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		buf_reset(&out);
		buf_puts(&out, "keep");
		error = NULL;
		if (imap_utf8_to_utf7(bad_utf8[i], strlen(bad_utf8[i]), &out,
				      &error) != -1)
			fail_msg("utf-8 #%zu encoded to \"%s\"", i, out.data);
		assert_non_null(error);
		assert_string_equal(out.data, "keep");
	}
	/* an embedded NUL is refused, not a terminator */
	assert_int_equal(imap_utf8_to_utf7("a\0b", 3, &out, &error), -1);
	assert_int_equal(imap_utf7_to_utf8("a\0b", 3, &out, &error), -1);
	buf_deinit(&out);
}

/* Every BMP character and a spread of astral ones, alone and after a
 * shift, encode to something that decodes back to the same. */
static void
test_round_trip_all(void **state)
{
	struct buf u8, u7, back;
	const char *error;
	uint32_t cp;

	buf_init(&u8);
	buf_init(&u7);
	buf_init(&back);
	for (cp = 0xa0; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 97) {
		uint8_t s[4];
		size_t n = utf8_encode(cp, s);

		if (n == 0)	/* a surrogate */
			continue;
		buf_reset(&u8);
		buf_append(&u8, s, n);
		buf_puts(&u8, "&");
		buf_append(&u8, s, n);
		buf_append(&u8, s, n);
		buf_reset(&u7);
		buf_reset(&back);
		if (imap_utf8_to_utf7(u8.data, u8.len, &u7, &error) != 0 ||
		    imap_utf7_to_utf8(u7.data, u7.len, &back, &error) != 0)
			fail_msg("U+%04X: %s", cp, error);
		assert_int_equal(back.len, u8.len);
		assert_memory_equal(back.data, u8.data, u8.len);
	}
	buf_deinit(&u8);
	buf_deinit(&u7);
	buf_deinit(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_round_trip_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
