/* SPDX-License-Identifier: MIT */
/*
 * DMARC (RFC 7489, with the DMARCbis tree walk where it differs): the
 * Public Suffix List and organisational domains, the record parser, the
 * RFC5322.From domain, policy discovery through the DNS module, and the
 * I/O-free evaluation of SPF and DKIM alignment into a result with the
 * disposition to apply. docs/mailauth.md "DMARC".
 */
#ifndef HERALD_MAILAUTH_DMARC_H
#define HERALD_MAILAUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailauth/dkim.h"
#include "mailauth/spf.h"

struct dns_resolver;

/* ---- Public Suffix List (https://publicsuffix.org/list/) ---- */

struct dmarc_psl;

/* Loads a PSL file (Debian: /usr/share/publicsuffix/public_suffix_list.dat)
 * into a compact read-only structure (thread-safe to query). Rules are
 * lower-cased (ASCII), a Unicode rule kept both as written and as
 * A-labels, so a domain may be given either way; the ICANN and private
 * sections are both used, as the PSL algorithm says. Returns
 * NULL with an allocated *error_r (the file cannot be read, or has no
 * rule). */
struct dmarc_psl *dmarc_psl_load(const char *path, char **error_r);
/* The same from text in memory (unit tests, fuzzing). */
struct dmarc_psl *dmarc_psl_parse(const char *text, size_t len,
				  char **error_r);
void dmarc_psl_free(struct dmarc_psl **psl);
/* The public suffix of domain (lower case, no trailing dot) per the PSL
 * algorithm: the matching rule with the most labels, an exception rule
 * ("!www.ck") winning and giving the rule minus its left label, a
 * wildcard ("*.ck") matching any one label, and "*" (one label) when no
 * rule matches. Returns a pointer into domain, or NULL when domain is
 * empty or malformed (an empty label). */
const char *dmarc_psl_public_suffix(const struct dmarc_psl *psl,
				    const char *domain);
/* The organisational domain (RFC 7489 3.2): the public suffix plus one
 * label. Returns a pointer into domain, or NULL when domain is itself a
 * public suffix (or malformed). */
const char *dmarc_psl_org_domain(const struct dmarc_psl *psl,
				 const char *domain);

/* ---- the DMARC record (RFC 7489 6.3, DMARCbis) ---- */

