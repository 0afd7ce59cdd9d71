/* SPDX-License-Identifier: MIT */
/*
 * The DNS records a mail domain served by Herald should publish (MX, SPF,
 * DKIM, DMARC, MTA-STS, TLS-RPT, the RFC 6186/8314 SRV records) and the
 * judging of what is published against them. No I/O: `herald dns DOMAIN`
 * prints a plan, `herald dns check DOMAIN` looks each record up and hands
 * the answers to publish_judge() (cli/cli-dns-publish.c). docs/dns.md.
 */
#ifndef HERALD_MAILAUTH_PUBLISH_H
#define HERALD_MAILAUTH_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "mailauth/dkim.h"

/* The mail service records, in the order printed (RFC 6186 3, RFC 8314
 * 5.1): index into publish_input.srv_ports. */
enum publish_srv {
	PUBLISH_SRV_SUBMISSIONS,	/* _submissions._tcp, 465 */
	PUBLISH_SRV_SUBMISSION,		/* _submission._tcp, 587 */
	PUBLISH_SRV_IMAPS,		/* _imaps._tcp, 993 */
	PUBLISH_SRV_IMAP,		/* _imap._tcp, 143 */
	PUBLISH_SRV_POP3S,		/* _pop3s._tcp, 995 */
	PUBLISH_SRV_POP3,		/* _pop3._tcp, 110 */
	PUBLISH_SRV_COUNT
};

/* What the plan is made from (the caller reads the config and the DKIM
 * key store). Strings are borrowed for the call. */
struct publish_input {
	const char *domain;		/* lower case, no trailing dot */
	const char *hostname;		/* the MX and SRV target */
	/* Public addresses of hostname the config names (listeners bound
	 * to a global address, the outbound source addresses): A/AAAA
	 * hints. None: the output says to set them by hand. */
	const char *const *host_addrs;
	size_t n_host_addrs;
	/* Outbound source addresses ([smtp_client] bind_address*), global
	 * only: ip4:/ip6: terms after `mx` in the SPF record. */
	const char *const *spf_addrs;
	size_t n_spf_addrs;
	const char *relayhost;		/* NULL, or mail leaves through it */
	/* The port of each service's first TCP listener; 0: not offered
	 * (an RFC 6186 "not available" record with the target "."). */
	uint16_t srv_ports[PUBLISH_SRV_COUNT];
	/* The domain's DKIM keys (dkim_keystore_list() at now). */
	const struct dkim_key_info *keys;
	size_t n_keys;
	const char *selector;		/* only this selector (or its -rsa
					 * and -ed25519 pair); NULL: all */
	/* A retired key stays published this long after a newer one took
	 * over (docs/mailauth.md "Rotation": max_lifetime + 7 days). */
	uint64_t dkim_keep_s;
	time_t now;
	const char *dmarc_policy;	/* none|quarantine|reject; NULL:
					 * quarantine */
	const char *report_address;	/* DMARC and TLS-RPT rua; NULL:
					 * postmaster@domain */
	bool mta_sts_enforce;		/* policy mode; false: testing */
	uint64_t mta_sts_max_age;	/* seconds; 0: one week */
};

enum publish_kind {
	PUBLISH_MX,
	PUBLISH_HOST,		/* the A/AAAA of hostname (hint only) */
	PUBLISH_SPF,
	PUBLISH_DKIM,
	PUBLISH_DMARC,
	PUBLISH_MTASTS,
	PUBLISH_TLSRPT,
	PUBLISH_SRV,
	PUBLISH_NOTE,		/* a comment only (autoconfig, broken key) */
};

struct publish_record {
	enum publish_kind kind;
	const char *purpose;	/* "mx", "spf", "dkim", ... (static) */
	char *name;		/* owner, lower case, no trailing dot */
	enum dns_type type;	/* MX, TXT, SRV; HOST: A (and AAAA) */
	/* The rdata as a zone file writes it, except TXT: the text itself,
	 * unquoted and unsplit. "10 mail.example.com.", "0 1 993
	 * mail.example.com.", "v=spf1 mx -all". NULL for HOST and NOTE. */
	char *value;
	/* Comment lines printed before it (without "; ", joined by '\n');
	 * NULL: none (the record continues the group above). */
	char *comment;
	bool printed;		/* a record line (not a comment only) */
	bool checked;		/* herald dns check looks it up */
	bool required;		/* check exits 1 unless it is ok or warn */
	/* SRV: the port expected, 0 when the service is not offered. */
	uint16_t port;
	/* DKIM */
	const struct dkim_key_info *key;
	time_t keep_until;	/* retired keys: published until then */
};

struct publish_plan {
	char *domain, *hostname;
	char *report_address;
	char *dmarc_policy;
	bool mta_sts_enforce;
	uint64_t mta_sts_max_age;
	char *mta_sts_id;	/* derived from the policy's text */
	struct publish_record *recs;
	size_t n;
};

/* Makes the plan for in. Never fails (the inputs were checked). */
struct publish_plan *publish_plan_new(const struct publish_input *in);
void publish_plan_free(struct publish_plan **plan);

/* The plan as a zone file for BIND and its kin: absolute names with
 * the trailing dot, "NAME [TTL] IN TYPE RDATA" (ttl 0: no TTL column),
 * TXT text quoted and split into strings of at most 255 octets (in
 * parentheses when there are several), a comment before each group. */
void publish_print_zone(const struct publish_plan *plan, unsigned ttl,
			struct buf *out);
/* The printed records as JSON: [{"name","type","value","purpose"},...],
 * name absolute with its dot, value as in a zone file (TXT: the text). */
void publish_print_json(const struct publish_plan *plan, struct buf *out);

/* A TXT text in zone-file form: quoted strings of at most 255 octets
 * (split between octets), '"' and '\' escaped, other octets outside
 * printable ASCII as \DDD; several strings in "( ... )". */
void publish_txt_quote(const char *text, struct buf *out);

enum publish_status {
	PUBLISH_OK,
	PUBLISH_WARN,		/* published and usable, but see detail */
	PUBLISH_MISSING,	/* NXDOMAIN / NODATA / no record of its kind */
	PUBLISH_WRONG,		/* published, but not what it must be */
	PUBLISH_DNS_ERROR,	/* SERVFAIL, timeout, bogus: not known */
};

/* "ok", "warn", "missing", "wrong", "error". */
const char *publish_status_name(enum publish_status status);

struct publish_verdict {
	enum publish_status status;
	char *detail;		/* allocated, or NULL */
};

/* Judges the answer res (the lookup of rec->name, rec->type; for HOST
 * the A lookup, with aaaa the AAAA one) against rec. Compares as
 * receivers read records: TXT strings joined, tags in any order, white
 * space and the case of names ignored; several SPF, DMARC, MTA-STS or
 * TLS-RPT records are the errors their RFCs make of them. SPF is judged
 * as text only (one record, it parses, how it ends); whether it lets
 * the MX's addresses pass is for the caller to evaluate. Sets *v (free
 * with publish_verdict_deinit()). */
void publish_judge(const struct publish_plan *plan,
		   const struct publish_record *rec,
		   const struct dns_result *res,
		   const struct dns_result *aaaa, struct publish_verdict *v);
void publish_verdict_deinit(struct publish_verdict *v);

/* The MTA-STS policy file (RFC 8461 3.2) of the plan, CRLF lines. */
void publish_mta_sts_policy(const struct publish_plan *plan, struct buf *out);

#endif
