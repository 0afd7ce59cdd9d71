/* SPDX-License-Identifier: MIT */
/*
 * Local delivery (the MDA part of Herald): resolving a recipient address
 * to accounts (users, aliases one-to-many, catch-all, sub-addressing) or to
 * the outbound queue, formatting the trace headers (Received, Return-Path,
 * Delivered-To) and storing a message durably for every recipient.
 *
 * delivery_resolve() and delivery_run() block on the store: call them from
 * the thread pool. The formatting functions are pure.
 */
#ifndef HERALD_DELIVERY_DELIVERY_H
#define HERALD_DELIVERY_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/spool.h"
#include "store/store.h"

/* Alias chains longer than this are a loop or a mistake. */
#define DELIVERY_MAX_ALIAS_DEPTH 8
/* Most destinations one recipient may expand to. */
#define DELIVERY_MAX_DESTS 1000

enum delivery_kind {
	DELIVERY_LOCAL,		/* an account's INBOX */
	DELIVERY_REMOTE,	/* the outbound queue */
};

/* Where one recipient ends up. */
struct delivery_dest {
	enum delivery_kind kind;
	int64_t account_id;	/* LOCAL */
	/* LOCAL: the account's canonical address; REMOTE: the address. */
	char *address;
	/* LOCAL: the address for Delivered-To: the account address with the
	 * sub-address tag ("bob+lists@example.org"). */
	char *delivered_to;
	char *tag;		/* sub-address tag kept for Sieve, or NULL */
	/* REMOTE reached through an alias: the (last) local alias whose
	 * target it is, e.g. "team@example.org"; NULL for a recipient that
	 * is remote itself. Mail forwarded this way is ARC-sealed. */
	char *via_alias;
};

enum delivery_lookup {
	DELIVERY_FOUND,		/* a local user, alias or catch-all */
	DELIVERY_NOT_LOCAL,	/* not one of our domains: one REMOTE dest */
	DELIVERY_UNKNOWN,	/* our domain, nobody there (550 5.1.1) */
	DELIVERY_TEMP,		/* the store failed (451 4.3.0) */
};

/* Resolves address ("local@domain"; the local part may contain the
 * sub-address separator '+'). Matching is case-insensitive for our users
 * (RFC 5321 2.4 leaves it to us); the canonical address comes from the
 * account. Order: the account with the full local part, the account of the
 * part before '+' (the tag is kept), the aliases of the address (of the
 * base address when it has a tag), then the domain's catch-all. Alias
 * targets are resolved again (up to DELIVERY_MAX_ALIAS_DEPTH); targets in
 * other domains become REMOTE dests. Duplicates are collapsed. On FOUND
 * and NOT_LOCAL, *dests_r (free with delivery_dests_free) holds at least
 * one dest; otherwise it is NULL. error_r (may be NULL) explains TEMP. */
enum delivery_lookup delivery_resolve(struct store *store, const char *address,
				      struct delivery_dest **dests_r,
				      size_t *count_r, const char **error_r);
void delivery_dests_free(struct delivery_dest **dests, size_t count);

/* The answer delivery_resolve() gave for exactly this address, if it is
 * cached and the directory has not changed since (delivery-cache.c):
 * true with *result_r and a copy of the dests (free with
 * delivery_dests_free). Never blocks: safe on an event-loop thread. */
bool delivery_resolve_cached(struct store *store, const char *address,
			     enum delivery_lookup *result_r,
			     struct delivery_dest **dests_r, size_t *count_r);
/* Remembers a resolution read under directory generation `generation`
 * (TEMP is never kept). delivery_resolve() calls it. */
void delivery_cache_put(struct store *store, uint64_t generation,
			const char *address, enum delivery_lookup result,
			const struct delivery_dest *dests, size_t n);
/* Empties the cache (tests; a store being closed). */
void delivery_cache_flush(void);

/* Whether two dests go to the same place (same account, or the same
 * remote address compared case-insensitively). */
bool delivery_dest_same(const struct delivery_dest *a,
			const struct delivery_dest *b);

/* ---- trace headers ---- */

struct delivery_received {
	const char *helo;	/* the client's EHLO/HELO/LHLO argument or NULL */
	const char *peer_ip;	/* "192.0.2.1", "unix" */
	const char *by_host;	/* our hostname */
	const char *protocol;	/* from delivery_protocol_name() */
	const char *id;		/* the message's log id */
	const char *tls_version;	/* NULL without TLS */
	const char *tls_cipher;
	int tls_bits;
	const char *auth_user;	/* NULL unless authenticated */
	const char *for_rcpt;	/* set only for a single recipient */
	time_t when;
	/* local injection (herald sendmail): "Received: by HOST (Herald
	 * sendmail, from userid UID) id ID; DATE", as Postfix writes it;
	 * helo, peer_ip, protocol, tls_* and auth_user are not used */
	bool local;
	unsigned local_uid;
};

/* RFC 3848 / RFC 6531 "with" keywords: SMTP, ESMTP, ESMTPS, ESMTPA,
 * ESMTPSA, LMTP..., UTF8SMTP... helo is true after HELO (plain SMTP). */
const char *delivery_protocol_name(bool lmtp, bool helo, bool tls, bool auth,
				   bool utf8);

/* Appends a Received header (RFC 5321 4.4) ending in CRLF, folded with
 * CRLF TAB, date in UTC. Peer-supplied text (helo) is reduced to
 * characters that cannot break the header. */
void delivery_received_format(const struct delivery_received *r,
			      struct buf *out);
