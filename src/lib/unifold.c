/* SPDX-License-Identifier: MIT */
/*
 * Simple case folding for SEARCH: a table of the capital letter ranges
 * that have a one-to-one lower-case letter (no expansion such as
 * U+00DF, no special cases such as U+0130), so folding never changes the
 * number of code points and stays a subset of FTS5's unicode fold.
 */
#include "lib/unifold.h"

#include <string.h>

#include "lib/utf8.h"

uint32_t
unifold_cp(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp < 0x100)		/* Latin-1: not U+00D7 (multiplication) */
		return cp >= 0xc0 && cp <= 0xde && cp != 0xd7 ? cp + 32 : cp;
	if (cp < 0x180) {	/* Latin Extended-A: pairs */
		if (cp == 0x130 || cp == 0x131 || cp == 0x138 ||
		    cp == 0x149 || cp == 0x17f)
			return cp;	/* dotted I, dotless i, kra, 'n, long s */
		if (cp == 0x178)
			return 0xff;
		if ((cp >= 0x139 && cp <= 0x148) ||
		    (cp >= 0x179 && cp <= 0x17e))
			return cp & 1 ? cp + 1 : cp;
		return cp & 1 ? cp : cp + 1;
	}
	if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)	/* Greek */
		return cp + 32;
	if (cp >= 0x386 && cp <= 0x38f) {
		if (cp == 0x386)
			return 0x3ac;
		if (cp >= 0x388 && cp <= 0x38a)
			return cp + 37;
		if (cp == 0x38c)
			return 0x3cc;
		if (cp == 0x38e || cp == 0x38f)
			return cp + 63;
		return cp;
	}
	if (cp >= 0x400 && cp <= 0x40f)		/* Cyrillic */
		return cp + 80;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 32;
	if (cp >= 0x460 && cp <= 0x4ff && cp != 0x482 &&
	    !(cp >= 0x483 && cp <= 0x489) && cp != 0x4c0 && cp != 0x4cf) {
		if (cp >= 0x4c1 && cp <= 0x4ce)
			return cp & 1 ? cp + 1 : cp;
		return cp & 1 ? cp : cp + 1;
	}
	if (cp >= 0x531 && cp <= 0x556)		/* Armenian */
		return cp + 48;
	return cp;
}

/* The next code point of s folded, its length in *n_r (1 for an invalid
 * octet, returned as itself with bit 31 set so it equals only itself). */
static uint32_t
fold_next(const uint8_t *s, size_t len, size_t *n_r)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80) {
		*n_r = 1;
		return s[0] >= 'A' && s[0] <= 'Z' ? s[0] + 32u : s[0];
	}
	n = utf8_decode(s, len, &cp);
	if (n == 0) {
		*n_r = 1;
		return 0x80000000u | s[0];
	}
	*n_r = n;
	return unifold_cp(cp);
}

void
unifold_append(const char *s, size_t len, struct buf *out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		size_t n;
		uint32_t cp = fold_next(p + i, len - i, &n);
		uint8_t enc[4];
		size_t m;

		if (cp & 0x80000000u) {
			buf_putc(out, (char)p[i]);
		} else if (cp < 0x80) {
			buf_putc(out, (char)cp);
		} else {
			m = utf8_encode(cp, enc);
			buf_append(out, enc, m);
		}
		i += n;
	}
}

/* Whether needle matches hay at its start, hay folded on the fly. */
static bool
match_at(const uint8_t *hay, size_t hlen, const uint8_t *needle,
	 size_t nlen)
{
	size_t i = 0, j = 0;

	while (j < nlen) {
		size_t hn, nn;
		uint32_t hc, nc;

		if (i >= hlen)
			return false;
		hc = fold_next(hay + i, hlen - i, &hn);
		/* the needle is already folded: decode only */
		if (needle[j] < 0x80) {
			nc = needle[j];
			nn = 1;
		} else if ((nn = utf8_decode(needle + j, nlen - j, &nc)) ==
			   0) {
			nc = 0x80000000u | needle[j];
			nn = 1;
		}
		if (hc != nc)
			return false;
		i += hn;
		j += nn;
	}
	return true;
}

bool
unifold_contains(const char *hay, size_t hlen, const char *needle,
		 size_t nlen)
{
	const uint8_t *h = (const uint8_t *)hay;
	const uint8_t *n = (const uint8_t *)needle;

	if (nlen == 0)
		return true;
	for (size_t i = 0; i < hlen;) {
		/* a quick reject on the first octet when it is ASCII and
		 * not a letter, or a letter whose two cases both differ */
		uint8_t c = h[i];

		if (c < 0x80 && n[0] < 0x80) {
			uint8_t lc = c >= 'A' && c <= 'Z' ? c + 32 : c;

			if (lc != n[0]) {
				i++;
				continue;
			}
		}
		if (match_at(h + i, hlen - i, n, nlen))
			return true;
		/* step one code point (or one invalid octet) */
		if (c < 0x80) {
			i++;
		} else {
			uint32_t cp;
			size_t k = utf8_decode(h + i, hlen - i, &cp);

			i += k == 0 ? 1 : k;
		}
	}
	return false;
}
