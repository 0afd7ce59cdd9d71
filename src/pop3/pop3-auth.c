/* SPDX-License-Identifier: MIT */
/*
 * AUTHORIZATION state: USER/PASS (run as SASL PLAIN so one code path checks
 * passwords), AUTH (RFC 5034) with the sasl module's mechanisms, APOP
 * (RFC 1939 7, off by default), all through the login service
 * (sasl/login.h: lookup, failure budgets shared with SMTP, the auth-failed
 * line). Steps run on the thread pool; a success locks and snapshots the
 * maildrop in the same job. Failures are answered after the fail delay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/worker.h"
#include "lib/base64.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "sasl/login.h"

enum auth_mode { AUTH_MODE_SASL, AUTH_MODE_APOP };

/* Owned by the job while it runs on a pool thread; the session is only
 * touched again in auth_done, on the loop thread (ioev_conn_run_blocking
 * keeps it alive until then). */
struct auth_job {
	struct pop3_session *s;
	enum auth_mode mode;
	struct store *store;
	const struct config *cfg;
	struct login_attempt *login;	/* borrowed from the session */
	struct buf in;
	bool has_in;
	struct buf out;
	enum sasl_result result;
	const char *error;
	/* APOP */
	char *apop_user, *apop_digest, *apop_stamp;
	/* maildrop, after a success */
	enum pop3_drop_result drop_result;
	/* copied on the pool thread: a store error lives in that thread's
	 * buffer, which its next job overwrites */
	char drop_error[200];
	struct pop3_maildrop drop;
};

static const char *
peer_ip(const struct pop3_session *s)
{
	return ioev_conn_peer_ip(s->conn);
}

static struct login_service *
session_login(const struct pop3_session *s)
{
	return login_service_get(&s->cfg->auth);
}

static void
auth_work(void *ctx)
{
	struct auth_job *job = ctx;

	if (job->mode == AUTH_MODE_APOP)
		job->result = login_attempt_apop(job->login, job->apop_user,
						 job->apop_stamp,
						 job->apop_digest,
						 &job->error);
	else
		job->result = login_attempt_step(job->login, job->has_in ?
						 (const uint8_t *)job->in.data :
						 NULL, job->in.len, &job->out,
						 &job->error);
	if (job->result == SASL_OK) {
		const char *error = NULL;

		job->drop_result = pop3_maildrop_open(
			job->store, job->cfg,
			login_attempt_account_id(job->login), &job->drop,
			&error);
		snprintf(job->drop_error, sizeof(job->drop_error), "%s",
			 error != NULL ? error : "?");
	}
}

static void
auth_job_free(struct auth_job **jobp)
{
	struct auth_job *job = *jobp;

	mem_wipe(job->in.data, job->in.len);
	buf_deinit(&job->in);
	buf_deinit(&job->out);
	free(job->apop_user);
	if (job->apop_digest != NULL)
		mem_free_secret(&job->apop_digest);
	free(job->apop_stamp);
	pop3_maildrop_close(&job->drop);
	xfree(jobp);
}

static void
delay_done(void *ctx)
{
	struct pop3_session *s = ctx;

	if (s->delayed_reply != NULL)
		(void)ioev_conn_puts(s->conn, s->delayed_reply);
	xfree(&s->delayed_reply);
	pop3_session_unbusy(s);
}

/* Answers a failed login after auth.fail_delay (the session stays busy
 * meanwhile, so pipelined guesses wait too). */
static void
reply_delayed(struct pop3_session *s, const char *text)
{
	uint64_t ms = login_service_fail_delay_ms(session_login(s));

	if (ms == 0) {
		(void)ioev_conn_puts(s->conn, text);
		pop3_session_unbusy(s);
		return;
	}
	free(s->delayed_reply);
	s->delayed_reply = xstrdup(text);
	if (s->delay_timer == NULL)
		s->delay_timer = ioev_timer_new(s->w->loop,
						delay_done, s);
	ioev_timer_start(s->delay_timer, ms, false);
}

static void
login_success(struct pop3_session *s, struct auth_job *job)
{
	const char *method = login_attempt_method(job->login);
	char ubuf[300];

	s->drop = job->drop;
	s->drop.address = xstrdup(login_attempt_account(job->login));
	memset(&job->drop, 0, sizeof(job->drop));
	job->drop.lock_fd = -1;
	pop3_session_set_state(s, POP3_STATE_TRANSACTION);
	log_info(s->id, "pop3", "login",
		 "user=<%s> method=%s rip=%s tls=%s messages=%zu size=%llu",
		 log_str(ubuf, sizeof(ubuf), s->drop.address), method,
		 peer_ip(s), ioev_conn_is_tls(s->conn) ? "yes" : "no",
		 s->drop.n_msgs, (unsigned long long)s->drop.total_size);
	pop3_reply_ok(s, "Logged in, %zu messages (%llu octets)",
		      s->drop.n_msgs, (unsigned long long)s->drop.total_size);
}

