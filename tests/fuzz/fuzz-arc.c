/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ARC header parsers and the chain verifier
 * (src/mailauth/arc-parse.c, arc-verify.c). The first octet's low two
 * bits pick ARC-Seal, ARC-Authentication-Results, Authentication-Results
 * or ARC-Message-Signature for the rest; with bit 2 set the rest is a
 * message verified whole and in pieces of (first octet >> 3) + 1, every
 * key answered "no such name". A parse that succeeds stays within the
 * limits; a refusal says why; the verdict and reason do not depend on
 * how the message was cut nor on whether the verifier reads a DKIM
 * verifier's header (arc_verifier_share_header(), as the inbound checks
 * do); none only when there is no ARC field.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"
#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse_one(unsigned mode, const char *s, size_t len)
{
	const char *err = NULL;

	if (mode == 0) {
		struct arc_seal seal;

		if (arc_seal_parse(s, len, &seal, &err) < 0) {
			if (err == NULL)
				abort();
			return;
		}
		if (seal.instance < 1 || seal.instance > ARC_INSTANCE_LIMIT ||
		    seal.b_len == 0 || seal.b_value_end > len ||
		    seal.b_value_start > seal.b_value_end ||
		    seal.domain == NULL || seal.selector == NULL)
			abort();
		arc_seal_deinit(&seal);
	} else if (mode == 1 || mode == 2) {
		struct arc_aar aar;
		int r = mode == 1 ? arc_aar_parse(s, len, &aar, &err)
				  : arc_ar_parse(s, len, &aar, &err);

		if (r < 0) {
			if (err == NULL || aar.results != NULL ||
			    aar.authserv_id != NULL)
				abort();
			return;
		}
		if ((mode == 1) != (aar.instance >= 1) ||
		    aar.instance > ARC_INSTANCE_LIMIT ||
		    aar.authserv_id == NULL || aar.authserv_id[0] == '\0' ||
		    aar.n_results > ARC_AR_RESULTS_MAX)
			abort();
		for (size_t i = 0; i < aar.n_results; i++) {
			if (aar.results[i].method[0] == '\0' ||
			    aar.results[i].result[0] == '\0' ||
			    aar.results[i].n_props > ARC_AR_PROPS_MAX)
				abort();
		}
		arc_aar_deinit(&aar);
	} else {
		struct dkim_signature sig;
		unsigned inst = 0;

		if (dkim_ams_parse(s, len, &sig, &inst, &err) < 0) {
			if (err == NULL)
				abort();
			return;
		}
		if (inst < 1 || inst > ARC_INSTANCE_LIMIT || sig.has_l)
			abort();
		for (size_t i = 0; i < sig.n_headers; i++) {
			if (strcasecmp(sig.headers[i], "arc-seal") == 0)
				abort();
		}
		dkim_signature_deinit(&sig);
	}
}

static struct arc_verifier *
run(const uint8_t *msg, size_t len, size_t piece, bool shared)
{
	struct arc_verify_limits lim = {
		.max_instances = 5, .header_max = 8192, .now = 1600000000,
	};
	struct dkim_verify_limits dlim = {
		.max_signatures = 2, .header_max = 8192, .now = 1600000000,
	};
	struct arc_verifier *v = arc_verifier_new(&lim);
	struct dkim_verifier *d = shared ? dkim_verifier_new(&dlim) : NULL;
	struct dns_result res = { .type = DNS_TYPE_TXT,
				  .status = DNS_NXDOMAIN };

	if (d != NULL)
		arc_verifier_share_header(v, d);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		if (d != NULL)
			dkim_verifier_feed(d, msg + off, n);
		arc_verifier_feed(v, msg + off, n);
	}
	if (d != NULL)
		dkim_verifier_finish(d);
	arc_verifier_finish(v);
	dkim_verifier_free(&d);
	for (size_t i = 0; i < arc_verifier_key_count(v); i++)
		arc_verifier_set_key(v, i, &res);
	return v;
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
has_arc_field(const uint8_t *msg, size_t len)
{
	/* a crude look: any line starting "arc-" */
	for (size_t i = 0; i + 4 <= len; i++) {
		if ((i == 0 || msg[i - 1] == '\n') &&
		    strncasecmp((const char *)msg + i, "arc-", 4) == 0)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_verifier *a, *b;
	const struct arc_verify_result *ra, *rb;

	if (size < 1)
		return 0;
	if ((data[0] & 4) == 0) {
		parse_one(data[0] & 3, (const char *)data + 1, size - 1);
		return 0;
	}
	a = run(data + 1, size - 1, size, false);
	b = run(data + 1, size - 1, (size_t)(data[0] >> 3) + 1,
		(data[0] & 0x80) != 0);
	ra = arc_verifier_result(a);
	rb = arc_verifier_result(b);
	if (ra->result != rb->result || !same(ra->reason, rb->reason) ||
	    ra->instances != rb->instances || ra->temporary)
		abort();
	/* every key is missing: nothing passes */
	if (ra->result == ARC_RESULT_PASS)
		abort();
	if (ra->result == ARC_RESULT_NONE && has_arc_field(data + 1, size - 1) &&
	    ra->instances != 0)
		abort();
	arc_verifier_free(&a);
	arc_verifier_free(&b);
	return 0;
}
