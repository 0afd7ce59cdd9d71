/* SPDX-License-Identifier: MIT */
/* mailauth/spf: the macro expander (RFC 7208 7.4's examples, transformers,
 * escaping, syntax errors), the record parser (terms, CIDR lengths,
 * modifiers, what is a permerror), truncation of long names, and the
 * evaluator driven by hand-made DNS answers (CIDR matching, limits,
 * include/redirect, explanations) without any resolver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "mailauth/spf-private.h"
#include "mailauth/spf.h"

static const struct spf_macro_vars rfc_vars = {
	.s = "strong-bad@email.example.com", .l = "strong-bad",
	.o = "email.example.com", .d = "email.example.com",
	.i = "192.0.2.3", .c = "192.0.2.3", .v = "in-addr",
	.h = "mx.example.org", .r = "example.net", .p = "mx.example.org",
	.t = 1234,
};

static void
test_macro_rfc_examples(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		  "example.com.trusted-domains.example.net" },
		{ "%{p2}.x", "example.org.x" },
		{ "%%%_%-", "% %20" },
		{ "%{L}", "strong-bad" },
		{ "%{S}", "strong-bad%40email.example.com" },
		{ "%{l2r+-}", "bad.strong" },
		{ "%{d99}", "email.example.com" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b);
		assert_int_equal(spf_macro_expand(cases[i].in,
						  strlen(cases[i].in), false,
						  &rfc_vars, &b), SPF_MACRO_OK);
		assert_string_equal(b.data, cases[i].out);
		buf_deinit(&b);
	}
}

static void
test_macro_exp_only_and_errors(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	/* c, r, t only in explanations; spaces only there too */
	assert_int_equal(spf_macro_expand("%{c} %{r} %{t}", 14, true,
					  &rfc_vars, &b), SPF_MACRO_OK);
	assert_string_equal(b.data, "192.0.2.3 example.net 1234");
	assert_false(spf_macro_is_valid("%{c}", 4, false));
	assert_false(spf_macro_is_valid("%{r}.x", 6, false));
	assert_false(spf_macro_is_valid("a b", 3, false));
	assert_true(spf_macro_is_valid("a b", 3, true));
	/* '%' alone, an unknown letter, a zero digit, an open brace */
	assert_false(spf_macro_is_valid("foo%.bar", 8, false));
	assert_false(spf_macro_is_valid("%(ir)", 5, false));
	assert_false(spf_macro_is_valid("%{a}", 4, false));
	assert_false(spf_macro_is_valid("%{d0}", 5, false));
	assert_false(spf_macro_is_valid("%{d", 3, false));
	assert_false(spf_macro_is_valid("%", 1, false));
	assert_false(spf_macro_is_valid("\x80", 1, true));
	assert_true(spf_macro_is_valid("%{d2r+-./_=,}", 13, false));
	/* %{p} unknown yet: the evaluator looks it up and comes back */
	{
		struct spf_macro_vars v = rfc_vars;

		v.p = NULL;
		buf_reset(&b);
		assert_int_equal(spf_macro_expand("%{p}", 4, false, &v, &b),
				 SPF_MACRO_NEED_P);
	}
	buf_deinit(&b);
}

static void
test_macro_too_long(void **state)
{
	struct buf in, out;

	(void)state;
	buf_init(&in);
	buf_init(&out);
	for (int i = 0; i < 200; i++)
		buf_puts(&in, "%{s}");
	assert_int_equal(spf_macro_expand(in.data, in.len, false, &rfc_vars,
					  &out), SPF_MACRO_TOO_LONG);
	assert_true(out.len <= SPF_MACRO_MAX + 64);
	buf_deinit(&in);
	buf_deinit(&out);
}

