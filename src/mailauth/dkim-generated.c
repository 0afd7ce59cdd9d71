/* SPDX-License-Identifier: MIT */
/*
 * DKIM signing of the mail Herald makes (DSNs, reports): the From
 * domain's keys or its nearest parent's, so a MAILER-DAEMON@hostname
 * message carries a signature aligned with its From under relaxed DMARC.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "mailauth/dkim-generated.h"
#include "mailauth/dkim.h"

/* The domain whose keys sign for from_domain: itself or the nearest
 * parent with a key directory (never a single label: no key directory
 * for a TLD is ours). NULL when there is none. */
static const char *
signing_domain(const char *data_dir, const char *from_domain)
{
	const char *d = from_domain;

	while (d != NULL && strchr(d, '.') != NULL) {
		if (dkim_keystore_has_domain(data_dir, d))
			return d;
		d = strchr(d, '.') + 1;
	}
	return NULL;
}

size_t
dkim_sign_generated(const struct config *cfg, const char *log_id,
		    const uint8_t *msg, size_t len, struct buf *out)
{
	const struct config_mailauth *d = &cfg->mailauth;
	struct dkim_sign_params p = {
		.hcanon = DKIM_CANON_RELAXED,
		.bcanon = DKIM_CANON_RELAXED,
		.expire_s = d->dkim_expire_s,
		.header_max = (size_t)d->dkim_header_max,
	};
	struct dkim_sign_key **keys = NULL;
	struct dkim_signer *signer;
	const char *from, *domain, *err;
	char *perr = NULL, dbuf[300];
	size_t n = 0, signed_n = 0, before = out->len;

	if (!d->dkim_sign)
		return 0;
	signer = dkim_signer_new(&p);
	dkim_signer_feed(signer, msg, len);
	dkim_signer_end_input(signer);
	from = dkim_signer_from_domain(signer);
	if (from == NULL) {
		log_info(log_id, "dkim", "unsigned",
			 "reason=\"no single From address\"");
		goto out;
	}
	domain = signing_domain(cfg->data_dir, from);
	if (domain == NULL ||
	    dkim_keystore_load_signing(cfg->data_dir, domain, time(NULL),
				       &keys, &n, &perr) < 0 || n == 0) {
		log_info(log_id, "dkim", "unsigned", "d=%s reason=\"%s\"",
			 log_str(dbuf, sizeof(dbuf),
				 domain != NULL ? domain : from),
			 perr != NULL ? perr : "no active key");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		dkim_signer_add_key(signer, keys[i]);
	if (dkim_signer_finish(signer, out, &err) < 0) {
		buf_truncate(out, before);
		log_info(log_id, "dkim", "unsigned", "d=%s reason=\"%s\"",
			 log_str(dbuf, sizeof(dbuf), domain), err);
		goto out;
	}
	{
		struct buf sels;

		buf_init(&sels);
		for (size_t i = 0; i < n; i++)
			buf_printf(&sels, "%s%s", i > 0 ? "," : "",
				   keys[i]->selector);
		log_info(log_id, "dkim", "signed", "d=%s s=%s",
			 log_str(dbuf, sizeof(dbuf), domain), sels.data);
		buf_deinit(&sels);
	}
	signed_n = n;
out:
	free(perr);
	dkim_signer_free(&signer);
	dkim_sign_keys_free(&keys, n);
	return signed_n;
}
