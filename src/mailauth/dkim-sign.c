/* SPDX-License-Identifier: MIT */
/*
 * DKIM signing (RFC 6376 5, RFC 8463): the body hashed as the message
 * streams in, then one DKIM-Signature field per key over the recommended
 * header set, From/To/Subject/Date/Message-ID oversigned, folded to fit
 * 78 columns. Keys are PEM files (herald dkim keygen writes them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/sha256.h"
#include "lib/textcache.h"
#include "mail/header-address.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dkim.h"

const char *const dkim_sign_default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "resent-date", "resent-from",
	"resent-to", "resent-cc", "list-id", "list-help", "list-unsubscribe",
	"list-unsubscribe-post", "list-subscribe", "list-post", "list-owner",
	"list-archive", NULL,
};

const char *const dkim_sign_default_oversign[] = {
	"from", "to", "subject", "date", "message-id", NULL,
};

#define SIGN_HEADER_MAX_DEFAULT (1024 * 1024)
#define FOLD_WIDTH 78

struct dkim_signer {
	struct dkim_sign_params params;
	const struct dkim_sign_key **keys;
	size_t n_keys;
	struct dkim_msg msg;
	struct dkim_body_canon bc;
	EVP_MD_CTX *md;
	char *from_domain;
	bool finished;
	bool body_off;		/* header_cb said no: the body is skipped */
};

void
dkim_sign_key_free(struct dkim_sign_key **keyp)
{
	struct dkim_sign_key *key = *keyp;

	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key->domain);
	free(key->selector);
	free(key);
	*keyp = NULL;
}

/* Parsed private keys by file: OpenSSL's PEM decoding of a 2048-bit RSA
 * key costs more than a signature, and the submission path reads the
 * keys for every message (so that a rotation needs no reload). Keyed on
 * the path and the file's device, inode, size and mtime, so a file is
 * parsed again when one changes (keygen writes a new file and renames
 * it). Shared by the pool threads: an EVP_PKEY is only read when
 * signing, and each user holds a reference. */
static void
skey_share(void *dst, void *src)
{
	*(EVP_PKEY **)dst = *(EVP_PKEY **)src;
	EVP_PKEY_up_ref(*(EVP_PKEY **)src);
}

static void
skey_free(void *pkey)
{
	EVP_PKEY_free(*(EVP_PKEY **)pkey);
}

/* path, a NUL, then five decimal fields each after a space */
#define SKEY_PATH_MAX 4096
#define SKEY_TEXT_MAX (SKEY_PATH_MAX + 1 + 5 * (1 + BUF_UINT_DEC_MAX))

static struct textcache skey_cache = TEXTCACHE_INIT(64, SKEY_TEXT_MAX,
	sizeof(EVP_PKEY *), skey_share, skey_free);

/* The cache's text for path as st describes it into out (SKEY_TEXT_MAX
 * octets); its length, or 0 for a path too long to keep. */
static size_t
skey_text(char *out, const char *path, const struct stat *st)
{
	uint64_t f[5] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino,
		(uint64_t)st->st_size, (uint64_t)st->st_mtim.tv_sec,
		(uint64_t)st->st_mtim.tv_nsec };
	size_t o = strlen(path);

	if (o > SKEY_PATH_MAX)
		return 0;
	memcpy(out, path, o);
	out[o++] = '\0';
	for (size_t i = 0; i < 5; i++) {
		out[o++] = ' ';
		o += buf_uint_to_dec(out + o, f[i]);
	}
	return o;
}

