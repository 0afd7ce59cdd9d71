/* SPDX-License-Identifier: MIT */
/*
 * Text extraction for SEARCH and the full-text index: walks the MIME tree
 * of mail/mime, undoes base64 and quoted-printable leniently with
 * mail/cte (the way readers show a broken part), converts charsets with
 * iconv(3) and keeps the output valid UTF-8 within a budget.
 */
#include "mail/mime-text.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/utf8.h"
#include "mail/cte.h"
#include "mail/encoded-word.h"
#include "mail/header-field.h"

/* Decoded octets looked at before deciding that a leaf which is not
 * text/ is text after all. */
#define MT_SNIFF 512
/* Encoded octets decoded at a time. */
#define MT_SLICE 65536

struct mt {
	const uint8_t *msg;
	size_t len;
	size_t left;		/* output budget */
	bool cut;
};

static const char mt_replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

/* Appends s[0..n) as valid UTF-8 within the budget: invalid sequences
 * become U+FFFD, NUL (and CR, LF when flat) a space. */
static void
mt_put(struct mt *mt, struct buf *out, const uint8_t *s, size_t n, bool flat)
{
	size_t i = 0;

	while (i < n && !mt->cut) {
		size_t start = i;
		const char *rep = NULL;
		size_t k;
		uint32_t cp;

		/* the longest run that needs no change */
		while (i < n) {
			uint8_t c = s[i];

			if (c >= 0x80) {
				k = utf8_decode(s + i, n - i, &cp);
				if (k == 0)
					break;
				i += k;
			} else if (c == 0 || (flat && (c == '\r' ||
						      c == '\n'))) {
				break;
			} else {
				i++;
			}
		}
		if (i > start) {
			size_t run = i - start;

			if (run > mt->left) {
				/* cut on a character boundary */
				run = mt->left;
				while (run > 0 &&
				       (s[start + run] & 0xc0) == 0x80)
					run--;
				mt->cut = true;
			}
			buf_append(out, s + start, run);
			mt->left -= run;
			if (mt->cut)
				return;
		}
		if (i >= n)
			break;
		rep = s[i] >= 0x80 ? mt_replacement : " ";
		if (strlen(rep) > mt->left) {
			mt->cut = true;
			return;
		}
		buf_puts(out, rep);
		mt->left -= strlen(rep);
		i++;
	}
}

static void
mt_fields(struct mt *mt, const uint8_t *h, size_t len, struct buf *out)
{
	struct header_field_iter it;
	struct header_field f;
	struct buf unfolded, decoded;

	buf_init(&unfolded);
	buf_init(&decoded);
	header_field_iter_init(&it, (const char *)h, len);
	while (!mt->cut && header_field_next(&it, &f)) {
		const char *v = f.value;
		size_t vlen = f.value_len;

		/* a line without a colon is no field */
		if (f.name_len == 0 || (f.malformed && vlen == 0))
			continue;
		buf_reset(&unfolded);
		buf_reset(&decoded);
		for (size_t i = 0; i < vlen; i++)
			if (v[i] != '\r' && v[i] != '\n')
				buf_putc(&unfolded, v[i]);
		/* the value starts after the colon's white space and ends
		 * before the trailing white space */
		size_t a = 0, b = unfolded.len;

		while (a < b && (unfolded.data[a] == ' ' ||
				 unfolded.data[a] == '\t'))
			a++;
		while (b > a && (unfolded.data[b - 1] == ' ' ||
				 unfolded.data[b - 1] == '\t'))
			b--;
		encoded_word_decode_lenient(unfolded.data + a, b - a,
					    &decoded);
		mt_put(mt, out, (const uint8_t *)f.name, f.name_len, true);
		mt_put(mt, out, (const uint8_t *)": ", 2, false);
		mt_put(mt, out, (const uint8_t *)decoded.data, decoded.len,
		       true);
		mt_put(mt, out, (const uint8_t *)"\n", 1, false);
	}
	buf_deinit(&unfolded);
	buf_deinit(&decoded);
}

/* The part's body with its transfer encoding undone, at most cap octets
 * (out is empty on entry). */
static void
mt_decode(const struct mt *mt, const struct mime_part *part, size_t cap,
	  struct buf *out)
{
	const uint8_t *b = mt->msg + part->body_offset;
	size_t n = part->body_size;
	struct cte_decoder d;

	if (part->body_offset > mt->len)
		return;
	if (n > mt->len - part->body_offset)
		n = mt->len - part->body_offset;
	/* in slices, so that a cap reached early stops the work early */
	cte_decoder_init(&d, cte_from_name(part->encoding));
	for (size_t off = 0; off < n && out->len < cap; off += MT_SLICE)
		cte_decode(&d, b + off, n - off < MT_SLICE ? n - off : MT_SLICE,
			   out);
	if (out->len < cap)
		cte_decode_finish(&d, out);
	if (out->len > cap)
		buf_truncate(out, cap);
}

