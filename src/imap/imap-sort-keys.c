/* SPDX-License-Identifier: MIT */
/*
 * The SORT and THREAD keys of one message, from its header fields: the
 * sent date (RFC 5256 2.2), the base subject, the first address of From,
 * To and Cc and the display names (RFC 5957), Message-ID and the
 * references. Computed once per body and kept as a flat record (flags,
 * date, NUL-terminated strings), so that a SORT over a mailbox the worker
 * has seen reads no header at all.
 */
#include "imap/imap-sort.h"

#include <string.h>
#include <strings.h>

#include "mail/basesubject.h"
#include "mail/thread-keys.h"
#include "lib/unicasemap.h"
#include "mail/encoded-word.h"
#include "mail/header-address.h"
#include "mail/header-field.h"

#define REC_MAGIC 0x53		/* 'S' */
#define REC_HAS_DATE 0x01
#define REC_REPLY 0x02
/* magic, flags, 8 octets of date, 4 of the reference count */
#define REC_HEAD 14

enum rec_field {
	F_DATE,
	F_SUBJECT,
	F_FROM,
	F_TO,
	F_CC,
	F_MESSAGE_ID,
	F_IN_REPLY_TO,
	F_REFERENCES,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"Date", "Subject", "From", "To", "Cc", "Message-ID", "In-Reply-To",
	"References",
};

/* ---- dates ---- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 1..max digits: their value, or -1. */
static int
digits(const char *v, size_t len, size_t *i, unsigned min, unsigned max,
       unsigned *n_r)
{
	int val = 0;
	unsigned n = 0;

	while (*i < len && n < max && is_digit(v[*i])) {
		val = val * 10 + (v[*i] - '0');
		(*i)++;
		n++;
	}
	if (n < min || (*i < len && is_digit(v[*i])))
		return -1;
	if (n_r != NULL)
		*n_r = n;
	return val;
}

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* RFC 5322 4.3 obs-zone; military zones are -0000 (unknown): UTC. */
static int
zone_name(const char *z, size_t n)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "UTC", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};

	for (size_t k = 0; k < sizeof(zones) / sizeof(zones[0]); k++)
		if (strlen(zones[k].name) == n &&
		    strncasecmp(z, zones[k].name, n) == 0)
			return zones[k].minutes;
	return 0;
}

int
imap_sort_date_parse(const char *v, size_t len, int64_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
					  31, 30, 31 };
	size_t i = 0;
	int day, year, hour, min, sec = 0, zone = 0;
	unsigned m = 0, ny;

	mail_skip_cfws(v, len, &i);
	/* [day-of-week ","] */
	if (i + 3 <= len && is_alpha(v[i])) {
		size_t k = i;

		while (k < len && is_alpha(v[k]))
			k++;
		i = k;
		mail_skip_cfws(v, len, &i);
		if (i >= len || v[i] != ',')
			return -1;
		i++;
		mail_skip_cfws(v, len, &i);
	}
	day = digits(v, len, &i, 1, 2, NULL);
	mail_skip_cfws(v, len, &i);
	if (day < 1 || i + 3 > len)
		return -1;
	for (unsigned k = 0; k < 12; k++)
		if (strncasecmp(v + i, months + 3 * k, 3) == 0)
			m = k + 1;
	if (m == 0 || (i + 3 < len && is_alpha(v[i + 3])))
		return -1;
	i += 3;
	mail_skip_cfws(v, len, &i);
	year = digits(v, len, &i, 2, 4, &ny);
	if (year < 0)
		return -1;
	if (ny == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ny == 3)
		year += 1900;
	if ((unsigned)day > mdays[m - 1] ||
	    (m == 2 && day == 29 &&
	     !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)))
		return -1;
	mail_skip_cfws(v, len, &i);
	hour = digits(v, len, &i, 1, 2, NULL);
	mail_skip_cfws(v, len, &i);
	if (hour < 0 || hour > 23 || i >= len || v[i] != ':')
		return -1;
	i++;
	mail_skip_cfws(v, len, &i);
	min = digits(v, len, &i, 1, 2, NULL);
	if (min < 0 || min > 59)
		return -1;
	mail_skip_cfws(v, len, &i);
	if (i < len && v[i] == ':') {
		i++;
		mail_skip_cfws(v, len, &i);
		sec = digits(v, len, &i, 1, 2, NULL);
		if (sec < 0 || sec > 60)
			return -1;
		mail_skip_cfws(v, len, &i);
	}
	/* zone: +hhmm / -hhmm, a name, or none (RFC 5256 2.2: an invalid
	 * zone is UTC) */
	if (i + 5 <= len && (v[i] == '+' || v[i] == '-') &&
	    is_digit(v[i + 1]) && is_digit(v[i + 2]) && is_digit(v[i + 3]) &&
	    is_digit(v[i + 4])) {
		int hh = (v[i + 1] - '0') * 10 + (v[i + 2] - '0');
		int mm = (v[i + 3] - '0') * 10 + (v[i + 4] - '0');

		if (mm < 60)
			zone = (v[i] == '-' ? -1 : 1) * (hh * 60 + mm);
	} else if (i < len && is_alpha(v[i])) {
		size_t k = i;

		while (k < len && is_alpha(v[k]))
			k++;
		zone = zone_name(v + i, k - i);
	}
	*t_r = days_from_civil(year, m, (unsigned)day) * 86400 +
	       hour * 3600 + min * 60 + sec - (int64_t)zone * 60;
	return 0;
}

