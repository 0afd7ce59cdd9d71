/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the POP3 files: the session, its state (one enum,
 * changed only by pop3_session_set_state), the maildrop snapshot and the
 * entry points of each command group.
 */
#ifndef HERALD_POP3_PRIVATE_H
#define HERALD_POP3_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "pop3/pop3-parser.h"
#include "store/store.h"

struct worker;
struct ioev_conn;
struct ioev_timer;
struct login_attempt;
struct pop3_retr;

enum pop3_state {
	POP3_STATE_AUTHORIZATION,	/* RFC 1939 4 */
	POP3_STATE_SASL,		/* inside an AUTH exchange */
	POP3_STATE_TRANSACTION,		/* RFC 1939 5 */
	POP3_STATE_UPDATE,		/* after QUIT: expunging, then close */
	POP3_STATE_DONE,		/* final reply written, closing */
};

/* One message of the snapshot taken at login (RFC 1939 5: numbers and
 * sizes do not change during the session). */
struct pop3_msg {
	uint32_t uid;
	bool deleted;
	bool seen;		/* \Seen (IMAP), set by RETR */
	uint64_t size;
	char blob_id[STORE_BLOB_ID_LEN + 1];
};

/* The locked maildrop: filled on a pool thread at login. */
struct pop3_maildrop {
	int64_t account_id;
	char *address;		/* canonical account address */
	int lock_fd;		/* flock()ed data_dir/locks/<id>.pop3; -1 */
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t n_msgs;
	uint64_t total_size;
};

struct pop3_session {
	struct ioev_conn *conn;
	struct worker *w;
	const struct config *cfg;
	const struct config_pop3 *set;
	struct store *store;
	const char *id;			/* the conn's log id */
	enum listen_proto proto;
	enum pop3_state state;
	struct pop3_parser *parser;
	unsigned errors;
	/* a job, timer or stream owns the next reply: input stays paused */
	bool busy;
	bool greeted;

	char *user;			/* from USER, until PASS */
	char *apop_stamp;		/* "<...>" of the greeting, or NULL */
	struct login_attempt *login;	/* during AUTH */
	struct ioev_timer *delay_timer;	/* failed-login delay */
	char *delayed_reply;		/* written when the delay ends */

	struct pop3_maildrop drop;
	size_t n_deleted;
	uint64_t deleted_size;
	struct pop3_retr *retr;		/* RETR/TOP in progress */
};

/* --- pop3-session.c --- */
void pop3_session_set_state(struct pop3_session *s, enum pop3_state state);
/* Writes "+OK text\r\n" / "-ERR text\r\n". */
void pop3_reply_ok(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pop3_reply_err(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counts a client error; after set->max_errors closes the session.
 * Returns true if the session is closing. */
bool pop3_session_error(struct pop3_session *s);
/* Marks the session busy (input paused) / done with the async step;
 * pop3_session_unbusy resumes reading and processing of buffered input. */
void pop3_session_busy(struct pop3_session *s);
void pop3_session_unbusy(struct pop3_session *s);
/* Whether a password may be sent in clear now (TLS, or loopback with
 * auth.plaintext_on_loopback). */
bool pop3_session_plaintext_ok(const struct pop3_session *s);
/* Whether STLS is offered now. */
bool pop3_session_can_stls(const struct pop3_session *s);
/* Sends the final reply and closes once it is written. */
void pop3_session_finish(struct pop3_session *s);

/* --- pop3-auth.c: AUTHORIZATION state --- */
void pop3_cmd_user(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_pass(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_apop(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_auth(struct pop3_session *s, struct pop3_command *cmd);
/* A line of an AUTH exchange (state POP3_STATE_SASL). */
void pop3_auth_line(struct pop3_session *s, const char *line, size_t len);
/* Makes the APOP timestamp for the greeting (when apop is on). */
char *pop3_apop_stamp_new(const struct config *cfg);
/* Ends an AUTH exchange (frees its login attempt). */
void pop3_auth_deinit_exchange(struct pop3_session *s);
/* Frees SASL state and the delay timer (session closing). */
void pop3_auth_deinit(struct pop3_session *s);

/* --- pop3-maildrop.c: runs on a pool thread unless noted --- */
enum pop3_drop_result {
	POP3_DROP_OK,
	POP3_DROP_IN_USE,	/* another session holds the lock */
	POP3_DROP_LOGIN_DELAY,	/* logged in less than login_delay ago */
	POP3_DROP_TEMP,		/* store or file-system trouble */
};
/* Locks and snapshots the INBOX of account_id. On anything but
 * POP3_DROP_OK nothing is held and *error_r says why (static). */
enum pop3_drop_result pop3_maildrop_open(struct store *store,
					 const struct config *cfg,
					 int64_t account_id,
					 struct pop3_maildrop *drop,
					 const char **error_r);
/* Releases the lock and frees the snapshot (any thread). */
void pop3_maildrop_close(struct pop3_maildrop *drop);

/* --- pop3-cmds.c: TRANSACTION state (loop thread) --- */
void pop3_cmd_capa(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_stat(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_list(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_uidl(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_dele(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_rset(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_noop(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_quit(struct pop3_session *s, struct pop3_command *cmd);
/* Looks up a message number argument; replies -ERR and returns NULL when
 * it is malformed, out of range or deleted. */
struct pop3_msg *pop3_msg_arg(struct pop3_session *s, const char *arg,
			      uint32_t *num_r);

/* --- pop3-retr.c --- */
void pop3_cmd_retr(struct pop3_session *s, struct pop3_command *cmd);
void pop3_cmd_top(struct pop3_session *s, struct pop3_command *cmd);
/* Output drained: continue a streaming RETR/TOP. Returns false when no
 * stream is active. */
bool pop3_retr_drain(struct pop3_session *s);
/* Abandons a stream (session closing). */
void pop3_retr_free(struct pop3_session *s);

#endif
