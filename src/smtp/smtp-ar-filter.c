/* SPDX-License-Identifier: MIT */
/*
 * Drops forged Authentication-Results fields (ours by their authserv-id,
 * RFC 8601 5) from a streaming message: field names are read, an
 * Authentication-Results field is held until its id is known, every other
 * octet is written through at once. docs/mailauth.md "Inbound checks".
 */
#include <string.h>
#include <strings.h>

#include "smtp/smtp-ar-filter.h"

enum ar_mode {
	AR_NAME,	/* reading a field name that may be ours */
	AR_PASS,	/* the field is kept: written through */
	AR_HOLD,	/* an Authentication-Results field: buffered */
	AR_DROP,	/* one that claims our id: dropped */
	AR_BODY,	/* past the header */
};

static bool
is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Skips CFWS (RFC 5322 3.2.2, comments nested); returns the new index. */
static size_t
skip_cfws(const char *p, size_t len, size_t i)
{
	while (i < len) {
		unsigned char c = (unsigned char)p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
		} else if (c == '(') {
			unsigned depth = 0;

			for (; i < len; i++) {
				if (p[i] == '\\' && i + 1 < len)
					i++;
				else if (p[i] == '(')
					depth++;
				else if (p[i] == ')' && --depth == 0)
					break;
			}
			if (i < len)
				i++;
		} else {
			break;
		}
	}
	return i;
}

bool
smtp_ar_claims(const char *p, size_t len, const char *id)
{
	size_t i = skip_cfws(p, len, 0), idlen = strlen(id), n = 0;
	bool match = true;

	/* compared as it is read: no copy */
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			if (p[i] == '\r' || p[i] == '\n')
				continue;
			if (n >= idlen || strncasecmp(p + i, id + n, 1) != 0)
				match = false;
			n++;
		}
		if (i >= len)
			return false;
		i++;
	} else {
		for (; i < len; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c <= ' ' || c == 0x7f || is_tspecial(c))
				break;
			if (n >= idlen || strncasecmp(p + i, id + n, 1) != 0)
				match = false;
			n++;
		}
	}
	if (!match || n != idlen || n == 0)
		return false;
	if (i == len)
		return true;
	unsigned char c = (unsigned char)p[i];

	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' ||
	       c == ';';
}

void
smtp_ar_filter_init(struct smtp_ar_filter *f, const char *id,
		    smtp_ar_out_fn *out, void *ctx)
{
	memset(f, 0, sizeof(*f));
	/* f->field stays without storage until a field is held: most
	 * messages have none (and no allocation for them) */
	f->mode = AR_NAME;
	f->line_start = true;
	f->id = id;
	f->out = out;
	f->ctx = ctx;
}

void
smtp_ar_filter_deinit(struct smtp_ar_filter *f)
{
	if (f->field.data != NULL)
		buf_deinit(&f->field);
}

bool
smtp_ar_filter_in_body(const struct smtp_ar_filter *f)
{
	return f->mode == AR_BODY;
}

static void
hold(struct smtp_ar_filter *f, const uint8_t *data, size_t len)
{
	if (f->field.data == NULL)
		buf_init(&f->field);
	buf_append(&f->field, data, len);
}

/* Writes the octets held (a field kept, a name that was not ours). */
static void
held_out(struct smtp_ar_filter *f)
{
	if (f->field.len > 0)
		f->out((const uint8_t *)f->field.data, f->field.len, f->ctx);
	if (f->field.data != NULL)
		buf_reset(&f->field);
}

/* The Authentication-Results field held is complete (or over
 * SMTP_AR_FIELD_MAX): dropped when it claims our id, else written. The
 * rest of it, if any, goes the same way (the mode returned). */
static enum ar_mode
held_decide(struct smtp_ar_filter *f)
{
	const char *colon = memchr(f->field.data, ':', f->field.len);

	if (colon != NULL &&
	    smtp_ar_claims(colon + 1, f->field.len -
			   (size_t)(colon + 1 - f->field.data), f->id)) {
		f->removed++;
		buf_reset(&f->field);
		return AR_DROP;
	}
	held_out(f);
	return AR_PASS;
}

