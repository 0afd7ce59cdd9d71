/* SPDX-License-Identifier: MIT */
/*
 * Storing an accepted message for every recipient: one blob per account
 * (its Return-Path and Delivered-To differ) into its INBOX, and one
 * outbound queue entry for the remote destinations, all written by one
 * atomic store_deliver_queue() (or one per recipient for LMTP). Runs on
 * the thread pool; each store write is group-committed with other
 * sessions'.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/thread-keys.h"

/* A distinct destination and the recipients that lead to it. */
struct dest_slot {
	const struct delivery_dest *dest;
	const struct delivery_rcpt *first_rcpt;
	enum store_result result;
	char *error;		/* owned; NULL when stored */
	uint32_t uid;		/* LOCAL, once stored */
	int64_t queue_id;	/* REMOTE, once stored */
	/* LOCAL: the account's copy once written (store_blob_put) */
	bool have_blob;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	uint64_t size;
	bool junk;		/* LOCAL: filed into the Junk-role mailbox */
};

struct run_ctx {
	struct store *store;
	struct delivery_msg *msg;
	struct dest_slot *slots;
	size_t n;
	/* the copy for the outbound queue (Received + message) */
	bool have_remote_blob;
	char remote_blob[STORE_BLOB_ID_LEN + 1];
	uint64_t remote_size;
	struct timespec start;
	/* what local copies are threaded by, read at the first one */
	bool have_keys;
	struct mail_thread_keys keys;
};

static int
result_rank(enum store_result r)
{
	switch (r) {
	case STORE_OK:
		return 0;
	case STORE_E_OVER_QUOTA:
		return 1;
	default:
		return 2;
	}
}