/* Appends "Return-Path: <from>\r\n" ("<>" for the null sender). */
void delivery_return_path_format(const char *env_from, struct buf *out);
/* Appends "Delivered-To: addr\r\n". */
void delivery_delivered_to_format(const char *address, struct buf *out);
/* RFC 5322 date-time of t in UTC ("Mon, 23 Nov 2026 09:20:15 +0000"). */
void delivery_date_format(time_t t, struct buf *out);

/* ---- storing ---- */

/* One RCPT of a message with what it resolved to. */
struct delivery_rcpt {
	const char *address;	/* as given in RCPT TO */
	const char *dsn_notify;	/* "SUCCESS,FAILURE" or NULL (queue only) */
	const char *dsn_orcpt;	/* "rfc822;addr" or NULL */
	const struct delivery_dest *dests;
	size_t n_dests;
	/* out: STORE_OK, STORE_E_OVER_QUOTA or STORE_E_TEMP (the worst of
	 * its dests); error text for logs */
	enum store_result result;
	const char *error;
};

/* How the recipients of one message succeed or fail together. */
enum delivery_mode {
	/* One atomic store operation for every account and the queue entry:
	 * every recipient gets the same result, so a message is never
	 * half-delivered and a retry after a failure makes no duplicate.
	 * For SMTP DATA/BDAT, which has one reply for all recipients. */
	DELIVERY_ALL_OR_NOTHING = 0,
	/* As ALL_OR_NOTHING, except that an account over quota is left out
	 * (its recipients get STORE_E_OVER_QUOTA, the others are stored in
	 * one operation). For sendmail, which reports every recipient and
	 * exits EX_CANTCREAT, a status a script does not blindly retry. */
	DELIVERY_SKIP_OVER_QUOTA,
	/* One atomic operation per recipient (its accounts and remote
	 * targets), each with its own result: LMTP (RFC 2033 4.2), where
	 * every recipient gets its own reply. A destination already stored
	 * for an earlier recipient is not stored again. */
	DELIVERY_PER_RCPT,
};

struct delivery_msg {
	const char *id;		/* log id of the message */
	enum delivery_mode mode;
	const char *env_from;	/* "" for the null sender */
	const char *dsn_ret;	/* "FULL", "HDRS" or NULL */
	const char *dsn_envid;
	/* what the next hop must offer, kept with the queue entry
	 * (store_queue_msg); not used for local accounts */
	bool need_8bitmime;
	bool need_smtputf8;
	const char *received;	/* the Received header, ending in CRLF */
	/* fields put above received in the queued copy only (our ARC set
	 * for mail forwarded by an alias), or NULL */
	const char *remote_prefix;
	/* the message as received (CRLF lines): in memory, or when data is
	 * NULL in a spool, read from it in blocks (never whole in memory) */
	const uint8_t *data;
	const struct spool *spool;
	size_t len;
	int64_t internal_date;	/* unix seconds */
	/* File local copies into each account's Junk-role mailbox (DMARC
	 * p=quarantine), INBOX for an account without one; remote copies
	 * are queued as usual. Only delivery_run() takes such a message. */
	bool junk;
	struct delivery_rcpt *rcpts;
	size_t n_rcpts;
	/* A DSN: the queue entry's marks it carries, cleared in the same
	 * store operation (store_deliver_report); DELIVERY_ALL_OR_NOTHING
	 * only. NULL for everything else. */
	struct store_queue_notified *notified;
	/* out */
	/* the queue row for REMOTE dests (LMTP: the last one), or 0 */
	int64_t queue_id;
};

/* Sets msg->need_8bitmime and need_smtputf8 (msg->rcpts and their dests
 * set) from what the client declared and what was seen in the message:
 * 8BITMIME when body_8bit (BODY=8BITMIME or BINARYMIME was given) or an
 * octet above 127 was seen anywhere (seen_8bit); SMTPUTF8 when an
 * envelope address is UTF-8 (the sender, a recipient, or where an alias
 * sends it), or when the client gave SMTPUTF8 and the header has octets
 * above 127 (header_8bit). */
void delivery_msg_set_needs(struct delivery_msg *msg, bool body_8bit,
			    bool smtputf8, bool seen_8bit, bool header_8bit);

/* Stores the message for every recipient: per account one blob with
 * Return-Path, Delivered-To and Received prepended, into its INBOX; the
 * REMOTE dests as one outbound queue entry (Received prepended, DSN
 * fields kept). Accounts and queue entry are written with
 * store_deliver_queue(), in one atomic operation or one per recipient as
 * msg->mode says. A dest shared by several recipients is stored once.
 * Returns when everything that succeeded is durable; every rcpt's result
 * is set. Logs one line per dest (docs/logging.md). Blocking. Returns the
 * number of recipients whose result is STORE_OK. */
size_t delivery_run(struct store *store, struct delivery_msg *msg);

/* delivery_run() without blocking, for the common case: an
 * ALL_OR_NOTHING message in memory whose every copy is small enough to be
 * kept in the database (STORE_BLOB_INLINE_MAX), so putting the blobs does not
 * block and the one store operation goes straight to the group commit
 * from the calling (event-loop) thread, with no pool thread waiting on it.
 * Returns false, having done nothing, when msg does not qualify (use
 * delivery_run() on the thread pool). Otherwise true and *handle_r set:
 * stored(ctx) is called exactly once, from the store's writer thread (or
 * from this call if nothing could be queued), when the message is durable
 * or has failed; then delivery_finish() on the caller's thread sets the
 * results, logs, frees the handle and returns what delivery_run() would.
 * msg and everything it points to must stay valid until then. */
struct delivery_async;
typedef void delivery_stored_cb_t(void *ctx);
bool delivery_start(struct store *store, struct delivery_msg *msg,
		    delivery_stored_cb_t *stored, void *ctx,
		    struct delivery_async **handle_r);
size_t delivery_finish(struct delivery_async **handle);

#endif
