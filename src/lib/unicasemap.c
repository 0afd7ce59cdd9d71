/* SPDX-License-Identifier: MIT */
/*
 * i;unicode-casemap (RFC 5051) and i;ascii-casemap (RFC 4790) forms. The
 * mapping table is generated from the Unicode character database
 * (unicasemap-data.c); ASCII, the common case in mail subjects and
 * addresses, never looks it up.
 */
#include "lib/unicasemap.h"

#include <string.h>

#include "lib/unicasemap-data.h"
#include "lib/utf8.h"

const char *
unicasemap_version(void)
{
	return unicasemap_unicode_version;
}

static const struct unicasemap_entry *
lookup(uint32_t cp)
{
	size_t lo = 0, hi = unicasemap_entry_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (unicasemap_entries[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < unicasemap_entry_count && unicasemap_entries[lo].cp == cp)
		return &unicasemap_entries[lo];
	return NULL;
}

size_t
unicasemap_cp(uint32_t cp, uint32_t *out, size_t out_max)
{
	const struct unicasemap_entry *e;

	if (cp < 0x80) {
		if (out_max > 0)
			out[0] = cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
		return 1;
	}
	e = lookup(cp);
	if (e == NULL) {
		if (out_max > 0)
			out[0] = cp;
		return 1;
	}
	for (size_t i = 0; i < e->len && i < out_max; i++)
		out[i] = unicasemap_pool[e->offset + i];
	return e->len;
}

void
unicasemap_append(const char *s, size_t len, struct buf *out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		const struct unicasemap_entry *e;
		uint32_t cp;
		uint8_t enc[4];
		size_t n;

		if (p[i] < 0x80) {
			buf_putc(out, (char)(p[i] >= 'a' && p[i] <= 'z' ?
					     p[i] - 32 : p[i]));
			i++;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			buf_putc(out, (char)p[i]);
			i++;
			continue;
		}
		e = lookup(cp);
		if (e == NULL) {
			buf_append(out, p + i, n);
		} else {
			for (size_t k = 0; k < e->len; k++) {
				size_t m = utf8_encode(
					unicasemap_pool[e->offset + k], enc);

				buf_append(out, enc, m);
			}
		}
		i += n;
	}
}

void
unicasemap_ascii_append(const char *s, size_t len, struct buf *out)
{
	buf_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		buf_putc(out, c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
	}
}

int
unicasemap_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	struct buf fa, fb;
	int r;

	buf_init(&fa);
	buf_init(&fb);
	unicasemap_append(a, alen, &fa);
	unicasemap_append(b, blen, &fb);
	r = memcmp(fa.data, fb.data, fa.len < fb.len ? fa.len : fb.len);
	if (r == 0)
		r = fa.len < fb.len ? -1 : fa.len > fb.len;
	buf_deinit(&fa);
	buf_deinit(&fb);
	return r;
}
