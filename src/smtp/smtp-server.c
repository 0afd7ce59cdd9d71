/* SPDX-License-Identifier: MIT */
/*
 * SMTP sessions: connection start and end, the greeting and early-talker
 * check, the input loop that feeds the command reader (or the data reader
 * in DATA/BDAT), the command table and timeouts. The commands themselves
 * live in smtp-cmd-*.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/worker.h"
#include "lib/cidr.h"
#include "lib/mem.h"
#include "smtp/smtp-server-private.h"
#include "store/store.h"
#include "tls/tls.h"

/* RFC 4954 4: a SASL response line may be up to 12288 octets. */
#define SMTP_AUTH_LINE_MAX 12288
/* How much buffered input one parser step looks at. */
#define SMTP_PEEK_MAX 4096

static struct smtp_server *the_server;
static struct smtp_parser *auth_parser_for(struct smtp_session *s);

static struct smtp_server *
server_get(struct worker *w)
{
	struct smtp_server *srv = the_server;

	if (srv != NULL && srv->w == w)
		return srv;
	/* One worker per process: a new worker struct (never expected)
	 * simply gets a new server; the old one is leaked on purpose
	 * rather than freed under live sessions. */
	srv = xcalloc(1, sizeof(*srv));
	srv->w = w;
	srv->cfg = w->cfg;
	srv->store = w->store;
	spool_set_memory_budget((size_t)w->cfg->smtp.message_memory_total);
	if (srv->store == NULL) {
		const char *error = NULL;

		/* The worker's init hook did not open the store: open it
		 * here, once per process (blocks only this first time). */
		if (store_open(w->cfg, &srv->store, &error) != STORE_OK) {
			log_error(NULL, "smtp", "store-open-failed",
				  "error=\"%s\"", error != NULL ? error : "?");
			srv->store = NULL;
		} else {
			srv->own_store = true;
			w->store = srv->store;
		}
	}
	the_server = srv;
	return srv;
}

/* ---- session helpers ---- */

static const char *
state_name(enum smtp_state st)
{
	switch (st) {
	case SMTP_STATE_GREETING: return "greeting";
	case SMTP_STATE_COMMAND: return "command";
	case SMTP_STATE_AUTH: return "auth";
	case SMTP_STATE_DATA: return "data";
	case SMTP_STATE_BDAT: return "bdat";
	case SMTP_STATE_BUSY: return "busy";
	case SMTP_STATE_CLOSING: return "closing";
	}
	return "?";
}

void
smtp_session_set_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	if (state == SMTP_STATE_DATA || state == SMTP_STATE_BDAT)
		smtp_session_timeouts(s, true);
	else if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT)
		smtp_session_timeouts(s, false);
	s->state = state;
}

const char *
smtp_log_addr(char *out, size_t outsz, const char *addr)
{
	if (addr == NULL || addr[0] == '\0') {
		out[0] = '\0';
		return out;
	}
	return log_str(out, outsz, addr);
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
}

void
smtp_session_close(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (s->state == SMTP_STATE_CLOSING)
		return;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
	s->state = SMTP_STATE_CLOSING;
	ioev_conn_close_after_write(s->conn);
}

bool
smtp_session_error(struct smtp_session *s)
{
	s->errors++;
	if (s->errors < s->srv->cfg->smtp.max_errors)
		return false;
	log_info(s->id, "smtp", "too-many-errors", "rip=%s errors=%u", s->rip,
		 s->errors);
	smtp_session_close(s, "421 4.7.0 %s Error: too many errors",
			   s->srv->cfg->hostname);
	return true;
}

void
smtp_session_expect_write(struct smtp_session *s, bool on)
{
	if (s->write_expected == on || s->srv->store == NULL)
		return;
	s->write_expected = on;
	store_write_expect(s->srv->store, on);
}

void
smtp_session_reset_tx(struct smtp_session *s)
{
	s->in_tx = false;
	xfree(&s->from);
	xfree(&s->dsn_ret);
	xfree(&s->dsn_envid);
	s->smtputf8 = false;
	s->body = SMTP_BODY_UNSPECIFIED;
	s->size_decl = 0;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		free(s->rcpts[i].address);
		free(s->rcpts[i].dsn_notify);
		free(s->rcpts[i].dsn_orcpt);
		delivery_dests_free(&s->rcpts[i].dests, s->rcpts[i].n_dests);
	}
	s->n_rcpts = 0;
	s->rcpt_overshoot = 0;
	smtp_session_expect_write(s, false);
	smtp_data_reader_free(&s->reader);
	spool_free(&s->spool);
	dkim_signer_free(&s->signer);
	arc_sealer_free(&s->sealer);
	smtp_authin_reset(s);
	s->bdat = false;
	s->bdat_last = false;
	s->bdat_failed = false;
	s->msg_id[0] = '\0';
}

