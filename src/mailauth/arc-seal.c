/* SPDX-License-Identifier: MIT */
/*
 * ARC sealing (RFC 8617 5.1): Herald's set i=N+1 when it forwards a
 * message through an alias. The ARC-Message-Signature is a DKIM signature
 * made by the DKIM signer (body hashed as the message streams in); the
 * ARC-Seal signs the chain's earlier sets, when it passed, and the new
 * one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "mailauth/arc-private.h"
#include "mailauth/arc.h"
#include "mailauth/dkim-private.h"

#define FOLD_WIDTH 78

/* The DKIM set (dkim_sign_default_headers) and the DKIM-Signature
 * fields, so the next hop sees whether they were changed. */
static const char *const ams_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "resent-date", "resent-from",
	"resent-to", "resent-cc", "list-id", "list-help", "list-unsubscribe",
	"list-unsubscribe-post", "list-subscribe", "list-post", "list-owner",
	"list-archive", "dkim-signature", NULL,
};

struct arc_sealer {
	struct dkim_signer *signer;
	time_t now;
};

struct arc_sealer *
arc_sealer_new(size_t header_max, time_t now)
{
	struct arc_sealer *s = xcalloc(1, sizeof(*s));
	struct dkim_sign_params p = {
		.hcanon = DKIM_CANON_RELAXED,
		.bcanon = DKIM_CANON_RELAXED,
		.now = now != 0 ? now : time(NULL),
		.headers = ams_headers,
		.header_max = header_max,
		/* set to N+1 at the end, when the chain is known */
		.arc_instance = 1,
	};

	s->now = p.now;
	s->signer = dkim_signer_new(&p);
	return s;
}

void
arc_sealer_free(struct arc_sealer **sp)
{
	struct arc_sealer *s = *sp;

	if (s == NULL)
		return;
	dkim_signer_free(&s->signer);
	free(s);
	*sp = NULL;
}

void
arc_sealer_feed(struct arc_sealer *s, const uint8_t *data, size_t len)
{
	dkim_signer_feed(s->signer, data, len);
}

/* A field (with CRLF at its end) relaxed-canonicalized into in, with or
 * without its CRLF. */
static void
canon_field(const char *field, size_t len, bool crlf, struct buf *in)
{
	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	dkim_header_canon(DKIM_CANON_RELAXED, field, len, in);
	if (crlf)
		buf_puts(in, "\r\n");
}

int
arc_sealer_finish(struct arc_sealer *s, const struct arc_seal_request *req,
		  struct buf *out, const char **error_r)
{
	const struct arc_verify_result *r = arc_verifier_result(req->chain);
	const struct dkim_sign_key *key = req->key;
	unsigned inst;
	enum arc_cv cv;
	struct buf aar, ams, seal, in, b64;
	int ret = -1;

	if (r->temporary) {
		*error_r = "the chain could not be verified now";
		return -1;
	}
	if (r->instances > 0 && r->latest_cv == ARC_CV_FAIL) {
		*error_r = "the chain has ended (cv=fail)";
		return -1;
	}
	if (r->result == ARC_RESULT_FAIL && r->instances == 0) {
		*error_r = "ARC fields without instances";
		return -1;
	}
	if (r->instances >= ARC_INSTANCE_LIMIT) {
		*error_r = "the chain has the most sets allowed";
		return -1;
	}
	if (key->alg != DKIM_ALG_RSA_SHA256) {
		*error_r = "ARC seals with rsa-sha256 only";
		return -1;
	}
	inst = r->instances + 1;
	cv = r->result == ARC_RESULT_PASS ? ARC_CV_PASS :
	     r->result == ARC_RESULT_FAIL ? ARC_CV_FAIL : ARC_CV_NONE;

	buf_init(&aar);
	buf_init(&ams);
	buf_init(&seal);
	buf_init(&in);
	buf_init(&b64);
	buf_printf(&aar, "ARC-Authentication-Results: i=%u; %s\r\n", inst,
		   req->ar_body);
	dkim_signer_set_arc_instance(s->signer, inst);
	dkim_signer_add_key(s->signer, key);
	if (dkim_signer_finish(s->signer, &ams, error_r) < 0)
		goto out;
	buf_printf(&seal, "ARC-Seal: i=%u; a=rsa-sha256; t=%lld; cv=%s;\r\n"
		   "\td=%s; s=%s;\r\n\tb=", inst, (long long)s->now,
		   arc_cv_name(cv), key->domain, key->selector);
	/* RFC 8617 5.1.1: the sets in instance order; a failed chain's
	 * seal covers only its own set (5.1.2) */
	if (cv == ARC_CV_PASS)
		arc_verifier_seal_input(req->chain, r->instances, &in);
	canon_field(aar.data, aar.len, true, &in);
	canon_field(ams.data, ams.len, true, &in);
	canon_field(seal.data, seal.len, false, &in);
	if (dkim_sign_data(key, (const uint8_t *)in.data, in.len, &b64) < 0) {
		*error_r = "the key failed to sign";
		goto out;
	}
	for (size_t off = 0, col = 10; off < b64.len;) {
		size_t n = b64.len - off;

		if (n > FOLD_WIDTH - col)
			n = FOLD_WIDTH - col;
		buf_append(&seal, b64.data + off, n);
		off += n;
		if (off < b64.len) {
			buf_puts(&seal, "\r\n\t");
			col = 8;
		}
	}
	buf_puts(&seal, "\r\n");
	buf_append(out, seal.data, seal.len);
	buf_append(out, ams.data, ams.len);
	buf_append(out, aar.data, aar.len);
	ret = 0;
out:
	buf_deinit(&aar);
	buf_deinit(&ams);
	buf_deinit(&seal);
	buf_deinit(&in);
	buf_deinit(&b64);
	return ret;
}
