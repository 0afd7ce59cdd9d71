/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for what the SMTP client reads and writes without a network:
 * the reply reader (multi-line replies, "250" alone, enhanced codes,
 * limits, malformed replies; each stream fed whole, octet by octet and in
 * random pieces), EHLO keywords, and the message encoder (CRLF only, dot
 * stuffing, however the message is cut into blocks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-data.h"
#include "smtp/smtp-reply.h"

#include "feed-split.h"

#define S(x) x, sizeof(x) - 1

struct reply_case {
	const char *in;
	size_t in_len;
	size_t line_max;	/* 0: default */
	unsigned lines_max;
	/* "code/enhanced/text" per reply joined with '|', "E" for an
	 * error (nothing is read after it), "~" when a reply is partial */
	const char *events;
};

static const struct reply_case reply_cases[] = {
	{ S("220 mx.example.org ESMTP\r\n"), 0, 0, "220//mx.example.org ESMTP" },
	{ S("250\r\n"), 0, 0, "250//" },
	{ S("250 \r\n"), 0, 0, "250//" },
	{ S("250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n"), 0, 0,
	  "250//mx\nPIPELINING\nSIZE 100" },
	{ S("550 5.1.1 <b@x>: unknown\r\n"), 0, 0, "550/5.1.1/<b@x>: unknown" },
	{ S("550-5.1.1 first\r\n550 5.1.1 second\r\n"), 0, 0,
	  "550/5.1.1/first\nsecond" },
	/* an enhanced code of another class is text, not a code */
	{ S("550 2.0.0 odd\r\n"), 0, 0, "550//2.0.0 odd" },
	{ S("250 2.1.5\r\n"), 0, 0, "250/2.1.5/" },
	{ S("250 ok\n354 go\r\n"), 0, 0, "250//ok|354//go" },
	{ S("250 ok\r\n354 go"), 0, 0, "250//ok|~" },
	{ S("250-a\r\n"), 0, 0, "~" },
	{ S("250text\r\n"), 0, 0, "E" },
	{ S("25 x\r\n"), 0, 0, "E" },
	{ S("abc\r\n"), 0, 0, "E" },
	{ S("150 x\r\n"), 0, 0, "E" },
	{ S("650 x\r\n"), 0, 0, "E" },
	{ S("250-a\r\n251 b\r\n"), 0, 0, "E" },
	{ S("250 a\0b\r\n"), 0, 0, "E" },
	{ S("250 ctl\x01x\r\n"), 0, 0, "250//ctl?x" },
	/* 12 octets with CRLF */
	{ S("250 67890\r\n"), 12, 0, "250//67890" },
	{ S("250 678901\r\n"), 12, 0, "250//678901" },
	{ S("250 6789012\r\n"), 12, 0, "E" },
	{ S("250 6789012345678"), 12, 0, "E" },
	{ S("250-a\r\n250-b\r\n250 c\r\n"), 0, 3, "250//a\nb\nc" },
	{ S("250-a\r\n250-b\r\n250-c\r\n250 d\r\n"), 0, 3, "E" },
};

struct reply_stream {
	struct smtp_reply_parser *parser;
	struct buf events;
	bool failed;
};

static size_t
reply_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct reply_stream *st = ctx;
	size_t used;
	enum smtp_reply_result r;

	if (st->failed)
		return 0;
	r = smtp_reply_parser_feed(st->parser, data, len, &used);
	assert_true(used <= len);
	if (r == SMTP_REPLY_ERROR) {
		buf_puts(&st->events, st->events.len > 0 ? "|E" : "E");
		st->failed = true;
		return 0;
	}
	if (r == SMTP_REPLY_DONE) {
		struct smtp_reply reply;

		smtp_reply_init(&reply);
		smtp_reply_parser_take(st->parser, &reply);
		if (st->events.len > 0)
			buf_putc(&st->events, '|');
		buf_printf(&st->events, "%u/%s/%s", reply.code, reply.enhanced,
			   reply.text);
		smtp_reply_deinit(&reply);
	} else {
		assert_int_equal(used, len);
	}
	return used;
}

