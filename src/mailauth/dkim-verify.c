/* SPDX-License-Identifier: MIT */
/*
 * DKIM verification (RFC 6376 6): the signatures are found when the
 * header is complete, their body hashes computed while the body streams
 * in (one canonicalizer per algorithm, one hash per signature, stopping
 * at l=), and each signature decided once the message has ended and its
 * key has come.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "dns/dns.h"
#include "lib/mem.h"
#include "lib/sha256.h"
#include "lib/textcache.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dkim.h"

struct sig_state {
	struct dkim_signature sig;
	bool parsed;
	size_t field;		/* index in msg.fields */
	char *key_name;		/* NULL: no key needed; else key_buf or
				 * allocated (a name too long for it) */
	char key_buf[128];
	struct dkim_key key;
	bool key_set;
	EVP_MD_CTX *md;		/* the body hash, while it runs */
	uint64_t hashed;
	uint8_t bh[EVP_MAX_MD_SIZE];
	unsigned bh_len;
	bool decided;
	char *reason;		/* owned text for res.reason */
	char *rep_domain, *rep_selector;	/* d=, s= of a bad signature */
	char header_b[9];
	struct dkim_verify_result res;
};

struct canon_ctx {
	struct dkim_verifier *v;
	enum dkim_canon canon;
};

struct dkim_verifier {
	struct dkim_verify_limits lim;
	struct dkim_msg msg;
	struct dkim_body_canon bc[2];
	struct canon_ctx cctx[2];
	bool bc_used[2];
	struct sig_state *sigs;
	size_t n;
	size_t cap_sigs;	/* sigs kept across dkim_verifier_reset() */
	/* hash contexts kept across messages (OpenSSL 3 allocates two
	 * for a new one, one to start a kept one again) */
	EVP_MD_CTX *md_spare[2];
	/* the header hash input and the signature's field, kept across
	 * signatures and messages */
	struct buf hin, hfield;
	bool finished;
};

