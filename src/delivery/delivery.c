/* SPDX-License-Identifier: MIT */
/*
 * Storing an accepted message for every recipient: one blob per account
 * (its Return-Path and Delivered-To differ), store_deliver into INBOX, and
 * one outbound queue entry for every remote destination. Runs on the
 * thread pool; each store write is group-committed with other sessions'.
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
	const char *error;
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
	 const struct timespec *start, const char *extra)
{
	char tbuf[300], obuf[300], ebuf[200];
	const char *to = s->dest->kind == DELIVERY_LOCAL ? s->dest->delivered_to
							 : s->dest->address;
	const char *relay = s->dest->kind == DELIVERY_LOCAL ? "local" : "queue";

	log_str(tbuf, sizeof(tbuf), to);
	log_str(obuf, sizeof(obuf), s->first_rcpt->address);
	if (s->result == STORE_OK) {
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

static void
deliver_local(struct store *store, struct delivery_msg *msg,
	      struct dest_slot *s, const struct timespec *start)
{
	struct buf blob;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	const char *error = NULL;
	enum store_result r;

	buf_init(&blob);
	delivery_return_path_format(msg->env_from, &blob);
	delivery_delivered_to_format(s->dest->delivered_to, &blob);
	buf_puts(&blob, msg->received);
	buf_append(&blob, msg->data, msg->len);
	r = store_blob_put(store, blob.data, blob.len, blob_id, &error);
	if (r == STORE_OK) {
		struct store_target t = {
			.account_id = s->dest->account_id,
		};

		r = store_deliver(store, blob_id, blob.len, msg->internal_date,
				  &t, 1, NULL, &error);
		if (r == STORE_OK) {
			char extra[64];

			s->result = STORE_OK;
			snprintf(extra, sizeof(extra), " mailbox=INBOX uid=%u",
				 (unsigned)t.uid);
			log_dest(msg, s, start, extra);
			buf_deinit(&blob);
			return;
		}
	}
	/* A delivery to an unknown account means it vanished after RCPT:
	 * retry later rather than lose the message. */
	s->result = r == STORE_E_OVER_QUOTA ? r : STORE_E_TEMP;
	s->error = error != NULL ? error : store_result_str(r);
	/* the thread-local message dies with the next store call */
	s->error = xstrdup(s->error);
	log_dest(msg, s, start, "");
	buf_deinit(&blob);
}

static void
deliver_remote(struct store *store, struct delivery_msg *msg,
	       struct dest_slot *slots, size_t n, const struct timespec *start)
{
	struct store_queue_rcpt *qr = xcalloc(n, sizeof(*qr));
	size_t nq = 0;
	struct buf blob;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	const char *error = NULL;
	enum store_result r;

	for (size_t i = 0; i < n; i++) {
		if (slots[i].dest->kind != DELIVERY_REMOTE)
			continue;
		qr[nq].address = slots[i].dest->address;
		qr[nq].dsn_notify = slots[i].first_rcpt->dsn_notify;
		qr[nq].dsn_orcpt = slots[i].first_rcpt->dsn_orcpt;
		nq++;
	}
	if (nq == 0) {
		free(qr);
		return;
	}
	buf_init(&blob);
	buf_puts(&blob, msg->received);
	buf_append(&blob, msg->data, msg->len);
	r = store_blob_put(store, blob.data, blob.len, blob_id, &error);
	if (r == STORE_OK)
		r = store_queue_insert(store, blob_id, blob.len, msg->env_from,
				       msg->dsn_ret, msg->dsn_envid, qr, nq,
				       &msg->queue_id, &error);
	char *err = r == STORE_OK ? NULL
		    : xstrdup(error != NULL ? error : store_result_str(r));
	char extra[48];

	snprintf(extra, sizeof(extra), " queue_id=%lld",
		 (long long)msg->queue_id);
	for (size_t i = 0; i < n; i++) {
		if (slots[i].dest->kind != DELIVERY_REMOTE)
			continue;
		slots[i].result = r == STORE_OK ? STORE_OK : STORE_E_TEMP;
		slots[i].error = err != NULL ? xstrdup(err) : NULL;
		log_dest(msg, &slots[i], start, r == STORE_OK ? extra : "");
	}
	free(err);
	free(qr);
	buf_deinit(&blob);
}

size_t
delivery_run(struct store *store, struct delivery_msg *msg)
{
	struct dest_slot *slots = NULL;
	size_t n = 0, cap = 0, ok = 0;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	msg->queue_id = 0;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		const struct delivery_rcpt *rc = &msg->rcpts[i];

		for (size_t j = 0; j < rc->n_dests; j++) {
			bool dup = false;

			for (size_t k = 0; k < n && !dup; k++)
				dup = delivery_dest_same(slots[k].dest,
							 &rc->dests[j]);
			if (dup)
				continue;
			if (n == cap) {
				cap = cap == 0 ? 4 : cap * 2;
				slots = xreallocarray(slots, cap,
						      sizeof(*slots));
			}
			slots[n++] = (struct dest_slot){
				.dest = &rc->dests[j],
				.first_rcpt = rc,
				.result = STORE_E_TEMP,
			};
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (slots[k].dest->kind == DELIVERY_LOCAL)
			deliver_local(store, msg, &slots[k], &start);
	}
	deliver_remote(store, msg, slots, n, &start);

	for (size_t i = 0; i < msg->n_rcpts; i++) {
		struct delivery_rcpt *rc = &msg->rcpts[i];

		rc->result = rc->n_dests == 0 ? STORE_E_TEMP : STORE_OK;
		rc->error = NULL;
		for (size_t j = 0; j < rc->n_dests; j++) {
			for (size_t k = 0; k < n; k++) {
				if (!delivery_dest_same(slots[k].dest,
							&rc->dests[j]))
					continue;
				if (result_rank(slots[k].result) >
				    result_rank(rc->result)) {
					rc->result = slots[k].result;
					rc->error = "delivery failed";
				}
			}
		}
		if (rc->result == STORE_OK)
			ok++;
	}
	for (size_t k = 0; k < n; k++)
		free((char *)slots[k].error);
	free(slots);
	return ok;
}