static double
elapsed_s(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void
log_dest(const struct delivery_msg *msg, const struct dest_slot *s,
	 const struct timespec *start)
{
	char extra[64] = "";
	char tbuf[300], obuf[300], ebuf[200];
	const char *to = s->dest->kind == DELIVERY_LOCAL ? s->dest->delivered_to
							 : s->dest->address;
	const char *relay = s->dest->kind == DELIVERY_LOCAL ? "local" : "queue";

	log_str(tbuf, sizeof(tbuf), to);
	log_str(obuf, sizeof(obuf), s->first_rcpt->address);
	if (s->result == STORE_OK) {
		if (s->dest->kind == DELIVERY_LOCAL)
			snprintf(extra, sizeof(extra), " mailbox=%s uid=%u",
				 s->junk ? "Junk" : "INBOX", (unsigned)s->uid);
		else
			snprintf(extra, sizeof(extra), " queue_id=%lld",
				 (long long)s->queue_id);
		log_info(msg->id, "delivery",
			 s->dest->kind == DELIVERY_LOCAL ? "sent" : "queued",
			 "to=<%s> orig_to=<%s> relay=%s delay=%.3f dsn=2.0.0 "
			 "status=%s%s",
			 tbuf, obuf, relay, elapsed_s(start),
			 s->dest->kind == DELIVERY_LOCAL ? "sent" : "queued",
			 extra);
		return;
	}
	bool quota = s->result == STORE_E_OVER_QUOTA;

	log_str(ebuf, sizeof(ebuf),
		s->error != NULL ? s->error : store_result_str(s->result));
	log_warn(msg->id, "delivery", quota ? "rejected" : "deferred",
		 "to=<%s> orig_to=<%s> relay=%s delay=%.3f dsn=%s status=%s "
		 "reason=%s",
		 tbuf, obuf, relay, elapsed_s(start),
		 quota ? "5.2.2" : "4.3.0", quota ? "rejected" : "deferred",
		 ebuf);
}

/* Store results other than over quota are temporary for the sender: a
 * bad blob, an account deleted since RCPT, a failed commit. */
static enum store_result
result_map(enum store_result r)
{
	return r == STORE_OK || r == STORE_E_OVER_QUOTA ? r : STORE_E_TEMP;
}

/* Blocks in which a spooled message is copied into its blobs. */
#define DELIVERY_COPY_BLOCK (64 * 1024)

/* Stores hdr (the trace headers of one copy) followed by the message as
 * one blob. A copy that goes to the database is put whole (it is small;
 * the queue's copy without a MIME record: IMAP never reads it); a larger
 * one goes through a streaming blob writer, from memory as it is or from
 * the spool in blocks, so it is never built whole in memory. */
static enum store_result
put_copy(struct run_ctx *c, struct buf *hdr, bool queued,
	 char id_r[STORE_BLOB_ID_LEN + 1], uint64_t *size_r,
	 const char **error_r)
{
	const struct delivery_msg *msg = c->msg;
	struct store_blob_writer *w = NULL;
	uint8_t *block = NULL;
	uint64_t off = 0;
	enum store_result r;

	if (msg->data != NULL && hdr->len <= STORE_BLOB_INLINE_MAX &&
	    msg->len <= STORE_BLOB_INLINE_MAX - hdr->len) {
		buf_append(hdr, msg->data, msg->len);
		*size_r = hdr->len;
		if (queued)
			return store_blob_put_queued(c->store, hdr->data,
						     hdr->len, id_r, error_r);
		return store_blob_put(c->store, hdr->data, hdr->len, id_r,
				      error_r);
	}
	r = store_blob_writer_new(c->store, &w, error_r);
	if (r == STORE_OK)
		r = store_blob_writer_write(w, hdr->data, hdr->len, error_r);
	if (r == STORE_OK && msg->data != NULL) {
		r = store_blob_writer_write(w, msg->data, msg->len, error_r);
	} else if (r == STORE_OK && msg->spool == NULL && msg->len > 0) {
		r = STORE_E_INVALID;
		*error_r = "the message has neither data nor a spool";
	} else if (r == STORE_OK) {
		block = xmalloc(DELIVERY_COPY_BLOCK);
	}
	while (r == STORE_OK && msg->data == NULL && off < msg->len) {
		size_t want = msg->len - off < DELIVERY_COPY_BLOCK ?
			(size_t)(msg->len - off) : DELIVERY_COPY_BLOCK;
		ssize_t n = spool_pread(msg->spool, block, want, off);

		if (n <= 0) {
			r = STORE_E_TEMP;
			*error_r = n < 0 ? "cannot read the message spool" :
				"the message spool is short";
			break;
		}
		r = store_blob_writer_write(w, block, (size_t)n, error_r);
		off += (uint64_t)n;
	}
	free(block);
	if (r != STORE_OK) {
		store_blob_writer_abort(&w);
		return r;
	}
	return store_blob_writer_finish(&w, id_r, size_r, error_r);
}

static enum store_result
local_blob(struct run_ctx *c, struct dest_slot *s, const char **error_r)
{
	struct buf blob;
	enum store_result r;

	if (s->have_blob)
		return STORE_OK;
	buf_init(&blob);
	delivery_return_path_format(c->msg->env_from, &blob);
	delivery_delivered_to_format(s->dest->delivered_to, &blob);
	buf_puts(&blob, c->msg->received);
	r = put_copy(c, &blob, false, s->blob_id, &s->size, error_r);
	s->have_blob = r == STORE_OK;
	buf_deinit(&blob);
	return r;
}

static enum store_result
remote_blob(struct run_ctx *c, const char **error_r)
{
	struct buf blob;
	enum store_result r;

	if (c->have_remote_blob)
		return STORE_OK;
	buf_init(&blob);
	if (c->msg->remote_prefix != NULL)
		buf_puts(&blob, c->msg->remote_prefix);
	buf_puts(&blob, c->msg->received);
	r = put_copy(c, &blob, true, c->remote_blob, &c->remote_size,
		     error_r);
	c->have_remote_blob = r == STORE_OK;
	buf_deinit(&blob);
	return r;
}

static void
slot_set(struct dest_slot *s, enum store_result r, const char *error)
{
	free(s->error);
	s->result = result_map(r);
	s->error = r == STORE_OK ? NULL
		   : xstrdup(error != NULL ? error : store_result_str(r));
}

/* One atomic store operation for the slots idx[0..n): what goes to
 * store_deliver_queue(), and what is needed to map its result back. */
struct group {
	const size_t *idx;
	size_t n;
	struct store_target *targets;
	struct store_queue_rcpt *qr;
	size_t *tpos;		/* targets[t] is slot idx[tpos[t]] */
	size_t nt, nq, first_remote;
	struct store_queue_msg q;
};

/* A quarantined message (DMARC) goes to the account's mailbox with the
 * Junk role (RFC 6154 \\Junk; every new account has one); an account
 * without one gets it in INBOX, where the Authentication-Results field
 * still says dis=quarantine. Blocks on the store: delivery_start() never
 * takes a junk message. */
static void
junk_target(struct run_ctx *c, struct dest_slot *s, struct store_target *t)
{
	struct store_mailbox *box = NULL;

	s->junk = false;
	if (store_mailbox_lookup_role(c->store, s->dest->account_id,
				      STORE_ROLE_JUNK, &box, NULL) != STORE_OK ||
	    box == NULL)
		return;
	t->mailbox_id = box->id;
	s->junk = true;
	store_mailbox_free(&box);
}

/* The thread keys of c's message, from its header (in memory, or the
 * first block of the spool). */
static void
thread_keys(struct run_ctx *c)
{
	const struct delivery_msg *m = c->msg;
	const struct mail_thread_limits *lim = store_thread_limits(c->store);

	if (c->have_keys)
		return;
	c->have_keys = true;
	if (m->data != NULL) {
		mail_thread_keys_parse((const char *)m->data, m->len, lim,
				       &c->keys);
	} else {
		size_t cap = m->len < lim->header_max ? m->len :
			     lim->header_max;
		char *hdr = xmalloc(cap > 0 ? cap : 1);
		ssize_t got = m->spool != NULL ?
			      spool_pread(m->spool, hdr, cap, 0) : 0;

		/* unreadable: threaded alone, the store reads it later */
		mail_thread_keys_parse(hdr, got > 0 ? (size_t)got : 0, lim,
				       &c->keys);
		free(hdr);
	}
}

static void
thread_target(struct run_ctx *c, struct store_target *t)
{
	thread_keys(c);
	t->thread_subject = c->keys.base_subject;
	t->thread_msgid = c->keys.message_id;
	t->thread_refs = (const char *const *)c->keys.refs;
	t->n_thread_refs = c->keys.n_refs;
}

/* Fills g and puts the blobs (small ones: without blocking). On failure
 * *culprit_r is the position in idx of the slot that failed. */
static enum store_result
group_prepare(struct run_ctx *c, const size_t *idx, size_t n, struct group *g,
	      size_t *culprit_r, const char **error_r)
{
	enum store_result r = STORE_OK;

	memset(g, 0, sizeof(*g));
	g->idx = idx;
	g->n = n;
	g->targets = xcalloc(n, sizeof(*g->targets));
	g->qr = xcalloc(n, sizeof(*g->qr));
	g->tpos = xcalloc(n, sizeof(*g->tpos));
	g->first_remote = n;
	*culprit_r = n;
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		struct dest_slot *s = &c->slots[idx[i]];

		if (s->dest->kind == DELIVERY_REMOTE) {
			if (g->first_remote == n)
				g->first_remote = i;
			g->qr[g->nq].address = s->dest->address;
			g->qr[g->nq].dsn_notify = s->first_rcpt->dsn_notify;
			g->qr[g->nq].dsn_orcpt = s->first_rcpt->dsn_orcpt;
			g->nq++;
			continue;
		}
		r = local_blob(c, s, error_r);
		if (r != STORE_OK) {
			*culprit_r = i;
			break;
		}
		g->targets[g->nt] = (struct store_target){
			.account_id = s->dest->account_id,
			.blob_id = s->blob_id,
			.size = s->size,
		};
		thread_target(c, &g->targets[g->nt]);
		if (c->msg->junk)
			junk_target(c, s, &g->targets[g->nt]);
		g->tpos[g->nt++] = i;
	}
	if (r == STORE_OK && g->nq > 0) {
		r = remote_blob(c, error_r);
		g->q = (struct store_queue_msg){
			.blob_id = c->remote_blob,
			.size = c->remote_size,
			.env_from = c->msg->env_from,
			.dsn_ret = c->msg->dsn_ret,
			.dsn_envid = c->msg->dsn_envid,
			.msg_id = c->msg->id,
			.need_8bitmime = c->msg->need_8bitmime,
			.need_smtputf8 = c->msg->need_smtputf8,
			.rcpts = g->qr,
			.count = g->nq,
		};
		if (r != STORE_OK)
			*culprit_r = g->first_remote;
	}
	return r;
}

