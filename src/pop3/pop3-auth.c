/* SPDX-License-Identifier: MIT */
/*
 * AUTHORIZATION state: USER/PASS (run as SASL PLAIN so one code path checks
 * passwords), AUTH (RFC 5034) with the sasl module's mechanisms, APOP
 * (RFC 1939 7, off by default). Steps run on the thread pool; a success
 * locks and snapshots the maildrop in the same job. Failures are delayed,
 * rate-limited and logged in the shape fail2ban reads (docs/logging.md).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conf/worker.h"
#include "lib/base64.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "sasl/ratelimit.h"
#include "sasl/sasl.h"

enum auth_mode { AUTH_MODE_SASL, AUTH_MODE_APOP };

/* What the credential lookup learnt; lives for one AUTH exchange (the
 * sasl object keeps a pointer to it across steps). Written on a pool
 * thread during a job, read on the loop thread after it. */
struct pop3_auth_lookup {
	struct store *store;
	int64_t account_id;
	char *address;
};

/* Failed-login counters of this worker process (sasl/ratelimit.h). */
static struct ratelimit *rl_ip, *rl_user;

/* Owned by the job while it runs on a pool thread; the session is only
 * touched again in auth_done, on the loop thread (ioev_conn_run_blocking
 * keeps it alive until then). */
struct auth_job {
	struct pop3_session *s;
	enum auth_mode mode;
	struct store *store;
	const struct config *cfg;
	struct sasl_server *sasl;	/* borrowed from the session */
	struct pop3_auth_lookup *lookup;	/* borrowed from the session */
	const char *method;		/* for logs: USER, APOP, PLAIN... */
	char *claimed;			/* user name claimed, for logs */
	struct buf in;
	bool has_in;
	struct buf out;
	enum sasl_result result;
	const char *error;
	/* APOP */
	char *apop_user, *apop_digest, *apop_stamp;
	/* APOP's own lookup result */
	int64_t account_id;
	char *address;
	/* maildrop, after a success */
	enum pop3_drop_result drop_result;
	const char *drop_error;
	struct pop3_maildrop drop;
};

static const char *
peer_ip(const struct pop3_session *s)
{
	return ioev_conn_peer_ip(s->conn);
}

/* Runs on a pool thread, called by sasl_server_step. */
static int
auth_lookup(void *ctx, const char *user, struct sasl_credentials *cred_r)
{
	struct pop3_auth_lookup *lk = ctx;
	struct store_user *u = NULL;
	enum store_result r;

	r = store_user_lookup(lk->store, user, &u, NULL);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return SASL_LOOKUP_UNKNOWN;
	if (r != STORE_OK)
		return SASL_LOOKUP_TEMPFAIL;
	if (u->password_hash != NULL)
		cred_r->password_hash = xstrdup(u->password_hash);
	if (u->scram_sha256 != NULL)
		cred_r->scram_sha256 = xstrdup(u->scram_sha256);
	lk->account_id = u->id;
	free(lk->address);
	lk->address = xstrdup(u->address);
	store_user_free(&u);
	return SASL_LOOKUP_FOUND;
}

/* APOP digest check on a pool thread: MD5(stamp password) in lower-case
 * hex, possible only for passwords stored with {PLAIN}/{CLEARTEXT}. */
static void
apop_work(struct auth_job *job)
{
	struct store_user *u = NULL;
	enum store_result r;
	const char *pw = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * 16 + 1], want[2 * 16 + 1];
	size_t mdlen = 0, i;
	struct buf text;

	r = store_user_lookup(job->store, job->apop_user, &u, NULL);
	if (r != STORE_OK && r != STORE_E_NOT_FOUND && r != STORE_E_INVALID) {
		job->result = SASL_TEMPFAIL;
		job->error = "store unavailable";
		return;
	}
	job->result = SASL_FAIL;
	job->error = "bad credentials";
	if (r != STORE_OK)
		return;
	if (strncmp(u->password_hash, "{PLAIN}", 7) == 0)
		pw = u->password_hash + 7;
	else if (strncmp(u->password_hash, "{CLEARTEXT}", 11) == 0)
		pw = u->password_hash + 11;
	if (pw == NULL || strlen(job->apop_digest) != 32) {
		if (pw == NULL)
			job->error = "no plaintext password for APOP";
		store_user_free(&u);
		return;
	}
	buf_init(&text);
	buf_puts(&text, job->apop_stamp);
	buf_puts(&text, pw);
	if (EVP_Q_digest(NULL, "MD5", NULL, text.data, text.len, md, &mdlen) &&
	    mdlen == 16) {
		for (i = 0; i < 16; i++) {
			static const char digits[] = "0123456789abcdef";

			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
			want[2 * i] = job->apop_digest[2 * i] | 0x20;
			want[2 * i + 1] = job->apop_digest[2 * i + 1] | 0x20;
		}
		if (CRYPTO_memcmp(hex, want, 32) == 0) {
			job->result = SASL_OK;
			job->error = NULL;
			job->account_id = u->id;
			job->address = xstrdup(u->address);
		}
	}
	mem_wipe(text.data, text.len);
	buf_deinit(&text);
	store_user_free(&u);
}

