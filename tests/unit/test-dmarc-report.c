/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/mailauth/dmarc-report*: the row key, the XML of RFC
 * 7489 appendix C (escaping, fields), gzip, rua URIs and their size
 * limits, the external-destination answer, the schedule, and the
 * collector and a report run over a real store with a capturing deliver
 * callback (aggregation, the no-pass rule, deletion after sending).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/dmarc-report.h"
#include "store/store.h"
#include "store-fixture.h"

/* 2026-12-07 01:00:00 UTC */
#define NOW ((time_t)1796605200)

static const struct dmarc_report_dkim two_sigs[] = {
	{ "example.org", "sel1", "pass" },
	{ "Other.TEST", NULL, "fail" },
};

static struct dmarc_report_input
sample(void)
{
	return (struct dmarc_report_input){
		.policy_domain = "example.org",
		.source_ip = "192.0.2.1",
		.header_from = "Example.ORG",
		.envelope_from = "bounce.example.org",
		.p = "reject", .sp = NULL, .pct = 100, .adkim = 'r',
		.aspf = 's', .fo = "1",
		.rua = "mailto:dmarc@example.org",
		.disposition = "none",
		.dkim_aligned = true,
		.spf_aligned = false,
		.spf_domain = "bounce.example.org",
		.spf_scope = "mfrom",
		.spf_result = "softfail",
		.dkim = two_sigs,
		.n_dkim = 2,
		.when = NOW,
	};
}

static void
test_key_round_trip(void **state)
{
	struct dmarc_report_input in = sample();
	struct dmarc_report_row row;
	struct buf key;

	(void)state;
	in.reason = "local_policy";
	in.reason_comment = "line\r\nbreak\tand tab";
	buf_init(&key);
	dmarc_report_row_key(&in, &key);
	assert_null(strchr(key.data, '\n'));
	assert_int_equal(dmarc_report_row_parse(key.data, &row), 0);
	assert_string_equal(row.source_ip, "192.0.2.1");
	assert_string_equal(row.header_from, "example.org");
	assert_string_equal(row.envelope_from, "bounce.example.org");
	assert_string_equal(row.disposition, "none");
	assert_true(row.dkim_aligned);
	assert_false(row.spf_aligned);
	assert_string_equal(row.reason, "local_policy");
	assert_string_equal(row.reason_comment, "line??break?and tab");
	assert_string_equal(row.spf_scope, "mfrom");
	assert_string_equal(row.spf_result, "softfail");
	assert_int_equal(row.n_dkim, 2);
	assert_string_equal(row.dkim[0].selector, "sel1");
	assert_string_equal(row.dkim[1].domain, "other.test");
	assert_string_equal(row.dkim[1].selector, "");
	assert_string_equal(row.dkim[1].result, "fail");
	dmarc_report_row_deinit(&row);
	/* keys it did not make */
	assert_int_equal(dmarc_report_row_parse("2\ta", &row), -1);
	assert_int_equal(dmarc_report_row_parse("1\ta\tb", &row), -1);
	buf_deinit(&key);
}

static void
test_policy_text(void **state)
{
	struct dmarc_report_input in = sample();
	struct buf b;

	(void)state;
	buf_init(&b);
	dmarc_report_policy_text(&in, &b);
	assert_string_equal(b.data, "p=reject sp=reject pct=100 adkim=r "
			    "aspf=s fo=1");
	buf_reset(&b);
	in.p = "QUARANTINE";
	in.sp = "bogus";
	in.np = "reject";
	in.fo = "<x>1:d";
	in.pct = 250;
	dmarc_report_policy_text(&in, &b);
	assert_string_equal(b.data, "p=quarantine sp=quarantine pct=100 "
			    "adkim=r aspf=s fo=1:d np=reject");
	buf_deinit(&b);
}

