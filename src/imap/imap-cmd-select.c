/* SPDX-License-Identifier: MIT */
/*
 * SELECT and EXAMINE (RFC 9051 6.3.2-3) build the session's view of a
 * mailbox on the pool (from the worker's view cache, imap-view-cache.c);
 * UNSELECT (RFC 3691) leaves it without expunging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/log.h"
#include "lib/mem.h"

struct select_job {
	struct store *store;
	int64_t account_id;
	char *name;
	bool readonly;
	size_t cache_max;	/* [imap] view_cache_messages */
	struct imap_mailbox *box;
	enum store_result result;
	char error[200];
};

static void
select_job_free(void *ctx)
{
	struct select_job *job = ctx;

	imap_mailbox_free(&job->box);
	free(job->name);
	free(job);
}

static void
select_work(void *ctx)
{
	struct select_job *job = ctx;
	struct store_mailbox *mb = NULL;
	struct imap_mailbox *box;
	const char *error = NULL;
	uint64_t counter = 0;

	job->result = store_mailbox_lookup(job->store, job->account_id,
					   job->name, &mb, &error);
	/* imap-sync.c: the change counter read after the mailbox row and
	 * before the messages, so the view is current as of it and the
	 * first reply needs no look of its own; a change racing this
	 * SELECT moves it and is found once (CLIENT-QUIRKS) */
	if (job->result == STORE_OK)
		counter = store_change_counter(job->store, STORE_WATCH_MAILBOX,
					       mb->id);
	box = xcalloc(1, sizeof(*box));
	if (job->result == STORE_OK)
		job->result = imap_view_load(job->store, mb, counter,
					     job->cache_max, box, &error);
	if (job->result != STORE_OK) {
		/* the error lives in this thread's buffer */
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
		free(box);
		store_mailbox_free(&mb);
		return;
	}
	box->id = mb->id;
	box->name = xstrdup(mb->name);
	box->role = mb->role;
	memcpy(box->mailbox_id, mb->jmap_id, sizeof(box->mailbox_id));
	box->readonly = job->readonly;
	store_mailbox_free(&mb);
	job->box = box;
}

static void
select_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct select_job *job = cmd->ctx;
	struct imap_mailbox *box = job->box;
	struct buf *out = &s->out;
	size_t first_unseen = 0;
	const char *error;

	if (job->result == STORE_E_NOT_FOUND) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (job->result != STORE_OK) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	job->box = NULL;
	s->box = box;
	imap_session_set_state(s, IMAP_STATE_SELECTED);
	/* RFC 9051 6.3.2: FLAGS, EXISTS, LIST; OKs with PERMANENTFLAGS,
	 * UIDVALIDITY, UIDNEXT. RFC 3501 6.3.1 adds RECENT and UNSEEN. */
	buf_puts(out, "* FLAGS (");
	imap_mailbox_write_flags(box, out);
	buf_puts(out, ")\r\n");
	buf_printf(out, "* %zu EXISTS\r\n", box->count);
	if (!s->rev2) {
		buf_puts(out, "* 0 RECENT\r\n");
		for (size_t i = 0; i < box->count; i++)
			if (!(box->msgs[i].flags & STORE_FLAG_SEEN)) {
				first_unseen = i + 1;
				break;
			}
		if (first_unseen > 0)
			buf_printf(out, "* OK [UNSEEN %zu] First unseen\r\n",
				   first_unseen);
	}
	buf_printf(out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
		   box->uidvalidity);
	buf_printf(out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
		   box->uidnext);
	/* RFC 7162 3.1.2.1: every SELECT, the store keeps modseqs */
	buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		   (unsigned long long)box->highestmodseq);
	buf_printf(out, "* OK [MAILBOXID (%s)] Ok\r\n", box->mailbox_id);
	if (box->readonly) {
		buf_puts(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	} else {
		buf_puts(out, "* OK [PERMANENTFLAGS (");
		imap_mailbox_write_flags(box, out);
		/* \* while the mailbox may take another keyword */
		if (box->n_keywords < s->set->keywords_max)
			buf_puts(out, " \\*");
		buf_puts(out, ")] Flags permitted\r\n");
	}
	if (s->rev2) {
		buf_puts(out, "* LIST () \"/\" ");
		if (imap_write_mailbox(out, box->name, strlen(box->name),
				       IMAP_WRITE_UTF8, &error) < 0)
			buf_puts(out, "INBOX");
		buf_puts(out, "\r\n");
	}
	(void)imap_cmd_ok(cmd, box->readonly ? "[READ-ONLY] EXAMINE completed" :
			  "[READ-WRITE] SELECT completed");
}

static enum imap_cmd_result
select_common(struct imap_cmd *cmd, bool readonly)
{
	struct imap_session *s = cmd->s;
	struct select_job *job;
	const char *error;
	char *name;

	if (cmd->n_args == 2) {
		/* RFC 7162 3.1.8: (CONDSTORE) */
		const struct imap_arg *p = &cmd->args[1];

		if (p->type != IMAP_ARG_LIST || p->list_count != 1 ||
		    !imap_arg_atom_equals(&p->list[0], "CONDSTORE"))
			return imap_cmd_bad(cmd, "Unknown %s parameter",
					    cmd->name);
		s->condstore = true;
	} else if (cmd->n_args != 1) {
		return imap_cmd_bad(cmd, "%s takes one mailbox name",
				    cmd->name);
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	/* RFC 9051 6.3.2: a SELECT first closes the selected mailbox
	 * (without expunging), even if the new one fails; rev2 says so
	 * with the CLOSED code */
	if (s->box != NULL) {
		imap_session_unselect(s);
		if (s->rev2)
			buf_puts(&s->out, "* OK [CLOSED] Previous mailbox "
				 "closed\r\n");
	}
	job = xcalloc(1, sizeof(*job));
	job->store = s->store;
	job->account_id = s->account_id;
	job->name = name;
	job->readonly = readonly;
	job->cache_max = (size_t)s->set->view_cache_messages;
	return imap_cmd_run_blocking(cmd, select_work, select_done, job,
				     select_job_free);
}

enum imap_cmd_result
imap_cmd_select(struct imap_cmd *cmd)
{
	return select_common(cmd, false);
}

enum imap_cmd_result
imap_cmd_examine(struct imap_cmd *cmd)
{
	return select_common(cmd, true);
}

enum imap_cmd_result
imap_cmd_unselect(struct imap_cmd *cmd)
{
	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "UNSELECT takes no arguments");
	imap_session_unselect(cmd->s);
	return imap_cmd_ok(cmd, "UNSELECT completed");
}
