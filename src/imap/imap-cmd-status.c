/* SPDX-License-Identifier: MIT */
/*
 * STATUS (RFC 9051 6.3.11, RFC 8438 SIZE, RFC 9208 DELETED-STORAGE): the
 * counts of a mailbox, from the store's messages at the moment of asking
 * (CLIENT-QUIRKS "counters derived, not kept"). The item list and the response are shared with
 * LIST's STATUS return option (RFC 5819, imap-cmd-list.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/mem.h"

static const struct {
	const char *name;
	enum imap_status_item item;
} status_items[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },
	{ "SIZE", IMAP_STATUS_SIZE },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
	{ "DELETED-STORAGE", IMAP_STATUS_DELETED_STORAGE },
	{ "MAILBOXID", IMAP_STATUS_MAILBOXID },
};
#define N_ITEMS (sizeof(status_items) / sizeof(status_items[0]))

int
imap_status_items_parse(bool rev2, const struct imap_arg *list,
			struct imap_status_items *items_r,
			const char **error_r)
{
	memset(items_r, 0, sizeof(*items_r));
	if (list->type != IMAP_ARG_LIST || list->list_count == 0) {
		*error_r = "STATUS items must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];
		size_t k;

		for (k = 0; k < N_ITEMS; k++)
			if (imap_arg_atom_equals(a, status_items[k].name))
				break;
		/* RECENT left the protocol with IMAP4rev2 (RFC 9051
		 * appendix E): its STATUS grammar has no such item. */
		if (k == N_ITEMS ||
		    (rev2 && status_items[k].item == IMAP_STATUS_RECENT)) {
			*error_r = "Unknown STATUS item";
			return -1;
		}
		if ((items_r->mask & status_items[k].item) != 0)
			continue;
		items_r->mask |= status_items[k].item;
		items_r->order[items_r->count++] = status_items[k].item;
	}
	return 0;
}

int
imap_status_write(struct buf *out, const char *name, unsigned write_flags,
		  const struct imap_status_items *items,
		  const struct store_mailbox_status *st, const char **error_r)
{
	struct imap_write_list list;
	size_t start = out->len;

	buf_puts(out, "* STATUS ");
	if (imap_write_mailbox(out, name, strlen(name), write_flags,
			       error_r) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	buf_putc(out, ' ');
	imap_write_list_begin(&list, out);
	for (size_t i = 0; i < items->count; i++) {
		uint64_t v = 0;
		size_t k;

		for (k = 0; k < N_ITEMS; k++)
			if (status_items[k].item == items->order[i])
				break;
		if (items->order[i] == IMAP_STATUS_MAILBOXID) {
			/* RFC 8474 4.2: "MAILBOXID" SP "(" objectid ")" */
			buf_printf(imap_write_list_item(&list),
				   "MAILBOXID (%s)", st->mailbox_id);
			continue;
		}
		switch (items->order[i]) {
		case IMAP_STATUS_MAILBOXID: break;
		case IMAP_STATUS_MESSAGES: v = st->messages; break;
		case IMAP_STATUS_UIDNEXT: v = st->uidnext; break;
		case IMAP_STATUS_UIDVALIDITY: v = st->uidvalidity; break;
		case IMAP_STATUS_UNSEEN: v = st->unseen; break;
		case IMAP_STATUS_DELETED: v = st->deleted; break;
		case IMAP_STATUS_SIZE: v = st->size; break;
		/* Herald never sets \Recent (docs/imap.md). */
		case IMAP_STATUS_RECENT: v = 0; break;
		case IMAP_STATUS_HIGHESTMODSEQ: v = st->highestmodseq; break;
		/* in the unit of the STORAGE resource, which an EXPUNGE
		 * lowers by this much (RFC 9208 4.2, 5.1) */
		case IMAP_STATUS_DELETED_STORAGE:
			v = imap_quota_kib(st->deleted_size);
			break;
		}
		buf_puts(imap_write_list_item(&list), status_items[k].name);
		buf_putc(out, ' ');
		imap_write_number(out, v);
	}
	imap_write_list_end(&list);
	buf_puts(out, "\r\n");
	return 0;
}

struct status_job {
	struct store *store;
	int64_t account_id;
	char *name;
	struct imap_status_items items;
	struct store_mailbox_status st;
	enum store_result result;
	enum imap_acl_verdict verdict;
	char error[200];
};

static void
status_job_free(void *ctx)
{
	struct status_job *job = ctx;

	free(job->name);
	free(job);
}

static void
status_work(void *ctx)
{
	struct status_job *job = ctx;
	struct imap_acl_box acl;
	const char *error = NULL;

	/* RFC 4314 4: STATUS needs "r" */
	job->result = imap_acl_open(job->store, job->account_id, job->name,
				    STORE_ACL_READ, &acl, &job->verdict,
				    &error);
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_OK)
		job->result = store_mailbox_status(job->store, acl.mb->id,
						   &job->st, &error);
	imap_acl_box_deinit(&acl);
	if (job->result != STORE_OK)
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
}

static void
status_done(struct imap_cmd *cmd)
{
	struct status_job *job = cmd->ctx;
	const char *error;

	if (job->result == STORE_E_NOT_FOUND ||
	    job->result == STORE_E_INVALID ||
	    (job->result == STORE_OK &&
	     job->verdict == IMAP_ACL_NONEXISTENT)) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	if (job->verdict == IMAP_ACL_DENIED) {
		(void)imap_acl_no(cmd, STORE_ACL_READ);
		return;
	}
	if (imap_status_write(imap_session_out(cmd->s), job->name,
			      cmd->s->utf8 ? IMAP_WRITE_UTF8 : 0, &job->items,
			      &job->st, &error) < 0) {
		(void)imap_cmd_no(cmd, "[CANNOT] %s", error);
		return;
	}
	(void)imap_cmd_ok(cmd, "STATUS completed");
}

/* RFC 9051 6.3.11: STATUS of the selected mailbox is allowed; its counts
 * come from the store like any other's, so they may run ahead of what the
 * session has announced (the sync before the tagged reply catches up). */
enum imap_cmd_result
imap_cmd_status(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct status_job *job;
	const char *error;
	char *name;

	if (cmd->n_args != 2)
		return imap_cmd_bad(cmd, "STATUS takes a mailbox and a list"
				    " of items");
	if (imap_mailbox_arg(s, &cmd->args[0], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	job = xcalloc(1, sizeof(*job));
	job->name = name;
	if (imap_status_items_parse(s->rev2, &cmd->args[1], &job->items,
				    &error) < 0) {
		status_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	job->store = s->store;
	job->account_id = s->account_id;
	return imap_cmd_run_blocking(cmd, status_work, status_done, job,
				     status_job_free);
}