static void
test_reply_reader(void **state)
{
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]);
	     i++) {
		const struct reply_case *c = &reply_cases[i];

		for (unsigned way = 0; way < 12; way++) {
			struct smtp_reply_limits l = {
				.line_max = c->line_max,
				.lines_max = c->lines_max,
			};
			struct reply_stream st = { 0 };
			const char *want = c->events;
			size_t wl = strlen(want);

			st.parser = smtp_reply_parser_new(&l);
			buf_init(&st.events);
			feed_split(c->in, c->in_len, way, 0, reply_feed, &st);
			/* a trailing partial reply shows as "~" */
			if (!st.failed && wl > 0 && want[wl - 1] == '~')
				buf_puts(&st.events,
					 st.events.len > 0 ? "|~" : "~");
			if (strcmp(st.events.data, want) != 0)
				fail_msg("case %zu way %u: got \"%s\" want \"%s\"",
					 i, way, st.events.data, want);
			buf_deinit(&st.events);
			smtp_reply_parser_free(&st.parser);
			assert_null(st.parser);
		}
	}
}

static void
test_reply_format(void **state)
{
	struct smtp_reply r;
	struct buf b;

	smtp_reply_init(&r);
	smtp_reply_set(&r, 451, "4.4.2", "lost %s", "connection");
	buf_init(&b);
	smtp_reply_append_line(&r, &b);
	assert_string_equal(b.data, "451 4.4.2 lost connection");
	smtp_reply_deinit(&r);
	smtp_reply_set(&r, 250, NULL, "a\nb");
	buf_truncate(&b, 0);
	smtp_reply_append_line(&r, &b);
	assert_string_equal(b.data, "250 a b");
	smtp_reply_deinit(&r);
	buf_deinit(&b);
}

static void
test_ehlo_keywords(void **state)
{
	struct smtp_ehlo e;

	memset(&e, 0, sizeof(e));
	smtp_ehlo_parse_line("PIPELINING", &e);
	smtp_ehlo_parse_line("size 35882577", &e);
	smtp_ehlo_parse_line("8BITMIME", &e);
	smtp_ehlo_parse_line("AUTH=LOGIN", &e);
	smtp_ehlo_parse_line("AUTH CRAM-MD5 PLAIN", &e);
	smtp_ehlo_parse_line("X-UNKNOWN foo", &e);
	smtp_ehlo_parse_line("STARTTLSX", &e);
	smtp_ehlo_parse_line("CHUNKING", &e);
	assert_int_equal(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
			 SMTP_EXT_8BITMIME | SMTP_EXT_AUTH | SMTP_EXT_CHUNKING);
	assert_true(e.size_max == 35882577);
	assert_true(e.auth_plain);
	assert_true(e.auth_login);
	memset(&e, 0, sizeof(e));
	smtp_ehlo_parse_line("SIZE 99999999999999999999999999", &e);
	assert_true(e.size_max > 0);
	smtp_ehlo_parse_line("SIZE", &e);
	assert_true(e.size_max == 0);
	assert_string_equal(smtp_ext_name(SMTP_EXT_DSN), "DSN");
}

/* ---- the encoder ---- */

struct enc_case {
	const char *in;
	size_t in_len;
	bool dot_stuff;
	const char *out;
	size_t out_len;
};

static const struct enc_case enc_cases[] = {
	{ S("a\r\nb\r\n"), true, S("a\r\nb\r\n.\r\n") },
	{ S("a\nb\n"), true, S("a\r\nb\r\n.\r\n") },
	{ S("a\rb\r"), true, S("a\r\nb\r\n.\r\n") },
	{ S("a\r\r\nb"), true, S("a\r\n\r\nb\r\n.\r\n") },
	{ S("a\n\rb"), false, S("a\r\n\r\nb\r\n") },
	{ S(".\r\n..x\n.y"), true, S("..\r\n...x\r\n..y\r\n.\r\n") },
	{ S(".\r\n..x\n.y"), false, S(".\r\n..x\r\n.y\r\n") },
	/* smuggling attempts become ordinary lines */
	{ S("a\n.\nb\r.\r\nc"), true, S("a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n") },
	{ S(""), true, S(".\r\n") },
	{ S(""), false, S("") },
	{ S("x"), false, S("x\r\n") },
	{ S("\r"), false, S("\r\n") },
	{ S("\0\r\n"), false, S("\0\r\n") },
};

struct enc_stream {
	struct smtp_data_encoder enc;
	struct buf out;
};

static size_t
enc_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct enc_stream *st = ctx;

	smtp_data_encode(&st->enc, data, len, &st->out);
	return len;
}

