/* SPDX-License-Identifier: MIT */
/*
 * Inbound mail authentication on port 25 (docs/mailauth.md "Inbound
 * checks"): SPF started in the background when MAIL is accepted, DKIM
 * verified while DATA streams in, incoming Authentication-Results that
 * claim our authserv-id dropped from the header as it streams, and at the
 * end of data Authentication-Results and Received-SPF put on top.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/worker.h"
#include "lib/cidr.h"
#include "lib/mem.h"
#include "mailauth/dmarc.h"
#include "mailauth/arc.h"
#include "mailauth/dmarc-report.h"
#include "mailauth/mailauth-settings.h"
#include "mailauth/spf.h"
#include "smtp/smtp-ar-filter.h"
#include "smtp/smtp-server-private.h"

struct smtp_authin {
	struct smtp_ar_filter filter;
	bool filtering;
	/* SPF */
	bool spf_on;
	struct spf_check *spf;
	bool spf_done;
	enum spf_result spf_result;
	char *spf_domain;
	char *spf_received;	/* Received-SPF body */
	char *spf_ar;		/* the A-R method text */
	/* DKIM */
	struct dkim_verifier *dkim;
	struct dkim_lookup *lookup;
	/* verifiers of an earlier transaction of the session, reset for
	 * the next: no setup and teardown per message */
	struct dkim_verifier *dkim_spare;
	struct arc_verifier *arc_spare;
	/* DMARC: the header kept until its end, the From domain, the
	 * policy lookup started as soon as the header is complete, and
	 * the verdict made at the end of data (authin_dmarc) */
	bool dmarc_on;
	bool hdr_done;
	struct buf hdr;
	enum dmarc_from_status from_status;
	char *from_domain;
	struct dmarc_lookup *dmarc_lookup;
	bool found_set;
	struct dmarc_policy_found found;
	bool dmarc_done;
	struct dmarc_result dmarc;
	/* ARC */
	struct arc_verifier *arc;
	struct dkim_lookup *arc_lookup;
	char *ar_body;		/* our A-R without its name, for the seal */
	enum smtp_authin_action action;
	const char *action_text;	/* static text for a reject */
	/* waiting at the end of data */
	bool waiting;
	char **received;
	void (*cont)(void *ctx);
	void *cont_ctx;
};

static bool
session_checked(const struct smtp_session *s)
{
	/* a relay_networks client is trusted as an authenticated user is
	 * (it may relay, its mail is signed as ours): its mail is not
	 * checked, as OpenDKIM's InternalHosts, OpenDMARC's IgnoreHosts and
	 * policyd-spf's skip_addresses leave such hosts alone */
	return s->mode == SMTP_MODE_SMTP && s->auth_user == NULL &&
	       !s->relay_ok;
}

static bool
session_filters(const struct smtp_session *s)
{
	/* LMTP comes from our own front end and the local socket from our
	 * own users' scripts; everything from the network is filtered */
	return s->mode == SMTP_MODE_SMTP || s->mode == SMTP_MODE_SUBMISSION ||
	       s->mode == SMTP_MODE_SUBMISSIONS;
}

static const char *
authserv_id(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;

	return cfg->mailauth.authserv_id != NULL ? cfg->mailauth.authserv_id
						 : cfg->hostname;
}

static struct smtp_authin *
authin_get(struct smtp_session *s)
{
	if (s->authin == NULL) {
		if (s->authin_spare != NULL) {
			s->authin = s->authin_spare;
			s->authin_spare = NULL;
		} else {
			s->authin = xcalloc(1, sizeof(*s->authin));
		}
		smtp_ar_filter_init(&s->authin->filter, authserv_id(s), NULL,
				    NULL);
	}
	return s->authin;
}

/* Keeps v for the session's next transaction (one is enough). */
static void
park_dkim(struct smtp_authin *a, struct dkim_verifier **v)
{
	if (*v == NULL)
		return;
	if (a->dkim_spare == NULL) {
		a->dkim_spare = *v;
		*v = NULL;
	} else {
		dkim_verifier_free(v);
	}
}

