/* SPDX-License-Identifier: MIT */
/*
 * One transaction of the SMTP/LMTP client: MAIL, RCPT, DATA or BDAT and
 * the message body, pipelined when the server allows it, and the outcome
 * of every recipient, including when the server goes away half-way (mox
 * #198: iCloud closes after RCPT). See smtp-client.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/xtext.h"
#include "smtp/smtp-client-private.h"

/* Bytes of the message read (and, for BDAT, sent as one chunk) at a
 * time: large enough that a typical message is one chunk, small enough
 * to keep a client's memory flat whatever the message size. */
#define CLIENT_BODY_BLOCK (64 * 1024)

static void tx_advance(struct smtp_client *c);
static void tx_body_pump(struct smtp_client *c);

void
client_tx_free(struct client_tx **txp)
{
	struct client_tx *tx = *txp;

	if (tx == NULL)
		return;
	for (size_t i = 0; i < tx->env.n_rcpts; i++) {
		free((char *)tx->rcpts[i].address);
		free((char *)tx->rcpts[i].orcpt_type);
		free((char *)tx->rcpts[i].orcpt_addr);
		smtp_reply_deinit(&tx->res[i].reply);
	}
	free(tx->rcpts);
	free(tx->res);
	free(tx->rcpt_done);
	free(tx->rcpt_accepted);
	free((char *)tx->env.mail_from);
	free((char *)tx->env.envid);
	free((char *)tx->msg.prefix);
	for (size_t i = 0; i < tx->n_cmds; i++)
		free(tx->cmds[i].line);
	free(tx->cmds);
	free(tx->expect);
	smtp_reply_deinit(&tx->mail_reply);
	smtp_reply_deinit(&tx->data_reply);
	buf_deinit(&tx->message);
	buf_deinit(&tx->chunk);
	xfree(txp);
}

/* ---- the expected replies (a FIFO) --------------------------------------- */

static void
expect_push(struct client_tx *tx, enum client_expect_kind kind, size_t rcpt)
{
	if (tx->expect_head > 0 && tx->expect_head == tx->n_expect) {
		tx->expect_head = 0;
		tx->n_expect = 0;
	}
	if (tx->n_expect == tx->expect_cap) {
		tx->expect_cap = tx->expect_cap == 0 ? 16 : tx->expect_cap * 2;
		tx->expect = xreallocarray(tx->expect, tx->expect_cap,
					   sizeof(*tx->expect));
	}
	tx->expect[tx->n_expect].kind = kind;
	tx->expect[tx->n_expect].rcpt = rcpt;
	tx->n_expect++;
}

static bool
expect_pending(const struct client_tx *tx)
{
	return tx->expect_head < tx->n_expect;
}

static const struct client_expect *
expect_head(const struct client_tx *tx)
{
	return expect_pending(tx) ? &tx->expect[tx->expect_head] : NULL;
}

static enum smtp_client_stage
expect_stage(enum client_expect_kind kind)
{
	switch (kind) {
	case EX_RSET:
	case EX_MAIL:
		return SMTP_CLIENT_STAGE_MAIL;
	case EX_RCPT:
		return SMTP_CLIENT_STAGE_RCPT;
	case EX_DATA:
	case EX_BDAT:
		return SMTP_CLIENT_STAGE_DATA;
	case EX_END:
	case EX_DISCARD:
		return SMTP_CLIENT_STAGE_END;
	}
	return SMTP_CLIENT_STAGE_NONE;
}

/* The step timer follows what is awaited (RFC 5321 4.5.3.2). */
static void
tx_timer(struct smtp_client *c)
{
	const struct client_expect *h = expect_head(c->tx);
	const struct smtp_client_timeouts *t = &c->opts.timeouts;
	uint64_t ms = t->data_block_ms;

	if (h != NULL) {
		switch (h->kind) {
		case EX_RSET: ms = t->quit_ms; break;
		case EX_MAIL: ms = t->mail_ms; break;
		case EX_RCPT: ms = t->rcpt_ms; break;
		case EX_DATA: ms = t->data_init_ms; break;
		case EX_BDAT: ms = t->data_block_ms; break;
		case EX_END:
		case EX_DISCARD: ms = t->data_end_ms; break;
		}
	}
	client_timer(c, ms);
}

