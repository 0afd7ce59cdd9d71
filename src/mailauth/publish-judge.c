/* SPDX-License-Identifier: MIT */
/*
 * Judging a published record against the plan (publish.h), as receivers
 * read it: TXT strings joined, tag lists through the DKIM tag parser
 * (DMARC, MTA-STS and TLS-RPT use the same tag=value syntax), SPF through
 * the SPF record parser. DNS answers are untrusted: they come from the
 * resolver already bounded, and nothing here keeps more than the detail
 * text (which quotes at most a short, sanitised excerpt).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "mailauth/publish.h"
#include "mailauth/spf-private.h"

/* The longest excerpt of a published value quoted in a detail. */
#define EXCERPT_MAX 60

const char *
publish_status_name(enum publish_status status)
{
	switch (status) {
	case PUBLISH_OK:
		return "ok";
	case PUBLISH_WARN:
		return "warn";
	case PUBLISH_MISSING:
		return "missing";
	case PUBLISH_WRONG:
		return "wrong";
	case PUBLISH_DNS_ERROR:
		return "error";
	}
	return "?";
}

void
publish_verdict_deinit(struct publish_verdict *v)
{
	free(v->detail);
	v->detail = NULL;
}

static void
set(struct publish_verdict *v, enum publish_status status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
set(struct publish_verdict *v, enum publish_status status, const char *fmt,
    ...)
{
	va_list ap;

	free(v->detail);
	v->status = status;
	if (fmt == NULL) {
		v->detail = NULL;
		return;
	}
	va_start(ap, fmt);
	v->detail = xvasprintf(fmt, ap);
	va_end(ap);
}

/* A printable, quoted excerpt of untrusted text for a detail. */
static char *
excerpt(const char *s, size_t len)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '"');
	for (size_t i = 0; i < len && i < EXCERPT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		buf_putc(&b, c >= ' ' && c < 0x7f && c != '"' ? (char)c : '?');
	}
	if (len > EXCERPT_MAX)
		buf_puts(&b, "...");
	buf_putc(&b, '"');
	return buf_steal(&b);
}

/* Whether text starts with the version tag tag=value followed by the end,
 * ';' or white space (RFC 7489 6.6.3, RFC 8461 3.1, RFC 8460 3). */
static bool
starts_with_version(const struct dns_txt *txt, const char *tagval)
{
	size_t n = strlen(tagval), len = txt->text_len;
	const char *t = txt->text;
	size_t i = 0;

	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	if (len - i < n || memcmp(t + i, tagval, n) != 0)
		return false;
	i += n;
	return i == len || t[i] == ';' || t[i] == ' ' || t[i] == '\t';
}

/* The records of res whose text starts with the version tag. */
static size_t
select_records(const struct dns_result *res, const char *tagval,
	       const struct dns_txt **first_r)
{
	size_t n = 0;

	*first_r = NULL;
	for (size_t i = 0; i < res->count; i++) {
		if (memchr(res->rrs[i].txt.text, '\0',
			   res->rrs[i].txt.text_len) != NULL)
			continue;
		if (starts_with_version(&res->rrs[i].txt, tagval)) {
			if (n++ == 0)
				*first_r = &res->rrs[i].txt;
		}
	}
	return n;
}

/* value without white space (base64 and URI lists allow it inside). */
static char *
squeeze(const char *value)
{
	char *d = xstrdup(value), *o = d;

	for (const char *p = value; *p != '\0'; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			*o++ = *p;
	}
	*o = '\0';
	return d;
}

/* Whether the comma-separated URI list holds mailto:address (the local
 * part as written, the domain in any case; a "!size" suffix allowed). */
static bool
uri_list_has(const char *list, const char *address)
{
	char *l = squeeze(list), *p = l;
	size_t n = strlen(address);
	const char *at = strchr(address, '@');
	bool found = false;

	while (p != NULL && !found) {
		char *next = strchr(p, ',');

		if (next != NULL)
			*next++ = '\0';
		if (strncasecmp(p, "mailto:", 7) == 0 && at != NULL) {
			const char *u = p + 7;
			size_t lp = (size_t)(at - address);

			found = strncmp(u, address, lp) == 0 &&
				strncasecmp(u + lp, at, n - lp) == 0 &&
				(u[n] == '\0' || u[n] == '!');
		}
		p = next;
	}
	free(l);
	return found;
}