static void
auth_work(void *ctx)
{
	struct auth_job *job = ctx;

	if (job->mode == AUTH_MODE_APOP) {
		apop_work(job);
	} else {
		job->result = sasl_server_step(job->sasl,
					       job->has_in ?
					       (const uint8_t *)job->in.data :
					       NULL, job->in.len, &job->out,
					       &job->error);
		if (job->result == SASL_OK) {
			job->account_id = job->lookup->account_id;
			job->address = xstrdup(job->lookup->address);
		}
		if (job->claimed == NULL &&
		    sasl_server_attempted_user(job->sasl) != NULL)
			job->claimed =
				xstrdup(sasl_server_attempted_user(job->sasl));
	}
	if (job->result == SASL_OK)
		job->drop_result = pop3_maildrop_open(job->store, job->cfg,
						      job->account_id,
						      &job->drop,
						      &job->drop_error);
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
	free(job->address);
	free(job->claimed);
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
	uint64_t ms = s->cfg->auth.fail_delay_ms;

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
log_failure(struct pop3_session *s, const char *user, const char *method,
	    const char *reason)
{
	char ubuf[300];

	log_info(s->id, "pop3", "auth-failed",
		 "user=<%s> method=%s rip=%s reason=\"%s\"",
		 user != NULL ? log_str(ubuf, sizeof(ubuf), user) : "", method,
		 peer_ip(s), reason);
}

static void
login_success(struct pop3_session *s, struct auth_job *job,
	      const char *method)
{
	char ubuf[300];

	s->drop = job->drop;
	s->drop.address = job->address;
	job->address = NULL;
	memset(&job->drop, 0, sizeof(job->drop));
	job->drop.lock_fd = -1;
	if (rl_ip != NULL) {
		ratelimit_success(rl_ip, peer_ip(s));
		ratelimit_success(rl_user, s->drop.address);
	}
	pop3_session_set_state(s, POP3_STATE_TRANSACTION);
	log_info(s->id, "pop3", "login",
		 "user=<%s> method=%s rip=%s tls=%s messages=%zu size=%llu",
		 log_str(ubuf, sizeof(ubuf), s->drop.address), method,
		 peer_ip(s), ioev_conn_is_tls(s->conn) ? "yes" : "no",
		 s->drop.n_msgs, (unsigned long long)s->drop.total_size);
	pop3_reply_ok(s, "Logged in, %zu messages (%llu octets)",
		      s->drop.n_msgs, (unsigned long long)s->drop.total_size);
}

static void
auth_done(void *ctx)
{
	struct auth_job *job = ctx;
	struct pop3_session *s = job->s;
	const char *method = job->method;
	const char *claimed = job->claimed;

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
	switch (job->result) {
	case SASL_OK:
		switch (job->drop_result) {
		case POP3_DROP_OK:
			login_success(s, job, method);
			break;
		case POP3_DROP_IN_USE:
			log_info(s->id, "pop3", "in-use", "user=<%s> rip=%s",
				 job->address, peer_ip(s));
			pop3_reply_err(s, "[IN-USE] Maildrop is locked by "
				       "another POP3 session");
			break;
		case POP3_DROP_LOGIN_DELAY:
			pop3_reply_err(s, "[LOGIN-DELAY] Logged in too "
				       "recently; wait %llu seconds between "
				       "logins",
				       (unsigned long long)s->set->login_delay_s);
			break;
		case POP3_DROP_TEMP:
			log_warn(s->id, "pop3", "maildrop-failed",
				 "user=<%s> error=\"%s\"", job->address,
				 job->drop_error);
			pop3_reply_err(s, "[SYS/TEMP] Cannot open the maildrop, "
				       "try again later");
			break;
		}
		pop3_session_unbusy(s);
		break;
	case SASL_FAIL:
		ratelimit_fail(rl_ip, peer_ip(s), time(NULL));
		if (claimed != NULL)
			ratelimit_fail(rl_user, claimed, time(NULL));
		log_failure(s, claimed, method, job->error != NULL ?
			    job->error : "bad credentials");
		s->errors++;
		reply_delayed(s, "-ERR [AUTH] Authentication failed\r\n");
		break;
	case SASL_TEMPFAIL:
		log_warn(s->id, "pop3", "auth-tempfail",
			 "method=%s rip=%s error=\"%s\"", method, peer_ip(s),
			 job->error != NULL ? job->error : "");
		pop3_reply_err(s, "[SYS/TEMP] Temporary authentication failure, "
			       "try again later");
		pop3_session_unbusy(s);
		break;
	default:
		log_failure(s, claimed, method, job->error != NULL ?
			    job->error : "protocol error");
		pop3_reply_err(s, "Authentication failed: malformed response");
		pop3_session_unbusy(s);
		(void)pop3_session_error(s);
		break;
	}
	xfree(&s->user);
	pop3_auth_deinit_exchange(s);
	auth_job_free(&job);
}

static void
ratelimit_setup(const struct config_auth *auth)
{
	if (rl_ip != NULL)
		return;
	rl_ip = ratelimit_new(65536, auth->fail_per_ip,
			      (time_t)auth->fail_window_s);
	rl_user = ratelimit_new(65536, auth->fail_per_user,
				(time_t)auth->fail_window_s);
}

/* Starts an AUTH exchange (or the PLAIN one behind USER/PASS). */
static void
exchange_new(struct pop3_session *s, const char *mech)
{
	s->auth_lookup = xcalloc(1, sizeof(*s->auth_lookup));
	s->auth_lookup->store = s->store;
	s->sasl = sasl_server_new(mech, auth_lookup, s->auth_lookup);
	if (s->sasl == NULL)
		panic("pop3: mechanism %s vanished", mech);
}

static struct auth_job *
job_new(struct pop3_session *s, enum auth_mode mode, const char *method,
	const char *claimed)
{
	struct auth_job *job = xcalloc(1, sizeof(*job));

	ratelimit_setup(&s->cfg->auth);
	job->s = s;
	job->mode = mode;
	job->store = s->store;
	job->cfg = s->cfg;
	job->sasl = s->sasl;
	job->lookup = s->auth_lookup;
	job->method = method;
	job->claimed = claimed != NULL ? xstrdup(claimed) : NULL;
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

/* The per-address and per-account limits, checked before any work. */
static bool
refuse_if_limited(struct pop3_session *s, const char *user, const char *method)
{
	time_t now = time(NULL);

	ratelimit_setup(&s->cfg->auth);
	if (!ratelimit_is_blocked(rl_ip, peer_ip(s), now) &&
	    (user == NULL || !ratelimit_is_blocked(rl_user, user, now)))
		return false;
	{
		char ubuf[300];

		log_info(s->id, "pop3", "auth-ratelimited",
			 "user=<%s> method=%s rip=%s",
			 user != NULL ? log_str(ubuf, sizeof(ubuf), user) : "",
			 method, peer_ip(s));
	}
	pop3_reply_err(s, "[SYS/TEMP] Too many failed logins, try again later");
	(void)pop3_session_error(s);
	return true;
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
	if (refuse_plaintext(s) || refuse_if_limited(s, s->user, "USER")) {
		xfree(&s->user);
		return;
	}
	exchange_new(s, "PLAIN");
	job = job_new(s, AUTH_MODE_SASL, "USER", s->user);
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
	if (refuse_if_limited(s, cmd->args[0], "APOP"))
		return;
	job = job_new(s, AUTH_MODE_APOP, "APOP", cmd->args[0]);
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
	if (refuse_if_limited(s, NULL, cmd->args[0]))
		return;
	exchange_new(s, cmd->args[0]);
	job = job_new(s, AUTH_MODE_SASL, sasl_server_mech(s->sasl), NULL);
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
	job = job_new(s, AUTH_MODE_SASL, sasl_server_mech(s->sasl), NULL);
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
	sasl_server_free(&s->sasl);
	if (s->auth_lookup != NULL) {
		free(s->auth_lookup->address);
		xfree(&s->auth_lookup);
	}
}

void
pop3_auth_deinit(struct pop3_session *s)
{
	pop3_auth_deinit_exchange(s);
	ioev_timer_free(&s->delay_timer);
	xfree(&s->delayed_reply);
}