/* The parsed key of path (a new reference), from the cache or read now. */
static EVP_PKEY *
key_cache_get(const char *path, char **error_r)
{
	char text[SKEY_TEXT_MAX];
	size_t len;
	EVP_PKEY *pkey = NULL;
	struct stat st;
	FILE *fp;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		*error_r = xasprintf("cannot open %s: %s", path,
				     strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	len = skey_text(text, path, &st);
	if (len > 0 && textcache_get(&skey_cache, text, len, &pkey)) {
		close(fd);
		return pkey;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		*error_r = xasprintf("cannot read %s: %s", path,
				     strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL) {
		*error_r = xasprintf("%s: not a PEM private key", path);
		return NULL;
	}
	if (len > 0)
		textcache_put(&skey_cache, text, len, &pkey);
	return pkey;
}

int
dkim_sign_key_load(const char *path, const char *domain, const char *selector,
		   struct dkim_sign_key **key_r, char **error_r)
{
	struct dkim_sign_key *key;
	EVP_PKEY *pkey;
	int type;

	*key_r = NULL;
	if ((pkey = key_cache_get(path, error_r)) == NULL)
		return -1;
	key = xcalloc(1, sizeof(*key));
	key->pkey = pkey;
	type = EVP_PKEY_get_base_id(pkey);
	if (type == EVP_PKEY_ED25519) {
		key->alg = DKIM_ALG_ED25519_SHA256;
		key->bits = 256;
	} else if (type == EVP_PKEY_RSA) {
		key->alg = DKIM_ALG_RSA_SHA256;
		key->bits = (unsigned)EVP_PKEY_get_bits(pkey);
		if (key->bits < DKIM_RSA_BITS_MIN ||
		    key->bits > DKIM_RSA_BITS_MAX) {
			*error_r = xasprintf("%s: an RSA key of %u bits (DKIM "
					     "takes %u to %u)", path, key->bits,
					     DKIM_RSA_BITS_MIN,
					     DKIM_RSA_BITS_MAX);
			dkim_sign_key_free(&key);
			return -1;
		}
	} else {
		*error_r = xasprintf("%s: neither an RSA nor an Ed25519 key",
				     path);
		dkim_sign_key_free(&key);
		return -1;
	}
	key->domain = xstrdup(domain);
	key->selector = xstrdup(selector);
	for (char *p = key->domain; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	*key_r = key;
	return 0;
}

void
dkim_sign_key_record(const struct dkim_sign_key *key, struct buf *out)
{
	uint8_t raw[32];
	size_t raw_len = sizeof(raw);

	buf_printf(out, "v=DKIM1; k=%s; p=", dkim_algorithm_key_type(key->alg));
	if (key->alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 4.2: the raw public key */
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &raw_len) == 1)
			base64_encode(raw, raw_len, out);
	} else {
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(key->pkey, &der);

		if (len > 0)
			base64_encode(der, (size_t)len, out);
		OPENSSL_free(der);
	}
}

static void
sign_body_out(const uint8_t *data, size_t len, void *ctx)
{
	struct dkim_signer *s = ctx;

	EVP_DigestUpdate(s->md, data, len);
}

static void
sign_on_body(const uint8_t *data, size_t len, void *ctx)
{
	struct dkim_signer *s = ctx;

	if (!s->body_off)
		dkim_body_canon_feed(&s->bc, data, len);
}

static void
find_from_domain(struct dkim_signer *s)
{
	const struct dkim_field *from = NULL;
	struct header_address_limits lim;
	char **addrs = NULL;
	size_t n = 0, len;
	const char *value, *err, *at;
	enum header_address_error e;

	for (size_t i = 0; i < s->msg.n_fields; i++) {
		if (!dkim_msg_field_is(&s->msg, &s->msg.fields[i], "from"))
			continue;
		if (from != NULL)
			return;		/* several From fields */
		from = &s->msg.fields[i];
	}
	if (from == NULL)
		return;
	value = dkim_msg_field_value(&s->msg, from, &len);
	header_address_limits_default(&lim);
	if (header_address_list_parse(value, len, &lim, &addrs, &n, &e,
				      &err) < 0)
		return;
	if (n == 1 && (at = strrchr(addrs[0], '@')) != NULL &&
	    at[1] != '\0') {
		s->from_domain = xstrdup(at + 1);
		for (char *p = s->from_domain; *p != '\0'; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	header_address_list_free(&addrs, n);
}

static void
sign_on_header(void *ctx)
{
	struct dkim_signer *s = ctx;

	if (!s->msg.header_too_big)
		find_from_domain(s);
	if (s->params.header_cb != NULL &&
	    !s->params.header_cb(s->from_domain, s->params.header_ctx)) {
		s->body_off = true;
		s->msg.skip_body = true;
	}
}

struct dkim_signer *
dkim_signer_new(const struct dkim_sign_params *params)
{
	struct dkim_signer *s = xcalloc(1, sizeof(*s));

	if (params != NULL) {
		s->params = *params;
	} else {
		s->params.hcanon = DKIM_CANON_RELAXED;
		s->params.bcanon = DKIM_CANON_RELAXED;
	}
	if (s->params.header_max == 0)
		s->params.header_max = SIGN_HEADER_MAX_DEFAULT;
	if (s->params.headers == NULL)
		s->params.headers = dkim_sign_default_headers;
	if (s->params.oversign == NULL)
		s->params.oversign = dkim_sign_default_oversign;
	if (s->params.now == 0)
		s->params.now = time(NULL);
	s->md = EVP_MD_CTX_new();
	/* fetched once (sha256_md): a signer is made for every message of
	 * a relaying session, most of which no key signs */
	if (s->md == NULL ||
	    EVP_DigestInit_ex(s->md, sha256_md(), NULL) != 1)
		abort();
	dkim_body_canon_init(&s->bc, s->params.bcanon, sign_body_out, s);
	dkim_msg_init(&s->msg, s->params.header_max, sign_on_header,
		      sign_on_body, s);
	return s;
}

void
dkim_signer_add_key(struct dkim_signer *s, const struct dkim_sign_key *key)
{
	s->keys = xreallocarray(s->keys, s->n_keys + 1, sizeof(*s->keys));
	s->keys[s->n_keys++] = key;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	dkim_msg_deinit(&s->msg);
	free(s->keys);
	free(s->from_domain);
	free(s);
	*sp = NULL;
}

void
dkim_signer_feed(struct dkim_signer *s, const uint8_t *data, size_t len)
{
	if (s->body_off && s->msg.header_done)
		return;
	dkim_msg_feed(&s->msg, data, len);
}

bool
dkim_signer_header_done(const struct dkim_signer *s)
{
	return s->msg.header_done;
}

void
dkim_signer_end_input(struct dkim_signer *s)
{
	dkim_msg_finish(&s->msg);
}

void
dkim_signer_set_arc_instance(struct dkim_signer *s, unsigned instance)
{
	s->params.arc_instance = instance;
}

const char *
dkim_signer_from_domain(const struct dkim_signer *s)
{
	return s->from_domain;
}

bool
dkim_signer_refused_at_header(const struct dkim_signer *s)
{
	return s->body_off;
}

static bool
name_listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++) {
		if (strcasecmp(*list, name) == 0)
			return true;
	}
	return false;
}

/* h=: each listed name as often as it occurs, once more if oversigned. */
static char **
sign_header_names(struct dkim_signer *s, size_t *n_r)
{
	char **names = NULL;
	size_t n = 0;

	for (const char *const *h = s->params.headers; *h != NULL; h++) {
		size_t count = 0;

		for (size_t i = 0; i < s->msg.n_fields; i++) {
			if (dkim_msg_field_is(&s->msg, &s->msg.fields[i], *h))
				count++;
		}
		if (name_listed(s->params.oversign, *h))
			count++;
		for (size_t i = 0; i < count; i++) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(*h);
		}
	}
	*n_r = n;
	return names;
}

