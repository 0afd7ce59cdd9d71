/* SPDX-License-Identifier: MIT */
/* dns/: names, reverse names, the rdata parser, the cache; then real
 * lookups on an ioev loop against Debian's unbound started on a loopback
 * high port (skipped when it is not installed): shared queries, cancel
 * (also from callbacks), cache hits on the next turn, timeouts, freeing
 * the resolver with queries in flight, the synchronous variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "dns/dns-private.h"
#include "dns/dns.h"
#include "lib/ioev.h"
#include "lib/mem.h"
#include "lib/utf8.h"

#define UNBOUND "/usr/sbin/unbound"

/* ------------------------------------------------------------ pure parts */

static void
test_names(void **state)
{
	enum dns_type t;

	assert_int_equal(dns_type_parse("mx", &t), 0);
	assert_int_equal(t, DNS_TYPE_MX);
	assert_int_equal(dns_type_parse("TLSA", &t), 0);
	assert_int_equal(t, DNS_TYPE_TLSA);
	assert_int_equal(dns_type_parse("CNAME", &t), -1);
	assert_string_equal(dns_type_name(DNS_TYPE_AAAA), "AAAA");
	assert_string_equal(dns_status_name(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_sec_name(DNS_SEC_BOGUS), "bogus");
	assert_true(dns_status_is_permanent(DNS_NXDOMAIN));
	assert_true(dns_status_is_permanent(DNS_NODATA));
	assert_false(dns_status_is_permanent(DNS_SERVFAIL));
	assert_false(dns_status_is_permanent(DNS_TIMEOUT));
	assert_false(dns_status_is_permanent(DNS_ERROR));
}

static void
test_ptr_name(void **state)
{
	char out[DNS_PTR_NAME_MAX];

	assert_int_equal(dns_ptr_name_ip("192.0.2.1", out), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_ptr_name_ip("2001:db8::1", out), 0);
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(strlen(out) + 1, DNS_PTR_NAME_MAX - 1);
	assert_int_equal(dns_ptr_name_ip("::ffff:192.0.2.7", out), 0);
	assert_string_equal(out, "7.2.0.192.in-addr.arpa");
	assert_int_equal(dns_ptr_name_ip("mail.example", out), -1);

	struct sockaddr_storage ss;
	struct dns_addr a = { .family = AF_INET };
	char text[64];

	inet_pton(AF_INET, "127.0.0.3", &a.v4);
	assert_int_equal(dns_addr_sockaddr(&a, 25, &ss),
			 sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 25);
	assert_string_equal(dns_addr_str(&a, text, sizeof(text)), "127.0.0.3");
	assert_int_equal(dns_ptr_name((struct sockaddr *)&ss, out), 0);
	assert_string_equal(out, "3.0.0.127.in-addr.arpa");
}

static void
test_name_normalize(void **state)
{
	char out[DNS_NAME_MAX + 1], big[300];
	const char *err;

	assert_int_equal(dns_name_normalize("Mail.Example.TEST.", out, &err), 0);
	assert_string_equal(out, "mail.example.test");
	assert_int_equal(dns_name_normalize("", out, &err), -1);
	assert_int_equal(dns_name_normalize(".", out, &err), -1);
	assert_int_equal(dns_name_normalize("a..b", out, &err), -1);
	assert_int_equal(dns_name_normalize(".a", out, &err), -1);
	assert_int_equal(dns_name_normalize("a\tb", out, &err), -1);
	/* a space is an octet of a label (RFC 2181 11); SPF's "%_" makes
	 * one (RFC 7208 7.3, the suite's macro-mania-in-domain) */
	assert_int_equal(dns_name_normalize("a b.Test", out, &err), 0);
	assert_string_equal(out, "a b.test");
	assert_int_equal(dns_name_normalize("a\\046b", out, &err), -1);
	/* a bare octet over 0x7f is not UTF-8 */
	assert_int_equal(dns_name_normalize("b\xe4r.test", out, &err), -1);
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), -1);
	big[63] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), 0);
	/* 253 octets is the most, with or without the root's dot */
	for (size_t i = 0; i < 254; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[253] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), 0);
	big[253] = '.';
	big[254] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), 0);
	big[254] = 'a';
	big[255] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), -1);
}

