/* SPDX-License-Identifier: MIT */
/*
 * Getting in: STARTTLS (RFC 9051 6.2.1), LOGIN (run as SASL PLAIN so one
 * code path checks passwords) and AUTHENTICATE with PLAIN, LOGIN and
 * SCRAM-SHA-256 and SASL-IR (RFC 4959), all through the one login service
 * (sasl/login.h: lookup, failure budgets shared with SMTP and POP3, the
 * fail delay, the auth-failed line fail2ban reads). Steps run on the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/worker.h"
#include "imap/imap-private.h"
#include "lib/base64.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "sasl/login.h"
#include "tls/tls.h"

struct auth_job {
	struct login_attempt *login;	/* borrowed from the session */
	struct buf in;
	bool has_in;
	struct buf out;
	enum sasl_result result;
	const char *error;
};

static struct login_service *
session_login(const struct imap_session *s)
{
	return login_service_get(&s->cfg->auth);
}

static void
auth_job_free(void *ctx)
{
	struct auth_job *job = ctx;

	mem_wipe(job->in.data, job->in.len);
	buf_deinit(&job->in);
	mem_wipe(job->out.data, job->out.len);
	buf_deinit(&job->out);
	free(job);
}

static struct auth_job *
auth_job_new(struct imap_session *s)
{
	struct auth_job *job = xcalloc(1, sizeof(*job));

	job->login = s->login;
	buf_init(&job->in);
	buf_init(&job->out);
	return job;
}

static void
auth_work(void *ctx)
{
	struct auth_job *job = ctx;

	job->result = login_attempt_step(job->login, job->has_in ?
					 (const uint8_t *)job->in.data : NULL,
					 job->in.len, &job->out, &job->error);
}

enum imap_cmd_result
imap_cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *error;

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "STARTTLS takes no arguments");
	if (s->proto != PROTO_IMAP || s->w->tls == NULL ||
	    ioev_conn_is_tls(s->conn))
		return imap_cmd_bad(cmd, ioev_conn_is_tls(s->conn) ?
				    "TLS is already active" :
				    "STARTTLS is not available");
	/* after UNAUTHENTICATE the deflate layer stays (RFC 8437 3); TLS
	 * would have to go under it, which ioev cannot do */
	if (s->compress != NULL)
		return imap_cmd_bad(cmd, "STARTTLS is not available after "
				    "COMPRESS");
	(void)imap_cmd_ok(cmd, "Begin TLS negotiation now");
	/* RFC 9051 6.2.1: what the client pipelined behind STARTTLS is
	 * dropped by ioev; the parser forgets any partial command */
	if (ioev_conn_starttls(s->conn, tls_server_ioev(s->w->tls),
			       &error) < 0) {
		log_warn(s->id, "imap", "starttls-failed", "error=\"%s\"",
			 error);
		ioev_conn_close(s->conn);
		return IMAP_CMD_FINISHED;
	}
	imap_parser_reset(s->parser);
	return IMAP_CMD_FINISHED;
}

static enum imap_cmd_result auth_line(struct imap_cmd *cmd, const char *line,
				      size_t len);

static void
delay_done(void *ctx)
{
	struct imap_session *s = ctx;

	if (s->cmd != NULL)
		(void)imap_cmd_no(s->cmd, "[AUTHENTICATIONFAILED] "
				  "Authentication failed");
}

