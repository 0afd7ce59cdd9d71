/* SPDX-License-Identifier: MIT */
/*
 * What an attempt means for each recipient: sent, deferred until the next
 * retry, or bounced (a 5xx, or expired); the Postfix-shaped log line per
 * recipient (docs/logging.md "queue"), which pflogsumm-like tools read;
 * and the DSNs owed afterwards (bounces, delay warnings, success).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "queue/dsn.h"
#include "queue/queue-private.h"
#include "smtp/smtp-client.h"

struct queue_conn_view {
	const char *relay;
	const char *tls;
	bool remote_dsn;
	bool ipv6;
};

static bool
notify_has(const char *notify, const char *word)
{
	return notify != NULL && strcasestr(notify, word) != NULL;
}

/* "the remote refused us over IPv6 for want of a PTR" (Gmail's 550-5.7.1
 * "... IPv6 ... PTR record"; CLIENT-QUIRKS "IPv6 without a matching
 * PTR") */
static bool
reply_blames_ipv6(const char *text)
{
	return strcasestr(text, "ipv6") != NULL ||
	       strcasestr(text, "ptr") != NULL ||
	       strcasestr(text, "reverse dns") != NULL;
}

static void
outcome_set(struct queue_tx *tx, size_t i, char cls, const char *dsn,
	    const char *text, const char *log_reply, bool expired_text)
{
	struct queue_msg *m = tx->m;
	const struct config_queue *q = m->rn->q;
	struct queue_outcome *o = &tx->out[i];
	const struct store_queue_entry_rcpt *r = &m->e->rcpts[tx->idx[i]];
	int64_t now = (int64_t)time(NULL);

	o->idx = tx->idx[i];
	o->res.rcpt_id = r->id;
	o->res.attempted = true;
	o->text = xstrdup(text);
	o->log_reply = xstrdup(log_reply);
	o->dsn = xstrdup(dsn);
	if (cls == '2') {
		o->res.status = STORE_QUEUE_SENT;
	} else if (cls == '4') {
		int64_t next = queue_next_attempt(q, m->e->created,
						  r->attempts + 1, now);

		if (next != 0) {
			o->res.status = STORE_QUEUE_DEFERRED;
			o->res.next_attempt = next;
		} else {
			/* out of time: the last error goes into the bounce */
			char *t = xasprintf("delivery time expired; last "
					    "error: %s", text);

			free(o->text);
			o->text = t;
			if (!expired_text) {
				free(o->dsn);
				o->dsn = xstrdup("4.4.7");
			}
			o->res.status = STORE_QUEUE_BOUNCED;
			o->res.notify = STORE_QUEUE_NOTIFY_FAILURE;
		}
	} else {
		o->res.status = STORE_QUEUE_BOUNCED;
		o->res.notify = STORE_QUEUE_NOTIFY_FAILURE;
	}
	o->res.last_error = o->text;
	o->res.dsn_status = o->dsn;
}

static void
view_of(const struct queue_tx *tx, struct queue_conn_view *v, char *relay,
	size_t relaysz, char *tls, size_t tlssz);

