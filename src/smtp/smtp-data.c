/* SPDX-License-Identifier: MIT */
/*
 * DATA/BDAT body reader; see smtp-data.h. One octet at a time through a
 * small state machine: the only way into SMTP_DATA_ST_DOT_CR, and so to
 * the end, is CRLF "." CR, which is what makes smuggling with bare line
 * ends impossible. Output is staged in a small array and handed to the
 * sink in blocks.
 */
#include "smtp/smtp-data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "lib/mem.h"

enum smtp_data_state {
	SMTP_DATA_ST_BOL,	/* after CRLF (or at the start): dots matter */
	SMTP_DATA_ST_DOT,	/* "." at the start of a line */
	SMTP_DATA_ST_DOT_CR,	/* ".\r" at the start of a line */
	SMTP_DATA_ST_TEXT,	/* inside a line */
	SMTP_DATA_ST_CR,	/* a CR inside a line, not yet emitted */
	SMTP_DATA_ST_DONE,
};

#define SMTP_DATA_STAGE 4096

struct smtp_data_reader {
	struct smtp_data_limits limits;
	smtp_data_sink_cb_t *sink;
	void *context;
	struct buf *out;

	enum smtp_data_state state;
	bool dots;		/* DATA (true) or BDAT (false) */
	uint64_t chunk_left;	/* BDAT */
	unsigned errors;
	bool normalized;
	uint64_t size;
	uint64_t line_no;	/* 1-based number of the current line */
	uint64_t line_len;
	uint64_t long_line;
	bool in_body;		/* the header's empty line was seen */
	unsigned eight_bit;	/* SMTP_DATA_8BIT_* */

	size_t stage_len;
	uint8_t stage[SMTP_DATA_STAGE];
};

void
smtp_data_limits_default(struct smtp_data_limits *limits_r)
{
	memset(limits_r, 0, sizeof(*limits_r));
	limits_r->max_message_size = SMTP_DATA_DEFAULT_MAX_SIZE;
	limits_r->max_line_len = SMTP_DATA_DEFAULT_MAX_LINE;
	limits_r->normalize_bare_eol = false;
}

static void
smtp_data_buf_sink(const uint8_t *data, size_t len, void *context)
{
	buf_append(context, data, len);
}

struct smtp_data_reader *
smtp_data_reader_new(const struct smtp_data_limits *limits,
		     smtp_data_sink_cb_t *sink, void *context)
{
	struct smtp_data_reader *reader;

	reader = xcalloc(1, sizeof(*reader));
	reader->limits = *limits;
	reader->sink = sink;
	reader->context = context;
	reader->state = SMTP_DATA_ST_BOL;
	reader->dots = true;
	reader->line_no = 1;
	return reader;
}

struct smtp_data_reader *
smtp_data_reader_new_buf(const struct smtp_data_limits *limits,
			 struct buf *out)
{
	return smtp_data_reader_new(limits, smtp_data_buf_sink, out);
}

static void
smtp_data_flush(struct smtp_data_reader *reader)
{
	if (reader->stage_len > 0) {
		reader->sink(reader->stage, reader->stage_len,
			     reader->context);
		reader->stage_len = 0;
	}
}

void
smtp_data_reader_free(struct smtp_data_reader **reader)
{
	if (*reader == NULL)
		return;
	xfree(reader);
}

static void
smtp_data_emit(struct smtp_data_reader *reader, uint8_t c)
{
	reader->size++;
	if (reader->limits.max_message_size != 0 &&
	    reader->size > reader->limits.max_message_size) {
		/* Keep counting so the log can say how big it was, but
		 * stop storing: memory stays bounded by the limit. */
		reader->errors |= SMTP_DATA_ERR_TOO_BIG;
		return;
	}
	if (reader->stage_len == SMTP_DATA_STAGE)
		smtp_data_flush(reader);
	reader->stage[reader->stage_len++] = c;
}