static void
test_idn(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "b\xc3\xa4r.test", "xn--br-via.test" },
		{ "B\xc3\xbc" "cher.Example", "xn--bcher-kva.example" },
		{ "M\xc3\x9c" "nchen.de.", "xn--mnchen-3ya.de" },
		{ "\xc3\xbc", "xn--tda" },
		/* RFC 3492 7.1 (A) and (C) */
		{ "\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa"
		  "\xd9\x83\xd9\x84\xd9\x85\xd9\x88\xd8\xb4\xd8\xb9\xd8\xb1"
		  "\xd8\xa8\xd9\x8a\xd8\x9f.test",
		  "xn--egbpdaj6bu4bxfgehfvwxn.test" },
		{ "\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9"
		  "\x88\xe4\xb8\x8d\xe8\xaf\xb4\xe4\xb8\xad\xe6\x96\x87",
		  "xn--ihqwcrb4cv8a8dqg056pqjye" },
		/* capital Greek and Cyrillic fold */
		{ "\xce\xa0\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9"
		  "\xce\xb3\xce\xbc\xce\xb1.test", "xn--hxajbheg2az3al.test" },
		{ "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.test",
		  "xn--e1afmkfd.test" },
	};
	char out[DNS_NAME_MAX + 1], big[400];
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (dns_name_normalize(cases[i].in, out, &err) < 0)
			fail_msg("case %zu: %s", i, err);
		assert_string_equal(out, cases[i].out);
	}
	/* a no-break space, an ideographic full stop, a bidi control */
	assert_int_equal(dns_name_normalize("a\xc2\xa0" "b.test", out, &err), -1);
	assert_int_equal(dns_name_normalize("a\xe3\x80\x82" "b", out, &err), -1);
	assert_int_equal(dns_name_normalize("a\xe2\x80\xae" "b", out, &err), -1);
	assert_int_equal(dns_name_normalize("a\xed\xa0\x80", out, &err), -1);
	/* 30 distinct CJK ideographs: an A-label over 63 octets (20 make
	 * 57 octets) */
	for (size_t i = 0; i < 30; i++) {
		uint8_t u[4];

		assert_int_equal(utf8_encode(0x4e00 + (uint32_t)i * 97, u), 3);
		memcpy(big + 3 * i, u, 3);
	}
	big[90] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), -1);
	assert_string_equal(err, "label longer than 63 octets");
	big[60] = '\0';
	assert_int_equal(dns_name_normalize(big, out, &err), 0);
	/* as Python's punycode codec has it */
	assert_string_equal(out, "xn--4gq0ilk2mupyshviyp0az1ar4aj7abzb20bu3bm5"
			    "be8b5xcxycp1c");
}

struct rdata_case {
	enum dns_type type;
	const char *data;
	size_t len;
	int ret;
	const char *want;	/* the text of the record, for ret 0 */
};

#define RD(s) s, sizeof(s) - 1

