/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: judging published records (src/mailauth/
 * publish-judge.c), the part of `herald dns check` that reads TXT and SRV
 * answers. The first octet picks the record judged (MX/host aside: their
 * answers are addresses and names the DNS module checked); the rest is
 * the answer: TXT records separated by '\n', each cut into strings at
 * '\t' (as a zone writes "a" "b"), or SRV rdata. Every verdict is one of
 * the five, and a detail, when there is one, is printable text without
 * line ends (it is printed on one line).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns-private.h"
#include "lib/mem.h"
#include "mailauth/publish.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_key_info keys[] = {
	{ .selector = "a", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = 1000, .state = DKIM_KEY_ACTIVE,
	  .record = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" },
	{ .selector = "b", .alg = DKIM_ALG_RSA_SHA256, .bits = 2048,
	  .sign_after = 10, .state = DKIM_KEY_RETIRED,
	  .record = "v=DKIM1; k=rsa; p=OLD" },
};

/* TXT records from the input: '\n' between records, '\t' between
 * strings, strings cut at 255 octets. */
static struct dns_result *
txt_answer(const char *name, const uint8_t *d, size_t n)
{
	struct dns_result *res = dns_result_new(name, DNS_TYPE_TXT);
	size_t start = 0, count = 0;

	for (size_t i = 0; i <= n; i++) {
		uint8_t wire[4096];
		size_t w = 0, s = start;
		const char *err;

		if (i < n && d[i] != '\n')
			continue;
		if (count == 16)
			break;
		/* one record: d[start..i) */
		for (size_t j = start; j <= i && w < sizeof(wire) - 256; j++) {
			if (j < i && d[j] != '\t' && j - s < 255)
				continue;
			wire[w++] = (uint8_t)(j - s);
			memcpy(wire + w, d + s, j - s);
			w += j - s;
			s = j < i && d[j] == '\t' ? j + 1 : j;
		}
		res->rrs = xreallocarray(res->rrs, count + 1,
					 sizeof(*res->rrs));
		if (dns_rdata_parse(DNS_TYPE_TXT, wire, w, &res->rrs[count],
				    &err) == 0)
			res->count = ++count;
		start = i + 1;
	}
	if (count == 0)
		res->status = DNS_NODATA;
	return res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct publish_plan *plan;
	const struct publish_record *rec = NULL;
	struct dns_result *res;
	struct publish_verdict v;
	size_t pick, nchecked = 0;

	if (plan == NULL) {
		struct publish_input in = {
			.domain = "example.com", .hostname = "mail.example.com",
			.keys = keys, .n_keys = 2, .dkim_keep_s = 100,
			.now = 2000,
		};

		in.srv_ports[PUBLISH_SRV_IMAPS] = 993;
		plan = publish_plan_new(&in);
	}
	if (size < 1)
		return 0;
	for (size_t i = 0; i < plan->n; i++) {
		const struct publish_record *r = &plan->recs[i];

		if (r->checked && r->kind != PUBLISH_MX &&
		    r->kind != PUBLISH_HOST)
			nchecked++;
	}
	pick = data[0] % nchecked;
	for (size_t i = 0; i < plan->n && rec == NULL; i++) {
		const struct publish_record *r = &plan->recs[i];

		if (r->checked && r->kind != PUBLISH_MX &&
		    r->kind != PUBLISH_HOST && pick-- == 0)
			rec = r;
	}
	if (rec->type == DNS_TYPE_SRV) {
		const char *err;

		res = dns_result_new(rec->name, DNS_TYPE_SRV);
		if (dns_rdata_parse(DNS_TYPE_SRV, data + 1, size - 1,
				    &res->rrs[0], &err) == 0)
			res->count = 1;
		else
			res->status = DNS_NODATA;
	} else {
		res = txt_answer(rec->name, data + 1, size - 1);
	}
	publish_judge(plan, rec, res, NULL, &v);
	if (v.status > PUBLISH_DNS_ERROR)
		abort();
	for (const char *p = v.detail; p != NULL && *p != '\0'; p++) {
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			abort();
	}
	publish_verdict_deinit(&v);
	dns_result_free(&res);
	return 0;
}
