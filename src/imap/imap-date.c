/* SPDX-License-Identifier: MIT */
/*
 * APPEND's date-time (RFC 9051 9 date-time) to unix seconds: a fixed
 * layout read field by field, days counted without the C library's time
 * zone (timegm is a GNU extension and reads the TZ database).
 */
#include <stdbool.h>
#include <strings.h>

#include "imap/imap-date.h"

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				      30, 31 };

	return m == 1 && is_leap(y) ? 29 : days[m];
}

/* Days from 1970-01-01 to y-m-d (m 0-11), y >= 1970. */
static int64_t
days_since_epoch(int64_t y, int m, int d)
{
	int64_t days = 0;

	for (int64_t i = 1970; i < y; i++)
		days += is_leap(i) ? 366 : 365;
	for (int i = 0; i < m; i++)
		days += month_days(y, i);
	return days + d - 1;
}

/* n digits at s[*pos], into *v. */
static bool
digits(const char *s, size_t len, size_t *pos, int n, int *v)
{
	int x = 0;

	if (*pos + (size_t)n > len)
		return false;
	for (int i = 0; i < n; i++) {
		char c = s[*pos + (size_t)i];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*pos += (size_t)n;
	*v = x;
	return true;
}

static bool
expect(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos >= len || s[*pos] != c)
		return false;
	(*pos)++;
	return true;
}

int
imap_date_time_parse(const char *s, size_t len, int64_t *t_r)
{
	size_t pos = 0;
	int day, month = -1, year, hh, mm, ss, zh, zm, sign;
	int64_t t;

	/* date-day-fixed is SP DIGIT or 2DIGIT; a lone digit is common
	 * enough from clients to be read too */
	if (pos < len && s[pos] == ' ')
		pos++;
	if (!digits(s, len, &pos, 1, &day))
		return -1;
	if (pos < len && s[pos] >= '0' && s[pos] <= '9') {
		int d2;

		if (s[0] == ' ' || !digits(s, len, &pos, 1, &d2))
			return -1;
		day = day * 10 + d2;
	}
	if (!expect(s, len, &pos, '-') || pos + 3 > len)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s + pos, months[i], 3) == 0)
			month = i;
	pos += 3;
	if (month < 0 || !expect(s, len, &pos, '-') ||
	    !digits(s, len, &pos, 4, &year) || !expect(s, len, &pos, ' ') ||
	    !digits(s, len, &pos, 2, &hh) || !expect(s, len, &pos, ':') ||
	    !digits(s, len, &pos, 2, &mm) || !expect(s, len, &pos, ':') ||
	    !digits(s, len, &pos, 2, &ss) || !expect(s, len, &pos, ' ') ||
	    pos >= len || (s[pos] != '+' && s[pos] != '-'))
		return -1;
	sign = s[pos++] == '-' ? -1 : 1;
	if (!digits(s, len, &pos, 2, &zh) || !digits(s, len, &pos, 2, &zm) ||
	    pos != len)
		return -1;
	if (year < 1970 || day < 1 || day > month_days(year, month) ||
	    hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	if (ss == 60)
		ss = 59;
	t = days_since_epoch(year, month, day) * 86400 + hh * 3600 + mm * 60 +
	    ss - sign * (zh * 3600 + zm * 60);
	/* 0 is "now" to the store; the first minutes of 1970 east of UTC
	 * are not worth a special case */
	if (t <= 0)
		return -1;
	*t_r = t;
	return 0;
}