static void
make_rows(struct dmarc_report_row *rows, const char *comment)
{
	struct dmarc_report_input in = sample();
	struct buf key;

	in.reason = "other";
	in.reason_comment = comment;
	buf_init(&key);
	dmarc_report_row_key(&in, &key);
	assert_int_equal(dmarc_report_row_parse(key.data, &rows[0]), 0);
	rows[0].count = 7;
	buf_reset(&key);
	in = sample();
	in.source_ip = "2001:db8::1";
	in.n_dkim = 0;
	in.envelope_from = "";
	dmarc_report_row_key(&in, &key);
	assert_int_equal(dmarc_report_row_parse(key.data, &rows[1]), 0);
	rows[1].count = 1;
	buf_deinit(&key);
}

static void
test_xml(void **state)
{
	struct dmarc_report_row rows[2];
	struct dmarc_report_meta m = {
		.org_name = "Tom & Jerry's <mail>",
		.email = "postmaster@example.net",
		.report_id = "1796605200.ABC",
		.begin = NOW - 86400,
		.end = NOW,
		.domain = "example.org",
		.policy = "p=reject sp=none pct=50 adkim=s aspf=r fo=1 "
			  "np=quarantine",
	};
	struct buf x;

	(void)state;
	make_rows(rows, "bad \x01 \xff \"q\"");
	buf_init(&x);
	dmarc_report_xml(&m, rows, 2, &x);
	assert_non_null(strstr(x.data, "<?xml version=\"1.0\" "
			       "encoding=\"UTF-8\"?>\n<feedback>\n"));
	assert_non_null(strstr(x.data, "<org_name>Tom &amp; Jerry&apos;s "
			       "&lt;mail&gt;</org_name>"));
	assert_non_null(strstr(x.data, "<begin>1796518800</begin>"));
	assert_non_null(strstr(x.data, "<end>1796605200</end>"));
	assert_non_null(strstr(x.data, "<adkim>s</adkim>"));
	assert_non_null(strstr(x.data, "<p>reject</p>"));
	assert_non_null(strstr(x.data, "<sp>none</sp>"));
	assert_non_null(strstr(x.data, "<np>quarantine</np>"));
	assert_non_null(strstr(x.data, "<pct>50</pct>"));
	assert_non_null(strstr(x.data, "<source_ip>192.0.2.1</source_ip>\n"
			       "      <count>7</count>"));
	assert_non_null(strstr(x.data, "<dkim>pass</dkim>"));
	assert_non_null(strstr(x.data, "<spf>fail</spf>"));
	assert_non_null(strstr(x.data, "<comment>bad ? ? &quot;q&quot;"
			       "</comment>"));
	assert_non_null(strstr(x.data, "<envelope_from>bounce.example.org"
			       "</envelope_from>"));
	assert_non_null(strstr(x.data, "<selector>sel1</selector>"));
	assert_non_null(strstr(x.data, "<scope>mfrom</scope>"));
	/* the second row: no envelope_from, no dkim */
	assert_non_null(strstr(x.data, "<source_ip>2001:db8::1</source_ip>"));
	assert_non_null(strstr(x.data, "</feedback>\n"));
	for (size_t i = 0; i < x.len; i++)
		assert_true((unsigned char)x.data[i] >= 0x20 ||
			    x.data[i] == '\n');
	dmarc_report_row_deinit(&rows[0]);
	dmarc_report_row_deinit(&rows[1]);
	buf_deinit(&x);
}

static void
test_gzip(void **state)
{
	char big[20000];
	struct buf gz;
	uLongf n = sizeof(big) + 10;
	char *out = xmalloc(n);
	z_stream z;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + (i * 7) % 26);
	buf_init(&gz);
	assert_int_equal(dmarc_report_gzip((const uint8_t *)big, sizeof(big),
					   &gz), 0);
	assert_int_equal((unsigned char)gz.data[0], 0x1f);
	assert_int_equal((unsigned char)gz.data[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 31), Z_OK);
	z.next_in = (Bytef *)gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)n;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof(big));
	assert_memory_equal(out, big, sizeof(big));
	inflateEnd(&z);
	free(out);
	buf_deinit(&gz);
}

