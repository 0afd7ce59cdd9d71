/* SPDX-License-Identifier: MIT */
/*
 * POP3 session: connection callbacks, the command table (state and arity
 * checks in one place), replies, error counting and the idle timeout.
 * Commands are handled in the order they arrive (RFC 2449 PIPELINING);
 * one that needs the thread pool pauses input until its reply is written.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/worker.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3.h"
#include "tls/tls.h"

#define STATE_AUTH (1u << POP3_STATE_AUTHORIZATION)
#define STATE_TRANS (1u << POP3_STATE_TRANSACTION)

typedef void pop3_cmd_cb_t(struct pop3_session *s, struct pop3_command *cmd);

struct pop3_cmd_def {
	pop3_cmd_cb_t *handler;
	unsigned states;
	unsigned min_args, max_args;
};

static void cmd_stls(struct pop3_session *s, struct pop3_command *cmd);

/* RFC 1939 sections 4-6, RFC 2449 5, RFC 2595 4, RFC 5034 4. */
static const struct pop3_cmd_def cmd_table[POP3_CMD_COUNT] = {
	[POP3_CMD_USER] = { pop3_cmd_user, STATE_AUTH, 1, 1 },
	[POP3_CMD_PASS] = { pop3_cmd_pass, STATE_AUTH, 1, 1 },
	[POP3_CMD_APOP] = { pop3_cmd_apop, STATE_AUTH, 2, 2 },
	[POP3_CMD_AUTH] = { pop3_cmd_auth, STATE_AUTH, 0, 2 },
	[POP3_CMD_STLS] = { cmd_stls, STATE_AUTH, 0, 0 },
	[POP3_CMD_CAPA] = { pop3_cmd_capa, STATE_AUTH | STATE_TRANS, 0, 0 },
	[POP3_CMD_QUIT] = { pop3_cmd_quit, STATE_AUTH | STATE_TRANS, 0, 0 },
	[POP3_CMD_STAT] = { pop3_cmd_stat, STATE_TRANS, 0, 0 },
	[POP3_CMD_LIST] = { pop3_cmd_list, STATE_TRANS, 0, 1 },
	[POP3_CMD_RETR] = { pop3_cmd_retr, STATE_TRANS, 1, 1 },
	[POP3_CMD_DELE] = { pop3_cmd_dele, STATE_TRANS, 1, 1 },
	[POP3_CMD_NOOP] = { pop3_cmd_noop, STATE_TRANS, 0, 0 },
	[POP3_CMD_RSET] = { pop3_cmd_rset, STATE_TRANS, 0, 0 },
	[POP3_CMD_TOP] = { pop3_cmd_top, STATE_TRANS, 2, 2 },
	[POP3_CMD_UIDL] = { pop3_cmd_uidl, STATE_TRANS, 0, 1 },
};

static unsigned session_count;

static const char *const state_names[] = {
	[POP3_STATE_AUTHORIZATION] = "authorization",
	[POP3_STATE_SASL] = "sasl",
	[POP3_STATE_TRANSACTION] = "transaction",
	[POP3_STATE_UPDATE] = "update",
	[POP3_STATE_DONE] = "done",
};

unsigned
pop3_session_count(void)
{
	return session_count;
}

void
pop3_session_set_state(struct pop3_session *s, enum pop3_state state)
{
	log_debug(s->id, "pop3", "state", "from=%s to=%s",
		  state_names[s->state], state_names[state]);
	s->state = state;
	/* SASL responses may be longer than commands (RFC 5034 4) */
	pop3_parser_set_line_max(s->parser, state == POP3_STATE_SASL ?
				 s->set->auth_line_max : s->set->line_max);
}

static void
reply(struct pop3_session *s, const char *status, const char *fmt,
      va_list ap)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, status);
	if (fmt[0] != '\0') {
		buf_putc(&b, ' ');
		buf_vprintf(&b, fmt, ap);
	}
	buf_append(&b, "\r\n", 2);
	(void)ioev_conn_write(s->conn, b.data, b.len);
	buf_deinit(&b);
}

void
pop3_reply_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "+OK", fmt, ap);
	va_end(ap);
}

void
pop3_reply_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "-ERR", fmt, ap);
	va_end(ap);
}

void
pop3_session_finish(struct pop3_session *s)
{
	pop3_session_set_state(s, POP3_STATE_DONE);
	ioev_conn_close_after_write(s->conn);
}

bool
pop3_session_error(struct pop3_session *s)
{
	if (++s->errors < s->set->max_errors)
		return false;
	log_info(s->id, "pop3", "too-many-errors", "rip=%s errors=%u",
		 ioev_conn_peer_ip(s->conn), s->errors);
	pop3_reply_err(s, "Too many errors, closing connection");
	pop3_session_finish(s);
	return true;
}

