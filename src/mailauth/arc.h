/* SPDX-License-Identifier: MIT */
/*
 * ARC, the Authenticated Received Chain (RFC 8617): the parsers of the
 * three ARC header fields, the chain verifier (fed the message like the
 * DKIM verifier, keys given by the caller or looked up on the loop) and
 * the sealer that adds Herald's set when it forwards. I/O free but for the
 * lookup helpers. docs/mailauth.md "ARC".
 */
#ifndef HERALD_MAILAUTH_ARC_H
#define HERALD_MAILAUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

struct dns_result;
struct dns_resolver;

/* RFC 8617 4.2.1: instances above 50 are a failed chain. */
#define ARC_INSTANCE_LIMIT 50

enum arc_result {
	ARC_RESULT_NONE,	/* no ARC header field */
	ARC_RESULT_PASS,
	ARC_RESULT_FAIL,
};

/* The cv= of an ARC-Seal (RFC 8617 4.1.3). */
enum arc_cv {
	ARC_CV_NONE,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

/* "none", "pass", "fail" (both enums use the same words). */
const char *arc_result_name(enum arc_result result);
const char *arc_cv_name(enum arc_cv cv);

/* ---- Parsers ---- */

/* An ARC-Seal (RFC 8617 4.1.3). */
struct arc_seal {
	unsigned instance;	/* i= */
	enum dkim_algorithm alg;
	enum arc_cv cv;
	char *domain;		/* d=, lower case */
	char *selector;		/* s=, lower case */
	uint8_t *b;
	size_t b_len;
	bool has_t;
	int64_t t;
	/* the raw b= value inside the field's value, to blank it */
	size_t b_value_start, b_value_end;
};

/* Parses the value of an ARC-Seal field: a tag list (dkim_tags_parse)
 * with i (1..ARC_INSTANCE_LIMIT), a (rsa-sha256 or ed25519-sha256), b,
 * cv (none, pass, fail), d, s required, t optional, and no h= (RFC 8617
 * 4.1.3). Returns 0, or -1 with a static *error_r. */
int arc_seal_parse(const char *value, size_t len, struct arc_seal *seal_r,
		   const char **error_r);
void arc_seal_deinit(struct arc_seal *seal);

/* One resinfo of an Authentication-Results (RFC 8601 2.2): method=result,
 * its reason and properties ("header.from" = "example.com"). */
struct arc_ar_prop {
	char *name;		/* ptype.property, lower case */
	char *value;		/* unquoted */
};

struct arc_ar_result {
	char *method;		/* lower case, without a version */
	char *result;		/* lower case */
	struct arc_ar_prop *props;
	size_t n_props;
};

/* An ARC-Authentication-Results value: "i=N; " and an
 * Authentication-Results body (RFC 8617 4.1.1). */
struct arc_aar {
	unsigned instance;
	char *authserv_id;
	struct arc_ar_result *results;
	size_t n_results;
};

/* Limits of the Authentication-Results parser (docs/limits.md). */
#define ARC_AR_RESULTS_MAX 64	/* resinfos kept; more is an error */
#define ARC_AR_PROPS_MAX 16	/* properties per resinfo */

/* Parses the value of an ARC-Authentication-Results field: "i=" instance
 * ";" then authserv-id [version] and the resinfos (or "none"), with
 * comments and folding anywhere CFWS is allowed; values are tokens,
 * quoted-strings or [local-part@]domain. More than ARC_AR_RESULTS_MAX
 * results or ARC_AR_PROPS_MAX properties in one is an error. Returns 0,
 * or -1 with a static *error_r (aar_r empty). */
int arc_aar_parse(const char *value, size_t len, struct arc_aar *aar_r,
		  const char **error_r);
/* The same for an Authentication-Results value (no "i=" part; instance
 * is 0). */
int arc_ar_parse(const char *value, size_t len, struct arc_aar *ar_r,
		 const char **error_r);
void arc_aar_deinit(struct arc_aar *aar);
/* The value of property name ("header.from") of r, or NULL. */
const char *arc_ar_result_prop(const struct arc_ar_result *r,
			       const char *name);

/* A comma-separated list of domains ([mailauth] arc_trusted_sealers):
 * each lower-cased, checked as a DNS name, white space around commas
 * ignored. Returns 0 with the list (free with arc_domain_list_free), or
 * -1 with an allocated *error_r. */
int arc_domain_list_parse(const char *value, char ***domains_r, size_t *n_r,
			  char **error_r);
void arc_domain_list_free(char ***domains, size_t n);

/* ---- Verification (RFC 8617 5.2) ---- */

struct arc_verify_limits {
	unsigned max_instances;		/* 1..ARC_INSTANCE_LIMIT; more: fail */
	size_t header_max;		/* octets of the header kept */
	time_t now;			/* 0: time(NULL) */
};

struct arc_verify_result {
	enum arc_result result;
	/* why, for a fail ("ARC-Seal i=2 signature mismatch"); owned by
	 * the verifier */
	const char *reason;
	/* the fail came from a key lookup that failed for now (SERVFAIL,
	 * timeout): the chain may well be good; Herald does not seal it */
	bool temporary;
	unsigned instances;	/* N, the highest instance seen (0: none) */
	/* the latest ARC-Seal's cv= (valid when instances > 0 and the set
	 * parsed) */
	enum arc_cv latest_cv;
	/* d= of the latest AMS and AS, for Authentication-Results */
	const char *ams_domain;
	const char *as_domain;
};

struct arc_verifier;

struct arc_verifier *arc_verifier_new(const struct arc_verify_limits *lim);
void arc_verifier_free(struct arc_verifier **v);
/* Makes v a new verifier for another message (as arc_verifier_new(lim)),
 * keeping its buffers: a session's next transaction reuses its
 * verifier. Its lookups must have ended or been cancelled. */
void arc_verifier_reset(struct arc_verifier *v,
			const struct arc_verify_limits *lim);
/* dkim verifies the same message and is fed every piece before v (as
 * smtp-authin.c does): v keeps no copy of the header of its own but
 * reads dkim's when the header is complete, and copies it only when the
 * message has ARC fields (most mail has none). dkim must be finished
 * before v and not be reset or freed before v's header is complete.
 * Call it before the first piece (after arc_verifier_new() or _reset()).
 */
struct dkim_verifier;
void arc_verifier_share_header(struct arc_verifier *v,
			       const struct dkim_verifier *dkim);
/* The message as received, in pieces of any size (as
 * dkim_verifier_feed()). Only the header is kept; the body is hashed for
 * the latest ARC-Message-Signature, and not at all when the message has
 * no ARC field. */
void arc_verifier_feed(struct arc_verifier *v, const uint8_t *data,
		       size_t len);
/* The end of the message. */
void arc_verifier_finish(struct arc_verifier *v);
/* The key names to look up (TXT, "sel._domainkey.example.com"), each
 * once, once the header is complete: the latest AMS's and every AS's.
 * None when the chain is already decided (no ARC field, a broken
 * structure, a cv=fail). */
size_t arc_verifier_key_count(const struct arc_verifier *v);
const char *arc_verifier_key_name(const struct arc_verifier *v, size_t i);
/* Gives key i its lookup's answer (as dkim_verifier_set_key()). */
void arc_verifier_set_key(struct arc_verifier *v, size_t i,
			  const struct dns_result *res);
/* The verdict, once finish was called and every key given (before: a
 * temporary fail "not complete"). */
const struct arc_verify_result *arc_verifier_result(
	const struct arc_verifier *v);
/* The parsed ARC-Authentication-Results and the ARC-Seal d= of instance
 * (1..instances), for trusting a sealer (RFC 8617 7.2): NULL when the
 * chain is not a pass or the AAR did not parse as Authentication-Results.
 */
const struct arc_aar *arc_verifier_aar(const struct arc_verifier *v,
				       unsigned instance);
const char *arc_verifier_sealer(const struct arc_verifier *v,
				unsigned instance);

/* Looks every key up with dns_lookup_sync() (tools). */
void arc_verifier_lookup_sync(struct arc_verifier *v,
			      struct dns_resolver *resolver);
/* Starts the key lookups on the resolver's loop, all at once (call it
 * when the DKIM lookups start: they run in parallel); cb runs on the loop
 * thread when the last has answered, never from inside this call. Keys
 * the DNS cache holds are given to v inside this call. NULL when nothing
 * is left to wait for (cb will not run). v must outlive the
 * lookups; dkim_lookup_cancel() stops them (the handle is DKIM's: one
 * lookup set serves both verifiers). */
struct dkim_lookup *arc_verifier_lookup(struct arc_verifier *v,
					struct dns_resolver *resolver,
					dkim_lookup_done_cb_t *cb, void *ctx);

/* ---- Trusted sealers (RFC 8617 7.2) ---- */

struct dmarc_psl;

/* What a trusted set must vouch for: the message's From domain and the
 * DMARC record's alignment modes (0: relaxed, 1: strict; enum
 * dmarc_align_mode). */
struct arc_trust_check {
	const char *from_domain;
	const struct dmarc_psl *psl;
	int aspf, adkim;
};

/* When v's chain passed, the sets sealed (ARC-Seal d=, exactly) by a
 * domain of trusted (a [mailauth] arc_trusted_sealers value) are read,
 * latest first: the first whose ARC-Authentication-Results says
 * dmarc=pass with header.from the From domain, or spf=pass with an
 * smtp.mailfrom aligned with it, or dkim=pass with a header.d aligned
 * with it, vouches. Returns a comment for the DMARC report ("arc=pass;
 * trusted sealer lists.example.org (i=2) saw dmarc=pass"; caller frees),
 * or NULL. */
char *arc_trusted_vouch(const struct arc_verifier *v, const char *trusted,
			const struct arc_trust_check *c);

/* ---- Sealing (RFC 8617 5.1) ---- */

struct arc_sealer;

/* A sealer for one message: the body hashed (relaxed) as it streams in,
 * the header kept (at most header_max; 0: 1 MiB). */
struct arc_sealer *arc_sealer_new(size_t header_max, time_t now);
void arc_sealer_free(struct arc_sealer **s);
/* The message as it will be forwarded (without the fields the sealer
 * adds), in pieces. */
void arc_sealer_feed(struct arc_sealer *s, const uint8_t *data, size_t len);

/* What Herald's set says (RFC 8617 5.1): */
struct arc_seal_request {
	/* the chain as verified: v's result decides cv= (none when no
	 * chain, pass, fail); its sets are sealed over when it passed */
	const struct arc_verifier *chain;
	/* the Authentication-Results body Herald recorded
	 * ("authserv-id; spf=pass ...; arc=pass ...") for the AAR */
	const char *ar_body;
	const struct dkim_sign_key *key;	/* an RSA key (rsa-sha256) */
};

/* Appends the set i=N+1 (ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results, each ending in CRLF), to go on top of the
 * message. The AMS signs the usual DKIM header set plus DKIM-Signature,
 * relaxed/relaxed. Refused (-1, static *error_r, out untouched): the
 * latest incoming seal says cv=fail (the chain ended: RFC 8617 5.1 step
 * 1), the chain's verdict is temporary, N is already the limit, the
 * header is too big or has no single From, a key other than RSA. */
int arc_sealer_finish(struct arc_sealer *s, const struct arc_seal_request *req,
		      struct buf *out, const char **error_r);

#endif
