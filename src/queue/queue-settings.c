/* SPDX-License-Identifier: MIT */
/*
 * The queue runner's settings: [queue] (schedule, limits, relayhost, TLS
 * policy), [transport] (a route per domain) and [tls_policy] (a TLS policy
 * per domain). Limits are also listed in docs/limits.md ("Outbound").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lib/mem.h"
#include "queue/queue.h"

#define OFF(field) offsetof(struct config, field)

static int
relayhost_check(const char *value, char **error_r)
{
	struct queue_route r;
	const char *err;

	if (queue_route_parse(value, true, &r, &err) < 0) {
		*error_r = xasprintf("%s", err);
		return -1;
	}
	return 0;
}

static int
auth_file_check(const char *value, char **error_r)
{
	struct stat st;

	/* checked again by the runner, which is the one reading it; here
	 * only what `config check` can say as any user */
	if (value[0] != '/') {
		*error_r = xstrdup("must be an absolute path");
		return -1;
	}
	if (stat(value, &st) == 0 && (st.st_mode & 0007) != 0) {
		*error_r = xasprintf("%s is readable by every user; make it "
				     "mode 0600 or 0640 (root or herald)",
				     value);
		return -1;
	}
	return 0;
}

static const struct setting queue_settings[] = {
	{ .key = "enabled", .type = SETTING_BOOL,
	  .offset = OFF(queue.enabled), .def = "yes",
	  .doc = "Run the queue runner, which delivers queued mail to other "
		 "servers. With no, mail for other domains waits in the "
		 "queue." },
	{ .key = "retry_min", .type = SETTING_DURATION,
	  .offset = OFF(queue.retry_min_s), .def = "5m", .min = 1,
	  .max = 86400, .unit = DURATION_S,
	  .doc = "Wait after the first temporary failure of a recipient; "
		 "each further failure doubles it, up to retry_max." },
	{ .key = "retry_max", .type = SETTING_DURATION,
	  .offset = OFF(queue.retry_max_s), .def = "4h", .min = 1,
	  .max = 604800, .unit = DURATION_S,
	  .doc = "Longest wait between two attempts for a recipient." },
	{ .key = "max_lifetime", .type = SETTING_DURATION,
	  .offset = OFF(queue.max_lifetime_s), .def = "5d", .min = 1,
	  .max = 8640000, .unit = DURATION_S,
	  .doc = "A recipient still not delivered this long after the "
		 "message was queued bounces (5.4.7, with the last error)." },
	{ .key = "delay_warning", .type = SETTING_DURATION,
	  .offset = OFF(queue.delay_warning_s), .def = "4h", .min = 0,
	  .max = 8640000, .unit = DURATION_S,
	  .doc = "Send the sender one delay DSN when a message is still "
		 "queued after this long (RFC 3464 action delayed); 0: "
		 "never." },
	{ .key = "concurrency", .type = SETTING_UINT,
	  .offset = OFF(queue.concurrency), .def = "100", .min = 1,
	  .max = 10000,
	  .doc = "Outbound connections open at once, all destinations "
		 "together." },
	{ .key = "destination_concurrency", .type = SETTING_UINT,
	  .offset = OFF(queue.destination_concurrency), .def = "10",
	  .min = 1, .max = 1000,
	  .doc = "Connections open at once to one destination (a domain's "
		 "MX, the relayhost or a transport)." },
	{ .key = "destination_rate", .type = SETTING_UINT,
	  .offset = OFF(queue.destination_rate), .def = "0", .min = 0,
	  .max = 100000,
	  .doc = "Transactions started per second towards one "
		 "destination; 0: no limit." },
	{ .key = "connection_cache_time", .type = SETTING_DURATION,
	  .offset = OFF(queue.connection_cache_ms), .def = "2s", .min = 0,
	  .max = 300000, .unit = DURATION_MS,
	  .doc = "How long an idle connection is kept for the next message "
		 "to the same destination, or to another with the same MX "
		 "host and address; 0: closed after each message." },
	{ .key = "address_family", .type = SETTING_ENUM,
	  .offset = OFF(queue.address_family), .def = "any",
	  .enum_values = "any|ipv4|ipv6|prefer-ipv4",
	  .doc = "Addresses an MX is tried on: any (IPv6 first, then "
		 "IPv4), ipv4 or ipv6 only, or prefer-ipv4 (IPv4 first). "
		 "A 5xx reply over IPv6 that names IPv6 or PTR makes the "
		 "runner try the same MX over IPv4 at once." },
	{ .key = "mx_addresses_max", .type = SETTING_UINT,
	  .offset = OFF(queue.mx_addresses_max), .def = "20", .min = 1,
	  .max = 200,
	  .doc = "Addresses of a destination (all its MX hosts together) "
		 "tried in one attempt." },
	{ .key = "tls", .type = SETTING_ENUM,
	  .offset = OFF(queue.tls), .def = "may",
	  .enum_values = "none|may|encrypt",
	  .doc = "TLS towards MX hosts: none (never STARTTLS), may "
		 "(STARTTLS when offered, the certificate not checked: RFC "
		 "7435) or encrypt (STARTTLS required and the certificate "
		 "verified, else the recipient is deferred). [tls_policy] "
		 "overrides it per domain." },
	{ .key = "relayhost", .type = SETTING_STRING,
	  .offset = OFF(queue.relayhost), .check = relayhost_check,
	  .doc = "Send all outbound mail through this server (a smarthost): "
		 "\"[host]:port\" (brackets: no MX lookup) or \"host\" (its "
		 "MX). [transport] entries still win." },
	{ .key = "relayhost_tls", .type = SETTING_ENUM,
	  .offset = OFF(queue.relayhost_tls), .def = "encrypt",
	  .enum_values = "none|may|encrypt|implicit",
	  .doc = "TLS towards the relayhost: encrypt (STARTTLS, verified), "
		 "implicit (TLS from the first byte, port 465), may or none." },
	{ .key = "relayhost_auth", .type = SETTING_STRING,
	  .offset = OFF(queue.relayhost_auth), .check = auth_file_check,
	  .secret = false,
	  .doc = "File with the relayhost's AUTH user name on its first "
		 "line and the password on its second. It must not be "
		 "readable by other users (mode 0600 owned by herald, or "
		 "0640 root:herald)." },
	{ .key = "batch", .type = SETTING_UINT,
	  .offset = OFF(queue.batch), .def = "1000", .min = 1,
	  .max = 100000,
	  .doc = "Messages the runner has in hand at once (read from the "
		 "store when due); the rest waits in the store, so a large "
		 "queue does not take memory." },
	{ .key = "batch_memory", .type = SETTING_SIZE,
	  .offset = OFF(queue.batch_memory), .def = "32M", .min = 0,
	  .max = 4096ull * 1024 * 1024,
	  .doc = "Bodies of the messages in hand that the runner keeps in "
		 "memory (those stored in the database, up to 128 KiB each) "
		 "and sends from there; past it, and for bodies kept as "
		 "files, it reads them from the store while sending. 0: "
		 "never in memory." },
};

