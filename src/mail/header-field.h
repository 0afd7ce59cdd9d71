/* SPDX-License-Identifier: MIT */
/*
 * The fields of a message's header section (RFC 5322 2.2), one at a time:
 * name and raw folded value. Lenient the way mail clients are, so a check
 * sees every field a reader may show: a line break is CRLF, LF or a lone
 * CR, and white space before the colon is allowed (obs-optional, 4.5).
 */
#ifndef HERALD_MAIL_HEADER_FIELD_H
#define HERALD_MAIL_HEADER_FIELD_H

#include <stdbool.h>
#include <stddef.h>

struct header_field {
	/* The field name without the white space before its colon; for a
	 * line without a colon, its text up to the first white space. */
	const char *name;
	size_t name_len;
	/* Everything after the colon up to the end of the field, folding
	 * line breaks included (CR and LF count as white space to
	 * header_address_list_parse()). Empty for a line without a colon. */
	const char *value;
	size_t value_len;
	/* The field's first line has no colon, or starts with white
	 * space with no field before it to continue, or its name has an
	 * octet outside RFC 5322 ftext (a control, 8-bit, or white space
	 * inside it). The value is set when there is a colon. */
	bool malformed;
};

struct header_field_iter {
	const char *msg;
	size_t len;
	size_t pos;
	/* the first LF at or after lf_from is at lf (len: none), when
	 * lf_known: each search starts where the last one stopped */
	bool lf_known;
	size_t lf_from, lf;
};

/* Starts at the beginning of msg[0..len) (the message, header first). */
void header_field_iter_init(struct header_field_iter *it, const char *msg,
			    size_t len);

/* Sets *field_r (pointing into the message) to the next field and
 * returns true, or returns false at the end of the header section: an
 * empty line (CRLF or LF alone; a lone CR is skipped, never taken as the
 * end, since a reader that does not split there reads on) or the end of
 * the message. */
bool header_field_next(struct header_field_iter *it,
		       struct header_field *field_r);

/* Whether the field's name is name (ASCII, case-insensitive). */
bool header_field_is(const struct header_field *field, const char *name);

#endif