/* Sets the slots' results from the operation's (failed: the target index
 * store_deliver_queue gave), frees g, returns the mapped result. */
static enum store_result
group_finish(struct run_ctx *c, struct group *g, enum store_result r,
	     size_t culprit, const char *error)
{
	/* the thread-local message dies with the next store call */
	char *err = r == STORE_OK ? NULL
		    : xstrdup(error != NULL ? error : store_result_str(r));

	for (size_t i = 0, t = 0; i < g->n; i++) {
		struct dest_slot *s = &c->slots[g->idx[i]];

		if (r != STORE_OK && culprit < g->n && i != culprit) {
			/* The log names the destination that failed. */
			const struct delivery_dest *cd =
				c->slots[g->idx[culprit]].dest;
			char *why = xasprintf("not stored because <%s> "
					      "failed: %s",
					      cd->kind == DELIVERY_LOCAL
						      ? cd->delivered_to
						      : cd->address, err);

			slot_set(s, r, why);
			free(why);
			continue;
		}
		slot_set(s, r, err);
		if (r != STORE_OK)
			continue;
		if (s->dest->kind == DELIVERY_LOCAL)
			s->uid = g->targets[t++].uid;
		else
			s->queue_id = g->q.id;
	}
	if (r == STORE_OK && g->nq > 0)
		c->msg->queue_id = g->q.id;
	free(err);
	free(g->tpos);
	free(g->qr);
	free(g->targets);
	return result_map(r);
}

