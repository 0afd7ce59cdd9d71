/* SPDX-License-Identifier: MIT */
/*
 * DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030), and the end of a message:
 * the body reader's verdict (bare CR/LF, long lines, NUL, size), the
 * From: check on submission, delivery on the thread pool, and the reply -
 * one for SMTP, one per recipient for LMTP (RFC 2033 4.2). 250 is sent
 * only once the message is durable for every recipient.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

#include "conf/worker.h"
#include "delivery/sender-policy.h"
#include "lib/mem.h"
#include "smtp/smtp-server-private.h"
#include "tls/tls.h"

/* How much buffered input one data step looks at. */
#define SMTP_DATA_PEEK 65536

struct data_job {
	struct smtp_session *s;
	struct delivery_msg msg;
	struct delivery_rcpt *rcpts;
	char *received;
	bool check_from;
	struct sender_policy_result from;	/* the From:/Sender: check */
	size_t delivered;
	struct ioev_external *ext;
	struct delivery_async *async;	/* delivered without a pool thread */
	struct dkim_signer *signer;	/* sign before storing (pool) */
	const char *dmarc_reject;	/* refused by DMARC: the reply text */
	/* ARC-seal the queued copy (pool): the chain, our A-R body, the
	 * alias whose domain's key seals, the set made */
	struct arc_sealer *sealer;
	struct arc_verifier *chain;
	char *ar_body;
	const char *alias;
	char *arc_set;
};

/* At the end of the header: whether a key will sign the message (a
 * single From domain with keys, one stat). If not, the signer skips the
 * body: mail we cannot sign (a relay host's for a foreign From domain)
 * is not hashed for nothing. */
static bool
signer_header_cb(const char *from_domain, void *ctx)
{
	struct smtp_session *s = ctx;

	return from_domain != NULL &&
	       dkim_keystore_has_domain(s->srv->cfg->data_dir, from_domain);
}

/* At the end of DATA: the message is signed (on the pool) when its From
 * domain has keys; else the signer goes, with its log line. When the
 * header's callback found no keys, the key store is not asked again (one
 * stat per relayed message instead of two). */
static void
signer_decide(struct smtp_session *s)
{
	const char *domain;
	char dbuf[300];

	if (s->signer == NULL)
		return;
	domain = dkim_signer_from_domain(s->signer);
	if (domain == NULL) {
		log_info(s->msg_id, "dkim", "unsigned", "reason=\"no "
			 "single From address\"");
	} else if (dkim_signer_refused_at_header(s->signer) ||
		   !dkim_keystore_has_domain(s->srv->cfg->data_dir, domain)) {
		log_info(s->msg_id, "dkim", "unsigned", "d=%s "
			 "reason=\"no active key\"",
			 log_str(dbuf, sizeof(dbuf), domain));
	} else {
		return;
	}
	dkim_signer_free(&s->signer);
}

static void
data_store(const uint8_t *data, size_t len, void *ctx)
{
	struct smtp_session *s = ctx;

	spool_write(s->spool, data, len);
	if (s->signer != NULL)
		dkim_signer_feed(s->signer, data, len);
	if (s->sealer != NULL)
		arc_sealer_feed(s->sealer, data, len);
}

static void
data_sink(const uint8_t *data, size_t len, void *ctx)
{
	struct smtp_session *s = ctx;

	if (s->authin != NULL)
		smtp_authin_feed(s, data, len, data_store);
	else
		data_store(data, len, s);
}

/* Mail of our own users is signed (docs/mailauth.md "Signing"): an
 * authenticated session's, herald sendmail's, and a relay_networks
 * host's (a web application relaying without AUTH is trusted like a
 * user; an admin expects its mail signed, as OpenDKIM's InternalHosts
 * does). Only a From domain with keys is signed. LMTP is final delivery
 * from our own front end: never. */
static bool
session_signs(const struct smtp_session *s)
{
	return s->srv->cfg->mailauth.dkim_sign && !smtp_session_is_lmtp(s) &&
	       (s->auth_user != NULL || s->mode == SMTP_MODE_LOCAL ||
		s->relay_ok);
}

/* The alias through which a recipient reaches an external address, or
 * NULL: such mail is ARC-sealed when it was checked on arrival
 * (docs/mailauth.md "Sealing"); other relayed mail is not. */
