/* SPDX-License-Identifier: MIT */
/*
 * ARC chain validation (RFC 8617 5.2): the ARC sets found when the header
 * is complete and their structure checked (one of each field per
 * instance, 1..N without a gap, the cv= rules), the latest
 * ARC-Message-Signature's body hash computed while the body streams in,
 * and the chain decided once the message has ended and the keys of the
 * latest AMS and of every ARC-Seal have come.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dns/dns.h"
#include "lib/mem.h"
#include "lib/sha256.h"
#include "mailauth/arc-private.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"

#define NO_FIELD SIZE_MAX

struct arc_set {
	size_t aar, ams, as;	/* field indexes, NO_FIELD when missing */
	struct arc_seal seal;
	bool seal_parsed;
	struct dkim_signature sig;	/* the AMS */
	bool sig_parsed;
	struct arc_aar aar_parsed;
	bool aar_ok;
	size_t as_key, ams_key;	/* indexes in keys */
};

struct key_slot {
	char *name;
	struct dkim_key key;
	bool given;		/* the answer came */
	bool ok;		/* and held a key */
	bool temp;		/* the lookup failed for now */
	char *error;
};

struct arc_verifier {
	struct arc_verify_limits lim;
	struct dkim_msg msg;
	/* the DKIM verifier whose header is read (arc_verifier_share_header) */
	const struct dkim_verifier *shared;
	struct arc_set *sets;	/* sets[i - 1] is instance i */
	unsigned n;
	struct key_slot *keys;
	size_t n_keys;
	/* the latest AMS's body hash */
	struct dkim_body_canon bc;
	EVP_MD_CTX *md;
	uint8_t bh[EVP_MAX_MD_SIZE];
	unsigned bh_len;
	bool finished;
	bool decided;
	enum arc_result result;
	char *reason;
	bool temporary;
	struct arc_verify_result res;
};

