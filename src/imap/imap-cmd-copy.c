/* SPDX-License-Identifier: MIT */
/*
 * COPY and MOVE, with their UID forms (RFC 9051 6.4.7-8, RFC 6851): one
 * store operation gives every message a new UID in the target mailbox,
 * answered with COPYUID (RFC 4315); a missing target is TRYCREATE. MOVE
 * sends the COPYUID untagged, then the EXPUNGEs of the moved messages
 * (RFC 6851 3.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "lib/mem.h"

struct copy_job {
	struct store *store;
	int64_t account_id;
	char *name;
	uint32_t *uids;
	struct store_copy copy;
	bool target_missing;
	enum imap_acl_verdict verdict;
	enum store_result result;
	char error[200];
};

static void
copy_job_free(void *ctx)
{
	struct copy_job *job = ctx;

	store_copy_deinit(&job->copy);
	free(job->uids);
	free(job->name);
	free(job);
}

static void
copy_work(void *ctx)
{
	struct copy_job *job = ctx;
	struct imap_acl_box acl;
	const char *error = NULL;

	/* RFC 4314 4: COPY and MOVE need "i" on the target */
	job->result = imap_acl_open(job->store, job->account_id, job->name,
				    STORE_ACL_INSERT, &acl, &job->verdict,
				    &error);
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_NONEXISTENT) {
		imap_acl_box_deinit(&acl);
		job->target_missing = true;
		return;
	}
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_OK) {
		job->copy.dst_mailbox_id = acl.mb->id;
		/* and the flags the user may not set there are not stored */
		job->copy.drop_flags = STORE_FLAGS_ALL &
				       ~imap_acl_flags_allowed(acl.rights);
		job->copy.drop_keywords =
			!imap_acl_keywords_allowed(acl.rights);
		job->result = store_copy(job->store, &job->copy, &error);
		/* removed since the lookup */
		if (job->result == STORE_E_NOT_FOUND && error != NULL &&
		    strncmp(error, "target", 6) == 0)
			job->target_missing = true;
	}
	imap_acl_box_deinit(&acl);
	if (job->result != STORE_OK)
		imap_copy_error(job->error, sizeof(job->error), error);
}

static void
copy_done(struct imap_cmd *cmd)
{
	struct copy_job *job = cmd->ctx;
	struct imap_session *s = cmd->s;
	const struct store_copy *c = &job->copy;
	bool move = job->copy.move;
	struct buf code;

	if (job->target_missing)
		/* RFC 9051 6.4.7: the client may CREATE it and try again */
		return (void)imap_cmd_no(cmd, "[TRYCREATE] No such mailbox");
	if (job->result == STORE_OK && job->verdict == IMAP_ACL_DENIED)
		return (void)imap_acl_no(cmd, STORE_ACL_INSERT);
	if (job->result == STORE_E_OVER_QUOTA)
		return (void)imap_cmd_no(cmd, "[OVERQUOTA] Over quota");
	if (job->result == STORE_E_NOT_FOUND)
		return (void)imap_cmd_no(cmd, "[NONEXISTENT] The mailbox no "
					 "longer exists");
	if (job->result != STORE_OK)
		return (void)imap_cmd_store_error(cmd, job->result,
						  job->error);
	buf_init(&code);
	if (c->n > 0) {
		/* RFC 4315 3: COPYUID uidvalidity source-uids target-uids,
		 * pairwise in the same order */
		buf_printf(&code, "[COPYUID %u ", c->dst_uidvalidity);
		imap_write_uid_set(&code, c->src_uids, c->n);
		buf_putc(&code, ' ');
		imap_write_uid_set(&code, c->dst_uids, c->n);
		buf_puts(&code, "] ");
	}
	if (move) {
		/* RFC 6851 3.3: the COPYUID goes out untagged, before the
		 * EXPUNGEs */
		if (c->n > 0)
			buf_printf(imap_session_out(s), "* OK %sMoved\r\n",
				   code.data);
		imap_mailbox_expunge_uids(s, c->src_uids, c->n, false);
		(void)imap_cmd_ok(cmd, "%s completed", cmd->uid ? "UID MOVE" :
				  "MOVE");
	} else {
		(void)imap_cmd_ok(cmd, "%s%s completed",
				  code.data != NULL ? code.data : "",
				  cmd->uid ? "UID COPY" : "COPY");
	}
	buf_deinit(&code);
}

static enum imap_cmd_result
copy_common(struct imap_cmd *cmd, bool move)
{
	struct imap_session *s = cmd->s;
	struct copy_job *job;
	size_t *idx = NULL, n = 0;
	const char *error;
	char *name;

	if (cmd->n_args != 2)
		return imap_cmd_bad(cmd, "%s takes a sequence set and a "
				    "mailbox", cmd->name);
	/* RFC 6851 4.3: MOVE also needs what STORE \Deleted and EXPUNGE
	 * need on the source */
	if (move && imap_acl_check_selected(s->box, STORE_ACL_DELETE_MSG |
					    STORE_ACL_EXPUNGE) != IMAP_ACL_OK)
		return imap_acl_no(cmd, STORE_ACL_DELETE_MSG |
					STORE_ACL_EXPUNGE);
	if (imap_mailbox_arg(s, &cmd->args[1], &name, &error) < 0)
		return imap_cmd_bad(cmd, "%s", error);
	if (imap_session_seqset(s, &cmd->args[0], cmd->uid, &idx, &n,
				&error) < 0) {
		free(name);
		return imap_cmd_bad(cmd, "%s", error);
	}
	/* RFC 9738: COPY is all or nothing (RFC 9051 6.4.7), so one over
	 * the limit copies none; MOVE may stop part way and takes the
	 * highest messages as FETCH does */
	if (!move && cmd->limited) {
		free(idx);
		free(name);
		cmd->limited = false;
		return imap_cmd_no(cmd, "[MESSAGELIMIT %u] COPY of more than "
				   "%u messages: nothing copied",
				   s->set->message_limit,
				   s->set->message_limit);
	}
	job = xcalloc(1, sizeof(*job));
	job->store = s->store;
	job->account_id = s->account_id;
	job->name = name;
	/* The view is in UID order, so these ascend. Even with none (a
	 * UID set naming no message) the target is looked up: TRYCREATE
	 * still applies. */
	job->uids = xcalloc(n > 0 ? n : 1, sizeof(*job->uids));
	for (size_t i = 0; i < n; i++)
		job->uids[i] = s->box->msgs[idx[i]].uid;
	free(idx);
	job->copy.src_mailbox_id = s->box->id;
	job->copy.uids = job->uids;
	job->copy.count = n;
	job->copy.move = move;
	return imap_cmd_run_blocking(cmd, copy_work, copy_done, job,
				     copy_job_free);
}

enum imap_cmd_result
imap_cmd_copy(struct imap_cmd *cmd)
{
	return copy_common(cmd, false);
}

enum imap_cmd_result
imap_cmd_move(struct imap_cmd *cmd)
{
	return copy_common(cmd, true);
}
