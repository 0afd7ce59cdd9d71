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
	AR_NAME,	/* reading a field name into the buffer */
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
	buf_init(&f->field);
	f->mode = AR_NAME;
	f->line_start = true;
	f->id = id;
	f->out = out;
	f->ctx = ctx;
}

void
smtp_ar_filter_deinit(struct smtp_ar_filter *f)
{
	buf_deinit(&f->field);
}

bool
smtp_ar_filter_in_body(const struct smtp_ar_filter *f)
{
	return f->mode == AR_BODY;
}

/* The field held is complete (or over the limit): keep or drop it. */
static void
field_flush(struct smtp_ar_filter *f)
{
	const char *colon;

	if (f->field.len == 0)
		return;
	if (f->mode == AR_HOLD) {
		colon = memchr(f->field.data, ':', f->field.len);
		if (colon != NULL &&
		    smtp_ar_claims(colon + 1, f->field.len -
				   (size_t)(colon + 1 - f->field.data), f->id)) {
			f->removed++;
			f->mode = AR_DROP;
			f->field.len = 0;
			return;
		}
		f->mode = AR_PASS;
	}
	f->out((const uint8_t *)f->field.data, f->field.len, f->ctx);
	f->field.len = 0;
}

/* The field name is complete (a colon seen, a line end, or too long). */
static void
name_done(struct smtp_ar_filter *f)
{
	static const char ar[] = "Authentication-Results";
	size_t n = f->field.len;
	const char *d = f->field.data;

	if (n > 0 && d[n - 1] == ':') {
		n--;
		while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t'))
			n--;
		if (n == sizeof(ar) - 1 && strncasecmp(d, ar, n) == 0) {
			f->mode = AR_HOLD;
			return;
		}
	}
	f->mode = AR_PASS;
	f->out((const uint8_t *)d, f->field.len, f->ctx);
	f->field.len = 0;
}

void
smtp_ar_filter_feed(struct smtp_ar_filter *f, const uint8_t *data,
		    size_t len)
{
	size_t i = 0, run = 0;	/* data[run..i) is to be written through */

	for (; i < len && f->mode != AR_BODY; i++) {
		uint8_t c;

		if (!f->line_start &&
		    (f->mode == AR_PASS || f->mode == AR_DROP)) {
			/* the rest of a line passed or dropped whole: on to
			 * its LF in one step, not octet by octet */
			const uint8_t *lf = memchr(data + i, '\n', len - i);

			i = lf != NULL ? (size_t)(lf - data) : len - 1;
		}
		c = data[i];
		if (f->line_start) {
			f->line_start = false;
			if (c != ' ' && c != '\t') {
				/* a new field, or the end of the header */
				if (i > run && f->mode == AR_PASS)
					f->out(data + run, i - run, f->ctx);
				field_flush(f);
				run = i;
				if (c == '\r' || c == '\n') {
					f->mode = AR_BODY;
					break;
				}
				f->mode = AR_NAME;
			}
		}
		switch (f->mode) {
		case AR_NAME:
			buf_putc(&f->field, (char)c);
			run = i + 1;
			if (c == ':' || c == '\n' ||
			    f->field.len > SMTP_AR_NAME_MAX)
				name_done(f);
			break;
		case AR_HOLD:
			buf_putc(&f->field, (char)c);
			run = i + 1;
			if (f->field.len > SMTP_AR_FIELD_MAX)
				field_flush(f);
			break;
		case AR_DROP:
			run = i + 1;
			break;
		default:
			break;
		}
		if (c == '\n')
			f->line_start = true;
	}
	if (f->mode == AR_BODY || f->mode == AR_PASS) {
		size_t end = f->mode == AR_BODY ? len : i;

		if (end > run)
			f->out(data + run, end - run, f->ctx);
	}
}

void
smtp_ar_filter_finish(struct smtp_ar_filter *f)
{
	if (f->mode != AR_BODY)
		field_flush(f);
	f->mode = AR_BODY;
}