static const struct rdata_case rdata_cases[] = {
	{ DNS_TYPE_A, RD("\x7f\x00\x00\x02"), 0, "127.0.0.2" },
	{ DNS_TYPE_A, RD("\x7f\x00\x00"), -1, NULL },
	{ DNS_TYPE_AAAA, RD("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1"), 0, "::1" },
	{ DNS_TYPE_AAAA, RD("\0\0\0\1"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a\x02MX\x07" "example\x04test\x00"), 0,
	  "10 mx.example.test" },
	{ DNS_TYPE_MX, RD("\x00\x00\x00"), 0, "0 " },	/* null MX */
	{ DNS_TYPE_MX, RD("\x00\x0a\x02mx\x00\x01"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a\x05mx"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a\xc0\x0c"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a\x03m.x\x00"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a\x03m x\x00"), -1, NULL },
	{ DNS_TYPE_MX, RD("\x00\x0a"), -1, NULL },
	{ DNS_TYPE_PTR, RD("\x04mail\x07" "example\x00"), 0, "mail.example" },
	{ DNS_TYPE_PTR, RD(""), -1, NULL },
	{ DNS_TYPE_TXT, RD("\x07v=spf1 \x04-all"), 0, "v=spf1 -all|2" },
	{ DNS_TYPE_TXT, RD("\x00"), 0, "|1" },
	{ DNS_TYPE_TXT, RD("\x05" "abc"), -1, NULL },
	{ DNS_TYPE_TXT, RD(""), -1, NULL },
	{ DNS_TYPE_TLSA, RD("\x03\x01\x01\xab\xcd"), 0, "3 1 1 abcd" },
	{ DNS_TYPE_SRV, RD("\x00\x00\x00\x01\x03\xe1\x04MAIL\x07" "example\x00"),
	  0, "0 1 993 mail.example" },
	{ DNS_TYPE_SRV, RD("\x00\x00\x00\x00\x00\x00\x00"), 0, "0 0 0 " },
	{ DNS_TYPE_SRV, RD("\x00\x00\x00\x00\x00\x00"), -1, NULL },
	{ DNS_TYPE_SRV, RD("\x00\x00\x00\x00\x00\x00\x00\x00"), -1, NULL },
	{ DNS_TYPE_SRV, RD("\x00\x00\x00\x00\x00\x19\x05mx"), -1, NULL },
	{ DNS_TYPE_TLSA, RD("\x03\x01"), -1, NULL },
};

static void
rr_text(enum dns_type type, const struct dns_rr *rr, char *out, size_t n)
{
	char a[64];

	switch (type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		snprintf(out, n, "%s", dns_addr_str(&rr->addr, a, sizeof(a)));
		break;
	case DNS_TYPE_MX:
		snprintf(out, n, "%u %s", rr->mx.preference, rr->mx.exchange);
		break;
	case DNS_TYPE_PTR:
		snprintf(out, n, "%s", rr->ptr);
		break;
	case DNS_TYPE_TXT:
		snprintf(out, n, "%s|%zu", rr->txt.text, rr->txt.n_strings);
		break;
	case DNS_TYPE_SRV:
		snprintf(out, n, "%u %u %u %s", rr->srv.priority,
			 rr->srv.weight, rr->srv.port, rr->srv.target);
		break;
	case DNS_TYPE_TLSA:
		snprintf(out, n, "%u %u %u %02x%02x", rr->tlsa.usage,
			 rr->tlsa.selector, rr->tlsa.mtype, rr->tlsa.data[0],
			 rr->tlsa.data[1]);
		break;
	}
}

static void
test_rdata_parse(void **state)
{
	for (size_t i = 0; i < sizeof(rdata_cases) / sizeof(rdata_cases[0]);
	     i++) {
		const struct rdata_case *c = &rdata_cases[i];
		struct dns_result *res = dns_result_new("x.test", c->type);
		const char *err = NULL;
		char text[256];
		int ret;

		ret = dns_rdata_parse(c->type, (const uint8_t *)c->data,
				      c->len, &res->rrs[0], &err);
		if (ret != c->ret)
			fail_msg("case %zu: %d, want %d (%s)", i, ret, c->ret,
				 err != NULL ? err : "");
		if (ret == 0) {
			res->count = 1;
			rr_text(c->type, &res->rrs[0], text, sizeof(text));
			if (strcmp(text, c->want) != 0)
				fail_msg("case %zu: '%s', want '%s'", i, text,
					 c->want);
			/* a deep copy (one block) reads the same and frees
			 * on its own, and so does a copy of it */
			struct dns_result *dup = dns_result_dup(res);
			struct dns_result *dup2 = dns_result_dup(dup);

			assert_true(dup->packed);
			assert_int_equal(dup2->count, 1);
			assert_string_equal(dup2->name, "x.test");
			assert_string_equal(dup2->canonname, "x.test");
			assert_null(dup2->error);
			rr_text(c->type, &dup2->rrs[0], text, sizeof(text));
			if (strcmp(text, c->want) != 0)
				fail_msg("case %zu copy: '%s', want '%s'", i,
					 text, c->want);
			if (c->type == DNS_TYPE_TXT) {
				const struct dns_txt *a = &res->rrs[0].txt;
				const struct dns_txt *b = &dup2->rrs[0].txt;

				assert_int_equal(a->text_len, b->text_len);
				assert_memory_equal(a->text, b->text,
						    a->text_len + 1);
				assert_int_equal(a->n_strings, b->n_strings);
				for (size_t k = 0; k < a->n_strings; k++) {
					assert_int_equal(a->string_lens[k],
							 b->string_lens[k]);
					assert_memory_equal(a->strings[k],
							    b->strings[k],
							    a->string_lens[k] + 1);
				}
				assert_null(b->strings[b->n_strings]);
			}
			if (c->type == DNS_TYPE_TLSA)
				assert_memory_equal(res->rrs[0].tlsa.data,
						    dup2->rrs[0].tlsa.data,
						    res->rrs[0].tlsa.data_len);
			dns_result_free(&dup);
			dns_result_free(&dup2);
			assert_null(dup);
		} else {
			assert_non_null(err);
		}
		dns_result_free(&res);
		assert_null(res);
	}
}

/* An error result's texts survive the one-block copy. */
static void
test_result_dup_error(void **state)
{
	struct dns_result *res = dns_result_new_error("y.test", DNS_TYPE_A,
						      DNS_SERVFAIL,
						      "server failure (%s)",
						      "rcode 2");
	struct dns_result *dup;

	res->why_bogus = xstrdup("a reason");
	dup = dns_result_dup(res);
	dns_result_free(&res);
	assert_int_equal(dup->status, DNS_SERVFAIL);
	assert_int_equal(dup->count, 0);
	assert_non_null(dup->rrs);
	assert_string_equal(dup->name, "y.test");
	assert_string_equal(dup->error, "server failure (rcode 2)");
	assert_string_equal(dup->why_bogus, "a reason");
	dns_result_free(&dup);
}

static void
test_mx_sort_is_stable(void **state)
{
	static const uint16_t prefs[] = { 20, 10, 30, 10, 20 };
	struct dns_result *res = dns_result_new("x.test", DNS_TYPE_MX);

	free(res->rrs);
	res->rrs = xcalloc(5, sizeof(struct dns_rr));
	for (size_t i = 0; i < 5; i++) {
		res->rrs[i].mx.preference = prefs[i];
		res->rrs[i].mx.exchange = xasprintf("mx%zu", i);
	}
	res->count = 5;
	dns_result_sort_mx(res);
	assert_string_equal(res->rrs[0].mx.exchange, "mx1");
	assert_string_equal(res->rrs[1].mx.exchange, "mx3");
	assert_string_equal(res->rrs[2].mx.exchange, "mx0");
	assert_string_equal(res->rrs[3].mx.exchange, "mx4");
	assert_string_equal(res->rrs[4].mx.exchange, "mx2");
	dns_result_free(&res);
}

static struct dns_result *
a_result(const char *name, enum dns_status status, uint32_t ttl)
{
	struct dns_result *r = dns_result_new(name, DNS_TYPE_A);

	r->status = status;
	r->ttl = ttl;
	if (status == DNS_OK) {
		r->count = 1;
		r->rrs[0].ttl = ttl;
		r->rrs[0].addr.family = AF_INET;
		r->rrs[0].addr.v4.s_addr = htonl(0x7f000002);
	}
	return r;
}

static void
cache_put_free(struct dns_cache *c, struct dns_result *r)
{
	dns_cache_put(c, r);
	dns_result_free(&r);
}

static void
test_cache(void **state)
{
	struct dns_cache *c = dns_cache_new(2, 0, 100, 10);
	struct dns_result *r;

	cache_put_free(c, a_result("a.test", DNS_OK, 3600));
	r = dns_cache_get(c, "a.test", DNS_TYPE_A);
	assert_non_null(r);
	assert_true(r->from_cache);
	assert_int_equal(r->count, 1);
	assert_true(r->rrs[0].ttl <= 3600 && r->rrs[0].ttl >= 3599);
	dns_result_free(&r);
	/* another type is another key */
	assert_null(dns_cache_get(c, "a.test", DNS_TYPE_AAAA));
	/* failures, bogus answers and TTL 0 are not kept */
	cache_put_free(c, a_result("f.test", DNS_SERVFAIL, 60));
	cache_put_free(c, a_result("t.test", DNS_TIMEOUT, 60));
	cache_put_free(c, a_result("z.test", DNS_OK, 0));
	r = a_result("b.test", DNS_ERROR, 60);
	r->sec = DNS_SEC_BOGUS;
	cache_put_free(c, r);
	assert_int_equal(dns_cache_count(c), 1);
	/* least recently used goes first: a was used after b was put */
	cache_put_free(c, a_result("n.test", DNS_NXDOMAIN, 3600));
	r = dns_cache_get(c, "a.test", DNS_TYPE_A);
	dns_result_free(&r);
	cache_put_free(c, a_result("c.test", DNS_OK, 60));
	assert_int_equal(dns_cache_count(c), 2);
	assert_null(dns_cache_get(c, "n.test", DNS_TYPE_A));
	r = dns_cache_get(c, "a.test", DNS_TYPE_A);
	assert_non_null(r);
	dns_result_free(&r);
	/* replacing a key keeps one entry */
	cache_put_free(c, a_result("c.test", DNS_NODATA, 60));
	assert_int_equal(dns_cache_count(c), 2);
	r = dns_cache_get(c, "c.test", DNS_TYPE_A);
	assert_int_equal(r->status, DNS_NODATA);
	dns_result_free(&r);
	dns_cache_free(&c);
	assert_null(c);

	/* size 0: off */
	c = dns_cache_new(0, 0, 100, 10);
	cache_put_free(c, a_result("a.test", DNS_OK, 60));
	assert_null(dns_cache_get(c, "a.test", DNS_TYPE_A));
	dns_cache_free(&c);
}

static struct dns_result *
txt_result(const char *name, size_t len)
{
	struct dns_result *r = dns_result_new(name, DNS_TYPE_TXT);
	uint8_t rdata[256];
	const char *err;

	r->ttl = 3600;
	rdata[0] = (uint8_t)(len - 1);
	memset(rdata + 1, 'x', len - 1);
	assert_int_equal(dns_rdata_parse(DNS_TYPE_TXT, rdata, len,
					 &r->rrs[0], &err), 0);
	r->count = 1;
	return r;
}

static void
test_cache_memory(void **state)
{
	/* 8 KiB: a 200-octet TXT answer takes about 700 bytes with its
	 * entry, so about 11 fit; one over 1 KiB (an eighth) is never
	 * kept */
	struct dns_cache *c = dns_cache_new(1000, 8192, 100, 10);
	struct dns_result *r;
	char name[32];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "t%d.test", i);
		r = txt_result(name, 200);
		if (i == 0)
			assert_true(dns_result_size(r) > 400 &&
				    dns_result_size(r) < 1000);
		cache_put_free(c, r);
		assert_true(dns_cache_bytes(c) <= 8192);
	}
	assert_true(dns_cache_count(c) >= 8 && dns_cache_count(c) < 20);
	/* the newest stay */
	r = dns_cache_get(c, "t19.test", DNS_TYPE_TXT);
	assert_non_null(r);
	dns_result_free(&r);
	assert_null(dns_cache_get(c, "t0.test", DNS_TYPE_TXT));
	dns_cache_free(&c);

	c = dns_cache_new(1000, 65536, 100, 10);
	struct dns_result *big = dns_result_new("big.test", DNS_TYPE_TXT);

	big->ttl = 60;
	big->count = 40;
	free(big->rrs);
	big->rrs = xcalloc(41, sizeof(struct dns_rr));
	for (size_t i = 0; i < 40; i++) {
		struct dns_result *one = txt_result("x.test", 256);

		big->rrs[i] = one->rrs[0];
		one->count = 0;
		dns_result_free(&one);
	}
	cache_put_free(c, big);
	assert_int_equal(dns_cache_count(c), 0);
	assert_int_equal(dns_cache_bytes(c), 0);
	dns_cache_free(&c);
}

