/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for UTF-8 validation: the RFC 3629 boundaries, overlongs,
 * surrogates, truncation and code points above U+10FFFF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/utf8.h"

#define S(x) x, sizeof(x) - 1

struct utf8_case {
	const char *s;
	size_t len;
	bool valid;
	size_t prefix;	/* valid prefix length */
};

static const struct utf8_case utf8_cases[] = {
	{ S(""), true, 0 },
	{ S("plain ascii"), true, 11 },
	{ S("\0"), true, 1 },
	{ S("caf\xc3\xa9"), true, 5 },
	{ S("\xe2\x82\xac"), true, 3 },			/* U+20AC */
	{ S("\xf0\x9f\x98\x80"), true, 4 },		/* U+1F600 */
	{ S("\xc2\x80"), true, 2 },			/* U+0080 */
	{ S("\xdf\xbf"), true, 2 },			/* U+07FF */
	{ S("\xe0\xa0\x80"), true, 3 },			/* U+0800 */
	{ S("\xef\xbf\xbf"), true, 3 },			/* U+FFFF */
	{ S("\xed\x9f\xbf"), true, 3 },			/* U+D7FF */
	{ S("\xee\x80\x80"), true, 3 },			/* U+E000 */
	{ S("\xf0\x90\x80\x80"), true, 4 },		/* U+10000 */
	{ S("\xf4\x8f\xbf\xbf"), true, 4 },		/* U+10FFFF */
	{ S("\xc0\x80"), false, 0 },			/* overlong NUL */
	{ S("\xc1\xbf"), false, 0 },			/* overlong */
	{ S("\xe0\x80\xaf"), false, 0 },		/* overlong '/' */
	{ S("\xe0\x9f\xbf"), false, 0 },		/* overlong U+07FF */
	{ S("\xf0\x8f\xbf\xbf"), false, 0 },		/* overlong U+FFFF */
	{ S("\xed\xa0\x80"), false, 0 },		/* U+D800 */
	{ S("\xed\xbf\xbf"), false, 0 },		/* U+DFFF */
	{ S("\xf4\x90\x80\x80"), false, 0 },		/* U+110000 */
	{ S("\xf5\x80\x80\x80"), false, 0 },
	{ S("\xff"), false, 0 },
	{ S("\xfe"), false, 0 },
	{ S("\x80"), false, 0 },			/* lone continuation */
	{ S("ab\xbf"), false, 2 },
	{ S("ab\xc3"), false, 2 },			/* truncated */
	{ S("ab\xe2\x82"), false, 2 },
	{ S("ab\xf0\x9f\x98"), false, 2 },
	{ S("\xc3\x28"), false, 0 },			/* bad continuation */
	{ S("\xe2\x28\xa1"), false, 0 },
	{ S("\xe2\x82\x28"), false, 0 },
	{ S("\xf0\x9f\x98\x28"), false, 0 },
	{ S("x\xc3\xa9y\xed\xa0\x80"), false, 4 },
};

static void
test_utf8_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		const struct utf8_case *tc = &utf8_cases[i];
		const uint8_t *p = (const uint8_t *)tc->s;

		assert_int_equal(utf8_is_valid(p, tc->len), tc->valid);
		assert_int_equal(utf8_valid_prefix(p, tc->len), tc->prefix);
	}
}

static void
test_utf8_decode(void **state)
{
	uint32_t cp = 0;

	assert_int_equal(utf8_decode((const uint8_t *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode((const uint8_t *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(utf8_decode((const uint8_t *)"\xe2\x82\xac", 3, &cp),
			 3);
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(utf8_decode((const uint8_t *)"\xf4\x8f\xbf\xbf", 4,
				     &cp), 4);
	assert_int_equal(cp, 0x10FFFF);
	assert_int_equal(utf8_decode((const uint8_t *)"\xe2\x82\xac", 2, &cp),
			 0);
	assert_int_equal(utf8_decode((const uint8_t *)"x", 0, &cp), 0);
}

/* Every 1- and 2-octet sequence and a sweep of 3-octet ones agree with a
 * decoder written from the code point ranges. */
static void
test_utf8_exhaustive_2(void **state)
{
	unsigned a, b, c;
	uint8_t s[3];
	uint32_t cp;

	for (a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		assert_int_equal(utf8_is_valid(s, 1), a < 0x80);
		for (b = 0; b < 256; b++) {
			bool want;

			s[1] = (uint8_t)b;
			want = (a < 0x80 && b < 0x80) ||
				(a >= 0xC2 && a <= 0xDF && b >= 0x80 &&
				 b <= 0xBF);
			assert_int_equal(utf8_is_valid(s, 2), want);
		}
	}
	for (a = 0xE0; a <= 0xEF; a++) {
		for (b = 0x80; b <= 0xBF; b++) {
			for (c = 0; c < 256; c += 0x11) {
				bool want;

				s[0] = (uint8_t)a;
				s[1] = (uint8_t)b;
				s[2] = (uint8_t)c;
				cp = ((a & 0x0F) << 12) | ((b & 0x3F) << 6) |
					(c & 0x3F);
				want = c >= 0x80 && c <= 0xBF &&
					cp >= 0x800 &&
					!(cp >= 0xD800 && cp <= 0xDFFF);
				assert_int_equal(utf8_is_valid(s, 3), want);
			}
		}
	}
}

/* Every code point encodes to what utf8_decode reads back whole; the
 * surrogates and values past U+10FFFF have no form. */
static void
test_utf8_encode(void **state)
{
	uint8_t s[4];
	uint32_t cp, back;
	size_t n;

	(void)state;
	for (cp = 0; cp <= 0x10FFFF; cp++) {
		n = utf8_encode(cp, s);
		if (cp >= 0xD800 && cp <= 0xDFFF) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 :
				 cp < 0x10000 ? 3 : 4);
		assert_int_equal(utf8_decode(s, n, &back), n);
		assert_int_equal(back, cp);
	}
	assert_int_equal(utf8_encode(0x110000, s), 0);
	assert_int_equal(utf8_encode(UINT32_MAX, s), 0);
}

static void
test_utf8_non_ascii(void **state)
{
	assert_false(utf8_has_non_ascii((const uint8_t *)"abc", 3));
	assert_true(utf8_has_non_ascii((const uint8_t *)"ab\xc3\xa9", 4));
	assert_false(utf8_has_non_ascii((const uint8_t *)"", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_utf8_decode),
		cmocka_unit_test(test_utf8_exhaustive_2),
		cmocka_unit_test(test_utf8_encode),
		cmocka_unit_test(test_utf8_non_ascii),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
