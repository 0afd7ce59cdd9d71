/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the SMTP command line reader and tokeniser: CRLF framing,
 * the 512-octet limit and resynchronisation, NUL and bare CR/LF, strict
 * and lenient modes, pipelining; each stream fed whole, octet by octet
 * and in random pieces with the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "smtp/smtp-parser.h"

#include "feed-split.h"

#define S(x) x, sizeof(x) - 1

struct stream_case {
	const char *in;
	size_t in_len;
	bool lenient;
	size_t max_line;	/* 0: default */
	/* expected events, "L:text" for a line, "E:n" for an error code,
	 * joined with '|'; a trailing "P" if a partial line remains */
	const char *events;
};

static const struct stream_case stream_cases[] = {
	{ S("HELO x\r\n"), false, 0, "L:HELO x" },
	{ S("EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n"), false, 0,
	  "L:EHLO a|L:MAIL FROM:<>|L:RCPT TO:<a@b>|L:DATA" },
	{ S("\r\n"), false, 0, "L:" },
	{ S("NOOP\r\nQUI"), false, 0, "L:NOOP|P" },
	{ S("NOOP\n"), false, 0, "E:4" },
	{ S("NOOP\nQUIT\r\n"), false, 0, "E:4|L:QUIT" },
	{ S("NOOP\nQUIT\r\n"), true, 0, "L:NOOP|L:QUIT" },
	{ S("NO\0OP\r\nQUIT\r\n"), false, 0, "E:2|L:QUIT" },
	{ S("NO\rOP\r\nQUIT\r\n"), false, 0, "E:3|L:QUIT" },
	{ S("NO\rOP\r\nQUIT\r\n"), true, 0, "E:3|L:QUIT" },
	{ S("NOOP\r\r\n"), false, 0, "E:3" },
	{ S("NOOP\r"), false, 0, "P" },
	/* max 8 octets including CRLF: 6 octets of text */
	{ S("123456\r\n"), false, 8, "L:123456" },
	{ S("1234567\r\n"), false, 8, "E:1" },
	{ S("1234567\n"), true, 8, "L:1234567" },
	{ S("12345678\n"), true, 8, "E:1" },
	{ S("1234567890123456789\r\nNOOP\r\n"), false, 8, "E:1|L:NOOP" },
	{ S("123456789012345678\r\r\r\nNOOP\r\n"), false, 8, "E:1|L:NOOP" },
	{ S("1234567890123456789"), false, 8, "P" },
	{ S("12345678901234\0\r\nx\r\n"), false, 8, "E:1|L:x" },
};

struct stream {
	struct smtp_parser *parser;
	struct buf events;
};

static void
stream_sep(struct stream *st)
{
	if (st->events.len > 0)
		buf_putc(&st->events, '|');
}

/* One line or error per call: the rest of the piece is offered again;
 * without either, the parser must have taken the whole piece. */
static size_t
stream_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct stream *st = ctx;
	size_t consumed;
	enum smtp_parser_result res;

	res = smtp_parser_feed(st->parser, data, len, &consumed);
	assert_true(consumed <= len);
	if (res == SMTP_PARSER_LINE) {
		size_t llen;
		const char *line = smtp_parser_line(st->parser, &llen);

		assert_int_equal(strlen(line), llen);
		stream_sep(st);
		buf_printf(&st->events, "L:%s", line);
	} else if (res == SMTP_PARSER_ERROR) {
		stream_sep(st);
		buf_printf(&st->events, "E:%d", smtp_parser_error(st->parser));
	} else {
		assert_int_equal(consumed, len);
	}
	return consumed;
}

static void
run_stream_case(const struct stream_case *tc, unsigned way)
{
	struct smtp_parser_limits limits;
	struct stream st;

	smtp_parser_limits_default(&limits);
	limits.allow_bare_lf = tc->lenient;
	if (tc->max_line != 0)
		limits.max_line_len = tc->max_line;
	st.parser = smtp_parser_new(&limits);
	buf_init(&st.events);
	assert_int_equal(feed_split(tc->in, tc->in_len, way, 9, stream_feed,
				    &st), tc->in_len);
	if (smtp_parser_has_partial(st.parser)) {
		stream_sep(&st);
		buf_putc(&st.events, 'P');
	}
	assert_string_equal(st.events.data, tc->events);
	buf_deinit(&st.events);
	smtp_parser_free(&st.parser);
	assert_null(st.parser);
}

static void
test_stream_table(void **state)
{
	size_t i;
	unsigned way;

	for (i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
		for (way = 0; way < 40; way++)
			run_stream_case(&stream_cases[i], way);
	}
}

/* The RFC default: 512 octets with CRLF; a huge line costs no memory and
 * gives exactly one error. */
