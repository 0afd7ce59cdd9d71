/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for APPEND's date-time (imap-date): the RFC 9051 layout with
 * its zones, checked against seconds computed by hand and by timegm(), and
 * every malformed or impossible date refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "imap/imap-date.h"

struct good {
	const char *in;
	int64_t t;
};

static const struct good goods[] = {
	/* RFC 9051 6.3.12's example */
	{ "07-Feb-1994 22:43:04 -0800", 760689784 },
	{ " 7-Feb-1994 22:43:04 -0800", 760689784 },
	{ "7-Feb-1994 22:43:04 -0800", 760689784 },
	{ "07-FEB-1994 22:43:04 -0800", 760689784 },
	{ "08-feb-1994 06:43:04 +0000", 760689784 },
	{ "08-Feb-1994 07:43:04 +0100", 760689784 },
	{ "01-Jan-1970 00:00:01 +0000", 1 },
	{ "29-Feb-2000 12:00:00 +0000", 951825600 },
	{ "29-Feb-2024 00:00:00 +0530", 1709145000 },
	{ "31-Dec-2037 23:59:59 +0000", 2145916799 },
	/* past 2038 */
	{ "01-Jan-2100 00:00:00 +0000", 4102444800 },
	/* a leap second reads as :59 */
	{ "31-Dec-2016 23:59:60 +0000", 1483228799 },
	{ "15-Jun-2020 08:30:00 -2359", 1592209800 + 23 * 3600 + 59 * 60 },
};

static const char *const bads[] = {
	"",
	"07-Feb-1994 22:43:04",
	"07-Feb-1994 22:43:04 -0800 ",
	" 07-Feb-1994 22:43:04 -0800",
	"07 Feb 1994 22:43:04 -0800",
	"07-Fev-1994 22:43:04 -0800",
	"07-Feb-94 22:43:04 -0800",
	"07-Feb-1994  22:43:04 -0800",
	"07-Feb-1994 22:43 -0800",
	"07-Feb-1994 24:00:00 -0800",
	"07-Feb-1994 22:60:00 -0800",
	"07-Feb-1994 22:43:61 -0800",
	"07-Feb-1994 22:43:04 0800",
	"07-Feb-1994 22:43:04 +2400",
	"07-Feb-1994 22:43:04 +0060",
	"07-Feb-1994 22:43:04 +080",
	"00-Feb-1994 22:43:04 -0800",
	"30-Feb-2000 12:00:00 +0000",
	"29-Feb-1900 12:00:00 +0000",
	"29-Feb-2023 12:00:00 +0000",
	"31-Apr-2023 12:00:00 +0000",
	"123-Feb-1994 22:43:04 -0800",
	"31-Dec-1969 23:59:59 +0000",
	"01-Jan-1970 00:00:00 +0000",
	"01-Jan-1970 00:30:00 +0100",
	"07-Feb-1994T22:43:04 -0800",
};

static void
test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		int64_t t = -1;

		if (imap_date_time_parse(goods[i].in, strlen(goods[i].in),
					 &t) != 0)
			fail_msg("refused: '%s'", goods[i].in);
		if (t != goods[i].t)
			fail_msg("'%s': %lld, want %lld", goods[i].in,
				 (long long)t, (long long)goods[i].t);
	}
}

static void
test_bad(void **state)
{
	int64_t t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		if (imap_date_time_parse(bads[i], strlen(bads[i]), &t) == 0)
			fail_msg("accepted: '%s'", bads[i]);
	/* an embedded NUL counts as text */
	assert_int_equal(imap_date_time_parse("07-Feb-1994 22:43:04 -0800\0",
					      27, &t), -1);
	assert_int_equal(t, 42);
}

/* Every day from 1970 to 2200 at noon UTC agrees with timegm(). */
static void
test_against_timegm(void **state)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
					   "Jun", "Jul", "Aug", "Sep", "Oct",
					   "Nov", "Dec" };
	time_t day = 43200;

	(void)state;
	for (; day < (time_t)7258118400; day += 86400 * 7 + 3661) {
		struct tm tm;
		char s[64];
		int64_t t;
		int n;

		gmtime_r(&day, &tm);
		n = snprintf(s, sizeof(s), "%02d-%s-%04d %02d:%02d:%02d +0000",
			     tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
			     tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_int_equal(imap_date_time_parse(s, (size_t)n, &t), 0);
		assert_int_equal(t, (int64_t)day);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_against_timegm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
