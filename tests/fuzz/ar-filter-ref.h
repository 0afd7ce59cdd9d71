/* SPDX-License-Identifier: MIT */
/*
 * The Authentication-Results filter as it was before it went line by
 * line (octet by octet, every field name buffered): the reference the
 * fuzz target and test-smtp-ar-filter compare the streaming one with,
 * output and count, for any input cut anyhow. Header-only, static.
 */
#ifndef HERALD_TESTS_AR_FILTER_REF_H
#define HERALD_TESTS_AR_FILTER_REF_H

#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "smtp/smtp-ar-filter.h"

enum ref_ar_mode {
	REF_AR_NAME,	/* reading a field name into the buffer */
	REF_AR_PASS,	/* the field is kept: written through */
	REF_AR_HOLD,	/* an Authentication-Results field: buffered */
	REF_AR_DROP,	/* one that claims our id: dropped */
	REF_AR_BODY,	/* past the header */
};

static void
ref_ar_filter_init(struct smtp_ar_filter *f, const char *id,
		    smtp_ar_out_fn *out, void *ctx)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->field);
	f->mode = REF_AR_NAME;
	f->line_start = true;
	f->id = id;
	f->out = out;
	f->ctx = ctx;
}

static void
ref_ar_filter_deinit(struct smtp_ar_filter *f)
{
	buf_deinit(&f->field);
}

/* The field held is complete (or over the limit): keep or drop it. */
static void
ref_field_flush(struct smtp_ar_filter *f)
{
	const char *colon;

	if (f->field.len == 0)
		return;
	if (f->mode == REF_AR_HOLD) {
		colon = memchr(f->field.data, ':', f->field.len);
		if (colon != NULL &&
		    smtp_ar_claims(colon + 1, f->field.len -
				   (size_t)(colon + 1 - f->field.data), f->id)) {
			f->removed++;
			f->mode = REF_AR_DROP;
			f->field.len = 0;
			return;
		}
		f->mode = REF_AR_PASS;
	}
	f->out((const uint8_t *)f->field.data, f->field.len, f->ctx);
	f->field.len = 0;
}

/* The field name is complete (a colon seen, a line end, or too long). */
static void
ref_name_done(struct smtp_ar_filter *f)
{
	static const char ar[] = "Authentication-Results";
	size_t n = f->field.len;
	const char *d = f->field.data;

	if (n > 0 && d[n - 1] == ':') {
		n--;
		while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t'))
			n--;
		if (n == sizeof(ar) - 1 && strncasecmp(d, ar, n) == 0) {
			f->mode = REF_AR_HOLD;
			return;
		}
	}
	f->mode = REF_AR_PASS;
	f->out((const uint8_t *)d, f->field.len, f->ctx);
	f->field.len = 0;
}

static void
ref_ar_filter_feed(struct smtp_ar_filter *f, const uint8_t *data,
		    size_t len)
{
	size_t i = 0, run = 0;	/* data[run..i) is to be written through */

	for (; i < len && f->mode != REF_AR_BODY; i++) {
		uint8_t c;

		if (!f->line_start &&
		    (f->mode == REF_AR_PASS || f->mode == REF_AR_DROP)) {
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
				if (i > run && f->mode == REF_AR_PASS)
					f->out(data + run, i - run, f->ctx);
				ref_field_flush(f);
				run = i;
				if (c == '\r' || c == '\n') {
					f->mode = REF_AR_BODY;
					break;
				}
				f->mode = REF_AR_NAME;
			}
		}
		switch (f->mode) {
		case REF_AR_NAME:
			buf_putc(&f->field, (char)c);
			run = i + 1;
			if (c == ':' || c == '\n' ||
			    f->field.len > SMTP_AR_NAME_MAX)
				ref_name_done(f);
			break;
		case REF_AR_HOLD:
			buf_putc(&f->field, (char)c);
			run = i + 1;
			if (f->field.len > SMTP_AR_FIELD_MAX)
				ref_field_flush(f);
			break;
		case REF_AR_DROP:
			run = i + 1;
			break;
		default:
			break;
		}
		if (c == '\n')
			f->line_start = true;
	}
	if (f->mode == REF_AR_BODY || f->mode == REF_AR_PASS) {
		size_t end = f->mode == REF_AR_BODY ? len : i;

		if (end > run)
			f->out(data + run, end - run, f->ctx);
	}
}

static void
ref_ar_filter_finish(struct smtp_ar_filter *f)
{
	if (f->mode != REF_AR_BODY)
		ref_field_flush(f);
	f->mode = REF_AR_BODY;
}

#endif