/* One octet c of a field name, the f->name_len-th: AR_NAME while it may
 * still be "Authentication-Results" (any case), then optional SP/HTAB
 * and the colon (AR_HOLD), within SMTP_AR_NAME_MAX + 1 octets; AR_PASS
 * as soon as it cannot be. A line end before the colon: no name. */
static enum ar_mode
name_octet(size_t n, uint8_t c)
{
	static const char ar[] = "authentication-results";
	const size_t arlen = sizeof(ar) - 1;

	if (n <= arlen) {
		uint8_t l = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;

		return l == (uint8_t)ar[n - 1] ? AR_NAME : AR_PASS;
	}
	if (c == ':')
		return n <= SMTP_AR_NAME_MAX + 1 ? AR_HOLD : AR_PASS;
	if ((c == ' ' || c == '\t') && n <= SMTP_AR_NAME_MAX)
		return AR_NAME;
	return AR_PASS;
}

/* Line by line: a kept line goes on to its LF with memchr and whole runs
 * of kept fields go out in one call (most headers: one call a piece);
 * only a name that may be "Authentication-Results" is looked at octet
 * by octet, and only such a field is buffered. data[run..i) is kept
 * input not written yet. */
void
smtp_ar_filter_feed(struct smtp_ar_filter *f, const uint8_t *data,
		    size_t len)
{
	size_t i = 0, run = 0, nstart = 0;

	while (i < len && f->mode != AR_BODY) {
		if (f->line_start) {
			uint8_t c = data[i];

			f->line_start = false;
			if (c != ' ' && c != '\t') {
				/* a new field, or the end of the header */
				if (f->mode == AR_HOLD) {
					held_decide(f);
					run = i;
				} else if (f->mode == AR_DROP) {
					run = i;
				} else if (f->mode == AR_NAME) {
					/* only at the very start */
					held_out(f);
				}
				if (c == '\r' || c == '\n') {
					f->mode = AR_BODY;
					break;
				}
				f->mode = AR_NAME;
				f->name_len = 0;
				nstart = i;
			}
		}
		switch (f->mode) {
		case AR_PASS:
		case AR_DROP:
		case AR_HOLD: {
			const uint8_t *lf = memchr(data + i, '\n', len - i);
			size_t end = lf != NULL ? (size_t)(lf - data) + 1 : len;

			if (f->mode == AR_HOLD) {
				size_t room = SMTP_AR_FIELD_MAX + 1 -
					      f->field.len;

				if (end - i >= room) {
					/* judged on its first octets; the
					 * rest goes the same way */
					hold(f, data + i, room);
					i += room;
					f->mode = held_decide(f);
					run = i;
					f->line_start = data[i - 1] == '\n';
					continue;
				}
				hold(f, data + i, end - i);
			}
			i = end;
			if (f->mode != AR_PASS)
				run = i;
			f->line_start = lf != NULL;
			break;
		}
		case AR_NAME: {
			uint8_t c = data[i++];
			enum ar_mode m;

			if (c == '\n') {
				m = AR_PASS;
				f->line_start = true;
			} else {
				m = name_octet(++f->name_len, c);
			}
			if (m == AR_PASS) {
				/* not ours: what was held of it first */
				held_out(f);
			} else if (m == AR_HOLD) {
				if (nstart > run)
					f->out(data + run, nstart - run,
					       f->ctx);
				hold(f, data + nstart, i - nstart);
				run = i;
			}
			f->mode = m;
			break;
		}
		default:
			break;
		}
	}
	switch (f->mode) {
	case AR_BODY:
		if (len > run)
			f->out(data + run, len - run, f->ctx);
		break;
	case AR_PASS:
		if (i > run)
			f->out(data + run, i - run, f->ctx);
		break;
	case AR_NAME:
		/* the start of the name waits for the next piece */
		if (nstart > run)
			f->out(data + run, nstart - run, f->ctx);
		if (len > nstart)
			hold(f, data + nstart, len - nstart);
		break;
	default:
		break;
	}
}

void
smtp_ar_filter_finish(struct smtp_ar_filter *f)
{
	if (f->mode == AR_HOLD)
		held_decide(f);
	else if (f->mode == AR_NAME)
		held_out(f);
	f->mode = AR_BODY;
}