/* The failures every lookup shares. True when v is decided. */
static bool
judge_status(const struct dns_result *res, const char *what,
	     struct publish_verdict *v)
{
	if (res->status == DNS_OK)
		return false;
	if (dns_status_is_permanent(res->status))
		set(v, PUBLISH_MISSING, "%s (%s)", what,
		    dns_status_name(res->status));
	else
		set(v, PUBLISH_DNS_ERROR, "%s: %s", dns_status_name(res->status),
		    res->error != NULL ? res->error : "no answer");
	return true;
}

static void
judge_mx(const struct publish_plan *plan, const struct dns_result *res,
	 struct publish_verdict *v)
{
	struct buf found;

	if (judge_status(res, "no MX record", v))
		return;
	buf_init(&found);
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_mx *mx = &res->rrs[i].mx;

		if (strcasecmp(mx->exchange, plan->hostname) == 0) {
			set(v, PUBLISH_OK, res->count > 1 ?
			    "%u %s. (and %zu other MX)" : "%u %s.",
			    mx->preference, plan->hostname, res->count - 1);
			buf_deinit(&found);
			return;
		}
		buf_printf(&found, "%s%u %s.", i > 0 ? ", " : "",
			   mx->preference,
			   mx->exchange[0] != '\0' ? mx->exchange : "");
	}
	if (res->count == 1 && res->rrs[0].mx.exchange[0] == '\0')
		set(v, PUBLISH_WRONG, "a null MX (RFC 7505: accepts no mail); "
		    "expected 10 %s.", plan->hostname);
	else
		set(v, PUBLISH_WRONG, "found %s; expected 10 %s.", found.data,
		    plan->hostname);
	buf_deinit(&found);
}

static void
judge_host(const struct dns_result *a, const struct dns_result *aaaa,
	   struct publish_verdict *v)
{
	struct buf found;
	char addr[64];

	if (a->status != DNS_OK && !dns_status_is_permanent(a->status)) {
		judge_status(a, "", v);
		return;
	}
	if (aaaa != NULL && aaaa->status != DNS_OK &&
	    !dns_status_is_permanent(aaaa->status)) {
		judge_status(aaaa, "", v);
		return;
	}
	buf_init(&found);
	for (size_t i = 0; i < a->count; i++)
		buf_printf(&found, "%s%s", found.len > 0 ? " " : "",
			   dns_addr_str(&a->rrs[i].addr, addr, sizeof(addr)));
	for (size_t i = 0; aaaa != NULL && i < aaaa->count; i++)
		buf_printf(&found, "%s%s", found.len > 0 ? " " : "",
			   dns_addr_str(&aaaa->rrs[i].addr, addr,
					sizeof(addr)));
	if (found.len == 0)
		set(v, PUBLISH_MISSING, "no A or AAAA record: the MX cannot be "
		    "reached");
	else
		set(v, PUBLISH_OK, "%s", found.data);
	buf_deinit(&found);
}

static void
judge_spf(const struct dns_result *res, struct publish_verdict *v)
{
	const struct dns_txt *rec = NULL;
	struct spf_record *spf;
	const char *err;
	size_t n = 0;
	char *ex;

	if (judge_status(res, "no SPF record", v))
		return;
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_txt *t = &res->rrs[i].txt;

		if (spf_record_is_spf1(t->text, t->text_len) && n++ == 0)
			rec = t;
	}
	if (n == 0) {
		set(v, PUBLISH_MISSING, "no TXT record starting with v=spf1");
		return;
	}
	if (n > 1) {
		set(v, PUBLISH_WRONG, "%zu SPF records: receivers answer "
		    "permerror (RFC 7208 4.5); merge them into one", n);
		return;
	}
	ex = excerpt(rec->text, rec->text_len);
	if (memchr(rec->text, '\0', rec->text_len) != NULL ||
	    spf_record_parse(rec->text, rec->text_len, &spf, &err) < 0) {
		set(v, PUBLISH_WRONG, "%s does not parse (%s): permerror", ex,
		    memchr(rec->text, '\0', rec->text_len) != NULL ?
		    "a NUL octet" : err);
		free(ex);
		return;
	}
	set(v, PUBLISH_OK, "%s", ex);
	for (size_t i = 0; i < spf->n_terms; i++) {
		const struct spf_term *t = &spf->terms[i];

		if (t->mech != SPF_MECH_ALL)
			continue;
		/* terms after all are never reached (RFC 7208 5.1) */
		if (t->qualifier == '+')
			set(v, PUBLISH_WRONG, "%s: +all lets every host on the "
			    "Internet send as the domain", ex);
		else if (t->qualifier == '?')
			set(v, PUBLISH_WARN, "%s: ?all says nothing of other "
			    "hosts; use -all", ex);
		free(ex);
		spf_record_free(&spf);
		return;
	}
	if (spf->redirect == NULL)
		set(v, PUBLISH_WARN, "%s: no all term, so other hosts get "
		    "neutral; end it with -all", ex);
	free(ex);
	spf_record_free(&spf);
}

