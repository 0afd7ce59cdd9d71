/* SPDX-License-Identifier: MIT */
/*
 * The short commands: RSET, NOOP, QUIT, VRFY/EXPN (never disclose
 * accounts), HELP and STARTTLS (RFC 3207: after the handshake the session
 * starts over; ioev drops whatever was pipelined behind the command).
 */
#include <stdlib.h>

#include "conf/worker.h"
#include "lib/mem.h"
#include "smtp/smtp-server-private.h"
#include "tls/tls.h"

void
smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_session_reset_tx(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

void
smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

void
smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_session_close(s, "221 2.0.0 Bye");
}

void
smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	/* RFC 5321 3.5.3: 252 when we will not verify (no account
	 * harvesting). */
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
		      "and attempt delivery");
}

void
smtp_cmd_help(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, "214 2.0.0 See RFC 5321 (https://www.rfc-editor.org/"
		      "rfc/rfc5321)");
}

void
smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t len)
{
	const char *error = NULL;

	if (s->tls) {
		smtp_reply(s, "503 5.5.1 Error: TLS already active");
		smtp_session_error(s);
		return;
	}
	if (!smtp_session_starttls_available(s)) {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		smtp_session_error(s);
		return;
	}
	if (len != 0) {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		smtp_session_error(s);
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (ioev_conn_starttls(s->conn, tls_server_ioev(s->srv->w->tls),
			       &error) < 0) {
		log_warn(s->id, "smtp", "starttls-failed", "rip=%s error=\"%s\"",
			 s->rip, error);
		smtp_session_close(s, "454 4.7.0 TLS not available");
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before the handshake.
	 * The starttls line comes when it is done (session_tls_ready). */
	s->tls = true;
	smtp_session_reset_tx(s);
	smtp_auth_abort(s);
	smtp_parser_reset(s->parser);
	xfree(&s->helo);
	s->esmtp = false;
}