static void
park_arc(struct smtp_authin *a, struct arc_verifier **v)
{
	if (*v == NULL)
		return;
	if (a->arc_spare == NULL) {
		a->arc_spare = *v;
		*v = NULL;
	} else {
		arc_verifier_free(v);
	}
}

static void
authin_dmarc_clear(struct smtp_authin *a)
{
	dmarc_lookup_cancel(&a->dmarc_lookup);
	buf_deinit(&a->hdr);
	free(a->from_domain);
	a->from_domain = NULL;
	dmarc_policy_found_deinit(&a->found);
	dmarc_result_deinit(&a->dmarc);
	a->dmarc_on = a->hdr_done = a->found_set = a->dmarc_done = false;
	a->action = SMTP_AUTHIN_ACCEPT;
	a->action_text = NULL;
}

void
smtp_authin_reset(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;

	if (a == NULL)
		return;
	spf_check_cancel(&a->spf);
	dkim_lookup_cancel(&a->lookup);
	park_dkim(a, &a->dkim);
	dkim_lookup_cancel(&a->arc_lookup);
	park_arc(a, &a->arc);
	free(a->ar_body);
	smtp_ar_filter_deinit(&a->filter);
	free(a->spf_domain);
	free(a->spf_received);
	free(a->spf_ar);
	authin_dmarc_clear(a);
	s->authin = NULL;
	if (s->authin_spare != NULL) {
		dkim_verifier_free(&a->dkim_spare);
		arc_verifier_free(&a->arc_spare);
		free(a);
		return;
	}
	/* cleared as authin_get() makes it, the spare verifiers kept */
	{
		struct dkim_verifier *dv = a->dkim_spare;
		struct arc_verifier *av = a->arc_spare;

		memset(a, 0, sizeof(*a));
		a->dkim_spare = dv;
		a->arc_spare = av;
	}
	s->authin_spare = a;
}

void
smtp_authin_free(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin_spare;

	if (a == NULL)
		return;
	dkim_verifier_free(&a->dkim_spare);
	arc_verifier_free(&a->arc_spare);
	free(a);
	s->authin_spare = NULL;
}

/* ---- SPF ---- */

static void authin_maybe_continue(struct smtp_session *s);
static void authin_dmarc_clear(struct smtp_authin *a);

static void
spf_done_cb(const struct spf_verdict *v, void *ctx)
{
	struct smtp_session *s = ctx;
	struct smtp_authin *a = s->authin;
	const char *helo = s->helo != NULL ? s->helo : "";

	a->spf = NULL;
	a->spf_done = true;
	a->spf_result = v->result;
	a->spf_domain = xstrdup(v->domain != NULL ? v->domain : "");
	if (s->srv->cfg->mailauth.received_spf)
		a->spf_received = spf_received_spf(v,
						   ioev_conn_peer_ip(s->conn),
						   s->from != NULL ? s->from
								   : "",
						   helo, s->srv->cfg->hostname);
	a->spf_ar = spf_auth_results(v);
	authin_maybe_continue(s);
}

void
smtp_authin_mail(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct smtp_authin *a;
	struct spf_limits lim;

	if (!session_checked(s) || !cfg->mailauth.spf)
		return;
	a = authin_get(s);
	a->spf_on = true;
	if (s->srv->w->dns == NULL) {
		a->spf_done = true;
		a->spf_result = SPF_TEMPERROR;
		a->spf_domain = xstrdup("");
		return;
	}
	struct spf_request req = {
		.identity = SPF_ID_MAILFROM,
		.ip = (const struct sockaddr *)ioev_conn_peer_sockaddr(s->conn),
		.mail_from = s->from,
		.helo = s->helo,
		.receiver = cfg->hostname,
	};

	spf_limits_from_config(&cfg->mailauth, &lim);
	/* in the background: MAIL is answered at once (pipelining keeps
	 * its one round trip) and the verdict is awaited after the dot;
	 * one the DNS cache answers is known now (spf_done_cb has run:
	 * nothing waits yet, so it only keeps the verdict) */
	a->spf = spf_check_start_now(s->srv->w->loop, s->srv->w->dns, &req,
				     &lim, spf_done_cb, s);
}

