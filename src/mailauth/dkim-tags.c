/* SPDX-License-Identifier: MIT */
/*
 * DKIM tag lists (RFC 6376 3.2) and the two records made of them: the
 * DKIM-Signature field (3.5) and the key record (3.6.1, RFC 8463 4). All
 * untrusted (a message header, a DNS answer): parsed strictly, each
 * failure a permerror with its reason.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dkim.h"

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The octets of a tag value: VALCHAR (%x21-3A / %x3C-7E) and FWS. */
static const bool value_octet[256] = {
	[' '] = true, ['\t'] = true, ['\r'] = true, ['\n'] = true,
#define V8(c) [c] = true, [c + 1] = true, [c + 2] = true, [c + 3] = true, \
	      [c + 4] = true, [c + 5] = true, [c + 6] = true, [c + 7] = true
	V8(0x21), V8(0x29), V8(0x31), [0x39] = true, [0x3a] = true,
	V8(0x3c), V8(0x44), V8(0x4c), V8(0x54), V8(0x5c), V8(0x64),
	V8(0x6c), V8(0x74), [0x7c] = true, [0x7d] = true, [0x7e] = true,
#undef V8
};

void
dkim_tags_deinit(struct dkim_tag_list *list)
{
	/* the names and values live in the same block as the tags */
	free(list->tags);
	list->tags = NULL;
	list->n = 0;
}

const struct dkim_tag *
dkim_tags_get(const struct dkim_tag_list *list, const char *name)
{
	for (size_t i = 0; i < list->n; i++) {
		if (strcmp(list->tags[i].name, name) == 0)
			return &list->tags[i];
	}
	return NULL;
}

int
dkim_tags_parse(const char *s, size_t len, struct dkim_tag_list *list_r,
		const char **error_r)
{
	struct dkim_tag_list list = { NULL, 0 };
	size_t pos = 0, max = 1, used = 0;
	char *text;

	/* One block for the tags and, after them, their names and values
	 * with their NULs (together at most len + 2 octets per tag): a
	 * DKIM-Signature took some thirty small allocations here, a visible
	 * part of the inbound checks' cost. A tag is followed by a ';' or
	 * the end, so there are at most one more tags than ';'s. */
	for (const char *q = s, *e = s + len;
	     (q = memchr(q, ';', (size_t)(e - q))) != NULL; q++)
		max++;
	if (max > DKIM_TAGS_MAX + 1)
		max = DKIM_TAGS_MAX + 1;
	list.tags = xmalloc(max * (sizeof(*list.tags) + 2) + len);
	text = (char *)(list.tags + max);
	for (;;) {
		size_t name_start, name_end, vs, ve, ts, te;
		struct dkim_tag *t;

		while (pos < len && is_fws(s[pos]))
			pos++;
		if (pos == len)
			break;
		name_start = pos;
		if (!is_alpha(s[pos])) {
			*error_r = s[pos] == ';' ? "empty tag" : "bad tag name";
			goto fail;
		}
		while (pos < len && (is_alpha(s[pos]) || is_digit(s[pos]) ||
				     s[pos] == '_'))
			pos++;
		name_end = pos;
		while (pos < len && is_fws(s[pos]))
			pos++;
		if (pos == len || s[pos] != '=') {
			*error_r = "tag without '='";
			goto fail;
		}
		vs = ++pos;
		/* one table test per octet: b= makes most of a signature */
		while (pos < len && value_octet[(unsigned char)s[pos]])
			pos++;
		if (pos < len && s[pos] != ';') {
			*error_r = "bad character in a tag value";
			goto fail;
		}
		ve = pos;
		for (ts = vs; ts < ve && is_fws(s[ts]); ts++)
			;
		for (te = ve; te > ts && is_fws(s[te - 1]); te--)
			;
		for (size_t i = 0; i < list.n; i++) {
			if (strlen(list.tags[i].name) == name_end - name_start &&
			    memcmp(list.tags[i].name, s + name_start,
				   name_end - name_start) == 0) {
				*error_r = "duplicate tag";
				goto fail;
			}
		}
		if (list.n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			goto fail;
		}
		t = &list.tags[list.n++];
		t->name = text + used;
		memcpy(t->name, s + name_start, name_end - name_start);
		t->name[name_end - name_start] = '\0';
		used += name_end - name_start + 1;
		t->value = text + used;
		memcpy(t->value, s + ts, te - ts);
		t->value[te - ts] = '\0';
		used += te - ts + 1;
		t->value_start = vs;
		t->value_end = ve;
		if (pos < len)
			pos++;	/* the ';' */
	}
	if (list.n == 0) {
		/* as before: an empty list holds nothing to free */
		free(list.tags);
		list.tags = NULL;
	}
	*list_r = list;
	return 0;
fail:
	dkim_tags_deinit(&list);
	list_r->tags = NULL;
	list_r->n = 0;
	return -1;
}

