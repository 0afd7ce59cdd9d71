/* SPDX-License-Identifier: MIT */
/*
 * IMAP's date-time (RFC 9051 9): "dd-Mon-yyyy hh:mm:ss +zzzz", the
 * internal date a client gives APPEND, read into unix seconds.
 */
#ifndef HERALD_IMAP_DATE_H
#define HERALD_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads s[0..len), the text of date-time without its quotes: a day of one
 * or two digits (a leading space allowed, date-day-fixed), a month name in
 * any case, a four-digit year from 1970, hh:mm:ss (a leap second :60 is
 * read as :59) and a zone +hhmm or -hhmm (hh up to 23, mm up to 59). The
 * day must exist in that month. Returns 0 with *t_r in unix seconds (UTC),
 * or -1 for anything else (no trailing text, no other spacing).
 */
int imap_date_time_parse(const char *s, size_t len, int64_t *t_r);

#endif
