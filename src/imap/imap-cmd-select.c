/* SPDX-License-Identifier: MIT */
/*
 * SELECT and EXAMINE (RFC 9051 6.3.2-3) build the session's view of a
 * mailbox on the pool (from the worker's view cache, imap-view-cache.c);
 * UNSELECT (RFC 3691) leaves it without expunging. SELECT (QRESYNC
 * (uidvalidity modseq [known-uids [seq-match]])) (RFC 7162 3.2.5) adds
 * VANISHED (EARLIER) from the store's change log and a FETCH for every
 * message changed since.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-acl.h"
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
	/* (QRESYNC ...): known is the known-uids as sorted, merged
	 * [lo, hi] pairs (none given: every UID) */
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	uint32_t *known;
	size_t n_known;
	uint32_t *vanished;	/* out: expunged since, known, not in view */
	size_t n_vanished;
	/* out: the log was pruned past q_modseq: VANISHED (EARLIER) is
	 * every known UID the view lacks instead (RFC 7162 3.2.5.2) */
	bool vanished_gaps;
	enum store_result result;
	enum imap_acl_verdict verdict;
	char error[200];
};

static bool
known_has(const struct select_job *job, uint32_t uid)
{
	size_t lo = 0, hi = job->n_known;

	if (job->known == NULL)
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (job->known[2 * mid + 1] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < job->n_known && job->known[2 * lo] <= uid;
}

/* On the pool, after the view: the UIDs expunged since the client's
 * modseq that it knows and the view does not hold (one expunged after
 * the view was read is announced by the next sync instead). */
static void
select_vanished(struct select_job *job, struct imap_mailbox *box)
{
	struct store_mailbox_delta d;
	const char *error = NULL;

	memset(&d, 0, sizeof(d));
	job->result = store_mailbox_delta(job->store, box->id, job->q_modseq,
					  UINT32_MAX, &d, &error);
	if (job->result != STORE_OK) {
		/* the SELECT fails as a store failure would */
		imap_copy_error(job->error, sizeof(job->error), error);
		return;
	}
	job->vanished_gaps = d.expunged_partial;
	job->vanished = xcalloc(d.n_expunged + 1, sizeof(*job->vanished));
	for (size_t i = 0; i < d.n_expunged; i++)
		if (known_has(job, d.expunged[i]) &&
		    imap_mailbox_find_uid(box, d.expunged[i]) < 0)
			job->vanished[job->n_vanished++] = d.expunged[i];
	store_mailbox_delta_free(&d);
}

static void
select_job_free(void *ctx)
{
	struct select_job *job = ctx;

	imap_mailbox_free(&job->box);
	free(job->known);
	free(job->vanished);
	free(job->name);
	free(job);
}

static void
select_work(void *ctx)
{
	struct select_job *job = ctx;
	struct imap_acl_box acl;
	struct store_mailbox *mb = NULL;
	struct imap_mailbox *box;
	const char *error = NULL;
	uint64_t counter = 0;

	/* RFC 4314 4: SELECT and EXAMINE need "r" */
	job->result = imap_acl_open(job->store, job->account_id, job->name,
				    STORE_ACL_READ, &acl, &job->verdict,
				    &error);
	if (job->result == STORE_OK && job->verdict != IMAP_ACL_OK) {
		imap_acl_box_deinit(&acl);
		return;
	}
	mb = acl.mb;
	acl.mb = NULL;
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
		imap_acl_box_deinit(&acl);
		return;
	}
	box->id = mb->id;
	box->name = imap_acl_client_name(acl.shared, acl.owner, mb->name);
	box->role = mb->role;
	memcpy(box->mailbox_id, mb->jmap_id, sizeof(box->mailbox_id));
	box->account_id = mb->account_id;
	box->rights = acl.rights;
	/* RFC 4314 5.2: READ-ONLY unless a right changes something */
	box->readonly = job->readonly || !imap_acl_read_write(acl.rights);
	store_mailbox_free(&mb);
	imap_acl_box_deinit(&acl);
	job->box = box;
	/* RFC 7162 3.2.5.1: nothing more when UIDVALIDITY changed */
	if (job->qresync && job->q_uidvalidity == box->uidvalidity)
		select_vanished(job, box);
}

