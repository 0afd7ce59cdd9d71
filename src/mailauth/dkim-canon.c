/* SPDX-License-Identifier: MIT */
/*
 * DKIM canonicalization (RFC 6376 3.4) as state machines fed in pieces:
 * the body's (its output goes straight into the hashes, so a message of
 * any size is hashed in one pass with constant memory) and one header
 * field's.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mailauth/dkim.h"

const char *
dkim_canon_name(enum dkim_canon canon)
{
	return canon == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

void
dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon canon,
		     dkim_body_out_cb_t *out, void *ctx)
{
	memset(bc, 0, sizeof(*bc));
	bc->canon = canon;
	bc->out = out;
	bc->ctx = ctx;
}

static void
body_flush(struct dkim_body_canon *bc)
{
	if (bc->pending_len > 0) {
		bc->out(bc->pending, bc->pending_len, bc->ctx);
		bc->pending_len = 0;
	}
}

static inline void
body_emit(struct dkim_body_canon *bc, uint8_t c)
{
	if (bc->pending_len == sizeof(bc->pending))
		body_flush(bc);
	bc->pending[bc->pending_len++] = c;
	bc->out_len++;
}

/* An octet of line content: the empty lines and white space held back
 * before it turn out not to be trailing, so they go out first. */
static inline void
body_content(struct dkim_body_canon *bc, uint8_t c)
{
	for (; bc->empty_lines > 0; bc->empty_lines--) {
		body_emit(bc, '\r');
		body_emit(bc, '\n');
	}
	if (bc->wsp) {
		/* relaxed: a run of WSP is one SP (leading ones too) */
		body_emit(bc, ' ');
		bc->wsp = false;
	}
	body_emit(bc, c);
	bc->line = true;
}

static inline void
body_line_end(struct dkim_body_canon *bc)
{
	/* relaxed: white space at the end of a line goes */
	bc->wsp = false;
	if (bc->line) {
		body_emit(bc, '\r');
		body_emit(bc, '\n');
		bc->line = false;
	} else {
		/* empty lines are only known not to be trailing when
		 * content follows them */
		bc->empty_lines++;
	}
}

/* A run of ordinary octets (no CR, no WSP in relaxed) with nothing
 * held back: copied as it is, in bulk. */
static void
body_run(struct dkim_body_canon *bc, const uint8_t *data, size_t len)
{
	bc->line = true;
	bc->out_len += len;
	if (len >= sizeof(bc->pending)) {
		body_flush(bc);
		bc->out(data, len, bc->ctx);
		return;
	}
	if (bc->pending_len + len > sizeof(bc->pending))
		body_flush(bc);
	memcpy(bc->pending + bc->pending_len, data, len);
	bc->pending_len += len;
}

/* The octets that end a run of relaxed body content: CR, SP, HTAB. */
static const bool relaxed_stop[256] = {
	['\r'] = true, [' '] = true, ['\t'] = true,
};

#if defined(__SSE2__)
/* Where a relaxed run that goes on at j ends, 16 octets at a time: at
 * the first HTAB, SP before SP, HTAB or CR, or CR not followed by LF
 * and an octet of content; the octets before it come out of relaxed
 * canonicalization as they are (a line end after content and before
 * more content is itself), so one run covers many lines. The table
 * loop was about ten instructions per body octet; this is under one.
 * Stops within 18 octets of the end: the caller's octet loop does the
 * rest with the same rules (without going over line ends). */
static size_t
relaxed_run_scan(const uint8_t *data, size_t j, size_t len)
{
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

	while (len - j >= 18) {
		__m128i w = _mm_loadu_si128((const __m128i *)(data + j));
		__m128i n1 = _mm_loadu_si128((const __m128i *)(data + j + 1));
		__m128i n2 = _mm_loadu_si128((const __m128i *)(data + j + 2));
		__m128i ws1 = _mm_or_si128(_mm_or_si128(
			_mm_cmpeq_epi8(n1, sp), _mm_cmpeq_epi8(n1, tab)),
			_mm_cmpeq_epi8(n1, cr));
		__m128i ws2 = _mm_or_si128(_mm_or_si128(
			_mm_cmpeq_epi8(n2, sp), _mm_cmpeq_epi8(n2, tab)),
			_mm_cmpeq_epi8(n2, cr));
		/* CR LF then content: a line end that stays as it is */
		__m128i crlf_ok = _mm_andnot_si128(ws2,
						   _mm_cmpeq_epi8(n1, lf));
		__m128i stop = _mm_or_si128(
			_mm_cmpeq_epi8(w, tab),
			_mm_or_si128(
				_mm_and_si128(_mm_cmpeq_epi8(w, sp), ws1),
				_mm_andnot_si128(crlf_ok,
						 _mm_cmpeq_epi8(w, cr))));
		unsigned mask = (unsigned)_mm_movemask_epi8(stop);

		if (mask != 0)
			return j + (size_t)__builtin_ctz(mask);
		j += 16;
	}
	return j;
}
#endif

/* Whether the white space at data[j] is followed, in this piece and on
 * the same line, by content (at *m_r), so that relaxed makes it one SP. */
static inline bool
wsp_then_content(const uint8_t *data, size_t j, size_t len, size_t *m_r)
{
	size_t m = j + 1;

	while (m < len && (data[m] == ' ' || data[m] == '\t'))
		m++;
	*m_r = m;
	return m < len && data[m] != '\r';
}