bool
smtp_session_is_lmtp(const struct smtp_session *s)
{
	return s->mode == SMTP_MODE_LMTP;
}

bool
smtp_session_starttls_available(const struct smtp_session *s)
{
	return s->srv->w->tls != NULL && s->mode != SMTP_MODE_LMTP &&
	       s->mode != SMTP_MODE_LOCAL;
}

bool
smtp_session_auth_offered(const struct smtp_session *s)
{
	return s->mode != SMTP_MODE_LMTP && s->mode != SMTP_MODE_LOCAL &&
	       s->srv->store != NULL;
}

bool
smtp_session_auth_allowed(const struct smtp_session *s)
{
	if (!smtp_session_auth_offered(s))
		return false;
	if (s->tls)
		return true;
	/* Port 587 always wants STARTTLS first (RFC 8314 spirit, and the
	 * client's password never crosses in clear by accident); port 25
	 * may allow loopback clients by configuration. */
	if (s->mode == SMTP_MODE_SUBMISSION)
		return false;
	return s->srv->cfg->auth.plaintext_on_loopback &&
	       ioev_conn_peer_is_local(s->conn);
}

const char *
smtp_session_protocol(const struct smtp_session *s)
{
	return delivery_protocol_name(s->mode == SMTP_MODE_LMTP, !s->esmtp,
				      s->tls, s->auth_user != NULL,
				      s->smtputf8);
}

void
smtp_session_timeouts(struct smtp_session *s, bool data)
{
	struct ioev_conn_limits lim = { 0 };
	const struct config_smtp *c = &s->srv->cfg->smtp;

	lim.idle_timeout_ms = data ? c->data_timeout_ms : c->command_timeout_ms;
	/* Enough for a whole SASL response line or a command plus slack;
	 * message data streams through the reader in pieces. */
	lim.input_max = 65536;
	ioev_conn_set_limits(s->conn, &lim);
}

static void
timer_fired(void *ctx)
{
	struct smtp_session *s = ctx;
	void (*action)(struct smtp_session *) = s->timer_action;

	s->timer_action = NULL;
	if (s->state == SMTP_STATE_GREETING) {
		action(s);
		return;
	}
	ioev_conn_resume(s->conn);
	if (s->state == SMTP_STATE_CLOSING)
		return;
	s->state = SMTP_STATE_COMMAND;
	if (action != NULL)
		action(s);
}

void
smtp_session_delay(struct smtp_session *s, uint64_t ms,
		   void (*action)(struct smtp_session *s))
{
	if (s->timer == NULL)
		s->timer = ioev_timer_new(s->srv->w->loop, timer_fired, s);
	s->timer_action = action;
	if (s->state != SMTP_STATE_GREETING) {
		smtp_session_set_state(s, SMTP_STATE_BUSY);
		ioev_conn_pause(s->conn);
	}
	ioev_timer_start(s->timer, ms, false);
}

void
smtp_session_run(struct smtp_session *s, threadpool_work_cb_t *work,
		 threadpool_done_cb_t *done, void *ctx)
{
	smtp_session_set_state(s, SMTP_STATE_BUSY);
	ioev_conn_pause(s->conn);
	ioev_conn_run_blocking(s->conn, work, done, ctx);
}

void
smtp_session_run_external(struct smtp_session *s,
			  ioev_external_start_cb_t *start,
			  threadpool_done_cb_t *done, void *ctx)
{
	smtp_session_set_state(s, SMTP_STATE_BUSY);
	ioev_conn_pause(s->conn);
	ioev_conn_run_external(s->conn, start, done, ctx);
}

bool
smtp_session_job_end(struct smtp_session *s)
{
	ioev_conn_resume(s->conn);
	if (s->state == SMTP_STATE_CLOSING || ioev_conn_is_closed(s->conn))
		return false;
	smtp_session_set_state(s, SMTP_STATE_COMMAND);
	return true;
}

