/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: DKIM verification of a whole message
 * (src/mailauth/dkim-message.c's header splitter and body feed,
 * dkim-verify.c): the first octet is the piece size, the rest the
 * message; every key lookup is answered with the RFC 8463 keys (Ed25519
 * for the first, RSA for the others) or, by the piece size's low bit, a
 * missing one. Fed whole and in pieces, every signature gets the same
 * result, reason, domain and body length; a result is never "none" for
 * a signature that exists, and a pass always names its domain.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3Fu"
	"tACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBf"
	"O2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
};

static struct dkim_verifier *
run(const uint8_t *msg, size_t len, size_t piece, bool missing)
{
	struct dkim_verify_limits lim = {
		.max_signatures = 3, .header_max = 8192, .clock_skew_s = 300,
		.now = 1600000000,
	};
	struct dkim_verifier *v = dkim_verifier_new(&lim);

	for (size_t off = 0; off < len; off += piece)
		dkim_verifier_feed(v, msg + off,
				   len - off < piece ? len - off : piece);
	dkim_verifier_finish(v);
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		struct dns_result res = { 0 };
		struct dns_rr rr = { 0 };

		if (dkim_verifier_key_name(v, i) == NULL)
			continue;
		res.type = DNS_TYPE_TXT;
		if (missing) {
			res.status = DNS_NXDOMAIN;
		} else {
			rr.txt.text = (char *)keys[i == 0 ? 0 : 1];
			rr.txt.text_len = strlen(rr.txt.text);
			res.status = DNS_OK;
			res.count = 1;
			res.rrs = &rr;
		}
		dkim_verifier_set_key(v, i, &res);
	}
	return v;
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_verifier *a, *b;
	size_t piece;

	if (size < 1)
		return 0;
	piece = (size_t)(data[0] >> 1) + 1;
	a = run(data + 1, size - 1, size, data[0] & 1);
	b = run(data + 1, size - 1, piece, data[0] & 1);
	if (dkim_verifier_count(a) != dkim_verifier_count(b))
		abort();
	for (size_t i = 0; i < dkim_verifier_count(a); i++) {
		const struct dkim_verify_result *ra = dkim_verifier_result(a, i);
		const struct dkim_verify_result *rb = dkim_verifier_result(b, i);

		if (ra->result != rb->result || !same(ra->reason, rb->reason) ||
		    ra->body_len != rb->body_len ||
		    ra->body_partial != rb->body_partial ||
		    !same(ra->domain, rb->domain) ||
		    ra->result == DKIM_RESULT_NONE)
			abort();
		if (ra->result == DKIM_RESULT_PASS && ra->domain == NULL)
			abort();
	}
	dkim_verifier_free(&a);
	dkim_verifier_free(&b);
	return 0;
}