static void
test_cache_expiry(void **state)
{
	/* max TTL 1 s caps a TTL of an hour; negative answers likewise */
	struct dns_cache *c = dns_cache_new(10, 0, 1, 1);
	struct dns_result *r;

	cache_put_free(c, a_result("a.test", DNS_OK, 3600));
	cache_put_free(c, a_result("n.test", DNS_NXDOMAIN, 3600));
	r = dns_cache_get(c, "n.test", DNS_TYPE_A);
	assert_non_null(r);
	dns_result_free(&r);
	sleep(2);
	assert_null(dns_cache_get(c, "a.test", DNS_TYPE_A));
	assert_null(dns_cache_get(c, "n.test", DNS_TYPE_A));
	assert_int_equal(dns_cache_count(c), 0);
	dns_cache_free(&c);
}

/* ---------------------------------------------- a real unbound on loopback */

static const char zone_data[] =
	"  local-zone: \".\" static\n"
	"  local-zone: \"test.\" nodefault\n"
	"  local-zone: \"example.test.\" static\n"
	"  local-data: \"example.test. 3600 IN SOA ns.example.test. "
	"h.example.test. 1 3600 600 86400 60\"\n"
	"  local-data: \"example.test. 3600 IN MX 10 mx.example.test.\"\n"
	"  local-data: \"example.test. 3600 IN A 127.0.0.2\"\n"
	"  local-data: \"mx.example.test. 3600 IN A 127.0.0.2\"\n"
	"  local-data: \"other.example.test. 3600 IN A 127.0.0.4\"\n"
	"  local-data: \"third.example.test. 3600 IN A 127.0.0.5\"\n"
	"  local-data: 'example.test. 3600 IN TXT \"a\" \"b\"'\n"
	"  local-zone: \"example.org.\" static\n"
	"  local-data: \"example.org. 3600 IN A 127.0.0.3\"\n";

