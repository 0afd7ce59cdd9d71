/* SPDX-License-Identifier: MIT */
/*
 * FETCH BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)]
 * (RFC 9051 6.4.5): the field-name list of the section parsed, and the
 * selected fields of a header section written as stored.
 */
#ifndef HERALD_IMAP_HEADER_FIELDS_H
#define HERALD_IMAP_HEADER_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Default cap on the names of one list (docs/limits.md). Thunderbird asks
 * for about 20; the cap bounds the names x fields comparisons. */
#define IMAP_HEADER_FIELDS_NAMES_DEFAULT 256

struct imap_header_field_name {
	const char *name;	/* unquoted, not NUL-terminated */
	size_t len;
};

struct imap_header_fields {
	size_t count;
	struct imap_header_field_name *names;
	char *text;		/* owns the names' octets */
};

/*
 * Parses the header-list of RFC 9051 9: "(" header-fld-name *(SP
 * header-fld-name) ")", each an astring (atom, with "]" allowed, or quoted
 * string with \" and \\ escapes; valid UTF-8 is accepted inside quotes),
 * exactly one SP between names and nothing after ")". list is
 * imap_section.fields (NULL when the section had no list). An empty list
 * "()" is BAD (the grammar says 1*), as are literals (the command parser
 * refuses them inside a [section] already) and more than max_names names.
 * Returns 0 with *fields_r filled (imap_header_fields_deinit), or -1 with
 * a static *error_r for the BAD response and *fields_r empty. Memory is
 * bounded by strlen(list).
 */
int imap_header_fields_parse(const char *list, size_t max_names,
			     struct imap_header_fields *fields_r,
			     const char **error_r);
void imap_header_fields_deinit(struct imap_header_fields *fields);

/*
 * Appends to out the fields of header[0..header_size) (a header section
 * as imap_section_resolve() gives it, empty line included) whose name is
 * one of fields' names (not false) or none of them (not true), in message
 * order, each with its continuation lines and line breaks exactly as
 * stored, then the empty line that ends the header as stored (CRLF or a
 * bare LF), if the header has one. Fields are read as mail/header-field
 * reads them (docs/imap.md "HEADER.FIELDS"): names compared ASCII
 * case-insensitively and otherwise octet for octet, "Subject :" is the
 * field Subject (RFC 5322 4.5 obs-optional), and a line that is no field
 * (no colon, or white space with no field before it) is never selected
 * by HEADER.FIELDS and always by HEADER.FIELDS.NOT. So, for any list, the
 * two answers together hold every octet of the header once, the empty
 * line twice. Octets after the empty line are not read.
 */
void imap_header_fields_write(struct buf *out, const uint8_t *header,
			      size_t header_size,
			      const struct imap_header_fields *fields,
			      bool not);

#endif
