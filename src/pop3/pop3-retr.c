/* SPDX-License-Identifier: MIT */
/*
 * RETR and TOP (RFC 1939 5, 7): the blob is read and dot-stuffed on the
 * thread pool in chunks of about RETR_CHUNK bytes; the next chunk is read
 * only once the connection's output has drained below its high mark, so a
 * big message never sits in memory whole and a slow reader costs at most
 * one chunk plus the output buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "pop3/pop3-stuff.h"

/* Output produced per job; one job covers a typical message. */
#define RETR_CHUNK (128 * 1024)
#define READ_SIZE (64 * 1024)

struct pop3_retr {
	struct pop3_session *s;
	struct store *store;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	int fd;
	bool top;
	uint64_t size;
	struct pop3_stuffer st;
	struct buf out;
	uint8_t *readbuf;
	bool started;		/* "+OK" sent */
	bool complete;		/* "." added to out */
	bool running;		/* a job holds this struct */
	bool failed;
	char error[160];
};

static void retr_submit(struct pop3_retr *r);

/* Pool thread: fills r->out with the next stuffed chunk. */
static void
retr_work(void *ctx)
{
	struct pop3_retr *r = ctx;
	const char *error = NULL;

	if (r->fd < 0) {
		enum store_result res = store_blob_open(r->store, r->blob_id,
							&r->fd, &error);

		if (res != STORE_OK) {
			r->failed = true;
			snprintf(r->error, sizeof(r->error), "%s",
				 error != NULL ? error : store_result_str(res));
			return;
		}
	}
	while (r->out.len < RETR_CHUNK) {
		ssize_t n = read(r->fd, r->readbuf, READ_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->failed = true;
			snprintf(r->error, sizeof(r->error), "read: %s",
				 strerror(errno));
			return;
		}
		if (n > 0)
			(void)pop3_stuffer_feed(&r->st, r->readbuf, (size_t)n,
						&r->out);
		if (n == 0 || pop3_stuffer_is_done(&r->st)) {
			pop3_stuffer_finish(&r->st, &r->out);
			r->complete = true;
			return;
		}
	}
}

static void
retr_end(struct pop3_session *s)
{
	pop3_retr_free(s);
	pop3_session_unbusy(s);
}

static void
retr_done(void *ctx)
{
	struct pop3_retr *r = ctx;
	struct pop3_session *s = r->s;

	r->running = false;
	if (ioev_conn_is_closed(s->conn))
		return;		/* on_close frees r */
	if (r->failed) {
		log_warn(s->id, "pop3", "retr-failed",
			 "user=<%s> blob=%s error=\"%s\"", s->drop.address,
			 r->blob_id, r->error);
		if (!r->started) {
			pop3_reply_err(s, "[SYS/TEMP] Cannot read the message, "
				       "try again later");
			retr_end(s);
		} else {
			/* half a message was sent: no way to say -ERR now */
			ioev_conn_close(s->conn);
		}
		return;
	}
	if (!r->started) {
		r->started = true;
		if (r->top)
			pop3_reply_ok(s, "Top of message follows");
		else
			pop3_reply_ok(s, "%llu octets",
				      (unsigned long long)r->size);
	}
	(void)ioev_conn_write(s->conn, r->out.data, r->out.len);
	buf_reset(&r->out);
	if (r->complete) {
		retr_end(s);
		return;
	}
	/* wait for the drain callback when the client reads slowly */
	if (!ioev_conn_output_is_full(s->conn))
		retr_submit(r);
}

static void
retr_submit(struct pop3_retr *r)
{
	r->running = true;
	ioev_conn_run_blocking(r->s->conn, retr_work, retr_done, r);
}

bool
pop3_retr_drain(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;

	if (r == NULL)
		return false;
	if (!r->running)
		retr_submit(r);
	return true;
}

void
pop3_retr_free(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;

	if (r == NULL)
		return;
	if (r->running)
		panic("pop3: freeing a RETR with a job running");
	if (r->fd >= 0)
		close(r->fd);
	buf_deinit(&r->out);
	free(r->readbuf);
	xfree(&s->retr);
}

static void
retr_start(struct pop3_session *s, struct pop3_msg *m, bool top,
	   uint32_t lines)
{
	struct pop3_retr *r = xcalloc(1, sizeof(*r));

	r->s = s;
	r->store = s->store;
	memcpy(r->blob_id, m->blob_id, sizeof(r->blob_id));
	r->fd = -1;
	r->top = top;
	r->size = m->size;
	pop3_stuffer_init(&r->st, top, lines);
	buf_init(&r->out);
	r->readbuf = xmalloc(READ_SIZE);
	s->retr = r;
	pop3_session_busy(s);
	retr_submit(r);
}

void
pop3_cmd_retr(struct pop3_session *s, struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t n;

	if ((m = pop3_msg_arg(s, cmd->args[0], &n)) != NULL)
		retr_start(s, m, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, struct pop3_command *cmd)
{
	struct pop3_msg *m;
	uint32_t n, lines;

	/* RFC 1939 7: the line count must be non-negative */
	if (!pop3_parse_number(cmd->args[1], &lines)) {
		pop3_reply_err(s, "Invalid line count");
		(void)pop3_session_error(s);
		return;
	}
	if ((m = pop3_msg_arg(s, cmd->args[0], &n)) != NULL)
		retr_start(s, m, true, lines);
}