static void
test_encoder(void **state)
{
	for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];

		for (unsigned way = 0; way < 12; way++) {
			struct enc_stream st;

			smtp_data_encoder_init(&st.enc, c->dot_stuff);
			buf_init(&st.out);
			feed_split(c->in, c->in_len, way, 0, enc_feed, &st);
			smtp_data_encode_finish(&st.enc, &st.out);
			if (st.out.len != c->out_len ||
			    memcmp(st.out.data, c->out, c->out_len) != 0)
				fail_msg("case %zu way %u: got %zu octets "
					 "\"%s\"", i, way, st.out.len,
					 st.out.data);
			assert_true(st.enc.out_bytes == st.out.len);
			buf_deinit(&st.out);
		}
	}
}

/* Whatever goes in, what comes out has CR only before LF, LF only after
 * CR, and (dot-stuffed) exactly one "\r\n.\r\n", at the end. */
static void
test_encoder_random(void **state)
{
	srand(7);
	for (unsigned round = 0; round < 2000; round++) {
		uint8_t in[64];
		size_t n = (size_t)(rand() % 64);
		struct smtp_data_encoder enc;
		struct buf out;
		const char *p;

		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)"\r\n.a"[rand() % 4];
		smtp_data_encoder_init(&enc, true);
		buf_init(&out);
		smtp_data_encode(&enc, in, n / 2, &out);
		smtp_data_encode(&enc, in + n / 2, n - n / 2, &out);
		smtp_data_encode_finish(&enc, &out);
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] == '\r')
				assert_true(i + 1 < out.len &&
					    out.data[i + 1] == '\n');
			if (out.data[i] == '\n')
				assert_true(i > 0 && out.data[i - 1] == '\r');
		}
		assert_true(out.len >= 3);
		assert_memory_equal(out.data + out.len - 3, ".\r\n", 3);
		p = strstr(out.data, "\r\n.\r\n");
		if (p != NULL)
			assert_true(p == out.data + out.len - 5);
		else
			assert_true(out.len == 3);
		buf_deinit(&out);
	}
}

/* The encoder against one written octet by octet, on inputs long enough
 * for its 16-octet scan (runs of text, CR LF, bare CR and LF, dots at
 * line starts), fed in random pieces, with and without dot-stuffing. */
static void
ref_encode(const uint8_t *in, size_t n, bool dot_stuff, struct buf *out)
{
	bool line_start = true;

	for (size_t j = 0; j < n; j++) {
		if (in[j] == '\r' || in[j] == '\n') {
			if (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n')
				j++;
			buf_append(out, "\r\n", 2);
			line_start = true;
			continue;
		}
		if (line_start && dot_stuff && in[j] == '.')
			buf_putc(out, '.');
		buf_putc(out, (char)in[j]);
		line_start = false;
	}
	if (!line_start)
		buf_append(out, "\r\n", 2);
	if (dot_stuff)
		buf_append(out, ".\r\n", 3);
}

static void
test_encoder_reference(void **state)
{
	static const char *const alphabets[] = {
		"\r\n.a", "\r\n.abcdefghij", "\r\n.abcdefghijklmnopqrstuvwxyz0123456789",
	};

	(void)state;
	srand(11);
	for (unsigned round = 0; round < 20000; round++) {
		const char *alpha = alphabets[round % 3];
		size_t al = strlen(alpha), n = (size_t)(rand() % 400);
		bool dot_stuff = (round / 3) % 2 == 0;
		uint8_t in[400];
		struct smtp_data_encoder enc;
		struct buf out, want;

		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)alpha[rand() % al];
		/* clean CR LF lines too, which the scan passes over */
		for (size_t i = 0; round % 5 == 0 && i + 1 < n; i += 9) {
			in[i] = '\r';
			in[i + 1] = '\n';
		}
		smtp_data_encoder_init(&enc, dot_stuff);
		buf_init(&out);
		buf_init(&want);
		for (size_t pos = 0; pos < n;) {
			size_t k = 1 + (size_t)rand() % (n - pos);

			smtp_data_encode(&enc, in + pos, k, &out);
			pos += k;
		}
		smtp_data_encode_finish(&enc, &out);
		ref_encode(in, n, dot_stuff, &want);
		if (out.len != want.len ||
		    memcmp(out.data, want.data, want.len) != 0)
			fail_msg("round %u: %zu octets in, %zu out, %zu wanted",
				 round, n, out.len, want.len);
		assert_true(enc.out_bytes == out.len);
		buf_deinit(&out);
		buf_deinit(&want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_reader),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_ehlo_keywords),
		cmocka_unit_test(test_encoder),
		cmocka_unit_test(test_encoder_random),
		cmocka_unit_test(test_encoder_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