static void
test_default_limit(void **state)
{
	struct smtp_parser_limits limits;
	struct smtp_parser *parser;
	struct buf in;
	size_t consumed, len;
	int i;

	smtp_parser_limits_default(&limits);
	assert_int_equal(limits.max_line_len, 512);
	assert_false(limits.allow_bare_lf);
	parser = smtp_parser_new(&limits);
	buf_init(&in);
	for (i = 0; i < 510; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, "\r\n");
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)in.data, in.len,
					  &consumed), SMTP_PARSER_LINE);
	assert_int_equal(consumed, 512);
	smtp_parser_line(parser, &len);
	assert_int_equal(len, 510);

	buf_reset(&in);
	for (i = 0; i < 511; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, "\r\n");
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)in.data, in.len,
					  &consumed), SMTP_PARSER_ERROR);
	assert_int_equal(smtp_parser_error(parser), SMTP_LINE_ERR_TOO_LONG);
	assert_string_equal(smtp_line_error_str(SMTP_LINE_ERR_TOO_LONG),
			    "line too long");

	buf_reset(&in);
	for (i = 0; i < 1000; i++)
		buf_putc(&in, 'x');
	for (i = 0; i < 1000; i++) {
		assert_int_equal(smtp_parser_feed(parser, (uint8_t *)in.data,
						  in.len, &consumed),
				 SMTP_PARSER_NEED_MORE);
		assert_int_equal(consumed, in.len);
	}
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)"\r\nQUIT\r\n",
					  8, &consumed), SMTP_PARSER_ERROR);
	assert_int_equal(consumed, 2);
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)"QUIT\r\n", 6,
					  &consumed), SMTP_PARSER_LINE);
	assert_string_equal(smtp_parser_line(parser, NULL), "QUIT");
	buf_deinit(&in);
	smtp_parser_free(&parser);
}

static void
test_reset(void **state)
{
	struct smtp_parser_limits limits;
	struct smtp_parser *parser;
	size_t consumed;

	smtp_parser_limits_default(&limits);
	parser = smtp_parser_new(&limits);
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)"STARTTLS\r\nMA",
					  12, &consumed), SMTP_PARSER_LINE);
	assert_int_equal(consumed, 10);
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)"MA", 2,
					  &consumed), SMTP_PARSER_NEED_MORE);
	assert_true(smtp_parser_has_partial(parser));
	smtp_parser_reset(parser);
	assert_false(smtp_parser_has_partial(parser));
	assert_int_equal(smtp_parser_feed(parser, (uint8_t *)"EHLO x\r\n", 8,
					  &consumed), SMTP_PARSER_LINE);
	assert_string_equal(smtp_parser_line(parser, NULL), "EHLO x");
	smtp_parser_free(&parser);
}

struct cmd_case {
	const char *line;
	enum smtp_cmd cmd;
	const char *verb;
	const char *arg;
};

static const struct cmd_case cmd_cases[] = {
	{ "HELO example.com", SMTP_CMD_HELO, "HELO", "example.com" },
	{ "ehlo example.com", SMTP_CMD_EHLO, "ehlo", "example.com" },
	{ "MAIL FROM:<a@b> SIZE=10", SMTP_CMD_MAIL, "MAIL",
	  "FROM:<a@b> SIZE=10" },
	{ "Rcpt TO:<a@b>  ", SMTP_CMD_RCPT, "Rcpt", "TO:<a@b>" },
	{ "DATA", SMTP_CMD_DATA, "DATA", "" },
	{ "DATA ", SMTP_CMD_DATA, "DATA", "" },
	{ "BDAT 100 LAST", SMTP_CMD_BDAT, "BDAT", "100 LAST" },
	{ "RSET", SMTP_CMD_RSET, "RSET", "" },
	{ "NOOP  hello  ", SMTP_CMD_NOOP, "NOOP", "hello" },
	{ "QUIT", SMTP_CMD_QUIT, "QUIT", "" },
	{ "VRFY user", SMTP_CMD_VRFY, "VRFY", "user" },
	{ "EXPN list", SMTP_CMD_EXPN, "EXPN", "list" },
	{ "HELP", SMTP_CMD_HELP, "HELP", "" },
	{ "StartTLS", SMTP_CMD_STARTTLS, "StartTLS", "" },
	{ "AUTH PLAIN AGFiYwBkZWY=", SMTP_CMD_AUTH, "AUTH",
	  "PLAIN AGFiYwBkZWY=" },
	{ "LHLO x", SMTP_CMD_LHLO, "LHLO", "x" },
	{ "MAILX FROM:<>", SMTP_CMD_UNKNOWN, "MAILX", "FROM:<>" },
	{ "MAI", SMTP_CMD_UNKNOWN, "MAI", "" },
	{ "", SMTP_CMD_UNKNOWN, "", "" },
	{ " HELO x", SMTP_CMD_UNKNOWN, "", "HELO x" },
	{ "GET / HTTP/1.0", SMTP_CMD_UNKNOWN, "GET", "/ HTTP/1.0" },
	{ "HELO\tx", SMTP_CMD_UNKNOWN, "HELO\tx", "" },
};

static void
test_command_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *tc = &cmd_cases[i];
		struct smtp_command cmd;

		smtp_command_parse(tc->line, strlen(tc->line), &cmd);
		assert_int_equal(cmd.cmd, tc->cmd);
		assert_int_equal(cmd.verb_len, strlen(tc->verb));
		assert_memory_equal(cmd.verb, tc->verb, cmd.verb_len);
		assert_int_equal(cmd.arg_len, strlen(tc->arg));
		assert_memory_equal(cmd.arg, tc->arg, cmd.arg_len);
	}
	assert_string_equal(smtp_cmd_name(SMTP_CMD_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_cmd_name(SMTP_CMD_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_cmd_name(SMTP_CMD_COUNT), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_table),
		cmocka_unit_test(test_default_limit),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_command_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