static char tmpdir[64];
static pid_t unbound_pid;
static unsigned unbound_port;
static int silent_fd = -1;
static unsigned silent_port;

static unsigned
bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return 0;
	return ntohs(sin.sin_port);
}

static unsigned
pick_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return 0;
	port = bound_port(fd);
	close(fd);
	return port;
}

static bool
unbound_answers(void)
{
	static const uint8_t q[] = { 0x42, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
				     0, 0, 6, 0, 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_usec = 200000 };
	uint8_t buf[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok = false;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)unbound_port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sin,
		   sizeof(sin)) == (ssize_t)sizeof(q) &&
	    recv(fd, buf, sizeof(buf), 0) >= 2)
		ok = buf[0] == 0x42 && buf[1] == 0x42;
	close(fd);
	return ok;
}

static int
start_unbound(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char conf[128];
	FILE *fp;

	/* a port that takes queries and never answers: timeouts */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (silent_fd < 0 ||
	    bind(silent_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	silent_port = bound_port(silent_fd);
	if (access(UNBOUND, X_OK) != 0)
		return 0;	/* the live tests skip */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-test-dns-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	unbound_port = pick_port();
	snprintf(conf, sizeof(conf), "%s/unbound.conf", tmpdir);
	fp = fopen(conf, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp, "server:\n  do-daemonize: no\n  interface: 127.0.0.1@%u\n"
		"  port: %u\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n"
		"  directory: \"%s\"\n  pidfile: \"%s/unbound.pid\"\n"
		"  use-syslog: no\n  logfile: \"%s/unbound.log\"\n"
		"  num-threads: 1\n  module-config: \"iterator\"\n%s",
		unbound_port, unbound_port, tmpdir, tmpdir, tmpdir, zone_data);
	fclose(fp);
	unbound_pid = fork();
	if (unbound_pid < 0)
		return -1;
	if (unbound_pid == 0) {
		execl(UNBOUND, "unbound", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (unbound_answers())
			return 0;
		usleep(50000);
	}
	fprintf(stderr, "unbound did not start (see %s/unbound.log)\n", tmpdir);
	return -1;
}

static int
stop_unbound(void **state)
{
	char cmd[128];

	if (silent_fd >= 0)
		close(silent_fd);
	if (unbound_pid > 0) {
		kill(unbound_pid, SIGTERM);
		waitpid(unbound_pid, NULL, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static char fwd[32];

static struct config_dns
test_cfg(unsigned port, uint64_t timeout_ms, unsigned cache_size)
{
	struct config_dns cfg = {
		.timeout_ms = timeout_ms,
		.cache_size = cache_size,
		.cache_memory = 1 << 20,
		.cache_max_ttl_s = 3600,
		.cache_negative_ttl_s = 300,
	};

	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", port);
	cfg.forward = fwd;
	return cfg;
}

#define NEED_UNBOUND()                                                 \
	do {                                                           \
		if (unbound_pid <= 0)                                  \
			skip();                                        \
	} while (0)

/* What the callbacks saw. */
struct seen {
	struct ioev_loop *loop;
	int calls;
	int want;			/* stop the loop at this many */
	enum dns_status status;
	bool from_cache;
	size_t count;
	char first[64];			/* first record as text */
	/* cancel this one from the callback */
	struct dns_query **cancel;
	/* the query's own handle, forgotten when the callback runs */
	struct dns_query **self;
	/* start this lookup from the callback */
	struct dns_resolver *resolver;
	const char *then_name;
	struct seen *then_seen;
};

static void
seen_cb(const struct dns_result *res, void *ctx)
{
	struct seen *s = ctx;

	s->calls++;
	if (s->self != NULL)
		*s->self = NULL;
	s->status = res->status;
	s->from_cache = res->from_cache;
	s->count = res->count;
	if (res->count > 0)
		rr_text(res->type, &res->rrs[0], s->first, sizeof(s->first));
	if (s->cancel != NULL)
		dns_query_cancel(s->cancel);
	if (s->then_name != NULL) {
		(void)dns_lookup(s->resolver, s->then_name, DNS_TYPE_A, seen_cb,
				 s->then_seen);
		s->then_name = NULL;
	}
	if (s->want > 0 && s->calls >= s->want)
		ioev_loop_stop(s->loop);
}

struct guard {
	struct ioev_loop *loop;
	bool fired;
};

static void
guard_fire(void *ctx)
{
	struct guard *g = ctx;

	g->fired = true;
	ioev_loop_stop(g->loop);
}

/* Runs the loop until a callback stops it or ms pass; true if stopped
 * by the guard. */
static bool
run_for(struct ioev_loop *loop, uint64_t ms)
{
	struct guard g = { .loop = loop };
	struct ioev_timer *t = ioev_timer_new(loop, guard_fire, &g);

	ioev_timer_start(t, ms, false);
	assert_int_equal(ioev_loop_run(loop), 0);
	ioev_timer_free(&t);
	return g.fired;
}

static void
test_lookup_async(void **state)
{
	NEED_UNBOUND();
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(unbound_port, 5000, 100);
	struct dns_resolver *r;
	struct seen s = { .loop = loop, .want = 1 };
	const char *err;

	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	(void)dns_lookup(r, "Example.Test.", DNS_TYPE_MX, seen_cb, &s);
	assert_int_equal(s.calls, 0);
	assert_false(run_for(loop, 5000));
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, DNS_OK);
	assert_false(s.from_cache);
	assert_string_equal(s.first, "10 mx.example.test");

	/* the second time from the cache, and still not from inside
	 * dns_lookup() */
	memset(s.first, 0, sizeof(s.first));
	(void)dns_lookup(r, "example.test", DNS_TYPE_MX, seen_cb, &s);
	assert_int_equal(s.calls, 1);
	s.want = 2;
	assert_false(run_for(loop, 5000));
	assert_int_equal(s.calls, 2);
	assert_true(s.from_cache);
	assert_string_equal(s.first, "10 mx.example.test");

	/* an invalid name fails through the callback too */
	struct seen bad = { .loop = loop, .want = 1 };

	(void)dns_lookup(r, "a..test", DNS_TYPE_A, seen_cb, &bad);
	assert_int_equal(bad.calls, 0);
	assert_false(run_for(loop, 5000));
	assert_int_equal(bad.status, DNS_ERROR);

	/* dns_lookup_now(): what the cache holds (or the invalid name's
	 * error) at once, NULL for what would need libunbound */
	struct dns_result *now = dns_lookup_now(r, "EXAMPLE.test.",
						DNS_TYPE_MX);

	assert_non_null(now);
	assert_int_equal(now->status, DNS_OK);
	assert_true(now->from_cache);
	assert_int_equal(now->count, 1);
	assert_string_equal(now->rrs[0].mx.exchange, "mx.example.test");
	dns_result_free(&now);
	now = dns_lookup_now(r, "a..test", DNS_TYPE_A);
	assert_non_null(now);
	assert_int_equal(now->status, DNS_ERROR);
	dns_result_free(&now);
	assert_null(dns_lookup_now(r, "example.test", DNS_TYPE_TXT));

	dns_resolver_free(&r);
	assert_null(r);
	ioev_loop_free(&loop);
}

static void
test_shared_and_cancel(void **state)
{
	NEED_UNBOUND();
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(unbound_port, 5000, 0);
	struct dns_resolver *r;
	struct seen s1 = { .loop = loop }, s2 = { .loop = loop },
		    s3 = { .loop = loop, .want = 1 };
	struct dns_query *q2;
	const char *err;

	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s1);
	q2 = dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s2);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s3);
	dns_query_cancel(&q2);
	assert_null(q2);
	dns_query_cancel(&q2);	/* NULL: nothing */
	assert_false(run_for(loop, 5000));
	/* one answer for the two left, in the same turn */
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 0);
	assert_int_equal(s3.calls, 1);
	assert_string_equal(s1.first, "127.0.0.2");
	assert_string_equal(s3.first, "127.0.0.2");

	/* every caller cancels: no callback, libunbound's query is
	 * cancelled, and the same lookup works afterwards */
	struct seen c1 = { .loop = loop }, c2 = { .loop = loop };
	struct dns_query *qa, *qb;

	qa = dns_lookup(r, "example.org", DNS_TYPE_A, seen_cb, &c1);
	qb = dns_lookup(r, "example.org", DNS_TYPE_A, seen_cb, &c2);
	dns_query_cancel(&qb);
	dns_query_cancel(&qa);
	assert_true(run_for(loop, 300));
	assert_int_equal(c1.calls + c2.calls, 0);
	(void)dns_lookup(r, "example.org", DNS_TYPE_A, seen_cb, &c1);
	c1.want = 1;
	assert_false(run_for(loop, 5000));
	assert_int_equal(c1.calls, 1);
	assert_string_equal(c1.first, "127.0.0.3");
	assert_int_equal(c2.calls, 0);

	dns_resolver_free(&r);
	ioev_loop_free(&loop);
}

static void
test_cancel_from_callback(void **state)
{
	NEED_UNBOUND();
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(unbound_port, 5000, 0);
	struct dns_resolver *r;
	struct seen s1 = { .loop = loop }, s2 = { .loop = loop },
		    s3 = { .loop = loop }, s4 = { .loop = loop };
	struct dns_query *q2, *q4;
	const char *err;

	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	/* callers of one answer are served in the order they asked: s1
	 * cancels s2, which is waiting for the same answer; s4 cancels its
	 * own query inside its callback (harmless) */
	(void)dns_lookup(r, "other.example.test", DNS_TYPE_A, seen_cb, &s1);
	q2 = dns_lookup(r, "other.example.test", DNS_TYPE_A, seen_cb, &s2);
	(void)dns_lookup(r, "third.example.test", DNS_TYPE_A, seen_cb, &s3);
	q4 = dns_lookup(r, "other.example.test", DNS_TYPE_A, seen_cb, &s4);
	s1.cancel = &q2;
	s4.cancel = &q4;
	assert_true(run_for(loop, 1000));
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 0);
	assert_null(q2);
	assert_int_equal(s4.calls, 1);
	assert_null(q4);
	assert_int_equal(s3.calls, 1);

	/* a callback cancels a query of another name: in flight, or
	 * answered in the same turn and not yet delivered */
	for (int i = 0; i < 10; i++) {
		struct seen t1 = { .loop = loop }, t2 = { .loop = loop };
		struct dns_query *tq2;
		char name[64];

		snprintf(name, sizeof(name), "n%d.example.test", i);
		(void)dns_lookup(r, "example.org", DNS_TYPE_A, seen_cb, &t1);
		tq2 = dns_lookup(r, name, DNS_TYPE_A, seen_cb, &t2);
		t1.cancel = &tq2;
		t2.self = &tq2;
		assert_true(run_for(loop, 300));
		assert_int_equal(t1.calls, 1);
		/* t1 came first and cancelled t2, or t2 had run already */
		assert_null(tq2);
		assert_true(t2.calls <= 1);
	}
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
}

