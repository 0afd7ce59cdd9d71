/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the DATA/BDAT body reader: dot-unstuffing, the end
 * marker, the SMTP smuggling vectors, limits, and identical results
 * whether the input arrives whole, octet by octet or in random pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-data.h"

#include "feed-split.h"

#define S(x) x, sizeof(x) - 1

struct data_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
	unsigned errors;
	size_t consumed;	/* 0: all of in; SIZE_MAX: never DONE */
	bool normalize;
	uint64_t max_size;	/* 0: default */
	uint64_t long_line;
};

static const struct data_case data_cases[] = {
	{ S("Hello\r\n.\r\n"), S("Hello\r\n"), 0, 0, false, 0, 0 },
	{ S(".\r\n"), S(""), 0, 0, false, 0, 0 },
	{ S("\r\n.\r\n"), S("\r\n"), 0, 0, false, 0, 0 },
	{ S("..foo\r\n.\r\n"), S(".foo\r\n"), 0, 0, false, 0, 0 },
	{ S("a\r\n..\r\n.\r\n"), S("a\r\n.\r\n"), 0, 0, false, 0, 0 },
	{ S("a\r\n...\r\n.\r\n"), S("a\r\n..\r\n"), 0, 0, false, 0, 0 },
	{ S(".foo\r\n.\r\n"), S("foo\r\n"), 0, 0, false, 0, 0 },
	{ S("a.\r\nb\r\n.\r\n"), S("a.\r\nb\r\n"), 0, 0, false, 0, 0 },
	/* smuggling vectors never end DATA */
	{ S("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
	  S("a\n.\nMAIL FROM:<x@y>\r\n"), SMTP_DATA_ERR_BARE_LF, 0, false, 0, 0 },
	{ S("a\r.\rMAIL FROM:<x@y>\r\n.\r\n"),
	  S("a\r.\rMAIL FROM:<x@y>\r\n"), SMTP_DATA_ERR_BARE_CR, 0, false, 0, 0 },
	{ S("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
	  S("a\r\n.\nMAIL FROM:<x@y>\r\n"), SMTP_DATA_ERR_BARE_LF, 0, false, 0, 0 },
	{ S("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n"),
	  S("a\n.\r\nMAIL FROM:<x@y>\r\n"), SMTP_DATA_ERR_BARE_LF, 0, false, 0, 0 },
	{ S("a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n"),
	  S("a\r.\r\nMAIL FROM:<x@y>\r\n"), SMTP_DATA_ERR_BARE_CR, 0, false, 0, 0 },
	{ S(".\rx\r\n.\r\n"), S(".\rx\r\n"), SMTP_DATA_ERR_BARE_CR, 0, false, 0, 0 },
	{ S(".\n.\r\n"), S(".\n.\r\n"), SMTP_DATA_ERR_BARE_LF, SIZE_MAX, false, 0, 0 },
	{ S("\n.\r\n"), S("\n.\r\n"), SMTP_DATA_ERR_BARE_LF, SIZE_MAX, false, 0, 0 },
	{ S("a\r\r\n.\r\n"), S("a\r\r\n"), SMTP_DATA_ERR_BARE_CR, 0, false, 0, 0 },
	/* the same, normalised: still never an end */
	{ S("a\n.\r\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), 0, 0, true, 0, 0 },
	{ S("a\r.\rb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), 0, 0, true, 0, 0 },
	{ S("a\n.\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), 0, 0, true, 0, 0 },
	{ S("a\r\n.\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), 0, 0, true, 0, 0 },
	{ S("a\r.\r\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), 0, 0, true, 0, 0 },
	/* pipelined commands stay with the caller */
	{ S("x\r\n.\r\nQUIT\r\n"), S("x\r\n"), 0, sizeof("x\r\n.\r\n") - 1,
	  false, 0, 0 },
	{ S(".\r\nRSET\r\nMAIL FROM:<>\r\n"), S(""), 0, 3, false, 0, 0 },
	/* NUL */
	{ S("a\0b\r\n.\r\n"), S("a\0b\r\n"), SMTP_DATA_ERR_NUL, 0, false, 0, 0 },
	/* size limit: output stops, input is read to the end */
	{ S("0123456789\r\n.\r\nNOOP\r\n"), S("0123456789"), SMTP_DATA_ERR_TOO_BIG,
	  sizeof("0123456789\r\n.\r\n") - 1, false, 10, 0 },
	{ S("0123456789\r\n.\r\n"), S("0123456789\r\n"), 0, 0, false, 12, 0 },
	{ S("0123456789\r\n.\r\n"), S("0123456789\r"), SMTP_DATA_ERR_TOO_BIG, 0,
	  false, 11, 0 },
	/* everything at once: still finds the end */
	{ S("a\0\n\r..b\r\n.\r\nQUIT\r\n"), S("a\0\n\r."), SMTP_DATA_ERR_TOO_BIG |
	  SMTP_DATA_ERR_NUL | SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR,
	  sizeof("a\0\n\r..b\r\n.\r\n") - 1, false, 5, 0 },
	/* no end yet */
	{ S("abc\r\n.\r"), S("abc\r\n"), 0, SIZE_MAX, false, 0, 0 },
	{ S("abc\r\n"), S("abc\r\n"), 0, SIZE_MAX, false, 0, 0 },
};

struct data_feed {
	struct smtp_data_reader *reader;
	enum smtp_data_result res;
	size_t taken;
	size_t bdat_len;	/* BDAT: the chunk's length; 0 for DATA */
};

/* Until DONE the reader takes every octet it is given; after DONE it takes
 * none, and what follows (pipelined commands) stays with the caller. */
static size_t
data_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct data_feed *f = ctx;
	size_t consumed;

	if (f->res == SMTP_DATA_DONE)
		return 0;
	if (f->bdat_len != 0)
		f->res = smtp_data_reader_bdat_feed(f->reader, data, len,
						    &consumed);
	else
		f->res = smtp_data_reader_feed(f->reader, data, len,
					       &consumed);
	assert_true(consumed <= len);
	f->taken += consumed;
	if (f->res != SMTP_DATA_DONE) {
		assert_int_equal(consumed, len);
		/* a BDAT chunk all read must end with DONE */
		if (f->bdat_len != 0)
			assert_true(f->taken < f->bdat_len);
	}
	return consumed;
}

static void
run_data_case(const struct data_case *tc, unsigned way)
{
	struct smtp_data_limits limits;
	struct data_feed f = { .res = SMTP_DATA_NEED_MORE };
	enum smtp_data_result res;
	struct buf out;
	size_t pos, consumed;

	smtp_data_limits_default(&limits);
	limits.normalize_bare_eol = tc->normalize;
	if (tc->max_size != 0)
		limits.max_message_size = tc->max_size;
	buf_init(&out);
	f.reader = smtp_data_reader_new_buf(&limits, &out);
	pos = feed_split(tc->in, tc->in_len, way, 7, data_feed, &f);
	assert_int_equal(pos, f.taken);
	if (tc->consumed == SIZE_MAX) {
		assert_int_equal(f.res, SMTP_DATA_NEED_MORE);
		assert_int_equal(pos, tc->in_len);
	} else {
		assert_int_equal(f.res, SMTP_DATA_DONE);
		assert_int_equal(pos, tc->consumed == 0 ? tc->in_len :
				 tc->consumed);
		/* after DONE nothing more is taken */
		res = smtp_data_reader_feed(f.reader, (const uint8_t *)"x", 1,
					    &consumed);
		assert_int_equal(res, SMTP_DATA_DONE);
		assert_int_equal(consumed, 0);
	}
	assert_int_equal(out.len, tc->out_len);
	assert_memory_equal(out.data, tc->out, tc->out_len);
	assert_int_equal(smtp_data_reader_errors(f.reader), tc->errors);
	smtp_data_reader_free(&f.reader);
	assert_null(f.reader);
	buf_deinit(&out);
}

static void
test_data_table(void **state)
{
	size_t i;
	unsigned way;

	for (i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		for (way = 0; way < 40; way++)
			run_data_case(&data_cases[i], way);
	}
}

static void
test_data_long_lines(void **state)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	struct buf in, out;
	size_t consumed;
	int i;

	buf_init(&in);
	buf_init(&out);
	buf_puts(&in, "line 1\r\n");
	for (i = 0; i < 998; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, "\r\n");
	/* a stuffed line of 998 after unstuffing is fine */
	buf_putc(&in, '.');
	for (i = 0; i < 998; i++)
		buf_putc(&in, '.');
	buf_puts(&in, "\r\n");
	for (i = 0; i < 999; i++)
		buf_putc(&in, 'b');
	buf_puts(&in, "\r\n");
	for (i = 0; i < 5000; i++)
		buf_putc(&in, 'c');
	buf_puts(&in, "\r\n.\r\n");

	smtp_data_limits_default(&limits);
	reader = smtp_data_reader_new_buf(&limits, &out);
	assert_int_equal(smtp_data_reader_feed(reader, (uint8_t *)in.data,
					       in.len, &consumed),
			 SMTP_DATA_DONE);
	assert_int_equal(consumed, in.len);
	assert_int_equal(smtp_data_reader_errors(reader),
			 SMTP_DATA_ERR_LONG_LINE);
	assert_int_equal(smtp_data_reader_long_line(reader), 4);
	assert_int_equal(smtp_data_reader_size(reader), in.len - 3 - 1);
	smtp_data_reader_free(&reader);

	/* exactly 998 everywhere: no error */
	buf_reset(&in);
	buf_reset(&out);
	for (i = 0; i < 998; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, "\r\n.\r\n");
	reader = smtp_data_reader_new_buf(&limits, &out);
	assert_int_equal(smtp_data_reader_feed(reader, (uint8_t *)in.data,
					       in.len, &consumed),
			 SMTP_DATA_DONE);
	assert_int_equal(smtp_data_reader_errors(reader), 0);
	assert_int_equal(smtp_data_reader_long_line(reader), 0);
	smtp_data_reader_free(&reader);
	buf_deinit(&in);
	buf_deinit(&out);
}

static void
test_data_size_big(void **state)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	struct buf out;
	char block[1000];
	size_t consumed;
	int i;

	smtp_data_limits_default(&limits);
	limits.max_message_size = 10000;
	buf_init(&out);
	reader = smtp_data_reader_new_buf(&limits, &out);
	memset(block, 'x', sizeof(block));
	block[sizeof(block) - 2] = '\r';
	block[sizeof(block) - 1] = '\n';
	for (i = 0; i < 1000; i++) {
		assert_int_equal(smtp_data_reader_feed(reader,
			(uint8_t *)block, sizeof(block), &consumed),
			SMTP_DATA_NEED_MORE);
	}
	assert_int_equal(out.len, 10000);
	assert_int_equal(smtp_data_reader_feed(reader, (uint8_t *)".\r\nQ", 4,
					       &consumed), SMTP_DATA_DONE);
	assert_int_equal(consumed, 3);
	assert_int_equal(smtp_data_reader_errors(reader),
			 SMTP_DATA_ERR_TOO_BIG);
	assert_int_equal(smtp_data_reader_size(reader), 1000000);
	assert_string_equal(smtp_data_error_str(smtp_data_reader_errors(reader)),
			    "message size exceeds limit");
	smtp_data_reader_free(&reader);
	buf_deinit(&out);
}

static void
test_data_normalized_flag(void **state)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	struct buf out;
	size_t consumed;

	smtp_data_limits_default(&limits);
	limits.normalize_bare_eol = true;
	buf_init(&out);
	reader = smtp_data_reader_new_buf(&limits, &out);
	smtp_data_reader_feed(reader, (uint8_t *)"a\nb\r\n.\r\n", 8, &consumed);
	assert_true(smtp_data_reader_normalized(reader));
	assert_string_equal(out.data, "a\r\nb\r\n");
	smtp_data_reader_free(&reader);
	buf_deinit(&out);
}

/* ---- BDAT ---- */

struct bdat_case {
	const char *chunks[4];	/* NULL-terminated; each a whole chunk */
	const char *out;
	unsigned errors;
	bool normalize;
	uint64_t max_size;
};

static const struct bdat_case bdat_cases[] = {
	{ { "Subject: x\r\n\r\nbody\r\n", NULL }, "Subject: x\r\n\r\nbody\r\n",
	  0, false, 0 },
	{ { "a\r", "\nb\r\n", NULL }, "a\r\nb\r\n", 0, false, 0 },
	{ { "a\r", "", "\n", NULL }, "a\r\n", 0, false, 0 },
	{ { "a\r", "b\r\n", NULL }, "a\rb\r\n", SMTP_DATA_ERR_BARE_CR, false, 0 },
	{ { "a\r", NULL }, "a\r", SMTP_DATA_ERR_BARE_CR, false, 0 },
	{ { "a\n", ".\r\n", NULL }, "a\n.\r\n", SMTP_DATA_ERR_BARE_LF, false, 0 },
	{ { "a\n", "b\r", NULL }, "a\r\nb\r\n", 0, true, 0 },
	{ { "..\r\n.\r\n", NULL }, "..\r\n.\r\n", 0, false, 0 },
	{ { "0123", "4567", "89\r\n", NULL }, "012345", SMTP_DATA_ERR_TOO_BIG,
	  false, 6 },
	{ { "a\0b", NULL }, "a\0b", SMTP_DATA_ERR_NUL, false, 0 },
};

static void
run_bdat_case(const struct bdat_case *tc, unsigned way)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	struct buf out, expect;
	size_t i, pos, consumed, clen;
	const char *trailer = "QUIT\r\n";

	smtp_data_limits_default(&limits);
	limits.normalize_bare_eol = tc->normalize;
	if (tc->max_size != 0)
		limits.max_message_size = tc->max_size;
	buf_init(&out);
	buf_init(&expect);
	reader = smtp_data_reader_new_buf(&limits, &out);
	for (i = 0; tc->chunks[i] != NULL; i++) {
		struct buf wire;
		enum smtp_data_result res = SMTP_DATA_NEED_MORE;

		/* "a\0b" is the only chunk with a NUL */
		clen = strcmp(tc->chunks[i], "a") == 0 ? 3 :
			strlen(tc->chunks[i]);
		buf_init(&wire);
		buf_append(&wire, tc->chunks[i], clen);
		buf_puts(&wire, trailer);
		smtp_data_reader_bdat_begin(reader, clen);
		pos = 0;
		if (clen == 0) {
			res = smtp_data_reader_bdat_feed(reader,
				(uint8_t *)wire.data, wire.len, &consumed);
			assert_int_equal(res, SMTP_DATA_DONE);
			assert_int_equal(consumed, 0);
		} else {
			struct data_feed f = { .reader = reader,
					       .res = SMTP_DATA_NEED_MORE,
					       .bdat_len = clen };

			/* the reader stops at the chunk's end by itself */
			pos = feed_split(wire.data, wire.len, way, 5,
					 data_feed, &f);
			res = f.res;
		}
		assert_int_equal(res, SMTP_DATA_DONE);
		assert_int_equal(pos, clen);
		buf_deinit(&wire);
	}
	smtp_data_reader_bdat_finish(reader);
	buf_append(&expect, tc->out,
		   strcmp(tc->out, "a") == 0 ? 3 : strlen(tc->out));
	assert_int_equal(out.len, expect.len);
	assert_memory_equal(out.data, expect.data, expect.len);
	assert_int_equal(smtp_data_reader_errors(reader), tc->errors);
	smtp_data_reader_free(&reader);
	buf_deinit(&out);
	buf_deinit(&expect);
}

static void
test_bdat_table(void **state)
{
	size_t i;
	unsigned way;

	for (i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
		for (way = 0; way < 20; way++)
			run_bdat_case(&bdat_cases[i], way);
	}
}

/* A callback sink sees the same octets as the buf sink. */
static void
count_sink(const uint8_t *data, size_t len, void *context)
{
	buf_append(context, data, len);
}

static void
test_data_callback_sink(void **state)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	struct buf out, in;
	size_t consumed;
	int i;

	smtp_data_limits_default(&limits);
	buf_init(&out);
	buf_init(&in);
	for (i = 0; i < 3000; i++)
		buf_puts(&in, "..line\r\n");
	buf_puts(&in, ".\r\n");
	reader = smtp_data_reader_new(&limits, count_sink, &out);
	assert_int_equal(smtp_data_reader_feed(reader, (uint8_t *)in.data,
					       in.len, &consumed),
			 SMTP_DATA_DONE);
	assert_int_equal(out.len, 3000 * 7);
	assert_memory_equal(out.data, ".line\r\n.line\r\n", 14);
	smtp_data_reader_free(&reader);
	buf_deinit(&out);
	buf_deinit(&in);
}

/* Where 8-bit octets are (header, body), whatever the split: the
 * queue's envelope facts (8BITMIME, SMTPUTF8) come from it. */
static void
test_data_8bit(void **state)
{
	static const struct {
		const char *in;
		unsigned want;
	} cases[] = {
		{ "Subject: hi\r\n\r\nplain\r\n.\r\n", 0 },
		{ "Subject: caf\xc3\xa9\r\n\r\nplain\r\n.\r\n",
		  SMTP_DATA_8BIT_HEADER },
		{ "Subject: hi\r\n\r\ncaf\xc3\xa9\r\n.\r\n",
		  SMTP_DATA_8BIT_BODY },
		{ "S: \xff\r\n\r\n\xff\r\n.\r\n",
		  SMTP_DATA_8BIT_HEADER | SMTP_DATA_8BIT_BODY },
		/* no empty line: all header */
		{ "S: a\r\n\x80\r\n.\r\n", SMTP_DATA_8BIT_HEADER },
		/* a message that starts with the empty line: all body */
		{ "\r\n\x80\r\n.\r\n", SMTP_DATA_8BIT_BODY },
		/* a dot-stuffed 8-bit line, the first octet of a line */
		{ "S: a\r\n\r\n..\xe9\r\n\xe9x\r\n.\r\n",
		  SMTP_DATA_8BIT_BODY },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned way = 0; way < 20; way++) {
			struct smtp_data_limits limits;
			struct data_feed f = { .res = SMTP_DATA_NEED_MORE };
			struct buf out;

			smtp_data_limits_default(&limits);
			buf_init(&out);
			f.reader = smtp_data_reader_new_buf(&limits, &out);
			feed_split(cases[i].in, strlen(cases[i].in), way, 7,
				   data_feed, &f);
			assert_int_equal(f.res, SMTP_DATA_DONE);
			if (smtp_data_reader_8bit(f.reader) != cases[i].want)
				fail_msg("case %zu way %u: 8bit %u", i, way,
					 smtp_data_reader_8bit(f.reader));
			smtp_data_reader_free(&f.reader);
			buf_deinit(&out);
		}
	}
}

/* One reader's results for in, fed in pieces of step octets (1: the
 * octet-by-octet path only; larger: the word-at-a-time scan of runs). */
struct scan_result {
	struct buf out;
	enum smtp_data_result res;
	unsigned errors, eight;
	uint64_t size, long_line;
};

static void
scan_feed(const uint8_t *in, size_t len, size_t step, bool normalize,
	  bool bdat, struct scan_result *r)
{
	struct smtp_data_limits limits;
	struct smtp_data_reader *reader;
	size_t pos = 0, consumed;

	smtp_data_limits_default(&limits);
	limits.max_line_len = 11;
	limits.max_message_size = 40;
	limits.normalize_bare_eol = normalize;
	buf_init(&r->out);
	reader = smtp_data_reader_new_buf(&limits, &r->out);
	r->res = SMTP_DATA_NEED_MORE;
	if (bdat)
		smtp_data_reader_bdat_begin(reader, len);
	while (pos < len && r->res != SMTP_DATA_DONE) {
		size_t n = len - pos < step ? len - pos : step;

		if (bdat)
			r->res = smtp_data_reader_bdat_feed(reader, in + pos,
							    n, &consumed);
		else
			r->res = smtp_data_reader_feed(reader, in + pos, n,
						       &consumed);
		pos += consumed;
	}
	if (bdat)
		smtp_data_reader_bdat_finish(reader);
	r->errors = smtp_data_reader_errors(reader);
	r->eight = smtp_data_reader_8bit(reader);
	r->size = smtp_data_reader_size(reader);
	r->long_line = smtp_data_reader_long_line(reader);
	smtp_data_reader_free(&reader);
}

/* Every special octet (CR, LF, CRLF, NUL, 8-bit, a dot) and line end at
 * every offset of an 8-octet word, lines around the length limit and the
 * size limit, in DATA and BDAT: the runs over several lines, scanned a
 * word at a time, find what the octet loop finds (fed one octet at a
 * time, the reader never looks past the octet it has). */
static void
test_data_word_scan(void **state)
{
	static const char *const specials[] = {
		"\r", "\n", "\r\n", "\0", "\x80", "\xff", ".", "\r\n.",
		"\r\n..", "\r\n\r\n", "\xe9\r\n\r\n\xe9", "\r\n\xe9",
		"\r\n\r", "\r\n\n", "\r\n\r\n.\r\n", "\r\n.\r\n",
		"\r\nab\r\ncd\r\n\r\nef\r\n", "\r\r\n", "\n\r\n.",
	};
	static const size_t steps[] = { 2, 7, 8, 9, 64, 4096 };
	static const char tail[] = "\r\nbbbbbbbbbbbbbbbbbbbb\r\n.\r\n";

	for (size_t s = 0; s < sizeof(specials) / sizeof(specials[0]); s++) {
		for (size_t at = 0; at < 24; at++) {
			for (int mode = 0; mode < 4; mode++) {
				bool norm = mode & 1, bdat = mode & 2;
				uint8_t in[128];
				size_t len = 0, slen = s == 3 ? 1 :
					strlen(specials[s]);
				struct scan_result one, many;

				/* text, the special octet(s) at "at",
				 * text, a line past the limit, the end */
				memset(in, 'a', sizeof(in));
				len = at;
				memcpy(in + len, specials[s], slen);
				len += slen;
				len += 17;
				memcpy(in + len, tail, sizeof(tail) - 1);
				len += sizeof(tail) - 1;
				scan_feed(in, len, 1, norm, bdat, &one);
				for (size_t k = 0;
				     k < sizeof(steps) / sizeof(steps[0]);
				     k++) {
					scan_feed(in, len, steps[k], norm,
						  bdat, &many);
					if (many.res != one.res ||
					    many.errors != one.errors ||
					    many.eight != one.eight ||
					    many.size != one.size ||
					    many.long_line != one.long_line ||
					    many.out.len != one.out.len ||
					    memcmp(many.out.data, one.out.data,
						   one.out.len) != 0)
						fail_msg("special %zu at %zu "
							 "step %zu mode %d", s,
							 at, steps[k], mode);
					buf_deinit(&many.out);
				}
				buf_deinit(&one.out);
			}
		}
	}
	/* a long run of 8-octet words, 8-bit only in its last word */
	{
		uint8_t in[200];
		struct scan_result r;

		memset(in, 'x', sizeof(in));
		in[90] = 0xe9;
		memcpy(in + 100, "\r\n.\r\n", 5);
		scan_feed(in, 105, 4096, false, false, &r);
		assert_int_equal(r.res, SMTP_DATA_DONE);
		assert_int_equal(r.eight, SMTP_DATA_8BIT_HEADER);
		/* counted whole, stored up to the size limit */
		assert_int_equal(r.size, 102);
		assert_int_equal(r.out.len, 40);
		assert_int_equal(r.errors, SMTP_DATA_ERR_TOO_BIG |
				 SMTP_DATA_ERR_LONG_LINE);
		buf_deinit(&r.out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_long_lines),
		cmocka_unit_test(test_data_size_big),
		cmocka_unit_test(test_data_normalized_flag),
		cmocka_unit_test(test_bdat_table),
		cmocka_unit_test(test_data_callback_sink),
		cmocka_unit_test(test_data_8bit),
		cmocka_unit_test(test_data_word_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
