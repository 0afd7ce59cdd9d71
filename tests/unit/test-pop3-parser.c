/* SPDX-License-Identifier: MIT */
/* POP3 line splitter and command parser: table-driven cases, each input
 * fed in one piece, byte by byte and in random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "pop3/pop3-parser.h"

#include "feed-split.h"

struct splitter {
	struct pop3_parser *p;
	struct buf *events;
};

/* Records every event as text: "L:<line>|" per line, "T|" per over-long
 * line; the parser takes one line at a time, the rest is offered again. */
static size_t
splitter_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct splitter *s = ctx;
	size_t consumed, llen;
	char *line;
	enum pop3_parse_result r;

	r = pop3_parser_feed(s->p, data, len, &consumed, &line, &llen);
	assert_true(consumed > 0);
	if (r == POP3_PARSE_LINE) {
		assert_int_equal(strlen(line), llen);
		buf_printf(s->events, "L:%s|", line);
	} else if (r == POP3_PARSE_TOO_LONG) {
		buf_puts(s->events, "T|");
	}
	return consumed;
}

static void
run_splitter(const char *input, size_t line_max, unsigned way,
	     struct buf *events)
{
	struct pop3_limits limits = { .line_max = line_max };
	struct splitter s = { pop3_parser_new(&limits), events };

	assert_int_equal(feed_split(input, strlen(input), way, 0,
				    splitter_feed, &s), strlen(input));
	pop3_parser_free(&s.p);
	assert_null(s.p);
}

static const struct {
	const char *input;
	size_t line_max;
	const char *events;
} split_cases[] = {
	{ "USER a\r\n", 512, "L:USER a|" },
	{ "STAT\r\nLIST\r\nRETR 1\r\n", 512, "L:STAT|L:LIST|L:RETR 1|" },
	{ "NOOP\n", 512, "L:NOOP|" },
	{ "NOOP\r\r\n", 512, "L:NOOP\r|" },
	{ "\r\n", 512, "L:|" },
	{ "partial", 512, "" },
	/* 16 bytes max with CRLF: 14 characters fit, 15 do not */
	{ "abcdefghijklmn\r\nX\r\n", 16, "L:abcdefghijklmn|L:X|" },
	{ "abcdefghijklmno\r\nX\r\n", 16, "T|L:X|" },
	{ "abcdefghijklmnopqrstuvwxyz0123456789\r\nQUIT\r\n", 16,
	  "T|L:QUIT|" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 16, "" },
};

static void
test_splitter(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		for (unsigned way = 0; way < FEED_RANDOM + 50; way++) {
			struct buf ev;

			buf_init(&ev);
			run_splitter(split_cases[i].input,
				     split_cases[i].line_max, way, &ev);
			if (strcmp(ev.data, split_cases[i].events) != 0)
				fail_msg("case %zu way %u: got '%s' want '%s'",
					 i, way, ev.data,
					 split_cases[i].events);
			buf_deinit(&ev);
		}
	}
}

static void
test_set_line_max(void **state)
{
	struct pop3_limits limits = { .line_max = 64 };
	struct pop3_parser *p = pop3_parser_new(&limits);
	const char *text = "0123456789012345678901234567890123456789";
	size_t consumed, llen;
	char *line;

	assert_int_equal(pop3_parser_feed(p, (const uint8_t *)text, 40,
					  &consumed, &line, &llen),
			 POP3_PARSE_NEED_MORE);
	/* shrinking below the partial line makes it an overflow */
	pop3_parser_set_line_max(p, 20);
	assert_int_equal(pop3_parser_feed(p, (const uint8_t *)"\n", 1,
					  &consumed, &line, &llen),
			 POP3_PARSE_TOO_LONG);
	pop3_parser_set_line_max(p, 4096);
	assert_int_equal(pop3_parser_feed(p, (const uint8_t *)"AUTH\r\n", 6,
					  &consumed, &line, &llen),
			 POP3_PARSE_LINE);
	assert_string_equal(line, "AUTH");
	pop3_parser_feed(p, (const uint8_t *)"xx", 2, &consumed, &line, &llen);
	pop3_parser_reset(p);
	assert_int_equal(pop3_parser_feed(p, (const uint8_t *)"QUIT\r\n", 6,
					  &consumed, &line, &llen),
			 POP3_PARSE_LINE);
	assert_string_equal(line, "QUIT");
	pop3_parser_free(&p);
}