int
dkim_base64_fws_decode(const char *v, struct buf *out)
{
	/* b= of a 4096-bit RSA signature is 684 octets: on the stack */
	char stack[1024], *clean;
	size_t n = strlen(v), k = 0;
	int ret;

	clean = n <= sizeof(stack) ? stack : xmalloc(n);
	/* the pieces between folds, each in one copy */
	for (const char *p = v; *p != '\0';) {
		size_t l = strcspn(p, " \t\r\n");

		memcpy(clean + k, p, l);
		k += l;
		p += l;
		p += strspn(p, " \t\r\n");
	}
	ret = base64_decode(k > 0 ? clean : "", k, out);
	if (clean != stack)
		free(clean);
	return ret;
}

/* A decimal of at most max_digits digits. */
static int
parse_decimal(const char *v, unsigned max_digits, uint64_t *value_r)
{
	uint64_t n = 0;
	size_t len = strlen(v);

	if (len == 0 || len > max_digits)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(v[i]))
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*value_r = n;
	return 0;
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* A domain or selector as DKIM names them: dot-separated labels of
 * letters, digits, hyphens and underscores (a selector may be
 * "2024._x"); UTF-8 labels are taken as they are. */
bool
dkim_dns_name_is_valid(const char *s)
{
	size_t label = 0, len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(is_alpha((char)c) || is_digit((char)c) || c == '-' ||
		      c == '_' || c >= 0x80))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* Is auid's domain d or a subdomain of it (RFC 6376 3.5 i=)? */
static bool
auid_in_domain(const char *auid, const char *d)
{
	const char *at = strrchr(auid, '@');
	size_t alen, dlen = strlen(d);

	if (at == NULL)
		return false;
	at++;
	alen = strlen(at);
	if (alen == dlen)
		return strcasecmp(at, d) == 0;
	return alen > dlen && at[alen - dlen - 1] == '.' &&
	       strcasecmp(at + alen - dlen, d) == 0;
}

void
dkim_signature_deinit(struct dkim_signature *sig)
{
	free(sig->domain);
	free(sig->selector);
	free(sig->auid);
	free(sig->headers);	/* the names with it (parse_header_list) */
	free(sig->bh);
	free(sig->b);
	memset(sig, 0, sizeof(*sig));
}