void
smtp_authin_data_begin(struct smtp_session *s)
{
	const struct config_mailauth *m = &s->srv->cfg->mailauth;
	struct smtp_authin *a;

	if (!session_filters(s))
		return;
	a = authin_get(s);
	a->filtering = false;
	dkim_lookup_cancel(&a->lookup);
	park_dkim(a, &a->dkim);
	dkim_lookup_cancel(&a->arc_lookup);
	park_arc(a, &a->arc);
	/* without a resolver (it failed to start) DKIM is not checked */
	if (session_checked(s) && m->dkim_verify && s->srv->w->dns != NULL) {
		struct dkim_verify_limits lim = {
			.max_signatures = m->dkim_verify_max_signatures,
			.header_max = (size_t)m->dkim_header_max,
			.clock_skew_s = (unsigned)m->dkim_clock_skew_s,
		};

		if (a->dkim_spare != NULL) {
			a->dkim = a->dkim_spare;
			a->dkim_spare = NULL;
			dkim_verifier_reset(a->dkim, &lim);
		} else {
			a->dkim = dkim_verifier_new(&lim);
		}
	}
	if (session_checked(s) && m->arc_verify && s->srv->w->dns != NULL) {
		struct arc_verify_limits lim = {
			.max_instances = m->arc_max_instances,
			.header_max = (size_t)m->dkim_header_max,
		};

		if (a->arc_spare != NULL) {
			a->arc = a->arc_spare;
			a->arc_spare = NULL;
			arc_verifier_reset(a->arc, &lim);
		} else {
			a->arc = arc_verifier_new(&lim);
		}
		/* fed after DKIM's, finished after it: no header copy of
		 * its own unless the message has ARC fields */
		if (a->dkim != NULL)
			arc_verifier_share_header(a->arc, a->dkim);
	}
	authin_dmarc_clear(a);
	/* without a resolver or the PSL (psl-failed) the result is
	 * temperror */
	if (session_checked(s) && m->dmarc != CONFIG_DMARC_OFF) {
		a->dmarc_on = true;
		if (a->dkim == NULL)
			buf_init(&a->hdr);
	}
}

static void
dmarc_found_cb(const struct dmarc_policy_found *f, void *ctx)
{
	struct smtp_session *s = ctx;
	struct smtp_authin *a = s->authin;

	a->dmarc_lookup = NULL;
	a->found = *f;
	a->found.from_domain = f->from_domain != NULL
				       ? xstrdup(f->from_domain) : NULL;
	a->found.policy_domain = f->policy_domain != NULL
					 ? xstrdup(f->policy_domain) : NULL;
	a->found.org_domain = f->org_domain != NULL ? xstrdup(f->org_domain)
						    : NULL;
	a->found.problem = f->problem != NULL ? xstrdup(f->problem) : NULL;
	dmarc_record_copy(&a->found.record, &f->record);
	a->found_set = true;
	authin_maybe_continue(s);
}

/* The header is complete (or the message ended inside it): find the From
 * domain and start the policy lookup now, so that it overlaps with the
 * body (no round trip of its own after the dot). hdr NULL: the header
 * was over dkim_header_max. */
static void
dmarc_header_done(struct smtp_session *s, const char *hdr, size_t len)
{
	struct smtp_authin *a = s->authin;
	const struct config_mailauth *m = &s->srv->cfg->mailauth;

	a->hdr_done = true;
	if (hdr == NULL)
		a->from_status = DMARC_FROM_UNPARSEABLE;
	else
		a->from_status = dmarc_from_domain(hdr, len, &a->from_domain);
	buf_deinit(&a->hdr);
	if (a->from_status != DMARC_FROM_OK || s->srv->w->dns == NULL ||
	    s->srv->w->psl == NULL)
		return;
	/* the usual sender's policy is in the DNS cache: no lookup and no
	 * loop turn to wait for at the end of data */
	if (dmarc_lookup_now(s->srv->w->dns, s->srv->w->psl,
			     (enum dmarc_discovery)m->dmarc_discovery,
			     a->from_domain, &a->found)) {
		a->found_set = true;
		return;
	}
	a->dmarc_lookup = dmarc_lookup_start(s->srv->w->dns, s->srv->w->psl,
					     (enum dmarc_discovery)
					     m->dmarc_discovery,
					     a->from_domain, dmarc_found_cb,
					     s);
}