void
dkim_body_canon_feed(struct dkim_body_canon *bc, const uint8_t *data,
		     size_t len)
{
	bool relaxed = bc->canon == DKIM_CANON_RELAXED;
	size_t i = 0;

	while (i < len) {
		uint8_t c = data[i];

		if (!bc->cr && !bc->wsp && bc->empty_lines == 0 &&
		    c != '\r' && !(relaxed && (c == ' ' || c == '\t'))) {
			size_t j = i + 1, m;

			if (!relaxed) {
				/* a CRLF after content and before more
				 * content (not an empty line) is itself */
				for (;;) {
					const uint8_t *cr = memchr(data + j,
								   '\r',
								   len - j);

					j = cr != NULL ? (size_t)(cr - data)
						       : len;
					if (len - j < 3 || data[j + 1] != '\n' ||
					    data[j + 2] == '\r')
						break;
					j += 3;
				}
			} else {
				/* a single SP between two octets of content
				 * is itself (text is mostly words and single
				 * spaces), so the run goes on over it; the
				 * table test is what keeps this scan cheap
				 * (it was the checks' costliest loop) */
				for (;;) {
#if defined(__SSE2__)
					j = relaxed_run_scan(data, j, len);
#endif
					while (j < len && !relaxed_stop[data[j]])
						j++;
					if (j + 1 < len && data[j] == ' ' &&
					    !relaxed_stop[data[j + 1]]) {
						j += 2;
						continue;
					}
					if (j < len && (data[j] == ' ' ||
							data[j] == '\t') &&
					    wsp_then_content(data, j, len,
							     &m)) {
						/* white space inside a line
						 * is one SP: the run goes out
						 * with it, and a new one
						 * starts after */
						body_run(bc, data + i, j - i);
						body_emit(bc, ' ');
						i = j = m;
						continue;
					}
					break;
				}
			}
			body_run(bc, data + i, j - i);
			i = j;
			continue;
		}
		i++;
		if (bc->cr) {
			bc->cr = false;
			if (c == '\n') {
				body_line_end(bc);
				continue;
			}
			/* a bare CR is content */
			body_content(bc, '\r');
		}
		if (c == '\r')
			bc->cr = true;
		else if (relaxed && (c == ' ' || c == '\t'))
			bc->wsp = true;
		else
			body_content(bc, c);
	}
	body_flush(bc);
}

void
dkim_body_canon_finish(struct dkim_body_canon *bc)
{
	if (bc->cr) {
		bc->cr = false;
		body_content(bc, '\r');
	}
	bc->wsp = false;
	/* a last line without CRLF gets one (both algorithms) */
	if (bc->line) {
		body_emit(bc, '\r');
		body_emit(bc, '\n');
		bc->line = false;
	}
	bc->empty_lines = 0;
	/* simple: an empty body is one CRLF (RFC 6376 3.4.3); relaxed:
	 * empty stays empty (3.4.4, erratum 1384) */
	if (bc->canon == DKIM_CANON_SIMPLE && bc->out_len == 0) {
		body_emit(bc, '\r');
		body_emit(bc, '\n');
	}
	body_flush(bc);
}

/* White space for relaxed header canonicalization (3.4.2). */
static const bool header_space[256] = {
	[' '] = true, ['\t'] = true, ['\r'] = true, ['\n'] = true,
};

enum {
	HC_NAME,	/* before the colon */
	HC_VALUE_START,	/* after it, white space dropped */
	HC_VALUE,
};

void
dkim_header_canon_init(struct dkim_header_canon *hc, enum dkim_canon canon,
		       struct buf *out)
{
	hc->canon = canon;
	hc->out = out;
	hc->state = HC_NAME;
	hc->wsp = false;
}

void
dkim_header_canon_feed(struct dkim_header_canon *hc, const uint8_t *data,
		       size_t len)
{
	if (hc->canon == DKIM_CANON_SIMPLE) {
		buf_append(hc->out, data, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';

		switch (hc->state) {
		case HC_NAME:
			/* white space before the colon goes (3.4.2) */
			if (space)
				break;
			if (c == ':') {
				buf_putc(hc->out, ':');
				hc->state = HC_VALUE_START;
			} else {
				buf_putc(hc->out, (char)((c >= 'A' && c <= 'Z')
							 ? c + 32 : c));
			}
			break;
		case HC_VALUE_START:
			if (space)
				break;
			hc->state = HC_VALUE;
			buf_putc(hc->out, (char)c);
			break;
		default:
			/* unfolding drops CR and LF; the WSP after them
			 * joins the run that becomes one SP */
			if (c == '\r' || c == '\n')
				break;
			if (c == ' ' || c == '\t') {
				hc->wsp = true;
				break;
			}
			if (hc->wsp) {
				buf_putc(hc->out, ' ');
				hc->wsp = false;
			}
			/* the octets up to the next white space are kept as
			 * they are: one copy (a buf_putc each was most of
			 * the cost of hashing the signed header fields) */
			{
				size_t j = i + 1;

				while (j < len && !header_space[data[j]])
					j++;
				buf_append(hc->out, data + i, j - i);
				i = j - 1;
			}
			break;
		}
	}
}

void
dkim_header_canon_finish(struct dkim_header_canon *hc)
{
	/* trailing white space of the value goes */
	hc->wsp = false;
	hc->state = HC_NAME;
}

void
dkim_header_canon(enum dkim_canon canon, const char *field, size_t len,
		  struct buf *out)
{
	struct dkim_header_canon hc;

	dkim_header_canon_init(&hc, canon, out);
	dkim_header_canon_feed(&hc, (const uint8_t *)field, len);
	dkim_header_canon_finish(&hc);
}
