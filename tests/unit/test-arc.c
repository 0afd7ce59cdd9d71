/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/mailauth ARC: the ARC-Seal, ARC-Message-Signature and
 * (ARC-)Authentication-Results parsers, the trusted-sealer list, and
 * chains sealed by Herald's sealer (one, two and three hops) verified by
 * its verifier fed whole, octet by octet and in random pieces; changed
 * messages, broken structures, the instance limit and key failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "dns/dns.h"
#include "feed-split.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/arc-private.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dmarc.h"

#define WAYS 8

static char *
steal(struct buf *b)
{
	char *s = buf_steal(b);

	buf_deinit(b);
	return s;
}

/* ---- parsers ---- */

static void
test_seal_parse(void **state)
{
	static const char ok[] =
		" i=2; a=rsa-sha256; t=1796600000; cv=pass;\r\n"
		"\td=Fwd.Example; s=arc;\r\n\tb=YWJj\r\n\t ZGVm";
	static const char *const bad[] = {
		"a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj",	/* no i= */
		"i=0; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj",
		"i=51; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj",
		"i=1x; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj",
		"i=1; a=rsa-sha1; cv=none; d=x.test; s=a; b=YWJj",
		"i=1; a=rsa-sha256; cv=maybe; d=x.test; s=a; b=YWJj",
		"i=1; a=rsa-sha256; d=x.test; s=a; b=YWJj",	/* no cv= */
		"i=1; a=rsa-sha256; cv=none; d=x..test; s=a; b=YWJj",
		"i=1; a=rsa-sha256; cv=none; d=x.test; s=a; b=!!",
		"i=1; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj; h=from",
		"i=1; i=1; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj",
		"i=1; a=rsa-sha256; cv=none; d=x.test; s=a; b=YWJj; t=12a",
	};
	struct arc_seal seal;
	const char *err = NULL;

	(void)state;
	assert_int_equal(arc_seal_parse(ok, strlen(ok), &seal, &err), 0);
	assert_int_equal(seal.instance, 2);
	assert_int_equal(seal.cv, ARC_CV_PASS);
	assert_int_equal(seal.alg, DKIM_ALG_RSA_SHA256);
	assert_string_equal(seal.domain, "fwd.example");
	assert_string_equal(seal.selector, "arc");
	assert_int_equal(seal.b_len, 6);
	assert_memory_equal(seal.b, "abcdef", 6);
	assert_true(seal.has_t);
	assert_int_equal(seal.t, 1796600000);
	arc_seal_deinit(&seal);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (arc_seal_parse(bad[i], strlen(bad[i]), &seal, &err) == 0)
			fail_msg("parsed: %s", bad[i]);
		assert_non_null(err);
	}
}

static void
test_ams_parse(void **state)
{
	static const char ok[] =
		"i=3; a=rsa-sha256; c=relaxed/relaxed; d=fwd.example; s=arc;"
		" h=From:To:Subject; bh=YWJj; b=ZGVm";
	static const char *const bad[] = {
		/* l= is not ARC's (RFC 8617 4.1.2) */
		"i=1; a=rsa-sha256; d=x.test; s=a; h=from; bh=YWJj; b=ZGVm; "
		"l=10",
		/* ARC-Seal signed */
		"i=1; a=rsa-sha256; d=x.test; s=a; h=from:arc-seal; bh=YWJj; "
		"b=ZGVm",
		"a=rsa-sha256; d=x.test; s=a; h=from; bh=YWJj; b=ZGVm",
		"i=99; a=rsa-sha256; d=x.test; s=a; h=from; bh=YWJj; b=ZGVm",
		"i=1; a=rsa-sha256; d=x.test; s=a; h=to; bh=YWJj; b=ZGVm",
	};
	struct dkim_signature sig;
	const char *err = NULL;
	unsigned inst = 0;

	(void)state;
	assert_int_equal(dkim_ams_parse(ok, strlen(ok), &sig, &inst, &err), 0);
	assert_int_equal(inst, 3);
	assert_string_equal(sig.domain, "fwd.example");
	assert_int_equal(sig.n_headers, 3);
	assert_null(sig.auid);
	dkim_signature_deinit(&sig);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (dkim_ams_parse(bad[i], strlen(bad[i]), &sig, &inst,
				   &err) == 0)
			fail_msg("parsed: %s", bad[i]);
		assert_non_null(err);
	}
}

