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
	const uint8_t *msg;	/* the message in memory, or NULL: read */
	uint64_t len;
	mime_text_read_cb_t *read;
	void *ctx;
	struct buf window;	/* what read gave last */
	size_t left;		/* output budget */
	bool cut;
};

/* Octets [off, off + n) of the message, clamped to its size (*n_r); NULL
 * when read fails (the text then ends there). Valid until the next
 * call. */
static const uint8_t *
mt_range(struct mt *mt, uint64_t off, uint64_t n, size_t *n_r)
{
	*n_r = 0;
	if (off >= mt->len)
		return (const uint8_t *)"";
	if (n > mt->len - off)
		n = mt->len - off;
	if (n > SIZE_MAX)
		n = SIZE_MAX;
	*n_r = (size_t)n;
	if (mt->msg != NULL)
		return mt->msg + off;
	buf_reset(&mt->window);
	if (mt->read(mt->ctx, off, (size_t)n, &mt->window) < 0 ||
	    mt->window.len != n) {
		*n_r = 0;
		mt->cut = true;
		return NULL;
	}
	return (const uint8_t *)mt->window.data;
}

/* How much of a header section to read for the budget left: decoding
 * never makes a field longer than it was written, so twice the budget
 * (plus a line) is always enough. */
static uint64_t
mt_header_want(const struct mt *mt, uint64_t size)
{
	uint64_t want = (uint64_t)mt->left * 2 + 4096;

	return size < want ? size : want;
}

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
mt_decode(struct mt *mt, const struct mime_part *part, size_t cap,
	  struct buf *out)
{
	struct cte_decoder d;

	/* in slices, so that a cap reached early stops the reading and the
	 * decoding early, and a file is never read whole */
	cte_decoder_init(&d, cte_from_name(part->encoding));
	for (uint64_t pos = 0; pos < part->body_size && out->len < cap;) {
		size_t n;
		const uint8_t *b = mt_range(mt, part->body_offset + pos,
					    part->body_size - pos < MT_SLICE ?
					    part->body_size - pos : MT_SLICE,
					    &n);

		if (b == NULL || n == 0)
			break;
		cte_decode(&d, b, n, out);
		pos += n;
	}
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
	bool text = (part->flags & MIME_PART_FLAG_TYPE_DEFAULT) != 0 ||
		    strcmp(part->type, "text") == 0;
	const char *cs = text ? mime_part_param(part, "charset") : NULL;
	bool convert = !mt_charset_is_utf8(cs);
	/* UTF-8 (and octets read as it) never shrinks on its way out, so
	 * the budget and a sequence of input fill it; another charset may
	 * (UTF-16 halves ASCII, ISO-2022-JP's escapes vanish): four times
	 * the budget is enough */
	size_t cap = mt->left > (SIZE_MAX - 16) / 4 ? SIZE_MAX :
		     convert ? mt->left * 4 + 16 : mt->left + 16;
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
	buf_init(&conv);
	if (convert && mt_iconv(cs, (const uint8_t *)raw.data, raw.len, &conv))
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
		size_t n;
		const uint8_t *h = mt_range(mt, m->header_offset,
					    mt_header_want(mt, m->header_size),
					    &n);

		if (h != NULL)
			mt_fields(mt, h, n, out);
		mt_walk(mt, m, out);
		return;
	}
	for (const struct mime_part *c = part->children; c != NULL;
	     c = c->next)
		mt_walk(mt, c, out);
}

static bool
mt_run(struct mt *mt, const struct mime_part *root, struct buf *hdr,
       struct buf *body)
{
	size_t n;
	const uint8_t *h = mt_range(mt, 0, mt_header_want(mt,
							  root->header_size),
				    &n);

	if (h != NULL)
		mt_fields(mt, h, n, hdr);
	mt_walk(mt, root, body);
	buf_deinit(&mt->window);
	return !mt->cut;
}

bool
mime_text_extract(const uint8_t *msg, size_t len,
		  const struct mime_part *root, size_t max, struct buf *hdr,
		  struct buf *body)
{
	struct mt mt = { .msg = len > 0 ? msg : (const uint8_t *)"",
			 .len = len, .left = max };

	buf_init(&mt.window);
	return mt_run(&mt, root, hdr, body);
}

bool
mime_text_extract_read(const struct mime_part *root, uint64_t size,
		       mime_text_read_cb_t *read, void *ctx, size_t max,
		       struct buf *hdr, struct buf *body)
{
	struct mt mt = { .len = size, .read = read, .ctx = ctx,
			 .left = max };

	buf_init(&mt.window);
	return mt_run(&mt, root, hdr, body);
}

bool
mime_text_header(const uint8_t *h, size_t len, size_t max, struct buf *out)
{
	struct mt mt = { .msg = h, .len = len, .left = max };

	mt_fields(&mt, h, len, out);
	return !mt.cut;
}

bool
mime_text_part(const uint8_t *msg, size_t len, const struct mime_part *part,
	       size_t max, struct buf *out)
{
	struct mt mt = { .msg = len > 0 ? msg : (const uint8_t *)"",
			 .len = len, .left = max };

	buf_init(&mt.window);
	mt_leaf(&mt, part, out);
	buf_deinit(&mt.window);
	return !mt.cut;
}

bool
mime_text_part_read(const struct mime_part *part, uint64_t size,
		    mime_text_read_cb_t *read, void *ctx, size_t max,
		    struct buf *out)
{
	struct mt mt = { .len = size, .read = read, .ctx = ctx,
			 .left = max };

	buf_init(&mt.window);
	mt_leaf(&mt, part, out);
	buf_deinit(&mt.window);
	return !mt.cut;
}
