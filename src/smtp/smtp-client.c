/* SPDX-License-Identifier: MIT */
/*
 * The SMTP/LMTP client session: connect, opening (greeting, EHLO,
 * STARTTLS, AUTH), transactions and QUIT; see smtp-client.h.
 * The transaction itself is in smtp-client-tx.c.
 */
#include "smtp/smtp-client.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "smtp/smtp-client-private.h"
#include "tls/tls.h"

static const char *const error_names[] = {
	[SMTP_CLIENT_OK] = "ok",
	[SMTP_CLIENT_ERR_CONNECT] = "connect",
	[SMTP_CLIENT_ERR_CONNECT_TIMEOUT] = "connect-timeout",
	[SMTP_CLIENT_ERR_GREETING] = "greeting",
	[SMTP_CLIENT_ERR_HELO] = "helo",
	[SMTP_CLIENT_ERR_TLS_UNAVAILABLE] = "tls-unavailable",
	[SMTP_CLIENT_ERR_STARTTLS] = "starttls",
	[SMTP_CLIENT_ERR_TLS_HANDSHAKE] = "tls-handshake",
	[SMTP_CLIENT_ERR_TLS_CERT] = "tls-cert",
	[SMTP_CLIENT_ERR_AUTH_UNAVAILABLE] = "auth-unavailable",
	[SMTP_CLIENT_ERR_AUTH] = "auth",
	[SMTP_CLIENT_ERR_PROTOCOL] = "protocol",
	[SMTP_CLIENT_ERR_TIMEOUT] = "timeout",
	[SMTP_CLIENT_ERR_LOST] = "lost",
};

const char *
smtp_client_error_name(enum smtp_client_error err)
{
	return (size_t)err < sizeof(error_names) / sizeof(error_names[0]) ?
		error_names[err] : "unknown";
}

static const char *const send_error_names[] = {
	[SMTP_CLIENT_SEND_OK] = "ok",
	[SMTP_CLIENT_SEND_TOO_BIG] = "too-big",
	[SMTP_CLIENT_SEND_NEED_8BITMIME] = "need-8bitmime",
	[SMTP_CLIENT_SEND_NEED_SMTPUTF8] = "need-smtputf8",
	[SMTP_CLIENT_SEND_MAIL_REFUSED] = "mail-refused",
	[SMTP_CLIENT_SEND_NO_RCPT] = "no-rcpt",
	[SMTP_CLIENT_SEND_DATA_REFUSED] = "data-refused",
	[SMTP_CLIENT_SEND_LOST] = "lost",
	[SMTP_CLIENT_SEND_TIMEOUT] = "timeout",
	[SMTP_CLIENT_SEND_PROTOCOL] = "protocol",
	[SMTP_CLIENT_SEND_LOCAL] = "local",
};

const char *
smtp_client_send_error_name(enum smtp_client_send_error err)
{
	return (size_t)err < sizeof(send_error_names) /
		sizeof(send_error_names[0]) ? send_error_names[err] : "unknown";
}

const char *
smtp_client_stage_name(enum smtp_client_stage stage)
{
	switch (stage) {
	case SMTP_CLIENT_STAGE_MAIL: return "MAIL FROM";
	case SMTP_CLIENT_STAGE_RCPT: return "RCPT TO";
	case SMTP_CLIENT_STAGE_DATA: return "DATA";
	case SMTP_CLIENT_STAGE_END: return "end of DATA";
	case SMTP_CLIENT_STAGE_NONE: break;
	}
	return "";
}

void
smtp_client_opts_default(struct smtp_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->protocol = SMTP_CLIENT_SMTP;
	o->tls_policy = SMTP_CLIENT_TLS_MAY;
	o->timeouts.connect_ms = 30000;
	o->timeouts.greeting_ms = 300000;
	o->timeouts.helo_ms = 300000;
	o->timeouts.mail_ms = 300000;
	o->timeouts.rcpt_ms = 300000;
	o->timeouts.data_init_ms = 120000;
	o->timeouts.data_block_ms = 180000;
	o->timeouts.data_end_ms = 600000;
	o->timeouts.tls_ms = 60000;
	o->timeouts.quit_ms = 60000;
	o->limits.reply_line_max = SMTP_REPLY_DEFAULT_LINE_MAX;
	o->limits.reply_lines_max = SMTP_REPLY_DEFAULT_LINES_MAX;
}