static void
test_rua(void **state)
{
	struct dmarc_report_uri *u;
	size_t n, skipped;

	(void)state;
	n = dmarc_report_rua_parse(" mailto:a@Example.ORG!10m ,"
				   "https://example.org/r,"
				   "mailto:b%2Bx@example.net?subject=hi,"
				   "mailto:A@example.org,"
				   "mailto:c@[192.0.2.1],"
				   "mailto:d@example.org!5x,"
				   "mailto:e@x.test!20, mailto:,"
				   "MAILTO:f@y.test", 10, &u, &skipped);
	assert_int_equal(n, 4);
	assert_int_equal(skipped, 4);
	assert_string_equal(u[0].address, "a@example.org");
	assert_int_equal(u[0].max_size, 10 * 1024 * 1024);
	assert_string_equal(u[1].address, "b+x@example.net");
	assert_int_equal(u[1].max_size, 0);
	assert_string_equal(u[2].address, "e@x.test");
	assert_int_equal(u[2].max_size, 20);
	assert_string_equal(u[3].address, "f@y.test");
	dmarc_report_uris_free(&u, n);
	assert_null(u);

	/* the cap */
	n = dmarc_report_rua_parse("mailto:a@x.test,mailto:b@x.test,"
				   "mailto:c@x.test", 2, &u, &skipped);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 1);
	dmarc_report_uris_free(&u, n);
	/* an encoded list or a NUL is not one address */
	n = dmarc_report_rua_parse("mailto:a@x.test%2Cb@y.test,"
				   "mailto:a%00@x.test,mailto:a%4", 5, &u,
				   &skipped);
	assert_int_equal(n, 0);
	assert_int_equal(skipped, 3);
	assert_null(u);
	n = dmarc_report_rua_parse(NULL, 5, &u, &skipped);
	assert_int_equal(n, 0);
}

static void
test_verify(void **state)
{
	const char *good[] = { "v=spf1 -all", "v=DMARC1" };
	const char *good2[] = { "v=DMARC1; rua=mailto:x@y.test" };
	const char *bad[] = { "v=DMARC10", "V=dmarc1", " v=DMARC1", "" };
	char *name;

	(void)state;
	assert_true(dmarc_report_verify_answer(good, 2));
	assert_true(dmarc_report_verify_answer(good2, 1));
	assert_false(dmarc_report_verify_answer(bad, 4));
	assert_false(dmarc_report_verify_answer(NULL, 0));
	name = dmarc_report_verify_name("example.org", "reports.test");
	assert_string_equal(name, "example.org._report._dmarc.reports.test");
	free(name);
}

static void
test_next_run(void **state)
{
	(void)state;
	/* 01:00 UTC: the next midnight */
	assert_int_equal(dmarc_report_next_run(NOW, 86400),
			 NOW - 3600 + 86400);
	/* at midnight exactly: the one after */
	assert_int_equal(dmarc_report_next_run(NOW - 3600, 86400),
			 NOW - 3600 + 86400);
	assert_int_equal(dmarc_report_next_run(NOW, 3600), NOW + 3600);
}

/* ---- the collector and a run over a store ---- */

struct sent {
	char from[128], to[128];
	struct buf msg;
	int n;
	bool fail;
	bool refuse;
};

static int
capture(void *ctx, const char *from, const char *to, const uint8_t *msg,
	size_t len, const char **error_r)
{
	struct sent *s = ctx;

	if (s->fail) {
		*error_r = "queue full";
		return -1;
	}
	if (s->refuse) {
		*error_r = "no such local address";
		return 1;
	}
	snprintf(s->from, sizeof(s->from), "%s", from);
	snprintf(s->to, sizeof(s->to), "%s", to);
	buf_reset(&s->msg);
	buf_append(&s->msg, msg, len);
	s->n++;
	return 0;
}

