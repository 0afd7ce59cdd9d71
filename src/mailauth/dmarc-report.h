/* SPDX-License-Identifier: MIT */
/*
 * DMARC aggregate reports (RFC 7489 7.1, 7.2, appendix C; docs/mailauth.md
 * "Aggregate reports"): the verdict of each message received is counted in
 * memory per report row and flushed to the store in batches; once a day
 * one gzipped XML report per policy domain goes to its verified rua
 * mailto: addresses, through the outbound queue.
 */
#ifndef HERALD_MAILAUTH_DMARC_REPORT_H
#define HERALD_MAILAUTH_DMARC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "lib/buf.h"

struct config;
struct dmarc_psl;
struct dns_resolver;
struct ioev_loop;
struct store;

/* ---- recording ---- */

/* One DKIM signature's result (RFC 7489 appendix C DKIMAuthResultType). */
struct dmarc_report_dkim {
	const char *domain;	/* d= */
	const char *selector;	/* s=, or NULL */
	/* "none", "pass", "fail", "policy", "neutral", "temperror",
	 * "permerror" (RFC 8601 words, as dkim_result_name()) */
	const char *result;
};

/* What one evaluated message contributes to the reports. Every string is
 * borrowed for the call; NULL is read as "". Words are those of the XML
 * (appendix C): the caller maps its enums to them. */
struct dmarc_report_input {
	/* the domain whose DMARC record applied (the From domain or its
	 * organisational domain), lower case */
	const char *policy_domain;
	const char *source_ip;		/* the client, "192.0.2.1" */
	const char *header_from;	/* the RFC5322.From domain */
	const char *envelope_from;	/* the RFC5321.MailFrom domain; ""
					 * for <> */
	/* the policy record as published (policy_published) */
	const char *p;			/* "none", "quarantine", "reject" */
	const char *sp;			/* NULL: as p */
	const char *np;			/* DMARCbis; NULL: not published */
	unsigned pct;			/* 0..100 */
	char adkim, aspf;		/* 'r' or 's' */
	const char *fo;			/* NULL: "0" */
	/* the rua tag as published ("mailto:a@example.org!10m,mailto:..."):
	 * a message whose record has no mailto: URI is not recorded */
	const char *rua;
	/* policy_evaluated */
	const char *disposition;	/* applied: none, quarantine, reject */
	bool dkim_aligned;		/* an aligned DKIM pass */
	bool spf_aligned;		/* an aligned SPF pass */
	/* a local policy override (PolicyOverrideType: "forwarded",
	 * "sampled_out", "trusted_forwarder", "mailing_list",
	 * "local_policy", "other"), or NULL */
	const char *reason;
	const char *reason_comment;	/* or NULL */
	/* auth_results */
	const char *spf_domain;		/* the domain SPF checked */
	const char *spf_scope;		/* "mfrom" or "helo"; NULL: mfrom */
	const char *spf_result;		/* "none", "pass", "fail", ... */
	const struct dmarc_report_dkim *dkim;
	size_t n_dkim;
	time_t when;			/* 0: now */
};

/* Counts one message (thread-safe, no I/O, a hash lookup under a mutex:
 * cheap on the SMTP loop). A no-op unless dmarc_report_collector_start()
 * ran in this process ([mailauth] dmarc_reports = on), or when the
 * record's rua has no mailto: URI. Rows over [mailauth]
 * dmarc_report_memory_rows distinct rows wait for the flush are dropped
 * and counted in the flush's log line. */
void dmarc_report_record(const struct dmarc_report_input *in);

/* dmarc_report_record() of a verdict of mailauth/dmarc.h (smtp-authin.c
 * calls it for every message evaluated): recorded only when a record
 * was found (the report goes to its rua); the result's words mapped to
 * the XML's. */
struct dmarc_result;
void dmarc_report_record_result(const struct dmarc_result *r);

/* Starts this process's collector: counts kept in memory are written to
 * the store every DMARC_REPORT_FLUSH_MS by a job on loop's thread pool
 * (docs/mailauth.md "Aggregate reports": a crash loses at most that much).
 * Does nothing when cfg's dmarc_reports is off. The store must outlive
 * dmarc_report_collector_stop(). */
#define DMARC_REPORT_FLUSH_MS 5000
void dmarc_report_collector_start(struct ioev_loop *loop, struct store *store,
				  const struct config *cfg);
/* Stops the timer, waits for a flush in flight and writes what is left
 * (blocking: at worker exit, after the loop has stopped). */
void dmarc_report_collector_stop(void);
/* Writes what is counted now (blocking; tests and the CLI). Returns 0, or
 * -1 with *error_r (the rows are kept for the next flush). */
int dmarc_report_collector_flush(const char **error_r);

/* ---- building (pure) ---- */

/* One aggregated row, as kept in the store (decoded from its key). */
struct dmarc_report_row {
	char *source_ip;
	char *header_from;
	char *envelope_from;
	char *disposition;
	bool dkim_aligned, spf_aligned;
	char *reason, *reason_comment;	/* "" when none */
	char *spf_domain, *spf_scope, *spf_result;
	struct dmarc_report_dkim_row {
		char *domain, *selector, *result;
	} *dkim;
	size_t n_dkim;
	uint64_t count;
};

