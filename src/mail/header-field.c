/* SPDX-License-Identifier: MIT */
/*
 * Header section iteration (RFC 5322 2.2, 2.2.3 folding, 4.5 obsolete
 * white space before the colon). See header-field.h.
 */
#include "mail/header-field.h"

#include <string.h>
#include <strings.h>

void
header_field_iter_init(struct header_field_iter *it, const char *msg,
		       size_t len)
{
	it->msg = msg;
	it->len = len;
	it->pos = 0;
	it->lf_known = false;
}

static bool
hf_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 2.2 ftext: printable US-ASCII but the colon. */
static bool
hf_is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* The index of the first LF at or after i (len: none). */
static size_t
hf_next_lf(struct header_field_iter *it, size_t i)
{
	const char *lf;

	if (it->lf_known && it->lf_from <= i && i <= it->lf)
		return it->lf;
	lf = memchr(it->msg + i, '\n', it->len - i);
	it->lf_known = true;
	it->lf_from = i;
	it->lf = lf != NULL ? (size_t)(lf - it->msg) : it->len;
	return it->lf;
}

/* The end of the line starting at i (the index of its break, or len).
 * memchr, not an octet loop: every delivery and the DMARC From search
 * read each header through here. The CR is looked for only up to the
 * next LF and the LF search resumes where the last one stopped, so a
 * header of lone CRs or of bare LFs stays linear. */
static size_t
hf_line_end(struct header_field_iter *it, size_t i)
{
	size_t lf = hf_next_lf(it, i);
	const char *cr = memchr(it->msg + i, '\r', lf - i);

	return cr != NULL ? (size_t)(cr - it->msg) : lf;
}

/* The index after the line break (CRLF, LF or a lone CR) at i. */
static size_t
hf_skip_break(const struct header_field_iter *it, size_t i)
{
	if (i < it->len && it->msg[i] == '\r') {
		i++;
		if (i < it->len && it->msg[i] == '\n')
			i++;
	} else if (i < it->len && it->msg[i] == '\n') {
		i++;
	}
	return i;
}

bool
header_field_next(struct header_field_iter *it, struct header_field *field_r)
{
	const char *m = it->msg;
	size_t start, eol, colon, end;

	/* a lone CR at the start of a line breaks it for some readers
	 * but ends the header for none */
	while (it->pos < it->len && m[it->pos] == '\r' &&
	       (it->pos + 1 >= it->len || m[it->pos + 1] != '\n'))
		it->pos++;
	if (it->pos >= it->len || m[it->pos] == '\n' ||
	    (m[it->pos] == '\r' && it->pos + 1 < it->len &&
	     m[it->pos + 1] == '\n'))
		return false;
	start = it->pos;
	eol = hf_line_end(it, start);
	memset(field_r, 0, sizeof(*field_r));
	{
		const char *c = memchr(m + start, ':', eol - start);

		colon = c != NULL ? (size_t)(c - m) : eol;
	}
	if (hf_is_wsp(m[start]) || colon == eol) {
		/* no field to continue, or no colon: the name is what a
		 * reader might take for one */
		size_t n = start;

		while (n < eol && hf_is_wsp(m[n]))
			n++;
		field_r->name = m + n;
		while (n < eol && !hf_is_wsp(m[n]) && m[n] != ':')
			n++;
		field_r->name_len = (size_t)(n - (size_t)(field_r->name - m));
		field_r->malformed = true;
		it->pos = hf_skip_break(it, eol);
		return true;
	}
	end = colon;
	while (end > start && hf_is_wsp(m[end - 1]))
		end--;
	field_r->name = m + start;
	field_r->name_len = end - start;
	/* A name with any other octet is no RFC 5322 name, but readers
	 * still take some for one: libmime drops isspace() (VT, FF) before
	 * the colon, a JavaScript trim() also U+00A0 and other spaces. */
	for (size_t i = start; i < end; i++)
		if (!hf_is_ftext((unsigned char)m[i]))
			field_r->malformed = true;
	/* the value runs over the continuation lines (RFC 5322 2.2.3) */
	end = eol;
	for (;;) {
		size_t next = hf_skip_break(it, end);

		if (next >= it->len || !hf_is_wsp(m[next]))
			break;
		end = hf_line_end(it, next);
	}
	field_r->value = m + colon + 1;
	field_r->value_len = end - (colon + 1);
	it->pos = hf_skip_break(it, end);
	return true;
}

bool
header_field_is(const struct header_field *field, const char *name)
{
	size_t n = strlen(name);

	return field->name_len == n && strncasecmp(field->name, name, n) == 0;
}
