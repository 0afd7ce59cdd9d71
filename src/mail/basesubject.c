/* SPDX-License-Identifier: MIT */
/*
 * RFC 5256 2.1 base subject extraction, steps (1) to (7), over the
 * decoded subject held once in a buffer and narrowed by two indexes. The
 * ABNF of RFC 5256 5 (subj-leader, subj-blob, subj-refwd, subj-trailer,
 * subj-fwd-hdr, subj-fwd-trl) is matched case-insensitively, as every
 * literal string of ABNF is.
 */
#include "mail/basesubject.h"

#include <string.h>
#include <strings.h>

#include "mail/encoded-word.h"

struct bs {
	const char *s;
	size_t b, e;		/* the subject left: s[b..e) */
	bool reply;
	/* step (3) failed at b with a run of blobs ending here: it fails
	 * again from any later blob of the same run (step 4 removes them
	 * one at a time), so it is not scanned again */
	size_t fail_end;
	bool fail_known;
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
has_prefix_ci(const struct bs *x, size_t at, const char *lit)
{
	size_t n = strlen(lit);

	return x->e - at >= n && strncasecmp(x->s + at, lit, n) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at position at: its end, or 0. */
static size_t
blob_end(const struct bs *x, size_t at)
{
	size_t i = at;

	if (i >= x->e || x->s[i] != '[')
		return 0;
	for (i++; i < x->e && x->s[i] != ']'; i++) {
		/* BLOBCHAR is any CHAR8 (%x01-ff) but "[" and "]" */
		if (x->s[i] == '[')
			return 0;
	}
	if (i >= x->e)
		return 0;
	for (i++; i < x->e && is_wsp(x->s[i]); i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at position
 * at: its end, or 0. */
static size_t
refwd_end(const struct bs *x, size_t at)
{
	size_t i, k;

	if (has_prefix_ci(x, at, "re"))
		i = at + 2;
	else if (has_prefix_ci(x, at, "fwd"))
		i = at + 3;
	else if (has_prefix_ci(x, at, "fw"))
		i = at + 2;
	else
		return 0;
	while (i < x->e && is_wsp(x->s[i]))
		i++;
	k = blob_end(x, i);
	if (k != 0)
		i = k;
	if (i < x->e && x->s[i] == ':')
		return i + 1;
	return 0;
}

/* Step (2): subj-trailer = "(fwd)" / WSP, from the end, repeatedly. */
static void
strip_trailers(struct bs *x)
{
	for (;;) {
		if (x->e > x->b && is_wsp(x->s[x->e - 1])) {
			x->e--;
		} else if (x->e - x->b >= 5 &&
			   strncasecmp(x->s + x->e - 5, "(fwd)", 5) == 0) {
			x->e -= 5;
			x->reply = true;
		} else {
			return;
		}
	}
}

/* Step (3): subj-leader = (*subj-blob subj-refwd) / WSP, one at b. */
static bool
strip_leader(struct bs *x)
{
	size_t i = x->b, k;

	if (i < x->e && is_wsp(x->s[i])) {
		x->b++;
		return true;
	}
	if (x->fail_known && x->b <= x->fail_end)
		return false;
	while ((k = blob_end(x, i)) != 0)
		i = k;
	k = refwd_end(x, i);
	if (k == 0) {
		x->fail_known = true;
		x->fail_end = i;
		return false;
	}
	x->b = k;
	x->reply = true;
	return true;
}

/* Step (4): a subj-blob at b, when what follows is not empty. */
static bool
strip_blob(struct bs *x)
{
	size_t k = blob_end(x, x->b);

	if (k == 0 || k >= x->e)
		return false;
	x->b = k;
	return true;
}

/* Step (6): "[fwd:" ... "]". */
static bool
strip_fwd(struct bs *x)
{
	if (x->e - x->b < 6 || !has_prefix_ci(x, x->b, "[fwd:") ||
	    x->s[x->e - 1] != ']')
		return false;
	x->b += 5;
	x->e -= 1;
	x->reply = true;
	x->fail_known = false;
	return true;
}

bool
mail_base_subject(const char *v, size_t len, struct buf *out)
{
	struct buf dec, norm;
	struct bs x;

	/* (1) encoded words to UTF-8; tabs and line breaks to spaces,
	 * runs of spaces to one */
	buf_init(&dec);
	encoded_word_decode_lenient(v, len, &dec);
	buf_init(&norm);
	buf_reserve(&norm, dec.len);
	for (size_t i = 0; i < dec.len; i++) {
		char c = dec.data[i];

		/* a decoded NUL too: the base subject is a C string */
		if (c == '\t' || c == '\r' || c == '\n' || c == '\0')
			c = ' ';
		if (c == ' ' && norm.len > 0 && norm.data[norm.len - 1] == ' ')
			continue;
		buf_putc(&norm, c);
	}
	buf_deinit(&dec);
	memset(&x, 0, sizeof(x));
	x.s = norm.data;
	x.e = norm.len;
	do {
		bool again;

		strip_trailers(&x);			/* (2) */
		do {					/* (5) */
			again = false;
			while (strip_leader(&x))	/* (3) */
				again = true;
			if (strip_blob(&x))		/* (4) */
				again = true;
		} while (again);
	} while (strip_fwd(&x));			/* (6) */
	buf_append(out, x.s + x.b, x.e - x.b);		/* (7) */
	buf_deinit(&norm);
	return x.reply;
}