enum dmarc_policy {
	DMARC_POLICY_UNSET,	/* tag absent (sp, np: fall back) */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* "none", "quarantine", "reject" ("" for unset). */
const char *dmarc_policy_name(enum dmarc_policy p);

enum dmarc_align_mode {
	DMARC_ALIGN_RELAXED,	/* 'r', the default */
	DMARC_ALIGN_STRICT,	/* 's' */
};

/* A parsed record. Its strings point into one owned block, strings
 * (dmarc_record_deinit(), dmarc_record_copy()): set them through the
 * parser only. */
struct dmarc_record {
	enum dmarc_policy p;	/* never UNSET after a successful parse */
	enum dmarc_policy sp;	/* UNSET: p applies to subdomains */
	enum dmarc_policy np;	/* DMARCbis; UNSET: sp (then p) applies */
	unsigned pct;		/* 0..100, default 100 */
	enum dmarc_align_mode adkim, aspf;
	char *rua;		/* the tag's value as written, or NULL */
	char *ruf;
	char *fo;		/* default "0" */
	char *rf;		/* default "afrf" */
	uint32_t ri;		/* default 86400 */
	bool psd_set;		/* DMARCbis psd=y|n given */
	bool psd;		/* psd=y */
	bool testing;		/* DMARCbis t=y: as pct=0 (next lower
				 * policy) */
	/* p was missing or invalid and a valid rua made it p=none
	 * (RFC 7489 6.6.3) */
	bool p_from_rua;
	char *strings;		/* rua, ruf, fo, rf, NUL-terminated */
	size_t strings_len;
};

/* Parses text (a TXT record's strings joined) per RFC 7489 6.3: v=DMARC1
 * first; tags separated by ';' with optional white space; unknown tags
 * and parts that are not tag=value ignored; pct, ri, adkim, aspf, fo,
 * np, psd, t with an invalid value ignored (their default applies); a
 * known tag given twice is an error; a missing or invalid p, or an
 * invalid sp, is an error unless rua holds at least one valid URI, then
 * p=none (6.6.3 step 6). Returns 0, or
 * -1 with a static *error_r (not a DMARC record at all: *error_r says
 * "not a DMARC record"; a DMARC record that is invalid: why). */
int dmarc_record_parse(const char *text, size_t len,
		       struct dmarc_record *rec_r, const char **error_r);
/* The same through a small per-process cache of parsed records keyed on
 * the whole text (a changed record is parsed afresh): a domain's policy
 * comes with every message from it. *rec_r is the caller's copy. */
int dmarc_record_parse_cached(const char *text, size_t len,
			      struct dmarc_record *rec_r,
			      const char **error_r);
/* Whether text starts like a DMARC record ("v" "=" "DMARC1" then ';',
 * white space or the end): the record selection of RFC 7489 6.6.3. */
bool dmarc_record_is_dmarc(const char *text, size_t len);
void dmarc_record_deinit(struct dmarc_record *rec);
void dmarc_record_copy(struct dmarc_record *dst,
		       const struct dmarc_record *src);

/* ---- the RFC5322.From domain (RFC 7489 6.6.1) ---- */

enum dmarc_from_status {
	DMARC_FROM_OK,		/* one domain (maybe several addresses) */
	DMARC_FROM_NONE,	/* no From field */
	DMARC_FROM_SEVERAL_FIELDS,	/* more than one From field */
	DMARC_FROM_SEVERAL_DOMAINS,	/* addresses of different domains */
	DMARC_FROM_UNPARSEABLE,	/* no address, a group, a syntax error,
				 * a domain that is not a DNS name, or a
				 * field mail clients read differently */
};

/* "ok", "none", "several-fields", "several-domains", "unparseable". */
const char *dmarc_from_status_name(enum dmarc_from_status st);

/* Finds the From field(s) in a message header hdr[0..len) (the header
 * section, or the whole message) and the domain DMARC evaluates, read as
 * strictly as mail clients show it (docs/mailauth.md "The From domain").
 * Sets *domain_r (allocated, lower case, an IDN as given) only for OK. */
enum dmarc_from_status dmarc_from_domain(const char *hdr, size_t len,
					 char **domain_r);

/* ---- policy discovery (RFC 7489 6.6.3; DMARCbis 4.10) ---- */

enum dmarc_discovery {
	DMARC_DISCOVERY_PSL,		/* _dmarc.FROM, then _dmarc.ORG (PSL) */
	DMARC_DISCOVERY_TREEWALK,	/* DMARCbis DNS tree walk */
};

enum dmarc_lookup_status {
	DMARC_LOOKUP_FOUND,	/* one valid record */
	DMARC_LOOKUP_NONE,	/* no record (or several: RFC 7489 6.6.3) */
	DMARC_LOOKUP_TEMPERROR,	/* a lookup failed for now */
	DMARC_LOOKUP_PERMERROR,	/* the record found does not parse */
};

/* The outcome of discovery. Strings owned (dmarc_policy_deinit()). */
struct dmarc_policy_found {
	enum dmarc_lookup_status status;
	char *from_domain;	/* the RFC5322.From domain asked about */
	char *policy_domain;	/* where the record was found, or NULL */
	char *org_domain;	/* the From domain's organisational domain
				 * (PSL, or the tree walk's) or NULL */
	/* org_domain comes from the tree walk (DMARCbis 4.10.2): relaxed
	 * alignment is then "equal to or under org_domain" */
	bool org_from_walk;
	struct dmarc_record record;	/* FOUND only */
	/* The From domain does not exist (NXDOMAIN for A, AAAA and MX;
	 * looked up only when the record has np= and the From domain is a
	 * subdomain: DMARCbis 4.8). */
	bool from_nonexistent;
	char *problem;		/* TEMPERROR/PERMERROR/NONE: why, or NULL */
	unsigned lookups;	/* DNS lookups made */
};

void dmarc_policy_found_deinit(struct dmarc_policy_found *f);

/* Called once on the resolver's loop with the outcome (owned by the
 * lookup: valid during the call; copy what is kept). Never from inside
 * dmarc_lookup_start(). */
typedef void dmarc_lookup_cb_t(const struct dmarc_policy_found *found,
			       void *ctx);
struct dmarc_lookup;

/* Starts discovery for from_domain (lower case). psl must outlive the
 * lookup. Never NULL; dmarc_lookup_cancel() stops it (the callback then
 * does not run); the handle is freed after the callback returns. */
struct dmarc_lookup *dmarc_lookup_start(struct dns_resolver *resolver,
					const struct dmarc_psl *psl,
					enum dmarc_discovery mode,
					const char *from_domain,
					dmarc_lookup_cb_t *cb, void *ctx);
/* The same discovery when the DNS cache holds every answer it needs
 * (dns_lookup_now()): true with *found_r set (the caller's, to
 * dmarc_policy_found_deinit()), exactly what dmarc_lookup_start() would
 * hand its callback; false (nothing to free) when a lookup would have
 * to wait, then call dmarc_lookup_start(). Saves the loop turn of the
 * usual sender, whose record came with its previous message. */
bool dmarc_lookup_now(struct dns_resolver *resolver,
		      const struct dmarc_psl *psl, enum dmarc_discovery mode,
		      const char *from_domain,
		      struct dmarc_policy_found *found_r);
void dmarc_lookup_cancel(struct dmarc_lookup **lookup);

/* ---- evaluation (RFC 7489 6.6.2, 6.6.4) ---- */

enum dmarc_result_code {
	DMARC_RESULT_NONE,	/* no policy (or no usable From) */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

/* "none", "pass", "fail", "temperror", "permerror" (RFC 8601 2.7.x,
 * RFC 7489 11.2). */
const char *dmarc_result_name(enum dmarc_result_code r);

/* Why the applied disposition differs from the published policy (or
 * that it does not). */
enum dmarc_reason {
	DMARC_REASON_NONE,		/* the policy applies as published */
	DMARC_REASON_SAMPLED_OUT,	/* pct: not selected, the next lower
					 * policy applies (RFC 7489 6.6.4) */
	DMARC_REASON_LOCAL_POLICY,	/* [mailauth] dmarc = record, or a
					 * dmarc_reject_exempt network */
	DMARC_REASON_TRUSTED_FORWARDER,	/* ARC override (RFC 8617 7.2.1;
					 * set by dmarc_result_override()) */
	DMARC_REASON_MAILING_LIST,	/* reserved for a list override */
};

/* RFC 7489 7.2.1.1 PolicyOverrideType words: "" (none),
 * "sampled_out", "local_policy", "trusted_forwarder", "mailing_list". */
const char *dmarc_reason_name(enum dmarc_reason r);

/* One DKIM signature as DMARC sees it (and aggregate reports list it). */
struct dmarc_dkim {
	char *domain;		/* d= ("" when the signature had none) */
	char *selector;		/* s= or "" */
	enum dkim_result result;
	bool partial;		/* l= left body uncovered (docs: counted) */
	bool aligned;		/* passed and aligned with the From domain */
};

/* The inputs of one evaluation. */
struct dmarc_input {
	const char *from_domain;	/* RFC5322.From domain (lower case) */
	/* SPF (RFC 7489 4.1): the result, and the domain checked (the MAIL
	 * FROM domain, or the HELO name when MAIL FROM was <>). */
	enum spf_result spf_result;
	const char *spf_domain;		/* NULL or "" when not checked */
	bool spf_is_helo;
	/* DKIM: every signature verified, top down */
	const struct dkim_verify_result *const *dkim;
	size_t n_dkim;
};

/* The verdict on one message. Everything the aggregate report (rua)
 * needs is here: source_ip, from_domain, env_from_domain, the SPF
 * result and domain, every DKIM result with domain and selector, the
 * policy published (record) and the disposition. Strings owned
 * (dmarc_result_deinit()). */
struct dmarc_result {
	enum dmarc_result_code result;
	/* identifiers */
	char *from_domain;	/* header.from, or NULL (no usable From) */
	enum dmarc_from_status from_status;
	char *policy_domain;	/* where the record is, or NULL */
	char *org_domain;	/* of the From domain, or NULL */
	char *source_ip;	/* the SMTP client (set by the caller) */
	char *env_from_domain;	/* MAIL FROM domain ("" for <>; caller) */
	/* the record as found (has_record) */
	bool has_record;
	struct dmarc_record record;
	/* SPF as evaluated */
	enum spf_result spf_result;
	char *spf_domain;	/* "" when SPF was not checked */
	bool spf_is_helo;
	bool spf_aligned;
	/* DKIM, every signature */
	struct dmarc_dkim *dkim;
	size_t n_dkim;
	bool dkim_aligned;	/* one aligned signature passed */
	/* The policy requested for this message: p, or sp for a subdomain
	 * of the organisational domain, or np for a non-existent one;
	 * UNSET when there is no record. */
	enum dmarc_policy policy;
	bool policy_is_sp, policy_is_np;
	/* The disposition to apply (NONE unless result is FAIL), and why
	 * it differs from policy. A later override (ARC) sets reason and
	 * override_comment through dmarc_result_override(). */
	enum dmarc_policy disposition;
	enum dmarc_reason reason;
	char *override_comment;	/* free text for the report, or NULL */
	/* why for none/temperror/permerror (logs, A-R comment) */
	char *problem;
};

/* Evaluates in against found (which may be NULL: no lookup was made)
 * and fills *res_r: the result (pass when an aligned SPF pass or an
 * aligned DKIM pass exists, RFC 7489 4.2), the policy that applies and
 * the disposition after pct sampling (rnd is a number in [0, 100): the
 * caller's random draw, so tests can pin it). psl decides relaxed
 * alignment (organisational domains). */
void dmarc_evaluate(const struct dmarc_input *in,
		    const struct dmarc_policy_found *found,
		    const struct dmarc_psl *psl, unsigned rnd,
		    struct dmarc_result *res_r);
/* A result for a message whose From cannot be evaluated (status not
 * OK): result permerror ("none" for DMARC_FROM_NONE is not used: RFC
 * 5322 requires one From), no policy. */
void dmarc_result_from_problem(enum dmarc_from_status st,
			       struct dmarc_result *res_r);
/* Sets the disposition to none for reason (a local override: record
 * mode, an exempt network, a trusted ARC chain), keeping result and
 * policy; comment (copied, may be NULL) goes to the report. Called after
 * dmarc_evaluate() and before the action (smtp-authin.c). */
void dmarc_result_override(struct dmarc_result *r, enum dmarc_reason reason,
			   const char *comment);
void dmarc_result_deinit(struct dmarc_result *r);

/* The Authentication-Results method of r (RFC 8601, RFC 7489 11.2):
 * "dmarc=fail (p=reject sp=none dis=reject) header.from=example.com",
 * allocated. */
char *dmarc_auth_results(const struct dmarc_result *r);
/* The same appended to b (no allocation of its own). */
struct buf;
void dmarc_auth_results_put(struct buf *b, const struct dmarc_result *r);

/* Whether a is aligned with b under mode: equal (ASCII
 * case-insensitive), or for relaxed the same organisational domain. */
bool dmarc_domains_aligned(const struct dmarc_psl *psl, const char *a,
			   const char *b, enum dmarc_align_mode mode);

#endif