static const char *
forwarding_alias(const struct smtp_session *s)
{
	const struct config_mailauth *m = &s->srv->cfg->mailauth;

	if (!m->arc_seal || !m->arc_verify || s->mode != SMTP_MODE_SMTP ||
	    s->auth_user != NULL || s->srv->w->dns == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		for (size_t k = 0; k < s->rcpts[i].n_dests; k++) {
			const struct delivery_dest *d = &s->rcpts[i].dests[k];

			if (d->kind == DELIVERY_REMOTE && d->via_alias != NULL)
				return d->via_alias;
		}
	}
	return NULL;
}

/* Octets of the message stored so far (for the logs). */
static uint64_t
msg_size(const struct smtp_session *s)
{
	return s->spool != NULL ? spool_size(s->spool) : 0;
}

static struct smtp_data_reader *
reader_new(struct smtp_session *s)
{
	const struct config_smtp *c = &s->srv->cfg->smtp;
	struct smtp_data_limits lim;

	smtp_data_limits_default(&lim);
	lim.max_message_size = c->message_size_limit;
	lim.max_line_len = c->max_line_length - 2;
	lim.normalize_bare_eol = c->normalize_line_endings;
	if (s->mode == SMTP_MODE_LOCAL) {
		/* what herald sendmail would store itself: scripts' long
		 * lines and bare LFs are the norm, not an attack */
		lim.max_line_len = c->message_size_limit;
		lim.normalize_bare_eol = true;
	}
	spool_free(&s->spool);
	s->spool = spool_new(store_tmp_dir(s->srv->store),
			     (size_t)c->message_memory_limit);
	dkim_signer_free(&s->signer);
	if (session_signs(s)) {
		const struct config_mailauth *d = &s->srv->cfg->mailauth;
		struct dkim_sign_params p = {
			.hcanon = DKIM_CANON_RELAXED,
			.bcanon = DKIM_CANON_RELAXED,
			.expire_s = d->dkim_expire_s,
			.header_max = (size_t)d->dkim_header_max,
			.header_cb = signer_header_cb,
			.header_ctx = s,
		};

		s->signer = dkim_signer_new(&p);
	}
	arc_sealer_free(&s->sealer);
	if (forwarding_alias(s) != NULL)
		s->sealer = arc_sealer_new(
			(size_t)s->srv->cfg->mailauth.dkim_header_max, 0);
	smtp_authin_data_begin(s);
	return smtp_data_reader_new(&lim, data_sink, s);
}

/* The same reply for every recipient in LMTP, once in SMTP. */
static void
reply_all(struct smtp_session *s, const char *code, const char *dsn,
	  const char *text)
{
	if (!smtp_session_is_lmtp(s)) {
		smtp_reply(s, "%s %s %s", code, dsn, text);
		return;
	}
	for (size_t i = 0; i < s->n_rcpts; i++)
		smtp_reply(s, "%s %s <%s> %s", code, dsn, s->rcpts[i].address,
			   text);
}

static void
log_rejected(struct smtp_session *s, const char *code, const char *dsn,
	     const char *reason)
{
	char fbuf[300];

	log_info(s->id, "smtp", "reject", "rip=%s cmd=%s code=%s dsn=%s "
		 "from=<%s> size=%llu nrcpt=%zu reason=\"%s\"", s->rip,
		 s->bdat ? "BDAT" : "DATA", code, dsn,
		 smtp_log_addr(fbuf, sizeof(fbuf), s->from),
		 (unsigned long long)msg_size(s), s->n_rcpts, reason);
}

static void
log_accepted(struct smtp_session *s, const struct data_job *j)
{
	char fbuf[300], ubuf[300], tbuf[200], uid[24] = "";
	struct buf to;
	bool queued = j->msg.queue_id != 0;

	buf_init(&to);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (j->rcpts[i].result != STORE_OK)
			continue;
		if (to.len > 0)
			buf_putc(&to, ',');
		buf_printf(&to, "<%s>", log_str(tbuf, sizeof(tbuf),
						s->rcpts[i].address));
	}
	if (s->mode == SMTP_MODE_LOCAL)
		snprintf(uid, sizeof(uid), " uid=%u", s->local_uid);
	log_info(s->msg_id, "smtp", "accepted", "sid=%s rip=%s from=<%s> "
		 "to=%s size=%llu nrcpt=%zu proto=%s user=<%s> status=%s%s",
		 s->id, s->rip,
		 smtp_log_addr(fbuf, sizeof(fbuf), s->from),
		 to.data, (unsigned long long)msg_size(s), j->delivered,
		 smtp_session_protocol(s),
		 s->auth_user != NULL
			 ? log_str(ubuf, sizeof(ubuf), s->auth_user) : "",
		 queued ? "queued" : "sent", uid);
	buf_deinit(&to);
}