/* The culprit position for a failed store_deliver_queue(). */
static size_t
group_culprit(const struct group *g, size_t failed)
{
	return failed < g->nt ? g->tpos[failed] : g->n;
}

/* Stores the slots idx[0..n) in one atomic store operation and sets
 * their results. *culprit_r gets the position in idx of the slot whose
 * own failure it was, or n when it was no single slot's. */
static enum store_result
store_group(struct run_ctx *c, const size_t *idx, size_t n, size_t *culprit_r)
{
	struct group g;
	const char *error = NULL;
	size_t failed = 0;
	enum store_result r = group_prepare(c, idx, n, &g, culprit_r, &error);

	if (r == STORE_OK) {
		r = store_deliver_report(c->store, c->msg->internal_date,
					 g.targets, g.nt,
					 g.nq > 0 ? &g.q : NULL,
					 c->msg->notified, &failed, &error);
		if (r != STORE_OK)
			*culprit_r = group_culprit(&g, failed);
	}
	return group_finish(c, &g, r, *culprit_r, error);
}

static bool
rcpt_has_slot(const struct delivery_rcpt *rc, const struct dest_slot *s)
{
	for (size_t j = 0; j < rc->n_dests; j++)
		if (delivery_dest_same(s->dest, &rc->dests[j]))
			return true;
	return false;
}

/* Every recipient gets r, the result of the one operation. */
static void
rcpts_set_all(struct delivery_msg *msg, enum store_result r)
{
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		struct delivery_rcpt *rc = &msg->rcpts[i];

		rc->result = rc->n_dests == 0 ? STORE_E_TEMP : r;
		rc->error = rc->result == STORE_OK ? NULL : "delivery failed";
	}
}

static void
run_all_or_nothing(struct run_ctx *c)
{
	size_t *idx = xcalloc(c->n, sizeof(*idx));
	size_t culprit;

	for (size_t k = 0; k < c->n; k++)
		idx[k] = k;
	rcpts_set_all(c->msg, store_group(c, idx, c->n, &culprit));
	free(idx);
}

/* Accounts over quota are dropped one at a time and the rest retried;
 * each recipient gets the worst result of its dests. */
static void
run_skip_over_quota(struct run_ctx *c)
{
	size_t *idx = xcalloc(c->n, sizeof(*idx));
	size_t n = c->n, culprit;

	for (size_t k = 0; k < c->n; k++)
		idx[k] = k;
	while (n > 0) {
		if (store_group(c, idx, n, &culprit) != STORE_E_OVER_QUOTA ||
		    culprit >= n)
			break;
		/* The attempt was rolled back: the culprit keeps its
		 * result, the others are tried again without it. */
		memmove(&idx[culprit], &idx[culprit + 1],
			(n - culprit - 1) * sizeof(*idx));
		n--;
	}
	for (size_t i = 0; i < c->msg->n_rcpts; i++) {
		struct delivery_rcpt *rc = &c->msg->rcpts[i];

		rc->result = rc->n_dests == 0 ? STORE_E_TEMP : STORE_OK;
		rc->error = NULL;
		for (size_t k = 0; k < c->n; k++) {
			if (!rcpt_has_slot(rc, &c->slots[k]))
				continue;
			if (result_rank(c->slots[k].result) >
			    result_rank(rc->result)) {
				rc->result = c->slots[k].result;
				rc->error = "delivery failed";
			}
		}
	}
	free(idx);
}

/* One operation per recipient, for what earlier recipients did not
 * already store. */
