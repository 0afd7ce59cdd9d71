/* SPDX-License-Identifier: MIT */
/*
 * Storing an accepted message for every recipient: one blob per account
 * (its Return-Path and Delivered-To differ) into its INBOX, and one
 * outbound queue entry for the remote destinations, all written by one
 * atomic store_deliver_queue() (or one per recipient for LMTP). Runs on
 * the thread pool; each store write is group-committed with other
 * sessions'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/mem.h"

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
			snprintf(extra, sizeof(extra), " mailbox=INBOX uid=%u",
				 (unsigned)s->uid);
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
	buf_append(&blob, c->msg->data, c->msg->len);
	r = store_blob_put(c->store, blob.data, blob.len, s->blob_id, error_r);
	s->size = blob.len;
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
	buf_puts(&blob, c->msg->received);
	buf_append(&blob, c->msg->data, c->msg->len);
	r = store_blob_put(c->store, blob.data, blob.len, c->remote_blob,
			   error_r);
	c->remote_size = blob.len;
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

/* Stores the slots idx[0..n) in one atomic store operation and sets
 * their results. *culprit_r gets the position in idx of the slot whose
 * own failure it was, or n when it was no single slot's. */
static enum store_result
store_group(struct run_ctx *c, const size_t *idx, size_t n, size_t *culprit_r)
{
	struct store_target *targets = xcalloc(n, sizeof(*targets));
	struct store_queue_rcpt *qr = xcalloc(n, sizeof(*qr));
	size_t *tpos = xcalloc(n, sizeof(*tpos));
	size_t nt = 0, nq = 0, first_remote = n, failed = 0;
	struct store_queue_msg q;
	const char *error = NULL;
	enum store_result r = STORE_OK;
	char *err;

	*culprit_r = n;
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		struct dest_slot *s = &c->slots[idx[i]];

		if (s->dest->kind == DELIVERY_REMOTE) {
			if (first_remote == n)
				first_remote = i;
			qr[nq].address = s->dest->address;
			qr[nq].dsn_notify = s->first_rcpt->dsn_notify;
			qr[nq].dsn_orcpt = s->first_rcpt->dsn_orcpt;
			nq++;
			continue;
		}
		r = local_blob(c, s, &error);
		if (r != STORE_OK) {
			*culprit_r = i;
			break;
		}
		targets[nt] = (struct store_target){
			.account_id = s->dest->account_id,
			.blob_id = s->blob_id,
			.size = s->size,
		};
		tpos[nt++] = i;
	}
	memset(&q, 0, sizeof(q));
	if (r == STORE_OK && nq > 0) {
		r = remote_blob(c, &error);
		q = (struct store_queue_msg){
			.blob_id = c->remote_blob,
			.size = c->remote_size,
			.env_from = c->msg->env_from,
			.dsn_ret = c->msg->dsn_ret,
			.dsn_envid = c->msg->dsn_envid,
			.rcpts = qr,
			.count = nq,
		};
		if (r != STORE_OK)
			*culprit_r = first_remote;
	}
	if (r == STORE_OK) {
		r = store_deliver_queue(c->store, c->msg->internal_date,
					targets, nt, nq > 0 ? &q : NULL,
					&failed, &error);
		if (r != STORE_OK)
			*culprit_r = failed < nt ? tpos[failed] : n;
	}
	/* the thread-local message dies with the next store call */
	err = r == STORE_OK ? NULL
	      : xstrdup(error != NULL ? error : store_result_str(r));
	for (size_t i = 0, t = 0; i < n; i++) {
		struct dest_slot *s = &c->slots[idx[i]];

		if (r != STORE_OK && *culprit_r < n && i != *culprit_r) {
			/* The log names the destination that failed. */
			const struct delivery_dest *cd =
				c->slots[idx[*culprit_r]].dest;
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
			s->uid = targets[t++].uid;
		else
			s->queue_id = q.id;
	}
	if (r == STORE_OK && nq > 0)
		c->msg->queue_id = q.id;
	free(err);
	free(tpos);
	free(qr);
	free(targets);
	return result_map(r);
}

static bool
rcpt_has_slot(const struct delivery_rcpt *rc, const struct dest_slot *s)
{
	for (size_t j = 0; j < rc->n_dests; j++)
		if (delivery_dest_same(s->dest, &rc->dests[j]))
			return true;
	return false;
}

/* Every recipient gets the result of the one operation. */
static void
run_all_or_nothing(struct run_ctx *c)
{
	size_t *idx = xcalloc(c->n, sizeof(*idx));
	size_t culprit;
	enum store_result r;

	for (size_t k = 0; k < c->n; k++)
		idx[k] = k;
	r = store_group(c, idx, c->n, &culprit);
	for (size_t i = 0; i < c->msg->n_rcpts; i++) {
		struct delivery_rcpt *rc = &c->msg->rcpts[i];

		rc->result = rc->n_dests == 0 ? STORE_E_TEMP : r;
		rc->error = rc->result == STORE_OK ? NULL : "delivery failed";
	}
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

size_t
delivery_run(struct store *store, struct delivery_msg *msg)
{
	struct run_ctx c = { .store = store, .msg = msg };
	size_t cap = 0, ok = 0;

	clock_gettime(CLOCK_MONOTONIC, &c.start);
	msg->queue_id = 0;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		const struct delivery_rcpt *rc = &msg->rcpts[i];

		for (size_t j = 0; j < rc->n_dests; j++) {
			bool dup = false;

			for (size_t k = 0; k < c.n && !dup; k++)
				dup = delivery_dest_same(c.slots[k].dest,
							 &rc->dests[j]);
			if (dup)
				continue;
			if (c.n == cap) {
				cap = cap == 0 ? 4 : cap * 2;
				c.slots = xreallocarray(c.slots, cap,
							sizeof(*c.slots));
			}
			c.slots[c.n++] = (struct dest_slot){
				.dest = &rc->dests[j],
				.first_rcpt = rc,
				.result = STORE_E_TEMP,
			};
		}
	}
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
		for (size_t i = 0; i < msg->n_rcpts; i++) {
			msg->rcpts[i].result = STORE_E_TEMP;
			msg->rcpts[i].error = "delivery failed";
		}
	}
	for (size_t k = 0; k < c.n; k++)
		log_dest(msg, &c.slots[k], &c.start);
	for (size_t i = 0; i < msg->n_rcpts; i++)
		if (msg->rcpts[i].result == STORE_OK)
			ok++;
	for (size_t k = 0; k < c.n; k++)
		free(c.slots[k].error);
	free(c.slots);
	return ok;
}