static void
decide(struct arc_verifier *v, enum arc_result result, bool temporary,
       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
decide(struct arc_verifier *v, enum arc_result result, bool temporary,
       const char *fmt, ...)
{
	va_list ap;

	if (v->decided)
		return;
	v->decided = true;
	v->result = result;
	v->temporary = temporary;
	if (fmt != NULL) {
		char text[300];

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		v->reason = xstrdup(text);
	}
	if (v->md != NULL) {
		EVP_MD_CTX_free(v->md);
		v->md = NULL;
	}
}

static void
body_out(const uint8_t *data, size_t len, void *ctx)
{
	struct arc_verifier *v = ctx;

	if (v->md != NULL)
		EVP_DigestUpdate(v->md, data, len);
}

static void
on_body(const uint8_t *data, size_t len, void *ctx)
{
	struct arc_verifier *v = ctx;

	if (v->md != NULL)
		dkim_body_canon_feed(&v->bc, data, len);
}

enum arc_kind { KIND_NONE, KIND_AAR, KIND_AMS, KIND_AS };

static enum arc_kind
field_kind(const struct dkim_msg *m, const struct dkim_field *f)
{
	/* by the name's length first: one comparison at most a field */
	switch (f->name_len) {
	case sizeof("ARC-Seal") - 1:
		return dkim_msg_field_is(m, f, "ARC-Seal") ? KIND_AS
							   : KIND_NONE;
	case sizeof("ARC-Message-Signature") - 1:
		return dkim_msg_field_is(m, f, "ARC-Message-Signature")
		       ? KIND_AMS : KIND_NONE;
	case sizeof("ARC-Authentication-Results") - 1:
		return dkim_msg_field_is(m, f, "ARC-Authentication-Results")
		       ? KIND_AAR : KIND_NONE;
	}
	return KIND_NONE;
}

/* The shared header (arc_verifier_share_header()): whether it has ARC
 * fields; if so it is copied into v's own reader, which the chain's
 * checks and a seal read (the DKIM verifier is reset with the next
 * transaction). */
static bool
take_shared_header(struct arc_verifier *v)
{
	const struct dkim_msg *m = dkim_verifier_msg(v->shared);
	bool any = false;

	v->msg.header_too_big = m->header_too_big;
	if (m->header_too_big)
		return true;
	for (size_t i = 0; i < m->n_fields && !any; i++)
		any = field_kind(m, &m->fields[i]) != KIND_NONE;
	if (!any)
		return false;
	buf_reset(&v->msg.header);
	buf_append(&v->msg.header, m->header.data, m->header.len);
	if (v->msg.cap_fields < m->n_fields) {
		v->msg.fields = xreallocarray(v->msg.fields, m->n_fields,
					      sizeof(*v->msg.fields));
		v->msg.cap_fields = m->n_fields;
	}
	memcpy(v->msg.fields, m->fields, m->n_fields * sizeof(*m->fields));
	v->msg.n_fields = m->n_fields;
	return true;
}

static const char *
kind_name(enum arc_kind k)
{
	return k == KIND_AS ? "ARC-Seal" : k == KIND_AMS ?
	       "ARC-Message-Signature" : "ARC-Authentication-Results";
}

/* The i= of any ARC field, read the way RFC 8617 4.2.1 numbers sets:
 * the AAR's leading "i=N;", a tag of the others. 0 when there is none. */
static unsigned
field_instance(const struct dkim_msg *m, const struct dkim_field *f,
	       enum arc_kind kind)
{
	const char *value, *err;
	size_t len;
	unsigned instance = 0;

	value = dkim_msg_field_value(m, f, &len);
	if (kind == KIND_AAR) {
		size_t i = 0, start;
		char num[4];

		while (i < len && (value[i] == ' ' || value[i] == '\t' ||
				   value[i] == '\r' || value[i] == '\n'))
			i++;
		if (len - i < 2 || (value[i] != 'i' && value[i] != 'I') ||
		    value[i + 1] != '=')
			return 0;
		i += 2;
		while (i < len && (value[i] == ' ' || value[i] == '\t'))
			i++;
		start = i;
		while (i < len && i - start < 3 && value[i] >= '0' &&
		       value[i] <= '9')
			i++;
		memcpy(num, value + start, i - start);
		num[i - start] = '\0';
		while (i < len && (value[i] == ' ' || value[i] == '\t' ||
				   value[i] == '\r' || value[i] == '\n'))
			i++;
		if (i >= len || value[i] != ';' ||
		    dkim_instance_parse(num, ARC_INSTANCE_LIMIT,
					&instance) < 0)
			return 0;
		return instance;
	}
	struct dkim_tag_list tags;
	const struct dkim_tag *t;

	if (dkim_tags_parse(value, len, &tags, &err) < 0)
		return 0;
	if ((t = dkim_tags_get(&tags, "i")) == NULL ||
	    dkim_instance_parse(t->value, ARC_INSTANCE_LIMIT, &instance) < 0)
		instance = 0;
	dkim_tags_deinit(&tags);
	return instance;
}

static size_t
key_slot(struct arc_verifier *v, const char *selector, const char *domain)
{
	char *name = xasprintf("%s._domainkey.%s", selector, domain);

	for (size_t i = 0; i < v->n_keys; i++) {
		if (strcmp(v->keys[i].name, name) == 0) {
			free(name);
			return i;
		}
	}
	v->keys = xreallocarray(v->keys, v->n_keys + 1, sizeof(*v->keys));
	memset(&v->keys[v->n_keys], 0, sizeof(*v->keys));
	v->keys[v->n_keys].name = name;
	return v->n_keys++;
}

/* Each instance 1..N exactly one field of each kind (RFC 8617 5.2 step
 * 2-3); returns false having decided fail otherwise. */
static bool
collect_sets(struct arc_verifier *v)
{
	unsigned max = 0;
	size_t count = 0;

	for (size_t i = 0; i < v->msg.n_fields; i++) {
		const struct dkim_field *f = &v->msg.fields[i];
		enum arc_kind kind = field_kind(&v->msg, f);
		unsigned inst;

		if (kind == KIND_NONE)
			continue;
		count++;
		inst = field_instance(&v->msg, f, kind);
		if (inst == 0) {
			decide(v, ARC_RESULT_FAIL, false, "%s without a valid "
			       "instance (i=)", kind_name(kind));
			return false;
		}
		if (inst > max)
			max = inst;
	}
	if (count == 0) {
		decide(v, ARC_RESULT_NONE, false, NULL);
		return false;
	}
	v->n = max;
	if (max > v->lim.max_instances) {
		decide(v, ARC_RESULT_FAIL, false, "%u ARC sets (over "
		       "[mailauth] arc_max_instances)", max);
		return false;
	}
	v->sets = xcalloc(max, sizeof(*v->sets));
	for (unsigned i = 0; i < max; i++)
		v->sets[i].aar = v->sets[i].ams = v->sets[i].as = NO_FIELD;
	for (size_t i = 0; i < v->msg.n_fields; i++) {
		const struct dkim_field *f = &v->msg.fields[i];
		enum arc_kind kind = field_kind(&v->msg, f);
		struct arc_set *set;
		size_t *slot;

		if (kind == KIND_NONE)
			continue;
		set = &v->sets[field_instance(&v->msg, f, kind) - 1];
		slot = kind == KIND_AAR ? &set->aar :
		       kind == KIND_AMS ? &set->ams : &set->as;
		if (*slot != NO_FIELD) {
			decide(v, ARC_RESULT_FAIL, false, "two %s fields of "
			       "instance %u", kind_name(kind),
			       (unsigned)(set - v->sets) + 1);
			return false;
		}
		*slot = i;
	}
	for (unsigned i = 0; i < max; i++) {
		struct arc_set *set = &v->sets[i];
		const char *missing = set->aar == NO_FIELD ? kind_name(KIND_AAR)
			: set->ams == NO_FIELD ? kind_name(KIND_AMS)
			: set->as == NO_FIELD ? kind_name(KIND_AS) : NULL;

		if (missing != NULL) {
			decide(v, ARC_RESULT_FAIL, false, "instance %u has no "
			       "%s", i + 1, missing);
			return false;
		}
	}
	return true;
}

/* Parses every set and applies the cv= rules (RFC 8617 5.2 step 3-4). */
static bool
parse_sets(struct arc_verifier *v)
{
	for (unsigned i = 0; i < v->n; i++) {
		struct arc_set *set = &v->sets[i];
		const char *value, *err;
		size_t len;
		unsigned inst;

		value = dkim_msg_field_value(&v->msg,
					     &v->msg.fields[set->as], &len);
		if (arc_seal_parse(value, len, &set->seal, &err) < 0) {
			decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=%u: %s",
			       i + 1, err);
			return false;
		}
		set->seal_parsed = true;
		value = dkim_msg_field_value(&v->msg,
					     &v->msg.fields[set->ams], &len);
		if (dkim_ams_parse(value, len, &set->sig, &inst, &err) < 0) {
			/* only the latest AMS must verify (5.2 step 4); an
			 * older one that does not parse is no reason to fail
			 * (it may use an algorithm we do not know) */
			if (i + 1 == v->n) {
				decide(v, ARC_RESULT_FAIL, false,
				       "ARC-Message-Signature i=%u: %s",
				       i + 1, err);
				return false;
			}
		} else {
			set->sig_parsed = true;
		}
		value = dkim_msg_field_value(&v->msg,
					     &v->msg.fields[set->aar], &len);
		set->aar_ok = arc_aar_parse(value, len, &set->aar_parsed,
					    &err) == 0;
	}
	for (unsigned i = 0; i < v->n; i++) {
		enum arc_cv cv = v->sets[i].seal.cv;

		if (cv == ARC_CV_FAIL) {
			decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=%u says "
			       "cv=fail: the chain has ended", i + 1);
			return false;
		}
		if (i == 0 && cv != ARC_CV_NONE) {
			decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=1 says "
			       "cv=%s (must be none)", arc_cv_name(cv));
			return false;
		}
		if (i > 0 && cv != ARC_CV_PASS) {
			decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=%u says "
			       "cv=%s (must be pass)", i + 1, arc_cv_name(cv));
			return false;
		}
	}
	return true;
}