static void
login_ok(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct buf caps;
	char ubuf[300];

	if (!imap_session_user_add(s, login_attempt_account_id(s->login))) {
		log_info(s->id, "imap", "too-many-sessions",
			 "user=<%s> rip=%s max=%u",
			 log_str(ubuf, sizeof(ubuf),
				 login_attempt_account(s->login)),
			 ioev_conn_peer_ip(s->conn),
			 s->set->max_sessions_per_user);
		login_attempt_free(&s->login);
		(void)imap_cmd_no(cmd, "[LIMIT] Too many IMAP sessions for "
				  "this account");
		return;
	}
	s->account_id = login_attempt_account_id(s->login);
	s->user = xstrdup(login_attempt_account(s->login));
	log_info(s->id, "imap", "login", "user=<%s> method=%s rip=%s tls=%s",
		 log_str(ubuf, sizeof(ubuf), s->user),
		 login_attempt_method(s->login), ioev_conn_peer_ip(s->conn),
		 ioev_conn_is_tls(s->conn) ? "yes" : "no");
	login_attempt_free(&s->login);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	/* RFC 9051 6.2.2: the capabilities may change at login; sending
	 * them saves the client a round trip */
	buf_init(&caps);
	imap_session_capabilities(s, &caps);
	(void)imap_cmd_ok(cmd, "[CAPABILITY %s] Logged in", caps.data);
	buf_deinit(&caps);
}

static void
auth_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct auth_job *job = cmd->ctx;

	if (job->result == SASL_CONTINUE) {
		struct buf line;

		/* RFC 9051 7.5: "+ " then the base64 challenge */
		buf_init(&line);
		buf_puts(&line, "+ ");
		base64_encode((const uint8_t *)job->out.data, job->out.len,
			      &line);
		buf_append(&line, "\r\n", 2);
		(void)ioev_conn_write(s->conn, line.data, line.len);
		buf_deinit(&line);
		imap_session_want_line(cmd, auth_line);
		return;
	}
	switch (login_attempt_finish(s->login, job->result, job->error)) {
	case LOGIN_OUTCOME_OK:
		login_ok(cmd);
		return;
	case LOGIN_OUTCOME_FAILED: {
		uint64_t ms = login_service_fail_delay_ms(session_login(s));

		login_attempt_free(&s->login);
		if (ms == 0) {
			delay_done(s);
			return;
		}
		/* the session stays busy: pipelined guesses wait too */
		if (s->delay_timer == NULL)
			s->delay_timer = ioev_timer_new(s->w->loop,
							delay_done, s);
		ioev_timer_start(s->delay_timer, ms, false);
		return;
	}
	case LOGIN_OUTCOME_LIMITED:
		login_attempt_free(&s->login);
		(void)imap_cmd_no(cmd, "[UNAVAILABLE] Too many failed logins, "
				  "try again later");
		return;
	case LOGIN_OUTCOME_TEMPFAIL:
		login_attempt_free(&s->login);
		(void)imap_cmd_no(cmd, "[UNAVAILABLE] Temporary authentication "
				  "failure, try again later");
		return;
	case LOGIN_OUTCOME_MALFORMED:
		login_attempt_free(&s->login);
		(void)imap_cmd_bad(cmd, "Authentication failed: malformed "
				   "response");
		return;
	}
}

static enum imap_cmd_result
run_step(struct imap_cmd *cmd, struct auth_job *job)
{
	return imap_cmd_run_blocking(cmd, auth_work, auth_done, job,
				     auth_job_free);
}

/* Starts an attempt; false (answered) when the address or the account
 * has spent its failure budget. */
static bool
attempt_new(struct imap_cmd *cmd, const char *mech, const char *method,
	    const char *user)
{
	struct imap_session *s = cmd->s;
	struct login_client client = {
		.sid = s->id, .proto = "imap", .ip = ioev_conn_peer_ip(s->conn),
	};

	if (!login_service_allows(session_login(s), s->id, "imap",
				  method != NULL ? method : mech, client.ip,
				  user)) {
		(void)imap_cmd_no(cmd, "[UNAVAILABLE] Too many failed logins, "
				  "try again later");
		return false;
	}
	s->login = login_attempt_new(session_login(s), s->store, &client,
				     mech, method);
	if (s->login == NULL)
		panic("imap: mechanism %s vanished", mech);
	return true;
}

static enum imap_cmd_result
refuse_plaintext(struct imap_cmd *cmd)
{
	/* RFC 9051 6.2.3 and DESIGN 7: no password in clear off loopback */
	return imap_cmd_no(cmd, "[PRIVACYREQUIRED] Plaintext authentication "
			   "is disallowed on non-secure connections; use "
			   "STARTTLS or port 993");
}

