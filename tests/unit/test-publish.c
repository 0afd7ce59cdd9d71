/* SPDX-License-Identifier: MIT */
/* mailauth/publish: the records `herald dns DOMAIN` prints (DKIM keys by
 * state and rotation window, SRV by listener, SPF terms, TXT quoting and
 * splitting) and the judging of published answers, fed hand-made DNS
 * results: tag order, white space and string splits ignored; several
 * SPF/DMARC records, other keys, +all, p=none found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns-private.h"
#include "lib/mem.h"
#include "mailauth/publish.h"

#define NOW ((time_t)1796600000)
#define DAY 86400
#define RSA_REC "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAw"
#define ED_REC "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

static struct dkim_key_info keys[] = {
	{ .selector = "old", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = NOW - 40 * DAY, .state = DKIM_KEY_RETIRED,
	  .record = "v=DKIM1; k=rsa; p=OLD" },
	{ .selector = "mid", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = NOW - 20 * DAY, .state = DKIM_KEY_RETIRED,
	  .record = "v=DKIM1; k=rsa; p=MID" },
	{ .selector = "new-rsa", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = NOW - 3 * DAY, .state = DKIM_KEY_ACTIVE,
	  .record = RSA_REC },
	{ .selector = "next", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = NOW + 2 * DAY, .state = DKIM_KEY_PENDING,
	  .record = "v=DKIM1; k=rsa; p=NEXT" },
	{ .selector = "new-ed25519", .alg = DKIM_ALG_ED25519_SHA256,
	  .bits = 256, .sign_after = NOW - 3 * DAY, .state = DKIM_KEY_ACTIVE,
	  .record = ED_REC },
	{ .selector = "bad", .state = DKIM_KEY_BROKEN, .error = "no PEM" },
};

static void
input_init(struct publish_input *in)
{
	memset(in, 0, sizeof(*in));
	in->domain = "example.com";
	in->hostname = "mail.example.com";
	in->keys = keys;
	in->n_keys = sizeof(keys) / sizeof(keys[0]);
	in->dkim_keep_s = 12 * DAY;
	in->now = NOW;
	in->srv_ports[PUBLISH_SRV_SUBMISSIONS] = 465;
	in->srv_ports[PUBLISH_SRV_IMAPS] = 993;
}

static const struct publish_record *
find(const struct publish_plan *plan, const char *name, enum publish_kind kind)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (strcmp(plan->recs[i].name, name) == 0 &&
		    plan->recs[i].kind == kind)
			return &plan->recs[i];
	}
	return NULL;
}

static void
test_dkim_states(void **state)
{
	struct publish_input in;
	struct publish_plan *plan;
	const struct publish_record *r;

	input_init(&in);
	plan = publish_plan_new(&in);
	r = find(plan, "new-rsa._domainkey.example.com", PUBLISH_DKIM);
	assert_non_null(r);
	assert_true(r->printed && r->checked && r->required);
	assert_string_equal(r->value, RSA_REC);
	r = find(plan, "new-ed25519._domainkey.example.com", PUBLISH_DKIM);
	assert_true(r->printed && r->required);
	/* the next key: published now, not required */
	r = find(plan, "next._domainkey.example.com", PUBLISH_DKIM);
	assert_true(r->printed && !r->required);
	assert_non_null(strstr(r->comment, "before it signs"));
	/* retired 3 days ago (new-rsa took over): kept 12 days */
	r = find(plan, "mid._domainkey.example.com", PUBLISH_DKIM);
	assert_true(r->printed && r->checked && !r->required);
	assert_int_equal(r->keep_until, NOW - 3 * DAY + 12 * DAY);
	/* retired 20 days ago (mid took over): only a comment, checked */
	r = find(plan, "old._domainkey.example.com", PUBLISH_DKIM);
	assert_true(!r->printed && r->checked && !r->required);
	assert_int_equal(r->keep_until, NOW - 20 * DAY + 12 * DAY);
	assert_non_null(strstr(r->comment, "remove"));
	r = find(plan, "bad._domainkey.example.com", PUBLISH_NOTE);
	assert_true(r != NULL && !r->printed && !r->checked);
	assert_non_null(strstr(r->comment, "no PEM"));
	publish_plan_free(&plan);
	assert_null(plan);

	/* --selector new: its -rsa and -ed25519 pair only */
	in.selector = "new";
	plan = publish_plan_new(&in);
	assert_non_null(find(plan, "new-rsa._domainkey.example.com",
			     PUBLISH_DKIM));
	assert_non_null(find(plan, "new-ed25519._domainkey.example.com",
			     PUBLISH_DKIM));
	assert_null(find(plan, "mid._domainkey.example.com", PUBLISH_DKIM));
	publish_plan_free(&plan);

	/* no key: a required record that check reports missing */
	in.selector = NULL;
	in.n_keys = 0;
	plan = publish_plan_new(&in);
	r = find(plan, "_domainkey.example.com", PUBLISH_DKIM);
	assert_true(r != NULL && !r->printed && r->checked && r->required);
	assert_non_null(strstr(r->comment, "herald dkim keygen example.com"));
	{
		struct publish_verdict v;

		publish_judge(plan, r, NULL, NULL, &v);
		assert_int_equal(v.status, PUBLISH_MISSING);
		publish_verdict_deinit(&v);
	}
	publish_plan_free(&plan);
}