static void
test_aar_parse(void **state)
{
	static const char ok[] =
		" i=1; (c) mx.Fwd.example 1;\r\n\tspf=pass (ok)"
		" smtp.mailfrom=orig.test;\r\n"
		"\tdkim=pass reason=\"good sig\" header.d=orig.test"
		" header.i=@orig.test header.b=\"abc\";\r\n"
		"\tdmarc=pass (p=reject) header.from=Orig.Test;"
		" arc/1=none";
	struct arc_aar aar;
	const char *err = NULL;

	(void)state;
	assert_int_equal(arc_aar_parse(ok, strlen(ok), &aar, &err), 0);
	assert_int_equal(aar.instance, 1);
	assert_string_equal(aar.authserv_id, "mx.fwd.example");
	assert_int_equal(aar.n_results, 4);
	assert_string_equal(aar.results[0].method, "spf");
	assert_string_equal(aar.results[0].result, "pass");
	assert_string_equal(arc_ar_result_prop(&aar.results[0],
					       "smtp.mailfrom"), "orig.test");
	assert_string_equal(aar.results[1].method, "dkim");
	assert_string_equal(arc_ar_result_prop(&aar.results[1], "header.d"),
			    "orig.test");
	assert_string_equal(arc_ar_result_prop(&aar.results[1], "header.i"),
			    "@orig.test");
	assert_string_equal(arc_ar_result_prop(&aar.results[1], "header.b"),
			    "abc");
	assert_null(arc_ar_result_prop(&aar.results[1], "reason"));
	assert_string_equal(aar.results[2].method, "dmarc");
	assert_string_equal(arc_ar_result_prop(&aar.results[2],
					       "header.from"), "orig.test");
	assert_string_equal(aar.results[3].method, "arc");
	assert_string_equal(aar.results[3].result, "none");
	arc_aar_deinit(&aar);

	/* "none" and a quoted authserv-id */
	assert_int_equal(arc_ar_parse("\"mx.x\"; none", 12, &aar, &err), 0);
	assert_string_equal(aar.authserv_id, "mx.x");
	assert_int_equal(aar.n_results, 0);
	arc_aar_deinit(&aar);

	static const char *const bad[] = {
		"mx.x; spf=pass",		/* no i= */
		"i=0; mx.x; spf=pass",
		"i=1 mx.x; spf=pass",
		"i=1; mx.x; spf",
		"i=1; mx.x; spf=pass smtp.mailfrom",
		"i=1; mx.x; spf=pass (unclosed",
		"i=1; mx.x; spf=\"unclosed",
		"i=1; ; spf=pass",
		"i=1; mx.x spf=pass",
		"i=1;",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (arc_aar_parse(bad[i], strlen(bad[i]), &aar, &err) == 0)
			fail_msg("parsed: %s", bad[i]);
		assert_non_null(err);
	}
}

static void
test_ar_limits(void **state)
{
	struct buf b;
	struct arc_aar ar;
	const char *err = NULL;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "mx.x");
	for (unsigned i = 0; i < ARC_AR_RESULTS_MAX; i++)
		buf_puts(&b, "; spf=pass");
	assert_int_equal(arc_ar_parse(b.data, b.len, &ar, &err), 0);
	assert_int_equal(ar.n_results, ARC_AR_RESULTS_MAX);
	arc_aar_deinit(&ar);
	buf_puts(&b, "; spf=pass");
	assert_int_equal(arc_ar_parse(b.data, b.len, &ar, &err), -1);
	assert_string_equal(err, "too many results");
	buf_reset(&b);
	buf_puts(&b, "mx.x; dkim=pass");
	for (unsigned i = 0; i <= ARC_AR_PROPS_MAX; i++)
		buf_puts(&b, " header.d=x");
	assert_int_equal(arc_ar_parse(b.data, b.len, &ar, &err), -1);
	assert_string_equal(err, "too many properties");
	buf_deinit(&b);
}

