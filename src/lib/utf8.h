/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation (RFC 3629): overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF) and code points above U+10FFFF are invalid. Used by the
 * SMTPUTF8 (RFC 6531) checks on addresses and parameters.
 */
#ifndef HERALD_LIB_UTF8_H
#define HERALD_LIB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point at p (len > 0). Returns its length in octets
 * (1..4) and stores the code point in *cp_r, or returns 0 when the bytes at
 * p do not start a valid, complete sequence. */
size_t utf8_decode(const uint8_t *p, size_t len, uint32_t *cp_r);

/* Encodes code point cp into out. Returns its length in octets (1..4), or
 * 0 for a surrogate (U+D800..U+DFFF) or a value above U+10FFFF, which
 * have no UTF-8 form. */
size_t utf8_encode(uint32_t cp, uint8_t out[4]);

/* Returns the length of the longest valid UTF-8 prefix of p; equal to len
 * when all of it is valid. */
size_t utf8_valid_prefix(const uint8_t *p, size_t len);

/* Whether all len octets are valid UTF-8 (the empty string is). */
bool utf8_is_valid(const uint8_t *p, size_t len);

/* Whether any octet is >= 0x80. */
bool utf8_has_non_ascii(const uint8_t *p, size_t len);

#endif