/* RFC 7162 3.2.5.1: what changed since the client's modseq. */
static void
select_qresync_write(struct imap_session *s, struct select_job *job)
{
	struct imap_mailbox *box = s->box;
	struct buf *out = &s->out;

	if (!job->qresync || job->q_uidvalidity != box->uidvalidity)
		return;
	if (job->vanished_gaps) {
		size_t mark = out->len;

		buf_puts(out, "* VANISHED (EARLIER) ");
		if (imap_write_uid_gaps(out, job->known, job->n_known, box))
			buf_puts(out, "\r\n");
		else
			buf_truncate(out, mark);
	} else if (job->n_vanished > 0) {
		buf_puts(out, "* VANISHED (EARLIER) ");
		imap_write_uid_set(out, job->vanished, job->n_vanished);
		buf_puts(out, "\r\n");
	}
	for (size_t i = 0; i < box->count; i++) {
		struct imap_msg *m = &box->msgs[i];

		if (m->modseq <= job->q_modseq || !known_has(job, m->uid))
			continue;
		imap_write_fetch_start(s, out, i + 1, m->uid);
		buf_printf(out, "UID %u FLAGS ", m->uid);
		imap_msg_write_flags(s, box, m, out);
		buf_printf(out, " MODSEQ (%llu))\r\n",
			   (unsigned long long)m->modseq);
	}
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

	if (job->result != STORE_OK && job->result != STORE_E_NOT_FOUND) {
		(void)imap_cmd_store_error(cmd, job->result, job->error);
		return;
	}
	if (job->result == STORE_E_NOT_FOUND ||
	    job->verdict == IMAP_ACL_NONEXISTENT) {
		(void)imap_cmd_no(cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (job->verdict == IMAP_ACL_DENIED) {
		(void)imap_acl_no(cmd, STORE_ACL_READ);
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
		/* a message number: not for UIDONLY (RFC 9586 3) */
		if (first_unseen > 0 && !s->uidonly)
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
		imap_mailbox_write_permanent_flags(s, box, out);
		buf_puts(out, ")] Flags permitted\r\n");
	}
	if (s->rev2) {
		buf_puts(out, "* LIST () \"/\" ");
		if (imap_write_mailbox(out, box->name, strlen(box->name),
				       IMAP_WRITE_UTF8, &error) < 0)
			buf_puts(out, "INBOX");
		buf_puts(out, "\r\n");
	}
	select_qresync_write(s, job);
	/* a SELECT made read-only by the rights (RFC 4314 5.2) is still
	 * answered as the SELECT it was */
	(void)imap_cmd_ok(cmd, "[%s] %s completed",
			  box->readonly ? "READ-ONLY" : "READ-WRITE",
			  job->readonly ? "EXAMINE" : "SELECT");
}

/* (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])), RFC 7162
 * 3.2.5; the sequence match data is checked and not used: the change log
 * keeps every expunge, so it could only narrow what it tells. */
static int
select_qresync(const struct imap_arg *p, struct select_job *job,
	       const char **error_r)
{
	const struct imap_arg *l = p->list;
	struct imap_seqset set;
	uint64_t v;

	*error_r = "QRESYNC takes (uidvalidity modseq [known-uids "
		   "[(sequences uids)]])";
	if (p->type != IMAP_ARG_LIST || p->list_count < 2 ||
	    p->list_count > 4 || !imap_arg_get_number64(&l[0], &v) ||
	    v == 0 || v > UINT32_MAX ||
	    !imap_arg_get_number64(&l[1], &job->q_modseq) ||
	    job->q_modseq == 0 || job->q_modseq > INT64_MAX)
		return -1;
	job->q_uidvalidity = (uint32_t)v;
	memset(&set, 0, sizeof(set));
	if (p->list_count >= 3) {
		if (l[2].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(l[2].str, l[2].len,
				      IMAP_SEQSET_RANGES_DEFAULT, &set,
				      error_r) < 0)
			return -1;
		if (set.saved) {
			imap_seqset_deinit(&set);
			return -1;
		}
		job->n_known = imap_uid_pairs(&set, &job->known);
		imap_seqset_deinit(&set);
	}
	if (p->list_count == 4) {
		const struct imap_arg *m = &l[3];

		if (m->type != IMAP_ARG_LIST || m->list_count != 2)
			return -1;
		for (size_t i = 0; i < 2; i++) {
			if (m->list[i].type != IMAP_ARG_ATOM ||
			    imap_seqset_parse(m->list[i].str, m->list[i].len,
					      IMAP_SEQSET_RANGES_DEFAULT,
					      &set, error_r) < 0)
				return -1;
			imap_seqset_deinit(&set);
		}
	}
	job->qresync = true;
	return 0;
}

/* SELECT's parameters: (CONDSTORE) RFC 7162 3.1.8, (QRESYNC (...))
 * 3.2.5, which needs ENABLE QRESYNC first. */
static int
select_params(struct imap_session *s, const struct imap_arg *p,
	      struct select_job *job, const char **error_r)
{
	bool condstore = false;

	*error_r = "Unknown SELECT parameter";
	if (p->type != IMAP_ARG_LIST || p->list_count == 0)
		return -1;
	for (size_t i = 0; i < p->list_count; i++) {
		const struct imap_arg *a = &p->list[i];

		if (imap_arg_atom_equals(a, "CONDSTORE") && !condstore) {
			condstore = true;
			continue;
		}
		if (imap_arg_atom_equals(a, "QRESYNC") && !job->qresync &&
		    i + 1 < p->list_count) {
			if (!s->qresync) {
				*error_r = "QRESYNC needs ENABLE QRESYNC";
				return -1;
			}
			if (select_qresync(&p->list[++i], job, error_r) < 0)
				return -1;
			/* RFC 9586 3: the sequence match data are message
			 * numbers */
			if (s->uidonly && p->list[i].list_count == 4) {
				*error_r = "[UIDREQUIRED] No message numbers "
					   "after ENABLE UIDONLY";
				return -1;
			}
			continue;
		}
		return -1;
	}
	if (condstore)
		s->condstore = true;
	return 0;
}

static enum imap_cmd_result
select_common(struct imap_cmd *cmd, bool readonly)
{
	struct imap_session *s = cmd->s;
	struct select_job *job;
	const char *error;
	char *name;

	job = xcalloc(1, sizeof(*job));
	if (cmd->n_args == 2) {
		if (select_params(s, &cmd->args[1], job, &error) < 0) {
			select_job_free(job);
			return imap_cmd_bad(cmd, "%s", error);
		}
	} else if (cmd->n_args != 1) {
		select_job_free(job);
		return imap_cmd_bad(cmd, "%s takes one mailbox name",
				    cmd->name);
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &name, &error) < 0) {
		select_job_free(job);
		return imap_cmd_bad(cmd, "%s", error);
	}
	/* RFC 9051 6.3.2: a SELECT first closes the selected mailbox
	 * (without expunging), even if the new one fails; rev2 says so
	 * with the CLOSED code */
	if (s->box != NULL) {
		imap_session_unselect(s);
		/* and so does QRESYNC (RFC 7162 3.2.11) */
		if (s->rev2 || s->qresync)
			buf_puts(&s->out, "* OK [CLOSED] Previous mailbox "
				 "closed\r\n");
	}
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