/* ---- greeting ---- */

static void
send_greeting(struct smtp_session *s)
{
	if (ioev_conn_input_len(s->conn) > 0) {
		log_info(s->id, "smtp", "early-talker", "rip=%s", s->rip);
		smtp_session_close(s, "554 5.5.0 %s Error: talking before the "
				      "greeting", s->srv->cfg->hostname);
		return;
	}
	s->state = SMTP_STATE_COMMAND;
	smtp_reply(s, "220 %s %s Herald", s->srv->cfg->hostname,
		   s->mode == SMTP_MODE_LMTP ? "LMTP" : "ESMTP");
}

/* ---- command dispatch ---- */

static void
cmd_helo(struct smtp_session *s, const char *a, size_t l)
{
	smtp_cmd_helo(s, SMTP_CMD_HELO, a, l);
}

static void
cmd_ehlo(struct smtp_session *s, const char *a, size_t l)
{
	smtp_cmd_helo(s, SMTP_CMD_EHLO, a, l);
}

static void
cmd_lhlo(struct smtp_session *s, const char *a, size_t l)
{
	smtp_cmd_helo(s, SMTP_CMD_LHLO, a, l);
}

typedef void smtp_cmd_fn_t(struct smtp_session *s, const char *arg,
			   size_t len);

static smtp_cmd_fn_t *const cmd_table[SMTP_CMD_COUNT] = {
	[SMTP_CMD_HELO] = cmd_helo,
	[SMTP_CMD_EHLO] = cmd_ehlo,
	[SMTP_CMD_LHLO] = cmd_lhlo,
	[SMTP_CMD_MAIL] = smtp_cmd_mail,
	[SMTP_CMD_RCPT] = smtp_cmd_rcpt,
	[SMTP_CMD_DATA] = smtp_cmd_data,
	[SMTP_CMD_BDAT] = smtp_cmd_bdat,
	[SMTP_CMD_RSET] = smtp_cmd_rset,
	[SMTP_CMD_NOOP] = smtp_cmd_noop,
	[SMTP_CMD_QUIT] = smtp_cmd_quit,
	[SMTP_CMD_VRFY] = smtp_cmd_vrfy,
	[SMTP_CMD_EXPN] = smtp_cmd_vrfy,
	[SMTP_CMD_HELP] = smtp_cmd_help,
	[SMTP_CMD_STARTTLS] = smtp_cmd_starttls,
	[SMTP_CMD_AUTH] = smtp_cmd_auth,
};

static void
dispatch(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;

	smtp_command_parse(line, len, &cmd);
	if (cmd.cmd == SMTP_CMD_UNKNOWN || cmd_table[cmd.cmd] == NULL) {
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_session_error(s);
		return;
	}
	/* Within BDAT, only BDAT, RSET, NOOP and QUIT make sense
	 * (RFC 3030 2). */
	if (s->bdat && cmd.cmd != SMTP_CMD_BDAT && cmd.cmd != SMTP_CMD_RSET &&
	    cmd.cmd != SMTP_CMD_NOOP && cmd.cmd != SMTP_CMD_QUIT) {
		smtp_reply(s, "503 5.5.1 Error: only BDAT, RSET, NOOP or QUIT "
			      "during BDAT");
		smtp_session_error(s);
		return;
	}
	cmd_table[cmd.cmd](s, cmd.arg, cmd.arg_len);
}

static void
parser_error(struct smtp_session *s, enum smtp_line_error err)
{
	switch (err) {
	case SMTP_LINE_ERR_TOO_LONG:
		smtp_reply(s, "500 5.5.2 Error: line too long");
		break;
	case SMTP_LINE_ERR_NUL:
		smtp_reply(s, "500 5.5.2 Error: NUL character in command");
		break;
	default:
		smtp_reply(s, "500 5.5.2 Error: bare CR or LF in command; "
			      "lines end in CRLF");
		break;
	}
	smtp_session_error(s);
}