void
queue_outcomes_from_send(struct queue_tx *tx,
			 const struct smtp_client_send_result *res)
{
	struct queue_conn_view v;
	char relay[QUEUE_HOST_MAX + 80], tls[320];

	view_of(tx, &v, relay, sizeof(relay), tls, sizeof(tls));
	tx->out = xcalloc(tx->n, sizeof(*tx->out));
	for (size_t i = 0; i < tx->n; i++) {
		const struct smtp_client_rcpt_result *rr =
			i < res->n_rcpts ? &res->rcpts[i] : NULL;
		const struct store_queue_entry_rcpt *r =
			&tx->m->e->rcpts[tx->idx[i]];
		struct buf line, logr;
		char dsn[16], cls;

		buf_init(&line);
		buf_init(&logr);
		if (rr == NULL || rr->reply.code == 0) {
			buf_puts(&line, "451 4.4.2 no reply for this recipient");
			cls = '4';
			snprintf(dsn, sizeof(dsn), "4.4.2");
		} else {
			smtp_reply_append_line(&rr->reply, &line);
			cls = (char)('0' + rr->reply.code / 100);
			snprintf(dsn, sizeof(dsn), "%s",
				 rr->reply.enhanced[0] != '\0' ?
				 rr->reply.enhanced : cls == '2' ? "2.0.0" :
				 cls == '4' ? "4.0.0" : "5.0.0");
		}
		if (rr != NULL && !rr->local && cls != '2')
			buf_printf(&logr, "host %s said: %s (in reply to %s "
				   "command)", relay, line.data,
				   smtp_client_stage_name(rr->stage));
		else
			buf_puts(&logr, line.data);
		/* a local refusal (lost connection, too big) is not the
		 * remote's reply: keep only its text */
		outcome_set(tx, i, cls, dsn, rr != NULL && rr->local &&
			    rr->reply.text != NULL ? rr->reply.text :
			    line.data, logr.data, false);
		tx->out[i].relay = xstrdup(relay);
		tx->out[i].tls = tls[0] != '\0' ? xstrdup(tls) : NULL;
		tx->out[i].res.relay = tx->out[i].relay;
		tx->out[i].res.tls = tx->out[i].tls;
		if (cls == '2' && notify_has(r->dsn_notify, "SUCCESS") &&
		    !v.remote_dsn)
			/* RFC 3461 4.1: the remote will not report, we do
			 * ("relayed") */
			tx->out[i].res.notify = STORE_QUEUE_NOTIFY_SUCCESS;
		if (cls == '5' && v.ipv6 && !tx->d->prefer_ipv4 &&
		    reply_blames_ipv6(line.data)) {
			/* CLIENT-QUIRKS: the same MX over IPv4, now */
			tx->out[i].retry_now = true;
			tx->out[i].res.status = STORE_QUEUE_DEFERRED;
			tx->out[i].res.notify = STORE_QUEUE_NOTIFY_NONE;
			tx->out[i].res.next_attempt = (int64_t)time(NULL);
		}
		buf_deinit(&line);
		buf_deinit(&logr);
	}
}

void
queue_outcomes_fail(struct queue_tx *tx, bool permanent, const char *dsn,
		    const char *reason)
{
	tx->out = xcalloc(tx->n, sizeof(*tx->out));
	for (size_t i = 0; i < tx->n; i++)
		outcome_set(tx, i, permanent ? '5' : '4', dsn, reason, reason,
			    false);
}

void
queue_outcomes_free(struct queue_tx *tx)
{
	if (tx->out == NULL)
		return;
	for (size_t i = 0; i < tx->n; i++) {
		free(tx->out[i].text);
		free(tx->out[i].relay);
		free(tx->out[i].tls);
		free(tx->out[i].dsn);
		free(tx->out[i].log_reply);
	}
	free(tx->out);
	tx->out = NULL;
}

static void
view_of(const struct queue_tx *tx, struct queue_conn_view *v, char *relay,
	size_t relaysz, char *tls, size_t tlssz)
{
	const struct queue_conn *c = tx->c;

	memset(v, 0, sizeof(*v));
	relay[0] = '\0';
	tls[0] = '\0';
	if (c == NULL || c->cl == NULL) {
		snprintf(relay, relaysz, "none");
		return;
	}
	const struct smtp_client_info *info = smtp_client_info(c->cl);
	const struct queue_target *t = &c->cur;

	if (t->ss.ss_family == AF_UNIX)
		snprintf(relay, relaysz, "unix:%s", tx->d->route.path);
	else
		snprintf(relay, relaysz, "%s[%s]:%u",
			 t->host[0] != '\0' ? t->host : t->ip, t->ip,
			 tx->d->route.port);
	/* kept with the recipient: what was negotiated and whether the
	 * certificate verified (under "may" an unverified one is used) */
	if (info->tls && info->cert_verified)
		snprintf(tls, tlssz, "%s/%s, certificate verified",
			 info->tls_info.protocol, info->tls_info.cipher);
	else if (info->tls)
		snprintf(tls, tlssz, "%s/%s, certificate not verified (%s)",
			 info->tls_info.protocol, info->tls_info.cipher,
			 info->cert_error[0] != '\0' ? info->cert_error : "?");
	v->remote_dsn = (info->ext & SMTP_EXT_DSN) != 0;
	v->ipv6 = t->ss.ss_family == AF_INET6;
}

