/* SPDX-License-Identifier: MIT */
/*
 * Delivery status notifications (RFC 3464, RFC 6522; RFC 6533 for UTF-8
 * addresses): the report about some recipients of a queued message, built
 * as a multipart/report and handed on from the null sender to the
 * message's envelope sender: stored in the sender's INBOX when the sender
 * is ours, queued for relay otherwise. The queue runner calls dsn_send()
 * at a 5xx, at give-up, for a delay warning and for NOTIFY=SUCCESS.
 */
#ifndef HERALD_QUEUE_DSN_H
#define HERALD_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "store/store.h"

/* The [bounce] section of the configuration (dsn-settings.c). */
extern const struct setting_section dsn_settings_section;

/* RFC 3464 2.3.3 action-value. */
enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,	/* handed to a server that sends no DSNs */
	DSN_ACTION_EXPANDED,	/* delivered to an alias's several targets */
};

/* "failed", "delayed", ... */
const char *dsn_action_name(enum dsn_action action);

/* One recipient reported on. Every string is borrowed for the call. */
struct dsn_rcpt {
	/* the recipient as queued: Final-Recipient */
	const char *address;
	/* ORCPT as stored with the queue entry: "rfc822;addr" (xtext
	 * decoded) or "utf-8;addr"; NULL when not given */
	const char *orcpt;
	/* NOTIFY as stored ("SUCCESS,FAILURE", "NEVER") or NULL: decides
	 * whether this recipient is reported (dsn_notify_wants()) */
	const char *notify;
	enum dsn_action action;
	/* RFC 3463 status "5.1.1"; NULL: 5.0.0 / 4.0.0 / 2.0.0 by action */
	const char *status;
	/* the remote server's host name ("mx.example.org", written as
	 * "dns; mx.example.org"), or NULL when none was reached */
	const char *remote_mta;
	/* the remote's reply as received, every line with its code,
	 * separated by CRLF or LF ("550-5.1.1 No such user\r\n550 5.1.1
	 * here"), when diagnostic_smtp; otherwise a local reason ("Host or
	 * domain name not found"). NULL: no Diagnostic-Code. Joined into one
	 * line and folded in the report, quoted in the text part. */
	const char *diagnostic;
	bool diagnostic_smtp;	/* "smtp;" rather than "X-Herald;" */
	time_t last_attempt;	/* 0: no attempt was made */
	time_t retry_until;	/* DELAYED: when the queue gives up */
};

/* The queued message and the recipients to report. */
struct dsn_report {
	const char *queue_id;	/* the entry's log id (logs, the text) */
	const char *blob_id;	/* the message as queued */
	uint64_t size;
	const char *env_from;	/* "" for the null sender: no report */
	const char *dsn_ret;	/* "FULL", "HDRS" or NULL */
	const char *dsn_envid;	/* decoded ENVID, or NULL */
	time_t arrival;		/* when the message was accepted */
	/* Reporting-MTA; NULL: the config's hostname */
	const char *reporting_mta;
	/* the message was taken with SMTPUTF8: a report with a UTF-8
	 * address is sent as message/global-delivery-status */
	bool smtputf8;
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
	/* The queue entry's owed-DSN marks this report discharges (NULL:
	 * none), cleared by dsn_send() in the same store commit that stores
	 * or queues the report (DSN_DELIVERED, DSN_QUEUED): a crash between
	 * the two would otherwise send it again. For any other result they
	 * are left to the caller. */
	struct store_queue_notified *notified;
};

/* Whether a recipient with this NOTIFY value (as stored, NULL when not
 * given) gets a report of this action (RFC 3461 4.1): NEVER never;
 * FAILURE for failed; DELAY for delayed; SUCCESS for delivered, relayed
 * and expanded. Without NOTIFY: failed and delayed (RFC 3461 4.1 lets
 * the MTA choose; Postfix and Exim report both). */
bool dsn_notify_wants(const char *notify, enum dsn_action action);

/* What the builder needs besides the report (tests set every field). */
struct dsn_build_settings {
	const char *hostname;	/* MAILER-DAEMON@hostname, Reporting-MTA */
	time_t now;		/* Date */
	/* Message-ID without the brackets; NULL: a new one
	 * "<unique>@hostname" */
	const char *message_id;
	/* RET=FULL (or no RET, for failures) returns the whole message
	 * when it is at most this many octets; otherwise its header */
	uint64_t return_size_max;
	/* the returned header is cut (at a field boundary) beyond this */
	uint64_t headers_max;
};

/* Builds the DSN for the recipients of rep that dsn_notify_wants() (all
 * of them must be of the actions it is called for) into out: the whole
 * message with CRLF lines of at most 998 octets. orig is the queued
 * message or its first orig_len octets (at least its header, or
 * headers_max octets of it); the whole message is returned only when
 * orig_len == rep->size. Subject and text follow the most serious action
 * (failed, then delayed, then the rest). Returns the number of
 * recipients reported (0: nothing was written). Pure. */
size_t dsn_build(const struct dsn_report *rep,
		 const struct dsn_build_settings *set, const uint8_t *orig,
		 size_t orig_len, struct buf *out);

enum dsn_result {
	DSN_DELIVERED,		/* stored in the sender's mailbox, durable */
	DSN_QUEUED,		/* queued from <> to the remote sender */
	/* the message came from the null sender: no report is made
	 * (never a bounce for a bounce); the caller logs it */
	DSN_NULL_SENDER,
	DSN_NOT_WANTED,		/* no recipient asked for one (NOTIFY) */
	/* the sender's address is in one of our domains and nobody has
	 * it: the report is dropped; the caller logs it */
	DSN_SENDER_UNKNOWN,
	/* the sender's mailbox refused it (over quota): dropped, logged;
	 * a retry would fill the queue with reports nobody can take */
	DSN_REFUSED,
	/* reading the message or storing the report failed (error_r):
	 * nothing was sent, call again later */
	DSN_TEMP,
};

/* "delivered", "queued", "null-sender", ... for log lines. */
const char *dsn_result_name(enum dsn_result result);

/* Builds the report (dsn_build(), settings from cfg: hostname and
 * [bounce]) from the message read from the store, and delivers it from
 * <> to rep->env_from with delivery_resolve() and delivery_run() (local
 * accounts, aliases, or the outbound queue), in one durable step. A
 * message whose blob is gone is reported without its header (a lost
 * bounce is worse). Logs one line for every outcome (docs/logging.md
 * "dsn"), so the caller need not. *queue_id_r (may be NULL) gets the new
 * queue row when the report was queued (DSN_QUEUED; or DSN_DELIVERED
 * when an alias of the sender also points elsewhere), else 0. Blocking:
 * call it on the thread pool. error_r (may be NULL) explains DSN_TEMP
 * and DSN_REFUSED; valid until the next store call on this thread. */
enum dsn_result dsn_send(struct store *store, const struct config *cfg,
			 const struct dsn_report *rep, int64_t *queue_id_r,
			 const char **error_r);

#endif