void
pop3_session_busy(struct pop3_session *s)
{
	if (s->busy)
		panic("pop3: session busy twice");
	s->busy = true;
	ioev_conn_pause(s->conn);
}

void
pop3_session_unbusy(struct pop3_session *s)
{
	if (!s->busy)
		panic("pop3: session not busy");
	s->busy = false;
	ioev_conn_resume(s->conn);
}

bool
pop3_session_plaintext_ok(const struct pop3_session *s)
{
	if (ioev_conn_is_tls(s->conn))
		return true;
	return s->cfg->auth.plaintext_on_loopback &&
	       ioev_conn_peer_is_local(s->conn);
}

bool
pop3_session_can_stls(const struct pop3_session *s)
{
	return s->proto == PROTO_POP3 && s->w->tls != NULL &&
	       !ioev_conn_is_tls(s->conn) &&
	       s->state == POP3_STATE_AUTHORIZATION;
}

/* RFC 2595 4: "+OK" in clear, then the handshake; the server forgets
 * everything learnt before it (only USER, here). ioev drops input that was
 * pipelined behind STLS. */
static void
cmd_stls(struct pop3_session *s, struct pop3_command *cmd)
{
	const char *error;

	if (!pop3_session_can_stls(s)) {
		pop3_reply_err(s, ioev_conn_is_tls(s->conn) ?
			       "TLS is already active" : "STLS not available");
		(void)pop3_session_error(s);
		return;
	}
	pop3_reply_ok(s, "Begin TLS negotiation");
	if (ioev_conn_starttls(s->conn, tls_server_ioev(s->w->tls),
			       &error) < 0) {
		log_warn(s->id, "pop3", "starttls-failed", "error=\"%s\"", error);
		ioev_conn_close(s->conn);
		return;
	}
	xfree(&s->user);
	pop3_parser_reset(s->parser);
}

static void
handle_line(struct pop3_session *s, char *line, size_t len)
{
	const struct pop3_cmd_def *def;
	struct pop3_command cmd;
	const char *error;
	char logbuf[64];

	if (s->state == POP3_STATE_SASL) {
		pop3_auth_line(s, line, len);
		return;
	}
	if (pop3_command_parse(line, len, &cmd, &error) < 0) {
		pop3_reply_err(s, "%s", error);
		(void)pop3_session_error(s);
		return;
	}
	def = &cmd_table[cmd.cmd];
	if (def->handler == NULL) {
		log_debug(s->id, "pop3", "unknown-command", "command=%s",
			  log_str(logbuf, sizeof(logbuf), cmd.keyword));
		pop3_reply_err(s, "Unknown command");
		(void)pop3_session_error(s);
		return;
	}
	if ((def->states & (1u << s->state)) == 0) {
		pop3_reply_err(s, s->state == POP3_STATE_AUTHORIZATION ?
			       "Not logged in" : "Command not valid in this state");
		(void)pop3_session_error(s);
		return;
	}
	if (cmd.n_args < def->min_args || cmd.n_args > def->max_args) {
		pop3_reply_err(s, "Wrong number of arguments for %s",
			       pop3_cmd_name(cmd.cmd));
		(void)pop3_session_error(s);
		return;
	}
	def->handler(s, &cmd);
}

static void
process_input(struct pop3_session *s)
{
	while (!s->busy && s->state != POP3_STATE_UPDATE &&
	       s->state != POP3_STATE_DONE && !ioev_conn_is_closed(s->conn)) {
		size_t avail = ioev_conn_input_len(s->conn), len, consumed;
		const uint8_t *data;
		enum pop3_parse_result r;
		char *line;

		/* a reader that does not read: stop until output drains */
		if (avail == 0 || ioev_conn_output_is_full(s->conn))
			return;
		data = ioev_conn_peek(s->conn, avail < 4096 ? avail : 4096,
				      &len);
		r = pop3_parser_feed(s->parser, data, len, &consumed, &line,
				     &len);
		/* command lines are short: each is cleared in the input
		 * buffer, so PASS, AUTH and SASL responses are not left in
		 * freed memory */
		ioev_conn_consume_wipe(s->conn, consumed);
		if (r == POP3_PARSE_TOO_LONG) {
			if (s->state == POP3_STATE_SASL) {
				/* RFC 5034 4: abandon the exchange */
				pop3_session_set_state(
					s, POP3_STATE_AUTHORIZATION);
				pop3_auth_deinit_exchange(s);
			}
			pop3_reply_err(s, "Line too long");
			(void)pop3_session_error(s);
		} else if (r == POP3_PARSE_LINE) {
			bool secret = s->state == POP3_STATE_SASL ||
				      (len >= 5 &&
				       (strncasecmp(line, "PASS ", 5) == 0 ||
					strncasecmp(line, "AUTH ", 5) == 0));

			handle_line(s, line, len);
			if (secret)
				pop3_parser_wipe(s->parser);
		}
	}
}

