/* SPDX-License-Identifier: MIT */
/*
 * EXPUNGE, UID EXPUNGE (RFC 9051 6.4.3, 6.4.9) and CLOSE (6.4.1): the
 * messages of the view that have \Deleted when the store runs the expunge
 * are removed, each announced by "* n EXPUNGE" (CLOSE says nothing and
 * leaves the mailbox).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "lib/mem.h"

void
imap_mailbox_expunge_uids(struct imap_session *s, const uint32_t *uids,
			  size_t n, bool silent)
{
	struct imap_mailbox *box = s->box;
	struct buf *out = imap_session_out(s);
	size_t k = 0, gone = 0;
	uint32_t *vanished = NULL;

	if (box == NULL || n == 0)
		return;
	imap_mailbox_own(box);
	/* RFC 7162 3.2.10, RFC 9586 3.2: a QRESYNC or UIDONLY session
	 * gets one VANISHED instead */
	if (imap_session_vanished(s) && !silent)
		vanished = xcalloc(n, sizeof(*vanished));
	/* One pass over the view: both lists are in UID order. Each
	 * EXPUNGE renumbers the messages after it at once (RFC 9051
	 * 7.5.1), so the number sent is the message's index less the
	 * messages already announced gone. */
	for (size_t i = 0; i < box->count; i++) {
		struct imap_msg *m = &box->msgs[i];

		while (k < n && uids[k] < m->uid)
			k++;
		if (k < n && uids[k] == m->uid) {
			if (vanished != NULL)
				vanished[gone] = m->uid;
			else if (!silent)
				buf_printf(out, "* %zu EXPUNGE\r\n",
					   i + 1 - gone);
			/* one the sync held back is announced here instead */
			if (m->expunged && box->n_expunged > 0)
				box->n_expunged--;
			free(m->keywords);
			gone++;
			continue;
		}
		if (gone > 0)
			box->msgs[i - gone] = *m;
	}
	box->count -= gone;
	if (vanished != NULL && gone > 0) {
		buf_puts(out, "* VANISHED ");
		imap_write_uid_set(out, vanished, gone);
		buf_puts(out, "\r\n");
	}
	free(vanished);
}

struct expunge_job {
	struct store *store;
	int64_t mailbox_id;
	uint32_t *uids;
	size_t count;
	uint32_t *gone;
	size_t n_gone;
	enum store_result result;
	char error[200];
};

static void
expunge_job_free(void *ctx)
{
	struct expunge_job *job = ctx;

	free(job->uids);
	free(job->gone);
	free(job);
}

static void
expunge_work(void *ctx)
{
	struct expunge_job *job = ctx;
	const char *error = NULL;

	job->result = store_expunge_deleted(job->store, job->mailbox_id,
					    job->uids, job->count, &job->gone,
					    &job->n_gone, &error);
	if (job->result != STORE_OK)
		imap_copy_error(job->error, sizeof(job->error), error);
}

/* A job over the given view indexes (NULL: every message). */
static struct expunge_job *
expunge_job_new(struct imap_session *s, const size_t *idx, size_t n)
{
	struct expunge_job *job = xcalloc(1, sizeof(*job));
	struct imap_mailbox *box = s->box;

	job->store = s->store;
	job->mailbox_id = box->id;
	if (idx == NULL)
		n = box->count;
	job->uids = xcalloc(n > 0 ? n : 1, sizeof(*job->uids));
	/* The messages this client was told have \Deleted (the sync
	 * before every reply keeps the view's flags current); the store
	 * removes those that still have it when the operation runs, since
	 * another session may have cleared it meanwhile. Naming only these
	 * keeps an EXPUNGE in a big mailbox from costing the writer a
	 * statement per message. */
	for (size_t i = 0; i < n; i++) {
		const struct imap_msg *m = &box->msgs[idx != NULL ? idx[i] : i];

		if (m->flags & STORE_FLAG_DELETED)
			job->uids[job->count++] = m->uid;
	}
	return job;
}

static void
expunge_done(struct imap_cmd *cmd)
{
	struct expunge_job *job = cmd->ctx;

	if (job->result == STORE_E_NOT_FOUND)
		return (void)imap_cmd_no(cmd, "[NONEXISTENT] The mailbox no "
					 "longer exists");
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	imap_mailbox_expunge_uids(cmd->s, job->gone, job->n_gone, false);
	(void)imap_cmd_ok(cmd, "%s completed", cmd->uid ? "UID EXPUNGE" :
			  "EXPUNGE");
}

enum imap_cmd_result
imap_cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct expunge_job *job;
	size_t *idx = NULL, n = 0;
	const char *error;

	/* RFC 4314 4: EXPUNGE needs "e" */
	if (imap_acl_check_selected(s->box, STORE_ACL_EXPUNGE) != IMAP_ACL_OK)
		return imap_acl_no(cmd, STORE_ACL_EXPUNGE);
	if (!cmd->uid) {
		if (cmd->n_args != 0)
			return imap_cmd_bad(cmd, "EXPUNGE takes no arguments");
		job = expunge_job_new(s, NULL, 0);
	} else {
		/* RFC 9051 6.4.9: only the given UIDs */
		if (cmd->n_args != 1)
			return imap_cmd_bad(cmd, "UID EXPUNGE takes a UID set");
		if (imap_session_seqset(s, &cmd->args[0], true, &idx, &n,
					&error) < 0)
			return imap_cmd_bad(cmd, "%s", error);
		job = expunge_job_new(s, idx, n);
		free(idx);
	}
	if (job->count == 0) {
		expunge_job_free(job);
		return imap_cmd_ok(cmd, "%s completed", cmd->uid ?
				   "UID EXPUNGE" : "EXPUNGE");
	}
	return imap_cmd_run_blocking(cmd, expunge_work, expunge_done, job,
				     expunge_job_free);
}

static void
close_done(struct imap_cmd *cmd)
{
	struct expunge_job *job = cmd->ctx;
	struct imap_session *s = cmd->s;

	/* RFC 9051 6.4.1: the session leaves the mailbox whatever came of
	 * the expunge; a failure is still told */
	imap_session_unselect(s);
	if (job->result != STORE_OK && job->result != STORE_E_NOT_FOUND)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	(void)imap_cmd_ok(cmd, "CLOSE completed");
}

enum imap_cmd_result
imap_cmd_close(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct expunge_job *job;

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "CLOSE takes no arguments");
	/* EXAMINE: nothing is expunged (RFC 9051 6.4.1); nor without "e"
	 * (RFC 4314 4: the CLOSE still succeeds) */
	job = s->box->readonly ||
	      imap_acl_check_selected(s->box, STORE_ACL_EXPUNGE) !=
	      IMAP_ACL_OK ? NULL :
	      expunge_job_new(s, NULL, 0);
	if (job == NULL || job->count == 0) {
		if (job != NULL)
			expunge_job_free(job);
		imap_session_unselect(s);
		return imap_cmd_ok(cmd, "CLOSE completed");
	}
	return imap_cmd_run_blocking(cmd, expunge_work, close_done, job,
				     expunge_job_free);
}