static int
parse_canon(const char *v, struct dkim_signature *sig)
{
	const char *slash = strchr(v, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - v) : strlen(v);

	if (hlen == 6 && strncmp(v, "simple", 6) == 0)
		sig->hcanon = DKIM_CANON_SIMPLE;
	else if (hlen == 7 && strncmp(v, "relaxed", 7) == 0)
		sig->hcanon = DKIM_CANON_RELAXED;
	else
		return -1;
	if (slash == NULL)
		sig->bcanon = DKIM_CANON_SIMPLE;
	else if (strcmp(slash + 1, "simple") == 0)
		sig->bcanon = DKIM_CANON_SIMPLE;
	else if (strcmp(slash + 1, "relaxed") == 0)
		sig->bcanon = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

/* h=: hdr-name *( [FWS] ":" [FWS] hdr-name ). The names, lower-cased,
 * in one block with the array that points to them (as many names as
 * colons and one more, each no longer than v), freed with it. */
static int
parse_header_list(const char *v, struct dkim_signature *sig)
{
	bool from = false;
	const char *p = v;
	size_t max = 1, used = 0;
	char *text;

	for (const char *q = v; (q = strchr(q, ':')) != NULL; q++)
		max++;
	sig->headers = xmalloc(max * (sizeof(*sig->headers) + 1) +
			       strlen(v));
	text = (char *)(sig->headers + max);
	for (;;) {
		const char *start, *end;
		char *name;

		while (is_fws(*p))
			p++;
		start = p;
		while (*p != '\0' && *p != ':' && !is_fws(*p)) {
			/* field-name: printable ASCII but the colon */
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return -1;
			p++;
		}
		end = p;
		if (end == start)
			return -1;
		while (is_fws(*p))
			p++;
		name = text + used;
		for (size_t i = 0; i < (size_t)(end - start); i++)
			name[i] = (char)tolower((unsigned char)start[i]);
		name[end - start] = '\0';
		used += (size_t)(end - start) + 1;
		if (strcmp(name, "from") == 0)
			from = true;
		sig->headers[sig->n_headers++] = name;
		if (*p == '\0')
			break;
		if (*p != ':')
			return -1;
		p++;
	}
	return from ? 0 : -2;
}

int
dkim_instance_parse(const char *v, unsigned limit, unsigned *instance_r)
{
	uint64_t n;

	if (parse_decimal(v, 3, &n) < 0 || n < 1 || n > limit)
		return -1;
	*instance_r = (unsigned)n;
	return 0;
}

/* The tags a signature reads, found in one pass over its list (a
 * strcmp() walk of the list for each tag was some fifty calls a
 * signature). Tag names are case-sensitive (RFC 6376 3.2). */
enum sig_tag {
	ST_V, ST_A, ST_B, ST_BH, ST_C, ST_D, ST_H, ST_I, ST_L, ST_Q, ST_S,
	ST_T, ST_X, ST_COUNT
};

static int
sig_tag_of(const char *name)
{
	if (name[0] == '\0')
		return -1;
	if (name[1] != '\0')
		return name[0] == 'b' && name[1] == 'h' && name[2] == '\0'
		       ? ST_BH : -1;
	switch (name[0]) {
	case 'v': return ST_V;
	case 'a': return ST_A;
	case 'b': return ST_B;
	case 'c': return ST_C;
	case 'd': return ST_D;
	case 'h': return ST_H;
	case 'i': return ST_I;
	case 'l': return ST_L;
	case 'q': return ST_Q;
	case 's': return ST_S;
	case 't': return ST_T;
	case 'x': return ST_X;
	}
	return -1;
}

/* ams: an ARC-Message-Signature (RFC 8617 4.1.2), else a DKIM-Signature */
static int
signature_parse(const char *value, size_t len, bool ams,
		struct dkim_signature *sig_r, unsigned *instance_r,
		const char **error_r)
{
	static const enum sig_tag required[] = {
		ST_V, ST_A, ST_B, ST_BH, ST_D, ST_H, ST_S,
	};
	static const enum sig_tag ams_required[] = {
		ST_I, ST_A, ST_B, ST_BH, ST_D, ST_H, ST_S,
	};
	const struct dkim_tag *tag[ST_COUNT] = { NULL };
	struct dkim_tag_list tags;
	struct dkim_signature sig;
	const struct dkim_tag *t;
	struct buf b;
	uint64_t n;
	int ret;

	memset(&sig, 0, sizeof(sig));
	memset(sig_r, 0, sizeof(*sig_r));
	if (dkim_tags_parse(value, len, &tags, error_r) < 0)
		return -1;
	for (size_t i = 0; i < tags.n; i++) {
		int k = sig_tag_of(tags.tags[i].name);

		if (k >= 0)
			tag[k] = &tags.tags[i];
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (tag[ams ? ams_required[i] : required[i]] == NULL) {
			*error_r = ams ? "a required tag is missing "
					 "(i a b bh d h s)"
				       : "a required tag is missing "
					 "(v a b bh d h s)";
			goto fail;
		}
	}
	if (ams) {
		if (dkim_instance_parse(tag[ST_I]->value,
					ARC_INSTANCE_LIMIT, instance_r) < 0) {
			*error_r = "bad instance (i=)";
			goto fail;
		}
		if (tag[ST_L] != NULL) {
			*error_r = "l= is not allowed (RFC 8617 4.1.2)";
			goto fail;
		}
	} else if (strcmp(tag[ST_V]->value, "1") != 0) {
		*error_r = "unknown version (v= is not 1)";
		goto fail;
	}
	t = tag[ST_A];
	if (strcmp(t->value, "rsa-sha256") == 0) {
		sig.alg = DKIM_ALG_RSA_SHA256;
	} else if (strcmp(t->value, "ed25519-sha256") == 0) {
		sig.alg = DKIM_ALG_ED25519_SHA256;
	} else if (strcmp(t->value, "rsa-sha1") == 0) {
		*error_r = "rsa-sha1 is not accepted (RFC 8301)";
		goto fail;
	} else {
		*error_r = "unknown algorithm";
		goto fail;
	}
	buf_init(&b);
	t = tag[ST_B];
	if (dkim_base64_fws_decode(t->value, &b) < 0 || b.len == 0) {
		buf_deinit(&b);
		*error_r = "bad b= (base64)";
		goto fail;
	}
	sig.b_len = b.len;
	sig.b = (uint8_t *)buf_steal(&b);
	sig.b_value_start = t->value_start;
	sig.b_value_end = t->value_end;
	if (dkim_base64_fws_decode(tag[ST_BH]->value, &b) < 0 ||
	    b.len == 0) {
		buf_deinit(&b);
		*error_r = "bad bh= (base64)";
		goto fail;
	}
	sig.bh_len = b.len;
	sig.bh = (uint8_t *)buf_steal(&b);
	buf_deinit(&b);
	sig.hcanon = sig.bcanon = DKIM_CANON_SIMPLE;
	if ((t = tag[ST_C]) != NULL &&
	    parse_canon(t->value, &sig) < 0) {
		*error_r = "unknown canonicalization (c=)";
		goto fail;
	}
	t = tag[ST_D];
	if (!dkim_dns_name_is_valid(t->value)) {
		*error_r = "bad domain (d=)";
		goto fail;
	}
	sig.domain = lower_dup(t->value);
	t = tag[ST_S];
	if (!dkim_dns_name_is_valid(t->value)) {
		*error_r = "bad selector (s=)";
		goto fail;
	}
	sig.selector = lower_dup(t->value);
	ret = parse_header_list(tag[ST_H]->value, &sig);
	if (ret == -2) {
		*error_r = "From is not signed (h=)";
		goto fail;
	} else if (ret < 0) {
		*error_r = "bad header list (h=)";
		goto fail;
	}
	for (size_t i = 0; ams && i < sig.n_headers; i++) {
		if (strcmp(sig.headers[i], "arc-seal") == 0) {
			*error_r = "ARC-Seal is signed (h=, RFC 8617 4.1.2)";
			goto fail;
		}
	}
	if (!ams && (t = tag[ST_I]) != NULL) {
		if (!auid_in_domain(t->value, sig.domain)) {
			*error_r = "i= is not within d=";
			goto fail;
		}
		sig.auid = xstrdup(t->value);
	}
	if ((t = tag[ST_L]) != NULL) {
		/* 76 digits in the grammar; 2^64 is far beyond any message */
		if (parse_decimal(t->value, 19, &sig.l) < 0) {
			*error_r = "bad body length (l=)";
			goto fail;
		}
		sig.has_l = true;
	}
	if ((t = tag[ST_Q]) != NULL) {
		/* a colon-separated list: one of them must be dns/txt */
		bool ok = false;
		const char *p = t->value;

		while (*p != '\0') {
			size_t l = strcspn(p, ":");
			const char *q = p;

			while (is_fws(*q))
				q++;
			if (strncmp(q, "dns/txt", 7) == 0) {
				const char *r = q + 7;

				while (is_fws(*r))
					r++;
				if (r == p + l)
					ok = true;
			}
			p += l;
			if (*p == ':')
				p++;
		}
		if (!ok) {
			*error_r = "unknown query method (q=)";
			goto fail;
		}
	}
	if ((t = tag[ST_T]) != NULL) {
		if (parse_decimal(t->value, 18, &n) < 0) {
			*error_r = "bad timestamp (t=)";
			goto fail;
		}
		sig.has_t = true;
		sig.t = (int64_t)n;
	}
	if ((t = tag[ST_X]) != NULL) {
		if (parse_decimal(t->value, 18, &n) < 0) {
			*error_r = "bad expiry (x=)";
			goto fail;
		}
		sig.has_x = true;
		sig.x = (int64_t)n;
		if (sig.has_t && sig.x < sig.t) {
			*error_r = "x= is before t=";
			goto fail;
		}
	}
	dkim_tags_deinit(&tags);
	*sig_r = sig;
	return 0;
fail:
	dkim_tags_deinit(&tags);
	dkim_signature_deinit(&sig);
	return -1;
}

int
dkim_signature_parse(const char *value, size_t len,
		     struct dkim_signature *sig_r, const char **error_r)
{
	return signature_parse(value, len, false, sig_r, NULL, error_r);
}

int
dkim_ams_parse(const char *value, size_t len, struct dkim_signature *sig_r,
	       unsigned *instance_r, const char **error_r)
{
	return signature_parse(value, len, true, sig_r, instance_r, error_r);
}

void
dkim_key_deinit(struct dkim_key *key)
{
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

/* Does the colon-separated list v hold word? */
static bool
list_has(const char *v, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = v;

	while (*p != '\0') {
		size_t l = strcspn(p, ":");
		const char *s = p, *e = p + l;

		while (s < e && is_fws(*s))
			s++;
		while (e > s && is_fws(e[-1]))
			e--;
		if ((size_t)(e - s) == wlen && strncmp(s, word, wlen) == 0)
			return true;
		p += l;
		if (*p == ':')
			p++;
	}
	return false;
}

static EVP_PKEY *
rsa_key_from_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey;

	/* SubjectPublicKeyInfo (RFC 6376 3.6.1), or, as some signers
	 * publish, a bare RSAPublicKey */
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey != NULL && p == der + len)
		return pkey;
	EVP_PKEY_free(pkey);
	p = der;
	pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	if (pkey != NULL && p == der + len)
		return pkey;
	EVP_PKEY_free(pkey);
	return NULL;
}

