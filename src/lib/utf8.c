/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation per RFC 3629 section 4 (the well-formed byte sequences
 * table), written as explicit ranges on the second octet so overlongs and
 * surrogates are refused without decoding first.
 */
#include "lib/utf8.h"

size_t
utf8_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return 0;
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		return 0;
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

size_t
utf8_decode(const uint8_t *p, size_t len, uint32_t *cp_r)
{
	uint8_t c = p[0];
	uint8_t lo = 0x80, hi = 0xBF;
	size_t n, i;
	uint32_t cp;

	if (len == 0)
		return 0;
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates U+D800..U+DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else {
		/* 0x80..0xC1 (continuation or overlong 2-octet lead), 0xF5.. */
		return 0;
	}
	if (len < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	cp = (cp << 6) | (p[1] & 0x3F);
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	*cp_r = cp;
	return n;
}

size_t
utf8_valid_prefix(const uint8_t *p, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			break;
		i += n;
	}
	return i;
}

bool
utf8_is_valid(const uint8_t *p, size_t len)
{
	return utf8_valid_prefix(p, len) == len;
}

bool
utf8_has_non_ascii(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x80)
			return true;
	}
	return false;
}