void
smtp_client_opts_from_config(const struct config *cfg,
			     struct smtp_client_opts *o)
{
	const struct config_smtp_client *c = &cfg->smtp_client;

	smtp_client_opts_default(o);
	o->helo_name = c->helo_name != NULL ? c->helo_name : cfg->hostname;
	o->bind_address = c->bind_address;
	o->bind_address6 = c->bind_address6;
	o->timeouts.connect_ms = c->connect_timeout_ms;
	o->timeouts.greeting_ms = c->greeting_timeout_ms;
	o->timeouts.helo_ms = c->helo_timeout_ms;
	o->timeouts.mail_ms = c->mail_timeout_ms;
	o->timeouts.rcpt_ms = c->rcpt_timeout_ms;
	o->timeouts.data_init_ms = c->data_init_timeout_ms;
	o->timeouts.data_block_ms = c->data_block_timeout_ms;
	o->timeouts.data_end_ms = c->data_end_timeout_ms;
	o->timeouts.tls_ms = c->tls_timeout_ms;
	o->timeouts.quit_ms = c->quit_timeout_ms;
	o->limits.reply_line_max = c->reply_line_max;
	o->limits.reply_lines_max = c->reply_lines_max;
}

socklen_t
smtp_client_unix_addr(const char *path, struct sockaddr_storage *addr_r)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)addr_r;
	size_t len = strlen(path);

	memset(addr_r, 0, sizeof(*addr_r));
	if (len == 0 || len >= sizeof(sun->sun_path))
		return 0;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}


/* ---- lifetime ----------------------------------------------------------- */

static void client_conn_close(struct ioev_conn *conn, void *ctx,
			      enum ioev_close_reason reason);

void
client_ref(struct smtp_client *c)
{
	c->refs++;
}

static void
client_destroy(struct smtp_client *c)
{
	client_tx_free(&c->tx);
	ioev_timer_free(&c->timer);
	ioev_timer_free(&c->later);
	smtp_reply_parser_free(&c->parser);
	smtp_reply_deinit(&c->reply);
	free(c->helo_name);
	free(c->server_name);
	free(c->verify_name);
	free(c->auth_user);
	mem_free_secret(&c->auth_pass);
	free(c);
}

void
client_unref(struct smtp_client *c)
{
	if (c->refs == 0)
		panic("smtp-client: unref below zero");
	if (--c->refs == 0)
		client_destroy(c);
}

void
client_timer(struct smtp_client *c, uint64_t ms)
{
	if (ms == 0)
		ioev_timer_stop(c->timer);
	else
		ioev_timer_start(c->timer, ms, false);
}

void
client_write(struct smtp_client *c, const char *data, size_t len)
{
	if (c->conn != NULL)
		(void)ioev_conn_write(c->conn, data, len);
}

