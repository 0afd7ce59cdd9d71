/* SPDX-License-Identifier: MIT */
/*
 * Delivery status notifications: which recipients are reported
 * (NOTIFY), the names used in reports and logs, and handing a report on
 * to the sender. The message itself is built in dsn-build.c.
 */
#include "queue/dsn.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mailauth/dkim-generated.h"

/* Whether the comma-separated NOTIFY list has the keyword. */
static bool
notify_has(const char *notify, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = notify;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == wlen && strncasecmp(p, word, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

bool
dsn_notify_wants(const char *notify, enum dsn_action action)
{
	if (notify == NULL || *notify == '\0')
		return action == DSN_ACTION_FAILED ||
		       action == DSN_ACTION_DELAYED;
	if (notify_has(notify, "NEVER"))
		return false;
	switch (action) {
	case DSN_ACTION_FAILED:
		return notify_has(notify, "FAILURE");
	case DSN_ACTION_DELAYED:
		return notify_has(notify, "DELAY");
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
	case DSN_ACTION_EXPANDED:
		return notify_has(notify, "SUCCESS");
	}
	return false;
}

const char *
dsn_action_name(enum dsn_action action)
{
	switch (action) {
	case DSN_ACTION_FAILED:
		return "failed";
	case DSN_ACTION_DELAYED:
		return "delayed";
	case DSN_ACTION_DELIVERED:
		return "delivered";
	case DSN_ACTION_RELAYED:
		return "relayed";
	case DSN_ACTION_EXPANDED:
		return "expanded";
	}
	return "failed";
}

const char *
dsn_result_name(enum dsn_result result)
{
	switch (result) {
	case DSN_DELIVERED:
		return "delivered";
	case DSN_QUEUED:
		return "queued";
	case DSN_NULL_SENDER:
		return "null-sender";
	case DSN_NOT_WANTED:
		return "not-wanted";
	case DSN_SENDER_UNKNOWN:
		return "sender-unknown";
	case DSN_REFUSED:
		return "refused";
	case DSN_TEMP:
		return "temp";
	}
	return "temp";
}

/* Reads what dsn_build() needs of the queued message: all of it when a
 * failure may return it whole, else its first headers_max octets (a
 * 50 MB message is never read whole for its header). A missing blob
 * gives an empty *len_r and STORE_OK: the report goes out without it. */
static enum store_result
read_original(struct store *store, const struct config_bounce *b,
	      const struct dsn_report *rep, bool failed, uint8_t **data_r,
	      size_t *len_r, const char **error_r)
{
	enum store_result r;
	uint64_t want;
	int fd = -1;

	*data_r = NULL;
	*len_r = 0;
	if (rep->blob_id == NULL || rep->blob_id[0] == '\0')
		return STORE_OK;
	if (failed && rep->size <= b->return_size_max) {
		r = store_blob_read(store, rep->blob_id, data_r, len_r,
				    error_r);
		return r == STORE_E_NOT_FOUND ? STORE_OK : r;
	}
	r = store_blob_open(store, rep->blob_id, &fd, error_r);
	if (r != STORE_OK)
		return r == STORE_E_NOT_FOUND ? STORE_OK : r;
	want = rep->size < b->headers_max ? rep->size : b->headers_max;
	*data_r = xmalloc((size_t)want + 1);
	while (*len_r < want) {
		ssize_t n = pread(fd, *data_r + *len_r, (size_t)want - *len_r,
				  (off_t)*len_r);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (error_r != NULL)
				*error_r = "cannot read the queued message";
			close(fd);
			xfree(data_r);
			*len_r = 0;
			return STORE_E_TEMP;
		}
		if (n == 0)
			break;
		*len_r += (size_t)n;
	}
	close(fd);
	return STORE_OK;
}

static void
log_outcome(const struct dsn_report *rep, const char *dsn_id,
	    enum dsn_action action, size_t n, enum dsn_result result,
	    int64_t queue_id, const char *error)
{
	char qid[64], to[600], why[300];
	const char *id = rep->queue_id != NULL ? rep->queue_id : "-";

	log_str(qid, sizeof(qid), id);
	/* an address inside <...>, quoted only when it needs it (never
	 * empty here: the null sender is written as "<>") */
	if (rep->env_from == NULL || rep->env_from[0] == '\0')
		to[0] = '\0';
	else
		log_str(to, sizeof(to), rep->env_from);
	switch (result) {
	case DSN_DELIVERED:
	case DSN_QUEUED:
		if (queue_id != 0)
			log_info(qid, "dsn", "sent",
				 "dsn_id=%s from=<> to=<%s> action=%s "
				 "rcpts=%zu status=%s queue_id=%lld",
				 dsn_id, to, dsn_action_name(action), n,
				 dsn_result_name(result), (long long)queue_id);
		else
			log_info(qid, "dsn", "sent",
				 "dsn_id=%s from=<> to=<%s> action=%s "
				 "rcpts=%zu status=%s",
				 dsn_id, to, dsn_action_name(action), n,
				 dsn_result_name(result));
		break;
	case DSN_NULL_SENDER:
	case DSN_NOT_WANTED:
		log_info(qid, "dsn", "skipped", "to=<%s> reason=%s", to,
			 dsn_result_name(result));
		break;
	case DSN_SENDER_UNKNOWN:
	case DSN_REFUSED:
		log_warn(qid, "dsn", "dropped",
			 "dsn_id=%s to=<%s> action=%s rcpts=%zu reason=%s "
			 "error=%s",
			 dsn_id, to, dsn_action_name(action), n,
			 dsn_result_name(result),
			 log_str(why, sizeof(why),
				 error != NULL ? error : "no such user"));
		break;
	case DSN_TEMP:
		log_warn(qid, "dsn", "deferred",
			 "to=<%s> action=%s rcpts=%zu error=%s", to,
			 dsn_action_name(action), n,
			 log_str(why, sizeof(why),
				 error != NULL ? error : "?"));
		break;
	}
}

/* A report about some recipients: the most serious action (for logs and
 * what is read of the message) and how many are reported. */
static size_t
wanted(const struct dsn_report *rep, enum dsn_action *main_r)
{
	size_t n = 0;

	*main_r = DSN_ACTION_DELIVERED;
	for (size_t i = 0; i < rep->n_rcpts; i++) {
		const struct dsn_rcpt *r = &rep->rcpts[i];

		if (!dsn_notify_wants(r->notify, r->action))
			continue;
		n++;
		if (r->action == DSN_ACTION_FAILED)
			*main_r = DSN_ACTION_FAILED;
		else if (r->action == DSN_ACTION_DELAYED &&
			 *main_r != DSN_ACTION_FAILED)
			*main_r = DSN_ACTION_DELAYED;
	}
	return n;
}

enum dsn_result
dsn_send(struct store *store, const struct config *cfg,
	 const struct dsn_report *rep, int64_t *queue_id_r,
	 const char **error_r)
{
	struct dsn_build_settings set = {
		.hostname = cfg->hostname,
		.now = time(NULL),
		.return_size_max = cfg->bounce.return_size_max,
		.headers_max = cfg->bounce.headers_max,
	};
	struct delivery_dest *dests = NULL;
	struct delivery_rcpt rcpt;
	struct delivery_msg msg;
	enum delivery_lookup lookup;
	enum dsn_action main;
	enum dsn_result result;
	enum store_result sr;
	const char *error = NULL;
	char dsn_id[LOG_ID_LEN + 1];
	uint8_t *orig = NULL;
	size_t orig_len = 0, n, n_dests = 0;
	struct buf report, received;

	if (queue_id_r != NULL)
		*queue_id_r = 0;
	if (error_r != NULL)
		*error_r = NULL;
	n = wanted(rep, &main);
	/* never a report about a report (RFC 3461 6.2, RFC 5321 6.1): the
	 * null sender is what stops bounce loops */
	if (rep->env_from == NULL || rep->env_from[0] == '\0') {
		log_outcome(rep, "-", main, n, DSN_NULL_SENDER, 0, NULL);
		return DSN_NULL_SENDER;
	}
	if (n == 0) {
		log_outcome(rep, "-", main, n, DSN_NOT_WANTED, 0, NULL);
		return DSN_NOT_WANTED;
	}
	log_new_id(dsn_id);
	lookup = delivery_resolve(store, rep->env_from, &dests, &n_dests,
				  &error);
	if (lookup == DELIVERY_UNKNOWN) {
		log_outcome(rep, dsn_id, main, n, DSN_SENDER_UNKNOWN, 0, NULL);
		return DSN_SENDER_UNKNOWN;
	}
	if (lookup == DELIVERY_TEMP) {
		if (error_r != NULL)
			*error_r = error;
		log_outcome(rep, dsn_id, main, n, DSN_TEMP, 0, error);
		return DSN_TEMP;
	}
	sr = read_original(store, &cfg->bounce, rep, main == DSN_ACTION_FAILED,
			   &orig, &orig_len, &error);
	if (sr != STORE_OK) {
		delivery_dests_free(&dests, n_dests);
		if (error_r != NULL)
			*error_r = error;
		log_outcome(rep, dsn_id, main, n, DSN_TEMP, 0, error);
		return DSN_TEMP;
	}
	buf_init(&report);
	dsn_build(rep, &set, orig, orig_len, &report);
	free(orig);

	/* Trace for the report's own hops (RFC 5321 4.4: every MTA that
	 * makes or relays a message adds one). */
	buf_init(&received);
	buf_printf(&received, "Received: by %s (Herald)\r\n\tid %s; ",
		   cfg->hostname, dsn_id);
	delivery_date_format(set.now, &received);
	buf_puts(&received, "\r\n");
	/* signed like a user's mail, after our Received field (From
	 * MAILER-DAEMON@hostname: the hostname's keys or its parent's) */
	dkim_sign_generated(cfg, dsn_id, (const uint8_t *)report.data,
			    report.len, &received);

	rcpt = (struct delivery_rcpt){
		.address = rep->env_from,
		/* the report itself must never be reported on */
		.dsn_notify = "NEVER",
		.dests = dests,
		.n_dests = n_dests,
	};
	msg = (struct delivery_msg){
		.id = dsn_id,
		.mode = DELIVERY_ALL_OR_NOTHING,
		.env_from = "",
		.received = received.data,
		.data = (const uint8_t *)report.data,
		.len = report.len,
		.internal_date = (int64_t)set.now,
		.rcpts = &rcpt,
		.n_rcpts = 1,
		.notified = rep->notified,
	};
	/* a report with 8-bit text (a UTF-8 address or reply, a returned
	 * 8-bit message) needs 8BITMIME from the next hop; to a UTF-8
	 * sender, SMTPUTF8 */
	delivery_msg_set_needs(&msg, false, false,
			       utf8_has_non_ascii((const uint8_t *)report.data,
						  report.len),
			       false);
	if (delivery_run(store, &msg) == 1) {
		bool local = false;

		for (size_t i = 0; i < n_dests; i++)
			local |= dests[i].kind == DELIVERY_LOCAL;
		result = local ? DSN_DELIVERED : DSN_QUEUED;
		if (queue_id_r != NULL)
			*queue_id_r = msg.queue_id;
	} else if (rcpt.result == STORE_E_OVER_QUOTA) {
		result = DSN_REFUSED;
		error = "the sender's mailbox is over quota";
	} else {
		result = DSN_TEMP;
		error = rcpt.error != NULL ? rcpt.error : "store failure";
	}
	if (result == DSN_TEMP || result == DSN_REFUSED) {
		/* error points into the store's thread-local message or is
		 * static; it outlives this call as the header says */
		if (error_r != NULL)
			*error_r = error;
	}
	log_outcome(rep, dsn_id, main, n, result, msg.queue_id, error);
	buf_deinit(&received);
	buf_deinit(&report);
	delivery_dests_free(&dests, n_dests);
	return result;
}