/* ---- the outcome ------------------------------------------------------ */

static void
rcpt_set(struct client_tx *tx, size_t i, const struct smtp_reply *reply,
	 bool local, enum smtp_client_stage stage)
{
	smtp_reply_copy(&tx->res[i].reply, reply);
	tx->res[i].local = local;
	tx->res[i].stage = stage;
	tx->rcpt_done[i] = true;
}

void
client_tx_report(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	struct smtp_client_send_result res;

	if (tx == NULL)
		return;
	c->tx = NULL;
	memset(&res, 0, sizeof(res));
	res.error = tx->error;
	res.rcpts = tx->res;
	res.n_rcpts = tx->env.n_rcpts;
	res.mail_reply = &tx->mail_reply;
	res.data_reply = &tx->data_reply;
	res.message = tx->message.data;
	if (tx->closing)
		c->broken = true;
	/* one refused before any command was sent changes nothing */
	if (tx->next_cmd > 0)
		c->tx_clean = tx->body_sent && !tx->data_failed &&
			!expect_pending(tx) && tx->data_reply.code / 100 == 2;
	if (c->conn == NULL || c->broken) {
		c->broken = true;
		if (c->state == CS_TX)
			c->state = CS_FAILED;
	} else {
		c->state = CS_READY;
	}
	res.reusable = smtp_client_is_reusable(c);
	client_timer(c, 0);
	/* the reply's text is put together only for a log that keeps it:
	 * a buffer and a copy per recipient of every relayed message */
	for (size_t i = 0; log_get_level() <= LOG_LEVEL_DEBUG &&
	     i < res.n_rcpts; i++) {
		struct buf b;
		char safe[256];

		buf_init(&b);
		smtp_reply_append_line(&tx->res[i].reply, &b);
		log_debug(c->id, "smtp-client", "rcpt", "to=<%s> stage=\"%s\" "
			  "local=%s reply=\"%s\"", tx->rcpts[i].address,
			  smtp_client_stage_name(tx->res[i].stage),
			  tx->res[i].local ? "yes" : "no",
			  log_str(safe, sizeof(safe), b.data));
		buf_deinit(&b);
	}
	if (!c->freed) {
		client_ref(c);
		tx->cb(c, &res, tx->ctx);
		client_unref(c);
	}
	client_tx_free(&tx);
}

/* Every recipient not decided yet gets the transaction's outcome. */
static void
tx_finish(struct smtp_client *c, enum smtp_client_send_error err)
{
	struct client_tx *tx = c->tx;

	tx->error = err;
	for (size_t i = 0; i < tx->env.n_rcpts; i++) {
		if (tx->rcpt_done[i])
			continue;
		if (tx->mail_failed)
			rcpt_set(tx, i, &tx->mail_reply, false,
				 SMTP_CLIENT_STAGE_MAIL);
		else if (tx->data_reply.code != 0)
			rcpt_set(tx, i, &tx->data_reply, false,
				 tx->body_started ? SMTP_CLIENT_STAGE_END :
				 SMTP_CLIENT_STAGE_DATA);
	}
	if (err != SMTP_CLIENT_SEND_OK && tx->message.len == 0) {
		const struct smtp_reply *r = tx->mail_failed ? &tx->mail_reply :
			&tx->data_reply;

		buf_puts(&tx->message, "host ");
		client_append_host(c, &tx->message);
		buf_puts(&tx->message, " said: ");
		if (err == SMTP_CLIENT_SEND_NO_RCPT) {
			buf_puts(&tx->message, "every recipient refused");
		} else {
			smtp_reply_append_line(r, &tx->message);
			buf_printf(&tx->message, " (in reply to %s)",
				   tx->mail_failed ? "MAIL FROM command" :
				   tx->body_started ? "end of DATA command" :
				   "DATA command");
		}
	}
	client_tx_report(c);
}

enum smtp_client_stage
client_tx_stage(const struct smtp_client *c)
{
	const struct client_tx *tx = c->tx;
	const struct client_expect *h;

	if (tx == NULL)
		return SMTP_CLIENT_STAGE_NONE;
	/* what the remote was answering, else what was being sent */
	h = expect_head(tx);
	if (h != NULL)
		return expect_stage(h->kind);
	return tx->body_started ? SMTP_CLIENT_STAGE_DATA : tx->stage;
}