static void
run_per_rcpt(struct run_ctx *c)
{
	size_t *idx = xcalloc(c->n, sizeof(*idx));
	size_t culprit;

	for (size_t i = 0; i < c->msg->n_rcpts; i++) {
		struct delivery_rcpt *rc = &c->msg->rcpts[i];
		size_t n = 0;

		for (size_t k = 0; k < c->n; k++) {
			if (c->slots[k].result != STORE_OK &&
			    rcpt_has_slot(rc, &c->slots[k]))
				idx[n++] = k;
		}
		if (rc->n_dests == 0)
			rc->result = STORE_E_TEMP;
		else if (n == 0)
			rc->result = STORE_OK;
		else
			rc->result = store_group(c, idx, n, &culprit);
		rc->error = rc->result == STORE_OK ? NULL : "delivery failed";
	}
	free(idx);
}

/* The distinct destinations of msg's recipients, as slots. */
static void
run_setup(struct run_ctx *c, struct store *store, struct delivery_msg *msg)
{
	size_t cap = 0;

	memset(c, 0, sizeof(*c));
	c->store = store;
	c->msg = msg;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	msg->queue_id = 0;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		const struct delivery_rcpt *rc = &msg->rcpts[i];

		for (size_t j = 0; j < rc->n_dests; j++) {
			bool dup = false;

			for (size_t k = 0; k < c->n && !dup; k++)
				dup = delivery_dest_same(c->slots[k].dest,
							 &rc->dests[j]);
			if (dup)
				continue;
			if (c->n == cap) {
				cap = cap == 0 ? 4 : cap * 2;
				c->slots = xreallocarray(c->slots, cap,
							 sizeof(*c->slots));
			}
			c->slots[c->n++] = (struct dest_slot){
				.dest = &rc->dests[j],
				.first_rcpt = rc,
				.result = STORE_E_TEMP,
			};
		}
	}
}

/* Logs every dest, frees the slots, counts the stored recipients. */
/* Bodies written for copies that were not kept (refused, failed) go to
 * the blob collector, unless a kept copy of this message uses the same
 * blob (docs/store.md "Deleting blobs"). */
static void
forget_unused_blobs(struct run_ctx *c)
{
	bool remote_kept = false;

	for (size_t k = 0; k < c->n; k++) {
		const struct dest_slot *s = &c->slots[k];
		bool kept = false;

		if (s->dest->kind != DELIVERY_LOCAL) {
			remote_kept |= s->result == STORE_OK;
			continue;
		}
		if (!s->have_blob || s->result == STORE_OK)
			continue;
		for (size_t j = 0; j < c->n && !kept; j++)
			kept = c->slots[j].have_blob &&
			       c->slots[j].result == STORE_OK &&
			       strcmp(c->slots[j].blob_id, s->blob_id) == 0;
		if (!kept)
			store_blob_forget(c->store, s->blob_id);
	}
	if (c->have_remote_blob && !remote_kept)
		store_blob_forget(c->store, c->remote_blob);
}

static size_t
run_end(struct run_ctx *c)
{
	size_t ok = 0;

	forget_unused_blobs(c);
	for (size_t k = 0; k < c->n; k++)
		log_dest(c->msg, &c->slots[k], &c->start);
	for (size_t i = 0; i < c->msg->n_rcpts; i++)
		if (c->msg->rcpts[i].result == STORE_OK)
			ok++;
	for (size_t k = 0; k < c->n; k++)
		free(c->slots[k].error);
	free(c->slots);
	c->slots = NULL;
	mail_thread_keys_deinit(&c->keys);
	c->have_keys = false;
	return ok;
}

static bool
is_utf8_addr(const char *s)
{
	return s != NULL &&
	       utf8_has_non_ascii((const uint8_t *)s, strlen(s));
}

void
delivery_msg_set_needs(struct delivery_msg *msg, bool body_8bit,
		       bool smtputf8, bool seen_8bit, bool header_8bit)
{
	bool utf8 = is_utf8_addr(msg->env_from);

	for (size_t i = 0; i < msg->n_rcpts && !utf8; i++) {
		const struct delivery_rcpt *r = &msg->rcpts[i];

		utf8 = is_utf8_addr(r->address);
		for (size_t k = 0; k < r->n_dests && !utf8; k++)
			utf8 = r->dests[k].kind == DELIVERY_REMOTE &&
			       is_utf8_addr(r->dests[k].address);
	}
	msg->need_8bitmime = body_8bit || seen_8bit;
	msg->need_smtputf8 = utf8 || (smtputf8 && header_8bit);
}

