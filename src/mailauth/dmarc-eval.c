/* SPDX-License-Identifier: MIT */
/*
 * DMARC evaluation without I/O (RFC 7489 3.1, 4.2, 6.6.2, 6.6.4): which
 * SPF and DKIM identifiers align with the From domain, the result, the
 * policy that applies (p, sp, np), pct sampling, and the
 * Authentication-Results method text.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"

bool
dmarc_domains_aligned(const struct dmarc_psl *psl, const char *a,
		      const char *b, enum dmarc_align_mode mode)
{
	const char *oa, *ob;

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return false;
	if (strcasecmp(a, b) == 0)
		return true;
	if (mode == DMARC_ALIGN_STRICT || psl == NULL)
		return false;
	oa = dmarc_psl_org_domain(psl, a);
	ob = dmarc_psl_org_domain(psl, b);
	return oa != NULL && ob != NULL && strcasecmp(oa, ob) == 0;
}

/* Relaxed alignment against an organisational domain the tree walk
 * found (DMARCbis 4.10.2): the identifier is that domain or under it. */
static bool
under_org(const char *id, const char *org)
{
	size_t il = strlen(id), ol = strlen(org);

	if (il == ol)
		return strcasecmp(id, org) == 0;
	return il > ol && id[il - ol - 1] == '.' &&
	       strcasecmp(id + il - ol, org) == 0;
}

static bool
aligned(const struct dmarc_psl *psl, const struct dmarc_policy_found *f,
	bool treewalk_org, const char *id, enum dmarc_align_mode mode)
{
	if (id == NULL || *id == '\0')
		return false;
	if (strcasecmp(id, f->from_domain) == 0)
		return true;
	if (mode == DMARC_ALIGN_STRICT)
		return false;
	if (treewalk_org)
		return f->org_domain != NULL && under_org(id, f->org_domain);
	return dmarc_domains_aligned(psl, id, f->from_domain, mode);
}

static enum dmarc_policy
lower_policy(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_REJECT:
		return DMARC_POLICY_QUARANTINE;
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
	case DMARC_POLICY_UNSET:
		break;
	}
	return DMARC_POLICY_NONE;
}

static void
copy_inputs(const struct dmarc_input *in, struct dmarc_result *r)
{
	r->from_domain = in->from_domain != NULL ? xstrdup(in->from_domain)
						 : NULL;
	r->spf_result = in->spf_result;
	r->spf_domain = xstrdup(in->spf_domain != NULL ? in->spf_domain : "");
	r->spf_is_helo = in->spf_is_helo;
	r->n_dkim = in->n_dkim;
	r->dkim = in->n_dkim > 0 ? xcalloc(in->n_dkim, sizeof(*r->dkim))
				 : NULL;
	for (size_t i = 0; i < in->n_dkim; i++) {
		const struct dkim_verify_result *d = in->dkim[i];

		r->dkim[i].domain = xstrdup(d->domain != NULL ? d->domain : "");
		r->dkim[i].selector = xstrdup(d->selector != NULL ? d->selector
								  : "");
		r->dkim[i].result = d->result;
		r->dkim[i].partial = d->body_partial;
	}
}

void
dmarc_evaluate(const struct dmarc_input *in,
	       const struct dmarc_policy_found *found,
	       const struct dmarc_psl *psl, unsigned rnd,
	       struct dmarc_result *r)
{
	memset(r, 0, sizeof(*r));
	copy_inputs(in, r);
	r->from_status = DMARC_FROM_OK;
	r->policy = DMARC_POLICY_UNSET;
	r->disposition = DMARC_POLICY_NONE;
	if (found == NULL) {
		r->result = DMARC_RESULT_NONE;
		r->problem = xstrdup("not looked up");
		return;
	}
	if (found->policy_domain != NULL)
		r->policy_domain = xstrdup(found->policy_domain);
	if (found->org_domain != NULL)
		r->org_domain = xstrdup(found->org_domain);
	if (found->problem != NULL)
		r->problem = xstrdup(found->problem);
	switch (found->status) {
	case DMARC_LOOKUP_FOUND:
		break;
	case DMARC_LOOKUP_NONE:
		r->result = DMARC_RESULT_NONE;
		return;
	case DMARC_LOOKUP_TEMPERROR:
		r->result = DMARC_RESULT_TEMPERROR;
		return;
	case DMARC_LOOKUP_PERMERROR:
		r->result = DMARC_RESULT_PERMERROR;
		return;
	}
	const struct dmarc_record *rec = &found->record;
	/* a policy found by the tree walk carries its organisational
	 * domain; the PSL mode computes them from the list */
	bool tw = found->org_from_walk;
	bool spf_temp = false, dkim_temp = false;