/* The k= and p= of a DKIM key record, p= without white space; -1 when
 * text is no key record (tags that do not parse, no p=, a v= other than
 * DKIM1). */
static int
dkim_key_fields(const char *text, size_t len, char **k_r, char **p_r,
		bool *testing_r)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *v, *k, *p, *t;
	const char *err;

	if (memchr(text, '\0', len) != NULL ||
	    dkim_tags_parse(text, len, &tags, &err) < 0)
		return -1;
	v = dkim_tags_get(&tags, "v");
	p = dkim_tags_get(&tags, "p");
	if (p == NULL || (v != NULL && (strcmp(v->value, "DKIM1") != 0 ||
					tags.tags != v))) {
		dkim_tags_deinit(&tags);
		return -1;
	}
	k = dkim_tags_get(&tags, "k");
	t = dkim_tags_get(&tags, "t");
	*k_r = xstrdup(k != NULL ? k->value : "rsa");
	*p_r = squeeze(p->value);
	*testing_r = false;
	if (t != NULL) {
		char *flags = squeeze(t->value);

		/* t= is a colon-separated list of flags (RFC 6376 3.6.1) */
		for (char *f = flags; f != NULL;) {
			char *next = strchr(f, ':');

			if (next != NULL)
				*next++ = '\0';
			if (strcmp(f, "y") == 0)
				*testing_r = true;
			f = next;
		}
		free(flags);
	}
	dkim_tags_deinit(&tags);
	return 0;
}

static void
judge_dkim(const struct publish_record *rec, const struct dns_result *res,
	   struct publish_verdict *v, bool past_keep)
{
	char *want_k = NULL, *want_p = NULL, *k = NULL, *p = NULL, when[32];
	size_t nkeys = 0;
	bool testing = false, wtesting;
	struct tm tm;

	gmtime_r(&rec->keep_until, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	if (rec->key == NULL) {
		set(v, PUBLISH_MISSING, "no DKIM key on disk: herald dkim "
		    "keygen DOMAIN makes one");
		return;
	}
	if (res->status != DNS_OK && dns_status_is_permanent(res->status)) {
		if (past_keep)
			set(v, PUBLISH_OK, "retired and removed");
		else if (rec->key->state == DKIM_KEY_RETIRED)
			set(v, PUBLISH_WARN, "retired key no longer published; "
			    "mail it signed may still be verified until %s",
			    when);
		else if (rec->key->state == DKIM_KEY_PENDING)
			set(v, PUBLISH_MISSING, "the next key: publish it "
			    "before it signs");
		else
			set(v, PUBLISH_MISSING, "the active key: receivers "
			    "cannot verify its signatures (%s)",
			    dns_status_name(res->status));
		return;
	}
	if (judge_status(res, "", v))
		return;
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_txt *t = &res->rrs[i].txt;
		char *tk, *tp;
		bool tt;

		if (dkim_key_fields(t->text, t->text_len, &tk, &tp, &tt) < 0)
			continue;
		if (nkeys++ == 0) {
			k = tk;
			p = tp;
			testing = tt;
		} else {
			free(tk);
			free(tp);
		}
	}
	if (nkeys == 0) {
		char *ex = excerpt(res->rrs[0].txt.text,
				   res->rrs[0].txt.text_len);

		set(v, PUBLISH_WRONG, "no DKIM key record here: found %s", ex);
		free(ex);
		return;
	}
	if (past_keep) {
		set(v, PUBLISH_WARN, "retired, and its time to stay published "
		    "ended %s: remove the record", when);
		goto out;
	}
	if (nkeys > 1 || res->count > 1) {
		set(v, PUBLISH_WRONG, "%zu TXT records at the selector: which "
		    "one a verifier uses is undefined (RFC 6376 3.6.2.2)",
		    res->count);
		goto out;
	}
	if (dkim_key_fields(rec->value, strlen(rec->value), &want_k, &want_p,
			    &wtesting) < 0)
		abort();
	if (p[0] == '\0') {
		set(v, PUBLISH_WRONG, "the key is revoked (empty p=); expected "
		    "the key on disk");
	} else if (strcasecmp(k, want_k) != 0) {
		set(v, PUBLISH_WRONG, "k=%s published, the key on disk is k=%s",
		    k, want_k);
	} else if (strcmp(p, want_p) != 0) {
		char *got = excerpt(p, strlen(p)), *want = excerpt(want_p,
								   strlen(want_p));

		set(v, PUBLISH_WRONG, "another key is published: found p=%s, "
		    "expected the key on disk, p=%s", got, want);
		free(got);
		free(want);
	} else if (testing) {
		set(v, PUBLISH_WARN, "the key on disk, with t=y (testing): "
		    "receivers treat failures as unsigned");
	} else {
		set(v, PUBLISH_OK, "k=%s, the key on disk", k);
	}
out:
	free(k);
	free(p);
	free(want_k);
	free(want_p);
}