/* Peer text inside the closing parentheses: sanitised, unquoted. */
static const char *
paren_text(char *out, size_t outsz, const char *s)
{
	size_t n;

	log_str(out, outsz, s);
	n = strlen(out);
	if (n >= 2 && out[0] == '"' && out[n - 1] == '"') {
		memmove(out, out + 1, n - 2);
		out[n - 2] = '\0';
	}
	return out;
}

/* "%llu.%02llu" below 10 s, else "%llu", without snprintf: five of them
 * per relayed message cost more than the rest of its line. out has room
 * for the most digits, ".dd" and the NUL. */
#define FMT_SECS_MAX (BUF_UINT_DEC_MAX + 4)
static void
fmt_secs(char out[static FMT_SECS_MAX], uint64_t ms)
{
	size_t o = buf_uint_to_dec(out, ms / 1000);

	if (ms < 10000) {
		out[o++] = '.';
		out[o++] = (char)('0' + ms % 1000 / 100);
		out[o++] = (char)('0' + ms % 100 / 10);
	}
	out[o] = '\0';
}

void
queue_log_outcomes(const struct queue_tx *tx)
{
	const struct queue_msg *m = tx->m;
	uint64_t created_ms = (uint64_t)m->e->created * 1000;
	uint64_t q = tx->t_queued_ms > created_ms ?
		tx->t_queued_ms - created_ms : 0;
	uint64_t b = tx->t_conn_ms > tx->t_queued_ms ?
		tx->t_conn_ms - tx->t_queued_ms : 0;
	uint64_t c = tx->t_send_ms > tx->t_conn_ms ?
		tx->t_send_ms - tx->t_conn_ms : 0;
	uint64_t d = tx->t_done_ms > tx->t_send_ms ?
		tx->t_done_ms - tx->t_send_ms : 0;
	char delay[FMT_SECS_MAX], a1[FMT_SECS_MAX], a2[FMT_SECS_MAX],
	     a3[FMT_SECS_MAX], a4[FMT_SECS_MAX];

	fmt_secs(delay, tx->t_done_ms > created_ms ?
		 tx->t_done_ms - created_ms : 0);
	fmt_secs(a1, q);
	fmt_secs(a2, b);
	fmt_secs(a3, c);
	fmt_secs(a4, tx->t_send_ms != 0 ? d : 0);
	for (size_t i = 0; i < tx->n; i++) {
		const struct queue_outcome *o = &tx->out[i];
		const char *addr = m->e->rcpts[o->idx].address;
		const char *st = o->res.status;
		char to[320], reply[1100], relay[400];

		log_str(to, sizeof(to), addr);
		log_str(relay, sizeof(relay), o->relay != NULL ? o->relay :
			"none");
		paren_text(reply, sizeof(reply), o->log_reply);
		char tls[80];
		const char *cert = "none";

		/* "TLSv1.3/CIPHER, certificate ..." as kept: the log has
		 * tls=TLSv1.3/CIPHER cert=verified|unverified */
		snprintf(tls, sizeof(tls), "%s", o->tls != NULL ? o->tls :
			 "none");
		if (strchr(tls, ',') != NULL) {
			cert = strstr(o->tls, "not verified") != NULL ?
				"unverified" : "verified";
			*strchr(tls, ',') = '\0';
		}
		log_event(strcmp(st, STORE_QUEUE_SENT) == 0 ? LOG_LEVEL_INFO :
			LOG_LEVEL_WARN, m->name, "queue", st,
			"to=<%s> relay=%s delay=%s delays=%s/%s/%s/%s "
			"tls=%s cert=%s dsn=%s status=%s (%s)", to, relay,
			delay, a1, a2, a3, a4, tls, cert, o->dsn, st, reply);
	}
}

/* ---- DSNs ---- */

static bool
text_is_smtp_reply(const char *t)
{
	return t != NULL && isdigit((unsigned char)t[0]) &&
	       isdigit((unsigned char)t[1]) && isdigit((unsigned char)t[2]) &&
	       (t[3] == ' ' || t[3] == '-' || t[3] == '\0');
}