void
client_tx_abort(struct smtp_client *c, enum smtp_client_send_error err,
		const char *why)
{
	struct client_tx *tx = c->tx;
	enum smtp_client_stage stage;
	struct smtp_reply r;

	if (tx == NULL)
		return;
	c->broken = true;
	stage = client_tx_stage(c);
	smtp_reply_init(&r);
	if (err == SMTP_CLIENT_SEND_PROTOCOL)
		smtp_reply_set(&r, 451, "4.5.0", "%s", why);
	else if (err == SMTP_CLIENT_SEND_LOCAL)
		smtp_reply_set(&r, 451, "4.3.0", "%s", why);
	else
		smtp_reply_set(&r, 451, "4.4.2", "%s", why);
	for (size_t i = 0; i < tx->env.n_rcpts; i++) {
		if (tx->rcpt_done[i])
			continue;
		/* a refused MAIL decides, even if the session broke later */
		if (tx->mail_failed)
			rcpt_set(tx, i, &tx->mail_reply, false,
				 SMTP_CLIENT_STAGE_MAIL);
		else
			rcpt_set(tx, i, &r, true, stage);
	}
	smtp_reply_deinit(&r);
	buf_truncate(&tx->message, 0);
	buf_puts(&tx->message, why);
	tx->error = err;
	client_tx_report(c);
}

/* A refusal decided before anything is sent (what the remote offers
 * does not fit the message): every recipient gets it, reported from the
 * loop. */
static void
tx_refuse_local(struct smtp_client *c, enum smtp_client_send_error err,
		unsigned code, const char *enhanced, const char *text)
{
	struct client_tx *tx = c->tx;
	struct smtp_reply r;

	smtp_reply_init(&r);
	smtp_reply_set(&r, code, enhanced, "%s", text);
	for (size_t i = 0; i < tx->env.n_rcpts; i++)
		rcpt_set(tx, i, &r, true, SMTP_CLIENT_STAGE_NONE);
	smtp_reply_deinit(&r);
	tx->error = err;
	buf_puts(&tx->message, text);
	c->tx_done_pending = true;
	ioev_timer_start(c->later, 0, false);
}

/* ---- commands ---------------------------------------------------------- */

static void
tx_add_cmd(struct client_tx *tx, char *line, enum client_expect_kind kind,
	   size_t rcpt)
{
	tx->cmds = xreallocarray(tx->cmds, tx->n_cmds + 1, sizeof(*tx->cmds));
	tx->cmds[tx->n_cmds].line = line;
	tx->cmds[tx->n_cmds].expect.kind = kind;
	tx->cmds[tx->n_cmds].expect.rcpt = rcpt;
	tx->n_cmds++;
}

