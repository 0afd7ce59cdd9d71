/* SPDX-License-Identifier: MIT */
/*
 * Trusting a forwarder's ARC set (RFC 8617 7.2): of a chain that passed,
 * the sets sealed by a domain of [mailauth] arc_trusted_sealers are read
 * for what that forwarder saw on arrival: DMARC, or SPF or DKIM aligned
 * with the From domain, passing. DMARC then lowers its disposition
 * (override trusted_forwarder, RFC 7489 7.2.1.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "mailauth/arc.h"
#include "mailauth/dmarc.h"

static bool
listed(char **list, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(list[i], domain) == 0)
			return true;
	}
	return false;
}

/* The domain of an smtp.mailfrom value ("user@dom" or "dom"). */
static const char *
mailfrom_domain(const char *v)
{
	const char *at = strrchr(v, '@');

	return at != NULL ? at + 1 : v;
}

/* What in aar makes it vouch for from_domain, or NULL. */
static const char *
aar_vouches(const struct arc_aar *aar, const struct arc_trust_check *c)
{
	for (size_t i = 0; i < aar->n_results; i++) {
		const struct arc_ar_result *r = &aar->results[i];
		const char *v;

		if (strcmp(r->result, "pass") != 0)
			continue;
		if (strcmp(r->method, "dmarc") == 0 &&
		    (v = arc_ar_result_prop(r, "header.from")) != NULL &&
		    strcasecmp(v, c->from_domain) == 0)
			return "dmarc=pass";
		if (strcmp(r->method, "spf") == 0 &&
		    (v = arc_ar_result_prop(r, "smtp.mailfrom")) != NULL &&
		    dmarc_domains_aligned(c->psl, mailfrom_domain(v),
					  c->from_domain,
					  (enum dmarc_align_mode)c->aspf))
			return "spf=pass aligned";
		if (strcmp(r->method, "dkim") == 0 &&
		    (v = arc_ar_result_prop(r, "header.d")) != NULL &&
		    dmarc_domains_aligned(c->psl, v, c->from_domain,
					  (enum dmarc_align_mode)c->adkim))
			return "dkim=pass aligned";
	}
	return NULL;
}

char *
arc_trusted_vouch(const struct arc_verifier *v, const char *trusted,
		  const struct arc_trust_check *c)
{
	const struct arc_verify_result *r = arc_verifier_result(v);
	char **list = NULL, *err = NULL, *comment = NULL;
	size_t n = 0;

	if (r->result != ARC_RESULT_PASS || trusted == NULL ||
	    c->from_domain == NULL)
		return NULL;
	if (arc_domain_list_parse(trusted, &list, &n, &err) < 0) {
		free(err);
		return NULL;
	}
	/* the latest trusted set first: the nearest hop we trust */
	for (unsigned i = r->instances; i > 0 && comment == NULL; i--) {
		const char *sealer = arc_verifier_sealer(v, i);
		const struct arc_aar *aar = arc_verifier_aar(v, i);
		const char *what;

		if (sealer == NULL || aar == NULL || !listed(list, n, sealer))
			continue;
		if ((what = aar_vouches(aar, c)) != NULL)
			comment = xasprintf("arc=pass; trusted sealer %s (i=%u) "
					    "saw %s", sealer, i, what);
	}
	arc_domain_list_free(&list, n);
	return comment;
}