static void
session_input(struct ioev_conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;

	for (;;) {
		switch (s->state) {
		case SMTP_STATE_GREETING:
			if (s->timer_action != NULL)
				ioev_timer_stop(s->timer);
			s->timer_action = NULL;
			send_greeting(s);
			continue;
		case SMTP_STATE_BUSY:
		case SMTP_STATE_CLOSING:
			return;
		case SMTP_STATE_DATA:
		case SMTP_STATE_BDAT:
			if (!smtp_data_input(s))
				return;
			continue;
		case SMTP_STATE_COMMAND:
		case SMTP_STATE_AUTH:
			break;
		}
		size_t avail, used = 0;
		const uint8_t *p = ioev_conn_peek(conn, SMTP_PEEK_MAX, &avail);

		if (avail == 0)
			return;
		struct smtp_parser *parser = s->parser;

		/* This loop owns the AUTH line reader: the commands that end
		 * an exchange only change the state, so a reader they ended
		 * is never freed under a caller still reading it. */
		if (s->state == SMTP_STATE_AUTH)
			parser = auth_parser_for(s);
		else
			smtp_parser_free(&s->auth_parser);
		enum smtp_parser_result r =
			smtp_parser_feed(parser, p, avail, &used);

		/* Command lines are short: each is cleared in the input
		 * buffer, so an AUTH response or initial response (a
		 * password in base64) is not left in freed memory. */
		ioev_conn_consume_wipe(conn, used);
		if (r == SMTP_PARSER_NEED_MORE)
			continue;
		if (r == SMTP_PARSER_ERROR) {
			if (s->state == SMTP_STATE_AUTH)
				smtp_auth_abort(s);
			parser_error(s, smtp_parser_error(parser));
			smtp_parser_wipe(parser);
			continue;
		}
		size_t len;
		const char *line = smtp_parser_line(parser, &len);

		if (s->state == SMTP_STATE_AUTH) {
			smtp_auth_input(s, line, len);
			smtp_parser_wipe(parser);
		} else if (len >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
			/* run_step() decoded the initial response into a
			 * copy of its own: the line is no longer read */
			dispatch(s, line, len);
			smtp_parser_wipe(parser);
		} else {
			dispatch(s, line, len);
		}
	}
}

/* The AUTH response reader: longer lines than commands (RFC 4954 4).
 * Made when an exchange reads its first line, freed by session_input once
 * the session is out of SMTP_STATE_AUTH (or with the session). */
static struct smtp_parser *
auth_parser_for(struct smtp_session *s)
{
	if (s->auth_parser == NULL) {
		struct smtp_parser_limits lim;

		smtp_parser_limits_default(&lim);
		lim.max_line_len = SMTP_AUTH_LINE_MAX;
		s->auth_parser = smtp_parser_new(&lim);
	}
	return s->auth_parser;
}

static void
session_timeout(struct ioev_conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;

	/* The timeouts of RFC 5321 4.5.3.2 bound how long we wait for the
	 * client. While a job of ours runs (a delivery waiting on a busy
	 * store, say) the client is waiting for us: a 421 now could follow a
	 * message already stored, and the client's retry would duplicate
	 * it. The reply comes when the job ends; the timer starts again. */
	if (s->state == SMTP_STATE_BUSY) {
		log_debug(s->id, "smtp", "timeout-busy", "rip=%s", s->rip);
		return;
	}
	log_info(s->id, "smtp", "timeout", "rip=%s state=%s", s->rip,
		 state_name(s->state));
	smtp_session_close(s, "421 4.4.2 %s Error: timeout exceeded",
			   s->srv->cfg->hostname);
}

static void
session_free(struct smtp_session *s)
{
	smtp_session_reset_tx(s);
	smtp_authin_free(s);
	smtp_auth_abort(s);
	smtp_parser_free(&s->parser);
	smtp_parser_free(&s->auth_parser);
	if (s->timer != NULL)
		ioev_timer_free(&s->timer);
	free(s->helo);
	free(s->auth_user);
	free(s);
}

static void
session_close(struct ioev_conn *conn, void *ctx,
	      enum ioev_close_reason reason)
{
	struct smtp_session *s = ctx;

	log_info(s->id, "smtp", "disconnect", "rip=%s reason=%s messages=%u "
		 "errors=%u", s->rip, ioev_close_reason_name(reason),
		 s->messages, s->errors);
	session_free(s);
}

/* The handshake is done: the log says with what, for STARTTLS (the
 * starttls line) and for implicit TLS (port 465) alike. */