static void
test_domain_list(void **state)
{
	char **d = NULL, *err = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(arc_domain_list_parse(" Lists.Example.org ,fwd.test."
					       ",, x.test", &d, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(d[0], "lists.example.org");
	assert_string_equal(d[1], "fwd.test");
	assert_string_equal(d[2], "x.test");
	arc_domain_list_free(&d, n);
	assert_int_equal(arc_domain_list_parse("", &d, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(arc_domain_list_parse("ok.test, bad..test", &d, &n,
					       &err), -1);
	assert_non_null(err);
	assert_null(d);
	free(err);
}

/* ---- sealing and verifying ---- */

static struct dns_result *
txt_result(enum dns_status status, const char *txt)
{
	struct dns_result *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup("x");
	r->canonname = xstrdup("x");
	r->type = DNS_TYPE_TXT;
	r->status = status;
	if (txt != NULL) {
		r->count = 1;
		r->rrs = xcalloc(1, sizeof(*r->rrs));
		r->rrs[0].txt.text = xstrdup(txt);
		r->rrs[0].txt.text_len = strlen(txt);
		r->rrs[0].txt.n_strings = 1;
		r->rrs[0].txt.strings = xcalloc(1, sizeof(char *));
		r->rrs[0].txt.strings[0] = xstrdup(txt);
		r->rrs[0].txt.string_lens = xcalloc(1, sizeof(size_t));
		r->rrs[0].txt.string_lens[0] = strlen(txt);
	}
	return r;
}

/* The keys of the test: one per sealer domain. */
struct ring {
	struct dkim_sign_key *key[3];
	char *name[3], *txt[3];
	enum dns_status status;		/* DNS_OK, or what every lookup gets */
};

static struct ring ring;

static struct dkim_sign_key *
load_key(EVP_PKEY *pkey, const char *domain)
{
	char path[] = "/tmp/test-arc-XXXXXX";
	struct dkim_sign_key *key;
	char *err = NULL;
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL,
					      NULL), 1);
	fclose(fp);
	if (dkim_sign_key_load(path, domain, "arc", &key, &err) < 0)
		fail_msg("%s", err);
	unlink(path);
	return key;
}

static int
setup(void **state)
{
	static const char *const domains[] = { "a.test", "b.test", "c.test" };
	EVP_PKEY *rsa = EVP_RSA_gen(1024);

	(void)state;
	/* one key pair for all three: the names differ, which is what the
	 * lookups see */
	for (int i = 0; i < 3; i++) {
		struct buf rec;

		ring.key[i] = load_key(rsa, domains[i]);
		ring.name[i] = xasprintf("arc._domainkey.%s", domains[i]);
		buf_init(&rec);
		dkim_sign_key_record(ring.key[i], &rec);
		ring.txt[i] = steal(&rec);
	}
	EVP_PKEY_free(rsa);
	ring.status = DNS_OK;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		dkim_sign_key_free(&ring.key[i]);
		free(ring.name[i]);
		free(ring.txt[i]);
	}
	return 0;
}

static size_t
verify_feed(const uint8_t *data, size_t len, void *ctx)
{
	arc_verifier_feed(ctx, data, len);
	return len;
}

static void verify_into(struct arc_verifier *v, const char *msg,
			unsigned way);

static struct arc_verifier *
verify(const char *msg, unsigned way, unsigned max_instances)
{
	struct arc_verify_limits lim = {
		.max_instances = max_instances, .header_max = 65536,
		.now = 1796600000,
	};
	struct arc_verifier *v = arc_verifier_new(&lim);

	verify_into(v, msg, way);
	return v;
}

/* Feeds msg to v (new or reset) and gives it the keys of ring. */
static void
verify_into(struct arc_verifier *v, const char *msg, unsigned way)
{
	feed_split(msg, strlen(msg), way, 0, verify_feed, v);
	arc_verifier_finish(v);
	for (size_t i = 0; i < arc_verifier_key_count(v); i++) {
		const char *name = arc_verifier_key_name(v, i);
		struct dns_result *r = NULL;

		if (name == NULL)
			continue;
		for (int k = 0; k < 3 && ring.status == DNS_OK; k++) {
			if (strcmp(ring.name[k], name) == 0)
				r = txt_result(DNS_OK, ring.txt[k]);
		}
		if (r == NULL)
			r = txt_result(ring.status == DNS_OK ? DNS_NXDOMAIN
				       : ring.status, NULL);
		arc_verifier_set_key(v, i, r);
		dns_result_free(&r);
	}
}

static size_t
seal_feed(const uint8_t *data, size_t len, void *ctx)
{
	arc_sealer_feed(ctx, data, len);
	return len;
}

/* msg forwarded by the sealer of key k: its set on top. Returns NULL
 * when the sealer refuses (*err_r says why). */
static char *
seal(const char *msg, int k, unsigned way, const char **err_r)
{
	struct arc_verifier *v = verify(msg, 0, ARC_INSTANCE_LIMIT);
	struct arc_sealer *s = arc_sealer_new(0, 1796600000);
	struct arc_seal_request req = {
		.chain = v,
		.ar_body = "mx.example; spf=pass smtp.mailfrom=orig.test",
		.key = ring.key[k],
	};
	struct buf out;
	int ret;

	feed_split(msg, strlen(msg), way, 0, seal_feed, s);
	buf_init(&out);
	ret = arc_sealer_finish(s, &req, &out, err_r);
	arc_sealer_free(&s);
	arc_verifier_free(&v);
	if (ret < 0) {
		buf_deinit(&out);
		return NULL;
	}
	buf_puts(&out, msg);
	return steal(&out);
}

static const char plain[] =
	"From: Carol <carol@orig.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: forwarded\r\n"
	"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
	"Message-ID: <1@orig.test>\r\n"
	"\r\n"
	"Hello  Bob,\r\n\r\nbye.\r\n\r\n";

/* The verdict of msg, the same however it is cut. */
static enum arc_result
verdict(const char *msg, const char *reason, unsigned max_instances)
{
	enum arc_result first = ARC_RESULT_NONE;

	for (unsigned way = 0; way < WAYS; way++) {
		struct arc_verifier *v = verify(msg, way, max_instances);
		const struct arc_verify_result *r = arc_verifier_result(v);

		if (way == 0)
			first = r->result;
		assert_int_equal(r->result, first);
		if (reason != NULL) {
			if (r->reason == NULL || strcmp(r->reason, reason) != 0)
				fail_msg("way %u: \"%s\", not \"%s\"", way,
					 r->reason != NULL ? r->reason : "",
					 reason);
		}
		arc_verifier_free(&v);
	}
	return first;
}

static void
test_chain_round_trip(void **state)
{
	const char *err = NULL;
	char *m1, *m2, *m3;
	struct arc_verifier *v;
	const struct arc_verify_result *r;

	(void)state;
	assert_int_equal(verdict(plain, NULL, 50), ARC_RESULT_NONE);
	m1 = seal(plain, 0, 1, &err);
	assert_non_null(m1);
	assert_non_null(strstr(m1, "ARC-Seal: i=1; a=rsa-sha256; "
			       "t=1796600000; cv=none;"));
	assert_int_equal(verdict(m1, NULL, 50), ARC_RESULT_PASS);
	m2 = seal(m1, 1, 2, &err);
	assert_non_null(m2);
	assert_non_null(strstr(m2, "ARC-Seal: i=2; a=rsa-sha256; "
			       "t=1796600000; cv=pass;"));
	m3 = seal(m2, 2, 3, &err);
	assert_non_null(m3);
	assert_int_equal(verdict(m3, NULL, 50), ARC_RESULT_PASS);

	v = verify(m3, 0, 50);
	r = arc_verifier_result(v);
	assert_int_equal(r->instances, 3);
	assert_string_equal(r->as_domain, "c.test");
	assert_string_equal(arc_verifier_sealer(v, 2), "b.test");
	assert_non_null(arc_verifier_aar(v, 1));
	assert_string_equal(arc_verifier_aar(v, 1)->authserv_id, "mx.example");
	assert_string_equal(arc_verifier_aar(v, 1)->results[0].method, "spf");
	assert_null(arc_verifier_aar(v, 4));
	arc_verifier_free(&v);

	/* the instance limit: three sets are too many for two */
	assert_int_equal(verdict(m3, "3 ARC sets (over [mailauth] "
				 "arc_max_instances)", 2), ARC_RESULT_FAIL);
	free(m1);
	free(m2);
	free(m3);
}

static char *
replace(const char *msg, const char *from, const char *to)
{
	const char *at = strstr(msg, from);
	struct buf b;

	assert_non_null(at);
	buf_init(&b);
	buf_append(&b, msg, (size_t)(at - msg));
	buf_puts(&b, to);
	buf_puts(&b, at + strlen(from));
	return steal(&b);
}

/* msg without its first line that starts with prefix (and its folded
 * continuation lines). */
static char *
drop(const char *msg, const char *prefix)
{
	const char *at = strstr(msg, prefix), *end;
	struct buf b;

	assert_non_null(at);
	end = strstr(at, "\r\n");
	while (end[2] == ' ' || end[2] == '\t')
		end = strstr(end + 2, "\r\n");
	buf_init(&b);
	buf_append(&b, msg, (size_t)(at - msg));
	buf_puts(&b, end + 2);
	return steal(&b);
}

static void
test_chain_failures(void **state)
{
	const char *err = NULL;
	char *m1, *m2, *bad, *bad2;

	(void)state;
	m1 = seal(plain, 0, 0, &err);
	m2 = seal(m1, 1, 0, &err);
	assert_non_null(m2);

	bad = replace(m2, "bye.", "BYE!");
	assert_int_equal(verdict(bad, "ARC-Message-Signature i=2: body hash "
				 "mismatch", 50), ARC_RESULT_FAIL);
	free(bad);
	bad = replace(m2, "Subject: forwarded", "Subject: [x] forwarded");
	assert_int_equal(verdict(bad, "ARC-Message-Signature i=2: signature "
				 "mismatch", 50), ARC_RESULT_FAIL);
	free(bad);
	/* relaxed canonicalization: white space changes are fine */
	bad = replace(m2, "Hello  Bob", "Hello Bob");
	assert_int_equal(verdict(bad, NULL, 50), ARC_RESULT_PASS);
	free(bad);
	/* set 1's AAR changed: the latest seal covers it */
	bad = replace(m2, "i=1; mx.example; spf=pass", "i=1; mx.example; "
		      "spf=fail");
	assert_int_equal(verdict(bad, "ARC-Seal i=2: signature mismatch", 50),
			 ARC_RESULT_FAIL);
	free(bad);
	bad = drop(m2, "ARC-Seal: i=2");
	assert_int_equal(verdict(bad, "instance 2 has no ARC-Seal", 50),
			 ARC_RESULT_FAIL);
	free(bad);
	bad = replace(m2, "ARC-Seal: i=1;", "ARC-Seal: i=2;");
	assert_int_equal(verdict(bad, "two ARC-Seal fields of instance 2", 50),
			 ARC_RESULT_FAIL);
	free(bad);
	bad = replace(m2, "cv=pass", "cv=none");
	assert_int_equal(verdict(bad, "ARC-Seal i=2 says cv=none (must be "
				 "pass)", 50), ARC_RESULT_FAIL);
	free(bad);
	bad = replace(m2, "ARC-Authentication-Results: i=1;",
		      "ARC-Authentication-Results: i=x;");
	assert_int_equal(verdict(bad, "ARC-Authentication-Results without a "
				 "valid instance (i=)", 50), ARC_RESULT_FAIL);
	free(bad);
	/* a gap: set 1 gone */
	bad = drop(m2, "ARC-Seal: i=1");
	bad2 = drop(bad, "ARC-Message-Signature: i=1");
	free(bad);
	bad = drop(bad2, "ARC-Authentication-Results: i=1");
	free(bad2);
	assert_int_equal(verdict(bad, "instance 1 has no "
				 "ARC-Authentication-Results", 50),
			 ARC_RESULT_FAIL);
	free(bad);

	/* keys: missing, and a lookup failure (temporary) */
	ring.status = DNS_NXDOMAIN;
	assert_int_equal(verdict(m2, "ARC-Message-Signature i=2: no key "
				 "(nxdomain)", 50), ARC_RESULT_FAIL);
	ring.status = DNS_SERVFAIL;
	{
		struct arc_verifier *v = verify(m2, 0, 50);

		assert_int_equal(arc_verifier_result(v)->result,
				 ARC_RESULT_FAIL);
		assert_true(arc_verifier_result(v)->temporary);
		arc_verifier_free(&v);
		/* a temporary verdict is not sealed */
		assert_null(seal(m2, 2, 0, &err));
		assert_string_equal(err, "the chain could not be verified now");
	}
	ring.status = DNS_OK;
	free(m1);
	free(m2);
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* One verifier reset between messages (a session's transactions) gives
 * each the verdict a new one gives, whatever the last one left. */
static void
test_verifier_reset(void **state)
{
	const char *err = NULL;
	char *m1 = seal(plain, 0, 0, &err);
	char *m2 = seal(m1, 1, 0, &err);
	char *m3 = seal(m2, 2, 0, &err);
	char *bad = replace(m2, "bye.", "BYE!");
	const char *msgs[] = { m2, bad, plain, m3, m1, "no header", m3, m2 };
	unsigned maxes[] = { 50, 50, 50, 2, 50, 50, 50, 50 };
	struct arc_verify_limits lim = {
		.max_instances = 50, .header_max = 65536, .now = 1796600000,
	};
	struct arc_verifier *reused = arc_verifier_new(&lim);

	(void)state;
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		struct arc_verifier *fresh = verify(msgs[m], 0, maxes[m]);
		const struct arc_verify_result *a, *b;

		lim.max_instances = maxes[m];
		arc_verifier_reset(reused, &lim);
		verify_into(reused, msgs[m], (unsigned)(m % WAYS));
		a = arc_verifier_result(fresh);
		b = arc_verifier_result(reused);
		assert_int_equal(a->result, b->result);
		assert_int_equal(a->instances, b->instances);
		assert_int_equal(a->temporary, b->temporary);
		assert_true(same_str(a->reason, b->reason));
		assert_true(same_str(a->as_domain, b->as_domain));
		arc_verifier_free(&fresh);
	}
	assert_int_equal(arc_verifier_result(reused)->result, ARC_RESULT_PASS);
	arc_verifier_free(&reused);
	free(m1);
	free(m2);
	free(m3);
	free(bad);
}

/* Both verifiers fed as smtp-authin.c feeds them: DKIM's first. */
struct pair {
	struct dkim_verifier *dkim;
	struct arc_verifier *arc;
};

static size_t
pair_feed(const uint8_t *data, size_t len, void *ctx)
{
	struct pair *p = ctx;

	dkim_verifier_feed(p->dkim, data, len);
	arc_verifier_feed(p->arc, data, len);
	return len;
}

/* An ARC verifier reading the DKIM verifier's header (the inbound
 * checks' way) gives every message the verdict, and a seal the input,
 * that one with its own copy gives; both verifiers reused. */
static void
test_shared_header(void **state)
{
	const char *err = NULL;
	char *m1 = seal(plain, 0, 0, &err);
	char *m2 = seal(m1, 1, 0, &err);
	char *m3 = seal(m2, 2, 0, &err);
	char *bad = replace(m2, "bye.", "BYE!");
	char *lf = replace(m2, "\r\n", "\n");
	char *nobody = xstrndup(m2, (size_t)(strstr(m2, "\r\n\r\n") - m2) + 2);
	const char *msgs[] = { m2, bad, plain, m3, m1, "no header", lf,
			       nobody, m3, "", m2 };
	struct arc_verify_limits lim = {
		.max_instances = 50, .header_max = 65536, .now = 1796600000,
	};
	struct dkim_verify_limits dlim = {
		.max_signatures = 5, .header_max = 65536, .now = 1796600000,
	};
	struct pair p = {
		dkim_verifier_new(&dlim), arc_verifier_new(&lim),
	};

	(void)state;
	for (size_t m = 0; m < 2 * sizeof(msgs) / sizeof(msgs[0]); m++) {
		const char *msg = msgs[m % (sizeof(msgs) / sizeof(msgs[0]))];
		/* the second round: a header over the limit */
		size_t hmax = m < sizeof(msgs) / sizeof(msgs[0]) ? 65536 : 200;
		struct arc_verifier *own;
		const struct arc_verify_result *a, *b;
		struct buf ia, ib;

		lim.header_max = dlim.header_max = hmax;
		own = arc_verifier_new(&lim);
		verify_into(own, msg, 0);
		dkim_verifier_reset(p.dkim, &dlim);
		arc_verifier_reset(p.arc, &lim);
		arc_verifier_share_header(p.arc, p.dkim);
		feed_split(msg, strlen(msg), (unsigned)(m % WAYS), 0,
			   pair_feed, &p);
		dkim_verifier_finish(p.dkim);
		/* the rest of verify_into(): finish and the keys */
		verify_into(p.arc, "", 0);
		a = arc_verifier_result(own);
		b = arc_verifier_result(p.arc);
		if (a->result != b->result || a->instances != b->instances ||
		    a->temporary != b->temporary ||
		    !same_str(a->reason, b->reason) ||
		    !same_str(a->as_domain, b->as_domain))
			fail_msg("message %zu: %d \"%s\" against %d \"%s\"",
				 m, a->result, a->reason ? a->reason : "",
				 b->result, b->reason ? b->reason : "");
		buf_init(&ia);
		buf_init(&ib);
		arc_verifier_seal_input(own, a->instances, &ia);
		arc_verifier_seal_input(p.arc, b->instances, &ib);
		assert_int_equal(ia.len, ib.len);
		assert_memory_equal(ia.data, ib.data, ia.len);
		buf_deinit(&ia);
		buf_deinit(&ib);
		arc_verifier_free(&own);
	}
	dkim_verifier_free(&p.dkim);
	arc_verifier_free(&p.arc);
	free(m1);
	free(m2);
	free(m3);
	free(bad);
	free(lf);
	free(nobody);
}

static void
test_seal_after_failure(void **state)
{
	const char *err = NULL;
	char *m1, *bad, *m2, *m3;
	struct arc_verifier *v;

	(void)state;
	m1 = seal(plain, 0, 0, &err);
	bad = replace(m1, "bye.", "BYE!");
	/* a failed chain is sealed cv=fail, over the new set only */
	m2 = seal(bad, 1, 0, &err);
	assert_non_null(m2);
	assert_non_null(strstr(m2, "cv=fail;"));
	v = verify(m2, 0, 50);
	assert_int_equal(arc_verifier_result(v)->result, ARC_RESULT_FAIL);
	assert_int_equal(arc_verifier_result(v)->latest_cv, ARC_CV_FAIL);
	assert_null(arc_verifier_aar(v, 1));
	arc_verifier_free(&v);
	/* and then never again (RFC 8617 5.1 step 1) */
	m3 = seal(m2, 2, 0, &err);
	assert_null(m3);
	assert_string_equal(err, "the chain has ended (cv=fail)");
	free(m1);
	free(bad);
	free(m2);
}

static void
test_trusted_vouch(void **state)
{
	const char *err = NULL;
	char *m1, *m2, *bad, *why, *perr = NULL;
	struct dmarc_psl *psl = dmarc_psl_parse("test\n", 5, &perr);
	struct arc_trust_check c = {
		.from_domain = "orig.test", .psl = psl,
		.aspf = DMARC_ALIGN_RELAXED, .adkim = DMARC_ALIGN_RELAXED,
	};
	struct arc_verifier *v;

	(void)state;
	assert_non_null(psl);
	m1 = seal(plain, 0, 0, &err);
	m2 = seal(m1, 1, 0, &err);
	v = verify(m2, 0, 50);
	/* each set's AAR says spf=pass smtp.mailfrom=orig.test */
	why = arc_trusted_vouch(v, "x.test, A.test", &c);
	assert_non_null(why);
	assert_string_equal(why, "arc=pass; trusted sealer a.test (i=1) saw "
			    "spf=pass aligned");
	free(why);
	why = arc_trusted_vouch(v, "b.test", &c);
	assert_string_equal(why, "arc=pass; trusted sealer b.test (i=2) saw "
			    "spf=pass aligned");
	free(why);
	assert_null(arc_trusted_vouch(v, "x.test", &c));
	assert_null(arc_trusted_vouch(v, NULL, &c));
	assert_null(arc_trusted_vouch(v, "bad..list", &c));
	c.from_domain = "other.test";
	assert_null(arc_trusted_vouch(v, "a.test, b.test", &c));
	/* strict SPF alignment: orig.test is the From domain exactly */
	c.from_domain = "orig.test";
	c.aspf = DMARC_ALIGN_STRICT;
	why = arc_trusted_vouch(v, "a.test", &c);
	assert_non_null(why);
	free(why);
	arc_verifier_free(&v);
	/* a chain that fails vouches for nothing */
	bad = replace(m2, "bye.", "BYE!");
	v = verify(bad, 0, 50);
	assert_null(arc_trusted_vouch(v, "a.test, b.test", &c));
	arc_verifier_free(&v);
	free(bad);
	free(m1);
	free(m2);
	dmarc_psl_free(&psl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_parse),
		cmocka_unit_test(test_ams_parse),
		cmocka_unit_test(test_aar_parse),
		cmocka_unit_test(test_ar_limits),
		cmocka_unit_test(test_domain_list),
		cmocka_unit_test(test_chain_round_trip),
		cmocka_unit_test(test_chain_failures),
		cmocka_unit_test(test_verifier_reset),
		cmocka_unit_test(test_shared_header),
		cmocka_unit_test(test_seal_after_failure),
		cmocka_unit_test(test_trusted_vouch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
