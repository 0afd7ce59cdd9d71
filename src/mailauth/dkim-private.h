/* SPDX-License-Identifier: MIT */
/*
 * Inside the DKIM module: the message reader the signer and the verifier
 * share. It keeps the header (split into fields, bare LF read as CRLF) and
 * hands the body on, in pieces, to a callback.
 */
#ifndef HERALD_MAILAUTH_DKIM_PRIVATE_H
#define HERALD_MAILAUTH_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

typedef void dkim_msg_body_cb_t(const uint8_t *data, size_t len, void *ctx);
typedef void dkim_msg_header_cb_t(void *ctx);

/* One header field inside struct dkim_msg's header: header.data[start ..
 * start + len) is "Name: value" with its folding, without the last CRLF. */
struct dkim_field {
	size_t start, len;
	size_t name_len;	/* 0: a line with no colon (never matches) */
	bool used;		/* taken by the current h= selection */
};

struct dkim_msg {
	size_t header_max;
	struct buf header;
	struct dkim_field *fields;
	size_t n_fields;
	size_t cap_fields;
	bool header_done;
	bool header_too_big;
	bool cr;		/* the last octet seen was a CR */
	bool line_empty;	/* nothing on the current header line yet */
	/* set by on_header when nothing will be done with the body: the
	 * rest is not even scanned */
	bool skip_body;
	/* the header is only scanned for its end, not kept nor split: its
	 * reader reads another dkim_msg's (ARC's, sharing DKIM's) */
	bool no_copy;
	dkim_msg_header_cb_t *on_header;
	dkim_msg_body_cb_t *on_body;
	void *ctx;
};

void dkim_msg_init(struct dkim_msg *m, size_t header_max,
		   dkim_msg_header_cb_t *on_header, dkim_msg_body_cb_t *on_body,
		   void *ctx);
void dkim_msg_deinit(struct dkim_msg *m);
/* Ready for another message as after dkim_msg_init() with the same
 * callbacks, keeping the header's and the field list's memory (unless
 * a big header grew them). */
void dkim_msg_reset(struct dkim_msg *m, size_t header_max);
void dkim_msg_feed(struct dkim_msg *m, const uint8_t *data, size_t len);
/* The end: a message without an empty line is all header. */
void dkim_msg_finish(struct dkim_msg *m);
/* The message reader of a DKIM verifier (its header and fields, for the
 * ARC verifier of the same message: arc_verifier_share_header()). */
const struct dkim_msg *dkim_verifier_msg(const struct dkim_verifier *v);
/* Does field f have this name (case-insensitive)? */
bool dkim_msg_field_is(const struct dkim_msg *m, const struct dkim_field *f,
		       const char *name);
/* The value (after the colon) of field f. */
const char *dkim_msg_field_value(const struct dkim_msg *m,
				 const struct dkim_field *f, size_t *len_r);
/* Appends the header hash input of h= names (RFC 6376 5.4.2: for a name
 * listed n times, the last n instances bottom up; a name with no instance
 * left adds nothing), each canonicalized and ending in CRLF. */
void dkim_msg_hash_headers(struct dkim_msg *m, char *const *names,
			   size_t n_names, int canon, struct buf *out);

/* ---- shared with ARC (src/mailauth/arc-*.c) ---- */

/* Parses an ARC-Message-Signature value (RFC 8617 4.1.2): the tags of a
 * DKIM-Signature (same rules, From in h=) except that i= is the instance
 * (1..ARC_INSTANCE_LIMIT, in *instance_r) and v= is not required; l= is
 * refused (ARC does not support it) and so is ARC-Seal in h=. Returns 0,
 * or -1 with a static *error_r. */
int dkim_ams_parse(const char *value, size_t len, struct dkim_signature *sig_r,
		   unsigned *instance_r, const char **error_r);
/* A decimal instance number i= (1..limit): 0, or -1 when it is not one. */
int dkim_instance_parse(const char *v, unsigned limit, unsigned *instance_r);
/* Base64 with folding white space inside (b=, bh=, p=) into out. */
int dkim_base64_fws_decode(const char *v, struct buf *out);
/* A domain or selector as DKIM names them (d=, s=). */
bool dkim_dns_name_is_valid(const char *s);
/* dkim_key_parse() through a per-process cache of parsed records (64,
 * by their whole text; only those that parse): OpenSSL 3 takes longer
 * to decode an RSA key than to check a signature with it. *key_r holds
 * its own reference (dkim_key_deinit()). Thread-safe. */
int dkim_key_parse_cached(const char *txt, size_t len,
			  struct dkim_key *key_r, const char **error_r);
/* Key record lookups (TXT) for a verifier of either kind, DKIM's or
 * ARC's: name_fn(v, i) names key i's record (NULL: nothing to ask),
 * set_fn(v, i, res) hands it the answer. _start() hands over at once the
 * answers the DNS cache holds (dns_lookup_now()), asks the others all at
 * once on the resolver's loop and runs cb when the last is in, the handle
 * freed by then (dkim_lookup_cancel() stops them; NULL: nothing to wait
 * for, cb will not run);
 * _sync() asks one after the other (tools). */
struct dns_resolver;
struct dns_result;
typedef const char *dkim_key_name_fn(void *v, size_t i);
typedef void dkim_key_set_fn(void *v, size_t i, const struct dns_result *res);
struct dkim_lookup *dkim_key_lookups_start(struct dns_resolver *resolver,
					   void *v, size_t n_keys,
					   dkim_key_name_fn *name_fn,
					   dkim_key_set_fn *set_fn,
					   dkim_lookup_done_cb_t *cb,
					   void *ctx);
void dkim_key_lookups_sync(struct dns_resolver *resolver, void *v,
			   size_t n_keys, dkim_key_name_fn *name_fn,
			   dkim_key_set_fn *set_fn);
/* Whether sig (b64-decoded) is key's signature of data with alg
 * (rsa-sha256 over data; ed25519 over its SHA-256, RFC 8463 3). */
bool dkim_verify_data(const struct dkim_key *key, enum dkim_algorithm alg,
		      const uint8_t *data, size_t len, const uint8_t *sig,
		      size_t sig_len);
/* Sets dkim_sign_params.arc_instance once it is known (before finish). */
void dkim_signer_set_arc_instance(struct dkim_signer *s, unsigned instance);
/* Appends key's base64 signature of data (alg from the key). Returns 0,
 * or -1 when OpenSSL fails. */
int dkim_sign_data(const struct dkim_sign_key *key, const uint8_t *data,
		   size_t len, struct buf *sig_b64);

#endif