/* On the pool: the active keys of the From domain (read from data_dir
 * for each message, so a rotation needs no reload) sign; their
 * DKIM-Signature fields go after our Received field. A message that
 * cannot be signed goes unsigned, with a log line. */
static void
data_sign(struct data_job *j)
{
	struct smtp_session *s = j->s;
	const char *domain = dkim_signer_from_domain(j->signer), *err;
	struct dkim_sign_key **keys = NULL;
	char *perr = NULL, dbuf[300];
	size_t n = 0;
	struct buf out, sels;

	if (domain == NULL) {
		log_info(s->msg_id, "dkim", "unsigned", "reason=\"no single "
			 "From address\"");
		return;
	}
	if (dkim_keystore_load_signing(s->srv->cfg->data_dir, domain,
				       time(NULL), &keys, &n, &perr) < 0 ||
	    n == 0) {
		log_info(s->msg_id, "dkim", "unsigned", "d=%s reason=\"%s\"",
			 log_str(dbuf, sizeof(dbuf), domain),
			 perr != NULL ? perr : "no active key");
		free(perr);
		return;
	}
	buf_init(&out);
	buf_init(&sels);
	for (size_t i = 0; i < n; i++) {
		dkim_signer_add_key(j->signer, keys[i]);
		buf_printf(&sels, "%s%s", i > 0 ? "," : "", keys[i]->selector);
	}
	buf_puts(&out, j->received);
	if (dkim_signer_finish(j->signer, &out, &err) < 0) {
		log_info(s->msg_id, "dkim", "unsigned", "d=%s reason=\"%s\"",
			 log_str(dbuf, sizeof(dbuf), domain), err);
	} else {
		free(j->received);
		j->received = buf_steal(&out);
		j->msg.received = j->received;
		log_info(s->msg_id, "dkim", "signed", "d=%s s=%s", domain,
			 sels.data);
	}
	buf_deinit(&out);
	buf_deinit(&sels);
	dkim_sign_keys_free(&keys, n);
}

/* The keys that seal: the RSA key of the alias's domain, else of
 * hostname or its parent domain (docs/mailauth.md "Sealing"). */
