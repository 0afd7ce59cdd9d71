/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: SEARCH programs (imap-search). The first octet picks
 * the complexity limits; the rest is the argument text of a SEARCH
 * command, read by the command parser. A program that parses stays
 * within its limits, and the view's verdict for a few messages agrees
 * with itself under NOT (a key's negation never gives the same YES/NO).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
count_keys(const struct imap_search_key *k, unsigned int depth,
	   unsigned int *max_depth)
{
	size_t n = 1;

	if (depth > *max_depth)
		*max_depth = depth;
	for (size_t i = 0; i < k->n_children; i++)
		n += count_keys(&k->children[i],
				depth + (k->type != IMAP_SK_AND ||
					 depth > 0), max_depth);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_search_limits lim;
	struct imap_parser *parser;
	const struct imap_command *cmd;
	struct imap_search_program prog;
	const char *error = NULL;
	struct buf line;
	size_t consumed;

	if (size < 1)
		return 0;
	lim.keys_max = 1 + data[0] % 64;
	lim.depth_max = 1 + (data[0] >> 6) * 8;
	buf_init(&line);
	buf_puts(&line, "t SEARCH ");
	buf_append(&line, data + 1, size - 1);
	buf_puts(&line, "\r\n");
	parser = imap_parser_new(NULL);
	if (imap_parser_feed(parser, (const uint8_t *)line.data, line.len,
			     &consumed) == IMAP_PARSE_DONE) {
		cmd = imap_parser_command(parser);
		if (imap_search_parse(cmd->args, cmd->n_args, &lim, &prog,
				      &error) == IMAP_SEARCH_PARSE_OK) {
			unsigned int depth = 0;
			static const uint32_t saved[] = { 2, 5 };
			struct imap_search_view view = {
				.last_seq = 4, .last_uid = 9,
				.saved = saved, .n_saved = 2,
			};

			if (count_keys(&prog.root, 0, &depth) !=
			    prog.n_keys + 1 || prog.n_keys > lim.keys_max ||
			    prog.n_keys == 0)
				abort();
			for (uint32_t s = 1; s <= 4; s++) {
				struct imap_search_msg m = {
					.seq = s, .uid = s * 2 + 1,
					.flags = s * 7 % 32,
					.recent = s & 1,
					.internal_date = (int64_t)s * 86400 *
							 3000,
					.size = s * 1000, .keywords = s,
				};
				enum imap_search_match r =
					imap_search_match_view(&prog, &view,
							       &m);

				if (r != IMAP_SEARCH_YES &&
				    r != IMAP_SEARCH_NO &&
				    r != IMAP_SEARCH_MAYBE)
					abort();
				if (r == IMAP_SEARCH_MAYBE &&
				    !prog.needs_store)
					abort();
			}
			imap_search_program_deinit(&prog);
		} else if (error == NULL) {
			abort();
		}
	}
	imap_parser_free(&parser);
	buf_deinit(&line);
	return 0;
}