/* The end of a login whose password was right: the maildrop. */
static void
login_opened(struct pop3_session *s, struct auth_job *job)
{
	char ubuf[300];

	switch (job->drop_result) {
	case POP3_DROP_OK:
		login_success(s, job);
		break;
	case POP3_DROP_IN_USE:
		log_info(s->id, "pop3", "in-use", "user=<%s> rip=%s",
			 log_str(ubuf, sizeof(ubuf),
				 login_attempt_account(job->login)),
			 peer_ip(s));
		pop3_reply_err(s, "[IN-USE] Maildrop is locked by another POP3 "
			       "session");
		break;
	case POP3_DROP_LOGIN_DELAY:
		pop3_reply_err(s, "[LOGIN-DELAY] Logged in too recently; wait "
			       "%llu seconds between logins",
			       (unsigned long long)s->set->login_delay_s);
		break;
	case POP3_DROP_TEMP:
		log_warn(s->id, "pop3", "maildrop-failed",
			 "user=<%s> error=\"%s\"",
			 log_str(ubuf, sizeof(ubuf),
				 login_attempt_account(job->login)),
			 job->drop_error);
		pop3_reply_err(s, "[SYS/TEMP] Cannot open the maildrop, try "
			       "again later");
		break;
	}
	pop3_session_unbusy(s);
}

static void
limited_reply(struct pop3_session *s)
{
	pop3_reply_err(s, "[SYS/TEMP] Too many failed logins, try again later");
	(void)pop3_session_error(s);
}

static void
auth_done(void *ctx)
{
	struct auth_job *job = ctx;
	struct pop3_session *s = job->s;

	if (ioev_conn_is_closed(s->conn)) {
		auth_job_free(&job);
		return;
	}
	if (job->result == SASL_CONTINUE) {
		struct buf line;

		buf_init(&line);
		buf_puts(&line, "+ ");
		base64_encode((const uint8_t *)job->out.data, job->out.len,
			      &line);
		buf_append(&line, "\r\n", 2);
		(void)ioev_conn_write(s->conn, line.data, line.len);
		buf_deinit(&line);
		pop3_session_set_state(s, POP3_STATE_SASL);
		auth_job_free(&job);
		pop3_session_unbusy(s);
		return;
	}
	pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
	switch (login_attempt_finish(job->login, job->result, job->error)) {
	case LOGIN_OUTCOME_OK:
		login_opened(s, job);
		break;
	case LOGIN_OUTCOME_FAILED:
		s->errors++;
		reply_delayed(s, "-ERR [AUTH] Authentication failed\r\n");
		break;
	case LOGIN_OUTCOME_LIMITED:
		pop3_session_unbusy(s);
		limited_reply(s);
		break;
	case LOGIN_OUTCOME_TEMPFAIL:
		pop3_reply_err(s, "[SYS/TEMP] Temporary authentication failure, "
			       "try again later");
		pop3_session_unbusy(s);
		break;
	case LOGIN_OUTCOME_MALFORMED:
		pop3_reply_err(s, "Authentication failed: malformed response");
		pop3_session_unbusy(s);
		(void)pop3_session_error(s);
		break;
	}
	xfree(&s->user);
	pop3_auth_deinit_exchange(s);
	auth_job_free(&job);
}

/* Starts a login exchange: an AUTH mechanism, PLAIN behind USER/PASS, or
 * APOP. False (and refused) when the address or account is limited. */
static bool
exchange_new(struct pop3_session *s, const char *mech, const char *method,
	     const char *user)
{
	struct login_client client = {
		.sid = s->id, .proto = "pop3", .ip = peer_ip(s),
	};

	if (!login_service_allows(session_login(s), s->id, "pop3", method,
				  client.ip, user)) {
		limited_reply(s);
		return false;
	}
	s->login = login_attempt_new(session_login(s), s->store, &client, mech,
				     method);
	if (s->login == NULL)
		panic("pop3: mechanism %s vanished", mech);
	return true;
}

static struct auth_job *
job_new(struct pop3_session *s, enum auth_mode mode)
{
	struct auth_job *job = xcalloc(1, sizeof(*job));

	job->s = s;
	job->mode = mode;
	job->store = s->store;
	job->cfg = s->cfg;
	job->login = s->login;
	job->drop.lock_fd = -1;
	buf_init(&job->in);
	buf_init(&job->out);
	return job;
}

static void
job_run(struct pop3_session *s, struct auth_job *job)
{
	pop3_session_busy(s);
	ioev_conn_run_blocking(s->conn, auth_work, auth_done, job);
}

static bool
refuse_plaintext(struct pop3_session *s)
{
	if (pop3_session_plaintext_ok(s))
		return false;
	/* RFC 2595 and DESIGN 7: no password in clear off loopback */
	pop3_reply_err(s, "[AUTH] Plaintext authentication disallowed on "
		       "non-secure connections; use STLS");
	(void)pop3_session_error(s);
	return true;
}

void
pop3_cmd_user(struct pop3_session *s, struct pop3_command *cmd)
{
	if (refuse_plaintext(s))
		return;
	if (strlen(cmd->args[0]) > SASL_MAX_USERNAME) {
		pop3_reply_err(s, "User name too long");
		(void)pop3_session_error(s);
		return;
	}
	free(s->user);
	s->user = xstrdup(cmd->args[0]);
	pop3_reply_ok(s, "Send your password");
}