/* The DKIM verifier's header, once it has all of it: DMARC keeps no copy
 * of its own when DKIM is checked too. */
static void
dmarc_header_from_dkim(struct smtp_session *s)
{
	const char *hdr;
	size_t len;

	hdr = dkim_verifier_header(s->authin->dkim, &len);
	dmarc_header_done(s, hdr, len);
}

/* Keeps header octets until the empty line (CRLF CRLF; a header longer
 * than dkim_header_max is not evaluated). */
static void
dmarc_feed(struct smtp_session *s, const uint8_t *data, size_t len)
{
	struct smtp_authin *a = s->authin;
	size_t max = (size_t)s->srv->cfg->mailauth.dkim_header_max;
	size_t from = a->hdr.len >= 3 ? a->hdr.len - 3 : 0;

	buf_append(&a->hdr, data, len);
	/* a message that starts with its empty line has no header */
	if (a->hdr.len >= 2 && memcmp(a->hdr.data, "\r\n", 2) == 0) {
		dmarc_header_done(s, "", 0);
		return;
	}
	const char *end = memmem(a->hdr.data + from, a->hdr.len - from,
				 "\r\n\r\n", 4);

	if (end != NULL)
		dmarc_header_done(s, a->hdr.data,
				  (size_t)(end - a->hdr.data) + 2);
	else if (a->hdr.len > max)
		dmarc_header_done(s, NULL, 0);
}

void
smtp_authin_feed(struct smtp_session *s, const uint8_t *data, size_t len,
		 smtp_ar_out_fn *out)
{
	struct smtp_authin *a = s->authin;

	/* the verifier sees the message as sent: a signed forged field
	 * still counts in its signature */
	if (a->dkim != NULL)
		dkim_verifier_feed(a->dkim, data, len);
	if (a->arc != NULL)
		arc_verifier_feed(a->arc, data, len);
	if (a->dmarc_on && !a->hdr_done) {
		if (a->dkim == NULL)
			dmarc_feed(s, data, len);
		else if (dkim_verifier_header_done(a->dkim))
			dmarc_header_from_dkim(s);
	}
	if (!a->filtering) {
		smtp_ar_filter_deinit(&a->filter);
		smtp_ar_filter_init(&a->filter, authserv_id(s), out, s);
		a->filtering = true;
	}
	smtp_ar_filter_feed(&a->filter, data, len);
}

static void
dkim_lookups_done(void *ctx)
{
	struct smtp_session *s = ctx;

	s->authin->lookup = NULL;
	authin_maybe_continue(s);
}

static void
arc_lookups_done(void *ctx)
{
	struct smtp_session *s = ctx;

	s->authin->arc_lookup = NULL;
	authin_maybe_continue(s);
}

void
smtp_authin_data_end(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;

	if (a == NULL)
		return;
	if (a->filtering)
		smtp_ar_filter_finish(&a->filter);
	if (a->dkim != NULL)
		dkim_verifier_finish(a->dkim);
	/* all header, no body */
	if (a->dmarc_on && !a->hdr_done && a->dkim != NULL)
		dmarc_header_from_dkim(s);
	else if (a->dmarc_on && !a->hdr_done)
		dmarc_header_done(s, a->hdr.data, a->hdr.len);
	if (a->dkim != NULL) {
		a->lookup = dkim_verifier_lookup(a->dkim, s->srv->w->dns,
						 dkim_lookups_done, s);
	}
	/* the ARC keys in the same round trip as DKIM's */
	if (a->arc != NULL) {
		arc_verifier_finish(a->arc);
		a->arc_lookup = arc_verifier_lookup(a->arc, s->srv->w->dns,
						    arc_lookups_done, s);
	}
}

