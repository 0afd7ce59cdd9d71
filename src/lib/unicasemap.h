/* SPDX-License-Identifier: MIT */
/*
 * The comparators of IMAP SORT and THREAD (RFC 5256 3, RFC 4790): the
 * i;unicode-casemap form of a string (RFC 5051: every character replaced
 * by its simple titlecase, then fully decomposed, canonical and
 * compatibility mappings alike, each part treated the same way), and the
 * i;ascii-casemap form (a-z as A-Z). Two strings compare as their forms
 * do octet by octet (i;octet), which for UTF-8 is code point order.
 */
#ifndef HERALD_LIB_UNICASEMAP_H
#define HERALD_LIB_UNICASEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* The Unicode version of the table ("14.0.0"). */
const char *unicasemap_version(void);

/* The i;unicode-casemap form of code point cp: writes at most 255 code
 * points to out (when out_max allows; the count is returned either
 * way). A code point without a mapping is itself (count 1). */
size_t unicasemap_cp(uint32_t cp, uint32_t *out, size_t out_max);

/* Appends the i;unicode-casemap form of s[0..len) to out. Octets that
 * are not valid UTF-8 are copied as they are (RFC 5051 3 leaves a string
 * that is not UTF-8 to i;octet), so they still compare, after any valid
 * text at the same place. */
void unicasemap_append(const char *s, size_t len, struct buf *out);

/* Appends the i;ascii-casemap form of s[0..len) to out: a-z upper-cased,
 * every other octet as it is (RFC 4790 9.2). */
void unicasemap_ascii_append(const char *s, size_t len, struct buf *out);

/* Compares a[0..alen) with b[0..blen) under i;unicode-casemap: <0, 0 or
 * >0. (Callers comparing many times keep the forms instead.) */
int unicasemap_compare(const char *a, size_t alen, const char *b,
		       size_t blen);

#endif