static void
on_input(struct ioev_conn *conn, void *ctx)
{
	process_input(ctx);
}

static void
on_drain(struct ioev_conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	if (!pop3_retr_drain(s))
		process_input(s);
}

static void
on_timeout(struct ioev_conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;

	log_info(s->id, "pop3", "timeout", "rip=%s state=%s",
		 ioev_conn_peer_ip(conn), state_names[s->state]);
	/* RFC 1939 3: an autologout does not enter UPDATE: nothing is
	 * deleted. */
	pop3_reply_err(s, "Autologout; idle for too long");
	pop3_session_finish(s);
}

static void
on_close(struct ioev_conn *conn, void *ctx, enum ioev_close_reason reason)
{
	struct pop3_session *s = ctx;
	char logbuf[300];

	log_info(s->id, "pop3", "disconnect",
		 "user=<%s> rip=%s reason=%s state=%s deleted=%zu",
		 s->drop.address != NULL ?
		 log_str(logbuf, sizeof(logbuf), s->drop.address) : "",
		 ioev_conn_peer_ip(conn), ioev_close_reason_name(reason),
		 state_names[s->state], s->n_deleted);
	pop3_retr_free(s);
	pop3_auth_deinit(s);
	pop3_maildrop_close(&s->drop);
	pop3_parser_free(&s->parser);
	free(s->user);
	free(s->apop_stamp);
	free(s);
	session_count--;
}

/* The handshake is done (STLS, or pop3s): the log says with what. */
static void
on_tls_ready(struct ioev_conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;
	struct ioev_tls_info info;

	ioev_conn_tls_info(conn, &info);
	log_info(s->id, "pop3", s->proto == PROTO_POP3S ? "tls" : "starttls",
		 "rip=%s version=%s cipher=%s bits=%d",
		 ioev_conn_peer_ip(conn), info.protocol, info.cipher,
		 info.bits);
}

static const struct ioev_conn_callbacks pop3_callbacks = {
	.input = on_input,
	.close = on_close,
	.drain = on_drain,
	.timeout = on_timeout,
	.tls_ready = on_tls_ready,
};

void
pop3_session_refuse(struct ioev_conn *conn, struct worker *w,
		    enum worker_refusal why)
{
	/* RFC 1939 4: a server may answer the connection with -ERR; RFC
	 * 3206's [SYS/TEMP] tells the client it is worth trying later */
	ioev_conn_puts(conn, why == WORKER_REFUSE_PER_IP ?
		       "-ERR [SYS/TEMP] Too many connections from your "
		       "address\r\n" :
		       "-ERR [SYS/TEMP] Too many connections, try again "
		       "later\r\n");
	ioev_conn_close_after_write(conn);
}

void
pop3_session_start(struct ioev_conn *conn, struct worker *w,
		   enum listen_proto proto)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct ioev_conn_limits limits = { 0 };
	struct pop3_limits plimits;

	s->conn = conn;
	s->w = w;
	s->cfg = w->cfg;
	s->set = &w->cfg->pop3;
	s->store = w->store;
	s->id = ioev_conn_id(conn);
	s->proto = proto;
	s->drop.lock_fd = -1;
	plimits.line_max = s->set->line_max;
	s->parser = pop3_parser_new(&plimits);
	session_count++;

	/* input_max must hold the longest line we accept (ioev stops reading
	 * beyond it; the parser copies lines out as they come anyway) */
	limits.input_max = (s->set->auth_line_max > 65536 ?
			    s->set->auth_line_max : 65536);
	limits.idle_timeout_ms = s->set->idle_timeout_ms;
	ioev_conn_set_limits(conn, &limits);
	log_info(s->id, "pop3", "connect", "rip=%s rport=%u lport=%u tls=%s",
		 ioev_conn_peer_ip(conn), ioev_conn_peer_port(conn),
		 ioev_conn_local_port(conn),
		 proto == PROTO_POP3S ? "yes" : "no");
	if (s->set->apop)
		s->apop_stamp = pop3_apop_stamp_new(s->cfg);
	/* on pop3s this is sent once the handshake is done */
	if (s->apop_stamp != NULL)
		pop3_reply_ok(s, "Herald POP3 server ready %s", s->apop_stamp);
	else
		pop3_reply_ok(s, "Herald POP3 server ready");
	ioev_conn_set_callbacks(conn, &pop3_callbacks, s);
}