/* ---- at the end of data ---- */

/* RFC 2045 tspecials */
static const bool tspecial[256] = {
	['('] = true, [')'] = true, ['<'] = true, ['>'] = true, ['@'] = true,
	[','] = true, [';'] = true, [':'] = true, ['\\'] = true, ['"'] = true,
	['/'] = true, ['['] = true, [']'] = true, ['?'] = true, ['='] = true,
};

/* A resinfo value as a token, else a quoted-string (RFC 8601 2.2):
 * peer text cannot end the field or start another. Runs of plain octets
 * go out in one copy (this is built for every checked message). */
static void
put_value(struct buf *out, const char *v)
{
	size_t len = 0;
	bool token = true;

	for (; v[len] != '\0'; len++) {
		unsigned char c = (unsigned char)v[len];

		if (c <= ' ' || c >= 0x7f || tspecial[c])
			token = false;
	}
	if (token && len > 0) {
		buf_append(out, v, len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < len;) {
		size_t run = i;
		unsigned char c;

		while (run < len && (unsigned char)v[run] >= ' ' &&
		       v[run] != 0x7f && v[run] != '"' && v[run] != '\\')
			run++;
		buf_append(out, v + i, run - i);
		if (run == len)
			break;
		c = (unsigned char)v[run];
		if (c < ' ' || c == 0x7f) {
			buf_putc(out, '?');
		} else {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
		}
		i = run + 1;
	}
	buf_putc(out, '"');
}

static void
dkim_resinfo(struct buf *out, const struct dkim_verify_result *r)
{
	buf_puts(out, "dkim=");
	buf_puts(out, dkim_result_name(r->result));
	if (r->reason != NULL && r->result != DKIM_RESULT_PASS) {
		buf_puts(out, " reason=");
		put_value(out, r->reason);
	}
	if (r->key_bits > 0) {
		buf_puts(out, " (");
		buf_put_uint(out, r->key_bits);
		buf_puts(out, r->body_partial ? "-bit key; body partly covered "
			 "(l=))" : "-bit key)");
	}
	if (r->domain != NULL) {
		buf_puts(out, " header.d=");
		put_value(out, r->domain);
	}
	if (r->selector != NULL) {
		buf_puts(out, " header.s=");
		put_value(out, r->selector);
	}
	if (r->auid != NULL) {
		buf_puts(out, " header.i=");
		put_value(out, r->auid);
	}
	if (r->algorithm != NULL) {
		buf_puts(out, " header.a=");
		put_value(out, r->algorithm);
	}
	if (r->header_b != NULL) {
		buf_puts(out, " header.b=");
		put_value(out, r->header_b);
	}
}

/* DMARC at the end of data, once SPF and DKIM are known. The order is
 * the contract with the other DMARC pieces:
 *   1. evaluation (dmarc_evaluate(): result, policy, disposition);
 *   2. overrides that lower the disposition (dmarc_result_override():
 *      [mailauth] dmarc = record, exempt networks, a trusted ARC chain);
 *   3. the aggregate report records the message (rua, dmarc-report*.c);
 *   4. the action (smtp_authin_action(): reject or quarantine). */
static void
authin_dmarc(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;
	const struct config_mailauth *m = &s->srv->cfg->mailauth;
	size_t n = a->dkim != NULL ? dkim_verifier_count(a->dkim) : 0;
	/* the usual one or two signatures without an allocation */
	const struct dkim_verify_result *dk_stack[4];
	const struct dkim_verify_result **dk = NULL;

	if (!a->dmarc_on)
		return;
	a->dmarc_done = true;
	/* 1. evaluation */
	if (a->from_status != DMARC_FROM_OK) {
		dmarc_result_from_problem(a->from_status, &a->dmarc);
	} else {
		struct dmarc_policy_found tmp = {
			.status = DMARC_LOOKUP_TEMPERROR,
			.from_domain = a->from_domain,
			.problem = s->srv->w->psl == NULL
					   ? (char *)"no Public Suffix List"
					   : (char *)"no resolver",
		};
		bool helo = s->from == NULL || s->from[0] == '\0';
		struct dmarc_input in = {
			.from_domain = a->from_domain,
			.spf_result = a->spf_on ? a->spf_result : SPF_NONE,
			.spf_domain = a->spf_on ? a->spf_domain : NULL,
			.spf_is_helo = helo,
			.n_dkim = n,
		};

		if (n > 0) {
			dk = n <= sizeof(dk_stack) / sizeof(dk_stack[0])
				     ? dk_stack : xcalloc(n, sizeof(*dk));
			for (size_t i = 0; i < n; i++)
				dk[i] = dkim_verifier_result(a->dkim, i);
		}
		in.dkim = dk;
		/* the pct roll only matters for a record with pct < 100;
		 * arc4random is a getrandom(2) call each in glibc 2.36 */
		dmarc_evaluate(&in, a->found_set ? &a->found : &tmp,
			       s->srv->w->psl,
			       a->found_set &&
			       a->found.status == DMARC_LOOKUP_FOUND &&
			       a->found.record.pct < 100 ?
			       arc4random_uniform(100) : 0,
			       &a->dmarc);
		if (dk != dk_stack)
			free(dk);
	}
	a->dmarc.source_ip = xstrdup(ioev_conn_peer_ip(s->conn));
	{
		const char *at = s->from != NULL ? strrchr(s->from, '@') : NULL;

		a->dmarc.env_from_domain = xstrdup(at != NULL ? at + 1 : "");
	}
	/* 2. overrides that lower the disposition: record mode and exempt
	 * networks ([smtp] relay_networks clients are not checked at all:
	 * session_checked) */
	const char *exempt = NULL;

	if (m->dmarc_reject_exempt != NULL &&
	    cidr_list_match(m->dmarc_reject_exempt,
			    ioev_conn_peer_sockaddr(s->conn)))
		exempt = "dmarc_reject_exempt";
	if (a->dmarc.disposition != DMARC_POLICY_NONE) {
		if (m->dmarc == CONFIG_DMARC_RECORD)
			dmarc_result_override(&a->dmarc,
					      DMARC_REASON_LOCAL_POLICY,
					      "dmarc = record");
		else if (exempt != NULL)
			dmarc_result_override(&a->dmarc,
					      DMARC_REASON_LOCAL_POLICY, exempt);
	}
	/* ARC (RFC 8617 7.2): a forwarder we trust saw it pass before it
	 * changed the message; before the report and the action */
	if (a->dmarc.result == DMARC_RESULT_FAIL &&
	    a->dmarc.disposition != DMARC_POLICY_NONE && a->arc != NULL &&
	    m->arc_trusted_sealers != NULL) {
		struct arc_trust_check tc = {
			.from_domain = a->dmarc.from_domain,
			.psl = s->srv->w->psl,
			.aspf = a->dmarc.has_record ? (int)a->dmarc.record.aspf
						    : DMARC_ALIGN_RELAXED,
			.adkim = a->dmarc.has_record ?
				 (int)a->dmarc.record.adkim :
				 DMARC_ALIGN_RELAXED,
		};
		char *why = arc_trusted_vouch(a->arc, m->arc_trusted_sealers,
					      &tc);

		if (why != NULL) {
			dmarc_result_override(&a->dmarc,
					      DMARC_REASON_TRUSTED_FORWARDER,
					      why);
			free(why);
		}
	}

	/* 3. rua: counted for the aggregate report (no I/O) */
	dmarc_report_record_result(&a->dmarc);

	/* 4. the action, taken by smtp-cmd-data.c (smtp_authin_action) */
	if (m->dmarc != CONFIG_DMARC_ENFORCE || exempt != NULL)
		return;
	if (a->from_status != DMARC_FROM_OK) {
		/* RFC 7489 6.6.1 lets a receiver refuse what it cannot
		 * evaluate; RFC 5322 3.6 asks for exactly one From */
		a->action = SMTP_AUTHIN_REJECT;
		a->action_text = a->from_status == DMARC_FROM_SEVERAL_DOMAINS
			? "Message rejected: From addresses of several "
			  "domains (RFC 7489 6.6.1)"
			: a->from_status == DMARC_FROM_UNPARSEABLE
			? "Message rejected: From field without one clear "
			  "address domain (RFC 7489 6.6.1)"
			: "Message rejected: a message needs exactly one "
			  "From field (RFC 5322 3.6)";
	} else if (a->dmarc.disposition == DMARC_POLICY_REJECT) {
		a->action = SMTP_AUTHIN_REJECT;
		a->action_text = "Message rejected: DMARC policy of the From "
				 "domain";
	} else if (a->dmarc.disposition == DMARC_POLICY_QUARANTINE) {
		a->action = SMTP_AUTHIN_QUARANTINE;
	}
}

enum smtp_authin_action
smtp_authin_action(const struct smtp_session *s, const char **text_r)
{
	const struct smtp_authin *a = s->authin;

	*text_r = NULL;
	if (a == NULL)
		return SMTP_AUTHIN_ACCEPT;
	*text_r = a->action_text;
	return a->action;
}

/* RFC 8617 10.1: arc=, with the client's address (smtp.remote-ip) */
static void
arc_resinfo(struct smtp_session *s, struct buf *out,
	    const struct arc_verify_result *r)
{
	buf_puts(out, "arc=");
	buf_puts(out, arc_result_name(r->result));
	if (r->result == ARC_RESULT_NONE)
		return;
	if (r->result == ARC_RESULT_FAIL && r->reason != NULL) {
		buf_puts(out, " reason=");
		put_value(out, r->reason);
	}
	if (r->result == ARC_RESULT_PASS && r->as_domain != NULL)
		buf_printf(out, " (i=%u; sealed by %s)", r->instances,
			   r->as_domain);
	buf_puts(out, " smtp.remote-ip=");
	buf_puts(out, ioev_conn_peer_ip(s->conn));
}

/* key=value for the verdicts line, value through log_str() */
static void
log_pair(struct buf *line, const char *key, const char *value)
{
	char vbuf[300];

	buf_puts(line, key);
	buf_puts(line, log_str(vbuf, sizeof(vbuf), value));
}

static void
authin_finish(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;
	struct buf hdr;
	size_t n = a->dkim != NULL ? dkim_verifier_count(a->dkim) : 0;
	bool any = a->spf_on || a->dkim != NULL || a->arc != NULL ||
		   a->dmarc_on;
	const struct arc_verify_result *ar = a->arc != NULL ?
		arc_verifier_result(a->arc) : NULL;

	authin_dmarc(s);
	/* room for the usual fields and our Received: one allocation */
	buf_init_size(&hdr, 1000);
	if (any) {
		/* puts, not printf: built for every checked message */
		buf_puts(&hdr, "Authentication-Results: ");
		buf_puts(&hdr, authserv_id(s));
		if (a->spf_on) {
			buf_puts(&hdr, ";\r\n\t");
			if (a->spf_ar != NULL)
				buf_puts(&hdr, a->spf_ar);
			else
				buf_puts(&hdr, "spf=temperror "
					 "(no resolver)");
		}
		if (a->dkim != NULL && n == 0)
			buf_puts(&hdr, ";\r\n\tdkim=none");
		for (size_t i = 0; i < n; i++) {
			buf_puts(&hdr, ";\r\n\t");
			dkim_resinfo(&hdr, dkim_verifier_result(a->dkim, i));
		}
		if (ar != NULL) {
			buf_puts(&hdr, ";\r\n\t");
			arc_resinfo(s, &hdr, ar);
		}
		if (a->dmarc_done) {
			buf_puts(&hdr, ";\r\n\t");
			dmarc_auth_results_put(&hdr, &a->dmarc);
		}
		/* the body again for our ARC set's AAR (RFC 8617 5.1), which
		 * only a message with its ARC verifier can get */
		if (a->arc != NULL)
			a->ar_body = xstrdup(hdr.data +
					     strlen("Authentication-Results: "));
		buf_puts(&hdr, "\r\n");
	}
	if (a->spf_received != NULL) {
		buf_puts(&hdr, "Received-SPF: ");
		buf_puts(&hdr, a->spf_received);
		buf_puts(&hdr, "\r\n");
	}
	if (hdr.len > 0) {
		buf_puts(&hdr, *a->received);
		free(*a->received);
		*a->received = buf_steal(&hdr);
	}
	if (any || a->filter.removed > 0) {
		const struct dmarc_result *d = &a->dmarc;
		struct buf line;

		/* put together here, not by log_info's printf: a dozen
		 * conversions for every checked message */
		buf_init_size(&line, 300);
		buf_puts(&line, "spf=");
		buf_puts(&line, a->spf_on ? spf_result_name(a->spf_result)
					  : "off");
		log_pair(&line, " spf_domain=", a->spf_domain != NULL
			 ? a->spf_domain : "");
		buf_puts(&line, " dkim=");
		if (a->dkim == NULL || n == 0)
			buf_puts(&line, a->dkim == NULL ? "off" : "none");
		for (size_t i = 0; i < n; i++) {
			const struct dkim_verify_result *r =
				dkim_verifier_result(a->dkim, i);

			if (i > 0)
				buf_putc(&line, ',');
			buf_puts(&line, dkim_result_name(r->result));
			log_pair(&line, ":", r->domain != NULL ? r->domain
							       : "");
		}
		buf_puts(&line, " arc=");
		buf_puts(&line, ar == NULL ? "off"
					   : arc_result_name(ar->result));
		buf_puts(&line, " ar_removed=");
		buf_put_uint(&line, a->filter.removed);
		buf_puts(&line, " dmarc=");
		buf_puts(&line, !a->dmarc_done ? "off"
					       : dmarc_result_name(d->result));
		log_pair(&line, " header_from=", d->from_domain != NULL
			 ? d->from_domain
			 : dmarc_from_status_name(a->from_status));
		buf_puts(&line, " policy=");
		buf_puts(&line, d->policy == DMARC_POLICY_UNSET
			 ? "-" : dmarc_policy_name(d->policy));
		buf_puts(&line, " dis=");
		buf_puts(&line, dmarc_policy_name(a->dmarc_done ? d->disposition
							: DMARC_POLICY_NONE));
		buf_puts(&line, " override=");
		buf_puts(&line, d->reason == DMARC_REASON_NONE
			 ? "-" : dmarc_reason_name(d->reason));
		/* written with the message's next line (smtp accepted, or
		 * its reject), not in a write(2) of this turn's own */
		log_info_later(s->msg_id, "mailauth", "verdicts", "%s",
			       line.data);
		buf_deinit(&line);
	}
	buf_deinit(&hdr);
}

static void
authin_maybe_continue(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;

	if (!a->waiting || a->spf != NULL || a->lookup != NULL ||
	    a->arc_lookup != NULL || a->dmarc_lookup != NULL)
		return;
	a->waiting = false;
	authin_finish(s);
	a->cont(a->cont_ctx);
}

void
smtp_authin_take_arc(struct smtp_session *s, struct arc_verifier **arc_r,
		     char **ar_body_r)
{
	struct smtp_authin *a = s->authin;

	*arc_r = NULL;
	*ar_body_r = NULL;
	if (a == NULL || a->arc == NULL || a->ar_body == NULL)
		return;
	*arc_r = a->arc;
	*ar_body_r = a->ar_body;
	a->arc = NULL;
	a->ar_body = NULL;
}

void
smtp_authin_wait(struct smtp_session *s, char **received,
		 void (*cont)(void *ctx), void *ctx)
{
	struct smtp_authin *a = s->authin;

	if (a == NULL) {
		cont(ctx);
		return;
	}
	a->received = received;
	a->cont = cont;
	a->cont_ctx = ctx;
	a->waiting = true;
	authin_maybe_continue(s);
}