static void
client_cmd(struct smtp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
client_cmd(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	client_write(c, s, strlen(s));
	free(s);
}

void
client_append_host(const struct smtp_client *c, struct buf *out)
{
	if (c->info.peer_port == 0)
		buf_printf(out, "%s[%s]", c->info.server_name,
			   c->info.peer_ip);
	else
		buf_printf(out, "%s[%s]:%u", c->info.server_name,
			   c->info.peer_ip, c->info.peer_port);
}

static void
client_set_state(struct smtp_client *c, enum client_state state)
{
	c->state = state;
}

/* ---- the opening's outcome ----------------------------------------------- */

/* Reports the opening's failure once, then closes. A reply is quoted
 * when the remote gave one. */
static void
client_fail(struct smtp_client *c, enum smtp_client_error err,
	    const struct smtp_reply *reply, bool permanent, const char *fmt,
	    ...) __attribute__((format(printf, 5, 6)));

static void
client_fail(struct smtp_client *c, enum smtp_client_error err,
	    const struct smtp_reply *reply, bool permanent, const char *fmt, ...)
{
	struct smtp_client_failure f = { .error = err, .permanent = permanent };
	struct smtp_reply none;
	struct buf msg;
	char *why;
	va_list ap;

	smtp_reply_init(&none);
	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	buf_init(&msg);
	if (reply != NULL && reply->code != 0) {
		buf_puts(&msg, "host ");
		client_append_host(c, &msg);
		buf_puts(&msg, " said: ");
		smtp_reply_append_line(reply, &msg);
		buf_printf(&msg, " (%s)", why);
	} else {
		buf_puts(&msg, why);
	}
	free(why);
	f.reply = reply != NULL ? reply : &none;
	f.message = msg.data;
	client_set_state(c, CS_FAILED);
	c->broken = true;
	client_timer(c, 0);
	log_debug(c->id, "smtp-client", "failed", "error=%s msg=\"%s\"",
		  smtp_client_error_name(err), msg.data);
	if (c->conn != NULL) {
		/* a polite end where the dialogue is still in step */
		bool in_step = err == SMTP_CLIENT_ERR_GREETING ||
			err == SMTP_CLIENT_ERR_HELO ||
			err == SMTP_CLIENT_ERR_TLS_UNAVAILABLE ||
			err == SMTP_CLIENT_ERR_STARTTLS ||
			err == SMTP_CLIENT_ERR_TLS_CERT ||
			err == SMTP_CLIENT_ERR_AUTH_UNAVAILABLE ||
			err == SMTP_CLIENT_ERR_AUTH;

		if (in_step && (reply == NULL || reply->code != 421))
			client_write(c, "QUIT\r\n", 6);
		ioev_conn_close_after_write(c->conn);
	}
	if (!c->ready_reported && !c->freed) {
		c->ready_reported = true;
		client_ref(c);
		c->ready_cb(c, &f, c->ctx);
		client_unref(c);
	}
	buf_deinit(&msg);
}

static void
client_ready(struct smtp_client *c)
{
	client_set_state(c, CS_READY);
	client_timer(c, 0);
	log_debug(c->id, "smtp-client", "ready", "esmtp=%s tls=%s",
		  c->info.esmtp ? "yes" : "no", c->info.tls ? "yes" : "no");
	if (!c->ready_reported && !c->freed) {
		c->ready_reported = true;
		client_ref(c);
		c->ready_cb(c, NULL, c->ctx);
		client_unref(c);
	}
}

/* ---- the opening ---------------------------------------------------------- */

static bool
client_wants_tls(const struct smtp_client *c)
{
	return c->opts.tls_policy == SMTP_CLIENT_TLS_MAY ||
		c->opts.tls_policy == SMTP_CLIENT_TLS_ENCRYPT;
}

static bool
client_verifies(const struct smtp_client *c)
{
	return c->opts.tls_policy == SMTP_CLIENT_TLS_ENCRYPT ||
		c->opts.tls_policy == SMTP_CLIENT_TLS_IMPLICIT;
}

static void
client_send_ehlo(struct smtp_client *c)
{
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	client_set_state(c, CS_EHLO);
	client_timer(c, c->opts.timeouts.helo_ms);
	client_cmd(c, "%s %s\r\n",
		   c->opts.protocol == SMTP_CLIENT_LMTP ? "LHLO" : "EHLO",
		   c->helo_name);
}

static void
client_start_tls(struct smtp_client *c)
{
	struct ssl_st *ssl = tls_client_session_new(c->opts.tls,
						    c->server_name);
	const char *error;

	if (client_verifies(c) || c->opts.tls_policy == SMTP_CLIENT_TLS_MAY)
		tls_client_session_verify_name(
			ssl, c->verify_name != NULL ? c->verify_name :
			c->server_name);
	client_timer(c, c->opts.timeouts.tls_ms);
	if (ioev_conn_starttls_client(c->conn, tls_client_ioev(c->opts.tls),
				      ssl, &error) < 0) {
		tls_session_free(&ssl);
		client_fail(c, SMTP_CLIENT_ERR_TLS_HANDSHAKE, NULL, false,
			    "cannot start TLS: %s", error);
	}
}

static void
client_auth_start(struct smtp_client *c)
{
	struct buf b;

	if (!c->info.tls && !c->opts.auth_allow_plaintext) {
		client_fail(c, SMTP_CLIENT_ERR_AUTH_UNAVAILABLE, NULL, false,
			    "AUTH refused locally: the session is not "
			    "encrypted");
		return;
	}
	if ((c->ehlo.ext & SMTP_EXT_AUTH) == 0 ||
	    (!c->ehlo.auth_plain && !c->ehlo.auth_login)) {
		client_fail(c, SMTP_CLIENT_ERR_AUTH_UNAVAILABLE, NULL, false,
			    "the server offers no AUTH PLAIN or LOGIN");
		return;
	}
	client_set_state(c, CS_AUTH);
	client_timer(c, c->opts.timeouts.helo_ms);
	c->auth_step = 0;
	c->auth_login = !c->ehlo.auth_plain;
	if (c->auth_login) {
		client_write(c, "AUTH LOGIN\r\n", 12);
		return;
	}
	/* RFC 4616: authzid empty, NUL, authcid, NUL, password */
	buf_init(&b);
	{
		struct buf raw;

		buf_init(&raw);
		buf_putc(&raw, '\0');
		buf_puts(&raw, c->auth_user);
		buf_putc(&raw, '\0');
		buf_puts(&raw, c->auth_pass);
		buf_puts(&b, "AUTH PLAIN ");
		base64_encode((const uint8_t *)raw.data, raw.len, &b);
		buf_puts(&b, "\r\n");
		mem_wipe(raw.data, raw.len);
		buf_deinit(&raw);
	}
	client_write(c, b.data, b.len);
	mem_wipe(b.data, b.len);
	buf_deinit(&b);
}

static void
client_auth_reply(struct smtp_client *c)
{
	const struct smtp_reply *r = &c->reply;
	struct buf b;

	if (r->code == 235) {
		c->info.authenticated = true;
		client_ready(c);
		return;
	}
	if (r->code == 334 && c->auth_login && c->auth_step < 2) {
		const char *v = c->auth_step == 0 ? c->auth_user : c->auth_pass;

		buf_init(&b);
		base64_encode((const uint8_t *)v, strlen(v), &b);
		buf_puts(&b, "\r\n");
		client_write(c, b.data, b.len);
		mem_wipe(b.data, b.len);
		buf_deinit(&b);
		c->auth_step++;
		return;
	}
	if (r->code == 334) {
		/* a challenge PLAIN does not have: cancel (RFC 4954 4) */
		client_write(c, "*\r\n", 3);
		client_fail(c, SMTP_CLIENT_ERR_PROTOCOL, r, false,
			    "unexpected AUTH challenge");
		return;
	}
	client_fail(c, SMTP_CLIENT_ERR_AUTH, r, r->code >= 500,
		    "in reply to AUTH");
}

/* EHLO (or HELO) is done: STARTTLS, AUTH or ready, by policy. */
static void
client_after_hello(struct smtp_client *c)
{
	if (!c->info.tls && client_wants_tls(c) &&
	    (c->ehlo.ext & SMTP_EXT_STARTTLS) != 0) {
		client_set_state(c, CS_STARTTLS);
		client_timer(c, c->opts.timeouts.helo_ms);
		client_write(c, "STARTTLS\r\n", 10);
		return;
	}
	if (!c->info.tls && c->opts.tls_policy == SMTP_CLIENT_TLS_ENCRYPT) {
		client_fail(c, SMTP_CLIENT_ERR_TLS_UNAVAILABLE, NULL, false,
			    "TLS is required, but host %s did not offer "
			    "STARTTLS", c->info.server_name);
		return;
	}
	if (c->auth_user != NULL && c->auth_pass != NULL) {
		client_auth_start(c);
		return;
	}
	client_ready(c);
}

static void
client_hello_reply(struct smtp_client *c)
{
	const struct smtp_reply *r = &c->reply;

	if (c->state == CS_EHLO && r->code / 100 == 2) {
		unsigned n = smtp_reply_parser_line_count(c->parser);

		(void)n;
		c->info.esmtp = true;
		c->info.ext = c->ehlo.ext;
		c->info.size_max = c->ehlo.size_max;
		client_after_hello(c);
		return;
	}
	if (c->state == CS_EHLO && r->code / 100 == 5 &&
	    c->opts.protocol == SMTP_CLIENT_SMTP && r->code != 554) {
		/* RFC 5321 3.2: an old server that does not know EHLO */
		client_set_state(c, CS_HELO);
		client_cmd(c, "HELO %s\r\n", c->helo_name);
		return;
	}
	if (c->state == CS_HELO && r->code / 100 == 2) {
		c->info.esmtp = false;
		c->info.ext = 0;
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		client_after_hello(c);
		return;
	}
	client_fail(c, SMTP_CLIENT_ERR_HELO, r, r->code >= 500,
		    c->state == CS_HELO ? "in reply to HELO" :
		    c->opts.protocol == SMTP_CLIENT_LMTP ? "in reply to LHLO" :
		    "in reply to EHLO");
}

static void
client_greeting_reply(struct smtp_client *c)
{
	const struct smtp_reply *r = &c->reply;
	size_t n;

	if (r->code != 220) {
		client_fail(c, SMTP_CLIENT_ERR_GREETING, r, r->code >= 500,
			    "in reply to the greeting");
		return;
	}
	n = strcspn(r->text, " \n");
	snprintf(c->remote_name, sizeof(c->remote_name), "%.*s", (int)n,
		 r->text);
	client_send_ehlo(c);
}

static void
client_starttls_reply(struct smtp_client *c)
{
	const struct smtp_reply *r = &c->reply;

	if (r->code == 220) {
		client_set_state(c, CS_TLS);
		client_start_tls(c);
		return;
	}
	if (c->opts.tls_policy == SMTP_CLIENT_TLS_MAY && r->code != 421) {
		/* opportunistic: a refusal leaves the session in clear */
		c->ehlo.ext &= ~SMTP_EXT_STARTTLS;
		c->info.ext = c->ehlo.ext;
		log_info(c->id, "smtp-client", "starttls-refused",
			 "host=%s code=%u", c->info.server_name, r->code);
		client_after_hello(c);
		return;
	}
	client_fail(c, SMTP_CLIENT_ERR_STARTTLS, r, false,
		    "in reply to STARTTLS");
}

/* One complete reply, by state. */
static void
client_reply(struct smtp_client *c)
{
	switch (c->state) {
	case CS_GREETING:
		client_greeting_reply(c);
		break;
	case CS_EHLO:
	case CS_HELO:
		client_hello_reply(c);
		break;
	case CS_STARTTLS:
		client_starttls_reply(c);
		break;
	case CS_AUTH:
		client_auth_reply(c);
		break;
	case CS_TX:
		client_tx_reply(c);
		break;
	case CS_QUIT:
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
		break;
	case CS_READY:
		/* a 421 on an idle connection (the server's timeout) */
		c->broken = true;
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
		break;
	case CS_CONNECTING:
	case CS_TLS_IMPLICIT:
	case CS_TLS:
	case CS_FAILED:
		break;
	}
}

static void
client_protocol_error(struct smtp_client *c, const char *why)
{
	char safe[128];

	log_info(c->id, "smtp-client", "protocol-error", "host=%s error=\"%s\"",
		 c->info.server_name, log_str(safe, sizeof(safe), why));
	c->broken = true;
	if (c->state == CS_TX) {
		struct buf b;

		buf_init(&b);
		buf_printf(&b, "protocol error with ");
		client_append_host(c, &b);
		buf_printf(&b, ": %s", why);
		client_tx_abort(c, SMTP_CLIENT_SEND_PROTOCOL, b.data);
		buf_deinit(&b);
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
	} else if (c->state == CS_QUIT || c->state == CS_READY ||
		   c->state == CS_FAILED) {
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
	} else {
		client_fail(c, SMTP_CLIENT_ERR_PROTOCOL, NULL, false,
			    "protocol error with %s[%s]: %s",
			    c->info.server_name, c->info.peer_ip, why);
	}
}

static void
client_conn_input(struct ioev_conn *conn, void *ctx)
{
	struct smtp_client *c = ctx;

	client_ref(c);
	while (c->conn != NULL && !ioev_conn_is_closed(conn)) {
		size_t have = ioev_conn_input_len(conn), len, used;
		const uint8_t *p;
		enum smtp_reply_result r;

		if (have == 0)
			break;
		p = ioev_conn_peek(conn, have, &len);
		r = smtp_reply_parser_feed(c->parser, p, len, &used);
		ioev_conn_consume(conn, used);
		if (r == SMTP_REPLY_NEED_MORE)
			continue;
		if (r == SMTP_REPLY_ERROR) {
			client_protocol_error(c,
				smtp_reply_parser_error(c->parser));
			break;
		}
		if (c->state == CS_EHLO) {
			unsigned n = smtp_reply_parser_line_count(c->parser);

			/* the first line names the server, the rest are
			 * keywords (RFC 5321 4.1.1.1) */
			for (unsigned i = 1; i < n; i++)
				smtp_ehlo_parse_line(
					smtp_reply_parser_line(c->parser, i),
					&c->ehlo);
		}
		smtp_reply_parser_take(c->parser, &c->reply);
		if (c->state == CS_FAILED) {
			continue;	/* a reply to our QUIT */
		}
		client_reply(c);
		if (c->freed && c->state != CS_QUIT)
			break;
	}
	client_unref(c);
}

static void
client_conn_drain(struct ioev_conn *conn, void *ctx)
{
	struct smtp_client *c = ctx;

	if (c->state == CS_TX)
		client_tx_drain(c);
}

static void
client_tls_ready(struct ioev_conn *conn, void *ctx)
{
	struct smtp_client *c = ctx;
	struct tls_peer peer;

	c->info.tls = true;
	(void)ioev_conn_tls_info(conn, &c->info.tls_info);
	tls_session_peer(ioev_conn_tls_session(conn), &peer);
	c->info.cert_verified = peer.verified;
	snprintf(c->info.cert_error, sizeof(c->info.cert_error), "%s",
		 peer.error);
	snprintf(c->info.cert_subject, sizeof(c->info.cert_subject), "%s",
		 peer.subject);
	snprintf(c->info.cert_issuer, sizeof(c->info.cert_issuer), "%s",
		 peer.issuer);
	log_debug(c->id, "smtp-client", "tls", "host=%s proto=%s cipher=%s "
		  "verified=%s", c->info.server_name,
		  c->info.tls_info.protocol, c->info.tls_info.cipher,
		  peer.verified ? "yes" : "no");
	if (client_verifies(c) && !peer.verified) {
		client_fail(c, SMTP_CLIENT_ERR_TLS_CERT, NULL, false,
			    "certificate of %s[%s] not verified: %s",
			    c->info.server_name, c->info.peer_ip, peer.error);
		return;
	}
	if (c->state == CS_TLS_IMPLICIT) {
		client_set_state(c, CS_GREETING);
		client_timer(c, c->opts.timeouts.greeting_ms);
		return;
	}
	/* RFC 3207 4.2: forget what was learnt in clear, ask again */
	client_send_ehlo(c);
}

static void
client_conn_close(struct ioev_conn *conn, void *ctx,
		  enum ioev_close_reason reason)
{
	struct smtp_client *c = ctx;
	const char *tls_error = ioev_conn_tls_error(conn);
	struct buf b;

	client_ref(c);
	c->conn = NULL;
	c->broken = true;
	client_timer(c, 0);
	buf_init(&b);
	switch (c->state) {
	case CS_TLS_IMPLICIT:
	case CS_TLS:
		client_fail(c, SMTP_CLIENT_ERR_TLS_HANDSHAKE, NULL, false,
			    "TLS handshake with %s[%s] failed: %s",
			    c->info.server_name, c->info.peer_ip,
			    *tls_error != '\0' ? tls_error :
			    ioev_close_reason_name(reason));
		break;
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
	case CS_STARTTLS:
	case CS_AUTH:
		client_fail(c, SMTP_CLIENT_ERR_LOST, NULL, false,
			    "lost connection with %s[%s] while %s",
			    c->info.server_name, c->info.peer_ip,
			    c->state == CS_GREETING ?
			    "receiving the initial server greeting" :
			    c->state == CS_STARTTLS ? "sending STARTTLS" :
			    c->state == CS_AUTH ? "authenticating" :
			    "sending EHLO");
		break;
	case CS_TX:
		buf_puts(&b, "lost connection with ");
		client_append_host(c, &b);
		buf_printf(&b, " while sending %s",
			   client_tx_stage(c) != SMTP_CLIENT_STAGE_NONE ?
			   smtp_client_stage_name(client_tx_stage(c)) :
			   "MAIL FROM");
		client_tx_abort(c, reason == IOEV_CLOSE_TIMEOUT ?
				SMTP_CLIENT_SEND_TIMEOUT : SMTP_CLIENT_SEND_LOST,
				b.data);
		break;
	case CS_READY:
	case CS_QUIT:
	case CS_FAILED:
	case CS_CONNECTING:
		break;
	}
	buf_deinit(&b);
	if (c->state != CS_QUIT)
		client_set_state(c, CS_FAILED);
	client_unref(c);	/* the conn's */
	client_unref(c);
}

static const struct ioev_conn_callbacks client_conn_cbs = {
	.input = client_conn_input,
	.close = client_conn_close,
	.drain = client_conn_drain,
	.tls_ready = client_tls_ready,
};

static void
client_connected(struct ioev_conn *conn, int error, void *ctx)
{
	struct smtp_client *c = ctx;

	c->connecting = NULL;
	if (conn == NULL) {
		client_fail(c, error == ETIMEDOUT ?
			    SMTP_CLIENT_ERR_CONNECT_TIMEOUT :
			    SMTP_CLIENT_ERR_CONNECT, NULL, false,
			    "connect to %s[%s]%s%.0u: %s", c->info.server_name,
			    c->info.peer_ip, c->info.peer_port != 0 ? ":" : "",
			    c->info.peer_port, strerror(error));
		return;
	}
	c->conn = conn;
	client_ref(c);		/* released by the close callback */
	memcpy(c->id, ioev_conn_id(conn), sizeof(c->id));
	snprintf(c->info.local_ip, sizeof(c->info.local_ip), "%s",
		 ioev_conn_local_ip(conn));
	ioev_conn_set_callbacks(conn, &client_conn_cbs, c);
	log_debug(c->id, "smtp-client", "connected", "host=%s addr=%s port=%u",
		  c->info.server_name, c->info.peer_ip, c->info.peer_port);
	if (c->opts.tls_policy == SMTP_CLIENT_TLS_IMPLICIT) {
		client_set_state(c, CS_TLS_IMPLICIT);
		client_start_tls(c);
		return;
	}
	client_set_state(c, CS_GREETING);
	client_timer(c, c->opts.timeouts.greeting_ms);
}

static void
client_timeout(void *ctx)
{
	struct smtp_client *c = ctx;
	static const char *const what[] = {
		[CS_CONNECTING] = "connecting",
		[CS_TLS_IMPLICIT] = "in the TLS handshake",
		[CS_GREETING] = "waiting for the greeting",
		[CS_EHLO] = "waiting for the reply to EHLO",
		[CS_HELO] = "waiting for the reply to HELO",
		[CS_STARTTLS] = "waiting for the reply to STARTTLS",
		[CS_TLS] = "in the TLS handshake",
		[CS_AUTH] = "authenticating",
		[CS_READY] = "idle",
		[CS_TX] = "",
		[CS_QUIT] = "quitting",
		[CS_FAILED] = "",
	};

	client_ref(c);
	if (c->state == CS_TX) {
		struct buf b;

		buf_init(&b);
		buf_puts(&b, "conversation with ");
		client_append_host(c, &b);
		buf_printf(&b, " timed out while sending %s",
			   client_tx_stage(c) != SMTP_CLIENT_STAGE_NONE ?
			   smtp_client_stage_name(client_tx_stage(c)) :
			   "MAIL FROM");
		c->broken = true;
		client_tx_abort(c, SMTP_CLIENT_SEND_TIMEOUT, b.data);
		buf_deinit(&b);
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
	} else if (c->state == CS_QUIT || c->state == CS_FAILED ||
		   c->state == CS_READY) {
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
	} else {
		client_fail(c, SMTP_CLIENT_ERR_TIMEOUT, NULL, false,
			    "conversation with %s[%s] timed out %s",
			    c->info.server_name, c->info.peer_ip,
			    what[c->state]);
	}
	client_unref(c);
}

static void
client_later(void *ctx)
{
	struct smtp_client *c = ctx;

	client_ref(c);
	if (c->tx_done_pending) {
		c->tx_done_pending = false;
		client_tx_report(c);
	}
	client_unref(c);
}

/* The source address for family, or 0 when there is none to bind. */
static socklen_t
client_bind_addr(int family, const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (text == NULL || *text == '\0')
		return 0;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return 0;
		sin->sin_family = AF_INET;
		return sizeof(*sin);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return 0;
		sin6->sin6_family = AF_INET6;
		return sizeof(*sin6);
	}
	return 0;
}