static void
on_header(void *ctx)
{
	struct arc_verifier *v = ctx;
	struct arc_set *latest;

	/* the body is read only for a chain to check (below) */
	v->msg.skip_body = true;
	if (v->shared != NULL && !dkim_verifier_msg(v->shared)->header_done) {
		/* fed before the DKIM verifier (arc.h says not to) */
		decide(v, ARC_RESULT_FAIL, true, "header not read");
		return;
	}
	if (v->shared != NULL && !take_shared_header(v)) {
		decide(v, ARC_RESULT_NONE, false, NULL);
		return;
	}
	if (v->msg.header_too_big) {
		decide(v, ARC_RESULT_FAIL, false, "header over [mailauth] "
		       "dkim_header_max: not verified");
		return;
	}
	if (!collect_sets(v) || !parse_sets(v))
		return;
	latest = &v->sets[v->n - 1];
	latest->ams_key = key_slot(v, latest->sig.selector, latest->sig.domain);
	for (unsigned i = v->n; i > 0; i--) {
		struct arc_set *set = &v->sets[i - 1];

		set->as_key = key_slot(v, set->seal.selector, set->seal.domain);
	}
	v->md = EVP_MD_CTX_new();
	if (v->md == NULL || EVP_DigestInit_ex(v->md, sha256_md(), NULL) != 1)
		abort();
	dkim_body_canon_init(&v->bc, latest->sig.bcanon, body_out, v);
	v->msg.skip_body = false;
}