/* The one record of res starting with version, parsed as a tag list
 * into tags_r (0); or the verdict set on v (-1): a DNS failure, none
 * (what names the record kind), several (several_msg, after the count),
 * or text that does not parse. */
static int
one_tag_record(const struct dns_result *res, const char *version,
	       const char *what, const char *several_msg,
	       struct dkim_tag_list *tags_r, struct publish_verdict *v)
{
	const struct dns_txt *rec;
	const char *err;
	size_t n;

	if (judge_status(res, what, v))
		return -1;
	n = select_records(res, version, &rec);
	if (n == 0) {
		set(v, PUBLISH_MISSING, "no TXT record starting with %s",
		    version);
		return -1;
	}
	if (n > 1) {
		set(v, PUBLISH_WRONG, "%zu %s", n, several_msg);
		return -1;
	}
	if (dkim_tags_parse(rec->text, rec->text_len, tags_r, &err) < 0) {
		char *ex = excerpt(rec->text, rec->text_len);

		set(v, PUBLISH_WRONG, "%s does not parse: %s", ex, err);
		free(ex);
		return -1;
	}
	return 0;
}

static void
judge_dmarc(const struct publish_plan *plan, const struct dns_result *res,
	    struct publish_verdict *v)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *p, *rua, *pct;

	if (one_tag_record(res, "v=DMARC1", "no DMARC record",
			   "DMARC records: receivers use none (RFC 7489 "
			   "6.6.3); keep one", &tags, v) < 0)
		return;
	p = dkim_tags_get(&tags, "p");
	rua = dkim_tags_get(&tags, "rua");
	pct = dkim_tags_get(&tags, "pct");
	if (p == NULL || (strcasecmp(p->value, "none") != 0 &&
			  strcasecmp(p->value, "quarantine") != 0 &&
			  strcasecmp(p->value, "reject") != 0)) {
		set(v, PUBLISH_WRONG, "%s; expected p=%s",
		    p == NULL ? "no p= tag" : "p= is not none, quarantine or "
		    "reject", plan->dmarc_policy);
	} else if (strcasecmp(p->value, "none") == 0 &&
		   strcmp(plan->dmarc_policy, "none") != 0) {
		set(v, PUBLISH_WARN, "p=none: receivers only report, nothing "
		    "is protected; publish p=%s once the reports are clean",
		    plan->dmarc_policy);
	} else if (pct != NULL && strcmp(pct->value, "100") != 0) {
		set(v, PUBLISH_WARN, "pct=%.8s: the policy applies to part of "
		    "the failing mail only", pct->value);
	} else if (rua == NULL) {
		set(v, PUBLISH_WARN, "p=%s, but no rua=: no aggregate reports; "
		    "add rua=mailto:%s", p->value, plan->report_address);
	} else if (!uri_list_has(rua->value, plan->report_address)) {
		char *ex = excerpt(rua->value, strlen(rua->value));

		set(v, PUBLISH_WARN, "p=%s, reports go to %s, not to %s",
		    p->value, ex, plan->report_address);
		free(ex);
	} else {
		set(v, PUBLISH_OK, "p=%s, rua=mailto:%s", p->value,
		    plan->report_address);
	}
	dkim_tags_deinit(&tags);
}

static bool
is_alnum_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	}
	return true;
}

static void
judge_mtasts(const struct publish_plan *plan, const struct dns_result *res,
	     struct publish_verdict *v)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *id;

	if (one_tag_record(res, "v=STSv1", "no MTA-STS record",
			   "MTA-STS records: senders ignore them all "
			   "(RFC 8461 3.1)", &tags, v) < 0)
		return;
	id = dkim_tags_get(&tags, "id");
	if (id == NULL || !is_alnum_id(id->value))
		set(v, PUBLISH_WRONG, "%s; expected id=%s",
		    id == NULL ? "no id=" : "id= is not 1 to 32 letters and "
		    "digits", plan->mta_sts_id);
	else if (strcmp(id->value, plan->mta_sts_id) != 0)
		set(v, PUBLISH_WARN, "id=%s, while the policy herald dns "
		    "prints has id=%s: fine if you serve another policy, "
		    "otherwise senders keep the old one", id->value,
		    plan->mta_sts_id);
	else
		set(v, PUBLISH_OK, "id=%s (serve the policy file: herald "
		    "cannot see it)", id->value);
	dkim_tags_deinit(&tags);
}

