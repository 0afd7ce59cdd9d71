/* SPDX-License-Identifier: MIT */
/*
 * SELECT and EXAMINE (RFC 9051 6.3.2-3) build the session's view of a
 * mailbox from the store on the pool; UNSELECT (RFC 3691) leaves it
 * without expunging.
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
	struct store_message *msgs = NULL;
	struct store_keywords kw = { 0 };
	struct imap_mailbox *box;
	const char *error = NULL;
	size_t count = 0;
	uint64_t counter = 0;

	job->result = store_mailbox_lookup(job->store, job->account_id,
					   job->name, &mb, &error);
	/* imap-sync.c: the change counter read after HIGHESTMODSEQ and
	 * before the list, so the view is current as of it and the first
	 * reply needs no look of its own; a change racing this SELECT moves
	 * it and is found once (CLIENT-QUIRKS) */
	if (job->result == STORE_OK)
		counter = store_change_counter(job->store, STORE_WATCH_MAILBOX,
					       mb->id);
	if (job->result == STORE_OK)
		job->result = store_message_list_keywords(job->store, mb->id,
							  &msgs, &count, &kw,
							  &error);
	if (job->result != STORE_OK) {
		/* the error lives in this thread's buffer */
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
		store_mailbox_free(&mb);
		return;
	}
	box = xcalloc(1, sizeof(*box));
	box->id = mb->id;
	box->name = xstrdup(mb->name);
	box->role = mb->role;
	box->readonly = job->readonly;
	box->uidvalidity = mb->uidvalidity;
	box->uidnext = mb->uidnext;
	box->highestmodseq = mb->highestmodseq;
	box->sync_counter = counter;
	box->sync_modseq = mb->highestmodseq;
	box->count = count;
	box->alloc = count;
	box->msgs = count > 0 ? xcalloc(count, sizeof(*box->msgs)) : NULL;
	for (size_t i = 0; i < count; i++) {
		struct imap_msg *m = &box->msgs[i];

		m->uid = msgs[i].uid;
		m->flags = msgs[i].flags;
		m->modseq = msgs[i].modseq;
		m->internal_date = msgs[i].internal_date;
		m->size = msgs[i].size;
		m->row_id = msgs[i].id;
		memcpy(m->blob_id, msgs[i].blob_id, sizeof(m->blob_id));
		/* the store's indexes are the view's: box->keywords below
		 * is its name list as it is */
		if (msgs[i].n_kw > 0) {
			m->keywords = xcalloc(msgs[i].n_kw,
					      sizeof(*m->keywords));
			memcpy(m->keywords, kw.refs + msgs[i].kw_first,
			       msgs[i].n_kw * sizeof(*m->keywords));
			m->n_keywords = (uint16_t)msgs[i].n_kw;
		}
	}
	box->keywords = kw.names;
	box->n_keywords = kw.n_names;
	kw.names = NULL;
	kw.n_names = 0;
	store_keywords_deinit(&kw);
	free(msgs);
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

	if (cmd->n_args != 1)
		return imap_cmd_bad(cmd, "%s takes one mailbox name",
				    cmd->name);
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
