/* SPDX-License-Identifier: MIT */
/*
 * DKIM (RFC 6376) signing and verification, with ed25519-sha256 (RFC 8463)
 * and the RFC 8301 rules (no rsa-sha1, RSA keys of 1024 bits at least).
 * Signing and verifying are I/O free: the message is fed in pieces of any
 * size, the body hashed as it streams; keys come from the caller (a DNS
 * answer, a PEM file of the key store below). docs/mailauth.md "DKIM".
 */
#ifndef HERALD_MAILAUTH_DKIM_H
#define HERALD_MAILAUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

struct dns_result;
struct dns_resolver;
struct evp_pkey_st;	/* OpenSSL's EVP_PKEY */

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

enum dkim_algorithm {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
};

/* "simple", "relaxed"; "rsa-sha256", "ed25519-sha256"; "rsa", "ed25519". */
const char *dkim_canon_name(enum dkim_canon canon);
const char *dkim_algorithm_name(enum dkim_algorithm alg);
const char *dkim_algorithm_key_type(enum dkim_algorithm alg);

/* ---- Canonicalization (RFC 6376 3.4) ---- */

/* Receives canonical body octets, in pieces. */
typedef void dkim_body_out_cb_t(const uint8_t *data, size_t len, void *ctx);

/* The body canonicalizer: a state machine fed the body (CRLF line ends;
 * a bare CR is an ordinary octet) in pieces of any size, including one
 * octet at a time. It holds back only what it cannot decide yet (trailing
 * empty lines, runs of white space, a CR waiting for its LF), counted,
 * never buffered: memory is constant whatever the body's size. */
struct dkim_body_canon {
	enum dkim_canon canon;
	dkim_body_out_cb_t *out;
	void *ctx;
	uint64_t out_len;	/* canonical octets produced so far */
	uint64_t empty_lines;	/* held back: lines with nothing in them */
	bool cr;		/* a CR held back */
	bool wsp;		/* relaxed: white space held back */
	bool line;		/* the current line has content */
	uint8_t pending[512];	/* output not yet given to out */
	size_t pending_len;
};

void dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon canon,
			  dkim_body_out_cb_t *out, void *ctx);
void dkim_body_canon_feed(struct dkim_body_canon *bc, const uint8_t *data,
			  size_t len);
/* End of the body: emits what the rules say about the last line (simple:
 * an empty body becomes one CRLF; relaxed: empty stays empty). The total
 * is then in out_len. */
void dkim_body_canon_finish(struct dkim_body_canon *bc);

/* The header canonicalizer for one header field (name, colon, value with
 * its folding, without the final CRLF), fed in pieces. Simple passes the
 * octets through; relaxed lower-cases the name, unfolds, turns white space
 * runs into one SP, and drops it at the end and around the colon. The
 * result (without CRLF) is appended to out at finish. */
struct dkim_header_canon {
	enum dkim_canon canon;
	struct buf *out;
	uint8_t state;
	bool wsp;
};

void dkim_header_canon_init(struct dkim_header_canon *hc,
			    enum dkim_canon canon, struct buf *out);
void dkim_header_canon_feed(struct dkim_header_canon *hc, const uint8_t *data,
			    size_t len);
void dkim_header_canon_finish(struct dkim_header_canon *hc);
/* All of the above for one field in one piece. */
void dkim_header_canon(enum dkim_canon canon, const char *field, size_t len,
		       struct buf *out);

/* ---- Tag lists (RFC 6376 3.2) ---- */

/* Most tags in one list: more is an error (no record needs a tenth). */
#define DKIM_TAGS_MAX 64

struct dkim_tag {
	char *name;		/* as written (tag names are case-sensitive) */
	char *value;		/* without the white space around it; inner
				 * folding white space kept */
	size_t value_start;	/* the raw value: input[value_start..value_end)
				 * between '=' and ';' (or the end) */
	size_t value_end;
};

struct dkim_tag_list {
	struct dkim_tag *tags;
	size_t n;
};

