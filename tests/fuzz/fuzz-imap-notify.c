/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: NOTIFY's argument parser (imap-notify-parse.c). The
 * input is what follows "t NOTIFY " on a command line. Whatever the
 * command parser accepts is read: a refusal has a reason and leaves
 * nothing to free; an accepted request is NONE with nothing else, or has
 * groups or a selected group, each SUBTREE and MAILBOXES group with
 * names, fetch attributes only with a selected MessageNew, and the
 * composition rules of RFC 5465 5 hold for every group.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "imap/imap-notify.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_events(unsigned ev)
{
	unsigned both = IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE;

	if ((ev & both) != 0 && (ev & both) != both)
		abort();
	if ((ev & (IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_ANNOTATION_CHANGE)) &&
	    (ev & both) != both)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p;
	struct imap_notify_request req;
	const struct imap_command *cmd;
	const char *error = NULL;
	struct buf line;
	size_t consumed = 0;

	buf_init(&line);
	buf_puts(&line, "t NOTIFY ");
	buf_append(&line, data, size);
	buf_puts(&line, "\r\n");
	p = imap_parser_new(NULL);
	if (imap_parser_feed(p, (const uint8_t *)line.data, line.len,
			     &consumed) == IMAP_PARSE_DONE) {
		cmd = imap_parser_command(p);
		if (imap_notify_parse(cmd->args, cmd->n_args, &req,
				      &error) < 0) {
			if (error == NULL || req.groups != NULL)
				abort();
		} else {
			if (req.none && (req.n_groups > 0 || req.selected))
				abort();
			if (!req.none && req.n_groups == 0 && !req.selected)
				abort();
			if (req.fetch_atts != NULL &&
			    (!req.selected || !(req.selected_events &
						IMAP_NOTIFY_MESSAGE_NEW)))
				abort();
			if (req.selected_events &
			    ~(unsigned)(IMAP_NOTIFY_MESSAGE_EVENTS |
					IMAP_NOTIFY_UNKNOWN))
				abort();
			check_events(req.selected_events);
			for (size_t i = 0; i < req.n_groups; i++) {
				const struct imap_notify_group *g =
					&req.groups[i];

				check_events(g->events);
				if ((g->filter == IMAP_NOTIFY_SUBTREE ||
				     g->filter == IMAP_NOTIFY_MAILBOXES) !=
				    (g->n_names > 0))
					abort();
			}
			imap_notify_request_deinit(&req);
		}
	}
	imap_parser_free(&p);
	buf_deinit(&line);
	return 0;
}