/* A hash context ready for a new SHA-256: a kept one when there is one. */
static EVP_MD_CTX *
md_get(struct dkim_verifier *v)
{
	EVP_MD_CTX *md = NULL;

	for (size_t i = 0; i < 2 && md == NULL; i++) {
		md = v->md_spare[i];
		v->md_spare[i] = NULL;
	}
	if (md == NULL && (md = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestInit_ex(md, sha256_md(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	return md;
}

/* Keeps md for the next signature (two at most), else frees it. */
static void
md_put(struct dkim_verifier *v, EVP_MD_CTX **md)
{
	if (*md == NULL)
		return;
	for (size_t i = 0; i < 2; i++) {
		if (v->md_spare[i] == NULL) {
			v->md_spare[i] = *md;
			*md = NULL;
			return;
		}
	}
	EVP_MD_CTX_free(*md);
	*md = NULL;
}

const char *
dkim_result_name(enum dkim_result result)
{
	switch (result) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_NEUTRAL: return "neutral";
	case DKIM_RESULT_POLICY: return "policy";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "permerror";
}

const char *
dkim_algorithm_name(enum dkim_algorithm alg)
{
	return alg == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

const char *
dkim_algorithm_key_type(enum dkim_algorithm alg)
{
	return alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa";
}

static void
decide(struct dkim_verifier *v, struct sig_state *s, enum dkim_result result,
       const char *reason)
{
	s->decided = true;
	s->res.result = result;
	if (reason != NULL) {
		free(s->reason);
		s->reason = xstrdup(reason);
	}
	s->res.reason = s->reason;
	md_put(v, &s->md);
}

static void
body_out(const uint8_t *data, size_t len, void *ctx)
{
	struct canon_ctx *cc = ctx;
	struct dkim_verifier *v = cc->v;

	for (size_t i = 0; i < v->n; i++) {
		struct sig_state *s = &v->sigs[i];
		size_t n = len;

		if (s->md == NULL || s->sig.bcanon != cc->canon)
			continue;
		if (s->sig.has_l) {
			if (s->hashed >= s->sig.l)
				continue;
			if (s->sig.l - s->hashed < n)
				n = (size_t)(s->sig.l - s->hashed);
		}
		EVP_DigestUpdate(s->md, data, n);
		s->hashed += n;
	}
}

/* The d= and s= of a signature that did not parse, for the report. */
static void
salvage_names(struct sig_state *s, const char *value, size_t len)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *t;
	const char *err;

	if (dkim_tags_parse(value, len, &tags, &err) < 0)
		return;
	if ((t = dkim_tags_get(&tags, "d")) != NULL && strlen(t->value) < 256)
		s->rep_domain = xstrdup(t->value);
	if ((t = dkim_tags_get(&tags, "s")) != NULL && strlen(t->value) < 256)
		s->rep_selector = xstrdup(t->value);
	dkim_tags_deinit(&tags);
}

static void
setup_signature(struct dkim_verifier *v, struct sig_state *s, size_t index)
{
	const struct dkim_field *f = &v->msg.fields[s->field];
	const char *value, *err;
	size_t len;

	value = dkim_msg_field_value(&v->msg, f, &len);
	if (index >= v->lim.max_signatures) {
		salvage_names(s, value, len);
		decide(v, s, DKIM_RESULT_POLICY,
		       "not verified: over [mailauth] dkim_verify_max_signatures");
		return;
	}
	if (dkim_signature_parse(value, len, &s->sig, &err) < 0) {
		salvage_names(s, value, len);
		decide(v, s, DKIM_RESULT_PERMERROR, err);
		return;
	}
	s->parsed = true;
	if (s->sig.has_x && (int64_t)v->lim.now > s->sig.x) {
		decide(v, s, DKIM_RESULT_PERMERROR, "signature expired (x=)");
		return;
	}
	if (s->sig.has_t &&
	    s->sig.t > (int64_t)v->lim.now + (int64_t)v->lim.clock_skew_s) {
		decide(v, s, DKIM_RESULT_PERMERROR,
		       "signature timestamp in the future (t=)");
		return;
	}
	/* selector and domain are at most 253 octets each (parsed) */
	if ((size_t)snprintf(s->key_buf, sizeof(s->key_buf),
			     "%s._domainkey.%s", s->sig.selector,
			     s->sig.domain) < sizeof(s->key_buf))
		s->key_name = s->key_buf;
	else
		s->key_name = xasprintf("%s._domainkey.%s", s->sig.selector,
					s->sig.domain);
	s->md = md_get(v);
	if (s->md == NULL) {
		decide(v, s, DKIM_RESULT_TEMPERROR, "out of memory (hash)");
		return;
	}
	if (!v->bc_used[s->sig.bcanon]) {
		v->bc_used[s->sig.bcanon] = true;
		v->cctx[s->sig.bcanon].v = v;
		v->cctx[s->sig.bcanon].canon = s->sig.bcanon;
		dkim_body_canon_init(&v->bc[s->sig.bcanon], s->sig.bcanon,
				     body_out, &v->cctx[s->sig.bcanon]);
	}
}

/* Room for n zeroed signature states: the array of an earlier message
 * is kept (most messages have one or two signatures). */
static void
sigs_alloc(struct dkim_verifier *v, size_t n)
{
	if (n > v->cap_sigs) {
		free(v->sigs);
		v->sigs = xcalloc(n, sizeof(*v->sigs));
		v->cap_sigs = n;
		return;
	}
	memset(v->sigs, 0, n * sizeof(*v->sigs));
}

static void
on_header(void *ctx)
{
	struct dkim_verifier *v = ctx;
	size_t count = 0;

	if (v->msg.header_too_big) {
		v->msg.skip_body = true;
		sigs_alloc(v, 1);
		v->n = 1;
		decide(v, &v->sigs[0], DKIM_RESULT_PERMERROR,
		       "header over [mailauth] dkim_header_max: not verified");
		return;
	}
	for (size_t i = 0; i < v->msg.n_fields; i++) {
		if (dkim_msg_field_is(&v->msg, &v->msg.fields[i],
				      "DKIM-Signature"))
			count++;
	}
	sigs_alloc(v, count > 0 ? count : 1);
	for (size_t i = 0; i < v->msg.n_fields; i++) {
		struct sig_state *s;

		if (!dkim_msg_field_is(&v->msg, &v->msg.fields[i],
				       "DKIM-Signature"))
			continue;
		s = &v->sigs[v->n];
		s->field = i;
		setup_signature(v, s, v->n);
		v->n++;
	}
	/* no signature to check the body against: not even scanned */
	v->msg.skip_body = !v->bc_used[0] && !v->bc_used[1];
}

static void
on_body(const uint8_t *data, size_t len, void *ctx)
{
	struct dkim_verifier *v = ctx;

	for (int c = 0; c < 2; c++) {
		if (v->bc_used[c])
			dkim_body_canon_feed(&v->bc[c], data, len);
	}
}

static void
set_limits(struct dkim_verifier *v, const struct dkim_verify_limits *lim)
{
	v->lim = *lim;
	if (v->lim.now == 0)
		v->lim.now = time(NULL);
	if (v->lim.header_max == 0)
		v->lim.header_max = 1024 * 1024;
}

struct dkim_verifier *
dkim_verifier_new(const struct dkim_verify_limits *lim)
{
	struct dkim_verifier *v = xcalloc(1, sizeof(*v));

	set_limits(v, lim);
	dkim_msg_init(&v->msg, v->lim.header_max, on_header, on_body, v);
	buf_init(&v->hin);
	buf_init(&v->hfield);
	return v;
}

/* The states' contents; the array stays (sigs_alloc()). */
static void
sigs_clear(struct dkim_verifier *v)
{
	for (size_t i = 0; i < v->n; i++) {
		struct sig_state *s = &v->sigs[i];

		dkim_signature_deinit(&s->sig);
		dkim_key_deinit(&s->key);
		md_put(v, &s->md);
		if (s->key_name != s->key_buf)
			free(s->key_name);
		free(s->reason);
		free(s->rep_domain);
		free(s->rep_selector);
	}
	v->n = 0;
}

/* Buffers a reset keeps: a usual message's, not a rare big one's. */
#define KEEP_SIGS 8
#define KEEP_HASH_INPUT (64 * 1024)

void
dkim_verifier_reset(struct dkim_verifier *v,
		    const struct dkim_verify_limits *lim)
{
	sigs_clear(v);
	if (v->cap_sigs > KEEP_SIGS) {
		free(v->sigs);
		v->sigs = NULL;
		v->cap_sigs = 0;
	}
	if (v->hin.cap > KEEP_HASH_INPUT) {
		buf_deinit(&v->hin);
		buf_init(&v->hin);
	}
	if (v->hfield.cap > KEEP_HASH_INPUT) {
		buf_deinit(&v->hfield);
		buf_init(&v->hfield);
	}
	memset(v->bc, 0, sizeof(v->bc));
	memset(v->cctx, 0, sizeof(v->cctx));
	memset(v->bc_used, 0, sizeof(v->bc_used));
	v->finished = false;
	set_limits(v, lim);
	dkim_msg_reset(&v->msg, v->lim.header_max);
}

void
dkim_verifier_free(struct dkim_verifier **vp)
{
	struct dkim_verifier *v = *vp;

	if (v == NULL)
		return;
	sigs_clear(v);
	free(v->sigs);
	for (size_t i = 0; i < 2; i++)
		EVP_MD_CTX_free(v->md_spare[i]);
	buf_deinit(&v->hin);
	buf_deinit(&v->hfield);
	dkim_msg_deinit(&v->msg);
	free(v);
	*vp = NULL;
}

void
dkim_verifier_feed(struct dkim_verifier *v, const uint8_t *data, size_t len)
{
	/* a header without a signature to check: the body is not looked
	 * at (most mail, and every relayed message, has none) */
	if (v->msg.header_done && !v->bc_used[0] && !v->bc_used[1])
		return;
	dkim_msg_feed(&v->msg, data, len);
}

/* dkim-private.h */
const struct dkim_msg *
dkim_verifier_msg(const struct dkim_verifier *v)
{
	return &v->msg;
}

bool
dkim_verifier_header_done(const struct dkim_verifier *v)
{
	return v->msg.header_done;
}

const char *
dkim_verifier_header(const struct dkim_verifier *v, size_t *len_r)
{
	*len_r = 0;
	if (!v->msg.header_done || v->msg.header_too_big)
		return NULL;
	*len_r = v->msg.header.len;
	return v->msg.header.data;
}

size_t
dkim_verifier_count(const struct dkim_verifier *v)
{
	return v->n;
}

const char *
dkim_verifier_key_name(const struct dkim_verifier *v, size_t i)
{
	if (i >= v->n || v->sigs[i].decided || v->sigs[i].key_set)
		return NULL;
	return v->sigs[i].key_name;
}

/* Parsed key records by their text. A domain's key record comes with
 * every message it sends, and OpenSSL 3 decodes an RSA public key
 * (d2i_PUBKEY, its decoder framework) in some 100 us, more than the
 * signature check itself: the second message of a domain reuses the
 * first one's key. Keyed on the whole record, so a changed record (a
 * rotation, a revocation) is parsed afresh; the DNS cache's TTL decides
 * when it is seen. Only keys that parsed are kept. */
static void
vkey_share(void *dst, void *src)
{
	*(struct dkim_key *)dst = *(struct dkim_key *)src;
	EVP_PKEY_up_ref(((struct dkim_key *)src)->pkey);
}

static void
vkey_free(void *key)
{
	dkim_key_deinit(key);
}

/* 64 records of up to 2 KB (an 8192-bit RSA key's is ~1.4 KB) */
static struct textcache vkey_cache = TEXTCACHE_INIT(64, 2048,
	sizeof(struct dkim_key), vkey_share, vkey_free);

/* dkim-private.h */
int
dkim_key_parse_cached(const char *txt, size_t len, struct dkim_key *key_r,
		 const char **error_r)
{
	if (textcache_get(&vkey_cache, txt, len, key_r))
		return 0;
	if (dkim_key_parse(txt, len, key_r, error_r) < 0)
		return -1;
	textcache_put(&vkey_cache, txt, len, key_r);
	return 0;
}


/* RSA verification contexts, made ready once per key and copied for each
 * signature: EVP_DigestVerifyInit() fetches the signature algorithm and
 * sets padding and digest up afresh (about 3 us single-threaded, more
 * with the workers contending for OpenSSL's store locks), while a copy
 * of a ready context costs a fraction of that. Keyed by the EVP_PKEY,
 * whose reference the table holds (the key cache hands out the same one
 * for every message of a domain); the templates are only read, under
 * the lock, to be copied. */
#define VCTX_CACHE_SIZE 16

static struct vctx_entry {
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *tmpl;
} vctx_cache[VCTX_CACHE_SIZE];
static size_t vctx_next;
static pthread_mutex_t vctx_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vctx_entry *
vctx_find_locked(const EVP_PKEY *pkey)
{
	for (size_t i = 0; i < VCTX_CACHE_SIZE; i++) {
		if (vctx_cache[i].pkey == pkey)
			return &vctx_cache[i];
	}
	return NULL;
}

/* A context ready for EVP_PKEY_verify() of an rsa-sha256 signature
 * (PKCS#1 v1.5 over a SHA-256 digest) with pkey; NULL on failure. */
static EVP_PKEY_CTX *
rsa_verify_ctx(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = NULL, *tmpl;
	struct vctx_entry *e;

	pthread_mutex_lock(&vctx_lock);
	if ((e = vctx_find_locked(pkey)) != NULL)
		ctx = EVP_PKEY_CTX_dup(e->tmpl);
	pthread_mutex_unlock(&vctx_lock);
	if (e != NULL)
		return ctx;
	tmpl = EVP_PKEY_CTX_new(pkey, NULL);
	if (tmpl == NULL || EVP_PKEY_verify_init(tmpl) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(tmpl, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(tmpl, sha256_md()) != 1 ||
	    (ctx = EVP_PKEY_CTX_dup(tmpl)) == NULL) {
		EVP_PKEY_CTX_free(tmpl);
		return NULL;
	}
	pthread_mutex_lock(&vctx_lock);
	if (vctx_find_locked(pkey) == NULL) {
		e = &vctx_cache[vctx_next];
		vctx_next = (vctx_next + 1) % VCTX_CACHE_SIZE;
		EVP_PKEY_CTX_free(e->tmpl);
		EVP_PKEY_free(e->pkey);
		EVP_PKEY_up_ref(pkey);
		e->pkey = pkey;
		e->tmpl = tmpl;
		tmpl = NULL;
	}
	pthread_mutex_unlock(&vctx_lock);
	EVP_PKEY_CTX_free(tmpl);	/* another thread was first */
	return ctx;
}

/* Ed25519 signatures are checked by libsodium: some 2.3 times faster
 * than OpenSSL 3's EVP path here (78 against 184 us on a loaded 2-core
 * machine), and as strict (RFC 8032 with canonical S and no small-order
 * keys). */
static bool sodium_ok;
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_start(void)
{
	sodium_ok = sodium_init() >= 0;
}

static bool
ed25519_verify(EVP_PKEY *pkey, const uint8_t *sig, size_t sig_len,
	       const uint8_t *digest, size_t digest_len)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	size_t pk_len = sizeof(pk);
	EVP_MD_CTX *ctx;
	bool ok;

	pthread_once(&sodium_once, sodium_start);
	if (sodium_ok) {
		return sig_len == crypto_sign_BYTES &&
		       EVP_PKEY_get_raw_public_key(pkey, pk, &pk_len) == 1 &&
		       pk_len == sizeof(pk) &&
		       crypto_sign_verify_detached(sig, digest, digest_len,
						   pk) == 0;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		abort();
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	     EVP_DigestVerify(ctx, sig, sig_len, digest, digest_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

bool
dkim_verify_data(const struct dkim_key *key, enum dkim_algorithm alg,
		 const uint8_t *data, size_t len, const uint8_t *sig,
		 size_t sig_len)
{
	uint8_t digest[32];
	EVP_PKEY_CTX *ctx;
	bool ok;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: Ed25519 (pure) over the SHA-256 of the data */
		unsigned dlen = 0;

		return EVP_Digest(data, len, digest, &dlen, sha256_md(),
				  NULL) == 1 &&
		       ed25519_verify(key->pkey, sig, sig_len, digest, dlen);
	}
	unsigned dlen = 0;

	if (EVP_Digest(data, len, digest, &dlen, sha256_md(), NULL) != 1)
		return false;
	ctx = rsa_verify_ctx(key->pkey);
	if (ctx == NULL)
		return false;
	ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* The header hash input and the signature check (RFC 6376 6.1.3). */
static void
check_signature(struct dkim_verifier *v, struct sig_state *s)
{
	const struct dkim_field *f = &v->msg.fields[s->field];
	const char *fs = v->msg.header.data + f->start;
	size_t voff, len;
	struct buf *in = &v->hin, *field = &v->hfield;
	bool ok;

	buf_reset(in);
	buf_reset(field);
	dkim_msg_hash_headers(&v->msg, s->sig.headers, s->sig.n_headers,
			      s->sig.hcanon, in);
	/* the signature's own field, its b= value (and the white space
	 * around it) taken out, canonicalized, without the final CRLF */
	(void)dkim_msg_field_value(&v->msg, f, &len);
	voff = f->len - len;
	buf_append(field, fs, voff + s->sig.b_value_start);
	buf_append(field, fs + voff + s->sig.b_value_end,
		   len - s->sig.b_value_end);
	dkim_header_canon(s->sig.hcanon, field->data, field->len, in);

	ok = dkim_verify_data(&s->key, s->sig.alg, (const uint8_t *)in->data,
			      in->len, s->sig.b, s->sig.b_len);
	if (!ok) {
		decide(v, s, s->key.testing ? DKIM_RESULT_NEUTRAL :
		       DKIM_RESULT_FAIL,
		       s->key.testing ? "signature mismatch (key in testing, t=y)"
		       : "signature mismatch");
		return;
	}
	decide(v, s, DKIM_RESULT_PASS, NULL);
	if (s->res.body_partial) {
		char note[160];

		snprintf(note, sizeof(note),
			 "%llu octets of body after l=%llu not covered",
			 (unsigned long long)(s->res.body_len - s->sig.l),
			 (unsigned long long)s->sig.l);
		decide(v, s, DKIM_RESULT_PASS, note);
	}
}

static void
try_decide(struct dkim_verifier *v, struct sig_state *s)
{
	const char *at;

	if (s->decided || !v->finished || !s->key_set)
		return;
	if (s->key.alg != s->sig.alg) {
		decide(v, s, DKIM_RESULT_PERMERROR, "key type does not match a=");
		return;
	}
	if (s->key.strict && s->sig.auid != NULL &&
	    ((at = strrchr(s->sig.auid, '@')) == NULL ||
	     strcasecmp(at + 1, s->sig.domain) != 0)) {
		decide(v, s, DKIM_RESULT_PERMERROR,
		       "i= is a subdomain of d= and the key has t=s");
		return;
	}
	if (s->bh_len != s->sig.bh_len ||
	    memcmp(s->bh, s->sig.bh, s->bh_len) != 0) {
		decide(v, s, s->key.testing ? DKIM_RESULT_NEUTRAL :
		       DKIM_RESULT_FAIL,
		       s->key.testing ? "body hash mismatch (key in testing, t=y)"
		       : "body hash mismatch");
		return;
	}
	check_signature(v, s);
}

void
dkim_verifier_set_key(struct dkim_verifier *v, size_t i,
		      const struct dns_result *res)
{
	struct sig_state *s;
	const char *err = "key record: no TXT record";
	char reason[128];

	if (i >= v->n || v->sigs[i].decided || v->sigs[i].key_set)
		return;
	s = &v->sigs[i];
	if (res->status == DNS_NXDOMAIN || res->status == DNS_NODATA) {
		snprintf(reason, sizeof(reason), "no key (%s)",
			 dns_status_name(res->status));
		decide(v, s, DKIM_RESULT_PERMERROR, reason);
		return;
	}
	if (res->status != DNS_OK) {
		snprintf(reason, sizeof(reason), "key lookup: %s",
			 dns_status_name(res->status));
		decide(v, s, DKIM_RESULT_TEMPERROR, reason);
		return;
	}
	for (size_t j = 0; j < res->count; j++) {
		const struct dns_txt *txt = &res->rrs[j].txt;

		if (dkim_key_parse_cached(txt->text, txt->text_len, &s->key,
					  &err) == 0) {
			s->key_set = true;
			s->res.key_bits = s->key.bits;
			s->res.testing = s->key.testing;
			try_decide(v, s);
			return;
		}
	}
	decide(v, s, DKIM_RESULT_PERMERROR, err);
}

void
dkim_verifier_finish(struct dkim_verifier *v)
{
	if (v->finished)
		return;
	dkim_msg_finish(&v->msg);
	for (int c = 0; c < 2; c++) {
		if (v->bc_used[c])
			dkim_body_canon_finish(&v->bc[c]);
	}
	v->finished = true;
	for (size_t i = 0; i < v->n; i++) {
		struct sig_state *s = &v->sigs[i];

		if (s->md != NULL) {
			EVP_DigestFinal_ex(s->md, s->bh, &s->bh_len);
			md_put(v, &s->md);
		}
		if (s->parsed) {
			s->res.body_len = v->bc[s->sig.bcanon].out_len;
			s->res.body_partial = s->sig.has_l &&
					      s->res.body_len > s->sig.l;
		}
		try_decide(v, s);
	}
}

const struct dkim_verify_result *
dkim_verifier_result(const struct dkim_verifier *vc, size_t i)
{
	struct dkim_verifier *v = (struct dkim_verifier *)vc;
	struct sig_state *s;

	if (i >= v->n)
		return NULL;
	s = &v->sigs[i];
	if (s->parsed) {
		s->res.domain = s->sig.domain;
		s->res.selector = s->sig.selector;
		s->res.auid = s->sig.auid;
		s->res.algorithm = dkim_algorithm_name(s->sig.alg);
		s->res.has_l = s->sig.has_l;
		s->res.l = s->sig.l;
		if (s->header_b[0] == '\0') {
			/* RFC 6008: the first characters of b= as written */
			const struct dkim_field *f = &v->msg.fields[s->field];
			const char *val;
			size_t len, k = 0;

			val = dkim_msg_field_value(&v->msg, f, &len);
			for (size_t j = s->sig.b_value_start;
			     j < s->sig.b_value_end && k < 8; j++) {
				char c = val[j];

				if (c != ' ' && c != '\t' && c != '\r' &&
				    c != '\n')
					s->header_b[k++] = c;
			}
			s->header_b[k] = '\0';
		}
		s->res.header_b = s->header_b;
	} else {
		s->res.domain = s->rep_domain;
		s->res.selector = s->rep_selector;
	}
	if (!s->decided) {
		/* asked before the end or before the key: not known yet */
		s->res.result = DKIM_RESULT_TEMPERROR;
		s->res.reason = v->finished ? "key not looked up" :
				"message not complete";
	}
	return &s->res;
}

void
dkim_key_lookups_sync(struct dns_resolver *resolver, void *v, size_t n,
		      dkim_key_name_fn *name_fn, dkim_key_set_fn *set_fn)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = name_fn(v, i);
		struct dns_result *res;

		if (name == NULL)
			continue;
		res = dns_lookup_sync(resolver, name, DNS_TYPE_TXT);
		set_fn(v, i, res);
		dns_result_free(&res);
	}
}

struct lookup_query {
	struct dkim_lookup *lk;
	struct dns_query *q;
	size_t index;
};

struct dkim_lookup {
	void *v;
	dkim_key_set_fn *set_fn;
	struct lookup_query *queries;
	size_t n, pending;
	dkim_lookup_done_cb_t *cb;
	void *ctx;
};

static void
lookup_free(struct dkim_lookup *lk)
{
	free(lk->queries);
	free(lk);
}

static void
lookup_answer(const struct dns_result *res, void *ctx)
{
	struct lookup_query *lq = ctx;
	struct dkim_lookup *lk = lq->lk;

	lq->q = NULL;
	lk->set_fn(lk->v, lq->index, res);
	if (--lk->pending == 0) {
		dkim_lookup_done_cb_t *cb = lk->cb;
		void *cctx = lk->ctx;

		lookup_free(lk);
		cb(cctx);
	}
}

struct dkim_lookup *
dkim_key_lookups_start(struct dns_resolver *resolver, void *v, size_t n_keys,
		       dkim_key_name_fn *name_fn, dkim_key_set_fn *set_fn,
		       dkim_lookup_done_cb_t *cb, void *ctx)
{
	struct dkim_lookup *lk;
	size_t n = 0;

	/* keys the DNS cache holds are handed over now: no loop turn for
	 * the usual sender, whose key came with its previous message */
	for (size_t i = 0; i < n_keys; i++) {
		const char *name = name_fn(v, i);
		struct dns_result *res;

		if (name == NULL)
			continue;
		res = dns_lookup_now(resolver, name, DNS_TYPE_TXT);
		if (res == NULL) {
			n++;
			continue;
		}
		set_fn(v, i, res);
		dns_result_free(&res);
	}
	if (n == 0)
		return NULL;
	lk = xcalloc(1, sizeof(*lk));
	lk->v = v;
	lk->set_fn = set_fn;
	lk->cb = cb;
	lk->ctx = ctx;
	lk->queries = xcalloc(n, sizeof(*lk->queries));
	lk->n = lk->pending = n;
	n = 0;
	for (size_t i = 0; i < n_keys; i++) {
		const char *name = name_fn(v, i);

		if (name == NULL)
			continue;
		lk->queries[n].lk = lk;
		lk->queries[n].index = i;
		lk->queries[n].q = dns_lookup(resolver, name, DNS_TYPE_TXT,
					      lookup_answer, &lk->queries[n]);
		n++;
	}
	return lk;
}

void
dkim_lookup_cancel(struct dkim_lookup **lkp)
{
	struct dkim_lookup *lk = *lkp;

	if (lk == NULL)
		return;
	for (size_t i = 0; i < lk->n; i++)
		dns_query_cancel(&lk->queries[i].q);
	lookup_free(lk);
	*lkp = NULL;
}

static const char *
verifier_key_name(void *v, size_t i)
{
	return dkim_verifier_key_name(v, i);
}

static void
verifier_set_key(void *v, size_t i, const struct dns_result *res)
{
	dkim_verifier_set_key(v, i, res);
}

void
dkim_verifier_lookup_sync(struct dkim_verifier *v,
			  struct dns_resolver *resolver)
{
	dkim_key_lookups_sync(resolver, v, v->n, verifier_key_name,
			      verifier_set_key);
}

struct dkim_lookup *
dkim_verifier_lookup(struct dkim_verifier *v, struct dns_resolver *resolver,
		     dkim_lookup_done_cb_t *cb, void *ctx)
{
	return dkim_key_lookups_start(resolver, v, v->n, verifier_key_name,
				      verifier_set_key, cb, ctx);
}
