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
#include "lib/mem.h"
#include "mailauth/mailauth-settings.h"
#include "mailauth/spf.h"
#include "smtp/smtp-server-private.h"

/* An Authentication-Results field is buffered to read its authserv-id;
 * past this many octets it is decided on what was read. */
#define AUTHIN_AR_FIELD_MAX 65536
/* A field name longer than this is not Authentication-Results. */
#define AUTHIN_NAME_MAX 998

enum hdr_mode {
	HDR_NAME,	/* reading a field name into the buffer */
	HDR_PASS,	/* the field is kept: written through */
	HDR_AR,		/* an Authentication-Results field: buffered */
	HDR_DROP,	/* one that claims our id: dropped */
	HDR_BODY,	/* past the header */
};

struct smtp_authin {
	/* header filter */
	enum hdr_mode mode;
	bool line_start;
	struct buf field;
	unsigned ar_removed;
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
	/* waiting at the end of data */
	bool waiting;
	char **received;
	void (*cont)(void *ctx);
	void *cont_ctx;
};

static bool
session_checked(const struct smtp_session *s)
{
	return s->mode == SMTP_MODE_SMTP && s->auth_user == NULL;
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
		s->authin = xcalloc(1, sizeof(*s->authin));
		buf_init(&s->authin->field);
		s->authin->mode = HDR_NAME;
		s->authin->line_start = true;
	}
	return s->authin;
}

void
smtp_authin_reset(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;

	if (a == NULL)
		return;
	spf_check_cancel(&a->spf);
	dkim_lookup_cancel(&a->lookup);
	dkim_verifier_free(&a->dkim);
	buf_deinit(&a->field);
	free(a->spf_domain);
	free(a->spf_received);
	free(a->spf_ar);
	free(a);
	s->authin = NULL;
}

/* ---- SPF ---- */

static void authin_maybe_continue(struct smtp_session *s);

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
	a->spf_received = spf_received_spf(v, ioev_conn_peer_ip(s->conn),
					   s->from != NULL ? s->from : "",
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
	 * its one round trip) and the verdict is awaited after the dot */
	a->spf = spf_check_start(s->srv->w->loop, s->srv->w->dns, &req, &lim,
				 spf_done_cb, s);
}

/* ---- the header filter ---- */

static bool
is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Skips CFWS (RFC 5322 3.2.2, comments nested); returns the new index. */
static size_t
skip_cfws(const char *p, size_t len, size_t i)
{
	while (i < len) {
		unsigned char c = (unsigned char)p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
		} else if (c == '(') {
			unsigned depth = 0;

			for (; i < len; i++) {
				if (p[i] == '\\' && i + 1 < len)
					i++;
				else if (p[i] == '(')
					depth++;
				else if (p[i] == ')' && --depth == 0)
					break;
			}
			if (i < len)
				i++;
		} else {
			break;
		}
	}
	return i;
}

/* Whether the field body (after the colon) names id as its authserv-id
 * (RFC 8601 2.2: CFWS, then a token or a quoted-string), compared as a
 * reader would: case-insensitively, the quoted form unescaped, and only
 * when followed by what may follow it (CFWS, ";", or the end). */
bool
smtp_authin_ar_claims(const char *p, size_t len, const char *id)
{
	size_t i = skip_cfws(p, len, 0);
	struct buf v;
	bool match;

	buf_init(&v);
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			if (p[i] != '\r' && p[i] != '\n')
				buf_putc(&v, p[i]);
		}
		if (i >= len) {
			buf_deinit(&v);
			return false;
		}
		i++;
	} else {
		for (; i < len; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c <= ' ' || c == 0x7f || is_tspecial(c))
				break;
			buf_putc(&v, (char)c);
		}
	}
	match = v.len > 0 && v.len == strlen(id) &&
		strncasecmp(v.data, id, v.len) == 0;
	buf_deinit(&v);
	if (!match || i == len)
		return match;
	unsigned char c = (unsigned char)p[i];

	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' ||
	       c == ';';
}

typedef void out_fn(struct smtp_session *s, const uint8_t *d, size_t n);

