/* SPDX-License-Identifier: MIT */
/*
 * RFC 4648 base64 (standard alphabet, '=' padding). Decoding is strict:
 * any character outside the alphabet (including whitespace and line
 * breaks), a length that is not a multiple of four, misplaced or missing
 * padding, or non-zero bits in the final quantum's unused part is an error.
 * SASL (RFC 4422 profiles) and the password schemes both need that.
 */
#ifndef HERALD_LIB_BASE64_H
#define HERALD_LIB_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* The value (0..63) of one digit of a base64 alphabet whose 63rd symbol is
 * c63 ('/' in RFC 4648, ',' in IMAP's modified base64, RFC 3501 5.1.3),
 * or -1 for any other octet ('=' included). */
int base64_digit_value(unsigned char c, char c63);

/* Length of the encoding of n bytes, without a NUL. */
size_t base64_encoded_len(size_t n);
/* Upper bound of the decoded size of n characters of base64. */
size_t base64_decoded_max_len(size_t n);

/* Appends the encoding of in[0..len) to out. */
void base64_encode(const uint8_t *in, size_t len, struct buf *out);
/* Writes the encoding and a NUL into out, which holds outsz bytes.
 * Returns the encoded length, or (size_t)-1 if outsz is too small
 * (out is then left an empty string when outsz > 0). */
size_t base64_encode_to(const uint8_t *in, size_t len, char *out,
			size_t outsz);

/* Decodes in[0..len) and appends the bytes to out. Returns 0, or -1 on
 * malformed input, in which case out is left as it was. */
int base64_decode(const char *in, size_t len, struct buf *out);
/* Decodes into out[0..outsz); *len_r gets the decoded length. Returns 0,
 * or -1 on malformed input or if outsz is too small. */
int base64_decode_to(const char *in, size_t len, uint8_t *out, size_t outsz,
		     size_t *len_r);
/* True if in[0..len) is well-formed base64 by the rules above. */
bool base64_is_valid(const char *in, size_t len);

#endif
