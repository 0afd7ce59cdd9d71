/* SPDX-License-Identifier: MIT */
/*
 * AUTH (RFC 4954) with PLAIN, LOGIN and SCRAM-SHA-256 through the login
 * service (sasl/login.h), which looks the user up, keeps the failure
 * budgets shared with POP3 and logs the auth-failed line. Every step runs
 * on the thread pool (credential lookup, argon2); a failure is answered
 * after [auth] fail_delay. Passwords and SASL messages are never logged.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/mem.h"
#include "sasl/login.h"
#include "smtp/smtp-server-private.h"

/* One exchange; the session is paused (and kept alive by ioev) while a
 * step runs. */
struct auth_job {
	struct smtp_session *s;
	struct login_attempt *login;
	uint8_t *in;		/* NULL: no initial response */
	size_t inlen;
	struct buf out;
	enum sasl_result result;
	const char *error;
};

static struct auth_job *
session_job(struct smtp_session *s)
{
	return (struct auth_job *)s->auth_job;
}

static struct login_service *
session_login(struct smtp_session *s)
{
	return login_service_get(&s->srv->cfg->auth);
}

void
smtp_auth_abort(struct smtp_session *s)
{
	struct auth_job *j = session_job(s);

	/* A session waiting for a response line goes back to commands: left
	 * in SMTP_STATE_AUTH, its next line would feed an exchange that is
	 * gone. */
	if (s->state == SMTP_STATE_AUTH)
		smtp_session_set_state(s, SMTP_STATE_COMMAND);
	if (j != NULL) {
		login_attempt_free(&j->login);
		free(j->in);
		if (j->out.data != NULL) {
			mem_wipe(j->out.data, j->out.len);
			buf_deinit(&j->out);
		}
		free(j);
		s->auth_job = NULL;
	}
}

static void
fail_reply(struct smtp_session *s)
{
	smtp_reply(s, "535 5.7.8 Error: authentication failed");
	smtp_session_error(s);
}

