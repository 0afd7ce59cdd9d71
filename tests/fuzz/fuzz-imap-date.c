/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: APPEND's date-time (imap-date). A date that is read
 * is after 1970 and, written back in UTC with gmtime_r(), reads back as
 * the same second.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "imap/imap-date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
					   "Jun", "Jul", "Aug", "Sep", "Oct",
					   "Nov", "Dec" };
	int64_t t, t2;
	struct tm tm;
	time_t tt;
	char s[64];
	int n;

	if (imap_date_time_parse((const char *)data, size, &t) < 0)
		return 0;
	if (t <= 0)
		abort();
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL)
		abort();
	/* the zone moves a year-9999 date into year 10000: not writable */
	if (tm.tm_year + 1900 > 9999)
		return 0;
	n = snprintf(s, sizeof(s), "%02d-%s-%04d %02d:%02d:%02d +0000",
		     tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	if (imap_date_time_parse(s, (size_t)n, &t2) < 0 || t2 != t)
		abort();
	return 0;
}