	r->has_record = true;
	dmarc_record_copy(&r->record, rec);
	/* SPF (RFC 7489 3.1.2): the domain SPF checked, MAIL FROM or the
	 * HELO name for <>, that passed */
	if (in->spf_result == SPF_PASS)
		r->spf_aligned = aligned(psl, found, tw, in->spf_domain,
					 rec->aspf);
	else if (in->spf_result == SPF_TEMPERROR)
		spf_temp = aligned(psl, found, tw, in->spf_domain, rec->aspf);
	/* DKIM (3.1.1): each passing signature's d=. A pass that covers
	 * only l= octets of a longer body does not count: what follows
	 * the signed part may be anyone's (docs/mailauth.md) */
	for (size_t i = 0; i < r->n_dkim; i++) {
		struct dmarc_dkim *d = &r->dkim[i];
		bool al = aligned(psl, found, tw, d->domain, rec->adkim);

		if (d->result == DKIM_RESULT_PASS && !d->partial && al) {
			d->aligned = true;
			r->dkim_aligned = true;
		} else if (d->result == DKIM_RESULT_TEMPERROR && al) {
			dkim_temp = true;
		}
	}
	/* the policy: p at the domain that published it, sp for a
	 * subdomain of the organisational domain's record, np (DMARCbis)
	 * for one that does not exist */
	r->policy = rec->p;
	if (found->policy_domain != NULL &&
	    strcasecmp(found->policy_domain, found->from_domain) != 0) {
		if (found->from_nonexistent && rec->np != DMARC_POLICY_UNSET) {
			r->policy = rec->np;
			r->policy_is_np = true;
		} else if (rec->sp != DMARC_POLICY_UNSET) {
			r->policy = rec->sp;
			r->policy_is_sp = true;
		}
	}
	if (r->spf_aligned || r->dkim_aligned) {
		r->result = DMARC_RESULT_PASS;
		return;
	}
	if (spf_temp || dkim_temp) {
		/* an aligned identifier could not be checked now: a fail
		 * might be a pass; never reject on a resolver's hiccup */
		r->result = DMARC_RESULT_TEMPERROR;
		free(r->problem);
		r->problem = xstrdup(spf_temp ? "SPF temperror"
					      : "DKIM temperror");
		return;
	}
	r->result = DMARC_RESULT_FAIL;
	r->disposition = r->policy;
	/* pct (RFC 7489 6.6.4): a message not selected gets the next lower
	 * policy; DMARCbis t=y works as pct=0 */
	if (r->disposition != DMARC_POLICY_NONE &&
	    (rec->testing || (rec->pct < 100 && rnd >= rec->pct))) {
		r->disposition = lower_policy(r->disposition);
		r->reason = DMARC_REASON_SAMPLED_OUT;
	}
}

void
dmarc_result_from_problem(enum dmarc_from_status st,
			  struct dmarc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->from_status = st;
	r->result = DMARC_RESULT_PERMERROR;
	r->policy = DMARC_POLICY_UNSET;
	r->disposition = DMARC_POLICY_NONE;
	r->spf_domain = xstrdup("");
	switch (st) {
	case DMARC_FROM_NONE:
		r->problem = xstrdup("no From field");
		break;
	case DMARC_FROM_SEVERAL_FIELDS:
		r->problem = xstrdup("several From fields");
		break;
	case DMARC_FROM_SEVERAL_DOMAINS:
		r->problem = xstrdup("From addresses of several domains");
		break;
	case DMARC_FROM_UNPARSEABLE:
	case DMARC_FROM_OK:
		r->problem = xstrdup("From field without one clear domain");
		break;
	}
}

void
dmarc_auth_results_put(struct buf *b, const struct dmarc_result *r)
{
	/* buf_puts, not buf_printf: this runs for every checked message and
	 * each printf call was a measurable part of building the field */
	buf_puts(b, "dmarc=");
	buf_puts(b, dmarc_result_name(r->result));
	if (r->has_record) {
		buf_puts(b, " (p=");
		buf_puts(b, dmarc_policy_name(r->record.p));
		if (r->record.sp != DMARC_POLICY_UNSET)
			buf_printf(b, " sp=%s",
				   dmarc_policy_name(r->record.sp));
		if (r->record.np != DMARC_POLICY_UNSET)
			buf_printf(b, " np=%s",
				   dmarc_policy_name(r->record.np));
		if (r->record.pct != 100)
			buf_printf(b, " pct=%u", r->record.pct);
		buf_puts(b, " dis=");
		buf_puts(b, dmarc_policy_name(r->disposition));
		if (r->reason != DMARC_REASON_NONE)
			buf_printf(b, " override=%s",
				   dmarc_reason_name(r->reason));
		buf_putc(b, ')');
	} else if (r->problem != NULL && r->result != DMARC_RESULT_NONE) {
		/* our own fixed texts: no peer text in a comment */
		buf_printf(b, " (%s)", r->problem);
	}
	if (r->from_domain != NULL && r->from_domain[0] != '\0') {
		bool token = true;

		for (const char *p = r->from_domain; *p != '\0'; p++) {
			unsigned char c = (unsigned char)*p;

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '.' || c == '-' || c == '_' || c >= 0x80))
				token = false;
		}
		/* a From domain passed address_domain_is_valid(): LDH
		 * labels or UTF-8; anything else is not printed */
		if (token) {
			buf_puts(b, " header.from=");
			buf_puts(b, r->from_domain);
		}
	}
}

char *
dmarc_auth_results(const struct dmarc_result *r)
{
	struct buf b;

	buf_init(&b);
	dmarc_auth_results_put(&b, r);
	return buf_steal(&b);
}