static void
test_records(void **state)
{
	struct publish_input in;
	struct publish_plan *plan;
	const struct publish_record *r;
	const char *addrs[] = { "192.0.2.25", "2001:db8::25" };
	struct buf b;

	input_init(&in);
	in.spf_addrs = addrs;
	in.n_spf_addrs = 2;
	in.host_addrs = addrs;
	in.n_host_addrs = 2;
	in.relayhost = "[smtp.provider.example]:587";
	in.report_address = "reports@example.net";
	plan = publish_plan_new(&in);
	r = find(plan, "example.com", PUBLISH_SPF);
	assert_string_equal(r->value,
			    "v=spf1 mx ip4:192.0.2.25 ip6:2001:db8::25 -all");
	assert_non_null(strstr(r->comment, "relayhost [smtp.provider"));
	r = find(plan, "example.com", PUBLISH_MX);
	assert_string_equal(r->value, "10 mail.example.com.");
	r = find(plan, "mail.example.com", PUBLISH_HOST);
	assert_non_null(strstr(r->comment,
			       "mail.example.com. IN AAAA 2001:db8::25"));
	r = find(plan, "_dmarc.example.com", PUBLISH_DMARC);
	assert_string_equal(r->value, "v=DMARC1; p=quarantine; "
			    "rua=mailto:reports@example.net");
	r = find(plan, "_smtp._tls.example.com", PUBLISH_TLSRPT);
	assert_string_equal(r->value,
			    "v=TLSRPTv1; rua=mailto:reports@example.net");
	r = find(plan, "_submissions._tcp.example.com", PUBLISH_SRV);
	assert_string_equal(r->value, "0 1 465 mail.example.com.");
	r = find(plan, "_imaps._tcp.example.com", PUBLISH_SRV);
	assert_string_equal(r->value, "0 1 993 mail.example.com.");
	r = find(plan, "_pop3._tcp.example.com", PUBLISH_SRV);
	assert_string_equal(r->value, "0 0 0 .");
	assert_int_equal(r->port, 0);
	r = find(plan, "_mta-sts.example.com", PUBLISH_MTASTS);
	assert_string_equal(r->value + strlen("v=STSv1; id="),
			    plan->mta_sts_id);
	assert_int_equal(strlen(plan->mta_sts_id), 20);
	buf_init(&b);
	publish_mta_sts_policy(plan, &b);
	assert_string_equal(b.data, "version: STSv1\r\nmode: testing\r\n"
			    "mx: mail.example.com\r\nmax_age: 604800\r\n");
	buf_reset(&b);
	publish_print_zone(plan, 0, &b);
	assert_non_null(strstr(b.data, "\nexample.com. IN MX 10 "
			       "mail.example.com.\n"));
	assert_non_null(strstr(b.data, "\n;   mode: testing\n"));
	/* a retired key past its window is a comment, not a record */
	assert_null(strstr(b.data, "\nold._domainkey.example.com. IN"));
	assert_non_null(strstr(b.data, "\nmid._domainkey.example.com. IN"));
	buf_reset(&b);
	publish_print_zone(plan, 300, &b);
	assert_non_null(strstr(b.data, "\n_imaps._tcp.example.com. 300 IN SRV "
			       "0 1 993 mail.example.com.\n"));
	buf_reset(&b);
	publish_print_json(plan, &b);
	assert_non_null(strstr(b.data, "{\"name\": \"example.com.\", \"type\": "
			       "\"MX\", \"value\": \"10 mail.example.com.\", "
			       "\"purpose\": \"mx\"}"));
	buf_deinit(&b);
	{
		/* the id follows the policy: another mode, another id */
		char *id = xstrdup(plan->mta_sts_id);

		publish_plan_free(&plan);
		in.mta_sts_enforce = true;
		plan = publish_plan_new(&in);
		assert_string_not_equal(id, plan->mta_sts_id);
		free(id);
	}
	publish_plan_free(&plan);
}

