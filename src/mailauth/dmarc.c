/* SPDX-License-Identifier: MIT */
/*
 * DMARC's names and the result's lifecycle (dmarc.h); the PSL, record,
 * From, discovery and evaluation pieces live in dmarc-*.c. This first
 * version evaluates nothing: every message is "none".
 */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "mailauth/dmarc.h"

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	case DMARC_POLICY_UNSET:
		break;
	}
	return "";
}

const char *
dmarc_result_name(enum dmarc_result_code r)
{
	switch (r) {
	case DMARC_RESULT_NONE:
		return "none";
	case DMARC_RESULT_PASS:
		return "pass";
	case DMARC_RESULT_FAIL:
		return "fail";
	case DMARC_RESULT_TEMPERROR:
		return "temperror";
	case DMARC_RESULT_PERMERROR:
		return "permerror";
	}
	return "none";
}

const char *
dmarc_reason_name(enum dmarc_reason r)
{
	switch (r) {
	case DMARC_REASON_NONE:
		return "";
	case DMARC_REASON_SAMPLED_OUT:
		return "sampled_out";
	case DMARC_REASON_LOCAL_POLICY:
		return "local_policy";
	case DMARC_REASON_TRUSTED_FORWARDER:
		return "trusted_forwarder";
	case DMARC_REASON_MAILING_LIST:
		return "mailing_list";
	}
	return "";
}

const char *
dmarc_from_status_name(enum dmarc_from_status st)
{
	switch (st) {
	case DMARC_FROM_OK:
		return "ok";
	case DMARC_FROM_NONE:
		return "none";
	case DMARC_FROM_SEVERAL_FIELDS:
		return "several-fields";
	case DMARC_FROM_SEVERAL_DOMAINS:
		return "several-domains";
	case DMARC_FROM_UNPARSEABLE:
		return "unparseable";
	}
	return "unparseable";
}

void
dmarc_record_deinit(struct dmarc_record *rec)
{
	free(rec->strings);
	memset(rec, 0, sizeof(*rec));
}

void
dmarc_policy_found_deinit(struct dmarc_policy_found *f)
{
	free(f->from_domain);
	free(f->policy_domain);
	free(f->org_domain);
	free(f->problem);
	dmarc_record_deinit(&f->record);
	memset(f, 0, sizeof(*f));
}

void
dmarc_result_override(struct dmarc_result *r, enum dmarc_reason reason,
		      const char *comment)
{
	r->disposition = DMARC_POLICY_NONE;
	r->reason = reason;
	free(r->override_comment);
	r->override_comment = comment != NULL ? xstrdup(comment) : NULL;
}

void
dmarc_result_deinit(struct dmarc_result *r)
{
	free(r->from_domain);
	free(r->policy_domain);
	free(r->org_domain);
	free(r->source_ip);
	free(r->env_from_domain);
	dmarc_record_deinit(&r->record);
	free(r->spf_domain);
	for (size_t i = 0; i < r->n_dkim; i++) {
		free(r->dkim[i].domain);
		free(r->dkim[i].selector);
	}
	free(r->dkim);
	free(r->override_comment);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}