static void
smtp_data_end_line(struct smtp_data_reader *reader)
{
	if (reader->line_len == 0)
		reader->in_body = true;
	reader->line_no++;
	reader->line_len = 0;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero when one of the eight octets of w is zero (exact: a borrow
 * only runs on from a zero octet). */
static inline uint64_t
word_has_zero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* The fast path: a run of ordinary octets inside a line, emitted as one
 * block. Same accounting as smtp_data_content() octet by octet. The run
 * goes on over the CRLF that ends a line when the octet after it is known
 * and cannot start the end marker (a dot, in DATA): smtp_data_step()
 * would pass both octets through and end the line the same way, and a
 * line that starts with anything but a dot is text from its first octet.
 * The octets of a line are scanned eight at a time (a CR, LF or NUL in a
 * word stops that, and the octets then decide). A 5 KB relayed message
 * took 22 us octet by octet, and 9% of the SMTP worker's loop thread. */
static size_t
smtp_data_text_run(struct smtp_data_reader *reader, const uint8_t *p,
		   size_t n)
{
	uint64_t max = reader->limits.max_message_size;
	size_t i = 0, take;

	for (;;) {
		size_t start = i;
		uint64_t words = 0;
		uint8_t any = 0;

		while (n - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, sizeof(w));
			if (word_has_zero(w) |
			    word_has_zero(w ^ ('\r' * ONES)) |
			    word_has_zero(w ^ ('\n' * ONES)))
				break;
			words |= w;
			i += 8;
		}
		if ((words & HIGHS) != 0)
			any = 0x80;
		while (i < n && p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
			any |= p[i++];
		if (any & 0x80)
			reader->eight_bit |= reader->in_body ?
					     SMTP_DATA_8BIT_BODY :
					     SMTP_DATA_8BIT_HEADER;
		if (reader->line_len + (i - start) >
		    reader->limits.max_line_len && reader->long_line == 0) {
			reader->errors |= SMTP_DATA_ERR_LONG_LINE;
			reader->long_line = reader->line_no;
		}
		reader->line_len += i - start;
		if (n - i < 3 || p[i] != '\r' || p[i + 1] != '\n' ||
		    (reader->dots && p[i + 2] == '.'))
			break;
		smtp_data_end_line(reader);
		i += 2;
	}
	if (i == 0)
		return 0;
	take = i;
	if (max != 0) {
		if (reader->size >= max)
			take = 0;
		else if (max - reader->size < take)
			take = (size_t)(max - reader->size);
		if (take < i)
			reader->errors |= SMTP_DATA_ERR_TOO_BIG;
	}
	reader->size += i;
	/* UNSAFE: after this, either take fits in the free part of stage
	 * or the stage is empty and take >= SMTP_DATA_STAGE goes direct. */
	if (take > SMTP_DATA_STAGE - reader->stage_len)
		smtp_data_flush(reader);
	if (take >= SMTP_DATA_STAGE) {
		reader->sink(p, take, reader->context);
	} else if (take > 0) {
		memcpy(reader->stage + reader->stage_len, p, take);
		reader->stage_len += take;
	}
	return i;
}

static void
smtp_data_content(struct smtp_data_reader *reader, uint8_t c)
{
	if (c == '\0')
		reader->errors |= SMTP_DATA_ERR_NUL;
	if (c & 0x80)
		reader->eight_bit |= reader->in_body ? SMTP_DATA_8BIT_BODY
						     : SMTP_DATA_8BIT_HEADER;
	reader->line_len++;
	if (reader->line_len > reader->limits.max_line_len &&
	    reader->long_line == 0) {
		reader->errors |= SMTP_DATA_ERR_LONG_LINE;
		reader->long_line = reader->line_no;
	}
	smtp_data_emit(reader, c);
}

/* A CR or LF that is not part of a CRLF. It ends a line for counting,
 * but the next line is never a "start of line" for the end marker. */
static void
smtp_data_bare_eol(struct smtp_data_reader *reader, uint8_t c)
{
	smtp_data_end_line(reader);
	if (reader->limits.normalize_bare_eol) {
		reader->normalized = true;
		smtp_data_emit(reader, '\r');
		smtp_data_emit(reader, '\n');
	} else {
		reader->errors |= c == '\n' ? SMTP_DATA_ERR_BARE_LF :
			SMTP_DATA_ERR_BARE_CR;
		smtp_data_emit(reader, c);
	}
	reader->state = SMTP_DATA_ST_TEXT;
}

static void
smtp_data_text(struct smtp_data_reader *reader, uint8_t c)
{
	if (c == '\r')
		reader->state = SMTP_DATA_ST_CR;
	else if (c == '\n')
		smtp_data_bare_eol(reader, c);
	else
		smtp_data_content(reader, c);
}

/* Returns true at the end of DATA. */
static bool
smtp_data_step(struct smtp_data_reader *reader, uint8_t c)
{
	switch (reader->state) {
	case SMTP_DATA_ST_BOL:
		if (c == '.' && reader->dots) {
			reader->state = SMTP_DATA_ST_DOT;
			return false;
		}
		reader->state = SMTP_DATA_ST_TEXT;
		smtp_data_text(reader, c);
		return false;
	case SMTP_DATA_ST_DOT:
		if (c == '\r') {
			reader->state = SMTP_DATA_ST_DOT_CR;
			return false;
		}
		reader->state = SMTP_DATA_ST_TEXT;
		/* RFC 5321 4.5.2: a leading "." is removed when the line
		 * has more; "." then a bare LF is a line of its own and
		 * keeps it. */
		if (c == '\n')
			smtp_data_content(reader, '.');
		smtp_data_text(reader, c);
		return false;
	case SMTP_DATA_ST_DOT_CR:
		if (c == '\n') {
			reader->state = SMTP_DATA_ST_DONE;
			return true;
		}
		smtp_data_content(reader, '.');
		smtp_data_bare_eol(reader, '\r');
		smtp_data_text(reader, c);
		return false;
	case SMTP_DATA_ST_TEXT:
		smtp_data_text(reader, c);
		return false;
	case SMTP_DATA_ST_CR:
		if (c == '\n') {
			smtp_data_emit(reader, '\r');
			smtp_data_emit(reader, '\n');
			smtp_data_end_line(reader);
			reader->state = reader->dots ? SMTP_DATA_ST_BOL :
				SMTP_DATA_ST_TEXT;
			return false;
		}
		smtp_data_bare_eol(reader, '\r');
		smtp_data_text(reader, c);
		return false;
	case SMTP_DATA_ST_DONE:
		break;
	}
	return true;
}

enum smtp_data_result
smtp_data_reader_feed(struct smtp_data_reader *reader, const uint8_t *data,
		      size_t len, size_t *consumed_r)
{
	size_t i;

	if (reader->state == SMTP_DATA_ST_DONE) {
		*consumed_r = 0;
		return SMTP_DATA_DONE;
	}
	for (i = 0; i < len; i++) {
		if (reader->state == SMTP_DATA_ST_TEXT) {
			size_t run = smtp_data_text_run(reader, data + i,
							len - i);

			i += run;
			if (i == len)
				break;
		}
		if (smtp_data_step(reader, data[i])) {
			smtp_data_flush(reader);
			*consumed_r = i + 1;
			return SMTP_DATA_DONE;
		}
	}
	smtp_data_flush(reader);
	*consumed_r = len;
	return SMTP_DATA_NEED_MORE;
}

void
smtp_data_reader_bdat_begin(struct smtp_data_reader *reader,
			    uint64_t chunk_size)
{
	reader->dots = false;
	if (reader->state == SMTP_DATA_ST_BOL)
		reader->state = SMTP_DATA_ST_TEXT;
	reader->chunk_left = chunk_size;
}

enum smtp_data_result
smtp_data_reader_bdat_feed(struct smtp_data_reader *reader,
			   const uint8_t *data, size_t len,
			   size_t *consumed_r)
{
	size_t i, n = len;

	if (n > reader->chunk_left)
		n = (size_t)reader->chunk_left;
	for (i = 0; i < n; i++) {
		if (reader->state == SMTP_DATA_ST_TEXT) {
			i += smtp_data_text_run(reader, data + i, n - i);
			if (i == n)
				break;
		}
		(void)smtp_data_step(reader, data[i]);
	}
	smtp_data_flush(reader);
	reader->chunk_left -= n;
	*consumed_r = n;
	return reader->chunk_left == 0 ? SMTP_DATA_DONE : SMTP_DATA_NEED_MORE;
}

void
smtp_data_reader_bdat_finish(struct smtp_data_reader *reader)
{
	if (reader->state == SMTP_DATA_ST_CR)
		smtp_data_bare_eol(reader, '\r');
	smtp_data_flush(reader);
	reader->state = SMTP_DATA_ST_DONE;
}

unsigned
smtp_data_reader_8bit(const struct smtp_data_reader *reader)
{
	return reader->eight_bit;
}

unsigned
smtp_data_reader_errors(const struct smtp_data_reader *reader)
{
	return reader->errors;
}

uint64_t
smtp_data_reader_size(const struct smtp_data_reader *reader)
{
	return reader->size;
}

uint64_t
smtp_data_reader_long_line(const struct smtp_data_reader *reader)
{
	return reader->long_line;
}

bool
smtp_data_reader_normalized(const struct smtp_data_reader *reader)
{
	return reader->normalized;
}

const char *
smtp_data_error_str(unsigned errors)
{
	if (errors & SMTP_DATA_ERR_TOO_BIG)
		return "message size exceeds limit";
	if (errors & (SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR))
		return "bare CR or LF in message; lines must end in CRLF";
	if (errors & SMTP_DATA_ERR_NUL)
		return "NUL octet in message";
	if (errors & SMTP_DATA_ERR_LONG_LINE)
		return "message line too long";
	return "";
}

/* ---- encoder ---------------------------------------------------------- */

void
smtp_data_encoder_init(struct smtp_data_encoder *enc, bool dot_stuff)
{
	memset(enc, 0, sizeof(*enc));
	enc->dot_stuff = dot_stuff;
	enc->line_start = true;
}

/* The first CR or LF at or after i that the encoder must look at: a
 * CR LF whose next line does not start with a dot to stuff goes out as
 * it is and is passed over, 16 octets at a time (a memchr for each line's
 * CR and LF was most of the cost of a relayed message's body). p[i] is
 * never the LF of a CR LF. Returns len when there is none. */
static size_t
encode_run_scan(const uint8_t *p, size_t i, size_t len, bool dot_stuff)
{
	size_t k = i;

#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	const __m128i dot = _mm_set1_epi8('.');
	const __m128i dots = dot_stuff ? _mm_set1_epi8(-1) :
		_mm_setzero_si128();

	if (k == 0 && len > 0) {
		if (p[0] == '\r' || p[0] == '\n')
			return 0;
		k = 1;
	}
	while (k > 0 && len - k >= 18) {
		__m128i w = _mm_loadu_si128((const __m128i *)(p + k));
		__m128i pv = _mm_loadu_si128((const __m128i *)(p + k - 1));
		__m128i n1 = _mm_loadu_si128((const __m128i *)(p + k + 1));
		__m128i n2 = _mm_loadu_si128((const __m128i *)(p + k + 2));
		__m128i is_cr = _mm_cmpeq_epi8(w, cr);
		__m128i is_lf = _mm_cmpeq_epi8(w, lf);
		__m128i n1_dot = _mm_and_si128(_mm_cmpeq_epi8(n1, dot), dots);
		__m128i n2_dot = _mm_and_si128(_mm_cmpeq_epi8(n2, dot), dots);
		/* CR of a CR LF with no dot after it; its LF */
		__m128i cr_ok = _mm_andnot_si128(n2_dot, _mm_and_si128(is_cr,
			_mm_cmpeq_epi8(n1, lf)));
		__m128i lf_ok = _mm_andnot_si128(n1_dot, _mm_and_si128(is_lf,
			_mm_cmpeq_epi8(pv, cr)));
		__m128i stop = _mm_or_si128(_mm_andnot_si128(cr_ok, is_cr),
					    _mm_andnot_si128(lf_ok, is_lf));
		unsigned mask = (unsigned)_mm_movemask_epi8(stop);

		if (mask != 0)
			return k + (size_t)__builtin_ctz(mask);
		k += 16;
	}
	/* a CR passed over as the last octet of a block: its LF is next,
	 * and the caller takes the pair from its CR */
	if (k > i && p[k - 1] == '\r')
		return k - 1;
#else
	(void)dot_stuff;
#endif
	while (k < len && p[k] != '\r' && p[k] != '\n')
		k++;
	return k;
}

void
smtp_data_encode(struct smtp_data_encoder *enc, const uint8_t *p, size_t len,
		 struct buf *out)
{
	size_t start = out->len, i = 0, seg;

	buf_reserve(out, len + len / 32 + 4);
	if (enc->cr_pending && len > 0) {
		/* CR LF split across pieces, or a bare CR: CRLF either way */
		buf_append(out, "\r\n", 2);
		enc->cr_pending = false;
		enc->line_start = true;
		if (p[0] == '\n')
			i = 1;
	}
	/* p[seg..i) goes out as it is: lines that already end in CRLF and
	 * need no dot are not copied one by one but in one run, up to the
	 * next line that needs a change (the runner sends every relayed
	 * message through here) */
	seg = i;
	while (i < len) {
		size_t run;

		if (enc->line_start && enc->dot_stuff && p[i] == '.') {
			buf_append(out, p + seg, i - seg);
			buf_putc(out, '.');
			seg = i;
		}
		enc->line_start = false;
		run = encode_run_scan(p, i, len, enc->dot_stuff);
		if (run + 1 < len && p[run] == '\r' && p[run + 1] == '\n') {
			/* the line and its CRLF as they are */
			enc->line_start = true;
			i = run + 2;
			continue;
		}
		buf_append(out, p + seg, run - seg);
		i = seg = run;
		if (i == len)
			break;
		if (p[i] == '\r') {
			if (i + 1 == len) {
				enc->cr_pending = true;
				seg = ++i;
				break;
			}
		}
		buf_append(out, "\r\n", 2);
		enc->line_start = true;
		seg = ++i;
	}
	buf_append(out, p + seg, i - seg);
	enc->out_bytes += out->len - start;
}

void
smtp_data_encode_finish(struct smtp_data_encoder *enc, struct buf *out)
{
	size_t start = out->len;

	if (enc->cr_pending || !enc->line_start)
		buf_append(out, "\r\n", 2);
	enc->cr_pending = false;
	enc->line_start = true;
	if (enc->dot_stuff)
		buf_append(out, ".\r\n", 3);
	enc->out_bytes += out->len - start;
}