static struct dkim_sign_key *
seal_key(const struct smtp_session *s, const char *alias)
{
	const char *host = s->srv->cfg->hostname, *dot = strchr(host, '.');
	const char *at = strrchr(alias, '@');
	const char *cands[3] = {
		at != NULL ? at + 1 : NULL, host,
		dot != NULL && strchr(dot + 1, '.') != NULL ? dot + 1 : NULL,
	};

	for (int c = 0; c < 3; c++) {
		struct dkim_sign_key **keys = NULL, *key = NULL;
		char *perr = NULL, *dom;
		size_t n = 0;

		if (cands[c] == NULL)
			continue;
		dom = xstrdup(cands[c]);
		for (char *p = dom; *p != '\0'; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		if (dkim_keystore_has_domain(s->srv->cfg->data_dir, dom) &&
		    dkim_keystore_load_signing(s->srv->cfg->data_dir, dom,
					       time(NULL), &keys, &n,
					       &perr) == 0) {
			for (size_t i = 0; i < n && key == NULL; i++) {
				if (keys[i]->alg == DKIM_ALG_RSA_SHA256) {
					key = keys[i];
					keys[i] = NULL;
				}
			}
		}
		dkim_sign_keys_free(&keys, n);
		free(perr);
		free(dom);
		if (key != NULL)
			return key;
	}
	return NULL;
}

/* On the pool: our ARC set for the queued copy (RFC 8617 5.1), made
 * from the chain verified on arrival and our Authentication-Results. */
static void
data_seal(struct data_job *j)
{
	struct smtp_session *s = j->s;
	struct dkim_sign_key *key;
	const char *err = NULL;
	char abuf[300];
	struct buf out;

	if (j->chain == NULL || j->ar_body == NULL) {
		log_info(s->msg_id, "arc", "unsealed", "alias=<%s> "
			 "reason=\"not checked on arrival\"",
			 log_str(abuf, sizeof(abuf), j->alias));
		return;
	}
	if ((key = seal_key(s, j->alias)) == NULL) {
		log_info(s->msg_id, "arc", "unsealed", "alias=<%s> "
			 "reason=\"no active RSA key\"",
			 log_str(abuf, sizeof(abuf), j->alias));
		return;
	}
	struct arc_seal_request req = {
		.chain = j->chain,
		.ar_body = j->ar_body,
		.key = key,
	};
	const struct arc_verify_result *r = arc_verifier_result(j->chain);

	buf_init(&out);
	if (arc_sealer_finish(j->sealer, &req, &out, &err) < 0) {
		log_info(s->msg_id, "arc", "unsealed", "alias=<%s> d=%s "
			 "reason=\"%s\"", log_str(abuf, sizeof(abuf), j->alias),
			 key->domain, err);
		buf_deinit(&out);
	} else {
		j->arc_set = buf_steal(&out);
		buf_deinit(&out);
		j->msg.remote_prefix = j->arc_set;
		log_info(s->msg_id, "arc", "sealed", "alias=<%s> d=%s s=%s "
			 "i=%u cv=%s", log_str(abuf, sizeof(abuf), j->alias),
			 key->domain, key->selector, r->instances + 1,
			 r->result == ARC_RESULT_PASS ? "pass" :
			 r->result == ARC_RESULT_FAIL ? "fail" : "none");
	}
	dkim_sign_key_free(&key);
}

static void
data_work(void *ctx)
{
	struct data_job *j = ctx;
	struct smtp_session *s = j->s;

	if (j->check_from) {
		const char *text = (const char *)j->msg.data;
		void *map = NULL;

		if (text == NULL) {
			/* Spooled: mapped, so only the header's pages are
			 * read, not the whole message into memory. */
			map = mmap(NULL, j->msg.len, PROT_READ, MAP_PRIVATE,
				   spool_fd(s->spool), 0);
			if (map == MAP_FAILED) {
				j->from.verdict = SENDER_POLICY_TEMP;
				return;
			}
			text = map;
		}
		sender_policy_check_header(s->srv->store,
					   s->srv->cfg->smtp.sender_check,
					   s->auth_user, s->auth_account_id,
					   text, j->msg.len, &j->from);
		if (map != NULL)
			munmap(map, j->msg.len);
		if (j->from.verdict != SENDER_POLICY_OK)
			return;
	}
	if (j->signer != NULL)
		data_sign(j);
	if (j->sealer != NULL)
		data_seal(j);
	j->delivered = delivery_run(s->srv->store, &j->msg);
}

/* The writer thread: the message is durable (or failed). */
static void
data_stored(void *ctx)
{
	struct data_job *j = ctx;

	ioev_external_done(j->ext);
}

/* A pool thread, for what delivery_start() does not take. */
static void
data_work_then_done(void *ctx)
{
	struct data_job *j = ctx;

	data_work(j);
	ioev_external_done(j->ext);
}

/* The common case (no From: check, not LMTP, every copy small) goes
 * from here straight to the group commit; the rest runs on the pool. */
static void
data_deliver(void *ctx)
{
	struct data_job *j = ctx;
	struct smtp_session *s = j->s;
	const char *text;

	/* handed over now (or refused): the group commit need not wait
	 * for it any longer */
	smtp_session_expect_write(s, false);
	j->msg.received = j->received;
	switch (smtp_authin_action(s, &text)) {
	case SMTP_AUTHIN_REJECT:
		/* nothing is stored; data_done() replies 550 */
		j->dmarc_reject = text;
		ioev_external_done(j->ext);
		return;
	case SMTP_AUTHIN_QUARANTINE:
		j->msg.junk = true;	/* delivery_start() declines it */
		break;
	case SMTP_AUTHIN_ACCEPT:
		break;
	}
	if (j->sealer != NULL)
		smtp_authin_take_arc(s, &j->chain, &j->ar_body);
	if (j->check_from || j->signer != NULL || j->sealer != NULL ||
	    !delivery_start(s->srv->store, &j->msg, data_stored, j,
			    &j->async))
		ioev_run_blocking(s->srv->w->loop, data_work_then_done, NULL,
				  j);
}

/* Input stays paused while SPF and the DKIM key lookups finish
 * (docs/mailauth.md "Inbound checks"); their fields go on top. */
static void
data_start(void *ctx, struct ioev_external *h)
{
	struct data_job *j = ctx;

	j->ext = h;
	smtp_authin_wait(j->s, &j->received, data_deliver, j);
}

static void
data_done(void *ctx)
{
	struct data_job *j = ctx;
	struct smtp_session *s = j->s;

	if (j->async != NULL)
		j->delivered = delivery_finish(&j->async);
	if (!smtp_session_job_end(s))
		goto out;
	if (j->dmarc_reject != NULL) {
		log_rejected(s, "550", "5.7.1", j->dmarc_reject);
		reply_all(s, "550", "5.7.1", j->dmarc_reject);
		goto reset;
	}
	if (j->from.verdict == SENDER_POLICY_TEMP) {
		log_warn(s->id, "smtp", "lookup-failed", "rip=%s cmd=DATA "
			 "check=from", s->rip);
		reply_all(s, "451", "4.3.0", "Temporary lookup failure, try "
			  "again later");
		goto reset;
	}
	if (j->from.verdict == SENDER_POLICY_REFUSED) {
		char fbuf[300], ubuf[300], rbuf[300];
		char *reason = xasprintf("%s header %s", j->from.field,
					 j->from.reason);
		char *text = xasprintf("%s: header %s", j->from.field,
				       j->from.reason);

		log_info(s->id, "smtp", "reject", "rip=%s cmd=DATA code=553 "
			 "dsn=5.7.1 header_from=<%s> user=<%s> reason=%s",
			 s->rip, log_str(fbuf, sizeof(fbuf), j->from.address),
			 log_str(ubuf, sizeof(ubuf), s->auth_user),
			 log_str(rbuf, sizeof(rbuf), reason));
		/* the reason is the policy's own text, never the peer's */
		reply_all(s, "553", "5.7.1", text);
		free(reason);
		free(text);
		goto reset;
	}
	if (j->delivered > 0)
		log_accepted(s, j);
	if (smtp_session_is_lmtp(s)) {
		for (size_t i = 0; i < s->n_rcpts; i++) {
			const char *a = s->rcpts[i].address;

			switch (j->rcpts[i].result) {
			case STORE_OK:
				smtp_reply(s, "250 2.0.0 <%s> Ok: delivered "
					      "as %s", a, s->msg_id);
				break;
			case STORE_E_OVER_QUOTA:
				smtp_reply(s, "552 5.2.2 <%s> Mailbox full: "
					      "over quota", a);
				break;
			default:
				smtp_reply(s, "451 4.3.0 <%s> Temporary "
					      "storage failure, try again "
					      "later", a);
				break;
			}
		}
		goto reset;
	}
	bool temp = false, quota = false;

	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (j->rcpts[i].result == STORE_E_OVER_QUOTA)
			quota = true;
		else if (j->rcpts[i].result != STORE_OK)
			temp = true;
	}
	if (temp)
		smtp_reply(s, "451 4.3.0 Error: temporary storage failure, "
			      "try again later");
	else if (quota)
		smtp_reply(s, "552 5.2.2 Error: mailbox full: over quota");
	else
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->msg_id);
reset:
	s->messages++;
	smtp_session_reset_tx(s);
