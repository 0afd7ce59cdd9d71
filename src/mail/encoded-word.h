/* SPDX-License-Identifier: MIT */
/*
 * RFC 2047 encoded words ("=?utf-8?q?J=C3=B6rg?=") in header text, decoded
 * to UTF-8 the way a mail client shows them: B and Q encodings, any
 * charset iconv knows (RFC 2231 language suffixes dropped), white space
 * between adjacent encoded words removed (6.2).
 */
#ifndef HERALD_MAIL_ENCODED_WORD_H
#define HERALD_MAIL_ENCODED_WORD_H

#include <stddef.h>

#include "lib/buf.h"

/* Appends s[0..len) to out with every encoded word decoded, wherever it
 * stands (clients decode them inside quoted strings and next to other
 * text too, though RFC 2047 5 does not ask for it); other text is copied
 * as it is. Returns 0, or -1 with *error_r (static text) when an encoded
 * word cannot be decoded: an unknown charset, bad base64, octets that
 * are not in its charset. A caller that must know what a reader sees
 * treats that as unknown. out may then hold part of the text. */
int encoded_word_decode(const char *s, size_t len, struct buf *out,
			const char **error_r);

/* Like encoded_word_decode(), but an encoded word that cannot be decoded
 * is copied as it is and decoding goes on: what a reader that decodes
 * the raw field before parsing it shows. */
void encoded_word_decode_lenient(const char *s, size_t len,
				 struct buf *out);

/* Appends octets[0..len), text in charset (a MIME charset name), to out
 * converted to UTF-8; shared with RFC 2231 parameter values (mail/mime).
 * UTF-8 and US-ASCII are copied as they are. Returns 0, or -1 with
 * *error_r (static text) for an unknown charset, octets not in it, or
 * UTF-16/32 without a byte order mark; out may then hold part of it. */
int encoded_word_charset_convert(const char *charset, const char *octets,
				 size_t len, struct buf *out,
				 const char **error_r);

#endif