void
queue_report_owed(struct queue_runner *rn, struct queue_msg *m, bool delay)
{
	struct store_queue_entry *e = NULL;
	const char *error = NULL;
	struct dsn_rcpt *v;
	int64_t *ids;
	char (*mta)[QUEUE_HOST_MAX];
	size_t n = 0;
	enum dsn_result r;
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&m->report_lock);
	if (store_queue_get(rn->store, m->e->id, &e, &error) != STORE_OK) {
		/* deleted meanwhile: nothing owed */
		pthread_mutex_unlock(&m->report_lock);
		return;
	}
	v = xcalloc(e->n_rcpts, sizeof(*v));
	ids = xcalloc(e->n_rcpts, sizeof(*ids));
	mta = xcalloc(e->n_rcpts, sizeof(*mta));
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct store_queue_entry_rcpt *x = &e->rcpts[i];
		enum dsn_action act;

		if (x->notify == STORE_QUEUE_NOTIFY_FAILURE)
			act = DSN_ACTION_FAILED;
		else if (x->notify == STORE_QUEUE_NOTIFY_SUCCESS)
			act = DSN_ACTION_RELAYED;
		else if (x->notify == STORE_QUEUE_NOTIFY_DELAY ||
			 (delay && strcmp(x->status, STORE_QUEUE_DEFERRED) == 0))
			act = DSN_ACTION_DELAYED;
		else
			continue;
		if (x->relay != NULL && strchr(x->relay, '[') != NULL) {
			size_t hl = (size_t)(strchr(x->relay, '[') - x->relay);

			snprintf(mta[n], sizeof(mta[n]), "%.*s", (int)hl,
				 x->relay);
		}
		v[n] = (struct dsn_rcpt){
			.address = x->address, .orcpt = x->dsn_orcpt,
			.notify = x->dsn_notify, .action = act,
			.status = x->dsn_status,
			.remote_mta = mta[n][0] != '\0' ? mta[n] : NULL,
			.diagnostic = x->last_error,
			.diagnostic_smtp = text_is_smtp_reply(x->last_error),
			.last_attempt = (time_t)x->last_attempt,
			.retry_until = (time_t)(e->created +
						(int64_t)rn->q->max_lifetime_s),
		};
		ids[n++] = x->id;
	}
	if (n == 0 && !delay)
		goto out;
	struct store_queue_notified marks = {
		.id = e->id, .rcpt_ids = ids, .count = n,
		.delay_warned = delay,
	};
	struct dsn_report rep = {
		.queue_id = m->name, .blob_id = e->blob_id, .size = e->size,
		.env_from = e->env_from, .dsn_ret = e->dsn_ret,
		.dsn_envid = e->dsn_envid, .arrival = (time_t)e->created,
		.rcpts = v, .n_rcpts = n, .notified = &marks,
	};

	r = n > 0 ? dsn_send(rn->store, rn->cfg, &rep, NULL, &error) :
		DSN_NOT_WANTED;
	if (r == DSN_TEMP) {
		log_warn(m->name, "queue", "dsn-failed", "rcpts=%zu error=\"%s\"",
			 n, error != NULL ? error : "?");
		/* tried again in a minute, not in a loop */
		(void)store_queue_reschedule(rn->store, e->id, now + 60,
					     e->status, &error);
		goto out;
	}
	if (r == DSN_NULL_SENDER)
		log_info(m->name, "queue", "dsn-dropped", "rcpts=%zu "
			 "reason=null-sender", n);
	else if (r == DSN_SENDER_UNKNOWN)
		log_info(m->name, "queue", "dsn-dropped", "rcpts=%zu "
			 "reason=sender-unknown", n);
	/* a report made cleared the marks in its own commit; none made
	 * (dropped, refused, not wanted): nothing can go twice */
	if (r != DSN_DELIVERED && r != DSN_QUEUED)
		(void)store_queue_notified(rn->store, e->id, ids, n, delay,
					   NULL, &error);
out:
	pthread_mutex_unlock(&m->report_lock);
	free(v);
	free(ids);
	free(mta);
	store_queue_entries_free(&e, 1);
}