static void
auth_succeeded(struct smtp_session *s, struct auth_job *j)
{
	char ubuf[300];

	s->auth_user = xstrdup(login_attempt_account(j->login));
	s->auth_account_id = login_attempt_account_id(j->login);
	log_info(s->id, "smtp", "auth-ok", "user=<%s> method=%s rip=%s",
		 log_str(ubuf, sizeof(ubuf), s->auth_user),
		 login_attempt_method(j->login), s->rip);
	smtp_auth_abort(s);
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

static void
limited_reply(struct smtp_session *s)
{
	smtp_reply(s, "454 4.7.0 Error: too many failed logins, try again "
		      "later");
	smtp_session_error(s);
}

static void
step_work(void *ctx)
{
	struct auth_job *j = ctx;

	j->result = login_attempt_step(j->login, j->in, j->inlen, &j->out,
				       &j->error);
}

static void
step_done(void *ctx)
{
	struct auth_job *j = ctx;
	struct smtp_session *s = j->s;

	if (j->in != NULL) {
		mem_wipe(j->in, j->inlen);
		xfree(&j->in);
	}
	if (!smtp_session_job_end(s))
		return;
	if (j->result == SASL_CONTINUE) {
		struct buf b;

		buf_init(&b);
		base64_encode((const uint8_t *)j->out.data, j->out.len, &b);
		smtp_reply(s, "334 %s", b.data);
		buf_deinit(&b);
		smtp_session_set_state(s, SMTP_STATE_AUTH);
		return;
	}
	switch (login_attempt_finish(j->login, j->result, j->error)) {
	case LOGIN_OUTCOME_OK:
		auth_succeeded(s, j);
		return;
	case LOGIN_OUTCOME_FAILED:
		smtp_auth_abort(s);
		s->auth_failures++;
		smtp_session_delay(s, login_service_fail_delay_ms(
					   session_login(s)), fail_reply);
		return;
	case LOGIN_OUTCOME_LIMITED:
		smtp_auth_abort(s);
		limited_reply(s);
		return;
	case LOGIN_OUTCOME_MALFORMED:
		smtp_auth_abort(s);
		smtp_reply(s, "501 5.5.2 Error: malformed authentication "
			      "exchange");
		smtp_session_error(s);
		return;
	case LOGIN_OUTCOME_TEMPFAIL:
		smtp_auth_abort(s);
		smtp_reply(s, "454 4.7.0 Error: temporary authentication "
			      "failure");
		return;
	}
}

static void
run_step(struct smtp_session *s, const char *b64, size_t len, bool initial)
{
	struct auth_job *j = session_job(s);
	struct buf dec;

	if (b64 == NULL) {
		j->in = NULL;
		j->inlen = 0;
	} else {
		buf_init(&dec);
		/* "=" is an empty initial response (RFC 4954 4); an empty
		 * line is an empty continuation. */
		if (!(len == 1 && b64[0] == '=' && initial) &&
		    base64_decode(b64, len, &dec) < 0) {
			buf_deinit(&dec);
			smtp_auth_abort(s);
			smtp_reply(s, "501 5.5.2 Error: cannot decode "
				      "response");
			smtp_session_error(s);
			return;
		}
		j->inlen = dec.len;
		j->in = xmemdup(dec.data, dec.len + 1);
		mem_wipe(dec.data, dec.len);
		buf_deinit(&dec);
	}
	smtp_session_run(s, step_work, step_done, j);
}

void
smtp_auth_input(struct smtp_session *s, const char *line, size_t len)
{
	smtp_session_set_state(s, SMTP_STATE_COMMAND);
	if (len == 1 && line[0] == '*') {
		smtp_auth_abort(s);
		smtp_reply(s, "501 5.0.0 Error: authentication aborted");
		smtp_session_error(s);
		return;
	}
	run_step(s, line, len, false);
}

void
smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len)
{
	char mech[32];
	size_t ml = 0;

	if (!smtp_session_auth_offered(s)) {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		smtp_session_error(s);
		return;
	}
	if (s->auth_user != NULL) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		smtp_session_error(s);
		return;
	}
	if (s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: AUTH not allowed during a mail "
			      "transaction");
		smtp_session_error(s);
		return;
	}
	if (s->helo == NULL || !s->esmtp) {
		smtp_reply(s, "503 5.5.1 Error: send EHLO first");
		smtp_session_error(s);
		return;
	}
	if (!smtp_session_auth_allowed(s)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		smtp_session_error(s);
		return;
	}
	while (ml < len && arg[ml] != ' ')
		ml++;
	if (ml == 0 || ml >= sizeof(mech)) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		smtp_session_error(s);
		return;
	}
	memcpy(mech, arg, ml);
	mech[ml] = '\0';
	if (!sasl_mech_is_supported(mech)) {
		smtp_reply(s, "504 5.5.4 Error: unsupported authentication "
			      "mechanism");
		smtp_session_error(s);
		return;
	}
	struct login_client client = {
		.sid = s->id, .proto = "smtp",
		.ip = ioev_conn_peer_ip(s->conn), .rip = s->rip,
	};

	if (!login_service_allows(session_login(s), s->id, "smtp", mech,
				  client.ip, NULL)) {
		limited_reply(s);
		return;
	}
	struct auth_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	buf_init(&j->out);
	s->auth_job = j;
	j->login = login_attempt_new(session_login(s), s->srv->store, &client,
				     mech, NULL);
	if (j->login == NULL) {
		smtp_auth_abort(s);
		smtp_reply(s, "504 5.5.4 Error: unsupported authentication "
			      "mechanism");
		smtp_session_error(s);
		return;
	}
	const char *ir = NULL;
	size_t irlen = 0;

	if (ml < len) {
		ir = arg + ml + 1;
		irlen = len - ml - 1;
	}
	run_step(s, ir, irlen, true);
}