static void
test_lookup_from_callback(void **state)
{
	NEED_UNBOUND();
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(unbound_port, 5000, 100);
	struct dns_resolver *r;
	struct seen s2 = { .loop = loop, .want = 1 };
	struct seen s1 = { .loop = loop, .then_name = "example.test",
			   .then_seen = &s2 };
	const char *err;

	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	s1.resolver = r;
	/* s1's callback looks up the name it just got: the cache answers
	 * on the next turn */
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s1);
	assert_false(run_for(loop, 5000));
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 1);
	assert_true(s2.from_cache);
	assert_string_equal(s2.first, "127.0.0.2");
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
}

static void
test_timeout(void **state)
{
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(silent_port, 300, 100);
	struct dns_resolver *r;
	struct seen s1 = { .loop = loop }, s2 = { .loop = loop, .want = 1 };
	struct timespec t0, t1;
	const char *err;

	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s1);
	assert_false(run_for(loop, 100) == false);
	/* a second caller joins the query later and has its own timer */
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s2);
	assert_false(run_for(loop, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.status, DNS_TIMEOUT);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s2.status, DNS_TIMEOUT);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 390 && ms < 2000);
	/* a timeout is not cached: the next lookup asks again */
	struct seen s3 = { .loop = loop, .want = 1 };

	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s3);
	assert_false(run_for(loop, 5000));
	assert_int_equal(s3.status, DNS_TIMEOUT);
	assert_false(s3.from_cache);
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
}

