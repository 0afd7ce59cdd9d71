/* SPDX-License-Identifier: MIT */
/*
 * xtext (RFC 3461 section 4): the encoding of DSN parameters ENVID and
 * ORCPT and of the AUTH= parameter (RFC 4954). Printable ASCII except '+'
 * and '=' stands for itself; any other octet is "+" and two upper-case hex
 * digits.
 */
#ifndef HERALD_LIB_XTEXT_H
#define HERALD_LIB_XTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Decodes xtext s[0..len) and appends the octets to out. Strict: a '+'
 * must be followed by two hex digits in upper case ("0-9A-F"), and every
 * other octet must be in 33..126 and not '='. Returns 0, or -1 with
 * *error_r set (static text) and out holding a partial result. */
int xtext_decode(const char *s, size_t len, struct buf *out,
		 const char **error_r);

/* xtext_decode() for a value that is text (an envelope id, an address):
 * the decoded octets must also contain no control character (C0, DEL,
 * and with utf8 the C1 range) since they end up in queue records, DSNs
 * and log lines, where a CR or LF splits a line. Octets >= 0x80 are
 * refused unless utf8 is set, and must then be valid UTF-8 (RFC 3629).
 * Same return convention as xtext_decode(). */
int xtext_decode_text(const char *s, size_t len, bool utf8, struct buf *out,
		      const char **error_r);

/* Whether s[0..len) is well-formed xtext (same rules as xtext_decode). */
bool xtext_is_valid(const char *s, size_t len);

/* Appends the xtext encoding of p[0..len) to out. */
void xtext_encode(const uint8_t *p, size_t len, struct buf *out);

#endif
