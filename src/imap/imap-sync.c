/* SPDX-License-Identifier: MIT */
/*
 * Changes made elsewhere (another session, a delivery, another worker)
 * brought into the selected mailbox's view: the store's change counter
 * says when to look, store_mailbox_delta says what changed since the
 * view's modseq, and this writes FLAGS (a new keyword), EXPUNGE (only when
 * the command allows it, RFC 9051 7.5.1; VANISHED in a QRESYNC session),
 * EXISTS and FETCH FLAGS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

struct sync_job {
	struct imap_session *s;
	struct store *store;
	int64_t box_id;
	uint64_t since;
	uint32_t uid_from;
	uint64_t counter;	/* read before the job: see store.h */
	bool allow_expunge;
	void (*then)(struct imap_session *s);
	struct store_mailbox_delta delta;
	enum store_result result;
	char error[200];
};

static uint64_t
box_counter(const struct imap_session *s)
{
	return store_change_counter(s->store, STORE_WATCH_MAILBOX,
				    s->box->id);
}

bool
imap_sync_pending(const struct imap_session *s)
{
	if (s->box == NULL)
		return false;
	/* a memory load, no system call: called before every reply */
	return box_counter(s) != s->box->sync_counter ||
	       s->box->n_expunged > 0;
}

bool
imap_sync_changed(const struct imap_session *s)
{
	return s->box != NULL && box_counter(s) != s->box->sync_counter;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A change's keywords as sorted view indexes; true when they differ from
 * what msg has. */
static bool
keywords_apply(struct imap_mailbox *box, struct imap_msg *msg,
	       const struct store_message_change *c, bool *added)
{
	uint32_t *kw = NULL;
	bool differ;

	if (c->n_keywords > 0) {
		kw = xcalloc(c->n_keywords, sizeof(*kw));
		for (size_t i = 0; i < c->n_keywords; i++)
			kw[i] = imap_mailbox_keyword_add(box, c->keywords[i],
							 added);
		qsort(kw, c->n_keywords, sizeof(*kw), cmp_u32);
	}
	differ = msg->n_keywords != c->n_keywords ||
		 (c->n_keywords > 0 &&
		  memcmp(msg->keywords, kw, c->n_keywords * sizeof(*kw)) != 0);
	free(msg->keywords);
	msg->keywords = kw;
	msg->n_keywords = (uint16_t)c->n_keywords;
	return differ;
}

/* Sends the EXPUNGEs held back (RFC 9051 7.5.1) and drops those
 * messages from the view. From the highest down, so each number is the
 * one the client has at that moment. */
static void
write_expunges(struct imap_session *s)
{
	struct imap_mailbox *box = s->box;
	struct buf *out = imap_session_out(s);
	size_t j = 0;

	if (box->n_expunged == 0)
		return;
	imap_mailbox_own(box);
	if (imap_session_vanished(s)) {
		/* RFC 7162 3.2.10, RFC 9586 3.2: VANISHED instead, by
		 * UID */
		uint32_t *uids = xcalloc(box->n_expunged, sizeof(*uids));
		size_t n = 0;

		for (size_t i = 0; i < box->count && n < box->n_expunged; i++)
			if (box->msgs[i].expunged)
				uids[n++] = box->msgs[i].uid;
		if (n > 0) {
			buf_puts(out, "* VANISHED ");
			imap_write_uid_set(out, uids, n);
			buf_puts(out, "\r\n");
		}
		free(uids);
	} else {
		for (size_t i = box->count; i > 0; i--)
			if (box->msgs[i - 1].expunged)
				buf_printf(out, "* %zu EXPUNGE\r\n", i);
	}
	for (size_t i = 0; i < box->count; i++) {
		if (box->msgs[i].expunged) {
			free(box->msgs[i].keywords);
			continue;
		}
		box->msgs[j++] = box->msgs[i];
	}
	box->count = j;
	box->n_expunged = 0;
}

void
imap_sync_write_held_modseq(struct imap_session *s)
{
	if (s->box == NULL || !s->condstore || s->box->n_expunged == 0)
		return;
	buf_printf(imap_session_out(s), "* OK [HIGHESTMODSEQ %llu] "
		   "Expunges pending\r\n",
		   (unsigned long long)s->box->held_since);
}

/* Marks a view message expunged (held until it may be told). */
static void
hold_expunge(struct imap_mailbox *box, struct sync_job *job, size_t k,
	     size_t *n_held)
{
	if (box->n_expunged == 0)
		box->held_since = job->since;
	box->msgs[k].expunged = true;
	box->n_expunged++;
	(*n_held)++;
}

/* The log was pruned past the view's modseq ([store]
 * change_log_retention, a session open that long): every view message
 * the mailbox no longer holds is gone (RFC 7162 3.2.5.2's reasoning);
 * both lists are in UID order. */
static void
hold_missing(struct imap_mailbox *box, struct sync_job *job,
	     const struct store_mailbox_delta *d, size_t *n_held)
{
	size_t p = 0;

	for (size_t k = 0; k < box->count; k++) {
		uint32_t uid = box->msgs[k].uid;

		if (box->msgs[k].expunged || uid >= d->uidnext)
			continue;
		while (p < d->n_present && d->present[p] < uid)
			p++;
		if (p == d->n_present || d->present[p] != uid)
			hold_expunge(box, job, k, n_held);
	}
}

static void
msg_from_store(struct imap_msg *m, const struct store_message *sm)
{
	memset(m, 0, sizeof(*m));
	m->uid = sm->uid;
	m->flags = sm->flags;
	m->modseq = sm->modseq;
	m->internal_date = sm->internal_date;
	m->saved_date = sm->saved_date;
	m->size = sm->size;
	m->row_id = sm->id;
	memcpy(m->blob_id, sm->blob_id, sizeof(m->blob_id));
}

/* Brings the view up to date with the delta and writes the responses. */
static void
sync_apply(struct imap_session *s, struct sync_job *job)
{
	struct imap_mailbox *box = s->box;
	struct store_mailbox_delta *d = &job->delta;
	struct buf *out = imap_session_out(s);
	uint32_t *flagged = NULL;
	size_t n_flagged = 0, n_new = 0, n_held = 0;
	bool kw_added = false;

	imap_mailbox_own(box);
	/* the mailbox's keyword list, in its order, before any use */
	for (size_t i = 0; i < d->n_keywords; i++)
		(void)imap_mailbox_keyword_add(box, d->keywords[i],
						 &kw_added);
	/* never an EXPUNGE for a message the client was never told about:
	 * UIDs not in the view (delivered and expunged in between, or
	 * expunged by this session itself) are skipped */
	for (size_t i = 0; i < d->n_expunged; i++) {
		ssize_t k = imap_mailbox_find_uid(box, d->expunged[i]);

		if (k >= 0 && !box->msgs[k].expunged)
			hold_expunge(box, job, (size_t)k, &n_held);
	}
	if (d->expunged_partial)
		hold_missing(box, job, d, &n_held);
	if (d->n_changed > 0)
		flagged = xcalloc(d->n_changed, sizeof(*flagged));
	for (size_t i = 0; i < d->n_changed; i++) {
		const struct store_message_change *c = &d->changed[i];
		ssize_t k = imap_mailbox_find_uid(box, c->msg.uid);
		struct imap_msg *m;
		bool differ;

		if (k < 0) {
			/* new: UIDs only grow, so it goes at the end (a
			 * delivery racing SELECT is found here, once); an
			 * older UID the view lacks was expunged before the
			 * view was made */
			if (box->count > 0 &&
			    c->msg.uid <= box->msgs[box->count - 1].uid)
				continue;
			if (box->count == box->alloc) {
				box->alloc = box->alloc < 16 ? 16 :
					box->alloc * 2;
				box->msgs = xreallocarray(box->msgs,
							  box->alloc,
							  sizeof(*box->msgs));
			}
			m = &box->msgs[box->count++];
			msg_from_store(m, &c->msg);
			(void)keywords_apply(box, m, c, &kw_added);
			n_new++;
			continue;
		}
		m = &box->msgs[k];
		if (m->expunged)
			continue;
		differ = m->flags != c->msg.flags;
		if (keywords_apply(box, m, c, &kw_added))
			differ = true;
		m->flags = c->msg.flags;
		m->modseq = c->msg.modseq;
		/* unchanged for this client: its own STORE told it */
		if (differ)
			flagged[n_flagged++] = c->msg.uid;
	}
	if (kw_added)
		/* RFC 9051 7.3.5: FLAGS lists the keywords before any is
		 * used (CLIENT-QUIRKS: stalwart #102), PERMANENTFLAGS with
		 * \* only while the mailbox takes another keyword */
		imap_mailbox_write_flags_update(s);
	if (job->allow_expunge)
		write_expunges(s);
	/* held expunges keep their numbers until sent: EXISTS counts them */
	if (n_new > 0)
		buf_printf(out, "* %zu EXISTS\r\n", box->count);
	for (size_t i = 0; i < n_flagged; i++) {
		ssize_t k = imap_mailbox_find_uid(box, flagged[i]);

		if (k < 0)
			continue;
		/* UID too: a client that tracks messages by UID needs no
		 * FETCH of its own to place the change */
		imap_write_fetch_start(s, out, (size_t)k + 1,
				       box->msgs[k].uid);
		buf_printf(out, "UID %u FLAGS ", box->msgs[k].uid);
		imap_msg_write_flags(s, box, &box->msgs[k], out);
		if (s->condstore)
			buf_printf(out, " MODSEQ (%llu)", (unsigned long long)
				   box->msgs[k].modseq);
		buf_puts(out, ")\r\n");
	}
	/* after the command's own MODSEQs too: a FETCH that set \Seen or a
	 * STORE went out above the expunges found now */
	if (n_flagged > 0 || (n_held > 0 && s->modseq_sent))
		imap_sync_write_held_modseq(s);
	free(flagged);
	box->uidnext = d->uidnext;
	box->highestmodseq = d->highestmodseq;
	box->sync_modseq = d->highestmodseq;
	box->sync_counter = job->counter;
	imap_session_flush(s);
}

static void
sync_job_free(struct sync_job *job)
{
	store_mailbox_delta_free(&job->delta);
	free(job);
}

static void
sync_work(void *ctx)
{
	struct sync_job *job = ctx;
	const char *error = NULL;

	job->result = store_mailbox_delta(job->store, job->box_id, job->since,
					  job->uid_from, &job->delta, &error);
	if (job->result != STORE_OK)
		/* the message lives in this thread's buffer */
		snprintf(job->error, sizeof(job->error), "%s",
			 error != NULL ? error : "?");
}

static void
sync_done(void *ctx)
{
	struct sync_job *job = ctx;
	struct imap_session *s = job->s;
	void (*then)(struct imap_session *) = job->then;

	/* the session goes in its close callback, which waited for us */
	if (ioev_conn_is_closed(s->conn)) {
		sync_job_free(job);
		return;
	}
	if (s->box == NULL || s->box->id != job->box_id) {
		/* cannot happen: nothing runs while the sync does */
	} else if (job->result == STORE_E_NOT_FOUND ||
		   (job->result == STORE_OK &&
		    job->delta.uidvalidity != s->box->uidvalidity)) {
		/* RFC 9051 7.1.5: the mailbox was deleted (or renewed)
		 * under us; there is no way to tell the client in place */
		log_info(s->id, "imap", "mailbox-gone", "mailbox_id=%lld",
			 (long long)job->box_id);
		sync_job_free(job);
		imap_session_bye(s, "Selected mailbox was deleted, have to "
				 "disconnect");
		return;
	} else if (job->result != STORE_OK) {
		/* try again at the next command: the counter stays */
		log_warn(s->id, "imap", "sync-failed", "result=%s "
			 "error=\"%s\"", store_result_str(job->result),
			 job->error);
	} else {
		sync_apply(s, job);
	}
	sync_job_free(job);
	then(s);
}

void
imap_sync_start(struct imap_session *s, bool allow_expunge,
		void (*then)(struct imap_session *s))
{
	struct imap_mailbox *box = s->box;
	struct sync_job *job;
	uint64_t counter;

	if (box == NULL) {
		then(s);
		return;
	}
	counter = box_counter(s);
	if (counter == box->sync_counter) {
		/* only expunges held back by an earlier command */
		if (allow_expunge) {
			write_expunges(s);
			imap_session_flush(s);
		}
		then(s);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->store = s->store;
	job->box_id = box->id;
	/* from the HIGHESTMODSEQ the view is current with (SELECT's was
	 * read before its message list: what came between is read again,
	 * harmlessly) and every UID above the view's last */
	job->since = box->sync_modseq != 0 ? box->sync_modseq :
		box->highestmodseq;
	job->uid_from = box->count > 0 ? box->msgs[box->count - 1].uid + 1 : 1;
	job->counter = counter;
	job->allow_expunge = allow_expunge;
	job->then = then;
	ioev_conn_run_blocking(s->conn, sync_work, sync_done, job);
}