int
dkim_key_parse(const char *txt, size_t len, struct dkim_key *key_r,
	       const char **error_r)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *t;
	struct dkim_key key;
	struct buf der;

	memset(&key, 0, sizeof(key));
	memset(key_r, 0, sizeof(*key_r));
	if (dkim_tags_parse(txt, len, &tags, error_r) < 0)
		return -1;
	if ((t = dkim_tags_get(&tags, "v")) != NULL &&
	    (t != &tags.tags[0] || strcmp(t->value, "DKIM1") != 0)) {
		*error_r = "key record: v= is not DKIM1 or not first";
		goto fail;
	}
	if ((t = dkim_tags_get(&tags, "h")) != NULL &&
	    !list_has(t->value, "sha256")) {
		*error_r = "key record: h= does not allow sha256";
		goto fail;
	}
	key.alg = DKIM_ALG_RSA_SHA256;
	if ((t = dkim_tags_get(&tags, "k")) != NULL) {
		if (strcmp(t->value, "ed25519") == 0) {
			key.alg = DKIM_ALG_ED25519_SHA256;
		} else if (strcmp(t->value, "rsa") != 0) {
			*error_r = "key record: unknown key type (k=)";
			goto fail;
		}
	}
	if ((t = dkim_tags_get(&tags, "s")) != NULL &&
	    !list_has(t->value, "*") && !list_has(t->value, "email")) {
		*error_r = "key record: not for email (s=)";
		goto fail;
	}
	if ((t = dkim_tags_get(&tags, "t")) != NULL) {
		key.testing = list_has(t->value, "y");
		key.strict = list_has(t->value, "s");
	}
	if ((t = dkim_tags_get(&tags, "p")) == NULL) {
		*error_r = "key record: no p=";
		goto fail;
	}
	if (t->value[0] == '\0') {
		*error_r = "key revoked (empty p=)";
		goto fail;
	}
	buf_init(&der);
	if (dkim_base64_fws_decode(t->value, &der) < 0) {
		buf_deinit(&der);
		*error_r = "key record: bad p= (base64)";
		goto fail;
	}
	if (key.alg == DKIM_ALG_ED25519_SHA256) {
		if (der.len == 32)
			key.pkey = EVP_PKEY_new_raw_public_key(
				EVP_PKEY_ED25519, NULL,
				(const unsigned char *)der.data, der.len);
		buf_deinit(&der);
		if (key.pkey == NULL) {
			*error_r = "key record: bad ed25519 key (p=)";
			goto fail;
		}
		key.bits = 256;
	} else {
		key.pkey = rsa_key_from_der((const uint8_t *)der.data, der.len);
		buf_deinit(&der);
		if (key.pkey == NULL || EVP_PKEY_get_base_id(key.pkey) !=
		    EVP_PKEY_RSA) {
			*error_r = "key record: bad rsa key (p=)";
			goto fail;
		}
		key.bits = (unsigned)EVP_PKEY_get_bits(key.pkey);
		if (key.bits < DKIM_RSA_BITS_MIN) {
			*error_r = "key too small (RFC 8301: 1024 bits at least)";
			goto fail;
		}
		if (key.bits > DKIM_RSA_BITS_MAX) {
			*error_r = "key too large (over 8192 bits)";
			goto fail;
		}
	}
	dkim_tags_deinit(&tags);
	*key_r = key;
	return 0;
fail:
	dkim_tags_deinit(&tags);
	dkim_key_deinit(&key);
	return -1;
}
