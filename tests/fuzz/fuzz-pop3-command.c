/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes through the POP3 line splitter (with a
 * small cap so over-long lines are exercised), every line through the
 * command parser and the number parser, and the same bytes through the
 * RETR/TOP stuffer.
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "pop3/pop3-parser.h"
#include "pop3/pop3-stuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_limits limits = { .line_max = 64 };
	struct pop3_parser *p = pop3_parser_new(&limits);
	struct pop3_stuffer s;
	struct buf out;
	size_t off = 0;

	while (off < size) {
		size_t consumed, len;
		char *line;

		if (pop3_parser_feed(p, data + off, size - off, &consumed,
				     &line, &len) == POP3_PARSE_LINE) {
			struct pop3_command cmd;
			const char *error;
			uint32_t n;

			if (pop3_command_parse(line, len, &cmd, &error) == 0) {
				for (size_t i = 0; i < cmd.n_args; i++)
					(void)pop3_parse_number(cmd.args[i], &n);
			}
		}
		off += consumed;
	}
	pop3_parser_free(&p);

	buf_init(&out);
	pop3_stuffer_init(&s, size > 0 && (data[0] & 1), size > 1 ? data[1] : 0);
	(void)pop3_stuffer_feed(&s, data, size, &out);
	pop3_stuffer_finish(&s, &out);
	buf_deinit(&out);
	return 0;
}