static void
test_domain_spec(void **state)
{
	static const struct {
		const char *spec;
		bool ok;
	} cases[] = {
		{ "example.com", true },
		{ "example.com.", true },
		{ "%{d}", true },
		{ "_spf.%{d2}", true },
		{ "foo:bar/baz.example.com", true },
		{ "foo.example.xn--zckzah", true },
		{ "a.123-4", true },
		{ "museum", false },
		{ "museum.", false },
		{ "abc.123", false },
		{ "example.-com", false },
		{ "example.com-", false },
		{ "example.com:8080", false },
		{ "example.com/24", false },
		{ "foo%%{d}", false },
		{ "", false },
		{ "-all", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(spf_domain_spec_is_valid(cases[i].spec,
							  strlen(cases[i].spec)),
				 cases[i].ok);
}

static void
test_truncate_and_queryable(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "example.com.");
	spf_domain_truncate(&b);
	assert_string_equal(b.data, "example.com");
	buf_reset(&b);
	for (int i = 0; i < 30; i++)
		buf_puts(&b, "abcdefghi.");
	buf_puts(&b, "com");
	spf_domain_truncate(&b);
	assert_true(b.len <= 253);
	assert_true(b.len > 240);
	assert_int_equal(b.data[0], 'a');
	assert_true(spf_name_is_queryable(b.data));
	buf_deinit(&b);
	assert_true(spf_name_is_queryable("a b.example"));
	assert_false(spf_name_is_queryable("a..b"));
	assert_false(spf_name_is_queryable(""));
	assert_false(spf_name_is_queryable("a\\b.c"));
	assert_false(spf_name_is_queryable(
		"a123456789012345678901234567890123456789012345678901234567890123.c"));
}

static void
test_record_selection(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf1("v=spf1", 6));
	assert_true(spf_record_is_spf1("V=SpF1 -all", 11));
	assert_false(spf_record_is_spf1("v=spf10", 7));
	assert_false(spf_record_is_spf1("v=spf1mx", 8));
	assert_false(spf_record_is_spf1("v=spf", 5));
}

