/* SPDX-License-Identifier: MIT */
/*
 * NOTIFY's arguments (RFC 5465 8) read from the command parser's argument
 * tree into a request: NONE, or SET [STATUS] with its event groups, the
 * composition rules of RFC 5465 5 and 6.1 checked. No session, no I/O:
 * imap-cmd-notify.c turns a request into what the session watches.
 */
#ifndef HERALD_IMAP_NOTIFY_H
#define HERALD_IMAP_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap-parser.h"

struct buf;

/* The events of RFC 5465 5, as bits. */
enum imap_notify_event {
	IMAP_NOTIFY_MESSAGE_NEW = 1 << 0,
	IMAP_NOTIFY_MESSAGE_EXPUNGE = 1 << 1,
	IMAP_NOTIFY_FLAG_CHANGE = 1 << 2,
	IMAP_NOTIFY_ANNOTATION_CHANGE = 1 << 3,
	IMAP_NOTIFY_MAILBOX_NAME = 1 << 4,
	IMAP_NOTIFY_SUBSCRIPTION_CHANGE = 1 << 5,
	IMAP_NOTIFY_MAILBOX_METADATA_CHANGE = 1 << 6,
	IMAP_NOTIFY_SERVER_METADATA_CHANGE = 1 << 7,
	/* an event-ext (an atom RFC 5465 does not name): unsupported */
	IMAP_NOTIFY_UNKNOWN = 1 << 8,
};
#define IMAP_NOTIFY_MESSAGE_EVENTS (IMAP_NOTIFY_MESSAGE_NEW | \
				    IMAP_NOTIFY_MESSAGE_EXPUNGE | \
				    IMAP_NOTIFY_FLAG_CHANGE | \
				    IMAP_NOTIFY_ANNOTATION_CHANGE)
/* What Herald sends (no ANNOTATE): anything else named is refused NO
 * [BADEVENT (these)] (RFC 5465 3.1). */
#define IMAP_NOTIFY_SUPPORTED (IMAP_NOTIFY_MESSAGE_NEW | \
			       IMAP_NOTIFY_MESSAGE_EXPUNGE | \
			       IMAP_NOTIFY_FLAG_CHANGE | \
			       IMAP_NOTIFY_MAILBOX_NAME | \
			       IMAP_NOTIFY_SUBSCRIPTION_CHANGE | \
			       IMAP_NOTIFY_MAILBOX_METADATA_CHANGE | \
			       IMAP_NOTIFY_SERVER_METADATA_CHANGE)

/* filter-mailboxes-other (RFC 5465 6.2 to 6.6). */
enum imap_notify_filter {
	IMAP_NOTIFY_INBOXES,
	IMAP_NOTIFY_PERSONAL,
	IMAP_NOTIFY_SUBSCRIBED,
	IMAP_NOTIFY_SUBTREE,
	IMAP_NOTIFY_MAILBOXES,
};

struct imap_notify_group {
	enum imap_notify_filter filter;
	unsigned events;	/* enum imap_notify_event bits; 0: NONE */
	/* SUBTREE and MAILBOXES: the mailbox arguments as sent (astrings,
	 * pointing into the command's arguments), at least one */
	const struct imap_arg **names;
	size_t n_names;
};

struct imap_notify_request {
	bool none;		/* NOTIFY NONE */
	bool status;		/* SET STATUS */
	/* a SELECTED or SELECTED-DELAYED group (at most one, 6.1) */
	bool selected;
	bool delayed;		/* it was SELECTED-DELAYED */
	unsigned selected_events;
	/* MessageNew's fetch-att list in the selected group (the LIST
	 * argument), or NULL; its items plan with imap_fetch_plan_parse() */
	const struct imap_arg *fetch_atts;
	struct imap_notify_group *groups;	/* the others, in order */
	size_t n_groups;
	/* every event named anywhere (IMAP_NOTIFY_UNKNOWN for others) */
	unsigned events_used;
};

/*
 * Reads NOTIFY's arguments (after the command name). Errors, answered
 * BAD: the grammar of RFC 5465 8 (an empty event list, a mailbox
 * specifier without names, "SET" without any group, anything after
 * NONE), both SELECTED and SELECTED-DELAYED (6.1), an event other than
 * a message event with them (6.1), MessageNew without MessageExpunge or
 * the reverse, FlagChange or AnnotationChange without both (5), a
 * fetch-att list anywhere but after MessageNew of the selected group, or
 * one imap_fetch_plan_parse() refuses. An unknown event name is not an
 * error here: it sets IMAP_NOTIFY_UNKNOWN in events_used, for the NO
 * [BADEVENT] the caller sends. Returns 0 with *req_r filled (deinit it),
 * or -1 with a static *error_r and nothing to free.
 */
int imap_notify_parse(const struct imap_arg *args, size_t n_args,
		      struct imap_notify_request *req_r,
		      const char **error_r);
void imap_notify_request_deinit(struct imap_notify_request *req);

/* The event names of mask, space separated, in RFC 5465's order (the
 * list of a BADEVENT response code). */
void imap_notify_write_events(struct buf *out, unsigned mask);

#endif