static void
field_flush(struct smtp_session *s, out_fn *out)
{
	struct smtp_authin *a = s->authin;
	const char *colon;

	if (a->field.len == 0)
		return;
	if (a->mode == HDR_AR) {
		colon = memchr(a->field.data, ':', a->field.len);
		if (colon != NULL &&
		    smtp_authin_ar_claims(colon + 1, a->field.len -
					  (size_t)(colon + 1 - a->field.data),
					  authserv_id(s))) {
			a->ar_removed++;
			a->mode = HDR_DROP;
			a->field.len = 0;
			return;
		}
		a->mode = HDR_PASS;
	}
	out(s, (const uint8_t *)a->field.data, a->field.len);
	a->field.len = 0;
}

/* The field name is complete (a colon seen, or too long). */
static void
name_done(struct smtp_session *s, out_fn *out)
{
	struct smtp_authin *a = s->authin;
	static const char ar[] = "Authentication-Results";
	size_t n = a->field.len;
	const char *d = a->field.data;

	if (n > 0 && d[n - 1] == ':')
		n--;
	while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t'))
		n--;
	if (n == sizeof(ar) - 1 && strncasecmp(d, ar, n) == 0) {
		a->mode = HDR_AR;
		return;
	}
	a->mode = HDR_PASS;
	out(s, (const uint8_t *)d, a->field.len);
	a->field.len = 0;
}

static void
filter_feed(struct smtp_session *s, const uint8_t *data, size_t len,
	    out_fn *out)
{
	struct smtp_authin *a = s->authin;
	size_t i = 0, run = 0;	/* data[run..i) is to be written through */

	for (; i < len && a->mode != HDR_BODY; i++) {
		uint8_t c = data[i];

		if (a->line_start) {
			a->line_start = false;
			if (c != ' ' && c != '\t') {
				/* a new field, or the end of the header */
				if (i > run && a->mode == HDR_PASS)
					out(s, data + run, i - run);
				field_flush(s, out);
				run = i;
				if (c == '\r' || c == '\n') {
					a->mode = HDR_BODY;
					break;
				}
				a->mode = HDR_NAME;
			}
		}
		switch (a->mode) {
		case HDR_NAME:
			buf_putc(&a->field, (char)c);
			if (c == ':' || a->field.len > AUTHIN_NAME_MAX ||
			    c == '\n')
				name_done(s, out);
			run = i + 1;
			break;
		case HDR_AR:
			buf_putc(&a->field, (char)c);
			if (a->field.len > AUTHIN_AR_FIELD_MAX)
				field_flush(s, out);
			run = i + 1;
			break;
		case HDR_DROP:
			run = i + 1;
			break;
		case HDR_PASS:
		case HDR_BODY:
			break;
		}
		if (c == '\n')
			a->line_start = true;
	}
	if (a->mode == HDR_BODY) {
		if (len > run)
			out(s, data + run, len - run);
	} else if (a->mode == HDR_PASS && i > run) {
		out(s, data + run, i - run);
	}
}

void
smtp_authin_data_begin(struct smtp_session *s)
{
	const struct config_mailauth *m = &s->srv->cfg->mailauth;
	struct smtp_authin *a;

	if (!session_filters(s))
		return;
	a = authin_get(s);
	a->mode = HDR_NAME;
	a->line_start = true;
	a->field.len = 0;
	a->ar_removed = 0;
	dkim_lookup_cancel(&a->lookup);
	dkim_verifier_free(&a->dkim);
	/* without a resolver (it failed to start) DKIM is not checked */
	if (session_checked(s) && m->dkim_verify && s->srv->w->dns != NULL) {
		struct dkim_verify_limits lim = {
			.max_signatures = m->dkim_verify_max_signatures,
			.header_max = (size_t)m->dkim_header_max,
			.clock_skew_s = (unsigned)m->dkim_clock_skew_s,
		};

		a->dkim = dkim_verifier_new(&lim);
	}
}

