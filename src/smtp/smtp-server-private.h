/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the SMTP server's files: the session, its state
 * enum (changed only through smtp_session_set_state), the transaction, and
 * the per-command handlers of smtp-cmd-*.c.
 */
#ifndef HERALD_SMTP_SERVER_PRIVATE_H
#define HERALD_SMTP_SERVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "delivery/delivery.h"
#include "lib/buf.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/spool.h"
#include "mailauth/arc.h"
#include "mailauth/dkim.h"
#include "smtp/smtp-ar-filter.h"
#include "smtp/smtp-data.h"
#include "smtp/smtp-params.h"
#include "smtp/smtp-parser.h"
#include "smtp/smtp-server.h"

struct store;
struct ratelimit;
struct tls_server;

enum smtp_mode {
	SMTP_MODE_SMTP,		/* port 25 */
	SMTP_MODE_SUBMISSION,	/* port 587: STARTTLS, then AUTH */
	SMTP_MODE_SUBMISSIONS,	/* port 465: implicit TLS, AUTH */
	SMTP_MODE_LMTP,		/* RFC 2033 */
	SMTP_MODE_LOCAL,	/* herald sendmail on the local unix socket */
};

enum smtp_state {
	SMTP_STATE_GREETING,	/* greeting not sent yet: input = early talker */
	SMTP_STATE_COMMAND,	/* reading command lines */
	SMTP_STATE_AUTH,	/* reading a SASL response line */
	SMTP_STATE_DATA,	/* reading the DATA body */
	SMTP_STATE_BDAT,	/* reading a BDAT chunk */
	SMTP_STATE_BUSY,	/* a job runs on the pool; input paused */
	SMTP_STATE_CLOSING,	/* final reply written; nothing more is read */
};

/* One server per worker process. */
struct smtp_server {
	struct worker *w;
	const struct config *cfg;
	struct store *store;
	bool own_store;		/* opened here because the worker had none */
	/* concurrent connections per client address */
};

struct smtp_rcpt {
	char *address;		/* as given, canonical text form */
	char *dsn_notify;	/* NOTIFY value or NULL */
	char *dsn_orcpt;	/* "type;addr" or NULL */
	struct delivery_dest *dests;
	size_t n_dests;
};

struct smtp_session {
	struct smtp_server *srv;
	struct ioev_conn *conn;
	const char *id;		/* the connection id, for log lines */
	char rip[64];		/* peer address (log_str-safe) */
	enum smtp_mode mode;
	enum smtp_state state;
	struct smtp_parser *parser;
	struct smtp_parser *auth_parser;	/* while in SMTP_STATE_AUTH */
	struct smtp_params_limits plimits;
	struct ioev_timer *timer;	/* greeting delay and AUTH fail delay */
	void (*timer_action)(struct smtp_session *s);

	char *helo;		/* EHLO/HELO/LHLO argument, NULL before */
	bool esmtp;		/* EHLO or LHLO (not HELO) */
	bool tls;		/* TLS is active */
	bool relay_ok;		/* client inside relay_networks, or local */
	unsigned local_uid;	/* SMTP_MODE_LOCAL: the sender's user id */
	char *auth_user;	/* canonical address after AUTH, else NULL */
	int64_t auth_account_id;
	unsigned errors;
	unsigned auth_failures;
	unsigned messages;

	/* the mail transaction */
	bool in_tx;
	char *from;		/* reverse path text; "" for <> */
	bool smtputf8;
	enum smtp_body body;
	uint64_t size_decl;	/* SIZE= */
	char *dsn_ret;		/* "FULL"/"HDRS" */
	char *dsn_envid;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts;
	unsigned rcpt_overshoot;	/* RCPTs refused over max_recipients */
	/* message data (DATA or BDAT) */
	struct smtp_data_reader *reader;
	/* the message as it arrives: memory up to message_memory_limit,
	 * then a temp file (docs/limits.md "Memory") */
	struct spool *spool;
	bool bdat;		/* the transaction uses BDAT */
	bool bdat_last;		/* the chunk being read is the LAST one */
	bool bdat_failed;	/* refuse the chunk's content (no rcpts...) */
	/* the store was told this message is on its way (from DATA or the
	 * first BDAT until it is handed to delivery or dropped), so that
	 * other sessions' commits may wait for it (store_write_expect) */
	bool write_expected;
	/* a local user's message: DKIM-signed as it streams in
	 * ([mailauth] dkim_sign), the signature made at its end (smtp-cmd-data.c) */
	struct dkim_signer *signer;
	/* mail an alias forwards to an external address: ARC-sealed
	 * ([mailauth] arc_seal), hashed as it streams in (smtp-cmd-data.c) */
	struct arc_sealer *sealer;
	char msg_id[LOG_ID_LEN + 1];
	/* inbound checks of the transaction (smtp-authin.c), or NULL */
	struct smtp_authin *authin;
	/* the last transaction's, cleared, with its verifiers: the next
	 * one reuses them (smtp_authin_reset(); freed at the end) */
	struct smtp_authin *authin_spare;

	/* AUTH exchange */
	void *auth_job;		/* smtp-cmd-auth.c's exchange state */
};

/* ---- smtp-server.c ---- */

/* The one place the state changes. */
void smtp_session_set_state(struct smtp_session *s, enum smtp_state state);
/* An address for a log line's <...>: "" for NULL or the null path, else
 * log_str() of it. */
const char *smtp_log_addr(char *out, size_t outsz, const char *addr);
/* Writes one reply line (text without CRLF). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counts a protocol error after its reply was written; at max_errors the
 * session says 421 and closes. Returns true if the session closes. */