out:
	free(j->rcpts);
	free(j->received);
	dkim_signer_free(&j->signer);
	arc_sealer_free(&j->sealer);
	arc_verifier_free(&j->chain);
	free(j->ar_body);
	free(j->arc_set);
	sender_policy_result_deinit(&j->from);
	free(j);
}

static void
build_received(struct smtp_session *s, struct buf *out)
{
	struct ioev_tls_info info;
	bool tls = ioev_conn_tls_info(s->conn, &info);
	struct delivery_received r = {
		.helo = s->helo,
		.peer_ip = ioev_conn_peer_ip(s->conn),
		.by_host = s->srv->cfg->hostname,
		.protocol = smtp_session_protocol(s),
		.id = s->msg_id,
		.tls_version = tls ? info.protocol : NULL,
		.tls_cipher = tls ? info.cipher : NULL,
		.tls_bits = tls ? info.bits : 0,
		.auth_user = s->auth_user,
		.for_rcpt = s->n_rcpts == 1 ? s->rcpts[0].address : NULL,
		.when = time(NULL),
		.local = s->mode == SMTP_MODE_LOCAL,
		.local_uid = s->local_uid,
	};

	delivery_received_format(&r, out);
}

/* The message is complete: check it and hand it to delivery. */
static void
message_end(struct smtp_session *s)
{
	unsigned errors = smtp_data_reader_errors(s->reader);
	const struct config_smtp *c = &s->srv->cfg->smtp;

	if (errors != 0) {
		const char *code = "550", *dsn = "5.6.0";

		if (errors & SMTP_DATA_ERR_TOO_BIG) {
			code = "552";
			dsn = "5.3.4";
		} else if (errors & SMTP_DATA_ERR_LONG_LINE) {
			code = "500";
			dsn = "5.5.2";
		}
		log_rejected(s, code, dsn, smtp_data_error_str(errors));
		if (errors & SMTP_DATA_ERR_TOO_BIG)
			reply_all(s, code, dsn, "Error: message size exceeds "
				  "fixed maximum message size");
		else if (errors & SMTP_DATA_ERR_LONG_LINE)
			reply_all(s, code, dsn, "Error: line too long (RFC "
				  "5321 4.5.3.1.6)");
		else if (errors & SMTP_DATA_ERR_NUL)
			reply_all(s, code, dsn, "Error: NUL character in "
				  "message");
		else
			reply_all(s, code, dsn, "Error: bare CR or LF in "
				  "message (lines end in CRLF, RFC 5321 "
				  "2.3.8)");
		smtp_session_reset_tx(s);
		smtp_session_error(s);
		return;
	}
	int err = 0;
	const char *why = NULL;

	smtp_authin_data_end(s);
	if (spool_finish(s->spool, &err, &why) < 0) {
		/* Our disk, not the client's fault: temporary, and not
		 * counted as a client error. */
		log_warn(s->id, "smtp", "spool-failed", "rip=%s error=\"%s\"",
			 s->rip, why);
		log_rejected(s, "452", "4.3.1", "cannot spool the message");
		reply_all(s, "452", "4.3.1", "Error: insufficient system "
			  "storage, try again later");
		smtp_session_reset_tx(s);
		return;
	}
	struct data_job *j = xcalloc(1, sizeof(*j));
	struct buf rec;

	log_new_id(s->msg_id);
	buf_init(&rec);
	build_received(s, &rec);
	j->s = s;
	j->received = buf_steal(&rec);
	buf_deinit(&rec);
	j->rcpts = xcalloc(s->n_rcpts, sizeof(*j->rcpts));
	for (size_t i = 0; i < s->n_rcpts; i++) {
		j->rcpts[i] = (struct delivery_rcpt){
			.address = s->rcpts[i].address,
			.dsn_notify = s->rcpts[i].dsn_notify,
			.dsn_orcpt = s->rcpts[i].dsn_orcpt,
			.dests = s->rcpts[i].dests,
			.n_dests = s->rcpts[i].n_dests,
		};
	}
	j->msg = (struct delivery_msg){
		.id = s->msg_id,
		/* One reply per recipient in LMTP; one for all in SMTP, so
		 * all or nothing (docs/smtp.md "Delivery and durability"). */
		.mode = smtp_session_is_lmtp(s) ? DELIVERY_PER_RCPT
						: DELIVERY_ALL_OR_NOTHING,
		.env_from = s->from,
		.dsn_ret = s->dsn_ret,
		.dsn_envid = s->dsn_envid,
		.received = j->received,
		.data = spool_data(s->spool),
		.spool = s->spool,
		.len = (size_t)spool_size(s->spool),
		.internal_date = (int64_t)time(NULL),
		.rcpts = j->rcpts,
		.n_rcpts = s->n_rcpts,
	};
	unsigned eight = smtp_data_reader_8bit(s->reader);

	delivery_msg_set_needs(&j->msg,
			       s->body == SMTP_BODY_8BITMIME ||
			       s->body == SMTP_BODY_BINARYMIME,
			       s->smtputf8, eight != 0,
			       (eight & SMTP_DATA_8BIT_HEADER) != 0);
	j->check_from = s->auth_user != NULL && c->check_from_header &&
			c->sender_check != CONFIG_SENDER_CHECK_OFF;
	/* the job signs on the pool; a From domain without keys (one
	 * stat) keeps the message on the fast path, unsigned */
	if (s->signer != NULL) {
		dkim_signer_end_input(s->signer);
		signer_decide(s);
		j->signer = s->signer;
		s->signer = NULL;
	}
	if (s->sealer != NULL) {
		j->sealer = s->sealer;
		s->sealer = NULL;
		j->alias = forwarding_alias(s);
	}
	smtp_session_run_external(s, data_start, data_done, j);
}