static void
tx_build_cmds(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	unsigned ext = c->info.ext;
	struct buf b;

	/* RFC 5321 4.1.1.4: the reply to the end of data ends the
	 * transaction either way, so only one that stopped earlier (a
	 * refused MAIL, RCPT or DATA) leaves state for RSET to clear; on a
	 * reused connection to a busy destination that is one command and
	 * reply per message fewer for both ends */
	if (c->tx_count > 1 && !c->tx_clean)
		tx_add_cmd(tx, xstrdup("RSET\r\n"), EX_RSET, 0);
	buf_init(&b);
	/* put together without printf: two commands of every message */
	buf_puts(&b, "MAIL FROM:<");
	buf_puts(&b, tx->env.mail_from);
	buf_putc(&b, '>');
	if ((ext & SMTP_EXT_SIZE) != 0) {
		buf_puts(&b, " SIZE=");
		buf_put_uint(&b, tx->msg_size);
	}
	if (tx->env.body == SMTP_BODY_8BITMIME)
		buf_puts(&b, " BODY=8BITMIME");
	if (tx->env.smtputf8)
		buf_puts(&b, " SMTPUTF8");
	if ((ext & SMTP_EXT_DSN) != 0) {
		if (tx->env.ret == SMTP_RET_FULL)
			buf_puts(&b, " RET=FULL");
		else if (tx->env.ret == SMTP_RET_HDRS)
			buf_puts(&b, " RET=HDRS");
		if (tx->env.envid != NULL) {
			buf_puts(&b, " ENVID=");
			xtext_encode((const uint8_t *)tx->env.envid,
				     strlen(tx->env.envid), &b);
		}
	}
	buf_puts(&b, "\r\n");
	tx_add_cmd(tx, buf_steal(&b), EX_MAIL, 0);
	for (size_t i = 0; i < tx->env.n_rcpts; i++) {
		const struct smtp_client_rcpt *r = &tx->rcpts[i];

		if (tx->rcpt_done[i])
			continue;	/* refused locally */
		buf_puts(&b, "RCPT TO:<");
		buf_puts(&b, r->address);
		buf_putc(&b, '>');
		if ((ext & SMTP_EXT_DSN) != 0 && r->notify != 0) {
			buf_puts(&b, " NOTIFY=");
			smtp_notify_append(r->notify, &b);
		}
		if ((ext & SMTP_EXT_DSN) != 0 && r->orcpt_type != NULL &&
		    r->orcpt_addr != NULL) {
			buf_printf(&b, " ORCPT=%s;", r->orcpt_type);
			xtext_encode((const uint8_t *)r->orcpt_addr,
				     strlen(r->orcpt_addr), &b);
		}
		buf_puts(&b, "\r\n");
		tx_add_cmd(tx, buf_steal(&b), EX_RCPT, i);
	}
	if (!tx->bdat)
		tx_add_cmd(tx, xstrdup("DATA\r\n"), EX_DATA, 0);
	buf_deinit(&b);
}

/* Sends what may go now: everything with PIPELINING (RFC 2920: DATA is
 * last in its group anyway), else one command per reply. A pipelined
 * group goes in one write: the connection sends a small write at once
 * when nothing is queued, so command by command it would be a send(2)
 * and a segment each (RSET, MAIL, RCPT, DATA: four instead of one, and
 * as many wake-ups of the server). */
static void
tx_pump(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	bool pipelining = (c->info.ext & SMTP_EXT_PIPELINING) != 0;
	bool sent = false;
	char group[1024];
	size_t group_len = 0;

	while (tx->next_cmd < tx->n_cmds) {
		struct client_cmd *cmd = &tx->cmds[tx->next_cmd];

		if (!pipelining && expect_pending(tx))
			break;
		if (!pipelining && (tx->mail_failed ||
				    (cmd->expect.kind == EX_DATA &&
				     tx->n_accepted == 0))) {
			/* nothing left worth sending */
			tx->next_cmd = tx->n_cmds;
			break;
		}
		size_t len = strlen(cmd->line);

		if (group_len + len > sizeof(group)) {
			client_write(c, group, group_len);
			group_len = 0;
		}
		if (len > sizeof(group)) {
			client_write(c, cmd->line, len);
		} else {
			memcpy(group + group_len, cmd->line, len);
			group_len += len;
		}
		expect_push(tx, cmd->expect.kind, cmd->expect.rcpt);
		tx->stage = expect_stage(cmd->expect.kind);
		tx->next_cmd++;
		sent = true;
	}
	if (group_len > 0)
		client_write(c, group, group_len);
	if (sent)
		tx_timer(c);
}

/* ---- the body ----------------------------------------------------------- */

struct read_job {
	struct smtp_client *c;
	unsigned tx_no;		/* the transaction it reads for */
	int fd;
	uint64_t offset;
	size_t want;
	uint8_t *buf;
	ssize_t n;
	int err;
};