static void
test_txt_quote(void **state)
{
	char long_text[600];
	struct buf b;

	buf_init(&b);
	publish_txt_quote("v=spf1 -all", &b);
	assert_string_equal(b.data, "\"v=spf1 -all\"");
	buf_reset(&b);
	publish_txt_quote("a\"b\\c\x01", &b);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\001\"");
	buf_reset(&b);
	publish_txt_quote("", &b);
	assert_string_equal(b.data, "\"\"");
	memset(long_text, 'x', 255);
	long_text[255] = '\0';
	buf_reset(&b);
	publish_txt_quote(long_text, &b);
	assert_int_equal(b.len, 257);
	memset(long_text, 'x', 511);
	long_text[511] = '\0';
	buf_reset(&b);
	publish_txt_quote(long_text, &b);
	/* ( "255" "255" "1" ) */
	assert_int_equal(b.len, 2 + 257 + 1 + 257 + 1 + 3 + 2);
	assert_memory_equal(b.data, "( \"x", 4);
	assert_memory_equal(b.data + b.len - 6, " \"x\" )", 6);
	buf_deinit(&b);
}

/* ---- judging hand-made answers ---- */

/* A TXT result from texts (each split into strings of at most chunk
 * octets); NULL texts and status: a failed lookup. */
static struct dns_result *
txt_result(const char *name, enum dns_status status, size_t chunk,
	   const char *const *texts)
{
	struct dns_result *res;
	size_t n = 0;

	if (status != DNS_OK)
		return dns_result_new_error(name, DNS_TYPE_TXT, status,
					    "%s", status == DNS_TIMEOUT ?
					    "timed out after 1000 ms" : "x");
	res = dns_result_new(name, DNS_TYPE_TXT);
	while (texts[n] != NULL)
		n++;
	res->rrs = xreallocarray(res->rrs, n + 1, sizeof(*res->rrs));
	for (size_t i = 0; i < n; i++) {
		uint8_t wire[2048];
		size_t len = strlen(texts[i]), w = 0;
		const char *err;

		for (size_t off = 0; off < len || off == 0; off += chunk) {
			size_t c = len - off < chunk ? len - off : chunk;

			wire[w++] = (uint8_t)c;
			memcpy(wire + w, texts[i] + off, c);
			w += c;
			if (len == 0)
				break;
		}
		assert_int_equal(dns_rdata_parse(DNS_TYPE_TXT, wire, w,
						 &res->rrs[i], &err), 0);
	}
	res->count = n;
	return res;
}

static enum publish_status
judge_txt(const struct publish_plan *plan, const char *name,
	  enum publish_kind kind, size_t chunk, const char *const *texts,
	  const char *want_detail)
{
	const struct publish_record *r = find(plan, name, kind);
	struct dns_result *res = txt_result(name, DNS_OK, chunk, texts);
	struct publish_verdict v;
	enum publish_status st;

	assert_non_null(r);
	publish_judge(plan, r, res, NULL, &v);
	if (want_detail != NULL) {
		if (v.detail == NULL || strstr(v.detail, want_detail) == NULL)
			fail_msg("detail \"%s\" lacks \"%s\"",
				 v.detail != NULL ? v.detail : "(null)",
				 want_detail);
	}
	st = v.status;
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	return st;
}

