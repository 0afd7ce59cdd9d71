/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: METADATA's argument readers (imap-metadata) over what
 * the command parser accepts. First octet: even GETMETADATA, odd
 * SETMETADATA; the rest is the command's arguments (CRLF added; literals
 * must be non-synchronising). Checks: a refusal has a reason and leaves
 * nothing; every entry name read is lower case, printable US-ASCII
 * without "*", "%", "//" or a final "/", under /private or /shared, and
 * reads back unchanged; a value has its octets inside the command.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-metadata.h"
#include "imap/imap-parser.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *name, bool root_ok)
{
	size_t len = strlen(name);
	char *again = NULL;
	const char *error = NULL;

	if (len == 0 || name[len - 1] == '/' || strstr(name, "//") != NULL ||
	    (strncmp(name, "/private", 8) != 0 &&
	     strncmp(name, "/shared", 7) != 0))
		abort();
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] >= 0x7f || name[i] == '*' ||
		    name[i] == '%' || (name[i] >= 'A' && name[i] <= 'Z'))
			abort();
	if (imap_metadata_entry_parse(name, len, root_ok, &again,
				      &error) != 0 || strcmp(again, name) != 0)
		abort();
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p;
	const struct imap_command *cmd;
	const char *error = NULL;
	uint8_t *line;
	size_t consumed = 0;

	if (size < 1 || size > 8192)
		return 0;
	line = xmalloc(size - 1 + 6);
	memcpy(line, "t X ", 4);
	memcpy(line + 4, data + 1, size - 1);
	memcpy(line + 4 + size - 1, "\r\n", 2);
	p = imap_parser_new(NULL);
	if (imap_parser_feed(p, line, size - 1 + 6, &consumed) !=
	    IMAP_PARSE_DONE) {
		imap_parser_free(&p);
		free(line);
		return 0;
	}
	cmd = imap_parser_command(p);
	if (data[0] % 2 == 0) {
		struct imap_metadata_get g;

		if (imap_metadata_get_parse(cmd->args, cmd->n_args, &g,
					    &error) < 0) {
			if (error == NULL || g.entries != NULL ||
			    g.n_entries != 0)
				abort();
		} else {
			if (g.n_entries == 0 || g.mailbox == NULL ||
			    (g.depth != 0 && g.depth != 1 &&
			     g.depth != IMAP_METADATA_DEPTH_INFINITY))
				abort();
			for (size_t i = 0; i < g.n_entries; i++)
				check_name(g.entries[i], true);
			imap_metadata_get_deinit(&g);
		}
	} else {
		struct imap_metadata_set st;

		if (imap_metadata_set_parse(cmd->args, cmd->n_args, &st,
					    &error) < 0) {
			if (error == NULL || st.pairs != NULL ||
			    st.n_pairs != 0)
				abort();
		} else {
			if (st.n_pairs == 0 || st.mailbox == NULL)
				abort();
			for (size_t i = 0; i < st.n_pairs; i++) {
				check_name(st.pairs[i].name, false);
				if (st.pairs[i].value != NULL &&
				    st.pairs[i].len > size)
					abort();
			}
			imap_metadata_set_deinit(&st);
		}
	}
	imap_parser_free(&p);
	free(line);
	return 0;
}