static void
judge_tlsrpt(const struct publish_plan *plan, const struct dns_result *res,
	     struct publish_verdict *v)
{
	struct dkim_tag_list tags;
	const struct dkim_tag *rua;

	if (one_tag_record(res, "v=TLSRPTv1", "no TLS-RPT record",
			   "TLS-RPT records: senders ignore them all "
			   "(RFC 8460 3)", &tags, v) < 0)
		return;
	rua = dkim_tags_get(&tags, "rua");
	if (rua == NULL)
		set(v, PUBLISH_WRONG, "no rua=; expected rua=mailto:%s",
		    plan->report_address);
	else if (!uri_list_has(rua->value, plan->report_address)) {
		char *ex = excerpt(rua->value, strlen(rua->value));

		set(v, PUBLISH_WARN, "reports go to %s, not to %s", ex,
		    plan->report_address);
		free(ex);
	} else {
		set(v, PUBLISH_OK, "rua=mailto:%s", plan->report_address);
	}
	dkim_tags_deinit(&tags);
}

static void
judge_srv(const struct publish_plan *plan, const struct publish_record *rec,
	  const struct dns_result *res, struct publish_verdict *v)
{
	struct buf found;

	if (res->status != DNS_OK && !dns_status_is_permanent(res->status)) {
		judge_status(res, "", v);
		return;
	}
	if (res->status != DNS_OK) {
		set(v, PUBLISH_MISSING, rec->port != 0 ?
		    "clients will not find the service (%s)" :
		    "not offered, and no \".\" record says so (%s)",
		    dns_status_name(res->status));
		return;
	}
	buf_init(&found);
	for (size_t i = 0; i < res->count; i++) {
		const struct dns_srv *s = &res->rrs[i].srv;

		if (rec->port != 0 && s->port == rec->port &&
		    strcasecmp(s->target, plan->hostname) == 0) {
			set(v, PUBLISH_OK, "%u %u %u %s.", s->priority,
			    s->weight, s->port, s->target);
			buf_deinit(&found);
			return;
		}
		buf_printf(&found, "%s%u %u %u %s.", i > 0 ? ", " : "",
			   s->priority, s->weight, s->port, s->target);
	}
	if (rec->port == 0) {
		if (res->count == 1 && res->rrs[0].srv.target[0] == '\0')
			set(v, PUBLISH_OK, "not offered: \".\"");
		else
			set(v, PUBLISH_WARN, "found %s, but Herald does not "
			    "offer this service here", found.data);
	} else {
		set(v, PUBLISH_WRONG, "found %s; expected port %u on %s.",
		    found.data, rec->port, plan->hostname);
	}
	buf_deinit(&found);
}

void
publish_judge(const struct publish_plan *plan,
	      const struct publish_record *rec, const struct dns_result *res,
	      const struct dns_result *aaaa, struct publish_verdict *v)
{
	v->status = PUBLISH_OK;
	v->detail = NULL;
	if (rec->kind == PUBLISH_DKIM && rec->key == NULL) {
		judge_dkim(rec, NULL, v, false);
		return;
	}
	if (res == NULL || (res->status == DNS_OK && res->type != rec->type)) {
		set(v, PUBLISH_DNS_ERROR, "no answer");
		return;
	}
	switch (rec->kind) {
	case PUBLISH_MX:
		judge_mx(plan, res, v);
		break;
	case PUBLISH_HOST:
		judge_host(res, aaaa, v);
		break;
	case PUBLISH_SPF:
		judge_spf(res, v);
		break;
	case PUBLISH_DKIM:
		judge_dkim(rec, res, v, !rec->printed);
		break;
	case PUBLISH_DMARC:
		judge_dmarc(plan, res, v);
		break;
	case PUBLISH_MTASTS:
		judge_mtasts(plan, res, v);
		break;
	case PUBLISH_TLSRPT:
		judge_tlsrpt(plan, res, v);
		break;
	case PUBLISH_SRV:
		judge_srv(plan, rec, res, v);
		break;
	case PUBLISH_NOTE:
		set(v, PUBLISH_OK, NULL);
		break;
	}
}
