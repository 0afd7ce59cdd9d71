/* SPDX-License-Identifier: MIT */
/*
 * AUTH (RFC 4954) with PLAIN, LOGIN and SCRAM-SHA-256 from src/sasl/.
 * Every step runs on the thread pool (credential lookup, argon2). Failed
 * logins are delayed ([auth] fail_delay), counted per client address and
 * per account (sasl/ratelimit), and logged in one fail2ban-friendly shape:
 *   <sid> smtp auth-failed user=<name> method=PLAIN rip=192.0.2.1
 * Passwords and SASL messages are never logged.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/base64.h"
#include "lib/mem.h"
#include "sasl/ratelimit.h"
#include "sasl/sasl.h"
#include "smtp/smtp-server-private.h"
#include "store/store.h"

/* A credential lookup's result travels through the session, which is
 * paused (and kept alive by ioev) while the step runs. */
struct auth_job {
	struct smtp_session *s;
	uint8_t *in;		/* NULL: no initial response */
	size_t inlen;
	struct buf out;
	enum sasl_result result;
	const char *error;
	int64_t account_id;	/* filled by the lookup */
	char *account;
};

/* Per-account counters ignore ASCII case, like the account lookup, so
 * "Bob" and "bob" share one budget. */
static void
user_key(const char *user, char *out, size_t outsz)
{
	size_t i = 0;

	for (; user[i] != '\0' && i + 1 < outsz; i++) {
		char c = user[i];

		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[i] = '\0';
}

static int
auth_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	struct auth_job *j = ctx;
	struct store_user *u = NULL;
	enum store_result r = store_user_lookup(j->s->srv->store, user, &u,
						NULL);

	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return SASL_LOOKUP_UNKNOWN;
	if (r != STORE_OK)
		return SASL_LOOKUP_TEMPFAIL;
	cred_r->password_hash = u->password_hash != NULL
		? xstrdup(u->password_hash) : NULL;
	cred_r->scram_sha256 = u->scram_sha256 != NULL
		? xstrdup(u->scram_sha256) : NULL;
	j->account_id = u->id;
	free(j->account);
	j->account = xstrdup(u->address);
	store_user_free(&u);
	return SASL_LOOKUP_FOUND;
}

/* The lookup callback's ctx must stay put for the whole exchange. */
static struct auth_job *
session_job(struct smtp_session *s)
{
	return (struct auth_job *)s->auth_job;
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
	sasl_server_free(&s->sasl);
	if (j != NULL) {
		free(j->in);
		if (j->out.data != NULL) {
			mem_wipe(j->out.data, j->out.len);
			buf_deinit(&j->out);
		}
		free(j->account);
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
auth_failed(struct smtp_session *s, const char *reason)
{
	const char *user = s->sasl != NULL
		? sasl_server_attempted_user(s->sasl) : NULL;
	char ubuf[300], key[RATELIMIT_MAX_KEY + 1];
	time_t now = time(NULL);

	log_info(s->id, "smtp", "auth-failed", "user=<%s> method=%s rip=%s "
		 "reason=\"%s\"", smtp_log_addr(ubuf, sizeof(ubuf), user),
		 s->sasl != NULL ? sasl_server_mech(s->sasl) : "?", s->rip,
		 reason);
	ratelimit_fail(s->srv->rl_ip, ioev_conn_peer_ip(s->conn), now);
	if (user != NULL && user[0] != '\0') {
		user_key(user, key, sizeof(key));
		ratelimit_fail(s->srv->rl_user, key, now);
	}
	smtp_auth_abort(s);
	s->auth_failures++;
	smtp_session_delay(s, s->srv->cfg->auth.fail_delay_ms, fail_reply);
}

static void
auth_succeeded(struct smtp_session *s, struct auth_job *j)
{
	const char *user = sasl_server_username(s->sasl);
	char ubuf[300], key[RATELIMIT_MAX_KEY + 1];

	user_key(user, key, sizeof(key));
	if (ratelimit_is_blocked(s->srv->rl_user, key, time(NULL))) {
		log_info(s->id, "smtp", "auth-ratelimited", "user=<%s> "
			 "method=%s rip=%s", log_str(ubuf, sizeof(ubuf), user),
			 sasl_server_mech(s->sasl), s->rip);
		smtp_auth_abort(s);
		smtp_reply(s, "454 4.7.0 Error: too many failed logins, try "
			      "again later");
		smtp_session_error(s);
		return;
	}
	ratelimit_success(s->srv->rl_ip, ioev_conn_peer_ip(s->conn));
	ratelimit_success(s->srv->rl_user, key);
	s->auth_user = xstrdup(j->account != NULL ? j->account : user);
	s->auth_account_id = j->account_id;
	log_info(s->id, "smtp", "auth-ok", "user=<%s> method=%s rip=%s",
		 log_str(ubuf, sizeof(ubuf), s->auth_user),
		 sasl_server_mech(s->sasl), s->rip);
	smtp_auth_abort(s);
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

static void
step_work(void *ctx)
{
	struct auth_job *j = ctx;

	j->result = sasl_server_step(j->s->sasl, j->in, j->inlen, &j->out,
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
	switch (j->result) {
	case SASL_CONTINUE: {
		struct buf b;

		buf_init(&b);
		base64_encode((const uint8_t *)j->out.data, j->out.len, &b);
		smtp_reply(s, "334 %s", b.data);
		buf_deinit(&b);
		smtp_session_set_state(s, SMTP_STATE_AUTH);
		return;
	}
	case SASL_OK:
		auth_succeeded(s, j);
		return;
	case SASL_FAIL:
		auth_failed(s, j->error != NULL ? j->error : "bad credentials");
		return;
	case SASL_BAD_PROTOCOL:
		smtp_auth_abort(s);
		smtp_reply(s, "501 5.5.2 Error: malformed authentication "
			      "exchange");
		smtp_session_error(s);
		return;
	case SASL_TEMPFAIL:
		log_warn(s->id, "smtp", "auth-tempfail", "method=%s rip=%s "
			 "reason=\"%s\"", sasl_server_mech(s->sasl), s->rip,
			 j->error != NULL ? j->error : "?");
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
	if (ratelimit_is_blocked(s->srv->rl_ip, ioev_conn_peer_ip(s->conn),
				 time(NULL))) {
		log_info(s->id, "smtp", "auth-ratelimited", "user=<> method=%s "
			 "rip=%s", mech, s->rip);
		smtp_reply(s, "454 4.7.0 Error: too many failed logins, try "
			      "again later");
		smtp_session_error(s);
		return;
	}
	struct auth_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	buf_init(&j->out);
	s->auth_job = j;
	s->sasl = sasl_server_new(mech, auth_lookup, j);
	if (s->sasl == NULL) {
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