void
smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len)
{
	if (len != 0) {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		smtp_session_error(s);
		return;
	}
	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		smtp_session_error(s);
		return;
	}
	if (s->n_rcpts == 0) {
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		smtp_session_error(s);
		return;
	}
	s->reader = reader_new(s);
	smtp_session_expect_write(s, true);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtp_session_set_state(s, SMTP_STATE_DATA);
}

/* A BDAT chunk has been read completely. */
static void
bdat_chunk_end(struct smtp_session *s)
{
	smtp_session_set_state(s, SMTP_STATE_COMMAND);
	if (s->bdat_failed) {
		/* RFC 3030 2: the chunk is read, then refused; the
		 * transaction is over. */
		if (!s->in_tx)
			smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		else
			smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		smtp_session_reset_tx(s);
		smtp_session_error(s);
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 Ok: %llu octets received",
			   (unsigned long long)smtp_data_reader_size(s->reader));
		return;
	}
	smtp_data_reader_bdat_finish(s->reader);
	message_end(s);
}

void
smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t len)
{
	uint64_t size = 0;
	size_t i = 0;
	bool last = false;

	if (len == 0 || arg[0] < '0' || arg[0] > '9') {
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_session_error(s);
		return;
	}
	for (; i < len && arg[i] >= '0' && arg[i] <= '9'; i++) {
		if (size > (UINT64_MAX - 9) / 10) {
			smtp_reply(s, "552 5.3.4 Error: chunk too large");
			smtp_session_close(s, "421 4.7.0 Closing connection");
			return;
		}
		size = size * 10 + (uint64_t)(arg[i] - '0');
	}
	while (i < len && arg[i] == ' ')
		i++;
	if (i < len) {
		if (len - i == 4 && strncasecmp(arg + i, "LAST", 4) == 0) {
			last = true;
		} else {
			smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
			smtp_session_error(s);
			return;
		}
	}
	if (s->reader == NULL) {
		s->reader = reader_new(s);
		s->bdat = true;
		s->bdat_failed = !s->in_tx || s->n_rcpts == 0;
		if (!s->bdat_failed)
			smtp_session_expect_write(s, true);
	}
	s->bdat_last = last;
	smtp_data_reader_bdat_begin(s->reader, size);
	smtp_session_set_state(s, SMTP_STATE_BDAT);
	if (size == 0)
		bdat_chunk_end(s);
}

bool
smtp_data_input(struct smtp_session *s)
{
	size_t avail, used = 0;
	const uint8_t *p = ioev_conn_peek(s->conn, SMTP_DATA_PEEK, &avail);
	enum smtp_data_result r;

	if (avail == 0)
		return false;
	if (s->state == SMTP_STATE_DATA)
		r = smtp_data_reader_feed(s->reader, p, avail, &used);
	else
		r = smtp_data_reader_bdat_feed(s->reader, p, avail, &used);
	ioev_conn_consume(s->conn, used);
	if (r == SMTP_DATA_NEED_MORE)
		return true;
	if (s->state == SMTP_STATE_DATA) {
		smtp_session_set_state(s, SMTP_STATE_COMMAND);
		message_end(s);
	} else {
		bdat_chunk_end(s);
	}
	return true;
}