/* Parses a tag list strictly: tag-name = ALPHA *(ALPHA/DIGIT/"_"); values
 * of VALCHAR (%x21-3A / %x3C-7E) separated by folding white space; a
 * trailing ';' allowed. A duplicate tag, an empty tag name, a missing '=',
 * an octet outside those classes or more than DKIM_TAGS_MAX tags fails.
 * Returns 0, or -1 with a static *error_r (list_r left empty). */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tag_list *list_r,
		    const char **error_r);
/* The tag named name, or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tag_list *list,
				     const char *name);
void dkim_tags_deinit(struct dkim_tag_list *list);

/* ---- The DKIM-Signature field (RFC 6376 3.5) ---- */

struct dkim_signature {
	enum dkim_algorithm alg;
	enum dkim_canon hcanon, bcanon;
	char *domain;		/* d=, lower case */
	char *selector;		/* s=, lower case */
	char *auid;		/* i=, or NULL (then "@" d=) */
	char **headers;		/* h=, lower case, in order */
	size_t n_headers;
	uint8_t *bh;		/* bh= decoded */
	size_t bh_len;
	uint8_t *b;		/* b= decoded */
	size_t b_len;
	bool has_l;
	uint64_t l;		/* l=: body octets covered */
	bool has_t, has_x;
	int64_t t, x;		/* t=, x= (seconds since the epoch) */
	/* the raw b= value inside the field's value, to blank it */
	size_t b_value_start, b_value_end;
};

/* Parses the value of a DKIM-Signature field (after the colon). Every
 * RFC 6376 3.5 rule a verifier must apply: v=1; required tags a b bh d h
 * s; h= names From; i= within d=; a=rsa-sha1 is refused (RFC 8301) as is
 * any other algorithm; c= simple or relaxed; q= dns/txt; l= and t=/x=
 * decimal (x= after t=). Returns 0, or -1 with a static *error_r (a
 * permerror reason). */
int dkim_signature_parse(const char *value, size_t len,
			 struct dkim_signature *sig_r, const char **error_r);
void dkim_signature_deinit(struct dkim_signature *sig);

/* ---- Key records (RFC 6376 3.6.1, RFC 8463 4) ---- */

/* Smallest RSA key accepted (RFC 8301 3.2) and the largest (cost). */
#define DKIM_RSA_BITS_MIN 1024
#define DKIM_RSA_BITS_MAX 8192

struct dkim_key {
	enum dkim_algorithm alg;	/* from k= (rsa, ed25519) */
	struct evp_pkey_st *pkey;
	unsigned bits;			/* RSA modulus size; 256 for ed25519 */
	bool testing;			/* t=y */
	bool strict;			/* t=s: i= must be exactly d= */
};

/* Parses a key record (a TXT record's strings joined): v=DKIM1 first if
 * present; h= must allow sha256; k= rsa or ed25519; s= * or email; t=
 * flags; p= base64 (empty: revoked) of a SubjectPublicKeyInfo or an
 * RSAPublicKey for rsa, of the raw 32-octet key for ed25519. RSA keys
 * outside DKIM_RSA_BITS_MIN..MAX are refused. Returns 0, or -1 with a
 * static *error_r. */
int dkim_key_parse(const char *txt, size_t len, struct dkim_key *key_r,
		   const char **error_r);
void dkim_key_deinit(struct dkim_key *key);

/* ---- Verification ---- */

enum dkim_result {
	DKIM_RESULT_NONE,	/* no signature */
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,	/* body hash or signature mismatch */
	DKIM_RESULT_NEUTRAL,	/* failed, but the key is in testing (t=y) */
	DKIM_RESULT_POLICY,	/* not verified by local policy (over the
				 * maximum number of signatures) */
	DKIM_RESULT_TEMPERROR,	/* the key could not be looked up now */
	DKIM_RESULT_PERMERROR,	/* bad signature syntax, bad or no key */
};

/* "none", "pass", "fail", "neutral", "policy", "temperror", "permerror"
 * (RFC 8601 2.7.1). */
const char *dkim_result_name(enum dkim_result result);