static void
test_record_parse(void **state)
{
	static const struct {
		const char *rec;
		bool ok;
	} cases[] = {
		{ "v=spf1", true },
		{ "v=spf1 ", true },
		{ "v=spf1  a   -all  ", true },
		{ "v=spf1 ip4:1.2.3.4/32 ip6:::1.1.1.1/0 ~all", true },
		{ "v=spf1 a/24//64 mx:%{d}/0 ptr ptr:example.com ?exists:%{i}.x.org", true },
		{ "v=spf1 moo.cow-far_out=man:dog/cat -all", true },
		{ "v=spf1 default=+", true },
		{ "v=spf1 exp=e.%{d} redirect=_spf.%{d}", true },
		{ "v=spf1 -all.", false },
		{ "v=spf1 -all:foo", false },
		{ "v=spf1 all/8", false },
		{ "v=spf1 ip4:1.2.3.4/33", false },
		{ "v=spf1 ip4:1.2.3.4/032", false },
		{ "v=spf1 ip4:1.2.3", false },
		{ "v=spf1 ip4:01.2.3.4", false },
		{ "v=spf1 ip4:1.2.3.4//32", false },
		{ "v=spf1 ip4:1.2.3.4:8080", false },
		{ "v=spf1 ip4", false },
		{ "v=spf1 ip6:::1/129", false },
		{ "v=spf1 ip6::CAFE::BABE", false },
		{ "v=spf1 a/33", false },
		{ "v=spf1 a//129", false },
		{ "v=spf1 a/24/64", false },
		{ "v=spf1 a:", false },
		{ "v=spf1 ptr/0", false },
		{ "v=spf1 include", false },
		{ "v=spf1 include:x.example.com/24", false },
		{ "v=spf1 exists", false },
		{ "v=spf1 redirect:x.example.com", false },
		{ "v=spf1 redirect=", false },
		{ "v=spf1 exp=", false },
		{ "v=spf1 exp=a.com exp=b.com", false },
		{ "v=spf1 redirect=a.com redirect=a.com", false },
		{ "v=spf1 exp=%{r}.example.com", false },
		{ "v=spf1 1up=foo", false },
		{ "v=spf1 =all", false },
		{ "v=spf1 foo=%abc", false },
		{ "v=spf1 moo", false },
		{ "v=spf1 a:foo.example.com\r-all", false },
		{ "v=spf1 \x80" "a -all", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spf_record *rec = NULL;
		const char *err = NULL;
		int ret = spf_record_parse(cases[i].rec, strlen(cases[i].rec),
					   &rec, &err);

		if (cases[i].ok) {
			assert_int_equal(ret, 0);
			assert_non_null(rec);
		} else {
			assert_int_equal(ret, -1);
			assert_null(rec);
			assert_non_null(err);
		}
		spf_record_free(&rec);
	}
}

static void
test_record_terms(void **state)
{
	const char *text = "v=spf1 -a:x.example.com/24//64 ~mx//48 ip4:192.0.2.0/24 "
		"ip6:2001:db8::/32 exp=why.%{d} redirect=r.example.com";
	struct spf_record *rec;
	const char *err;
	uint8_t v6[16];

	(void)state;
	assert_int_equal(spf_record_parse(text, strlen(text), &rec, &err), 0);
	assert_int_equal(rec->n_terms, 4);
	assert_int_equal(rec->terms[0].mech, SPF_MECH_A);
	assert_int_equal(rec->terms[0].qualifier, '-');
	assert_string_equal(rec->terms[0].domain, "x.example.com");
	assert_int_equal(rec->terms[0].cidr4, 24);
	assert_int_equal(rec->terms[0].cidr6, 64);
	assert_int_equal(rec->terms[1].mech, SPF_MECH_MX);
	assert_null(rec->terms[1].domain);
	assert_int_equal(rec->terms[1].cidr4, 32);
	assert_int_equal(rec->terms[1].cidr6, 48);
	assert_int_equal(rec->terms[2].mech, SPF_MECH_IP4);
	assert_memory_equal(rec->terms[2].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(rec->terms[2].cidr4, 24);
	inet_pton(AF_INET6, "2001:db8::", v6);
	assert_memory_equal(rec->terms[3].addr, v6, 16);
	assert_int_equal(rec->terms[3].cidr6, 32);
	assert_string_equal(rec->terms[3].text, "ip6:2001:db8::/32");
	assert_string_equal(rec->exp, "why.%{d}");
	assert_string_equal(rec->redirect, "r.example.com");
	spf_record_free(&rec);
}

/* --- the evaluator over a hand-made zone ------------------------------ */

struct fake_rr {
	const char *name;
	enum dns_type type;
	const char *data;	/* TXT text, an address, "pref host", PTR */
};

/* Answers the evaluator's lookups from rrs (NXDOMAIN for a name not
 * there, NODATA for a type not there, SERVFAIL for "fail.test"). */
static struct spf_verdict *
run(const struct fake_rr *rrs, const char *ip, const char *from,
    const struct spf_limits *limits, unsigned *lookups_r)
{
	struct sockaddr_storage ss;
	struct spf_limits lim;
	struct spf_request req = { .identity = SPF_ID_MAILFROM,
				   .mail_from = from, .helo = "helo.test" };
	struct spf_eval *e;
	const char *name;
	enum dns_type type;
	unsigned n = 0;
	struct spf_verdict *v;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	req.ip = (struct sockaddr *)&ss;
	spf_limits_default(&lim);
	e = spf_eval_new(&req, limits != NULL ? limits : &lim);
	while (spf_eval_step(e, &name, &type) == SPF_STEP_NEED_DNS) {
		struct dns_rr rr[16];
		char *strs[16];
		size_t lens[16];
		struct dns_result res = { .name = (char *)name,
					  .canonname = (char *)name,
					  .type = type, .rrs = rr };
		bool exists = false;

		assert_true(++n <= SPF_EVAL_MAX_ANSWERS);
		memset(rr, 0, sizeof(rr));
		for (const struct fake_rr *f = rrs; f->name != NULL; f++) {
			struct dns_rr *r = &rr[res.count];

			if (strcasecmp(f->name, name) != 0)
				continue;
			exists = true;
			if (f->type != type)
				continue;
			assert_true(res.count < 16);
			switch (type) {
			case DNS_TYPE_TXT:
				strs[res.count] = (char *)f->data;
				lens[res.count] = strlen(f->data);
				r->txt.text = (char *)f->data;
				r->txt.text_len = strlen(f->data);
				r->txt.n_strings = 1;
				r->txt.strings = &strs[res.count];
				r->txt.string_lens = &lens[res.count];
				break;
			case DNS_TYPE_A:
				r->addr.family = AF_INET;
				inet_pton(AF_INET, f->data, &r->addr.v4);
				break;
			case DNS_TYPE_AAAA:
				r->addr.family = AF_INET6;
				inet_pton(AF_INET6, f->data, &r->addr.v6);
				break;
			case DNS_TYPE_MX:
				r->mx.preference = 10;
				r->mx.exchange = (char *)f->data;
				break;
			case DNS_TYPE_PTR:
				r->ptr = (char *)f->data;
				break;
			default:
				break;
			}
			res.count++;
		}
		if (strcmp(name, "fail.test") == 0) {
			res.status = DNS_SERVFAIL;
			res.count = 0;
		} else {
			res.status = res.count > 0 ? DNS_OK :
				exists ? DNS_NODATA : DNS_NXDOMAIN;
		}
		spf_eval_answer(e, &res);
	}
	v = spf_eval_take_verdict(e);
	spf_eval_free(&e);
	if (lookups_r != NULL)
		*lookups_r = n;
	return v;
}

static enum spf_result
result_of(const struct fake_rr *rrs, const char *ip, const char *from)
{
	struct spf_verdict *v = run(rrs, ip, from, NULL, NULL);
	enum spf_result r = v->result;

	spf_verdict_free(&v);
	return r;
}

/* The parsed-record cache is keyed on the text: a repeat shares the
 * parse, a changed record (the DNS answer changed) is parsed afresh and
 * evaluated as published, and a record evicted while a check holds it
 * stays valid until that check lets go. */
static void
test_record_cache(void **state)
{
	static const struct fake_rr z1[] = {
		{ "cache.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.0/24 -all" },
		{ NULL, 0, NULL },
	};
	static const struct fake_rr z2[] = {
		{ "cache.test", DNS_TYPE_TXT, "v=spf1 ip4:198.51.100.0/24 -all" },
		{ NULL, 0, NULL },
	};
	const char *text = "v=spf1 mx ip4:192.0.2.0/24 -all";
	struct spf_record *a, *b, *c;
	const char *err;
	char more[64];

	(void)state;
	assert_int_equal(spf_record_parse_cached(text, strlen(text), &a, &err), 0);
	assert_int_equal(spf_record_parse_cached(text, strlen(text), &b, &err), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->n_terms, 3);
	spf_record_free(&b);
	assert_null(b);
	/* a prefix of the text is another record */
	assert_int_equal(spf_record_parse_cached(text, strlen(text) - 5, &c,
						 &err), 0);
	assert_ptr_not_equal(a, c);
	assert_int_equal(c->n_terms, 2);
	spf_record_free(&c);
	assert_int_equal(spf_record_parse_cached("v=spf1 bogus", 12, &c, &err), -1);
	assert_null(c);
	/* evicted while held */
	for (int i = 0; i < 200; i++) {
		snprintf(more, sizeof(more), "v=spf1 ip4:10.0.%d.0/24 -all", i);
		assert_int_equal(spf_record_parse_cached(more, strlen(more), &c,
							 &err), 0);
		assert_int_equal(c->terms[0].addr[2], i);
		spf_record_free(&c);
	}
	assert_int_equal(a->n_terms, 3);
	assert_string_equal(a->terms[1].text, "ip4:192.0.2.0/24");
	spf_record_free(&a);
	/* the same domain's record changed between two checks */
	assert_int_equal(result_of(z1, "192.0.2.9", "x@cache.test"), SPF_PASS);
	assert_int_equal(result_of(z1, "192.0.2.9", "x@cache.test"), SPF_PASS);
	assert_int_equal(result_of(z2, "192.0.2.9", "x@cache.test"), SPF_FAIL);
	assert_int_equal(result_of(z2, "198.51.100.9", "x@cache.test"), SPF_PASS);
	assert_int_equal(result_of(z1, "198.51.100.9", "x@cache.test"), SPF_FAIL);
}

static void
test_eval_cidr(void **state)
{
	static const struct fake_rr z[] = {
		{ "a.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.128/25 ip6:2001:db8:1::/48 a:h.test/30//126 -all" },
		{ "h.test", DNS_TYPE_A, "198.51.100.4" },
		{ "h.test", DNS_TYPE_AAAA, "2001:db8:9::4" },
		{ NULL, 0, NULL },
	};

	(void)state;
	assert_int_equal(result_of(z, "192.0.2.200", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "192.0.2.127", "x@a.test"), SPF_FAIL);
	assert_int_equal(result_of(z, "::ffff:192.0.2.129", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "2001:db8:1:ffff::1", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "2001:db8:2::1", "x@a.test"), SPF_FAIL);
	assert_int_equal(result_of(z, "198.51.100.7", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "198.51.100.8", "x@a.test"), SPF_FAIL);
	assert_int_equal(result_of(z, "2001:db8:9::7", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "2001:db8:9::8", "x@a.test"), SPF_FAIL);
}

static void
test_eval_results_and_exp(void **state)
{
	static const struct fake_rr z[] = {
		{ "a.test", DNS_TYPE_TXT, "v=spf1 include:b.test mx ~all exp=why.%{d}" },
		{ "b.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.1 -all exp=no.test" },
		{ "a.test", DNS_TYPE_MX, "mx.a.test" },
		{ "mx.a.test", DNS_TYPE_A, "192.0.2.2" },
		{ "why.a.test", DNS_TYPE_TXT, "%{i} is not %{d}'s" },
		{ "no.test", DNS_TYPE_TXT, "not this one" },
		{ "c.test", DNS_TYPE_TXT, "v=spf1 redirect=a.test" },
		{ "d.test", DNS_TYPE_TXT, "v=spf1 -exists:fail.test" },
		{ "e.test", DNS_TYPE_TXT, "v=spf1 -all" },
		{ "e.test", DNS_TYPE_TXT, "v=spf1 +all" },
		{ "f.test", DNS_TYPE_TXT, "v=spf1 ?all -all" },
		{ "g.test", DNS_TYPE_TXT, "v=spf1 -all exp=why.a.test" },
		{ NULL, 0, NULL },
	};
	struct spf_verdict *v;

	(void)state;
	v = run(z, "192.0.2.1", "x@a.test", NULL, NULL);
	assert_int_equal(v->result, SPF_PASS);
	assert_string_equal(v->mechanism, "include:b.test");
	spf_verdict_free(&v);
	assert_int_equal(result_of(z, "192.0.2.2", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of(z, "192.0.2.3", "x@a.test"), SPF_SOFTFAIL);
	assert_int_equal(result_of(z, "192.0.2.3", "x@c.test"), SPF_SOFTFAIL);
	assert_int_equal(result_of(z, "192.0.2.3", "x@d.test"), SPF_TEMPERROR);
	assert_int_equal(result_of(z, "192.0.2.3", "x@e.test"), SPF_PERMERROR);
	assert_int_equal(result_of(z, "192.0.2.3", "x@f.test"), SPF_NEUTRAL);
	assert_int_equal(result_of(z, "192.0.2.3", "x@none.test"), SPF_NONE);
	assert_int_equal(result_of(z, "192.0.2.3", "x@[192.0.2.3]"), SPF_NONE);
	assert_int_equal(result_of(z, "192.0.2.3", "x@nodot"), SPF_NONE);
	v = run(z, "192.0.2.3", "x@g.test", NULL, NULL);
	assert_int_equal(v->result, SPF_FAIL);
	assert_true(v->explanation_from_record);
	assert_string_equal(v->explanation, "192.0.2.3 is not g.test's");
	spf_verdict_free(&v);
	/* MAIL FROM:<> checks postmaster@HELO */
	v = run(z, "192.0.2.3", "", NULL, NULL);
	assert_int_equal(v->identity, SPF_ID_HELO);
	assert_string_equal(v->domain, "helo.test");
	spf_verdict_free(&v);
}

static void
test_eval_limits(void **state)
{
	static const struct fake_rr z[] = {
		{ "loop.test", DNS_TYPE_TXT, "v=spf1 include:loop.test" },
		{ "void.test", DNS_TYPE_TXT, "v=spf1 a:n1.test a:n2.test a:n3.test ?all" },
		{ "ten.test", DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a ?all" },
		{ "eleven.test", DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a a ?all" },
		{ "ten.test", DNS_TYPE_A, "198.51.100.1" },
		{ "eleven.test", DNS_TYPE_A, "198.51.100.1" },
		{ NULL, 0, NULL },
	};
	struct spf_limits lim;
	struct spf_verdict *v;
	unsigned n;

	(void)state;
	v = run(z, "192.0.2.3", "x@loop.test", NULL, &n);
	assert_int_equal(v->result, SPF_PERMERROR);
	assert_non_null(v->problem);
	assert_true(n <= 12);
	spf_verdict_free(&v);
	assert_int_equal(result_of(z, "192.0.2.3", "x@void.test"), SPF_PERMERROR);
	assert_int_equal(result_of(z, "192.0.2.3", "x@ten.test"), SPF_NEUTRAL);
	assert_int_equal(result_of(z, "192.0.2.3", "x@eleven.test"), SPF_PERMERROR);
	/* the limits are settings */
	spf_limits_default(&lim);
	lim.void_lookups = 3;
	lim.dns_mechanisms = 11;
	v = run(z, "192.0.2.3", "x@void.test", &lim, NULL);
	assert_int_equal(v->result, SPF_NEUTRAL);
	assert_int_equal(v->void_lookups, 3);
	spf_verdict_free(&v);
	v = run(z, "192.0.2.3", "x@eleven.test", &lim, NULL);
	assert_int_equal(v->result, SPF_NEUTRAL);
	assert_int_equal(v->dns_mechanisms, 11);
	spf_verdict_free(&v);
}

static void
test_eval_ptr_and_p(void **state)
{
	static const struct fake_rr z[] = {
		{ "a.test", DNS_TYPE_TXT, "v=spf1 ptr -all exp=e.a.test" },
		{ "e.a.test", DNS_TYPE_TXT, "from %{p}" },
		{ "3.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "h.a.test" },
		{ "4.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "h.a.test" },
		{ "4.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "other.test" },
		{ "h.a.test", DNS_TYPE_A, "192.0.2.3" },
		{ "other.test", DNS_TYPE_A, "192.0.2.4" },
		{ NULL, 0, NULL },
	};
	struct spf_verdict *v;

	(void)state;
	assert_int_equal(result_of(z, "192.0.2.3", "x@a.test"), SPF_PASS);
	v = run(z, "192.0.2.4", "x@a.test", NULL, NULL);
	assert_int_equal(v->result, SPF_FAIL);
	assert_string_equal(v->explanation, "from other.test");
	spf_verdict_free(&v);
	v = run(z, "192.0.2.5", "x@a.test", NULL, NULL);
	assert_int_equal(v->result, SPF_FAIL);
	assert_string_equal(v->explanation, "from unknown");
	spf_verdict_free(&v);
}

static void
test_headers(void **state)
{
	struct spf_verdict v = {
		.result = SPF_PASS, .identity = SPF_ID_MAILFROM,
		.domain = "example.com", .mechanism = "ip4:192.0.2.0/24",
	};
	char *h;

	(void)state;
	h = spf_received_spf(&v, "192.0.2.1", "a@example.com",
			     "mail.example.com", "mx.example.org");
	assert_string_equal(h, "pass (mx.example.org: domain of a@example.com "
			    "designates 192.0.2.1 as permitted sender) "
			    "client-ip=192.0.2.1; envelope-from=\"a@example.com\"; "
			    "helo=mail.example.com; receiver=mx.example.org; "
			    "identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\"");
	free(h);
	h = spf_auth_results(&v);
	assert_string_equal(h, "spf=pass smtp.mailfrom=example.com");
	free(h);
	/* a HELO with a line break and quotes stays one quoted value */
	v.result = SPF_PERMERROR;
	v.identity = SPF_ID_HELO;
	v.mechanism = NULL;
	v.problem = "more than 10 DNS mechanisms";
	h = spf_received_spf(&v, "2001:db8::1", "", "evil\r\nX-Spam: \"no\"",
			     "mx.example.org");
	assert_null(strchr(h, '\r'));
	assert_null(strchr(h, '\n'));
	assert_non_null(strstr(h, "helo=\"evil??X-Spam: \\\"no\\\"\""));
	assert_non_null(strstr(h, "client-ip=\"2001:db8::1\""));
	assert_non_null(strstr(h, "problem=\"more than 10 DNS mechanisms\""));
	assert_true(strncmp(h, "permerror (mx.example.org: more than 10", 39) == 0);
	free(h);
	h = spf_auth_results(&v);
	assert_string_equal(h, "spf=permerror smtp.helo=example.com");
	free(h);
}

/* Answers that add up past SPF_EVAL_MAX_BYTES end the check. */
static void
test_eval_answer_bytes(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct spf_request req = { .identity = SPF_ID_MAILFROM,
				   .mail_from = "a@big.test",
				   .ip = (struct sockaddr *)&sin };
	static char text[60000];
	char *strs[1] = { text };
	size_t lens[1];
	struct dns_rr rr = { .txt = { .text = text, .n_strings = 1,
				      .strings = strs,
				      .string_lens = lens } };
	struct spf_limits lim;
	struct spf_eval *e;
	const char *name;
	enum dns_type type;
	unsigned steps = 0;

	(void)state;
	/* v=spf1 include:i0.big.test include:i1.big.test ... : every
	 * include's TXT answer is the same 60,000-octet record */
	memset(text, ' ', sizeof(text) - 1);
	memcpy(text, "v=spf1 include:%{d}.x", 21);
	lens[0] = rr.txt.text_len = strlen(text);
	spf_limits_default(&lim);
	lim.dns_mechanisms = 100;
	e = spf_eval_new(&req, &lim);
	while (spf_eval_step(e, &name, &type) == SPF_STEP_NEED_DNS) {
		struct dns_result res = { .name = (char *)name,
					  .canonname = (char *)name,
					  .type = type, .status = DNS_OK,
					  .count = 1, .rrs = &rr };

		assert_int_equal(type, DNS_TYPE_TXT);
		spf_eval_answer(e, &res);
		assert_true(++steps < 100);
	}
	assert_int_equal(spf_eval_verdict(e)->result, SPF_PERMERROR);
	assert_non_null(strstr(spf_eval_verdict(e)->problem, "octets"));
	assert_true(steps > 10);
	spf_eval_free(&e);
}

/* --- the runner on an event loop -------------------------------------- */

struct async_run {
	struct ioev_loop *loop;
	struct spf_check *check;
	int calls;
	enum spf_result result;
	char problem[128];
};

static void
async_done(const struct spf_verdict *v, void *ctx)
{
	struct async_run *a = ctx;

	a->calls++;
	a->result = v->result;
	snprintf(a->problem, sizeof(a->problem), "%s",
		 v->problem != NULL ? v->problem : "");
	a->check = NULL;
	ioev_loop_stop(a->loop);
}

static void
async_cancel(void *ctx)
{
	struct async_run *a = ctx;

	spf_check_cancel(&a->check);
	assert_null(a->check);
	ioev_loop_stop(a->loop);
}

/* Against a port that never answers: a check cancelled while its lookup
 * is in flight never calls back; one left alone ends at its time limit
 * with temperror, before the lookup's own timeout. */
static void
test_async_cancel_and_time_limit(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char fwd[32];
	struct config_dns cfg = {
		.timeout_ms = 10000, .cache_size = 100,
		.cache_memory = 1 << 20, .cache_max_ttl_s = 3600,
		.cache_negative_ttl_s = 300,
	};
	struct sockaddr_in client = { .sin_family = AF_INET };
	struct spf_request req = { .identity = SPF_ID_MAILFROM,
				   .mail_from = "a@example.test",
				   .helo = "h.example.test",
				   .ip = (struct sockaddr *)&client };
	struct spf_limits lim;
	struct async_run a = { 0 };
	struct dns_resolver *r;
	struct ioev_timer *t;
	const char *err;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", ntohs(sin.sin_port));
	cfg.forward = fwd;
	client.sin_addr.s_addr = htonl(0xc0000201);
	spf_limits_default(&lim);

	a.loop = ioev_loop_new(1);
	r = dns_resolver_new(a.loop, &cfg, &err);
	assert_non_null(r);
	a.check = spf_check_start(a.loop, r, &req, &lim, async_done, &a);
	assert_non_null(a.check);
	assert_int_equal(a.calls, 0);	/* never from inside the start */
	t = ioev_timer_new(a.loop, async_cancel, &a);
	ioev_timer_start(t, 200, false);
	assert_int_equal(ioev_loop_run(a.loop), 0);
	assert_int_equal(a.calls, 0);
	ioev_timer_free(&t);

	lim.timeout_ms = 300;
	a.check = spf_check_start(a.loop, r, &req, &lim, async_done, &a);
	assert_int_equal(ioev_loop_run(a.loop), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.result, SPF_TEMPERROR);
	assert_non_null(strstr(a.problem, "time limit"));

	/* _start_now: the first answer is not in the cache, so it returns
	 * a handle without calling back, and the deadline (made only now)
	 * ends the check the same way */
	a.calls = 0;
	a.problem[0] = '\0';
	a.check = spf_check_start_now(a.loop, r, &req, &lim, async_done, &a);
	assert_non_null(a.check);
	assert_int_equal(a.calls, 0);
	assert_int_equal(ioev_loop_run(a.loop), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.result, SPF_TEMPERROR);
	assert_non_null(strstr(a.problem, "time limit"));

	dns_resolver_free(&r);
	ioev_loop_free(&a.loop);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_exp_only_and_errors),
		cmocka_unit_test(test_macro_too_long),
		cmocka_unit_test(test_domain_spec),
		cmocka_unit_test(test_truncate_and_queryable),
		cmocka_unit_test(test_record_selection),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_record_terms),
		cmocka_unit_test(test_record_cache),
		cmocka_unit_test(test_eval_cidr),
		cmocka_unit_test(test_eval_results_and_exp),
		cmocka_unit_test(test_eval_limits),
		cmocka_unit_test(test_eval_ptr_and_p),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_eval_answer_bytes),
		cmocka_unit_test(test_async_cancel_and_time_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