static int
count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	}
	return n;
}

static void
test_free_with_queries_in_flight(void **state)
{
	int fds = count_fds();
	struct ioev_loop *loop = ioev_loop_new(1);
	struct config_dns cfg = test_cfg(silent_port, 5000, 100);
	struct dns_resolver *r;
	struct seen s = { .loop = loop };
	const char *err;

	/* queries that libunbound is working on, one waiting on the ready
	 * list (an error), one joined: all dropped without callbacks, and
	 * nothing leaks (ASan; descriptors counted) */
	r = dns_resolver_new(loop, &cfg, &err);
	assert_non_null(r);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s);
	(void)dns_lookup(r, "example.org", DNS_TYPE_MX, seen_cb, &s);
	(void)dns_lookup(r, "", DNS_TYPE_MX, seen_cb, &s);
	assert_true(run_for(loop, 50));
	dns_resolver_free(&r);
	assert_true(run_for(loop, 100));
	assert_int_equal(s.calls, 1);	/* the empty name, on the next turn */
	ioev_loop_free(&loop);

	/* freed before the loop ever ran */
	loop = ioev_loop_new(1);
	r = dns_resolver_new(loop, &cfg, &err);
	(void)dns_lookup(r, "example.test", DNS_TYPE_A, seen_cb, &s);
	(void)dns_lookup(r, "", DNS_TYPE_A, seen_cb, &s);
	dns_resolver_free(&r);
	ioev_loop_free(&loop);
	assert_int_equal(s.calls, 1);
	assert_int_equal(count_fds(), fds);
}