struct dkim_verify_result {
	enum dkim_result result;
	/* Why, for anything but a plain pass ("body hash mismatch",
	 * "signature mismatch", "key too small (512 bits)", ...); for a pass
	 * with l=, the note on the body not covered. Owned by the verifier. */
	const char *reason;
	/* From the signature, when it parsed that far (else NULL / 0). */
	const char *domain;	/* d= */
	const char *selector;	/* s= */
	const char *auid;	/* i=, or NULL */
	const char *algorithm;	/* "rsa-sha256", "ed25519-sha256" */
	const char *header_b;	/* the first 8 characters of b= (RFC 6008) */
	unsigned key_bits;	/* 0 when no key was parsed */
	bool testing;		/* the key has t=y */
	bool has_l;
	uint64_t l;
	/* The canonical body's length; body_partial when it is longer than
	 * l=, i.e. content after the signed part was not covered and must
	 * not be trusted (it may have been appended by anyone). */
	uint64_t body_len;
	bool body_partial;
};

struct dkim_verify_limits {
	unsigned max_signatures;	/* verified; later ones: policy */
	size_t header_max;		/* octets of the header kept */
	unsigned clock_skew_s;		/* t= this far in the future is ok */
	time_t now;			/* 0: time(NULL) at creation */
};

struct dkim_verifier;

/* A verifier for one message. */
struct dkim_verifier *dkim_verifier_new(const struct dkim_verify_limits *lim);
void dkim_verifier_free(struct dkim_verifier **v);
/* Makes v a new verifier for another message (as dkim_verifier_new(lim)),
 * keeping its buffers: a session's next transaction reuses its
 * verifier. Its lookups must have ended or been cancelled. */
void dkim_verifier_reset(struct dkim_verifier *v,
			 const struct dkim_verify_limits *lim);

/* The message as received, in pieces of any size: header, empty line,
 * body. Line ends CRLF; a bare LF is read as CRLF (a message from a file).
 * Memory: the header (at most header_max; beyond it every signature is a
 * permerror) and constant state per signature for the body. */
void dkim_verifier_feed(struct dkim_verifier *v, const uint8_t *data,
			size_t len);
/* True once the whole header has been seen: the signatures are known and
 * their keys may be looked up while the body streams in. */
bool dkim_verifier_header_done(const struct dkim_verifier *v);
/* The header as the verifier keeps it, for other checks that read it
 * (DMARC's From) so that it is not copied twice: every field with its
 * CRLF (a bare LF read as CRLF), the empty line left out. Valid once
 * header_done (or after finish) until the verifier is freed; NULL when
 * the header was over header_max (it is not kept). */
const char *dkim_verifier_header(const struct dkim_verifier *v,
				 size_t *len_r);
/* The DKIM-Signature fields found (top to bottom); valid once
 * header_done (or after finish). */
size_t dkim_verifier_count(const struct dkim_verifier *v);
/* The name whose TXT record holds signature i's key
 * ("sel._domainkey.example.com"), or NULL when no key is needed (the
 * signature is already decided: syntax error, over the maximum). */
const char *dkim_verifier_key_name(const struct dkim_verifier *v, size_t i);
/* Gives signature i its key lookup's answer (a TXT result, the record
 * used is the first that parses as a key). May be called before or after
 * finish. NXDOMAIN/NODATA: permerror (no key); another failure:
 * temperror. */
void dkim_verifier_set_key(struct dkim_verifier *v, size_t i,
			   const struct dns_result *res);
/* The end of the message. */
void dkim_verifier_finish(struct dkim_verifier *v);
/* Signature i's result, once finish was called and its key given (or it
 * needed none). */
const struct dkim_verify_result *dkim_verifier_result(
	const struct dkim_verifier *v, size_t i);

/* Looks every key up with dns_lookup_sync() (a resolver made with loop
 * NULL) and gives them to v. For command-line tools. */
void dkim_verifier_lookup_sync(struct dkim_verifier *v,
			       struct dns_resolver *resolver);

/* Called when every key lookup started by dkim_verifier_lookup() has
 * answered (on the loop thread, never from inside the call). */
