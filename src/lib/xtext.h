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

/* Whether s[0..len) is well-formed xtext (same rules as xtext_decode). */
bool xtext_is_valid(const char *s, size_t len);

/* Appends the xtext encoding of p[0..len) to out. */
void xtext_encode(const uint8_t *p, size_t len, struct buf *out);

#endif
