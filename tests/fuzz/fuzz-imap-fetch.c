/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: FETCH's item parser (imap-fetch). The input is what
 * follows "t FETCH 1 " on a command line; the first octet chooses UID
 * FETCH. Whatever the command parser accepts is planned: a plan is
 * refused with a reason or has items whose sections and names are set,
 * and UID FETCH always starts with UID.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p;
	struct imap_fetch_plan plan;
	const struct imap_command *cmd;
	const char *error = NULL;
	struct buf line;
	size_t consumed = 0;
	bool uid;

	if (size == 0)
		return 0;
	uid = data[0] & 1;
	buf_init(&line);
	buf_puts(&line, "t FETCH 1 ");
	buf_append(&line, data + 1, size - 1);
	buf_puts(&line, "\r\n");
	p = imap_parser_new(NULL);
	if (imap_parser_feed(p, (const uint8_t *)line.data, line.len,
			     &consumed) == IMAP_PARSE_DONE) {
		cmd = imap_parser_command(p);
		if (imap_fetch_plan_parse(cmd->args + 1, cmd->n_args - 1, uid,
					  &plan, &error) < 0) {
			if (error == NULL || plan.count != 0)
				abort();
		} else {
			if (plan.count == 0 ||
			    (uid && plan.items[0].kind != IMAP_FETCH_UID))
				abort();
			for (size_t i = 0; i < plan.count; i++) {
				const struct imap_fetch_item *it =
					&plan.items[i];

				if (it->kind >= IMAP_FETCH_SECTION &&
				    (it->section == NULL || it->name == NULL))
					abort();
				if (it->partial && it->partial_count == 0)
					abort();
			}
			imap_fetch_plan_deinit(&plan);
		}
	}
	imap_parser_free(&p);
	buf_deinit(&line);
	return 0;
}