void
pop3_cmd_pass(struct pop3_session *s, struct pop3_command *cmd)
{
	struct auth_job *job;

	if (s->user == NULL) {
		pop3_reply_err(s, "Send USER first");
		(void)pop3_session_error(s);
		return;
	}
	if (refuse_plaintext(s) || !exchange_new(s, "PLAIN", "USER", s->user)) {
		xfree(&s->user);
		return;
	}
	job = job_new(s, AUTH_MODE_SASL);
	/* RFC 4616: authzid NUL authcid NUL passwd */
	buf_putc(&job->in, '\0');
	buf_puts(&job->in, s->user);
	buf_putc(&job->in, '\0');
	buf_puts(&job->in, cmd->rest);
	job->has_in = true;
	mem_wipe(cmd->rest, strlen(cmd->rest));
	job_run(s, job);
}

void
pop3_cmd_apop(struct pop3_session *s, struct pop3_command *cmd)
{
	struct auth_job *job;

	if (s->apop_stamp == NULL) {
		pop3_reply_err(s, "APOP is not enabled");
		(void)pop3_session_error(s);
		return;
	}
	if (!exchange_new(s, "APOP", "APOP", cmd->args[0]))
		return;
	job = job_new(s, AUTH_MODE_APOP);
	job->apop_user = xstrdup(cmd->args[0]);
	job->apop_digest = xstrdup(cmd->args[1]);
	job->apop_stamp = xstrdup(s->apop_stamp);
	job_run(s, job);
}

static bool
mech_offered(const struct pop3_session *s, const char *mech)
{
	return sasl_mech_is_supported(mech) &&
	       (!sasl_mech_is_plaintext(mech) || pop3_session_plaintext_ok(s));
}

void
pop3_cmd_auth(struct pop3_session *s, struct pop3_command *cmd)
{
	struct auth_job *job;
	static const char *const mechs[] = { "PLAIN", "LOGIN", "SCRAM-SHA-256" };

	if (cmd->n_args == 0) {
		/* pre-CAPA clients (RFC 1734 era) list mechanisms this way */
		struct buf b;

		buf_init(&b);
		buf_puts(&b, "+OK Mechanisms follow\r\n");
		for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (mech_offered(s, mechs[i]))
				buf_printf(&b, "%s\r\n", mechs[i]);
		buf_puts(&b, ".\r\n");
		(void)ioev_conn_write(s->conn, b.data, b.len);
		buf_deinit(&b);
		return;
	}
	if (!sasl_mech_is_supported(cmd->args[0])) {
		pop3_reply_err(s, "Unsupported authentication mechanism");
		(void)pop3_session_error(s);
		return;
	}
	if (sasl_mech_is_plaintext(cmd->args[0]) && refuse_plaintext(s))
		return;
	if (!exchange_new(s, cmd->args[0], NULL, NULL))
		return;
	job = job_new(s, AUTH_MODE_SASL);
	if (cmd->n_args == 2) {
		/* RFC 5034 4: "=" is an empty initial response */
		job->has_in = true;
		if (strcmp(cmd->args[1], "=") != 0 &&
		    base64_decode(cmd->args[1], strlen(cmd->args[1]),
				  &job->in) < 0) {
			auth_job_free(&job);
			pop3_auth_deinit_exchange(s);
			pop3_reply_err(s, "Invalid base64 in initial response");
			(void)pop3_session_error(s);
			return;
		}
	}
	job_run(s, job);
}

void
pop3_auth_line(struct pop3_session *s, const char *line, size_t len)
{
	struct auth_job *job;

	if (len == 1 && line[0] == '*') {
		/* RFC 5034 4: the client cancels */
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
		pop3_auth_deinit_exchange(s);
		pop3_reply_err(s, "Authentication cancelled");
		return;
	}
	job = job_new(s, AUTH_MODE_SASL);
	job->has_in = true;
	if (!(len == 1 && line[0] == '=') &&
	    base64_decode(line, len, &job->in) < 0) {
		auth_job_free(&job);
		pop3_session_set_state(s, POP3_STATE_AUTHORIZATION);
		pop3_auth_deinit_exchange(s);
		pop3_reply_err(s, "Invalid base64 in response");
		(void)pop3_session_error(s);
		return;
	}
	job_run(s, job);
}

char *
pop3_apop_stamp_new(const struct config *cfg)
{
	char id[LOG_ID_LEN + 1];

	log_new_id(id);
	return xasprintf("<%s.%lld@%s>", id, (long long)time(NULL),
			 cfg->hostname != NULL ? cfg->hostname : "localhost");
}

void
pop3_auth_deinit_exchange(struct pop3_session *s)
{
	login_attempt_free(&s->login);
}

void
pop3_auth_deinit(struct pop3_session *s)
{
	pop3_auth_deinit_exchange(s);
	ioev_timer_free(&s->delay_timer);
	xfree(&s->delayed_reply);
}