bool smtp_session_error(struct smtp_session *s);
/* Writes the final line (e.g. "221 2.0.0 Bye") and closes after it. */
void smtp_session_close(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drops the mail transaction (MAIL, RCPTs, data). */
void smtp_session_reset_tx(struct smtp_session *s);
/* Announces (on) or withdraws (off) the message being received to the
 * store's group commit (store_write_expect); a no-op when already so. */
void smtp_session_expect_write(struct smtp_session *s, bool on);
/* Runs work on the pool with input paused; done runs on the loop thread
 * with state back to COMMAND (unless the session closed meanwhile). */
void smtp_session_run(struct smtp_session *s, threadpool_work_cb_t *work,
		      threadpool_done_cb_t *done, void *ctx);
/* The same for work finished by another thread (ioev_conn_run_external). */
void smtp_session_run_external(struct smtp_session *s,
			       ioev_external_start_cb_t *start,
			       threadpool_done_cb_t *done, void *ctx);
/* After a job's done: back to COMMAND and resume input. Returns false when
 * the session is gone (closing): the caller must not reply. */
bool smtp_session_job_end(struct smtp_session *s);
/* Whether AUTH may be used now (TLS or the loopback exception). */
bool smtp_session_auth_allowed(const struct smtp_session *s);
/* Whether the session offers AUTH at all (not LMTP). */
bool smtp_session_auth_offered(const struct smtp_session *s);
/* The Received "with" keyword for this session. */
const char *smtp_session_protocol(const struct smtp_session *s);
bool smtp_session_is_lmtp(const struct smtp_session *s);
/* Whether STARTTLS exists here: TLS configured, and neither LMTP nor the
 * local sendmail socket (whether TLS is already on is the caller's). */
bool smtp_session_starttls_available(const struct smtp_session *s);
/* Restarts the idle timer for commands or for data. */
void smtp_session_timeouts(struct smtp_session *s, bool data);
/* Starts the session timer: action runs after ms (input paused). */
void smtp_session_delay(struct smtp_session *s, uint64_t ms,
			void (*action)(struct smtp_session *s));

/* ---- smtp-authin.c: inbound SPF, DKIM, Authentication-Results ---- */
struct smtp_authin;
/* MAIL accepted: starts SPF in the background (port 25 without AUTH,
 * [mailauth] spf). */
void smtp_authin_mail(struct smtp_session *s);
/* DATA/BDAT begins: the header filter (every network session) and the
 * DKIM verifier (port 25 without AUTH, [mailauth] dkim_verify). */
void smtp_authin_data_begin(struct smtp_session *s);
/* Message octets while s->authin is set: what is kept goes to out. */
void smtp_authin_feed(struct smtp_session *s, const uint8_t *data,
		      size_t len, smtp_ar_out_fn *out);
/* The last octet was fed: flushes the filter, starts the key lookups. */
void smtp_authin_data_end(struct smtp_session *s);
/* cont(ctx) once SPF and the key lookups are done (maybe at once),
 * with Authentication-Results and Received-SPF put before *received and
 * the verdicts logged. */
void smtp_authin_wait(struct smtp_session *s, char **received,
		      void (*cont)(void *ctx), void *ctx);
/* After the wait: hands the verified ARC chain and the
 * Authentication-Results body (without "Authentication-Results: ") to the
 * caller, for sealing; both NULL when ARC was not checked. */
struct arc_verifier;
void smtp_authin_take_arc(struct smtp_session *s, struct arc_verifier **arc_r,
			  char **ar_body_r);
/* Cancels the checks and clears the state (smtp_session_reset_tx);
 * s->authin is NULL after it. */
void smtp_authin_reset(struct smtp_session *s);
/* Frees what the session's transactions kept for reuse (session end). */
void smtp_authin_free(struct smtp_session *s);
/* What the verdicts ask for once smtp_authin_wait() has continued
 * ([mailauth] dmarc = enforce): REJECT with *text_r (static, for a 550
 * 5.7.1 reply), QUARANTINE (into each recipient's Junk), or ACCEPT. */
enum smtp_authin_action {
	SMTP_AUTHIN_ACCEPT,
	SMTP_AUTHIN_QUARANTINE,
	SMTP_AUTHIN_REJECT,
};
enum smtp_authin_action smtp_authin_action(const struct smtp_session *s,
					   const char **text_r);

/* ---- command handlers (smtp-cmd-*.c) ---- */
void smtp_cmd_helo(struct smtp_session *s, enum smtp_cmd cmd,
		   const char *arg, size_t len);
void smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_help(struct smtp_session *s, const char *arg, size_t len);

/* Replies to a MAIL/RCPT argument error (sender: MAIL) and counts it. */
void smtp_arg_error_reply(struct smtp_session *s,
			  const struct smtp_arg_result *res, bool sender);

/* Input while in SMTP_STATE_DATA / SMTP_STATE_BDAT: consumes what it can.
 * Returns true to keep reading input. */
bool smtp_data_input(struct smtp_session *s);
/* Input while in SMTP_STATE_AUTH: handles one SASL response line. */
void smtp_auth_input(struct smtp_session *s, const char *line, size_t len);
/* Frees an unfinished AUTH exchange; a session in SMTP_STATE_AUTH goes
 * back to SMTP_STATE_COMMAND. The AUTH line reader is not touched (the
 * input loop owns it). */
void smtp_auth_abort(struct smtp_session *s);

#endif