const struct setting_section queue_settings_section = {
	.name = "queue",
	.settings = queue_settings,
	.n_settings = sizeof(queue_settings) / sizeof(queue_settings[0]),
	.doc = "The queue runner: delivery of mail for other domains, "
	       "retries and bounces (docs/outbound.md).",
};

static int
transport_check(const char *key, const char *value, char **error_r)
{
	struct queue_route r;
	const char *err;

	(void)key;
	if (queue_route_parse(value, false, &r, &err) < 0) {
		*error_r = xasprintf("%s", err);
		return -1;
	}
	return 0;
}

const struct setting_section queue_transport_section = {
	.name = "transport",
	.doc = "Routes per recipient domain, before the relayhost and MX: "
	       "`lmtp:unix:/path`, `lmtp:[host]:port`, `smtp:[host]:port` "
	       "(brackets: no MX lookup) or `smtp:host[:port]` (the host's "
	       "MX). Keys are domains (exact match).",
	.is_map = true,
	.map_offset = OFF(queue.transport),
	.map_check = transport_check,
	.map_example = "example.org = smtp:[192.0.2.25]:25\n"
		       "lists.example.com = lmtp:unix:/run/mailman/lmtp",
};

static int
tls_policy_check(const char *key, const char *value, char **error_r)
{
	(void)key;
	if (strcasecmp(value, "none") != 0 && strcasecmp(value, "may") != 0 &&
	    strcasecmp(value, "encrypt") != 0) {
		*error_r = xasprintf("'%s' is not one of none, may, encrypt",
				     value);
		return -1;
	}
	return 0;
}

const struct setting_section queue_tls_policy_section = {
	.name = "tls_policy",
	.doc = "TLS policy per recipient domain (none, may, encrypt), "
	       "instead of [queue] tls.",
	.is_map = true,
	.map_offset = OFF(queue.tls_policy),
	.map_check = tls_policy_check,
	.map_example = "bank.example = encrypt",
};