/* The row key of in (one line of tab-separated fields, peer text with
 * controls and tabs replaced), appended to out; the policy domain is kept
 * apart. */
void dmarc_report_row_key(const struct dmarc_report_input *in,
			  struct buf *out);
/* Decodes a key made by dmarc_report_row_key() into *row (count 0).
 * Returns 0, or -1 for a key it did not make. */
int dmarc_report_row_parse(const char *key, struct dmarc_report_row *row);
void dmarc_report_row_deinit(struct dmarc_report_row *row);
/* The published policy of in as stored with the domain
 * ("p=reject sp=none pct=100 adkim=r aspf=s fo=0" [" np=..."]). */
void dmarc_report_policy_text(const struct dmarc_report_input *in,
			      struct buf *out);

/* The report of one policy domain. */
struct dmarc_report_meta {
	const char *org_name;
	const char *email;		/* report_metadata email */
	const char *extra_contact;	/* or NULL */
	const char *report_id;
	time_t begin, end;
	const char *domain;
	const char *policy;		/* dmarc_report_policy_text() */
};

/* Appends the XML document (RFC 7489 appendix C, with DMARCbis's
 * version and envelope_from) to out: text escaped for XML, controls and
 * invalid UTF-8 replaced. */
void dmarc_report_xml(const struct dmarc_report_meta *meta,
		      const struct dmarc_report_row *rows, size_t n,
		      struct buf *out);
/* gzip (RFC 1952) of data into out. Returns 0 or -1 (zlib failed). */
int dmarc_report_gzip(const uint8_t *data, size_t len, struct buf *out);

/* ---- destinations ---- */

/* One rua URI (RFC 7489 6.2, 6.4): a mailto: address and its size
 * limit ("!10m"; 0 for none). */
struct dmarc_report_uri {
	char *address;		/* the addr-spec, %-decoded */
	uint64_t max_size;
};

/* Parses a rua value: comma-separated URIs, whitespace around them
 * ignored. Only mailto: URIs with one plain addr-spec are kept (others,
 * an https: one, a malformed one are skipped: *skipped_r counts them);
 * at most max of them (the rest count as skipped). Returns the number
 * kept (*uris_r NULL when 0); free with dmarc_report_uris_free(). */
size_t dmarc_report_rua_parse(const char *rua, size_t max,
			      struct dmarc_report_uri **uris_r,
			      size_t *skipped_r);
void dmarc_report_uris_free(struct dmarc_report_uri **uris, size_t n);

/* The name of the TXT record that authorizes reports about domain to go
 * to an address at rua_domain (RFC 7489 7.1):
 * "domain._report._dmarc.rua_domain". */
char *dmarc_report_verify_name(const char *domain, const char *rua_domain);
/* Whether one of the TXT record texts begins with "v=DMARC1" (7.1). */
bool dmarc_report_verify_answer(const char *const *texts, size_t n);

/* ---- sending ---- */

/* Hands a finished report message to the mail system (the queue, or a
 * local mailbox): from and to are addresses, msg the whole message with
 * CRLF lines. Returns 0 (durable), -1 for a temporary failure or 1 when
 * the address will never take it (a local address nobody has, a full
 * mailbox), both with *error_r (static or valid until the next call). */
typedef int dmarc_report_deliver_cb_t(void *ctx, const char *from,
				      const char *to, const uint8_t *msg,
				      size_t len, const char **error_r);

struct dmarc_report_run_opts {
	time_t now;		/* 0: time(NULL); the period ends here */
	/* print each report's XML to out, send nothing and keep the rows */
	bool dry_run;
	FILE *out;
	/* NULL: dry_run only */
	dmarc_report_deliver_cb_t *deliver;
	void *deliver_ctx;
	/* for the external-destination lookups (dns_lookup_sync()); NULL:
	 * every external destination is dropped */
	struct dns_resolver *dns;
	/* organisational domains for "external" (7.1); NULL: a domain is
	 * of the policy domain's organisation only when it is the same,
	 * under it or above it */
	const struct dmarc_psl *psl;
};

struct dmarc_report_run_stats {
	size_t reports;		/* built (dry run: printed) */
	size_t sent;		/* messages handed to deliver */
	size_t dropped;		/* destinations dropped (logged) */
	size_t skipped;		/* domains not reported (no pass, cap) */
};

/* Builds and sends the pending report of every policy domain (blocking:
 * a pool thread or a command). Takes the rows written so far, builds one
 * report per domain with at least one row that passed DMARC (at most
 * dmarc_report_max_per_run), sends it to each verified destination and
 * then deletes the rows. Logs one line per report and destination
 * (docs/logging.md "dmarc"). Returns 0, or -1 with *error_r when the
 * store failed (rows not reported stay for the next run). */
int dmarc_report_run(struct store *store, const struct config *cfg,
		     const struct dmarc_report_run_opts *opts,
		     struct dmarc_report_run_stats *stats_r,
		     const char **error_r);

/* When the next periodic run is due after now: the next multiple of the
 * interval since the epoch (1d: UTC midnight). */
time_t dmarc_report_next_run(time_t now, uint64_t interval_s);

#endif