static void
set_limits(struct arc_verifier *v, const struct arc_verify_limits *lim)
{
	v->lim = *lim;
	if (v->lim.now == 0)
		v->lim.now = time(NULL);
	if (v->lim.header_max == 0)
		v->lim.header_max = 1024 * 1024;
	if (v->lim.max_instances == 0 ||
	    v->lim.max_instances > ARC_INSTANCE_LIMIT)
		v->lim.max_instances = ARC_INSTANCE_LIMIT;
}

struct arc_verifier *
arc_verifier_new(const struct arc_verify_limits *lim)
{
	struct arc_verifier *v = xcalloc(1, sizeof(*v));

	set_limits(v, lim);
	dkim_msg_init(&v->msg, v->lim.header_max, on_header, on_body, v);
	return v;
}

/* Everything but the message reader. */
static void
state_free(struct arc_verifier *v)
{
	for (unsigned i = 0; i < v->n && v->sets != NULL; i++) {
		arc_seal_deinit(&v->sets[i].seal);
		dkim_signature_deinit(&v->sets[i].sig);
		arc_aar_deinit(&v->sets[i].aar_parsed);
	}
	free(v->sets);
	for (size_t i = 0; i < v->n_keys; i++) {
		free(v->keys[i].name);
		free(v->keys[i].error);
		dkim_key_deinit(&v->keys[i].key);
	}
	free(v->keys);
	EVP_MD_CTX_free(v->md);
	free(v->reason);
}

void
arc_verifier_reset(struct arc_verifier *v, const struct arc_verify_limits *lim)
{
	struct dkim_msg msg = v->msg;

	state_free(v);
	memset(v, 0, sizeof(*v));
	v->msg = msg;
	set_limits(v, lim);
	dkim_msg_reset(&v->msg, v->lim.header_max);
}

void
arc_verifier_free(struct arc_verifier **vp)
{
	struct arc_verifier *v = *vp;

	if (v == NULL)
		return;
	state_free(v);
	dkim_msg_deinit(&v->msg);
	free(v);
	*vp = NULL;
}

void
arc_verifier_share_header(struct arc_verifier *v,
			  const struct dkim_verifier *dkim)
{
	v->shared = dkim;
	v->msg.no_copy = dkim != NULL;
}

void
arc_verifier_feed(struct arc_verifier *v, const uint8_t *data, size_t len)
{
	/* no ARC set to check (most mail): the body is not looked at */
	if (v->msg.header_done && v->md == NULL)
		return;
	dkim_msg_feed(&v->msg, data, len);
}

