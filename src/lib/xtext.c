/* SPDX-License-Identifier: MIT */
/*
 * xtext encoding and decoding (RFC 3461 section 4). The decoder is strict
 * about the hexchar form because the RFC requires upper case and a lax
 * decoder would let two spellings of one ENVID compare unequal.
 */
#include "lib/xtext.h"

#include "lib/hex.h"
#include "lib/utf8.h"

/* RFC 3461 4: hexchar is upper case only */
static int
xtext_hexval(char c)
{
	return c >= 'a' && c <= 'f' ? -1 : hex_digit_value(c);
}

static bool
xtext_is_xchar(uint8_t c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

int
xtext_decode(const char *s, size_t len, struct buf *out, const char **error_r)
{
	size_t i = 0;
	int hi, lo;

	while (i < len) {
		uint8_t c = (uint8_t)s[i];

		if (c == '+') {
			if (len - i < 3) {
				*error_r = "truncated xtext hexchar";
				return -1;
			}
			hi = xtext_hexval(s[i + 1]);
			lo = xtext_hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				*error_r = "invalid xtext hexchar";
				return -1;
			}
			buf_putc(out, (char)(hi * 16 + lo));
			i += 3;
		} else if (xtext_is_xchar(c)) {
			buf_putc(out, (char)c);
			i++;
		} else {
			*error_r = "invalid character in xtext";
			return -1;
		}
	}
	return 0;
}

int
xtext_decode_text(const char *s, size_t len, bool utf8, struct buf *out,
		  const char **error_r)
{
	size_t start = out->len, i;

	if (xtext_decode(s, len, out, error_r) < 0)
		return -1;
	for (i = start; i < out->len;) {
		const uint8_t *p = (const uint8_t *)out->data + i;
		uint32_t cp;
		size_t n;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f) {
				*error_r = "control character in xtext";
				return -1;
			}
			i++;
			continue;
		}
		if (!utf8) {
			*error_r = "non-ASCII octet in xtext";
			return -1;
		}
		n = utf8_decode(p, out->len - i, &cp);
		if (n == 0) {
			*error_r = "invalid UTF-8 in xtext";
			return -1;
		}
		if (cp >= 0x80 && cp <= 0x9f) {
			*error_r = "control character in xtext";
			return -1;
		}
		i += n;
	}
	return 0;
}

bool
xtext_is_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = (uint8_t)s[i];

		if (c == '+') {
			if (len - i < 3 || xtext_hexval(s[i + 1]) < 0 ||
			    xtext_hexval(s[i + 2]) < 0)
				return false;
			i += 3;
		} else if (xtext_is_xchar(c)) {
			i++;
		} else {
			return false;
		}
	}
	return true;
}

void
xtext_encode(const uint8_t *p, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		if (xtext_is_xchar(p[i])) {
			buf_putc(out, (char)p[i]);
		} else {
			char enc[3] = { '+', hex[p[i] >> 4], hex[p[i] & 0xF] };

			buf_append(out, enc, sizeof(enc));
		}
	}
}