size_t
delivery_run(struct store *store, struct delivery_msg *msg)
{
	struct run_ctx c;

	/* one operation carries the marks: only one mode has one */
	assert(msg->notified == NULL || msg->mode == DELIVERY_ALL_OR_NOTHING);
	run_setup(&c, store, msg);
	if (c.n > 0) {
		switch (msg->mode) {
		case DELIVERY_PER_RCPT:
			run_per_rcpt(&c);
			break;
		case DELIVERY_SKIP_OVER_QUOTA:
			run_skip_over_quota(&c);
			break;
		case DELIVERY_ALL_OR_NOTHING:
		default:
			run_all_or_nothing(&c);
			break;
		}
	} else {
		rcpts_set_all(msg, STORE_E_TEMP);
	}
	return run_end(&c);
}

/* ---- without blocking (delivery_start) ---- */

struct delivery_async {
	struct run_ctx c;
	size_t *idx;
	struct group g;
	enum store_result result;
	size_t culprit;
	char *error;
	delivery_stored_cb_t *stored;
	void *ctx;
};

/* Writer thread: the batch is durable (or failed). */
static void
async_stored(void *ctx, enum store_result result, size_t failed,
	     const char *error)
{
	struct delivery_async *a = ctx;

	a->result = result;
	if (result != STORE_OK) {
		a->culprit = group_culprit(&a->g, failed);
		a->error = xstrdup(error != NULL ? error
						 : store_result_str(result));
	}
	a->stored(a->ctx);
}

/* Whether every copy fits in the database, so no blob put blocks. */
static bool
async_fits(const struct run_ctx *c)
{
	size_t base = c->msg->len + strlen(c->msg->received) +
		      (c->msg->remote_prefix != NULL ?
		       strlen(c->msg->remote_prefix) : 0);
	struct buf hdr;
	/* a spooled message is read with blocking I/O */
	bool fits = c->msg->data != NULL && base <= STORE_BLOB_INLINE_MAX;

	buf_init(&hdr);
	for (size_t k = 0; k < c->n && fits; k++) {
		const struct delivery_dest *d = c->slots[k].dest;

		if (d->kind != DELIVERY_LOCAL)
			continue;
		buf_reset(&hdr);
		delivery_return_path_format(c->msg->env_from, &hdr);
		delivery_delivered_to_format(d->delivered_to, &hdr);
		fits = base + hdr.len <= STORE_BLOB_INLINE_MAX;
	}
	buf_deinit(&hdr);
	return fits;
}

bool
delivery_start(struct store *store, struct delivery_msg *msg,
	       delivery_stored_cb_t *stored, void *ctx,
	       struct delivery_async **handle_r)
{
	struct delivery_async *a;
	const char *error = NULL;
	enum store_result r;

	*handle_r = NULL;
	if (msg->mode != DELIVERY_ALL_OR_NOTHING || msg->junk)
		return false;
	a = xcalloc(1, sizeof(*a));
	run_setup(&a->c, store, msg);
	if (a->c.n == 0 || !async_fits(&a->c)) {
		free(a->c.slots);
		free(a);
		return false;
	}
	a->stored = stored;
	a->ctx = ctx;
	a->idx = xcalloc(a->c.n, sizeof(*a->idx));
	for (size_t k = 0; k < a->c.n; k++)
		a->idx[k] = k;
	*handle_r = a;
	r = group_prepare(&a->c, a->idx, a->c.n, &a->g, &a->culprit, &error);
	if (r == STORE_OK)
		r = store_deliver_queue_async(store, msg->internal_date,
					      a->g.targets, a->g.nt,
					      a->g.nq > 0 ? &a->g.q : NULL,
					      async_stored, a, &error);
	if (r != STORE_OK) {
		/* Nothing queued: it ends here, reported the same way. */
		a->result = r;
		a->error = xstrdup(error != NULL ? error : store_result_str(r));
		stored(ctx);
	}
	return true;
}

size_t
delivery_finish(struct delivery_async **handle)
{
	struct delivery_async *a = *handle;
	enum store_result r;
	size_t ok;

	r = group_finish(&a->c, &a->g, a->result, a->culprit, a->error);
	rcpts_set_all(a->c.msg, r);
	ok = run_end(&a->c);
	free(a->error);
	free(a->idx);
	free(a);
	*handle = NULL;
	return ok;
}