struct fold {
	struct buf *b;
	size_t col;
};

/* One unit that may not be broken; a fold before it when it would pass
 * the width. */
static void
fold_unit(struct fold *f, const char *s, bool space_before)
{
	size_t len = strlen(s);

	if (f->col + len + (space_before ? 1 : 0) > FOLD_WIDTH) {
		buf_puts(f->b, "\r\n\t");
		f->col = 8;
	} else if (space_before) {
		buf_putc(f->b, ' ');
		f->col++;
	}
	buf_puts(f->b, s);
	f->col += len;
}

/* base64 broken anywhere (FWS is allowed between its characters). */
static void
fold_base64(struct fold *f, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		size_t room = f->col < FOLD_WIDTH ? FOLD_WIDTH - f->col : 0;
		size_t n = len < room ? len : room;

		if (n == 0) {
			buf_puts(f->b, "\r\n\t");
			f->col = 8;
			continue;
		}
		buf_append(f->b, s, n);
		f->col += n;
		s += n;
		len -= n;
	}
}

int
dkim_sign_data(const struct dkim_sign_key *key, const uint8_t *data,
	       size_t len, struct buf *sig_b64)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t digest[32], *sig = NULL;
	unsigned dlen = 0;
	size_t slen = 0;
	int ok;

	if (ctx == NULL)
		abort();
	if (key->alg == DKIM_ALG_RSA_SHA256) {
		ok = EVP_DigestSignInit(ctx, NULL, sha256_md(), NULL,
					key->pkey) == 1 &&
		     EVP_DigestSign(ctx, NULL, &slen, data, len) == 1;
		if (ok) {
			sig = xmalloc(slen);
			ok = EVP_DigestSign(ctx, sig, &slen, data, len) == 1;
		}
	} else {
		ok = EVP_Digest(data, len, digest, &dlen, sha256_md(),
				NULL) == 1 &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
		     EVP_DigestSign(ctx, NULL, &slen, digest, dlen) == 1;
		if (ok) {
			sig = xmalloc(slen);
			ok = EVP_DigestSign(ctx, sig, &slen, digest, dlen) == 1;
		}
	}
	EVP_MD_CTX_free(ctx);
	if (ok)
		base64_encode(sig, slen, sig_b64);
	free(sig);
	return ok ? 0 : -1;
}