static void
session_tls_ready(struct ioev_conn *conn, void *ctx)
{
	struct smtp_session *s = ctx;
	struct ioev_tls_info info;

	ioev_conn_tls_info(conn, &info);
	log_info(s->id, "smtp", s->mode == SMTP_MODE_SUBMISSIONS ? "tls" :
		 "starttls", "rip=%s version=%s cipher=%s bits=%d", s->rip,
		 info.protocol, info.cipher, info.bits);
}

static const struct ioev_conn_callbacks session_callbacks = {
	.input = session_input,
	.close = session_close,
	.timeout = session_timeout,
	.tls_ready = session_tls_ready,
};

static enum smtp_mode
mode_of(enum listen_proto proto)
{
	switch (proto) {
	case PROTO_SUBMISSION:
		return SMTP_MODE_SUBMISSION;
	case PROTO_SUBMISSIONS:
		return SMTP_MODE_SUBMISSIONS;
	case PROTO_LMTP:
		return SMTP_MODE_LMTP;
	case PROTO_SENDMAIL:
		return SMTP_MODE_LOCAL;
	default:
		return SMTP_MODE_SMTP;
	}
}

void
smtp_server_start(struct ioev_conn *conn, struct worker *w,
		  enum listen_proto proto)
{
	struct smtp_server *srv = server_get(w);
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	struct smtp_parser_limits plim;
	const struct config_smtp *c = &srv->cfg->smtp;

	s->srv = srv;
	s->conn = conn;
	s->id = ioev_conn_id(conn);
	s->mode = mode_of(proto);
	s->state = SMTP_STATE_GREETING;
	log_str(s->rip, sizeof(s->rip), ioev_conn_peer_ip(conn));
	smtp_parser_limits_default(&plim);
	s->parser = smtp_parser_new(&plim);
	smtp_params_limits_default(&s->plimits);
	s->tls = ioev_conn_is_tls(conn);
	s->relay_ok = cidr_list_match(c->relay_networks,
				      ioev_conn_peer_sockaddr(conn));
	smtp_session_timeouts(s, false);
	ioev_conn_set_callbacks(conn, &session_callbacks, s);

	if (s->mode == SMTP_MODE_LOCAL) {
		uid_t uid;
		gid_t gid;
		pid_t pid;

		/* the kernel's word for who connected: the only identity a
		 * local submission has (docs/sendmail.md) */
		if (!ioev_conn_peer_cred(conn, &uid, &gid, &pid)) {
			log_warn(s->id, "smtp", "no-peer-credentials",
				 "proto=sendmail");
			smtp_session_close(s, "421 4.3.0 %s Error: cannot tell "
					      "who you are", srv->cfg->hostname);
			return;
		}
		s->local_uid = (unsigned)uid;
		s->relay_ok = true;	/* local users send anywhere */
		/* counted per user, as TCP clients are per address: the
		 * socket is open to every local user */
		snprintf(s->rip, sizeof(s->rip), "uid:%u", s->local_uid);
		log_info(s->id, "smtp", "connect", "rip=%s pid=%ld "
			 "proto=sendmail", s->rip, (long)pid);
	} else {
		log_info(s->id, "smtp", "connect", "rip=%s rport=%u lport=%u "
			 "proto=%s", s->rip, ioev_conn_peer_port(conn),
			 ioev_conn_local_port(conn), listen_proto_name(proto));
	}
	if (srv->store == NULL) {
		smtp_session_close(s, "421 4.3.0 %s Service not available, "
				      "try later", srv->cfg->hostname);
		return;
	}
	if (s->mode == SMTP_MODE_SMTP && c->greeting_delay_ms > 0) {
		smtp_session_delay(s, c->greeting_delay_ms, send_greeting);
		return;
	}
	send_greeting(s);
}

void
smtp_server_refuse(struct ioev_conn *conn, struct worker *w,
		   enum worker_refusal why)
{
	/* RFC 5321 3.1: a server that cannot serve says 421 instead of its
	 * greeting; 4.7.0 is policy (this address), 4.3.2 the system */
	if (why == WORKER_REFUSE_PER_IP)
		ioev_conn_printf(conn, "421 4.7.0 %s Error: too many "
				 "connections from your address\r\n",
				 w->cfg->hostname);
	else
		ioev_conn_printf(conn, "421 4.3.2 %s Error: too many "
				 "connections, try again later\r\n",
				 w->cfg->hostname);
	ioev_conn_close_after_write(conn);
}