/* ---- message ids ---- */

bool
imap_sort_msgid_next(const char *v, size_t len, size_t *pos,
		     const char **id_r, size_t *id_len_r)
{
	return mail_msgid_next(v, len, pos, id_r, id_len_r);
}

/* ---- the record ---- */

static void
put_str(struct buf *out, const char *s, size_t len)
{
	buf_append(out, s, len);
	buf_putc(out, '\0');
}

/* The casemapped form of s, NUL-terminated in out (a NUL inside s
 * ends it). */
static void
put_casemapped(struct buf *out, const char *s, size_t len)
{
	const char *nul = memchr(s, '\0', len);

	if (nul != NULL)
		len = (size_t)(nul - s);
	unicasemap_append(s, len, out);
	buf_putc(out, '\0');
}

/* The first mailbox of an address field: its addr-mailbox (the local
 * part, RFC 5256 3) and its RFC 5957 display form (the decoded display
 * name, else the addr-spec). */
static void
put_address(struct buf *out, const char *v, size_t len, bool have)
{
	struct header_address_entry *entries = NULL;
	size_t n = 0;
	const struct header_address_entry *e = NULL;
	struct header_address_limits lim;
	struct buf disp;

	header_address_limits_default(&lim);
	if (have && header_address_list_parse_entries(v, len, &lim, &entries,
						      &n, NULL, NULL) == 0) {
		for (size_t k = 0; k < n && e == NULL; k++)
			if (entries[k].type == HEADER_ADDRESS_ENTRY_MAILBOX)
				e = &entries[k];
	}
	buf_init(&disp);
	if (e != NULL) {
		put_casemapped(out, e->local, strlen(e->local));
		if (e->name != NULL)
			encoded_word_decode_lenient(e->name, strlen(e->name),
						    &disp);
		/* RFC 5957 3: an empty display name counts as none */
		while (disp.len > 0 && is_wsp(disp.data[disp.len - 1]))
			disp.len--;
		if (disp.len == 0) {
			buf_reset(&disp);
			buf_puts(&disp, e->local);
			if (e->domain != NULL)
				buf_printf(&disp, "@%s", e->domain);
		}
	} else {
		buf_putc(out, '\0');
	}
	header_address_entries_free(&entries, n);
	/* the display form goes in second: the caller reorders */
	put_casemapped(out, disp.data, disp.len);
	buf_deinit(&disp);
}