enum imap_cmd_result
imap_cmd_login(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *user, *pass;
	size_t ulen, plen;
	struct auth_job *job;

	if (cmd->n_args != 2 ||
	    !imap_arg_get_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass, &plen))
		return imap_cmd_bad(cmd, "LOGIN needs a user name and a "
				    "password");
	if (!imap_session_plaintext_ok(s))
		return refuse_plaintext(cmd);
	if (ulen == 0 || ulen > SASL_MAX_USERNAME || memchr(user, 0, ulen) ||
	    memchr(pass, 0, plen))
		return imap_cmd_no(cmd, "[AUTHENTICATIONFAILED] "
				   "Authentication failed");
	if (!attempt_new(cmd, "PLAIN", "LOGIN", user))
		return IMAP_CMD_FINISHED;
	job = auth_job_new(s);
	/* RFC 4616: authzid NUL authcid NUL passwd */
	buf_putc(&job->in, '\0');
	buf_append(&job->in, user, ulen);
	buf_putc(&job->in, '\0');
	buf_append(&job->in, pass, plen);
	job->has_in = true;
	return run_step(cmd, job);
}

static enum imap_cmd_result
auth_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	struct imap_session *s = cmd->s;
	struct auth_job *job;

	s->line_cb = NULL;
	if (line == NULL) {
		login_attempt_free(&s->login);
		return imap_cmd_bad(cmd, "Invalid authentication response");
	}
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 6.2.2: the client cancels */
		login_attempt_free(&s->login);
		return imap_cmd_bad(cmd, "Authentication cancelled");
	}
	if (len > s->set->auth_line_max) {
		login_attempt_free(&s->login);
		return imap_cmd_bad(cmd, "Authentication response too long");
	}
	job = auth_job_new(s);
	job->has_in = true;
	if (base64_decode(line, len, &job->in) < 0) {
		auth_job_free(job);
		login_attempt_free(&s->login);
		return imap_cmd_bad(cmd, "Invalid base64 in response");
	}
	imap_session_pause(s, true);
	return run_step(cmd, job);
}

enum imap_cmd_result
imap_cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *mech;
	struct auth_job *job;

	if (cmd->n_args < 1 || cmd->n_args > 2 ||
	    cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->n_args == 2 && cmd->args[1].type != IMAP_ARG_ATOM))
		return imap_cmd_bad(cmd, "AUTHENTICATE needs a mechanism and "
				    "an optional initial response");
	mech = cmd->args[0].str;
	if (!sasl_mech_is_supported(mech))
		return imap_cmd_no(cmd, "Unsupported authentication "
				   "mechanism");
	if (sasl_mech_is_plaintext(mech) && !imap_session_plaintext_ok(s))
		return refuse_plaintext(cmd);
	if (!attempt_new(cmd, mech, NULL, NULL))
		return IMAP_CMD_FINISHED;
	job = auth_job_new(s);
	if (cmd->n_args == 2) {
		/* RFC 4959: "=" is an empty initial response */
		job->has_in = true;
		if (strcmp(cmd->args[1].str, "=") != 0 &&
		    base64_decode(cmd->args[1].str, cmd->args[1].len,
				  &job->in) < 0) {
			auth_job_free(job);
			login_attempt_free(&s->login);
			return imap_cmd_bad(cmd, "Invalid base64 in initial "
					    "response");
		}
	}
	return run_step(cmd, job);
}

/* UNAUTHENTICATE (RFC 8437): back to not authenticated on the same
 * connection, so a client can log in as someone else without a new TLS
 * handshake. */
enum imap_cmd_result
imap_cmd_unauthenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	char ubuf[300];

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "UNAUTHENTICATE takes no arguments");
	log_info(s->id, "imap", "unauthenticate", "user=<%s> rip=%s",
		 log_str(ubuf, sizeof(ubuf), s->user),
		 ioev_conn_peer_ip(s->conn));
	imap_session_unauthenticate(s);
	return imap_cmd_ok(cmd, "UNAUTHENTICATE completed");
}