typedef void dkim_lookup_done_cb_t(void *ctx);
struct dkim_lookup;
/* Starts the key lookups of v (call once header_done) on the resolver's
 * loop. The handle cancels them (dkim_lookup_cancel()) and is freed when
 * cb runs. v must outlive the lookups. Keys the DNS cache holds are
 * given to v inside this call. NULL when nothing is left to wait for
 * (cb will not run). */
struct dkim_lookup *dkim_verifier_lookup(struct dkim_verifier *v,
					 struct dns_resolver *resolver,
					 dkim_lookup_done_cb_t *cb, void *ctx);
void dkim_lookup_cancel(struct dkim_lookup **lookup);

/* ---- Signing ---- */

/* A private key that signs for domain with selector. */
struct dkim_sign_key {
	enum dkim_algorithm alg;
	char *domain;
	char *selector;
	struct evp_pkey_st *pkey;
	unsigned bits;
};

/* Loads a PEM private key (RSA of DKIM_RSA_BITS_MIN..MAX bits or
 * Ed25519); the algorithm follows from the key. Parsed keys are kept per
 * process (64 files; a file is read again when its inode, size or mtime
 * change), so loading a key per message costs a stat. Thread-safe.
 * Returns 0, or -1 with an allocated *error_r. */
int dkim_sign_key_load(const char *path, const char *domain,
		       const char *selector, struct dkim_sign_key **key_r,
		       char **error_r);
void dkim_sign_key_free(struct dkim_sign_key **key);
/* The key record to publish at SELECTOR._domainkey.DOMAIN:
 * "v=DKIM1; k=rsa; p=..." (appended to out, no quoting or splitting). */
void dkim_sign_key_record(const struct dkim_sign_key *key, struct buf *out);

/* Header fields signed when present (RFC 6376 5.4.1 and the MIME fields);
 * each listed as many times as it occurs. NULL-terminated. */
extern const char *const dkim_sign_default_headers[];
/* Signed once more than they occur (oversigned, RFC 6376 8.15), so that
 * adding one breaks the signature. NULL-terminated. */
extern const char *const dkim_sign_default_oversign[];

struct dkim_sign_params {
	enum dkim_canon hcanon, bcanon;	/* relaxed/relaxed by default */
	time_t now;			/* t=; 0: time(NULL) */
	uint64_t expire_s;		/* x= t + this; 0: no x= */
	bool body_length;		/* add l= (not advised) */
	const char *const *headers;	/* NULL: dkim_sign_default_headers */
	const char *const *oversign;	/* NULL: dkim_sign_default_oversign */
	size_t header_max;		/* octets of the header kept; 0: 1 MiB */
	/* > 0: make an ARC-Message-Signature of this instance instead
	 * (RFC 8617 4.1.2: i=N, no v=, never l=); see arc.h */
	unsigned arc_instance;
	/* Called once, when the header is complete, with the From domain
	 * (NULL when there is no single one); false: no key will sign it,
	 * so the body is not hashed (a server signing only its domains'
	 * mail learns that before the body streams in; dkim_signer_finish
	 * then fails). NULL: always. */
	bool (*header_cb)(const char *from_domain, void *ctx);
	void *header_ctx;
};

struct dkim_signer;

/* A signer for one message; params NULL: the defaults. */
struct dkim_signer *dkim_signer_new(const struct dkim_sign_params *params);
/* Adds a key (each makes one signature, in the order added); any time
 * before finish, e.g. once dkim_signer_from_domain() is known. The key
 * must outlive the signer. */
void dkim_signer_add_key(struct dkim_signer *s,
			 const struct dkim_sign_key *key);
void dkim_signer_free(struct dkim_signer **s);
/* The message in pieces, as dkim_verifier_feed(). */
void dkim_signer_feed(struct dkim_signer *s, const uint8_t *data, size_t len);
/* Whether the header is complete (its empty line fed): from then on
 * dkim_signer_from_domain() answers, so a caller can drop a signer with
 * no key to sign with before the body is hashed. */