static void
test_sync(void **state)
{
	struct config_dns cfg = test_cfg(silent_port, 300, 100);
	struct dns_resolver *r;
	struct dns_result *res;
	const char *err;

	r = dns_resolver_new(NULL, &cfg, &err);
	assert_non_null(r);
	res = dns_lookup_sync(r, "example.test", DNS_TYPE_A);
	assert_int_equal(res->status, DNS_TIMEOUT);
	dns_result_free(&res);
	res = dns_lookup_sync(r, "-bad..", DNS_TYPE_A);
	assert_int_equal(res->status, DNS_ERROR);
	dns_result_free(&res);
	dns_resolver_free(&r);

	if (unbound_pid <= 0)
		return;
	cfg = test_cfg(unbound_port, 5000, 100);
	r = dns_resolver_new(NULL, &cfg, &err);
	assert_non_null(r);
	res = dns_lookup_sync(r, "example.test", DNS_TYPE_TXT);
	assert_int_equal(res->status, DNS_OK);
	assert_int_equal(res->count, 1);
	assert_string_equal(res->rrs[0].txt.text, "ab");
	assert_int_equal(res->rrs[0].txt.n_strings, 2);
	assert_false(res->from_cache);
	dns_result_free(&res);
	res = dns_lookup_sync(r, "example.test", DNS_TYPE_TXT);
	assert_true(res->from_cache);
	dns_result_free(&res);
	res = dns_lookup_sync(r, "nosuch.example.test", DNS_TYPE_A);
	assert_int_equal(res->status, DNS_NXDOMAIN);
	assert_int_equal(res->ttl, 60);
	dns_result_free(&res);
	dns_resolver_free(&r);
}

static void
test_bad_config(void **state)
{
	struct config_dns cfg = test_cfg(53, 1000, 10);
	const char *err = NULL;

	cfg.forward = "not an address";
	assert_null(dns_resolver_new(NULL, &cfg, &err));
	assert_non_null(strstr(err, "[dns] forward"));
	cfg.forward = NULL;
	cfg.resolv_conf = NULL;
	cfg.trust_anchor = "/nonexistent/root.key";
	assert_null(dns_resolver_new(NULL, &cfg, &err));
	assert_non_null(strstr(err, "trust_anchor /nonexistent/root.key"));
	cfg.trust_anchor = NULL;
	cfg.unbound_config = "/nonexistent/unbound.conf";
	assert_null(dns_resolver_new(NULL, &cfg, &err));
	assert_non_null(strstr(err, "unbound_config"));
	cfg.unbound_config = NULL;

	/* a trust anchor libunbound cannot parse fails at once */
	char path[] = "/tmp/herald-test-dns-ta-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	cfg.trust_anchor = path;
	assert_null(dns_resolver_new(NULL, &cfg, &err));
	assert_non_null(strstr(err, "refuses the settings"));
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ptr_name),
		cmocka_unit_test(test_name_normalize),
		cmocka_unit_test(test_idn),
		cmocka_unit_test(test_rdata_parse),
		cmocka_unit_test(test_result_dup_error),
		cmocka_unit_test(test_mx_sort_is_stable),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_memory),
		cmocka_unit_test(test_cache_expiry),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_lookup_async),
		cmocka_unit_test(test_shared_and_cancel),
		cmocka_unit_test(test_cancel_from_callback),
		cmocka_unit_test(test_lookup_from_callback),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_free_with_queries_in_flight),
		cmocka_unit_test(test_sync),
	};

	return cmocka_run_group_tests(tests, start_unbound, stop_unbound);
}