static void
read_work(void *arg)
{
	struct read_job *job = arg;
	size_t got = 0;

	/* fill the block: a short read of a regular file is rare, but the
	 * chunk boundaries must not depend on it */
	while (got < job->want) {
		ssize_t n = pread(job->fd, job->buf + got, job->want - got,
				  (off_t)(job->offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			job->err = errno;
			job->n = -1;
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	job->n = (ssize_t)got;
}

static void tx_emit(struct smtp_client *c, bool last);

static void
read_done(void *arg)
{
	struct read_job *job = arg;
	struct smtp_client *c = job->c;
	struct client_tx *tx = c->tx;

	/* a conn that closed meanwhile gets its close callback next (it
	 * waited for this job) and that decides the recipients */
	if (tx == NULL || c->state != CS_TX || job->tx_no != c->tx_count ||
	    c->conn == NULL || ioev_conn_is_closed(c->conn) || c->freed) {
		free(job->buf);
		free(job);
		client_unref(c);
		return;
	}
	tx->body_reading = false;
	if (job->n < 0 || (size_t)job->n < job->want) {
		char *why = job->n < 0 ?
			xasprintf("cannot read the message: %s",
				  strerror(job->err)) :
			xasprintf("cannot read the message: it ended %llu "
				  "bytes early",
				  (unsigned long long)(tx->body_len -
						       tx->offset - (uint64_t)job->n));

		log_warn(c->id, "smtp-client", "read-failed", "error=\"%s\"",
			 why);
		/* the remote must not take a truncated message for a whole
		 * one: close without the terminator */
		client_tx_abort(c, SMTP_CLIENT_SEND_LOCAL, why);
		free(why);
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
	} else {
		smtp_data_encode(&tx->enc, job->buf, (size_t)job->n,
				 &tx->chunk);
		tx->offset += (uint64_t)job->n;
		tx_emit(c, tx->offset >= tx->body_len);
		tx_body_pump(c);
	}
	free(job->buf);
	free(job);
	client_unref(c);
}

static void
tx_push_ends(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;

	if (c->opts.protocol == SMTP_CLIENT_LMTP) {
		/* RFC 2033 4.2: one reply per accepted recipient, in order */
		for (size_t i = 0; i < tx->env.n_rcpts; i++)
			if (tx->rcpt_accepted[i])
				expect_push(tx, EX_END, i);
	} else {
		expect_push(tx, EX_END, (size_t)-1);
	}
}

/* Sends what tx->chunk holds: as a BDAT chunk, or as DATA text. */
static void
tx_emit(struct smtp_client *c, bool last)
{
	struct client_tx *tx = c->tx;

	if (last)
		smtp_data_encode_finish(&tx->enc, &tx->chunk);
	if (tx->bdat) {
		char head[64];
		int n;

		if (tx->chunk.len == 0 && !last)
			return;
		n = snprintf(head, sizeof(head), "BDAT %zu%s\r\n",
			     tx->chunk.len, last ? " LAST" : "");
		client_write(c, head, (size_t)n);
		if (!last)
			expect_push(tx, EX_BDAT, 0);
	}
	client_write(c, tx->chunk.data, tx->chunk.len);
	buf_truncate(&tx->chunk, 0);
	if (last) {
		tx_push_ends(c);
		tx->body_sent = true;
		tx->stage = SMTP_CLIENT_STAGE_END;
	}
	tx_timer(c);
}

static void
tx_body_pump(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	bool pipelining = (c->info.ext & SMTP_EXT_PIPELINING) != 0;

	while (tx != NULL && c->tx == tx && c->conn != NULL &&
	       !ioev_conn_is_closed(c->conn) && tx->body_started && !tx->body_sent && !tx->body_reading &&
	       !tx->data_failed && !ioev_conn_output_is_full(c->conn)) {
		/* RFC 3030 4.2: BDAT chunks go back to back only with
		 * PIPELINING */
		if (tx->bdat && !pipelining && expect_pending(tx))
			return;
		if (!tx->prefix_sent) {
			tx->prefix_sent = true;
			if (tx->msg.prefix != NULL)
				smtp_data_encode(&tx->enc,
						 (const uint8_t *)tx->msg.prefix,
						 strlen(tx->msg.prefix),
						 &tx->chunk);
		}
		if (tx->offset < tx->body_len && tx->msg.fd >= 0) {
			struct read_job *job = xcalloc(1, sizeof(*job));
			uint64_t left = tx->body_len - tx->offset;

			job->c = c;
			job->tx_no = c->tx_count;
			job->fd = tx->msg.fd;
			job->offset = tx->offset;
			job->want = left < CLIENT_BODY_BLOCK ? (size_t)left :
				CLIENT_BODY_BLOCK;
			job->buf = xmalloc(job->want);
			tx->body_reading = true;
			client_ref(c);
			ioev_conn_run_blocking(c->conn, read_work, read_done,
					       job);
			return;
		}
		if (tx->offset < tx->body_len) {
			uint64_t left = tx->body_len - tx->offset;
			size_t n = left < CLIENT_BODY_BLOCK ? (size_t)left :
				CLIENT_BODY_BLOCK;

			smtp_data_encode(&tx->enc, tx->msg.data + tx->offset,
					 n, &tx->chunk);
			tx->offset += n;
		}
		tx_emit(c, tx->offset >= tx->body_len);
	}
}

static void
tx_body_start(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;

	tx->body_started = true;
	tx->stage = SMTP_CLIENT_STAGE_DATA;
	smtp_data_encoder_init(&tx->enc, !tx->bdat);
	tx_timer(c);
	tx_body_pump(c);
}

void
client_tx_drain(struct smtp_client *c)
{
	if (c->tx != NULL && c->tx->body_started && !c->tx->body_sent) {
		tx_timer(c);
		tx_body_pump(c);
	}
}

/* ---- replies ----------------------------------------------------------- */

/* After each reply: the next commands, the body, or the outcome. */
static void
tx_advance(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;

	if (tx == NULL)
		return;
	if (tx->next_cmd < tx->n_cmds)
		tx_pump(c);
	if (expect_pending(tx)) {
		tx_timer(c);
		if (tx->body_started && !tx->body_sent)
			tx_body_pump(c);
		return;
	}
	if (tx->next_cmd < tx->n_cmds)
		return;
	if (tx->mail_failed) {
		tx_finish(c, SMTP_CLIENT_SEND_MAIL_REFUSED);
		return;
	}
	if (tx->n_accepted == 0) {
		tx_finish(c, SMTP_CLIENT_SEND_NO_RCPT);
		return;
	}
	if (tx->data_failed) {
		tx_finish(c, SMTP_CLIENT_SEND_DATA_REFUSED);
		return;
	}
	if (!tx->body_started) {
		if (tx->bdat)
			tx_body_start(c);
		return;		/* DATA: the 354 started the body */
	}
	if (!tx->body_sent) {
		tx_timer(c);
		tx_body_pump(c);
		return;
	}
	tx_finish(c, SMTP_CLIENT_SEND_OK);
}

void
client_tx_reply(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	const struct smtp_reply *r = &c->reply;
	struct client_expect e;

	if (tx == NULL || !expect_pending(tx)) {
		char *why = xasprintf("unexpected reply %u", r->code);

		log_info(c->id, "smtp-client", "protocol-error",
			 "host=%s error=\"%s\"", c->info.server_name, why);
		c->broken = true;
		client_tx_abort(c, SMTP_CLIENT_SEND_PROTOCOL, why);
		free(why);
		if (c->conn != NULL)
			ioev_conn_close(c->conn);
		return;
	}
	e = tx->expect[tx->expect_head++];
	if (r->code == 421)
		tx->closing = true;	/* RFC 5321 3.8: it is going away */
	switch (e.kind) {
	case EX_RSET:
		if (r->code / 100 != 2) {
			c->broken = true;
			client_tx_abort(c, SMTP_CLIENT_SEND_PROTOCOL,
					"RSET refused");
			if (c->conn != NULL)
				ioev_conn_close(c->conn);
			return;
		}
		break;
	case EX_MAIL:
		smtp_reply_copy(&tx->mail_reply, r);
		if (r->code / 100 != 2)
			tx->mail_failed = true;
		break;
	case EX_RCPT:
		if (r->code / 100 == 2 && !tx->mail_failed) {
			tx->rcpt_accepted[e.rcpt] = true;
			tx->n_accepted++;
		} else if (!tx->mail_failed) {
			rcpt_set(tx, e.rcpt, r, false, SMTP_CLIENT_STAGE_RCPT);
		}
		break;
	case EX_DATA:
		smtp_reply_copy(&tx->data_reply, r);
		if (r->code != 354) {
			tx->data_failed = true;
			break;
		}
		tx->got_354 = true;
		if (tx->n_accepted == 0 || tx->mail_failed) {
			/* RFC 2920 3.1: a 354 after every RCPT failed still
			 * needs a message; send an empty one */
			client_write(c, ".\r\n", 3);
			expect_push(tx, EX_DISCARD, 0);
			break;
		}
		smtp_reply_deinit(&tx->data_reply);
		tx_body_start(c);
		break;
	case EX_BDAT:
		if (r->code / 100 != 2 && !tx->data_failed) {
			tx->data_failed = true;
			smtp_reply_copy(&tx->data_reply, r);
		}
		break;
	case EX_END:
		if (tx->data_failed)
			break;
		if (c->opts.protocol == SMTP_CLIENT_LMTP) {
			if (tx->data_reply.code == 0)
				smtp_reply_copy(&tx->data_reply, r);
			rcpt_set(tx, e.rcpt, r, false, SMTP_CLIENT_STAGE_END);
			break;
		}
		smtp_reply_copy(&tx->data_reply, r);
		if (r->code / 100 != 2)
			tx->data_failed = true;
		break;
	case EX_DISCARD:
		break;
	}
	if (c->tx == tx)
		tx_advance(c);
}

/* ---- starting a transaction ---------------------------------------------- */

/* What goes between the angle brackets of a command: no control
 * characters, spaces or brackets, so nothing the queue hands over can end
 * a command line early or add one (addresses come from our own parser,
 * but a command injection must not hinge on that). */
static bool
path_is_safe(const char *s, bool *utf8)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return false;
		if (*p >= 0x80)
			*utf8 = true;
	}
	return true;
}

/* Refuses unusable addresses locally (the sender for all, a recipient for
 * itself) and notes UTF-8 ones: they need SMTPUTF8 whatever the queue
 * said (RFC 6531 3.2). Returns false when nothing is left to send. */
static bool
tx_check_addresses(struct smtp_client *c)
{
	struct client_tx *tx = c->tx;
	bool utf8 = false, any = false;
	struct smtp_reply r;

	if (!path_is_safe(tx->env.mail_from, &utf8)) {
		tx_refuse_local(c, SMTP_CLIENT_SEND_MAIL_REFUSED, 553, "5.1.7",
				"the envelope sender cannot be sent");
		return false;
	}
	smtp_reply_init(&r);
	smtp_reply_set(&r, 553, "5.1.3", "the recipient address cannot be "
		       "sent");
	for (size_t i = 0; i < tx->env.n_rcpts; i++) {
		bool dummy = false;

		if (path_is_safe(tx->rcpts[i].address, &utf8) &&
		    *tx->rcpts[i].address != '\0' &&
		    (tx->rcpts[i].orcpt_type == NULL ||
		     path_is_safe(tx->rcpts[i].orcpt_type, &dummy))) {
			any = true;
			continue;
		}
		rcpt_set(tx, i, &r, true, SMTP_CLIENT_STAGE_NONE);
	}
	smtp_reply_deinit(&r);
	if (tx->env.envid != NULL) {
		bool dummy = false;

		/* xtext-encoded anyway; only ASCII text is allowed (RFC 3461
		 * 4.4) and it must not smuggle a line end */
		if (!path_is_safe(tx->env.envid, &dummy) || dummy) {
			free((char *)tx->env.envid);
			tx->env.envid = NULL;
		}
	}
	if (!any) {
		tx->error = SMTP_CLIENT_SEND_NO_RCPT;
		buf_puts(&tx->message, "no recipient address can be sent");
		c->tx_done_pending = true;
		ioev_timer_start(c->later, 0, false);
		return false;
	}
	if (utf8 && !tx->env.smtputf8) {
		tx->env.smtputf8 = true;
		if ((c->info.ext & SMTP_EXT_SMTPUTF8) == 0) {
			tx_refuse_local(c, SMTP_CLIENT_SEND_NEED_SMTPUTF8, 553,
					"5.6.7", "the destination does not "
					"support SMTPUTF8, needed by this "
					"message");
			return false;
		}
	}
	return true;
}

static char *
xstrdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
smtp_client_send(struct smtp_client *c, const struct smtp_client_envelope *env,
		 const struct smtp_client_message *msg,
		 smtp_client_sent_cb_t *sent_cb, void *ctx)
{
	struct client_tx *tx;
	size_t n = env->n_rcpts;
	unsigned ext = c->info.ext;

	if (c->tx != NULL || c->freed)
		panic("smtp_client_send: a transaction is already running");
	if (n == 0)
		panic("smtp_client_send: no recipient");
	tx = xcalloc(1, sizeof(*tx));
	tx->env = *env;
	tx->env.mail_from = xstrdup(env->mail_from != NULL ?
				    env->mail_from : "");
	tx->env.envid = xstrdup_or_null(env->envid);
	tx->rcpts = xcalloc(n, sizeof(*tx->rcpts));
	for (size_t i = 0; i < n; i++) {
		tx->rcpts[i].address = xstrdup(env->rcpts[i].address);
		tx->rcpts[i].notify = env->rcpts[i].notify;
		tx->rcpts[i].orcpt_type = xstrdup_or_null(env->rcpts[i].orcpt_type);
		tx->rcpts[i].orcpt_addr = xstrdup_or_null(env->rcpts[i].orcpt_addr);
	}
	tx->env.rcpts = tx->rcpts;
	tx->res = xcalloc(n, sizeof(*tx->res));
	tx->rcpt_done = xcalloc(n, sizeof(*tx->rcpt_done));
	tx->rcpt_accepted = xcalloc(n, sizeof(*tx->rcpt_accepted));
	tx->msg = *msg;
	tx->msg.prefix = xstrdup_or_null(msg->prefix);
	tx->cb = sent_cb;
	tx->ctx = ctx;
	buf_init(&tx->message);
	buf_init(&tx->chunk);
	smtp_reply_init(&tx->mail_reply);
	smtp_reply_init(&tx->data_reply);
	if (msg->fd >= 0) {
		struct stat st;

		/* fstat does not block on the message's content */
		tx->body_len = fstat(msg->fd, &st) == 0 ? (uint64_t)st.st_size :
			0;
	} else {
		tx->body_len = msg->len;
	}
	tx->msg_size = tx->body_len + (tx->msg.prefix != NULL ?
				       strlen(tx->msg.prefix) : 0);
	tx->bdat = (ext & SMTP_EXT_CHUNKING) != 0;
	c->tx = tx;
	c->tx_count++;

	if (c->state != CS_READY || c->conn == NULL || c->broken) {
		c->state = c->conn != NULL && !c->broken ? c->state : CS_FAILED;
		tx_refuse_local(c, SMTP_CLIENT_SEND_LOST, 451, "4.4.2",
				"the connection is no longer usable");
		c->broken = true;
		return;
	}
	c->state = CS_TX;
	/* RFC 6531 3.2 and RFC 6152 3: no downgrade that changes the
	 * message (signatures break, addresses cannot be converted) */
	if (env->smtputf8 && (ext & SMTP_EXT_SMTPUTF8) == 0) {
		tx_refuse_local(c, SMTP_CLIENT_SEND_NEED_SMTPUTF8, 553, "5.6.7",
				"the destination does not support SMTPUTF8, "
				"needed by this message");
		return;
	}
	if (env->body == SMTP_BODY_BINARYMIME ||
	    (env->body == SMTP_BODY_8BITMIME &&
	     (ext & SMTP_EXT_8BITMIME) == 0)) {
		tx_refuse_local(c, SMTP_CLIENT_SEND_NEED_8BITMIME, 554, "5.6.3",
				"the destination does not support 8BITMIME, "
				"needed by this message");
		return;
	}
	if ((ext & SMTP_EXT_SIZE) != 0 && c->info.size_max > 0 &&
	    tx->msg_size > c->info.size_max) {
		char *why = xasprintf("message size %llu exceeds the "
				      "destination's limit of %llu",
				      (unsigned long long)tx->msg_size,
				      (unsigned long long)c->info.size_max);

		tx_refuse_local(c, SMTP_CLIENT_SEND_TOO_BIG, 552, "5.3.4", why);
		free(why);
		return;
	}
	if (!tx_check_addresses(c))
		return;
	tx_build_cmds(c);
	tx_pump(c);
}