#define TXTS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_judge_txt(void **state)
{
	struct publish_input in;
	struct publish_plan *plan;
	const char *D = "example.com", *DK = "new-rsa._domainkey.example.com",
		   *DM = "_dmarc.example.com";

	input_init(&in);
	plan = publish_plan_new(&in);
	/* SPF */
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 mx -all", "google-site=x"),
				   NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 4,
				   TXTS("v=spf1 mx -all"), NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 mx -all", "V=SPF1 a -all"),
				   "2 SPF records"), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 +all"), "+all"), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 mx ?all"), "?all"), PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 mx"), "no all"), PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 redirect=_spf.example.net"),
				   NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf1 mx:: -all"), "does not parse"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, D, PUBLISH_SPF, 255,
				   TXTS("v=spf10 mx"), NULL), PUBLISH_MISSING);
	/* DKIM: tags in any order, white space in p=, strings split */
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS(RSA_REC), "the key on disk"), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 7,
				   TXTS("p=MIIBIjANBgkqhkiG9w0BAQEFAAOC "
					"AQ8AMIIBCgKCAQEAw ; k=rsa ;h=sha256"),
				   NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS("v=DKIM1; k=rsa; p=MIIBother"),
				   "another key"), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS("v=DKIM1; k=rsa; p="), "revoked"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS(ED_REC), "k=ed25519"), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS(RSA_REC "; t=s:y"), "testing"),
			 PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS(RSA_REC, RSA_REC), "undefined"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DK, PUBLISH_DKIM, 255,
				   TXTS("k=rsa; v=DKIM1; p=x"), "no DKIM key"),
			 PUBLISH_WRONG);
	/* a retired key past its window: published is a warning */
	assert_int_equal(judge_txt(plan, "old._domainkey.example.com",
				   PUBLISH_DKIM, 255,
				   TXTS("v=DKIM1; k=rsa; p=OLD"), "remove"),
			 PUBLISH_WARN);
	/* DMARC */
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=quarantine; "
					"rua=mailto:postmaster@example.com"),
				   NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 3,
				   TXTS("v=DMARC1;rua=mailto:x@example.net, "
					"mailto:postmaster@EXAMPLE.COM!10m;"
					"p=reject"), NULL), PUBLISH_OK);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=none; rua=mailto:"
					"postmaster@example.com"), "p=none"),
			 PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=reject",
					"v=DMARC1; p=none"), "2 DMARC records"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("p=reject; v=DMARC1"), NULL),
			 PUBLISH_MISSING);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=block"), "p= is not"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=reject"), "no rua"),
			 PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=reject; rua=mailto:"
					"xpostmaster@example.com"), "not to"),
			 PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, DM, PUBLISH_DMARC, 255,
				   TXTS("v=DMARC1; p=reject; pct=50; rua=mailto:"
					"postmaster@example.com"), "pct=50"),
			 PUBLISH_WARN);
	/* MTA-STS, TLS-RPT */
	{
		char *ok = xasprintf("v=STSv1; id=%s;", plan->mta_sts_id);

		assert_int_equal(judge_txt(plan, "_mta-sts.example.com",
					   PUBLISH_MTASTS, 255, TXTS(ok), NULL),
				 PUBLISH_OK);
		free(ok);
	}
	assert_int_equal(judge_txt(plan, "_mta-sts.example.com", PUBLISH_MTASTS,
				   255, TXTS("v=STSv1; id=20160831085700Z"),
				   "while the policy"), PUBLISH_WARN);
	assert_int_equal(judge_txt(plan, "_mta-sts.example.com", PUBLISH_MTASTS,
				   255, TXTS("v=STSv1; id=a-b"), "letters"),
			 PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, "_mta-sts.example.com", PUBLISH_MTASTS,
				   255, TXTS("v=STSv1; id=a", "v=STSv1; id=b"),
				   NULL), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, "_smtp._tls.example.com",
				   PUBLISH_TLSRPT, 255,
				   TXTS("v=TLSRPTv1;rua=mailto:"
					"postmaster@example.com"), NULL),
			 PUBLISH_OK);
	assert_int_equal(judge_txt(plan, "_smtp._tls.example.com",
				   PUBLISH_TLSRPT, 255, TXTS("v=TLSRPTv1"),
				   "no rua"), PUBLISH_WRONG);
	assert_int_equal(judge_txt(plan, "_smtp._tls.example.com",
				   PUBLISH_TLSRPT, 255,
				   TXTS("v=TLSRPTv1; rua=https://r.example"),
				   "not to"), PUBLISH_WARN);
	publish_plan_free(&plan);
}

static struct dns_result *
srv_result(const char *name, const char *wire, size_t len)
{
	struct dns_result *res = dns_result_new(name, DNS_TYPE_SRV);
	const char *err;

	assert_int_equal(dns_rdata_parse(DNS_TYPE_SRV, (const uint8_t *)wire,
					 len, &res->rrs[0], &err), 0);
	res->count = 1;
	return res;
}