/* The latest AMS (RFC 8617 5.2 step 5): as a DKIM signature. */
static bool
check_ams(struct arc_verifier *v)
{
	struct arc_set *set = &v->sets[v->n - 1];
	struct key_slot *k = &v->keys[set->ams_key];
	const struct dkim_field *f = &v->msg.fields[set->ams];
	const char *fs = v->msg.header.data + f->start;
	struct buf in, field;
	size_t len, voff;
	bool ok;

	if (!k->ok) {
		decide(v, ARC_RESULT_FAIL, k->temp, "ARC-Message-Signature "
		       "i=%u: %s", v->n, k->error);
		return false;
	}
	if (k->key.alg != set->sig.alg) {
		decide(v, ARC_RESULT_FAIL, false, "ARC-Message-Signature "
		       "i=%u: key type does not match a=", v->n);
		return false;
	}
	if (v->bh_len != set->sig.bh_len ||
	    memcmp(v->bh, set->sig.bh, v->bh_len) != 0) {
		decide(v, ARC_RESULT_FAIL, false, "ARC-Message-Signature "
		       "i=%u: body hash mismatch", v->n);
		return false;
	}
	buf_init(&in);
	buf_init(&field);
	dkim_msg_hash_headers(&v->msg, set->sig.headers, set->sig.n_headers,
			      set->sig.hcanon, &in);
	(void)dkim_msg_field_value(&v->msg, f, &len);
	voff = f->len - len;
	buf_append(&field, fs, voff + set->sig.b_value_start);
	buf_append(&field, fs + voff + set->sig.b_value_end,
		   len - set->sig.b_value_end);
	dkim_header_canon(set->sig.hcanon, field.data, field.len, &in);
	ok = dkim_verify_data(&k->key, set->sig.alg, (const uint8_t *)in.data,
			      in.len, set->sig.b, set->sig.b_len);
	buf_deinit(&field);
	buf_deinit(&in);
	if (!ok)
		decide(v, ARC_RESULT_FAIL, false, "ARC-Message-Signature "
		       "i=%u: signature mismatch", v->n);
	return ok;
}

static void
put_field(const struct arc_verifier *v, size_t index, struct buf *out)
{
	const struct dkim_field *f = &v->msg.fields[index];

	dkim_header_canon(DKIM_CANON_RELAXED, v->msg.header.data + f->start,
			  f->len, out);
	buf_puts(out, "\r\n");
}

void
arc_verifier_seal_input(const struct arc_verifier *v, unsigned upto,
			struct buf *out)
{
	for (unsigned i = 0; i < upto && i < v->n; i++) {
		put_field(v, v->sets[i].aar, out);
		put_field(v, v->sets[i].ams, out);
		put_field(v, v->sets[i].as, out);
	}
}

/* ARC-Seal i=inst over the sets 1..inst, relaxed, its own b= blanked
 * (RFC 8617 5.1.1, 5.2 step 6). */
static bool
check_seal(struct arc_verifier *v, unsigned inst)
{
	struct arc_set *set = &v->sets[inst - 1];
	struct key_slot *k = &v->keys[set->as_key];
	const struct dkim_field *f = &v->msg.fields[set->as];
	const char *fs = v->msg.header.data + f->start;
	struct buf in, field;
	size_t len, voff;
	bool ok;

	if (!k->ok) {
		decide(v, ARC_RESULT_FAIL, k->temp, "ARC-Seal i=%u: %s", inst,
		       k->error);
		return false;
	}
	if (k->key.alg != set->seal.alg) {
		decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=%u: key type "
		       "does not match a=", inst);
		return false;
	}
	buf_init(&in);
	buf_init(&field);
	arc_verifier_seal_input(v, inst - 1, &in);
	put_field(v, set->aar, &in);
	put_field(v, set->ams, &in);
	(void)dkim_msg_field_value(&v->msg, f, &len);
	voff = f->len - len;
	buf_append(&field, fs, voff + set->seal.b_value_start);
	buf_append(&field, fs + voff + set->seal.b_value_end,
		   len - set->seal.b_value_end);
	dkim_header_canon(DKIM_CANON_RELAXED, field.data, field.len, &in);
	ok = dkim_verify_data(&k->key, set->seal.alg,
			      (const uint8_t *)in.data, in.len, set->seal.b,
			      set->seal.b_len);
	buf_deinit(&field);
	buf_deinit(&in);
	if (!ok)
		decide(v, ARC_RESULT_FAIL, false, "ARC-Seal i=%u: signature "
		       "mismatch", inst);
	return ok;
}

static void
try_decide(struct arc_verifier *v)
{
	if (v->decided || !v->finished)
		return;
	for (size_t i = 0; i < v->n_keys; i++) {
		if (!v->keys[i].given)
			return;
	}
	if (!check_ams(v))
		return;
	for (unsigned i = v->n; i > 0; i--) {
		if (!check_seal(v, i))
			return;
	}
	decide(v, ARC_RESULT_PASS, false, NULL);
}

