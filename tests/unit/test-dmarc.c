/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for DMARC (src/mailauth/dmarc.h): the Public Suffix List
 * algorithm (the PSL project's test cases over a small list and over
 * Debian's file), the record parser, the From domain, alignment and the
 * evaluation (policy, sp, np, pct, l=, temperror) without any DNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailauth/dmarc-private.h"
#include "mailauth/dmarc.h"

#define DEBIAN_PSL "/usr/share/publicsuffix/public_suffix_list.dat"

/* The rules the PSL project's test_psl.txt relies on. */
static const char psl_text[] =
	"// comment\n"
	"com\nuk.com\nac\nmm\n*.mm\njp\nac.jp\nkyoto.jp\nide.kyoto.jp\n"
	"*.kobe.jp\n!city.kobe.jp\n*.ck\n!www.ck\nus\nak.us\nk12.ak.us\n"
	"biz\ncn\ncom.cn\n\xe5\x85\xac\xe5\x8f\xb8.cn\n"
	"co.uk  trailing text after white space is ignored\n"
	"  // indented comment\n\n";

/* checkPublicSuffix(domain, expected organisational domain) from
 * https://raw.githubusercontent.com/publicsuffix/list/master/tests/test_psl.txt
 * (lower-case inputs; NULL: the domain is a public suffix itself). */
static const struct {
	const char *domain, *org;
} psl_cases[] = {
	{ "com", NULL },
	{ "example.com", "example.com" },
	{ "www.example.com", "example.com" },
	/* unlisted TLD */
	{ "example", NULL },
	{ "example.example", "example.example" },
	{ "b.example.example", "example.example" },
	{ "a.b.example.example", "example.example" },
	/* TLD with only one rule */
	{ "biz", NULL },
	{ "domain.biz", "domain.biz" },
	{ "b.domain.biz", "domain.biz" },
	{ "a.b.domain.biz", "domain.biz" },
	/* TLD with some two-level rules */
	{ "uk.com", NULL },
	{ "example.uk.com", "example.uk.com" },
	{ "b.example.uk.com", "example.uk.com" },
	{ "a.b.example.uk.com", "example.uk.com" },
	{ "test.ac", "test.ac" },
	/* TLD with only one wildcard rule */
	{ "mm", NULL },
	{ "c.mm", NULL },
	{ "b.c.mm", "b.c.mm" },
	{ "a.b.c.mm", "b.c.mm" },
	/* more complex TLD */
	{ "jp", NULL },
	{ "test.jp", "test.jp" },
	{ "www.test.jp", "test.jp" },
	{ "ac.jp", NULL },
	{ "test.ac.jp", "test.ac.jp" },
	{ "www.test.ac.jp", "test.ac.jp" },
	{ "kyoto.jp", NULL },
	{ "test.kyoto.jp", "test.kyoto.jp" },
	{ "ide.kyoto.jp", NULL },
	{ "b.ide.kyoto.jp", "b.ide.kyoto.jp" },
	{ "a.b.ide.kyoto.jp", "b.ide.kyoto.jp" },
	{ "c.kobe.jp", NULL },
	{ "b.c.kobe.jp", "b.c.kobe.jp" },
	{ "a.b.c.kobe.jp", "b.c.kobe.jp" },
	{ "city.kobe.jp", "city.kobe.jp" },
	{ "www.city.kobe.jp", "city.kobe.jp" },
	/* TLD with a wildcard rule and exceptions */
	{ "ck", NULL },
	{ "test.ck", NULL },
	{ "b.test.ck", "b.test.ck" },
	{ "a.b.test.ck", "b.test.ck" },
	{ "www.ck", "www.ck" },
	{ "www.www.ck", "www.ck" },
	/* US K12 */
	{ "us", NULL },
	{ "test.us", "test.us" },
	{ "www.test.us", "test.us" },
	{ "ak.us", NULL },
	{ "test.ak.us", "test.ak.us" },
	{ "www.test.ak.us", "test.ak.us" },
	{ "k12.ak.us", NULL },
	{ "test.k12.ak.us", "test.k12.ak.us" },
	{ "www.test.k12.ak.us", "test.k12.ak.us" },
	/* IDN labels: UTF-8 rules match UTF-8 and A-label domains */
	{ "\xe9\xa3\x9f\xe7\x8b\xae.com.cn", "\xe9\xa3\x9f\xe7\x8b\xae.com.cn" },
	{ "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn",
	  "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn" },
	{ "www.\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn",
	  "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn" },
	{ "shishi.\xe5\x85\xac\xe5\x8f\xb8.cn",
	  "shishi.\xe5\x85\xac\xe5\x8f\xb8.cn" },
	{ "\xe5\x85\xac\xe5\x8f\xb8.cn", NULL },
	{ "xn--85x722f.com.cn", "xn--85x722f.com.cn" },
	{ "xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn" },
	{ "www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn" },
	{ "www.xn--85x722f.com.cn", "xn--85x722f.com.cn" },
	{ "shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn" },
	{ "xn--55qx5d.cn", NULL },
	/* a rule followed by text */
	{ "example.co.uk", "example.co.uk" },
	{ "mail.example.co.uk", "example.co.uk" },
	/* mixed case input compares case-insensitively */
	{ "COM", NULL },
	{ "www.Example.COM", "Example.COM" },
};

static void
check_psl(const struct dmarc_psl *psl, size_t first, size_t n)
{
	for (size_t i = first; i < n; i++) {
		const char *org = dmarc_psl_org_domain(psl, psl_cases[i].domain);

		if (psl_cases[i].org == NULL) {
			if (org != NULL)
				fail_msg("%s: got %s, want none",
					 psl_cases[i].domain, org);
		} else if (org == NULL || strcmp(org, psl_cases[i].org) != 0) {
			fail_msg("%s: got %s, want %s", psl_cases[i].domain,
				 org != NULL ? org : "(none)",
				 psl_cases[i].org);
		}
	}
}

static void
test_psl_cases(void **state)
{
	char *err = NULL;
	struct dmarc_psl *psl = dmarc_psl_parse(psl_text, sizeof(psl_text) - 1,
						&err);

	assert_non_null(psl);
	check_psl(psl, 0, sizeof(psl_cases) / sizeof(psl_cases[0]));
	/* malformed input */
	assert_null(dmarc_psl_org_domain(psl, ""));
	assert_null(dmarc_psl_org_domain(psl, ".com"));
	assert_null(dmarc_psl_org_domain(psl, "example.com."));
	assert_null(dmarc_psl_org_domain(psl, "a..example.com"));
	assert_string_equal(dmarc_psl_public_suffix(psl, "a.b.c.mm"), "c.mm");
	assert_string_equal(dmarc_psl_public_suffix(psl, "www.ck"), "ck");
	dmarc_psl_free(&psl);
	assert_null(psl);
	assert_null(dmarc_psl_parse("// only\n\n", 9, &err));
	assert_non_null(err);
	free(err);
}

static void
test_psl_debian(void **state)
{
	char *err = NULL;
	struct dmarc_psl *psl;

	if (access(DEBIAN_PSL, R_OK) != 0) {
		/* the publicsuffix package (scripts/install-test-deps.sh) */
		skip();
	}
	psl = dmarc_psl_load(DEBIAN_PSL, &err);
	assert_non_null(psl);
	/* the real list has every rule psl_text has (test_psl.txt is
	 * written for it), except the made-up co.uk line's text */
	check_psl(psl, 0, sizeof(psl_cases) / sizeof(psl_cases[0]));
	assert_string_equal(dmarc_psl_org_domain(psl, "a.b.example.co.uk"),
			    "example.co.uk");
	assert_string_equal(dmarc_psl_org_domain(psl, "x.github.io"),
			    "x.github.io");
	dmarc_psl_free(&psl);
	assert_null(dmarc_psl_load("/nonexistent/psl.dat", &err));
	assert_non_null(strstr(err, "/nonexistent/psl.dat"));
	free(err);
}

static void
test_record_parse(void **state)
{
	struct dmarc_record r;
	const char *err = NULL;
	const char *t;

	t = "v=DMARC1; p=reject; sp=quarantine; np=none; pct=50; "
	    "adkim=s; aspf=r; rua=mailto:a@example.com,mailto:b@x.org!10m; "
	    "ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600; psd=n; "
	    "unknown=whatever; t=y";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.np, DMARC_POLICY_NONE);
	assert_int_equal(r.pct, 50);
	assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
	assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
	assert_string_equal(r.rua, "mailto:a@example.com,mailto:b@x.org!10m");
	assert_string_equal(r.ruf, "mailto:f@example.com");
	assert_string_equal(r.fo, "1:d");
	assert_int_equal(r.ri, 3600);
	assert_true(r.psd_set);
	assert_false(r.psd);
	assert_true(r.testing);
	assert_false(r.p_from_rua);
	dmarc_record_deinit(&r);

	/* defaults, white space, case of tags and values, final ';' */
	t = "v = DMARC1 ;P=Quarantine;  ";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_string_equal(r.fo, "0");
	assert_string_equal(r.rf, "afrf");
	assert_int_equal(r.ri, 86400);
	assert_null(r.rua);
	dmarc_record_deinit(&r);

	/* bad optional values fall back to their defaults */
	t = "v=DMARC1; p=none; pct=101; ri=x; fo=2; adkim=x; np=bogus";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	dmarc_record_deinit(&r);

	/* RFC 7489 6.6.3 step 6: no or a bad p, a valid rua: p=none */
	t = "v=DMARC1; p=bogus; rua=mailto:r@example.com";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_true(r.p_from_rua);
	dmarc_record_deinit(&r);
	t = "v=DMARC1; rua=mailto:r@example.com";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	dmarc_record_deinit(&r);
	t = "v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &err), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	dmarc_record_deinit(&r);

	static const char *const bad[] = {
		"v=DMARC1; p=bogus",
		"v=DMARC1; p=bogus; rua=notauri",
		"v=DMARC1; p=bogus; rua=mailto:nobody",
		"v=DMARC1",
		"v=DMARC1; p=reject; sp=bogus",
		"v=DMARC1; p=none; p=reject",
		"v=DMARC1; pct=10; pct=100; p=none",
		"p=reject; v=DMARC1",
		"v=DMARC2; p=reject",
		"v=dmarc1; p=reject",
		"v=DMARC1x; p=reject",
		"",
		"v=spf1 -all",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (dmarc_record_parse(bad[i], strlen(bad[i]), &r, &err) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
	}
	assert_true(dmarc_record_is_dmarc("v=DMARC1", 8));
	assert_true(dmarc_record_is_dmarc("v=DMARC1 ;", 10));
	assert_false(dmarc_record_is_dmarc("v=DMARC10", 9));
}

/* The parsed-record cache is keyed on the text: a repeat gives the same
 * values in a copy of the caller's own, a changed policy (the DNS answer
 * changed) is read as published, and entries pushed out of the cache
 * leave earlier copies alone. */
static void
test_record_cache(void **state)
{
	const char *t1 = "v=DMARC1; p=reject; rua=mailto:d@example.com; fo=1";
	const char *t2 = "v=DMARC1; p=none; rua=mailto:d@example.com; fo=1";
	struct dmarc_record a, b, c;
	const char *err = NULL;
	char more[80];

	(void)state;
	assert_int_equal(dmarc_record_parse_cached(t1, strlen(t1), &a, &err), 0);
	assert_int_equal(dmarc_record_parse_cached(t1, strlen(t1), &b, &err), 0);
	assert_int_equal(b.p, DMARC_POLICY_REJECT);
	assert_string_equal(b.rua, "mailto:d@example.com");
	assert_string_equal(b.fo, "1");
	assert_string_equal(b.rf, "afrf");
	assert_null(b.ruf);
	assert_ptr_not_equal(a.strings, b.strings);
	dmarc_record_deinit(&b);
	assert_int_equal(dmarc_record_parse_cached(t2, strlen(t2), &c, &err), 0);
	assert_int_equal(c.p, DMARC_POLICY_NONE);
	dmarc_record_deinit(&c);
	assert_int_equal(dmarc_record_parse_cached("v=DMARC1; p=x", 13, &c,
						   &err), -1);
	for (int i = 0; i < 100; i++) {
		snprintf(more, sizeof(more), "v=DMARC1; p=quarantine; pct=%d", i);
		assert_int_equal(dmarc_record_parse_cached(more, strlen(more),
							   &c, &err), 0);
		assert_int_equal(c.pct, (unsigned)i);
		dmarc_record_copy(&b, &c);
		dmarc_record_deinit(&c);
		assert_string_equal(b.fo, "0");
		dmarc_record_deinit(&b);
	}
	assert_string_equal(a.rua, "mailto:d@example.com");
	assert_int_equal(dmarc_record_parse_cached(t1, strlen(t1), &b, &err), 0);
	assert_int_equal(b.p, DMARC_POLICY_REJECT);
	dmarc_record_deinit(&b);
	dmarc_record_deinit(&a);
}

static void
test_from_domain(void **state)
{
	static const struct {
		const char *hdr;
		enum dmarc_from_status st;
		const char *domain;
	} cases[] = {
		{ "From: a@Example.COM\r\n\r\n", DMARC_FROM_OK, "example.com" },
		{ "From: \"A B\" <a@example.com>\r\nTo: x@y\r\n",
		  DMARC_FROM_OK, "example.com" },
		{ "From: (c@evil.test) a@example.com (d)\r\n", DMARC_FROM_OK,
		  "example.com" },
		{ "From: a@example.com, \"x\" <b@EXAMPLE.com>\r\n",
		  DMARC_FROM_OK, "example.com" },
		{ "from :\r\n a@example.com\r\n", DMARC_FROM_OK,
		  "example.com" },
		/* a quoted name is what the reader sees too */
		{ "From: \"ceo@bank.test\" <x@evil.test>\r\n", DMARC_FROM_OK,
		  "evil.test" },
		/* an encoded name is fine unless it hides another domain */
		{ "From: =?utf-8?q?M=C3=BCller=2C_Hans?= <h@example.com>\r\n",
		  DMARC_FROM_OK, "example.com" },
		{ "From: =?utf-8?q?ceo=40bank.test?= <x@evil.test>\r\n",
		  DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: =?utf-8?b?Y2VvQGJhbmsudGVzdA==?= <x@evil.test>\r\n",
		  DMARC_FROM_UNPARSEABLE, NULL },
		{ "To: a@b.test\r\n\r\n", DMARC_FROM_NONE, NULL },
		{ "", DMARC_FROM_NONE, NULL },
		{ "From: a@x.test\r\nFrom: a@x.test\r\n",
		  DMARC_FROM_SEVERAL_FIELDS, NULL },
		{ "From: a@x.test\r\nFROM : b@y.test\r\n",
		  DMARC_FROM_SEVERAL_FIELDS, NULL },
		{ "From a@x.test\r\nFrom: a@x.test\r\n",
		  DMARC_FROM_SEVERAL_FIELDS, NULL },
		{ "From\v: b@y.test\r\nFrom: a@x.test\r\n",
		  DMARC_FROM_SEVERAL_FIELDS, NULL },
		{ "From: a@x.test, b@y.test\r\n", DMARC_FROM_SEVERAL_DOMAINS,
		  NULL },
		{ "From: a@x.test <b@y.test>\r\n", DMARC_FROM_UNPARSEABLE,
		  NULL },
		{ "From: <a@x.test> trailing\r\n", DMARC_FROM_UNPARSEABLE,
		  NULL },
		{ "From: group: a@x.test;\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: undisclosed:;\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: <>\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From:\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: a@[192.0.2.1]\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: a@-bad-.test\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: a\r\n", DMARC_FROM_UNPARSEABLE, NULL },
		{ "From: a@x.test\r\n\r\nFrom: b@y.test\r\n", DMARC_FROM_OK,
		  "x.test" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = NULL;
		enum dmarc_from_status st =
			dmarc_from_domain(cases[i].hdr, strlen(cases[i].hdr),
					  &d);

		if (st != cases[i].st)
			fail_msg("case %zu: status %s, want %s", i,
				 dmarc_from_status_name(st),
				 dmarc_from_status_name(cases[i].st));
		if (cases[i].domain == NULL)
			assert_null(d);
		else
			assert_string_equal(d, cases[i].domain);
		free(d);
	}
}

static struct dmarc_psl *
small_psl(void)
{
	char *err = NULL;
	struct dmarc_psl *psl = dmarc_psl_parse(psl_text, sizeof(psl_text) - 1,
						&err);

	assert_non_null(psl);
	return psl;
}

/* The quick From reader takes only values whose domain the full reader
 * finds too, the same; random values built from the characters that
 * matter (fixed seed) and the shapes near its edges. */
static void
test_from_simple(void **state)
{
	static const struct {
		const char *value;
		const char *domain;	/* NULL: left to the full reader */
	} cases[] = {
		{ " Newsletter <news@Source.TEST>", "source.test" },
		{ " news@source.test", "source.test" },
		{ "<a.b+c_d-e@x-y.example>", "x-y.example" },
		{ " Two Words 42 <a@b.example>  ", "b.example" },
		{ " \"Q\" <a@b.example>", NULL },
		{ " a@b.example (c)", NULL },
		{ " a@b.example.", NULL },
		{ " a@-b.example", NULL },
		{ " a@b-.example", NULL },
		{ " a..b@b.example", NULL },
		{ " .a@b.example", NULL },
		{ " a.@b.example", NULL },
		{ " a@b..example", NULL },
		{ " a@[192.0.2.1]", NULL },
		{ " a@b.example, c@d.example", NULL },
		{ " N.Name <a@b.example>", NULL },
		{ " =?utf-8?q?x?= <a@b.example>", NULL },
		{ " <a@b.example> x", NULL },
		{ " a@b.example>", NULL },
		{ " <a@b@c.example>", NULL },
		{ "\r\n a@b.example", NULL },
		{ " g: a@b.example;", NULL },
		{ " a@b\xc3\xa9.example", NULL },
		{ "", NULL },
		{ " <>", NULL },
	};
	static const char alphabet[] = "aZ09.-_+@<> \t\"(),;:=?[]\r\n\\x\xc3\xa9";
	char v[48];
	unsigned seed = 14, taken = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = NULL, *full = NULL;
		bool ok = dmarc_from_value_simple(cases[i].value,
						  strlen(cases[i].value), &d);

		if (cases[i].domain == NULL) {
			if (ok)
				fail_msg("case %zu taken: %s", i, d);
			continue;
		}
		assert_true(ok);
		assert_string_equal(d, cases[i].domain);
		assert_int_equal(dmarc_from_value_full(cases[i].value,
						       strlen(cases[i].value),
						       &full), DMARC_FROM_OK);
		assert_string_equal(full, d);
		free(d);
		free(full);
	}
	for (int n = 0; n < 200000; n++) {
		size_t len;
		char *d = NULL, *full = NULL;

		seed = seed * 1103515245u + 12345u;
		if (seed & 1) {
			/* a valid shape with one or two octets changed */
			snprintf(v, sizeof(v), "%sab.c@d-e.f9%s",
				 (seed & 2) ? " Nm <" : " ",
				 (seed & 2) ? ">" : "");
			len = strlen(v);
			for (unsigned m = 0; m < 1 + ((seed >> 2) & 1); m++) {
				seed = seed * 1103515245u + 12345u;
				v[(seed >> 16) % len] = alphabet[(seed >> 8) %
					(sizeof(alphabet) - 1)];
			}
		} else {
			len = (seed >> 16) % 16;
			for (size_t k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				v[k] = alphabet[(seed >> 16) %
						(sizeof(alphabet) - 1)];
			}
		}
		v[len] = '\0';
		if (!dmarc_from_value_simple(v, len, &d))
			continue;
		taken++;
		if (dmarc_from_value_full(v, len, &full) != DMARC_FROM_OK ||
		    strcmp(full, d) != 0)
			fail_msg("quick reader differs on [%s]: %s / %s", v, d,
				 full != NULL ? full : "(none)");
		free(d);
		free(full);
	}
	/* not a test that cannot fail: many were the quick reader's */
	assert_true(taken > 10000);
}

static void
test_alignment(void **state)
{
	struct dmarc_psl *psl = small_psl();

	assert_true(dmarc_domains_aligned(psl, "example.com", "EXAMPLE.com",
					  DMARC_ALIGN_STRICT));
	assert_false(dmarc_domains_aligned(psl, "mail.example.com",
					   "example.com", DMARC_ALIGN_STRICT));
	assert_true(dmarc_domains_aligned(psl, "mail.example.com",
					  "example.com", DMARC_ALIGN_RELAXED));
	assert_true(dmarc_domains_aligned(psl, "a.example.co.uk",
					  "b.example.co.uk",
					  DMARC_ALIGN_RELAXED));
	assert_false(dmarc_domains_aligned(psl, "a.co.uk", "b.co.uk",
					   DMARC_ALIGN_RELAXED));
	assert_false(dmarc_domains_aligned(psl, "co.uk", "co.uk.",
					   DMARC_ALIGN_RELAXED));
	assert_false(dmarc_domains_aligned(psl, "x.b.c.mm", "y.a.c.mm",
					   DMARC_ALIGN_RELAXED));
	assert_false(dmarc_domains_aligned(psl, "", "", DMARC_ALIGN_RELAXED));
	dmarc_psl_free(&psl);
}

/* A found policy for from_domain with record text at policy_domain. */
static void
found_init(struct dmarc_policy_found *f, const char *from,
	   const char *policy_domain, const char *org, const char *record)
{
	const char *err;

	memset(f, 0, sizeof(*f));
	f->status = DMARC_LOOKUP_FOUND;
	f->from_domain = strdup(from);
	f->policy_domain = strdup(policy_domain);
	f->org_domain = strdup(org);
	assert_int_equal(dmarc_record_parse(record, strlen(record), &f->record,
					    &err), 0);
}

static void
test_evaluate(void **state)
{
	struct dmarc_psl *psl = small_psl();
	struct dmarc_policy_found f;
	struct dmarc_result r;
	struct dkim_verify_result d1 = {
		.result = DKIM_RESULT_PASS, .domain = "mail.example.com",
		.selector = "s1",
	};
	const struct dkim_verify_result *dk[] = { &d1 };
	struct dmarc_input in = {
		.from_domain = "example.com",
		.spf_result = SPF_FAIL,
		.spf_domain = "example.com",
		.dkim = dk,
		.n_dkim = 1,
	};

	/* relaxed DKIM alignment passes */
	found_init(&f, "example.com", "example.com", "example.com",
		   "v=DMARC1; p=reject");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_PASS);
	assert_true(r.dkim_aligned);
	assert_true(r.dkim[0].aligned);
	assert_false(r.spf_aligned);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	assert_string_equal(r.dkim[0].selector, "s1");
	char *ar = dmarc_auth_results(&r);

	assert_string_equal(ar, "dmarc=pass (p=reject dis=none) "
				"header.from=example.com");
	free(ar);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);

	/* strict: the subdomain signature does not align: reject */
	found_init(&f, "example.com", "example.com", "example.com",
		   "v=DMARC1; p=reject; adkim=s");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_FAIL);
	assert_int_equal(r.policy, DMARC_POLICY_REJECT);
	assert_int_equal(r.disposition, DMARC_POLICY_REJECT);
	/* an override (ARC, local policy) lowers it and says why */
	dmarc_result_override(&r, DMARC_REASON_TRUSTED_FORWARDER, "arc");
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	assert_int_equal(r.result, DMARC_RESULT_FAIL);
	ar = dmarc_auth_results(&r);
	assert_string_equal(ar, "dmarc=fail (p=reject dis=none "
				"override=trusted_forwarder) "
				"header.from=example.com");
	free(ar);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);

	/* l=: a pass over part of the body does not count */
	d1.domain = "example.com";
	d1.body_partial = true;
	found_init(&f, "example.com", "example.com", "example.com",
		   "v=DMARC1; p=quarantine");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_FAIL);
	assert_true(r.dkim[0].partial);
	assert_int_equal(r.disposition, DMARC_POLICY_QUARANTINE);
	dmarc_result_deinit(&r);
	d1.body_partial = false;

	/* aligned SPF pass alone */
	in.spf_result = SPF_PASS;
	d1.result = DKIM_RESULT_FAIL;
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_PASS);
	assert_true(r.spf_aligned);
	dmarc_result_deinit(&r);
	/* an aligned identifier in temperror: temperror, never rejected */
	in.spf_result = SPF_TEMPERROR;
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_TEMPERROR);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);
	in.spf_result = SPF_FAIL;

	/* sp for a subdomain, np for a non-existent one */
	in.from_domain = "sub.example.com";
	found_init(&f, "sub.example.com", "example.com", "example.com",
		   "v=DMARC1; p=none; sp=quarantine; np=reject");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.policy, DMARC_POLICY_QUARANTINE);
	assert_true(r.policy_is_sp);
	dmarc_result_deinit(&r);
	f.from_nonexistent = true;
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.policy, DMARC_POLICY_REJECT);
	assert_true(r.policy_is_np);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);

	/* pct: selected below pct, next lower policy above it */
	in.from_domain = "example.com";
	found_init(&f, "example.com", "example.com", "example.com",
		   "v=DMARC1; p=reject; pct=30");
	dmarc_evaluate(&in, &f, psl, 29, &r);
	assert_int_equal(r.disposition, DMARC_POLICY_REJECT);
	dmarc_result_deinit(&r);
	dmarc_evaluate(&in, &f, psl, 30, &r);
	assert_int_equal(r.disposition, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.reason, DMARC_REASON_SAMPLED_OUT);
	ar = dmarc_auth_results(&r);
	assert_string_equal(ar, "dmarc=fail (p=reject pct=30 dis=quarantine "
				"override=sampled_out) "
				"header.from=example.com");
	free(ar);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);
	found_init(&f, "example.com", "example.com", "example.com",
		   "v=DMARC1; p=quarantine; pct=0");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.disposition, DMARC_POLICY_NONE);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);

	/* no record, temperror, permerror */
	memset(&f, 0, sizeof(f));
	f.status = DMARC_LOOKUP_NONE;
	f.from_domain = strdup("example.com");
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_NONE);
	ar = dmarc_auth_results(&r);
	assert_string_equal(ar, "dmarc=none header.from=example.com");
	free(ar);
	dmarc_result_deinit(&r);
	f.status = DMARC_LOOKUP_TEMPERROR;
	dmarc_evaluate(&in, &f, psl, 0, &r);
	assert_int_equal(r.result, DMARC_RESULT_TEMPERROR);
	dmarc_result_deinit(&r);
	dmarc_policy_found_deinit(&f);

	dmarc_result_from_problem(DMARC_FROM_SEVERAL_FIELDS, &r);
	ar = dmarc_auth_results(&r);
	assert_string_equal(ar, "dmarc=permerror (several From fields)");
	free(ar);
	dmarc_result_deinit(&r);
	dmarc_psl_free(&psl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psl_cases),
		cmocka_unit_test(test_psl_debian),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_record_cache),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_from_simple),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_evaluate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