static bool
mt_charset_is_utf8(const char *cs)
{
	return cs == NULL || strcasecmp(cs, "utf-8") == 0 ||
	       strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 ||
	       strcasecmp(cs, "ascii") == 0;
}

/* Converts in[0..n) from charset to UTF-8 into out; false when iconv
 * does not know the charset. Octets not in it become U+FFFD. */
static bool
mt_iconv(const char *charset, const uint8_t *in, size_t n, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	char *ip = (char *)in;
	size_t ileft = n;

	if (cd == (iconv_t)-1)
		return false;
	while (ileft > 0) {
		char chunk[4096];
		char *o = chunk;
		size_t oleft = sizeof(chunk);
		size_t r = iconv(cd, &ip, &ileft, &o, &oleft);

		buf_append(out, chunk, sizeof(chunk) - oleft);
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		/* EILSEQ, or EINVAL for a sequence cut at the end */
		buf_puts(out, mt_replacement);
		ip++;
		ileft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	{
		char chunk[64];
		char *o = chunk;
		size_t oleft = sizeof(chunk);

		if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1)
			buf_append(out, chunk, sizeof(chunk) - oleft);
	}
	iconv_close(cd);
	return true;
}

/* Whether decoded octets look like UTF-8 text; a sequence cut at the end
 * (the decoding stopped at a cap) is allowed. */
static bool
mt_is_text(const uint8_t *s, size_t n, bool whole)
{
	size_t ok = utf8_valid_prefix(s, n);

	if (ok < n && (whole || n - ok > 3))
		return false;
	for (size_t i = 0; i < ok; i++) {
		uint8_t c = s[i];

		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n' &&
		     c != '\f') || c == 0x7f)
			return false;
	}
	return true;
}

static void
mt_leaf(struct mt *mt, const struct mime_part *part, struct buf *out)
{
	/* single-octet charsets at most triple in UTF-8, so 4 * budget of
	 * input is more than enough to fill it */
	size_t cap = mt->left > (SIZE_MAX - 16) / 4 ? SIZE_MAX :
		     mt->left * 4 + 16;
	bool text = (part->flags & MIME_PART_FLAG_TYPE_DEFAULT) != 0 ||
		    strcmp(part->type, "text") == 0;
	struct buf raw, conv;

	buf_init(&raw);
	if (!text) {
		mt_decode(mt, part, MT_SNIFF, &raw);
		if (!mt_is_text((const uint8_t *)raw.data, raw.len,
				raw.len < MT_SNIFF)) {
			buf_deinit(&raw);
			return;
		}
		buf_reset(&raw);
	}
	mt_decode(mt, part, cap, &raw);
	if (!text && !mt_is_text((const uint8_t *)raw.data, raw.len,
				 raw.len < cap)) {
		buf_deinit(&raw);
		return;
	}
	const char *cs = text ? mime_part_param(part, "charset") : NULL;

	buf_init(&conv);
	if (!mt_charset_is_utf8(cs) &&
	    mt_iconv(cs, (const uint8_t *)raw.data, raw.len, &conv))
		mt_put(mt, out, (const uint8_t *)conv.data, conv.len, false);
	else
		mt_put(mt, out, (const uint8_t *)raw.data, raw.len, false);
	mt_put(mt, out, (const uint8_t *)"\n", 1, false);
	buf_deinit(&conv);
	buf_deinit(&raw);
}

static void
mt_walk(struct mt *mt, const struct mime_part *part, struct buf *out)
{
	if (mt->cut)
		return;
	if (part->children == NULL) {
		mt_leaf(mt, part, out);
		return;
	}
	if (mime_part_is(part, "message", NULL)) {
		const struct mime_part *m = part->children;

		if (m->header_offset <= mt->len &&
		    m->header_size <= mt->len - m->header_offset)
			mt_fields(mt, mt->msg + m->header_offset,
				  m->header_size, out);
		mt_walk(mt, m, out);
		return;
	}
	for (const struct mime_part *c = part->children; c != NULL;
	     c = c->next)
		mt_walk(mt, c, out);
}

bool
mime_text_extract(const uint8_t *msg, size_t len,
		  const struct mime_part *root, size_t max, struct buf *hdr,
		  struct buf *body)
{
	struct mt mt = { .msg = msg, .len = len, .left = max };
	size_t hsize = root->header_size;

	if (hsize > len)
		hsize = len;
	mt_fields(&mt, msg, hsize, hdr);
	mt_walk(&mt, root, body);
	return !mt.cut;
}

bool
mime_text_header(const uint8_t *h, size_t len, size_t max, struct buf *out)
{
	struct mt mt = { .msg = h, .len = len, .left = max };

	mt_fields(&mt, h, len, out);
	return !mt.cut;
}