void
arc_verifier_finish(struct arc_verifier *v)
{
	if (v->finished)
		return;
	dkim_msg_finish(&v->msg);
	if (v->md != NULL) {
		dkim_body_canon_finish(&v->bc);
		EVP_DigestFinal_ex(v->md, v->bh, &v->bh_len);
		EVP_MD_CTX_free(v->md);
		v->md = NULL;
	}
	v->finished = true;
	try_decide(v);
}

size_t
arc_verifier_key_count(const struct arc_verifier *v)
{
	return v->decided ? 0 : v->n_keys;
}

const char *
arc_verifier_key_name(const struct arc_verifier *v, size_t i)
{
	if (v->decided || i >= v->n_keys || v->keys[i].given)
		return NULL;
	return v->keys[i].name;
}

void
arc_verifier_set_key(struct arc_verifier *v, size_t i,
		     const struct dns_result *res)
{
	struct key_slot *k;
	const char *err = "key record: no TXT record";
	char reason[128];

	if (i >= v->n_keys || v->keys[i].given)
		return;
	k = &v->keys[i];
	k->given = true;
	if (res->status == DNS_NXDOMAIN || res->status == DNS_NODATA) {
		snprintf(reason, sizeof(reason), "no key (%s)",
			 dns_status_name(res->status));
		k->error = xstrdup(reason);
	} else if (res->status != DNS_OK) {
		snprintf(reason, sizeof(reason), "key lookup: %s",
			 dns_status_name(res->status));
		k->error = xstrdup(reason);
		k->temp = true;
	} else {
		for (size_t j = 0; j < res->count && !k->ok; j++) {
			const struct dns_txt *txt = &res->rrs[j].txt;

			k->ok = dkim_key_parse_cached(txt->text,
						      txt->text_len, &k->key,
						      &err) == 0;
		}
		if (!k->ok)
			k->error = xstrdup(err);
	}
	try_decide(v);
}

const struct arc_verify_result *
arc_verifier_result(const struct arc_verifier *vc)
{
	struct arc_verifier *v = (struct arc_verifier *)vc;

	memset(&v->res, 0, sizeof(v->res));
	v->res.instances = v->n;
	if (v->n > 0 && v->sets != NULL) {
		struct arc_set *latest = &v->sets[v->n - 1];

		if (latest->seal_parsed) {
			v->res.latest_cv = latest->seal.cv;
			v->res.as_domain = latest->seal.domain;
		}
		if (latest->sig_parsed)
			v->res.ams_domain = latest->sig.domain;
	}
	if (!v->decided) {
		v->res.result = ARC_RESULT_FAIL;
		v->res.temporary = true;
		v->res.reason = v->finished ? "keys not looked up" :
				"message not complete";
		return &v->res;
	}
	v->res.result = v->result;
	v->res.reason = v->reason;
	v->res.temporary = v->temporary;
	return &v->res;
}

const struct arc_aar *
arc_verifier_aar(const struct arc_verifier *v, unsigned instance)
{
	if (!v->decided || v->result != ARC_RESULT_PASS || instance == 0 ||
	    instance > v->n || !v->sets[instance - 1].aar_ok)
		return NULL;
	return &v->sets[instance - 1].aar_parsed;
}

const char *
arc_verifier_sealer(const struct arc_verifier *v, unsigned instance)
{
	if (!v->decided || v->result != ARC_RESULT_PASS || instance == 0 ||
	    instance > v->n)
		return NULL;
	return v->sets[instance - 1].seal.domain;
}

static const char *
verifier_key_name(void *v, size_t i)
{
	return arc_verifier_key_name(v, i);
}

static void
verifier_set_key(void *v, size_t i, const struct dns_result *res)
{
	arc_verifier_set_key(v, i, res);
}

void
arc_verifier_lookup_sync(struct arc_verifier *v, struct dns_resolver *resolver)
{
	dkim_key_lookups_sync(resolver, v, v->n_keys, verifier_key_name,
			      verifier_set_key);
}

struct dkim_lookup *
arc_verifier_lookup(struct arc_verifier *v, struct dns_resolver *resolver,
		    dkim_lookup_done_cb_t *cb, void *ctx)
{
	return dkim_key_lookups_start(resolver, v, v->n_keys,
				      verifier_key_name, verifier_set_key, cb,
				      ctx);
}
