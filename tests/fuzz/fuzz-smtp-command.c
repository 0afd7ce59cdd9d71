/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the SMTP command line reader, tokeniser and MAIL/RCPT
 * argument parser on arbitrary bytes. The first byte picks limits; the
 * stream is fed whole and in pieces and must give the same events.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp-params.h"
#include "smtp/smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_args(const struct smtp_command *cmd, bool utf8)
{
	struct smtp_params_limits limits;
	struct smtp_mail_args margs;
	struct smtp_rcpt_args rargs;
	struct smtp_arg_result res;

	smtp_params_limits_default(&limits);
	limits.allow_utf8_without_param = utf8;
	if (smtp_mail_args_parse(cmd->arg, cmd->arg_len, &limits, &margs,
				 &res) == 0) {
		char *s = address_to_string(&margs.from);

		free(s);
	}
	smtp_mail_args_deinit(&margs);
	smtp_arg_result_deinit(&res);
	(void)smtp_rcpt_args_parse(cmd->arg, cmd->arg_len, &limits, utf8,
				   &rargs, &res);
	smtp_rcpt_args_deinit(&rargs);
	smtp_arg_result_deinit(&res);
}

static void
fuzz_run(const uint8_t *data, size_t size, const struct smtp_parser_limits *l,
	 size_t step, struct buf *events, bool args)
{
	struct smtp_parser *parser = smtp_parser_new(l);
	size_t pos = 0, consumed;

	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		enum smtp_parser_result res;

		res = smtp_parser_feed(parser, data + pos, n, &consumed);
		if (consumed > n || (res == SMTP_PARSER_NEED_MORE &&
				     consumed != n))
			abort();
		pos += consumed;
		if (res == SMTP_PARSER_LINE) {
			struct smtp_command cmd;
			size_t len;
			const char *line = smtp_parser_line(parser, &len);

			if (strlen(line) != len || len >= l->max_line_len)
				abort();
			buf_printf(events, "L%zu:", len);
			buf_append(events, line, len);
			smtp_command_parse(line, len, &cmd);
			buf_printf(events, ":%d|", cmd.cmd);
			if (args)
				fuzz_args(&cmd, (len & 1) != 0);
		} else if (res == SMTP_PARSER_ERROR) {
			buf_printf(events, "E%d|", smtp_parser_error(parser));
		}
	}
	buf_printf(events, "P%d", smtp_parser_has_partial(parser));
	smtp_parser_free(&parser);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_parser_limits limits;
	struct buf a, b;

	if (size < 1)
		return 0;
	smtp_parser_limits_default(&limits);
	limits.allow_bare_lf = (data[0] & 1) != 0;
	if ((data[0] & 2) != 0)
		limits.max_line_len = 8 + (data[0] >> 2);
	data++;
	size--;
	buf_init(&a);
	buf_init(&b);
	fuzz_run(data, size, &limits, size + 1, &a, true);
	fuzz_run(data, size, &limits, 1 + (limits.max_line_len % 7), &b,
		 false);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