static void
record_n(const struct dmarc_report_input *in, int n)
{
	for (int i = 0; i < n; i++)
		dmarc_report_record(in);
}

static void
test_collect_and_run(void **state)
{
	struct test_store ts;
	struct dmarc_report_input in = sample();
	struct dmarc_report_run_stats st;
	struct store_dmarc_domain *doms;
	struct sent s = { .n = 0 };
	struct dmarc_report_run_opts o = {
		.now = NOW, .deliver = capture, .deliver_ctx = &s,
	};
	const char *err = NULL;
	size_t n;
	char *xml = NULL;
	size_t xml_len = 0;
	FILE *fp;

	(void)state;
	test_store_open(&ts, "dmarc");
	buf_init(&s.msg);
	ts.cfg->hostname = xstrdup("mx.example.net");
	ts.cfg->mailauth.dmarc_reports = true;
	ts.cfg->mailauth.dmarc_report_memory_rows = 100;
	ts.cfg->mailauth.dmarc_report_max_per_run = 10;
	ts.cfg->mailauth.dmarc_report_max_destinations = 2;
	ts.cfg->mailauth.dmarc_report_max_records = 100;
	ts.cfg->mailauth.dmarc_report_max_size = 1024 * 1024;
	ts.cfg->mailauth.dmarc_report_interval_s = 86400;

	/* off: nothing is counted */
	record_n(&in, 1);
	dmarc_report_collector_start(NULL, ts.store, ts.cfg);
	/* example.org: 3 passing from one IP, 2 failing from another */
	record_n(&in, 3);
	in.source_ip = "198.51.100.9";
	in.dkim_aligned = false;
	in.disposition = "reject";
	record_n(&in, 2);
	/* forged.test: only failing mail */
	in.policy_domain = "forged.test";
	in.header_from = "forged.test";
	in.rua = "mailto:victim@forged.test";
	record_n(&in, 4);
	/* no rua: not counted */
	in.policy_domain = "norua.test";
	in.rua = NULL;
	record_n(&in, 1);
	assert_int_equal(dmarc_report_collector_flush(&err), 0);
	/* later counts of a known row add up in the store */
	in = sample();
	record_n(&in, 1);
	assert_int_equal(dmarc_report_collector_flush(&err), 0);

	assert_int_equal(store_dmarc_domains(ts.store, false, &doms, &n,
					     &err), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(doms[0].domain, "example.org");
	assert_int_equal(doms[0].messages, 6);
	assert_int_equal(doms[0].passed, 4);
	assert_int_equal(doms[0].rows, 2);
	assert_string_equal(doms[0].rua, "mailto:dmarc@example.org");
	assert_string_equal(doms[1].domain, "forged.test");
	assert_int_equal(doms[1].passed, 0);
	store_dmarc_domains_free(&doms, n);

	/* a dry run prints and keeps everything */
	fp = open_memstream(&xml, &xml_len);
	o.dry_run = true;
	o.out = fp;
	assert_int_equal(dmarc_report_run(ts.store, ts.cfg, &o, &st, &err), 0);
	fclose(fp);
	assert_int_equal(st.reports, 1);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(xml, "<count>4</count>"));
	assert_non_null(strstr(xml, "<count>2</count>"));
	assert_null(strstr(xml, "forged.test"));
	free(xml);

	/* a failing delivery keeps the rows for the next run */
	o.dry_run = false;
	o.out = NULL;
	s.fail = true;
	assert_int_equal(dmarc_report_run(ts.store, ts.cfg, &o, &st, &err), 0);
	assert_int_equal(st.sent, 0);
	assert_int_equal(store_dmarc_domains(ts.store, false, &doms, &n,
					     &err), STORE_OK);
	assert_int_equal(n, 1);		/* forged.test went: no pass */
	assert_int_equal(doms[0].messages, 6);
	store_dmarc_domains_free(&doms, n);

	/* meanwhile one more; then the report goes */
	record_n(&in, 1);
	assert_int_equal(dmarc_report_collector_flush(&err), 0);
	s.fail = false;
	assert_int_equal(dmarc_report_run(ts.store, ts.cfg, &o, &st, &err), 0);
	assert_int_equal(st.reports, 1);
	assert_int_equal(st.sent, 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.to, "dmarc@example.org");
	assert_string_equal(s.from, "postmaster@example.test");
	assert_non_null(strstr(s.msg.data, "Subject: Report Domain: "
			       "example.org Submitter: mx.example.net "
			       "Report-ID: <1796605200."));
	assert_non_null(strstr(s.msg.data, "Content-Type: application/gzip"));
	assert_non_null(strstr(s.msg.data, "filename=\"example.test!"
			       "example.org!"));
	assert_non_null(strstr(s.msg.data, "!1796605200.xml.gz\""));
	assert_int_equal(store_dmarc_domains(ts.store, false, &doms, &n,
					     &err), STORE_OK);
	assert_int_equal(n, 0);
	store_dmarc_domains_free(&doms, n);

	dmarc_report_collector_stop();
	/* stopped: nothing is counted */
	record_n(&in, 1);
	assert_int_equal(store_dmarc_domains(ts.store, false, &doms, &n,
					     &err), STORE_OK);
	assert_int_equal(n, 0);
	buf_deinit(&s.msg);
	xfree(&ts.cfg->hostname);
	test_store_close(&ts);
}