static const struct {
	const char *line;
	int ret;
	enum pop3_cmd cmd;
	const char *keyword;
	size_t n_args;
	const char *arg0, *arg1;
} cmd_cases[] = {
	{ "USER alice@example.test", 0, POP3_CMD_USER, "USER", 1,
	  "alice@example.test", NULL },
	{ "user bob", 0, POP3_CMD_USER, "USER", 1, "bob", NULL },
	{ "PASS secret with spaces", 0, POP3_CMD_PASS, "PASS", 1,
	  "secret with spaces", NULL },
	{ "PASS  lead", 0, POP3_CMD_PASS, "PASS", 1, " lead", NULL },
	{ "PASS", 0, POP3_CMD_PASS, "PASS", 0, NULL, NULL },
	{ "STAT", 0, POP3_CMD_STAT, "STAT", 0, NULL, NULL },
	{ "StAt", 0, POP3_CMD_STAT, "STAT", 0, NULL, NULL },
	{ "LIST 1", 0, POP3_CMD_LIST, "LIST", 1, "1", NULL },
	{ "TOP 1 0", 0, POP3_CMD_TOP, "TOP", 2, "1", "0" },
	{ "top 2  10 ", 0, POP3_CMD_TOP, "TOP", 2, "2", "10" },
	{ "RETR 1 2 3", -1, POP3_CMD_RETR, "RETR", 2, "1", "2" },
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, POP3_CMD_AUTH, "AUTH", 2,
	  "PLAIN", "AGFsaWNlAHNlY3JldA==" },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fb", 0, POP3_CMD_APOP,
	  "APOP", 2, "mrose", "c4c9334bac560ecc979e58001b3e22fb" },
	{ "CAPA", 0, POP3_CMD_CAPA, "CAPA", 0, NULL, NULL },
	{ "STLS", 0, POP3_CMD_STLS, "STLS", 0, NULL, NULL },
	{ "UIDL", 0, POP3_CMD_UIDL, "UIDL", 0, NULL, NULL },
	{ "XTND XMIT", 0, POP3_CMD_UNKNOWN, "XTND", 1, "XMIT", NULL },
	{ "", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ "QU", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ "QUITT", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ "QU1T", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ " QUIT", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ "USER a\tb", -1, POP3_CMD_UNKNOWN, "", 0, NULL, NULL },
	{ "GET / HTTP/1.1", 0, POP3_CMD_UNKNOWN, "GET", 2, "/", "HTTP/1.1" },
};

static void
test_command_parse(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		char *line = xstrdup(cmd_cases[i].line);
		struct pop3_command cmd;
		const char *error = NULL;
		int ret = pop3_command_parse(line, strlen(line), &cmd, &error);

		if (ret != cmd_cases[i].ret)
			fail_msg("case %zu '%s': ret %d", i, cmd_cases[i].line,
				 ret);
		if (ret < 0)
			assert_non_null(error);
		assert_string_equal(cmd.keyword, cmd_cases[i].keyword);
		if (ret == 0 || cmd_cases[i].cmd != POP3_CMD_UNKNOWN) {
			assert_int_equal(cmd.cmd, cmd_cases[i].cmd);
			assert_int_equal(cmd.n_args, cmd_cases[i].n_args);
			if (cmd_cases[i].arg0 != NULL)
				assert_string_equal(cmd.args[0],
						    cmd_cases[i].arg0);
			if (cmd_cases[i].arg1 != NULL)
				assert_string_equal(cmd.args[1],
						    cmd_cases[i].arg1);
		}
		free(line);
	}
	assert_string_equal(pop3_cmd_name(POP3_CMD_RETR), "RETR");
	assert_string_equal(pop3_cmd_name(POP3_CMD_COUNT), "");
}

static void
test_parse_number(void **state)
{
	uint32_t n = 7;

	assert_true(pop3_parse_number("0", &n));
	assert_int_equal(n, 0);
	assert_true(pop3_parse_number("4294967295", &n));
	assert_int_equal(n, 4294967295u);
	assert_false(pop3_parse_number("4294967296", &n));
	assert_false(pop3_parse_number("99999999999999999999999", &n));
	assert_false(pop3_parse_number("", &n));
	assert_false(pop3_parse_number("-1", &n));
	assert_false(pop3_parse_number("+1", &n));
	assert_false(pop3_parse_number("1a", &n));
	assert_false(pop3_parse_number(" 1", &n));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splitter),
		cmocka_unit_test(test_set_line_max),
		cmocka_unit_test(test_command_parse),
		cmocka_unit_test(test_parse_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
