/* SPDX-License-Identifier: MIT */
/*
 * NOTIFY's argument grammar (RFC 5465 8) and composition rules (5, 6.1):
 * the event groups read from the command parser's tree into a
 * struct imap_notify_request. MessageNew's fetch-att list is planned with
 * FETCH's own parser, so that what NOTIFY accepts FETCH can answer.
 */
#include "imap/imap-notify.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"
#include "lib/buf.h"
#include "lib/mem.h"

static const struct {
	const char *name;
	enum imap_notify_event event;
} event_names[] = {
	{ "MessageNew", IMAP_NOTIFY_MESSAGE_NEW },
	{ "MessageExpunge", IMAP_NOTIFY_MESSAGE_EXPUNGE },
	{ "FlagChange", IMAP_NOTIFY_FLAG_CHANGE },
	{ "AnnotationChange", IMAP_NOTIFY_ANNOTATION_CHANGE },
	{ "MailboxName", IMAP_NOTIFY_MAILBOX_NAME },
	{ "SubscriptionChange", IMAP_NOTIFY_SUBSCRIPTION_CHANGE },
	{ "MailboxMetadataChange", IMAP_NOTIFY_MAILBOX_METADATA_CHANGE },
	{ "ServerMetadataChange", IMAP_NOTIFY_SERVER_METADATA_CHANGE },
};
#define N_EVENTS (sizeof(event_names) / sizeof(event_names[0]))

void
imap_notify_write_events(struct buf *out, unsigned mask)
{
	bool first = true;

	for (size_t i = 0; i < N_EVENTS; i++) {
		if ((mask & event_names[i].event) == 0)
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, event_names[i].name);
		first = false;
	}
}

void
imap_notify_request_deinit(struct imap_notify_request *req)
{
	for (size_t i = 0; i < req->n_groups; i++)
		free(req->groups[i].names);
	free(req->groups);
	memset(req, 0, sizeof(*req));
}

/* RFC 5465 5: MessageNew and MessageExpunge together; FlagChange and
 * AnnotationChange only with both. */
static int
check_composition(unsigned events, const char **error_r)
{
	unsigned both = IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE;

	if ((events & both) != 0 && (events & both) != both) {
		*error_r = "MessageNew and MessageExpunge go together";
		return -1;
	}
	if ((events & (IMAP_NOTIFY_FLAG_CHANGE |
		       IMAP_NOTIFY_ANNOTATION_CHANGE)) != 0 &&
	    (events & both) != both) {
		*error_r = "FlagChange needs MessageNew and MessageExpunge";
		return -1;
	}
	return 0;
}

/* events = ( "(" event *(SP event) ")" ) / "NONE" */
static int
parse_events(const struct imap_arg *a, bool selected,
	     struct imap_notify_request *req, unsigned *events_r,
	     const char **error_r)
{
	unsigned events = 0;

	*events_r = 0;
	if (imap_arg_atom_equals(a, "NONE"))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->list_count == 0) {
		*error_r = "Expected a list of events or NONE";
		return -1;
	}
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *e = &a->list[i];
		unsigned ev = IMAP_NOTIFY_UNKNOWN;

		if (e->type != IMAP_ARG_ATOM) {
			*error_r = "Expected an event name";
			return -1;
		}
		for (size_t k = 0; k < N_EVENTS; k++)
			if (imap_arg_atom_equals(e, event_names[k].name))
				ev = event_names[k].event;
		if (selected && (ev & IMAP_NOTIFY_MESSAGE_EVENTS) == 0) {
			/* RFC 5465 6.1: only message events there; an
			 * unknown one may be a message event to its
			 * sender: BADEVENT says what we know */
			if (ev != IMAP_NOTIFY_UNKNOWN) {
				*error_r = "Only message events go with "
					"SELECTED";
				return -1;
			}
		}
		events |= ev;
		if (ev == IMAP_NOTIFY_MESSAGE_NEW && i + 1 < a->list_count &&
		    a->list[i + 1].type == IMAP_ARG_LIST) {
			struct imap_fetch_plan plan;

			/* RFC 5465 5.2: what to FETCH of a new message,
			 * which only the selected mailbox has */
			if (!selected || req->fetch_atts != NULL) {
				*error_r = "FETCH attributes go with "
					"SELECTED only";
				return -1;
			}
			i++;
			if (a->list[i].list_count == 0 ||
			    imap_fetch_plan_parse(&a->list[i], 1, true, &plan,
						  error_r) < 0) {
				if (a->list[i].list_count == 0)
					*error_r = "Empty FETCH attributes";
				return -1;
			}
			imap_fetch_plan_deinit(&plan);
			req->fetch_atts = &a->list[i];
		}
	}
	if (check_composition(events, error_r) < 0)
		return -1;
	*events_r = events;
	return 0;
}

/* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
static int
parse_names(const struct imap_arg *a, struct imap_notify_group *g,
	    const char **error_r)
{
	const char *str;
	size_t len;

	if (a->type != IMAP_ARG_LIST) {
		if (!imap_arg_get_astring(a, &str, &len)) {
			*error_r = "Expected a mailbox name";
			return -1;
		}
		g->names = xcalloc(1, sizeof(*g->names));
		g->names[g->n_names++] = a;
		return 0;
	}
	if (a->list_count == 0) {
		*error_r = "Empty mailbox list";
		return -1;
	}
	g->names = xcalloc(a->list_count, sizeof(*g->names));
	for (size_t i = 0; i < a->list_count; i++) {
		if (!imap_arg_get_astring(&a->list[i], &str, &len)) {
			*error_r = "Expected a mailbox name";
			return -1;
		}
		g->names[g->n_names++] = &a->list[i];
	}
	return 0;
}

/* event-group = "(" filter-mailboxes SP events ")" */
static int
parse_group(const struct imap_arg *a, struct imap_notify_request *req,
	    const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_notify_filter filter;
		bool names;
	} filters[] = {
		{ "INBOXES", IMAP_NOTIFY_INBOXES, false },
		{ "PERSONAL", IMAP_NOTIFY_PERSONAL, false },
		{ "SUBSCRIBED", IMAP_NOTIFY_SUBSCRIBED, false },
		{ "SUBTREE", IMAP_NOTIFY_SUBTREE, true },
		{ "MAILBOXES", IMAP_NOTIFY_MAILBOXES, true },
	};
	struct imap_notify_group *g;
	const struct imap_arg *f;
	unsigned events;
	size_t k;

	if (a->type != IMAP_ARG_LIST || a->list_count < 2) {
		*error_r = "Expected an event group";
		return -1;
	}
	f = &a->list[0];
	if (imap_arg_atom_equals(f, "SELECTED") ||
	    imap_arg_atom_equals(f, "SELECTED-DELAYED")) {
		if (req->selected) {
			*error_r = "Only one SELECTED or SELECTED-DELAYED";
			return -1;
		}
		if (a->list_count != 2)
			goto syntax;
		req->selected = true;
		req->delayed = imap_arg_atom_equals(f, "SELECTED-DELAYED");
		if (parse_events(&a->list[1], true, req, &events, error_r) < 0)
			return -1;
		req->selected_events = events;
		req->events_used |= events;
		return 0;
	}
	for (k = 0; k < sizeof(filters) / sizeof(filters[0]); k++)
		if (imap_arg_atom_equals(f, filters[k].name))
			break;
	if (k == sizeof(filters) / sizeof(filters[0])) {
		*error_r = "Unknown mailbox specifier";
		return -1;
	}
	if (a->list_count != (filters[k].names ? 3u : 2u))
		goto syntax;
	req->groups = xreallocarray(req->groups, req->n_groups + 1,
				    sizeof(*req->groups));
	g = &req->groups[req->n_groups++];
	memset(g, 0, sizeof(*g));
	g->filter = filters[k].filter;
	if (filters[k].names && parse_names(&a->list[1], g, error_r) < 0)
		return -1;
	if (parse_events(&a->list[a->list_count - 1], false, req, &events,
			 error_r) < 0)
		return -1;
	g->events = events;
	req->events_used |= events;
	return 0;
syntax:
	*error_r = "Malformed event group";
	return -1;
}

int
imap_notify_parse(const struct imap_arg *args, size_t n_args,
		  struct imap_notify_request *req_r, const char **error_r)
{
	size_t i = 1;

	memset(req_r, 0, sizeof(*req_r));
	if (n_args == 1 && imap_arg_atom_equals(&args[0], "NONE")) {
		req_r->none = true;
		return 0;
	}
	if (n_args < 2 || !imap_arg_atom_equals(&args[0], "SET")) {
		*error_r = "Expected NOTIFY SET or NOTIFY NONE";
		return -1;
	}
	if (imap_arg_atom_equals(&args[1], "STATUS")) {
		req_r->status = true;
		i++;
	}
	if (i >= n_args) {
		*error_r = "NOTIFY SET needs an event group";
		return -1;
	}
	for (; i < n_args; i++) {
		if (parse_group(&args[i], req_r, error_r) < 0) {
			imap_notify_request_deinit(req_r);
			return -1;
		}
	}
	return 0;
}
