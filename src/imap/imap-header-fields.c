/* SPDX-License-Identifier: MIT */
/*
 * BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)]: the list
 * grammar of RFC 9051 9 header-list, and the subset of a header section
 * (RFC 9051 6.4.5) cut from the stored octets. See imap-header-fields.h.
 */
#include "imap/imap-header-fields.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/header-field.h"

/* RFC 9051 9 ASTRING-CHAR: ATOM-CHAR or "]"; ATOM-CHAR is a CHAR but
 * "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static bool
hfl_is_astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

static int
hfl_fail(struct imap_header_fields *fields, const char *why,
	 const char **error_r)
{
	imap_header_fields_deinit(fields);
	*error_r = why;
	return -1;
}

int
imap_header_fields_parse(const char *list, size_t max_names,
			 struct imap_header_fields *fields_r,
			 const char **error_r)
{
	size_t len, cap, i = 1, t = 0;

	memset(fields_r, 0, sizeof(*fields_r));
	if (list == NULL)
		return hfl_fail(fields_r, "Missing header field list",
				error_r);
	len = strlen(list);
	if (len < 2 || list[0] != '(')
		return hfl_fail(fields_r, "Header field list must be in ( )",
				error_r);
	if (list[1] == ')')
		return hfl_fail(fields_r, "Empty header field list", error_r);
	if (max_names == 0)
		max_names = 1;
	/* UNSAFE: after "(" each name takes at least one octet and is
	 * followed by SP or ")", so there are at most len / 2 names; the
	 * unquoted names never take more octets than the list */
	cap = len / 2 < max_names ? len / 2 : max_names;
	fields_r->names = xcalloc(cap, sizeof(*fields_r->names));
	fields_r->text = xmalloc(len);
	for (;;) {
		char *text = fields_r->text;
		size_t start = t;

		if (fields_r->count == max_names)
			return hfl_fail(fields_r, "Too many header field names",
					error_r);
		if (list[i] == '"') {
			for (i++; list[i] != '"'; i++) {
				if (list[i] == '\0' || list[i] == '\r' ||
				    list[i] == '\n')
					return hfl_fail(fields_r,
							"Unterminated quoted "
							"header field name",
							error_r);
				if (list[i] == '\\') {
					i++;
					if (list[i] != '"' && list[i] != '\\')
						return hfl_fail(fields_r,
								"Invalid escape "
								"in quoted string",
								error_r);
				}
				text[t++] = list[i];
			}
			i++;
			/* RFC 9051 9 quoted: UTF8-2..4 only (RFC 6855) */
			if (!utf8_is_valid((const uint8_t *)text + start,
					   t - start))
				return hfl_fail(fields_r,
						"Invalid UTF-8 in quoted string",
						error_r);
		} else {
			while (hfl_is_astring_char((unsigned char)list[i]))
				text[t++] = list[i++];
			if (t == start)
				return hfl_fail(fields_r,
						list[i] == '{' ?
						"Literal inside [section]" :
						"Invalid header field name",
						error_r);
		}
		fields_r->names[fields_r->count].name = text + start;
		fields_r->names[fields_r->count].len = t - start;
		fields_r->count++;
		if (list[i] == ')')
			break;
		if (list[i] != ' ' || list[i + 1] == ')')
			return hfl_fail(fields_r,
					"Header field names must be separated "
					"by one space", error_r);
		i++;
	}
	if (list[i + 1] != '\0')
		return hfl_fail(fields_r, "Text after header field list",
				error_r);
	return 0;
}

void
imap_header_fields_deinit(struct imap_header_fields *fields)
{
	free(fields->names);
	free(fields->text);
	memset(fields, 0, sizeof(*fields));
}

/* ASCII case folding only, whatever the locale: "field-name ... matches
 * case-insensitively but otherwise exactly" (RFC 9051 6.4.5), and a name
 * from the message may hold any octet, NUL included. */
static bool
hfl_name_equals(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i];
		unsigned char y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

static bool
hfl_is_listed(const struct imap_header_fields *fields,
	      const struct header_field *field)
{
	/* no colon or no field to continue: no field-name to match */
	if (field->value == NULL)
		return false;
	for (size_t i = 0; i < fields->count; i++) {
		const struct imap_header_field_name *n = &fields->names[i];

		if (n->len == field->name_len &&
		    hfl_name_equals(n->name, field->name, n->len))
			return true;
	}
	return false;
}

void
imap_header_fields_write(struct buf *out, const uint8_t *header,
			 size_t header_size,
			 const struct imap_header_fields *fields, bool not)
{
	const char *h = (const char *)header;
	struct header_field_iter it;
	struct header_field field;
	size_t start = 0;

	/* Each field runs from where the previous one ended (lone CRs
	 * before it included) to after its line break, so the octets go
	 * out exactly as stored and no octet is in two fields. */
	header_field_iter_init(&it, h, header_size);
	while (header_field_next(&it, &field)) {
		if (hfl_is_listed(fields, &field) != not)
			buf_append(out, h + start, it.pos - start);
		start = it.pos;
	}
	/* RFC 9051 6.4.5: the empty line is part of every header fetch,
	 * unless the message has none. it.pos is at it (CRLF or LF, after
	 * lone CRs, as mail/mime ends the header) or at the end. */
	if (it.pos < header_size) {
		size_t end = it.pos + (h[it.pos] == '\r' ? 2 : 1);

		buf_append(out, h + start, end - start);
	}
}