static void
test_judge_other(void **state)
{
	static const char srv_ok[] = "\x00\x00\x00\x01\x01\xd1\x04mail\x07"
				     "example\x03" "com";
	static const char srv_dot[] = "\x00\x00\x00\x00\x00\x00";
	struct publish_input in;
	struct publish_plan *plan;
	struct publish_verdict v;
	struct dns_result *res;
	const struct publish_record *r;
	const char *err;

	input_init(&in);
	plan = publish_plan_new(&in);
	/* SRV: offered on 465 */
	r = find(plan, "_submissions._tcp.example.com", PUBLISH_SRV);
	res = srv_result(r->name, srv_ok, sizeof(srv_ok));
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_OK);
	publish_verdict_deinit(&v);
	/* the same record where 993 is expected */
	r = find(plan, "_imaps._tcp.example.com", PUBLISH_SRV);
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_WRONG);
	assert_non_null(strstr(v.detail, "expected port 993"));
	publish_verdict_deinit(&v);
	/* and where nothing is offered */
	r = find(plan, "_pop3._tcp.example.com", PUBLISH_SRV);
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_WARN);
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	res = srv_result(r->name, srv_dot, sizeof(srv_dot));
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_OK);
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	res = dns_result_new_error(r->name, DNS_TYPE_SRV, DNS_NXDOMAIN, "n");
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_MISSING);
	publish_verdict_deinit(&v);
	dns_result_free(&res);

	/* MX */
	r = find(plan, "example.com", PUBLISH_MX);
	res = dns_result_new("example.com", DNS_TYPE_MX);
	assert_int_equal(dns_rdata_parse(DNS_TYPE_MX,
					 (const uint8_t *)"\x00\x05\x04MAIL\x07"
					 "example\x03" "com", 20, &res->rrs[0],
					 &err), 0);
	res->count = 1;
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_OK);
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	res = dns_result_new("example.com", DNS_TYPE_MX);
	assert_int_equal(dns_rdata_parse(DNS_TYPE_MX,
					 (const uint8_t *)"\x00\x00\x00", 3,
					 &res->rrs[0], &err), 0);
	res->count = 1;
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_WRONG);
	assert_non_null(strstr(v.detail, "null MX"));
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	/* failures are DNS errors, not "missing" */
	res = txt_result("example.com", DNS_TIMEOUT, 255, NULL);
	res->type = DNS_TYPE_MX;
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_DNS_ERROR);
	assert_non_null(strstr(v.detail, "timeout"));
	publish_verdict_deinit(&v);
	r = find(plan, "new-rsa._domainkey.example.com", PUBLISH_DKIM);
	res->type = DNS_TYPE_TXT;
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_DNS_ERROR);
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	res = dns_result_new_error(r->name, DNS_TYPE_TXT, DNS_NODATA, "n");
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_MISSING);
	publish_verdict_deinit(&v);
	/* a retired key within its window, no longer published */
	r = find(plan, "mid._domainkey.example.com", PUBLISH_DKIM);
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_WARN);
	publish_verdict_deinit(&v);
	/* past its window and gone: as it should be */
	r = find(plan, "old._domainkey.example.com", PUBLISH_DKIM);
	publish_judge(plan, r, res, NULL, &v);
	assert_int_equal(v.status, PUBLISH_OK);
	publish_verdict_deinit(&v);
	dns_result_free(&res);

	/* the host: A missing but AAAA there is fine */
	r = find(plan, "mail.example.com", PUBLISH_HOST);
	res = dns_result_new_error(r->name, DNS_TYPE_A, DNS_NODATA, "n");
	{
		struct dns_result *aaaa = dns_result_new_error(
			r->name, DNS_TYPE_AAAA, DNS_NODATA, "n");

		publish_judge(plan, r, res, aaaa, &v);
		assert_int_equal(v.status, PUBLISH_MISSING);
		publish_verdict_deinit(&v);
		dns_result_free(&aaaa);
		aaaa = dns_result_new(r->name, DNS_TYPE_AAAA);
		assert_int_equal(dns_rdata_parse(DNS_TYPE_AAAA,
						 (const uint8_t *)
						 "\x20\x01\x0d\xb8\0\0\0\0\0\0"
						 "\0\0\0\0\0\x25", 16,
						 &aaaa->rrs[0], &err), 0);
		aaaa->count = 1;
		publish_judge(plan, r, res, aaaa, &v);
		assert_int_equal(v.status, PUBLISH_OK);
		assert_string_equal(v.detail, "2001:db8::25");
		publish_verdict_deinit(&v);
		dns_result_free(&aaaa);
	}
	dns_result_free(&res);
	publish_plan_free(&plan);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_states),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_txt_quote),
		cmocka_unit_test(test_judge_txt),
		cmocka_unit_test(test_judge_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