bool dkim_signer_header_done(const struct dkim_signer *s);
/* The message has ended (no more feed): a header without the empty line
 * that ends it is complete now, so dkim_signer_from_domain() can answer.
 * dkim_signer_finish() does it too. */
void dkim_signer_end_input(struct dkim_signer *s);
/* The end of the message: appends one folded DKIM-Signature field per key
 * (each ending in CRLF) to out, to be put before the message's header.
 * Returns 0, or -1 with a static *error_r (a header over header_max, a
 * message with no From field, a key that failed to sign). */
int dkim_signer_finish(struct dkim_signer *s, struct buf *out,
		       const char **error_r);
/* The domain of the message's From field (lower case), once the header
 * is complete (its empty line fed, or dkim_signer_end_input()); NULL when there is no From field, several of them, or a
 * From with no single addr-spec. For choosing the keys of "our" domain. */
const char *dkim_signer_from_domain(const struct dkim_signer *s);
/* Whether params.header_cb said no key will sign this message (the body
 * was skipped); false before the header is complete. Lets the caller
 * decide without asking its key store a second time. */
bool dkim_signer_refused_at_header(const struct dkim_signer *s);

/* ---- The key store (data_dir/dkim/DOMAIN/SELECTOR.key) ---- */

/* A domain or selector as the key store takes them: dot-separated labels
 * of lower-case letters, digits, '-' and '_' (IDNs as A-labels). */
bool dkim_name_is_valid(const char *s);

/* Generates a key (RSA of bits bits, or Ed25519) and writes it, mode
 * 0600, as data_dir/dkim/DOMAIN/SELECTOR.key (directories made 0700; the
 * caller runs as the user the workers run as, so the files are theirs).
 * created and sign_after are kept in the file: the key signs from
 * sign_after on. An existing selector is an error. Returns 0 with the
 * path in *path_r (caller frees), or -1 with an allocated *error_r. */
int dkim_keystore_generate(const char *data_dir, const char *domain,
			   const char *selector, enum dkim_algorithm alg,
			   unsigned bits, time_t created, time_t sign_after,
			   char **path_r, char **error_r);

enum dkim_key_state {
	DKIM_KEY_ACTIVE,	/* signs: the newest of its algorithm due */
	DKIM_KEY_PENDING,	/* made for a rotation: signs from sign_after */
	DKIM_KEY_RETIRED,	/* a newer one signs; keep it published a
				 * while (docs/mailauth.md), then delete */
	DKIM_KEY_BROKEN,	/* the file does not load: see error */
};

/* "active", "pending", "retired", "broken". */
const char *dkim_key_state_name(enum dkim_key_state state);

struct dkim_key_info {
	char *domain, *selector, *path;
	enum dkim_algorithm alg;
	unsigned bits;
	time_t created, sign_after;
	enum dkim_key_state state;	/* at the time given to list */
	char *record;		/* the TXT record to publish, or NULL */
	char *error;		/* DKIM_KEY_BROKEN: why */
};

/* Every key of domain (NULL: of every domain), sorted by domain,
 * algorithm (RSA first) and newest first, with their state at now.
 * Returns 0 (no keys: *n_r 0), or -1 with an allocated *error_r. */
int dkim_keystore_list(const char *data_dir, const char *domain, time_t now,
		       struct dkim_key_info **infos_r, size_t *n_r,
		       char **error_r);
void dkim_key_infos_free(struct dkim_key_info **infos, size_t n);
/* Whether domain has a directory in the key store (one stat: cheap
 * enough for an event-loop thread, to skip the pool when there is
 * nothing to sign with). */
bool dkim_keystore_has_domain(const char *data_dir, const char *domain);
/* The active keys of domain at now, RSA first (the signature every
 * receiver checks; Ed25519 is an extra). *n_r 0 when it has none. */
int dkim_keystore_load_signing(const char *data_dir, const char *domain,
			       time_t now, struct dkim_sign_key ***keys_r,
			       size_t *n_r, char **error_r);
void dkim_sign_keys_free(struct dkim_sign_key ***keys, size_t n);

#endif