void
imap_sort_record_build(const char *hdr, size_t len, struct buf *out)
{
	struct header_field_iter it;
	struct header_field f;
	struct {
		const char *v;
		size_t len;
		bool have;
	} fv[F_COUNT];
	struct buf from, to, cc;
	int64_t date = 0;
	uint8_t flags = 0;
	size_t head = out->len, pos, idlen, nrefs = 0, total = 0, skip = 0;
	const char *id;
	int fsrc;

	memset(fv, 0, sizeof(fv));
	header_field_iter_init(&it, hdr, len);
	while (header_field_next(&it, &f)) {
		for (int k = 0; k < F_COUNT; k++) {
			if (!fv[k].have && header_field_is(&f,
							   field_names[k])) {
				fv[k].v = f.value;
				fv[k].len = f.value_len;
				fv[k].have = true;
			}
		}
	}
	if (fv[F_DATE].have &&
	    imap_sort_date_parse(fv[F_DATE].v, fv[F_DATE].len, &date) == 0)
		flags |= REC_HAS_DATE;
	buf_putc(out, (char)REC_MAGIC);
	buf_putc(out, 0);
	for (int k = 0; k < 8; k++)
		buf_putc(out, (char)((uint64_t)date >> (8 * k)));
	for (int k = 0; k < 4; k++)
		buf_putc(out, 0);
	/* subject */
	{
		struct buf base;

		buf_init(&base);
		if (fv[F_SUBJECT].have &&
		    mail_base_subject(fv[F_SUBJECT].v, fv[F_SUBJECT].len,
				      &base))
			flags |= REC_REPLY;
		put_casemapped(out, base.data, base.len);
		buf_deinit(&base);
	}
	/* from, to, cc: addr-mailbox then display form each */
	buf_init(&from);
	buf_init(&to);
	buf_init(&cc);
	put_address(&from, fv[F_FROM].v, fv[F_FROM].len, fv[F_FROM].have);
	put_address(&to, fv[F_TO].v, fv[F_TO].len, fv[F_TO].have);
	put_address(&cc, fv[F_CC].v, fv[F_CC].len, fv[F_CC].have);
	/* record order: from, to, cc, display from, display to */
	buf_puts(out, from.data);
	buf_putc(out, '\0');
	buf_puts(out, to.data);
	buf_putc(out, '\0');
	buf_puts(out, cc.data);
	buf_putc(out, '\0');
	buf_puts(out, from.data + strlen(from.data) + 1);
	buf_putc(out, '\0');
	buf_puts(out, to.data + strlen(to.data) + 1);
	buf_putc(out, '\0');
	buf_deinit(&from);
	buf_deinit(&to);
	buf_deinit(&cc);
	/* Message-ID: "" for none (an id is never empty) */
	pos = 0;
	if (fv[F_MESSAGE_ID].have &&
	    imap_sort_msgid_next(fv[F_MESSAGE_ID].v, fv[F_MESSAGE_ID].len,
				 &pos, &id, &idlen))
		put_str(out, id, idlen);
	else
		buf_putc(out, '\0');
	/* references: References, or else In-Reply-To's first id; only
	 * the last IMAP_SORT_REFS_MAX */
	fsrc = F_REFERENCES;
	if (fv[F_REFERENCES].have) {
		pos = 0;
		while (imap_sort_msgid_next(fv[F_REFERENCES].v,
					    fv[F_REFERENCES].len, &pos, &id,
					    &idlen))
			total++;
	}
	if (total == 0) {
		fsrc = F_IN_REPLY_TO;
		pos = 0;
		if (fv[F_IN_REPLY_TO].have &&
		    imap_sort_msgid_next(fv[F_IN_REPLY_TO].v,
					 fv[F_IN_REPLY_TO].len, &pos, &id,
					 &idlen)) {
			put_str(out, id, idlen);
			nrefs = 1;
		}
	} else {
		skip = total > IMAP_SORT_REFS_MAX ? total - IMAP_SORT_REFS_MAX :
		       0;
		pos = 0;
		for (size_t k = 0; imap_sort_msgid_next(fv[fsrc].v,
							fv[fsrc].len, &pos,
							&id, &idlen); k++) {
			if (k < skip)
				continue;
			put_str(out, id, idlen);
			nrefs++;
		}
	}
	out->data[head + 1] = (char)flags;
	for (int k = 0; k < 4; k++)
		out->data[head + 10 + k] = (char)(nrefs >> (8 * k));
}

/* The NUL-terminated string at *p within end, or NULL. */
static const char *
take(const char **p, const char *end)
{
	const char *s = *p, *nul;

	if (s >= end)
		return NULL;
	nul = memchr(s, '\0', (size_t)(end - s));
	if (nul == NULL)
		return NULL;
	*p = nul + 1;
	return s;
}

bool
imap_sort_record_parse(const char *data, size_t len,
		       struct imap_sort_rec *rec_r)
{
	const unsigned char *u = (const unsigned char *)data;
	const char *p = data + REC_HEAD, *end = data + len;
	uint64_t date = 0;
	uint32_t n = 0;
	const char **strs[] = {
		&rec_r->subject, &rec_r->from, &rec_r->to, &rec_r->cc,
		&rec_r->display_from, &rec_r->display_to, &rec_r->msgid,
	};

	memset(rec_r, 0, sizeof(*rec_r));
	if (len < REC_HEAD || u[0] != REC_MAGIC)
		return false;
	rec_r->has_date = (u[1] & REC_HAS_DATE) != 0;
	rec_r->reply = (u[1] & REC_REPLY) != 0;
	for (int k = 0; k < 8; k++)
		date |= (uint64_t)u[2 + k] << (8 * k);
	rec_r->date = (int64_t)date;
	for (int k = 0; k < 4; k++)
		n |= (uint32_t)u[10 + k] << (8 * k);
	for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
		*strs[k] = take(&p, end);
		if (*strs[k] == NULL)
			return false;
	}
	if (rec_r->msgid[0] == '\0')
		rec_r->msgid = NULL;
	if (n > IMAP_SORT_REFS_MAX)
		return false;
	rec_r->refs = p;
	rec_r->n_refs = n;
	for (uint32_t k = 0; k < n; k++)
		if (take(&p, end) == NULL)
			return false;
	return p == end;
}