static void
test_external_needs_record(void **state)
{
	struct test_store ts;
	struct dmarc_report_input in = sample();
	struct dmarc_report_run_stats st;
	struct sent s = { .n = 0 };
	struct dmarc_report_run_opts o = {
		.now = NOW, .deliver = capture, .deliver_ctx = &s,
		.dns = NULL,
	};
	const char *err = NULL;

	(void)state;
	test_store_open(&ts, "dmarc-ext");
	buf_init(&s.msg);
	ts.cfg->mailauth.dmarc_reports = true;
	ts.cfg->mailauth.dmarc_report_memory_rows = 100;
	ts.cfg->mailauth.dmarc_report_max_per_run = 10;
	ts.cfg->mailauth.dmarc_report_max_destinations = 5;
	ts.cfg->mailauth.dmarc_report_max_records = 100;
	ts.cfg->mailauth.dmarc_report_max_size = 1024 * 1024;
	ts.cfg->mailauth.dmarc_report_email = xstrdup("dmarc@example.net");
	dmarc_report_collector_start(NULL, ts.store, ts.cfg);
	/* an external address (no resolver: never verified), a size limit
	 * below any report, https, and one in a subdomain */
	in.rua = "mailto:r@reports.test,mailto:small@example.org!1k,"
		 "https://example.org/x,mailto:agg@sub.example.org";
	record_n(&in, 2);
	assert_int_equal(dmarc_report_run(ts.store, ts.cfg, &o, &st, &err), 0);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.dropped, 2);
	assert_string_equal(s.to, "agg@sub.example.org");
	assert_string_equal(s.from, "dmarc@example.net");
	/* an address that refuses for good: dropped, the rows go */
	in.rua = "mailto:nobody@example.org";
	record_n(&in, 1);
	s.refuse = true;
	assert_int_equal(dmarc_report_run(ts.store, ts.cfg, &o, &st, &err), 0);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.dropped, 1);
	{
		struct store_dmarc_domain *doms;
		size_t n;

		assert_int_equal(store_dmarc_domains(ts.store, false, &doms,
						     &n, &err), STORE_OK);
		assert_int_equal(n, 0);
		store_dmarc_domains_free(&doms, n);
	}
	dmarc_report_collector_stop();
	buf_deinit(&s.msg);
	xfree(&ts.cfg->mailauth.dmarc_report_email);
	test_store_close(&ts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_round_trip),
		cmocka_unit_test(test_policy_text),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_rua),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_next_run),
		cmocka_unit_test(test_collect_and_run),
		cmocka_unit_test(test_external_needs_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