static int
sign_one(struct dkim_signer *s, const struct dkim_sign_key *key,
	 char **names, size_t n_names, const char *bh, struct buf *out)
{
	struct buf field, in, b64;
	struct fold f;
	char tmp[600];
	int ret;

	buf_init(&field);
	f.b = &field;
	f.col = 0;
	if (s->params.arc_instance > 0) {
		/* RFC 8617 4.1.2: i= is the instance, no v= */
		buf_puts(&field, "ARC-Message-Signature:");
		f.col = field.len;
		snprintf(tmp, sizeof(tmp), "i=%u;", s->params.arc_instance);
		fold_unit(&f, tmp, true);
	} else {
		buf_puts(&field, "DKIM-Signature:");
		f.col = field.len;
		fold_unit(&f, "v=1;", true);
	}
	snprintf(tmp, sizeof(tmp), "a=%s;", dkim_algorithm_name(key->alg));
	fold_unit(&f, tmp, true);
	snprintf(tmp, sizeof(tmp), "c=%s/%s;",
		 dkim_canon_name(s->params.hcanon),
		 dkim_canon_name(s->params.bcanon));
	fold_unit(&f, tmp, true);
	snprintf(tmp, sizeof(tmp), "d=%s;", key->domain);
	fold_unit(&f, tmp, true);
	snprintf(tmp, sizeof(tmp), "s=%s;", key->selector);
	fold_unit(&f, tmp, true);
	snprintf(tmp, sizeof(tmp), "t=%lld;", (long long)s->params.now);
	fold_unit(&f, tmp, true);
	if (s->params.expire_s > 0) {
		snprintf(tmp, sizeof(tmp), "x=%lld;",
			 (long long)s->params.now +
			 (long long)s->params.expire_s);
		fold_unit(&f, tmp, true);
	}
	if (s->params.body_length && s->params.arc_instance == 0) {
		snprintf(tmp, sizeof(tmp), "l=%llu;",
			 (unsigned long long)s->bc.out_len);
		fold_unit(&f, tmp, true);
	}
	for (size_t i = 0; i < n_names; i++) {
		snprintf(tmp, sizeof(tmp), "%s%s%s", i == 0 ? "h=" : "",
			 names[i], i + 1 == n_names ? ";" : ":");
		fold_unit(&f, tmp, i == 0);
	}
	fold_unit(&f, "bh=", true);
	fold_base64(&f, bh);
	buf_putc(&field, ';');
	f.col++;
	fold_unit(&f, "b=", true);

	buf_init(&in);
	dkim_msg_hash_headers(&s->msg, names, n_names, s->params.hcanon, &in);
	dkim_header_canon(s->params.hcanon, field.data, field.len, &in);
	buf_init(&b64);
	ret = dkim_sign_data(key, (const uint8_t *)in.data, in.len, &b64);
	if (ret == 0) {
		fold_base64(&f, b64.data);
		buf_append(out, field.data, field.len);
		buf_puts(out, "\r\n");
	}
	buf_deinit(&b64);
	buf_deinit(&in);
	buf_deinit(&field);
	return ret;
}

int
dkim_signer_finish(struct dkim_signer *s, struct buf *out,
		   const char **error_r)
{
	uint8_t bh[EVP_MAX_MD_SIZE];
	unsigned bh_len = 0;
	struct buf bh64;
	char **names;
	size_t n_names, from = 0;
	int ret = 0;

	if (s->body_off) {
		/* a key that appeared after the header: the body hash would
		 * be of nothing */
		*error_r = "no key when the header ended";
		return -1;
	}
	if (s->finished) {
		*error_r = "already finished";
		return -1;
	}
	s->finished = true;
	dkim_msg_finish(&s->msg);
	dkim_body_canon_finish(&s->bc);
	EVP_DigestFinal_ex(s->md, bh, &bh_len);
	if (s->msg.header_too_big) {
		*error_r = "the header is over the signer's header_max";
		return -1;
	}
	for (size_t i = 0; i < s->msg.n_fields; i++) {
		if (dkim_msg_field_is(&s->msg, &s->msg.fields[i], "from"))
			from++;
	}
	if (from != 1) {
		*error_r = from == 0 ? "no From field" : "several From fields";
		return -1;
	}
	buf_init(&bh64);
	base64_encode(bh, bh_len, &bh64);
	names = sign_header_names(s, &n_names);
	for (size_t i = 0; i < s->n_keys && ret == 0; i++) {
		if (sign_one(s, s->keys[i], names, n_names, bh64.data,
			     out) < 0) {
			*error_r = "the key failed to sign";
			ret = -1;
		}
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	buf_deinit(&bh64);
	return ret;
}
