/* SPDX-License-Identifier: MIT */
/*
 * The outbound queue runner (docs/outbound.md): a worker process of its
 * own that takes due messages from the store's queue, routes each
 * recipient (transport, relayhost or MX), delivers one transaction per
 * destination with the SMTP/LMTP client, records every recipient's
 * outcome durably and schedules retries, bounces and DSNs. The pure parts
 * (routes, schedule, grouping) are here too for the CLI and unit tests.
 */
#ifndef HERALD_QUEUE_QUEUE_H
#define HERALD_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/config.h"
#include "conf/worker.h"
#include "store/store.h"

/* [queue], [transport] and [tls_policy] (queue-settings.c). */
extern const struct setting_section queue_settings_section;
extern const struct setting_section queue_transport_section;
extern const struct setting_section queue_tls_policy_section;

/* ---- routes ---- */

enum queue_route_kind {
	QUEUE_ROUTE_MX,		/* MX lookup of host (RFC 5321 5.1) */
	QUEUE_ROUTE_DIRECT,	/* A/AAAA of host (or an IP literal), no MX */
	QUEUE_ROUTE_UNIX,	/* LMTP on a unix socket */
};

#define QUEUE_HOST_MAX 256
#define QUEUE_PATH_MAX 108

/* Where the recipients of one domain go. */
struct queue_route {
	enum queue_route_kind kind;
	bool lmtp;
	char host[QUEUE_HOST_MAX];	/* lower case; IPv6 literal unbracketed */
	unsigned port;
	char path[QUEUE_PATH_MAX];	/* QUEUE_ROUTE_UNIX */
	enum config_queue_tls tls;
	/* [tls_policy] gave the domain another policy than its route's
	 * (relayhost_tls, [queue] tls): part of the key, so that domains
	 * sharing a transport or the relayhost are never sent under one
	 * another's policy */
	bool tls_override;
	bool relayhost;			/* AUTH with [queue] relayhost_auth */
};

/* Parses a transport or relayhost value: "smtp:[host]:port",
 * "smtp:host[:port]", "lmtp:[host]:port", "lmtp:unix:/path", and for
 * the relayhost also without "smtp:" ("[host]:port", "host"). Brackets
 * mean: no MX lookup. The port defaults to 25 (SMTP) or 24 (LMTP); tls
 * is left as given. Returns 0, or -1 with a static *error_r. */
int queue_route_parse(const char *text, bool relayhost,
		      struct queue_route *route_r, const char **error_r);
/* The route of recipient domain (lower case) under cfg: a [transport]
 * entry for the domain, else the relayhost, else its MX. The TLS policy
 * comes from [tls_policy] for the domain, else relayhost_tls for the
 * relayhost, else [queue] tls (none for LMTP). */
void queue_route_for(const struct config *cfg, const char *domain,
		     struct queue_route *route_r);
/* A key that is the same for every route that goes to the same place
 * under the same TLS policy ("smtp:mx:example.org:25",
 * "smtp:[192.0.2.1]:25", "lmtp:unix:/run/x"; "smtp:[192.0.2.1]:25/tls=
 * encrypt" for a [tls_policy] other than the route's own): the
 * recipients of a message with one key share one transaction. */
void queue_route_key(const struct queue_route *route, char *out,
		     size_t outsz);

/* The recipients of one message that go to one destination together. */
struct queue_group {
	struct queue_route route;
	char key[QUEUE_HOST_MAX + QUEUE_PATH_MAX + 32];	/* queue_route_key */
	size_t *idx;		/* indexes into the entry's rcpts */
	size_t n;
};
/* Groups the recipients of e that are open (pending or deferred) and
 * due at now by destination, in the order of their first recipient:
 * one transaction each. Returns the number of groups (*groups_r NULL
 * when 0); free with queue_groups_free(). */
size_t queue_group_due(const struct config *cfg,
		       const struct store_queue_entry *e, int64_t now,
		       struct queue_group **groups_r);
void queue_groups_free(struct queue_group **groups, size_t count);
/* Whether a recipient is still to be delivered (pending or deferred). */
bool queue_rcpt_is_open(const struct store_queue_entry_rcpt *r);

/* ---- schedule ---- */

/* The wait after a recipient's attempts-th failed attempt (1 for the
 * first): retry_min, doubled each time, at most retry_max. */
uint64_t queue_retry_interval(const struct config_queue *q,
			      uint32_t attempts);
/* When a recipient deferred at now after its attempts-th attempt is
 * tried again, or 0 when the message (queued at created) has outlived
 * max_lifetime by then: it bounces now. */
int64_t queue_next_attempt(const struct config_queue *q, int64_t created,
			   uint32_t attempts, int64_t now);
/* Whether the delay warning for a message queued at created is due. */
bool queue_delay_warning_due(const struct config_queue *q, int64_t created,
			     int64_t now);

/* The domain of address (after the last '@'), or "" for none. */
const char *queue_address_domain(const char *address);

/* ---- DMARC aggregate reports (queue-dmarc.c) ---- */

struct dmarc_psl;
struct dmarc_report_run_stats;
/* Runs dmarc_report_run() with the reports delivered like DSNs (a local
 * account, or the outbound queue, NOTIFY=NEVER), a resolver of its own
 * for the external-destination lookups and psl (may be NULL) for
 * organisational domains. dry_run: prints each XML to out and changes
 * nothing. Blocking (pool or a command). */
int queue_dmarc_report(struct store *store, const struct config *cfg,
		       const struct dmarc_psl *psl, bool dry_run, FILE *out,
		       struct dmarc_report_run_stats *stats_r,
		       const char **error_r);

/* ---- the runner process ---- */

/* Starts the runner on w's loop (w->store is open): it waits for the
 * runner lock (one runner per data_dir), then delivers until
 * queue_runner_stop(). Returns 0, or -1 with an allocated *error_r. */
int queue_runner_start(struct worker *w, char **error_r);
/* Stops at once: connections are closed, attempts in flight are left
 * as they are in the store (tried again by the next runner). The loop
 * is stopped once no store job is running. */
void queue_runner_stop(struct worker *w);

#endif
