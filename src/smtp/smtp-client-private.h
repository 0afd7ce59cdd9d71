/* SPDX-License-Identifier: MIT */
/*
 * Inside the SMTP client: the session (smtp-client.c: connect, opening,
 * replies, QUIT) and the transaction it runs (smtp-client-tx.c: MAIL,
 * RCPT, DATA/BDAT, the message body). Not for other modules.
 */
#ifndef HERALD_SMTP_SMTP_CLIENT_PRIVATE_H
#define HERALD_SMTP_SMTP_CLIENT_PRIVATE_H

#include "lib/buf.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-data.h"

/* The session's state: one enum, changed in client_set_state(). */
enum client_state {
	CS_CONNECTING,
	CS_TLS_IMPLICIT,	/* handshake before the greeting */
	CS_GREETING,
	CS_EHLO,		/* EHLO or LHLO sent */
	CS_HELO,		/* fallback after a refused EHLO */
	CS_STARTTLS,		/* waiting for 220 */
	CS_TLS,			/* STARTTLS handshake */
	CS_AUTH,		/* AUTH exchange */
	CS_READY,		/* idle, may send */
	CS_TX,			/* a transaction runs */
	CS_QUIT,		/* QUIT sent, freeing */
	CS_FAILED,		/* unusable; waiting for free */
};

/* What a reply in the pipeline answers. */
enum client_expect_kind {
	EX_RSET,
	EX_MAIL,
	EX_RCPT,
	EX_DATA,
	EX_BDAT,		/* a chunk that is not the last */
	EX_END,			/* after the dot or BDAT LAST (LMTP: one each) */
	EX_DISCARD,		/* the "." sent after an unwanted 354 */
};

struct client_expect {
	enum client_expect_kind kind;
	size_t rcpt;		/* EX_RCPT; EX_END in LMTP; else unused */
};

struct client_cmd {
	char *line;		/* with CRLF */
	struct client_expect expect;
};

struct client_tx {
	struct smtp_client_envelope env;	/* deep copy */
	struct smtp_client_rcpt *rcpts;
	struct smtp_client_message msg;		/* prefix copied */
	uint64_t msg_size;			/* raw size of prefix + body */
	smtp_client_sent_cb_t *cb;
	void *ctx;

	struct client_cmd *cmds;	/* MAIL, RCPT..., DATA: to send */
	size_t n_cmds, next_cmd;
	struct client_expect *expect;	/* replies awaited, in order */
	size_t n_expect, expect_head, expect_cap;

	struct smtp_client_rcpt_result *res;	/* one per rcpt */
	bool *rcpt_done;		/* res[i] final */
	bool *rcpt_accepted;		/* RCPT answered 2xx */
	size_t n_accepted;
	struct smtp_reply mail_reply, data_reply;
	bool mail_failed;
	bool data_failed;	/* DATA or a BDAT chunk refused */
	bool got_354;
	bool closing;		/* a 421 seen: not reusable */
	enum smtp_client_send_error error;
	struct buf message;	/* text of error */
	enum smtp_client_stage stage;	/* for "lost while ..." */

	/* the body */
	bool bdat;
	bool body_started, body_sent, body_reading;
	bool prefix_sent;
	uint64_t offset;	/* read so far from fd / data */
	uint64_t body_len;	/* fd's size, or msg.len */
	struct smtp_data_encoder enc;
	struct buf chunk;
};

struct smtp_client {
	struct ioev_loop *loop;
	struct ioev_conn *conn;
	struct ioev_connect *connecting;
	struct ioev_timer *timer;	/* the step's timeout */
	struct ioev_timer *later;	/* results reported from the loop */
	enum client_state state;
	unsigned refs;
	bool freed;		/* the owner let go */
	bool broken;		/* not usable for another transaction */
	bool ready_reported;
	bool tx_done_pending;	/* later fires tx_report */
	unsigned tx_count;	/* transactions started */
	/* the last transaction ended with the reply to its end of data (or
	 * sent nothing): the server holds none, the next needs no RSET */
	bool tx_clean;

	struct smtp_client_opts opts;	/* strings below are copies */
	char *helo_name, *server_name, *verify_name, *auth_user, *auth_pass;
	struct sockaddr_storage addr;
	socklen_t addrlen;

	smtp_client_ready_cb_t *ready_cb;
	void *ctx;
	struct smtp_reply_parser *parser;
	struct smtp_reply reply;	/* the last reply read */
	struct smtp_ehlo ehlo;
	struct smtp_client_info info;
	char remote_name[256];
	unsigned auth_step;
	bool auth_login;	/* LOGIN rather than PLAIN */
	char id[LOG_ID_LEN + 1];

	struct client_tx *tx;	/* the transaction running, or NULL */
};

/* smtp-client.c */
void client_ref(struct smtp_client *c);
void client_unref(struct smtp_client *c);
void client_timer(struct smtp_client *c, uint64_t ms);
void client_write(struct smtp_client *c, const char *data, size_t len);
/* "host NAME[IP]" for messages */
void client_append_host(const struct smtp_client *c, struct buf *out);

/* smtp-client-tx.c */
void client_tx_reply(struct smtp_client *c);
void client_tx_drain(struct smtp_client *c);
/* The session broke (closed, timeout, unreadable reply): every
 * recipient not decided gets a 4xx made here, then the result. */
void client_tx_abort(struct smtp_client *c, enum smtp_client_send_error err,
		     const char *why);
void client_tx_report(struct smtp_client *c);
/* Where the transaction is, for "lost connection while sending ...":
 * the reply awaited first, else what is being sent. */
enum smtp_client_stage client_tx_stage(const struct smtp_client *c);
void client_tx_free(struct client_tx **tx);

#endif