void
smtp_authin_feed(struct smtp_session *s, const uint8_t *data, size_t len,
		 void (*out)(struct smtp_session *s, const uint8_t *d,
			     size_t n))
{
	struct smtp_authin *a = s->authin;

	/* the verifier sees the message as sent: a signed forged field
	 * still counts in its signature */
	if (a->dkim != NULL)
		dkim_verifier_feed(a->dkim, data, len);
	if (a->mode == HDR_BODY)
		out(s, data, len);
	else
		filter_feed(s, data, len, out);
}

static void
dkim_lookups_done(void *ctx)
{
	struct smtp_session *s = ctx;

	s->authin->lookup = NULL;
	authin_maybe_continue(s);
}

void
smtp_authin_data_end(struct smtp_session *s,
		     void (*out)(struct smtp_session *s, const uint8_t *d,
				 size_t n))
{
	struct smtp_authin *a = s->authin;

	if (a == NULL)
		return;
	if (a->mode != HDR_BODY) {
		/* a message that is all header */
		field_flush(s, out);
		a->mode = HDR_BODY;
	}
	if (a->dkim != NULL) {
		dkim_verifier_finish(a->dkim);
		a->lookup = dkim_verifier_lookup(a->dkim, s->srv->w->dns,
						 dkim_lookups_done, s);
	}
}

/* ---- at the end of data ---- */

/* A resinfo value as a token, else a quoted-string (RFC 8601 2.2):
 * peer text cannot end the field or start another. */
static void
put_value(struct buf *out, const char *v)
{
	bool token = *v != '\0';

	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || is_tspecial(c))
			token = false;
	}
	if (token) {
		buf_puts(out, v);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < ' ' || c == 0x7f)
			buf_putc(out, '?');
		else {
			if (c == '"' || c == '\\')
				buf_putc(out, '\\');
			buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}

static void
dkim_resinfo(struct buf *out, const struct dkim_verify_result *r)
{
	buf_printf(out, "dkim=%s", dkim_result_name(r->result));
	if (r->reason != NULL && r->result != DKIM_RESULT_PASS) {
		buf_puts(out, " reason=");
		put_value(out, r->reason);
	}
	if (r->key_bits > 0)
		buf_printf(out, " (%u-bit key%s)", r->key_bits,
			   r->body_partial ? "; body partly covered (l=)" : "");
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

static void
authin_finish(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;
	struct buf hdr, logd;
	char dbuf[300];
	size_t n = a->dkim != NULL ? dkim_verifier_count(a->dkim) : 0;
	bool any = a->spf_on || a->dkim != NULL;

	buf_init(&hdr);
	buf_init(&logd);
	if (any) {
		buf_printf(&hdr, "Authentication-Results: %s", authserv_id(s));
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
			const struct dkim_verify_result *r =
				dkim_verifier_result(a->dkim, i);

			buf_puts(&hdr, ";\r\n\t");
			dkim_resinfo(&hdr, r);
			buf_printf(&logd, "%s%s:%s", i > 0 ? "," : "",
				   dkim_result_name(r->result),
				   log_str(dbuf, sizeof(dbuf),
					   r->domain != NULL ? r->domain : ""));
		}
		buf_puts(&hdr, "\r\n");
	}
	if (a->spf_received != NULL)
		buf_printf(&hdr, "Received-SPF: %s\r\n", a->spf_received);
	if (hdr.len > 0) {
		buf_puts(&hdr, *a->received);
		free(*a->received);
		*a->received = buf_steal(&hdr);
	}
	if (any || a->ar_removed > 0)
		log_info(s->msg_id, "mailauth", "verdicts", "spf=%s "
			 "spf_domain=%s dkim=%s ar_removed=%u",
			 a->spf_on ? spf_result_name(a->spf_result) : "off",
			 log_str(dbuf, sizeof(dbuf), a->spf_domain != NULL
				 ? a->spf_domain : ""),
			 a->dkim == NULL ? "off" : n == 0 ? "none" : logd.data,
			 a->ar_removed);
	buf_deinit(&hdr);
	buf_deinit(&logd);
}

static void
authin_maybe_continue(struct smtp_session *s)
{
	struct smtp_authin *a = s->authin;

	if (!a->waiting || a->spf != NULL || a->lookup != NULL)
		return;
	a->waiting = false;
	authin_finish(s);
	a->cont(a->cont_ctx);
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