struct smtp_client *
smtp_client_connect(struct ioev_loop *loop, const struct sockaddr *addr,
		    socklen_t addrlen, const struct smtp_client_opts *opts,
		    smtp_client_ready_cb_t *ready_cb, void *ctx)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	struct smtp_reply_limits rl;
	struct sockaddr_storage bind_ss;
	socklen_t bind_len;
	unsigned port = 0;

	c->loop = loop;
	c->refs = 1;		/* the owner's */
	c->ready_cb = ready_cb;
	c->ctx = ctx;
	c->opts = *opts;
	c->helo_name = xstrdup(opts->helo_name != NULL ? opts->helo_name :
			       "localhost");
	c->server_name = opts->server_name != NULL ?
		xstrdup(opts->server_name) : NULL;
	c->verify_name = opts->verify_name != NULL ?
		xstrdup(opts->verify_name) : NULL;
	c->auth_user = opts->auth_user != NULL ? xstrdup(opts->auth_user) : NULL;
	c->auth_pass = opts->auth_pass != NULL ? xstrdup(opts->auth_pass) : NULL;
	c->opts.helo_name = c->helo_name;
	c->opts.server_name = c->server_name;
	c->opts.verify_name = c->verify_name;
	c->opts.auth_user = c->auth_user;
	c->opts.auth_pass = c->auth_pass;
	if (c->opts.tls == NULL)
		c->opts.tls_policy = SMTP_CLIENT_TLS_NONE;
	log_new_id(c->id);
	if (addrlen > sizeof(c->addr))
		addrlen = sizeof(c->addr);
	memcpy(&c->addr, addr, addrlen);
	c->addrlen = addrlen;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, c->info.peer_ip,
			  sizeof(c->info.peer_ip));
		port = ntohs(sin->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, c->info.peer_ip,
			  sizeof(c->info.peer_ip));
		port = ntohs(sin6->sin6_port);
	} else {
		snprintf(c->info.peer_ip, sizeof(c->info.peer_ip), "unix");
	}
	c->info.peer_port = port;
	c->info.server_name = c->server_name != NULL ? c->server_name :
		c->info.peer_ip;
	c->info.remote_name = c->remote_name;
	rl.line_max = opts->limits.reply_line_max;
	rl.lines_max = opts->limits.reply_lines_max;
	c->parser = smtp_reply_parser_new(&rl);
	smtp_reply_init(&c->reply);
	c->timer = ioev_timer_new(loop, client_timeout, c);
	c->later = ioev_timer_new(loop, client_later, c);
	client_set_state(c, CS_CONNECTING);
	bind_len = client_bind_addr(addr->sa_family,
				    addr->sa_family == AF_INET ?
				    opts->bind_address : opts->bind_address6,
				    &bind_ss);
	c->opts.bind_address = c->opts.bind_address6 = NULL;
	c->connecting = ioev_connect_start(loop, (const struct sockaddr *)&c->addr,
					   c->addrlen, bind_len > 0 ?
					   (const struct sockaddr *)&bind_ss :
					   NULL, bind_len,
					   c->opts.timeouts.connect_ms, NULL,
					   client_connected, c);
	return c;
}

const struct smtp_client_info *
smtp_client_info(const struct smtp_client *client)
{
	return &client->info;
}

bool
smtp_client_is_reusable(const struct smtp_client *c)
{
	return c->state == CS_READY && !c->broken && c->conn != NULL &&
		c->tx == NULL;
}

void
smtp_client_quit(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->state != CS_READY || c->conn == NULL || c->broken) {
		smtp_client_free(&c);
		return;
	}
	c->freed = true;
	client_set_state(c, CS_QUIT);
	client_timer(c, c->opts.timeouts.quit_ms);
	client_write(c, "QUIT\r\n", 6);
	client_unref(c);	/* the owner's; the conn's keeps it */
}

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	c->freed = true;
	ioev_connect_cancel(&c->connecting);
	ioev_timer_stop(c->later);
	if (c->conn != NULL) {
		client_timer(c, 0);
		if (c->state != CS_FAILED && c->state != CS_QUIT)
			client_set_state(c, CS_QUIT);
		ioev_conn_close(c->conn);
	}
	client_unref(c);
}
